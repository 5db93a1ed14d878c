import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, it } from 'vitest';
import { createJsonlRegistryStore } from '@wattproof/gateway/registry';
import { createDuckDbReadingStore } from '@wattproof/ingest/stores';
import type { ReadingStore, RegistryStore } from '@wattproof/core';
import { runPipelineScenario } from './scenario.js';

let dir: string;
let readings: ReadingStore;
let registry: RegistryStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wattproof-e2e-'));
  readings = createDuckDbReadingStore({ path: join(dir, 'readings.duckdb') });
  registry = createJsonlRegistryStore({ dir: join(dir, 'registry') });
  await readings.init();
  await registry.init();
});

afterAll(async () => {
  await readings?.close();
  await registry?.close();
  await rm(dir, { recursive: true, force: true });
});

it('embedded stores (DuckDB + JSON lines): 50 devices, 10,000 readings with duplicates, out-of-order and malformed messages', async () => {
  await runPipelineScenario({ readings, registry }, 'e2e-embedded');
}, 180_000);
