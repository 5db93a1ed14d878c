/**
 * Energy-savings performance insurance (DOMAIN.md §6; docs/finance-methods.md §2): settlement of a
 * policy period from verified savings (shortfall, payout, claim file), pricing of a guarantee from
 * the distribution of verified savings (model uncertainty × weather-year variation, seeded Monte
 * Carlo) and a portfolio view across policies.
 */
import type { Policy, PolicyPeriod } from '@wattproof/core';
import type { AnalysisResult } from '../analyze.js';
import { perDayLoads } from '../caltrack/daily.js';
import { digestOf } from '../lineage.js';
import { dailyRows } from '../prep/daily.js';
import { createZone, HOUR_MS } from '../prep/local-time.js';
import { hourlyTemperatures, type TemperatureReading } from '../prep/temperature.js';
import type { ReferenceVersion } from '../reference.js';
import { tQuantile, twoSidedT } from '../stats/t-quantile.js';
import type { Finding, FitStats } from '../types.js';
import { savingsUncertainty, type Granularity } from '../uncertainty.js';
import type { EvidenceSource } from './covenants.js';
import { dayNumber } from './dates.js';
import { financeError } from './errors.js';
import { financeLineage, type FinanceLineage } from './lineage.js';
import { normalCdf, normalQuantile, sampleQuantile, seededUniform } from './random.js';

export const SETTLEMENT_METHOD = 'wattproof.insurance.settlement';
export const SETTLEMENT_METHOD_VERSION = '1.0.0';
export const PRICING_METHOD = 'wattproof.insurance.pricing';
export const PRICING_METHOD_VERSION = '1.0.0';

/** Monte Carlo draws of a pricing run when none is given. */
export const DEFAULT_SIMULATIONS = 20_000;
/** Seed of the pricing PRNG when none is given. */
export const DEFAULT_SEED = 20_231_101;
/** Risk loading on the expected loss when none is given (0.3 = +30 %). */
export const DEFAULT_LOADING = 0.3;
/** A weather year whose model predicts fewer than this share of its days is left out of pricing. */
export const MIN_WEATHER_YEAR_COVERAGE = 0.9;

// ---------------------------------------------------------------------------------------------
// Settlement

/** Verified savings of a policy period: the figure that settles a claim, with its uncertainty and evidence. */
export interface VerifiedSavings {
  /** Verified (avoided) energy over the period, kWh. */
  readonly kwh: number;
  /** One standard error, kWh (0 when unknown). */
  readonly standardErrorKwh: number;
  /** Worst status of the M&V results behind the figure. */
  readonly status: 'verified' | 'verified_with_override' | 'not_verified';
  /** Local dates [start, end) the M&V reporting period covered (compared with the policy period). */
  readonly window?: { readonly start: string; readonly end: string };
  readonly sources: readonly EvidenceSource[];
  readonly warnings: readonly Finding[];
  readonly disqualifications: readonly Finding[];
  readonly referenceData: readonly ReferenceVersion[];
}

/**
 * Verified savings from the M&V results of a policy's meters: Σ avoided energy (with the
 * non-routine adjustments by default), standard error √(Σ SEᵢ²) (meters' model errors taken as
 * independent, as the Guideline 14 portfolio formula), SEᵢ = U₆₈ / t₆₈ of each result.
 */
