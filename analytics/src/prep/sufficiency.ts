/**
 * Baseline data sufficiency (CalTRACK 2.2, 2.3.5, 2.3.6; DOMAIN.md §2.2). Findings are split
 * into warnings (kept with the result) and disqualifications (savings must not be called
 * verified without a recorded override).
 */
import type { BillingRow, DailyRow, Finding, HourlyRow } from '../types.js';
import { daysBetween, nextDate } from './local-time.js';

/** Warnings and disqualifications of a sufficiency check. */
export interface SufficiencyResult {
  readonly warnings: Finding[];
  readonly disqualifications: Finding[];
}

/** Defaults of the sufficiency rules (CalTRACK 2.2.1, 2.2.3, 3.1.3). */
export const DEFAULT_SUFFICIENCY = Object.freeze({
  /** Baseline length, days (CalTRACK 2.2.1.1, 3.1.3). */
  requiredDays: 365,
  /** Most days of usage or temperature missing, days (CalTRACK 2.2.1.2). */
  maxMissingDays: 37,
  /** Least share of each calendar month's hours with a temperature (DOMAIN.md §2.2). */
  minMonthlyTemperatureCoverage: 0.9,
  /** Least share of each calendar month's hours with usage, hourly models (CalTRACK 2.2.1.2). */
  minMonthlyHourlyCoverage: 0.9,
  /** Least share of a billing period's hours with a temperature (CalTRACK 2.2.3.2). */
  minPeriodTemperatureCoverage: 0.9,
  /** Extreme value limit: median + k·IQR, k (CalTRACK 2.3.6). */
  extremeIqrFactor: 3,
});

/** Options of {@link checkDailySufficiency}. */
export interface DailySufficiencyOptions {
  /** First local date of the requested baseline (default: the first row's date). */
  readonly firstDate?: string;
  /** Last local date of the requested baseline, inclusive (default: the last row's date). */
  readonly lastDate?: string;
  /** Required span in days (default 365); 0 disables the length check (e.g. for a reporting period). */
  readonly requiredDays?: number;
  readonly maxMissingDays?: number;
  readonly minMonthlyTemperatureCoverage?: number;
}

/** How many example dates a finding lists at most. */
const MAX_LISTED = 20;

/**
 * Checks daily baseline rows: length (365 days), missing days (≤ 37), temperature coverage of
 * every calendar month (≥ 90 % of hours), extreme values (> median + 3·IQR) and negative values.
 *
 * Codes: `mv.sufficiency.baseline_too_short`, `mv.sufficiency.baseline_too_long`,
 * `mv.sufficiency.too_many_days_missing`, `mv.sufficiency.insufficient_temperature_coverage`
 * (disqualifications); `mv.sufficiency.extreme_values`, `mv.sufficiency.negative_values` (warnings).
 */
