/**
 * The monthly operator report of one building as data: every figure with its unit, read from the
 * stores (readings aggregated in local calendar months and days, the registry's portfolio, dead
 * letters, register events and the latest M&V results) and the versioned reference data (GB/T
 * 51161 quotas, grid emission factors). `renderMonthlyReportHtml` (html.ts) turns it into a
 * printable document; the API serves it as JSON too.
 */
import {
  createZone,
  eui as euiOf,
  RECORD_KINDS,
  referenceData,
  selectEmissionFactor,
  type AnalysisResult,
  type PeriodSavings,
  type ResultRecordBody,
  type Zone,
} from '@wattproof/analytics';
import { meterKey, TOPIC_ROOT, type Meter, type ReadingStore, type RegistryStore, type SeriesInfo, type StoredReading } from '@wattproof/core';
import { reportError } from './errors.js';
import { DEFAULT_REPORT_LANG, type ReportLang } from './messages.js';

/** A number with its unit. Percentages are in `%` (12.5 = 12.5 %). */
export interface ReportFigure {
  readonly value: number;
  readonly unit: string;
}

/** An active alert as an alert source reports it. */
export interface ReportAlert {
  readonly rule: string;
  readonly severity: string;
  readonly title: string;
  /** The title in Chinese, shown in zh-CN reports when present. */
  readonly titleZh?: string;
  /** ISO 8601 time the alert became active. */
  readonly since: string;
}

export interface MonthlyReportDeps {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  /** Now, epoch ms (the report covers the month up to now when the month is not over). */
  readonly clock?: () => number;
  /** Active alerts of the building; optional (the section says when no source is connected). */
  readonly alerts?: () => Promise<ReportAlert[]>;
}

export interface MonthlyReportRequest {
  readonly site: string;
  readonly building: string;
  /** Local calendar month `YYYY-MM` in the site's time zone. */
  readonly month: string;
  readonly lang?: ReportLang;
  /** Which grid factor to use (DOMAIN.md §3); default CN, location-based. */
  readonly emission?: { readonly region?: string; readonly basis?: 'location' | 'market' };
}

export type ReportMeterRole = 'main' | 'sub' | 'generation' | 'other';

export interface ReportMeter {
  readonly meter: string;
  readonly name?: string;
  readonly quantity?: string;
  readonly endUse?: string;
  readonly parent?: string;
  readonly role: ReportMeterRole;
}

export interface ReportEnergyRow {
  readonly meter: string;
  readonly name?: string;
  readonly quantity: string;
  readonly endUse?: string;
  readonly parent?: string;
  readonly role: ReportMeterRole;
  readonly unit: string;
  readonly month: ReportFigure | null;
  readonly previousMonth: ReportFigure | null;
  readonly sameMonthLastYear: ReportFigure | null;
  readonly changeVsPrevious: ReportFigure | null;
  readonly changeVsLastYear: ReportFigure | null;
  /** Coverage of the interval data in each of the three months. */
  readonly coverage: { readonly month: ReportFigure | null; readonly previousMonth: ReportFigure | null; readonly sameMonthLastYear: ReportFigure | null };
  /** Sub-meters: share of the parent meter's energy in the month. */
  readonly share: ReportFigure | null;
}

export interface ReportPeakDemand {
  readonly demand: ReportFigure;
  /** Start of the interval (or time of the reading) with the peak, ISO 8601 UTC. */
  readonly at: string;
  readonly atMs: number;
  readonly basis: 'interval' | 'instant';
  /** Interval length the demand is averaged over (interval basis). */
  readonly intervalMinutes: number | null;
  readonly average: ReportFigure | null;
  readonly loadFactor: ReportFigure | null;
}

export interface ReportEuiSection {
  readonly floorArea: ReportFigure | null;
  readonly value: ReportFigure | null;
  readonly energy: ReportFigure | null;
  readonly window: { readonly from: string; readonly to: string; readonly days: number; readonly annualised: boolean } | null;
  readonly coverage: ReportFigure | null;
  readonly quota: {
    readonly buildingType: string;
    readonly constraint: ReportFigure;
    readonly guide: ReportFigure;
    readonly confirmed: boolean;
    readonly meetsConstraint: boolean;
    readonly meetsGuide: boolean;
    readonly reference: { readonly id: string; readonly version: string };
  } | null;
  /** The 12 months ending with the report month: that month's intensity and the rolling EUI at its end. */
  readonly trend: Array<{ readonly month: string; readonly intensity: ReportFigure | null; readonly rolling: ReportFigure | null }>;
}

