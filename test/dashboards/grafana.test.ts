/**
 * The generated Grafana dashboards, provisioning and alert rules: the checked-in files are
 * current; every InfluxQL and SQL query (panels, template variables, alert rules) runs on a real
 * InfluxDB 1.x written through the ingest's InfluxDB reading store and on a real PostgreSQL
 * registry (its migrations, an M&V result from createMvJobs, dead letters, register events), with
 * the template variables and Grafana macros substituted the way Grafana does; the alert queries
 * fire for exactly the meters and sites the data make silent, surging or under-covered; and the
 * dashboards hold together (datasources, ids, chained variables, units).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFinanceService, createMvJobs, type CovenantTestRecord, type SettlementRecord } from '@wattproof/analytics';
import type { FinanceStore, NewDeadLetter, ReadingStore, RegistryStore, StoredReading } from '@wattproof/core';
import { createPostgresRegistryStore } from '@wattproof/gateway/registry';
import { createMemoryReadingStore, createReadingStore, readingStoreConfigSchema } from '@wattproof/ingest/stores';
import {
  DATASOURCE_UIDS,
  LAYOUT,
  alertRules,
  allPanels,
  defaultGrafanaConfig,
  grafanaDashboards,
  grafanaFiles,
  type InfluxQlQuery,
  type SqlQuery,
} from '../../dashboards/src/grafana/index.js';
import type * as dashboardTypes from '@grafana/grafana-foundation-sdk/dashboard';
import { startInfluxDb, type TestInfluxDb } from '../support/influxdb.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { at, DEFINITION, hospital, LOAN_ID, loanInput, POLICY_ID, policyInput, seed } from '../analytics/finance/service.fixture.js';

const ROOT = join(import.meta.dirname, '..', '..');
const M = 60_000;
const H = 3_600_000;
const D = 86_400_000;
const TZ_OFFSET = 8 * H; // Asia/Shanghai, no daylight saving.
const NOW = Date.now();
const HOUR = Math.floor(NOW / H) * H;
const QUARTER = Math.floor(NOW / (15 * M)) * 15 * M;
const localDate = (ms: number) => new Date(ms + TZ_OFFSET).toISOString().slice(0, 10);
const localMidnight = (ms: number) => Math.floor((ms + TZ_OFFSET) / D) * D - TZ_OFFSET;
// Baseline: a year from local midnight 560 days ago; reporting: from then to today's midnight.
const START = localMidnight(NOW - 560 * D);
const SWITCH = localMidnight(START + 366 * D);
const TODAY = localMidnight(NOW);

const config = defaultGrafanaConfig();
const SITE = 'yz';
const tower = { site: SITE, building: 'tower-a' };
const annex = { site: SITE, building: 'tower-b' };

/** The fixture: a metered office with M&V history and sub-meters, and an annex with a silent and a new meter. */
function readings(): StoredReading[] {
  const out: StoredReading[] = [];
  let seed = 11;
  const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 4;
  for (let t = START; t < HOUR; t += H) {
    const day = (t - START) / D;
    const localHour = ((t + TZ_OFFSET) / H) % 24;
    const temp = 18.5 - 10.5 * Math.cos((2 * Math.PI * (day - 15)) / 365) + 3 * Math.cos((2 * Math.PI * (localHour - 15)) / 24);
    const load = (40 + 2.5 * Math.max(0, temp - 24) + 1.5 * Math.max(0, 15 - temp) + noise()) * (t >= SWITCH ? 0.9 : 1);
    out.push({ ...tower, meter: 'outdoor', quantity: 'outdoor_temperature', kind: 'instant', unit: '°C', ts: t, value: Math.round(temp * 100) / 100 });
    out.push({ ...tower, meter: 'main', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, intervalS: 3600, value: Math.round(load * 1000) / 1000 });
    if (t >= HOUR - 40 * D) {
      // Sub-meters for 40 days; the HVAC one misses four days (coverage below 90 % over 30 days).
      const gap = t >= HOUR - 20 * D && t < HOUR - 16 * D;
      if (!gap) out.push({ ...tower, meter: 'hvac', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, intervalS: 3600, value: Math.round(load * 0.4 * 1000) / 1000 });
      out.push({ ...tower, meter: 'lighting', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, intervalS: 3600, value: Math.round(load * 0.3 * 1000) / 1000 });
    }
    if (t >= HOUR - 2 * D) {
      out.push({ ...tower, meter: 'demand', quantity: 'electricity', kind: 'instant', unit: 'kW', ts: t, value: Math.round(load * 1000) / 1000 });
      out.push({ ...tower, meter: 'reg', quantity: 'electricity', kind: 'register', unit: 'kWh', ts: t, value: 100_000 + (t - (HOUR - 2 * D)) / H * 40 });
    }
    if (t >= HOUR - 3 * D) out.push({ ...annex, meter: 'main', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, intervalS: 3600, value: 20 });
  }
  // 15-minute meters: `old` stopped 6 h ago, `live` reports up to the current quarter hour.
  for (let t = QUARTER - 2 * D; t <= QUARTER; t += 15 * M) {
    if (t < QUARTER - 6 * H) out.push({ ...annex, meter: 'old', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, intervalS: 900, value: 2 });
    out.push({ ...annex, meter: 'live', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, intervalS: 900, value: 3 });
  }
  return out;
}

function deadLetter(site: string, receivedAtMs: number, code: string): NewDeadLetter {
  const payload = '{"v":1}';
  return {
    receivedAtMs,
    source: 'ingest',
    topic: `wattproof/v1/${site}/tower-b/old/readings`,
    code,
    reason: 'readings[0].value: expected number',
    payload,
    payloadEncoding: 'utf8',
    payloadBytes: payload.length,
    truncated: false,
  };
}

