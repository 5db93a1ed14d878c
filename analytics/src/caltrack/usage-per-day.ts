/**
 * The CalTRACK 2.0 usage-per-day engine shared by the daily and billing methods: grid search of
 * balance points over intercept-only, HDD-only, CDD-only and HDD+CDD candidates, qualification,
 * selection by adjusted R², and the final fit (CalTRACK 3.2–3.4). Behaviour follows the
 * reference implementation (eemeter `caltrack_usage_per_day`).
 */
import type { FitStats, Fuel, TemperatureUnit } from '../types.js';
import { fitStats } from '../stats/fit-stats.js';
import { leastSquares } from '../stats/least-squares.js';

/** Model types, as the reference names them except `hdd_cdd` (eemeter: `cdd_hdd`). */
export type CaltrackModelType = 'intercept_only' | 'hdd_only' | 'cdd_only' | 'hdd_cdd';

/** Coefficients of a usage-per-day model, in energy per day and per degree day. */
export interface CaltrackCoefficients {
  /** μ, base load per day (meter unit/day). */
  readonly intercept: number;
  /** β_H per heating degree day (meter unit/(day·degree)); 0 when the model has no HDD term. */
  readonly heating: number;
  /** β_C per cooling degree day (meter unit/(day·degree)); 0 when the model has no CDD term. */
  readonly cooling: number;
}

/** Why a candidate did not qualify (reference warning names in brackets). */
export type CandidateReason =
  | 'too_few_non_zero_hdd' // [too_few_non_zero_hdd] CalTRACK 3.2.2.2.1
  | 'too_few_non_zero_cdd'
  | 'total_hdd_too_low' // [total_hdd_too_low] CalTRACK 3.2.2.2.2
  | 'total_cdd_too_low'
  | 'intercept_negative' // [intercept_negative] CalTRACK 3.4.3.2
  | 'heating_negative' // [beta_hdd_negative]
  | 'cooling_negative' // [beta_cdd_negative]
  | 'singular'; // the design is rank-deficient (the reference reports a fit error)

/** One candidate tried by the grid search. */
export interface CandidateSummary {
  readonly type: CaltrackModelType;
  /** In the input temperature unit; null when the candidate has no HDD term. */
  readonly heatingBalancePoint: number | null;
  readonly coolingBalancePoint: number | null;
  /** Adjusted R² (0 for intercept-only by definition, CalTRACK 3.4.3.1.4); null when not fitted. */
  readonly r2Adjusted: number | null;
  readonly qualified: boolean;
  /** Set when not qualified: every reason found, comma-separated. */
  readonly reason?: string;
}

/** One observation: usage per day and the temperatures of its days. */
export interface UsagePerDayObservation {
  /** Average usage per day (CalTRACK 3.3.1.1). */
  readonly usagePerDay: number;
  /** Regression weight: 1 for daily data, the period's days for billing (CalTRACK 3.4.2). */
  readonly weight: number;
  /** Mean temperatures of the days whose degree days are averaged (one for daily data). */
  readonly dayTemperatures: readonly number[];
}

/** Settings of the engine. */
export interface UsagePerDaySettings {
  readonly fuel: Fuel;
  readonly temperatureUnit: TemperatureUnit;
  /** Candidate heating balance points in °F (integers 30–90 by default, CalTRACK 3.2.1.2). */
  readonly heatingBalancePointsF: readonly number[];
  /** Candidate cooling balance points in °F (integers 30–90 by default, CalTRACK 3.2.1.1); ignored for gas. */
  readonly coolingBalancePointsF: readonly number[];
  /** Least number of observations with non-zero degree days (10 daily, 0 billing; CalTRACK 3.2.2.2.1). */
  readonly minNonZeroDegreeDays: number;
  /** Least total degree days, in °F·days (20; CalTRACK 3.2.2.2.2). Converted for °C input. */
  readonly minTotalDegreeDaysF: number;
  /** Whether the regression is weighted (billing WLS); weights are ignored otherwise. */
  readonly weighted: boolean;
}

