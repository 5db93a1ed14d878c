/**
 * The HTTP API through `app.inject()` (no socket) on memory stores: portfolio lists, raw and
 * aggregated readings, parameter validation, error bodies that hide internals, dead letters
 * with cursor pagination, /health, /metrics and the OpenAPI document. Requests carry an admin
 * key (every route but the open ones needs one; who sees what is test/dashboards/access-matrix.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Counter, Registry } from 'prom-client';
import { WattproofError, type NewDeadLetter, type ReadingStore, type RegistryStore, type StoredReading } from '@wattproof/core';
import { createApiServer } from '@wattproof/dashboards';
import { createMemoryReadingStore } from '@wattproof/ingest';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { bearer, createTestKey } from '../support/api-keys.js';

const HOUR = 3_600_000;
const MIN = 60_000;
/** 2026-11-01T00:00:00Z = 08:00 local time in Asia/Shanghai (the site's zone). */
const T0 = Date.parse('2026-11-01T00:00:00Z');
const elec = { site: 'yz', building: 'b01', meter: 'elec' };

/** 15-minute interval readings of yz/b01/elec: [offset from T0 in ms, value kWh]. */
const SAMPLES: Array<[number, number]> = [
  [0, 1],
  [15 * MIN, 2],
  [30 * MIN, 3],
  [45 * MIN, 4],
  [HOUR, 5],
  [HOUR + 30 * MIN, 6],
  [3 * HOUR + 15 * MIN, 7],
  [15 * HOUR + 45 * MIN, 8], // 23:45 local, Nov 1
  [16 * HOUR, 9], // 00:00 local, Nov 2
];

function interval(ts: number, value: number): StoredReading {
  return { ...elec, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts, value, intervalS: 900 };
}

function deadLetter(i: number, code: string): NewDeadLetter {
  return {
    receivedAtMs: T0 + i * 1000,
    source: i % 2 === 0 ? 'gateway' : 'ingest',
    topic: `wattproof/v1/yz/b01/elec/readings`,
    clientId: `dev-${i}`,
    code,
    reason: `reason ${i}`,
    payload: `{"n":${i}}`,
    payloadEncoding: 'utf8',
    payloadBytes: `{"n":${i}}`.length,
    truncated: false,
  };
}

const DL_CODES = ['CONTRACT_SCHEMA_INVALID', 'CONTRACT_UNIT_INVALID', 'CONTRACT_SCHEMA_INVALID', 'GATEWAY_PUBLISH_FORBIDDEN', 'CONTRACT_UNIT_INVALID'];

let readings: ReadingStore;
let registry: RegistryStore;
let metrics: Registry;
let app: FastifyInstance;
let adminKey: string;
const extraApps: FastifyInstance[] = [];

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function get(path: string, on: FastifyInstance = app, key: string | null = adminKey): Promise<{ status: number; body: Json; text: string; headers: Record<string, unknown> }> {
  const res = await on.inject({ method: 'GET', url: path, headers: key ? bearer(key) : {} });
  let body: Json = {};
  try {
    body = res.json();
  } catch {
    body = {};
  }
  return { status: res.statusCode, body, text: res.body, headers: res.headers };
}

/** Asserts a 4xx/5xx body is `{ error: { code, message } }` with no trace of a stack. */
function expectCleanError(r: { body: Json; text: string }, code: string): void {
  expect(r.body.error?.code).toBe(code);
  expect(typeof r.body.error?.message).toBe('string');
  expect(r.text).not.toMatch(/"stack"|\n\s+at |\.ts:\d+|node_modules/);
}

beforeAll(async () => {
  readings = createMemoryReadingStore();
  registry = createMemoryRegistryStore();
  metrics = new Registry();
  await readings.init();
  await registry.init();
  await registry.upsertSite({ id: 'yz', name: 'Yuzhong park', timezone: 'Asia/Shanghai' });
  await registry.upsertMeter({ ...elec, name: 'Main incomer', quantity: 'electricity' });
  await registry.upsertMeter({ site: 'yz', building: 'b01', meter: 'gas', quantity: 'gas' });
  await registry.upsertMeter({ site: 'yz', building: 'b02', meter: 'elec', quantity: 'electricity', parent: 'yz/b01/elec' });
  await registry.upsertMeter({ site: 'cq', building: 'hq', meter: 'main' });
  await readings.write(SAMPLES.map(([dt, v]) => interval(T0 + dt, v)));
  await registry.addDeadLetters(DL_CODES.map((code, i) => deadLetter(i, code)));
  adminKey = await createTestKey(registry);
  app = await createApiServer({ readings, registry, metrics, clock: () => T0 + 2 * 86_400_000 });
  await app.ready();
});

