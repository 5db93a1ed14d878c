/**
 * The simulation runner end to end: a real aedes gateway and the ingest over TCP on memory
 * stores, devices and aggregators provisioned through the installer's code path. What the
 * runner reports as sent must be exactly what the pipeline stored and dead-lettered.
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { configWith, hasCode, type MeterRef, type ReadingStore } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionAggregator, provisionDevice, provisionService, type Gateway } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createIngest, createMemoryReadingStore, ingestConfigSchema, type Ingest } from '@wattproof/ingest';
import { createSimulationRun, formatEta, parsePortfolio, portfolioMeters, type Portfolio, type PortfolioInput, type SimulationDeps, type SimulationRun } from '@wattproof/simulators';
import { waitFor } from '../support/mqtt.js';
import { stubBuildingModel, stubWeather } from './stub-model.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-01T00:00:00+08:00');
const FIXTURE = new URL('../fixtures/dev/electricity.csv', import.meta.url);

interface Pipeline {
  registry: ReturnType<typeof createMemoryRegistryStore>;
  readings: ReadingStore;
  gateway: Gateway;
  ingest: Ingest;
  metrics: Registry;
  url: string;
  deps: SimulationDeps;
}

let open: Pipeline | undefined;
let runs: SimulationRun[] = [];

async function startPipeline(ingestNow?: () => number): Promise<Pipeline> {
  const registry = createMemoryRegistryStore();
  await registry.init();
  const svc = await provisionService(registry, 'wattproof-ingest', 'service');
  const metrics = new Registry();
  const gateway = createGateway({ registry, metrics }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0 }));
  const url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
  const readings = createMemoryReadingStore();
  const ingest = createIngest(
    { readings, registry, ...(ingestNow ? { clock: ingestNow } : {}) },
    configWith(ingestConfigSchema, { INGEST_MQTT_URL: url, INGEST_MQTT_PASSWORD: svc.secret, INGEST_FLUSH_INTERVAL_MS: 20 }),
  );
  await ingest.start();
  const deps: SimulationDeps = {
    provisionDevice: (ref) => provisionDevice(registry, ref, { rotate: true }),
    provisionAggregator: (site, name) => provisionAggregator(registry, site, { rotate: true, ...(name !== undefined ? { name } : {}) }),
    buildingModel: stubBuildingModel,
    weather: () => stubWeather(),
    registry,
  };
  open = { registry, readings, gateway, ingest, metrics, url, deps };
  return open;
}

afterEach(async () => {
  for (const r of runs.splice(0)) await r.close();
  if (open) {
    await open.ingest.close();
    await open.gateway.close();
    open = undefined;
  }
});

function run(p: Pipeline, config: Parameters<typeof createSimulationRun>[1], deps: Partial<SimulationDeps> = {}): SimulationRun {
  const r = createSimulationRun({ ...p.deps, ...deps }, config);
  runs.push(r);
  return r;
}

/** Stored readings of the portfolio's meters: everything, except the intervals the ingest derives from registers. */
async function storedAsSent(p: Pipeline, portfolio: Portfolio, from: number, to: number): Promise<number> {
  let n = 0;
  for (const m of portfolioMeters(portfolio)) {
    const rows = await p.readings.query({ ...m.ref, from, to });
    n += m.definition.kind === 'register' ? rows.filter((r) => r.kind === 'register').length : rows.length;
  }
  return n;
}

const building = (id: string, site: string, seed: number): PortfolioInput['buildings'][number] => ({
  id,
  site,
  archetype: 'office_a',
  floorAreaM2: 20_000 + seed * 1000,
  seed,
  meters: [
    { id: 'elec-main', source: 'main', kind: 'interval', intervalS: 900 },
    { id: 'elec-hvac', source: 'hvac', kind: 'interval', intervalS: 900, parent: 'elec-main' },
    { id: 'gas', source: 'gas', kind: 'register', intervalS: 3600, rollover: 1_000_000, serial: `G-${id}` },
    { id: 'demand', source: 'main', kind: 'instant', intervalS: 1800, unit: 'kW' },
  ],
});

