/**
 * Covenant engine for green and sustainability-linked loans (DOMAIN.md §5): the test schedule of
 * a covenant, and the evaluation of one test date from KPI observations — pass / fail / at risk /
 * in grace / breach, the margin ratchet step, the probability of failing the next test, the cure
 * state, the evidence and the lineage. See docs/finance-methods.md §1.
 *
 * As-of reproducibility: an evaluation reads only the observations it is given and `asOfMs`
 * (never a clock). Observations recorded after `asOfMs` are ignored (and listed in a warning), a
 * correction of an observation is a newer record of the same KPI and window (the latest recorded
 * on or before `asOfMs` wins), so a result can be re-derived later to the same bytes.
 */
import { buildingKey, COVENANT_FREQUENCY_MONTHS, type CovenantKpi, type CovenantOperator, type CovenantSpec } from '@wattproof/core';
import { canonicalJson } from '../lineage.js';
import { createZone } from '../prep/local-time.js';
import type { ReferenceVersion } from '../reference.js';
import type { Finding } from '../types.js';
import { addDays, addMonths, assertDate, dayNumber, MEAN_MONTH_DAYS } from './dates.js';
import { financeError } from './errors.js';
import { financeLineage, type FinanceLineage } from './lineage.js';
import { normalCdf, normalQuantile } from './random.js';

/** Method name and version of the covenant evaluation; the version changes whenever an output could. */
export const COVENANT_METHOD = 'wattproof.covenant';
export const COVENANT_METHOD_VERSION = '1.0.0';

/** Data coverage below this gets a warning on the tested observation (DOMAIN.md §5: covenants ask 90–95 %). */
export const DEFAULT_MIN_COVERAGE = 0.9;
/** At most this many monthly points (the latest) feed the trend. */
export const DEFAULT_TREND_POINTS = 12;
/** The trend needs at least this many points; with fewer the projection is the latest value. */
export const MIN_TREND_POINTS = 3;
/** Confidence of the reported KPI interval when the covenant does not set `kpiOptions.confidence`. */
export const DEFAULT_KPI_CONFIDENCE = 0.9;

/** Where an observation comes from: a stored result (e.g. an `mv.result` record) and its digest. */
export interface EvidenceSource {
  readonly resultId: string;
  /** Digest of the result (its lineage digest, or sha256 of the record). */
  readonly digest: string;
}

/**
 * One value of a covenant KPI over a window, with its uncertainty and evidence. Monthly
 * observations (e.g. the trailing 12 months at every month end) form the KPI series whose trend
 * gives the at-risk probability; the one whose window ends on the test date is tested.
 */
export interface KpiObservation {
  readonly kpi: CovenantKpi;
  readonly scope: { readonly site: string; readonly building: string; readonly meter?: string };
  /** KPI value in the covenant's unit (fraction, kWh/m²·a, kgCO2e/m²·a, label rank). */
  readonly value: number;
  /** One standard error of the value, same unit (0 for metered counts and labels). */
  readonly standardError: number;
  /** Local dates [start, end): the window the value is about. */
  readonly window: { readonly start: string; readonly end: string };
  /** Share of the window's intervals with data, 0..1 (null when not applicable). */
  readonly dataCoverage: number | null;
  /** `verified` / `verified_with_override` / `not_verified` for M&V figures; `measured` for metered or registry facts. */
  readonly status: 'verified' | 'verified_with_override' | 'not_verified' | 'measured';
  readonly sources: readonly EvidenceSource[];
  /** When the observation was recorded (epoch ms): evaluations as of an earlier instant ignore it. */
  readonly recordedAtMs: number;
  readonly warnings: readonly Finding[];
  /** Non-empty: the value may not decide a test (e.g. a disqualified baseline without override). */
  readonly disqualifications: readonly Finding[];
  /** Reference sets behind the value (factors, quotas, G14 thresholds). */
  readonly referenceData: readonly ReferenceVersion[];
  /** Method-specific figures kept with the evidence (e.g. the emission factor id, the unadjusted value). */
  readonly detail?: Readonly<Record<string, unknown>>;
}

