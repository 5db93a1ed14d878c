/**
 * Shared presets of the Grafana dashboards: the typed config every dashboard is a function of,
 * datasource references, the InfluxDB layout and query fragments, custom query builders for the
 * InfluxQL and PostgreSQL datasources (the SDK ships none), units, thresholds, the template
 * variables, and the step that numbers panels and sorts keys for stable output.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import type * as common from '@grafana/grafana-foundation-sdk/common';
import { referenceData } from '@wattproof/analytics';

/** Stable datasource UIDs: provisioning creates them, every panel and alert refers to them. */
export const DATASOURCE_UIDS = { influxdb: 'wattproof-influxdb', postgres: 'wattproof-postgres' } as const;

export const INFLUX_DS: common.DataSourceRef = { type: 'influxdb', uid: DATASOURCE_UIDS.influxdb };
export const POSTGRES_DS: common.DataSourceRef = { type: 'grafana-postgresql-datasource', uid: DATASOURCE_UIDS.postgres };

/**
 * The InfluxDB layout of ingest/src/stores/influxdb.ts (measurement, tags, fields). The adapter
 * keeps these names private; test/dashboards/grafana.test.ts checks them against a real store.
 */
export const LAYOUT = {
  measurement: 'reading',
  tags: { site: 'site', building: 'building', meter: 'meter', quantity: 'quantity', kind: 'kind', unit: 'unit' },
  fields: { value: 'value', intervalS: 'interval_s' },
} as const;

/** A GB/T 51161 quota row as the dashboards use it. */
export interface QuotaRow {
  readonly buildingType: string;
  readonly constraint: number;
  readonly guide: number;
}

/** What the generated dashboards and alert rules depend on. */
export interface GrafanaConfig {
  /** IANA zone of local days (InfluxQL `tz()`) and of the dashboards' clocks. */
  readonly timezone: string;
  /** Folder of the dashboards and alert rules. */
  readonly folder: string;
  /**
   * Folders of the lender and insurer dashboards: one each, so a Grafana admin can give each
   * folder to its own team (folder permissions are set in Grafana, not in these files).
   */
  readonly financeFolders: { readonly lender: string; readonly insurer: string };
  /** GB/T 51161 quotas (kWh/(m²·a)) per building type, from analytics/reference. */
  readonly quotas: readonly QuotaRow[];
  /** Identity of the quota set, shown in panel descriptions. */
  readonly quotaReference: string;
  /** Confidence of the uncertainty band drawn around the baseline (one of the levels analytics reports). */
  readonly bandConfidence: 0.68 | 0.9 | 0.95;
  /** Coverage target, % (the data-quality thresholds and the coverage alert). */
  readonly coverageTargetPct: number;
  /** Window of "live" values (latest interval per meter), InfluxQL duration. */
  readonly liveWindow: string;
  readonly alerts: {
    /** One meter-silent rule per class: meters whose interval is at most `maxIntervalS`, silent for more than `intervals` of them. */
    readonly silent: ReadonlyArray<{ readonly maxIntervalS: number; readonly intervals: number; readonly severity: 'warning' | 'critical' }>;
    /** Meters seen within this many days are watched by the silent rule. */
    readonly silentLookbackDays: number;
    /** Dead letters per site within `deadLetterWindowS` that raise the surge alert. */
    readonly deadLetterMaxCount: number;
    readonly deadLetterWindowS: number;
    /** Rolling window of the coverage alert, days. */
    readonly coverageWindowDays: number;
    /** Evaluation interval of the rule group, seconds. */
    readonly evaluateEveryS: number;
  };
  /** Environment variables the provisioning files interpolate (Grafana expands `$NAME`). */
  readonly env: {
    readonly influxUrl: string;
    readonly influxDatabase: string;
    readonly influxUsername: string;
    readonly influxPassword: string;
    readonly postgresHost: string;
    readonly postgresDatabase: string;
    readonly postgresUser: string;
    readonly postgresPassword: string;
    readonly alertWebhookUrl: string;
  };
  /** `sslmode` of the PostgreSQL datasource (`disable` inside the compose network). */
  readonly postgresSslMode: 'disable' | 'require' | 'verify-ca' | 'verify-full';
  /** Where the dashboard JSON files are mounted in the Grafana container: one subdirectory per folder (see `DASHBOARD_DIRS`). */
  readonly dashboardsPath: string;
}

/** Quotas of the bundled reference set (analytics/reference/gbt51161-quotas.json). */
export function referenceQuotas(): { rows: QuotaRow[]; reference: string } {
  const q = referenceData().quotas;
  return {
    rows: q.data.quotas.map((r) => ({ buildingType: r.buildingType, constraint: r.constraint, guide: r.guide })),
    reference: `${q.data.id} v${q.data.version}`,
  };
}

