import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCode } from '@wattproof/core';
import { createPostgresRegistryStore, REGISTRY_MIGRATIONS } from '@wattproof/gateway/registry';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { freePort } from '../support/net.js';
import { describeRegistryStore } from './registry-store.js';

let server: TestPostgres | undefined;
let contractDb: string | undefined;

beforeAll(async () => {
  server = await startPostgres();
  contractDb = await server.createDatabase('registry_contract');
});

afterAll(async () => {
  await server?.stop();
});

describeRegistryStore(
  'postgres',
  () => {
    if (!contractDb) throw new Error('PostgreSQL did not start');
    return createPostgresRegistryStore({ connectionString: contractDb, poolSize: 3 });
  },
  { sharedAcrossInstances: true },
);

describe('postgres registry store: migrations and failures', () => {
  it('applies migrations once, even when several processes start together', async () => {
    const url = await server!.createDatabase('registry_migrations');
    const stores = Array.from({ length: 4 }, () => createPostgresRegistryStore({ connectionString: url, poolSize: 2 }));
    await Promise.all(stores.map((s) => s.init()));
    await stores[0]!.init();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: number; applied_at: Date }>('SELECT version, applied_at FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(REGISTRY_MIGRATIONS.map((m) => m.version));
      expect(rows.every((r) => r.applied_at instanceof Date)).toBe(true);
      // A newer version's migration makes older code refuse to run.
      await client.query(`INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')`);
    } finally {
      await client.end();
    }
    const err = await stores[1]!.init().catch((e: unknown) => e);
    expect(hasCode(err, 'REGISTRY_SCHEMA_TOO_NEW')).toBe(true);
    for (const s of stores) await s.close();
  });

  it('stores only the secret hash in principals', async () => {
    const url = await server!.createDatabase('registry_columns');
    const store = createPostgresRegistryStore({ connectionString: url });
    await store.init();
    await store.putPrincipal({ username: 'svc', role: 'service', secretHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA', createdAtMs: 1 });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'principals' ORDER BY ordinal_position`);
      const columns = rows.map((r: { column_name: string }) => r.column_name);
      expect(columns).toContain('secret_hash');
      expect(columns.filter((c: string) => /secret/.test(c))).toEqual(['secret_hash']);
    } finally {
      await client.end();
    }
    await store.close();
  });

  it('rejects a malformed dead-letter cursor with REGISTRY_INPUT_INVALID', async () => {
    const store = createPostgresRegistryStore({ connectionString: contractDb! });
    await store.init();
    const err = await store.listDeadLetters({ before: 'not-an-id' }).catch((e: unknown) => e);
    expect(hasCode(err, 'REGISTRY_INPUT_INVALID')).toBe(true);
    await store.close();
  });

  it('reports an unreachable server as retriable REGISTRY_UNAVAILABLE and ping false', async () => {
    const port = await freePort();
    const store = createPostgresRegistryStore({ connectionString: `postgresql://postgres@127.0.0.1:${port}/nothing`, connectTimeoutMs: 2000 });
    const err = await store.init().catch((e: unknown) => e);
    expect(hasCode(err, 'REGISTRY_UNAVAILABLE')).toBe(true);
    expect((err as { retriable?: boolean }).retriable).toBe(true);
    expect(await store.ping()).toBe(false);
    await store.close();
  });
});
