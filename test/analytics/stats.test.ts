import { describe, expect, it } from 'vitest';
import { fitStats, lag1Autocorrelation, leastSquares, tQuantile, twoSidedT } from '@wattproof/analytics';

describe('leastSquares (OLS)', () => {
  it('recovers an exact line', () => {
    const r = leastSquares([[1, 0], [1, 1], [1, 2]], [1, 3, 5]);
    expect(r.coefficients[0]).toBeCloseTo(1, 12);
    expect(r.coefficients[1]).toBeCloseTo(2, 12);
    expect(r.r2).toBeCloseTo(1, 12);
    expect(r.rank).toBe(2);
  });

  it('matches a hand-computed simple regression', () => {
    // x = 0..3, y = 1, 2, 2, 4: x̄ = 1.5, ȳ = 2.25, Sxx = 5, Sxy = 4.5 → β = 0.9, α = 0.9;
    // residuals 0.1, 0.2, −0.7, 0.4 → SSR = 0.7, SST = 4.75.
    const r = leastSquares([[1, 0], [1, 1], [1, 2], [1, 3]], [1, 2, 2, 4]);
    expect(r.coefficients[0]).toBeCloseTo(0.9, 12);
    expect(r.coefficients[1]).toBeCloseTo(0.9, 12);
    r.residuals.forEach((e, i) => expect(e).toBeCloseTo([0.1, 0.2, -0.7, 0.4][i]!, 12));
    expect(r.ssr).toBeCloseTo(0.7, 12);
    expect(r.sst).toBeCloseTo(4.75, 12);
    expect(r.r2).toBeCloseTo(1 - 0.7 / 4.75, 12);
    expect(r.r2Adjusted).toBeCloseTo(1 - (0.7 / 2) / (4.75 / 3), 12);
    expect(r.dfResidual).toBe(2);
    // se(β) = sqrt(σ²/Sxx), σ² = 0.7/2; se(α) = sqrt(σ²·(1/n + x̄²/Sxx)).
    expect(r.standardErrors[1]).toBeCloseTo(Math.sqrt(0.35 / 5), 12);
    expect(r.standardErrors[0]).toBeCloseTo(Math.sqrt(0.35 * (1 / 4 + 2.25 / 5)), 12);
  });

  // The cases below are the reference's own unit tests (openeemeter/eemeter,
  // tests/test_caltrack_usage_per_day.py, test_get_cdd_only_candidate_models_qualified[_with_weights]
  // and test_get_cdd_hdd_candidate_models_qualified[_with_weights]); expected values rounded to 2 dp as there.
  it('reproduces the reference cdd-only fit (OLS and WLS)', () => {
    const X = [0, 0.1, 0, 5].map((c) => [1, c]);
    const y = [1, 1, 1, 6];
    const ols = leastSquares(X, y);
    expect(round2(ols.coefficients[1]!)).toBe(1.01);
    expect(round2(ols.coefficients[0]!)).toBe(0.97);
    expect(round2(ols.r2Adjusted)).toBe(1);
    const wls = leastSquares(X, y, { weights: [1, 100, 1, 1] });
    expect(round2(wls.coefficients[1]!)).toBe(1.02);
    expect(round2(wls.coefficients[0]!)).toBe(0.9);
    expect(round2(wls.r2Adjusted)).toBe(1);
  });

  it('reproduces the reference cdd+hdd fit (OLS and WLS)', () => {
    const cdd = [5, 0, 0.1, 0];
    const hdd = [0, 0.1, 0.1, 5];
    const X = cdd.map((c, i) => [1, c, hdd[i]!]);
    const y = [6, 1, 1, 6];
    const ols = leastSquares(X, y);
    expect(ols.coefficients.map(round2)).toEqual([0.85, 1.03, 1.03]);
    const wls = leastSquares(X, y, { weights: [1, 1, 100, 1] });
    expect(wls.coefficients.map(round2)).toEqual([0.79, 1.04, 1.04]);
  });

  it('weights the intercept-only mean (reference: 6.33 for 0..9 weighted by 0..9)', () => {
    const y = Array.from({ length: 10 }, (_, i) => i);
    const r = leastSquares(y.map(() => [1]), y, { weights: y });
    expect(r.coefficients[0]).toBeCloseTo(285 / 45, 12);
    expect(round2(r.coefficients[0]!)).toBe(6.33);
  });

  it('returns the minimum-norm solution for a rank-deficient design', () => {
    const r = leastSquares([[1, 1], [1, 1], [1, 1]], [2, 3, 4]);
    expect(r.rank).toBe(1);
    expect(r.coefficients[0]).toBeCloseTo(1.5, 10);
    expect(r.coefficients[1]).toBeCloseTo(1.5, 10);
    expect(r.fitted.every((f) => Math.abs(f - 3) < 1e-10)).toBe(true);
  });

  it('rejects mismatched shapes and negative weights', () => {
    expect(() => leastSquares([[1], [1]], [1])).toThrow(RangeError);
    expect(() => leastSquares([[1], [1]], [1, 2], { weights: [1, -1] })).toThrow(RangeError);
  });
});

