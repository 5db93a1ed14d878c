/**
 * CalTRACK 2.0 hourly baseline model: time-of-week and temperature ("TOWT"), fit month by month.
 *
 * Reproduces the method as implemented by OpenEEmeter (eemeter 2.x `caltrack_hourly`, unchanged in
 * the 4.x legacy hourly model): CalTRACK methods 3.7–3.12 (github.com/openeemeter/caltrack,
 * docs/methods.rst, version 2.0). Written from the method and from reading the reference's
 * behaviour; no code is taken from it.
 *
 * Pipeline, per month segment (12 segments, segment m predicts calendar month m):
 * 1. weights: own month 1, the months before and after 0.5, all others 0 (CalTRACK 3.7.5);
 * 2. occupancy: WLS `usage ~ 1 + CDH65 + HDH50` (°F) on the segment's rows with its weights; an hour
 *    of week is occupied when more than 65 % of its residuals are positive (CalTRACK 3.8.3–3.8.4);
 * 3. temperature bins: knots 30/45/55/65/75/90 °F, validated separately on the occupied and on the
 *    unoccupied hours of the segment (≥ 20 hours per bin, CalTRACK 3.9.1.2);
 * 4. WLS `usage ~ 168 hour-of-week indicators + occupied bin features + unoccupied bin features`,
 *    no intercept (CalTRACK 3.10–3.11).
 *
 * Temperatures stay in the caller's unit: for °C the °F knots and balance points are converted.
 * The fit is invariant to that choice (the hour-of-week indicators absorb the 32 °F offset of the
 * first bin feature and of the occupancy model's intercept; all other features scale by 1.8).
 */
import { createErrorFactory, type ErrorCatalogue } from '@wattproof/core';
import type { Finding, FitStats, HourlyRow, TemperatureUnit } from '../types.js';
import { fitStats } from '../stats/fit-stats.js';
import { NormalEquations, solveSymmetric } from './hourly-wls.js';

/** CalTRACK methods version this model implements. */
export const CALTRACK_HOURLY_METHOD_VERSION = '2.0';

/** Hours in a week; hour of week 0 is Monday 00:00–01:00 local time (CalTRACK 3.8.2, eemeter). */
export const HOURS_PER_WEEK = 168;

/** Defaults of {@link CaltrackHourlyOptions}; temperatures in °F as CalTRACK states them. */
export const DEFAULT_CALTRACK_HOURLY_OPTIONS = Object.freeze({
  /** Candidate bin endpoints, °F (CalTRACK 3.9.1.1). */
  knotsF: Object.freeze([30, 45, 55, 65, 75, 90]) as readonly number[],
  /** Minimum hours per temperature bin, hours (CalTRACK 3.9.1.2). */
  minHoursPerBin: 20,
  /** Share of positive residuals above which an hour of week is occupied, 0..1 (CalTRACK 3.8.4). */
  occupancyThreshold: 0.65,
  /** Balance points of the occupancy model, °F (CalTRACK 3.8.3). */
  occupancyHeatingBalancePointF: 50,
  occupancyCoolingBalancePointF: 65,
  /** Weight of the months before and after a segment's own month (CalTRACK 3.7.5). */
  neighbourWeight: 0.5,
  /** Minimum share of a calendar month's hours with usage and temperature, 0..1 (CalTRACK 2.2.1.2). */
  minMonthCoverage: 0.9,
});

/** Options of {@link fitCaltrackHourly}; everything but the unit defaults to CalTRACK 2.0. */
export interface CaltrackHourlyOptions {
  /** Unit of `HourlyRow.temperature`. */
  readonly temperatureUnit: TemperatureUnit;
  /** Candidate bin endpoints in °F (converted to the input unit). Default 30/45/55/65/75/90. */
  readonly knotsF?: readonly number[];
  /** Minimum hours in a temperature bin before it merges into a neighbour. Default 20. */
  readonly minHoursPerBin?: number;
  /** Occupied when the share of positive residuals exceeds this (strictly). Default 0.65. */
  readonly occupancyThreshold?: number;
  /** Balance points of the occupancy degree-hour model, °F. Defaults 50 (heating) and 65 (cooling). */
  readonly occupancyHeatingBalancePointF?: number;
  readonly occupancyCoolingBalancePointF?: number;
  /** Weight of the neighbouring months in each month's model. Default 0.5. */
  readonly neighbourWeight?: number;
  /** A calendar month with a smaller share of hours with data disqualifies the model. Default 0.9. */
  readonly minMonthCoverage?: number;
}

/** Occupancy of one segment: `occupied[h]` for hour of week h = 0..167 (CalTRACK 3.8.4). */
export interface CaltrackHourlyOccupancy {
  /** Calendar month 1..12 the segment predicts. */
  readonly month: number;
  readonly occupied: readonly boolean[];
}

/** Temperature bin endpoints kept for one segment, in the model's temperature unit (CalTRACK 3.9.1.2). */
export interface CaltrackHourlyBins {
  readonly month: number;
  readonly occupied: readonly number[];
  readonly unoccupied: readonly number[];
}

