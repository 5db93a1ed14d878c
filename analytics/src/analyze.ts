/**
 * One M&V analysis, end to end (IPMVP Option C with CalTRACK 2.0 models): prepare baseline and
 * reporting data, check sufficiency, fit the baseline model, predict the reporting period,
 * compute avoided energy per month with Guideline 14 uncertainty, with and without non-routine
 * adjustments, optionally carbon, EUI and normalized savings, and record the lineage. Used by
 * the offline CLI (`wattproof mv`) and by the jobs on live data, so both give the same numbers.
 *
 * A result is "verified" only when the baseline has no disqualification and the fit passes
 * Guideline 14; a disqualified baseline yields "verified" figures only with an explicit
 * override, which the result records.
 */
import { fitCaltrackBilling, predictCaltrackBilling } from './caltrack/billing.js';
import { fitCaltrackDaily, predictCaltrackDaily } from './caltrack/daily.js';
import { fitCaltrackHourly, predictCaltrackHourly } from './caltrack/hourly.js';
import { carbon, eui, type CarbonResult, type EuiResult } from './carbon.js';
import { buildLineage, type Lineage } from './lineage.js';
import { billingRows } from './prep/billing.js';
import { dailyRows, type UsageInterval } from './prep/daily.js';
import { hourlyRows } from './prep/hourly.js';
import { createZone, daysBetween, nextDate } from './prep/local-time.js';
import { checkBillingSufficiency, checkDailySufficiency, checkHourlySufficiency, type SufficiencyResult } from './prep/sufficiency.js';
import { hourlyTemperatures, type TemperatureReading } from './prep/temperature.js';
import { referenceData, type EmissionFactor } from './reference.js';
import { computeSavings, normalizedSavings, type NonRoutineAdjustment, type ReportingPoint, type SavingsResult } from './savings.js';
import type { Finding, FitStats, Fuel, TemperatureUnit } from './types.js';
import { assessG14, type G14Assessment, type Granularity } from './uncertainty.js';

