/**
 * Data quality: coverage per meter, gaps and freshness, dead letters, register events and late
 * data.
 */
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as statushistory from '@grafana/grafana-foundation-sdk/statushistory';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import {
  buildingVariable,
  countThresholds,
  coverageThresholds,
  FIELD,
  finishDashboard,
  withRows,
  InfluxQlQueryBuilder,
  MEASUREMENT,
  meterVariable,
  msBucket,
  msInRange,
  neutralThresholds,
  siteVariable,
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
import { dashboardLinks } from './portfolio.js';

export const DATA_QUALITY_UID = 'wattproof-data-quality';

const meterScope = [tagMatches('site', 'site'), tagMatches('building', 'building'), tagMatches('meter', 'meter')];
const perMeter = `${TAG.building}, ${TAG.meter}, ${TAG.quantity}`;

function coverageRow(config: GrafanaConfig): Row {
  const coverage = new bargauge.PanelBuilder()
    .title('Coverage by meter (selected period)')
    .description(
      `Σ interval_s of the interval readings / length of the selected period. Target ${config.coverageTargetPct} % (bankable M&V asks 90–95 %). ` +
        'Choose a period that ends now or in the past: a range reaching into the future lowers every meter.',
    )
    .withTarget(
      new InfluxQlQueryBuilder(
        `SELECT sum(${FIELD.intervalS}) * 100 / $__range_s AS "coverage" FROM ${MEASUREMENT} ${where([...meterScope, tagIs('kind', 'interval'), '$timeFilter'])} GROUP BY ${perMeter}`,
      ).alias('$tag_building / $tag_meter ($tag_quantity)'),
    )
    .unit(UNITS.percent)
    .min(0)
    .max(100)
    .decimals(1)
    .thresholds(coverageThresholds(config.coverageTargetPct))
    .displayMode(common.BarGaugeDisplayMode.Lcd)
    .orientation(common.VizOrientation.Horizontal)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .height(10)
    .span(10);

  const daily = new statushistory.PanelBuilder()
    .title('Daily coverage by meter')
    .description(`Share of each local day (${config.timezone}) covered by interval readings.`)
    .withTarget(
      new InfluxQlQueryBuilder(
        `SELECT sum(${FIELD.intervalS}) / 864 AS "coverage" FROM ${MEASUREMENT} ${where([...meterScope, tagIs('kind', 'interval'), '$timeFilter'])} ` +
          `GROUP BY time(1d), ${perMeter} fill(0) tz('${config.timezone}')`,
      ).alias('$tag_building / $tag_meter ($tag_quantity)'),
    )
    .unit(UNITS.percent)
    .decimals(0)
    .thresholds(coverageThresholds(config.coverageTargetPct))
    .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Thresholds))
    .showValue(common.VisibilityMode.Never)
    .height(10)
    .span(14);

  return { title: 'Coverage', panels: [coverage, daily] };
}

function gapsRow(): Row {
  const lastSeen = new table.PanelBuilder()
    .title('Newest reading per meter')
    .description('Time and value of each series\' newest reading in the selected period; a meter that stopped reporting sorts first.')
    .withTarget(
      new InfluxQlQueryBuilder(
        `SELECT last(${FIELD.value}) AS "value" FROM ${MEASUREMENT} ${where([...meterScope, '$timeFilter'])} GROUP BY ${perMeter}, ${TAG.kind}, ${TAG.unit}`,
      ).table(),
    )
    .withTransformation({ id: 'sortBy', options: { fields: {}, sort: [{ field: 'Time', desc: false }] } })
    .unit(UNITS.text)
    .overrideByName('Time', [{ id: 'unit', value: UNITS.dateTimeFromNow }, { id: 'displayName', value: 'newest reading' }])
    .overrideByName('value', [{ id: 'unit', value: UNITS.count }])
    .height(10)
    .span(12);

  const gaps = new bargauge.PanelBuilder()
    .title('Longest spacing between interval readings')
    .description('Largest time between consecutive interval readings of each meter in the selected period (equals the interval length when nothing is missing).')
    .withTarget(
      new InfluxQlQueryBuilder(
        `SELECT max("gap") AS "gap" FROM (SELECT elapsed(${FIELD.value}, 1s) AS "gap" FROM ${MEASUREMENT} ` +
          `${where([...meterScope, tagIs('kind', 'interval'), '$timeFilter'])} GROUP BY ${perMeter}) GROUP BY ${perMeter}`,
      ).alias('$tag_building / $tag_meter ($tag_quantity)'),
    )
    .unit(UNITS.seconds)
    .min(0)
    .thresholds(neutralThresholds())
    .displayMode(common.BarGaugeDisplayMode.Basic)
    .orientation(common.VizOrientation.Horizontal)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['max']).values(false))
    .height(10)
    .span(12);

  const missing = new timeseries.PanelBuilder()
    .title('Interval readings per panel interval')
    .description('Readings received per meter and panel interval; drops to 0 are gaps.')
    .withTarget(
      new InfluxQlQueryBuilder(
        `SELECT count(${FIELD.value}) FROM ${MEASUREMENT} ${where([...meterScope, tagIs('kind', 'interval'), '$timeFilter'])} ` + `GROUP BY time($__interval), ${perMeter} fill(0)`,
      ).alias('$tag_building / $tag_meter ($tag_quantity)'),
    )
    .interval('1h')
    .unit(UNITS.count)
    .min(0)
    .height(8)
    .span(24);

  return { title: 'Gaps and freshness', panels: [lastSeen, gaps, missing] };
}