/** The fitted model of one calendar month. */
export interface CaltrackHourlySegment {
  /** Calendar month 1..12 this segment predicts (its own month, weight 1). */
  readonly month: number;
  /** The reference implementation's segment name, e.g. `dec-jan-feb-weighted`. */
  readonly name: string;
  /**
   * Coefficients by feature name. `how_<h>` (h = 0..167): usage per hour at the hour of week, in the
   * meter's unit per hour; absent when the segment has no data for that hour of week (its hours
   * then predict null). `bin_<i>_occupied` / `bin_<i>_unoccupied`: slope of bin i (0 = below the
   * first kept knot), in the meter's unit per hour per degree of the model's temperature unit.
   */
  readonly coefficients: Readonly<Record<string, number>>;
  /** Rows with a non-zero weight in the fit, and the sum of their weights. */
  readonly n: number;
  readonly weightSum: number;
  /** Parameters estimated (hour-of-week levels plus informative bin slopes). */
  readonly p: number;
  /**
   * Fit on the segment's own-month rows, as the reference's per-segment metrics (ASHRAE G14
   * definitions, p = this segment's parameters); ratios are NaN when n ≤ p.
   */
  readonly fit: FitStats;
}

/** Serialisable CalTRACK hourly model (JSON-safe: plain numbers, booleans, strings, arrays). */
export interface CaltrackHourlyModel {
  readonly method: 'caltrack-hourly';
  readonly methodVersion: string;
  readonly type: 'towt';
  /** Unit of the temperatures the model was fitted on and predicts from. */
  readonly temperatureUnit: TemperatureUnit;
  /** The settings used, temperatures converted to `temperatureUnit`. */
  readonly settings: {
    readonly knots: readonly number[];
    readonly minHoursPerBin: number;
    readonly occupancyThreshold: number;
    readonly occupancyHeatingBalancePoint: number;
    readonly occupancyCoolingBalancePoint: number;
    readonly neighbourWeight: number;
    readonly minMonthCoverage: number;
  };
  /** Occupancy per segment, as the reference keeps it (one lookup per month model). */
  readonly occupancy: readonly CaltrackHourlyOccupancy[];
  /** Kept knots per segment and occupancy mode, in `temperatureUnit`. */
  readonly bins: readonly CaltrackHourlyBins[];
  /** Twelve month models, `segments[m - 1]` predicts calendar month m. */
  readonly segments: readonly CaltrackHourlySegment[];
  /**
   * Fit on the baseline (each hour predicted by its month's model, residuals in time order).
   * p sums the parameters of the twelve segments (each month's residuals use its own model's
   * parameters, as in the reference's per-segment metrics). Ratios are NaN when n ≤ p.
   */
  readonly fit: FitStats;
  readonly warnings: Finding[];
  readonly disqualifications: Finding[];
}

/** Options of {@link predictCaltrackHourly}. */
export interface PredictCaltrackHourlyOptions {
  /**
   * Predict although the model is disqualified. The caller must record the override (DOMAIN.md §2.2:
   * no "verified" savings from a disqualified baseline without an explicit, recorded override).
   */
  readonly ignoreDisqualification?: boolean;
}

/**
 * Errors of the CalTRACK hourly model (to be merged into the analytics catalogue and docs/errors.md
 * by whoever owns `analytics/src/errors.ts`).
 */
export const CALTRACK_HOURLY_ERRORS = {
  MV_HOURLY_INPUT_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'An hourly row is malformed: month outside 1..12, hour of week outside 0..167, a start that is not a finite epoch-ms value, or two rows with the same start.',
    fix: 'Build rows with the data preparation (one row per hour, local month and hour of week with Monday 00:00 = 0); `details` names the row index and field.',
  },
  MV_HOURLY_OPTIONS_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'An option of the CalTRACK hourly fit is out of range (unit not F/C, threshold outside 0..1, knots not increasing, negative weight).',
    fix: 'Pass only `temperatureUnit` unless you deliberately deviate from CalTRACK; `details` names the option.',
  },
  MV_HOURLY_MODEL_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'The object given to predict is not a CalTRACK hourly model of a supported version.',
    fix: 'Pass the model returned by fitCaltrackHourly (or its JSON round trip) unchanged.',
  },
  MV_HOURLY_MODEL_DISQUALIFIED: {
    statusCode: 422,
    retriable: false,
    meaning: 'The baseline model has disqualifications (e.g. a calendar month with less than 90 % of its hours), so its predictions are not verified savings.',
    fix: 'Fix the data sufficiency listed in `details.disqualifications`, or predict with `ignoreDisqualification: true` and record the override.',
  },
} as const satisfies ErrorCatalogue;

const hourlyError = createErrorFactory(CALTRACK_HOURLY_ERRORS);

const MONTH_ABBREVIATIONS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] as const;
const NOMINAL_DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;
const HOUR_MS = 3_600_000;

/**
 * Weight of a row of calendar month `rowMonth` in the model of month `segmentMonth` (both 1..12):
 * 1 for the same month, `neighbourWeight` for the months before and after (December and January
 * are neighbours), 0 otherwise (CalTRACK 3.7.5, eemeter `three_month_weighted`).
 */
export function segmentWeight(segmentMonth: number, rowMonth: number, neighbourWeight = DEFAULT_CALTRACK_HOURLY_OPTIONS.neighbourWeight): number {
  const d = (((rowMonth - segmentMonth) % 12) + 12) % 12;
  if (d === 0) return 1;
  if (d === 1 || d === 11) return neighbourWeight;
  return 0;
}

/** The reference's name of the segment predicting month m (1..12), e.g. 1 → `dec-jan-feb-weighted`. */
export function segmentName(month: number): string {
  const at = (m: number) => MONTH_ABBREVIATIONS[(((m - 1) % 12) + 12) % 12]!;
  return `${at(month - 1)}-${at(month)}-${at(month + 1)}-weighted`;
}

/**
 * Index of the candidate bin (0..knots.length) holding temperature t: bins are closed on the right,
 * (−∞, k₀], (k₀, k₁], …, (k_last, ∞) (CalTRACK 3.9.1.1; a temperature equal to a knot belongs to the
 * bin below it, as in the reference).
 */
