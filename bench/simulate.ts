/**
 * `npm run bench -- simulate [options]`: drives a generated portfolio through a real gateway and
 * ingest in this process (TCP on 127.0.0.1, memory registry) and prints the throughput.
 *
 * Options: `npm run bench -- simulate --help` (CLI below).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configWith, type ReadingStore, type StoredReading } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionAggregator, provisionDevice, provisionService } from '@wattproof/gateway';
import { createJsonlRegistryStore, createMemoryRegistryStore, REGISTRY_DATA_SUBDIR } from '@wattproof/gateway/registry';
import { createIngest, createInfluxReadingStore, createMemoryReadingStore, ingestConfigSchema } from '@wattproof/ingest';
import { startInfluxDb, type TestInfluxDb } from '../test/support/influxdb.js';
import { freePort, startGateway, type BrokerProcess } from './lib/brokers.js';
import { BenchUsageError, defineBench, parseBenchArgs, showBenchHelp } from './lib/cli.js';
import { countReadings } from './lib/influx.js';
import { promSum } from './lib/ingest-steps.js';
import { startIngestProcess, type IngestProcess } from './lib/node-process.js';
import { sampleProcess } from './lib/proc.js';
import { createSimulationRun, FAULT_PRESETS, generatePortfolio, portfolioSummary, type BuildingModelFactory } from '@wattproof/simulators';
import type { WeatherSeries } from '../simulators/src/types.js';
import { formatKeyValues } from './lib/table.js';

function countingStore(): ReadingStore & { count(): number } {
  let n = 0;
  const inner = createMemoryReadingStore();
  return {
    ...inner,
    name: 'count',
    async write(readings: readonly StoredReading[]) {
      n += readings.length;
    },
    count: () => n,
  };
}

export const CLI = defineBench({
  name: 'simulate',
  summary: `Backfills a generated portfolio through a real gateway and ingest in this process (TCP on 127.0.0.1,
memory registry) and prints the throughput: published (PUBACKed) and durable in the store, readings/s.`,
  options: {
    buildings: { type: 'string', placeholder: 'N', default: '200', description: 'generated buildings, 100 per site' },
    meters: { type: 'string', placeholder: 'M', default: '10', description: 'meters per building' },
    days: { type: 'string', placeholder: 'D', default: '1', description: 'simulated days of backfill, ending at 00:00 UTC yesterday' },
    strategy: { type: 'string', placeholder: 'S', default: 'aggregator', description: 'device (one connection per meter) | aggregator (one per site)' },
    connections: { type: 'string', placeholder: 'N', description: "connections open at once (default the simulator's, 5000)" },
    store: { type: 'string', placeholder: 'S', default: 'memory', description: 'memory | count (counts what the ingest writes, keeps nothing) | influxdb (a real influxd started for the run, the readings counted there at the end)' },
    faults: { type: 'string', placeholder: 'PRESET', description: `the simulator's fault preset: ${Object.keys(FAULT_PRESETS).join(' | ')} (default no faults)` },
    stub: { type: 'boolean', description: 'a trivial building model instead of simulators/src/building.ts' },
    'dedupe-cache': { type: 'string', placeholder: 'N', description: "the ingest's INGEST_DEDUPE_CACHE_SIZE (default its own)" },
    // E.g. issue 8's backfill: --buildings 100 --meters 10 --days 365 --store influxdb --progress.
    progress: { type: 'boolean', description: "the simulator's progress bar on stderr" },
    'batch-readings': { type: 'string', placeholder: 'N', description: "the ingest's INGEST_BATCH_MAX_READINGS (default its own)" },
    // Without it generator, gateway and ingest share one thread.
    processes: { type: 'boolean', description: 'with --store influxdb: the gateway and the ingest each in a process of its own, as deployed; prints their CPU per reading' },
    // Open the profile in Chrome DevTools, or summarize it with bench/lib/cpu-profile.ts.
    'ingest-cpu-prof': { type: 'string', placeholder: 'DIR', description: 'with --processes: run the ingest under node --cpu-prof, its profile in DIR' },
  },
});

export async function main(argv: string[]): Promise<void> {
  if (showBenchHelp(CLI, argv)) return;
  const values = parseBenchArgs(CLI, argv);
  if (values.processes) {
    if (values.store !== 'influxdb') throw new BenchUsageError('--processes needs --store influxdb (the memory and count stores live in this process)');
    if (values.faults) throw new BenchUsageError('--processes runs without --faults');
  } else if (values['ingest-cpu-prof']) throw new BenchUsageError('--ingest-cpu-prof goes with --processes');
  const buildings = Number(values.buildings);
  const meters = Number(values.meters);
  const days = Number(values.days);
  const strategy = values.strategy as 'device' | 'aggregator';

  let t = performance.now();
  const portfolio = generatePortfolio({ buildings, metersPerBuilding: meters, seed: 1, strategy });
  const generateMs = performance.now() - t;

  let buildingModel: BuildingModelFactory;
  let weather: WeatherSeries;
  const modelFile = new URL('../simulators/src/building.ts', import.meta.url);
  if (!values.stub && existsSync(modelFile)) {
    const b = (await import(modelFile.href)) as { createBuildingModel: BuildingModelFactory };
    const w = (await import(new URL('../simulators/src/weather.ts', import.meta.url).href)) as { chongqingTypicalYear(): WeatherSeries };
    buildingModel = b.createBuildingModel;
    weather = w.chongqingTypicalYear();
  } else {
    weather = { id: 'flat', digest: 'flat', at: () => ({ temperatureC: 20, relativeHumidityPct: 70, ghiWhM2: 100 }) };
    buildingModel = (spec) => ({
      hour: (h) => {
        const e = spec.floorAreaM2 / 1000;
        return { hourStartMs: h, endUses: { lighting_sockets: e, hvac: e, power: e, special: e }, main: 4 * e, pv: 0, counterfactualMain: 4 * e };
      },
    });
  }

  const toMs = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000;
  const fromMs = toMs - days * 86_400_000;
  if (values.processes) {
    await backfillInProcesses({
      portfolio,
      generateMs,
      modelName: values.stub || !existsSync(modelFile) ? 'stub' : 'simulators/src/building.ts + Chongqing typical year',
      buildingModel,
      weather,
      strategy,
      days,
      fromMs,
      toMs,
      ...(values.connections ? { connections: Number(values.connections) } : {}),
      progress: Boolean(values.progress),
      ...(values['ingest-cpu-prof'] ? { ingestCpuProfDir: values['ingest-cpu-prof'] } : {}),
      ingestEnv: {
        ...(values['dedupe-cache'] !== undefined ? { INGEST_DEDUPE_CACHE_SIZE: values['dedupe-cache'] } : {}),
        ...(values['batch-readings'] !== undefined ? { INGEST_BATCH_MAX_READINGS: values['batch-readings'] } : {}),
      },
    });
    return;
  }

  const registry = createMemoryRegistryStore();
  await registry.init();
  const svc = await provisionService(registry, 'wattproof-ingest', 'service');
  const gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0, GATEWAY_MAX_CONNECTIONS: 100_000 }));
  const url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
  const counting = values.store === 'count' ? countingStore() : undefined;
  let influx: TestInfluxDb | undefined;
  let store: ReadingStore;
  if (values.store === 'influxdb') {
    influx = await startInfluxDb();
    store = createInfluxReadingStore({ url: influx.url, database: influx.database });
    await store.init();
  } else {
    store = counting ?? createMemoryReadingStore();
  }
  const ingest = createIngest({ readings: store, registry }, configWith(ingestConfigSchema, {
      INGEST_MQTT_URL: url,
      INGEST_MQTT_PASSWORD: svc.secret,
      ...(values['dedupe-cache'] !== undefined ? { INGEST_DEDUPE_CACHE_SIZE: Number(values['dedupe-cache']) } : {}),
      ...(values['batch-readings'] !== undefined ? { INGEST_BATCH_MAX_READINGS: Number(values['batch-readings']) } : {}),
    }));
  await ingest.start();

  const sim = createSimulationRun(
    {
      provisionDevice: (ref) => provisionDevice(registry, ref, { rotate: true }),
      provisionAggregator: (site, name) => provisionAggregator(registry, site, { rotate: true, ...(name !== undefined ? { name } : {}) }),
      buildingModel,
      weather: () => weather,
    },
    {
      url,
      mode: 'backfill',
      portfolio,
      fromMs,
      toMs,
      ...(values.connections ? { connections: Number(values.connections) } : {}),
      ...(values.faults ? { faults: FAULT_PRESETS[values.faults as keyof typeof FAULT_PRESETS] } : {}),
      status: false,
      ...(values.progress ? { progress: true } : {}),
    },
  );
  t = performance.now();
  await sim.start();
  const publishedMs = performance.now() - t;
  const s = sim.stats();
  // Durable: the counting store saw every valid reading, or the ingest has had nothing pending for 300 ms.
  let quietSince = performance.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 10));
    if (counting) {
      if (counting.count() >= s.readings.valid) break;
      continue;
    }
    if (ingest.pipeline.pending() > 0) quietSince = performance.now();
    else if (performance.now() - quietSince > 300) break;
  }
  const storedMs = performance.now() - t - (counting ? 0 : 300);
  const summary = portfolioSummary(portfolio);
  const rows: Array<[string, string]> = [
    ['portfolio', `${summary.buildings} buildings, ${summary.meters} meters on ${summary.sites} sites (generated in ${generateMs.toFixed(0)} ms)`],
    ['model', values.stub || !existsSync(modelFile) ? 'stub' : 'simulators/src/building.ts + Chongqing typical year'],
    ['strategy', `${strategy}: ${s.publishers} publishers, ${s.connections.opened} connections opened`],
    ['backfill', `${days} day(s): ${s.messages.published} messages, ${s.readings.published} readings`],
    ['published (PUBACKed)', `${(publishedMs / 1000).toFixed(1)} s = ${Math.round(s.readings.published / (publishedMs / 1000))} readings/s`],
    ['durable in the store', `${(storedMs / 1000).toFixed(1)} s = ${Math.round(s.readings.valid / (storedMs / 1000))} readings/s (${store.name} store)`],
    ['errors', String(s.errors)],
    ...(influx ? [['readings in InfluxDB', `${(await countReadings(influx.url, influx.database)).toLocaleString('en-US')} (valid published ${s.readings.valid.toLocaleString('en-US')}, plus intervals derived from registers)`] as [string, string]] : []),
  ];
  process.stdout.write(formatKeyValues(rows, 23));
  await ingest.close();
  await gateway.close();
  await store.close?.();
  await influx?.stop();
}

interface ProcessesRun {
  readonly portfolio: ReturnType<typeof generatePortfolio>;
  readonly generateMs: number;
  readonly modelName: string;
  readonly buildingModel: BuildingModelFactory;
  readonly weather: WeatherSeries;
  readonly strategy: 'device' | 'aggregator';
  readonly days: number;
  readonly fromMs: number;
  readonly toMs: number;
  readonly connections?: number;
  readonly progress: boolean;
  readonly ingestEnv: Record<string, string>;
  /** Run the ingest under `node --cpu-prof`, writing its profile here when it exits. */
  readonly ingestCpuProfDir?: string;
}

