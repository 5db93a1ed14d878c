/**
 * Lender dashboard: a bank's loans on the current versions of the finance registry, the status of
 * each covenant from its latest stored test (`finance.covenant_test` records of the finance
 * service), a covenant's KPI history against its threshold, and the inputs of financed emissions
 * (PCAF attribution per loan and building). Financed emissions themselves are not stored: the
 * API computes them (`GET /api/v1/finance/portfolio/lender/{party}`, `wattproof portfolio lender`).
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { finishDashboard, neutralThresholds, POSTGRES_DS, sqlValues, SqlQueryBuilder, UNITS, withRows, type GrafanaConfig, type Row } from './common.js';
import {
  balancesInForce,
  covenantTestsByDate,
  CURRENT_LOANS,
  CURRENT_PARTIES,
  latestCovenantTests,
  lenderLoans,
  localMidnight,
  msTime,
  partyOptionsSql,
  profilesInForce,
  rangeEndDate,
  recordId,
} from './finance-sql.js';

export const LENDER_UID = 'wattproof-lender';

/** Tag of the finance dashboards (not `wattproof`: the readings dashboards' links stay among themselves). */
export const FINANCE_TAG = 'wattproof-finance';

/** Units of the finance dashboards (custom suffixes: Grafana has no CNY or basis-point unit of its own). */
export const FINANCE_UNITS = { cny: 'suffix: CNY', bp: 'suffix: bp', cnyPerKwh: 'suffix: CNY/kWh', kwh: UNITS.kwh, percent: UNITS.percent, ratio: 'percentunit', text: UNITS.text } as const;

/** Covenant statuses of analytics/src/finance/covenants.ts with their colors. */
export function covenantStatusMappings(): dashboard.ValueMapping[] {
  const colors: Record<string, string> = { pass: 'green', at_risk: 'orange', in_grace: 'yellow', fail: 'red', breach: 'dark-red', not_tested: 'text' };
  return [
    {
      type: dashboard.MappingType.ValueToText,
      options: Object.fromEntries(Object.entries(colors).map(([status, color], index) => [status, { text: status.replace('_', ' '), color, index }])),
    },
  ];
}

const ALL: dashboard.VariableOption = { selected: true, text: 'All', value: '$__all' };

/**
 * The two variables every finance dashboard starts with: a party of one role, then its contracts
 * (several, all by default) from `contractSql`.
 */
export function partyAndContractVariables(
  party: { readonly name: string; readonly label: string; readonly description: string; readonly role: 'bank' | 'insurer' },
  contract: { readonly name: string; readonly label: string; readonly description: string; readonly sql: string },
): [dashboard.QueryVariableBuilder, dashboard.QueryVariableBuilder] {
  const p = new dashboard.QueryVariableBuilder(party.name)
    .label(party.label)
    .description(party.description)
    .datasource(POSTGRES_DS)
    .query(partyOptionsSql(party.role))
    .refresh(dashboard.VariableRefresh.OnDashboardLoad)
    .sort(dashboard.VariableSort.AlphabeticalAsc);
  const c = new dashboard.QueryVariableBuilder(contract.name)
    .label(contract.label)
    .description(contract.description)
    .datasource(POSTGRES_DS)
    .query(contract.sql)
    .refresh(dashboard.VariableRefresh.OnDashboardLoad)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .current(ALL);
  return [p, c];
}

function lenderVariables(): dashboard.QueryVariableBuilder[] {
  const [lender, loan] = partyAndContractVariables(
    { name: 'lender', label: 'Lender', description: 'Parties whose current version has the role bank.', role: 'bank' },
    { name: 'loan', label: 'Loan', description: "The lender's loans (current versions).", sql: `SELECT l.id FROM ${CURRENT_LOANS} l WHERE l.lender IN (${sqlValues('lender')}) ORDER BY l.id` },
  );
  const covenant = new dashboard.QueryVariableBuilder('covenant')
    .label('Covenant (history)')
    .description('The covenant whose KPI history is drawn: loan/covenant of the current loan versions.')
    .datasource(POSTGRES_DS)
    .query(
      `SELECT c.loan_id || '/' || c.covenant_id AS __value FROM ${CURRENT_LOANS} l ` +
        `JOIN finance_covenants c ON c.loan_id = l.id AND c.version = l.version ` +
        `WHERE l.lender IN (${sqlValues('lender')}) AND l.id IN (${sqlValues('loan')}) ORDER BY 1`,
    )
    .refresh(dashboard.VariableRefresh.OnDashboardLoad)
    .sort(dashboard.VariableSort.AlphabeticalAsc);
  return [lender, loan, covenant];
}

