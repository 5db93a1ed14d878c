import { describe, expect, it } from 'vitest';
import { covenantSpecSchema, hasCode, type CovenantSpecInput } from '@wattproof/core';
import { evaluateCovenant, probabilityOfFailing, testSchedule, type KpiObservation } from '@wattproof/analytics';
import { addMonths } from '../../../analytics/src/finance/dates.js';

const at = (date: string) => Date.parse(`${date}T00:00:00+08:00`);
const scope = { site: 'yuzhong', building: 'tower-1' };

function spec(over: Partial<CovenantSpecInput> = {}) {
  return covenantSpecSchema.parse({
    id: 'cov-savings',
    kpi: 'savings_fraction',
    scope,
    operator: '>=',
    threshold: 0.1,
    schedule: { frequency: 'annual', firstTestDate: '2026-01-01', measurementWindowMonths: 12 },
    graceDays: 30,
    cure: { periods: 1 },
    ratchet: { bpOnPass: -5, bpOnFail: 10 },
    atRiskProbability: 0.2,
    ...over,
  });
}

/** A trailing-12-month observation ending on `end`. */
function obs(end: string, value: number, over: Partial<KpiObservation> = {}): KpiObservation {
  return {
    kpi: 'savings_fraction',
    scope,
    value,
    standardError: 0.01,
    window: { start: addMonths(end, -12), end },
    dataCoverage: 0.98,
    status: 'verified',
    sources: [{ resultId: `mv-${end}`, digest: `d-${end}-${value}` }],
    recordedAtMs: at(end) + 86_400_000,
    warnings: [],
    disqualifications: [],
    referenceData: [{ id: 'ashrae-g14-acceptance', version: '1', sha256: 'a'.repeat(64) }],
    ...over,
  };
}

/** Monthly observations ending at each month start from `first` for `n` months with values `f(i)`. */
function series(first: string, n: number, f: (i: number) => number): KpiObservation[] {
  return Array.from({ length: n }, (_, i) => obs(addMonths(first, i), f(i)));
}

describe('testSchedule', () => {
  it('keeps the day of month of the first test, clamped to month ends and leap days', () => {
    const monthly = spec({ schedule: { frequency: 'monthly', firstTestDate: '2024-01-31', measurementWindowMonths: 1 } });
    expect(testSchedule(monthly, '2024-06-30')).toEqual(['2024-01-31', '2024-02-29', '2024-03-31', '2024-04-30', '2024-05-31', '2024-06-30']);
    const annual = spec({ schedule: { frequency: 'annual', firstTestDate: '2024-02-29', measurementWindowMonths: 12 } });
    expect(testSchedule(annual, '2028-03-01')).toEqual(['2024-02-29', '2025-02-28', '2026-02-28', '2027-02-28', '2028-02-29']);
    const quarterly = spec({ schedule: { frequency: 'quarterly', firstTestDate: '2023-11-30', measurementWindowMonths: 3 } });
    expect(testSchedule(quarterly, '2024-08-30')).toEqual(['2023-11-30', '2024-02-29', '2024-05-30', '2024-08-30']);
    expect(testSchedule(annual, '2024-02-28')).toEqual([]);
  });

  it('refuses a date that is not on the schedule', () => {
    try {
      evaluateCovenant(spec(), [], { testDate: '2026-01-02', asOfMs: at('2026-03-01') });
      expect.fail('should throw');
    } catch (err) {
      expect(hasCode(err, 'FINANCE_TEST_DATE_NOT_SCHEDULED')).toBe(true);
    }
  });
});