describe('backfill through the real gateway and ingest', () => {
  it('stores exactly what was sent valid, dead-letters exactly the broken messages, counts refused connects', async () => {
    const now = T0 + 3 * 24 * HOUR;
    const p = await startPipeline(() => now);
    const portfolio = parsePortfolio({
      seed: 5,
      sites: [{ id: 'e2e', timezone: 'Asia/Shanghai', weatherStation: { intervalS: 3600 } }],
      buildings: [building('b01', 'e2e', 1), building('b02', 'e2e', 2)],
    });
    const faults = {
      malformed: { rate: 0.08 },
      foreignTopic: { rate: 0.06 },
      oversized: { rate: 0.05 },
      duplicate: { rate: 0.1 },
      outOfOrder: { rate: 0.1 },
      wrongCredentials: { rate: 0.5 },
    };
    const sim = run(p, { url: p.url, mode: 'backfill', portfolio, fromMs: T0, toMs: T0 + 2 * 24 * HOUR, faults, readingsPerMessage: 12, connections: 4, exactAccounting: true });
    await sim.start();
    const s = sim.stats();
    const report = s.faults;

    // What the runner says it sent adds up.
    expect(s.meters).toBe(9);
    expect(s.publishers).toBe(9);
    expect(s.readings.generated).toBe(2 * (192 + 192 + 48 + 96) + 48 * 3);
    expect(s.readings.published).toBe(s.readings.valid + s.readings.duplicates + s.readings.broken);
    expect(s.readings.valid).toBe(s.readings.generated - s.readings.broken);
    expect(s.readings.distinctValid).toBe(s.readings.valid);
    expect(s.messages.acked).toBe(s.messages.published);
    expect(s.errors).toBe(0);
    for (const kind of ['malformed', 'foreignTopic', 'oversized', 'duplicate', 'outOfOrder', 'wrongCredentials'] as const) {
      expect(report.events[kind], kind).toBeGreaterThan(0);
    }

    // The pipeline's answer, exactly.
    const expectedDead = Object.values(report.expectedDeadLetters).reduce((a, b) => a + b, 0);
    await waitFor(
      async () => p.ingest.pipeline.pending() === 0 && (await p.registry.countDeadLetters()) >= expectedDead && (await storedAsSent(p, portfolio, T0 - HOUR, now)) >= s.readings.valid,
      30_000,
      'the pipeline to store and dead-letter everything',
    );
    expect(await storedAsSent(p, portfolio, T0 - HOUR, now)).toBe(s.readings.published - s.readings.broken - s.readings.duplicates);
    expect(await p.registry.countDeadLetters()).toBe(expectedDead);
    for (const [code, n] of Object.entries(report.expectedDeadLetters)) expect(await p.registry.countDeadLetters({ code }), code).toBe(n);
    expect(report.expectedDeadLetters.GATEWAY_PUBLISH_FORBIDDEN).toBe(report.events.foreignTopic);
    expect(Object.keys(report.expectedDeadLetters).filter((c) => c.startsWith('CONTRACT_')).reduce((n, c) => n + report.expectedDeadLetters[c]!, 0)).toBe(report.events.malformed);

    // Refused connects: counted by the runner and by the gateway.
    expect(s.connections.refused).toBe(report.expectedRefusedConnects);
    const connects = (await p.metrics.getSingleMetric('wattproof_gateway_connections_total')!.get()).values;
    expect(connects.find((v) => v.labels.result === 'auth_failed')?.value ?? 0).toBe(report.expectedRefusedConnects);
    expect(s.connections.opened).toBe(9);

    // Devices were provisioned by the installer's code path; the registry knows the portfolio.
    expect((await p.registry.listPrincipals()).filter((x) => x.role === 'device')).toHaveLength(9);
    expect(await p.registry.getMeter({ site: 'e2e', building: 'b01', meter: 'elec-hvac' })).toMatchObject({ endUse: 'hvac', parent: 'elec-main', quantity: 'electricity' });
    expect((await p.registry.listBuildings('e2e')).find((b) => b.id === 'b02')).toMatchObject({ type: 'office_a', floorAreaM2: 22_000 });

    // Registers become intervals in the ingest: one fewer than the register readings stored.
    const gasRef: MeterRef = { site: 'e2e', building: 'b01', meter: 'gas' };
    const gas = await p.readings.query({ ...gasRef, from: T0 - HOUR, to: now });
    expect(gas.filter((r) => r.kind === 'interval')).toHaveLength(gas.filter((r) => r.kind === 'register').length - 1);
  });

  it('reading faults: gaps are missing, late bursts, skewed clocks, stuck, zero and spiked values are stored as sent', async () => {
    const now = T0 + 3 * 24 * HOUR;
    const p = await startPipeline(() => now);
    const portfolio = parsePortfolio({
      seed: 8,
      sites: [{ id: 'rf', weatherStation: { intervalS: 1800 } }],
      buildings: [{ ...building('b01', 'rf', 1), meters: building('b01', 'rf', 1).meters.filter((m) => m.kind !== 'register') }],
      faults: {
        gap: { rate: 0.02, maxLength: 4 },
        lateBurst: { rate: 0.02, maxLength: 6 },
        clockSkew: { rate: 0.02, maxSkewS: 300 },
        stuck: { rate: 0.02 },
        zero: { rate: 0.02 },
        spike: { rate: 0.02 },
      },
    });
    const sim = run(p, { url: p.url, mode: 'backfill', portfolio, fromMs: T0, toMs: T0 + 2 * 24 * HOUR, readingsPerMessage: 20, exactAccounting: true });
    await sim.start();
    const s = sim.stats();
    for (const kind of ['gap', 'lateBurst', 'clockSkew', 'stuck', 'zero', 'spike'] as const) expect(s.faults.events[kind], kind).toBeGreaterThan(0);
    expect(s.readings.valid).toBe(s.readings.generated - s.faults.readings.gap);
    expect(s.readings.distinctValid).toBe(s.readings.valid);
    await waitFor(async () => p.ingest.pipeline.pending() === 0 && (await storedAsSent(p, portfolio, T0 - HOUR, now)) >= s.readings.valid, 30_000);
    expect(await storedAsSent(p, portfolio, T0 - HOUR, now)).toBe(s.readings.valid);
    expect(await p.registry.countDeadLetters()).toBe(0);
    // A gap leaves its readings out of the store.
    const gap = s.faults.examples.gap[0]!;
    const [site, b, meter] = gap.meter.split('/') as [string, string, string];
    expect(await p.readings.query({ site, building: b, meter, from: gap.ts!, to: gap.ts! + 1 })).toHaveLength(0);
  });

  it('is deterministic: the same seed sends the same readings and the same faults', async () => {
    const portfolio = parsePortfolio({ seed: 9, sites: [{ id: 'det' }], buildings: [building('b01', 'det', 3)], faults: { malformed: { rate: 0.2 }, duplicate: { rate: 0.2 }, gap: { rate: 0.05 } } });
    const reports = [];
    for (let i = 0; i < 2; i++) {
      const p = await startPipeline(() => T0 + 5 * 24 * HOUR);
      const sim = run(p, { url: p.url, mode: 'backfill', portfolio, fromMs: T0, toMs: T0 + 24 * HOUR, readingsPerMessage: 10 });
      await sim.start();
      const { faults, readings } = sim.stats();
      reports.push({ faults, readings });
      await runs.pop()!.close();
      await p.ingest.close();
      await p.gateway.close();
      open = undefined;
    }
    expect(reports[1]).toEqual(reports[0]);
    expect(reports[0]!.faults.events.malformed).toBeGreaterThan(0);
  });
});