export type CovenantStatus = 'pass' | 'fail' | 'at_risk' | 'breach' | 'in_grace' | 'not_tested';

export interface CovenantEvaluationOptions {
  /** The scheduled test date `YYYY-MM-DD` evaluated. */
  readonly testDate: string;
  /** The instant the evaluation is as of (epoch ms): observations recorded later are ignored. */
  readonly asOfMs: number;
  /** Time zone of the loan's local dates (default Asia/Shanghai). */
  readonly timeZone?: string;
  /** Coverage below which the tested value gets a warning (default 0.9). */
  readonly minCoverage?: number;
  /** Monthly points feeding the trend (default 12). */
  readonly trendPoints?: number;
}

export interface CovenantProjection {
  /** The test date projected to: the next scheduled test after `testDate` (or `testDate` itself before it is reached). */
  readonly testDate: string;
  /** Projected KPI value (normal approximation: mean). */
  readonly mean: number | null;
  /** Standard deviation of the projection (trend prediction error and measurement error). */
  readonly standardDeviation: number | null;
  /** P(the KPI fails the covenant at that test date); null without any usable observation. */
  readonly probabilityOfFailing: number | null;
  /** `linear_trend` (≥ 3 points), `latest_value` (fewer points) or `label` (no trend for label ranks). */
  readonly basis: 'linear_trend' | 'latest_value' | 'label' | 'none';
  /** OLS slope of the series, KPI unit per month (null without a trend). */
  readonly slopePerMonth: number | null;
  /** The points used: window end and value. */
  readonly series: Array<{ end: string; value: number }>;
}

export interface CovenantEvaluation {
  readonly covenantId: string;
  readonly kpi: CovenantKpi;
  readonly testDate: string;
  readonly asOfMs: number;
  readonly status: CovenantStatus;
  /** The tested KPI value (null when no observation decided the test). */
  readonly kpiValue: number | null;
  readonly standardError: number | null;
  /** Two-sided normal interval of the KPI at `confidence`. */
  readonly interval: { readonly confidence: number; readonly low: number; readonly high: number } | null;
  readonly operator: CovenantOperator;
  readonly threshold: number;
  /** Distance to the threshold on the passing side (positive = passes), KPI unit, and in standard errors. */
  readonly headroom: { readonly value: number; readonly standardErrors: number | null } | null;
  /** P(the true KPI passes | measured value, standard error), normal approximation. */
  readonly passProbability: number | null;
  /** Margin change in bp this test triggers (ratchet): `bpOnPass` on pass / at risk, `bpOnFail` on fail / breach, 0 pending. */
  readonly marginStepBp: number;
  readonly projection: CovenantProjection;
  readonly cure: {
    /** Consecutive failed tests ending with this one (0 when this one did not fail). */
    readonly consecutiveFailures: number;
    readonly curePeriods: number;
    /** Further consecutive failures tolerated before a breach (null once breached). */
    readonly remaining: number | null;
    /** True when this test passed after one or more failures. */
    readonly cured: boolean;
  };
  /** Grace window: the failure (or missing evidence) counts from `graceEnds` on. */
  readonly grace: { readonly days: number; readonly ends: string };
  readonly evidence: {
    readonly window: { readonly start: string; readonly end: string };
    readonly observation: KpiObservation | null;
    readonly sources: readonly EvidenceSource[];
  };
  readonly warnings: Finding[];
  readonly disqualifications: Finding[];
  readonly lineage: FinanceLineage;
}

// ---------------------------------------------------------------------------------------------
// Schedule

/**
 * Test dates of a covenant from `schedule.firstTestDate` up to and including `until`: every 1, 3
 * or 12 months on the day of month of the first test, clamped to the month end (a first test on
 * the 31st falls on 30 April and 28/29 February; a first test on 29 February falls on
 * 28 February in common years and on the 29th again in leap years).
 *
 * @throws WattproofError `FINANCE_INPUT_INVALID` when `until` is not a date.
 */
