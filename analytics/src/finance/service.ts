/**
 * The finance service: the covenant, insurance and PCAF math of this folder wired to the stored
 * data (docs/finance-api.md). It reads the finance registry (loans, policies, profiles, balances
 * as of an instant), the M&V results the jobs stored (`mv.result`), and the readings; and it
 * stores every covenant test and settlement as an append-only registry record with its lineage.
 *
 * **As of.** A run with an `asOfMs` reads only what the registry had recorded by then: loan and
 * policy versions, building profiles, `mv.result` records, and the readings snapshots
 * (`finance.kpi_inputs`) this service records before deriving EUI, carbon intensity or data
 * coverage from readings. Readings themselves are not bitemporal (a correction overwrites), so a
 * KPI is never computed from the live store inside an as-of run: the snapshot recorded with the
 * first (live) run is read back instead. A live run (no `asOfMs`) first records what it needs
 * (snapshots; with `refresh`, M&V runs over the exact test window or policy period), then takes
 * `asOfMs = clock()`. Re-running with that `asOfMs` gives the same figures byte for byte, whatever
 * was corrected or added since.
 */
import {
  buildingKey,
  meterKey,
  RECORD_KEY_MAX_LENGTH,
  silentLogger,
  type BuildingProfile,
  type BuildingRef,
  type CovenantSpec,
  type FinanceStore,
  type FinanceVersion,
  type Loan,
  type LoanBalance,
  type Logger,
  type MeterRef,
  type Policy,
  type ReadingStore,
  type RegistryStore,
  type StoredRecord,
} from '@wattproof/core';
import { z } from 'zod';
import type { AnalysisResult } from '../analyze.js';
import { selectEmissionFactor } from '../carbon.js';
import { RECORD_KINDS, type MvJobs, type ResultRecordBody } from '../jobs.js';
import { canonicalJson, digestOf } from '../lineage.js';
import { createZone } from '../prep/local-time.js';
import type { TemperatureReading } from '../prep/temperature.js';
import { referenceData } from '../reference.js';
import { chongqingTypicalYear } from '../typical-year.js';
import type { Finding } from '../types.js';
import { evaluateCovenant, testSchedule, testWindow, type CovenantEvaluation, type EvidenceSource, type KpiObservation } from './covenants.js';
import { addDays, addMonths, assertDate, dayNumber } from './dates.js';
import { financeError } from './errors.js';
import {
  aggregatePortfolio,
  counterfactualByWeatherYear,
  DEFAULT_LOADING,
  DEFAULT_SEED,
  DEFAULT_SIMULATIONS,
  priceGuarantee,
  settlePeriod,
  splitWeatherYears,
  verifiedSavingsFromAnalyses,
  type ClaimFile,
  type PortfolioPricing,
  type PricingResult,
  type WeatherYearCounterfactual,
} from './insurance.js';
import { labelObservation, normalizedSavingsObservation, savingsFractionObservations } from './kpi-observations.js';
import { financeLineage, type FinanceLineage } from './lineage.js';
import { financedEmissions, jrt0227Rows, pcafTrend, type BuildingEnergy, type Jrt0227Row, type PcafReport, type PcafTrendRow } from './pcaf.js';

/** Method name and version of the service's own records (what it read and how it chose it). */
export const FINANCE_SERVICE_METHOD = 'wattproof.finance.service';
export const FINANCE_SERVICE_METHOD_VERSION = '1.0.0';

/** Kinds of the append-only registry records the finance service writes. */
export const FINANCE_RECORD_KINDS = {
  covenantTest: 'finance.covenant_test',
  settlement: 'finance.settlement',
  /** Daily energy and coverage of a meter over a date range, as read from the reading store when first needed. */
  kpiInputs: 'finance.kpi_inputs',
} as const;

/** The registry the service needs: the registry port with append-only records and the finance registry. */
export type FinanceRegistry = RegistryStore & FinanceStore;

/** True when the registry adapter also keeps the finance registry (every adapter of `@wattproof/gateway/registry` does). */
export function isFinanceRegistry(registry: RegistryStore): registry is FinanceRegistry {
  const r = registry as Partial<FinanceRegistry>;
  return typeof r.getLoan === 'function' && typeof r.listPolicies === 'function' && typeof r.getBuildingProfile === 'function';
}

export interface FinanceServiceConfig {
  /** Time zone of the registry's local dates (loans, policies, test dates). */
  readonly timeZone: string;
  /** Grid region and basis of the emission factor for carbon intensity and PCAF. */
  readonly region: string;
  readonly basis: 'location' | 'market';
  /** At most this many `mv.result` records per meter (the newest recorded by the as-of time) feed a KPI or a settlement. */
  readonly maxResultsPerMeter: number;
  /** Monte Carlo draws of `pricePolicy` when the request names none. */
  readonly pricingSimulations: number;
  /** Draws per policy when the insurer portfolio prices its open periods (cheaper than a quote). */
  readonly portfolioPricingSimulations: number;
  /** Years of weather-station history, before the current one, searched for complete weather years. */
  readonly weatherHistoryYears: number;
  /** Data coverage below which a tested KPI gets a warning (0..1). */
  readonly minCoverage: number;
  /** Years in the lender portfolio's carbon-intensity trend (the reporting year and the ones before). */
  readonly trendYears: number;
}

export const DEFAULT_FINANCE_SERVICE_CONFIG: FinanceServiceConfig = Object.freeze({
  timeZone: 'Asia/Shanghai',
  region: 'CN',
  basis: 'location',
  maxResultsPerMeter: 50,
  pricingSimulations: DEFAULT_SIMULATIONS,
  portfolioPricingSimulations: 5_000,
  weatherHistoryYears: 10,
  minCoverage: 0.9,
  trendYears: 3,
});

export interface FinanceServiceDeps {
  readonly readings: ReadingStore;
  readonly registry: FinanceRegistry;
  /** M&V jobs: needed for `refresh` (runs the meter's M&V definition over the test window / policy period). */
  readonly jobs?: MvJobs;
  readonly clock?: () => number;
  readonly logger?: Logger;
}

/** A registry record the figure was derived from. */
export interface UsedRecord {
  readonly kind: string;
  readonly id: string;
  readonly digest: string;
  readonly recordedAtMs: number;
}

/** The body of a `finance.covenant_test` record. */
export interface CovenantTestBody {
  readonly loanId: string;
  readonly loanVersion: number;
  readonly lender: string;
  readonly borrower: string;
  readonly covenantId: string;
  readonly testDate: string;
  readonly asOfMs: number;
  readonly evaluation: CovenantEvaluation;
  /**
   * Everything the observations came from, the observations as evaluated (`kpiObservations`, so
   * the evaluation can be re-run from the record alone), their count and digest.
   */
  readonly evidence: { readonly records: UsedRecord[]; readonly observations: number; readonly observationsDigest: string; readonly kpiObservations: KpiObservation[]; readonly notes: Finding[] };
  readonly lineage: FinanceLineage;
  /** How the run went (not part of the figures): when it ran and whether it recorded new evidence first. */
  readonly run: { readonly ranAtMs: number; readonly live: boolean; readonly refreshed: string[]; readonly notes: Finding[] };
}

/** The body of a `finance.settlement` record. */
export interface SettlementBody {
  readonly policyId: string;
  readonly policyVersion: number;
  readonly insurer: string;
  readonly insured: string;
  readonly periodId: string;
  readonly asOfMs: number;
  readonly claim: ClaimFile;
  readonly evidence: { readonly records: UsedRecord[] };
  readonly lineage: FinanceLineage;
  readonly run: { readonly ranAtMs: number; readonly live: boolean; readonly refreshed: string[] };
}

export type CovenantTestRecord = StoredRecord & { readonly body: CovenantTestBody };
export type SettlementRecord = StoredRecord & { readonly body: SettlementBody };

export interface CovenantTestOptions {
  /** Evaluate this test date (covenants for which it is not a test date are skipped); default: each covenant's latest test date on or before the as-of date (its first one if none is reached). */
  readonly testDate?: string;
  /** What the registry knew then (epoch ms); default now (a live run). */
  readonly asOfMs?: number;
  /** Only this covenant. */
  readonly covenantId?: string;
  /** Live runs only: run the meter's M&V definition over each savings test window first. */
  readonly refresh?: boolean;
}

