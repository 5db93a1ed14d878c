import { afterAll, beforeAll, it } from 'vitest';
import { createPostgresRegistryStore } from '@wattproof/gateway/registry';
import { createInfluxReadingStore } from '@wattproof/ingest/stores';
import type { ReadingStore, RegistryStore } from '@wattproof/core';
import { startInfluxDb, type TestInfluxDb } from '../support/influxdb.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { runPipelineScenario } from './scenario.js';

let influx: TestInfluxDb;
let pg: TestPostgres;
let readings: ReadingStore;
let registry: RegistryStore;

beforeAll(async () => {
  [influx, pg] = await Promise.all([startInfluxDb(), startPostgres()]);
  readings = createInfluxReadingStore({ url: influx.url, database: influx.database });
  registry = createPostgresRegistryStore({ connectionString: await pg.createDatabase('e2e') });
  await readings.init();
  await registry.init();
});

afterAll(async () => {
  await readings?.close();
  await registry?.close();
  await influx?.stop();
  await pg?.stop();
});

it('InfluxDB + PostgreSQL (real servers): 50 devices, 10,000 readings with duplicates, out-of-order and malformed messages', async () => {
  await runPipelineScenario({ readings, registry }, 'e2e-influx');
}, 180_000);