export function testSchedule(spec: Pick<CovenantSpec, 'schedule'>, until: string): string[] {
  assertDate(until, 'until');
  assertDate(spec.schedule.firstTestDate, 'schedule.firstTestDate');
  const step = COVENANT_FREQUENCY_MONTHS[spec.schedule.frequency];
  const first = spec.schedule.firstTestDate;
  const anchor = Number(first.slice(8, 10));
  const out: string[] = [];
  for (let k = 0; ; k++) {
    // Always from the first date, so a clamped February does not pull later dates to the 28th.
    const d = addMonths(first, k * step, anchor);
    if (d > until) break;
    out.push(d);
  }
  return out;
}

/** The KPI window tested on `testDate`: the `measurementWindowMonths` before it, [start, testDate). */
export function testWindow(spec: Pick<CovenantSpec, 'schedule'>, testDate: string): { start: string; end: string } {
  return { start: addMonths(testDate, -spec.schedule.measurementWindowMonths), end: testDate };
}

/** `value <op> threshold`. */
export function passes(value: number, operator: CovenantOperator, threshold: number): boolean {
  switch (operator) {
    case '>=':
      return value >= threshold;
    case '>':
      return value > threshold;
    case '<=':
      return value <= threshold;
    case '<':
      return value < threshold;
  }
}

