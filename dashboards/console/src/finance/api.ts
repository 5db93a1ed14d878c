/**
 * Finance API as the console reads it (docs/finance-api.md, docs/access.md, docs/packs.md): the
 * API key of the signed-in user, sent as `Authorization: Bearer` on finance, audit and pack
 * requests only, and the response types the lender and insurer pages use.
 */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { apiFailure } from '../api.js';

export type ApiRole = 'operator' | 'lender' | 'insurer' | 'verifier' | 'admin';

export interface Grant {
  kind: 'building' | 'loan' | 'policy' | 'party';
  id?: string;
  site?: string;
  building?: string;
}

/** GET /api/v1/auth/whoami */
export interface Whoami {
  keyId: string;
  role: ApiRole;
  party: string | null;
  grants: Grant[];
  expiresAt: string | null;
  label: string | null;
}


/** A request with the API key; rejects with ApiError carrying the API's code. */
export async function authFetch(key: string, path: string, init: { method?: 'GET' | 'POST'; body?: unknown; accept?: string; signal?: AbortSignal } = {}): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, accept: init.accept ?? 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  if (!res.ok) throw await apiFailure(res);
  return res;
}

export async function authJson<T>(key: string, path: string, init: Parameters<typeof authFetch>[2] = {}): Promise<T> {
  return (await (await authFetch(key, path, init)).json()) as T;
}