export interface CovenantTestRun {
  readonly loanId: string;
  readonly asOfMs: number;
  readonly tests: Array<{ readonly record: CovenantTestRecord }>;
  readonly skipped: Array<{ readonly covenantId: string; readonly reason: string }>;
}

/** A quote request for a prospective (or renewed) energy-savings guarantee on one meter. */
export const pricingRequestSchema = z.strictObject({
  site: z.string().min(1).max(64),
  building: z.string().min(1).max(64),
  meter: z.string().min(1).max(64),
  guaranteedSavingsKwh: z.number().finite().min(0).max(1e15).describe('Guaranteed savings of one reconciliation year, kWh'),
  contractPriceCnyPerKwh: z.number().finite().min(0).max(1000).describe('Price of a kWh of shortfall fixed in the policy, CNY/kWh'),
  deductibleCny: z.number().finite().min(0).max(1e15).describe('Deductible per year, CNY'),
  limitCny: z.number().finite().min(0).max(1e15).describe('Limit of indemnity per year, CNY'),
  loading: z.number().finite().min(0).max(10).default(DEFAULT_LOADING).describe('Risk loading on the expected loss (0.3 = +30 %)'),
  expenseCny: z.number().finite().min(0).max(1e15).default(0).describe('Expenses added to the premium, CNY'),
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(DEFAULT_SEED).describe('Seed of the Monte Carlo PRNG (same seed, same figures)'),
  simulations: z.number().int().min(100).max(1_000_000).optional().describe('Monte Carlo draws (default 20,000)'),
  expectedSavingsFraction: z.number().gt(-1).lt(1).optional().describe("Expected savings fraction; default: the latest M&V result's normalized fraction, else its metered fraction"),
  weatherYears: z
    .enum(['auto', 'station', 'typical', 'both'])
    .default('auto')
    .describe("Weather years resampled: the complete local calendar years of the analysis' weather-station meter (`station`), the Chongqing typical year (`typical`), both, or `auto` = station years when there is at least one, else the typical year"),
});
export type PricingRequest = z.input<typeof pricingRequestSchema>;

export interface PricingQuote {
  readonly pricing: PricingResult;
  /** What the quote rests on: the M&V result whose baseline was used, and the weather years. */
  readonly basis: {
    readonly meter: MeterRef;
    readonly resultId: string;
    readonly resultDigest: string;
    readonly resultRecordedAtMs: number;
    readonly expectedSavingsFraction: number;
    readonly expectedSavingsFractionSource: 'request' | 'normalized' | 'metered';
    readonly weatherYearsSource: 'station' | 'typical' | 'both';
    readonly temperatureMeter: MeterRef | null;
  };
}

export interface InsurerPeriodRow {
  readonly policyId: string;
  readonly periodId: string;
  readonly from: string;
  readonly to: string;
  readonly guaranteedSavingsKwh: number;
  /** settled: a settlement is stored; due: ended, not settled; open: running on the as-of date; future: not begun. */
  readonly state: 'settled' | 'due' | 'open' | 'future';
  readonly settlementId: string | null;
  readonly verifiedKwh: number | null;
  readonly shortfallKwh: number | null;
  readonly payoutCny: number | null;
  readonly settleable: boolean | null;
}

export interface InsurerPortfolio {
  readonly insurer: { readonly id: string; readonly name: string };
  readonly asOfMs: number;
  readonly policies: Array<{ readonly id: string; readonly version: number; readonly insured: string; readonly buildings: BuildingRef[]; readonly premiumCny: number | null; readonly limitCny: number; readonly periods: InsurerPeriodRow[]; readonly pricedPeriod: string | null }>;
  readonly totals: {
    readonly policies: number;
    readonly premiumCny: number;
    /** Σ limits of the periods not yet settled. */
    readonly openLimitCny: number;
    readonly settledPeriods: number;
    readonly paidCny: number;
    readonly guaranteedKwhSettled: number;
    readonly verifiedKwhSettled: number;
    /** Σ paid / Σ premium (null without premiums). */
    readonly lossRatio: number | null;
  };
  /** Pricing of each policy's open or next period (independent policies), null when none could be priced. */
  readonly pricing: PortfolioPricing | null;
  readonly warnings: Finding[];
}

export interface LenderPortfolio {
  readonly lender: { readonly id: string; readonly name: string };
  readonly year: number;
  readonly asOfMs: number;
  readonly report: PcafReport;
  readonly trend: PcafTrendRow[];
  readonly energy: BuildingEnergy[];
  readonly evidence: { readonly records: UsedRecord[] };
  readonly warnings: Finding[];
}

/** The body of a `finance.kpi_inputs` record: a meter's daily energy and coverage over local dates [from, to). */
export interface KpiInputsSnapshot {
  readonly meter: MeterRef;
  readonly quantity: 'electricity';
  readonly kind: 'interval';
  readonly from: string;
  readonly to: string;
  readonly timeZone: string;
  /** [local day start epoch ms, Σ kWh, Σ covered seconds]. */
  readonly days: Array<[number, number, number]>;
  readonly digest: string;
}
type SnapshotBody = KpiInputsSnapshot;
type SnapshotRecord = StoredRecord & { readonly body: SnapshotBody };
type ResultRecord = StoredRecord & { readonly body: ResultRecordBody };

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const refOf = (m: MeterRef): MeterRef => ({ site: m.site, building: m.building, meter: m.meter });

/** The M&V definition without its reporting period: what "the same baseline model" means when a refresh moves the reporting window. */
function baselineIdentity(def: unknown): string {
  const { reporting: _r, ...rest } = (def ?? {}) as Record<string, unknown>;
  return canonicalJson(rest);
}

/** Key of a readings snapshot: `site/building/meter|from|to`, or its digest when longer than a record key may be. */
function snapshotKey(meter: MeterRef, from: string, to: string): string {
  const key = `${meterKey(meter)}|${from}|${to}`;
  return key.length <= RECORD_KEY_MAX_LENGTH ? key : `sha256:${digestOf(key)}`;
}

/** Energy, coverage and days of a snapshot over [start, end). */
export function windowEnergy(snapshot: KpiInputsSnapshot, start: string, end: string, zone: ReturnType<typeof createZone>): { kwh: number; coverage: number; days: number; coveredS: number } {
  const from = zone.startOfDay(start);
  const to = zone.startOfDay(end);
  let kwh = 0;
  let coveredS = 0;
  for (const [t, sum, covered] of snapshot.days) {
    if (t >= from && t < to) {
      kwh += sum;
      coveredS += covered;
    }
  }
  const expectedS = (to - from) / 1000;
  return { kwh, coveredS, coverage: expectedS > 0 ? Math.min(1, coveredS / expectedS) : 0, days: dayNumber(end) - dayNumber(start) };
}

/** Evidence source of a building profile version: `building-profile:site/building@effectiveFrom#vN` and the digest of its value. */
export function buildingProfileSource(p: FinanceVersion<BuildingProfile>): EvidenceSource {
  return { resultId: `building-profile:${buildingKey(p.value)}@${p.value.effectiveFrom}#v${p.version}`, digest: digestOf(p.value) };
}

/**
 * Readings-derived KPI observations (EUI, carbon intensity, data coverage) of a covenant test from
 * a readings snapshot: the trailing `measurementWindowMonths` windows ending at the test date and
 * the 11 month ends before. `profileOn(date)` is the building profile in force on a window's last
 * day (floor area). Pure: the service and report-pack verification run the same derivation.
 */
