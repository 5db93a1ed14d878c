/**
 * The API as the console reads it: response types, a JSON fetch with the API's error codes, a
 * loading hook. Every API route needs an API key (docs/access.md): the signed-in key (auth.tsx)
 * is provided through ApiKeyContext and sent as `Authorization: Bearer` with every request.
 */
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useState } from 'preact/hooks';

/** What the server put into the page (see dashboards/src/console/plugin.ts). */
export interface Settings {
  /** True when an alert service answers GET /api/v1/alerts in this process. */
  readonly alerts: boolean;
  readonly mv: boolean;
  /** True when the finance routes answer in this process (lender and insurer views). */
  readonly finance: boolean;
  /** True when signed report packs can be downloaded (the API has a signing key). */
  readonly packs: boolean;
  readonly streamPollIntervalMs: number;
}

export function readSettings(): Settings {
  const el = document.getElementById('wattproof-settings');
  try {
    const s = JSON.parse(el?.textContent ?? '{}') as Partial<Settings>;
    return { alerts: s.alerts === true, mv: s.mv === true, finance: s.finance === true, packs: s.packs === true, streamPollIntervalMs: s.streamPollIntervalMs ?? 2000 };
  } catch {
    return { alerts: false, mv: false, finance: false, packs: false, streamPollIntervalMs: 2000 };
  }
}

export interface Eui {
  value: number;
  windowDays: number;
  quota: { buildingType: string; label: string; constraint: number; guide: number; confirmed: boolean; meetsConstraint: boolean; meetsGuide: boolean; reference: string } | null;
}

export interface BuildingSummary {
  site: string;
  id: string;
  name: string | null;
  type: string | null;
  floorAreaM2: number | null;
  meters: number;
  mainMeters: string[];
  liveKw: number | null;
  liveAt: number | null;
  todayKwh: number | null;
  coverage30d: number | null;
  eui: Eui | null;
}

export interface SiteSummary {
  id: string;
  name: string | null;
  timezone: string;
  latitude: number | null;
  longitude: number | null;
  buildings: BuildingSummary[];
}

export interface Portfolio {
  generatedAt: number;
  sites: SiteSummary[];
}

export type Role = 'main' | 'sub' | 'generation' | 'weather' | 'other';

export interface Reading {
  site: string;
  building: string;
  meter: string;
  quantity: string;
  kind: string;
  unit: string;
  ts: number;
  value: number;
  intervalS?: number;
}

export interface Overview {
  site: { id: string; name: string | null; timezone: string };
  building: BuildingSummary;
  meters: Array<{ meter: string; name: string | null; role: Role; quantity: string | null; endUse: string | null; parent: string | null; series: Array<{ quantity: string; kind: string; unit: string }>; latest: Array<Omit<Reading, 'site' | 'building' | 'meter'>> }>;
  mvAvailable: boolean;
}

export interface Timeseries {
  site: string;
  building: string;
  bucket: string;
  tz: string;
  from: number;
  to: number;
  time: number[];
  series: Array<{ meter: string; quantity: string; kind: string; unit: string; role: Role; endUse: string | null; parent: string | null; values: (number | null)[] }>;
}

export interface MvSummary {
  meter: string;
  resultId: string;
  ranAtMs: number;
  status: string;
  unit: string;
  model: { kind: string; type: string; r2Adjusted: number; cvrmse: number; nmbe: number; n: number };
  g14Passed: boolean;
  baseline: { start: string; end: string };
  reporting: { start: string; end: string };
  totals: { counterfactual: number; observed: number; avoided: number; fraction: number | null; uncertainty90: number | null };
  warnings: Array<{ code: string; message: string }>;
  disqualifications: Array<{ code: string; message: string }>;
  override: { reason: string; by: string } | null;
  eui: { value: number; constraint: number | null; guide: number | null } | null;
  avoidedTco2: number | null;
  monthly: { period: string[]; counterfactual: number[]; observed: number[]; avoided: number[]; uncertainty90: (number | null)[] };
  cumulative: { period: string[]; avoided: number[]; uncertainty90: (number | null)[] };
}

