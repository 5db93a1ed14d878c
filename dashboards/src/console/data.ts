/**
 * What the console's pages need, computed on the server from the storage ports: portfolio
 * summaries (live kW, today's kWh, rolling-12-month EUI against the GB/T 51161 quota, coverage),
 * a building's meters by role, columnar time series, M&V savings in compact form and data
 * coverage per meter with its gaps. Aggregation happens in the reading store (bucketed), so a
 * year of hourly data leaves the server as a few arrays of numbers.
 */
import { meterKey, WattproofError, type AggregateRow, type Bucket, type Building, type BuildingRef, type Meter, type ReadingStore, type RegistryStore, type SeriesInfo, type Site, type StoredReading } from '@wattproof/core';
import { createZone, eui, referenceData, type MvJobs, type ResultRecordBody } from '@wattproof/analytics';
import { CONSOLE_ERRORS } from './errors.js';

const DAY_MS = 86_400_000;
const BUCKET_MS: Record<Bucket, number> = { '15m': 900_000, '1h': 3_600_000, '1d': DAY_MS, '1mo': 28 * DAY_MS };
/** Default span of a time-series request per bucket, ms. */
export const DEFAULT_SPAN_MS: Record<Bucket, number> = { '15m': DAY_MS, '1h': 365 * DAY_MS, '1d': 365 * DAY_MS, '1mo': 3 * 365 * DAY_MS };
/** Most buckets per series one console request may return. */
export const MAX_CONSOLE_BUCKETS = 100_000;
/** Most series one time-series or coverage request may cover. */
export const MAX_CONSOLE_SERIES = 300;
/** Time zone when neither the request nor the site names one. */
export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';
/** A bucket below this coverage counts as part of a gap. */
export const GAP_COVERAGE_BELOW = 0.5;

/**
 * Which buildings a list may show (the auth plugin's `request.buildingScope` fits): `filter` keeps
 * the items of readable buildings; `all` is true when every building is.
 */
export interface BuildingFilter {
  readonly all: boolean;
  filter<T>(items: readonly T[], refOf: (item: T) => BuildingRef | undefined): Promise<T[]>;
}

/** Every building (callers without an identity: scripts, tests of the data alone). */
export const ALL_BUILDINGS: BuildingFilter = Object.freeze({ all: true, filter: async <T>(items: readonly T[]) => [...items] });

/** What a meter is for, as far as the console groups it. */
export type MeterRole = 'main' | 'sub' | 'generation' | 'weather' | 'other';

export interface ConsoleDataDeps {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  /** Epoch ms now; Date.now by default. */
  readonly clock?: () => number;
  /** M&V results, when the process runs the analytics jobs. */
  readonly jobs?: Pick<MvJobs, 'latest'>;
}

export interface EuiSummary {
  /** kWh/(m²·a) of the main electricity meters over the last 365 days, annualised when the data cover less. */
  readonly value: number;
  /** Days the figure covers (annualised from these when < 365). */
  readonly windowDays: number;
  readonly quota: { readonly buildingType: string; readonly label: string; readonly constraint: number; readonly guide: number; readonly confirmed: boolean; readonly meetsConstraint: boolean; readonly meetsGuide: boolean; readonly reference: string } | null;
}

export interface BuildingSummary {
  readonly site: string;
  readonly id: string;
  readonly name: string | null;
  readonly type: string | null;
  readonly floorAreaM2: number | null;
  readonly meters: number;
  /** Main electricity meters (no parent) the figures add up. */
  readonly mainMeters: string[];
  /** Mean power of the latest interval of the main meters, kW. */
  readonly liveKw: number | null;
  /** End of the oldest of those latest intervals (epoch ms). */
  readonly liveAt: number | null;
  /** Electricity of the main meters since local midnight, kWh. */
  readonly todayKwh: number | null;
  /** Share of the last 30 days (since the first reading when later) covered by main-meter intervals, 0..1. */
  readonly coverage30d: number | null;
  readonly eui: EuiSummary | null;
}

export interface SiteSummary {
  readonly id: string;
  readonly name: string | null;
  readonly timezone: string;
  readonly latitude: number | null;
  readonly longitude: number | null;
  readonly buildings: BuildingSummary[];
}

