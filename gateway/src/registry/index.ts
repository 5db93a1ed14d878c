/**
 * The registry store adapters (memory, embedded JSON lines, PostgreSQL), their config and the
 * factory that picks one from config.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { envInt, envOptionalString, silentLogger, WattproofError, type FinanceStore, type Logger, type RegistryStore } from '@wattproof/core';
import { createJsonlRegistryStore } from './jsonl.js';
import { createMemoryRegistryStore } from './memory.js';
import { createPostgresRegistryStore, DEFAULT_POSTGRES_POOL_SIZE } from './postgres.js';

export {
  createMemoryRegistryStore,
  DEFAULT_SITE_TIMEZONE,
  DEFAULT_DEAD_LETTER_LIMIT,
  MAX_DEAD_LETTER_LIMIT,
  DEFAULT_REGISTER_EVENT_LIMIT,
  MAX_REGISTER_EVENT_LIMIT,
  DEFAULT_RECORD_LIMIT,
  MAX_RECORD_LIMIT,
} from './memory.js';
export { createJsonlRegistryStore, JSONL_FILES, JSONL_FORMAT_VERSION, DEFAULT_MAX_INDEXED_DEAD_LETTERS, type JsonlRegistryStoreOptions } from './jsonl.js';
export {
  createPostgresRegistryStore,
  DEFAULT_POSTGRES_POOL_SIZE,
  DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS,
  DEFAULT_POSTGRES_STATEMENT_TIMEOUT_MS,
  type PostgresRegistryStoreOptions,
} from './postgres.js';
export { REGISTRY_MIGRATIONS, type RegistryMigration } from './migrations.js';
export { REGISTRY_ERRORS, registryError, type RegistryErrorCode } from './errors.js';
export { FINANCE_ENTITIES, type FinanceEntity } from './finance.js';

/** What every registry adapter of this module is: the registry port and the finance registry port. */
export type RegistryAndFinanceStore = RegistryStore & FinanceStore;

/** Values of REGISTRY_STORE. */
export const REGISTRY_STORE_KINDS = ['auto', 'embedded', 'postgres', 'memory'] as const;
export type RegistryStoreKind = (typeof REGISTRY_STORE_KINDS)[number];

/** Sub-directory of WATTPROOF_DATA_DIR holding the embedded registry files. */
export const REGISTRY_DATA_SUBDIR = 'registry';

/** Registry config: keys are environment variable names. */
export const registryConfigSchema = z
  .object({
    REGISTRY_STORE: z
      .enum(REGISTRY_STORE_KINDS)
      .default('auto')
      .describe('Where sites, meters, device credentials and dead letters live: `embedded` (JSON-lines files in the data directory), `postgres`, `memory` (lost on exit; tests), or `auto` = postgres when REGISTRY_POSTGRES_URL is set, else embedded'),
    REGISTRY_POSTGRES_URL: envOptionalString().describe('PostgreSQL connection string for the registry, e.g. `postgresql://wattproof:secret@127.0.0.1:5432/wattproof`'),
    REGISTRY_POSTGRES_POOL_SIZE: envInt(DEFAULT_POSTGRES_POOL_SIZE, 1, 100).describe('Connections to PostgreSQL the registry keeps open at most'),
    WATTPROOF_DATA_DIR: z.string().min(1).default('./data').describe('Directory for embedded data; the embedded registry files go in `<dir>/registry/`'),
  })
  .superRefine((c, ctx) => {
    if (c.REGISTRY_STORE === 'postgres' && c.REGISTRY_POSTGRES_URL === undefined) {
      ctx.addIssue({ code: 'custom', path: ['REGISTRY_POSTGRES_URL'], message: 'required when REGISTRY_STORE=postgres' });
    }
  });

export type RegistryConfig = z.output<typeof registryConfigSchema>;

/** The adapter `REGISTRY_STORE` resolves to (`auto` decided by REGISTRY_POSTGRES_URL). */
export function resolveRegistryStoreKind(config: Pick<RegistryConfig, 'REGISTRY_STORE' | 'REGISTRY_POSTGRES_URL'>): Exclude<RegistryStoreKind, 'auto'> {
  if (config.REGISTRY_STORE !== 'auto') return config.REGISTRY_STORE;
  return config.REGISTRY_POSTGRES_URL === undefined ? 'embedded' : 'postgres';
}

/**
 * Creates the registry store the config asks for; the caller calls `init()` (and `close()`).
 * @throws WattproofError CONFIG_INVALID when postgres is chosen without REGISTRY_POSTGRES_URL.
 */
export function createRegistryStore(config: RegistryConfig, deps: { logger?: Logger } = {}): RegistryAndFinanceStore {
  const logger = deps.logger ?? silentLogger;
  const kind = resolveRegistryStoreKind(config);
  switch (kind) {
    case 'memory':
      return createMemoryRegistryStore();
    case 'embedded':
      return createJsonlRegistryStore({ dir: join(config.WATTPROOF_DATA_DIR, REGISTRY_DATA_SUBDIR), logger });
    case 'postgres': {
      if (config.REGISTRY_POSTGRES_URL === undefined) {
        throw new WattproofError('CONFIG_INVALID', 'invalid configuration:\n  REGISTRY_POSTGRES_URL: required when REGISTRY_STORE=postgres', {
          statusCode: 500,
          details: { problems: ['REGISTRY_POSTGRES_URL: required when REGISTRY_STORE=postgres'] },
        });
      }
      return createPostgresRegistryStore({ connectionString: config.REGISTRY_POSTGRES_URL, poolSize: config.REGISTRY_POSTGRES_POOL_SIZE, logger });
    }
  }
}