afterAll(async () => {
  await Promise.all(extraApps.map((a) => a.close()));
  await app?.close();
  await readings?.close();
  await registry?.close();
});

describe('portfolio', () => {
  it('lists sites, with defaults for a site created by its meter', async () => {
    const r = await get('/api/v1/sites');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      sites: [
        { id: 'cq', timezone: 'Asia/Shanghai' },
        { id: 'yz', name: 'Yuzhong park', timezone: 'Asia/Shanghai' },
      ],
    });
  });

  it('lists buildings, all and of one site', async () => {
    expect((await get('/api/v1/buildings')).body).toEqual({
      buildings: [
        { site: 'cq', id: 'hq' },
        { site: 'yz', id: 'b01' },
        { site: 'yz', id: 'b02' },
      ],
    });
    expect((await get('/api/v1/buildings?site=yz')).body.buildings.map((b: Json) => b.id)).toEqual(['b01', 'b02']);
    expect((await get('/api/v1/sites/yz/buildings')).body.buildings.map((b: Json) => `${b.site}/${b.id}`)).toEqual(['yz/b01', 'yz/b02']);
  });

  it('answers 404 for the buildings of an unknown site', async () => {
    const r = await get('/api/v1/sites/nowhere/buildings');
    expect(r.status).toBe(404);
    expectCleanError(r, 'API_NOT_FOUND');
  });

  it('lists meters, filtered by site and building', async () => {
    const all = await get('/api/v1/meters');
    expect(all.status).toBe(200);
    expect(all.body.meters.map((m: Json) => `${m.site}/${m.building}/${m.meter}`)).toEqual(['cq/hq/main', 'yz/b01/elec', 'yz/b01/gas', 'yz/b02/elec']);
    const b01 = await get('/api/v1/meters?site=yz&building=b01');
    expect(b01.body).toEqual({
      meters: [
        { site: 'yz', building: 'b01', meter: 'elec', name: 'Main incomer', quantity: 'electricity' },
        { site: 'yz', building: 'b01', meter: 'gas', quantity: 'gas' },
      ],
    });
  });

  it('shows a meter with its series and latest reading', async () => {
    const r = await get('/api/v1/meters/yz/b01/elec');
    expect(r.status).toBe(200);
    expect(r.body.meter).toEqual({ ...elec, name: 'Main incomer', quantity: 'electricity' });
    expect(r.body.series).toEqual([{ ...elec, quantity: 'electricity', kind: 'interval', unit: 'kWh' }]);
    expect(r.body.latest).toEqual([{ ...interval(T0 + 16 * HOUR, 9), time: '2026-11-01T16:00:00.000Z' }]);
  });

  it('answers 404 API_NOT_FOUND for an unknown meter', async () => {
    const r = await get('/api/v1/meters/yz/b01/missing');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: { code: 'API_NOT_FOUND', message: 'meter yz/b01/missing not found' } });
  });
});