export interface ColumnSeries {
  readonly site: string;
  readonly building: string;
  readonly meter: string;
  readonly quantity: string;
  readonly kind: string;
  readonly unit: string;
  readonly role: MeterRole;
  readonly endUse: string | null;
  readonly parent: string | null;
  /** Per bucket of `time`: the sum (interval series) or mean (instant series); null = no reading. */
  readonly values: (number | null)[];
}

export interface TimeseriesResult {
  readonly site: string;
  readonly building: string;
  readonly bucket: Bucket;
  readonly tz: string;
  readonly from: number;
  readonly to: number;
  /** Bucket starts, epoch ms, ascending. */
  readonly time: number[];
  readonly series: ColumnSeries[];
}

export interface CoverageSeries {
  readonly site: string;
  readonly building: string;
  readonly meter: string;
  readonly quantity: string;
  readonly kind: string;
  readonly unit: string;
  /** Per bucket: interval series Σ intervals / bucket length; instant series readings / the series' median readings per bucket (capped at 1); 0 = none. */
  readonly coverage: number[];
  /** Readings per bucket. */
  readonly count: number[];
  /** Latest reading of the series (epoch ms), null when it has none. */
  readonly lastTs: number | null;
}

export interface CoverageGap {
  readonly site: string;
  readonly building: string;
  readonly meter: string;
  readonly quantity: string;
  readonly kind: string;
  /** First bucket of the gap and the end of its last one (epoch ms). */
  readonly from: number;
  readonly to: number;
  readonly buckets: number;
  /** True when no bucket of the gap has any reading. */
  readonly empty: boolean;
}

export interface CoverageResult {
  readonly bucket: '1d' | '1mo';
  readonly tz: string;
  readonly from: number;
  readonly to: number;
  /** Every bucket start of [from, to), epoch ms (local days or months). */
  readonly time: number[];
  readonly series: CoverageSeries[];
  readonly gaps: CoverageGap[];
}

export interface MvSummary {
  readonly meter: string;
  readonly resultId: string;
  readonly ranAtMs: number;
  readonly status: string;
  readonly unit: string;
  readonly model: { readonly kind: string; readonly type: string; readonly r2Adjusted: number; readonly cvrmse: number; readonly nmbe: number; readonly n: number };
  readonly g14Passed: boolean;
  readonly baseline: { readonly start: string; readonly end: string };
  readonly reporting: { readonly start: string; readonly end: string };
  readonly totals: { readonly counterfactual: number; readonly observed: number; readonly avoided: number; readonly fraction: number | null; readonly uncertainty90: number | null };
  readonly warnings: Array<{ code: string; message: string }>;
  readonly disqualifications: Array<{ code: string; message: string }>;
  readonly override: { reason: string; by: string } | null;
  readonly eui: { readonly value: number; readonly constraint: number | null; readonly guide: number | null } | null;
  readonly avoidedTco2: number | null;
  /** Per local month `YYYY-MM`: baseline counterfactual, observed, avoided and ± its 90 % uncertainty. */
  readonly monthly: { period: string[]; counterfactual: number[]; observed: number[]; avoided: number[]; uncertainty90: (number | null)[] };
  /** Cumulative to the end of each month. */
  readonly cumulative: { period: string[]; avoided: number[]; uncertainty90: (number | null)[] };
}

const round = (v: number, digits = 4): number => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

function notFound(what: string): WattproofError {
  return new WattproofError('API_NOT_FOUND', `${what} not found`, { statusCode: 404 });
}

/** Which meters a building's figures add up, and what every other meter is. */
export function meterRoles(meters: readonly Meter[], series: readonly SeriesInfo[]): Map<string, MeterRole> {
  const roles = new Map<string, MeterRole>();
  const byMeter = new Map<string, SeriesInfo[]>();
  for (const s of series) byMeter.set(s.meter, [...(byMeter.get(s.meter) ?? []), s]);
  const registered = new Map(meters.map((m) => [m.meter, m]));
  for (const name of new Set([...registered.keys(), ...byMeter.keys()])) {
    const m = registered.get(name);
    const quantities = new Set([...(byMeter.get(name) ?? []).map((s) => s.quantity), ...(m?.quantity ? [m.quantity] : [])]);
    const role: MeterRole = quantities.has('outdoor_temperature')
      ? 'weather'
      : quantities.has('pv')
        ? 'generation'
        : m?.parent
          ? 'sub'
          : quantities.has('electricity')
            ? 'main'
            : 'other';
    roles.set(name, role);
  }
  return roles;
}