describe('progress bar', () => {
  it('formats the time left', () => {
    expect(formatEta(Number.NaN)).toBe('--');
    expect(formatEta(Number.POSITIVE_INFINITY)).toBe('--');
    expect(formatEta(0)).toBe('0s');
    expect(formatEta(44.2)).toBe('45s');
    expect(formatEta(150)).toBe('2m30s');
    expect(formatEta(3900)).toBe('1h05m');
  });

  it('ends a backfill at 100 % with a readable rate and ETA', async () => {
    const p = await startPipeline(() => T0 + 2 * 24 * HOUR);
    const portfolio = parsePortfolio({ seed: 4, sites: [{ id: 'bar' }], buildings: [building('b01', 'bar', 2)] });
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    const sim = run(
      p,
      { url: p.url, mode: 'backfill', portfolio, fromMs: T0, toMs: T0 + 24 * HOUR, readingsPerMessage: 24, progress: true },
      { progressStream: stream as unknown as NodeJS.WriteStream },
    );
    await sim.start();
    const last = text.trim().split('\n').at(-1)!;
    expect(last).toMatch(/100% \| (\d+)\/\1 readings \| \d+ readings\/s \| ETA 0s$/);
    expect(text).not.toContain('LLs');
    expect(text).not.toContain('NULL');
  });
});

