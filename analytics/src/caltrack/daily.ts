/**
 * CalTRACK 2.0 daily method (CalTRACK 3.1–3.6): usage per day regressed on heating and cooling
 * degree days from the daily mean temperature, fitted by OLS over a grid of balance points.
 */
import { WattproofError } from '@wattproof/core';
import type { DailyRow, Finding, FitStats, Fuel, TemperatureUnit } from '../types.js';
import { checkDailySufficiency } from '../prep/sufficiency.js';
import {
  DEFAULT_BALANCE_POINTS_F,
  fitUsagePerDay,
  type CaltrackCoefficients,
  type CaltrackModelType,
  type CandidateSummary,
} from './usage-per-day.js';

/** Version of the method this module implements. */
export const CALTRACK_METHOD_VERSION = '2.0';

/** Options of {@link fitCaltrackDaily}. */
export interface CaltrackDailyOptions {
  /** Gas: no CDD term (CalTRACK 3.2.1.1). */
  readonly fuel: Fuel;
  /** Unit of `DailyRow.temperature`; balance points are reported in it. */
  readonly temperatureUnit: TemperatureUnit;
  /** Candidate balance points in °F for both terms (default integers 30–90, CalTRACK 3.2.1); converted for °C input. */
  readonly balancePointsF?: readonly number[];
  /** Heating grid in °F, overriding `balancePointsF` (an empty list means no HDD candidates). */
  readonly heatingBalancePointsF?: readonly number[];
  /** Cooling grid in °F, overriding `balancePointsF` (an empty list means no CDD candidates). */
  readonly coolingBalancePointsF?: readonly number[];
  /** Least days with non-zero degree days (default 10, CalTRACK 3.2.2.2.1). */
  readonly minNonZeroDegreeDays?: number;
  /** Least total degree days in °F·days (default 20, CalTRACK 3.2.2.2.2); 20 °F·days = 11.1 °C·days. */
  readonly minTotalDegreeDaysF?: number;
  /** Requested baseline for the sufficiency check (default: the rows' first and last date). */
  readonly baseline?: { readonly firstDate: string; readonly lastDate: string };
  /** Run the baseline sufficiency check (default true). */
  readonly checkSufficiency?: boolean;
}

/** A fitted CalTRACK daily model: plain data, JSON-serialisable. */
export interface CaltrackDailyModel {
  readonly method: 'caltrack-daily';
  readonly methodVersion: string;
  readonly fuel: Fuel;
  readonly temperatureUnit: TemperatureUnit;
  readonly type: CaltrackModelType;
  /** In `temperatureUnit`; null when the model has no HDD term. */
  readonly heatingBalancePoint: number | null;
  /** In `temperatureUnit`; null when the model has no CDD term. */
  readonly coolingBalancePoint: number | null;
  /** Per day: μ (unit/day), β_H, β_C (unit/(day·degree)). */
  readonly coefficients: CaltrackCoefficients;
  readonly standardErrors: { readonly intercept: number; readonly heating: number | null; readonly cooling: number | null };
  /** Fit on the baseline days (usage per day, p = parameters including μ). */
  readonly fit: FitStats;
  /** Every candidate tried, in the reference's order. */
  readonly candidates: readonly CandidateSummary[];
  /** Baseline days: span and days used in the fit. */
  readonly baseline: { readonly firstDate: string; readonly lastDate: string; readonly nDays: number; readonly nUsed: number };
  readonly warnings: Finding[];
  readonly disqualifications: Finding[];
}

/**
 * Fits the CalTRACK daily model to baseline days.
 *
 * Days with usage and temperature are used (CalTRACK 2.2.2). Candidates: intercept-only,
 * HDD-only and CDD-only for each balance point, HDD+CDD for each pair with heating ≤ cooling
 * (CalTRACK 3.2.2.1, 3.4.3.1); gas gets no CDD candidates. A candidate needs ≥ 10 days with
 * non-zero degree days and ≥ 20 degree days in total for each term (CalTRACK 3.2.2.2), and no
 * negative parameter (CalTRACK 3.4.3.2); the qualified candidate with the highest adjusted R²
 * wins (CalTRACK 3.4.3.3). As in the reference, no p-value rule is applied.
 *
 * @throws WattproofError `MV_NO_DATA` when no day has both usage and temperature.
 */