/** Result of the engine. */
export interface UsagePerDayFit {
  readonly type: CaltrackModelType;
  readonly heatingBalancePoint: number | null;
  readonly coolingBalancePoint: number | null;
  readonly coefficients: CaltrackCoefficients;
  /** Standard errors of the coefficients (null for terms the model lacks). */
  readonly standardErrors: { readonly intercept: number; readonly heating: number | null; readonly cooling: number | null };
  readonly fit: FitStats;
  readonly candidates: CandidateSummary[];
  /** False when no candidate qualified (then the intercept-only fit is returned). */
  readonly qualified: boolean;
}

/** Integer °F balance points 30–90 (CalTRACK 3.2.1.1, 3.2.1.2; eemeter `range(30, 91)`). */
export const DEFAULT_BALANCE_POINTS_F: readonly number[] = Object.freeze(Array.from({ length: 61 }, (_, i) => 30 + i));

/** A balance point in °F expressed in the input unit. */
export function balancePointInUnit(f: number, unit: TemperatureUnit): number {
  return unit === 'F' ? f : ((f - 32) * 5) / 9;
}

/** Heating degree days per day of a day-temperature list: mean of max(bp − T, 0) (CalTRACK 3.3.5.1.1). */
export function heatingDegreeDays(temps: readonly number[], bp: number): number {
  let s = 0;
  for (const t of temps) if (t < bp) s += bp - t;
  return temps.length ? s / temps.length : 0;
}

/** Cooling degree days per day of a day-temperature list: mean of max(T − bp, 0) (CalTRACK 3.3.4.1.1). */
export function coolingDegreeDays(temps: readonly number[], bp: number): number {
  let s = 0;
  for (const t of temps) if (t > bp) s += t - bp;
  return temps.length ? s / temps.length : 0;
}

interface DegreeDayColumn {
  readonly bp: number;
  readonly values: Float64Array;
  /** Weighted mean. */
  readonly mean: number;
  /** Σ w·(x − x̄)² */
  readonly sxx: number;
  /** Σ w·(x − x̄)·(y − ȳ) */
  readonly sxy: number;
  readonly nonZero: number;
  /** Σ w·x: total degree days (the reference's `avg_degree_days × period_days`). */
  readonly total: number;
  /** Indices with x > 0 (for sparse cross products). */
  readonly nonZeroIndex: Int32Array;
}

/**
 * Fits every candidate and returns the best qualified one, refitted by QR least squares.
 *
 * @throws RangeError when there are no observations.
 */