export function verifiedSavingsFromAnalyses(results: ReadonlyArray<{ readonly resultId: string; readonly result: AnalysisResult }>, options: { readonly adjusted?: boolean } = {}): VerifiedSavings {
  if (results.length === 0) throw financeError('FINANCE_INPUT_INVALID', 'at least one M&V result is needed', { details: { field: 'results' } });
  const adjusted = options.adjusted ?? true;
  let kwh = 0;
  let variance = 0;
  const rank = { verified: 0, verified_with_override: 1, not_verified: 2 } as const;
  let status: VerifiedSavings['status'] = 'verified';
  const windows = new Set<string>();
  const warnings: Finding[] = [];
  const disqualifications: Finding[] = [];
  for (const { resultId, result } of results) {
    kwh += adjusted ? result.savings.adjusted.avoided : result.savings.avoided;
    const u = result.savings.uncertainty.find((x) => Math.abs(x.confidence - 0.68) < 1e-9);
    // The t that uncertainty.ts used for the 68 % band (n − p degrees of freedom).
    const t = twoSidedT(0.68, Math.max(1, result.model.fit.n - result.model.fit.p));
    if (u) variance += (u.absolute / t) ** 2;
    if (rank[result.status] > rank[status]) status = result.status;
    const r = result.lineage.settings.reporting as { start: string; end: string } | undefined;
    if (r) windows.add(`${r.start}/${r.end}`);
    warnings.push(...result.warnings.map((w) => ({ ...w, data: { ...w.data, resultId } })));
    if (result.status === 'not_verified') {
      disqualifications.push(...(result.disqualifications.length ? result.disqualifications : [{ code: 'finance.kpi.mv_not_verified', message: 'The M&V result is not verified (Guideline 14 acceptance not met).' }]).map((d) => ({ ...d, data: { ...d.data, resultId } })));
    }
  }
  const [only] = windows;
  const window = windows.size === 1 && only ? { start: only.split('/')[0]!, end: only.split('/')[1]! } : undefined;
  if (windows.size > 1) warnings.push({ code: 'finance.claim.mixed_windows', message: 'The M&V results cover different reporting periods.', data: { windows: [...windows].sort() } });
  return {
    kwh,
    standardErrorKwh: Math.sqrt(variance),
    status,
    ...(window ? { window } : {}),
    sources: results.map((r) => ({ resultId: r.resultId, digest: r.result.lineage.digest })),
    warnings,
    disqualifications,
    referenceData: results.flatMap((r) => r.result.lineage.referenceData),
  };
}

/** The settlement figures of one period, CNY and kWh. */
export interface SettlementFigures {
  readonly guaranteedKwh: number;
  readonly verifiedKwh: number;
  /** max(0, guaranteed − verified). */
  readonly shortfallKwh: number;
  readonly contractPriceCnyPerKwh: number;
  /** shortfall × contract price. */
  readonly grossLossCny: number;
  readonly deductibleCny: number;
  readonly limitCny: number;
  /** min(limit, max(0, gross loss − deductible)). */
  readonly payoutCny: number;
  /** The part of the gross loss the deductible kept with the insured. */
  readonly deductibleAppliedCny: number;
  /** True when the limit cut the payout. */
  readonly limitReached: boolean;
}

/** `shortfall = max(0, G − V)`, `payout = min(limit, max(0, shortfall × price − deductible))` (DOMAIN.md §6). */
export function settlementFigures(terms: { guaranteedKwh: number; verifiedKwh: number; contractPriceCnyPerKwh: number; deductibleCny: number; limitCny: number }): SettlementFigures {
  for (const [field, v] of Object.entries(terms)) {
    if (!Number.isFinite(v) || (field !== 'verifiedKwh' && v < 0)) throw financeError('FINANCE_INPUT_INVALID', `${field} must be a finite number${field === 'verifiedKwh' ? '' : ' ≥ 0'}`, { details: { field, value: String(v) } });
  }
  const shortfallKwh = Math.max(0, terms.guaranteedKwh - terms.verifiedKwh);
  const grossLossCny = shortfallKwh * terms.contractPriceCnyPerKwh;
  const beforeLimit = Math.max(0, grossLossCny - terms.deductibleCny);
  const payoutCny = Math.min(terms.limitCny, beforeLimit);
  return {
    guaranteedKwh: terms.guaranteedKwh,
    verifiedKwh: terms.verifiedKwh,
    shortfallKwh,
    contractPriceCnyPerKwh: terms.contractPriceCnyPerKwh,
    grossLossCny,
    deductibleCny: terms.deductibleCny,
    limitCny: terms.limitCny,
    payoutCny,
    deductibleAppliedCny: Math.min(grossLossCny, terms.deductibleCny),
    limitReached: beforeLimit > terms.limitCny,
  };
}

