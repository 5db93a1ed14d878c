import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCode } from '@wattproof/core';
import { createPostgresRegistryStore, REGISTRY_MIGRATIONS } from '@wattproof/gateway/registry';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { describeFinanceStore } from './finance-store.js';

let server: TestPostgres | undefined;
let contractDb: string | undefined;

beforeAll(async () => {
  server = await startPostgres();
  contractDb = await server.createDatabase('finance_contract');
});

afterAll(async () => {
  await server?.stop();
});

describeFinanceStore(
  'postgres',
  () => {
    if (!contractDb) throw new Error('PostgreSQL did not start');
    return createPostgresRegistryStore({ connectionString: contractDb, poolSize: 3 });
  },
  { sharedAcrossInstances: true },
);

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe('postgres finance registry: migration 4 and tables', () => {
  it('migrates a database at version 3 (with data) to version 4, keeping every row', async () => {
    const url = await server!.createDatabase('finance_upgrade');
    await withClient(url, async (c) => {
      // What the previous release left behind: migrations 1-3, with a site, a meter, a principal and a record.
      await c.query(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const m of REGISTRY_MIGRATIONS.filter((x) => x.version <= 3)) {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      }
      await c.query(`INSERT INTO sites (id, timezone) VALUES ('yuzhong', 'Asia/Shanghai')`);
      await c.query(`INSERT INTO buildings (site, id, type, floor_area_m2) VALUES ('yuzhong', 'yz-hotel', 'hotel', 28000)`);
      await c.query(`INSERT INTO meters (site, building, id) VALUES ('yuzhong', 'yz-hotel', 'elec-main')`);
      await c.query(`INSERT INTO principals (username, role, site, secret_hash, created_at_ms) VALUES ('aggregator:yuzhong', 'aggregator', 'yuzhong', 'scrypt$1$1$1$a$b', 1)`);
      await c.query(`INSERT INTO records (kind, key, recorded_at_ms, body) VALUES ('mv.adjustment', 'yuzhong/yz-hotel/elec-main', 5, '{"kWh": 12.5}')`);
    });

    const store = createPostgresRegistryStore({ connectionString: url });
    await store.init();
    expect(await store.listMeters()).toEqual([{ site: 'yuzhong', building: 'yz-hotel', meter: 'elec-main' }]);
    expect(await store.listBuildings()).toEqual([{ site: 'yuzhong', id: 'yz-hotel', type: 'hotel', floorAreaM2: 28000 }]);
    expect((await store.getPrincipal('aggregator:yuzhong'))?.site).toBe('yuzhong');
    expect((await store.listRecords({ kind: 'mv.adjustment' })).map((r) => r.body)).toEqual([{ kWh: 12.5 }]);
    await store.putParty({ id: 'bank', name: 'Bank', roles: ['bank'] }, { recordedAtMs: 10 });
    await store.putBuildingProfile({ site: 'yuzhong', building: 'yz-hotel', effectiveFrom: '2025-01-01', type: 'hotel', floorAreaM2: 28000 }, { recordedAtMs: 10 });
    expect((await store.getBuildingProfile({ site: 'yuzhong', building: 'yz-hotel' }, { effectiveOn: '2026-01-01' }))?.value.floorAreaM2).toBe(28000);
    await store.init();
    await store.close();

    await withClient(url, async (c) => {
      const { rows } = await c.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4]);
      const idx = await c.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE tablename LIKE 'finance_%' ORDER BY indexname`);
      const defs = idx.rows.map((r) => r.indexdef).join('\n');
      for (const fragment of ['finance_loans USING btree (lender, id)', 'finance_loan_buildings USING btree (site, building)', 'finance_policies USING btree (insurer, id)', 'finance_building_profiles USING btree (site, building, effective_from, version DESC)', 'finance_parties USING gin (roles)']) {
        expect(defs).toContain(fragment);
      }
    });
  });

  it('keeps typed rows and child tables in step with the stored value, and refuses UPDATE, DELETE and TRUNCATE', async () => {
    const store = createPostgresRegistryStore({ connectionString: contractDb! });
    await store.init();
    await store.putParty({ id: 'pg-bank', name: 'Bank', roles: ['bank'] }, { recordedAtMs: 1 });
    await store.putParty({ id: 'pg-owner', name: 'Owner', roles: ['owner'] }, { recordedAtMs: 1 });
    await store.putLoan(
      {
        id: 'pg-loan',
        borrower: 'pg-owner',
        lender: 'pg-bank',
        kind: 'sustainability_linked_loan',
        assetClass: 'commercial_real_estate',
        currency: 'CNY',
        buildings: [{ site: 'yuzhong', building: 'yz-hotel' }],
        originationDate: '2025-03-01',
        maturityDate: '2030-03-01',
        propertyValueAtOriginationCny: 420_000_000.25,
        baseMarginBp: -15,
        covenants: [{ id: 'eui', kpi: 'eui_kwh_per_m2', scope: { site: 'yuzhong', building: 'yz-hotel' }, operator: '<=', threshold: 150, schedule: { frequency: 'quarterly', firstTestDate: '2025-06-30' } }],
      },
      { recordedAtMs: 2, source: 'test' },
    );
    await withClient(contractDb!, async (c) => {
      const loan = await c.query(`SELECT lender, borrower, origination_date::text AS o, property_value_at_origination_cny::text AS v, source FROM finance_loans WHERE id = 'pg-loan'`);
      expect(loan.rows).toEqual([{ lender: 'pg-bank', borrower: 'pg-owner', o: '2025-03-01', v: '420000000.25', source: 'test' }]);
      const cov = await c.query(`SELECT covenant_id, kpi, operator, threshold, frequency, first_test_date::text AS first, measurement_window_months AS w FROM finance_covenants WHERE loan_id = 'pg-loan'`);
      expect(cov.rows).toEqual([{ covenant_id: 'eui', kpi: 'eui_kwh_per_m2', operator: '<=', threshold: 150, frequency: 'quarterly', first: '2025-06-30', w: 12 }]);
      for (const sql of [`UPDATE finance_loans SET lender = 'x' WHERE id = 'pg-loan'`, `DELETE FROM finance_parties WHERE id = 'pg-bank'`, `TRUNCATE finance_covenants`, `DELETE FROM finance_loan_buildings`]) {
        const err = await c.query(sql).catch((e: unknown) => e as Error);
        expect(err, sql).toBeInstanceOf(Error);
        expect((err as Error).message).toMatch(/append-only/);
      }
    });
    expect((await store.getLoan('pg-loan'))?.value.lender).toBe('pg-bank');
    await store.close();
  });

  it('maps a lost server to retriable REGISTRY_UNAVAILABLE on finance calls', async () => {
    const url = await server!.createDatabase('finance_gone');
    const store = createPostgresRegistryStore({ connectionString: url.replace(/:\d+\//, ':1/'), connectTimeoutMs: 1000 });
    const err = await store.getParty('x').catch((e: unknown) => e);
    expect(hasCode(err, 'REGISTRY_UNAVAILABLE')).toBe(true);
    await store.close();
  });
});