function elementaryBin(t: number, knots: readonly number[]): number {
  let i = 0;
  while (i < knots.length && t > knots[i]!) i++;
  return i;
}

/**
 * Merges candidate temperature bins with fewer than `minHoursPerBin` hours (CalTRACK 3.9.1.2, as
 * the reference implements it): repeatedly, if the lowest bin is short its upper knot is dropped,
 * if the highest bin is short its lower knot is dropped; only when both edge bins are full are the
 * upper knots of *all* short middle bins dropped at once (each merges with the bin above it).
 * Stops when no bin is short or one bin is left.
 *
 * @param counts - hours in each candidate bin, length `knots.length + 1` (see the bin convention above).
 * @param knots - candidate knots, strictly increasing, in any temperature unit.
 * @returns the kept knots, increasing.
 */
export function mergeTemperatureBins(counts: readonly number[], knots: readonly number[], minHoursPerBin: number): number[] {
  if (counts.length !== knots.length + 1) throw new RangeError('counts must have knots.length + 1 entries');
  // kept[i] says whether candidate knot i is still an endpoint; a bin's count is the sum of the
  // candidate bins between its endpoints, so the temperatures are never revisited.
  const kept = knots.map(() => true);
  for (;;) {
    const endpoints: number[] = [];
    for (let i = 0; i < knots.length; i++) if (kept[i]) endpoints.push(i);
    if (endpoints.length === 0) break;
    const binCounts: number[] = [];
    let from = 0;
    for (const e of endpoints) {
      let c = 0;
      for (let j = from; j <= e; j++) c += counts[j]!;
      binCounts.push(c);
      from = e + 1;
    }
    let last = 0;
    for (let j = from; j < counts.length; j++) last += counts[j]!;
    binCounts.push(last);

    const drop = new Set<number>();
    // Work from the outside in: sparse bins are expected at the edges of the distribution.
    if (binCounts[0]! < minHoursPerBin) drop.add(endpoints[0]!);
    if (binCounts[binCounts.length - 1]! < minHoursPerBin) drop.add(endpoints[endpoints.length - 1]!);
    if (drop.size === 0) {
      for (let b = 1; b < binCounts.length - 1; b++) if (binCounts[b]! < minHoursPerBin) drop.add(endpoints[b]!);
    }
    if (drop.size === 0) break;
    for (const e of drop) kept[e] = false;
  }
  return knots.filter((_, i) => kept[i]);
}

/**
 * Kept knots for a set of hourly temperatures (counts them into the candidate bins, then
 * {@link mergeTemperatureBins}). Null/non-finite temperatures are not counted.
 */
export function fitTemperatureBins(
  temperatures: readonly (number | null)[],
  knots: readonly number[] = DEFAULT_CALTRACK_HOURLY_OPTIONS.knotsF,
  minHoursPerBin: number = DEFAULT_CALTRACK_HOURLY_OPTIONS.minHoursPerBin,
): number[] {
  const counts = new Array<number>(knots.length + 1).fill(0);
  for (const t of temperatures) if (t !== null && Number.isFinite(t)) counts[elementaryBin(t, knots)]!++;
  return mergeTemperatureBins(counts, knots, minHoursPerBin);
}

/**
 * Writes the piecewise-linear temperature features of t for the kept knots k₀ < … < k_{n−1} into
 * `out[offset .. offset + n]` (n + 1 values, CalTRACK 3.9.1.3–3.9.1.5): bin 0 is min(t, k₀); middle
 * bin i is t − k_{i−1} clamped to [0, k_i − k_{i−1}]; the last bin is max(t − k_{n−1}, 0). With no
 * knots the single feature is t. The features sum to t.
 */
function writeBinFeatures(t: number, knots: readonly number[], out: Float64Array, offset: number): void {
  const n = knots.length;
  if (n === 0) {
    out[offset] = t;
    return;
  }
  const k0 = knots[0]!;
  out[offset] = t < k0 ? t : k0;
  for (let i = 1; i < n; i++) {
    const lo = knots[i - 1]!;
    const hi = knots[i]!;
    out[offset + i] = t <= lo ? 0 : t >= hi ? hi - lo : t - lo;
  }
  const kl = knots[n - 1]!;
  out[offset + n] = t > kl ? t - kl : 0;
}

/**
 * Temperature bin features of one temperature for the given kept knots (see CalTRACK 3.9.2's
 * table); length `knots.length + 1`, summing to t.
 */
export function temperatureBinFeatures(t: number, knots: readonly number[]): number[] {
  const out = new Float64Array(knots.length + 1);
  writeBinFeatures(t, knots, out, 0);
  return Array.from(out);
}

interface ResolvedOptions {
  readonly unit: TemperatureUnit;
  readonly knots: readonly number[];
  readonly minHoursPerBin: number;
  readonly threshold: number;
  readonly heatingBalancePoint: number;
  readonly coolingBalancePoint: number;
  readonly neighbourWeight: number;
  readonly minMonthCoverage: number;
}

const fromF = (unit: TemperatureUnit, f: number): number => (unit === 'F' ? f : ((f - 32) * 5) / 9);