/** The data of a claim file: what was settled, on which figures, from which evidence. */
export interface ClaimFile {
  readonly policyId: string;
  readonly insurer: string;
  readonly insured: string;
  readonly period: PolicyPeriod;
  readonly figures: SettlementFigures;
  /** Normal approximation around the verified figure: P(true savings < guaranteed) and the 90 % band. */
  readonly uncertainty: { readonly standardErrorKwh: number; readonly probabilityTrueShortfall: number; readonly band90Kwh: { readonly low: number; readonly high: number } };
  /** False when the verified savings are not verified (disqualified M&V): the figures are indicative only. */
  readonly settleable: boolean;
  readonly inputs: {
    readonly terms: { readonly contractPriceCnyPerKwh: number; readonly deductibleCny: number; readonly limitCny: number; readonly meters: Policy['meters']; readonly mvDefinitionId: string | null };
    readonly verified: VerifiedSavings;
  };
  readonly evidence: readonly EvidenceSource[];
  readonly warnings: Finding[];
  readonly disqualifications: Finding[];
  readonly lineage: FinanceLineage;
}

function findPeriod(policy: Policy, period: string | number): PolicyPeriod {
  const p = typeof period === 'number' ? policy.periods[period] : policy.periods.find((x) => x.id === period);
  if (!p) throw financeError('FINANCE_POLICY_PERIOD_UNKNOWN', `policy ${policy.id} has no period ${String(period)}`, { details: { policyId: policy.id, period, periods: policy.periods.map((x) => x.id) } });
  return p;
}

/**
 * Settles one period of a policy from its verified savings.
 * @param period the period's id, or its index in `policy.periods`.
 * @throws WattproofError `FINANCE_POLICY_PERIOD_UNKNOWN`, `FINANCE_INPUT_INVALID`.
 */
export function settlePeriod(policy: Policy, period: string | number, verified: VerifiedSavings): ClaimFile {
  const p = findPeriod(policy, period);
  const figures = settlementFigures({ guaranteedKwh: p.guaranteedSavingsKwh, verifiedKwh: verified.kwh, contractPriceCnyPerKwh: policy.contractPriceCnyPerKwh, deductibleCny: policy.deductibleCny, limitCny: policy.limitCny });
  if (!(verified.standardErrorKwh >= 0)) throw financeError('FINANCE_INPUT_INVALID', 'standardErrorKwh must be ≥ 0', { details: { field: 'standardErrorKwh' } });
  const warnings: Finding[] = [...verified.warnings];
  const disqualifications: Finding[] = [...verified.disqualifications];
  if (verified.window && (verified.window.start !== p.from || verified.window.end !== p.to)) {
    warnings.push({ code: 'finance.claim.window_mismatch', message: `The verified savings cover [${verified.window.start}, ${verified.window.end}), the policy period is [${p.from}, ${p.to}).`, data: { window: verified.window, period: { from: p.from, to: p.to } } });
  }
  if (verified.status === 'verified_with_override') warnings.push({ code: 'finance.claim.mv_override', message: 'The verified savings rest on a baseline accepted with a recorded override.' });
  const se = verified.standardErrorKwh;
  const z90 = normalQuantile(0.95);
  const terms = { contractPriceCnyPerKwh: policy.contractPriceCnyPerKwh, deductibleCny: policy.deductibleCny, limitCny: policy.limitCny, meters: policy.meters, mvDefinitionId: policy.mvDefinitionId ?? null };
  const body = {
    policyId: policy.id,
    insurer: policy.insurer,
    insured: policy.insured,
    period: p,
    figures,
    uncertainty: {
      standardErrorKwh: se,
      probabilityTrueShortfall: se > 0 ? normalCdf((p.guaranteedSavingsKwh - verified.kwh) / se) : verified.kwh < p.guaranteedSavingsKwh ? 1 : 0,
      band90Kwh: { low: verified.kwh - z90 * se, high: verified.kwh + z90 * se },
    },
    settleable: verified.status !== 'not_verified' && disqualifications.length === 0,
    inputs: { terms, verified },
    evidence: verified.sources,
    warnings,
    disqualifications,
  };
  return { ...body, lineage: financeLineage(SETTLEMENT_METHOD, SETTLEMENT_METHOD_VERSION, { period: p, terms, verified }, { policyId: policy.id, periodId: p.id }, verified.referenceData) };
}

// ---------------------------------------------------------------------------------------------
// Weather years

/** One weather year: hourly temperatures (in the model's unit) with an id and a digest. */
export interface WeatherYear {
  readonly id: string;
  readonly digest: string;
  readonly readings: readonly TemperatureReading[];
}