/** Series worth showing: a register series only when its meter has no derived interval series of the same quantity. */
function visibleSeries(series: readonly SeriesInfo[]): SeriesInfo[] {
  const intervals = new Set(series.filter((s) => s.kind === 'interval').map((s) => `${meterKey(s)}|${s.quantity}`));
  return series.filter((s) => s.kind !== 'register' || !intervals.has(`${meterKey(s)}|${s.quantity}`));
}

function median(values: number[]): number {
  if (!values.length) return 0;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)]!;
}

/** Local bucket starts of [from, to): days or months in `tz`. */
export function bucketStarts(from: number, to: number, bucket: '1d' | '1mo', tz: string): number[] {
  const zone = createZone(tz);
  const out: number[] = [];
  let [y, m, d] = zone.date(from).split('-').map(Number) as [number, number, number];
  if (bucket === '1mo') d = 1;
  for (let i = 0; i < 100_000; i++) {
    const start = zone.startOfDay(`${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`);
    if (start >= to) break;
    out.push(start);
    if (bucket === '1mo') {
      m += 1;
      if (m > 12) [y, m] = [y + 1, 1];
    } else {
      const next = new Date(Date.UTC(y, m - 1, d + 1));
      [y, m, d] = [next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate()];
    }
  }
  return out;
}