/** P(X fails `op threshold`) for X ~ N(mean, sd²); a point mass when sd = 0. */
export function probabilityOfFailing(mean: number, sd: number, operator: CovenantOperator, threshold: number): number {
  if (!(sd > 0)) return passes(mean, operator, threshold) ? 0 : 1;
  const below = normalCdf((threshold - mean) / sd);
  // Continuous distribution: > and >= (< and <=) fail with the same probability.
  return operator === '>=' || operator === '>' ? below : 1 - below;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function inScope(spec: CovenantSpec, o: KpiObservation): boolean {
  if (o.kpi !== spec.kpi) return false;
  if (buildingKey({ site: o.scope.site, building: o.scope.building }) !== buildingKey(spec.scope)) return false;
  return spec.scope.meter === undefined || o.scope.meter === spec.scope.meter;
}

/**
 * The observations usable as of `asOfMs`: in scope, recorded on or before it, and for each window
 * the latest record (a correction supersedes; ties broken by the first source digest so the
 * choice never depends on input order).
 */
function asOfObservations(spec: CovenantSpec, observations: readonly KpiObservation[], asOfMs: number): { current: KpiObservation[]; later: number } {
  const byWindow = new Map<string, KpiObservation>();
  let later = 0;
  for (const o of observations) {
    if (!inScope(spec, o)) continue;
    if (o.recordedAtMs > asOfMs) {
      later++;
      continue;
    }
    const key = `${o.window.start}/${o.window.end}/${o.scope.meter ?? ''}`;
    const prev = byWindow.get(key);
    const tie = (x: KpiObservation) => x.sources[0]?.digest ?? '';
    if (!prev || o.recordedAtMs > prev.recordedAtMs || (o.recordedAtMs === prev.recordedAtMs && tie(o) > tie(prev))) byWindow.set(key, o);
  }
  const current = [...byWindow.values()].sort((a, b) => cmp(a.window.end, b.window.end) || cmp(a.window.start, b.window.start) || cmp(a.scope.meter ?? '', b.scope.meter ?? ''));
  return { current, later };
}

interface TestOutcome {
  readonly observation: KpiObservation | null;
  /** pass / fail once it counts; pending within grace or before the test date. */
  readonly outcome: 'pass' | 'fail' | 'pending_not_reached' | 'pending_grace';
  readonly noEvidence: boolean;
  readonly rejected: KpiObservation[];
}

function testOutcome(spec: CovenantSpec, usable: readonly KpiObservation[], testDate: string, asOfMs: number, timeZone: string): TestOutcome {
  const zone = createZone(timeZone);
  const window = testWindow(spec, testDate);
  const candidates = usable.filter((o) => o.window.end === window.end && o.window.start === window.start);
  const valid = candidates.filter((o) => o.disqualifications.length === 0);
  const rejected = candidates.filter((o) => o.disqualifications.length > 0);
  // Several meters for the same window (scope without a meter): the latest record decides.
  const observation = valid.sort((a, b) => b.recordedAtMs - a.recordedAtMs || cmp(a.scope.meter ?? '', b.scope.meter ?? ''))[0] ?? null;
  if (asOfMs < zone.startOfDay(testDate)) return { observation: null, outcome: 'pending_not_reached', noEvidence: false, rejected };
  const inGrace = asOfMs < zone.startOfDay(addDays(testDate, spec.graceDays));
  if (observation && passes(observation.value, spec.operator, spec.threshold)) return { observation, outcome: 'pass', noEvidence: false, rejected };
  return { observation, outcome: inGrace ? 'pending_grace' : 'fail', noEvidence: observation === null, rejected };
}

function project(spec: CovenantSpec, usable: readonly KpiObservation[], cutoff: string, target: string, trendPoints: number): CovenantProjection {
  // One point per window end (the latest record; a building-level scope may have several meters).
  const byEnd = new Map<string, KpiObservation>();
  for (const o of usable) {
    if (o.disqualifications.length > 0 || o.window.end > cutoff) continue;
    const prev = byEnd.get(o.window.end);
    if (!prev || o.recordedAtMs > prev.recordedAtMs) byEnd.set(o.window.end, o);
  }
  const points = [...byEnd.values()].sort((a, b) => cmp(a.window.end, b.window.end)).slice(-trendPoints);
  const series = points.map((o) => ({ end: o.window.end, value: o.value }));
  const last = points[points.length - 1];
  if (!last) return { testDate: target, mean: null, standardDeviation: null, probabilityOfFailing: null, basis: 'none', slopePerMonth: null, series };
  if (spec.kpi === 'label_maintained') {
    // A label is kept or not: its rank on the latest evidence is the projection (no trend on ranks).
    return { testDate: target, mean: last.value, standardDeviation: 0, probabilityOfFailing: probabilityOfFailing(last.value, 0, spec.operator, spec.threshold), basis: 'label', slopePerMonth: null, series };
  }
  const se = last.standardError;
  if (points.length < MIN_TREND_POINTS) {
    return { testDate: target, mean: last.value, standardDeviation: se, probabilityOfFailing: probabilityOfFailing(last.value, se, spec.operator, spec.threshold), basis: 'latest_value', slopePerMonth: null, series };
  }
  // OLS of value on time in mean months; prediction variance s²(1 + 1/n + (x* − x̄)²/Sxx) plus the
  // latest observation's measurement variance (the next window's KPI is measured with similar error).
  const x = points.map((o) => (dayNumber(o.window.end) - dayNumber(points[0]!.window.end)) / MEAN_MONTH_DAYS);
  const y = points.map((o) => o.value);
  const n = points.length;
  const xm = x.reduce((a, b) => a + b, 0) / n;
  const ym = y.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i]! - xm) ** 2;
    sxy += (x[i]! - xm) * (y[i]! - ym);
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  const intercept = ym - slope * xm;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (y[i]! - intercept - slope * x[i]!) ** 2;
  const s2 = sse / (n - 2);
  const xt = (dayNumber(target) - dayNumber(points[0]!.window.end)) / MEAN_MONTH_DAYS;
  const mean = intercept + slope * xt;
  const sd = Math.sqrt(s2 * (1 + 1 / n + (sxx > 0 ? (xt - xm) ** 2 / sxx : 0)) + se * se);
  return { testDate: target, mean, standardDeviation: sd, probabilityOfFailing: probabilityOfFailing(mean, sd, spec.operator, spec.threshold), basis: 'linear_trend', slopePerMonth: slope, series };
}

