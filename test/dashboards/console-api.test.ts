/**
 * The console's server side through `app.inject()` on memory stores: the page and its hashed
 * assets (open), the aggregated JSON and CSV endpoints (portfolio, building overview, columnar
 * time series, M&V savings, coverage with gaps; with an admin key) and, on a real loopback
 * socket, the live stream — which ends when its key is revoked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import type { ReadingStore, RegistryStore, StoredReading } from '@wattproof/core';
import { createMvJobs } from '@wattproof/analytics';
import { createAccessControl, createApiServer, createLiveStream } from '@wattproof/dashboards';
import { createMemoryReadingStore } from '@wattproof/ingest';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { bearer, createTestKey, TEST_KEY_EXPIRES_AT_MS } from '../support/api-keys.js';

const H = 3_600_000;
const DAY = 86_400_000;
/** 2026-11-02 12:00 local time (Asia/Shanghai). */
const NOW = Date.parse('2026-11-02T12:00:00+08:00');
const OCT1 = Date.parse('2026-10-01T00:00:00+08:00');
const OCT10 = Date.parse('2026-10-10T00:00:00+08:00');
const site = 'yz';
const b01 = { site, building: 'b01' };

function hourly(meter: string, value: number, opts: { skipOct10?: boolean; instant?: boolean } = {}): StoredReading[] {
  const out: StoredReading[] = [];
  for (let ts = OCT1; ts < NOW; ts += H) {
    if (opts.skipOct10 && ts >= OCT10 && ts < OCT10 + DAY) continue;
    out.push(
      opts.instant
        ? { ...b01, meter, quantity: 'outdoor_temperature', kind: 'instant', unit: '°C', ts, value }
        : { ...b01, meter, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts, value, intervalS: 3600 },
    );
  }
  return out;
}

/** An M&V result record as the jobs store it, with the fields the console reads. */
function resultBody() {
  const level = (absolute: number) => ({ k: 1, effectiveN: 300, levels: [0.68, 0.9, 0.95].map((confidence) => ({ confidence, absolute: absolute * (confidence === 0.9 ? 1 : 0.8), fsu: 0.1, t: 1.6 })), minimumDetectable: [] });
  const month = (period: string, counterfactual: number, observed: number, u: number) => ({ period, points: 30, counterfactual, observed, avoided: counterfactual - observed, fraction: (counterfactual - observed) / counterfactual, adjustment: 0, adjustedAvoided: counterfactual - observed, uncertainty: level(u) });
  return {
    definition: { meter: { ...b01, meter: 'elec-main' }, fuel: 'electricity', model: 'caltrack-daily', baseline: { start: '2025-10-01', end: '2026-10-01' }, reporting: { start: '2026-10-01', end: '2026-11-01' } },
    ranAtMs: NOW - H,
    inputsRecord: 'x',
    result: {
      status: 'verified',
      model: { kind: 'caltrack-daily', type: 'hdd_cdd', fit: { r2Adjusted: 0.91, cvrmse: 0.05, nmbe: 0.0001, n: 365 } },
      g14: { passed: true },
      savings: {
        counterfactual: 9000,
        observed: 7440,
        avoided: 1560,
        fraction: 1560 / 9000,
        uncertainty: level(300).levels.map(({ confidence, absolute, fsu }) => ({ confidence, absolute, fsu })),
        monthly: [month('2026-10', 9000, 7440, 300)],
        cumulative: [month('2026-10', 9000, 7440, 300)],
      },
      warnings: [{ code: 'mv.sufficiency.example', message: 'an example warning' }],
      disqualifications: [],
      eui: { eui: 84.9, quota: { constraint: 110, guide: 80 } },
      carbon: { avoidedTco2: 0.89 },
    },
  };
}