export function checkDailySufficiency(rows: readonly DailyRow[], options: DailySufficiencyOptions = {}): SufficiencyResult {
  const warnings: Finding[] = [];
  const disqualifications: Finding[] = [];
  if (rows.length === 0 && (options.firstDate === undefined || options.lastDate === undefined)) {
    disqualifications.push({ code: 'mv.sufficiency.no_data', message: 'No baseline data.', data: {} });
    return { warnings, disqualifications };
  }
  const requiredDays = options.requiredDays ?? DEFAULT_SUFFICIENCY.requiredDays;
  const maxMissing = options.maxMissingDays ?? DEFAULT_SUFFICIENCY.maxMissingDays;
  const minTempCoverage = options.minMonthlyTemperatureCoverage ?? DEFAULT_SUFFICIENCY.minMonthlyTemperatureCoverage;
  const firstDate = options.firstDate ?? rows[0]!.date;
  const lastDate = options.lastDate ?? rows[rows.length - 1]!.date;
  const nDays = daysBetween(firstDate, lastDate) + 1;

  // CalTRACK 2.2.1.1, 3.1.3: a 365-day baseline immediately before the intervention.
  if (requiredDays <= 0) {
    // No length requirement.
  } else if (nDays < requiredDays) {
    disqualifications.push({
      code: 'mv.sufficiency.baseline_too_short',
      message: `The baseline spans ${nDays} days; ${requiredDays} are required.`,
      data: { firstDate, lastDate, nDays, requiredDays },
    });
  } else if (nDays > requiredDays) {
    // CalTRACK 2.2.5: data beyond the period must not be used.
    disqualifications.push({
      code: 'mv.sufficiency.baseline_too_long',
      message: `The baseline spans ${nDays} days; exactly ${requiredDays} are used by the method.`,
      data: { firstDate, lastDate, nDays, requiredDays },
    });
  }

  const byDate = new Map<string, DailyRow>();
  for (const r of rows) if (r.date >= firstDate && r.date <= lastDate) byDate.set(r.date, r);
  let nValid = 0;
  let nMissingUsage = 0;
  let nMissingTemperature = 0;
  const months = new Map<string, { hours: number; covered: number }>();
  for (let d = firstDate; d <= lastDate; d = nextDate(d)) {
    const r = byDate.get(d);
    const usageOk = r !== undefined && r.usage !== null;
    const tempOk = r !== undefined && r.temperature !== null;
    if (usageOk && tempOk) nValid++;
    if (!usageOk) nMissingUsage++;
    if (!tempOk) nMissingTemperature++;
    const key = d.slice(0, 7);
    const m = months.get(key) ?? { hours: 0, covered: 0 };
    const hours = r?.hours ?? 24;
    m.hours += hours;
    m.covered += hours * (r === undefined ? 0 : (r.temperatureCoverage ?? (r.temperature === null ? 0 : 1)));
    months.set(key, m);
  }
  const nMissing = nDays - nValid;
  // CalTRACK 2.2.1.2: at most 37 days (10 %) of usage or temperature missing.
  if (nMissing > maxMissing) {
    disqualifications.push({
      code: 'mv.sufficiency.too_many_days_missing',
      message: `${nMissing} of ${nDays} baseline days lack usage or temperature; at most ${maxMissing} may.`,
      data: { nDays, nValidDays: nValid, nMissingDays: nMissing, nMissingUsage, nMissingTemperature, maxMissingDays: maxMissing },
    });
  }
  const poorMonths = [...months]
    .map(([month, m]) => ({ month, coverage: m.hours > 0 ? m.covered / m.hours : 0 }))
    .filter((m) => m.coverage < minTempCoverage);
  if (poorMonths.length > 0) {
    disqualifications.push({
      code: 'mv.sufficiency.insufficient_temperature_coverage',
      message: `${poorMonths.length} calendar month(s) have temperatures for less than ${minTempCoverage * 100} % of their hours.`,
      data: { months: poorMonths, minCoverage: minTempCoverage },
    });
  }

  const valued = [...byDate.values()].filter((r) => r.usage !== null);
  warnings.push(
    ...extremeValueWarnings(valued.map((r) => ({ key: r.date, value: r.usage! }))),
    ...negativeWarnings(valued.filter((r) => r.negative === true || r.usage! < 0).map((r) => r.date)),
  );
  return { warnings, disqualifications };
}

/** Options of {@link checkBillingSufficiency}. */
export interface BillingSufficiencyOptions {
  /** Epoch ms of the requested baseline start and end (default: the first period's start and the last one's end). */
  readonly start?: number;
  readonly end?: number;
  readonly requiredDays?: number;
  readonly maxMissingDays?: number;
  /** `monthly`: periods of 25–35 days are usable; `bimonthly`: 25–70 days (CalTRACK 2.2.3.4, 2.2.3.5). Default monthly. */
  readonly cycle?: BillingCycle;
  readonly minPeriodTemperatureCoverage?: number;
}

/** Billing cycle, which sets the longest usable period (CalTRACK 2.2.3.5). */
export type BillingCycle = 'monthly' | 'bimonthly';

/** Usable billing period length in whole days, inclusive (CalTRACK 2.2.3.4, 2.2.3.5). */
export function billingPeriodLimits(cycle: BillingCycle): { minDays: number; maxDays: number } {
  return { minDays: 25, maxDays: cycle === 'bimonthly' ? 70 : 35 };
}

/**
 * Why a billing period cannot be used in a baseline fit, or null when it can: no usage, an
 * off-cycle length (CalTRACK 2.2.3.4, 2.2.3.5; whole days elapsed, as the reference counts
 * them), temperature for < 90 % of its hours (CalTRACK 2.2.3.2) or no day with a temperature.
 */
