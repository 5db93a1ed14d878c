/**
 * The finance routes through `createApiServer` with `app.inject()` (no socket) and the real auth
 * plugin: memory stores over the simulated hospital of test/analytics/finance/service.fixture.ts,
 * API keys of a lender, an insurer and an admin. Shapes, status codes, 404s for unknown loans,
 * policies and parties, what each role may see, CSV export, and the OpenAPI document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { createFinanceService, createMvJobs } from '@wattproof/analytics';
import { createAccessControl, createApiServer } from '@wattproof/dashboards';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';
import { at, DEFINITION, hospital, LOAN_ID, MAIN, POLICY_ID, seed } from '../analytics/finance/service.fixture.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let now = at('2026-02-01') + 9 * 3_600_000;
const clock = () => now;
let app: FastifyInstance;
const keys: Record<'admin' | 'lender' | 'insurer' | 'otherLender', string> = { admin: '', lender: '', insurer: '', otherLender: '' };

async function call(method: 'GET' | 'POST', url: string, key?: string, body?: unknown) {
  const res = await app.inject({ method, url, headers: key ? { authorization: `Bearer ${key}` } : {}, ...(body !== undefined ? { payload: body as Json } : {}) });
  let json: Json = {};
  try {
    json = res.json();
  } catch {
    // CSV and other text bodies
  }
  return { status: res.statusCode, body: json, text: res.body, headers: res.headers };
}

beforeAll(async () => {
  const readings = createMemoryReadingStore();
  await readings.init();
  const registry = createMemoryRegistryStore();
  await registry.init();
  const truth = hospital();
  await seed(readings, registry, truth, now - 86_400_000);
  await registry.putParty({ id: 'other-bank', name: 'Other Bank', roles: ['bank'] }, { recordedAtMs: now - 86_400_000 });
  const jobs = createMvJobs({ readings, registry, clock });
  await jobs.define(DEFINITION);
  const finance = createFinanceService({ readings, registry, jobs, clock });
  const access = createAccessControl({ registry, clock });
  const make = async (role: 'admin' | 'lender' | 'insurer', party?: string) => (await access.createKey({ role, ...(party ? { party } : {}), label: `test ${role}`, createdBy: 'test' })).key;
  keys.admin = await make('admin');
  keys.lender = await make('lender', 'green-bank');
  keys.insurer = await make('insurer', 'perf-insurer');
  keys.otherLender = await make('lender', 'other-bank');
  app = await createApiServer({ readings, registry, metrics: new Registry(), clock, jobs, finance, access }, { console: false });
}, 300_000);

afterAll(async () => {
  await app?.close();
});

describe('finance registry routes', () => {
  it('lists parties, profiles, loans and policies for an admin', async () => {
    const parties = await call('GET', '/api/v1/finance/parties', keys.admin);
    expect(parties.status).toBe(200);
    expect(parties.body.parties.map((p: Json) => p.value.id)).toEqual(['green-bank', 'hospital-co', 'other-bank', 'perf-insurer']);
    expect((await call('GET', '/api/v1/finance/parties?role=insurer', keys.admin)).body.parties.map((p: Json) => p.value.id)).toEqual(['perf-insurer']);
    expect((await call('GET', '/api/v1/finance/parties/green-bank', keys.admin)).body.history).toHaveLength(1);
    expect((await call('GET', '/api/v1/finance/parties/nobody', keys.admin)).body.error.code).toBe('FINANCE_PARTY_UNKNOWN');
    const profiles = await call('GET', '/api/v1/finance/buildings/sim/hospital/profiles?on=2026-01-01', keys.admin);
    expect(profiles.status).toBe(200);
    expect(profiles.body.inForce.value.label.level).toBe('2-star');
    expect((await call('GET', '/api/v1/finance/buildings/sim/nowhere/profiles', keys.admin)).status).toBe(404);
    const loans = await call('GET', '/api/v1/finance/loans', keys.admin);
    expect(loans.body.loans.map((l: Json) => l.value.id)).toEqual([LOAN_ID]);
    expect((await call('GET', `/api/v1/finance/policies?insurer=perf-insurer`, keys.admin)).body.policies.map((p: Json) => p.value.id)).toEqual([POLICY_ID]);
  });

  it('shows a lender its loan with history and balances, and answers 404 for an unknown loan', async () => {
    const loan = await call('GET', `/api/v1/finance/loans/${LOAN_ID}`, keys.lender);
    expect(loan.status).toBe(200);
    expect(loan.body.loan.value.covenants).toHaveLength(7);
    expect(loan.body.loan.version).toBe(1);
    expect((await call('GET', `/api/v1/finance/loans/${LOAN_ID}/history`, keys.lender)).body.history).toHaveLength(1);
    const balances = await call('GET', `/api/v1/finance/loans/${LOAN_ID}/balances?on=2025-06-30`, keys.lender);
    expect(balances.body.inForce.value.outstandingCny).toBe(120_000_000);
    const before = await call('GET', `/api/v1/finance/loans/${LOAN_ID}?asOf=${at('2024-01-01')}`, keys.lender);
    expect(before.status).toBe(404);
    expect(before.body.error.code).toBe('FINANCE_LOAN_UNKNOWN');
    const unknown = await call('GET', '/api/v1/finance/loans/no-such-loan', keys.admin);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('FINANCE_LOAN_UNKNOWN');
    expect((await call('GET', '/api/v1/finance/loans?lender=green-bank', keys.lender)).body.loans).toHaveLength(1);
  });

  it('keeps finance data behind keys and roles', async () => {
    expect((await call('GET', `/api/v1/finance/loans/${LOAN_ID}`)).status).toBe(401);
    // Another bank's key neither sees the loan nor learns that it exists.
    expect((await call('GET', `/api/v1/finance/loans/${LOAN_ID}`, keys.otherLender)).status).toBe(404);
    expect((await call('GET', '/api/v1/finance/parties', keys.lender)).status).toBe(403);
    expect((await call('GET', `/api/v1/finance/policies/${POLICY_ID}`, keys.lender)).status).toBe(404);
    expect((await call('GET', '/api/v1/finance/portfolio/lender/green-bank?year=2025', keys.insurer)).status).toBe(404);
    expect((await call('POST', '/api/v1/finance/pricing', keys.lender, { ...MAIN, guaranteedSavingsKwh: 1, contractPriceCnyPerKwh: 1, deductibleCny: 0, limitCny: 1 })).status).toBe(403);
  });
});

describe('covenant tests, settlements, pricing and portfolios', () => {
  let asOfMs = 0;

  it('runs the covenant tests, stores them, lists them and serves one by id', async () => {
    const run = await call('POST', `/api/v1/finance/loans/${LOAN_ID}/covenant-tests`, keys.lender, { refresh: true });
    expect(run.status).toBe(201);
    asOfMs = run.body.asOfMs;
    expect(run.body.asOf).toBe(new Date(asOfMs).toISOString());
    const byId = Object.fromEntries(run.body.tests.map((t: Json) => [t.covenantId, t]));
    expect(Object.keys(byId).sort()).toEqual(['carbon-cap', 'coverage-95', 'eui-cap', 'eui-tight', 'label-2-star', 'savings-20pct', 'savings-5pct']);
    expect(byId['savings-5pct'].status).toBe('pass');
    expect(byId['savings-5pct'].marginStepBp).toBe(-5);
    expect(byId['savings-20pct'].status).toBe('breach');
    expect(byId['eui-cap'].status).toBe('pass');
    expect(byId['savings-5pct'].record.evaluation.evidence.sources).toHaveLength(1);
    expect(byId['savings-5pct'].lineageDigest).toMatch(/^[0-9a-f]{64}$/);

    const listed = await call('GET', `/api/v1/finance/loans/${LOAN_ID}/covenant-tests?covenantId=savings-5pct`, keys.lender);
    expect(listed.body.tests.map((t: Json) => t.id)).toEqual([byId['savings-5pct'].id]);
    const one = await call('GET', `/api/v1/finance/results/${byId['eui-cap'].id}`, keys.lender);
    expect(one.status).toBe(200);
    expect(one.body.kind).toBe('finance.covenant_test');
    expect(one.body.covenantTest.kpiValue).toBe(byId['eui-cap'].kpiValue);
    expect((await call('GET', `/api/v1/finance/results/${byId['eui-cap'].id}`, keys.otherLender)).status).toBe(404);
    expect((await call('GET', '/api/v1/finance/results/0000000000009999', keys.admin)).body.error.code).toBe('FINANCE_RESULT_UNKNOWN');

    // The same test as of the same instant: the same figures.
    now += 3_600_000;
    const again = await call('POST', `/api/v1/finance/loans/${LOAN_ID}/covenant-tests`, keys.lender, { asOf: new Date(asOfMs).toISOString(), covenantId: 'eui-cap' });
    expect(again.status).toBe(201);
    expect(again.body.tests[0].record.evaluation).toEqual(byId['eui-cap'].record.evaluation);
    expect(again.body.tests[0].lineageDigest).toBe(byId['eui-cap'].lineageDigest);
  });

  it('answers 400 for a malformed run and 422 for a test date no covenant has', async () => {
    const bad = await call('POST', `/api/v1/finance/loans/${LOAN_ID}/covenant-tests`, keys.lender, { testDate: '2026-13-01' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('API_REQUEST_INVALID');
    const extra = await call('POST', `/api/v1/finance/loans/${LOAN_ID}/covenant-tests`, keys.lender, { colour: 'red' });
    expect(extra.status).toBe(400);
    const unscheduled = await call('POST', `/api/v1/finance/loans/${LOAN_ID}/covenant-tests`, keys.lender, { testDate: '2026-01-02' });
    expect(unscheduled.status).toBe(422);
    expect(unscheduled.body.error.code).toBe('FINANCE_TEST_DATE_NOT_SCHEDULED');
    expect((await call('POST', `/api/v1/finance/loans/nope/covenant-tests`, keys.admin, {})).status).toBe(404);
  });

  it('settles a policy period for the insurer and lists the settlement', async () => {
    const s = await call('POST', `/api/v1/finance/policies/${POLICY_ID}/periods/y2025/settlement`, keys.insurer, { asOfMs });
    expect(s.status).toBe(201);
    expect(s.body.payoutCny).toBeGreaterThan(0);
    expect(s.body.payoutCny).toBeCloseTo(Math.min(5_000_000, Math.max(0, s.body.shortfallKwh * 0.8 - 10_000)), 6);
    expect(s.body.shortfallKwh).toBeCloseTo(s.body.guaranteedKwh - s.body.verifiedKwh, 6);
    expect(s.body.settleable).toBe(true);
    expect((await call('GET', `/api/v1/finance/policies/${POLICY_ID}/periods/y2025/settlements`, keys.insurer)).body.settlements.map((x: Json) => x.id)).toEqual([s.body.id]);
    expect((await call('GET', `/api/v1/finance/policies/${POLICY_ID}/settlements`, keys.insurer)).body.settlements).toHaveLength(1);
    const open = await call('POST', `/api/v1/finance/policies/${POLICY_ID}/periods/y2026/settlement`, keys.insurer, {});
    expect(open.status).toBe(422);
    expect(open.body.error.code).toBe('FINANCE_PERIOD_OPEN');
    const unknownPeriod = await call('POST', `/api/v1/finance/policies/${POLICY_ID}/periods/y1999/settlement`, keys.insurer, {});
    expect(unknownPeriod.status).toBe(404);
    expect(unknownPeriod.body.error.code).toBe('FINANCE_POLICY_PERIOD_UNKNOWN');
    expect((await call('GET', `/api/v1/finance/policies/no-policy`, keys.admin)).body.error.code).toBe('FINANCE_POLICY_UNKNOWN');
  });

  it('prices a guarantee for an insurer', async () => {
    const r = await call('POST', '/api/v1/finance/pricing', keys.insurer, { ...MAIN, guaranteedSavingsKwh: 500_000, contractPriceCnyPerKwh: 0.8, deductibleCny: 0, limitCny: 1_000_000, simulations: 1_000, seed: 3, asOfMs });
    expect(r.status).toBe(200);
    expect(r.body.basis.weatherYearsSource).toBe('station');
    expect(r.body.pricing.savings.P90).toBeLessThan(r.body.pricing.savings.P50);
    expect(r.body.pricing.indicativePremiumCny).toBeCloseTo(r.body.pricing.expectedLossCny * 1.3, 6);
    const none = await call('POST', '/api/v1/finance/pricing', keys.insurer, { ...MAIN, meter: 'nothing', guaranteedSavingsKwh: 1, contractPriceCnyPerKwh: 1, deductibleCny: 0, limitCny: 1 });
    expect(none.status).toBe(422);
    expect(none.body.error.code).toBe('FINANCE_EVIDENCE_MISSING');
  });

  it('serves the lender portfolio and its JR/T 0227 rows as JSON and CSV', async () => {
    const p = await call('GET', '/api/v1/finance/portfolio/lender/green-bank?year=2025', keys.lender);
    expect(p.status).toBe(200);
    expect(p.body.report.loans.map((l: Json) => l.loanId)).toEqual([LOAN_ID]);
    expect(p.body.report.totals.weightedScore).toBe(2);
    expect(p.body.trend.map((t: Json) => t.year)).toEqual([2023, 2024, 2025]);
    const rows = await call('GET', `/api/v1/finance/portfolio/lender/green-bank/jrt0227?year=2025&asOf=${p.body.asOfMs}`, keys.lender);
    expect(rows.body.rows).toHaveLength(1);
    expect(rows.body.rows[0].financedEmissionsTco2e).toBeCloseTo(p.body.report.totals.financedEmissionsTco2e, 9);
    const csv = await call('GET', `/api/v1/finance/portfolio/lender/green-bank/jrt0227?year=2025&format=csv&asOf=${p.body.asOfMs}`, keys.lender);
    expect(csv.status).toBe(200);
    expect(String(csv.headers['content-type'])).toMatch(/^text\/csv/);
    expect(csv.text.split('\r\n')[0]).toMatch(/^mapping,reportingYear,institution,assetClass,loanKind,/);
    expect(csv.text.split('\r\n')[1]).toContain(',Green Bank,commercial_real_estate,sustainability_linked_loan,1,');
    expect((await call('GET', '/api/v1/finance/portfolio/lender/perf-insurer?year=2025', keys.admin)).body.error.code).toBe('FINANCE_PARTY_UNKNOWN');
  });

  it('serves the insurer portfolio', async () => {
    const p = await call('GET', '/api/v1/finance/portfolio/insurer/perf-insurer', keys.insurer);
    expect(p.status).toBe(200);
    expect(p.body.policies[0].periods.map((x: Json) => x.state)).toEqual(['settled', 'open']);
    expect(p.body.totals.paidCny).toBeGreaterThan(0);
    expect(p.body.pricing.policies).toBe(1);
  });
});

describe('OpenAPI', () => {
  it('lists every finance route under the finance tag, each with its access declared', async () => {
    const doc = (await call('GET', '/docs/json')).body;
    const finance = Object.entries(doc.paths as Json)
      .filter(([p]) => p.startsWith('/api/v1/finance'))
      .flatMap(([p, ops]) => Object.keys(ops as Json).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    expect(finance).toEqual([
      'GET /api/v1/finance/buildings',
      'GET /api/v1/finance/buildings/{site}/{building}/profiles',
      'GET /api/v1/finance/loans',
      'GET /api/v1/finance/loans/{id}',
      'GET /api/v1/finance/loans/{id}/balances',
      'GET /api/v1/finance/loans/{id}/covenant-tests',
      'GET /api/v1/finance/loans/{id}/history',
      'GET /api/v1/finance/parties',
      'GET /api/v1/finance/parties/{id}',
      'GET /api/v1/finance/policies',
      'GET /api/v1/finance/policies/{id}',
      'GET /api/v1/finance/policies/{id}/periods/{period}/settlements',
      'GET /api/v1/finance/policies/{id}/settlements',
      'GET /api/v1/finance/portfolio/insurer/{party}',
      'GET /api/v1/finance/portfolio/lender/{party}',
      'GET /api/v1/finance/portfolio/lender/{party}/jrt0227',
      'GET /api/v1/finance/results/{id}',
      'POST /api/v1/finance/loans/{id}/covenant-tests',
      'POST /api/v1/finance/policies/{id}/periods/{period}/settlement',
      'POST /api/v1/finance/pricing',
    ]);
    for (const [p, ops] of Object.entries(doc.paths as Json)) {
      if (!p.startsWith('/api/v1/finance')) continue;
      for (const op of Object.values(ops as Json)) expect((op as Json).tags, p).toEqual(['finance']);
    }
    const run = doc.paths['/api/v1/finance/loans/{id}/covenant-tests'].post;
    expect(JSON.stringify(run.requestBody)).toContain('"example"');
    const guarded = (app as unknown as { guardedRoutes?: Array<{ method: string; url: string }> }).guardedRoutes;
    if (guarded) expect(guarded.filter((g) => g.url.startsWith('/api/v1/finance') && g.method !== 'HEAD').length).toBe(finance.length);
  });
});
