/**
 * Portfolio overview: the buildings, the load now, today's energy, EUI against the GB/T 51161
 * quota over the last 12 months, and the firing Wattproof alerts.
 */
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import {
  AlertListPanelBuilder,
  FIELD,
  finishDashboard,
  withRows,
  InfluxQlQueryBuilder,
  MEASUREMENT,
  countThresholds,
  mainElectricity,
  msInRange,
  neutralThresholds,
  quotaShareThresholds,
  quotaValues,
  siteVariable,
  sqlValues,
  SqlQueryBuilder,
  subMeterVariable,
  TAG,
  UNITS,
  where,
  type GrafanaConfig,
  type Row,
} from './common.js';

export const PORTFOLIO_UID = 'wattproof-portfolio';

/** Load per building now: each main meter's newest interval energy over its length, summed. */
export function liveLoadQuery(config: GrafanaConfig, by: 'building' | 'total'): string {
  const inner =
    `SELECT last(${FIELD.value}) * 3600 / last(${FIELD.intervalS}) AS "kw" FROM ${MEASUREMENT} ` +
    `${where([...mainElectricity('site'), `time > now() - ${config.liveWindow}`])} GROUP BY ${TAG.site}, ${TAG.building}, ${TAG.meter}`;
  return `SELECT sum("kw") AS "kW" FROM (${inner})${by === 'building' ? ` GROUP BY ${TAG.building}` : ''}`;
}

function buildingsRow(config: GrafanaConfig): Row {
  const buildings = new table.PanelBuilder()
    .title('Buildings')
    .description('The registry\'s buildings with their type, floor area and meters.')
    .withTarget(
      new SqlQueryBuilder(
        `SELECT b.site, b.id AS building, b.name, b.type, b.floor_area_m2, count(m.id)::int AS meters, ` +
          `count(m.id) FILTER (WHERE m.parent IS NOT NULL)::int AS sub_meters ` +
          `FROM buildings b LEFT JOIN meters m ON m.site = b.site AND m.building = b.id ` +
          `WHERE b.site IN (${sqlValues('site')}) GROUP BY b.site, b.id, b.name, b.type, b.floor_area_m2 ORDER BY b.site, b.id`,
      ),
    )
    .overrideByName('floor_area_m2', [{ id: 'unit', value: UNITS.area }])
    .unit(UNITS.text)
    .height(9)
    .span(12);

  const liveByBuilding = new bargauge.PanelBuilder()
    .title('Load now by building')
    .description(`kW from each main meter's newest interval energy (kWh × 3600 / interval_s) within the last ${config.liveWindow}, summed per building.`)
    .withTarget(new InfluxQlQueryBuilder(liveLoadQuery(config, 'building')).alias('$tag_building'))
    .unit(UNITS.kw)
    .min(0)
    .thresholds(neutralThresholds())
    .displayMode(common.BarGaugeDisplayMode.Gradient)
    .orientation(common.VizOrientation.Horizontal)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .height(9)
    .span(6);

  const alerts = new AlertListPanelBuilder({
    viewMode: 'list',
    groupMode: 'default',
    groupBy: [],
    maxItems: 20,
    sortOrder: 1,
    dashboardAlerts: false,
    alertName: '',
    alertInstanceLabelFilter: '{service="wattproof"}',
    showInstances: true,
    stateFilter: { firing: true, pending: true, noData: false, normal: false, error: true },
  })
    .title('Active alerts')
    .description('Firing and pending Grafana-managed Wattproof alerts (provisioning/alerting/wattproof.yaml).')
    .gridPos({ h: 9, w: 6, x: 0, y: 0 });

  return { title: 'Portfolio', panels: [buildings, liveByBuilding, alerts] };
}

function energyRow(config: GrafanaConfig): Row {
  const liveTotal = new stat.PanelBuilder()
    .title('Load now')
    .description(`Sum of the main meters' newest interval energy as kW (last ${config.liveWindow}).`)
    .withTarget(new InfluxQlQueryBuilder(liveLoadQuery(config, 'total')).alias('kW'))
    .unit(UNITS.kw)
    .decimals(0)
    .thresholds(neutralThresholds())
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .height(5)
    .span(6);

  const today = new stat.PanelBuilder()
    .title("Today's energy")
    .description('Electricity of the main meters since local midnight (sub-meters left out).')
    .withTarget(new InfluxQlQueryBuilder(`SELECT sum(${FIELD.value}) AS "kWh" FROM ${MEASUREMENT} ${where([...mainElectricity('site'), '$timeFilter'])}`).alias('kWh'))
    .timeFrom('now/d')
    .unit(UNITS.kwh)
    .decimals(0)
    .thresholds(neutralThresholds())
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['sum']).values(false))
    .height(5)
    .span(6);

  const todayByBuilding = new bargauge.PanelBuilder()
    .title("Today's energy by building")
    .withTarget(
      new InfluxQlQueryBuilder(`SELECT sum(${FIELD.value}) AS "kWh" FROM ${MEASUREMENT} ${where([...mainElectricity('site'), '$timeFilter'])} GROUP BY ${TAG.building}`).alias(
        '$tag_building',
      ),
    )
    .timeFrom('now/d')
    .unit(UNITS.kwh)
    .min(0)
    .thresholds(neutralThresholds())
    .displayMode(common.BarGaugeDisplayMode.Basic)
    .orientation(common.VizOrientation.Horizontal)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['sum']).values(false))
    .height(5)
    .span(12);

  return { title: 'Energy', panels: [liveTotal, today, todayByBuilding] };
}