export function snapshotObservations(
  spec: CovenantSpec,
  testDate: string,
  meter: MeterRef,
  snap: { readonly id: string; readonly recordedAtMs: number; readonly body: KpiInputsSnapshot },
  profileOn: (date: string) => FinanceVersion<BuildingProfile> | undefined,
  cfg: { readonly timeZone: string; readonly region: string; readonly basis: 'location' | 'market' },
): { observations: KpiObservation[]; profiles: FinanceVersion<BuildingProfile>[]; notes: Finding[] } {
  const zone = createZone(cfg.timeZone);
  const W = spec.schedule.measurementWindowMonths;
  const rangeFrom = addMonths(testDate, -(W + 11));
  const factors = referenceData().factors;
  const out: KpiObservation[] = [];
  const profiles: FinanceVersion<BuildingProfile>[] = [];
  const notes: Finding[] = [];
  for (let k = 0; k < 12; k++) {
    const end = addMonths(testDate, -k);
    const start = addMonths(end, -W);
    if (start < rangeFrom) break;
    const e = windowEnergy(snap.body, start, end, zone);
    if (e.coveredS === 0) continue;
    const base = {
      scope: { site: spec.scope.site, building: spec.scope.building, meter: meter.meter },
      window: { start, end },
      dataCoverage: e.coverage,
      status: 'measured' as const,
      warnings: [] as Finding[],
      disqualifications: [] as Finding[],
      standardError: 0,
    };
    const source: EvidenceSource = { resultId: snap.id, digest: snap.body.digest };
    if (spec.kpi === 'data_coverage_fraction') {
      out.push({ ...base, kpi: 'data_coverage_fraction', value: e.coverage, sources: [source], recordedAtMs: snap.recordedAtMs, referenceData: [], detail: { coveredS: e.coveredS, windowDays: e.days } });
      continue;
    }
    const last = addDays(end, -1);
    const profile = profileOn(last);
    if (!profile) {
      if (k === 0) notes.push({ code: 'finance.kpi.no_building_profile', message: `No profile of ${buildingKey(spec.scope)} (floor area) is in force on ${last} as of the as-of time.`, data: { date: last } });
      continue;
    }
    profiles.push(profile);
    const eui = ((e.kwh / e.coverage) / profile.value.floorAreaM2) * (365 / e.days);
    const common = { ...base, sources: [source, buildingProfileSource(profile)], recordedAtMs: Math.max(snap.recordedAtMs, profile.recordedAtMs) };
    const detail = { energyKwh: e.kwh, coverage: e.coverage, windowDays: e.days, floorAreaM2: profile.value.floorAreaM2 };
    if (spec.kpi === 'eui_kwh_per_m2') {
      out.push({ ...common, kpi: 'eui_kwh_per_m2', value: eui, referenceData: [], detail });
      continue;
    }
    const f = selectEmissionFactor(factors.data, { region: cfg.region, basis: cfg.basis, asOf: last });
    if (!f) {
      out.push({ ...common, kpi: 'carbon_intensity_kgco2e_per_m2', value: 0, referenceData: [factors.version], disqualifications: [{ code: 'finance.kpi.no_emission_factor', message: `No ${cfg.basis}-based grid factor for ${cfg.region} is in force on ${last}.`, data: { region: cfg.region, basis: cfg.basis, asOf: last } }], detail: { ...detail, eui } });
    } else {
      out.push({ ...common, kpi: 'carbon_intensity_kgco2e_per_m2', value: eui * f.value, referenceData: [factors.version], detail: { ...detail, eui, factorId: f.id, factorKgPerKwh: f.value } });
    }
  }
  return { observations: out, profiles, notes };
}

/**
 * The claim file of a policy period from the M&V results chosen for its meters: verified savings
 * (`verifiedSavingsFromAnalyses`), then `settlePeriod`; a result whose reporting period is not
 * exactly the policy period disqualifies the claim (`finance.claim.no_result_for_period`). Pure:
 * the service and report-pack verification run the same derivation.
 */
export function claimFromResults(policy: Policy, periodId: string, chosen: ReadonlyArray<{ readonly resultId: string; readonly result: AnalysisResult; readonly exact: boolean }>): ClaimFile {
  const period = policy.periods.find((p) => p.id === periodId);
  if (!period) throw financeError('FINANCE_POLICY_PERIOD_UNKNOWN', `policy ${policy.id} has no period ${periodId}`, { details: { policyId: policy.id, period: periodId, periods: policy.periods.map((p) => p.id) } });
  const verified = verifiedSavingsFromAnalyses(chosen.map((c) => ({ resultId: c.resultId, result: c.result })));
  const inexact = chosen.filter((c) => !c.exact).map((c) => c.resultId);
  return settlePeriod(
    policy,
    periodId,
    inexact.length === 0
      ? verified
      : { ...verified, disqualifications: [...verified.disqualifications, { code: 'finance.claim.no_result_for_period', message: `No M&V result covers exactly [${period.from}, ${period.to}); the newest result was used and the claim cannot settle on it (settle with refresh).`, data: { results: inexact } }] },
  );
}