export function fitUsagePerDay(obs: readonly UsagePerDayObservation[], settings: UsagePerDaySettings): UsagePerDayFit {
  const n = obs.length;
  if (n === 0) throw new RangeError('no observations');
  const unit = settings.temperatureUnit;
  const minTotal = unit === 'F' ? settings.minTotalDegreeDaysF : (settings.minTotalDegreeDaysF * 5) / 9;
  const w = new Float64Array(n);
  const y = new Float64Array(n);
  let sumW = 0;
  let sumWy = 0;
  for (let i = 0; i < n; i++) {
    w[i] = settings.weighted ? obs[i]!.weight : 1;
    y[i] = obs[i]!.usagePerDay;
    sumW += w[i]!;
    sumWy += w[i]! * y[i]!;
  }
  const yBar = sumWy / sumW;
  const yc = new Float64Array(n);
  let syy = 0;
  for (let i = 0; i < n; i++) {
    yc[i] = y[i]! - yBar;
    syy += w[i]! * yc[i]! * yc[i]!;
  }

  const column = (bp: number, dd: (temps: readonly number[], bp: number) => number): DegreeDayColumn => {
    const values = new Float64Array(n);
    let sw = 0;
    let nonZero = 0;
    for (let i = 0; i < n; i++) {
      const v = dd(obs[i]!.dayTemperatures, bp);
      values[i] = v;
      sw += w[i]! * v;
      if (v > 0) nonZero++;
    }
    const mean = sw / sumW;
    let sxx = 0;
    let sxy = 0;
    const idx = new Int32Array(nonZero);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const d = values[i]! - mean;
      sxx += w[i]! * d * d;
      sxy += w[i]! * d * yc[i]!;
      if (values[i]! > 0) idx[k++] = i;
    }
    return { bp, values, mean, sxx, sxy, nonZero, total: sw, nonZeroIndex: idx };
  };

  const grid = (f: readonly number[]) => [...new Set(f)].sort((a, b) => a - b).map((x) => balancePointInUnit(x, unit));
  const heating = grid(settings.heatingBalancePointsF).map((bp) => column(bp, heatingDegreeDays));
  // CalTRACK 3.2.1.1: no cooling degree days for natural gas.
  const cooling = settings.fuel === 'electricity' ? grid(settings.coolingBalancePointsF).map((bp) => column(bp, coolingDegreeDays)) : [];

  const candidates: CandidateSummary[] = [];
  let best: { type: CaltrackModelType; h: DegreeDayColumn | null; c: DegreeDayColumn | null; r2Adjusted: number } | null = null;
  const consider = (type: CaltrackModelType, h: DegreeDayColumn | null, c: DegreeDayColumn | null, r2Adjusted: number) => {
    // CalTRACK 3.4.3.3: highest adjusted R² wins; on a tie the earlier candidate stays (reference order).
    if (best === null || r2Adjusted > best.r2Adjusted) best = { type, h, c, r2Adjusted };
  };
  const degreeDayReasons = (col: DegreeDayColumn, kind: 'hdd' | 'cdd'): string[] => {
    const reasons: string[] = [];
    // CalTRACK 3.2.2.2.2 (the reference checks the total first).
    if (col.total < minTotal) reasons.push(`total_${kind}_too_low`);
    // CalTRACK 3.2.2.2.1 (not for billing data: minNonZero = 0).
    if (col.nonZero < settings.minNonZeroDegreeDays) reasons.push(`too_few_non_zero_${kind}`);
    return reasons;
  };

  // CalTRACK 3.4.3.1.4: intercept-only, adjusted R² = 0 by definition.
  const interceptOk = yBar >= 0;
  candidates.push({
    type: 'intercept_only',
    heatingBalancePoint: null,
    coolingBalancePoint: null,
    r2Adjusted: 0,
    qualified: interceptOk,
    ...(interceptOk ? {} : { reason: 'intercept_negative' }),
  });
  if (interceptOk) consider('intercept_only', null, null, 0);

  const single = (type: 'hdd_only' | 'cdd_only', col: DegreeDayColumn) => {
    const kind = type === 'hdd_only' ? 'hdd' : 'cdd';
    const hbp = type === 'hdd_only' ? col.bp : null;
    const cbp = type === 'cdd_only' ? col.bp : null;
    const pre = degreeDayReasons(col, kind);
    if (pre.length > 0) {
      candidates.push({ type, heatingBalancePoint: hbp, coolingBalancePoint: cbp, r2Adjusted: null, qualified: false, reason: pre.join(',') });
      return;
    }
    if (!(col.sxx > 1e-12 * Math.max(1, col.mean * col.mean * sumW)) || n < 3) {
      candidates.push({ type, heatingBalancePoint: hbp, coolingBalancePoint: cbp, r2Adjusted: null, qualified: false, reason: 'singular' });
      return;
    }
    const beta = col.sxy / col.sxx;
    const mu = yBar - beta * col.mean;
    const ssr = Math.max(0, syy - beta * col.sxy);
    const r2 = syy > 0 ? 1 - ssr / syy : 0;
    const r2Adjusted = 1 - ((1 - r2) * (n - 1)) / (n - 2);
    // CalTRACK 3.4.3.2: no negative parameter.
    const reasons: string[] = [];
    if (mu < 0) reasons.push('intercept_negative');
    if (beta < 0) reasons.push(type === 'hdd_only' ? 'heating_negative' : 'cooling_negative');
    candidates.push({
      type,
      heatingBalancePoint: hbp,
      coolingBalancePoint: cbp,
      r2Adjusted,
      qualified: reasons.length === 0,
      ...(reasons.length ? { reason: reasons.join(',') } : {}),
    });
    if (reasons.length === 0) consider(type, type === 'hdd_only' ? col : null, type === 'cdd_only' ? col : null, r2Adjusted);
  };

  for (const h of heating) single('hdd_only', h);
  for (const c of cooling) single('cdd_only', c);

  // CalTRACK 3.2.2.1: cooling balance point ≥ heating balance point; cooling outer, heating inner (reference order).
  for (const c of cooling) {
    const cPre = degreeDayReasons(c, 'cdd');
    for (const h of heating) {
      if (h.bp > c.bp) break;
      const pre = [...cPre, ...degreeDayReasons(h, 'hdd')];
      if (pre.length > 0) {
        candidates.push({ type: 'hdd_cdd', heatingBalancePoint: h.bp, coolingBalancePoint: c.bp, r2Adjusted: null, qualified: false, reason: pre.join(',') });
        continue;
      }
      // Σ w·(h − h̄)(c − c̄) = Σ w·h·c − W·h̄·c̄; the raw product is non-zero only where both are.
      let raw = 0;
      const idx = c.nonZeroIndex;
      const hv = h.values;
      const cv = c.values;
      for (let k = 0; k < idx.length; k++) {
        const i = idx[k]!;
        const hi = hv[i]!;
        if (hi > 0) raw += w[i]! * hi * cv[i]!;
      }
      const shc = raw - sumW * h.mean * c.mean;
      const det = h.sxx * c.sxx - shc * shc;
      if (!(det > 1e-12 * h.sxx * c.sxx) || n < 4) {
        candidates.push({ type: 'hdd_cdd', heatingBalancePoint: h.bp, coolingBalancePoint: c.bp, r2Adjusted: null, qualified: false, reason: 'singular' });
        continue;
      }
      const bh = (h.sxy * c.sxx - c.sxy * shc) / det;
      const bc = (c.sxy * h.sxx - h.sxy * shc) / det;
      const mu = yBar - bh * h.mean - bc * c.mean;
      const ssr = Math.max(0, syy - bh * h.sxy - bc * c.sxy);
      const r2 = syy > 0 ? 1 - ssr / syy : 0;
      const r2Adjusted = 1 - ((1 - r2) * (n - 1)) / (n - 3);
      const reasons: string[] = [];
      if (mu < 0) reasons.push('intercept_negative');
      if (bc < 0) reasons.push('cooling_negative');
      if (bh < 0) reasons.push('heating_negative');
      candidates.push({
        type: 'hdd_cdd',
        heatingBalancePoint: h.bp,
        coolingBalancePoint: c.bp,
        r2Adjusted,
        qualified: reasons.length === 0,
        ...(reasons.length ? { reason: reasons.join(',') } : {}),
      });
      if (reasons.length === 0) consider('hdd_cdd', h, c, r2Adjusted);
    }
  }

  const chosen = (best ?? { type: 'intercept_only', h: null, c: null, r2Adjusted: 0 }) as {
    type: CaltrackModelType;
    h: DegreeDayColumn | null;
    c: DegreeDayColumn | null;
  };
  return { ...refit(chosen.type, chosen.h, chosen.c, y, w, settings.weighted), candidates, qualified: best !== null };
}

