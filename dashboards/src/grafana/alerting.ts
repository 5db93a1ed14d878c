/**
 * Grafana-managed alert rules as code for the full stack (Grafana ≥ 11: rules route to the
 * contact point through `notification_settings`, so the org's notification policy tree is left
 * alone): meters gone silent, dead-letter surges, and monthly coverage below target. Built with the
 * SDK's alerting builders and written in Grafana's file-provisioning format.
 */
import * as alerting from '@grafana/grafana-foundation-sdk/alerting';
import * as expr from '@grafana/grafana-foundation-sdk/expr';
import { DATASOURCE_UIDS, FIELD, InfluxQlQueryBuilder, MEASUREMENT, msInRange, SqlQueryBuilder, TAG, tagIs, where, type GrafanaConfig } from './common.js';

export const CONTACT_POINT = 'wattproof-webhook';
export const RULE_GROUP = 'wattproof';
const EXPR_DS = { type: '__expr__', uid: '__expr__' };
const LABELS = { service: 'wattproof' };

/** InfluxDB duration of `s` seconds in the largest whole unit. */
function duration(s: number): string {
  if (s % 86_400 === 0) return `${s / 86_400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/**
 * Readings each meter sent in its last `intervals` + 1 buckets of `maxIntervalS` (the current,
 * partial one included), for meters with interval readings no longer than `maxIntervalS` in the
 * evaluated range. `fill(0)` keeps a series for a meter that stopped, so silence reads as 0.
 */
export function silentMeterQuery(rule: { maxIntervalS: number; intervals: number }): string {
  const window = rule.intervals + 1;
  return (
    `SELECT moving_average(count(${FIELD.value}), ${window}) * ${window} AS "recent_readings" FROM ${MEASUREMENT} ` +
    `${where([tagIs('kind', 'interval'), `${FIELD.intervalS} <= ${rule.maxIntervalS}`, '$timeFilter'])} ` +
    `GROUP BY time(${duration(rule.maxIntervalS)}), ${TAG.site}, ${TAG.building}, ${TAG.meter} fill(0)`
  );
}

/** Dead letters per site (from the topic) in the evaluated window. */
export function deadLetterQuery(): string {
  return (
    `SELECT COALESCE(NULLIF(split_part(topic, '/', 3), ''), '(none)') AS site, count(*)::float8 AS dead_letters FROM dead_letters ` +
    `WHERE ${msInRange('received_at_ms')} GROUP BY 1`
  );
}

/** Coverage of each meter's interval readings over the rolling window, %. */
export function coverageQuery(config: GrafanaConfig): string {
  const windowS = config.alerts.coverageWindowDays * 86_400;
  return (
    `SELECT sum(${FIELD.intervalS}) * 100 / ${windowS} AS "coverage" FROM ${MEASUREMENT} ${where([tagIs('kind', 'interval'), '$timeFilter'])} ` +
    `GROUP BY ${TAG.site}, ${TAG.building}, ${TAG.meter}, ${TAG.quantity}`
  );
}

function reduce(refId: string, of: string): alerting.QueryBuilder {
  return new alerting.QueryBuilder(refId)
    .datasourceUid(EXPR_DS.uid)
    .model(new expr.TypeReduceBuilder().refId(refId).datasource(EXPR_DS).expression(of).reducer('last').settings({ mode: 'dropNN' }));
}

function threshold(refId: string, of: string, type: 'lt' | 'gt', value: number): alerting.QueryBuilder {
  return new alerting.QueryBuilder(refId)
    .datasourceUid(EXPR_DS.uid)
    .model(new expr.TypeThresholdBuilder().refId(refId).datasource(EXPR_DS).expression(of).conditions([{ evaluator: { type, params: [value] } }]));
}

function rule(uid: string, title: string): alerting.RuleBuilder {
  return new alerting.RuleBuilder(title)
    .uid(uid)
    .condition('C')
    .execErrState('Error')
    .isPaused(false)
    .notificationSettings(new alerting.NotificationSettingsBuilder().receiver(CONTACT_POINT).groupBy(['alertname', 'grafana_folder', 'site']));
}

/** The rules, as the SDK builds them (API shape). */
export function alertRules(config: GrafanaConfig): alerting.Rule[] {
  const a = config.alerts;
  const silent = a.silent.map((s) =>
    rule(`wattproof-meter-silent-${s.maxIntervalS}s`, `Meter silent (intervals up to ${duration(s.maxIntervalS)})`)
      .withQuery(
        new alerting.QueryBuilder('A')
          .datasourceUid(DATASOURCE_UIDS.influxdb)
          .relativeTimeRange({ from: a.silentLookbackDays * 86_400, to: 0 })
          .model(new InfluxQlQueryBuilder(silentMeterQuery(s)).refId('A')),
      )
      .withQuery(reduce('B', 'A'))
      .withQuery(threshold('C', 'B', 'lt', 1))
      .noDataState('OK')
      .forDuration('0s')
      .labels({ ...LABELS, rule: 'meter_silent', severity: s.severity })
      .annotations({
        summary: `Meter {{ $labels.site }}/{{ $labels.building }}/{{ $labels.meter }} sent no interval reading for more than ${s.intervals} × ${duration(s.maxIntervalS)}.`,
        description:
          `Meters whose interval readings are at most ${duration(s.maxIntervalS)} long and that reported within the last ${a.silentLookbackDays} days ` +
          `are silent when their last ${s.intervals + 1} buckets of ${duration(s.maxIntervalS)} (the current one included) hold no reading. ` +
          'Check the device, its network and the gateway (Data quality dashboard).',
      }),
  );
  const deadLetters = rule('wattproof-dead-letter-surge', 'Dead-letter surge')
    .withQuery(
      new alerting.QueryBuilder('A')
        .datasourceUid(DATASOURCE_UIDS.postgres)
        .relativeTimeRange({ from: a.deadLetterWindowS, to: 0 })
        .model(new SqlQueryBuilder(deadLetterQuery()).refId('A')),
    )
    .withQuery(reduce('B', 'A'))
    .withQuery(threshold('C', 'B', 'gt', a.deadLetterMaxCount))
    .noDataState('OK')
    .forDuration('0s')
    .labels({ ...LABELS, rule: 'dead_letter_surge', severity: 'warning' })
    .annotations({
      summary: `{{ $values.B.Value }} dead letters for site {{ $labels.site }} in the last ${duration(a.deadLetterWindowS)} (more than ${a.deadLetterMaxCount}).`,
      description: 'The gateway or the ingest refused many messages: see their codes in the Data quality dashboard and docs/errors.md.',
    });
  const coverage = rule('wattproof-coverage-low', `Coverage below ${config.coverageTargetPct} % (${a.coverageWindowDays} days)`)
    .withQuery(
      new alerting.QueryBuilder('A')
        .datasourceUid(DATASOURCE_UIDS.influxdb)
        .relativeTimeRange({ from: a.coverageWindowDays * 86_400, to: 0 })
        .model(new InfluxQlQueryBuilder(coverageQuery(config)).refId('A')),
    )
    .withQuery(reduce('B', 'A'))
    .withQuery(threshold('C', 'B', 'lt', config.coverageTargetPct))
    .noDataState('OK')
    .forDuration('1h')
    .labels({ ...LABELS, rule: 'low_coverage', severity: 'warning' })
    .annotations({
      summary: `Coverage of {{ $labels.site }}/{{ $labels.building }}/{{ $labels.meter }} ({{ $labels.quantity }}) is {{ humanize $values.B.Value }} % over the last ${a.coverageWindowDays} days.`,
      description:
        `Σ interval_s of the meter's interval readings over ${a.coverageWindowDays} days is below ${config.coverageTargetPct} % of the window. ` +
        'A meter installed within the window shows low coverage until it has a full window of data.',
    });
  return [...silent, deadLetters, coverage].map((r) => r.folderUID('').ruleGroup(RULE_GROUP).orgID(1).build());
}