/** Builds the console's data functions over the stores. */
export function createConsoleData(deps: ConsoleDataDeps) {
  const clock = deps.clock ?? Date.now;
  const quotas = () => referenceData().quotas.data;

  async function site(id: string): Promise<Site | undefined> {
    return (await deps.registry.listSites()).find((s) => s.id === id);
  }

  async function aggregateSum(list: readonly SeriesInfo[], from: number, to: number, bucket: Bucket, tz: string): Promise<AggregateRow[][]> {
    return Promise.all(list.map((s) => deps.readings.aggregate({ site: s.site, building: s.building, meter: s.meter, quantity: s.quantity, kind: s.kind, from, to, bucket, tz })));
  }

  async function summarize(s: Site, b: Building, meters: readonly Meter[], series: readonly SeriesInfo[], latest: readonly StoredReading[]): Promise<BuildingSummary> {
    const now = clock();
    const tz = s.timezone || DEFAULT_TIME_ZONE;
    const zone = createZone(tz);
    const roles = meterRoles(meters, series);
    const mains = series.filter((x) => x.quantity === 'electricity' && x.kind === 'interval' && roles.get(x.meter) === 'main');
    const base = { site: b.site, id: b.id, name: b.name ?? null, type: b.type ?? null, floorAreaM2: b.floorAreaM2 ?? null, meters: roles.size, mainMeters: mains.map((m) => m.meter) };
    if (!mains.length) return { ...base, liveKw: null, liveAt: null, todayKwh: null, coverage30d: null, eui: null };

    const last = mains.map((m) => latest.find((r) => r.meter === m.meter && r.quantity === 'electricity' && r.kind === 'interval'));
    const present = last.filter((r): r is StoredReading => r !== undefined && (r.intervalS ?? 0) > 0);
    const liveKw = present.length ? present.reduce((a, r) => a + (r.value * 3600) / r.intervalS!, 0) : null;
    const liveAt = present.length ? Math.min(...present.map((r) => r.ts + r.intervalS! * 1000)) : null;

    const todayStart = zone.startOfDay(zone.date(now));
    const from30 = zone.startOfDay(zone.date(now - 30 * DAY_MS));
    const from365 = now - 365 * DAY_MS;
    const [daily, monthly] = await Promise.all([aggregateSum(mains, from30, now + 1, '1d', tz), aggregateSum(mains, from365, now + 1, '1mo', tz)]);
    const allDaily = daily.flat();
    const todayKwh = allDaily.filter((r) => r.start >= todayStart).reduce((a, r) => a + r.sum, 0);
    const firstDay = allDaily.length ? Math.min(...allDaily.map((r) => r.start)) : now;
    const coveredS = allDaily.reduce((a, r) => a + (r.coveredS ?? 0), 0);
    const spanS = ((now - Math.max(from30, firstDay)) / 1000) * mains.length;
    const coverage30d = allDaily.length && spanS > 0 ? Math.min(1, coveredS / spanS) : allDaily.length ? 1 : 0;

    let euiSummary: EuiSummary | null = null;
    const allMonthly = monthly.flat();
    if (b.floorAreaM2 && allMonthly.length) {
      const energy = allMonthly.reduce((a, r) => a + r.sum, 0);
      const first = Math.max(from365, Math.min(...allMonthly.map((r) => r.start)));
      const windowDays = Math.max(1 / 24, (now - first) / DAY_MS);
      const q = quotas();
      const e = eui({ energyKwh: energy, windowDays, floorAreaM2: b.floorAreaM2, ...(b.type ? { buildingType: b.type } : {}), quotas: q });
      const label = e.quota ? q.quotas.find((x) => x.buildingType === e.quota!.buildingType)?.label ?? e.quota.buildingType : '';
      euiSummary = {
        value: round(e.eui, 2),
        windowDays: round(windowDays, 2),
        quota: e.quota ? { buildingType: e.quota.buildingType, label, constraint: e.quota.constraint, guide: e.quota.guide, confirmed: e.quota.confirmed, meetsConstraint: e.quota.meetsConstraint, meetsGuide: e.quota.meetsGuide, reference: `${e.quota.reference.id} v${e.quota.reference.version}` } : null,
      };
    }
    return { ...base, liveKw: liveKw === null ? null : round(liveKw, 3), liveAt, todayKwh: round(todayKwh, 3), coverage30d: round(coverage30d, 4), eui: euiSummary };
  }

  async function buildingContext(siteId: string, buildingId: string) {
    const [sites, buildings, meters, series] = await Promise.all([
      deps.registry.listSites(),
      deps.registry.listBuildings(siteId),
      deps.registry.listMeters({ site: siteId, building: buildingId }),
      deps.readings.listSeries({ site: siteId, building: buildingId }),
    ]);
    const b = buildings.find((x) => x.id === buildingId) ?? (meters.length || series.length ? { site: siteId, id: buildingId } : undefined);
    if (!b) throw notFound(`building ${siteId}/${buildingId}`);
    const s = sites.find((x) => x.id === siteId) ?? { id: siteId, timezone: DEFAULT_TIME_ZONE };
    return { site: s, building: b, meters, series, roles: meterRoles(meters, series) };
  }

  return {
    /**
     * Every site (or one) with its buildings' live kW, today's kWh, coverage and EUI against the
     * quota; only the buildings `visible` keeps, and only sites with one of them unless all are.
     * @throws API_NOT_FOUND for an unknown site, or one with no visible building.
     */
    async portfolio(filter: { site?: string } = {}, visible: BuildingFilter = ALL_BUILDINGS): Promise<{ generatedAt: number; sites: SiteSummary[] }> {
      const [sites, allBuildings, meters, series, latest] = await Promise.all([
        deps.registry.listSites(),
        deps.registry.listBuildings(filter.site),
        deps.registry.listMeters(filter.site ? { site: filter.site } : {}),
        deps.readings.listSeries(filter.site ? { site: filter.site } : {}),
        deps.readings.latest(filter.site ? { site: filter.site } : {}),
      ]);
      const buildings = await visible.filter(allBuildings, (b) => ({ site: b.site, building: b.id }));
      // A site without a building the caller may read answers like a site that does not exist.
      const shown = (id: string) => visible.all || buildings.some((b) => b.site === id);
      if (filter.site && !sites.some((s) => s.id === filter.site && shown(s.id))) throw notFound(`site ${filter.site}`);
      const out: SiteSummary[] = [];
      for (const s of sites.filter((x) => (!filter.site || x.id === filter.site) && shown(x.id))) {
        const own = buildings.filter((b) => b.site === s.id).sort((a, b) => a.id.localeCompare(b.id));
        const summaries = await Promise.all(
          own.map((b) =>
            summarize(
              s,
              b,
              meters.filter((m) => m.site === s.id && m.building === b.id),
              series.filter((x) => x.site === s.id && x.building === b.id),
              latest.filter((r) => r.site === s.id && r.building === b.id),
            ),
          ),
        );
        out.push({ id: s.id, name: s.name ?? null, timezone: s.timezone, latitude: s.latitude ?? null, longitude: s.longitude ?? null, buildings: summaries });
      }
      return { generatedAt: clock(), sites: out };
    },

    /** A building: its summary, meters by role with their latest readings, and whether M&V results exist. */
    async overview(siteId: string, buildingId: string) {
      const ctx = await buildingContext(siteId, buildingId);
      const latest = await deps.readings.latest({ site: siteId, building: buildingId });
      const summary = await summarize(ctx.site, ctx.building, ctx.meters, ctx.series, latest);
      const registered = new Map(ctx.meters.map((m) => [m.meter, m]));
      const meters = [...ctx.roles.entries()]
        .map(([meter, role]) => {
          const m = registered.get(meter);
          return {
            meter,
            name: m?.name ?? null,
            role,
            quantity: m?.quantity ?? ctx.series.find((s) => s.meter === meter)?.quantity ?? null,
            endUse: m?.endUse ?? null,
            parent: m?.parent ?? null,
            series: ctx.series.filter((s) => s.meter === meter).map((s) => ({ quantity: s.quantity, kind: s.kind, unit: s.unit })),
            latest: latest.filter((r) => r.meter === meter).map((r) => ({ quantity: r.quantity, kind: r.kind, unit: r.unit, ts: r.ts, value: r.value, ...(r.intervalS !== undefined ? { intervalS: r.intervalS } : {}) })),
          };
        })
        .sort((a, b) => ['main', 'sub', 'generation', 'weather', 'other'].indexOf(a.role) - ['main', 'sub', 'generation', 'weather', 'other'].indexOf(b.role) || a.meter.localeCompare(b.meter));
      return {
        site: { id: ctx.site.id, name: ctx.site.name ?? null, timezone: ctx.site.timezone },
        building: summary,
        meters,
        mvAvailable: deps.jobs !== undefined,
      };
    },

    /**
     * Bucketed series of a building in columnar form: one time axis, one array of values per series.
     * @throws API_NOT_FOUND for an unknown building, API_RANGE_TOO_LARGE, CONSOLE_TOO_MANY_SERIES.
     */
    async timeseries(q: { site: string; building: string; bucket: Bucket; from?: number; to?: number; meters?: readonly string[]; tz?: string }): Promise<TimeseriesResult> {
      const ctx = await buildingContext(q.site, q.building);
      const to = q.to ?? clock();
      const from = q.from ?? to - DEFAULT_SPAN_MS[q.bucket];
      if (from >= to) throw new WattproofError('API_REQUEST_INVALID', '`from` must be before `to`', { statusCode: 400, details: { issues: [{ path: 'from', message: 'must be before to' }] } });
      if ((to - from) / BUCKET_MS[q.bucket] > MAX_CONSOLE_BUCKETS) throw new WattproofError('API_RANGE_TOO_LARGE', `at most ${MAX_CONSOLE_BUCKETS} ${q.bucket} buckets per request`, { statusCode: 400 });
      const chosen = visibleSeries(ctx.series).filter((s) => s.kind !== 'register' && (!q.meters?.length || q.meters.includes(s.meter)));
      if (chosen.length > MAX_CONSOLE_SERIES) throw new WattproofError('CONSOLE_TOO_MANY_SERIES', `${chosen.length} series; at most ${MAX_CONSOLE_SERIES} per request`, { statusCode: CONSOLE_ERRORS.CONSOLE_TOO_MANY_SERIES.statusCode });
      const tz = q.tz ?? ctx.site.timezone ?? DEFAULT_TIME_ZONE;
      const rows = await aggregateSum(chosen, from, to, q.bucket, tz);
      const starts = [...new Set(rows.flat().map((r) => r.start))].sort((a, b) => a - b);
      const index = new Map(starts.map((t, i) => [t, i]));
      const registered = new Map(ctx.meters.map((m) => [m.meter, m]));
      const series = chosen.map((s, i): ColumnSeries => {
        const values: (number | null)[] = new Array<number | null>(starts.length).fill(null);
        for (const r of rows[i]!) values[index.get(r.start)!] = round(s.kind === 'instant' ? r.mean : r.sum);
        const m = registered.get(s.meter);
        return { site: s.site, building: s.building, meter: s.meter, quantity: s.quantity, kind: s.kind, unit: s.unit, role: ctx.roles.get(s.meter) ?? 'other', endUse: m?.endUse ?? null, parent: m?.parent ?? null, values };
      });
      return { site: q.site, building: q.building, bucket: q.bucket, tz, from, to, time: starts, series };
    },

    /** The latest M&V result of each meter of a building, in compact columnar form; [] without M&V. */
    async savings(siteId: string, buildingId: string, meter?: string): Promise<{ available: boolean; results: MvSummary[] }> {
      const ctx = await buildingContext(siteId, buildingId);
      if (!deps.jobs) return { available: false, results: [] };
      const names = [...ctx.roles.keys()].filter((m) => !meter || m === meter).sort();
      const records = await Promise.all(names.map((m) => deps.jobs!.latest({ site: siteId, building: buildingId, meter: m })));
      const results: MvSummary[] = [];
      records.forEach((rec, i) => {
        if (!rec) return;
        const body = rec.body as ResultRecordBody;
        const r = body.result;
        const u90 = (levels: ReadonlyArray<{ confidence: number; absolute: number }>) => {
          const l = levels.find((x) => Math.abs(x.confidence - 0.9) < 1e-9);
          return l ? round(l.absolute, 3) : null;
        };
        results.push({
          meter: names[i]!,
          resultId: rec.id,
          ranAtMs: body.ranAtMs,
          status: r.status,
          unit: body.definition.fuel === 'gas' ? 'm3' : 'kWh',
          model: { kind: r.model.kind, type: r.model.type, r2Adjusted: round(r.model.fit.r2Adjusted), cvrmse: round(r.model.fit.cvrmse), nmbe: round(r.model.fit.nmbe, 6), n: r.model.fit.n },
          g14Passed: r.g14.passed,
          baseline: body.definition.baseline,
          reporting: body.definition.reporting,
          totals: { counterfactual: round(r.savings.counterfactual, 3), observed: round(r.savings.observed, 3), avoided: round(r.savings.avoided, 3), fraction: r.savings.fraction === null ? null : round(r.savings.fraction, 5), uncertainty90: u90(r.savings.uncertainty) },
          warnings: r.warnings.map((w) => ({ code: w.code, message: w.message })),
          disqualifications: r.disqualifications.map((w) => ({ code: w.code, message: w.message })),
          override: r.override ?? null,
          eui: r.eui ? { value: round(r.eui.eui, 2), constraint: r.eui.quota?.constraint ?? null, guide: r.eui.quota?.guide ?? null } : null,
          avoidedTco2: r.carbon ? round(r.carbon.avoidedTco2, 3) : null,
          monthly: {
            period: r.savings.monthly.map((m) => m.period),
            counterfactual: r.savings.monthly.map((m) => round(m.counterfactual, 3)),
            observed: r.savings.monthly.map((m) => round(m.observed, 3)),
            avoided: r.savings.monthly.map((m) => round(m.avoided, 3)),
            uncertainty90: r.savings.monthly.map((m) => u90(m.uncertainty.levels)),
          },
          cumulative: {
            period: r.savings.cumulative.map((m) => m.period),
            avoided: r.savings.cumulative.map((m) => round(m.avoided, 3)),
            uncertainty90: r.savings.cumulative.map((m) => u90(m.uncertainty.levels)),
          },
        });
      });
      return { available: true, results };
    },

    /**
     * Coverage of every series (of a site or building) per local day or month, with the gaps:
     * runs of buckets below {@link GAP_COVERAGE_BELOW} after the series' first reading. Only the
     * series of the buildings `visible` keeps.
     * @throws API_NOT_FOUND (a site or building unknown or not visible), API_RANGE_TOO_LARGE, CONSOLE_TOO_MANY_SERIES.
     */
    async coverage(q: { site?: string; building?: string; bucket: '1d' | '1mo'; from?: number; to?: number; tz?: string }, visible: BuildingFilter = ALL_BUILDINGS): Promise<CoverageResult> {
      const to = q.to ?? clock();
      const from = q.from ?? (q.bucket === '1d' ? to - 90 * DAY_MS : to - 365 * DAY_MS);
      if (from >= to) throw new WattproofError('API_REQUEST_INVALID', '`from` must be before `to`', { statusCode: 400, details: { issues: [{ path: 'from', message: 'must be before to' }] } });
      if ((to - from) / BUCKET_MS[q.bucket] > 3_700) throw new WattproofError('API_RANGE_TOO_LARGE', `at most ten years of ${q.bucket} buckets per request`, { statusCode: 400 });
      const sites = await deps.registry.listSites();
      const siteShown = async (id: string) => visible.all || (await visible.filter(await deps.registry.listBuildings(id), (b) => ({ site: b.site, building: b.id }))).length > 0;
      if (q.site && (!sites.some((s) => s.id === q.site) || !(await siteShown(q.site)))) throw notFound(`site ${q.site}`);
      const filter = { ...(q.site ? { site: q.site } : {}), ...(q.building ? { building: q.building } : {}) };
      const [series, latest] = await Promise.all([deps.readings.listSeries(filter).then((x) => visible.filter(x, (r) => r)), deps.readings.latest(filter).then((x) => visible.filter(x, (r) => r))]);
      if (q.building && !series.length && !(await visible.filter(await deps.registry.listMeters(filter), (m) => m)).length) throw notFound(`building ${q.site ?? '*'}/${q.building}`);
      const chosen = visibleSeries(series).sort((a, b) => `${meterKey(a)}|${a.quantity}|${a.kind}`.localeCompare(`${meterKey(b)}|${b.quantity}|${b.kind}`));
      if (chosen.length > MAX_CONSOLE_SERIES) throw new WattproofError('CONSOLE_TOO_MANY_SERIES', `${chosen.length} series; at most ${MAX_CONSOLE_SERIES} per request: choose a site or building`, { statusCode: 400 });
      const tz = q.tz ?? sites.find((s) => s.id === (q.site ?? chosen[0]?.site))?.timezone ?? DEFAULT_TIME_ZONE;
      // One more bucket start than needed gives the end of the last bucket.
      const edges = bucketStarts(from, to + 32 * DAY_MS, q.bucket, tz);
      const time = edges.filter((t) => t < to);
      const index = new Map(time.map((t, i) => [t, i]));
      const bucketEnd = (i: number) => edges[i + 1]!;
      const rows = await aggregateSum(chosen, time[0] ?? from, to, q.bucket, tz);
      const out: CoverageSeries[] = [];
      const gaps: CoverageGap[] = [];
      chosen.forEach((s, k) => {
        const count = new Array<number>(time.length).fill(0);
        const coverage = new Array<number>(time.length).fill(0);
        const own = rows[k]!;
        const typical = median(own.map((r) => r.count));
        for (const r of own) {
          const i = index.get(r.start);
          if (i === undefined) continue;
          count[i] = r.count;
          // The current bucket is measured against the time elapsed so far, not its full length.
          const len = Math.max(1, (Math.min(bucketEnd(i), to) - time[i]!) / 1000);
          const full = (bucketEnd(i) - time[i]!) / 1000;
          coverage[i] = round(Math.min(1, r.coverage !== null ? (r.coverage * full) / len : typical > 0 ? r.count / (typical * (len / full)) : 0), 4);
        }
        const last = latest.filter((r) => meterKey(r) === meterKey(s) && r.quantity === s.quantity).reduce<number | null>((a, r) => (a === null || r.ts > a ? r.ts : a), null);
        out.push({ site: s.site, building: s.building, meter: s.meter, quantity: s.quantity, kind: s.kind, unit: s.unit, coverage, count, lastTs: last });
        const first = count.findIndex((c) => c > 0);
        if (first < 0) return;
        let start = -1;
        for (let i = first; i <= time.length; i++) {
          const low = i < time.length && coverage[i]! < GAP_COVERAGE_BELOW;
          if (low && start < 0) start = i;
          if (!low && start >= 0) {
            const empty = count.slice(start, i).every((c) => c === 0);
            gaps.push({ site: s.site, building: s.building, meter: s.meter, quantity: s.quantity, kind: s.kind, from: time[start]!, to: Math.min(bucketEnd(i - 1), to), buckets: i - start, empty });
            start = -1;
          }
        }
      });
      return { bucket: q.bucket, tz, from: time[0] ?? from, to, time, series: out, gaps };
    },
  };
}

export type ConsoleData = ReturnType<typeof createConsoleData>;
