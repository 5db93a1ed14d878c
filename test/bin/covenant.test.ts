/**
 * `wattproof covenant | policy | portfolio` as child processes on the embedded stores of a temp
 * data directory (and once on a real PostgreSQL registry), over the simulated hospital of
 * test/analytics/finance/service.fixture.ts: covenant tests run live with --refresh, re-run
 * --as-of after readings were corrected in between (same figures), a settlement, a price, both
 * portfolios, and usage errors. Also: the demo park's finance registry is valid on today's timeline.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildingProfileSchema, loadConfig, loanBalanceSchema, loanSchema, partySchema, policySchema } from '@wattproof/core';
import { createMvJobs, type FinanceRegistry } from '@wattproof/analytics';
import { createRegistryStore, registryConfigSchema } from '@wattproof/gateway/registry';
import { createReadingStore, readingStoreConfigSchema } from '@wattproof/ingest/stores';
import { chongqingDemoParkTimeline } from '@wattproof/simulators';
import { demoFinanceRegistry } from '../../bin/commands/demo-park.js';
import { runCli } from '../support/processes.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { at, DEFINITION, hospital, LOAN_ID, MAIN, POLICY_ID, seed } from '../analytics/finance/service.fixture.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let dataDir: string;
const env = () => ({ WATTPROOF_DATA_DIR: dataDir, READINGS_STORE: 'embedded', REGISTRY_STORE: 'embedded', REGISTRY_POSTGRES_URL: '', INFLUX_URL: '', LOG_LEVEL: 'silent' });

/** Opens the embedded stores in this process (the CLI must not be running), runs `f`, closes them. */
async function withStores<T>(e: Record<string, string>, f: (s: { readings: ReturnType<typeof createReadingStore>; registry: FinanceRegistry }) => Promise<T>): Promise<T> {
  const readings = createReadingStore(loadConfig(readingStoreConfigSchema, e));
  const registry = createRegistryStore(loadConfig(registryConfigSchema, e));
  await readings.init();
  await registry.init();
  try {
    return await f({ readings, registry });
  } finally {
    await readings.close();
    await registry.close();
  }
}