export interface ReportSavingsFigures {
  readonly period: string;
  readonly avoided: ReportFigure;
  readonly counterfactual: ReportFigure;
  readonly observed: ReportFigure;
  readonly fraction: ReportFigure | null;
  /** ± absolute uncertainty of `avoided` at 90 % confidence (ASHRAE Guideline 14). */
  readonly band90: ReportFigure | null;
  readonly adjustedAvoided: ReportFigure;
}

export interface ReportSavingsEntry {
  readonly meter: string;
  readonly fuel: 'electricity' | 'gas';
  readonly resultId: string;
  readonly ranAt: string;
  readonly status: AnalysisResult['status'];
  readonly model: { readonly kind: string; readonly type: string };
  readonly method: { readonly name: string; readonly version: string };
  readonly reporting: { readonly start: string; readonly end: string };
  readonly g14Passed: boolean;
  readonly month: ReportSavingsFigures | null;
  /** Cumulative from the start of the reporting period to the end of the report month (or of the reporting period). */
  readonly cumulative: ReportSavingsFigures | null;
  readonly warnings: Array<{ readonly code: string; readonly message: string }>;
  readonly disqualifications: Array<{ readonly code: string; readonly message: string }>;
  readonly override: { readonly reason: string; readonly by: string } | null;
  readonly lineageDigest: string;
  readonly codeVersion: string;
  /** Cumulative avoided energy to the end of each month up to the report month, with the 90 % band. */
  readonly cumulativeSeries: Array<{ readonly period: string; readonly avoided: number; readonly band90: number | null }>;
  readonly unit: string;
}

export interface ReportCarbonSection {
  readonly factor: { readonly id: string; readonly value: ReportFigure; readonly basis: 'location' | 'market'; readonly source: string; readonly dataYear: number; readonly effectiveFrom: string } | null;
  readonly table: { readonly id: string; readonly version: string; readonly sha256: string };
  readonly emissionsMonth: ReportFigure | null;
  readonly emissionsRolling12: ReportFigure | null;
  readonly intensity: ReportFigure | null;
  readonly avoidedMonth: ReportFigure | null;
  readonly avoidedCumulative: ReportFigure | null;
}

export interface ReportMeterQuality {
  readonly meter: string;
  readonly name?: string;
  readonly quantity: string;
  readonly kind: string;
  readonly readings: number;
  /** Interval series: share of the period with data; null for instantaneous series. */
  readonly coverage: ReportFigure | null;
  readonly gaps: number;
  readonly missing: ReportFigure | null;
  readonly longestGap: { readonly from: string; readonly to: string; readonly duration: ReportFigure } | null;
}

export interface MonthlyReport {
  readonly schema: 'wattproof.report.monthly/1';
  readonly lang: ReportLang;
  readonly generatedAt: string;
  readonly period: {
    readonly month: string;
    readonly timeZone: string;
    /** Local month start and end (exclusive), ISO 8601 UTC. */
    readonly from: string;
    readonly to: string;
    /** End of the data the report covers: the month's end, or now while the month is in progress. */
    readonly until: string;
    readonly inProgress: boolean;
    readonly days: number;
  };
  readonly site: { readonly id: string; readonly name?: string };
  readonly building: { readonly id: string; readonly name?: string; readonly type?: string; readonly floorArea: ReportFigure | null; readonly meters: ReportMeter[] };
  readonly energy: { readonly rows: ReportEnergyRow[]; readonly totalMain: ReportEnergyRow | null; readonly unattributed: ReportFigure | null };
  readonly daily: {
    readonly unit: 'kWh';
    readonly days: string[];
    readonly main: Array<number | null>;
    /** One series per end use of the electricity sub-meters (meters of the same end use summed). */
    readonly endUses: Array<{ readonly endUse: string; readonly values: Array<number | null> }>;
  };
  readonly profile: { readonly unit: 'kW'; readonly workdays: Array<number | null>; readonly weekends: Array<number | null> };
  readonly peak: ReportPeakDemand | null;
  readonly eui: ReportEuiSection;
  readonly savings: ReportSavingsEntry[];
  readonly carbon: ReportCarbonSection;
  readonly quality: {
    readonly meters: ReportMeterQuality[];
    readonly deadLetters: { readonly count: number; readonly complete: boolean; readonly byCode: Array<{ readonly code: string; readonly count: number }> };
    readonly registerEvents: Array<{ readonly meter: string; readonly quantity: string; readonly type: string; readonly at: string; readonly previousValue: number; readonly value: number; readonly note?: string }>;
  };
  readonly alerts: { readonly connected: boolean; readonly available: boolean; readonly items: ReportAlert[] };
  readonly reference: { readonly quotas: { readonly id: string; readonly version: string; readonly sha256: string }; readonly factors: { readonly id: string; readonly version: string; readonly sha256: string } };
}

