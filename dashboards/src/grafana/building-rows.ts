/**
 * Rows of the building detail dashboard: energy by end use, load profile, M&V.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import {
  FIELD,
  InfluxQlQueryBuilder,
  MEASUREMENT,
  mainElectricity,
  neutralThresholds,
  refIdOf,
  sqlValues,
  SqlQueryBuilder,
  TAG,
  tagIs,
  tagMatches,
  UNITS,
  where,
  type GrafanaConfig,
  type Row,
} from './common.js';

const buildingScope = [tagMatches('site', 'site'), tagMatches('building', 'building')];

export function endUseRow(config: GrafanaConfig): Row {
  const stacked = new timeseries.PanelBuilder()
    .title('Electricity by sub-meter (stacked) and main meter')
    .description(
      'Interval energy per panel interval. Bars: the sub-meters (meters with a parent in the registry), stacked; line: the main meters. ' +
        'The gap between the line and the top of the stack is load no sub-meter sees.',
    )
    .withTarget(
      new InfluxQlQueryBuilder(
        `SELECT sum(${FIELD.value}) FROM ${MEASUREMENT} ` +
          `${where([...buildingScope, tagIs('quantity', 'electricity'), tagIs('kind', 'interval'), `${TAG.meter} =~ /^\${sub_meter:regex}$/`, tagMatches('meter', 'meter'), '$timeFilter'])} ` +
          `GROUP BY time($__interval), ${TAG.meter} fill(none)`,
      )
        .alias('$tag_meter')
        .refId('A'),
    )
    .withTarget(
      new InfluxQlQueryBuilder(
        `SELECT sum(${FIELD.value}) FROM ${MEASUREMENT} ${where([...mainElectricity('building'), tagMatches('meter', 'meter'), '$timeFilter'])} ` +
          `GROUP BY time($__interval), ${TAG.meter} fill(none)`,
      )
        .alias('$tag_meter (main)')
        .refId('B'),
    )
    .interval('1h')
    .unit(UNITS.kwh)
    .min(0)
    .drawStyle(common.GraphDrawStyle.Bars)
    .fillOpacity(80)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal).group('sub-meters'))
    .overrideByQuery('B', [
      { id: 'custom.drawStyle', value: common.GraphDrawStyle.Line },
      { id: 'custom.stacking', value: { mode: common.StackingMode.None, group: 'main' } },
      { id: 'custom.fillOpacity', value: 0 },
      { id: 'custom.lineWidth', value: 2 },
    ])
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.Table).placement(common.LegendPlacement.Right).calcs(['sum']))
    .height(10)
    .span(16);

  const meters = new table.PanelBuilder()
    .title('Meters and end uses')
    .description('The registry\'s meters of the building with their end use and parent, and the energy each recorded in the selected period.')
    .withTarget(
      new SqlQueryBuilder(
        `SELECT id AS meter, name, quantity, end_use, parent FROM meters ` +
          `WHERE site IN (${sqlValues('site')}) AND building IN (${sqlValues('building')}) ORDER BY parent NULLS FIRST, id`,
      ).refId('A'),
    )
    .withTarget(
      new InfluxQlQueryBuilder(
        `SELECT sum(${FIELD.value}) AS "energy" FROM ${MEASUREMENT} ${where([...buildingScope, tagIs('kind', 'interval'), '$timeFilter'])} GROUP BY ${TAG.meter}, ${TAG.unit}`,
      )
        .table()
        .refId('B'),
    )
    .withTransformation({ id: 'joinByField', options: { byField: 'meter', mode: 'outer' } })
    .withTransformation({ id: 'organize', options: { excludeByName: { Time: true }, indexByName: {}, renameByName: { end_use: 'end use' } } })
    .unit(UNITS.text)
    .overrideByName('energy', [{ id: 'unit', value: UNITS.count }, { id: 'decimals', value: 1 }])
    .height(10)
    .span(8);

  return { title: 'Energy by end use', panels: [stacked, meters] };
}

/**
 * One query per hour of day: the energy of local hour `h` of each day, stamped at the day's local
 * midnight so the 24 series line up. InfluxQL has no hour-of-day function; `GROUP BY time(1d, <h>h)`
 * starts each day bucket at hour h and `first()` of the hourly sums (gaps filled with 0) is that hour.
 */