function resolveOptions(options: CaltrackHourlyOptions): ResolvedOptions {
  const unit = options?.temperatureUnit;
  if (unit !== 'F' && unit !== 'C') {
    throw hourlyError('MV_HOURLY_OPTIONS_INVALID', `temperatureUnit must be 'F' or 'C', got ${String(unit)}`, { details: { option: 'temperatureUnit' } });
  }
  const d = DEFAULT_CALTRACK_HOURLY_OPTIONS;
  const knotsF = options.knotsF ?? d.knotsF;
  for (let i = 0; i < knotsF.length; i++) {
    if (!Number.isFinite(knotsF[i]) || (i > 0 && !(knotsF[i]! > knotsF[i - 1]!))) {
      throw hourlyError('MV_HOURLY_OPTIONS_INVALID', 'knotsF must be finite and strictly increasing', { details: { option: 'knotsF', knotsF } });
    }
  }
  const resolved: ResolvedOptions = {
    unit,
    knots: knotsF.map((k) => fromF(unit, k)),
    minHoursPerBin: options.minHoursPerBin ?? d.minHoursPerBin,
    threshold: options.occupancyThreshold ?? d.occupancyThreshold,
    heatingBalancePoint: fromF(unit, options.occupancyHeatingBalancePointF ?? d.occupancyHeatingBalancePointF),
    coolingBalancePoint: fromF(unit, options.occupancyCoolingBalancePointF ?? d.occupancyCoolingBalancePointF),
    neighbourWeight: options.neighbourWeight ?? d.neighbourWeight,
    minMonthCoverage: options.minMonthCoverage ?? d.minMonthCoverage,
  };
  const bad = (option: string, value: unknown) =>
    hourlyError('MV_HOURLY_OPTIONS_INVALID', `option ${option} is out of range: ${String(value)}`, { details: { option, value } });
  if (!(resolved.threshold >= 0 && resolved.threshold <= 1)) throw bad('occupancyThreshold', resolved.threshold);
  if (!(resolved.minMonthCoverage >= 0 && resolved.minMonthCoverage <= 1)) throw bad('minMonthCoverage', resolved.minMonthCoverage);
  if (!(resolved.neighbourWeight >= 0 && Number.isFinite(resolved.neighbourWeight))) throw bad('neighbourWeight', resolved.neighbourWeight);
  if (!(resolved.minHoursPerBin >= 0)) throw bad('minHoursPerBin', resolved.minHoursPerBin);
  if (!Number.isFinite(resolved.heatingBalancePoint)) throw bad('occupancyHeatingBalancePointF', resolved.heatingBalancePoint);
  if (!Number.isFinite(resolved.coolingBalancePoint)) throw bad('occupancyCoolingBalancePointF', resolved.coolingBalancePoint);
  return resolved;
}

/** Rows validated and put in time order; returns the order (indices into `rows`). */
function validateAndOrder(rows: readonly HourlyRow[]): Int32Array {
  const n = rows.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    if (!Number.isFinite(r.start)) throw hourlyError('MV_HOURLY_INPUT_INVALID', `row ${i}: start is not a finite epoch-ms value`, { details: { index: i, field: 'start' } });
    if (!Number.isInteger(r.month) || r.month < 1 || r.month > 12) throw hourlyError('MV_HOURLY_INPUT_INVALID', `row ${i}: month ${r.month} is not 1..12`, { details: { index: i, field: 'month' } });
    if (!Number.isInteger(r.hourOfWeek) || r.hourOfWeek < 0 || r.hourOfWeek >= HOURS_PER_WEEK) {
      throw hourlyError('MV_HOURLY_INPUT_INVALID', `row ${i}: hourOfWeek ${r.hourOfWeek} is not 0..167`, { details: { index: i, field: 'hourOfWeek' } });
    }
    order[i] = i;
  }
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) if (rows[i]!.start < rows[i - 1]!.start) sorted = false;
  if (!sorted) order.sort((a, b) => rows[a]!.start - rows[b]!.start);
  for (let i = 1; i < n; i++) {
    if (rows[order[i]!]!.start === rows[order[i - 1]!]!.start) {
      throw hourlyError('MV_HOURLY_INPUT_INVALID', `rows ${order[i - 1]} and ${order[i]} have the same start`, { details: { index: order[i], field: 'start' } });
    }
  }
  return order;
}

const isValue = (v: number | null): v is number => v !== null && Number.isFinite(v);

/** Per-segment state shared by fit and predict: occupancy, kept knots and coefficient arrays. */
interface SegmentCoefficients {
  readonly occupied: Uint8Array;
  /** Kept knots: [occupied, unoccupied]. */
  readonly knots: readonly [readonly number[], readonly number[]];
  /** Hour-of-week levels; NaN where the segment has no coefficient. */
  readonly how: Float64Array;
  /** Bin slopes: [occupied (knots[0].length + 1), unoccupied (knots[1].length + 1)]. */
  readonly slopes: readonly [Float64Array, Float64Array];
}

/** Prediction of one hour by a segment; NaN when the segment has no level for that hour of week. */
function predictOne(seg: SegmentCoefficients, hourOfWeek: number, t: number, scratch: Float64Array): number {
  const level = seg.how[hourOfWeek]!;
  if (Number.isNaN(level)) return Number.NaN;
  const mode = seg.occupied[hourOfWeek] ? 0 : 1;
  const knots = seg.knots[mode];
  const slopes = seg.slopes[mode];
  writeBinFeatures(t, knots, scratch, 0);
  let y = level;
  for (let j = 0; j <= knots.length; j++) y += slopes[j]! * scratch[j]!;
  return y;
}