describe('evaluateCovenant', () => {
  it('passes far above the threshold with a ratchet step down and ~0 risk', () => {
    const r = evaluateCovenant(spec(), series('2025-02-01', 12, () => 0.3), { testDate: '2026-01-01', asOfMs: at('2026-01-10') });
    expect(r.status).toBe('pass');
    expect(r.kpiValue).toBe(0.3);
    expect(r.marginStepBp).toBe(-5);
    expect(r.headroom!.value).toBeCloseTo(0.2, 12);
    expect(r.headroom!.standardErrors).toBeCloseTo(20, 9);
    expect(r.projection.basis).toBe('linear_trend');
    expect(r.projection.testDate).toBe('2027-01-01');
    expect(r.projection.probabilityOfFailing!).toBeLessThan(1e-6);
    expect(r.evidence.sources).toEqual([{ resultId: 'mv-2026-01-01', digest: 'd-2026-01-01-0.3' }]);
    expect(r.lineage.method).toEqual({ name: 'wattproof.covenant', version: '1.0.0' });
    expect(r.lineage.referenceData.map((x) => x.id)).toEqual(['ashrae-g14-acceptance']);
  });

  it('is at risk when the trend crosses the threshold before the next test', () => {
    // 0.22 falling by 0.01 a month: 0.11 on the test date, about −0.01 a year later.
    const r = evaluateCovenant(spec(), series('2025-02-01', 12, (i) => 0.22 - 0.01 * i), { testDate: '2026-01-01', asOfMs: at('2026-01-10') });
    expect(r.kpiValue).toBeCloseTo(0.11, 12);
    expect(r.projection.slopePerMonth!).toBeCloseTo(-0.01, 3);
    expect(r.projection.mean!).toBeLessThan(0.1);
    expect(r.projection.probabilityOfFailing!).toBeGreaterThan(0.9);
    expect(r.status).toBe('at_risk');
    expect(r.marginStepBp).toBe(-5); // at risk still passed
  });

  it('computes the failing probability by hand for the normal approximation', () => {
    expect(probabilityOfFailing(0.12, 0.01, '>=', 0.1)).toBeCloseTo(0.022750131948179, 10); // Φ(−2)
    expect(probabilityOfFailing(90, 5, '<=', 100)).toBeCloseTo(0.022750131948179, 10);
    expect(probabilityOfFailing(0.05, 0, '>=', 0.1)).toBe(1);
    expect(probabilityOfFailing(0.15, 0, '>', 0.1)).toBe(0);
  });

  it('uses the latest value when fewer than three points exist', () => {
    const r = evaluateCovenant(spec(), [obs('2026-01-01', 0.12)], { testDate: '2026-01-01', asOfMs: at('2026-01-10') });
    expect(r.projection.basis).toBe('latest_value');
    expect(r.projection.probabilityOfFailing!).toBeCloseTo(0.022750131948179, 10);
    expect(r.status).toBe('pass');
  });

  it('runs grace, fail, breach and cure sequences', () => {
    const year1 = [obs('2026-01-01', 0.05)];
    const s = spec();
    // Within the 30 grace days: pending, no ratchet yet.
    const g = evaluateCovenant(s, year1, { testDate: '2026-01-01', asOfMs: at('2026-01-20') });
    expect(g.status).toBe('in_grace');
    expect(g.marginStepBp).toBe(0);
    expect(g.grace.ends).toBe('2026-01-31');
    // After grace: a failure, tolerated once (cure.periods = 1).
    const f = evaluateCovenant(s, year1, { testDate: '2026-01-01', asOfMs: at('2026-01-31') });
    expect(f.status).toBe('fail');
    expect(f.marginStepBp).toBe(10);
    expect(f.cure).toEqual({ consecutiveFailures: 1, curePeriods: 1, remaining: 0, cured: false });
    // A second consecutive failure is a breach.
    const year2 = [...year1, obs('2027-01-01', 0.06)];
    const b = evaluateCovenant(s, year2, { testDate: '2027-01-01', asOfMs: at('2027-03-01') });
    expect(b.status).toBe('breach');
    expect(b.cure.consecutiveFailures).toBe(2);
    expect(b.cure.remaining).toBeNull();
    // With no cure periods the first failure is a breach.
    expect(evaluateCovenant(spec({ cure: { periods: 0 } }), year1, { testDate: '2026-01-01', asOfMs: at('2026-03-01') }).status).toBe('breach');
    // A pass after a failure cures it.
    const c = evaluateCovenant(s, [...year1, obs('2027-01-01', 0.2)], { testDate: '2027-01-01', asOfMs: at('2027-03-01') });
    expect(c.status).toBe('pass');
    expect(c.cure.cured).toBe(true);
  });

  it('treats missing or disqualified evidence as a failure after grace', () => {
    const s = spec({ cure: { periods: 0 } });
    const none = evaluateCovenant(s, [], { testDate: '2026-01-01', asOfMs: at('2026-01-05') });
    expect(none.status).toBe('in_grace');
    expect(none.warnings.map((w) => w.code)).toContain('finance.covenant.evidence_outstanding');
    const late = evaluateCovenant(s, [], { testDate: '2026-01-01', asOfMs: at('2026-02-05') });
    expect(late.status).toBe('breach');
    expect(late.disqualifications.map((d) => d.code)).toEqual(['finance.covenant.no_evidence']);
    const dq = obs('2026-01-01', 0.3, { status: 'not_verified', disqualifications: [{ code: 'mv.sufficiency.too_many_days_missing', message: 'x' }] });
    const r = evaluateCovenant(s, [dq], { testDate: '2026-01-01', asOfMs: at('2026-02-05') });
    expect(r.status).toBe('breach');
    expect(r.kpiValue).toBeNull();
    expect(r.disqualifications.map((d) => d.code)).toEqual(['finance.covenant.evidence_disqualified', 'finance.covenant.no_evidence']);
  });

  it('warns on low coverage and on overrides, and is not tested before the date', () => {
    const r = evaluateCovenant(spec(), [obs('2026-01-01', 0.3, { dataCoverage: 0.8, status: 'verified_with_override' })], { testDate: '2026-01-01', asOfMs: at('2026-01-10') });
    expect(r.warnings.map((w) => w.code)).toEqual(['finance.covenant.low_coverage', 'finance.covenant.mv_override']);
    const early = evaluateCovenant(spec(), series('2025-02-01', 6, () => 0.3), { testDate: '2026-01-01', asOfMs: at('2025-07-15') });
    expect(early.status).toBe('not_tested');
    expect(early.kpiValue).toBeNull();
    expect(early.marginStepBp).toBe(0);
    expect(early.projection.testDate).toBe('2026-01-01');
    expect(early.projection.series).toHaveLength(6);
  });

  it('reproduces a result as of its instant, whatever was recorded later', () => {
    const original = obs('2026-01-01', 0.12, { recordedAtMs: at('2026-01-03') });
    const correction = obs('2026-01-01', 0.08, { recordedAtMs: at('2026-04-01'), sources: [{ resultId: 'mv-fix', digest: 'd-fix' }] });
    const s = spec({ cure: { periods: 0 } });
    const then = evaluateCovenant(s, [original], { testDate: '2026-01-01', asOfMs: at('2026-02-15') });
    const withLater = evaluateCovenant(s, [correction, original], { testDate: '2026-01-01', asOfMs: at('2026-02-15') });
    expect(then.status).toBe('pass');
    expect(withLater.status).toBe('pass');
    expect(withLater.kpiValue).toBe(0.12);
    expect(withLater.warnings.map((w) => w.code)).toContain('finance.covenant.later_records_ignored');
    // As of after the correction, the correction decides.
    const now = evaluateCovenant(s, [original, correction], { testDate: '2026-01-01', asOfMs: at('2026-05-01') });
    expect(now.status).toBe('breach');
    expect(now.evidence.sources[0]!.resultId).toBe('mv-fix');
    // Byte-identical on re-run; the input order does not change the digest.
    const list = series('2025-02-01', 12, (i) => 0.2 - 0.005 * i);
    const a = JSON.stringify(evaluateCovenant(s, list, { testDate: '2026-01-01', asOfMs: at('2026-02-15') }));
    const b = JSON.stringify(evaluateCovenant(s, [...list].reverse(), { testDate: '2026-01-01', asOfMs: at('2026-02-15') }));
    expect(a).toBe(b);
    expect(JSON.stringify(evaluateCovenant(s, list, { testDate: '2026-01-01', asOfMs: at('2026-02-15') }))).toBe(a);
  });

  it('tests an EUI ceiling and a label rank', () => {
    const eui = spec({ id: 'cov-eui', kpi: 'eui_kwh_per_m2', operator: '<=', threshold: 110 });
    const o = (end: string, v: number) => obs(end, v, { kpi: 'eui_kwh_per_m2', standardError: 0 });
    expect(evaluateCovenant(eui, [o('2026-01-01', 95)], { testDate: '2026-01-01', asOfMs: at('2026-02-15') }).status).toBe('pass');
    const over = evaluateCovenant(eui, [o('2026-01-01', 120)], { testDate: '2026-01-01', asOfMs: at('2026-02-15') });
    expect(over.status).toBe('fail');
    expect(over.headroom!.value).toBe(-10);
    const label = spec({ id: 'cov-label', kpi: 'label_maintained', operator: '>=', threshold: 2 });
    const l = (v: number) => obs('2026-01-01', v, { kpi: 'label_maintained', standardError: 0 });
    expect(evaluateCovenant(label, [l(2)], { testDate: '2026-01-01', asOfMs: at('2026-02-15') }).projection.basis).toBe('label');
    expect(evaluateCovenant(label, [l(1)], { testDate: '2026-01-01', asOfMs: at('2026-02-15') }).status).toBe('fail');
  });
});
