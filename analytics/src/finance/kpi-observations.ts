/**
 * From M&V results and registry facts to covenant KPI observations (docs/finance-methods.md §1.1):
 * for every month end of an analysis' reporting period, the KPI over the trailing window
 * (`windowMonths`, or what the reporting period has so far), with its standard error, coverage,
 * verification status and evidence. The series feeds the covenant trend; the observation whose
 * window is the covenant's test window decides the test.
 */
import { greenLabelRank, type BuildingProfile, type CovenantKpi } from '@wattproof/core';
import type { AnalysisResult } from '../analyze.js';
import { selectEmissionFactor } from '../carbon.js';
import { digestOf } from '../lineage.js';
import { referenceData, type EmissionFactors, type Loaded } from '../reference.js';
import type { Finding } from '../types.js';
import { twoSidedT } from '../stats/t-quantile.js';
import { savingsUncertainty, type Granularity } from '../uncertainty.js';
import { addDays, addMonths, assertDate, dayNumber } from './dates.js';
import { financeError } from './errors.js';
import type { EvidenceSource, KpiObservation } from './covenants.js';

/** Where an observation is recorded and what it is about. */
export interface ObservationContext {
  readonly scope: KpiObservation['scope'];
  /** Id of the stored result (e.g. the `mv.result` record id). */
  readonly resultId: string;
  /** When the result was recorded (epoch ms). */
  readonly recordedAtMs: number;
  /** Trailing window in months (default 12). */
  readonly windowMonths?: number;
}

const GRANULARITY: Record<AnalysisResult['model']['kind'], Granularity> = { 'caltrack-daily': 'daily', 'caltrack-billing': 'billing', 'caltrack-hourly': 'hourly' };

interface Window {
  readonly start: string;
  readonly end: string;
  readonly months: AnalysisResult['savings']['monthly'];
  /** Expected reporting points in the window (days or hours); null for billing data. */
  readonly expected: number | null;
}

function reportingOf(result: AnalysisResult): { start: string; end: string } {
  const r = result.lineage.settings.reporting as { start?: unknown; end?: unknown } | undefined;
  if (!r || typeof r.start !== 'string' || typeof r.end !== 'string') {
    throw financeError('FINANCE_INPUT_INVALID', 'the analysis result has no reporting period in its lineage settings', { details: { field: 'lineage.settings.reporting' } });
  }
  return { start: r.start, end: r.end };
}

/** Trailing windows ending at every month end of the reporting period (the last one at the reporting end). */
function trailingWindows(result: AnalysisResult, windowMonths: number): Window[] {
  const reporting = reportingOf(result);
  const granularity = GRANULARITY[result.model.kind];
  const out: Window[] = [];
  for (const row of result.savings.monthly) {
    const monthEnd = addMonths(`${row.period}-01`, 1);
    const end = monthEnd < reporting.end ? monthEnd : reporting.end;
    const back = addMonths(end, -windowMonths);
    const start = back > reporting.start ? back : reporting.start;
    const months = result.savings.monthly.filter((m) => `${m.period}-01` < end && addMonths(`${m.period}-01`, 1) > start);
    const days = dayNumber(end) - dayNumber(start);
    out.push({ start, end, months, expected: granularity === 'daily' ? days : granularity === 'hourly' ? days * 24 : null });
  }
  return out;
}

function evidence(result: AnalysisResult, ctx: ObservationContext): { sources: EvidenceSource[]; referenceData: KpiObservation['referenceData']; disqualifications: Finding[]; status: KpiObservation['status'] } {
  const disqualifications: Finding[] = [];
  if (result.status === 'not_verified') {
    disqualifications.push(
      ...(result.disqualifications.length > 0
        ? result.disqualifications
        : [{ code: 'finance.kpi.mv_not_verified', message: 'The M&V result is not verified (Guideline 14 acceptance not met).', data: { checks: result.g14.checks } }]),
    );
  }
  return { sources: [{ resultId: ctx.resultId, digest: result.lineage.digest }], referenceData: result.lineage.referenceData, disqualifications, status: result.status };
}

function sum(rows: AnalysisResult['savings']['monthly'], f: (r: AnalysisResult['savings']['monthly'][number]) => number): number {
  return rows.reduce((a, r) => a + f(r), 0);
}

function base(kpi: CovenantKpi, w: Window, ctx: ObservationContext, result: AnalysisResult, windowMonths: number) {
  const points = sum(w.months, (r) => r.points);
  const coverage = w.expected ? Math.min(1, points / w.expected) : null;
  const complete = addMonths(w.end, -windowMonths) >= w.start;
  const warnings: Finding[] = complete ? [] : [{ code: 'finance.kpi.partial_window', message: `The window [${w.start}, ${w.end}) is shorter than ${windowMonths} months (the reporting period began ${w.start}).`, data: { windowMonths } }];
  return { kpi, scope: ctx.scope, window: { start: w.start, end: w.end }, dataCoverage: coverage, recordedAtMs: ctx.recordedAtMs, warnings, points, ...evidence(result, ctx) };
}

