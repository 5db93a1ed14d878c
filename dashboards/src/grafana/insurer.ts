/**
 * Insurer dashboard: an insurer's energy-savings performance policies on the current versions of
 * the finance registry, each period with its settlement (`finance.settlement` records of the
 * finance service: guaranteed and verified savings with the 90 % band, shortfall, payout), and
 * the cumulative payouts against the limits of the settled periods.
 */
import * as barchart from '@grafana/grafana-foundation-sdk/barchart';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { finishDashboard, neutralThresholds, POSTGRES_DS, sqlValues, SqlQueryBuilder, UNITS, withRows, type GrafanaConfig, type Row } from './common.js';
import { CURRENT_PARTIES, CURRENT_POLICIES, insurerPolicies, latestSettlements, localMidnight, msTime, partyOptionsSql, rangeEndDate, recordId } from './finance-sql.js';
import { FINANCE_TAG, financeLinks, FINANCE_UNITS, partyAndContractVariables } from './lender.js';

export const INSURER_UID = 'wattproof-insurer';

function insurerVariables(): dashboard.QueryVariableBuilder[] {
  return partyAndContractVariables(
    { name: 'insurer', label: 'Insurer', description: 'Parties whose current version has the role insurer.', role: 'insurer' },
    { name: 'policy', label: 'Policy', description: "The insurer's policies (current versions).", sql: `SELECT p.id FROM ${CURRENT_POLICIES} p WHERE p.insurer IN (${sqlValues('insurer')}) ORDER BY p.id` },
  );
}

/** Policies of the insurer (current versions) with insured, buildings, meters and terms. */
export function policiesSql(): string {
  return (
    `SELECT p.id AS policy, coalesce(ip.name, p.insured) AS insured, ` +
    `(SELECT string_agg(b.site || '/' || b.building, ', ' ORDER BY b.site, b.building) FROM finance_policy_buildings b WHERE b.policy_id = p.id AND b.version = p.version) AS buildings, ` +
    `(SELECT string_agg(m.site || '/' || m.building || '/' || m.meter, ', ' ORDER BY m.site, m.building, m.meter) FROM finance_policy_meters m WHERE m.policy_id = p.id AND m.version = p.version) AS meters, ` +
    `p.contract_price_cny_per_kwh::float8 AS contract_price, p.deductible_cny::float8 AS deductible_cny, p.limit_cny::float8 AS limit_cny, p.premium_cny::float8 AS premium_cny, ` +
    `p.effective_from::text AS effective_from, p.effective_to::text AS effective_to, ` +
    `(SELECT count(*) FROM finance_policy_periods x WHERE x.policy_id = p.id AND x.version = p.version)::int AS periods, p.version AS policy_version ` +
    `FROM ${insurerPolicies()} LEFT JOIN ${CURRENT_PARTIES} ip ON ip.id = p.insured ORDER BY p.id`
  );
}

/**
 * Periods of the current policy versions with their settlement, and each period's state on the
 * last day of the range (settled, due = ended and not settled, open, future), as the insurer
 * portfolio of the API reports them.
 */
function periodsWithSettlements(config: GrafanaConfig): string {
  const on = rangeEndDate(config);
  return (
    `SELECT p.id AS policy_id, x.period_id, x.period_from, x.period_to, x.guaranteed_savings_kwh, p.limit_cny, s.id AS settlement_id, s.body AS settlement, ` +
    `CASE WHEN s.id IS NOT NULL THEN 'settled' WHEN ${on} >= x.period_to THEN 'due' WHEN ${on} >= x.period_from THEN 'open' ELSE 'future' END AS state ` +
    `FROM ${insurerPolicies()} ` +
    `JOIN finance_policy_periods x ON x.policy_id = p.id AND x.version = p.version ` +
    `LEFT JOIN ${latestSettlements()} s ON s.policy_id = p.id AND s.period_id = x.period_id`
  );
}

const fig = (name: string) => `(r.settlement->'claim'->'figures'->>'${name}')::float8`;

/** One row per period: guaranteed, verified with its 90 % band, P(true shortfall), shortfall, payout. */
export function settlementsSql(config: GrafanaConfig): string {
  const u = `r.settlement->'claim'->'uncertainty'`;
  return (
    `SELECT r.policy_id AS policy, r.period_id AS period, r.period_from::text AS "from", r.period_to::text AS "to", r.state, ` +
    `coalesce(${fig('guaranteedKwh')}, r.guaranteed_savings_kwh) AS guaranteed_kwh, ${fig('verifiedKwh')} AS verified_kwh, ` +
    `(${u}->'band90Kwh'->>'low')::float8 AS verified_low_kwh, (${u}->'band90Kwh'->>'high')::float8 AS verified_high_kwh, ` +
    `(${u}->>'probabilityTrueShortfall')::float8 AS p_true_shortfall, ${fig('shortfallKwh')} AS shortfall_kwh, ` +
    `${fig('grossLossCny')} AS gross_loss_cny, ${fig('payoutCny')} AS payout_cny, (r.settlement->'claim'->'figures'->>'limitReached')::boolean AS limit_reached, ` +
    `r.settlement->'claim'->'inputs'->'verified'->>'status' AS mv_status, (r.settlement->'claim'->>'settleable')::boolean AS settleable, ` +
    `${msTime(`r.settlement->'run'->>'ranAtMs'`)} AS settled_at, ${recordId('r.settlement_id')} AS record ` +
    `FROM (${periodsWithSettlements(config)}) r ORDER BY r.policy_id, r.period_from`
  );
}