export function fitCaltrackDaily(rows: readonly DailyRow[], options: CaltrackDailyOptions): CaltrackDailyModel {
  const used = rows.filter((r) => r.usage !== null && r.temperature !== null && Number.isFinite(r.usage) && Number.isFinite(r.temperature));
  if (used.length === 0) {
    throw new WattproofError('MV_NO_DATA', 'No baseline day has both usage and temperature.', {
      statusCode: 422,
      details: { nRows: rows.length },
    });
  }
  const fit = fitUsagePerDay(
    // CalTRACK 3.4.1: daily data, ordinary least squares (weight 1).
    used.map((r) => ({ usagePerDay: r.usage!, weight: 1, dayTemperatures: [r.temperature!] })),
    {
      fuel: options.fuel,
      temperatureUnit: options.temperatureUnit,
      heatingBalancePointsF: options.heatingBalancePointsF ?? options.balancePointsF ?? DEFAULT_BALANCE_POINTS_F,
      coolingBalancePointsF: options.coolingBalancePointsF ?? options.balancePointsF ?? DEFAULT_BALANCE_POINTS_F,
      minNonZeroDegreeDays: options.minNonZeroDegreeDays ?? 10,
      minTotalDegreeDaysF: options.minTotalDegreeDaysF ?? 20,
      weighted: false,
    },
  );
  const firstDate = options.baseline?.firstDate ?? rows[0]!.date;
  const lastDate = options.baseline?.lastDate ?? rows[rows.length - 1]!.date;
  const sufficiency =
    options.checkSufficiency === false ? { warnings: [], disqualifications: [] } : checkDailySufficiency(rows, { firstDate, lastDate });
  const disqualifications: Finding[] = [...sufficiency.disqualifications];
  if (!fit.qualified) disqualifications.push(noQualifiedCandidate(fit.candidates));
  return {
    method: 'caltrack-daily',
    methodVersion: CALTRACK_METHOD_VERSION,
    fuel: options.fuel,
    temperatureUnit: options.temperatureUnit,
    type: fit.type,
    heatingBalancePoint: fit.heatingBalancePoint,
    coolingBalancePoint: fit.coolingBalancePoint,
    coefficients: fit.coefficients,
    standardErrors: fit.standardErrors,
    fit: fit.fit,
    candidates: fit.candidates,
    baseline: { firstDate, lastDate, nDays: rows.length, nUsed: used.length },
    warnings: sufficiency.warnings,
    disqualifications,
  };
}

/** One day's prediction. Energies are for the day's real length (23, 24 or 25 hours). */
export interface DailyPrediction {
  readonly date: string;
  readonly start: number;
  readonly end: number;
  readonly hours: number;
  /** Counterfactual energy of the day (null without temperature, CalTRACK 3.5.3.1). */
  readonly predicted: number | null;
  /** Counterfactual per 24 hours (`predicted × 24 / hours`). */
  readonly predictedPerDay: number | null;
  /** Of `predicted`: base, heating and cooling load. */
  readonly baseLoad: number | null;
  readonly heatingLoad: number | null;
  readonly coolingLoad: number | null;
  /** Observed energy of the day (`usage × hours / 24`; null when missing, CalTRACK 3.5.2). */
  readonly observed: number | null;
}

/** Options of the predict functions. */
export interface PredictOptions {
  /** Predict although the model carries disqualifications (an explicit, recorded override). */
  readonly ignoreDisqualification?: boolean;
}

/**
 * Predicts each day: `(μ + β_H·HDD + β_C·CDD) × hours / 24`, with degree days from the day's
 * mean temperature (CalTRACK 3.6.1). A 23- or 25-hour day gets 23/24 or 25/24 of a day's
 * prediction (the reference counts a fall-back day twice; this does not).
 *
 * @param rows days in the model's temperature unit.
 * @throws WattproofError `MV_MODEL_DISQUALIFIED` when the model has disqualifications and no override is given.
 */