describe('raw readings', () => {
  it('returns the readings in [from, to) with ISO from and epoch-ms to', async () => {
    const from = encodeURIComponent('2026-11-01T08:15:00+08:00');
    const r = await get(`/api/v1/meters/yz/b01/elec/readings?from=${from}&to=${T0 + HOUR}`);
    expect(r.status).toBe(200);
    expect(r.body.meter).toBe('yz/b01/elec');
    expect(r.body.from).toBe(T0 + 15 * MIN);
    expect(r.body.to).toBe(T0 + HOUR);
    // `from` is inclusive, `to` exclusive: 00:15, 00:30, 00:45 and not 01:00.
    expect(r.body.readings).toEqual([
      { ...interval(T0 + 15 * MIN, 2), time: '2026-11-01T00:15:00.000Z' },
      { ...interval(T0 + 30 * MIN, 3), time: '2026-11-01T00:30:00.000Z' },
      { ...interval(T0 + 45 * MIN, 4), time: '2026-11-01T00:45:00.000Z' },
    ]);
  });

  it('takes epoch-ms from and a UTC ISO to, and honours limit', async () => {
    const r = await get(`/api/v1/meters/yz/b01/elec/readings?from=${T0}&to=2026-11-02T00:00:00Z&limit=3`);
    expect(r.status).toBe(200);
    expect(r.body.readings.map((x: Json) => x.value)).toEqual([1, 2, 3]);
  });

  it('reads an unencoded + of an offset (a space after form decoding) as +', async () => {
    const r = await get(`/api/v1/meters/yz/b01/elec/readings?from=2026-11-01T08:30:00+08:00&to=2026-11-01T09:00:00+08:00`);
    expect(r.status).toBe(200);
    expect(r.body.from).toBe(T0 + 30 * MIN);
    expect(r.body.readings.map((x: Json) => x.value)).toEqual([3, 4]);
  });

  it('defaults to the 24 h before now', async () => {
    // The clock is T0 + 48 h: nothing in [T0 + 24 h, T0 + 48 h).
    const r = await get('/api/v1/meters/yz/b01/elec/readings');
    expect(r.status).toBe(200);
    expect(r.body.from).toBe(T0 + 24 * HOUR);
    expect(r.body.to).toBe(T0 + 48 * HOUR);
    expect(r.body.readings).toEqual([]);
  });
});

describe('aggregated readings', () => {
  const range = `from=${T0}&to=${T0 + 24 * HOUR}`;

  it('sums hourly buckets with coverage = covered seconds / 3600', async () => {
    const r = await get(`/api/v1/meters/yz/b01/elec/readings?${range}&bucket=1h`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ meter: 'yz/b01/elec', bucket: '1h', tz: 'Asia/Shanghai', quantity: 'electricity', kind: 'interval', unit: 'kWh' });
    const rows = r.body.rows.map((x: Json) => ({ time: x.time, count: x.count, sum: x.sum, coveredS: x.coveredS, coverage: x.coverage }));
    expect(rows).toEqual([
      // four 900 s readings fill the hour; two fill half of it; one a quarter
      { time: '2026-11-01T00:00:00.000Z', count: 4, sum: 10, coveredS: 3600, coverage: 1 },
      { time: '2026-11-01T01:00:00.000Z', count: 2, sum: 11, coveredS: 1800, coverage: 0.5 },
      { time: '2026-11-01T03:00:00.000Z', count: 1, sum: 7, coveredS: 900, coverage: 0.25 },
      { time: '2026-11-01T15:00:00.000Z', count: 1, sum: 8, coveredS: 900, coverage: 0.25 },
      { time: '2026-11-01T16:00:00.000Z', count: 1, sum: 9, coveredS: 900, coverage: 0.25 },
    ]);
    const first = r.body.rows[0];
    expect(first).toMatchObject({ start: T0, end: T0 + HOUR, mean: 2.5, min: 1, max: 4 });
  });

  it('buckets local days in the site\'s time zone by default', async () => {
    const r = await get(`/api/v1/meters/yz/b01/elec/readings?${range}&bucket=1d`);
    expect(r.status).toBe(200);
    expect(r.body.tz).toBe('Asia/Shanghai');
    // Local midnight in Asia/Shanghai (UTC+8, no DST) is 16:00 UTC the day before.
    const nov1 = Date.parse('2026-10-31T16:00:00Z');
    const nov2 = Date.parse('2026-11-01T16:00:00Z');
    expect(r.body.rows.map((x: Json) => ({ start: x.start, end: x.end, count: x.count, sum: x.sum, coveredS: x.coveredS, coverage: x.coverage }))).toEqual([
      { start: nov1, end: nov2, count: 8, sum: 36, coveredS: 8 * 900, coverage: (8 * 900) / 86_400 },
      { start: nov2, end: nov2 + 86_400_000, count: 1, sum: 9, coveredS: 900, coverage: 900 / 86_400 },
    ]);
  });

  it('buckets days in the zone given by tz', async () => {
    const r = await get(`/api/v1/meters/yz/b01/elec/readings?${range}&bucket=1d&tz=UTC`);
    expect(r.status).toBe(200);
    expect(r.body.tz).toBe('UTC');
    expect(r.body.rows).toHaveLength(1);
    expect(r.body.rows[0]).toMatchObject({ start: T0, end: T0 + 86_400_000, count: 9, sum: 45, coveredS: 9 * 900, coverage: 0.09375 });
  });

  it('returns no rows for a meter without readings', async () => {
    const r = await get(`/api/v1/meters/yz/b01/gas/readings?${range}&bucket=1h`);
    expect(r.status).toBe(200);
    expect(r.body.rows).toEqual([]);
  });
});