/**
 * The backfill with the gateway and the ingest as processes of their own (`--processes`), as
 * `wattproof gateway` and `wattproof ingest` run in production, sharing an embedded registry
 * (the gateway reads principals this process adds to it); this process is the generator. The
 * readings are durable once the ingest has counted every published message with its outcome (it
 * does so when the store confirmed the write) and holds none pending.
 */
async function backfillInProcesses(r: ProcessesRun): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wattproof-bench-simulate-'));
  const dataDir = join(dir, 'data');
  const registry = createJsonlRegistryStore({ dir: join(dataDir, REGISTRY_DATA_SUBDIR) });
  await registry.init();
  let influx: TestInfluxDb | undefined;
  let gateway: BrokerProcess | undefined;
  let ingest: IngestProcess | undefined;
  try {
    const svc = await provisionService(registry, 'wattproof-ingest', 'service');
    influx = await startInfluxDb();
    gateway = await startGateway({ dir }, { env: { GATEWAY_MAX_CONNECTIONS: '100000', GATEWAY_HTTP_PORT: String(await freePort()) } });
    const url = `mqtt://${gateway.host}:${gateway.port}`;
    const httpPort = await freePort();
    ingest = startIngestProcess(
      {
        LOG_LEVEL: 'warn',
        REGISTRY_STORE: 'embedded',
        WATTPROOF_DATA_DIR: dataDir,
        API_HOST: '127.0.0.1',
        INGEST_HTTP_PORT: String(httpPort),
        INGEST_MQTT_URL: url,
        INGEST_MQTT_USERNAME: svc.username,
        INGEST_MQTT_PASSWORD: svc.secret,
        READINGS_STORE: 'influxdb',
        INFLUX_URL: influx.url,
        INFLUX_DATABASE: influx.database,
        INFLUX_API_VERSION: 'v1',
        ...r.ingestEnv,
      },
      r.ingestCpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${r.ingestCpuProfDir}`] : [],
    );
    await ingest.waitForOutput('Wattproof ingest:', 180_000);
    const metricsUrl = `http://127.0.0.1:${httpPort}/metrics`;
    const pids = { generator: process.pid, gateway: gateway.pid, ingest: ingest.child.pid ?? -1, influxd: influx.pid() ?? -1 };
    const sampleAll = () => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, sampleProcess(pid)]));

    const sim = createSimulationRun(
      {
        provisionDevice: (ref) => provisionDevice(registry, ref, { rotate: true }),
        provisionAggregator: (site, name) => provisionAggregator(registry, site, { rotate: true, ...(name !== undefined ? { name } : {}) }),
        buildingModel: r.buildingModel,
        weather: () => r.weather,
      },
      {
        url,
        mode: 'backfill',
        portfolio: r.portfolio,
        fromMs: r.fromMs,
        toMs: r.toMs,
        ...(r.connections !== undefined ? { connections: r.connections } : {}),
        status: false,
        ...(r.progress ? { progress: true } : {}),
      },
    );
    const cpu0 = sampleAll();
    const t = performance.now();
    await sim.start();
    const publishedMs = performance.now() - t;
    const s = sim.stats();
    let storedMs = Number.NaN;
    // An ingest far behind can be slow to answer a scrape (garbage collection on a large heap):
    // a failed scrape is retried; only 5 minutes without progress end the run.
    for (let lastChange = performance.now(), last = -1; ; ) {
      // Every 250 ms: each scrape costs the ingest a metrics rendering (its CPU is part of the figures).
      await new Promise((res) => setTimeout(res, 250));
      let text: string;
      try {
        text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(30_000) })).text();
      } catch {
        text = '';
      }
      const handled = text ? promSum(text, 'wattproof_ingest_messages_total') : last;
      if (text && handled >= s.messages.published && promSum(text, 'wattproof_ingest_pending_messages') === 0) {
        storedMs = performance.now() - t;
        break;
      }
      if (handled !== last) [last, lastChange] = [handled, performance.now()];
      else if (performance.now() - lastChange > 300_000) throw new Error(`the ingest has handled ${handled} of ${s.messages.published} messages and not moved for 5 minutes`);
    }
    const cpu1 = sampleAll();
    const written = promSum(await (await fetch(metricsUrl)).text(), 'wattproof_ingest_readings_written_total');
    const inInflux = await countReadings(influx.url, influx.database);
    const summary = portfolioSummary(r.portfolio);
    const cpuRow = (k: string): [string, string] => {
      const a = cpu0[k];
      const b = cpu1[k];
      if (!a || !b) return [`${k} CPU`, 'n/a'];
      const cpuS = b.cpuS - a.cpuS;
      return [`${k} CPU`, `${cpuS.toFixed(1)} s = ${((cpuS / (storedMs / 1000)) * 100).toFixed(0)} % of a core, ${((cpuS * 1e6) / s.readings.valid).toFixed(2)} µs per reading`];
    };
    const rows: Array<[string, string]> = [
      ['portfolio', `${summary.buildings} buildings, ${summary.meters} meters on ${summary.sites} sites (generated in ${r.generateMs.toFixed(0)} ms)`],
      ['model', r.modelName],
      ['processes', `generator (this process, pid ${pids.generator}), gateway ${pids.gateway}, ingest ${pids.ingest}, influxd ${pids.influxd}`],
      ['strategy', `${r.strategy}: ${s.publishers} publishers, ${s.connections.opened} connections opened`],
      ['backfill', `${r.days} day(s): ${s.messages.published} messages, ${s.readings.published} readings`],
      ['published (PUBACKed)', `${(publishedMs / 1000).toFixed(1)} s = ${Math.round(s.readings.published / (publishedMs / 1000))} readings/s`],
      ['durable in InfluxDB', `${(storedMs / 1000).toFixed(1)} s = ${Math.round(s.readings.valid / (storedMs / 1000))} readings/s`],
      ...['generator', 'gateway', 'ingest', 'influxd'].map(cpuRow),
      ['errors', String(s.errors)],
      ['readings written', `${written.toLocaleString('en-US')} by the ingest, ${inInflux.toLocaleString('en-US')} in InfluxDB (valid published ${s.readings.valid.toLocaleString('en-US')}, plus intervals derived from registers)`],
    ];
    process.stdout.write(formatKeyValues(rows, 23));
    await sim.close();
  } finally {
    await ingest?.stop();
    await gateway?.stop();
    await influx?.stop();
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  }
}
