/**
 * The finance service on memory stores over a simulated building with known savings (see
 * service.fixture.ts): covenants that must pass pass and those that must fail fail, a policy
 * with a known shortfall pays the amount computed by hand (and close to the truth), tests re-run
 * as of their instant give the same bytes after readings are corrected and M&V re-run, pricing
 * on the station's weather years, and the lender and insurer portfolios.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, createFinanceService, referenceData, createMvJobs, jrt0227Csv, type CovenantTestRecord, type FinanceService, type MvJobs } from '@wattproof/analytics';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';
import type { ReadingStore, StoredReading } from '@wattproof/core';
import { at, DEFINITION, FLOOR_AREA_M2, hospital, LOAN_ID, MAIN, POLICY_ID, seed, type SimulatedTruth } from './service.fixture.js';

let now = at('2026-02-01') + 9 * 3_600_000;
const clock = () => now;
let truth: SimulatedTruth;
let readings: ReadingStore;
let registry: ReturnType<typeof createMemoryRegistryStore>;
let jobs: MvJobs;
let finance: FinanceService;
let first: Map<string, CovenantTestRecord>;
let firstAsOf: number;

const figures = (r: CovenantTestRecord) => canonicalJson({ evaluation: r.body.evaluation, evidence: r.body.evidence, lineage: r.body.lineage, testDate: r.body.testDate, asOfMs: r.body.asOfMs });

beforeAll(async () => {
  truth = hospital();
  readings = createMemoryReadingStore();
  await readings.init();
  registry = createMemoryRegistryStore();
  await registry.init();
  await seed(readings, registry, truth, now - 86_400_000);
  jobs = createMvJobs({ readings, registry, clock });
  await jobs.define(DEFINITION);
  finance = createFinanceService({ readings, registry, jobs, clock });
  const run = await finance.testCovenants(LOAN_ID, { refresh: true });
  firstAsOf = run.asOfMs;
  first = new Map(run.tests.map((t) => [t.record.body.covenantId, t.record]));
}, 300_000);

describe('covenant tests on a simulated building with known savings', () => {
  it('runs every covenant on its latest test date and stores each result with its lineage', async () => {
    expect([...first.keys()].sort()).toEqual(['carbon-cap', 'coverage-95', 'eui-cap', 'eui-tight', 'label-2-star', 'savings-20pct', 'savings-5pct']);
    expect(first.get('coverage-95')!.body.testDate).toBe('2026-01-01');
    for (const r of first.values()) {
      expect(r.kind).toBe('finance.covenant_test');
      expect(r.key).toBe(`${LOAN_ID}/${r.body.covenantId}`);
      expect(r.body.asOfMs).toBe(firstAsOf);
      expect(r.body.lineage.method).toEqual({ name: 'wattproof.finance.service', version: '1.0.0' });
      expect(r.body.lineage.inputsDigest).toMatch(/^[0-9a-f]{64}$/);
      expect(r.body.evaluation.lineage.method.name).toBe('wattproof.covenant');
      expect(r.body.evidence.records.some((u) => u.kind === 'finance.loan')).toBe(true);
      expect(await registry.getRecord(r.id)).toEqual(r);
    }
    expect((await finance.listCovenantTests(LOAN_ID)).length).toBe(7);
    expect((await finance.listCovenantTests(LOAN_ID, { covenantId: 'eui-cap' })).map((r) => r.id)).toEqual([first.get('eui-cap')!.id]);
  });

  it('passes the savings covenant below the true saving and breaches the one above it, from the refreshed M&V result', async () => {
    const pass = first.get('savings-5pct')!.body;
    const fail = first.get('savings-20pct')!.body;
    expect(pass.run.refreshed).toHaveLength(1);
    const mv = await registry.getRecord(pass.run.refreshed[0]!);
    const result = (mv!.body as { result: { savings: { fraction: number } } }).result;
    expect(pass.evaluation.status).toBe('pass');
    expect(pass.evaluation.marginStepBp).toBe(-5);
    expect(pass.evaluation.kpiValue).toBeCloseTo(result.savings.fraction, 12);
    expect(Math.abs(pass.evaluation.kpiValue! - truth.fraction)).toBeLessThan(0.02);
    expect(pass.evaluation.evidence.sources[0]!.resultId).toBe(mv!.id);
    expect(pass.evidence.records.map((u) => u.kind)).toEqual(expect.arrayContaining(['mv.result', 'mv.inputs']));
    expect(fail.evaluation.status).toBe('breach');
    expect(fail.evaluation.marginStepBp).toBe(5);
  });

  it('computes EUI, carbon intensity and coverage from the readings with the profile floor area', () => {
    const eui = first.get('eui-cap')!.body.evaluation;
    expect(eui.status).toBe('pass');
    expect(eui.kpiValue).toBeCloseTo((truth.used2025Kwh / FLOOR_AREA_M2) * (365 / 365), 6);
    expect(first.get('eui-tight')!.body.evaluation.status).toBe('breach');
    const carbon = first.get('carbon-cap')!.body.evaluation;
    const detail = carbon.evidence.observation!.detail as { eui: number; factorId: string; factorKgPerKwh: number };
    expect(detail.eui).toBeCloseTo(eui.kpiValue!, 9);
    expect(carbon.kpiValue).toBeCloseTo(detail.eui * detail.factorKgPerKwh, 9);
    expect(detail.factorId).toMatch(/[a-z]/);
    expect(carbon.lineage.referenceData.map((r) => r.id)).toContain(referenceData().factors.version.id);
    const coverage = first.get('coverage-95')!.body.evaluation;
    expect(coverage.status).toBe('pass');
    expect(coverage.kpiValue).toBe(1);
    expect(coverage.evidence.window).toEqual({ start: '2025-10-01', end: '2026-01-01' });
    // Trailing windows at the earlier month ends feed the trend.
    expect(eui.projection.basis).toBe('linear_trend');
    expect(eui.projection.series.length).toBe(12);
  });

  it('tests the label from the building profile in force on the test date', () => {
    const label = first.get('label-2-star')!.body.evaluation;
    expect(label.status).toBe('pass');
    expect(label.kpiValue).toBe(2);
  });

  it('re-runs as of the first instant to the same bytes after readings are corrected and M&V re-run', async () => {
    now += 86_400_000;
    // A correction of March–May 2025 (+40 %) and a late backfill: readings overwrite in the store.
    const corrected: StoredReading[] = truth.readings
      .filter((r) => r.meter === MAIN.meter && r.ts >= at('2025-03-01') && r.ts < at('2025-06-01'))
      .map((r) => ({ ...r, value: r.value * 1.4 }));
    await readings.write(corrected);
    const rerunMv = await jobs.run(DEFINITION);
    expect(rerunMv.body.result.savings.fraction).toBeLessThan((await jobs.rederive(first.get('savings-5pct')!.body.run.refreshed[0]!))!.original.savings.fraction! - 0.05);

    now += 3_600_000;
    const again = await finance.testCovenants(LOAN_ID, { asOfMs: firstAsOf });
    expect(again.tests).toHaveLength(7);
    for (const t of again.tests) {
      expect(t.record.id).not.toBe(first.get(t.record.body.covenantId)!.id);
      expect(t.record.body.run.live).toBe(false);
      expect(figures(t.record), t.record.body.covenantId).toBe(figures(first.get(t.record.body.covenantId)!));
    }

    // Live, the correction and the newer M&V result are what counts.
    now += 3_600_000;
    const live = new Map((await finance.testCovenants(LOAN_ID)).tests.map((t) => [t.record.body.covenantId, t.record.body]));
    expect(live.get('eui-cap')!.evaluation.kpiValue!).toBeGreaterThan(first.get('eui-cap')!.body.evaluation.kpiValue! * 1.05);
    expect(live.get('savings-5pct')!.evaluation.kpiValue).toBeCloseTo(rerunMv.body.result.savings.fraction!, 12);
    expect(live.get('savings-5pct')!.evaluation.evidence.sources[0]!.resultId).toBe(rerunMv.id);
  });

  it('refuses a test date no covenant has, a refresh in the past, and an unknown loan', async () => {
    await expect(finance.testCovenants(LOAN_ID, { testDate: '2026-01-02' })).rejects.toMatchObject({ code: 'FINANCE_TEST_DATE_NOT_SCHEDULED', statusCode: 422 });
    await expect(finance.testCovenants(LOAN_ID, { asOfMs: firstAsOf, refresh: true })).rejects.toMatchObject({ code: 'FINANCE_REFRESH_UNAVAILABLE' });
    await expect(finance.testCovenants('nope')).rejects.toMatchObject({ code: 'FINANCE_LOAN_UNKNOWN', statusCode: 404 });
    await expect(finance.testCovenants(LOAN_ID, { asOfMs: at('2024-01-01') })).rejects.toMatchObject({ code: 'FINANCE_LOAN_UNKNOWN' });
    const one = await finance.testCovenants(LOAN_ID, { testDate: '2025-10-01', asOfMs: firstAsOf });
    expect(one.tests.map((t) => t.record.body.covenantId)).toEqual(['coverage-95']);
    expect(one.skipped.map((s) => s.covenantId)).toContain('savings-5pct');
  });
});

describe('settlement, pricing and portfolios', () => {
  it('pays a known shortfall the amount computed by hand, close to the truth', async () => {
    const policy = (await registry.getPolicy(POLICY_ID))!.value;
    const G = policy.periods[0]!.guaranteedSavingsKwh;
    // Settle as of the first instant: the M&V result of the refresh, before the correction.
    const { record } = await finance.settlePolicyPeriod(POLICY_ID, 'y2025', { asOfMs: firstAsOf });
    const mv = await registry.getRecord(first.get('savings-5pct')!.body.run.refreshed[0]!);
    const V = (mv!.body as { result: { savings: { adjusted: { avoided: number } } } }).result.savings.adjusted.avoided;
    const claim = record.body.claim;
    expect(claim.figures.verifiedKwh).toBe(V);
    expect(claim.figures.shortfallKwh).toBeCloseTo(G - V, 6);
    expect(claim.figures.payoutCny).toBeCloseTo(Math.min(5_000_000, Math.max(0, (G - V) * 0.8 - 10_000)), 6);
    expect(claim.figures.payoutCny).toBeGreaterThan(0);
    expect(claim.settleable).toBe(true);
    const band = (mv!.body as { result: { savings: { uncertainty: Array<{ confidence: number; absolute: number }> } } }).result.savings.uncertainty.find((u) => u.confidence === 0.9)!.absolute;
    expect(Math.abs(claim.figures.payoutCny - ((G - truth.avoidedKwh) * 0.8 - 10_000))).toBeLessThan(band * 0.8);
    expect(record.body.evidence.records.map((u) => u.id)).toContain(mv!.id);
    expect((await finance.listSettlements(POLICY_ID)).map((r) => r.id)).toEqual([record.id]);
    expect((await finance.getResult(record.id)).kind).toBe('finance.settlement');
  });

  it('refuses an open period, an unknown period and an unknown policy', async () => {
    await expect(finance.settlePolicyPeriod(POLICY_ID, 'y2026')).rejects.toMatchObject({ code: 'FINANCE_PERIOD_OPEN' });
    await expect(finance.settlePolicyPeriod(POLICY_ID, 'y2030')).rejects.toMatchObject({ code: 'FINANCE_POLICY_PERIOD_UNKNOWN', statusCode: 404 });
    await expect(finance.settlePolicyPeriod('nope', 'y2025')).rejects.toMatchObject({ code: 'FINANCE_POLICY_UNKNOWN', statusCode: 404 });
    await expect(finance.getResult('nope')).rejects.toMatchObject({ code: 'FINANCE_RESULT_UNKNOWN' });
  });

  it('prices a guarantee on the weather station years, reproducibly with a seed', async () => {
    const request = { ...MAIN, guaranteedSavingsKwh: truth.avoidedKwh * 0.8, contractPriceCnyPerKwh: 0.8, deductibleCny: 0, limitCny: 1e7, seed: 7, simulations: 2_000 };
    // As of the first instant: the M&V result before the correction.
    const q = await finance.pricePolicy(request, { asOfMs: firstAsOf });
    expect(q.basis.weatherYearsSource).toBe('station');
    expect(q.pricing.weatherYears.map((y) => y.id)).toEqual(['sim/weather/station-2024', 'sim/weather/station-2025']);
    expect(q.pricing.savings.P90).toBeLessThan(q.pricing.savings.P50);
    expect(q.pricing.probabilityOfShortfall).toBeGreaterThanOrEqual(0);
    expect(q.pricing.probabilityOfShortfall).toBeLessThan(0.5);
    expect(canonicalJson(await finance.pricePolicy(request, { asOfMs: firstAsOf }))).toBe(canonicalJson(q));
    const typical = await finance.pricePolicy({ ...request, weatherYears: 'typical' }, { asOfMs: firstAsOf });
    expect(typical.pricing.weatherYears.map((y) => y.id)).toEqual(['chongqing-tmyx-2009-2023']);
    await expect(finance.pricePolicy({ ...request, meter: 'none' })).rejects.toMatchObject({ code: 'FINANCE_EVIDENCE_MISSING' });
  });

  it('reports the lender portfolio (PCAF) with metered energy, the trend and JR/T 0227 rows', async () => {
    // Before any live run, nothing was recorded about 2025's energy: the as-of book has no metered energy.
    await expect(finance.lenderPortfolio('green-bank', { year: 2025, asOfMs: firstAsOf })).rejects.toMatchObject({ code: 'FINANCE_LOAN_DATA_MISSING' });
    const p = await finance.lenderPortfolio('green-bank', { year: 2025 });
    expect(p.report.loans.map((l) => l.loanId)).toEqual([LOAN_ID]);
    const loan = p.report.loans[0]!;
    expect(loan.attribution).toBeCloseTo(120 / 400, 12);
    expect(loan.score).toBe(2);
    // The metered 2025 energy, with the March–May correction (+40 %) written above.
    const correction = truth.readings.filter((r) => r.meter === MAIN.meter && r.ts >= at('2025-03-01') && r.ts < at('2025-06-01')).reduce((a, r) => a + 0.4 * r.value, 0);
    expect(loan.buildings[0]!.energyKwh).toBeCloseTo(truth.used2025Kwh + correction, 3);
    expect(loan.financedEmissionsTco2e).toBeCloseTo(0.3 * (((truth.used2025Kwh + correction) * loan.buildings[0]!.factorKgPerKwh) / 1000), 6);
    expect(p.energy[0]!.coverage).toBe(1);
    // The avoided energy of the year comes from the meter's latest M&V result.
    expect(loan.attributedAvoidedKwh).toBeGreaterThan(0);
    // Re-run as of that instant after one more correction: the same report.
    now += 3_600_000;
    await readings.write(truth.readings.filter((r) => r.meter === MAIN.meter && r.ts >= at('2025-07-01') && r.ts < at('2025-07-02')).map((r) => ({ ...r, value: 0 })));
    expect(canonicalJson((await finance.lenderPortfolio('green-bank', { year: 2025, asOfMs: p.asOfMs })).report)).toBe(canonicalJson(p.report));
    expect(p.report.totals.weightedScore).toBe(2);
    expect(p.report.greenLoans.share).toBe(0);
    expect(p.trend.map((t) => t.year)).toEqual([2023, 2024, 2025]);
    const csv = jrt0227Csv((await finance.jrt0227Export('green-bank', 2025, { asOfMs: p.asOfMs })).rows);
    expect(csv.split('\r\n')[0]).toMatch(/^mapping,reportingYear,institution,/);
    expect(csv).toContain(',Green Bank,commercial_real_estate,sustainability_linked_loan,1,');
    await expect(finance.lenderPortfolio('perf-insurer', { year: 2025 })).rejects.toMatchObject({ code: 'FINANCE_PARTY_UNKNOWN', statusCode: 404 });
  });

  it('reports the insurer portfolio with the settled period and the pricing of the open one', async () => {
    const p = await finance.insurerPortfolio('perf-insurer');
    expect(p.policies.map((x) => x.id)).toEqual([POLICY_ID]);
    const [y2025, y2026] = p.policies[0]!.periods;
    expect(y2025!.state).toBe('settled');
    expect(y2026!.state).toBe('open');
    expect(p.totals.paidCny).toBeCloseTo(y2025!.payoutCny!, 9);
    expect(p.totals.lossRatio).toBeCloseTo(y2025!.payoutCny! / 60_000, 9);
    expect(p.policies[0]!.pricedPeriod).toBe('y2026');
    expect(p.pricing!.policies).toBe(1);
    expect(p.pricing!.expectedLossCny).toBeGreaterThan(0);
  });
});