async function seedAll(e: Record<string, string>): Promise<void> {
  await withStores(e, async ({ readings, registry }) => {
    await seed(readings, registry, hospital(), Date.now() - 60_000);
    await createMvJobs({ readings, registry }).define(DEFINITION);
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'wattproof-covenant-cli-'));
  await seedAll(env());
}, 300_000);

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('wattproof covenant', () => {
  let asOfMs = 0;
  let first: Json[] = [];

  it('tests the covenants live with --refresh and stores them', async () => {
    const r = await runCli(['covenant', 'test', '--loan', LOAN_ID, '--test-date', '2026-01-01', '--refresh', '--json'], env(), 180_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Json;
    asOfMs = out.asOfMs;
    first = out.tests;
    const status = Object.fromEntries(first.map((t) => [t.body.covenantId, t.body.evaluation.status]));
    expect(status).toEqual({ 'savings-5pct': 'pass', 'savings-20pct': 'breach', 'eui-cap': 'pass', 'eui-tight': 'breach', 'carbon-cap': 'pass', 'coverage-95': 'pass', 'label-2-star': 'pass' });
    expect(first[0]!.kind).toBe('finance.covenant_test');
  }, 200_000);

  it('re-runs --as-of after the readings were corrected: the same figures', async () => {
    await withStores(env(), async ({ readings }) => {
      const t = hospital().readings.filter((x) => x.meter === MAIN.meter && x.ts >= at('2025-04-01') && x.ts < at('2025-07-01'));
      await readings.write(t.map((x) => ({ ...x, value: x.value * 2 })));
    });
    const r = await runCli(['covenant', 'test', '--loan', LOAN_ID, '--test-date', '2026-01-01', '--as-of', String(asOfMs), '--json'], env(), 180_000);
    expect(r.code).toBe(0);
    const again = JSON.parse(r.stdout) as Json;
    expect(again.asOfMs).toBe(asOfMs);
    for (const t of again.tests as Json[]) {
      const before = first.find((x) => x.body.covenantId === t.body.covenantId)!;
      expect(t.id).not.toBe(before.id);
      expect(t.body.evaluation, t.body.covenantId).toEqual(before.body.evaluation);
      expect(t.body.lineage.digest).toBe(before.body.lineage.digest);
    }
    // Live, the correction shows.
    const live = await runCli(['covenant', 'test', '--loan', LOAN_ID, '--test-date', '2026-01-01', '--covenant', 'eui-cap'], env(), 180_000);
    expect(live.code).toBe(0);
    expect(live.stdout).toMatch(/^Loan slb-hospital: covenant tests as of .* \(re-run the same figures with --as-of \d+\)/);
    const euiBefore = first.find((x) => x.body.covenantId === 'eui-cap')!.body.evaluation.kpiValue as number;
    const euiLive = Number(/eui-cap .* value ([\d.]+)/.exec(live.stdout)![1]);
    expect(euiLive).toBeGreaterThan(euiBefore * 1.1);
  }, 400_000);

  it('lists the stored tests and reports usage errors and unknown loans', async () => {
    const list = await runCli(['covenant', 'list', '--loan', LOAN_ID, '--covenant', 'eui-cap'], env());
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('Loan slb-hospital: 3 stored covenant tests, newest first');
    const noLoan = await runCli(['covenant', 'test'], env());
    expect(noLoan.code).toBe(2);
    expect(noLoan.stderr).toContain('--loan is required');
    const badAsOf = await runCli(['covenant', 'test', '--loan', LOAN_ID, '--as-of', 'yesterday'], env());
    expect(badAsOf.code).toBe(2);
    const unknown = await runCli(['covenant', 'test', '--loan', 'nope'], env());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('FINANCE_LOAN_UNKNOWN');
  }, 120_000);
});

describe('wattproof policy and portfolio', () => {
  it('settles the first policy year, prices a guarantee, and prints both portfolios', async () => {
    const asOf = JSON.parse((await runCli(['covenant', 'list', '--loan', LOAN_ID, '--covenant', 'savings-5pct', '--json'], env())).stdout).at(-1).body.asOfMs as number;
    const settle = await runCli(['policy', 'settle', '--policy', POLICY_ID, '--period', 'y2025', '--as-of', String(asOf)], env(), 120_000);
    expect(settle.stderr).toBe('');
    expect(settle.code).toBe(0);
    expect(settle.stdout).toMatch(/^Policy esi-hospital, period y2025 \[2025-01-01, 2026-01-01\)/);
    expect(settle.stdout).toMatch(/payout CNY [\d,]+; P\(true savings < guaranteed\)/);
    expect(settle.stdout).not.toContain('NOT SETTLEABLE');

    const price = await runCli(['policy', 'price', '--meter', 'sim/hospital/main', '--guaranteed-kwh', '500000', '--price', '0.8', '--deductible', '0', '--limit', '1000000', '--simulations', '1000', '--seed', '5', '--as-of', String(asOf)], env(), 120_000);
    expect(price.code).toBe(0);
    expect(price.stdout).toContain('weather years (station): sim/weather/station-2024, sim/weather/station-2025');
    expect(price.stdout).toMatch(/P50 [\d,]+ kWh, P90 [\d,]+ kWh/);
    expect((await runCli(['policy', 'price', '--meter', 'sim/hospital/main'], env())).code).toBe(2);

    const lender = await runCli(['portfolio', 'lender', '--party', 'green-bank', '--year', '2025'], env(), 120_000);
    expect(lender.code).toBe(0);
    expect(lender.stdout).toContain('Green Bank (green-bank): building loans in 2025');
    expect(lender.stdout).toMatch(/slb-hospital\s+sustainability_linked_loan\s+attribution 0\.300/);
    const csv = await runCli(['portfolio', 'lender', '--party', 'green-bank', '--year', '2025', '--jrt0227', 'csv'], env(), 120_000);
    expect(csv.code).toBe(0);
    expect(csv.stdout.split('\r\n')[0]).toMatch(/^mapping,reportingYear,institution,/);
    const insurer = await runCli(['portfolio', 'insurer', '--party', 'perf-insurer'], env(), 120_000);
    expect(insurer.code).toBe(0);
    expect(insurer.stdout).toMatch(/y2025\s+\[2025-01-01, 2026-01-01\)\s+settled\s+verified [\d,]+ kWh, payout CNY [\d,]+/);
  }, 400_000);
});

describe('on a PostgreSQL registry', () => {
  let pg: TestPostgres;
  let pgDir: string;
  beforeAll(async () => {
    pg = await startPostgres();
    pgDir = await mkdtemp(join(tmpdir(), 'wattproof-covenant-pg-'));
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
    if (pgDir) await rm(pgDir, { recursive: true, force: true });
  });

  it('tests the covenants and re-runs them as of the first run', async () => {
    const e = { WATTPROOF_DATA_DIR: pgDir, READINGS_STORE: 'embedded', REGISTRY_STORE: 'postgres', REGISTRY_POSTGRES_URL: await pg.createDatabase('covenants'), INFLUX_URL: '', LOG_LEVEL: 'silent' };
    await seedAll(e);
    const r = await runCli(['covenant', 'test', '--loan', LOAN_ID, '--test-date', '2026-01-01', '--refresh', '--json'], e, 180_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Json;
    const status = Object.fromEntries((out.tests as Json[]).map((t) => [t.body.covenantId, t.body.evaluation.status]));
    expect(status['savings-5pct']).toBe('pass');
    expect(status['savings-20pct']).toBe('breach');
    const again = JSON.parse((await runCli(['covenant', 'test', '--loan', LOAN_ID, '--test-date', '2026-01-01', '--as-of', String(out.asOfMs), '--json'], e, 180_000)).stdout) as Json;
    for (const t of again.tests as Json[]) {
      const before = (out.tests as Json[]).find((x) => x.body.covenantId === t.body.covenantId)!;
      expect(t.body.lineage.digest, t.body.covenantId).toBe(before.body.lineage.digest);
      expect(t.body.evaluation.kpiValue).toBe(before.body.evaluation.kpiValue);
      expect(t.body.evaluation.status).toBe(before.body.evaluation.status);
    }
  }, 400_000);
});

describe('the demo park finance registry', () => {
  it('is valid on the timeline of today and of a leap day', () => {
    for (const now of [Date.now(), Date.parse('2028-02-29T12:00:00+08:00')]) {
      const d = demoFinanceRegistry(chongqingDemoParkTimeline(now), 28_000);
      for (const p of d.parties) expect(partySchema.safeParse(p).success).toBe(true);
      for (const p of d.buildingProfiles) expect(buildingProfileSchema.safeParse(p).error).toBeUndefined();
      expect(loanSchema.safeParse(d.loan).error).toBeUndefined();
      for (const b of d.balances) expect(loanBalanceSchema.safeParse(b).error).toBeUndefined();
      expect(policySchema.safeParse(d.policy).error).toBeUndefined();
      // The first savings test's window is the retrofit's first year, the policy's first period.
      const t = chongqingDemoParkTimeline(now);
      expect(d.policy.periods[0]).toMatchObject({ from: t.retrofitFrom });
      expect(d.loan.covenants[0]!.schedule.firstTestDate).toBe(d.policy.periods[0]!.to);
    }
  });
});