/** Dead letters of the selected sites (by the site in their topic) and those whose topic names no site. */
function deadLetterScope(): string {
  return `${msInRange('received_at_ms')} AND (split_part(topic, '/', 3) IN (${sqlValues('site')}) OR NOT starts_with(topic, 'wattproof/v1/'))`;
}

function deadLettersRow(): Row {
  const byCode = new timeseries.PanelBuilder()
    .title('Dead letters by code')
    .description('Messages refused by the gateway (ACL, size) or the ingest (contract), per error code (docs/errors.md); topics outside wattproof/v1 count for every site.')
    .withTarget(
      new SqlQueryBuilder(
        `SELECT ${msBucket('received_at_ms')}, code AS "metric", count(*)::float8 AS "value" FROM dead_letters WHERE ${deadLetterScope()} GROUP BY 1, 2 ORDER BY 1`,
      ).timeSeries(),
    )
    .interval('5m')
    .unit(UNITS.count)
    .min(0)
    .drawStyle(common.GraphDrawStyle.Bars)
    .fillOpacity(80)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal).group('codes'))
    .height(8)
    .span(12);

  const recent = new table.PanelBuilder()
    .title('Newest dead letters')
    .description('The 200 newest in the selected period; payloads stay in the registry (GET /api/v1/dead-letters).')
    .withTarget(
      new SqlQueryBuilder(
        `SELECT to_timestamp(received_at_ms / 1000.0) AS "received", source, code, reason, topic, client_id, payload_bytes, truncated ` +
          `FROM dead_letters WHERE ${deadLetterScope()} ORDER BY id DESC LIMIT 200`,
      ),
    )
    .unit(UNITS.text)
    .overrideByName('payload_bytes', [{ id: 'unit', value: 'bytes' }])
    .thresholds(countThresholds())
    .height(8)
    .span(12);

  return { title: 'Dead letters', panels: [byCode, recent] };
}

const registerScope = `site IN (${sqlValues('site')}) AND building IN (${sqlValues('building')}) AND meter IN (${sqlValues('meter')}) AND ${msInRange('ts')}`;

function registerEventsRow(): Row {
  const byType = new timeseries.PanelBuilder()
    .title('Register events by type')
    .description('Breaks in cumulative registers the ingest detected: rollover, reset, replacement, and out_of_order (late register readings).')
    .withTarget(
      new SqlQueryBuilder(`SELECT ${msBucket('ts')}, type AS "metric", count(*)::float8 AS "value" FROM register_events WHERE ${registerScope} GROUP BY 1, 2 ORDER BY 1`).timeSeries(),
    )
    .interval('1h')
    .unit(UNITS.count)
    .min(0)
    .drawStyle(common.GraphDrawStyle.Bars)
    .fillOpacity(80)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal).group('types'))
    .height(8)
    .span(10);

  const events = new table.PanelBuilder()
    .title('Register events and late data')
    .description('Each event with the register values around it; "detected after" is the time from the reading\'s timestamp to its detection (late data shows as a long delay).')
    .withTarget(
      new SqlQueryBuilder(
        `SELECT to_timestamp(ts / 1000.0) AS "reading time", building, meter, quantity, type, previous_value, value, ` +
          `(detected_at_ms - ts) / 1000.0 AS "detected_after", note FROM register_events WHERE ${registerScope} ORDER BY ts DESC, seq DESC LIMIT 200`,
      ),
    )
    .unit(UNITS.text)
    .overrideByName('previous_value', [{ id: 'unit', value: UNITS.count }])
    .overrideByName('value', [{ id: 'unit', value: UNITS.count }])
    .overrideByName('detected_after', [{ id: 'unit', value: UNITS.seconds }])
    .height(8)
    .span(14);

  return { title: 'Register events and late data', panels: [byType, events] };
}

/** The data-quality dashboard. */
export function dataQualityDashboard(config: GrafanaConfig): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder('Wattproof · Data quality')
    .uid(DATA_QUALITY_UID)
    .description('Coverage, gaps, dead letters, register events and late data per site, building and meter.')
    .tags(['wattproof', 'generated'])
    .timezone(config.timezone)
    .time({ from: 'now-7d', to: 'now' })
    .refresh('5m')
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .withVariable(siteVariable(true))
    .withVariable(buildingVariable(true))
    .withVariable(meterVariable())
    .link(dashboardLinks());
  return finishDashboard(withRows(builder, [coverageRow(config), gapsRow(), deadLettersRow(), registerEventsRow()]).build());
}
