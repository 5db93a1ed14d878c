/**
 * `npm run bench -- simulate [options]`: drives a generated portfolio through a real gateway and
 * ingest in this process (TCP on 127.0.0.1, memory registry) and prints the throughput.
 *
 *   --buildings N        generated buildings (default 200; 100 per site)
 *   --meters M           meters per building (default 10)
 *   --days D             simulated days of backfill (default 1)
 *   --strategy S         device | aggregator (default aggregator)
 *   --connections N      connections open at once (default 5000)
 *   --store S            memory (default) | count (counts what the ingest writes, keeps nothing) |
 *                        influxdb (a real InfluxDB 1.x started for the run, Debian's `influxd`; the
 *                        readings stored are counted there at the end)
 *   --progress           the simulator's progress bar on stderr (issue 8's backfill: e.g.
 *                        `--buildings 100 --meters 10 --days 365 --store influxdb --progress`)
 *   --faults PRESET      a fault preset (default none)
 *   --stub               use a trivial building model instead of simulators/src/building.ts
 *   --dedupe-cache N     the ingest's INGEST_DEDUPE_CACHE_SIZE (default its own default)
 *   --batch-readings N   the ingest's INGEST_BATCH_MAX_READINGS (default its own default)
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { configWith, type ReadingStore, type StoredReading } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionAggregator, provisionDevice, provisionService } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createIngest, createInfluxReadingStore, createMemoryReadingStore, ingestConfigSchema } from '@wattproof/ingest';
import { startInfluxDb, type TestInfluxDb } from '../test/support/influxdb.js';
import { countReadings } from './lib/influx.js';
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

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      buildings: { type: 'string' },
      meters: { type: 'string' },
      days: { type: 'string' },
      strategy: { type: 'string' },
      connections: { type: 'string' },
      store: { type: 'string' },
      faults: { type: 'string' },
      stub: { type: 'boolean' },
      'dedupe-cache': { type: 'string' },
      progress: { type: 'boolean' },
      'batch-readings': { type: 'string' },
    },
  });
  const buildings = Number(values.buildings ?? 200);
  const meters = Number(values.meters ?? 10);
  const days = Number(values.days ?? 1);
  const strategy = (values.strategy ?? 'aggregator') as 'device' | 'aggregator';

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
  const toMs = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000;
  const fromMs = toMs - days * 86_400_000;
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