export const MODEL_KINDS = ['caltrack-daily', 'caltrack-billing', 'caltrack-hourly'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

/** A local-date range `[start, end)`, dates `YYYY-MM-DD` in the analysis time zone. */
export interface DateRange {
  readonly start: string;
  readonly end: string;
}

export interface AnalysisInput {
  /** Usage intervals (for billing: the billing periods). */
  readonly usage: readonly UsageInterval[];
  /** Outdoor temperatures (hourly or irregular), in `temperatureUnit`. */
  readonly temperatures: readonly TemperatureReading[];
  readonly baseline: DateRange;
  readonly reporting: DateRange;
  readonly model: ModelKind;
  readonly fuel: Fuel;
  readonly temperatureUnit: TemperatureUnit;
  readonly timeZone: string;
  /** Digests of the inputs as received (files or store queries), recorded in the lineage. */
  readonly inputDigests: Record<string, string>;
  /** Accept a disqualified baseline; recorded in the result. */
  readonly override?: { readonly reason: string; readonly by: string };
  readonly adjustments?: readonly NonRoutineAdjustment[];
  /** Carbon: the factor to use (selected by the caller from the reference table). Electricity only. */
  readonly emissionFactor?: EmissionFactor;
  /** Building facts for EUI and intensity. */
  readonly building?: { readonly floorAreaM2?: number; readonly type?: string };
  /** Distance from the building to the weather station, km (DOMAIN.md §2.2: warn beyond 200 km). */
  readonly weatherStationDistanceKm?: number;
  /** A typical weather year (hourly, `temperatureUnit`) for normalized savings (daily model). */
  readonly typicalYear?: { readonly id: string; readonly readings: readonly TemperatureReading[]; readonly digest: string };
}

export type AnalysisStatus = 'verified' | 'verified_with_override' | 'not_verified';

export interface AnalysisResult {
  readonly status: AnalysisStatus;
  readonly model: {
    readonly kind: ModelKind;
    readonly type: string;
    readonly heatingBalancePoint: number | null;
    readonly coolingBalancePoint: number | null;
    readonly coefficients: Record<string, unknown>;
    readonly fit: FitStats;
    readonly temperatureUnit: TemperatureUnit;
    readonly detail: unknown;
  };
  readonly savings: {
    readonly counterfactual: number;
    readonly observed: number;
    readonly avoided: number;
    readonly fraction: number | null;
    readonly uncertainty: Array<{ confidence: number; absolute: number; fsu: number | null }>;
    readonly minimumDetectable: Array<{ confidence: number; fraction: number; absolute: number }>;
    readonly adjusted: { readonly adjustment: number; readonly avoided: number; readonly applied: string[] };
    readonly monthly: SavingsResult['monthly'];
    readonly cumulative: SavingsResult['cumulative'];
    readonly normalized?: ReturnType<typeof normalizedSavings> & { readonly typicalYear: string; readonly typicalYearDigest: string };
  };
  readonly g14: G14Assessment;
  readonly sufficiency: { readonly baseline: SufficiencyResult; readonly reporting: SufficiencyResult };
  readonly warnings: Finding[];
  readonly disqualifications: Finding[];
  readonly override?: { readonly reason: string; readonly by: string };
  readonly carbon?: CarbonResult;
  readonly eui?: EuiResult;
  readonly lineage: Lineage;
}

// Figures are computed for a disqualified baseline too, so they can be inspected; the status
// says they are not verified unless an override was given (and recorded).
const PREDICT = { ignoreDisqualification: true } as const;

/** DOMAIN.md §2.2: a weather station further away than this gets a warning. */
export const MAX_WEATHER_STATION_DISTANCE_KM = 200;

/** Great-circle distance in km (haversine, mean Earth radius 6,371 km). */
export function distanceKm(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

const GRANULARITY: Record<ModelKind, Granularity> = { 'caltrack-daily': 'daily', 'caltrack-billing': 'billing', 'caltrack-hourly': 'hourly' };
const HOUR = 3_600_000;

/** The same finding reported by the sufficiency check and by the model fit is listed once. */
function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.code}|${JSON.stringify(f.data ?? null)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function endDateInclusive(range: DateRange): string {
  // The day before `end` (end is exclusive).
  let d = range.start;
  let last = d;
  while (d < range.end) {
    last = d;
    d = nextDate(d);
  }
  return last;
}

export function analyze(input: AnalysisInput): AnalysisResult {
  const zone = createZone(input.timeZone);
  const bStart = zone.startOfDay(input.baseline.start);
  const bEnd = zone.startOfDay(input.baseline.end);
  const rStart = zone.startOfDay(input.reporting.start);
  const rEnd = zone.startOfDay(input.reporting.end);
  if (!(bStart < bEnd && rStart < rEnd)) throw new RangeError('baseline and reporting periods must each have start < end');
  // The whole temperature series: a billing period may run past the reporting end.
  const temps = hourlyTemperatures(input.temperatures);
  const within = (from: number, to: number) => input.usage.filter((u) => u.start >= from && u.start < to);
  const granularity = GRANULARITY[input.model];

  let fitModel: { type: string; heatingBalancePoint: number | null; coolingBalancePoint: number | null; coefficients: Record<string, unknown>; fit: FitStats; warnings: Finding[]; disqualifications: Finding[]; detail: unknown; method: string; methodVersion: string };
  let points: ReportingPoint[];
  let baselineSufficiency: SufficiencyResult;
  let reportingSufficiency: SufficiencyResult;
  let predictTypical: ((temps: readonly TemperatureReading[]) => (number | null)[]) | undefined;

  if (input.model === 'caltrack-daily') {
    const opts = { timeZone: input.timeZone, fuel: input.fuel };
    const base = dailyRows(within(bStart, bEnd), temps, { ...opts, firstDate: input.baseline.start, lastDate: endDateInclusive(input.baseline) });
    const rep = dailyRows(within(rStart, rEnd), temps, { ...opts, firstDate: input.reporting.start, lastDate: endDateInclusive(input.reporting) });
    baselineSufficiency = checkDailySufficiency(base, { firstDate: input.baseline.start, lastDate: endDateInclusive(input.baseline) });
    // The reporting period has no required length; its missing days and extreme values still show.
    reportingSufficiency = checkDailySufficiency(rep, { firstDate: input.reporting.start, lastDate: endDateInclusive(input.reporting), requiredDays: daysBetween(input.reporting.start, input.reporting.end) });
    const m = fitCaltrackDaily(base, { fuel: input.fuel, temperatureUnit: input.temperatureUnit });
    fitModel = { ...m, coefficients: { ...m.coefficients }, detail: { candidates: m.candidates } };
    points = predictCaltrackDaily(m, rep, PREDICT).map((p) => ({ start: p.start, end: p.end, predicted: p.predicted, observed: p.observed }));
    predictTypical = (t) => {
      const series = hourlyTemperatures(t);
      const rows = dailyRows([], series, { ...opts, firstDate: zone.date(series.start), lastDate: zone.date(series.start + (series.values.length - 1) * HOUR) });
      return predictCaltrackDaily(m, rows, PREDICT).map((p) => p.predicted);
    };
  } else if (input.model === 'caltrack-billing') {
    const base = billingRows(within(bStart, bEnd), temps, { fuel: input.fuel });
    const rep = billingRows(within(rStart, rEnd), temps, { fuel: input.fuel });
    baselineSufficiency = checkBillingSufficiency(base);
    reportingSufficiency = { warnings: [], disqualifications: [] };
    const m = fitCaltrackBilling(base, { fuel: input.fuel, temperatureUnit: input.temperatureUnit });
    fitModel = { ...m, coefficients: { ...m.coefficients }, detail: { candidates: m.candidates } };
    points = predictCaltrackBilling(m, rep, PREDICT).map((p, i) => ({ start: p.start, end: p.end, predicted: p.predicted, observed: rep[i]!.usage }));
  } else {
    const opts = { timeZone: input.timeZone, fuel: input.fuel };
    const base = hourlyRows(within(bStart, bEnd), temps, { ...opts, start: bStart, end: bEnd });
    const rep = hourlyRows(within(rStart, rEnd), temps, { ...opts, start: rStart, end: rEnd });
    baselineSufficiency = checkHourlySufficiency(base);
    reportingSufficiency = { warnings: [], disqualifications: [] };
    const m = fitCaltrackHourly(base, { temperatureUnit: input.temperatureUnit });
    fitModel = { ...m, heatingBalancePoint: null, coolingBalancePoint: null, coefficients: { segments: m.segments }, detail: { occupancy: m.occupancy, bins: m.bins } };
    const pred = predictCaltrackHourly(m, rep, PREDICT);
    points = rep.map((r, i) => ({ start: r.start, end: r.start + HOUR, predicted: pred[i] ?? null, observed: r.usage }));
  }

  const ref = referenceData();
  const savings = computeSavings(points, { fit: fitModel.fit, granularity, timeZone: input.timeZone, adjustments: input.adjustments ?? [] });
  const g14 = assessG14(fitModel.fit, granularity, ref.g14.data, savings.total.uncertainty);
  const disqualifications = dedupe([...baselineSufficiency.disqualifications, ...fitModel.disqualifications]);
  const warnings = dedupe([...baselineSufficiency.warnings, ...reportingSufficiency.warnings, ...reportingSufficiency.disqualifications, ...fitModel.warnings]);
  if (input.weatherStationDistanceKm !== undefined && input.weatherStationDistanceKm > MAX_WEATHER_STATION_DISTANCE_KM) {
    warnings.push({
      code: 'mv.sufficiency.weather_station_far',
      message: `The weather station is ${Math.round(input.weatherStationDistanceKm)} km from the building (more than ${MAX_WEATHER_STATION_DISTANCE_KM} km).`,
      data: { distanceKm: input.weatherStationDistanceKm, limitKm: MAX_WEATHER_STATION_DISTANCE_KM },
    });
  }
  if (!g14.passed) warnings.push({ code: 'mv.fit.g14_not_met', message: 'The baseline fit or the savings uncertainty does not meet the Guideline 14 acceptance criteria.', data: { checks: g14.checks } });
  const status: AnalysisStatus = disqualifications.length === 0 ? (g14.passed ? 'verified' : 'not_verified') : input.override ? 'verified_with_override' : 'not_verified';

  const total = savings.total;
  const days = (rEnd - rStart) / 86_400_000;
  const carbonResult = input.emissionFactor && input.fuel === 'electricity' ? carbon({ avoidedKwh: total.avoided, observedKwh: total.observed, days, ...(input.building?.floorAreaM2 ? { floorAreaM2: input.building.floorAreaM2 } : {}), factor: input.emissionFactor }) : undefined;
  // EUI over the last 12 months of the reporting period (annualised when it is shorter), DOMAIN.md §4.
  const euiFrom = Math.max(rStart, rEnd - 365 * 86_400_000);
  const euiEnergy = points.reduce((a, p) => (p.start >= euiFrom && p.observed !== null ? a + p.observed : a), 0);
  const euiResult = input.building?.floorAreaM2 && input.fuel === 'electricity' ? eui({ energyKwh: euiEnergy, windowDays: (rEnd - euiFrom) / 86_400_000, floorAreaM2: input.building.floorAreaM2, ...(input.building.type ? { buildingType: input.building.type } : {}), quotas: ref.quotas.data }) : undefined;

  let normalized: AnalysisResult['savings']['normalized'];
  if (input.typicalYear && predictTypical) {
    // Normalized savings need a reporting-period model too: fit it on the reporting data.
    try {
      const repOnly = analyzeReportingModel(input);
      if (repOnly) {
        normalized = { ...normalizedSavings(predictTypical(input.typicalYear.readings), repOnly(input.typicalYear.readings)), typicalYear: input.typicalYear.id, typicalYearDigest: input.typicalYear.digest };
      }
    } catch (err) {
      // Normalized savings need a model of the reporting period; without one they are left out.
      warnings.push({ code: 'mv.normalized.unavailable', message: `No normalized savings: the reporting period could not be modelled (${(err as Error).message}).`, data: { code: (err as { code?: string }).code ?? null } });
    }
  }

  const lineage = buildLineage({
    inputs: { ...input.inputDigests, ...(input.typicalYear ? { typicalYear: input.typicalYear.digest } : {}) },
    method: { name: fitModel.method, version: fitModel.methodVersion },
    settings: {
      model: input.model,
      fuel: input.fuel,
      temperatureUnit: input.temperatureUnit,
      timeZone: input.timeZone,
      baseline: input.baseline,
      reporting: input.reporting,
      override: input.override ?? null,
      adjustments: (input.adjustments ?? []).map((a) => a.id),
      emissionFactor: input.emissionFactor?.id ?? null,
      building: input.building ?? null,
      weatherStationDistanceKm: input.weatherStationDistanceKm ?? null,
    },
    referenceData: [ref.g14.version, ...(input.emissionFactor ? [ref.factors.version] : []), ...(euiResult?.quota ? [ref.quotas.version] : [])],
  });

  return {
    status,
    model: {
      kind: input.model,
      type: fitModel.type,
      heatingBalancePoint: fitModel.heatingBalancePoint,
      coolingBalancePoint: fitModel.coolingBalancePoint,
      coefficients: fitModel.coefficients,
      fit: fitModel.fit,
      temperatureUnit: input.temperatureUnit,
      detail: fitModel.detail,
    },
    savings: {
      counterfactual: total.counterfactual,
      observed: total.observed,
      avoided: total.avoided,
      fraction: total.fraction,
      uncertainty: total.uncertainty.levels.map((l) => ({ confidence: l.confidence, absolute: l.absolute, fsu: l.fsu })),
      minimumDetectable: total.uncertainty.minimumDetectable,
      adjusted: { adjustment: total.adjustment, avoided: total.adjustedAvoided, applied: savings.adjustmentsApplied },
      monthly: savings.monthly,
      cumulative: savings.cumulative,
      ...(normalized ? { normalized } : {}),
    },
    g14,
    sufficiency: { baseline: baselineSufficiency, reporting: reportingSufficiency },
    warnings,
    disqualifications,
    ...(input.override ? { override: input.override } : {}),
    ...(carbonResult ? { carbon: carbonResult } : {}),
    ...(euiResult ? { eui: euiResult } : {}),
    lineage,
  };
}

/** For normalized savings: a daily model fitted on the reporting period, as a predictor on other weather. */
function analyzeReportingModel(input: AnalysisInput): ((temps: readonly TemperatureReading[]) => (number | null)[]) | undefined {
  if (input.model !== 'caltrack-daily') return undefined;
  const zone = createZone(input.timeZone);
  const rStart = zone.startOfDay(input.reporting.start);
  const rEnd = zone.startOfDay(input.reporting.end);
  const temps = hourlyTemperatures(input.temperatures, { start: rStart - 24 * HOUR, end: rEnd + 24 * HOUR });
  const rows = dailyRows(input.usage.filter((u) => u.start >= rStart && u.start < rEnd), temps, { timeZone: input.timeZone, fuel: input.fuel, firstDate: input.reporting.start, lastDate: endDateInclusive(input.reporting) });
  const m = fitCaltrackDaily(rows, { fuel: input.fuel, temperatureUnit: input.temperatureUnit });
  return (t) => {
    const series = hourlyTemperatures(t);
    const days = dailyRows([], series, { timeZone: input.timeZone, fuel: input.fuel, firstDate: zone.date(series.start), lastDate: zone.date(series.start + (series.values.length - 1) * HOUR) });
    return predictCaltrackDaily(m, days, PREDICT).map((p) => p.predicted);
  };
}