describe('aggregator mode', () => {
  it('publishes every meter of a site over one connection per site; topics of another site are refused', async () => {
    const now = T0 + 2 * 24 * HOUR;
    const p = await startPipeline(() => now);
    const portfolio = parsePortfolio({
      seed: 3,
      connection: { strategy: 'aggregator' },
      sites: [{ id: 'north', weatherStation: true, aggregators: 2 }, { id: 'south' }],
      buildings: [building('b01', 'north', 1), building('b02', 'north', 2), building('b01', 'south', 3)],
      faults: { foreignTopic: { rate: 0.15 }, wrongCredentials: { rate: 1 } },
    });
    const sim = run(p, { url: p.url, mode: 'backfill', portfolio, fromMs: T0, toMs: T0 + 24 * HOUR, readingsPerMessage: 16, exactAccounting: true });
    await sim.start();
    const s = sim.stats();
    // North has two aggregators sharing its nine meters; south has one.
    expect(sim.publishers()).toEqual([
      { username: 'aggregator:north', kind: 'aggregator', site: 'north', meters: 5 },
      { username: 'aggregator:north:a2', kind: 'aggregator', site: 'north', meters: 4 },
      { username: 'aggregator:south', kind: 'aggregator', site: 'south', meters: 4 },
    ]);
    expect(s.connections).toEqual({ opened: 3, refused: 3, open: 0 });
    const principals = await p.registry.listPrincipals();
    expect(principals.filter((x) => x.role === 'aggregator').map((x) => [x.username, x.site])).toEqual([
      ['aggregator:north', 'north'],
      ['aggregator:north:a2', 'north'],
      ['aggregator:south', 'south'],
    ]);
    expect(principals.filter((x) => x.role === 'device')).toHaveLength(0);

    const forbidden = s.faults.expectedDeadLetters.GATEWAY_PUBLISH_FORBIDDEN!;
    expect(forbidden).toBeGreaterThan(0);
    await waitFor(
      async () => p.ingest.pipeline.pending() === 0 && (await p.registry.countDeadLetters()) >= forbidden && (await storedAsSent(p, portfolio, T0 - HOUR, now)) >= s.readings.valid,
      30_000,
    );
    expect(await storedAsSent(p, portfolio, T0 - HOUR, now)).toBe(s.readings.valid);
    expect(await p.registry.countDeadLetters({ code: 'GATEWAY_PUBLISH_FORBIDDEN' })).toBe(forbidden);
    expect(await p.registry.countDeadLetters()).toBe(forbidden);
    // The refused topics are those of the other site, and the dead letter names the aggregator.
    const letters = await p.registry.listDeadLetters({ code: 'GATEWAY_PUBLISH_FORBIDDEN' });
    for (const l of letters) {
      const site = l.username!.startsWith('aggregator:north') ? 'north' : 'south';
      expect(l.topic.startsWith(`wattproof/v1/${site === 'north' ? 'south' : 'north'}/`)).toBe(true);
      expect(l.reason).toContain(`may publish only under wattproof/v1/${site}/`);
    }
  });
});

describe('replay of a wide CSV', () => {
  const lines = readFileSync(FIXTURE, 'utf8').split('\n');

  it('replays each column as an interval meter, keeping its gaps and its values', async () => {
    const p = await startPipeline(() => Date.parse('2026-01-01T00:00:00Z'));
    // The first 24 hours of three buildings, with a few cells emptied to make gaps.
    const header = lines[0]!.split(',').slice(0, 4).join(',');
    const rows = lines.slice(1, 25).map((l) => l.split(',').slice(0, 4));
    const blanks = [
      [3, 1],
      [4, 1],
      [10, 2],
      [23, 3],
    ];
    for (const [r, c] of blanks) rows[r!]![c!] = '';
    const text = [header, ...rows.map((r) => r.join(','))].join('\n');
    const sim = run(p, { url: p.url, mode: 'replay', replay: { text, site: 'cam' }, readingsPerMessage: 5 });
    await sim.start();
    const s = sim.stats();
    expect(s.readings.valid).toBe(24 * 3 - blanks.length);
    expect(sim.meters().map((m) => m.building)).toEqual(['CAM_b16', 'CAM_b25', 'CAM_b33']);
    const from = Date.parse('2018-01-01T00:00:00Z');
    await waitFor(async () => {
      let n = 0;
      for (const b of ['CAM_b16', 'CAM_b25', 'CAM_b33']) n += (await p.readings.query({ site: 'cam', building: b, meter: 'elec', from, to: from + 25 * HOUR })).length;
      return n === s.readings.valid;
    });
    for (let c = 1; c <= 3; c++) {
      const b = header.split(',')[c]!;
      const stored = await p.readings.query({ site: 'cam', building: b, meter: 'elec', from, to: from + 25 * HOUR });
      const expected = rows.filter((r) => r[c] !== '').map((r) => ({ ts: Date.parse(r[0]!), value: Number(r[c]) }));
      expect(stored.map((x) => ({ ts: x.ts, value: x.value }))).toEqual(expected);
      expect(stored.every((x) => x.kind === 'interval' && x.intervalS === 3600 && x.unit === 'kWh')).toBe(true);
    }
  });

  it('keeps the defects of the real file: the zeros of the October 2019 outage are sent as zeros', async () => {
    const p = await startPipeline(() => Date.parse('2026-01-01T00:00:00Z'));
    const from = Date.parse('2019-10-04T00:00:00Z');
    const sim = run(p, { url: p.url, mode: 'replay', replay: { path: FIXTURE.pathname, site: 'cam', columns: ['CAM_b25', 'CAM_b13'], maxRows: 6 }, fromMs: from, strategy: 'aggregator' });
    await sim.start();
    expect(sim.stats().readings.valid).toBe(12);
    expect(sim.publishers()).toEqual([{ username: 'aggregator:cam', kind: 'aggregator', site: 'cam', meters: 2 }]);
    await waitFor(async () => (await p.readings.query({ site: 'cam', building: 'CAM_b13', meter: 'elec', from, to: from + 6 * HOUR })).length === 6);
    const b25 = await p.readings.query({ site: 'cam', building: 'CAM_b25', meter: 'elec', from, to: from + 6 * HOUR });
    expect(b25.map((r) => r.value)).toEqual([51.8, 26, 0, 0, 0, 0].slice(0, b25.length));
    expect(b25).toHaveLength(6);
  });
});

