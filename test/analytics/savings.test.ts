import { describe, expect, it } from 'vitest';
import { adjustmentOver, computeSavings, effectiveAdjustments, normalizedSavings, type NonRoutineAdjustment, type ReportingPoint } from '../../analytics/src/savings.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T00:00:00+08:00');
const fit = { n: 365, p: 3, cvrmse: 0.1, autocorrelation: 0.2 };

// 59 days: January (31) and February (28) in Asia/Shanghai; day 10 has no observation.
const points: ReportingPoint[] = Array.from({ length: 59 }, (_, i) => ({ start: T0 + i * DAY, end: T0 + (i + 1) * DAY, predicted: 100, observed: i === 10 ? null : 90 }));

describe('avoided energy', () => {
  it('sums prediction − observation per local month where both exist, and cumulatively', () => {
    const s = computeSavings(points, { fit, granularity: 'daily', timeZone: 'Asia/Shanghai' });
    expect(s.monthly.map((m) => [m.period, m.points, m.counterfactual, m.observed, m.avoided])).toEqual([
      ['2026-01', 30, 3000, 2700, 300],
      ['2026-02', 28, 2800, 2520, 280],
    ]);
    expect(s.cumulative.map((m) => m.avoided)).toEqual([300, 580]);
    expect(s.total).toMatchObject({ points: 58, avoided: 580, fraction: 0.1 });
    expect(s.total.uncertainty.levels).toHaveLength(3);
  });

  it('applies non-routine adjustments on request and shows both figures', () => {
    const adj: NonRoutineAdjustment[] = [
      { id: 'nra-1', event: 'floor added', start: T0 + 31 * DAY, end: T0 + 59 * DAY, method: 'per_day', amount: 5, evidence: 'permit 123', approver: 'verifier A', recordedAtMs: 0 },
      { id: 'nra-2', event: 'typo', start: T0, end: T0 + DAY, method: 'total_prorated', amount: 999, evidence: 'x', approver: 'y', recordedAtMs: 0 },
      { id: 'nra-3', event: 'typo corrected', start: T0, end: T0 + DAY, method: 'total_prorated', amount: 10, evidence: 'x', approver: 'y', recordedAtMs: 1, supersedes: 'nra-2' },
    ];
    expect(effectiveAdjustments(adj).map((a) => a.id)).toEqual(['nra-1', 'nra-3']);
    const s = computeSavings(points, { fit, granularity: 'daily', timeZone: 'Asia/Shanghai', adjustments: adj });
    expect(s.monthly.map((m) => [m.avoided, m.adjustment, m.adjustedAvoided])).toEqual([
      [300, 10, 310],
      [280, 140, 420],
    ]);
    expect(s.adjustmentsApplied).toEqual(['nra-1', 'nra-3']);
  });

  it('prorates a total over the overlap', () => {
    const a: NonRoutineAdjustment = { id: 'a', event: 'e', start: 0, end: 10 * DAY, method: 'total_prorated', amount: 100, evidence: '', approver: '', recordedAtMs: 0 };
    expect(adjustmentOver([a], 5 * DAY, 20 * DAY)).toBeCloseTo(50, 10);
  });

  it('normalizes on a typical year: baseline minus reporting model, both on the same weather', () => {
    expect(normalizedSavings([10, 20, null, 30], [9, 18, 5, 27])).toEqual({ baseline: 60, reporting: 54, savings: 6, fraction: 0.1 });
  });
});