/** Loans of the lender with borrower, buildings, the balance in force on the range's last day and the PCAF attribution factor. */
export function loansSql(config: GrafanaConfig): string {
  const on = rangeEndDate(config);
  return (
    `SELECT l.id AS loan, coalesce(bp.name, l.borrower) AS borrower, l.kind, l.asset_class, ` +
    `(SELECT string_agg(lb.site || '/' || lb.building, ', ' ORDER BY lb.site, lb.building) FROM finance_loan_buildings lb WHERE lb.loan_id = l.id AND lb.version = l.version) AS buildings, ` +
    `l.origination_date::text AS origination, l.maturity_date::text AS maturity, l.base_margin_bp::float8 AS base_margin_bp, ` +
    `b.outstanding_cny::float8 AS outstanding_cny, b.effective_from::text AS balance_from, ` +
    `l.property_value_at_origination_cny::float8 AS property_value_cny, ` +
    `(b.outstanding_cny / nullif(l.property_value_at_origination_cny, 0))::float8 AS attribution, l.version AS loan_version ` +
    `FROM ${lenderLoans()} ` +
    `LEFT JOIN ${CURRENT_PARTIES} bp ON bp.id = l.borrower ` +
    `LEFT JOIN ${balancesInForce(on)} b ON b.loan_id = l.id ` +
    `ORDER BY l.id`
  );
}

/** Every covenant of the current loan versions with its latest stored test. */
export function covenantStatusSql(): string {
  const e = `t.body->'evaluation'`;
  return (
    `SELECT c.loan_id AS loan, c.covenant_id AS covenant, c.kpi, c.site || '/' || c.building || coalesce('/' || c.meter, '') AS scope, ` +
    `c.operator || ' ' || c.threshold::text AS test, t.test_date::text AS test_date, coalesce(${e}->>'status', 'not_tested') AS status, ` +
    `(${e}->>'kpiValue')::float8 AS kpi_value, (${e}->>'threshold')::float8 AS threshold, (${e}->>'marginStepBp')::float8 AS margin_step_bp, ` +
    `(${e}->'projection'->>'probabilityOfFailing')::float8 AS p_fail_next, ${e}->'projection'->>'testDate' AS next_test_date, ` +
    `${msTime(`t.body->'run'->>'ranAtMs'`)} AS tested_at, ${recordId('t.id')} AS record ` +
    `FROM ${lenderLoans()} ` +
    `JOIN finance_covenants c ON c.loan_id = l.id AND c.version = l.version ` +
    `LEFT JOIN ${latestCovenantTests()} t ON t.loan_id = c.loan_id AND t.covenant_id = c.covenant_id ` +
    `ORDER BY c.loan_id, c.covenant_id`
  );
}

/** The selected covenant's tested KPI, threshold and the KPI's interval per test date (newest run of each date). */
export function kpiHistorySql(config: GrafanaConfig): string {
  const e = `t.body->'evaluation'`;
  return (
    `SELECT ${localMidnight(config, 't.test_date')} AS "time", (${e}->>'kpiValue')::float8 AS "kpi", (${e}->>'threshold')::float8 AS "threshold", ` +
    `(${e}->'interval'->>'low')::float8 AS "kpi_low", (${e}->'interval'->>'high')::float8 AS "kpi_high" ` +
    `FROM ${covenantTestsByDate()} t WHERE t.loan_id || '/' || t.covenant_id IN (${sqlValues('covenant')}) ` +
    `AND t.body->>'lender' IN (${sqlValues('lender')}) ORDER BY 1`
  );
}

/** PCAF inputs per loan and building: balance, property value, attribution, and the building profile in force. */
export function pcafInputsSql(config: GrafanaConfig): string {
  const on = rangeEndDate(config);
  return (
    `SELECT l.id AS loan, lb.site || '/' || lb.building AS building, p.type AS building_type, p.floor_area_m2, p.label_level AS label, ` +
    `b.outstanding_cny::float8 AS outstanding_cny, l.property_value_at_origination_cny::float8 AS property_value_cny, ` +
    `(b.outstanding_cny / nullif(l.property_value_at_origination_cny, 0))::float8 AS attribution, ` +
    `(SELECT count(*) FROM finance_loan_buildings n WHERE n.loan_id = l.id AND n.version = l.version)::int AS loan_buildings ` +
    `FROM ${lenderLoans()} ` +
    `JOIN finance_loan_buildings lb ON lb.loan_id = l.id AND lb.version = l.version ` +
    `LEFT JOIN ${balancesInForce(on)} b ON b.loan_id = l.id ` +
    `LEFT JOIN ${profilesInForce(on)} p ON p.site = lb.site AND p.building = lb.building ` +
    `ORDER BY l.id, lb.site, lb.building`
  );
}