/**
 * Fits the CalTRACK 2.0 hourly (TOWT) baseline model: twelve month-by-month WLS models with
 * per-segment occupancy and temperature bins, as the reference implementation (eemeter) does.
 *
 * Rows with usage or temperature missing (null or non-finite) are left out of every step, as the
 * reference's design matrix does. The rows need not be sorted; `month` and `hourOfWeek` must be
 * local to the analysis time zone (Monday 00:00 = 0). Electricity zeros must already be null
 * (CalTRACK 2.2.1.4, data preparation's job).
 *
 * Findings: a calendar month with less than 90 % of its hours usable disqualifies the model
 * (CalTRACK 2.2.1.2: each month model needs its own and both neighbouring months); a baseline
 * spanning more than 365 days, segments without data, hours of week without data in a segment and
 * singular fits are warnings.
 *
 * Performance: per segment the WLS normal equations are accumulated row by row and the 168
 * hour-of-week indicators are eliminated analytically (they form a diagonal block, so the
 * bin slopes solve a ≤ 14×14 "within hour of week" system — the Frisch–Waugh–Lovell theorem), instead
 * of building twelve 8,760 × ~180 dense design matrices and factorising them as the reference
 * does (and as `stats/least-squares.ts` would, by QR). The result is the same least-squares
 * solution (the tests compare it with a dense WLS); a meter-year fits in about 10 ms.
 *
 * Deliberate differences from the reference, only in degenerate data: an hour of week without
 * weighted data in a segment gets no coefficient and predicts null (the reference's `pinv` gives
 * it a level of 0 when the hour appears elsewhere in the baseline); a temperature feature with no
 * variation within the hours of week of a segment gets slope 0 (the reference's minimum-norm
 * solution may spread it over the levels; predictions on the baseline are identical).
 *
 * @param rows - baseline hours: usage (meter unit per hour), temperature (`options.temperatureUnit`).
 * @param options - `temperatureUnit` and optional CalTRACK overrides ({@link CaltrackHourlyOptions}).
 * @returns a JSON-serialisable model with fit statistics, warnings and disqualifications.
 * @throws WattproofError `MV_HOURLY_INPUT_INVALID` for a malformed row (month, hour of week,
 *   start, duplicate start); `MV_HOURLY_OPTIONS_INVALID` for out-of-range options.
 */