let readings: ReadingStore;
let registry: RegistryStore;
let app: FastifyInstance;
let adminKey: string;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function get(path: string, headers: Record<string, string> = {}, on: FastifyInstance = app) {
  const res = await on.inject({ method: 'GET', url: path, headers: { ...bearer(adminKey), ...headers } });
  let body: Json = {};
  try {
    body = res.json();
  } catch {
    body = {};
  }
  return { status: res.statusCode, body, text: res.body, headers: res.headers };
}

const csvRows = (text: string) => text.trimEnd().split('\r\n').map((l) => l.split(','));

beforeAll(async () => {
  readings = createMemoryReadingStore();
  registry = createMemoryRegistryStore();
  await readings.init();
  await registry.init();
  await registry.upsertSite({ id: site, name: 'Yuzhong park', timezone: 'Asia/Shanghai', latitude: 29.557, longitude: 106.577 });
  await registry.upsertBuilding({ site, id: 'b01', name: 'Tower', type: 'office_b', floorAreaM2: 1000 });
  await registry.upsertMeter({ ...b01, meter: 'elec-main', quantity: 'electricity' });
  await registry.upsertMeter({ ...b01, meter: 'elec-hvac', quantity: 'electricity', endUse: 'hvac', parent: 'elec-main' });
  await registry.upsertMeter({ ...b01, meter: 'temp', quantity: 'outdoor_temperature' });
  await readings.write([...hourly('elec-main', 10, { skipOct10: true }), ...hourly('elec-hvac', 4, { skipOct10: true }), ...hourly('temp', 20, { instant: true })]);
  await registry.appendRecords([{ kind: 'mv.result', key: 'yz/b01/elec-main', recordedAtMs: NOW - H, body: resultBody() }]);
  const jobs = createMvJobs({ readings, registry, clock: () => NOW });
  adminKey = await createTestKey(registry);
  app = await createApiServer({ readings, registry, metrics: new Registry(), clock: () => NOW, jobs });
  await app.ready();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await readings?.close();
  await registry?.close();
});

