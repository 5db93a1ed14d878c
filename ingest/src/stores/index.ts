/**
 * Reading-store adapters (memory, embedded DuckDB, InfluxDB), their config and the factory that
 * picks one from it.
 */
import { join } from 'node:path';
import { envInt, type Logger, type ReadingStore } from '@wattproof/core';
import { z } from 'zod';
import { createDuckDbReadingStore, DEFAULT_DUCKDB_THREADS } from './duckdb.js';
import { createInfluxReadingStore, influxOptionsFromConfig, influxStoreConfigShape } from './influxdb.js';
import { createMemoryReadingStore } from './memory.js';

export * from './errors.js';
export * from './buckets.js';
export { createMemoryReadingStore } from './memory.js';
export { createDuckDbReadingStore, type DuckDbReadingStoreOptions } from './duckdb.js';
export * from './influxdb.js';

/** Values of `READINGS_STORE`. */
export const READINGS_STORE_KINDS = ['auto', 'embedded', 'influxdb', 'memory'] as const;
export type ReadingStoreKind = Exclude<(typeof READINGS_STORE_KINDS)[number], 'auto'>;

/** File name of the embedded store inside `WATTPROOF_DATA_DIR`. */
export const EMBEDDED_READINGS_FILE = 'readings.duckdb';

/** Reading-store config; keys are environment variable names. */
export const readingStoreConfigSchema = z.object({
  READINGS_STORE: z
    .enum(READINGS_STORE_KINDS)
    .default('auto')
    .describe('Where readings live: `influxdb`, `embedded` (DuckDB file in the data dir), `memory` (tests; lost on exit), or `auto` = `influxdb` when `INFLUX_URL` is set, else `embedded`.'),
  WATTPROOF_DATA_DIR: z.string().min(1).default('./data').describe('Directory of the embedded stores; readings go to `readings.duckdb` in it.'),
  DUCKDB_THREADS: envInt(DEFAULT_DUCKDB_THREADS, 1, 256).describe(
    'Worker threads of the embedded DuckDB store. One suits its small statements (an ingest batch, one series\' range) and a machine shared with the gateway and ingest; raise it for scans over many millions of readings on an otherwise idle multi-core machine',
  ),
  ...influxStoreConfigShape,
});
export type ReadingStoreConfig = z.output<typeof readingStoreConfigSchema>;

/** The adapter a config selects (`auto` resolved). */
export function resolveReadingStoreKind(config: Pick<ReadingStoreConfig, 'READINGS_STORE' | 'INFLUX_URL'>): ReadingStoreKind {
  if (config.READINGS_STORE !== 'auto') return config.READINGS_STORE;
  return config.INFLUX_URL !== undefined ? 'influxdb' : 'embedded';
}

/**
 * Creates the reading store a config selects; call `init()` on it before use.
 * @throws WattproofError STORE_CONFIG_INVALID when `READINGS_STORE=influxdb` lacks `INFLUX_URL` or the URL does not parse.
 */
export function createReadingStore(config: ReadingStoreConfig, deps: { readonly logger?: Logger } = {}): ReadingStore {
  switch (resolveReadingStoreKind(config)) {
    case 'memory':
      return createMemoryReadingStore();
    case 'embedded':
      return createDuckDbReadingStore({ path: join(config.WATTPROOF_DATA_DIR, EMBEDDED_READINGS_FILE), threads: config.DUCKDB_THREADS, logger: deps.logger });
    case 'influxdb':
      return createInfluxReadingStore(influxOptionsFromConfig(config));
  }
}