export function fitCaltrackHourly(rows: readonly HourlyRow[], options: CaltrackHourlyOptions): CaltrackHourlyModel {
  const o = resolveOptions(options);
  const order = validateAndOrder(rows);
  const warnings: Finding[] = [];
  const disqualifications: Finding[] = [];
  const K = o.knots.length;
  const H = HOURS_PER_WEEK;

  // Usable rows (usage and temperature present), in time order, as flat typed arrays.
  let m = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (isValue(r.usage) && isValue(r.temperature)) m++;
  }
  const Y = new Float64Array(m);
  const T = new Float64Array(m);
  const MON = new Uint8Array(m); // 0..11
  const HOW = new Uint8Array(m);
  const EB = new Uint8Array(m); // candidate bin of the temperature

  // Coverage per calendar month (CalTRACK 2.2.1.2). Hours absent from the input (gaps between
  // consecutive starts) count as missing, attributed to the month of the hour before the gap.
  const hoursInMonth = new Float64Array(12);
  const usableInMonth = new Float64Array(12);
  {
    let u = 0;
    let prevStart = Number.NaN;
    let prevMonth = -1;
    for (let q = 0; q < order.length; q++) {
      const r = rows[order[q]!]!;
      const mi = r.month - 1;
      hoursInMonth[mi]!++;
      if (prevMonth >= 0) {
        const gap = Math.round((r.start - prevStart) / HOUR_MS) - 1;
        if (gap > 0) hoursInMonth[prevMonth]! += gap;
      }
      prevStart = r.start;
      prevMonth = mi;
      if (isValue(r.usage) && isValue(r.temperature)) {
        Y[u] = r.usage;
        T[u] = r.temperature;
        MON[u] = mi;
        HOW[u] = r.hourOfWeek;
        EB[u] = elementaryBin(r.temperature, o.knots);
        usableInMonth[mi]!++;
        u++;
      }
    }
  }
  const coverageFailures: { month: number; usableHours: number; expectedHours: number; coverage: number }[] = [];
  for (let mi = 0; mi < 12; mi++) {
    // A month absent from the input is measured against its nominal length (coverage 0).
    const expected = hoursInMonth[mi]! > 0 ? hoursInMonth[mi]! : NOMINAL_DAYS_IN_MONTH[mi]! * 24;
    const coverage = expected > 0 ? usableInMonth[mi]! / expected : 0;
    if (coverage < o.minMonthCoverage) {
      coverageFailures.push({ month: mi + 1, usableHours: usableInMonth[mi]!, expectedHours: expected, coverage });
    }
  }
  if (coverageFailures.length > 0) {
    disqualifications.push({
      code: 'mv.caltrack_hourly.month_coverage_too_low',
      message: `CalTRACK 2.2.1.2: ${coverageFailures.length} calendar month(s) have usage and temperature for less than ${Math.round(o.minMonthCoverage * 100)} % of their hours; each month model needs its own and both neighbouring months.`,
      data: { minMonthCoverage: o.minMonthCoverage, months: coverageFailures },
    });
  }
  if (rows.length > 1) {
    const spanHours = (rows[order[order.length - 1]!]!.start - rows[order[0]!]!.start) / HOUR_MS + 1;
    if (spanHours > 366 * 24) {
      warnings.push({
        code: 'mv.caltrack_hourly.baseline_longer_than_365_days',
        message: 'CalTRACK 2.2.5: the baseline spans more than 365 days, so some calendar months are fitted on more than one year of data.',
        data: { spanHours },
      });
    }
  }

  // Each usable row falls in three segments: its own month (weight 1) and the segments of the
  // months before and after it (weight 0.5) (CalTRACK 3.7.5).
  const wOwn = 1;
  const wNb = o.neighbourWeight;
  const segOf = (mi: number, j: number) => (j === 0 ? mi : j === 1 ? (mi + 11) % 12 : (mi + 1) % 12);
  const wOf = (j: number) => (j === 0 ? wOwn : wNb);

  // 1. Occupancy model per segment: WLS usage ~ 1 + CDH65 + HDH50 (CalTRACK 3.8.3).
  const occNE = Array.from({ length: 12 }, () => new NormalEquations(3));
  const x3 = new Float64Array(3);
  x3[0] = 1;
  for (let u = 0; u < m; u++) {
    const t = T[u]!;
    x3[1] = t > o.coolingBalancePoint ? t - o.coolingBalancePoint : 0;
    x3[2] = t < o.heatingBalancePoint ? o.heatingBalancePoint - t : 0;
    for (let j = 0; j < 3; j++) occNE[segOf(MON[u]!, j)]!.add(x3, Y[u]!, wOf(j));
  }
  const occBeta = occNE.map((ne) => (ne.n > 0 ? ne.solve().x : null));

  // 2. Share of under-predictions (positive residuals) per segment and hour of week (CalTRACK 3.8.4).
  //    Every row of the segment's window counts once, whatever its weight, as in the reference.
  const positive = new Uint32Array(12 * H);
  const total = new Uint32Array(12 * H);
  for (let u = 0; u < m; u++) {
    const t = T[u]!;
    const cdh = t > o.coolingBalancePoint ? t - o.coolingBalancePoint : 0;
    const hdh = t < o.heatingBalancePoint ? o.heatingBalancePoint - t : 0;
    for (let j = 0; j < 3; j++) {
      if (wOf(j) <= 0) continue;
      const s = segOf(MON[u]!, j);
      const b = occBeta[s]!;
      const resid = Y[u]! - (b[0]! + b[1]! * cdh + b[2]! * hdh);
      const cell = s * H + HOW[u]!;
      total[cell]!++;
      if (resid > 0) positive[cell]!++;
    }
  }
  const occupied = Array.from({ length: 12 }, (_, s) => {
    const occ = new Uint8Array(H);
    for (let h = 0; h < H; h++) {
      const n = total[s * H + h]!;
      // An hour of week without data is flagged occupied, as the reference's lookup does
      // (its NaN becomes True); it has no coefficient, so this never changes a prediction.
      occ[h] = n === 0 || positive[s * H + h]! / n > o.threshold ? 1 : 0;
    }
    return occ;
  });

  // 3. Temperature bins per segment and occupancy mode (CalTRACK 3.9.1.2): count the usable rows
  //    of the segment's window (any non-zero weight) into the candidate bins, then merge.
  const binCounts = new Float64Array(12 * 2 * (K + 1));
  for (let u = 0; u < m; u++) {
    for (let j = 0; j < 3; j++) {
      if (wOf(j) <= 0) continue;
      const s = segOf(MON[u]!, j);
      const mode = occupied[s]![HOW[u]!] ? 0 : 1;
      binCounts[(s * 2 + mode) * (K + 1) + EB[u]!]!++;
    }
  }
  const segKnots = Array.from({ length: 12 }, (_, s) => {
    const pick = (mode: number) => mergeTemperatureBins(Array.from(binCounts.subarray((s * 2 + mode) * (K + 1), (s * 2 + mode + 1) * (K + 1))), o.knots, o.minHoursPerBin);
    return [pick(0), pick(1)] as const;
  });

  // 4. Main WLS per segment. Columns: occupied bin features [0, nO), unoccupied [nO, nO + nU);
  //    the 168 hour-of-week indicators are eliminated by centring within (segment, hour of week).
  const KMAX = 2 * (K + 1);
  const nCols = segKnots.map(([ko, ku]) => ko.length + 1 + ku.length + 1);
  const colOffset = (s: number, mode: number) => (mode === 0 ? 0 : segKnots[s]![0].length + 1);
  const sw = new Float64Array(12 * H); // Σw per (segment, hour of week)
  const swy = new Float64Array(12 * H); // Σw·y
  const swf = new Float64Array(12 * H * KMAX); // Σw·f
  const rawF2 = new Float64Array(12 * KMAX); // Σw·f² (scale of the zero-column test)
  const segN = new Float64Array(12);
  const segW = new Float64Array(12);
  const f = new Float64Array(K + 1);
  for (let u = 0; u < m; u++) {
    const y = Y[u]!;
    const h = HOW[u]!;
    for (let j = 0; j < 3; j++) {
      const w = wOf(j);
      if (w <= 0) continue;
      const s = segOf(MON[u]!, j);
      const mode = occupied[s]![h] ? 0 : 1;
      const knots = segKnots[s]![mode];
      writeBinFeatures(T[u]!, knots, f, 0);
      const cell = s * H + h;
      sw[cell]! += w;
      swy[cell]! += w * y;
      segN[s]!++;
      segW[s]! += w;
      const off = colOffset(s, mode);
      for (let c = 0; c <= knots.length; c++) {
        swf[cell * KMAX + off + c]! += w * f[c]!;
        rawF2[s * KMAX + off + c]! += w * f[c]! * f[c]!;
      }
    }
  }
  // Second pass: within-(segment, hour of week) cross products, accumulated on centred values
  // (numerically better than forming the Schur complement from raw sums).
  const S = new Float64Array(12 * KMAX * KMAX);
  const r = new Float64Array(12 * KMAX);
  for (let u = 0; u < m; u++) {
    const h = HOW[u]!;
    for (let j = 0; j < 3; j++) {
      const w = wOf(j);
      if (w <= 0) continue;
      const s = segOf(MON[u]!, j);
      const mode = occupied[s]![h] ? 0 : 1;
      const knots = segKnots[s]![mode];
      writeBinFeatures(T[u]!, knots, f, 0);
      const cell = s * H + h;
      const wsum = sw[cell]!;
      const dy = Y[u]! - swy[cell]! / wsum;
      const off = colOffset(s, mode);
      const kc = nCols[s]!;
      const nb = knots.length + 1;
      for (let a = 0; a < nb; a++) {
        f[a] = f[a]! - swf[cell * KMAX + off + a]! / wsum;
      }
      const base = s * KMAX * KMAX;
      for (let a = 0; a < nb; a++) {
        const wa = w * f[a]!;
        r[s * KMAX + off + a]! += wa * dy;
        for (let b = 0; b <= a; b++) S[base + (off + a) * kc + off + b]! += wa * f[b]!;
      }
    }
  }

  const segments: CaltrackHourlySegment[] = [];
  const coefficients: SegmentCoefficients[] = [];
  const missingHowBySegment: { month: number; missingHoursOfWeek: number[] }[] = [];
  const emptySegments: number[] = [];
  for (let s = 0; s < 12; s++) {
    const kc = nCols[s]!;
    const [ko, ku] = segKnots[s]!;
    const nO = ko.length + 1;
    const how = new Float64Array(H).fill(Number.NaN);
    const slopes: [Float64Array, Float64Array] = [new Float64Array(nO), new Float64Array(ku.length + 1)];
    const coef: Record<string, number> = {};
    let p = 0;
    if (segN[s]! > 0) {
      // S was filled in its lower triangle; mirror it for the solver.
      const A = new Float64Array(kc * kc);
      const base = s * KMAX * KMAX;
      for (let a = 0; a < kc; a++) {
        for (let b = 0; b <= a; b++) {
          const v = S[base + a * kc + b]!;
          A[a * kc + b] = v;
          A[b * kc + a] = v;
        }
      }
      const sol = solveSymmetric(A, r.subarray(s * KMAX, s * KMAX + kc), kc, rawF2.subarray(s * KMAX, s * KMAX + kc));
      if (sol.pseudoInverse) {
        warnings.push({
          code: 'mv.caltrack_hourly.singular_fit',
          message: `The ${segmentName(s + 1)} model's temperature features are collinear; the minimum-norm (pseudo-inverse) solution is used, as the reference does.`,
          data: { month: s + 1 },
        });
      }
      const beta = sol.x;
      const informative = kc - sol.dropped.length;
      for (let c = 0; c < kc; c++) {
        if (c < nO) slopes[0][c] = beta[c]!;
        else slopes[1][c - nO] = beta[c]!;
      }
      const missing: number[] = [];
      for (let h = 0; h < H; h++) {
        const cell = s * H + h;
        const wsum = sw[cell]!;
        if (wsum <= 0) {
          missing.push(h);
          continue;
        }
        // Level = weighted mean of y minus the slopes times the weighted mean features.
        let level = swy[cell]! / wsum;
        for (let c = 0; c < kc; c++) level -= (beta[c]! * swf[cell * KMAX + c]!) / wsum;
        how[h] = level;
        coef[`how_${h}`] = level;
        p++;
      }
      for (let c = 0; c < nO; c++) coef[`bin_${c}_occupied`] = slopes[0][c]!;
      for (let c = 0; c < ku.length + 1; c++) coef[`bin_${c}_unoccupied`] = slopes[1][c]!;
      p += informative;
      if (missing.length > 0) missingHowBySegment.push({ month: s + 1, missingHoursOfWeek: missing });
    } else {
      emptySegments.push(s + 1);
    }
    const seg: SegmentCoefficients = { occupied: occupied[s]!, knots: [ko, ku], how, slopes };
    coefficients.push(seg);
    segments.push({ month: s + 1, name: segmentName(s + 1), coefficients: coef, n: segN[s]!, weightSum: segW[s]!, p, fit: fitStats([], [], 0) });
  }
  if (emptySegments.length > 0) {
    warnings.push({
      code: 'mv.caltrack_hourly.segment_without_data',
      message: 'Some month models have no usable hours (usage and temperature) in their three months; those months predict null.',
      data: { months: emptySegments },
    });
  }
  if (missingHowBySegment.length > 0) {
    warnings.push({
      code: 'mv.caltrack_hourly.hour_of_week_missing',
      message: 'Some month models have no data for some hours of the week; those hours predict null.',
      data: { segments: missingHowBySegment },
    });
  }

  // Fit on the baseline: every usable hour predicted by its own month's model, in time order.
  const predicted = new Float64Array(m);
  const scratch = new Float64Array(K + 1);
  for (let u = 0; u < m; u++) predicted[u] = predictOne(coefficients[MON[u]!]!, HOW[u]!, T[u]!, scratch);
  const obsAll: number[] = [];
  const preAll: number[] = [];
  const obsSeg: number[][] = Array.from({ length: 12 }, () => []);
  const preSeg: number[][] = Array.from({ length: 12 }, () => []);
  for (let u = 0; u < m; u++) {
    const yhat = predicted[u]!;
    if (Number.isNaN(yhat)) continue;
    obsAll.push(Y[u]!);
    preAll.push(yhat);
    obsSeg[MON[u]!]!.push(Y[u]!);
    preSeg[MON[u]!]!.push(yhat);
  }
  const finalSegments = segments.map((seg, s) => ({ ...seg, fit: fitStats(obsSeg[s]!, preSeg[s]!, seg.p) }));
  const pTotal = segments.reduce((acc, seg) => acc + seg.p, 0);
  const fit = fitStats(obsAll, preAll, pTotal);
  if (!(fit.n > pTotal) || !Number.isFinite(fit.cvrmse)) {
    disqualifications.push({
      code: 'mv.caltrack_hourly.insufficient_data_for_fit',
      message: 'Too few usable baseline hours to estimate the model and its fit statistics (n ≤ p or zero mean usage).',
      data: { n: obsAll.length, p: pTotal },
    });
  }

  return {
    method: 'caltrack-hourly',
    methodVersion: CALTRACK_HOURLY_METHOD_VERSION,
    type: 'towt',
    temperatureUnit: o.unit,
    settings: {
      knots: [...o.knots],
      minHoursPerBin: o.minHoursPerBin,
      occupancyThreshold: o.threshold,
      occupancyHeatingBalancePoint: o.heatingBalancePoint,
      occupancyCoolingBalancePoint: o.coolingBalancePoint,
      neighbourWeight: o.neighbourWeight,
      minMonthCoverage: o.minMonthCoverage,
    },
    occupancy: occupied.map((occ, s) => ({ month: s + 1, occupied: Array.from(occ, (v) => v === 1) })),
    bins: segKnots.map(([ko, ku], s) => ({ month: s + 1, occupied: [...ko], unoccupied: [...ku] })),
    segments: finalSegments,
    fit,
    warnings,
    disqualifications,
  };
}