/** Loan count, outstanding and covenant counts by latest status. */
export function lenderSummarySql(config: GrafanaConfig): string {
  const on = rangeEndDate(config);
  return (
    `SELECT count(*)::float8 AS loans, coalesce(sum(b.outstanding_cny), 0)::float8 AS outstanding_cny, ` +
    `(SELECT count(*) FROM ${lenderLoans()} JOIN ${latestCovenantTests()} t ON t.loan_id = l.id ` +
    `JOIN finance_covenants c ON c.loan_id = l.id AND c.version = l.version AND c.covenant_id = t.covenant_id ` +
    `WHERE t.body->'evaluation'->>'status' IN ('fail', 'breach'))::float8 AS failing, ` +
    `(SELECT count(*) FROM ${lenderLoans()} JOIN ${latestCovenantTests()} t ON t.loan_id = l.id ` +
    `JOIN finance_covenants c ON c.loan_id = l.id AND c.version = l.version AND c.covenant_id = t.covenant_id ` +
    `WHERE t.body->'evaluation'->>'status' = 'at_risk')::float8 AS at_risk ` +
    `FROM ${lenderLoans()} LEFT JOIN ${balancesInForce(on)} b ON b.loan_id = l.id`
  );
}

function loansRow(config: GrafanaConfig): Row {
  const summary = new stat.PanelBuilder()
    .title('Loan book')
    .description(
      'Loans of the lender (current versions), their outstanding balance in force on the last day of the time range, and the covenants whose latest test failed or breached, or is at risk.',
    )
    .withTarget(new SqlQueryBuilder(lenderSummarySql(config)))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false).fields('/.*/'))
    .thresholds(neutralThresholds())
    .unit(UNITS.count)
    .overrideByName('outstanding_cny', [{ id: 'unit', value: FINANCE_UNITS.cny }, { id: 'decimals', value: 0 }, { id: 'displayName', value: 'Outstanding' }])
    .overrideByName('failing', [
      { id: 'displayName', value: 'Covenants failing / breached' },
      { id: 'thresholds', value: { mode: dashboard.ThresholdsMode.Absolute, steps: [{ value: null, color: 'green' }, { value: 1, color: 'red' }] } },
    ])
    .overrideByName('at_risk', [
      { id: 'displayName', value: 'Covenants at risk' },
      { id: 'thresholds', value: { mode: dashboard.ThresholdsMode.Absolute, steps: [{ value: null, color: 'green' }, { value: 1, color: 'orange' }] } },
    ])
    .colorMode(common.BigValueColorMode.Value)
    .height(4)
    .span(24);

  const loans = new table.PanelBuilder()
    .title('Loans')
    .description(
      'Current version of each loan. Outstanding: the balance in force on the last day of the time range (the newest version of each effective date, then the latest effective date on or before the day). ' +
        'Attribution = outstanding / property value at origination (PCAF, commercial real estate).',
    )
    .withTarget(new SqlQueryBuilder(loansSql(config)))
    .unit(FINANCE_UNITS.text)
    .overrideByName('base_margin_bp', [{ id: 'unit', value: FINANCE_UNITS.bp }, { id: 'displayName', value: 'base margin' }])
    .overrideByName('outstanding_cny', [{ id: 'unit', value: FINANCE_UNITS.cny }, { id: 'decimals', value: 0 }, { id: 'displayName', value: 'outstanding' }])
    .overrideByName('property_value_cny', [{ id: 'unit', value: FINANCE_UNITS.cny }, { id: 'decimals', value: 0 }, { id: 'displayName', value: 'property value' }])
    .overrideByName('attribution', [{ id: 'unit', value: FINANCE_UNITS.ratio }, { id: 'decimals', value: 1 }])
    .height(8)
    .span(24);

  return { title: 'Loans', panels: [summary, loans] };
}