/**
 * Savings fraction per trailing window: (Σ avoided + Σ adjustment) / (Σ counterfactual +
 * Σ adjustment) with the non-routine adjustments (default), or Σ avoided / Σ counterfactual
 * without. Standard error: the Guideline 14 savings uncertainty of the window (the analysis' fit,
 * the window's reporting points and months) at one standard error, U₆₈ / t₆₈, over the
 * denominator.
 */
export function savingsFractionObservations(result: AnalysisResult, ctx: ObservationContext & { readonly adjusted?: boolean }): KpiObservation[] {
  const W = ctx.windowMonths ?? 12;
  const adjusted = ctx.adjusted ?? true;
  const granularity = GRANULARITY[result.model.kind];
  return trailingWindows(result, W).flatMap((w) => {
    const b = base('savings_fraction', w, ctx, result, W);
    const counterfactual = sum(w.months, (r) => r.counterfactual);
    const avoided = sum(w.months, (r) => r.avoided);
    const adjustment = adjusted ? sum(w.months, (r) => r.adjustment) : 0;
    const denominator = counterfactual + adjustment;
    if (!(denominator > 0) || b.points === 0) return [];
    const u = savingsUncertainty({ fit: result.model.fit, granularity, reportingPoints: b.points, reportingMonths: w.months.length, counterfactual, avoided }, [0.68]).levels[0]!;
    const { points: _p, ...rest } = b;
    return [{ ...rest, value: (avoided + adjustment) / denominator, standardError: u.absolute / u.t / denominator, detail: { counterfactualKwh: counterfactual, avoidedKwh: avoided, adjustmentKwh: adjustment, unadjustedFraction: avoided / counterfactual, adjusted, reportingPoints: b.points } }];
  });
}

/**
 * Weather-normalized savings fraction (the analysis' typical-year figure) over the whole
 * reporting period. Its standard error is approximated by the Guideline 14 fractional standard
 * error of the metered savings of the same period (the normalized figure has no uncertainty of
 * its own in the M&V result). Empty when the analysis has no normalized savings.
 */
export function normalizedSavingsObservation(result: AnalysisResult, ctx: ObservationContext): KpiObservation[] {
  const n = result.savings.normalized;
  if (!n || n.fraction === null) return [];
  const reporting = reportingOf(result);
  const u68 = result.savings.uncertainty.find((u) => Math.abs(u.confidence - 0.68) < 1e-9);
  // The t that uncertainty.ts used for the 68 % band (n − p degrees of freedom).
  const t68 = twoSidedT(0.68, Math.max(1, result.model.fit.n - result.model.fit.p));
  const se = u68 && result.savings.counterfactual > 0 ? u68.absolute / t68 / result.savings.counterfactual : 0;
  const ev = evidence(result, ctx);
  return [
    {
      kpi: 'savings_fraction',
      scope: ctx.scope,
      value: n.fraction,
      standardError: se,
      window: reporting,
      dataCoverage: null,
      recordedAtMs: ctx.recordedAtMs,
      warnings: [{ code: 'finance.kpi.normalized_uncertainty_approximated', message: 'The standard error of the normalized savings is that of the metered savings of the same period (approximation).', data: { typicalYear: n.typicalYear } }],
      ...ev,
      detail: { normalized: true, typicalYear: n.typicalYear, typicalYearDigest: n.typicalYearDigest, baselineKwh: n.baseline, reportingKwh: n.reporting },
    },
  ];
}

/**
 * EUI per trailing window, kWh/(m²·a): Σ observed / coverage / floor area × 365 / window days.
 * Dividing by the coverage scales the metered energy to the whole window as if the missing
 * intervals used the window's average (without it, gaps would flatter a `<=` covenant). The
 * energy is the analysed meter's, in kWh (electricity-equivalent site energy, DOMAIN.md §4).
 */
export function euiObservations(result: AnalysisResult, ctx: ObservationContext & { readonly floorAreaM2: number }): KpiObservation[] {
  if (!(ctx.floorAreaM2 > 0)) throw financeError('FINANCE_INPUT_INVALID', 'floorAreaM2 must be > 0', { details: { field: 'floorAreaM2', value: ctx.floorAreaM2 } });
  const W = ctx.windowMonths ?? 12;
  return trailingWindows(result, W).flatMap((w) => {
    const b = base('eui_kwh_per_m2', w, ctx, result, W);
    if (b.points === 0) return [];
    const observed = sum(w.months, (r) => r.observed);
    const scale = b.dataCoverage && b.dataCoverage > 0 ? 1 / b.dataCoverage : 1;
    const days = dayNumber(w.end) - dayNumber(w.start);
    const { points: _p, ...rest } = b;
    return [{ ...rest, value: ((observed * scale) / ctx.floorAreaM2) * (365 / days), standardError: 0, detail: { observedKwh: observed, coverageScale: scale, windowDays: days, floorAreaM2: ctx.floorAreaM2 } }];
  });
}