/** Rebuilds the typed coefficient arrays of a (possibly JSON round-tripped) model. */
function segmentCoefficients(model: CaltrackHourlyModel): SegmentCoefficients[] {
  const invalid = (why: string) => hourlyError('MV_HOURLY_MODEL_INVALID', `not a CalTRACK hourly model: ${why}`, { details: { why } });
  if (model === null || typeof model !== 'object' || model.method !== 'caltrack-hourly' || model.type !== 'towt') throw invalid('method/type');
  if (model.methodVersion !== CALTRACK_HOURLY_METHOD_VERSION) throw invalid(`unsupported methodVersion ${String(model.methodVersion)}`);
  if (!Array.isArray(model.segments) || model.segments.length !== 12 || model.occupancy?.length !== 12 || model.bins?.length !== 12) throw invalid('expected 12 segments, occupancy lookups and bin sets');
  const out: SegmentCoefficients[] = [];
  for (let s = 0; s < 12; s++) {
    const seg = model.segments[s]!;
    const occ = model.occupancy[s]!;
    const bins = model.bins[s]!;
    if (seg.month !== s + 1 || occ.month !== s + 1 || bins.month !== s + 1 || occ.occupied.length !== HOURS_PER_WEEK) throw invalid(`segment ${s + 1} is malformed`);
    const how = new Float64Array(HOURS_PER_WEEK).fill(Number.NaN);
    for (let h = 0; h < HOURS_PER_WEEK; h++) {
      const v = seg.coefficients[`how_${h}`];
      if (typeof v === 'number' && Number.isFinite(v)) how[h] = v;
    }
    const slopes = (knots: readonly number[], suffix: string) =>
      Float64Array.from({ length: knots.length + 1 }, (_, c) => {
        const v = seg.coefficients[`bin_${c}_${suffix}`];
        return typeof v === 'number' && Number.isFinite(v) ? v : 0;
      });
    out.push({
      occupied: Uint8Array.from(occ.occupied, (v) => (v ? 1 : 0)),
      knots: [bins.occupied, bins.unoccupied],
      how,
      slopes: [slopes(bins.occupied, 'occupied'), slopes(bins.unoccupied, 'unoccupied')],
    });
  }
  return out;
}

