/**
 * Avoided energy use (IPMVP Option C, DOMAIN.md §2): Σ over reporting intervals with data of
 * (baseline prediction under reporting conditions − actual use), per local month and cumulative,
 * each with its Guideline 14 uncertainty; with and without non-routine adjustments; and
 * normalized savings on a typical weather year.
 */
import { createZone } from './prep/local-time.js';
import { savingsUncertainty, type Granularity, type SavingsUncertainty } from './uncertainty.js';
import type { FitStats } from './types.js';

/** One reporting interval: its start/end (epoch ms), the baseline prediction and the observation. */
export interface ReportingPoint {
  readonly start: number;
  readonly end: number;
  /** Baseline-model prediction (null where the model cannot predict, e.g. no temperature). */
  readonly predicted: number | null;
  /** Observed use (null where the meter value is missing: masked out of the savings). */
  readonly observed: number | null;
}

/**
 * A non-routine adjustment (DOMAIN.md §2): added to the baseline counterfactual over
 * [start, end) — `perDay` energy per day, or `total` spread evenly over the days it covers.
 * Append-only: a correction is a new entry that supersedes an earlier one by id.
 */
export interface NonRoutineAdjustment {
  readonly id: string;
  readonly event: string;
  readonly start: number;
  readonly end: number;
  readonly method: 'per_day' | 'total_prorated';
  /** Energy per day (`per_day`) or in total (`total_prorated`), meter unit; positive raises the counterfactual. */
  readonly amount: number;
  readonly evidence: string;
  readonly approver: string;
  readonly recordedAtMs: number;
  /** Id of an earlier adjustment this one replaces. */
  readonly supersedes?: string;
}

export interface PeriodSavings {
  /** Local month `YYYY-MM` (monthly rows) or `total`. */
  readonly period: string;
  readonly points: number;
  readonly counterfactual: number;
  readonly observed: number;
  readonly avoided: number;
  /** avoided / counterfactual; null when the counterfactual is 0. */
  readonly fraction: number | null;
  /** Adjustment added to the counterfactual in the period. */
  readonly adjustment: number;
  readonly adjustedAvoided: number;
  readonly uncertainty: SavingsUncertainty;
}

export interface SavingsResult {
  readonly monthly: PeriodSavings[];
  /** Cumulative to the end of each month. */
  readonly cumulative: PeriodSavings[];
  readonly total: PeriodSavings;
  readonly adjustmentsApplied: string[];
}


/** The adjustments in force: the latest entry of each chain of supersessions. */
export function effectiveAdjustments(register: readonly NonRoutineAdjustment[]): NonRoutineAdjustment[] {
  const superseded = new Set(register.flatMap((a) => (a.supersedes ? [a.supersedes] : [])));
  return register.filter((a) => !superseded.has(a.id));
}

/** Adjustment energy falling in [start, end). */
export function adjustmentOver(adjustments: readonly NonRoutineAdjustment[], start: number, end: number): number {
  let total = 0;
  for (const a of adjustments) {
    const overlap = Math.min(end, a.end) - Math.max(start, a.start);
    if (overlap <= 0) continue;
    const days = overlap / 86_400_000;
    total += a.method === 'per_day' ? a.amount * days : (a.amount * overlap) / (a.end - a.start);
  }
  return total;
}

export interface SavingsOptions {
  readonly fit: Pick<FitStats, 'n' | 'p' | 'cvrmse' | 'autocorrelation'>;
  readonly granularity: Granularity;
  readonly timeZone: string;
  readonly adjustments?: readonly NonRoutineAdjustment[];
}

function summarize(period: string, pts: readonly ReportingPoint[], months: number, opts: SavingsOptions, adjustments: readonly NonRoutineAdjustment[]): PeriodSavings {
  let counterfactual = 0;
  let observed = 0;
  let adjustment = 0;
  let points = 0;
  for (const p of pts) {
    // Masked where either side is missing (DOMAIN.md §2).
    if (p.predicted === null || p.observed === null) continue;
    counterfactual += p.predicted;
    observed += p.observed;
    adjustment += adjustmentOver(adjustments, p.start, p.end);
    points++;
  }
  const avoided = counterfactual - observed;
  return {
    period,
    points,
    counterfactual,
    observed,
    avoided,
    fraction: counterfactual === 0 ? null : avoided / counterfactual,
    adjustment,
    adjustedAvoided: avoided + adjustment,
    uncertainty: savingsUncertainty({ fit: opts.fit, granularity: opts.granularity, reportingPoints: points, reportingMonths: Math.max(1, months), counterfactual, avoided }),
  };
}

/** Avoided energy per local month, cumulative and in total, with uncertainty and adjustments. */
export function computeSavings(points: readonly ReportingPoint[], opts: SavingsOptions): SavingsResult {
  const adjustments = effectiveAdjustments(opts.adjustments ?? []);
  const byMonth = new Map<string, ReportingPoint[]>();
  // One cached zone for all points: a formatter per point made hourly reporting periods slow.
  const zone = createZone(opts.timeZone);
  for (const p of [...points].sort((a, b) => a.start - b.start)) {
    const key = zone.date(p.start).slice(0, 7);
    const list = byMonth.get(key) ?? [];
    list.push(p);
    byMonth.set(key, list);
  }
  const monthly: PeriodSavings[] = [];
  const cumulative: PeriodSavings[] = [];
  const sofar: ReportingPoint[] = [];
  for (const [month, pts] of byMonth) {
    monthly.push(summarize(month, pts, 1, opts, adjustments));
    sofar.push(...pts);
    cumulative.push(summarize(month, sofar, cumulative.length + 1, opts, adjustments));
  }
  return {
    monthly,
    cumulative,
    total: summarize('total', points, Math.max(1, byMonth.size), opts, adjustments),
    adjustmentsApplied: adjustments.map((a) => a.id),
  };
}

/**
 * Normalized savings (DOMAIN.md §2): the baseline and the reporting-period models both predicted
 * under the same typical weather year; savings = Σ baseline − Σ reporting.
 */
export function normalizedSavings(baselineOnTmy: readonly (number | null)[], reportingOnTmy: readonly (number | null)[]): { baseline: number; reporting: number; savings: number; fraction: number | null } {
  let baseline = 0;
  let reporting = 0;
  for (let i = 0; i < baselineOnTmy.length; i++) {
    const b = baselineOnTmy[i];
    const r = reportingOnTmy[i];
    if (b === null || b === undefined || r === null || r === undefined) continue;
    baseline += b;
    reporting += r;
  }
  return { baseline, reporting, savings: baseline - reporting, fraction: baseline === 0 ? null : (baseline - reporting) / baseline };
}