/** Saves a response body as a file through a temporary link. */
export async function downloadResponse(res: Response, fallbackName: string): Promise<string> {
  const disposition = res.headers.get('content-disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

export interface AuthResource<T> {
  readonly data: T | undefined;
  readonly error: Error | undefined;
  readonly loading: boolean;
  reload(): void;
}

/** Loads `path` with the key (null path or key = nothing); reloads when either changes. */
export function useAuthResource<T>(key: string | null, path: string | null): AuthResource<T> {
  const id = key && path ? `${key}\n${path}` : null;
  const [state, setState] = useState<{ id: string | null; data?: T; error?: Error; loading: boolean }>({ id, loading: id !== null });
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    if (!key || !path) {
      setState({ id: null, loading: false });
      return;
    }
    const ctl = new AbortController();
    setState((s) => ({ id, loading: true, ...(s.id === id && s.data !== undefined ? { data: s.data } : {}) }));
    authJson<T>(key, path, { signal: ctl.signal }).then(
      (data) => setState({ id, data, loading: false }),
      (error: unknown) => {
        if (ctl.signal.aborted) return;
        setState({ id, error: error instanceof Error ? error : new Error(String(error)), loading: false });
      },
    );
    return () => ctl.abort();
  }, [id, nonce]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { data: state.id === id ? state.data : undefined, error: state.id === id ? state.error : undefined, loading: state.loading || state.id !== id, reload };
}

// ---------------------------------------------------------------------------------------------
// Response types (the fields the pages use)

export interface Version<T> {
  value: T;
  version: number;
  recordedAtMs: number;
  recordedAt: string;
  source?: string;
}

export interface BuildingRef {
  site: string;
  building: string;
}

export interface MeterRef extends BuildingRef {
  meter: string;
}

export interface Finding {
  code: string;
  message: string;
}

export type CovenantKpi = 'savings_fraction' | 'data_coverage_fraction' | 'eui_kwh_per_m2' | 'carbon_intensity_kgco2e_per_m2' | 'label_maintained';

export interface Covenant {
  id: string;
  kpi: CovenantKpi;
  scope: { site: string; building: string; meter?: string };
  operator: string;
  threshold: number;
  schedule: { frequency: 'monthly' | 'quarterly' | 'annual'; firstTestDate: string; measurementWindowMonths: number };
  graceDays: number;
  ratchet: { bpOnPass: number; bpOnFail: number };
}

export interface Loan {
  id: string;
  borrower: string;
  lender: string;
  kind: 'green_loan' | 'sustainability_linked_loan';
  assetClass: string;
  currency: string;
  buildings: BuildingRef[];
  originationDate: string;
  maturityDate: string;
  propertyValueAtOriginationCny: number;
  baseMarginBp: number;
  covenants: Covenant[];
}

export interface LoanBalance {
  loanId: string;
  effectiveFrom: string;
  outstandingCny: number;
}

export type CovenantStatus = 'pass' | 'fail' | 'at_risk' | 'breach' | 'in_grace' | 'not_tested';

export interface EvidenceSource {
  resultId: string;
  digest: string;
}

export interface KpiObservation {
  value: number;
  standardError: number;
  window: { start: string; end: string };
  dataCoverage: number | null;
  status: 'verified' | 'verified_with_override' | 'not_verified' | 'measured';
  sources: EvidenceSource[];
}

export interface CovenantEvaluation {
  status: CovenantStatus;
  kpiValue: number | null;
  interval: { confidence: number; low: number; high: number } | null;
  operator: string;
  threshold: number;
  headroom: { value: number; standardErrors: number | null } | null;
  passProbability: number | null;
  marginStepBp: number;
  projection: { testDate: string; mean: number | null; probabilityOfFailing: number | null; basis: string; series: Array<{ end: string; value: number }> };
  cure: { consecutiveFailures: number; curePeriods: number; remaining: number | null; cured: boolean };
  grace: { days: number; ends: string };
  evidence: { window: { start: string; end: string }; observation: KpiObservation | null; sources: EvidenceSource[] };
  warnings: Finding[];
  disqualifications: Finding[];
}

export interface UsedRecord {
  kind: string;
  id: string;
  digest: string;
  recordedAtMs: number;
}

/** A stored covenant test (GET/POST …/covenant-tests). */
export interface CovenantTest {
  id: string;
  recordedAtMs: number;
  loanId: string;
  covenantId: string;
  kpi: CovenantKpi;
  testDate: string;
  asOfMs: number;
  asOf: string;
  status: CovenantStatus;
  kpiValue: number | null;
  operator: string;
  threshold: number;
  passProbability: number | null;
  marginStepBp: number;
  lineageDigest: string;
  record: { evaluation: CovenantEvaluation; evidence: { records: UsedRecord[]; observations: number; observationsDigest: string } };
}

export interface PcafTotals {
  loans: number;
  outstandingCny: number;
  financedEmissionsTco2e: number;
  intensityTco2ePerMillionCny: number | null;
  intensityKgco2ePerM2: number | null;
  weightedScore: number | null;
  attributedAvoidedKwh: number;
  attributedAvoidedTco2e: number;
}

export interface LenderPortfolio {
  lender: { id: string; name: string };
  year: number;
  asOfMs: number;
  report: { totals: PcafTotals; loans: Array<{ loanId: string; outstandingCny: number; financedEmissionsTco2e: number; score: number; green: boolean }>; greenLoans: { share: number | null } };
  trend: Array<{ year: number; financedEmissionsTco2e: number }>;
  warnings: Finding[];
}

export interface PolicyPeriod {
  id: string;
  from: string;
  to: string;
  guaranteedSavingsKwh: number;
}

export interface Policy {
  id: string;
  insurer: string;
  insured: string;
  buildings: BuildingRef[];
  meters: MeterRef[];
  periods: PolicyPeriod[];
  contractPriceCnyPerKwh: number;
  deductibleCny: number;
  limitCny: number;
  premiumCny?: number;
  effectiveFrom: string;
  effectiveTo: string;
}

export interface InsurerPeriodRow {
  policyId: string;
  periodId: string;
  from: string;
  to: string;
  guaranteedSavingsKwh: number;
  state: 'settled' | 'due' | 'open' | 'future';
  settlementId: string | null;
  verifiedKwh: number | null;
  shortfallKwh: number | null;
  payoutCny: number | null;
  settleable: boolean | null;
}

export interface InsurerPortfolio {
  insurer: { id: string; name: string };
  asOfMs: number;
  policies: Array<{ id: string; insured: string; buildings: BuildingRef[]; premiumCny: number | null; limitCny: number; periods: InsurerPeriodRow[]; pricedPeriod: string | null }>;
  totals: { policies: number; premiumCny: number; openLimitCny: number; settledPeriods: number; paidCny: number; guaranteedKwhSettled: number; verifiedKwhSettled: number; lossRatio: number | null };
  pricing: { policies: number; expectedLossCny: number; indicativePremiumCny: number; limitCny: number; aggregateLoss: { mean: number; p90: number }; aggregateSavings: { mean: number; P90: number } } | null;
  warnings: Finding[];
}

/** A stored settlement (POST …/settlement, GET …/settlements). */
export interface Settlement {
  id: string;
  recordedAtMs: number;
  policyId: string;
  periodId: string;
  asOfMs: number;
  asOf: string;
  guaranteedKwh: number;
  verifiedKwh: number;
  shortfallKwh: number;
  payoutCny: number;
  settleable: boolean;
  lineageDigest: string;
  record: { claim: { uncertainty: { standardErrorKwh: number; probabilityTrueShortfall: number; band90Kwh: { low: number; high: number } }; inputs: { verified: { status: string; window?: { start: string; end: string } } }; evidence: EvidenceSource[]; warnings: Finding[]; disqualifications: Finding[] } };
}

export interface Distribution {
  mean: number;
  standardDeviation: number;
  p10: number;
  p50: number;
  p90: number;
  min: number;
  max: number;
}

export interface PricingQuote {
  pricing: {
    savings: Distribution & { P50: number; P90: number };
    probabilityOfShortfall: number;
    expectedShortfallKwh: number;
    payout: Distribution & { expected: number; probabilityOfPayout: number; probabilityLimitReached: number; p99: number };
    expectedLossCny: number;
    indicativePremiumCny: number;
    loading: number;
    terms: { guaranteedSavingsKwh: number; expectedSavingsFraction: number };
    weatherYears: Array<{ id: string; counterfactualKwh: number; expectedSavingsKwh: number }>;
    simulation: { draws: number; seed: number };
  };
  basis: { resultId: string; expectedSavingsFraction: number; expectedSavingsFractionSource: string; weatherYearsSource: string };
}