/** The baseline counterfactual of one weather year. */
export interface WeatherYearCounterfactual {
  readonly id: string;
  readonly digest: string;
  /** Σ predicted energy over the year, scaled to all its days when some lacked temperature, kWh. */
  readonly counterfactualKwh: number;
  /** Days (reporting points) of the year the model predicted. */
  readonly reportingPoints: number;
  readonly days: number;
}

/**
 * Splits an hourly temperature history into local calendar years, keeping the years with a value
 * in at least 90 % of their hours. Ids `<sourceId>-<year>`; digest = sha256 of the year's readings.
 */
export function splitWeatherYears(readings: readonly TemperatureReading[], options: { readonly sourceId: string; readonly timeZone: string }): WeatherYear[] {
  const zone = createZone(options.timeZone);
  const byYear = new Map<number, TemperatureReading[]>();
  for (const r of readings) {
    const y = zone.parts(r.time).year;
    const list = byYear.get(y) ?? [];
    list.push(r);
    byYear.set(y, list);
  }
  const out: WeatherYear[] = [];
  for (const [year, list] of [...byYear.entries()].sort((a, b) => a[0] - b[0])) {
    const hours = (zone.startOfDay(`${year + 1}-01-01`) - zone.startOfDay(`${year}-01-01`)) / HOUR_MS;
    const present = new Set(list.filter((r) => r.value !== null && Number.isFinite(r.value)).map((r) => Math.floor(r.time / HOUR_MS))).size;
    if (present >= MIN_WEATHER_YEAR_COVERAGE * hours) out.push({ id: `${options.sourceId}-${year}`, digest: digestOf(list), readings: list });
  }
  return out;
}

/**
 * The fitted CalTRACK daily baseline of an M&V result predicted on each weather year:
 * Σ over the year's local days of (μ + β_H·HDD + β_C·CDD) × hours/24 (CalTRACK 3.6.1), scaled by
 * days / predicted days when a day lacked temperature. Years with fewer than 90 % of their days
 * predicted are left out.
 *
 * @throws WattproofError `FINANCE_INPUT_INVALID` for a model other than `caltrack-daily` (the
 *   hourly and billing models are not rebuilt from a stored result here).
 */