describe('page and assets', () => {
  it('serves the console at / and the former link list at /api', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<html lang="zh-CN">');
    expect(page.text).toMatch(/<script type="module" src="\/console\/main-[A-Z0-9]+\.js">/);
    const settings = JSON.parse(/<script id="wattproof-settings" type="application\/json">(.*?)<\/script>/.exec(page.text)![1]!);
    expect(settings).toEqual({ alerts: false, mv: true, finance: false, packs: false, streamPollIntervalMs: 2000 });
    const api = await get('/api');
    expect(api.body.links).toMatchObject({ console: '/', docs: '/docs', latest: '/api/v1/latest' });
  });

  it('serves hashed assets for a year with an ETag, and 304 when it matches', async () => {
    const page = await get('/');
    const [, script] = /src="(\/console\/main-[A-Z0-9]+\.js)"/.exec(page.text)!;
    const [, style] = /href="(\/console\/main-[A-Z0-9]+\.css)"/.exec(page.text)!;
    const js = await get(script!);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.text.length).toBeGreaterThan(20_000);
    // Minified: no line of the bundle is indented source.
    expect(js.text).not.toMatch(/\n {4}\S/);
    const again = await get(script!, { 'if-none-match': String(js.headers.etag) });
    expect(again.status).toBe(304);
    expect((await get(style!)).headers['content-type']).toMatch(/^text\/css/);
    const missing = await get('/console/main-NOPE.js');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('API_NOT_FOUND');
  });

  it('lists the console endpoints in the OpenAPI document', async () => {
    const doc = await get('/docs/json');
    for (const p of ['/api/v1/portfolio/summary', '/api/v1/buildings/{site}/{building}/overview', '/api/v1/buildings/{site}/{building}/timeseries', '/api/v1/buildings/{site}/{building}/savings', '/api/v1/quality/coverage', '/api/v1/stream']) {
      expect(Object.keys(doc.body.paths)).toContain(p);
    }
  });

  it('can be turned off: / then redirects to /api', async () => {
    const off = await createApiServer({ readings, registry, metrics: new Registry() }, { console: false });
    try {
      const r = await get('/', {}, off);
      expect(r.status).toBe(302);
      expect(r.headers.location).toBe('/api');
      expect((await get('/api/v1/portfolio/summary', {}, off)).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});

describe('portfolio summary', () => {
  it('gives live kW, today\'s kWh, 30-day coverage and the EUI against the GB/T 51161 quota', async () => {
    const r = await get('/api/v1/portfolio/summary');
    expect(r.status).toBe(200);
    expect(r.body.sites).toHaveLength(1);
    const [b] = r.body.sites[0].buildings;
    expect(b).toMatchObject({ id: 'b01', type: 'office_b', floorAreaM2: 1000, mainMeters: ['elec-main'], liveKw: 10, liveAt: NOW, todayKwh: 120 });
    // Oct 3 00:00 .. Nov 2 12:00 local is 732 h; Oct 10 (24 h) is missing.
    expect(b.coverage30d).toBeCloseTo(708 / 732, 3);
    // 756 h x 10 kWh over 32.5 days on 1,000 m2, annualised.
    expect(b.eui.value).toBeCloseTo(((7560 / 1000) * 365) / 32.5, 1);
    expect(b.eui.windowDays).toBeCloseTo(32.5, 2);
    expect(b.eui.quota).toMatchObject({ buildingType: 'office_b', constraint: 110, guide: 80, meetsConstraint: true, meetsGuide: false });
  });

  it('answers CSV with units in the column names', async () => {
    const r = await get('/api/v1/portfolio/summary?format=csv');
    expect(r.headers['content-type']).toMatch(/^text\/csv/);
    const [header, row] = csvRows(r.text);
    expect(header).toContain('live_power (kW)');
    expect(header).toContain('eui_12mo (kWh/m2/a)');
    expect(row![header!.indexOf('live_power (kW)')]).toBe('10');
    expect(row![header!.indexOf('live_at')]).toBe(new Date(NOW).toISOString());
  });

  it('answers 404 API_NOT_FOUND for an unknown site', async () => {
    const r = await get('/api/v1/portfolio/summary?site=nope');
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('API_NOT_FOUND');
  });
});

describe('building overview', () => {
  it('groups meters by role with their latest readings', async () => {
    const r = await get('/api/v1/buildings/yz/b01/overview');
    expect(r.status).toBe(200);
    expect(r.body.meters.map((m: Json) => [m.meter, m.role, m.endUse])).toEqual([
      ['elec-main', 'main', null],
      ['elec-hvac', 'sub', 'hvac'],
      ['temp', 'weather', null],
    ]);
    expect(r.body.meters[0].latest[0]).toMatchObject({ ts: NOW - H, value: 10, intervalS: 3600 });
    expect(r.body.mvAvailable).toBe(true);
    expect((await get('/api/v1/buildings/yz/nope/overview')).status).toBe(404);
  });
});

describe('time series', () => {
  it('returns one time axis and one array per series, null where a series has no reading', async () => {
    const r = await get(`/api/v1/buildings/yz/b01/timeseries?bucket=1d&from=${OCT1}&to=${NOW}`);
    expect(r.status).toBe(200);
    const t = r.body;
    // Oct 1 .. Nov 2: 33 local days (the temperature has Oct 10 too).
    expect(t.time).toHaveLength(33);
    expect(t.time[0]).toBe(OCT1);
    const main = t.series.find((s: Json) => s.meter === 'elec-main');
    const temp = t.series.find((s: Json) => s.meter === 'temp');
    expect(main.values[0]).toBe(240);
    expect(main.values[9]).toBeNull();
    expect(main.values[32]).toBe(120);
    expect(temp.values[9]).toBe(20);
    expect(main).toMatchObject({ role: 'main', unit: 'kWh', kind: 'interval' });
  });

  it('filters meters and answers a year of hourly data compactly', async () => {
    const r = await get('/api/v1/buildings/yz/b01/timeseries?bucket=1h&meters=elec-main');
    expect(r.body.series).toHaveLength(1);
    expect(r.body.time).toHaveLength(756);
    expect(r.body.series[0].values.every((v: number) => v === 10)).toBe(true);
    // Columnar: a few bytes per point, not an object per point.
    expect(r.text.length).toBeLessThan(756 * 20);
  });

  it('answers CSV: ISO times and one column per series with its unit', async () => {
    const r = await get(`/api/v1/buildings/yz/b01/timeseries?bucket=1d&from=${OCT1}&to=${OCT1 + 2 * DAY}&format=csv`);
    expect(csvRows(r.text)).toEqual([
      ['time', 'elec-hvac electricity (kWh)', 'elec-main electricity (kWh)', 'temp outdoor_temperature mean (°C)'],
      ['2026-09-30T16:00:00.000Z', '96', '240', '20'],
      ['2026-10-01T16:00:00.000Z', '96', '240', '20'],
    ]);
  });

  it('refuses a range over the bucket limit with API_RANGE_TOO_LARGE', async () => {
    const r = await get(`/api/v1/buildings/yz/b01/timeseries?bucket=15m&from=${NOW - 2000 * DAY}&to=${NOW}`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('API_RANGE_TOO_LARGE');
  });
});

describe('savings', () => {
  it('gives the latest M&V result in compact columnar form with the 90 % uncertainty', async () => {
    const r = await get('/api/v1/buildings/yz/b01/savings');
    expect(r.body.available).toBe(true);
    expect(r.body.results).toHaveLength(1);
    expect(r.body.results[0]).toMatchObject({
      meter: 'elec-main',
      status: 'verified',
      totals: { avoided: 1560, uncertainty90: 300 },
      monthly: { period: ['2026-10'], counterfactual: [9000], observed: [7440], avoided: [1560], uncertainty90: [300] },
      cumulative: { period: ['2026-10'], avoided: [1560], uncertainty90: [300] },
      warnings: [{ code: 'mv.sufficiency.example', message: 'an example warning' }],
      eui: { value: 84.9, constraint: 110, guide: 80 },
    });
    const csv = csvRows((await get('/api/v1/buildings/yz/b01/savings?format=csv')).text);
    expect(csv[0]!.slice(0, 6)).toEqual(['meter', 'month', 'baseline (kWh)', 'observed (kWh)', 'avoided (kWh)', 'avoided_uncertainty_90 (kWh)']);
    expect(csv[1]!.slice(0, 6)).toEqual(['elec-main', '2026-10', '9000', '7440', '1560', '300']);
  });
});

describe('coverage', () => {
  it('gives coverage per series and day, and the gaps', async () => {
    const r = await get(`/api/v1/quality/coverage?site=yz&bucket=1d&from=${OCT1}&to=${NOW}`);
    expect(r.status).toBe(200);
    const c = r.body;
    expect(c.time).toHaveLength(33);
    const main = c.series.find((s: Json) => s.meter === 'elec-main');
    expect(main.coverage[0]).toBe(1);
    expect(main.coverage[9]).toBe(0);
    // Today is measured against the 12 hours elapsed.
    expect(main.coverage[32]).toBe(1);
    expect(main.lastTs).toBe(NOW - H);
    const temp = c.series.find((s: Json) => s.meter === 'temp');
    expect(temp.coverage.every((v: number) => v === 1)).toBe(true);
    expect(c.gaps).toEqual([
      { site: 'yz', building: 'b01', meter: 'elec-hvac', quantity: 'electricity', kind: 'interval', from: OCT10, to: OCT10 + DAY, buckets: 1, empty: true },
      { site: 'yz', building: 'b01', meter: 'elec-main', quantity: 'electricity', kind: 'interval', from: OCT10, to: OCT10 + DAY, buckets: 1, empty: true },
    ]);
  });

  it('answers CSV rows per series and bucket', async () => {
    const rows = csvRows((await get(`/api/v1/quality/coverage?site=yz&building=b01&from=${OCT10}&to=${OCT10 + DAY}&format=csv`)).text);
    expect(rows[0]).toEqual(['site', 'building', 'meter', 'quantity', 'kind', 'bucket_start', 'coverage (ratio)', 'readings (count)']);
    expect(rows.slice(1)).toContainEqual(['yz', 'b01', 'elec-main', 'electricity', 'interval', '2026-10-09T16:00:00.000Z', '0', '0']);
    expect(rows.slice(1)).toContainEqual(['yz', 'b01', 'temp', 'outdoor_temperature', 'instant', '2026-10-09T16:00:00.000Z', '1', '24']);
  });
});

describe('live stream', () => {
  it('shares one poller per filter, pushes only changed series and stops when the last client leaves', async () => {
    const store = createMemoryReadingStore();
    await store.init();
    const r0: StoredReading = { ...b01, meter: 'm', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: NOW, value: 1, intervalS: 60 };
    const other: StoredReading = { ...r0, meter: 'n' };
    await store.write([r0, other]);
    const stream = createLiveStream({ readings: store }, { pollIntervalMs: 20, maxClients: 2 });
    const a: unknown[] = [];
    const b: unknown[] = [];
    const subA = await stream.subscribe({ site }, (e) => a.push(e));
    const subB = await stream.subscribe({ site }, (e) => b.push(e));
    expect(subA!.snapshot.map((r) => r.meter).sort()).toEqual(['m', 'n']);
    expect(stream.stats()).toMatchObject({ clients: 2, pollers: 1 });
    expect(await stream.subscribe({ site: 'other' }, () => undefined)).toBeUndefined();
    await store.write([{ ...r0, ts: NOW + 60_000, value: 2 }]);
    await new Promise((r) => setTimeout(r, 120));
    expect(a).toEqual([{ event: 'readings', data: { readings: [{ ...r0, ts: NOW + 60_000, value: 2, time: new Date(NOW + 60_000).toISOString() }] } }]);
    expect(b).toEqual(a);
    subA!.close();
    subB!.close();
    expect(stream.stats()).toMatchObject({ clients: 0, pollers: 0 });
    stream.close();
    await store.close();
  });

  it('streams a snapshot, then new readings, with heartbeats, and refuses clients over the limit', async () => {
    const live = await createApiServer({ readings, registry, metrics: new Registry() }, { console: { streamPollIntervalMs: 50, streamHeartbeatIntervalMs: 100, streamMaxClients: 1 } });
    await live.listen({ host: '127.0.0.1', port: 0 });
    const { port } = live.server.address() as { port: number };
    const ctl = new AbortController();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/stream?site=yz&building=b01`, { signal: ctl.signal, headers: bearer(adminKey) });
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = res.body!.getReader();
      let text = '';
      const until = async (pattern: RegExp) => {
        const t0 = Date.now();
        while (!pattern.test(text)) {
          if (Date.now() - t0 > 10_000) throw new Error(`no ${pattern} in:\n${text}`);
          const { value } = await reader.read();
          text += new TextDecoder().decode(value);
        }
      };
      await until(/event: snapshot\ndata: .*\n\n/);
      const snapshot = JSON.parse(/event: snapshot\ndata: (.*)\n/.exec(text)![1]!);
      expect(snapshot.readings.map((r: Json) => r.meter).sort()).toEqual(['elec-hvac', 'elec-main', 'temp']);

      const full = await fetch(`http://127.0.0.1:${port}/api/v1/stream`, { headers: bearer(adminKey) });
      expect(full.status).toBe(503);
      expect(full.headers.get('retry-after')).toBeTruthy();
      expect(((await full.json()) as Json).error.code).toBe('CONSOLE_STREAM_FULL');

      await readings.write([{ ...b01, meter: 'elec-main', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: NOW, value: 12.5, intervalS: 3600 }]);
      await until(/event: readings\ndata: .*\n\n/);
      const update = JSON.parse(/event: readings\ndata: (.*)\n/.exec(text)![1]!);
      expect(update.readings).toEqual([expect.objectContaining({ meter: 'elec-main', ts: NOW, value: 12.5 })]);
      await until(/: heartbeat /);
    } finally {
      ctl.abort();
      await live.close();
    }
  }, 30_000);

  it('needs a key, sends a key only its buildings, and ends at the next heartbeat once the key is revoked', async () => {
    const access = createAccessControl({ registry });
    const operator = await access.createKey({ role: 'operator', grants: [{ kind: 'building', site, building: 'b01' }], label: 'stream test', createdBy: 'test', expiresAtMs: TEST_KEY_EXPIRES_AT_MS });
    const other = await access.createKey({ role: 'operator', grants: [{ kind: 'building', site, building: 'b99' }], label: 'stream test, no b01', createdBy: 'test', expiresAtMs: TEST_KEY_EXPIRES_AT_MS });
    const live = await createApiServer({ readings, registry, metrics: new Registry(), access }, { console: { streamPollIntervalMs: 50, streamHeartbeatIntervalMs: 100 } });
    await live.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(live.server.address() as { port: number }).port}/api/v1/stream`;
    const ctl = new AbortController();
    try {
      const anonymous = await fetch(url);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="wattproof"');
      // A building the key may not read answers like one that does not exist.
      const refused = await fetch(`${url}?site=yz&building=b01`, { headers: bearer(other.key) });
      expect([refused.status, ((await refused.json()) as Json).error.code]).toEqual([404, 'AUTH_NOT_FOUND']);
      // The whole stream of a key without b01 carries none of b01's readings.
      const empty = await fetch(url, { headers: bearer(other.key), signal: ctl.signal });
      const emptyText = await readUntil(empty, /event: snapshot\ndata: .*\n\n/);
      expect(JSON.parse(/event: snapshot\ndata: (.*)\n/.exec(emptyText)![1]!)).toEqual({ readings: [], alerts: null });

      const res = await fetch(url, { headers: bearer(operator.key), signal: ctl.signal });
      const reader = res.body!.getReader();
      const text = await readUntil(res, /event: snapshot\ndata: .*\n\n/, reader);
      const snapshot = JSON.parse(/event: snapshot\ndata: (.*)\n/.exec(text)![1]!);
      expect(snapshot.readings.length).toBeGreaterThan(0);
      expect(snapshot.readings.every((r: Json) => r.building === 'b01')).toBe(true);
      await access.revokeKey(operator.info.keyId, 'test', 'left the company');
      // The server ends the response at the next heartbeat (100 ms here).
      const t0 = Date.now();
      for (;;) {
        const { done } = await reader.read();
        if (done) break;
        if (Date.now() - t0 > 5_000) throw new Error('the stream of a revoked key is still open');
      }
      const again = await fetch(url, { headers: bearer(operator.key) });
      expect([again.status, ((await again.json()) as Json).error.code]).toEqual([401, 'AUTH_REVOKED']);
    } finally {
      ctl.abort();
      await live.close();
    }
  }, 30_000);
});

/** Reads a fetch response's body until `pattern` appears (10 s at most). */
async function readUntil(res: Response, pattern: RegExp, reader = res.body!.getReader()): Promise<string> {
  let text = '';
  const t0 = Date.now();
  while (!pattern.test(text)) {
    if (Date.now() - t0 > 10_000) throw new Error(`no ${pattern} in:\n${text}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended before ${pattern}:\n${text}`);
    text += new TextDecoder().decode(value);
  }
  return text;
}