/**
 * Predicts hourly usage with a CalTRACK hourly model: each hour with the model of its calendar
 * month (CalTRACK 3.7.5, 3.12.1), occupancy and bins of that month's model.
 *
 * @param model - a model from {@link fitCaltrackHourly} (or its JSON round trip).
 * @param rows - hours to predict; `temperature` in `model.temperatureUnit`, `month`/`hourOfWeek` local.
 *   `usage` is ignored.
 * @returns one prediction per row, in the meter's unit per hour: null where the temperature is
 *   missing (CalTRACK 3.5.3.1) or the month's model has no level for that hour of week.
 * @throws WattproofError `MV_HOURLY_MODEL_DISQUALIFIED` when the model has disqualifications and
 *   `ignoreDisqualification` is not set; `MV_HOURLY_MODEL_INVALID` for a foreign or malformed
 *   model; `MV_HOURLY_INPUT_INVALID` for a row with month or hour of week out of range.
 */
export function predictCaltrackHourly(model: CaltrackHourlyModel, rows: readonly HourlyRow[], options: PredictCaltrackHourlyOptions = {}): (number | null)[] {
  const segs = segmentCoefficients(model);
  if (model.disqualifications.length > 0 && !options.ignoreDisqualification) {
    throw hourlyError('MV_HOURLY_MODEL_DISQUALIFIED', 'the baseline model is disqualified; pass ignoreDisqualification: true to predict anyway and record the override', {
      details: { disqualifications: model.disqualifications.map((d) => d.code) },
    });
  }
  let maxKnots = 0;
  for (const s of segs) maxKnots = Math.max(maxKnots, s.knots[0].length, s.knots[1].length);
  const scratch = new Float64Array(maxKnots + 1);
  const out = new Array<number | null>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (!Number.isInteger(r.month) || r.month < 1 || r.month > 12 || !Number.isInteger(r.hourOfWeek) || r.hourOfWeek < 0 || r.hourOfWeek >= HOURS_PER_WEEK) {
      throw hourlyError('MV_HOURLY_INPUT_INVALID', `row ${i}: month or hourOfWeek out of range`, { details: { index: i, field: 'month/hourOfWeek' } });
    }
    if (!isValue(r.temperature)) {
      out[i] = null;
      continue;
    }
    const y = predictOne(segs[r.month - 1]!, r.hourOfWeek, r.temperature, scratch);
    out[i] = Number.isNaN(y) ? null : y;
  }
  return out;
}