describe('invalid requests', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['a meter id with a space', '/api/v1/meters/yz/b%2001/elec/readings', /building/],
    ['a site id with $', '/api/v1/meters?site=a%24b', /site/],
    ['an id starting with a dot', '/api/v1/meters/yz/b01/.elec', /meter/],
    ['from that is not a date', '/api/v1/meters/yz/b01/elec/readings?from=yesterday', /from/],
    ['from without an offset', '/api/v1/meters/yz/b01/elec/readings?from=2026-11-01T00:00:00', /from/],
    ['an unknown bucket', '/api/v1/meters/yz/b01/elec/readings?bucket=2h', /bucket/],
    ['limit 0', '/api/v1/meters/yz/b01/elec/readings?limit=0', /limit/],
    ['from equal to to', `/api/v1/meters/yz/b01/elec/readings?from=${T0}&to=${T0}`, /from/],
    ['from after to', `/api/v1/meters/yz/b01/elec/readings?from=${T0 + HOUR}&to=${T0}`, /from/],
    ['an unknown time zone', `/api/v1/meters/yz/b01/elec/readings?bucket=1d&tz=Mars%2FOlympus`, /tz/],
    ['a dead-letter limit above 1000', '/api/v1/dead-letters?limit=1001', /limit/],
  ];
  for (const [what, url, names] of cases) {
    it(`answers 400 API_REQUEST_INVALID naming the parameter for ${what}`, async () => {
      const r = await get(url);
      expect(r.status).toBe(400);
      expectCleanError(r, 'API_REQUEST_INVALID');
      expect(r.body.error.message).toMatch(names);
    });
  }

  it('lists each issue with its path', async () => {
    const r = await get('/api/v1/meters/yz/b01/elec/readings?limit=0&bucket=2h');
    expect(r.status).toBe(400);
    expect(r.body.error.details.issues.map((i: Json) => i.path).sort()).toEqual(['bucket', 'limit']);
  });

  it('answers 404 API_NOT_FOUND for an unknown route', async () => {
    const r = await get('/api/v1/nothing-here');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: { code: 'API_NOT_FOUND', message: 'no route GET /api/v1/nothing-here' } });
  });
});

describe('failing stores', () => {
  const SECRET = 'token=s3cr3t at 10.1.2.3:8086';

  async function appWith(overrides: { readings?: Partial<ReadingStore>; registry?: Partial<RegistryStore> }): Promise<FastifyInstance> {
    const a = await createApiServer({
      readings: { ...readings, ...overrides.readings } as ReadingStore,
      registry: { ...registry, ...overrides.registry } as RegistryStore,
      metrics: new Registry(),
    });
    extraApps.push(a);
    return a;
  }

  it('answers 500 API_INTERNAL without the thrown error\'s message or stack', async () => {
    const a = await appWith({
      readings: {
        query: async () => {
          throw new Error(`driver crashed: ${SECRET}`);
        },
      },
    });
    const r = await get(`/api/v1/meters/yz/b01/elec/readings?from=${T0}&to=${T0 + HOUR}`, a);
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: { code: 'API_INTERNAL', message: 'internal error' } });
    expect(r.text).not.toContain('s3cr3t');
    expect(r.text).not.toContain('driver crashed');
  });

  it('answers 503 API_STORE_UNAVAILABLE when the reading store is unreachable', async () => {
    const a = await appWith({
      readings: {
        listSeries: async () => {
          throw new WattproofError('STORE_UNAVAILABLE', `InfluxDB did not answer: ${SECRET}`, { statusCode: 503, retriable: true, details: { url: 'http://10.1.2.3:8086' } });
        },
      },
    });
    const r = await get('/api/v1/series', a);
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ error: { code: 'API_STORE_UNAVAILABLE', message: 'a store did not answer; see /health' } });
    expect(r.text).not.toContain('10.1.2.3');
  });

  it('answers 503 API_STORE_UNAVAILABLE for any 503 store error, e.g. REGISTRY_READ_FAILED', async () => {
    const a = await appWith({
      registry: {
        listMeters: async () => {
          throw new WattproofError('REGISTRY_READ_FAILED', `EIO reading /srv/wattproof/${SECRET}`, { statusCode: 503, retriable: true });
        },
      },
    });
    const r = await get('/api/v1/meters', a);
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ error: { code: 'API_STORE_UNAVAILABLE', message: 'a store did not answer; see /health' } });
  });

  it('answers 503 API_STORE_UNAVAILABLE when the registry is unreachable', async () => {
    const a = await appWith({
      registry: {
        listSites: async () => {
          throw new WattproofError('REGISTRY_UNAVAILABLE', `connect ECONNREFUSED ${SECRET}`, { statusCode: 503, retriable: true });
        },
      },
    });
    const r = await get('/api/v1/sites', a);
    expect(r.status).toBe(503);
    expectCleanError(r, 'API_STORE_UNAVAILABLE');
    expect(r.text).not.toContain('s3cr3t');
  });
});