export function billingRowProblem(
  row: BillingRow,
  cycle: BillingCycle = 'monthly',
  minCoverage: number = DEFAULT_SUFFICIENCY.minPeriodTemperatureCoverage,
): 'missing_usage' | 'period_too_short' | 'period_too_long' | 'insufficient_temperature_coverage' | null {
  if (row.usage === null) return 'missing_usage';
  const { minDays, maxDays } = billingPeriodLimits(cycle);
  const whole = Math.floor(row.days + 1e-9);
  if (whole < minDays) return 'period_too_short';
  if (whole > maxDays) return 'period_too_long';
  if ((row.temperatureCoverage ?? 1) < minCoverage || !row.dailyTemperatures.some((t) => t !== null)) {
    return 'insufficient_temperature_coverage';
  }
  return null;
}

/**
 * Checks billing baseline rows: the days covered by usable periods must leave at most 37 of the
 * 365 required days missing; off-cycle periods and periods lacking temperature are reported;
 * extreme usage per day and negative bills warn.
 *
 * Codes: `mv.sufficiency.too_many_days_missing` (disqualification);
 * `mv.sufficiency.billing_period_unusable`, `mv.sufficiency.extreme_values`,
 * `mv.sufficiency.negative_values` (warnings).
 */
export function checkBillingSufficiency(rows: readonly BillingRow[], options: BillingSufficiencyOptions = {}): SufficiencyResult {
  const warnings: Finding[] = [];
  const disqualifications: Finding[] = [];
  if (rows.length === 0) {
    disqualifications.push({ code: 'mv.sufficiency.no_data', message: 'No baseline data.', data: {} });
    return { warnings, disqualifications };
  }
  const cycle = options.cycle ?? 'monthly';
  const minCoverage = options.minPeriodTemperatureCoverage ?? DEFAULT_SUFFICIENCY.minPeriodTemperatureCoverage;
  const requiredDays = options.requiredDays ?? DEFAULT_SUFFICIENCY.requiredDays;
  const maxMissing = options.maxMissingDays ?? DEFAULT_SUFFICIENCY.maxMissingDays;

  const unusable: { start: string; end: string; days: number; problem: string }[] = [];
  let validDays = 0;
  for (const r of rows) {
    const problem = billingRowProblem(r, cycle, minCoverage);
    if (problem === null) validDays += r.days;
    else unusable.push({ start: new Date(r.start).toISOString(), end: new Date(r.end).toISOString(), days: r.days, problem });
  }
  if (unusable.length > 0) {
    warnings.push({
      code: 'mv.sufficiency.billing_period_unusable',
      message: `${unusable.length} billing period(s) cannot be used and are left out of the fit.`,
      data: { periods: unusable, cycle },
    });
  }
  const nMissing = requiredDays - validDays;
  // CalTRACK 2.2.1.2 (billing): at most 37 of the 365 baseline days missing.
  if (nMissing > maxMissing + 1e-9) {
    disqualifications.push({
      code: 'mv.sufficiency.too_many_days_missing',
      message: `Usable billing periods cover ${round2(validDays)} of ${requiredDays} baseline days; at most ${maxMissing} may be missing.`,
      data: { requiredDays, validDays, nMissingDays: nMissing, maxMissingDays: maxMissing },
    });
  }
  const valued = rows.filter((r) => r.usage !== null && r.days > 0);
  warnings.push(
    ...extremeValueWarnings(valued.map((r) => ({ key: new Date(r.start).toISOString(), value: r.usage! / r.days }))),
    ...negativeWarnings(valued.filter((r) => r.negative === true || r.usage! < 0).map((r) => new Date(r.start).toISOString())),
  );
  return { warnings, disqualifications };
}

/** Options of {@link checkHourlySufficiency}. */
export interface HourlySufficiencyOptions {
  readonly minMonthlyCoverage?: number;
  readonly minMonthlyTemperatureCoverage?: number;
}

/**
 * Checks hourly baseline rows per calendar month (`HourlyRow.month`): usage present for ≥ 90 %
 * of the month's hours (CalTRACK 2.2.1.2) and temperature for ≥ 90 %; extreme and negative
 * hourly values warn.
 *
 * Codes: `mv.sufficiency.hourly_usage_coverage_too_low`,
 * `mv.sufficiency.insufficient_temperature_coverage` (disqualifications);
 * `mv.sufficiency.extreme_values`, `mv.sufficiency.negative_values` (warnings).
 */