function euiRow(config: GrafanaConfig): Row {
  const eui = new table.PanelBuilder()
    .title('EUI vs GB/T 51161 quota (last 12 months)')
    .description(
      `EUI = electricity of the main meters over the last 365 days / floor area (kWh/(m²·a)), not annualised when a building has less history. ` +
        `Quotas (constraint / guide) of the building's type from ${config.quotaReference}; types without a quota show none. ` +
        'Joined on the building id: pick one site when building ids repeat across sites.',
    )
    .withTarget(
      new InfluxQlQueryBuilder(`SELECT sum(${FIELD.value}) AS "kwh_12m" FROM ${MEASUREMENT} ${where([...mainElectricity('site'), 'time > now() - 365d'])} GROUP BY ${TAG.building}`)
        .table()
        .refId('A'),
    )
    .withTarget(
      new SqlQueryBuilder(
        `SELECT b.id AS building, b.name, b.type, b.floor_area_m2, q.quota_constraint, q.quota_guide ` +
          `FROM buildings b LEFT JOIN ${quotaValues(config.quotas)} ON q.building_type = b.type ` +
          `WHERE b.site IN (${sqlValues('site')}) ORDER BY b.id`,
      ).refId('B'),
    )
    .withTransformation({ id: 'joinByField', options: { byField: 'building', mode: 'outer' } })
    .withTransformation({
      id: 'calculateField',
      options: { mode: 'binary', binary: { left: 'kwh_12m', operator: '/', right: 'floor_area_m2' }, alias: 'eui', replaceFields: false },
    })
    .withTransformation({
      id: 'calculateField',
      options: { mode: 'binary', binary: { left: 'eui', operator: '/', right: 'quota_constraint' }, alias: 'share_of_constraint', replaceFields: false },
    })
    .withTransformation({
      id: 'calculateField',
      options: { mode: 'binary', binary: { left: 'share_of_constraint', operator: '*', right: '100' }, alias: 'constraint_pct', replaceFields: false },
    })
    .withTransformation({
      id: 'organize',
      options: {
        excludeByName: { Time: true, share_of_constraint: true },
        indexByName: { building: 0, name: 1, type: 2, floor_area_m2: 3, kwh_12m: 4, eui: 5, quota_guide: 6, quota_constraint: 7, constraint_pct: 8 },
        renameByName: {
          floor_area_m2: 'Floor area',
          kwh_12m: 'Electricity, 12 months',
          eui: 'EUI',
          quota_guide: 'Quota (guide)',
          quota_constraint: 'Quota (constraint)',
          constraint_pct: '% of constraint',
        },
      },
    })
    .unit(UNITS.text)
    .overrideByName('floor_area_m2', [{ id: 'unit', value: UNITS.area }])
    .overrideByName('kwh_12m', [{ id: 'unit', value: UNITS.kwh }, { id: 'decimals', value: 0 }])
    .overrideByName('eui', [{ id: 'unit', value: UNITS.eui }, { id: 'decimals', value: 1 }])
    .overrideByName('quota_guide', [{ id: 'unit', value: UNITS.eui }])
    .overrideByName('quota_constraint', [{ id: 'unit', value: UNITS.eui }])
    .overrideByName('constraint_pct', [
      { id: 'unit', value: UNITS.percent },
      { id: 'decimals', value: 0 },
      { id: 'thresholds', value: quotaShareThresholds().build() },
      { id: 'custom.cellOptions', value: { type: 'color-background' } },
    ])
    .height(10)
    .span(24);

  const deadLetters = new stat.PanelBuilder()
    .title('Dead letters (selected period)')
    .description('Messages the gateway or the ingest refused, for the selected sites (see the Data quality dashboard).')
    .withTarget(
      new SqlQueryBuilder(
        `SELECT count(*)::float8 AS dead_letters FROM dead_letters ` +
          `WHERE ${msInRange('received_at_ms')} AND split_part(topic, '/', 3) IN (${sqlValues('site')})`,
      ),
    )
    .unit(UNITS.count)
    .thresholds(countThresholds())
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .height(4)
    .span(24);

  return { title: 'Energy use intensity', panels: [eui, deadLetters] };
}

/** The portfolio overview dashboard. */
export function portfolioDashboard(config: GrafanaConfig): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder('Wattproof · Portfolio overview')
    .uid(PORTFOLIO_UID)
    .description('Buildings, load now, energy today, EUI against the GB/T 51161 quotas and active alerts.')
    .tags(['wattproof', 'generated'])
    .timezone(config.timezone)
    .time({ from: 'now-7d', to: 'now' })
    .refresh('1m')
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .withVariable(siteVariable(true))
    .withVariable(subMeterVariable('site'))
    .link(dashboardLinks());
  return finishDashboard(withRows(builder, [buildingsRow(config), energyRow(config), euiRow(config)]).build());
}

/** Links to the other Wattproof dashboards (by tag), keeping time and variables. */
export function dashboardLinks(): dashboard.DashboardLinkBuilder {
  return new dashboard.DashboardLinkBuilder('Wattproof')
    .type(dashboard.DashboardLinkType.Dashboards)
    .tags(['wattproof'])
    .asDropdown(true)
    .includeVars(true)
    .keepTime(true);
}