/** The config of the checked-in files. */
export function defaultGrafanaConfig(): GrafanaConfig {
  const quotas = referenceQuotas();
  return {
    timezone: 'Asia/Shanghai',
    folder: 'Wattproof',
    financeFolders: { lender: 'Wattproof lender', insurer: 'Wattproof insurer' },
    quotas: quotas.rows,
    quotaReference: quotas.reference,
    bandConfidence: 0.9,
    coverageTargetPct: 90,
    liveWindow: '3h',
    alerts: {
      silent: [
        { maxIntervalS: 900, intervals: 4, severity: 'warning' },
        { maxIntervalS: 3600, intervals: 4, severity: 'critical' },
      ],
      silentLookbackDays: 7,
      deadLetterMaxCount: 50,
      deadLetterWindowS: 900,
      coverageWindowDays: 30,
      evaluateEveryS: 60,
    },
    env: {
      influxUrl: 'INFLUX_URL',
      influxDatabase: 'INFLUX_DATABASE',
      influxUsername: 'INFLUX_USERNAME',
      influxPassword: 'INFLUX_PASSWORD',
      postgresHost: 'POSTGRES_HOST',
      postgresDatabase: 'POSTGRES_DB',
      postgresUser: 'POSTGRES_USER',
      postgresPassword: 'POSTGRES_PASSWORD',
      alertWebhookUrl: 'GRAFANA_ALERT_WEBHOOK_URL',
    },
    postgresSslMode: 'disable',
    dashboardsPath: '/var/lib/grafana/dashboards',
  };
}

/** Grafana unit ids used here. */
export const UNITS = {
  kwh: 'kwatth',
  kw: 'kwatt',
  percent: 'percent',
  seconds: 's',
  count: 'short',
  eui: 'kWh/m²·a',
  area: 'm²',
  dateTimeFromNow: 'dateTimeFromNow',
  dateTime: 'dateTimeAsIso',
  text: 'string',
} as const;

/** Red below the coverage target, green from it. */
export function coverageThresholds(targetPct: number): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps([
    { value: null, color: 'red' },
    { value: targetPct, color: 'green' },
  ]);
}

/** A single neutral color (values without a good/bad reading). */
export function neutralThresholds(): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps([{ value: null, color: 'blue' }]);
}

/** Share of the GB/T 51161 constraint quota: green to 100 %, red above. */
export function quotaShareThresholds(): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps([
    { value: null, color: 'green' },
    { value: 100, color: 'red' },
  ]);
}

/** Counts where any is worth a look (dead letters, register events). */
export function countThresholds(): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps([
    { value: null, color: 'green' },
    { value: 1, color: 'orange' },
  ]);
}

// ---------------------------------------------------------------- query builders

/** An InfluxQL query of Grafana's InfluxDB datasource (raw mode). */
export interface InfluxQlQuery {
  refId?: string;
  hide?: boolean;
  datasource: common.DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: 'time_series' | 'table';
  /** Series alias, e.g. `$tag_meter`. */
  alias?: string;
  _implementsDataqueryVariant(): void;
}

/** Builds an InfluxQL target (the SDK has no InfluxDB query type). */
export class InfluxQlQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly internal: InfluxQlQuery;

  constructor(query: string) {
    this.internal = { datasource: INFLUX_DS, query, rawQuery: true, resultFormat: 'time_series', _implementsDataqueryVariant() {} };
  }

  build(): InfluxQlQuery {
    return this.internal;
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  hide(hide: boolean): this {
    this.internal.hide = hide;
    return this;
  }

  table(): this {
    this.internal.resultFormat = 'table';
    return this;
  }

  alias(alias: string): this {
    this.internal.alias = alias;
    return this;
  }
}

/** A raw SQL query of Grafana's PostgreSQL datasource. */
export interface SqlQuery {
  refId?: string;
  hide?: boolean;
  datasource: common.DataSourceRef;
  rawSql: string;
  rawQuery: true;
  editorMode: 'code';
  format: 'table' | 'time_series';
  _implementsDataqueryVariant(): void;
}

/** Builds a PostgreSQL target (the SDK has no SQL query type). */
export class SqlQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly internal: SqlQuery;

  constructor(rawSql: string) {
    this.internal = { datasource: POSTGRES_DS, rawSql, rawQuery: true, editorMode: 'code', format: 'table', _implementsDataqueryVariant() {} };
  }

  build(): SqlQuery {
    return this.internal;
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  hide(hide: boolean): this {
    this.internal.hide = hide;
    return this;
  }

  timeSeries(): this {
    this.internal.format = 'time_series';
    return this;
  }
}