const MONTH_PATTERN = /^(\d{4})-(0[1-9]|1[0-2])$/;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Quantities whose interval readings are energy or volume use (rows of the energy table). */
const USE_QUANTITIES = new Set(['electricity', 'pv', 'gas', 'water', 'heat', 'cooling']);
/** Dead-letter pages read at most (1,000 each) before the count is reported as a lower bound. */
const MAX_DEAD_LETTER_PAGES = 20;
const RAW_LIMIT = 2_000_000;

const iso = (ms: number) => new Date(ms).toISOString();
const fig = (value: number, unit: string): ReportFigure => ({ value, unit });
const pct = (ratio: number): ReportFigure => ({ value: ratio * 100, unit: '%' });

/** `YYYY-MM` shifted by `n` months. */
function addMonths(month: string, n: number): string {
  const m = MONTH_PATTERN.exec(month);
  if (!m) throw reportError('REPORT_MONTH_INVALID', `month ${JSON.stringify(month)} is not YYYY-MM`);
  const index = Number(m[1]) * 12 + Number(m[2]) - 1 + n;
  const y = Math.floor(index / 12);
  return `${String(y).padStart(4, '0')}-${String(index - y * 12 + 1).padStart(2, '0')}`;
}

/** Start of local month `YYYY-MM` in `zone`, epoch ms. */
function monthStart(zone: Zone, month: string): number {
  return zone.startOfDay(`${month}-01`);
}

interface MonthTotals {
  readonly sum: number;
  readonly coveredS: number | null;
  readonly lengthS: number;
}

interface EnergySeries {
  readonly info: SeriesInfo;
  readonly meter: Meter | undefined;
  readonly role: ReportMeterRole;
  /** Local month `YYYY-MM` → totals (months with data only). */
  readonly months: Map<string, MonthTotals>;
  /** Raw interval readings of the report month. */
  readonly raw: StoredReading[];
}