export interface Coverage {
  bucket: '1d' | '1mo';
  tz: string;
  from: number;
  to: number;
  time: number[];
  series: Array<{ site: string; building: string; meter: string; quantity: string; kind: string; unit: string; coverage: number[]; count: number[]; lastTs: number | null }>;
  gaps: Array<{ site: string; building: string; meter: string; quantity: string; kind: string; from: number; to: number; buckets: number; empty: boolean }>;
}

export interface DeadLetter {
  id: string;
  receivedAtMs: number;
  source: string;
  topic: string;
  clientId?: string;
  username?: string;
  code: string;
  reason: string;
  payload: string;
  payloadEncoding: 'utf8' | 'base64';
  payloadBytes: number;
  truncated: boolean;
}

export interface RegisterEvent {
  site: string;
  building: string;
  meter: string;
  quantity: string;
  ts: number;
  type: string;
  previousValue: number;
  value: number;
  detectedAtMs: number;
  note?: string;
}

/** An alert of the alert service (GET /api/v1/alerts). */
export interface Alert {
  id: string;
  rule: string;
  severity: 'warning' | 'critical';
  state: 'active' | 'resolved';
  site: string;
  building?: string;
  meter?: string;
  title: string;
  message: string;
  since: string;
  lastEvaluated: string;
  evidence: Record<string, unknown>;
}

/** A failed API call with the API's stable error code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a failed response's error body says, as an ApiError (the status text when it has none). */
export async function apiFailure(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
  } catch {
    // Not a JSON error body; the status text stands.
  }
  return new ApiError(res.status, code, message);
}

/** The signed-in API key (null before sign-in: pages that read data are not rendered then). */
export const ApiKeyContext = createContext<string | null>(null);
/** The signed-in API key. */
export const useApiKey = (): string | null => useContext(ApiKeyContext);

/** The request headers that carry `key`. */
export function keyHeaders(key: string | null): Record<string, string> {
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** GET a JSON resource with the API key; rejects with ApiError carrying the API's code. */
export async function getJson<T>(path: string, key: string | null, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { headers: { accept: 'application/json', ...keyHeaders(key) }, ...(signal ? { signal } : {}) });
  if (!res.ok) throw await apiFailure(res);
  return (await res.json()) as T;
}

export const enc = encodeURIComponent;

export interface Resource<T> {
  readonly data: T | undefined;
  readonly error: Error | undefined;
  readonly loading: boolean;
  reload(): void;
}

/** Loads `path` (null = nothing) with the signed-in key and reloads when either changes; aborts what is in flight. */
export function useResource<T>(path: string | null): Resource<T> {
  const key = useApiKey();
  const [state, setState] = useState<{ path: string | null; data?: T; error?: Error; loading: boolean }>({ path, loading: path !== null });
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    if (path === null) {
      setState({ path, loading: false });
      return;
    }
    const ctl = new AbortController();
    setState((s) => ({ path, loading: true, ...(s.path === path && s.data !== undefined ? { data: s.data } : {}) }));
    getJson<T>(path, key, ctl.signal).then(
      (data) => setState({ path, data, loading: false }),
      (error: unknown) => {
        if (ctl.signal.aborted) return;
        setState({ path, error: error instanceof Error ? error : new Error(String(error)), loading: false });
      },
    );
    return () => ctl.abort();
  }, [path, key, nonce]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { data: state.path === path ? state.data : undefined, error: state.path === path ? state.error : undefined, loading: state.loading || state.path !== path, reload };
}

/** kW of an interval energy reading (mean power over its interval); the value itself for kW readings. */
export function readingKw(r: Pick<Reading, 'quantity' | 'kind' | 'unit' | 'value' | 'intervalS'>): number | null {
  if (r.unit === 'kW') return r.value;
  if (r.quantity === 'electricity' && r.kind === 'interval' && r.intervalS) return (r.value * 3600) / r.intervalS;
  return null;
}