export function checkHourlySufficiency(rows: readonly HourlyRow[], options: HourlySufficiencyOptions = {}): SufficiencyResult {
  const warnings: Finding[] = [];
  const disqualifications: Finding[] = [];
  if (rows.length === 0) {
    disqualifications.push({ code: 'mv.sufficiency.no_data', message: 'No baseline data.', data: {} });
    return { warnings, disqualifications };
  }
  const minUsage = options.minMonthlyCoverage ?? DEFAULT_SUFFICIENCY.minMonthlyHourlyCoverage;
  const minTemp = options.minMonthlyTemperatureCoverage ?? DEFAULT_SUFFICIENCY.minMonthlyTemperatureCoverage;
  const months = new Map<number, { hours: number; usage: number; temperature: number }>();
  for (const r of rows) {
    const m = months.get(r.month) ?? { hours: 0, usage: 0, temperature: 0 };
    m.hours++;
    if (r.usage !== null) m.usage++;
    if (r.temperature !== null) m.temperature++;
    months.set(r.month, m);
  }
  const stats = [...months].sort((a, b) => a[0] - b[0]).map(([month, m]) => ({
    month,
    hours: m.hours,
    usageCoverage: m.usage / m.hours,
    temperatureCoverage: m.temperature / m.hours,
  }));
  const poorUsage = stats.filter((s) => s.usageCoverage < minUsage);
  if (poorUsage.length > 0) {
    disqualifications.push({
      code: 'mv.sufficiency.hourly_usage_coverage_too_low',
      message: `${poorUsage.length} calendar month(s) have usage for less than ${minUsage * 100} % of their hours.`,
      data: { months: poorUsage.map(({ month, hours, usageCoverage }) => ({ month, hours, coverage: usageCoverage })), minCoverage: minUsage },
    });
  }
  const poorTemp = stats.filter((s) => s.temperatureCoverage < minTemp);
  if (poorTemp.length > 0) {
    disqualifications.push({
      code: 'mv.sufficiency.insufficient_temperature_coverage',
      message: `${poorTemp.length} calendar month(s) have temperatures for less than ${minTemp * 100} % of their hours.`,
      data: { months: poorTemp.map(({ month, hours, temperatureCoverage }) => ({ month, hours, coverage: temperatureCoverage })), minCoverage: minTemp },
    });
  }
  const valued = rows.filter((r) => r.usage !== null);
  warnings.push(
    ...extremeValueWarnings(valued.map((r) => ({ key: new Date(r.start).toISOString(), value: r.usage! }))),
    ...negativeWarnings(valued.filter((r) => r.usage! < 0).map((r) => new Date(r.start).toISOString())),
  );
  return { warnings, disqualifications };
}

/**
 * Quantile with linear interpolation between order statistics (the default of numpy and
 * pandas, which the reference uses for the IQR).
 * @param sorted values in ascending order.
 */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

// CalTRACK 2.3.6: values more than 3 IQR above the median are flagged for review.
function extremeValueWarnings(values: readonly { key: string; value: number }[]): Finding[] {
  if (values.length === 0) return [];
  const sorted = values.map((v) => v.value).sort((a, b) => a - b);
  const median = quantileSorted(sorted, 0.5);
  const q1 = quantileSorted(sorted, 0.25);
  const q3 = quantileSorted(sorted, 0.75);
  const limit = median + DEFAULT_SUFFICIENCY.extremeIqrFactor * (q3 - q1);
  const extreme = values.filter((v) => v.value > limit);
  if (extreme.length === 0) return [];
  return [
    {
      code: 'mv.sufficiency.extreme_values',
      message: `${extreme.length} value(s) exceed median + 3·IQR (${round2(limit)}); review them.`,
      data: {
        nExtremeValues: extreme.length,
        median,
        lowerQuartile: q1,
        upperQuartile: q3,
        limit,
        maxValue: sorted[sorted.length - 1],
        examples: extreme.slice(0, MAX_LISTED).map((v) => ({ at: v.key, value: v.value })),
      },
    },
  ];
}

// CalTRACK 2.3.5: negative values may mean unreported net metering (PV).
function negativeWarnings(keys: readonly string[]): Finding[] {
  if (keys.length === 0) return [];
  return [
    {
      code: 'mv.sufficiency.negative_values',
      message: `${keys.length} negative value(s): possible unreported on-site generation (PV).`,
      data: { nNegativeValues: keys.length, examples: keys.slice(0, MAX_LISTED) },
    },
  ];
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