/** Settled periods: guaranteed vs verified (with the band), labelled policy/period, for a bar chart. */
export function guaranteedVsVerifiedSql(config: GrafanaConfig): string {
  return (
    `SELECT r.policy_id || '/' || r.period_id AS period, ${fig('guaranteedKwh')} AS guaranteed, ` +
    `(r.settlement->'claim'->'uncertainty'->'band90Kwh'->>'low')::float8 AS verified_low, ${fig('verifiedKwh')} AS verified, ` +
    `(r.settlement->'claim'->'uncertainty'->'band90Kwh'->>'high')::float8 AS verified_high ` +
    `FROM (${periodsWithSettlements(config)}) r WHERE r.state = 'settled' ORDER BY r.period_to, r.policy_id`
  );
}

/**
 * Cumulative payouts of the settled periods by the end of the period (local midnight), against
 * the cumulative limit of the same periods (the limit applies per period: the most the policies
 * could have paid).
 */
export function cumulativePayoutsSql(config: GrafanaConfig): string {
  return (
    `SELECT "time", sum(paid) OVER (ORDER BY "time") AS "paid", sum(period_limit) OVER (ORDER BY "time") AS "limit" FROM (` +
    `SELECT ${localMidnight(config, 'r.period_to')} AS "time", sum(${fig('payoutCny')}) AS paid, sum(coalesce(${fig('limitCny')}, r.limit_cny::float8)) AS period_limit ` +
    `FROM (${periodsWithSettlements(config)}) r WHERE r.state = 'settled' GROUP BY 1) d ORDER BY 1`
  );
}

/** Totals: policies, premiums, paid claims, loss ratio, and the limits of the periods not settled. */
export function insurerSummarySql(config: GrafanaConfig): string {
  return (
    `SELECT (SELECT count(*) FROM ${insurerPolicies()})::float8 AS policies, ` +
    `(SELECT coalesce(sum(p.premium_cny), 0) FROM ${insurerPolicies()})::float8 AS premium_cny, ` +
    `coalesce(sum(${fig('payoutCny')}) FILTER (WHERE r.state = 'settled'), 0) AS paid_cny, ` +
    `coalesce(sum(${fig('payoutCny')}) FILTER (WHERE r.state = 'settled'), 0) / nullif((SELECT sum(p.premium_cny) FROM ${insurerPolicies()})::float8, 0) AS loss_ratio, ` +
    `coalesce(sum(r.limit_cny) FILTER (WHERE r.state <> 'settled'), 0)::float8 AS open_limit_cny ` +
    `FROM (${periodsWithSettlements(config)}) r`
  );
}

function policiesRow(config: GrafanaConfig): Row {
  const summary = new stat.PanelBuilder()
    .title('Book')
    .description(
      'Policies of the insurer (current versions), premiums, claims paid (the settlements of the periods), loss ratio = paid / premium, and the limits of the periods not settled yet (the limit applies per period).',
    )
    .withTarget(new SqlQueryBuilder(insurerSummarySql(config)))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false).fields('/.*/'))
    .thresholds(neutralThresholds())
    .unit(FINANCE_UNITS.cny)
    .decimals(0)
    .overrideByName('policies', [{ id: 'unit', value: UNITS.count }])
    .overrideByName('premium_cny', [{ id: 'displayName', value: 'Premiums' }])
    .overrideByName('paid_cny', [{ id: 'displayName', value: 'Paid' }])
    .overrideByName('loss_ratio', [{ id: 'unit', value: FINANCE_UNITS.ratio }, { id: 'decimals', value: 0 }, { id: 'displayName', value: 'Loss ratio' }])
    .overrideByName('open_limit_cny', [{ id: 'displayName', value: 'Open limit' }])
    .height(4)
    .span(24);

  const policies = new table.PanelBuilder()
    .title('Policies')
    .description('Current version of each policy: the insured (its current name), buildings and meters whose verified savings count, contract price of a kWh of shortfall, deductible and limit per period, premium and term.')
    .withTarget(new SqlQueryBuilder(policiesSql()))
    .unit(FINANCE_UNITS.text)
    .overrideByName('contract_price', [{ id: 'unit', value: FINANCE_UNITS.cnyPerKwh }, { id: 'displayName', value: 'contract price' }])
    .overrideByName('deductible_cny', [{ id: 'unit', value: FINANCE_UNITS.cny }, { id: 'decimals', value: 0 }, { id: 'displayName', value: 'deductible' }])
    .overrideByName('limit_cny', [{ id: 'unit', value: FINANCE_UNITS.cny }, { id: 'decimals', value: 0 }, { id: 'displayName', value: 'limit' }])
    .overrideByName('premium_cny', [{ id: 'unit', value: FINANCE_UNITS.cny }, { id: 'decimals', value: 0 }, { id: 'displayName', value: 'premium' }])
    .height(7)
    .span(24);

  return { title: 'Policies', panels: [summary, policies] };
}