/** Options of Grafana's built-in alert list panel. */
export interface AlertListOptions {
  viewMode: 'list' | 'stat';
  groupMode: 'default' | 'custom';
  groupBy: string[];
  maxItems: number;
  sortOrder: number;
  dashboardAlerts: boolean;
  alertName: string;
  alertInstanceLabelFilter: string;
  showInstances: boolean;
  stateFilter: { firing: boolean; pending: boolean; noData: boolean; normal: boolean; error: boolean };
}

/** The alert list panel (queries Grafana's own alert state, no datasource); the SDK has no builder for it. */
export class AlertListPanelBuilder implements cog.Builder<dashboard.Panel> {
  private readonly internal: dashboard.Panel;

  constructor(options: AlertListOptions) {
    this.internal = { type: 'alertlist', options };
  }

  build(): dashboard.Panel {
    return this.internal;
  }

  title(title: string): this {
    this.internal.title = title;
    return this;
  }

  description(description: string): this {
    this.internal.description = description;
    return this;
  }

  gridPos(gridPos: dashboard.GridPos): this {
    this.internal.gridPos = gridPos;
    return this;
  }
}

// ---------------------------------------------------------------- InfluxQL fragments

/** `"name"`: an InfluxQL identifier (our names need no escaping). */
export const ident = (name: string): string => `"${name}"`;
export const MEASUREMENT = ident(LAYOUT.measurement);
export const TAG = {
  site: ident(LAYOUT.tags.site),
  building: ident(LAYOUT.tags.building),
  meter: ident(LAYOUT.tags.meter),
  quantity: ident(LAYOUT.tags.quantity),
  kind: ident(LAYOUT.tags.kind),
  unit: ident(LAYOUT.tags.unit),
} as const;
export const FIELD = { value: ident(LAYOUT.fields.value), intervalS: ident(LAYOUT.fields.intervalS) } as const;

/** `"tag" =~ /^${variable:regex}$/`: matches one, several or all values of a template variable. */
export function tagMatches(tag: keyof typeof TAG, variable: string): string {
  return `${TAG[tag]} =~ /^\${${variable}:regex}$/`;
}

/** `"tag" !~ /^${variable:regex}$/`. */
export function tagNotMatches(tag: keyof typeof TAG, variable: string): string {
  return `${TAG[tag]} !~ /^\${${variable}:regex}$/`;
}

/** `"tag" = 'value'` for our fixed tag values (quantities and kinds of the contract). */
export function tagIs(tag: keyof typeof TAG, value: string): string {
  return `${TAG[tag]} = '${value}'`;
}

/** Electricity interval energy (kWh) of main meters: sub-meters (the hidden `sub_meter` variable) are left out. */
export function mainElectricity(scope: 'site' | 'building'): string[] {
  return [
    tagMatches('site', 'site'),
    ...(scope === 'building' ? [tagMatches('building', 'building')] : []),
    tagIs('quantity', 'electricity'),
    tagIs('kind', 'interval'),
    tagNotMatches('meter', 'sub_meter'),
  ];
}

/** `WHERE a AND b ...`. */
export const where = (conditions: readonly string[]): string => `WHERE ${conditions.join(' AND ')}`;

// ---------------------------------------------------------------- SQL fragments

/** `'a', 'b'`: a variable's values as SQL string literals (one or several). */
export const sqlValues = (variable: string): string => `\${${variable}:sqlstring}`;

/** ms-epoch column within the dashboard range. */
export function msInRange(column: string): string {
  return `${column} >= $__unixEpochFrom()::bigint * 1000 AND ${column} < $__unixEpochTo()::bigint * 1000`;
}

/** ms-epoch column bucketed by the panel interval, as a timestamp named `time`. */
export function msBucket(column: string): string {
  return `to_timestamp(floor(${column} / $__interval_ms) * $__interval_ms / 1000.0) AS "time"`;
}

/** `(VALUES ('office_a', 85, 70), ...) AS q(building_type, quota_constraint, quota_guide)`. */
export function quotaValues(quotas: readonly QuotaRow[]): string {
  const rows = quotas.map((q) => `('${q.buildingType.replace(/'/g, "''")}', ${q.constraint}::float8, ${q.guide}::float8)`);
  return `(VALUES ${rows.join(', ')}) AS q(building_type, quota_constraint, quota_guide)`;
}

// ---------------------------------------------------------------- template variables

const ALL: dashboard.VariableOption = { selected: true, text: 'All', value: '$__all' };

/** `site` from the readings (`SHOW TAG VALUES`). */
export function siteVariable(multi: boolean): dashboard.QueryVariableBuilder {
  const v = new dashboard.QueryVariableBuilder('site')
    .label('Site')
    .datasource(INFLUX_DS)
    .query(`SHOW TAG VALUES FROM ${MEASUREMENT} WITH KEY = ${TAG.site}`)
    .refresh(dashboard.VariableRefresh.OnDashboardLoad)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(multi)
    .includeAll(multi);
  return multi ? v.current(ALL) : v;
}

