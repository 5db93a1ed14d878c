/**
 * CalTRACK 2.0 billing method (CalTRACK 3.1–3.6 with the billing rules of 2.2.3, 3.2.2.2 and
 * 3.4.2): usage per day and degree days per day of each billing period, fitted by weighted
 * least squares with the period's days as weights.
 */
import { WattproofError } from '@wattproof/core';
import type { BillingRow, Finding, FitStats, Fuel, TemperatureUnit } from '../types.js';
import { billingRowProblem, checkBillingSufficiency, type BillingCycle } from '../prep/sufficiency.js';
import { assertPredictable, noQualifiedCandidate, perDayLoadsFromDegreeDays, type PredictOptions } from './daily.js';
import {
  DEFAULT_BALANCE_POINTS_F,
  coolingDegreeDays,
  fitUsagePerDay,
  heatingDegreeDays,
  type CaltrackCoefficients,
  type CaltrackModelType,
  type CandidateSummary,
} from './usage-per-day.js';
import { CALTRACK_METHOD_VERSION } from './daily.js';

/** Options of {@link fitCaltrackBilling}. */
export interface CaltrackBillingOptions {
  /** Gas: no CDD term (CalTRACK 3.2.1.1). */
  readonly fuel: Fuel;
  /** Unit of the daily temperatures; balance points are reported in it. */
  readonly temperatureUnit: TemperatureUnit;
  /** `monthly` keeps periods of 25–35 days, `bimonthly` 25–70 (CalTRACK 2.2.3.4, 2.2.3.5). Default monthly. */
  readonly cycle?: BillingCycle;
  /** Candidate balance points in °F for both terms (default integers 30–90, CalTRACK 3.2.1); converted for °C input. */
  readonly balancePointsF?: readonly number[];
  /** Heating grid in °F, overriding `balancePointsF` (an empty list means no HDD candidates). */
  readonly heatingBalancePointsF?: readonly number[];
  /** Cooling grid in °F, overriding `balancePointsF` (an empty list means no CDD candidates). */
  readonly coolingBalancePointsF?: readonly number[];
  /** Least total degree days in °F·days (default 20, CalTRACK 3.2.2.2.2). */
  readonly minTotalDegreeDaysF?: number;
  /**
   * Requested baseline (epoch ms): periods starting before `start` or ending after `end` are left
   * out (CalTRACK 2.2.5) and the sufficiency check counts against it. Default: the periods' span.
   */
  readonly baseline?: { readonly start: number; readonly end: number };
  /** Run the baseline sufficiency check (default true). */
  readonly checkSufficiency?: boolean;
}

/** A fitted CalTRACK billing model: plain data, JSON-serialisable. */
export interface CaltrackBillingModel {
  readonly method: 'caltrack-billing';
  readonly methodVersion: string;
  readonly fuel: Fuel;
  readonly temperatureUnit: TemperatureUnit;
  readonly cycle: BillingCycle;
  readonly type: CaltrackModelType;
  readonly heatingBalancePoint: number | null;
  readonly coolingBalancePoint: number | null;
  /** Per day: μ (unit/day), β_H, β_C (unit/(day·degree)). */
  readonly coefficients: CaltrackCoefficients;
  readonly standardErrors: { readonly intercept: number; readonly heating: number | null; readonly cooling: number | null };
  /**
   * Fit on the usable periods' usage per day; R² and adjusted R² are the weighted ones used for
   * selection, CV(RMSE) and NMBE are per period (p includes μ).
   */
  readonly fit: FitStats;
  readonly candidates: readonly CandidateSummary[];
  readonly baseline: { readonly start: number; readonly end: number; readonly nPeriods: number; readonly nUsed: number };
  readonly warnings: Finding[];
  readonly disqualifications: Finding[];
}

/**
 * Fits the CalTRACK billing model to baseline periods.
 *
 * A period is used when it has usage, 25–35 days (monthly) or 25–70 (bimonthly), temperatures
 * for ≥ 90 % of its hours and at least one day with a temperature. Its usage per day is
 * usage / elapsed days (CalTRACK 3.3.1.1); its degree days per day are the mean over its days
 * with a temperature (CalTRACK 3.3.4, 3.3.5), and its weight is the number of those days
 * (CalTRACK 3.4.2, as the reference weights by `n_days_kept`). Candidates need ≥ 20 degree days
 * in total (Σ degree days per day × weight) and no negative parameter; the rule of 10 non-zero
 * days does not apply to billing data (CalTRACK 3.2.2.2.1).
 *
 * @throws WattproofError `MV_NO_DATA` when no period is usable.
 */