export function hourOfDayQuery(config: GrafanaConfig, hour: number): string {
  const tz = `tz('${config.timezone}')`;
  const hourly = `SELECT sum(${FIELD.value}) AS "kwh" FROM ${MEASUREMENT} ${where([...mainElectricity('building'), '$timeFilter'])} GROUP BY time(1h) fill(0)`;
  const atHour = `SELECT first("kwh") AS "kwh" FROM (${hourly}) WHERE $timeFilter GROUP BY time(1d, ${hour}h) ${tz}`;
  return `SELECT sum("kwh") AS "${String(hour).padStart(2, '0')}:00" FROM (${atHour}) WHERE $timeFilter GROUP BY time(1d) ${tz}`;
}

export function loadProfileRow(config: GrafanaConfig): Row {
  const profile = new heatmap.PanelBuilder()
    .title('Load profile (hour of day × day)')
    .description(
      `Electricity of the main meters per local hour (${config.timezone}): one row per hour of day, one column per day. ` +
        'Hours without data count as 0 (dark): check the Data quality dashboard before reading them as an empty building.',
    )
    .targets(Array.from({ length: 24 }, (_, h) => new InfluxQlQueryBuilder(hourOfDayQuery(config, h)).refId(refIdOf(h))))
    .withTransformation({ id: 'joinByField', options: { byField: 'Time', mode: 'outer' } })
    .calculate(false)
    .rowsFrame(new heatmap.RowsHeatmapOptionsBuilder().layout(common.HeatmapCellLayout.Unknown).value('kWh'))
    .yAxis(new heatmap.YAxisConfigBuilder().axisLabel('hour of day').reverse(false))
    .color(new heatmap.HeatmapColorOptionsBuilder().mode(heatmap.HeatmapColorMode.Scheme).scheme('Oranges').scale(heatmap.HeatmapColorScale.Exponential).exponent(0.5).steps(64))
    .cellGap(1)
    .unit(UNITS.kwh)
    .showLegend()
    .height(12)
    .span(24);
  return { title: 'Load profile', panels: [profile] };
}

/** The building's newest M&V result (records of kind `mv.result` keyed `site/building/meter`). */
export function latestResultSql(): string {
  return (
    `SELECT body FROM records WHERE kind = 'mv.result' ` +
    `AND starts_with(key, ${sqlValues('site')} || '/' || ${sqlValues('building')} || '/') ORDER BY id DESC LIMIT 1`
  );
}

/** Monthly (or cumulative) savings rows of the newest result with the band at the configured confidence. */
export function savingsSeriesSql(config: GrafanaConfig, series: 'monthly' | 'cumulative'): string {
  const columns =
    series === 'monthly'
      ? `(p->>'counterfactual')::float8 AS "baseline", (p->>'observed')::float8 AS "actual", ` +
        `(p->>'counterfactual')::float8 - u.absolute AS "baseline_low", (p->>'counterfactual')::float8 + u.absolute AS "baseline_high"`
      : `(p->>'avoided')::float8 AS "savings", (p->>'avoided')::float8 - u.absolute AS "savings_low", (p->>'avoided')::float8 + u.absolute AS "savings_high"`;
  return (
    `SELECT ((p->>'period') || '-01')::timestamp AT TIME ZONE (r.body->'definition'->>'timeZone') AS "time", ${columns} ` +
    `FROM (${latestResultSql()}) r ` +
    `CROSS JOIN LATERAL jsonb_array_elements(r.body->'result'->'savings'->'${series}') p ` +
    `CROSS JOIN LATERAL (SELECT (l->>'absolute')::float8 AS absolute FROM jsonb_array_elements(p->'uncertainty'->'levels') l ` +
    `WHERE (l->>'confidence')::float8 = ${config.bandConfidence}) u ORDER BY 1`
  );
}