let influx: TestInfluxDb | undefined;
let postgres: TestPostgres | undefined;
let store: ReadingStore | undefined;
let registry: (RegistryStore & FinanceStore) | undefined;
let client: pg.Client | undefined;

beforeAll(async () => {
  [influx, postgres] = await Promise.all([startInfluxDb(), startPostgres()]);
  store = createReadingStore(readingStoreConfigSchema.parse({ READINGS_STORE: 'influxdb', INFLUX_URL: influx.url, INFLUX_DATABASE: 'grafana' }));
  await store.init();
  await store.write(readings());
  const url = await postgres.createDatabase('grafana_registry');
  registry = createPostgresRegistryStore({ connectionString: url, poolSize: 2 });
  await registry.init();
  await registry.upsertSite({ id: SITE, timezone: config.timezone, latitude: 29.557, longitude: 106.577 });
  await registry.upsertBuilding({ ...tower, id: tower.building, name: 'Tower A', type: 'office_b', floorAreaM2: 12_000 });
  await registry.upsertBuilding({ ...annex, id: annex.building, name: 'Annex', type: 'hotel', floorAreaM2: 4_000 });
  for (const m of ['main', 'demand', 'reg']) await registry.upsertMeter({ ...tower, meter: m, quantity: 'electricity' });
  await registry.upsertMeter({ ...tower, meter: 'hvac', quantity: 'electricity', endUse: 'hvac', parent: 'main' });
  await registry.upsertMeter({ ...tower, meter: 'lighting', quantity: 'electricity', endUse: 'lighting_sockets', parent: 'main' });
  await registry.upsertMeter({ ...tower, meter: 'outdoor', quantity: 'outdoor_temperature' });
  for (const m of ['main', 'old', 'live']) await registry.upsertMeter({ ...annex, meter: m, quantity: 'electricity' });
  // A surge for yz (60 in the last 15 min), a trickle for another site, and older ones.
  await registry.addDeadLetters([
    ...Array.from({ length: 60 }, (_, i) => deadLetter(SITE, NOW - 10 * M + i * 1000, i % 2 ? 'CONTRACT_SCHEMA_INVALID' : 'CONTRACT_UNIT_INVALID')),
    ...Array.from({ length: 3 }, (_, i) => deadLetter('other', NOW - 5 * M + i, 'CONTRACT_SCHEMA_INVALID')),
    deadLetter(SITE, NOW - 2 * D, 'GATEWAY_TOPIC_FORBIDDEN'),
  ]);
  await registry.addRegisterEvents([
    { ...tower, meter: 'reg', quantity: 'electricity', ts: HOUR - 30 * H, type: 'rollover', previousValue: 999_990, value: 5, detectedAtMs: HOUR - 30 * H + M },
    { ...tower, meter: 'reg', quantity: 'electricity', ts: HOUR - 10 * H, type: 'out_of_order', previousValue: 101_000, value: 100_900, detectedAtMs: HOUR - 2 * H },
  ]);
  const jobs = createMvJobs({ readings: store, registry, clock: () => NOW });
  const result = await jobs.run({
    meter: { ...tower, meter: 'main' },
    temperatureMeter: { ...tower, meter: 'outdoor' },
    model: 'caltrack-daily',
    baseline: { start: localDate(START), end: localDate(SWITCH) },
    reporting: { start: localDate(SWITCH), end: localDate(TODAY) },
    timeZone: config.timezone,
    building: { floorAreaM2: 12_000, type: 'office_b' },
  });
  expect(result.body.result.savings.monthly.length).toBeGreaterThan(3);
  await seedFinance(registry);
  client = new pg.Client({ connectionString: url });
  await client.connect();
}, 300_000);

/** What the finance service stored for the lender and insurer dashboards. */
interface FinanceFixture {
  /** The live run of every covenant on its latest test date. */
  readonly tests: Map<string, CovenantTestRecord>;
  /** coverage-95 on 2025-07-01: the first run, a live re-run (newest record, older test date than the latest) and a run as of an earlier instant. */
  readonly coverageJuly: { readonly first: CovenantTestRecord; readonly rerun: CovenantTestRecord; readonly past: CovenantTestRecord };
  readonly coverageOctober: CovenantTestRecord;
  /** The live settlement of y2025 (policy version 2) and a later-stored run as of an earlier instant (policy version 1). */
  readonly settlement: SettlementRecord;
  readonly pastSettlement: SettlementRecord;
}
let financeFixture: FinanceFixture | undefined;

/**
 * The finance fixture of the service tests (a simulated hospital with known savings, a bank's
 * sustainability-linked loan, an insurer's policy) on this PostgreSQL registry, readings in a
 * memory store (the InfluxDB fixture stays site yz only), run through the real finance service;
 * then new versions of parties, the loan, its balances and the policy, so that "current
 * version" and "in force" are tested against older rows.
 */
