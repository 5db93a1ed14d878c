/**
 * What every rule of one evaluation reads: the portfolio and the newest reading of each series,
 * listed once, plus helpers shared by the rules (alert ids, a meter's usual interval, text).
 */
import { meterKey, type Building, type Logger, type Meter, type MeterRef, type ReadingStore, type RegistryStore, type SeriesInfo, type Site, type StoredReading } from '@wattproof/core';
import type { AlertsConfig } from './config.js';
import type { AlertRule, AlertSubject } from './types.js';

/** Time zone of a site the registry does not know (DOMAIN.md §1). */
export const DEFAULT_ALERT_TIME_ZONE = 'Asia/Shanghai';

/** A meter with its series and their newest readings. */
export interface MeterInfo {
  readonly ref: MeterRef;
  /** The registry's entry; absent for a meter that has readings but is not registered. */
  readonly meter?: Meter;
  readonly series: readonly SeriesInfo[];
  readonly latest: readonly StoredReading[];
}

export interface EvaluationContext {
  readonly now: number;
  readonly config: AlertsConfig;
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  readonly logger: Logger;
  readonly sites: ReadonlyMap<string, Site>;
  readonly buildings: readonly Building[];
  readonly meters: readonly MeterInfo[];
  timeZone(site: string): string;
  /** A meter's usual interval (cached for the evaluation). */
  usualInterval(info: MeterInfo, series: SeriesInfo): Promise<UsualInterval>;
}

export interface UsualInterval {
  readonly seconds: number;
  /** Where it came from: the readings' interval_s, the median spacing of the last day's readings, or ALERT_SILENT_DEFAULT_INTERVAL_S. */
  readonly source: 'interval_s' | 'median_spacing' | 'default';
}

const DAY_MS = 86_400_000;

/** Stable alert id: `<rule>:<site>[:<building>[:<meter>]]` (ids never contain `:`). */
export function alertId(rule: AlertRule, subject: AlertSubject): string {
  return [rule, subject.site, subject.building, subject.meter].filter((p) => p !== undefined).join(':');
}

/** Reads the portfolio and the newest readings once for all rules. */
export async function createEvaluationContext(deps: { readings: ReadingStore; registry: RegistryStore; logger: Logger }, config: AlertsConfig, now: number): Promise<EvaluationContext> {
  const [sites, buildings, meters, series, latest] = await Promise.all([
    deps.registry.listSites(),
    deps.registry.listBuildings(),
    deps.registry.listMeters(),
    deps.readings.listSeries(),
    deps.readings.latest(),
  ]);
  const byKey = new Map<string, { ref: MeterRef; meter?: Meter; series: SeriesInfo[]; latest: StoredReading[] }>();
  const entry = (ref: MeterRef) => {
    const key = meterKey(ref);
    let e = byKey.get(key);
    if (!e) {
      e = { ref: { site: ref.site, building: ref.building, meter: ref.meter }, series: [], latest: [] };
      byKey.set(key, e);
    }
    return e;
  };
  for (const m of meters) entry(m).meter = m;
  for (const s of series) entry(s).series.push(s);
  for (const r of latest) entry(r).latest.push(r);
  const siteMap = new Map(sites.map((s) => [s.id, s]));
  const cache = new Map<string, Promise<UsualInterval>>();

  async function usual(info: MeterInfo, s: SeriesInfo): Promise<UsualInterval> {
    const newest = info.latest.find((r) => r.quantity === s.quantity && r.kind === s.kind);
    if (newest?.intervalS && newest.intervalS > 0) return { seconds: newest.intervalS, source: 'interval_s' };
    if (newest) {
      // Median spacing of the last day's readings: robust to a few gaps or bursts.
      const rows = await deps.readings.query({ ...info.ref, quantity: s.quantity, kind: s.kind, from: newest.ts - DAY_MS, to: newest.ts + 1, limit: 100_000 });
      const ts = [...new Set(rows.map((r) => r.ts))].sort((a, b) => a - b);
      const gaps = ts.slice(1).map((t, i) => t - ts[i]!);
      if (gaps.length >= 2) {
        gaps.sort((a, b) => a - b);
        const mid = gaps.length >> 1;
        const median = gaps.length % 2 ? gaps[mid]! : (gaps[mid - 1]! + gaps[mid]!) / 2;
        if (median > 0) return { seconds: median / 1000, source: 'median_spacing' };
      }
    }
    return { seconds: config.ALERT_SILENT_DEFAULT_INTERVAL_S, source: 'default' };
  }

  return {
    now,
    config,
    readings: deps.readings,
    registry: deps.registry,
    logger: deps.logger,
    sites: siteMap,
    buildings,
    meters: [...byKey.values()],
    timeZone: (site) => siteMap.get(site)?.timezone ?? DEFAULT_ALERT_TIME_ZONE,
    usualInterval(info, s) {
      const key = `${meterKey(info.ref)}|${s.quantity}|${s.kind}`;
      let p = cache.get(key);
      if (!p) {
        p = usual(info, s);
        cache.set(key, p);
      }
      return p;
    },
  };
}

/** The series that stands for a meter in coverage and silence checks: interval, else instant, else register. */
export function primarySeries(info: MeterInfo): SeriesInfo | undefined {
  const order = { interval: 0, instant: 1, register: 2 } as const;
  return [...info.series].sort((a, b) => order[a.kind] - order[b.kind] || a.quantity.localeCompare(b.quantity))[0];
}

/** End of what a reading covers: interval readings cover [ts, ts + intervalS). */
export function readingEnd(r: StoredReading): number {
  return r.kind === 'interval' && r.intervalS ? r.ts + r.intervalS * 1000 : r.ts;
}

export const iso = (ms: number): string => new Date(ms).toISOString();

/** `2 h 15 min`, `3 d 4 h`, `45 s`. */
export function durationEn(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** `2 小时 15 分钟`, `3 天 4 小时`, `45 秒`. */
export function durationZh(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} 秒`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} 分钟`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} 小时 ${m % 60} 分钟` : `${h} 小时`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} 天 ${h % 24} 小时` : `${d} 天`;
}

/** A number for a message: at most `digits` decimals, no trailing zeros. */
export function num(value: number, digits = 1): string {
  return Number(value.toFixed(digits)).toString();
}

export const pct = (fraction: number): string => `${num(fraction * 100, 1)} %`;

/** Rounds for evidence: keeps the numbers readable without losing what matters. */
export function round(value: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