function refit(
  type: CaltrackModelType,
  h: DegreeDayColumn | null,
  c: DegreeDayColumn | null,
  y: Float64Array,
  w: Float64Array,
  weighted: boolean,
): Omit<UsagePerDayFit, 'candidates' | 'qualified'> {
  const n = y.length;
  const X: number[][] = new Array(n);
  for (let i = 0; i < n; i++) {
    const row = [1];
    if (h) row.push(h.values[i]!);
    if (c) row.push(c.values[i]!);
    X[i] = row;
  }
  const ls = leastSquares(X, y, weighted ? { weights: w, hasIntercept: true } : { hasIntercept: true });
  const coef = ls.coefficients;
  const se = ls.standardErrors;
  const p = 1 + (h ? 1 : 0) + (c ? 1 : 0);
  const stats = fitStats(y, ls.fitted, p, weighted ? { weights: w } : {});
  // CalTRACK 3.4.3.1.4: adjusted R² of the intercept-only model is 0 by definition.
  const fit: FitStats = type === 'intercept_only' ? { ...stats, r2: 0, r2Adjusted: 0 } : stats;
  return {
    type,
    heatingBalancePoint: h ? h.bp : null,
    coolingBalancePoint: c ? c.bp : null,
    coefficients: { intercept: coef[0]!, heating: h ? coef[1]! : 0, cooling: c ? coef[h ? 2 : 1]! : 0 },
    standardErrors: { intercept: se[0]!, heating: h ? se[1]! : null, cooling: c ? se[h ? 2 : 1]! : null },
    fit,
  };
}