/**
 * Evaluates a covenant on one of its test dates, as of an instant.
 *
 * - Before the test date (`asOfMs` earlier than its local start): `not_tested`, with the projection.
 * - The tested value is the observation whose window is the `measurementWindowMonths` before the
 *   test date; disqualified observations cannot decide a test (listed in `disqualifications`).
 * - Passing: `pass`, or `at_risk` when P(failing the next test) ≥ `atRiskProbability`.
 * - Failing, or no evidence: `in_grace` until `graceDays` after the test date; then the failure
 *   counts. With `c` consecutive counted failures (this one included): `fail` while c ≤
 *   `cure.periods`, `breach` once c > `cure.periods`.
 *
 * @throws WattproofError `FINANCE_TEST_DATE_NOT_SCHEDULED` when `testDate` is not a test date;
 *   `FINANCE_INPUT_INVALID` on a malformed date or `asOfMs`.
 */
export function evaluateCovenant(spec: CovenantSpec, observations: readonly KpiObservation[], options: CovenantEvaluationOptions): CovenantEvaluation {
  const { testDate, asOfMs } = options;
  assertDate(testDate, 'testDate');
  if (!Number.isFinite(asOfMs)) throw financeError('FINANCE_INPUT_INVALID', 'asOfMs must be a finite epoch time in ms', { details: { field: 'asOfMs', value: String(asOfMs) } });
  const timeZone = options.timeZone ?? 'Asia/Shanghai';
  const minCoverage = options.minCoverage ?? DEFAULT_MIN_COVERAGE;
  const trendPoints = options.trendPoints ?? DEFAULT_TREND_POINTS;
  const step = COVENANT_FREQUENCY_MONTHS[spec.schedule.frequency];
  const schedule = testSchedule(spec, testDate);
  if (schedule[schedule.length - 1] !== testDate) {
    throw financeError('FINANCE_TEST_DATE_NOT_SCHEDULED', `${testDate} is not a test date of covenant ${spec.id} (first ${spec.schedule.firstTestDate}, ${spec.schedule.frequency})`, {
      details: { covenantId: spec.id, testDate, nearest: schedule[schedule.length - 1] ?? spec.schedule.firstTestDate },
    });
  }
  const nextTestDate = addMonths(spec.schedule.firstTestDate, schedule.length * step, Number(spec.schedule.firstTestDate.slice(8, 10)));

  const { current: usable, later } = asOfObservations(spec, observations, asOfMs);
  const warnings: Finding[] = [];
  const disqualifications: Finding[] = [];
  if (later > 0) warnings.push({ code: 'finance.covenant.later_records_ignored', message: `${later} observation(s) recorded after the as-of instant were ignored.`, data: { count: later, asOfMs } });

  const here = testOutcome(spec, usable, testDate, asOfMs, timeZone);
  for (const o of here.rejected) {
    disqualifications.push({
      code: 'finance.covenant.evidence_disqualified',
      message: `The ${spec.kpi} observation for [${o.window.start}, ${o.window.end}) is disqualified and cannot decide the test.`,
      data: { sources: o.sources.map((s) => s.resultId), codes: o.disqualifications.map((d) => d.code) },
    });
  }
  const window = testWindow(spec, testDate);
  const obs = here.observation;
  if (obs) {
    warnings.push(...obs.warnings);
    if (obs.dataCoverage !== null && obs.dataCoverage < minCoverage) {
      warnings.push({ code: 'finance.covenant.low_coverage', message: `Data coverage ${(obs.dataCoverage * 100).toFixed(1)} % is below ${(minCoverage * 100).toFixed(0)} %.`, data: { coverage: obs.dataCoverage, minimum: minCoverage } });
    }
    if (obs.status === 'verified_with_override') warnings.push({ code: 'finance.covenant.mv_override', message: 'The tested value comes from a baseline accepted with a recorded override.', data: { sources: obs.sources.map((s) => s.resultId) } });
  } else if (here.outcome !== 'pending_not_reached') {
    const code = here.outcome === 'fail' ? 'finance.covenant.no_evidence' : 'finance.covenant.evidence_outstanding';
    (here.outcome === 'fail' ? disqualifications : warnings).push({
      code,
      message: here.outcome === 'fail' ? `No valid ${spec.kpi} observation for [${window.start}, ${window.end}) by the end of the grace period: the test counts as failed.` : `No valid ${spec.kpi} observation for [${window.start}, ${window.end}) yet; the grace period runs until ${addDays(testDate, spec.graceDays)}.`,
      data: { window },
    });
  }

  // Consecutive counted failures, walking back over the earlier test dates as of the same instant.
  let consecutive = 0;
  if (here.outcome === 'fail') {
    consecutive = 1;
    for (let i = schedule.length - 2; i >= 0; i--) {
      if (testOutcome(spec, usable, schedule[i]!, asOfMs, timeZone).outcome !== 'fail') break;
      consecutive++;
    }
  }
  let cured = false;
  if (here.outcome === 'pass' && schedule.length >= 2) cured = testOutcome(spec, usable, schedule[schedule.length - 2]!, asOfMs, timeZone).outcome === 'fail';

  const reached = here.outcome !== 'pending_not_reached';
  const projection = project(spec, usable, reached ? testDate : createZone(timeZone).date(asOfMs), reached ? nextTestDate : testDate, trendPoints);

  let status: CovenantStatus;
  switch (here.outcome) {
    case 'pending_not_reached':
      status = 'not_tested';
      break;
    case 'pending_grace':
      status = 'in_grace';
      break;
    case 'pass':
      status = projection.probabilityOfFailing !== null && projection.probabilityOfFailing >= spec.atRiskProbability ? 'at_risk' : 'pass';
      break;
    case 'fail':
      status = consecutive > spec.cure.periods ? 'breach' : 'fail';
      break;
  }
  const marginStepBp = status === 'pass' || status === 'at_risk' ? spec.ratchet.bpOnPass : status === 'fail' || status === 'breach' ? spec.ratchet.bpOnFail : 0;

  const confidence = spec.kpiOptions?.confidence ?? DEFAULT_KPI_CONFIDENCE;
  const tested = reached && obs ? obs : null;
  const z = normalQuantile(1 - (1 - confidence) / 2);
  const upSide = spec.operator === '>=' || spec.operator === '>';
  const headroomValue = tested ? (upSide ? tested.value - spec.threshold : spec.threshold - tested.value) : null;
  const result = {
    covenantId: spec.id,
    kpi: spec.kpi,
    testDate,
    asOfMs,
    status,
    kpiValue: tested?.value ?? null,
    standardError: tested?.standardError ?? null,
    interval: tested ? { confidence, low: tested.value - z * tested.standardError, high: tested.value + z * tested.standardError } : null,
    operator: spec.operator,
    threshold: spec.threshold,
    headroom: tested && headroomValue !== null ? { value: headroomValue, standardErrors: tested.standardError > 0 ? headroomValue / tested.standardError : null } : null,
    passProbability: tested ? 1 - probabilityOfFailing(tested.value, tested.standardError, spec.operator, spec.threshold) : null,
    marginStepBp,
    projection,
    cure: {
      consecutiveFailures: consecutive,
      curePeriods: spec.cure.periods,
      remaining: status === 'breach' ? null : Math.max(0, spec.cure.periods - consecutive),
      cured,
    },
    grace: { days: spec.graceDays, ends: addDays(testDate, spec.graceDays) },
    evidence: { window, observation: tested, sources: tested?.sources ?? [] },
    warnings,
    disqualifications,
  };
  const lineage = financeLineage(
    COVENANT_METHOD,
    COVENANT_METHOD_VERSION,
    // Canonical input: the observations in a fixed order, so the digest does not depend on how the caller listed them.
    { spec, observations: observations.map((o) => canonicalJson(o)).sort().map((j) => JSON.parse(j) as unknown) },
    { testDate, asOfMs, timeZone, minCoverage, trendPoints },
    usable.flatMap((o) => o.referenceData),
  );
  return { ...result, lineage };
}