function settlementsRow(config: GrafanaConfig): Row {
  const cny = (display: string) => [{ id: 'unit', value: FINANCE_UNITS.cny }, { id: 'decimals', value: 0 }, { id: 'displayName', value: display }];
  const kwh = (display: string) => [{ id: 'unit', value: UNITS.kwh }, { id: 'decimals', value: 0 }, { id: 'displayName', value: display }];
  const periods = new table.PanelBuilder()
    .title('Settlements per period')
    .description(
      'Every period of the current policy versions with its settlement (finance.settlement; of several runs, the one as of the latest instant): guaranteed and verified savings with the 90 % band, ' +
        'P(true savings < guaranteed), shortfall = max(0, guaranteed − verified), payout = min(limit, max(0, shortfall × contract price − deductible)). ' +
        'State on the last day of the range: settled, due (ended, not settled), open, future. Settleable is false when the M&V behind the figure is not verified: the figures are indicative.',
    )
    .withTarget(new SqlQueryBuilder(settlementsSql(config)))
    .unit(FINANCE_UNITS.text)
    .overrideByName('guaranteed_kwh', kwh('guaranteed'))
    .overrideByName('verified_kwh', kwh('verified'))
    .overrideByName('verified_low_kwh', kwh('verified, 90 % low'))
    .overrideByName('verified_high_kwh', kwh('verified, 90 % high'))
    .overrideByName('shortfall_kwh', kwh('shortfall'))
    .overrideByName('p_true_shortfall', [{ id: 'unit', value: FINANCE_UNITS.ratio }, { id: 'decimals', value: 0 }, { id: 'displayName', value: 'P(true shortfall)' }])
    .overrideByName('gross_loss_cny', cny('gross loss'))
    .overrideByName('payout_cny', cny('payout'))
    .overrideByName('settled_at', [{ id: 'unit', value: UNITS.dateTime }])
    .overrideByName('state', [
      {
        id: 'mappings',
        value: [
          {
            type: dashboard.MappingType.ValueToText,
            options: { settled: { text: 'settled', color: 'green', index: 0 }, due: { text: 'due', color: 'orange', index: 1 }, open: { text: 'open', color: 'blue', index: 2 }, future: { text: 'future', color: 'text', index: 3 } },
          },
        ],
      },
      { id: 'custom.cellOptions', value: { type: 'color-text' } },
    ])
    .height(9)
    .span(24);

  const bars = new barchart.PanelBuilder()
    .title('Guaranteed vs verified savings (settled periods, 90 % band)')
    .description('Per settled period: the guaranteed savings, and the verified savings between the low and high ends of their 90 % band.')
    .withTarget(new SqlQueryBuilder(guaranteedVsVerifiedSql(config)))
    .xField('period')
    .unit(UNITS.kwh)
    .min(0)
    .fillOpacity(80)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .overrideByName('guaranteed', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'orange' } }])
    .overrideByName('verified', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'green' } }])
    .overrideByName('verified_low', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'super-light-green' } }, { id: 'displayName', value: 'verified, 90 % low' }])
    .overrideByName('verified_high', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'super-light-green' } }, { id: 'displayName', value: 'verified, 90 % high' }])
    .height(9)
    .span(12);

  const cumulative = new timeseries.PanelBuilder()
    .title('Cumulative payouts vs limit')
    .description('Payouts of the settled periods summed by period end, against the sum of the same periods\' limits (the limit applies per period): the most the policies could have paid.')
    .withTarget(new SqlQueryBuilder(cumulativePayoutsSql(config)).timeSeries())
    .unit(FINANCE_UNITS.cny)
    .decimals(0)
    .min(0)
    .drawStyle(common.GraphDrawStyle.Line)
    .lineInterpolation(common.LineInterpolation.StepAfter)
    .showPoints(common.VisibilityMode.Always)
    .lineWidth(2)
    .overrideByName('limit', [
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
    ])
    .height(9)
    .span(12);

  return { title: 'Settlements', panels: [periods, bars, cumulative] };
}

/** The insurer dashboard. */
export function insurerDashboard(config: GrafanaConfig): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder('Wattproof · Insurer')
    .uid(INSURER_UID)
    .description("An insurer's energy-savings policies, the settlement of each period and the payouts against the limits, from the finance registry.")
    .tags([FINANCE_TAG, 'generated'])
    .timezone(config.timezone)
    .time({ from: 'now-3y', to: 'now' })
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .link(financeLinks());
  for (const v of insurerVariables()) builder.withVariable(v);
  return finishDashboard(withRows(builder, [policiesRow(config), settlementsRow(config)]).build());
}