/** `building`, chained on `site`. */
export function buildingVariable(multi: boolean): dashboard.QueryVariableBuilder {
  const v = new dashboard.QueryVariableBuilder('building')
    .label('Building')
    .datasource(INFLUX_DS)
    .query(`SHOW TAG VALUES FROM ${MEASUREMENT} WITH KEY = ${TAG.building} ${where([tagMatches('site', 'site')])}`)
    .refresh(dashboard.VariableRefresh.OnDashboardLoad)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(multi)
    .includeAll(multi);
  return multi ? v.current(ALL) : v;
}

/** `meter`, chained on `site` and `building`; several or all. */
export function meterVariable(): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder('meter')
    .label('Meter')
    .datasource(INFLUX_DS)
    .query(`SHOW TAG VALUES FROM ${MEASUREMENT} WITH KEY = ${TAG.meter} ${where([tagMatches('site', 'site'), tagMatches('building', 'building')])}`)
    .refresh(dashboard.VariableRefresh.OnDashboardLoad)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .current(ALL);
}

/**
 * Hidden `sub_meter`: electricity meters the registry lists with a parent, so sums over a building
 * count each kWh once (main meters only). Ids are matched across the selected buildings.
 */
export function subMeterVariable(scope: 'site' | 'building'): dashboard.QueryVariableBuilder {
  const conditions = [`site IN (${sqlValues('site')})`, ...(scope === 'building' ? [`building IN (${sqlValues('building')})`] : []), `parent IS NOT NULL`, `quantity = 'electricity'`];
  return new dashboard.QueryVariableBuilder('sub_meter')
    .label('Sub-meters (registry)')
    .description('Electricity meters with a parent meter in the registry; left out of building and portfolio totals.')
    .datasource(POSTGRES_DS)
    .query(`SELECT DISTINCT id FROM meters WHERE ${conditions.join(' AND ')} ORDER BY id`)
    .refresh(dashboard.VariableRefresh.OnDashboardLoad)
    .hide(dashboard.VariableHide.HideVariable)
    .multi(true)
    .includeAll(true)
    .current(ALL);
}

// ---------------------------------------------------------------- finishing

/** Panels of a built dashboard, row children included, in grid order. */
export function allPanels(d: dashboard.Dashboard): dashboard.Panel[] {
  const out: dashboard.Panel[] = [];
  for (const p of (d.panels ?? []) as Array<dashboard.Panel | dashboard.RowPanel>) {
    out.push(p as dashboard.Panel);
    if (p.type === 'row') out.push(...(((p as dashboard.RowPanel).panels ?? []) as dashboard.Panel[]));
  }
  return out;
}

/** A row of a dashboard: its title and panels (one module per row). */
export interface Row {
  readonly title: string;
  readonly panels: ReadonlyArray<cog.Builder<dashboard.Panel>>;
}

/** Adds expanded rows: each row header followed by its panels (the SDK lays them out left to right). */
export function withRows(builder: dashboard.DashboardBuilder, rows: readonly Row[]): dashboard.DashboardBuilder {
  for (const row of rows) {
    builder.withRow(new dashboard.RowBuilder(row.title));
    for (const panel of row.panels) builder.withPanel(panel);
  }
  return builder;
}

/** Grafana's pseudo-datasource of panels whose queries go to several datasources. */
export const MIXED_DS: common.DataSourceRef = { type: 'datasource', uid: '-- Mixed --' };

/**
 * Numbers the panels 1..n, gives each query a refId (A, B, ...) where it has none, and sets each
 * panel's datasource from its queries (the one they share, or Mixed).
 */
export function finishDashboard(d: dashboard.Dashboard): dashboard.Dashboard {
  allPanels(d).forEach((p, i) => {
    p.id = i + 1;
    const targets = (p.targets ?? []) as Array<{ refId?: string; datasource?: common.DataSourceRef }>;
    targets.forEach((q, j) => {
      q.refId ??= refIdOf(j);
    });
    const uids = [...new Set(targets.map((q) => q.datasource?.uid))];
    if (targets.length > 0) p.datasource = uids.length === 1 && targets[0]?.datasource ? targets[0].datasource : MIXED_DS;
  });
  return d;
}

/** A, B, ..., Z, AA, AB, ... */
export function refIdOf(index: number): string {
  let n = index;
  let s = '';
  do {
    s = String.fromCharCode(65 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return s;
}

/** A copy with object keys sorted (arrays keep their order), functions and undefined dropped. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined || typeof v === 'function') continue;
      out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Stable JSON text: sorted keys, two-space indent, trailing newline. */
export function stableJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}