describe('clocked modes', () => {
  it('accelerated: simulated time from the past to now at the speed-up, never ahead of the ingest clock', async () => {
    const p = await startPipeline();
    const portfolio = parsePortfolio({ sites: [{ id: 'acc' }], buildings: [{ ...building('b01', 'acc', 1), meters: [{ id: 'elec', source: 'main', kind: 'interval', intervalS: 60 }] }] });
    const start = Date.now();
    const fromMs = Math.floor((start - HOUR) / 60_000) * 60_000;
    // 1800x: the simulated hour takes 2 s of wall time, many ticks even on a loaded machine.
    const sim = run(p, { url: p.url, mode: 'accelerated', portfolio, fromMs, speedup: 1800, tickMs: 50, exactAccounting: true });
    await sim.start();
    const s = sim.stats();
    expect(s.readings.valid).toBeGreaterThanOrEqual(59);
    expect(s.messages.published).toBeGreaterThan(2); // sent tick by tick, not in one batch
    await waitFor(async () => (await p.readings.query({ site: 'acc', building: 'b01', meter: 'elec', from: fromMs, to: Date.now() })).length === s.readings.valid);
    const rows = await p.readings.query({ site: 'acc', building: 'b01', meter: 'elec', from: fromMs, to: Date.now() + HOUR });
    expect(rows.every((r) => r.ts + 60_000 <= Date.now())).toBe(true);
    expect(await p.registry.countDeadLetters()).toBe(0);
  });

  it('accelerated: refuses to run into timestamps the ingest would reject', async () => {
    const p = await startPipeline();
    const portfolio = parsePortfolio({ sites: [{ id: 'acc' }], buildings: [building('b01', 'acc', 1)] });
    let err: unknown;
    try {
      run(p, { url: p.url, mode: 'accelerated', portfolio, fromMs: Date.now() - HOUR, toMs: Date.now() + HOUR, speedup: 100 });
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'SIM_FUTURE_TIMESTAMPS')).toBe(true);
    expect((err as Error).message).toContain('INGEST_MAX_FUTURE_S');
  });

  it('realtime: publishes each interval as it completes by the clock', async () => {
    // A clock running 600x, shared by the runner and the ingest: a simulated hour takes 6 s, an
    // interval completes every 1.5 s (room for a loaded machine's stalls between ticks).
    const base = T0;
    const t0 = Date.now();
    const clock = () => base + (Date.now() - t0) * 600;
    const p = await startPipeline(clock);
    const portfolio = parsePortfolio({ sites: [{ id: 'rt' }], buildings: [{ ...building('b01', 'rt', 1), meters: [{ id: 'elec', source: 'main', kind: 'interval', intervalS: 900 }, { id: 'kw', source: 'main', kind: 'instant', intervalS: 900 }] }] });
    const sim = run(p, { url: p.url, mode: 'realtime', portfolio, fromMs: base, toMs: base + HOUR, tickMs: 100 }, { clock });
    await sim.start();
    const s = sim.stats();
    // Four 15-min intervals complete within the hour; the instant meter samples at 0, 15, 30, 45 min.
    expect(s.readings.valid).toBe(8);
    expect(s.messages.valid).toBeGreaterThanOrEqual(2); // interval by interval, not in one message
    await waitFor(async () => (await p.readings.query({ site: 'rt', building: 'b01', meter: 'elec', from: base, to: base + HOUR })).length === 4);
  });
});