function roleOf(meter: Meter | undefined, quantity: string): ReportMeterRole {
  if (quantity === 'pv') return 'generation';
  if (quantity !== 'electricity') return 'other';
  return meter?.parent ? 'sub' : 'main';
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Uncovered stretches of [from, until) between interval readings, at least `minMs` long. */
function findGaps(raw: readonly StoredReading[], from: number, until: number, minMs: number): Array<{ from: number; to: number }> {
  const gaps: Array<{ from: number; to: number }> = [];
  let cursor = from;
  for (const r of raw) {
    if (r.ts >= until) break;
    if (r.ts - cursor >= minMs) gaps.push({ from: cursor, to: r.ts });
    cursor = Math.max(cursor, r.ts + (r.intervalS ?? 0) * 1000);
  }
  if (until - cursor >= minMs) gaps.push({ from: cursor, to: until });
  return gaps;
}

function savingsFigures(row: PeriodSavings, unit: string, period = row.period): ReportSavingsFigures {
  const band = row.uncertainty.levels.find((l) => Math.abs(l.confidence - 0.9) < 1e-9);
  return {
    period,
    avoided: fig(row.avoided, unit),
    counterfactual: fig(row.counterfactual, unit),
    observed: fig(row.observed, unit),
    fraction: row.fraction === null ? null : pct(row.fraction),
    band90: band ? fig(band.absolute, unit) : null,
    adjustedAvoided: fig(row.adjustedAvoided, unit),
  };
}

/**
 * Builds the monthly report of one building.
 * @throws WattproofError REPORT_MONTH_INVALID when `month` is not `YYYY-MM` or starts after now;
 *   REPORT_BUILDING_NOT_FOUND when the registry has no such building; store errors as thrown by the stores.
 */
export async function createMonthlyReport(deps: MonthlyReportDeps, request: MonthlyReportRequest): Promise<MonthlyReport> {
  const now = (deps.clock ?? Date.now)();
  const lang = request.lang ?? DEFAULT_REPORT_LANG;
  const { site: siteId, building: buildingId, month } = request;
  if (!MONTH_PATTERN.exec(month)) throw reportError('REPORT_MONTH_INVALID', `month ${JSON.stringify(month)} is not YYYY-MM`, { details: { month } });

  const [sites, buildings, meters] = await Promise.all([deps.registry.listSites(), deps.registry.listBuildings(siteId), deps.registry.listMeters({ site: siteId, building: buildingId })]);
  const building = buildings.find((b) => b.id === buildingId);
  if (!building) throw reportError('REPORT_BUILDING_NOT_FOUND', `no building ${siteId}/${buildingId}`, { details: { site: siteId, building: buildingId } });
  const site = sites.find((s) => s.id === siteId);
  const timeZone = site?.timezone ?? 'Asia/Shanghai';
  const zone = createZone(timeZone);

  const from = monthStart(zone, month);
  const to = monthStart(zone, addMonths(month, 1));
  if (from > now) throw reportError('REPORT_MONTH_INVALID', `month ${month} has not started yet`, { details: { month } });
  const until = Math.min(to, now);
  const inProgress = until < to;
  const elapsedS = (until - from) / 1000;
  const dayCount = Math.round((to - from) / DAY_MS);

  const meterById = new Map(meters.map((m) => [m.meter, m]));
  const series = await deps.readings.listSeries({ site: siteId, building: buildingId });
  const energySeriesInfo = series.filter((s) => s.kind === 'interval' && USE_QUANTITIES.has(s.quantity));

  // Monthly totals of the 24 months ending with the report month (EUI trend, previous month, last year).
  const historyFrom = monthStart(zone, addMonths(month, -23));
  const energy: EnergySeries[] = await Promise.all(
    energySeriesInfo.map(async (info) => {
      const [rows, raw] = await Promise.all([
        deps.readings.aggregate({ ...info, from: historyFrom, to: until, bucket: '1mo', tz: timeZone }),
        deps.readings.query({ site: info.site, building: info.building, meter: info.meter, quantity: info.quantity, kind: 'interval', from, to: until, limit: RAW_LIMIT }),
      ]);
      const months = new Map<string, MonthTotals>();
      for (const r of rows) months.set(zone.date(r.start).slice(0, 7), { sum: r.sum, coveredS: r.coveredS, lengthS: (r.end - r.start) / 1000 });
      const meter = meterById.get(info.meter);
      return { info, meter, role: roleOf(meter, info.quantity), months, raw };
    }),
  );
  energy.sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.info.meter.localeCompare(b.info.meter));

  const previous = addMonths(month, -1);
  const lastYear = addMonths(month, -12);
  const coverageOf = (t: MonthTotals | undefined, lengthS: number) => (t && t.coveredS !== null && lengthS > 0 ? pct(Math.min(1, t.coveredS / lengthS)) : null);
  const change = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b !== 0 ? pct(a / b - 1) : null);

  const mainSeries = energy.filter((e) => e.role === 'main');
  const monthSum = (e: EnergySeries, m: string) => e.months.get(m)?.sum;

  const rows: ReportEnergyRow[] = energy.map((e) => {
    const cur = monthSum(e, month);
    const prev = monthSum(e, previous);
    const ly = monthSum(e, lastYear);
    const parent = e.meter?.parent ? energy.find((p) => p.info.meter === e.meter!.parent && p.info.quantity === e.info.quantity) : undefined;
    const parentSum = parent ? monthSum(parent, month) : undefined;
    return {
      meter: e.info.meter,
      ...(e.meter?.name ? { name: e.meter.name } : {}),
      quantity: e.info.quantity,
      ...(e.meter?.endUse ? { endUse: e.meter.endUse } : {}),
      ...(e.meter?.parent ? { parent: e.meter.parent } : {}),
      role: e.role,
      unit: e.info.unit,
      month: cur === undefined ? null : fig(cur, e.info.unit),
      previousMonth: prev === undefined ? null : fig(prev, e.info.unit),
      sameMonthLastYear: ly === undefined ? null : fig(ly, e.info.unit),
      changeVsPrevious: change(cur, prev),
      changeVsLastYear: change(cur, ly),
      coverage: {
        month: coverageOf(e.months.get(month), elapsedS),
        previousMonth: coverageOf(e.months.get(previous), e.months.get(previous)?.lengthS ?? 0),
        sameMonthLastYear: coverageOf(e.months.get(lastYear), e.months.get(lastYear)?.lengthS ?? 0),
      },
      share: cur !== undefined && parentSum ? pct(cur / parentSum) : null,
    };
  });

  const sumOver = (list: EnergySeries[], m: string): number | undefined => {
    const values = list.map((e) => monthSum(e, m)).filter((v): v is number => v !== undefined);
    return values.length ? values.reduce((a, b) => a + b, 0) : undefined;
  };
  const coveredOver = (list: EnergySeries[], m: string, lengthS: number): ReportFigure | null => {
    if (!list.length || lengthS <= 0) return null;
    const covered = list.reduce((a, e) => a + (e.months.get(m)?.coveredS ?? 0), 0);
    return pct(Math.min(1, covered / (lengthS * list.length)));
  };
  const monthLengthS = (m: string) => (monthStart(zone, addMonths(m, 1)) - monthStart(zone, m)) / 1000;

  let totalMain: ReportEnergyRow | null = null;
  let unattributed: ReportFigure | null = null;
  if (mainSeries.length) {
    const cur = sumOver(mainSeries, month);
    const prev = sumOver(mainSeries, previous);
    const ly = sumOver(mainSeries, lastYear);
    totalMain = {
      meter: '*',
      quantity: 'electricity',
      role: 'main',
      unit: 'kWh',
      month: cur === undefined ? null : fig(cur, 'kWh'),
      previousMonth: prev === undefined ? null : fig(prev, 'kWh'),
      sameMonthLastYear: ly === undefined ? null : fig(ly, 'kWh'),
      changeVsPrevious: change(cur, prev),
      changeVsLastYear: change(cur, ly),
      coverage: { month: coveredOver(mainSeries, month, elapsedS), previousMonth: coveredOver(mainSeries, previous, monthLengthS(previous)), sameMonthLastYear: coveredOver(mainSeries, lastYear, monthLengthS(lastYear)) },
      share: null,
    };
    const mainIds = new Set(mainSeries.map((e) => e.info.meter));
    const subs = energy.filter((e) => e.role === 'sub' && e.meter?.parent && mainIds.has(e.meter.parent));
    if (subs.length && cur !== undefined) unattributed = fig(cur - (sumOver(subs, month) ?? 0), 'kWh');
  }

  // Daily energy: main meters and electricity sub-meters by end use.
  const days: string[] = [];
  for (let t = from; t < to; t = zone.startOfDay(nextLocalDate(zone.date(t)))) days.push(zone.date(t));
  const dayIndex = new Map(days.map((d, i) => [d, i]));
  const dailyOf = async (list: EnergySeries[]): Promise<Array<number | null>> => {
    const values: Array<number | null> = days.map(() => null);
    for (const e of list) {
      const agg = await deps.readings.aggregate({ ...e.info, from, to: until, bucket: '1d', tz: timeZone });
      for (const r of agg) {
        const i = dayIndex.get(zone.date(r.start));
        if (i !== undefined) values[i] = (values[i] ?? 0) + r.sum;
      }
    }
    return values;
  };
  const subsByEndUse = new Map<string, EnergySeries[]>();
  for (const e of energy) {
    if (e.role !== 'sub') continue;
    const key = e.meter?.endUse ?? 'other';
    subsByEndUse.set(key, [...(subsByEndUse.get(key) ?? []), e]);
  }
  const endUseOrder = ['hvac', 'lighting_sockets', 'power', 'special'];
  const endUseKeys = [...subsByEndUse.keys()].sort((a, b) => (endUseOrder.indexOf(a) + 1 || 99) - (endUseOrder.indexOf(b) + 1 || 99) || a.localeCompare(b));
  const daily = {
    unit: 'kWh' as const,
    days,
    main: await dailyOf(mainSeries),
    endUses: await Promise.all(endUseKeys.map(async (endUse) => ({ endUse, values: await dailyOf(subsByEndUse.get(endUse)!) }))),
  };

  // Average load profile (kW by local hour) and peak demand of the main meters.
  const hourly = new Map<number, number>();
  for (const e of mainSeries) {
    const agg = await deps.readings.aggregate({ ...e.info, from, to: until, bucket: '1h', tz: timeZone });
    for (const r of agg) if (r.coveredS) hourly.set(r.start, (hourly.get(r.start) ?? 0) + r.sum / (r.coveredS / 3600));
  }
  const acc = { workdays: Array.from({ length: 24 }, () => [0, 0]), weekends: Array.from({ length: 24 }, () => [0, 0]) };
  for (const [start, kw] of hourly) {
    const p = zone.parts(start);
    const slot = (p.weekday >= 5 ? acc.weekends : acc.workdays)[p.hour]!;
    slot[0]! += kw;
    slot[1]! += 1;
  }
  const profile = {
    unit: 'kW' as const,
    workdays: acc.workdays.map(([s, n]) => (n ? s! / n : null)),
    weekends: acc.weekends.map(([s, n]) => (n ? s! / n : null)),
  };

  const peak = await peakDemand(deps.readings, mainSeries, from, until, totalMain?.month?.value, elapsedS);

  // EUI, rolling 12 months (DOMAIN.md §4), with the analytics' quota lookup.
  const ref = referenceData();
  const area = building.floorAreaM2;
  const rollingAt = (m: string) => {
    const first = addMonths(m, -11);
    const monthsIn = Array.from({ length: 12 }, (_, i) => addMonths(first, i));
    const withData = monthsIn.filter((x) => mainSeries.some((e) => e.months.has(x)));
    if (!withData.length || !area) return undefined;
    const start = monthStart(zone, withData[0]!);
    const end = Math.min(monthStart(zone, addMonths(m, 1)), now);
    const energyKwh = withData.reduce((a, x) => a + (sumOver(mainSeries, x) ?? 0), 0);
    const covered = monthsIn.reduce((a, x) => a + mainSeries.reduce((b, e) => b + (e.months.get(x)?.coveredS ?? 0), 0), 0);
    const windowDays = (end - start) / DAY_MS;
    const result = euiOf({ energyKwh, windowDays, floorAreaM2: area, ...(building.type ? { buildingType: building.type } : {}), quotas: ref.quotas.data });
    return { result, energyKwh, start, end, windowDays, coverage: covered / (((end - monthStart(zone, first)) / 1000) * mainSeries.length) };
  };
  const current = rollingAt(month);
  const euiSection: ReportEuiSection = {
    floorArea: area ? fig(area, 'm²') : null,
    value: current ? fig(current.result.eui, 'kWh/(m²·a)') : null,
    energy: current ? fig(current.energyKwh, 'kWh') : null,
    window: current ? { from: zone.date(current.start), to: zone.date(current.end - 1), days: Math.round(current.windowDays * 10) / 10, annualised: current.windowDays < 364.5 } : null,
    coverage: current ? pct(Math.min(1, current.coverage)) : null,
    quota: current?.result.quota
      ? {
          buildingType: current.result.quota.buildingType,
          constraint: fig(current.result.quota.constraint, 'kWh/(m²·a)'),
          guide: fig(current.result.quota.guide, 'kWh/(m²·a)'),
          confirmed: current.result.quota.confirmed,
          meetsConstraint: current.result.quota.meetsConstraint,
          meetsGuide: current.result.quota.meetsGuide,
          reference: current.result.quota.reference,
        }
      : null,
    trend: Array.from({ length: 12 }, (_, i) => addMonths(month, i - 11)).map((m) => {
      const s = sumOver(mainSeries, m);
      const r = rollingAt(m);
      return { month: m, intensity: s !== undefined && area ? fig(s / area, 'kWh/m²') : null, rolling: r ? fig(r.result.eui, 'kWh/(m²·a)') : null };
    }),
  };

  // Verified savings: the newest M&V result of each meter of the building.
  const records = await deps.registry.listRecords({ kind: RECORD_KINDS.result, keyPrefix: `${siteId}/${buildingId}/`, limit: 1000 });
  const newest = new Map<string, (typeof records)[number]>();
  for (const r of records) if (!newest.has(r.key)) newest.set(r.key, r);
  const savings: ReportSavingsEntry[] = [];
  for (const [key, record] of [...newest].sort(([a], [b]) => a.localeCompare(b))) {
    const body = record.body as ResultRecordBody;
    const result = body.result;
    const unit = body.definition.fuel === 'gas' ? (energySeriesInfo.find((s) => meterKey(s) === key)?.unit ?? 'kWh') : 'kWh';
    const monthRow = result.savings.monthly.find((p) => p.period === month);
    const cumulativeRows = result.savings.cumulative.filter((p) => p.period <= month);
    const lastCumulative = cumulativeRows[cumulativeRows.length - 1];
    savings.push({
      meter: key.slice(`${siteId}/${buildingId}/`.length),
      fuel: body.definition.fuel,
      resultId: record.id,
      ranAt: iso(body.ranAtMs),
      status: result.status,
      model: { kind: result.model.kind, type: result.model.type },
      method: result.lineage.method,
      reporting: body.definition.reporting,
      g14Passed: result.g14.passed,
      month: monthRow ? savingsFigures(monthRow, unit) : null,
      cumulative: lastCumulative ? savingsFigures(lastCumulative, unit) : null,
      warnings: result.warnings.map((w) => ({ code: w.code, message: w.message })),
      disqualifications: result.disqualifications.map((w) => ({ code: w.code, message: w.message })),
      override: result.override ?? null,
      lineageDigest: result.lineage.digest,
      codeVersion: result.lineage.codeVersion,
      cumulativeSeries: cumulativeRows.map((p) => ({ period: p.period, avoided: p.avoided, band90: p.uncertainty.levels.find((l) => Math.abs(l.confidence - 0.9) < 1e-9)?.absolute ?? null })),
      unit,
    });
  }

  // Carbon (DOMAIN.md §3): the factor in force on the month's last day.
  const lastDay = zone.date(to - 1);
  const factor = selectEmissionFactor(ref.factors.data, { region: request.emission?.region ?? 'CN', basis: request.emission?.basis ?? 'location', asOf: lastDay });
  const tco2 = (kwh: number | undefined) => (factor && kwh !== undefined ? fig((kwh * factor.value) / 1000, 'tCO₂') : null);
  const electricitySavings = savings.filter((s) => s.fuel === 'electricity');
  const sumSavings = (pick: (s: ReportSavingsEntry) => ReportSavingsFigures | null) => {
    const values = electricitySavings.map(pick).filter((f): f is ReportSavingsFigures => f !== null);
    return values.length ? values.reduce((a, f) => a + f.avoided.value, 0) : undefined;
  };
  const carbonSection: ReportCarbonSection = {
    factor: factor ? { id: factor.id, value: fig(factor.value, 'kgCO₂/kWh'), basis: factor.basis, source: factor.source, dataYear: factor.dataYear, effectiveFrom: factor.effectiveFrom } : null,
    table: ref.factors.version,
    emissionsMonth: tco2(totalMain?.month?.value),
    emissionsRolling12: tco2(current?.energyKwh),
    intensity: factor && current && area ? fig((current.result.eui * factor.value), 'kgCO₂/(m²·a)') : null,
    avoidedMonth: tco2(sumSavings((s) => s.month)),
    avoidedCumulative: tco2(sumSavings((s) => s.cumulative)),
  };

  // Data quality: coverage and gaps of every interval series, instantaneous series counted.
  const quality: ReportMeterQuality[] = [];
  for (const s of series) {
    const meter = meterById.get(s.meter);
    const base = { meter: s.meter, ...(meter?.name ? { name: meter.name } : {}), quantity: s.quantity, kind: s.kind };
    if (s.kind === 'register') continue; // its derived interval series carries the coverage
    const raw = energy.find((e) => e.info.meter === s.meter && e.info.quantity === s.quantity)?.raw ?? (await deps.readings.query({ site: s.site, building: s.building, meter: s.meter, quantity: s.quantity, kind: s.kind, from, to: until, limit: RAW_LIMIT }));
    if (s.kind !== 'interval') {
      quality.push({ ...base, readings: raw.length, coverage: null, gaps: 0, missing: null, longestGap: null });
      continue;
    }
    const step = median(raw.map((r) => (r.intervalS ?? 0) * 1000).filter((x) => x > 0)) || HOUR_MS;
    let covered = 0;
    let cursor = from;
    for (const r of raw) {
      const end = Math.min(until, r.ts + (r.intervalS ?? 0) * 1000);
      covered += Math.max(0, end - Math.max(cursor, r.ts));
      cursor = Math.max(cursor, end);
    }
    const gaps = findGaps(raw, from, until, step);
    const longest = gaps.reduce<{ from: number; to: number } | undefined>((a, g) => (!a || g.to - g.from > a.to - a.from ? g : a), undefined);
    quality.push({
      ...base,
      readings: raw.length,
      coverage: pct(elapsedS > 0 ? covered / 1000 / elapsedS : 0),
      gaps: gaps.length,
      missing: fig(gaps.reduce((a, g) => a + g.to - g.from, 0) / HOUR_MS, 'h'),
      longestGap: longest ? { from: iso(longest.from), to: iso(longest.to), duration: fig((longest.to - longest.from) / HOUR_MS, 'h') } : null,
    });
  }
  quality.sort((a, b) => a.meter.localeCompare(b.meter) || a.quantity.localeCompare(b.quantity));

  const deadLetters = await deadLettersIn(deps.registry, `${TOPIC_ROOT}/${siteId}/${buildingId}/`, from, until);
  const events = (await deps.registry.listRegisterEvents({ site: siteId, building: buildingId, limit: 1000 }))
    .filter((e) => e.ts >= from && e.ts < until)
    .sort((a, b) => a.ts - b.ts)
    .map((e) => ({ meter: e.meter, quantity: e.quantity, type: e.type, at: iso(e.ts), previousValue: e.previousValue, value: e.value, ...(e.note ? { note: e.note } : {}) }));

  let alerts: MonthlyReport['alerts'] = { connected: false, available: false, items: [] };
  if (deps.alerts) {
    try {
      const items = await deps.alerts();
      alerts = { connected: true, available: true, items: items.map((a) => ({ rule: a.rule, severity: a.severity, title: a.title, ...(a.titleZh ? { titleZh: a.titleZh } : {}), since: a.since })) };
    } catch {
      alerts = { connected: true, available: false, items: [] };
    }
  }

  return {
    schema: 'wattproof.report.monthly/1',
    lang,
    generatedAt: iso(now),
    period: { month, timeZone, from: iso(from), to: iso(to), until: iso(until), inProgress, days: dayCount },
    site: { id: siteId, ...(site?.name ? { name: site.name } : {}) },
    building: {
      id: buildingId,
      ...(building.name ? { name: building.name } : {}),
      ...(building.type ? { type: building.type } : {}),
      floorArea: area ? fig(area, 'm²') : null,
      meters: [...meters]
        .sort((a, b) => a.meter.localeCompare(b.meter))
        .map((m) => ({
          meter: m.meter,
          ...(m.name ? { name: m.name } : {}),
          ...(m.quantity ? { quantity: m.quantity } : {}),
          ...(m.endUse ? { endUse: m.endUse } : {}),
          ...(m.parent ? { parent: m.parent } : {}),
          role: roleOf(m, m.quantity ?? series.find((s) => s.meter === m.meter && USE_QUANTITIES.has(s.quantity))?.quantity ?? ''),
        })),
    },
    energy: { rows, totalMain, unattributed },
    daily,
    profile,
    peak,
    eui: euiSection,
    savings,
    carbon: carbonSection,
    quality: { meters: quality, deadLetters, registerEvents: events },
    alerts,
    reference: { quotas: ref.quotas.version, factors: ref.factors.version },
  };
}