/** JSON of a built query model without the SDK's marker function. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

/** The alerting provisioning file: the rule group and the webhook contact point. */
export function alertingProvisioning(config: GrafanaConfig): Record<string, unknown> {
  const contact = new alerting.ContactPointBuilder()
    .uid(CONTACT_POINT)
    .name(CONTACT_POINT)
    .type('webhook')
    .settings({ url: `$${config.env.alertWebhookUrl}`, httpMethod: 'POST' })
    .disableResolveMessage(false)
    .build();
  return {
    apiVersion: 1,
    groups: [
      {
        orgId: 1,
        name: RULE_GROUP,
        folder: config.folder,
        interval: `${config.alerts.evaluateEveryS}s`,
        rules: alertRules(config).map((r) => ({
          uid: r.uid,
          title: r.title,
          condition: r.condition,
          data: r.data.map((q) => plain(q)),
          noDataState: r.noDataState,
          execErrState: r.execErrState,
          for: r.for,
          labels: r.labels,
          annotations: r.annotations,
          isPaused: r.isPaused,
          notification_settings: r.notification_settings,
        })),
      },
    ],
    contactPoints: [{ orgId: 1, name: contact.name, receivers: [{ uid: contact.uid, type: contact.type, settings: contact.settings, disableResolveMessage: contact.disableResolveMessage }] }],
  };
}
