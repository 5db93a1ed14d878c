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

  it('migrates a database at version 1 (with data) to the latest version: records table and indexes', async () => {
    const url = await server!.createDatabase('registry_upgrade');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // What an older release left behind: only migration 1, with a site in it.
      const v1 = REGISTRY_MIGRATIONS.find((m) => m.version === 1)!;
      await client.query(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      await client.query(v1.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [v1.version, v1.name]);
      await client.query(`INSERT INTO sites (id, timezone) VALUES ('old-site', 'Asia/Shanghai')`);

      const store = createPostgresRegistryStore({ connectionString: url });
      await store.init();
      expect((await store.listSites()).map((s) => s.id)).toEqual(['old-site']);
      const [r] = await store.appendRecords([{ kind: 'mv.result', key: 'old-site/b', recordedAtMs: 1, body: { ok: true } }]);
      expect(r!.id).toBe('0000000000000001');
      expect(await store.getRecord(r!.id)).toEqual(r);
      await store.close();

      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((x) => x.version)).toEqual(REGISTRY_MIGRATIONS.map((m) => m.version));
      const idx = await client.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE tablename = 'records' ORDER BY indexname`);
      expect(idx.rows.map((x) => x.indexdef).join('\n')).toContain('(kind, key, id)');
    } finally {
      await client.end();
    }
  });

  it('keeps every digit of record numbers in jsonb and refuses a malformed record cursor', async () => {
    const store = createPostgresRegistryStore({ connectionString: contractDb! });
    await store.init();
    const [r] = await store.appendRecords([{ kind: 'mv.pgdigits', key: 'k', recordedAtMs: 1, body: { sum: 0.1 + 0.2, tiny: 1e-300, big: 9007199254740991, neg: -0 } }]);
    const client = new pg.Client({ connectionString: contractDb! });
    await client.connect();
    try {
      const { rows } = await client.query<{ sum: string; tiny: string; big: string; neg: string; t: string }>(
        `SELECT body->>'sum' AS sum, body->>'tiny' AS tiny, body->>'big' AS big, body->>'neg' AS neg, jsonb_typeof(body->'sum') AS t FROM records WHERE id = $1::bigint`,
        [r!.id],
      );
      expect(rows[0]!.t).toBe('number');
      expect(rows[0]!.sum).toBe('0.30000000000000004');
      expect(Number(rows[0]!.tiny)).toBe(1e-300);
      expect(rows[0]!.big).toBe('9007199254740991');
      expect(rows[0]!.neg).toBe('0');
    } finally {
      await client.end();
    }
    for (const before of ['not-an-id', '12a', '-1', '']) {
      const err = await store.listRecords({ kind: 'mv.pgdigits', before }).catch((e: unknown) => e);
      expect(hasCode(err, 'REGISTRY_INPUT_INVALID'), before).toBe(true);
    }
    expect(hasCode(await store.listRecords({ kind: 'mv.pgdigits', before: '99999999999999999999' }).catch((e: unknown) => e), 'REGISTRY_INPUT_INVALID')).toBe(true);
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