describe('dead letters', () => {
  it('lists newest first with a next cursor, page by page', async () => {
    const p1 = await get('/api/v1/dead-letters?limit=2');
    expect(p1.status).toBe(200);
    expect(p1.body.total).toBe(5);
    expect(p1.body.deadLetters.map((d: Json) => d.reason)).toEqual(['reason 4', 'reason 3']);
    expect(p1.body.deadLetters[0]).toMatchObject({
      code: 'CONTRACT_UNIT_INVALID',
      source: 'gateway',
      receivedAtMs: T0 + 4000,
      receivedAt: '2026-11-01T00:00:04.000Z',
      payload: '{"n":4}',
      payloadEncoding: 'utf8',
    });
    expect(p1.body.next).toBe(p1.body.deadLetters[1].id);

    const p2 = await get(`/api/v1/dead-letters?limit=2&before=${encodeURIComponent(p1.body.next)}`);
    expect(p2.body.deadLetters.map((d: Json) => d.reason)).toEqual(['reason 2', 'reason 1']);
    expect(p2.body.next).toBe(p2.body.deadLetters[1].id);

    const p3 = await get(`/api/v1/dead-letters?limit=2&before=${encodeURIComponent(p2.body.next)}`);
    expect(p3.body.deadLetters.map((d: Json) => d.reason)).toEqual(['reason 0']);
    expect(p3.body).not.toHaveProperty('next');
  });

  it('filters by code', async () => {
    const r = await get('/api/v1/dead-letters?code=CONTRACT_UNIT_INVALID');
    expect(r.status).toBe(200);
    expect(r.body.total).toBe(2);
    expect(r.body.deadLetters.map((d: Json) => [d.code, d.reason])).toEqual([
      ['CONTRACT_UNIT_INVALID', 'reason 4'],
      ['CONTRACT_UNIT_INVALID', 'reason 1'],
    ]);
    expect(r.body).not.toHaveProperty('next');
  });

  it('filters by source and site', async () => {
    expect((await get('/api/v1/dead-letters?source=ingest')).body.deadLetters.map((d: Json) => d.reason)).toEqual(['reason 3', 'reason 1']);
    expect((await get('/api/v1/dead-letters?site=cq')).body).toEqual({ total: 0, deadLetters: [] });
  });

  it('filters by building (topics under wattproof/v1/<site>/<building>/), which needs the site', async () => {
    expect((await get('/api/v1/dead-letters?site=yz&building=b01')).body.total).toBe(5);
    expect((await get('/api/v1/dead-letters?site=yz&building=b0')).body).toEqual({ total: 0, deadLetters: [] });
    const bad = await get('/api/v1/dead-letters?building=b01');
    expect(bad.status).toBe(400);
    expectCleanError(bad, 'API_REQUEST_INVALID');
  });
});