function covenantsRow(config: GrafanaConfig): Row {
  const status = new table.PanelBuilder()
    .title('Covenant status (latest test)')
    .description(
      'Every covenant of the current loan versions with its latest stored test (finance.covenant_test): the latest test date, and of its runs the one as of the latest instant. ' +
        'Margin step: the ratchet this test triggers (bp). P(fail next test): the projection of the KPI to the next scheduled test. Covenants never tested show not tested.',
    )
    .withTarget(new SqlQueryBuilder(covenantStatusSql()))
    .unit(FINANCE_UNITS.text)
    .overrideByName('status', [
      { id: 'mappings', value: covenantStatusMappings() },
      { id: 'custom.cellOptions', value: { type: 'color-background' } },
    ])
    .overrideByName('kpi_value', [{ id: 'unit', value: UNITS.count }, { id: 'decimals', value: 3 }, { id: 'displayName', value: 'KPI' }])
    .overrideByName('threshold', [{ id: 'unit', value: UNITS.count }])
    .overrideByName('margin_step_bp', [{ id: 'unit', value: FINANCE_UNITS.bp }, { id: 'displayName', value: 'margin step' }])
    .overrideByName('p_fail_next', [
      { id: 'unit', value: FINANCE_UNITS.ratio },
      { id: 'decimals', value: 0 },
      { id: 'displayName', value: 'P(fail next test)' },
      { id: 'thresholds', value: { mode: dashboard.ThresholdsMode.Absolute, steps: [{ value: null, color: 'green' }, { value: 0.2, color: 'orange' }, { value: 0.5, color: 'red' }] } },
      { id: 'custom.cellOptions', value: { type: 'color-text' } },
    ])
    .overrideByName('tested_at', [{ id: 'unit', value: UNITS.dateTime }])
    .height(10)
    .span(24);

  const history = new timeseries.PanelBuilder()
    .title('KPI vs threshold: $covenant')
    .description(
      'The tested KPI of the covenant chosen in the Covenant variable at each test date (the run of each date as of the latest instant), its threshold, and the KPI interval the evaluation reports.',
    )
    .withTarget(new SqlQueryBuilder(kpiHistorySql(config)).timeSeries())
    .unit(UNITS.count)
    .drawStyle(common.GraphDrawStyle.Line)
    .showPoints(common.VisibilityMode.Always)
    .pointSize(8)
    .lineWidth(2)
    .overrideByName('threshold', [
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
      { id: 'custom.showPoints', value: common.VisibilityMode.Never },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
    ])
    .overrideByName('kpi_high', [
      { id: 'custom.lineWidth', value: 0 },
      { id: 'custom.showPoints', value: common.VisibilityMode.Never },
      { id: 'custom.fillBelowTo', value: 'kpi_low' },
      { id: 'custom.fillOpacity', value: 20 },
      { id: 'custom.hideFrom', value: { legend: true, tooltip: false, viz: false } },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } },
    ])
    .overrideByName('kpi_low', [
      { id: 'custom.lineWidth', value: 0 },
      { id: 'custom.showPoints', value: common.VisibilityMode.Never },
      { id: 'custom.hideFrom', value: { legend: true, tooltip: false, viz: false } },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } },
    ])
    .height(10)
    .span(24);

  return { title: 'Covenants', panels: [status, history] };
}

function pcafRow(config: GrafanaConfig): Row {
  const inputs = new table.PanelBuilder()
    .title('Financed emissions: inputs per loan and building')
    .description(
      'What PCAF attributes to the lender: outstanding / property value at origination, per loan, with each financed building\'s profile (type, floor area, label) in force on the last day of the range. ' +
        'Financed emissions need the metered energy and grid factors of the reporting year: the API computes them (GET /api/v1/finance/portfolio/lender/{party}, or `wattproof portfolio lender`); they are not stored in the registry.',
    )
    .withTarget(new SqlQueryBuilder(pcafInputsSql(config)))
    .unit(FINANCE_UNITS.text)
    .overrideByName('floor_area_m2', [{ id: 'unit', value: UNITS.area }])
    .overrideByName('outstanding_cny', [{ id: 'unit', value: FINANCE_UNITS.cny }, { id: 'decimals', value: 0 }, { id: 'displayName', value: 'outstanding' }])
    .overrideByName('property_value_cny', [{ id: 'unit', value: FINANCE_UNITS.cny }, { id: 'decimals', value: 0 }, { id: 'displayName', value: 'property value' }])
    .overrideByName('attribution', [{ id: 'unit', value: FINANCE_UNITS.ratio }, { id: 'decimals', value: 1 }])
    .height(8)
    .span(24);
  return { title: 'Financed emissions (PCAF inputs)', panels: [inputs] };
}

/** The lender dashboard. */
export function lenderDashboard(config: GrafanaConfig): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder('Wattproof · Lender')
    .uid(LENDER_UID)
    .description("A bank's loans, covenant status and KPI history, and the inputs of financed emissions, from the finance registry.")
    .tags([FINANCE_TAG, 'generated'])
    .timezone(config.timezone)
    .time({ from: 'now-3y', to: 'now' })
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .link(financeLinks());
  for (const v of lenderVariables()) builder.withVariable(v);
  return finishDashboard(withRows(builder, [loansRow(config), covenantsRow(config), pcafRow(config)]).build());
}

/** Links between the finance dashboards (by tag), keeping the time range. */
export function financeLinks(): dashboard.DashboardLinkBuilder {
  return new dashboard.DashboardLinkBuilder('Wattproof finance')
    .type(dashboard.DashboardLinkType.Dashboards)
    .tags([FINANCE_TAG])
    .asDropdown(true)
    .includeVars(false)
    .keepTime(true);
}