/** CSV of JR/T 0227 rows (RFC 4180; numbers unformatted, lists joined with `;`). */
export function jrt0227Csv(rows: readonly Jrt0227Row[]): string {
  const columns = [
    'mapping',
    'reportingYear',
    'institution',
    'assetClass',
    'loanKind',
    'loanCount',
    'outstandingCny',
    'outstandingTenThousandCny',
    'financedEmissionsTco2e',
    'carbonIntensityTco2ePerMillionCny',
    'physicalIntensityKgco2ePerM2',
    'weightedDataQualityScore',
    'energySavedKwh',
    'energySavedTce',
    'co2AvoidedTco2e',
    'emissionFactorIds',
    'conversionFactorId',
    'method',
  ] as const;
  const cell = (v: unknown): string => {
    const s = v === null || v === undefined ? '' : Array.isArray(v) ? v.join(';') : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return `${[columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\r\n')}\r\n`;
}

/**
 * Creates the finance service on the stores. It holds no state of its own: everything it decides
 * on is in the registry, and everything it computes is stored there (covenant tests, settlements).
 */
export function createFinanceService(deps: FinanceServiceDeps, config: Partial<FinanceServiceConfig> = {}) {
  const cfg: FinanceServiceConfig = Object.freeze({ ...DEFAULT_FINANCE_SERVICE_CONFIG, ...config });
  const reg = deps.registry;
  const clock = deps.clock ?? Date.now;
  const logger = deps.logger ?? silentLogger;
  const zone = createZone(cfg.timeZone);

  function checkAsOf(asOfMs: number | undefined): void {
    if (asOfMs !== undefined && !(Number.isSafeInteger(asOfMs) && asOfMs >= 0)) {
      throw financeError('FINANCE_INPUT_INVALID', 'asOfMs must be an epoch time in ms (a safe integer ≥ 0)', { details: { field: 'asOfMs', value: String(asOfMs) } });
    }
  }

  /** Records of one kind and key (or key prefix) recorded by `asOfMs`, newest first, at most `max`. */
  async function recordsAsOf(q: { kind: string; key?: string; keyPrefix?: string }, asOfMs: number, max: number): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await reg.listRecords({ ...q, limit: 1000, ...(before ? { before } : {}) });
      for (const r of page) {
        if (r.recordedAtMs > asOfMs) continue;
        out.push(r);
        if (out.length >= max) return out;
      }
      if (page.length < 1000) return out;
      before = page[page.length - 1]!.id;
    }
  }

  async function requireLoan(id: string, asOfMs?: number): Promise<FinanceVersion<Loan>> {
    const loan = await reg.getLoan(id, asOfMs === undefined ? {} : { asOfMs });
    if (!loan) throw financeError('FINANCE_LOAN_UNKNOWN', `no loan ${id}${asOfMs === undefined ? '' : ` as of ${new Date(asOfMs).toISOString()}`}`, { details: { loanId: id, ...(asOfMs === undefined ? {} : { asOfMs }) } });
    return loan;
  }

  async function requirePolicy(id: string, asOfMs?: number): Promise<FinanceVersion<Policy>> {
    const policy = await reg.getPolicy(id, asOfMs === undefined ? {} : { asOfMs });
    if (!policy) throw financeError('FINANCE_POLICY_UNKNOWN', `no policy ${id}${asOfMs === undefined ? '' : ` as of ${new Date(asOfMs).toISOString()}`}`, { details: { policyId: id, ...(asOfMs === undefined ? {} : { asOfMs }) } });
    return policy;
  }

  async function requireParty(id: string, role: 'bank' | 'insurer', asOfMs?: number) {
    const party = await reg.getParty(id, asOfMs === undefined ? {} : { asOfMs });
    if (!party || !party.value.roles.includes(role)) {
      throw financeError('FINANCE_PARTY_UNKNOWN', party ? `party ${id} is not a ${role}` : `no party ${id}`, { details: { party: id, role } });
    }
    return party;
  }

  /**
   * The building's main electricity meter: a meter without parent and end use that has an
   * electricity interval series, preferring an id containing `main`, then the first by id.
   */
  async function mainMeter(b: BuildingRef): Promise<MeterRef | undefined> {
    const [meters, series] = await Promise.all([reg.listMeters({ site: b.site, building: b.building }), deps.readings.listSeries({ site: b.site, building: b.building })]);
    const withSeries = new Set(series.filter((s) => s.quantity === 'electricity' && s.kind === 'interval').map((s) => s.meter));
    const candidates = meters.filter((m) => !m.parent && !m.endUse && withSeries.has(m.meter)).sort((x, y) => cmp(x.meter, y.meter));
    const chosen = candidates.find((m) => /main/i.test(m.meter)) ?? candidates[0];
    return chosen ? refOf(chosen) : undefined;
  }

  /** Records the meter's daily energy over [from, to) from the reading store, unless the newest snapshot has the same content. */
  async function recordSnapshot(meter: MeterRef, from: string, to: string): Promise<SnapshotRecord> {
    const key = snapshotKey(meter, from, to);
    const rows = await deps.readings.aggregate({ ...refOf(meter), quantity: 'electricity', kind: 'interval', from: zone.startOfDay(from), to: zone.startOfDay(to), bucket: '1d', tz: cfg.timeZone });
    const days = rows.map((r) => [r.start, r.sum, r.coveredS ?? 0] as [number, number, number]);
    const content = { meter: refOf(meter), quantity: 'electricity' as const, kind: 'interval' as const, from, to, timeZone: cfg.timeZone, days };
    const digest = digestOf(content);
    const [latest] = await reg.listRecords({ kind: FINANCE_RECORD_KINDS.kpiInputs, key, limit: 1 });
    if (latest && (latest.body as SnapshotBody).digest === digest) return latest as SnapshotRecord;
    const [stored] = await reg.appendRecords([{ kind: FINANCE_RECORD_KINDS.kpiInputs, key, recordedAtMs: clock(), body: { ...content, digest } }]);
    return stored as SnapshotRecord;
  }

  async function snapshotAsOf(meter: MeterRef, from: string, to: string, asOfMs: number): Promise<SnapshotRecord | undefined> {
    const [r] = await recordsAsOf({ kind: FINANCE_RECORD_KINDS.kpiInputs, key: snapshotKey(meter, from, to) }, asOfMs, 1);
    return r as SnapshotRecord | undefined;
  }

  /** The M&V definition a covenant or policy names (an `mv.definition` record id), else the meter's newest one. */
  async function definitionFor(meter: MeterRef, definitionId: string | undefined, asOfMs: number): Promise<StoredRecord | undefined> {
    if (definitionId !== undefined) {
      const r = await reg.getRecord(definitionId).catch(() => undefined);
      return r && r.kind === RECORD_KINDS.definition && r.recordedAtMs <= asOfMs ? r : undefined;
    }
    const [r] = await recordsAsOf({ kind: RECORD_KINDS.definition, key: meterKey(meter) }, asOfMs, 1);
    return r;
  }

  /** Runs the meter's M&V definition over [start, end) now (a refresh); returns what happened. */
  async function refreshMv(meter: MeterRef, definitionId: string | undefined, window: { start: string; end: string }, notes: Finding[]): Promise<string | undefined> {
    if (!deps.jobs) throw financeError('FINANCE_REFRESH_UNAVAILABLE', 'refresh needs the M&V jobs, and this service runs without them');
    const def = await definitionFor(meter, definitionId, clock());
    if (!def) {
      notes.push({ code: 'finance.refresh.no_definition', message: `No M&V definition of ${meterKey(meter)} is stored${definitionId ? ` under id ${definitionId}` : ''}; nothing was re-run.`, data: { meter: meterKey(meter) } });
      return undefined;
    }
    try {
      const rec = await deps.jobs.run({ ...(def.body as Record<string, unknown>), reporting: { start: window.start, end: window.end } });
      return rec.id;
    } catch (err) {
      logger.warn({ err, meter: meterKey(meter), window }, 'M&V refresh failed');
      notes.push({ code: 'finance.refresh.failed', message: `Re-running M&V of ${meterKey(meter)} over [${window.start}, ${window.end}) failed: ${(err as Error).message}`, data: { meter: meterKey(meter), window } });
      return undefined;
    }
  }

  /** `mv.result` records of a meter recorded by `asOfMs` (newest first), of the named definition's baseline when one is named. */
  async function mvResults(meter: MeterRef, definitionId: string | undefined, asOfMs: number, notes: Finding[]): Promise<ResultRecord[]> {
    let identity: string | undefined;
    if (definitionId !== undefined) {
      const def = await definitionFor(meter, definitionId, asOfMs);
      if (!def) {
        notes.push({ code: 'finance.kpi.mv_definition_unknown', message: `M&V definition ${definitionId} was not recorded by the as-of time; its results cannot be selected.`, data: { mvDefinitionId: definitionId } });
        return [];
      }
      identity = baselineIdentity(def.body);
    }
    const records = (await recordsAsOf({ kind: RECORD_KINDS.result, key: meterKey(meter) }, asOfMs, cfg.maxResultsPerMeter)) as ResultRecord[];
    return identity === undefined ? records : records.filter((r) => baselineIdentity(r.body.definition) === identity);
  }

  const profileCache = new Map<string, Promise<FinanceVersion<BuildingProfile> | undefined>>();
  function profileOn(b: BuildingRef, date: string, asOfMs: number): Promise<FinanceVersion<BuildingProfile> | undefined> {
    const k = `${buildingKey(b)}|${date}|${asOfMs}`;
    let p = profileCache.get(k);
    if (!p) {
      p = reg.getBuildingProfile({ site: b.site, building: b.building }, { effectiveOn: date, asOfMs });
      profileCache.set(k, p);
      if (profileCache.size > 5000) profileCache.clear();
    }
    return p;
  }

  const profileSource = buildingProfileSource;

  /** Readings-derived KPI observations (EUI, carbon intensity, coverage) for the trailing windows ending at the test date and the 11 month ends before. */
  async function readingsObservations(spec: CovenantSpec, testDate: string, meter: MeterRef, asOfMs: number, used: UsedRecord[], notes: Finding[]): Promise<KpiObservation[]> {
    const W = spec.schedule.measurementWindowMonths;
    const range = { from: addMonths(testDate, -(W + 11)), to: testDate };
    const snap = await snapshotAsOf(meter, range.from, range.to, asOfMs);
    if (!snap) {
      notes.push({ code: 'finance.kpi.no_readings_snapshot', message: `No readings snapshot of ${meterKey(meter)} over [${range.from}, ${range.to}) was recorded by the as-of time (a live run records one).`, data: { meter: meterKey(meter), ...range } });
      return [];
    }
    used.push({ kind: snap.kind, id: snap.id, digest: snap.body.digest, recordedAtMs: snap.recordedAtMs });
    // The profiles in force on each window's last day, read first; the derivation itself is pure (snapshotObservations).
    const profiles = new Map<string, FinanceVersion<BuildingProfile> | undefined>();
    if (spec.kpi !== 'data_coverage_fraction') {
      for (let k = 0; k < 12; k++) {
        const last = addDays(addMonths(testDate, -k), -1);
        profiles.set(last, await profileOn(spec.scope, last, asOfMs));
      }
    }
    const derived = snapshotObservations(spec, testDate, meter, snap, (date) => profiles.get(date), cfg);
    for (const p of derived.profiles) used.push({ kind: 'finance.building_profile', id: profileSource(p).resultId, digest: profileSource(p).digest, recordedAtMs: p.recordedAtMs });
    notes.push(...derived.notes);
    return derived.observations;
  }

  /** Savings observations from the meter's `mv.result` records recorded by `asOfMs`. */
  async function savingsObservations(spec: CovenantSpec, meter: MeterRef, asOfMs: number, used: UsedRecord[], notes: Finding[]): Promise<KpiObservation[]> {
    const results = await mvResults(meter, spec.kpiOptions?.mvDefinitionId, asOfMs, notes);
    if (results.length === 0) notes.push({ code: 'finance.kpi.no_mv_result', message: `No M&V result of ${meterKey(meter)} was recorded by the as-of time.`, data: { meter: meterKey(meter) } });
    const out: KpiObservation[] = [];
    for (const r of results) {
      used.push({ kind: r.kind, id: r.id, digest: r.body.result.lineage.digest, recordedAtMs: r.recordedAtMs }, { kind: RECORD_KINDS.inputs, id: r.body.inputsRecord, digest: r.body.result.lineage.inputs.series ?? '', recordedAtMs: r.recordedAtMs });
      const ctx = { scope: { site: spec.scope.site, building: spec.scope.building, meter: meter.meter }, resultId: r.id, recordedAtMs: r.recordedAtMs, windowMonths: spec.schedule.measurementWindowMonths };
      out.push(...(spec.kpiOptions?.normalized ? normalizedSavingsObservation(r.body.result, ctx) : savingsFractionObservations(r.body.result, ctx)));
    }
    return out;
  }

  function testDatesFor(spec: CovenantSpec, requested: string | undefined, onDate: string): string | { skip: string } {
    if (requested !== undefined) {
      const s = testSchedule(spec, requested);
      return s[s.length - 1] === requested ? requested : { skip: `${requested} is not a test date of ${spec.id} (${spec.schedule.frequency} from ${spec.schedule.firstTestDate})` };
    }
    const s = testSchedule(spec, onDate);
    return s[s.length - 1] ?? spec.schedule.firstTestDate;
  }

  async function meterOf(spec: CovenantSpec): Promise<MeterRef | undefined> {
    return spec.scope.meter !== undefined ? { site: spec.scope.site, building: spec.scope.building, meter: spec.scope.meter } : mainMeter(spec.scope);
  }

  async function observationsFor(spec: CovenantSpec, testDate: string, asOfMs: number, used: UsedRecord[], notes: Finding[]): Promise<KpiObservation[]> {
    if (spec.kpi === 'label_maintained') {
      const profiles = await reg.listBuildingProfiles({ asOfMs, site: spec.scope.site, building: spec.scope.building });
      const inForce = profiles.filter((p) => p.value.effectiveFrom <= testDate).sort((a, b) => cmp(b.value.effectiveFrom, a.value.effectiveFrom))[0];
      if (inForce) used.push({ kind: 'finance.building_profile', id: profileSource(inForce).resultId, digest: profileSource(inForce).digest, recordedAtMs: inForce.recordedAtMs });
      return [labelObservation(profiles.map((p) => p.value), { scope: spec.scope, testDate, windowMonths: spec.schedule.measurementWindowMonths, recordedAtMs: inForce?.recordedAtMs ?? 0 })];
    }
    const meter = await meterOf(spec);
    if (!meter) {
      notes.push({ code: 'finance.kpi.no_main_meter', message: `Building ${buildingKey(spec.scope)} has no electricity main meter with interval data; name one in the covenant's scope.`, data: { building: buildingKey(spec.scope) } });
      return [];
    }
    return spec.kpi === 'savings_fraction' ? savingsObservations(spec, meter, asOfMs, used, notes) : readingsObservations(spec, testDate, meter, asOfMs, used, notes);
  }

  const settlementKey = (policyId: string, periodId: string) => `${policyId}/${periodId}`;

  async function findResult(kind: string, id: string): Promise<StoredRecord> {
    const r = await reg.getRecord(id).catch(() => undefined);
    if (!r || r.kind !== kind) throw financeError('FINANCE_RESULT_UNKNOWN', `no ${kind} result ${id}`, { details: { id, kind } });
    return r;
  }

  /** Prices one meter's guarantee from its latest M&V result recorded by `asOfMs`. */
  async function quote(input: z.output<typeof pricingRequestSchema>, asOfMs: number, simulations: number): Promise<PricingQuote> {
    const meter = { site: input.site, building: input.building, meter: input.meter };
    const [rec] = (await recordsAsOf({ kind: RECORD_KINDS.result, key: meterKey(meter) }, asOfMs, 1)) as ResultRecord[];
    if (!rec) throw financeError('FINANCE_EVIDENCE_MISSING', `no M&V result of ${meterKey(meter)} to price on; run one first (POST /api/v1/mv/analyses)`, { details: { meter: meterKey(meter) } });
    const result: AnalysisResult = rec.body.result;
    if (result.model.kind !== 'caltrack-daily') throw financeError('FINANCE_INPUT_INVALID', `pricing needs a caltrack-daily baseline, the latest result of ${meterKey(meter)} is ${result.model.kind}`, { details: { field: 'model', value: result.model.kind } });
    const timeZone = rec.body.definition.timeZone;
    const unit = result.model.temperatureUnit;
    const convert = (readings: readonly TemperatureReading[]) => (unit === 'C' ? readings : readings.map((r) => ({ time: r.time, value: r.value === null ? null : (r.value * 9) / 5 + 32 })));
    const temperatureMeter = refOf(rec.body.definition.temperatureMeter);

    let station: WeatherYearCounterfactual[] = [];
    if (input.weatherYears !== 'typical') {
      const year = Number(createZone(timeZone).date(asOfMs).slice(0, 4));
      const from = createZone(timeZone).startOfDay(`${year - cfg.weatherHistoryYears}-01-01`);
      const rows = await deps.readings.query({ ...temperatureMeter, quantity: 'outdoor_temperature', kind: 'instant', from, to: Math.min(asOfMs + 1, createZone(timeZone).startOfDay(`${year + 1}-01-01`)), limit: 2_000_000 });
      const readings = convert(rows.map((r) => ({ time: r.ts, value: r.value })));
      station = counterfactualByWeatherYear(result, splitWeatherYears(readings, { sourceId: meterKey(temperatureMeter), timeZone }), { timeZone });
    }
    let typical: WeatherYearCounterfactual[] = [];
    const useTypical = input.weatherYears === 'typical' || input.weatherYears === 'both' || (input.weatherYears === 'auto' && station.length === 0);
    if (useTypical) {
      const ty = chongqingTypicalYear(unit);
      // The typical year is one year of hourly data whatever its calendar year: count it once, under its own id.
      typical = counterfactualByWeatherYear(result, [{ id: ty.id, digest: ty.digest, readings: ty.readings }], { timeZone });
    }
    const years = input.weatherYears === 'station' ? station : input.weatherYears === 'typical' ? typical : input.weatherYears === 'both' ? [...station, ...typical] : station.length > 0 ? station : typical;
    const source = input.weatherYears === 'both' ? 'both' : years === typical ? 'typical' : 'station';
    const normalizedFraction = result.savings.normalized?.fraction ?? null;
    const F = input.expectedSavingsFraction ?? normalizedFraction ?? result.savings.fraction;
    if (F === null || F === undefined) throw financeError('FINANCE_INPUT_INVALID', `the latest M&V result of ${meterKey(meter)} has no savings fraction; give expectedSavingsFraction`, { details: { field: 'expectedSavingsFraction' } });
    const pricing = priceGuarantee({
      guaranteedSavingsKwh: input.guaranteedSavingsKwh,
      contractPriceCnyPerKwh: input.contractPriceCnyPerKwh,
      deductibleCny: input.deductibleCny,
      limitCny: input.limitCny,
      expectedSavingsFraction: F,
      weatherYears: years,
      model: { fit: result.model.fit, granularity: 'daily' },
      simulations,
      seed: input.seed,
      loading: input.loading,
      expenseCny: input.expenseCny,
    });
    return {
      pricing,
      basis: {
        meter,
        resultId: rec.id,
        resultDigest: result.lineage.digest,
        resultRecordedAtMs: rec.recordedAtMs,
        expectedSavingsFraction: F,
        expectedSavingsFractionSource: input.expectedSavingsFraction !== undefined ? 'request' : normalizedFraction !== null ? 'normalized' : 'metered',
        weatherYearsSource: source,
        temperatureMeter: input.weatherYears === 'typical' ? null : temperatureMeter,
      },
    };
  }

  /** The building's metered energy of a local calendar year (scaled up by coverage), from a readings snapshot recorded by `asOfMs`. */
  async function yearEnergy(b: BuildingRef, year: number, asOfMs: number, live: boolean, used: UsedRecord[]): Promise<BuildingEnergy | undefined> {
    const meter = await mainMeter(b);
    if (!meter) return undefined;
    const from = `${year}-01-01`;
    const to = `${year + 1}-01-01`;
    if (live) await recordSnapshot(meter, from, to);
    const snap = await snapshotAsOf(meter, from, to, asOfMs);
    if (!snap) return undefined;
    const e = windowEnergy(snap.body, from, to, zone);
    if (e.coveredS === 0) return undefined;
    used.push({ kind: snap.kind, id: snap.id, digest: snap.body.digest, recordedAtMs: snap.recordedAtMs });
    const sources: EvidenceSource[] = [{ resultId: snap.id, digest: snap.body.digest }];
    let avoidedKwh: number | undefined;
    const [mv] = (await recordsAsOf({ kind: RECORD_KINDS.result, key: meterKey(meter) }, asOfMs, 1)) as ResultRecord[];
    if (mv) {
      const months = mv.body.result.savings.monthly.filter((m) => m.period.startsWith(`${year}-`));
      if (months.length > 0) {
        avoidedKwh = months.reduce((a, m) => a + m.avoided, 0);
        sources.push({ resultId: mv.id, digest: mv.body.result.lineage.digest });
        used.push({ kind: mv.kind, id: mv.id, digest: mv.body.result.lineage.digest, recordedAtMs: mv.recordedAtMs });
      }
    }
    return { site: b.site, building: b.building, year, electricityKwh: e.kwh / e.coverage, coverage: e.coverage, ...(avoidedKwh !== undefined ? { avoidedKwh } : {}), sources };
  }

  async function lenderBook(lender: string, year: number, asOfMs: number, live: boolean) {
    const q = { asOfMs };
    const loans = (await reg.listLoans({ ...q, lender })).map((l) => l.value);
    const balances: LoanBalance[] = (await Promise.all(loans.map((l) => reg.loanBalances(l.id, q)))).flat().map((b) => b.value);
    const buildings = [...new Map(loans.flatMap((l) => l.buildings).map((b) => [buildingKey(b), b])).values()].sort((a, b) => cmp(buildingKey(a), buildingKey(b)));
    const profiles = (await Promise.all(buildings.map((b) => reg.listBuildingProfiles({ ...q, site: b.site, building: b.building })))).flat().map((p) => p.value);
    const used: UsedRecord[] = [];
    const energy: BuildingEnergy[] = [];
    for (const b of buildings) {
      const e = await yearEnergy(b, year, asOfMs, live, used);
      if (e) energy.push(e);
    }
    return { loans, balances, profiles, energy, used };
  }

  return {
    config: cfg,

    /**
     * Tests the covenants of a loan on their test date, as of an instant, and stores each result
     * (`finance.covenant_test`, key `<loanId>/<covenantId>`).
     * @throws WattproofError FINANCE_LOAN_UNKNOWN, FINANCE_TEST_DATE_NOT_SCHEDULED (no covenant
     *   has the requested test date), FINANCE_REFRESH_UNAVAILABLE, FINANCE_INPUT_INVALID.
     */
    async testCovenants(loanId: string, options: CovenantTestOptions = {}): Promise<CovenantTestRun> {
      checkAsOf(options.asOfMs);
      if (options.testDate !== undefined) assertDate(options.testDate, 'testDate');
      const live = options.asOfMs === undefined;
      if (options.refresh && !live) throw financeError('FINANCE_REFRESH_UNAVAILABLE', 'refresh records new evidence now; it cannot be combined with a past asOfMs');
      if (options.refresh && !deps.jobs) throw financeError('FINANCE_REFRESH_UNAVAILABLE', 'refresh needs the M&V jobs, and this service runs without them');
      const plan = await requireLoan(loanId, options.asOfMs);
      const onDate = zone.date(options.asOfMs ?? clock());
      const pick = (l: Loan) => l.covenants.filter((c) => options.covenantId === undefined || c.id === options.covenantId);
      if (pick(plan.value).length === 0) throw financeError('FINANCE_INPUT_INVALID', `loan ${loanId} has no covenant ${options.covenantId}`, { details: { field: 'covenantId', value: options.covenantId ?? null, covenants: plan.value.covenants.map((c) => c.id) } });

      // A live run records the evidence it needs first, then reads everything as of the instant after.
      const refreshed: string[] = [];
      const refreshedWindows = new Set<string>();
      const runNotes = new Map<string, Finding[]>();
      if (live) {
        for (const spec of pick(plan.value)) {
          const td = testDatesFor(spec, options.testDate, onDate);
          if (typeof td !== 'string' || spec.kpi === 'label_maintained') continue;
          const meter = await meterOf(spec);
          if (!meter) continue;
          const notes: Finding[] = [];
          runNotes.set(spec.id, notes);
          if (spec.kpi === 'savings_fraction') {
            const w = testWindow(spec, td);
            const once = `${meterKey(meter)}|${spec.kpiOptions?.mvDefinitionId ?? ''}|${w.start}|${w.end}`;
            if (options.refresh && !refreshedWindows.has(once)) {
              refreshedWindows.add(once);
              const id = await refreshMv(meter, spec.kpiOptions?.mvDefinitionId, w, notes);
              if (id) refreshed.push(id);
            }
          } else {
            await recordSnapshot(meter, addMonths(td, -(spec.schedule.measurementWindowMonths + 11)), td);
          }
        }
      }
      const asOfMs = options.asOfMs ?? clock();
      const loan = live ? await requireLoan(loanId, asOfMs) : plan;
      const tests: CovenantTestRun['tests'] = [];
      const skipped: CovenantTestRun['skipped'] = [];
      for (const spec of pick(loan.value)) {
        const td = testDatesFor(spec, options.testDate, onDate);
        if (typeof td !== 'string') {
          skipped.push({ covenantId: spec.id, reason: td.skip });
          continue;
        }
        const used: UsedRecord[] = [{ kind: 'finance.loan', id: `loan:${loan.value.id}#v${loan.version}`, digest: digestOf(loan.value), recordedAtMs: loan.recordedAtMs }];
        const notes: Finding[] = [];
        const observations = await observationsFor(spec, td, asOfMs, used, notes);
        const evaluation = evaluateCovenant(spec, observations, { testDate: td, asOfMs, timeZone: cfg.timeZone, minCoverage: cfg.minCoverage });
        const records = [...new Map(used.map((u) => [`${u.kind}|${u.id}`, u])).values()].sort((a, b) => cmp(a.kind, b.kind) || cmp(a.id, b.id));
        const observationsDigest = digestOf(observations.map((o) => canonicalJson(o)).sort());
        const lineage = financeLineage(
          FINANCE_SERVICE_METHOD,
          FINANCE_SERVICE_METHOD_VERSION,
          { loan: digestOf(loan.value), records, observationsDigest, evaluation: evaluation.lineage.digest },
          { loanId, covenantId: spec.id, testDate: td, asOfMs, timeZone: cfg.timeZone, region: cfg.region, basis: cfg.basis, minCoverage: cfg.minCoverage, maxResultsPerMeter: cfg.maxResultsPerMeter },
          evaluation.lineage.referenceData,
        );
        const key = `${loanId}/${spec.id}`;
        const body: CovenantTestBody = {
          loanId,
          loanVersion: loan.version,
          lender: loan.value.lender,
          borrower: loan.value.borrower,
          covenantId: spec.id,
          testDate: td,
          asOfMs,
          evaluation,
          evidence: { records, observations: observations.length, observationsDigest, kpiObservations: observations, notes },
          lineage,
          run: { ranAtMs: clock(), live, refreshed: [...refreshed].sort(), notes: runNotes.get(spec.id) ?? [] },
        };
        const [stored] = await reg.appendRecords([{ kind: FINANCE_RECORD_KINDS.covenantTest, key, recordedAtMs: body.run.ranAtMs, body }]);
        logger.info({ loanId, covenantId: spec.id, testDate: td, status: evaluation.status }, 'covenant test stored');
        tests.push({ record: stored as CovenantTestRecord });
      }
      if (tests.length === 0 && options.testDate !== undefined) {
        throw financeError('FINANCE_TEST_DATE_NOT_SCHEDULED', `${options.testDate} is not a test date of any covenant of loan ${loanId}`, { details: { loanId, testDate: options.testDate, skipped } });
      }
      return { loanId, asOfMs, tests, skipped };
    },

    /** Stored covenant tests of a loan (optionally one covenant), newest first. */
    async listCovenantTests(loanId: string, options: { covenantId?: string; limit?: number } = {}): Promise<CovenantTestRecord[]> {
      const q = options.covenantId !== undefined ? { key: `${loanId}/${options.covenantId}` } : { keyPrefix: `${loanId}/` };
      return (await reg.listRecords({ kind: FINANCE_RECORD_KINDS.covenantTest, ...q, limit: options.limit ?? 100 })) as CovenantTestRecord[];
    },

    /**
     * Settles a policy period from its meters' verified savings as of an instant and stores the
     * claim file (`finance.settlement`, key `<policyId>/<periodId>`). Each meter's newest
     * `mv.result` whose reporting period is exactly the policy period is used (else its newest
     * result, and the claim is not settleable).
     * @throws WattproofError FINANCE_POLICY_UNKNOWN, FINANCE_POLICY_PERIOD_UNKNOWN,
     *   FINANCE_PERIOD_OPEN, FINANCE_EVIDENCE_MISSING, FINANCE_REFRESH_UNAVAILABLE.
     */
    async settlePolicyPeriod(policyId: string, periodId: string, options: { asOfMs?: number; refresh?: boolean } = {}): Promise<{ record: SettlementRecord }> {
      checkAsOf(options.asOfMs);
      const live = options.asOfMs === undefined;
      if (options.refresh && !live) throw financeError('FINANCE_REFRESH_UNAVAILABLE', 'refresh records new evidence now; it cannot be combined with a past asOfMs');
      const plan = await requirePolicy(policyId, options.asOfMs);
      const period = plan.value.periods.find((p) => p.id === periodId);
      if (!period) throw financeError('FINANCE_POLICY_PERIOD_UNKNOWN', `policy ${policyId} has no period ${periodId}`, { details: { policyId, period: periodId, periods: plan.value.periods.map((p) => p.id) } });
      const onDate = zone.date(options.asOfMs ?? clock());
      if (onDate < period.to) throw financeError('FINANCE_PERIOD_OPEN', `period ${periodId} of policy ${policyId} runs until ${period.to} (exclusive); it cannot be settled on ${onDate}`, { details: { policyId, periodId, to: period.to, asOfDate: onDate } });
      const refreshed: string[] = [];
      const notes: Finding[] = [];
      if (options.refresh) {
        for (const m of plan.value.meters) {
          const id = await refreshMv(m, plan.value.mvDefinitionId, { start: period.from, end: period.to }, notes);
          if (id) refreshed.push(id);
        }
      }
      const asOfMs = options.asOfMs ?? clock();
      const policy = live ? await requirePolicy(policyId, asOfMs) : plan;
      const used: UsedRecord[] = [{ kind: 'finance.policy', id: `policy:${policy.value.id}#v${policy.version}`, digest: digestOf(policy.value), recordedAtMs: policy.recordedAtMs }];
      const chosen: Array<{ resultId: string; result: AnalysisResult; exact: boolean }> = [];
      for (const m of policy.value.meters) {
        const results = await mvResults(m, policy.value.mvDefinitionId, asOfMs, notes);
        const exact = results.find((r) => r.body.definition.reporting.start === period.from && r.body.definition.reporting.end === period.to);
        const r = exact ?? results[0];
        if (!r) throw financeError('FINANCE_EVIDENCE_MISSING', `no M&V result of meter ${meterKey(m)} was recorded by ${new Date(asOfMs).toISOString()}`, { details: { policyId, periodId, meter: meterKey(m) } });
        used.push({ kind: r.kind, id: r.id, digest: r.body.result.lineage.digest, recordedAtMs: r.recordedAtMs }, { kind: RECORD_KINDS.inputs, id: r.body.inputsRecord, digest: r.body.result.lineage.inputs.series ?? '', recordedAtMs: r.recordedAtMs });
        chosen.push({ resultId: r.id, result: r.body.result, exact: exact !== undefined });
      }
      const claim = claimFromResults(policy.value, periodId, chosen);
      const records = [...new Map(used.map((u) => [`${u.kind}|${u.id}`, u])).values()].sort((a, b) => cmp(a.kind, b.kind) || cmp(a.id, b.id));
      const lineage = financeLineage(FINANCE_SERVICE_METHOD, FINANCE_SERVICE_METHOD_VERSION, { policy: digestOf(policy.value), records, claim: claim.lineage.digest }, { policyId, periodId, asOfMs, maxResultsPerMeter: cfg.maxResultsPerMeter }, claim.lineage.referenceData);
      const key = settlementKey(policyId, periodId);
      const body: SettlementBody = {
        policyId,
        policyVersion: policy.version,
        insurer: policy.value.insurer,
        insured: policy.value.insured,
        periodId,
        asOfMs,
        claim: { ...claim, warnings: [...claim.warnings, ...notes] },
        evidence: { records },
        lineage,
        run: { ranAtMs: clock(), live, refreshed: refreshed.sort() },
      };
      const [stored] = await reg.appendRecords([{ kind: FINANCE_RECORD_KINDS.settlement, key, recordedAtMs: body.run.ranAtMs, body }]);
      logger.info({ policyId, periodId, payoutCny: claim.figures.payoutCny }, 'settlement stored');
      return { record: stored as SettlementRecord };
    },

    /** Stored settlements of a policy (optionally one period), newest first. */
    async listSettlements(policyId: string, options: { periodId?: string; limit?: number } = {}): Promise<SettlementRecord[]> {
      const q = options.periodId !== undefined ? { key: settlementKey(policyId, options.periodId) } : { keyPrefix: `${policyId}/` };
      return (await reg.listRecords({ kind: FINANCE_RECORD_KINDS.settlement, ...q, limit: options.limit ?? 100 })) as SettlementRecord[];
    },

    /**
     * Prices a guarantee on one meter: the latest `mv.result` of the meter gives the baseline
     * model (CalTRACK daily) and, unless the request sets it, the expected savings fraction; the
     * weather years are the complete local calendar years of that analysis' temperature meter
     * and/or the bundled Chongqing typical year (`weatherYears`). Not stored (a quote).
     * @throws WattproofError FINANCE_EVIDENCE_MISSING, FINANCE_NO_WEATHER_YEARS, FINANCE_INPUT_INVALID.
     */
    async pricePolicy(request: PricingRequest, options: { asOfMs?: number } = {}): Promise<PricingQuote> {
      checkAsOf(options.asOfMs);
      const parsed = pricingRequestSchema.safeParse(request);
      if (!parsed.success) throw financeError('FINANCE_INPUT_INVALID', `invalid pricing request: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { details: { issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) } });
      return quote(parsed.data, options.asOfMs ?? clock(), parsed.data.simulations ?? cfg.pricingSimulations);
    },

    /**
     * An insurer's book as of an instant: each policy's periods (settled from the stored
     * settlements, due, open, future), paid claims, loss ratio, and the pricing of each policy's
     * open or next period (one-meter policies with a daily M&V result; others get a warning).
     * @throws WattproofError FINANCE_PARTY_UNKNOWN.
     */
    async insurerPortfolio(insurer: string, options: { asOfMs?: number } = {}): Promise<InsurerPortfolio> {
      checkAsOf(options.asOfMs);
      const asOfMs = options.asOfMs ?? clock();
      const party = await requireParty(insurer, 'insurer', asOfMs);
      const onDate = zone.date(asOfMs);
      const warnings: Finding[] = [];
      const pricings: PricingResult[] = [];
      const rows: InsurerPortfolio['policies'][number][] = [];
      for (const { value: p, version } of await reg.listPolicies({ asOfMs, insurer })) {
        const settlements = (await recordsAsOf({ kind: FINANCE_RECORD_KINDS.settlement, keyPrefix: `${p.id}/` }, asOfMs, 1000)) as SettlementRecord[];
        const periods: InsurerPeriodRow[] = p.periods.map((x) => {
          const s = settlements.find((r) => r.body.periodId === x.id);
          const state = s ? 'settled' : onDate >= x.to ? 'due' : onDate >= x.from ? 'open' : 'future';
          return {
            policyId: p.id,
            periodId: x.id,
            from: x.from,
            to: x.to,
            guaranteedSavingsKwh: x.guaranteedSavingsKwh,
            state,
            settlementId: s?.id ?? null,
            verifiedKwh: s ? s.body.claim.figures.verifiedKwh : null,
            shortfallKwh: s ? s.body.claim.figures.shortfallKwh : null,
            payoutCny: s ? s.body.claim.figures.payoutCny : null,
            settleable: s ? s.body.claim.settleable : null,
          };
        });
        const next = periods.find((x) => x.state === 'open' || x.state === 'future');
        let pricedPeriod: string | null = null;
        if (next) {
          if (p.meters.length !== 1) {
            warnings.push({ code: 'finance.portfolio.pricing_multi_meter', message: `Policy ${p.id} names ${p.meters.length} meters; its open period is not priced (one-meter policies only).`, data: { policyId: p.id } });
          } else {
            try {
              const m = p.meters[0]!;
              const q = await quote(
                pricingRequestSchema.parse({ ...m, guaranteedSavingsKwh: next.guaranteedSavingsKwh, contractPriceCnyPerKwh: p.contractPriceCnyPerKwh, deductibleCny: p.deductibleCny, limitCny: p.limitCny }),
                asOfMs,
                cfg.portfolioPricingSimulations,
              );
              pricings.push({ ...q.pricing, policyId: p.id, insured: p.insured });
              pricedPeriod = next.periodId;
            } catch (err) {
              warnings.push({ code: 'finance.portfolio.pricing_failed', message: `Policy ${p.id} period ${next.periodId} could not be priced: ${(err as Error).message}`, data: { policyId: p.id, code: (err as { code?: string }).code ?? null } });
            }
          }
        }
        rows.push({ id: p.id, version, insured: p.insured, buildings: p.buildings, premiumCny: p.premiumCny ?? null, limitCny: p.limitCny, periods, pricedPeriod });
      }
      const all = rows.flatMap((r) => r.periods);
      const settled = all.filter((x) => x.state === 'settled');
      const premium = rows.reduce((a, r) => a + (r.premiumCny ?? 0), 0);
      const paid = settled.reduce((a, x) => a + (x.payoutCny ?? 0), 0);
      return {
        insurer: { id: party.value.id, name: party.value.name },
        asOfMs,
        policies: rows,
        totals: {
          policies: rows.length,
          premiumCny: premium,
          openLimitCny: rows.reduce((a, r) => a + r.periods.filter((x) => x.state !== 'settled').length * r.limitCny, 0),
          settledPeriods: settled.length,
          paidCny: paid,
          guaranteedKwhSettled: settled.reduce((a, x) => a + x.guaranteedSavingsKwh, 0),
          verifiedKwhSettled: settled.reduce((a, x) => a + (x.verifiedKwh ?? 0), 0),
          lossRatio: premium > 0 ? paid / premium : null,
        },
        pricing: pricings.length > 0 ? aggregatePortfolio(pricings) : null,
        warnings,
      };
    },

    /**
     * A bank's loan book in a reporting year as of an instant (PCAF): financed emissions per
     * loan and in total, intensities, the score weighted by outstanding, the green-loan share, and
     * the trend over `trendYears` years. Metered energy: each building's main meter over the local
     * calendar year, from a readings snapshot (recorded by a live run; scaled up by coverage).
     * @throws WattproofError FINANCE_PARTY_UNKNOWN, FINANCE_LOAN_DATA_MISSING, FINANCE_EMISSION_FACTOR_MISSING, FINANCE_INPUT_INVALID.
     */
    async lenderPortfolio(lender: string, options: { year: number; asOfMs?: number }): Promise<LenderPortfolio> {
      checkAsOf(options.asOfMs);
      if (!Number.isInteger(options.year) || options.year < 1900 || options.year > 2999) throw financeError('FINANCE_INPUT_INVALID', 'year must be a calendar year', { details: { field: 'year', value: options.year } });
      const live = options.asOfMs === undefined;
      const party = await requireParty(lender, 'bank', options.asOfMs);
      const warnings: Finding[] = [];
      const reports: PcafReport[] = [];
      let main: { report: PcafReport; energy: BuildingEnergy[]; used: UsedRecord[] } | undefined;
      // A live run records its snapshots first; asOfMs is taken after them.
      const books = [];
      for (let y = options.year - cfg.trendYears + 1; y <= options.year; y++) books.push(y);
      if (live) for (const y of books) await lenderBook(lender, y, clock(), true);
      const asOfMs = options.asOfMs ?? clock();
      for (const y of books) {
        const book = await lenderBook(lender, y, asOfMs, false);
        try {
          const report = financedEmissions(book.loans, book.balances, book.profiles, book.energy, { year: y, region: cfg.region, basis: cfg.basis });
          reports.push(report);
          if (y === options.year) main = { report, energy: book.energy, used: book.used };
        } catch (err) {
          if (y === options.year) throw err;
          warnings.push({ code: 'finance.pcaf.trend_year_skipped', message: `Year ${y} is left out of the trend: ${(err as Error).message}`, data: { year: y, code: (err as { code?: string }).code ?? null } });
        }
      }
      const records = [...new Map(main!.used.map((u) => [`${u.kind}|${u.id}`, u])).values()].sort((a, b) => cmp(a.kind, b.kind) || cmp(a.id, b.id));
      return { lender: { id: party.value.id, name: party.value.name }, year: options.year, asOfMs, report: main!.report, trend: pcafTrend(reports), energy: main!.energy, evidence: { records }, warnings };
    },

    /** Rows of the annual JR/T 0227-2021 disclosure of a bank's building loans (see docs/finance-methods.md §3.5). */
    async jrt0227Export(lender: string, year: number, options: { asOfMs?: number } = {}): Promise<{ lender: string; year: number; asOfMs: number; rows: Jrt0227Row[] }> {
      const p = await this.lenderPortfolio(lender, { year, ...(options.asOfMs !== undefined ? { asOfMs: options.asOfMs } : {}) });
      return { lender, year, asOfMs: p.asOfMs, rows: jrt0227Rows(p.report, { institution: p.lender.name }) };
    },

    /** A stored covenant test or settlement. @throws WattproofError FINANCE_RESULT_UNKNOWN. */
    async getResult(id: string): Promise<CovenantTestRecord | SettlementRecord> {
      const r = await reg.getRecord(id).catch(() => undefined);
      if (!r || (r.kind !== FINANCE_RECORD_KINDS.covenantTest && r.kind !== FINANCE_RECORD_KINDS.settlement)) throw financeError('FINANCE_RESULT_UNKNOWN', `no covenant test or settlement ${id}`, { details: { id } });
      return r as CovenantTestRecord | SettlementRecord;
    },

    /** A stored covenant test. @throws WattproofError FINANCE_RESULT_UNKNOWN. */
    getCovenantTest: (id: string) => findResult(FINANCE_RECORD_KINDS.covenantTest, id) as Promise<CovenantTestRecord>,
    /** A stored settlement. @throws WattproofError FINANCE_RESULT_UNKNOWN. */
    getSettlement: (id: string) => findResult(FINANCE_RECORD_KINDS.settlement, id) as Promise<SettlementRecord>,
  };
}

export type FinanceService = ReturnType<typeof createFinanceService>;