async function seedFinance(reg: RegistryStore & FinanceStore): Promise<void> {
  const truth = hospital();
  const readingsStore = createMemoryReadingStore();
  await readingsStore.init();
  let now = at('2026-02-01') + 9 * H;
  const clock = () => now;
  await seed(readingsStore, reg, truth, now - D);
  const jobs = createMvJobs({ readings: readingsStore, registry: reg, clock });
  await jobs.define(DEFINITION);
  const finance = createFinanceService({ readings: readingsStore, registry: reg, jobs, clock });
  const beforeEvidence = now - 1000;
  const july = (await finance.testCovenants(LOAN_ID, { covenantId: 'coverage-95', testDate: '2025-07-01' })).tests[0]!.record;
  now += M;
  const october = (await finance.testCovenants(LOAN_ID, { covenantId: 'coverage-95', testDate: '2025-10-01' })).tests[0]!.record;
  now += H;
  const run = await finance.testCovenants(LOAN_ID, { refresh: true });
  const tests = new Map(run.tests.map((t) => [t.record.body.covenantId, t.record]));
  now += H;
  const o = { recordedAtMs: now, source: 'grafana test' };
  await reg.putParty({ id: 'green-bank', name: 'Green Bank plc', roles: ['bank'] }, o);
  await reg.putParty({ id: 'hospital-co', name: 'Hospital Holdings', roles: ['owner', 'operator'] }, o);
  await reg.putParty({ id: 'other-bank', name: 'Other Bank', roles: ['bank'] }, o);
  await reg.putParty({ id: 'former-bank', name: 'Former Bank', roles: ['bank'] }, o);
  await reg.putParty({ id: 'former-bank', name: 'Former Bank', roles: ['verifier'] }, o);
  await reg.putLoan({ ...loanInput(truth), baseMarginBp: -15 } as never, o);
  await reg.putLoanBalance({ loanId: LOAN_ID, effectiveFrom: '2025-12-15', outstandingCny: 90_000_000 }, o);
  await reg.putLoanBalance({ loanId: LOAN_ID, effectiveFrom: '2025-12-15', outstandingCny: 95_000_000 }, o);
  await reg.putLoanBalance({ loanId: LOAN_ID, effectiveFrom: '2031-06-15', outstandingCny: 80_000_000 }, o);
  await reg.putPolicy({ ...policyInput(truth), deductibleCny: 20_000 } as never, o);
  now += H;
  const settlement = (await finance.settlePolicyPeriod(POLICY_ID, 'y2025')).record;
  now += H;
  const pastSettlement = (await finance.settlePolicyPeriod(POLICY_ID, 'y2025', { asOfMs: run.asOfMs })).record;
  const rerun = (await finance.testCovenants(LOAN_ID, { covenantId: 'coverage-95', testDate: '2025-07-01' })).tests[0]!.record;
  const past = (await finance.testCovenants(LOAN_ID, { covenantId: 'coverage-95', testDate: '2025-07-01', asOfMs: beforeEvidence })).tests[0]!.record;
  financeFixture = { tests, coverageJuly: { first: july, rerun, past }, coverageOctober: october, settlement, pastSettlement };
}

afterAll(async () => {
  await client?.end();
  await registry?.close();
  await store?.close();
  await Promise.all([influx?.stop(), postgres?.stop()]);
});

// ------------------------------------------------------------------ Grafana emulation

interface InfluxSeries {
  readonly name?: string;
  readonly tags?: Record<string, string>;
  readonly columns: string[];
  readonly values?: unknown[][];
}

async function influxql(q: string): Promise<InfluxSeries[]> {
  const url = new URL('query', `${influx!.url}/`);
  url.searchParams.set('db', 'grafana');
  url.searchParams.set('epoch', 'ms');
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ q }).toString() });
  const body = (await res.json()) as { error?: string; results?: Array<{ error?: string; series?: InfluxSeries[] }> };
  const error = body.error ?? body.results?.find((r) => r.error)?.error;
  if (!res.ok || error) throw new Error(`InfluxDB rejected ${q}: ${error ?? res.status}`);
  return body.results?.flatMap((r) => r.series ?? []) ?? [];
}

const escapeRegex = (v: string) => v.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');

interface Scope {
  readonly vars: Record<string, string[]>;
  readonly from: number;
  readonly to: number;
  readonly intervalMs: number;
}