const ROLE_ORDER: Record<ReportMeterRole, number> = { main: 0, sub: 1, generation: 2, other: 3 };

function nextLocalDate(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/** Highest demand of the main meters: from interval energy (mean kW over the interval), else instantaneous kW. */
async function peakDemand(readings: ReadingStore, main: EnergySeries[], from: number, until: number, monthKwh: number | undefined, elapsedS: number): Promise<ReportPeakDemand | null> {
  const average = monthKwh !== undefined && elapsedS > 0 ? monthKwh / (elapsedS / 3600) : undefined;
  const withAverage = (p: Omit<ReportPeakDemand, 'average' | 'loadFactor'>): ReportPeakDemand => ({
    ...p,
    average: average !== undefined ? fig(average, 'kW') : null,
    loadFactor: average !== undefined && p.demand.value > 0 ? pct(average / p.demand.value) : null,
  });
  const byTs = new Map<number, number>();
  const lengths: number[] = [];
  for (const e of main) {
    for (const r of e.raw) {
      if (!r.intervalS) continue;
      lengths.push(r.intervalS);
      byTs.set(r.ts, (byTs.get(r.ts) ?? 0) + r.value / (r.intervalS / 3600));
    }
  }
  let best: [number, number] | undefined;
  for (const entry of byTs) if (!best || entry[1] > best[1]) best = entry;
  if (best) return withAverage({ demand: fig(best[1], 'kW'), at: iso(best[0]), atMs: best[0], basis: 'interval', intervalMinutes: median(lengths) / 60 });
  for (const e of main) {
    const instant = await readings.query({ site: e.info.site, building: e.info.building, meter: e.info.meter, quantity: 'electricity', kind: 'instant', from, to: until, limit: RAW_LIMIT });
    for (const r of instant) if (!best || r.value > best[1]) best = [r.ts, r.value];
  }
  return best ? withAverage({ demand: fig(best[1], 'kW'), at: iso(best[0]), atMs: best[0], basis: 'instant', intervalMinutes: null }) : null;
}

/** Dead letters for the building's topics received in [from, until), newest pages first. */
async function deadLettersIn(registry: RegistryStore, topicPrefix: string, from: number, until: number): Promise<MonthlyReport['quality']['deadLetters']> {
  const byCode = new Map<string, number>();
  let count = 0;
  let before: string | undefined;
  let complete = false;
  for (let page = 0; page < MAX_DEAD_LETTER_PAGES; page++) {
    const letters = await registry.listDeadLetters({ topicPrefix, limit: 1000, ...(before ? { before } : {}) });
    for (const d of letters) {
      if (d.receivedAtMs < from || d.receivedAtMs >= until) continue;
      count++;
      byCode.set(d.code, (byCode.get(d.code) ?? 0) + 1);
    }
    const last = letters[letters.length - 1];
    if (letters.length < 1000 || !last || last.receivedAtMs < from) {
      complete = true;
      break;
    }
    before = last.id;
  }
  return { count, complete, byCode: [...byCode].map(([code, n]) => ({ code, count: n })).sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)) };
}