describe('ops endpoints', () => {
  it('/health answers 200 when both stores answer', async () => {
    const r = await get('/health');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok', components: { readingStore: { ok: true, adapter: 'memory' }, registry: { ok: true, adapter: 'memory' } } });
  });

  it('/health answers 503 when a store ping fails or throws', async () => {
    const down = await createApiServer({ readings: { ...readings, ping: async () => false }, registry, metrics: new Registry() });
    extraApps.push(down);
    const r = await get('/health', down);
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ status: 'degraded', components: { readingStore: { ok: false, adapter: 'memory' }, registry: { ok: true, adapter: 'memory' } } });

    const throwing = await createApiServer({
      readings,
      registry: {
        ...registry,
        ping: async () => {
          throw new Error('socket hang up');
        },
      },
      metrics: new Registry(),
    });
    extraApps.push(throwing);
    const t = await get('/health', throwing);
    expect(t.status).toBe(503);
    expect(t.body.components.registry).toEqual({ ok: false, adapter: 'memory' });
    expect(t.text).not.toContain('socket hang up');
  });

  it('/metrics serves the registry in Prometheus text format', async () => {
    const c = new Counter({ name: 'wattproof_api_test_total', help: 'A counter for the API test', registers: [metrics] });
    c.inc(3);
    const r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(String(r.headers['content-type'])).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(r.text).toContain('# HELP wattproof_api_test_total A counter for the API test\n# TYPE wattproof_api_test_total counter\nwattproof_api_test_total 3\n');
  });

  it('/metrics needs an admin key: 401 without one, 403 AUTH_FORBIDDEN for any other role', async () => {
    const none = await get('/metrics', app, null);
    expect([none.status, none.body.error?.code]).toEqual([401, 'AUTH_REQUIRED']);
    expect(none.text).not.toContain('wattproof_');
    const operator = await createTestKey(registry, { role: 'operator', grants: [{ kind: 'building', site: 'yz', building: 'b01' }] });
    const r = await get('/metrics', app, operator);
    expect([r.status, r.body.error?.code]).toEqual([403, 'AUTH_FORBIDDEN']);
    expect(r.text).not.toContain('wattproof_');
  });

  it('/docs/json is an OpenAPI 3 document listing every /api/v1 route', async () => {
    const r = await get('/docs/json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toMatch(/^3\./);
    expect(r.body.info.title).toBe('Wattproof API');
    const apiPaths = Object.keys(r.body.paths as Json)
      .filter((p) => p.startsWith('/api/v1'))
      .sort();
    expect(apiPaths).toEqual([
      '/api/v1/audit',
      '/api/v1/auth/whoami',
      '/api/v1/buildings',
      '/api/v1/buildings/{site}/{building}/overview',
      '/api/v1/buildings/{site}/{building}/reports/monthly',
      '/api/v1/buildings/{site}/{building}/savings',
      '/api/v1/buildings/{site}/{building}/timeseries',
      '/api/v1/dead-letters',
      '/api/v1/latest',
      '/api/v1/meters',
      '/api/v1/meters/{site}/{building}/{meter}',
      '/api/v1/meters/{site}/{building}/{meter}/readings',
      '/api/v1/portfolio/summary',
      '/api/v1/quality/coverage',
      '/api/v1/register-events',
      '/api/v1/series',
      '/api/v1/sites',
      '/api/v1/sites/{site}/buildings',
      '/api/v1/stream',
    ]);
    for (const p of apiPaths) expect(Object.keys(r.body.paths[p]), p).toEqual(['get']);
    // Every /api/v1 route takes the key as a bearer token or in X-Api-Key; the probes take none.
    for (const p of apiPaths) expect(r.body.paths[p].get.security, p).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }]);
    expect(r.body.paths['/health'].get.security).toBeUndefined();
    expect(Object.keys(r.body.components.securitySchemes).sort()).toEqual(['apiKeyHeader', 'bearerAuth']);
    const readingsParams = r.body.paths['/api/v1/meters/{site}/{building}/{meter}/readings'].get.parameters.map((x: Json) => `${x.in}:${x.name}`).sort();
    expect(readingsParams).toEqual(['path:building', 'path:meter', 'path:site', 'query:bucket', 'query:from', 'query:kind', 'query:limit', 'query:quantity', 'query:to', 'query:tz']);
  });

  it('/docs serves the HTML UI', async () => {
    let res = await app.inject({ method: 'GET', url: '/docs' });
    for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && hops < 3; hops++) {
      const location = String(res.headers.location);
      res = await app.inject({ method: 'GET', url: location.startsWith('/') ? location : `/docs/${location.replace(/^\.\//, '')}` });
    }
    expect(res.statusCode).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^text\/html/);
    expect(res.body).toMatch(/<html/i);
    expect(res.body).toContain('swagger-ui');
  });
});