export function fitCaltrackBilling(rows: readonly BillingRow[], options: CaltrackBillingOptions): CaltrackBillingModel {
  const cycle = options.cycle ?? 'monthly';
  const window = options.baseline;
  // CalTRACK 2.2.5, 3.1.3: only periods inside the requested baseline are used.
  const inside = window ? rows.filter((r) => r.start >= window.start && r.end <= window.end) : [...rows];
  const outside = rows.filter((r) => !inside.includes(r));
  const used = inside.filter((r) => billingRowProblem(r, cycle) === null && Number.isFinite(r.usage));
  if (used.length === 0) {
    throw new WattproofError('MV_NO_DATA', 'No baseline billing period is usable.', {
      statusCode: 422,
      details: { nRows: rows.length, nInside: inside.length, problems: inside.map((r) => billingRowProblem(r, cycle)) },
    });
  }
  const fit = fitUsagePerDay(
    used.map((r) => {
      const temps = keptTemperatures(r);
      return { usagePerDay: r.usage! / r.days, weight: temps.length, dayTemperatures: temps };
    }),
    {
      fuel: options.fuel,
      temperatureUnit: options.temperatureUnit,
      heatingBalancePointsF: options.heatingBalancePointsF ?? options.balancePointsF ?? DEFAULT_BALANCE_POINTS_F,
      coolingBalancePointsF: options.coolingBalancePointsF ?? options.balancePointsF ?? DEFAULT_BALANCE_POINTS_F,
      minNonZeroDegreeDays: 0,
      minTotalDegreeDaysF: options.minTotalDegreeDaysF ?? 20,
      weighted: true,
    },
  );
  const start = options.baseline?.start ?? rows[0]!.start;
  const end = options.baseline?.end ?? rows[rows.length - 1]!.end;
  const sufficiency =
    options.checkSufficiency === false ? { warnings: [], disqualifications: [] } : checkBillingSufficiency(inside, { start, end, cycle });
  const warnings: Finding[] = [...sufficiency.warnings];
  if (outside.length > 0) {
    warnings.push({
      code: 'mv.billing.period_outside_baseline',
      message: `${outside.length} billing period(s) reach outside the requested baseline and are left out.`,
      data: {
        baseline: { start: new Date(start).toISOString(), end: new Date(end).toISOString() },
        periods: outside.map((r) => ({ start: new Date(r.start).toISOString(), end: new Date(r.end).toISOString() })),
      },
    });
  }
  const disqualifications: Finding[] = [...sufficiency.disqualifications];
  if (!fit.qualified) disqualifications.push(noQualifiedCandidate(fit.candidates));
  return {
    method: 'caltrack-billing',
    methodVersion: CALTRACK_METHOD_VERSION,
    fuel: options.fuel,
    temperatureUnit: options.temperatureUnit,
    cycle,
    type: fit.type,
    heatingBalancePoint: fit.heatingBalancePoint,
    coolingBalancePoint: fit.coolingBalancePoint,
    coefficients: fit.coefficients,
    standardErrors: fit.standardErrors,
    fit: fit.fit,
    candidates: fit.candidates,
    baseline: { start, end, nPeriods: inside.length, nUsed: used.length },
    warnings,
    disqualifications,
  };
}

/** One billing period's prediction. */
export interface BillingPrediction {
  readonly start: number;
  readonly end: number;
  readonly days: number;
  /** Counterfactual energy of the period (null without enough temperature, CalTRACK 3.5.5.2). */
  readonly predicted: number | null;
  /** Counterfactual per day. */
  readonly predictedPerDay: number | null;
  readonly baseLoad: number | null;
  readonly heatingLoad: number | null;
  readonly coolingLoad: number | null;
  /** Degree days per day used (null when the model has no such term or no prediction). */
  readonly hdd: number | null;
  readonly cdd: number | null;
  /** The period's observed usage (null when missing). */
  readonly observed: number | null;
}

/**
 * Predicts each period: `days × (μ + β_H·HDD_p + β_C·CDD_p)` with degree days per day averaged
 * over the period's days with a temperature (CalTRACK 3.6.1). A period with temperatures for
 * < 90 % of its hours gets no prediction (CalTRACK 3.5.5.2).
 *
 * @throws WattproofError `MV_MODEL_DISQUALIFIED` when the model has disqualifications and no override is given.
 */
export function predictCaltrackBilling(
  model: CaltrackBillingModel,
  rows: readonly BillingRow[],
  options: PredictOptions = {},
): BillingPrediction[] {
  assertPredictable(model, options);
  return rows.map((r) => {
    const temps = keptTemperatures(r);
    const ok = temps.length > 0 && (r.temperatureCoverage ?? 1) >= 0.9;
    const hdd = ok && model.heatingBalancePoint !== null ? heatingDegreeDays(temps, model.heatingBalancePoint) : null;
    const cdd = ok && model.coolingBalancePoint !== null ? coolingDegreeDays(temps, model.coolingBalancePoint) : null;
    const loads = ok ? perDayLoadsFromDegreeDays(model, hdd ?? 0, cdd ?? 0) : null;
    return {
      start: r.start,
      end: r.end,
      days: r.days,
      predicted: loads ? loads.total * r.days : null,
      predictedPerDay: loads ? loads.total : null,
      baseLoad: loads ? loads.base * r.days : null,
      heatingLoad: loads ? loads.heating * r.days : null,
      coolingLoad: loads ? loads.cooling * r.days : null,
      hdd,
      cdd,
      observed: r.usage,
    };
  });
}

function keptTemperatures(r: BillingRow): number[] {
  const out: number[] = [];
  for (const t of r.dailyTemperatures) if (t !== null && Number.isFinite(t)) out.push(t);
  return out;
}