describe('fitStats (ASHRAE G14)', () => {
  it('computes CV(RMSE), NMBE and R² with n − p', () => {
    const y = [10, 12, 9, 11, 13];
    const yhat = [9, 12, 10, 10, 12];
    const s = fitStats(y, yhat, 2);
    const mean = 11;
    const resid = [1, 0, -1, 1, 1];
    const ssr = 4;
    const sst = 1 + 1 + 4 + 0 + 4;
    expect(s.n).toBe(5);
    expect(s.p).toBe(2);
    expect(s.mean).toBe(mean);
    expect(s.rmse).toBeCloseTo(Math.sqrt(ssr / 3), 12);
    expect(s.cvrmse).toBeCloseTo(Math.sqrt(ssr / 3) / mean, 12);
    expect(s.nmbe).toBeCloseTo(resid.reduce((a, b) => a + b) / (3 * mean), 12);
    expect(s.r2).toBeCloseTo(1 - ssr / sst, 12);
    expect(s.r2Adjusted).toBeCloseTo(1 - ((1 - (1 - ssr / sst)) * 4) / 3, 12);
    expect(s.autocorrelation).toBeCloseTo(lag1Autocorrelation(resid), 12);
  });

  it('weights R² like statsmodels WLS but keeps CV(RMSE) per observation', () => {
    const y = [1, 2, 4];
    const yhat = [1.5, 2, 3.5];
    const w = [2, 1, 1];
    const s = fitStats(y, yhat, 1, { weights: w });
    const wMean = (2 + 2 + 4) / 4;
    const sst = 2 * (1 - wMean) ** 2 + (2 - wMean) ** 2 + (4 - wMean) ** 2;
    const ssr = 2 * 0.25 + 0 + 0.25;
    expect(s.r2).toBeCloseTo(1 - ssr / sst, 12);
    expect(s.cvrmse).toBeCloseTo(Math.sqrt(0.5 / 2) / (7 / 3), 12);
  });

  it('computes the lag-1 autocorrelation', () => {
    expect(lag1Autocorrelation([1, -1, 1, -1])).toBeCloseTo(-0.75, 12);
    expect(lag1Autocorrelation([1, 2, 3, 4])).toBeCloseTo((-1.5 * -0.5 + -0.5 * 0.5 + 0.5 * 1.5) / 5, 12);
    expect(lag1Autocorrelation([3, 3, 3])).toBe(0);
  });
});

describe('t quantiles', () => {
  it('matches tabulated values', () => {
    expect(tQuantile(0.975, 10)).toBeCloseTo(2.228139, 5);
    expect(twoSidedT(0.9, 30)).toBeCloseTo(1.697261, 5);
    expect(twoSidedT(0.68, 1e6)).toBeCloseTo(0.994458, 4);
    expect(Number.isNaN(tQuantile(1.5, 3))).toBe(true);
  });
});

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
