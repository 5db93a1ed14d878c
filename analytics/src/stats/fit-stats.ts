/**
 * Goodness-of-fit statistics with the ASHRAE Guideline 14 definitions (DOMAIN.md §2.3).
 */
import type { FitStats } from '../types.js';

/** Options of {@link fitStats}. */
export interface FitStatsOptions {
  /**
   * Regression weights (billing WLS, CalTRACK 3.4.2). When given, R² and adjusted R² are the
   * weighted ones (statsmodels' WLS `rsquared`, centred on the weighted mean) so that they equal
   * what model selection used; CV(RMSE), NMBE, RMSE, the mean and the autocorrelation stay
   * per observation as ASHRAE G14 defines them.
   */
  readonly weights?: ArrayLike<number>;
}

/**
 * Fit statistics of predictions against observations (same order, time order for the
 * autocorrelation).
 *
 * - `r2 = 1 − SSR/SST`, `r2Adjusted = 1 − (1 − r2)·(n − 1)/(n − p)` (CalTRACK 3.4.3.3.1)
 * - `cvrmse = sqrt(Σ(y − ŷ)²/(n − p)) / ȳ` (ASHRAE G14)
 * - `nmbe = Σ(y − ŷ) / ((n − p)·ȳ)` (ASHRAE G14)
 *
 * @param observed y, in the model's unit (e.g. kWh/day).
 * @param predicted ŷ, same length and unit.
 * @param p parameters estimated, intercept included (1 for intercept-only, 3 for HDD+CDD).
 * @returns FitStats; ratios are NaN when n ≤ p or ȳ = 0.
 * @throws RangeError when the lengths differ.
 */
export function fitStats(
  observed: ArrayLike<number>,
  predicted: ArrayLike<number>,
  p: number,
  options: FitStatsOptions = {},
): FitStats {
  const n = observed.length;
  if (predicted.length !== n) throw new RangeError(`observed has ${n} values, predicted ${predicted.length}`);
  const w = options.weights;
  if (w !== undefined && w.length !== n) throw new RangeError(`weights has ${w.length} values, observed ${n}`);

  let sumY = 0;
  let sumW = 0;
  let sumWy = 0;
  for (let i = 0; i < n; i++) {
    const wi = w === undefined ? 1 : w[i]!;
    sumY += observed[i]!;
    sumW += wi;
    sumWy += wi * observed[i]!;
  }
  const mean = n > 0 ? sumY / n : Number.NaN;
  const wMean = sumW > 0 ? sumWy / sumW : Number.NaN;

  let ssr = 0;
  let ssrW = 0;
  let sstW = 0;
  let sumResid = 0;
  const residuals = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const wi = w === undefined ? 1 : w[i]!;
    const r = observed[i]! - predicted[i]!;
    residuals[i] = r;
    ssr += r * r;
    ssrW += wi * r * r;
    const d = observed[i]! - wMean;
    sstW += wi * d * d;
    sumResid += r;
  }
  const df = n - p;
  const r2 = sstW > 0 ? 1 - ssrW / sstW : 0;
  const r2Adjusted = df > 0 ? 1 - ((1 - r2) * (n - 1)) / df : Number.NaN;
  const rmse = df > 0 ? Math.sqrt(ssr / df) : Number.NaN;
  return {
    n,
    p,
    r2,
    r2Adjusted,
    cvrmse: rmse / mean,
    nmbe: df > 0 ? sumResid / (df * mean) : Number.NaN,
    autocorrelation: lag1Autocorrelation(residuals),
    mean,
    rmse,
  };
}

/**
 * Lag-1 autocorrelation of a series in time order:
 * `ρ = Σₜ₌₂ⁿ (eₜ − ē)(eₜ₋₁ − ē) / Σₜ₌₁ⁿ (eₜ − ē)²` (the estimator ASHRAE G14's `n' = n(1 − ρ)/(1 + ρ)` uses).
 *
 * @returns ρ in [−1, 1]; 0 for fewer than 2 values or a constant series.
 */
export function lag1Autocorrelation(series: ArrayLike<number>): number {
  const n = series.length;
  if (n < 2) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += series[i]!;
  const mean = sum / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const d = series[i]! - mean;
    den += d * d;
    if (i > 0) num += d * (series[i - 1]! - mean);
  }
  return den > 0 ? num / den : 0;
}