function band(panel: timeseries.PanelBuilder, low: string, high: string): timeseries.PanelBuilder {
  const hidden = [
    { id: 'custom.lineWidth', value: 0 },
    { id: 'custom.hideFrom', value: { legend: true, tooltip: false, viz: false } },
    { id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } },
  ];
  return panel
    .overrideByName(high, [...hidden, { id: 'custom.fillBelowTo', value: low }, { id: 'custom.fillOpacity', value: 20 }])
    .overrideByName(low, [...hidden, { id: 'custom.fillOpacity', value: 0 }]);
}

export function mvRow(config: GrafanaConfig): Row {
  const pct = Math.round(config.bandConfidence * 100);
  const summary = new stat.PanelBuilder()
    .title('Verified savings (newest M&V result)')
    .description(
      'From the building\'s newest stored M&V result: status, avoided energy over the reporting period with its ASHRAE Guideline 14 ' +
        `uncertainty at ${pct} %, savings fraction and EUI.`,
    )
    .withTarget(
      new SqlQueryBuilder(
        `SELECT r.body->'result'->>'status' AS "status", (r.body->'result'->'savings'->>'avoided')::float8 AS "avoided", ` +
          `u.absolute AS "uncertainty", (r.body->'result'->'savings'->>'fraction')::float8 * 100 AS "fraction", ` +
          `(r.body->'result'->'eui'->>'eui')::float8 AS "eui" ` +
          `FROM (${latestResultSql()}) r ` +
          `LEFT JOIN LATERAL (SELECT (l->>'absolute')::float8 AS absolute FROM jsonb_array_elements(r.body->'result'->'savings'->'uncertainty') l ` +
          `WHERE (l->>'confidence')::float8 = ${config.bandConfidence}) u ON true`,
      ),
    )
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false).fields('/.*/'))
    .thresholds(neutralThresholds())
    .unit(UNITS.kwh)
    .overrideByName('status', [{ id: 'unit', value: UNITS.text }])
    .overrideByName('uncertainty', [{ id: 'displayName', value: `± (${pct} %)` }])
    .overrideByName('fraction', [{ id: 'unit', value: UNITS.percent }, { id: 'decimals', value: 1 }])
    .overrideByName('eui', [{ id: 'unit', value: UNITS.eui }, { id: 'decimals', value: 1 }])
    .height(4)
    .span(24);

  const monthly = band(
    new timeseries.PanelBuilder()
      .title(`Actual vs baseline (monthly, ${pct} % band)`)
      .description(
        'Baseline: the CalTRACK model\'s counterfactual under the reporting period\'s weather; actual: the metered energy over the same intervals. ' +
          `The band is ± the Guideline 14 absolute uncertainty of each month's savings at ${pct} %.`,
      )
      .withTarget(new SqlQueryBuilder(savingsSeriesSql(config, 'monthly')).timeSeries())
      .timeFrom('2y')
      .unit(UNITS.kwh)
      .min(0)
      .drawStyle(common.GraphDrawStyle.Line)
      .showPoints(common.VisibilityMode.Always)
      .lineWidth(2),
    'baseline_low',
    'baseline_high',
  )
    .height(10)
    .span(12);

  const cumulative = band(
    new timeseries.PanelBuilder()
      .title(`Cumulative savings (${pct} % band)`)
      .description(`Avoided energy since the start of the reporting period, with its Guideline 14 uncertainty at ${pct} %.`)
      .withTarget(new SqlQueryBuilder(savingsSeriesSql(config, 'cumulative')).timeSeries())
      .timeFrom('2y')
      .unit(UNITS.kwh)
      .drawStyle(common.GraphDrawStyle.Line)
      .showPoints(common.VisibilityMode.Always)
      .lineWidth(2),
    'savings_low',
    'savings_high',
  )
    .height(10)
    .span(12);

  return { title: 'Verified savings (M&V)', panels: [summary, monthly, cumulative] };
}