export function predictCaltrackDaily(
  model: CaltrackDailyModel,
  rows: readonly DailyRow[],
  options: PredictOptions = {},
): DailyPrediction[] {
  assertPredictable(model, options);
  return rows.map((r) => {
    const scale = r.hours / 24;
    const observed = r.usage === null ? null : r.usage * scale;
    const perDay = r.temperature === null ? null : perDayLoads(model, r.temperature);
    return {
      date: r.date,
      start: r.start,
      end: r.end,
      hours: r.hours,
      predicted: perDay ? perDay.total * scale : null,
      predictedPerDay: perDay ? perDay.total : null,
      baseLoad: perDay ? perDay.base * scale : null,
      heatingLoad: perDay ? perDay.heating * scale : null,
      coolingLoad: perDay ? perDay.cooling * scale : null,
      observed,
    };
  });
}

/** Totals over the periods with both a prediction and an observation (CalTRACK 3.5.2.1, 3.5.3.1, 3.6.1). */
export interface SavingsSummary {
  /** Σ predicted (baseline counterfactual). */
  readonly counterfactual: number;
  /** Σ observed. */
  readonly observed: number;
  /** Avoided energy use: counterfactual − observed. */
  readonly avoided: number;
  /** Periods (days or bills) counted. */
  readonly periods: number;
  /** Periods masked for a missing prediction or observation. */
  readonly masked: number;
}

/** Sums predictions against observations; a period lacking either is masked. */
export function summarizeSavings(predictions: readonly { readonly predicted: number | null; readonly observed: number | null }[]): SavingsSummary {
  let counterfactual = 0;
  let observed = 0;
  let periods = 0;
  for (const p of predictions) {
    if (p.predicted === null || p.observed === null) continue;
    counterfactual += p.predicted;
    observed += p.observed;
    periods++;
  }
  return { counterfactual, observed, avoided: counterfactual - observed, periods, masked: predictions.length - periods };
}

/** Per-day loads at a mean temperature (CalTRACK 3.3.2). */
export function perDayLoads(
  model: Pick<CaltrackDailyModel, 'coefficients' | 'heatingBalancePoint' | 'coolingBalancePoint'>,
  temperature: number,
): { base: number; heating: number; cooling: number; total: number } {
  return perDayLoadsFromDegreeDays(
    model,
    model.heatingBalancePoint === null ? 0 : Math.max(model.heatingBalancePoint - temperature, 0),
    model.coolingBalancePoint === null ? 0 : Math.max(temperature - model.coolingBalancePoint, 0),
  );
}

/** Per-day loads from degree days per day. */
export function perDayLoadsFromDegreeDays(
  model: Pick<CaltrackDailyModel, 'coefficients' | 'heatingBalancePoint' | 'coolingBalancePoint'>,
  hdd: number,
  cdd: number,
): { base: number; heating: number; cooling: number; total: number } {
  const base = model.coefficients.intercept;
  const heating = model.heatingBalancePoint === null ? 0 : model.coefficients.heating * hdd;
  const cooling = model.coolingBalancePoint === null ? 0 : model.coefficients.cooling * cdd;
  return { base, heating, cooling, total: base + heating + cooling };
}

/** @throws WattproofError `MV_MODEL_DISQUALIFIED` unless the model is clean or the override is given. */
export function assertPredictable(model: { readonly disqualifications: readonly Finding[] }, options: PredictOptions): void {
  if (model.disqualifications.length > 0 && options.ignoreDisqualification !== true) {
    throw new WattproofError(
      'MV_MODEL_DISQUALIFIED',
      `The model has ${model.disqualifications.length} disqualification(s); pass ignoreDisqualification to predict anyway.`,
      { statusCode: 422, details: { disqualifications: model.disqualifications.map((d) => d.code) } },
    );
  }
}

/** The finding for a fit where no candidate qualified (CalTRACK 3.4.3.2). */
export function noQualifiedCandidate(candidates: readonly CandidateSummary[]): Finding {
  return {
    code: 'mv.caltrack.no_qualified_candidate',
    message: 'No candidate model qualified (all had a negative parameter or too few degree days).',
    data: { nCandidates: candidates.length },
  };
}