/** Substitutes template variables and macros as Grafana's InfluxDB and PostgreSQL datasources do; fails on anything left. */
function interpolate(text: string, scope: Scope, kind: 'influx' | 'sql'): string {
  const values = (name: string) => {
    const v = scope.vars[name];
    if (!v) throw new Error(`unknown template variable ${name} in ${text}`);
    return v;
  };
  let out = text
    .replace(/\$timeFilter/g, `time >= ${scope.from}ms and time <= ${scope.to}ms`)
    .replace(/\$__unixEpochFrom\(\)/g, String(Math.floor(scope.from / 1000)))
    .replace(/\$__unixEpochTo\(\)/g, String(Math.floor(scope.to / 1000)))
    .replace(/\$__interval_ms/g, String(scope.intervalMs))
    .replace(/\$__interval/g, `${scope.intervalMs / 1000}s`)
    .replace(/\$__range_s/g, String(Math.round((scope.to - scope.from) / 1000)))
    .replace(/\$\{(\w+):regex\}/g, (_, name: string) => {
      const v = values(name);
      return v.length === 1 ? escapeRegex(v[0]!) : `(${v.map(escapeRegex).join('|')})`;
    })
    .replace(/\$\{(\w+):sqlstring\}/g, (_, name: string) => values(name).map((v) => `'${v.replace(/'/g, "''")}'`).join(','));
  out = out.replace(/\$\{(\w+)\}|\$([a-z]\w*)/g, (m, a: string | undefined, b: string | undefined) => {
    const v = values((a ?? b)!);
    return kind === 'sql' ? v.map((x) => `'${x}'`).join(',') : v.join('|');
  });
  const left = /\$(?:\{|_|[A-Za-z])/.exec(out);
  if (left) throw new Error(`unsubstituted ${out.slice(left.index, left.index + 20)} in ${out}`);
  return out;
}

/** The panel's time range: the dashboard's, or its relative-time override (`now/d`, `2y`). */
function rangeOf(panel: dashboardTypes.Panel, dashboardFrom: string): { from: number; to: number } {
  const rel = (s: string) => {
    const m = /^(?:now-)?(\d+)([mhdy])$/.exec(s);
    if (!m) throw new Error(`unsupported range ${s}`);
    const unit = { m: M, h: H, d: D, y: 365 * D }[m[2] as 'm' | 'h' | 'd' | 'y'];
    return NOW - Number(m[1]) * unit;
  };
  if (panel.timeFrom === 'now/d') return { from: localMidnight(NOW), to: NOW };
  return { from: rel(panel.timeFrom ?? dashboardFrom), to: NOW };
}

function intervalOf(panel: dashboardTypes.Panel): number {
  const m = /^(\d+)([mh])$/.exec(panel.interval ?? '1h');
  return Number(m![1]) * (m![2] === 'm' ? M : H);
}

async function runVariable(v: dashboardTypes.VariableModel, vars: Record<string, string[]>): Promise<string[]> {
  const scope = { vars, from: NOW - 7 * D, to: NOW, intervalMs: H };
  if (v.datasource?.uid === DATASOURCE_UIDS.influxdb) {
    const series = await influxql(interpolate(String(v.query), scope, 'influx'));
    return series.flatMap((s) => (s.values ?? []).map((row) => String(row[s.columns.indexOf('value')])));
  }
  const res = await client!.query(interpolate(String(v.query), scope, 'sql'));
  return res.rows.map((r) => String(Object.values(r)[0]));
}

/** Resolves the variables in order, each from its real query with the earlier ones substituted; `pick` narrows single-value ones. */
async function resolveVariables(d: dashboardTypes.Dashboard, pick: Record<string, string>): Promise<Record<string, string[]>> {
  const vars: Record<string, string[]> = {};
  for (const v of d.templating?.list ?? []) {
    const options = (await runVariable(v, vars)).sort();
    const chosen = pick[v.name] ?? (v.multi ? undefined : options[0]);
    if (chosen !== undefined) expect(options, `variable ${v.name}`).toContain(chosen);
    vars[v.name] = chosen !== undefined ? [chosen] : options;
  }
  return vars;
}

const influxTargets = (p: dashboardTypes.Panel) => (p.targets ?? []).filter((t) => (t as InfluxQlQuery).datasource?.uid === DATASOURCE_UIDS.influxdb) as InfluxQlQuery[];
const sqlTargets = (p: dashboardTypes.Panel) => (p.targets ?? []).filter((t) => (t as SqlQuery).datasource?.uid === DATASOURCE_UIDS.postgres) as SqlQuery[];

/** A series or row with at least one number (not only nulls). */
const hasNumbers = (rows: unknown[][]) => rows.some((r) => r.some((c) => typeof c === 'number' && Number.isFinite(c)));

const dashboards = grafanaDashboards(config);
const picks: Record<string, Record<string, string>> = {
  'building-detail': { site: SITE, building: tower.building },
  'data-quality': {},
  'portfolio-overview': {},
  lender: { lender: 'green-bank', covenant: `${LOAN_ID}/coverage-95` },
  insurer: { insurer: 'perf-insurer' },
};
/** The finance dashboards and the variable each starts from (the others start from `site`). */
const FINANCE_ROOT: Record<string, string> = { lender: 'lender', insurer: 'insurer' };

// ------------------------------------------------------------------ tests

describe('generated Grafana files', () => {
  it('match the checked-in files byte for byte', async () => {
    for (const f of grafanaFiles()) {
      const onDisk = await readFile(join(ROOT, f.path), 'utf8').catch(() => '(missing)');
      expect(onDisk, `${f.path} is stale: run \`npm run grafana\` and commit the result`).toBe(f.content);
    }
  });

  it('provision both datasources with stable UIDs from environment variables, and the dashboards folder', () => {
    const files = Object.fromEntries(grafanaFiles().map((f) => [f.path, f.content]));
    const ds = parseYaml(files['dashboards/grafana/provisioning/datasources/wattproof.yaml']!) as { datasources: Array<Record<string, unknown>> };
    expect(ds.datasources.map((d) => d.uid).sort()).toEqual([DATASOURCE_UIDS.influxdb, DATASOURCE_UIDS.postgres]);
    for (const d of ds.datasources) {
      expect(String(d.url)).toMatch(/^\$[A-Z_]+$/);
      for (const secret of Object.values(d.secureJsonData as Record<string, string>)) expect(secret).toMatch(/\$[A-Z_]+$/);
    }
    const providers = parseYaml(files['dashboards/grafana/provisioning/dashboards/wattproof.yaml']!) as { providers: Array<{ name: string; folder: string; options: { path: string } }> };
    // One provider per folder, each on its own directory of the mount (providers read recursively: no path may contain another).
    expect(providers.providers.map((p) => [p.folder, p.options.path])).toEqual([
      ['Wattproof', '/var/lib/grafana/dashboards/wattproof'],
      ['Wattproof lender', '/var/lib/grafana/dashboards/lender'],
      ['Wattproof insurer', '/var/lib/grafana/dashboards/insurer'],
    ]);
    expect(new Set(providers.providers.map((p) => p.name)).size).toBe(3);
    expect(providers.providers.map((p) => (p as { folderUid?: string }).folderUid)).toEqual([undefined, 'wattproof-lender-folder', 'wattproof-insurer-folder']);
    const dashboardFiles = Object.keys(files).filter((f) => f.startsWith('dashboards/grafana/dashboards/'));
    expect(dashboardFiles.sort()).toEqual([
      'dashboards/grafana/dashboards/insurer/insurer.json',
      'dashboards/grafana/dashboards/lender/lender.json',
      'dashboards/grafana/dashboards/wattproof/building-detail.json',
      'dashboards/grafana/dashboards/wattproof/data-quality.json',
      'dashboards/grafana/dashboards/wattproof/portfolio-overview.json',
    ]);
    const alerting = parseYaml(files['dashboards/grafana/provisioning/alerting/wattproof.yaml']!) as {
      groups: Array<{ rules: Array<{ uid: string; notification_settings: { receiver: string } }> }>;
      contactPoints: Array<{ name: string; receivers: Array<{ type: string; settings: { url: string } }> }>;
    };
    expect(alerting.contactPoints[0]!.receivers[0]).toMatchObject({ type: 'webhook', settings: { url: '$GRAFANA_ALERT_WEBHOOK_URL' } });
    const rules = alerting.groups.flatMap((g) => g.rules);
    expect(new Set(rules.map((r) => r.uid)).size).toBe(rules.length);
    for (const r of rules) expect(r.notification_settings.receiver).toBe(alerting.contactPoints[0]!.name);
  });
});

describe('dashboard structure', () => {
  for (const [name, d] of Object.entries(dashboards)) {
    it(`${name}: every panel has a known datasource, a unique id and units`, () => {
      const panels = allPanels(d);
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      const known: string[] = [DATASOURCE_UIDS.influxdb, DATASOURCE_UIDS.postgres];
      for (const p of panels.filter((x) => x.type !== 'row')) {
        if (p.type === 'alertlist') {
          expect(p.targets ?? []).toEqual([]);
          continue;
        }
        expect(p.targets?.length, p.title).toBeGreaterThan(0);
        const uids = new Set((p.targets ?? []).map((t) => (t as InfluxQlQuery).datasource?.uid));
        for (const uid of uids) expect(known, p.title).toContain(uid);
        expect(p.datasource?.uid, p.title).toBe(uids.size === 1 ? [...uids][0] : '-- Mixed --');
        expect(p.fieldConfig?.defaults?.unit, `${p.title} has no unit`).toBeTruthy();
        const refIds = (p.targets ?? []).map((t) => (t as InfluxQlQuery).refId);
        expect(new Set(refIds).size, p.title).toBe(refIds.length);
      }
    });

    it(`${name}: template variables are chained site → building → meter`, () => {
      const list = d.templating?.list ?? [];
      const names = list.map((v) => v.name);
      expect(names.slice(0, 1)).toEqual([FINANCE_ROOT[name] ?? 'site']);
      const pos = (n: string) => names.indexOf(n);
      for (const v of list) {
        const q = String(v.query);
        const used = [...q.matchAll(/\$\{?(\w+)/g)].map((m) => m[1]!);
        // A variable refers only to variables defined before it.
        for (const u of used) {
          expect(pos(u), `${v.name} uses ${u}`).toBeGreaterThanOrEqual(0);
          expect(pos(u), `${v.name} uses ${u}, defined after it`).toBeLessThan(pos(v.name));
        }
      }
      const building = list.find((v) => v.name === 'building');
      if (building) expect(String(building.query)).toContain('${site:regex}');
      const meter = list.find((v) => v.name === 'meter');
      if (meter) expect(String(meter.query)).toMatch(/\$\{site:regex\}.*\$\{building:regex\}/);
      for (const v of list.filter((x) => ['site', 'building', 'meter'].includes(x.name))) {
        expect(String(v.query)).toMatch(/^SHOW TAG VALUES FROM "reading" WITH KEY = "(site|building|meter)"/);
      }
    });
  }
});

describe('queries against the real stores', () => {
  it('the InfluxDB layout the dashboards use is the one the ingest writes', async () => {
    const measurements = (await influxql('SHOW MEASUREMENTS')).flatMap((s) => (s.values ?? []).map((r) => String(r[0])));
    expect(measurements).toEqual([LAYOUT.measurement]);
    const tagKeys = (await influxql('SHOW TAG KEYS')).flatMap((s) => (s.values ?? []).map((r) => String(r[0])));
    expect(tagKeys.sort()).toEqual(Object.values(LAYOUT.tags).sort());
    const fieldKeys = (await influxql('SHOW FIELD KEYS')).flatMap((s) => (s.values ?? []).map((r) => String(r[0])));
    expect(fieldKeys.sort()).toEqual(Object.values(LAYOUT.fields).sort());
  });

  for (const [name, d] of Object.entries(dashboards)) {
    it(`${name}: every query runs and returns data, with the variables resolved from their own queries`, async () => {
      const vars = await resolveVariables(d, picks[name]!);
      if (FINANCE_ROOT[name]) expect(vars[FINANCE_ROOT[name]!]).toEqual([picks[name]![FINANCE_ROOT[name]!]]);
      else expect(vars.site).toEqual([SITE]);
      if (vars.sub_meter) expect(vars.sub_meter.sort()).toEqual(['hvac', 'lighting']);
      const known = new Set<string>([LAYOUT.measurement, ...Object.values(LAYOUT.tags), ...Object.values(LAYOUT.fields)]);
      let checked = 0;
      for (const p of allPanels(d)) {
        const { from, to } = rangeOf(p, d.time?.from ?? 'now-7d');
        const scope = { vars, from, to, intervalMs: intervalOf(p) };
        for (const t of influxTargets(p)) {
          const q = interpolate(t.query, scope, 'influx');
          const aliases = new Set([...q.matchAll(/AS "([^"]+)"/g)].map((m) => m[1]!));
          for (const [, id] of q.matchAll(/"([^"]+)"/g)) expect(known.has(id!) || aliases.has(id!), `${p.title}: unknown name "${id}" in ${q}`).toBe(true);
          const series = await influxql(q);
          expect(series.length, `${p.title} / ${t.refId} returned nothing: ${q}`).toBeGreaterThan(0);
          expect(hasNumbers(series.flatMap((s) => s.values ?? [])), `${p.title} / ${t.refId} only nulls`).toBe(true);
          checked++;
        }
        for (const t of sqlTargets(p)) {
          const q = interpolate(t.rawSql, scope, 'sql');
          const res = await client!.query(q).catch((err: Error) => {
            throw new Error(`${p.title}: PostgreSQL rejected ${q}: ${err.message}`);
          });
          expect(res.rows.length, `${p.title} / ${t.refId} returned no rows: ${q}`).toBeGreaterThan(0);
          if (t.format === 'time_series') expect(res.fields.some((f) => f.name === 'time'), `${p.title} needs a time column`).toBe(true);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(3);
    });
  }

  it('the portfolio EUI joins a 12-month energy per building to the registry floor area and quota', async () => {
    const d = dashboards['portfolio-overview']!;
    const vars = await resolveVariables(d, {});
    const panel = allPanels(d).find((p) => p.title?.startsWith('EUI'))!;
    const scope = { vars, from: NOW - 7 * D, to: NOW, intervalMs: H };
    const [energy] = influxTargets(panel);
    const [registryRows] = sqlTargets(panel);
    const series = await influxql(interpolate(energy!.query, scope, 'influx'));
    const byBuilding = Object.fromEntries(series.map((s) => [s.tags?.building, Number(s.values?.[0]?.[1])]));
    // Sub-meters are left out: the tower's 12 months are its main meter's alone.
    const expected = readings()
      .filter((r) => r.building === 'tower-a' && r.meter === 'main' && r.kind === 'interval' && r.ts > NOW - 365 * D)
      .reduce((a, r) => a + r.value, 0);
    expect(byBuilding['tower-a']).toBeCloseTo(expected, 3);
    const rows = (await client!.query(interpolate(registryRows!.rawSql, scope, 'sql'))).rows as Array<{ building: string; floor_area_m2: number; quota_constraint: number | null }>;
    expect(rows.find((r) => r.building === 'tower-a')).toMatchObject({ floor_area_m2: 12_000, quota_constraint: 110 });
    expect(rows.find((r) => r.building === 'tower-b')).toMatchObject({ quota_constraint: null });
    const join = (panel.transformations ?? [])[0] as { id: string; options: { byField: string } };
    expect(join).toMatchObject({ id: 'joinByField', options: { byField: 'building' } });
    expect(series.every((s) => s.tags?.building !== undefined)).toBe(true);
  });

  it('the M&V panels read the stored result: monthly baseline and actual with a band that contains the saving', async () => {
    const d = dashboards['building-detail']!;
    const vars = await resolveVariables(d, picks['building-detail']!);
    const panel = allPanels(d).find((p) => p.title?.startsWith('Actual vs baseline'))!;
    const rows = (await client!.query(interpolate(sqlTargets(panel)[0]!.rawSql, { vars, from: NOW - 2 * 365 * D, to: NOW, intervalMs: H }, 'sql'))).rows as Array<{
      time: Date;
      baseline: number;
      actual: number;
      baseline_low: number;
      baseline_high: number;
    }>;
    expect(rows.length).toBeGreaterThan(3);
    for (const r of rows) {
      expect(r.baseline_low).toBeLessThan(r.baseline);
      expect(r.baseline_high).toBeGreaterThan(r.baseline);
      // The fixture's load drops 10 % at the switch: actual well under the baseline.
      expect(r.actual / r.baseline).toBeGreaterThan(0.8);
      expect(r.actual / r.baseline).toBeLessThan(0.97);
    }
    // Months start at local midnight of the 1st.
    expect(new Date(rows[0]!.time.getTime() + TZ_OFFSET).toISOString().slice(8, 19)).toBe('01T00:00:00');
  });

  it('the load profile puts each local hour of the day in its own row, on the day of its local midnight', async () => {
    const d = dashboards['building-detail']!;
    const vars = await resolveVariables(d, picks['building-detail']!);
    const panel = allPanels(d).find((p) => p.type === 'heatmap')!;
    const targets = influxTargets(panel);
    expect(targets).toHaveLength(24);
    const day = TODAY - 3 * D;
    const hour = 14;
    const series = await influxql(interpolate(targets[hour]!.query, { vars, from: NOW - 10 * D, to: NOW, intervalMs: H }, 'influx'));
    const row = series[0]!.values!.find((r) => r[0] === day)!;
    const expected = readings()
      .filter((r) => r.building === 'tower-a' && r.meter === 'main' && r.kind === 'interval' && r.ts === day + hour * H)
      .reduce((a, r) => a + r.value, 0);
    expect(series[0]!.columns[1]).toBe('14:00');
    expect(row[1]).toBeCloseTo(expected, 6);
  });
});

describe('lender and insurer dashboards against the finance service\'s rows', () => {
  /** Runs the first SQL query of the panel whose title starts with `title`, with the dashboard's variables resolved from their queries. */
  async function panelRows<T>(dashboardName: string, title: string, pick: Record<string, string> = picks[dashboardName]!): Promise<T[]> {
    const d = dashboards[dashboardName]!;
    const vars = await resolveVariables(d, pick);
    const panel = allPanels(d).find((p) => p.type !== 'row' && p.title?.startsWith(title));
    expect(panel, title).toBeDefined();
    const { from, to } = rangeOf(panel!, d.time?.from ?? 'now-7d');
    return (await client!.query(interpolate(sqlTargets(panel!)[0]!.rawSql, { vars, from, to, intervalMs: H }, 'sql'))).rows as T[];
  }
  const fx = () => financeFixture!;
  const localDay = (ms: number) => new Date(ms + TZ_OFFSET).toISOString().slice(0, 10);

  it('lists the banks and insurers of the current party versions only', async () => {
    const lender = dashboards.lender!.templating!.list![0]!;
    expect((await runVariable(lender, {})).sort()).toEqual(['green-bank', 'other-bank']);
    const names = (await client!.query(interpolate(String(lender.query), { vars: {}, from: NOW, to: NOW, intervalMs: H }, 'sql'))).rows as Array<{ __value: string; __text: string }>;
    expect(names.find((r) => r.__value === 'green-bank')!.__text).toBe('Green Bank plc');
    expect(await runVariable(dashboards.insurer!.templating!.list![0]!, {})).toEqual(['perf-insurer']);
    // A bank without loans has none to pick (Grafana then shows None).
    expect(await runVariable(dashboards.lender!.templating!.list![1]!, { lender: ['other-bank'] })).toEqual([]);
    expect(await runVariable(dashboards.lender!.templating!.list![1]!, { lender: ['green-bank'] })).toEqual([LOAN_ID]);
  });

  it('loans: the current loan version, the borrower\'s current name and the balance in force (corrections and future balances applied)', async () => {
    const rows = await panelRows<Record<string, unknown>>('lender', 'Loans');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      loan: LOAN_ID,
      borrower: 'Hospital Holdings',
      kind: 'sustainability_linked_loan',
      buildings: 'sim/hospital',
      base_margin_bp: -15,
      outstanding_cny: 95_000_000,
      balance_from: '2025-12-15',
      property_value_cny: 400_000_000,
      loan_version: 2,
    });
    expect(rows[0]!.attribution).toBeCloseTo(95 / 400, 12);
    // As of the end of a range before the correction's effective date, the origination balance is in force.
    const d = dashboards.lender!;
    const vars = await resolveVariables(d, picks.lender!);
    const panel = allPanels(d).find((p) => p.type === 'table' && p.title === 'Loans')!;
    const earlier = (await client!.query(interpolate(sqlTargets(panel)[0]!.rawSql, { vars, from: at('2025-01-01'), to: at('2025-06-01'), intervalMs: H }, 'sql'))).rows;
    expect(earlier[0]).toMatchObject({ outstanding_cny: 120_000_000, balance_from: '2024-12-15' });
  });

  it('covenant status: each covenant\'s latest test date, its run as of the latest instant, with status, KPI, threshold, margin step and P(fail next test)', async () => {
    const rows = await panelRows<Record<string, unknown>>('lender', 'Covenant status');
    const { tests, coverageJuly } = fx();
    expect(rows.map((r) => r.covenant)).toEqual([...tests.keys()].sort());
    for (const r of rows) {
      const e = tests.get(String(r.covenant))!.body.evaluation;
      expect(r, String(r.covenant)).toMatchObject({ loan: LOAN_ID, status: e.status, test_date: e.testDate, threshold: e.threshold, margin_step_bp: e.marginStepBp, kpi: e.kpi });
      expect(r.kpi_value).toBe(e.kpiValue);
      expect(r.p_fail_next).toBe(e.projection.probabilityOfFailing);
      expect(r.record).toBe(tests.get(String(r.covenant))!.id);
    }
    const byId = Object.fromEntries(rows.map((r) => [r.covenant, r]));
    expect(byId['savings-20pct']).toMatchObject({ status: 'breach', margin_step_bp: 5 });
    expect(byId['eui-tight']).toMatchObject({ status: 'breach' });
    expect(byId['savings-5pct']).toMatchObject({ status: 'pass', margin_step_bp: -5 });
    // The later re-run of 2025-07-01 is the newest record, but not the latest test.
    expect(Number(coverageJuly.rerun.id)).toBeGreaterThan(Number(tests.get('coverage-95')!.id));
    expect(byId['coverage-95']).toMatchObject({ test_date: '2026-01-01' });

    const summary = (await panelRows<Record<string, number>>('lender', 'Loan book'))[0]!;
    const statuses = [...tests.values()].map((t) => t.body.evaluation.status);
    expect(summary).toEqual({
      loans: 1,
      outstanding_cny: 95_000_000,
      failing: statuses.filter((x) => x === 'fail' || x === 'breach').length,
      at_risk: statuses.filter((x) => x === 'at_risk').length,
    });
    expect(summary.failing).toBeGreaterThanOrEqual(2);
  });

  it('KPI history: one point per test date at its local midnight, the run as of the latest instant of each date', async () => {
    const { coverageJuly, coverageOctober, tests } = fx();
    expect(coverageJuly.past.body.asOfMs).toBeLessThan(coverageJuly.first.body.asOfMs);
    expect(Number(coverageJuly.past.id)).toBeGreaterThan(Number(coverageJuly.rerun.id));
    const rows = await panelRows<{ time: Date; kpi: number | null; threshold: number; kpi_low: number | null; kpi_high: number | null }>('lender', 'KPI vs threshold');
    expect(rows.map((r) => localDay(r.time.getTime()))).toEqual(['2025-07-01', '2025-10-01', '2026-01-01']);
    for (const r of rows) expect(localDay(r.time.getTime() - 1)).not.toBe(localDay(r.time.getTime()));
    const expected = [coverageJuly.rerun, coverageOctober, tests.get('coverage-95')!].map((t) => t.body.evaluation);
    expect(rows.map((r) => r.kpi)).toEqual(expected.map((e) => e.kpiValue));
    expect(rows.map((r) => r.threshold)).toEqual([0.95, 0.95, 0.95]);
    expect(rows.map((r) => r.kpi_low)).toEqual(expected.map((e) => e.interval?.low ?? null));
    // Another covenant of the variable draws its own history.
    const eui = await panelRows<{ kpi: number }>('lender', 'KPI vs threshold', { ...picks.lender!, covenant: `${LOAN_ID}/eui-tight` });
    expect(eui.map((r) => r.kpi)).toEqual([tests.get('eui-tight')!.body.evaluation.kpiValue]);
  });

  it('PCAF inputs: attribution per loan and building with the building profile in force', async () => {
    const rows = await panelRows<Record<string, unknown>>('lender', 'Financed emissions');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ loan: LOAN_ID, building: 'sim/hospital', building_type: 'other', floor_area_m2: 20_000, label: '2-star', outstanding_cny: 95_000_000, loan_buildings: 1 });
    expect(rows[0]!.attribution).toBeCloseTo(0.2375, 12);
  });

  it('policies: the current policy version with the insured\'s current name, buildings and meters', async () => {
    const rows = await panelRows<Record<string, unknown>>('insurer', 'Policies');
    expect(rows).toEqual([
      {
        policy: POLICY_ID,
        insured: 'Hospital Holdings',
        buildings: 'sim/hospital',
        meters: 'sim/hospital/main',
        contract_price: 0.8,
        deductible_cny: 20_000,
        limit_cny: 5_000_000,
        premium_cny: 60_000,
        effective_from: '2025-01-01',
        effective_to: '2027-01-01',
        periods: 2,
        policy_version: 2,
      },
    ]);
  });

  it('settlements: the stored figures of the run as of the latest instant, and the state of the unsettled period', async () => {
    const { settlement, pastSettlement } = fx();
    const live = settlement.body.claim;
    // The run as of an earlier instant (policy version 1, smaller deductible) is stored later and pays more: it must not be shown.
    expect(Number(pastSettlement.id)).toBeGreaterThan(Number(settlement.id));
    expect(pastSettlement.body.claim.figures.payoutCny).toBeCloseTo(live.figures.payoutCny + 10_000, 6);
    expect(live.figures.payoutCny).toBeGreaterThan(0);
    const rows = await panelRows<Record<string, unknown>>('insurer', 'Settlements per period');
    expect(rows.map((r) => r.period)).toEqual(['y2025', 'y2026']);
    expect(rows[0]).toMatchObject({
      policy: POLICY_ID,
      state: 'settled',
      from: '2025-01-01',
      to: '2026-01-01',
      guaranteed_kwh: live.figures.guaranteedKwh,
      verified_kwh: live.figures.verifiedKwh,
      verified_low_kwh: live.uncertainty.band90Kwh.low,
      verified_high_kwh: live.uncertainty.band90Kwh.high,
      p_true_shortfall: live.uncertainty.probabilityTrueShortfall,
      shortfall_kwh: live.figures.shortfallKwh,
      payout_cny: live.figures.payoutCny,
      limit_reached: false,
      settleable: live.settleable,
      mv_status: live.inputs.verified.status,
      record: settlement.id,
    });
    expect(rows[0]!.shortfall_kwh as number).toBeGreaterThan(0);
    const today = localDay(NOW);
    expect(rows[1]).toMatchObject({ state: today >= '2027-01-01' ? 'due' : today >= '2026-01-01' ? 'open' : 'future', payout_cny: null, verified_kwh: null });

    const bars = await panelRows<Record<string, unknown>>('insurer', 'Guaranteed vs verified');
    expect(bars).toEqual([
      { period: `${POLICY_ID}/y2025`, guaranteed: live.figures.guaranteedKwh, verified_low: live.uncertainty.band90Kwh.low, verified: live.figures.verifiedKwh, verified_high: live.uncertainty.band90Kwh.high },
    ]);
    const cumulative = await panelRows<{ time: Date; paid: number; limit: number }>('insurer', 'Cumulative payouts');
    expect(cumulative).toHaveLength(1);
    expect(cumulative[0]!.time.getTime()).toBe(at('2026-01-01'));
    expect(cumulative[0]).toMatchObject({ paid: live.figures.payoutCny, limit: 5_000_000 });
    const book = (await panelRows<Record<string, number | null>>('insurer', 'Book'))[0]!;
    expect(book).toMatchObject({ policies: 1, premium_cny: 60_000, paid_cny: live.figures.payoutCny, open_limit_cny: 5_000_000 });
    expect(book.loss_ratio).toBeCloseTo(live.figures.payoutCny / 60_000, 12);
  });
});

describe('alert rules against the real stores', () => {
  /** Runs a rule's query A over its relative range and applies reduce(last) and the threshold like Grafana's expressions. */
  async function firing(uid: string): Promise<string[]> {
    const r = alertRules(config).find((x) => x.uid === uid)!;
    const [a, b, c] = r.data;
    expect([a?.refId, b?.refId, c?.refId, r.condition]).toEqual(['A', 'B', 'C', 'C']);
    const scope = { vars: {}, from: NOW - a!.relativeTimeRange!.from! * 1000, to: NOW - (a!.relativeTimeRange!.to ?? 0) * 1000, intervalMs: H };
    const cond = (c!.model as unknown as { conditions: Array<{ evaluator: { type: 'lt' | 'gt'; params: number[] } }> }).conditions[0]!.evaluator;
    const test = (v: number) => (cond.type === 'lt' ? v < cond.params[0]! : v > cond.params[0]!);
    if (a!.datasourceUid === DATASOURCE_UIDS.influxdb) {
      const series = await influxql(interpolate((a!.model as unknown as InfluxQlQuery).query, scope, 'influx'));
      return series
        .filter((s) => {
          const last = [...(s.values ?? [])].reverse().find((row) => row[1] !== null);
          return last !== undefined && test(Number(last[1]));
        })
        .map((s) => [s.tags?.site, s.tags?.building, s.tags?.meter].join('/'))
        .sort();
    }
    const res = await client!.query(interpolate((a!.model as unknown as SqlQuery).rawSql, scope, 'sql'));
    const numeric = res.fields.filter((f) => f.dataTypeID === 701).map((f) => f.name);
    expect(numeric).toHaveLength(1);
    return res.rows.filter((row) => test(Number(row[numeric[0]!]))).map((row) => String(row.site)).sort();
  }

  it('meter silent: the 15-minute rule fires for the meter that stopped, not for the one reporting', async () => {
    expect(await firing('wattproof-meter-silent-900s')).toEqual(['yz/tower-b/old']);
  });

  it('meter silent: the hourly rule watches hourly meters too and fires only for the stopped one', async () => {
    expect(await firing('wattproof-meter-silent-3600s')).toEqual(['yz/tower-b/old']);
  });

  it('dead-letter surge fires for the site over the limit only', async () => {
    expect(await firing('wattproof-dead-letter-surge')).toEqual([SITE]);
  });

  it('coverage below target fires for the meters with gaps or short history', async () => {
    expect(await firing('wattproof-coverage-low')).toEqual(['yz/tower-a/hvac', 'yz/tower-b/live', 'yz/tower-b/main', 'yz/tower-b/old']);
  });
});