export function counterfactualByWeatherYear(result: AnalysisResult, years: readonly WeatherYear[], options: { readonly timeZone?: string } = {}): WeatherYearCounterfactual[] {
  if (result.model.kind !== 'caltrack-daily') throw financeError('FINANCE_INPUT_INVALID', `weather-year counterfactuals need a caltrack-daily model, got ${result.model.kind}`, { details: { field: 'result.model.kind', value: result.model.kind } });
  const timeZone = options.timeZone ?? (typeof result.lineage.settings.timeZone === 'string' ? result.lineage.settings.timeZone : 'Asia/Shanghai');
  const fuel = result.lineage.settings.fuel === 'gas' ? 'gas' : 'electricity';
  const zone = createZone(timeZone);
  const c = result.model.coefficients as { intercept: number; heating: number; cooling: number };
  const model = { coefficients: c, heatingBalancePoint: result.model.heatingBalancePoint, coolingBalancePoint: result.model.coolingBalancePoint };
  const out: WeatherYearCounterfactual[] = [];
  for (const year of years) {
    if (year.readings.length === 0) continue;
    const series = hourlyTemperatures(year.readings);
    const firstDate = zone.date(series.start);
    const lastDate = zone.date(series.start + (series.values.length - 1) * HOUR_MS);
    const rows = dailyRows([], series, { timeZone, fuel, firstDate, lastDate });
    let sum = 0;
    let points = 0;
    for (const r of rows) {
      if (r.temperature === null) continue;
      sum += (perDayLoads(model, r.temperature).total * r.hours) / 24;
      points++;
    }
    const days = dayNumber(lastDate) - dayNumber(firstDate) + 1;
    if (points < MIN_WEATHER_YEAR_COVERAGE * days) continue;
    out.push({ id: year.id, digest: year.digest, counterfactualKwh: (sum * days) / points, reportingPoints: points, days });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pricing

export interface PricingInput {
  readonly policyId?: string;
  readonly insured?: string;
  /** Guaranteed savings of one reconciliation year, kWh. */
  readonly guaranteedSavingsKwh: number;
  readonly contractPriceCnyPerKwh: number;
  readonly deductibleCny: number;
  readonly limitCny: number;
  /** Expected savings as a fraction of the counterfactual (engineering estimate or a prior M&V result), e.g. 0.15. */
  readonly expectedSavingsFraction: number;
  /** Counterfactuals of the weather years resampled (whole years, equally likely). */
  readonly weatherYears: readonly WeatherYearCounterfactual[];
  /** The fitted baseline: Guideline 14 statistics and granularity (for the savings uncertainty). */
  readonly model: { readonly fit: Pick<FitStats, 'n' | 'p' | 'cvrmse' | 'autocorrelation'>; readonly granularity: Granularity };
  readonly simulations?: number;
  readonly seed?: number;
  /** Risk loading on the expected loss (0.3 = +30 %). */
  readonly loading?: number;
  /** Expenses added to the premium, CNY. */
  readonly expenseCny?: number;
}

export interface DistributionSummary {
  readonly mean: number;
  readonly standardDeviation: number;
  readonly p10: number;
  readonly p50: number;
  readonly p90: number;
  readonly min: number;
  readonly max: number;
}

export interface PricingResult {
  readonly policyId: string | null;
  readonly insured: string | null;
  readonly terms: { readonly guaranteedSavingsKwh: number; readonly contractPriceCnyPerKwh: number; readonly deductibleCny: number; readonly limitCny: number; readonly expectedSavingsFraction: number };
  /** Verified savings, kWh: P50 = median; P90 = exceeded with 90 % probability (the 10th percentile). */
  readonly savings: DistributionSummary & { readonly P50: number; readonly P90: number };
  readonly probabilityOfShortfall: number;
  readonly expectedShortfallKwh: number;
  readonly payout: DistributionSummary & { readonly expected: number; readonly probabilityOfPayout: number; readonly probabilityLimitReached: number; readonly p99: number };
  readonly expectedLossCny: number;
  readonly indicativePremiumCny: number;
  readonly loading: number;
  readonly expenseCny: number;
  readonly weatherYears: Array<{ id: string; digest: string; counterfactualKwh: number; expectedSavingsKwh: number; standardErrorKwh: number; draws: number }>;
  readonly simulation: { readonly draws: number; readonly seed: number; readonly degreesOfFreedom: number; readonly prng: string; readonly resampling: string };
  readonly lineage: FinanceLineage;
}

function summary(sorted: Float64Array): DistributionSummary {
  const n = sorted.length;
  let mean = 0;
  for (const v of sorted) mean += v;
  mean /= n;
  let ss = 0;
  for (const v of sorted) ss += (v - mean) ** 2;
  return { mean, standardDeviation: Math.sqrt(ss / Math.max(1, n - 1)), p10: sampleQuantile(sorted, 0.1), p50: sampleQuantile(sorted, 0.5), p90: sampleQuantile(sorted, 0.9), min: sorted[0]!, max: sorted[n - 1]! };
}

/**
 * The distribution of verified savings of a new policy year and the indicative price of the
 * guarantee. For each of `simulations` draws (seeded sfc32 PRNG): pick a weather year y uniformly
 * (bootstrap of whole years), draw T from Student's t with n − p degrees of freedom by inverse
 * CDF, and set
 *
 *   S = F · C_y + SE_y · T,   SE_y = U₆₈(C_y) / t₆₈  (Guideline 14, the fitted baseline, 12 months)
 *
 * then payout = min(limit, max(0, (G − S)⁺ × price − deductible)). Returns P50, P90 (10th
 * percentile), P(S < G), E[(G − S)⁺], E[payout] = expected loss, and premium = E[payout] ·
 * (1 + loading) + expense.
 *
 * @throws WattproofError `FINANCE_NO_WEATHER_YEARS`, `FINANCE_INPUT_INVALID`.
 */
export function priceGuarantee(input: PricingInput): PricingResult {
  if (input.weatherYears.length === 0) throw financeError('FINANCE_NO_WEATHER_YEARS', 'pricing needs the counterfactual of at least one weather year');
  const simulations = input.simulations ?? DEFAULT_SIMULATIONS;
  const seed = input.seed ?? DEFAULT_SEED;
  const loading = input.loading ?? DEFAULT_LOADING;
  const expenseCny = input.expenseCny ?? 0;
  const check = (field: string, v: number, ok: boolean) => {
    if (!Number.isFinite(v) || !ok) throw financeError('FINANCE_INPUT_INVALID', `${field} is out of range: ${v}`, { details: { field, value: String(v) } });
  };
  check('simulations', simulations, Number.isInteger(simulations) && simulations >= 100 && simulations <= 1_000_000);
  check('seed', seed, Number.isInteger(seed));
  check('loading', loading, loading >= 0);
  check('expenseCny', expenseCny, expenseCny >= 0);
  check('expectedSavingsFraction', input.expectedSavingsFraction, input.expectedSavingsFraction > -1 && input.expectedSavingsFraction < 1);
  settlementFigures({ guaranteedKwh: input.guaranteedSavingsKwh, verifiedKwh: 0, contractPriceCnyPerKwh: input.contractPriceCnyPerKwh, deductibleCny: input.deductibleCny, limitCny: input.limitCny });
  for (const y of input.weatherYears) check(`weatherYears[${y.id}].counterfactualKwh`, y.counterfactualKwh, y.counterfactualKwh > 0);

  const F = input.expectedSavingsFraction;
  const df = Math.max(1, input.model.fit.n - input.model.fit.p);
  const years = input.weatherYears.map((y) => {
    const u = savingsUncertainty({ fit: input.model.fit, granularity: input.model.granularity, reportingPoints: y.reportingPoints, reportingMonths: 12, counterfactual: y.counterfactualKwh, avoided: F * y.counterfactualKwh }, [0.68]).levels[0]!;
    return { id: y.id, digest: y.digest, counterfactualKwh: y.counterfactualKwh, expectedSavingsKwh: F * y.counterfactualKwh, standardErrorKwh: u.absolute / u.t, draws: 0 };
  });
  const uniform = seededUniform(seed);
  const savings = new Float64Array(simulations);
  const payouts = new Float64Array(simulations);
  let shortfalls = 0;
  let shortfallKwh = 0;
  let paid = 0;
  let capped = 0;
  for (let i = 0; i < simulations; i++) {
    const y = years[Math.min(years.length - 1, Math.floor(uniform() * years.length))]!;
    y.draws++;
    const s = y.expectedSavingsKwh + y.standardErrorKwh * tQuantile(uniform(), df);
    const f = settlementFigures({ guaranteedKwh: input.guaranteedSavingsKwh, verifiedKwh: s, contractPriceCnyPerKwh: input.contractPriceCnyPerKwh, deductibleCny: input.deductibleCny, limitCny: input.limitCny });
    savings[i] = s;
    payouts[i] = f.payoutCny;
    if (s < input.guaranteedSavingsKwh) shortfalls++;
    shortfallKwh += f.shortfallKwh;
    if (f.payoutCny > 0) paid++;
    if (f.limitReached) capped++;
  }
  savings.sort();
  payouts.sort();
  const s = summary(savings);
  const p = summary(payouts);
  const expectedLossCny = p.mean;
  const terms = { guaranteedSavingsKwh: input.guaranteedSavingsKwh, contractPriceCnyPerKwh: input.contractPriceCnyPerKwh, deductibleCny: input.deductibleCny, limitCny: input.limitCny, expectedSavingsFraction: F };
  const body = {
    policyId: input.policyId ?? null,
    insured: input.insured ?? null,
    terms,
    savings: { ...s, P50: s.p50, P90: s.p10 },
    probabilityOfShortfall: shortfalls / simulations,
    expectedShortfallKwh: shortfallKwh / simulations,
    payout: { ...p, expected: p.mean, probabilityOfPayout: paid / simulations, probabilityLimitReached: capped / simulations, p99: sampleQuantile(payouts, 0.99) },
    expectedLossCny,
    indicativePremiumCny: expectedLossCny * (1 + loading) + expenseCny,
    loading,
    expenseCny,
    weatherYears: years,
    simulation: { draws: simulations, seed, degreesOfFreedom: df, prng: 'sfc32 seeded by splitmix32', resampling: 'whole weather years, uniform with replacement; Student t by inverse CDF' },
  };
  return {
    ...body,
    lineage: financeLineage(PRICING_METHOD, PRICING_METHOD_VERSION, input, { simulations, seed, loading, expenseCny, degreesOfFreedom: df }, []),
  };
}

/** Guarantee terms of one policy period, for {@link priceGuarantee}. */
export function guaranteeTerms(policy: Policy, period: string | number): Pick<PricingInput, 'policyId' | 'insured' | 'guaranteedSavingsKwh' | 'contractPriceCnyPerKwh' | 'deductibleCny' | 'limitCny'> {
  const p = findPeriod(policy, period);
  return { policyId: policy.id, insured: policy.insured, guaranteedSavingsKwh: p.guaranteedSavingsKwh, contractPriceCnyPerKwh: policy.contractPriceCnyPerKwh, deductibleCny: policy.deductibleCny, limitCny: policy.limitCny };
}

// ---------------------------------------------------------------------------------------------
// Portfolio

export interface PortfolioPricing {
  readonly policies: number;
  readonly expectedLossCny: number;
  readonly indicativePremiumCny: number;
  readonly limitCny: number;
  /** Aggregate loss assuming independent policies, normal approximation: mean + z₀.₉ · √(Σ Var). */
  readonly aggregateLoss: { readonly mean: number; readonly standardDeviation: number; readonly p90: number };
  /** Aggregate verified savings, same assumptions: P90 = mean − z₀.₉ · √(Σ Var) (exceeded with 90 %). */
  readonly aggregateSavings: { readonly mean: number; readonly standardDeviation: number; readonly P90: number };
  /** Per insured: expected loss and limit, and their shares of the portfolio's. */
  readonly concentration: Array<{ insured: string; policies: string[]; expectedLossCny: number; shareOfExpectedLoss: number; limitCny: number; shareOfLimit: number }>;
  /** Herfindahl–Hirschman index of the expected-loss shares per insured (1 = one insured). */
  readonly herfindahlExpectedLoss: number;
  readonly lineage: FinanceLineage;
}

/** Aggregates priced policies (independence assumed; normal approximation for the P90s). */
export function aggregatePortfolio(pricings: readonly PricingResult[]): PortfolioPricing {
  const z = normalQuantile(0.9);
  let el = 0;
  let varL = 0;
  let premium = 0;
  let limit = 0;
  let ms = 0;
  let varS = 0;
  const byInsured = new Map<string, { policies: string[]; el: number; limit: number }>();
  pricings.forEach((p, i) => {
    el += p.expectedLossCny;
    varL += p.payout.standardDeviation ** 2;
    premium += p.indicativePremiumCny;
    limit += p.terms.limitCny;
    ms += p.savings.mean;
    varS += p.savings.standardDeviation ** 2;
    const key = p.insured ?? '(unknown)';
    const g = byInsured.get(key) ?? { policies: [], el: 0, limit: 0 };
    g.policies.push(p.policyId ?? `#${i}`);
    g.el += p.expectedLossCny;
    g.limit += p.terms.limitCny;
    byInsured.set(key, g);
  });
  const concentration = [...byInsured.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([insured, g]) => ({ insured, policies: [...g.policies].sort(), expectedLossCny: g.el, shareOfExpectedLoss: el > 0 ? g.el / el : 0, limitCny: g.limit, shareOfLimit: limit > 0 ? g.limit / limit : 0 }));
  const body = {
    policies: pricings.length,
    expectedLossCny: el,
    indicativePremiumCny: premium,
    limitCny: limit,
    aggregateLoss: { mean: el, standardDeviation: Math.sqrt(varL), p90: el + z * Math.sqrt(varL) },
    aggregateSavings: { mean: ms, standardDeviation: Math.sqrt(varS), P90: ms - z * Math.sqrt(varS) },
    concentration,
    herfindahlExpectedLoss: concentration.reduce((a, c) => a + c.shareOfExpectedLoss ** 2, 0),
  };
  return { ...body, lineage: financeLineage('wattproof.insurance.portfolio', PRICING_METHOD_VERSION, pricings.map((p) => p.lineage.digest), {}, []) };
}