/**
 * Carbon intensity per trailing window, kgCO2e/(m²·a): the window's EUI × the grid factor in
 * force on the window's last day (effective-dated, `selectEmissionFactor`), naming the factor id.
 * A window without an applicable factor gets a disqualified observation (no factor is invented).
 */
export function carbonIntensityObservations(
  result: AnalysisResult,
  ctx: ObservationContext & { readonly floorAreaM2: number; readonly region?: string; readonly basis?: 'location' | 'market'; readonly factors?: Loaded<EmissionFactors> },
): KpiObservation[] {
  const factors = ctx.factors ?? referenceData().factors;
  const region = ctx.region ?? 'CN';
  const basis = ctx.basis ?? 'location';
  return euiObservations(result, ctx).map((o) => {
    const asOf = addDays(o.window.end, -1);
    const f = selectEmissionFactor(factors.data, { region, basis, asOf });
    const refs = [...o.referenceData, factors.version];
    if (!f) {
      return {
        ...o,
        kpi: 'carbon_intensity_kgco2e_per_m2' as const,
        value: 0,
        referenceData: refs,
        disqualifications: [...o.disqualifications, { code: 'finance.kpi.no_emission_factor', message: `No ${basis}-based grid factor for ${region} is in force on ${asOf}.`, data: { region, basis, asOf } }],
        detail: { ...o.detail, eui: o.value },
      };
    }
    return { ...o, kpi: 'carbon_intensity_kgco2e_per_m2' as const, value: o.value * f.value, referenceData: refs, detail: { ...o.detail, eui: o.value, factorId: f.id, factorKgPerKwh: f.value } };
  });
}

/** Data coverage per trailing window: reporting points with data / expected points (daily and hourly analyses). */
export function coverageObservations(result: AnalysisResult, ctx: ObservationContext): KpiObservation[] {
  const W = ctx.windowMonths ?? 12;
  return trailingWindows(result, W).flatMap((w) => {
    const b = base('data_coverage_fraction', w, ctx, result, W);
    if (b.dataCoverage === null) return [];
    const { points: _p, ...rest } = b;
    // Coverage is a fact about the data, not about the model: it counts even for an unverified fit.
    return [{ ...rest, value: b.dataCoverage, standardError: 0, status: 'measured' as const, disqualifications: [], detail: { reportingPoints: b.points, expectedPoints: w.expected } }];
  });
}

/**
 * `label_maintained` on a test date: the rank (basic 0 … 3-star 3) of the GB/T 50378 label valid
 * on `testDate` in the building profile in force then, −1 when none; window = the covenant's test
 * window so the observation is the one tested.
 */
export function labelObservation(
  profiles: readonly BuildingProfile[],
  ctx: { readonly scope: KpiObservation['scope']; readonly testDate: string; readonly windowMonths: number; readonly recordedAtMs: number },
): KpiObservation {
  assertDate(ctx.testDate, 'testDate');
  const profile = profiles
    .filter((p) => p.site === ctx.scope.site && p.building === ctx.scope.building && p.effectiveFrom <= ctx.testDate)
    .sort((a, b) => (a.effectiveFrom < b.effectiveFrom ? 1 : -1))[0];
  const label = profile?.label && profile.label.validFrom <= ctx.testDate && ctx.testDate < profile.label.validTo ? profile.label : undefined;
  return {
    kpi: 'label_maintained',
    scope: { site: ctx.scope.site, building: ctx.scope.building },
    value: label ? greenLabelRank(label.level) : -1,
    standardError: 0,
    window: { start: addMonths(ctx.testDate, -ctx.windowMonths), end: ctx.testDate },
    dataCoverage: null,
    status: 'measured',
    sources: profile ? [{ resultId: `building-profile:${profile.site}/${profile.building}@${profile.effectiveFrom}`, digest: digestOf(profile) }] : [],
    recordedAtMs: ctx.recordedAtMs,
    warnings: profile ? [] : [{ code: 'finance.kpi.no_building_profile', message: `No profile of ${ctx.scope.site}/${ctx.scope.building} is in force on ${ctx.testDate}.`, data: { testDate: ctx.testDate } }],
    disqualifications: [],
    referenceData: [],
    detail: label ? { level: label.level, kind: label.kind, validFrom: label.validFrom, validTo: label.validTo, certificateId: label.certificateId ?? null } : { level: null },
  };
}
