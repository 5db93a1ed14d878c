/**
 * Aggregation buckets shared by the reading-store adapters.
 *
 * - `15m` and `1h` are fixed-length (900 s, 3600 s) and aligned to the local clock of the zone at
 *   the reading (for whole-hour offsets that is the UTC grid; for Asia/Kolkata hours start at :30 UTC).
 *   This is what InfluxQL's `GROUP BY time(...) tz(...)` does.
 * - `1d` and `1mo` are local calendar days and months: they start at local midnight and last
 *   23 h or 25 h on DST change days. A local midnight that does not exist (a DST gap at 00:00)
 *   starts the day at the first instant after the gap.
 *
 * Time zones are resolved with `Intl.DateTimeFormat` (Node ships full ICU).
 */
import type { AggregateRow, Bucket, MeterRef, ReadingKind, SeriesRef, StoredReading } from '@wattproof/core';
import { BUCKETS } from '@wattproof/core';
import { storeError } from './errors.js';

/** Length of the fixed buckets, ms. */
export const FIXED_BUCKET_MS = { '15m': 900_000, '1h': 3_600_000 } as const;

const DAY_MS = 86_400_000;

/** A half-open range [start, end) of epoch ms. */
export interface BucketRange {
  readonly start: number;
  readonly end: number;
}

interface LocalParts {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: tz,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
        era: 'short',
      });
    } catch (cause) {
      throw storeError('STORE_QUERY_INVALID', `unknown time zone ${JSON.stringify(tz)}`, { cause, details: { tz } });
    }
    formatters.set(tz, f);
  }
  return f;
}

/**
 * Checks that `tz` is an IANA time zone this runtime knows.
 * @throws WattproofError STORE_QUERY_INVALID when it is not.
 */
export function assertTimeZone(tz: string): void {
  formatter(tz);
}

/**
 * Checks an aggregate query's bucket, zone and bounds before an adapter runs it.
 * @throws WattproofError STORE_QUERY_INVALID
 */
export function assertAggregateArgs(bucket: Bucket, tz: string, from: number, to: number): void {
  if (!(BUCKETS as readonly string[]).includes(bucket)) {
    throw storeError('STORE_QUERY_INVALID', `unknown bucket ${JSON.stringify(bucket)}; use one of ${BUCKETS.join(', ')}`, { details: { bucket } });
  }
  assertRange(from, to);
  assertTimeZone(tz);
}

/**
 * Checks that a time range is made of finite epoch-ms numbers.
 * @throws WattproofError STORE_QUERY_INVALID
 */
export function assertRange(from: number, to: number): void {
  if (!Number.isFinite(from) || !Number.isFinite(to)) {
    throw storeError('STORE_QUERY_INVALID', 'query bounds must be finite epoch milliseconds', { details: { from, to } });
  }
}

function localParts(ts: number, tz: string): LocalParts {
  const out = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  let bc = false;
  for (const p of formatter(tz).formatToParts(ts)) {
    switch (p.type) {
      case 'year':
      case 'month':
      case 'day':
      case 'hour':
      case 'minute':
      case 'second':
        out[p.type] = Number(p.value);
        break;
      case 'era':
        bc = p.value === 'BC' || p.value === 'B';
        break;
      default:
        break;
    }
  }
  if (bc) out.year = 1 - out.year;
  return out;
}

/** UTC offset of `tz` at instant `ts`, ms (local wall clock = ts + offset). */
export function tzOffsetMs(ts: number, tz: string): number {
  const p = localParts(ts, tz);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  // Date.UTC maps years 0-99 to 1900-1999.
  const wallFixed = p.year >= 0 && p.year < 100 ? new Date(wall).setUTCFullYear(p.year) : wall;
  return wallFixed - (ts - mod(ts, 1000));
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

/**
 * The first instant whose local wall clock in `tz` reads `wall` (a wall time written as UTC ms).
 * Ambiguous wall times (DST fall-back) give the earlier instant; wall times inside a DST gap
 * give the instant the gap ends.
 */
export function wallToInstant(wall: number, tz: string): number {
  const before = tzOffsetMs(wall - DAY_MS, tz);
  const after = tzOffsetMs(wall + DAY_MS, tz);
  let best: number | undefined;
  for (const t of before === after ? [wall - before] : [wall - before, wall - after]) {
    if (t + tzOffsetMs(t, tz) === wall && (best === undefined || t < best)) best = t;
  }
  if (best !== undefined) return best;
  // Inside a gap: the wall clock jumps over `wall`; find the jump by bisection.
  let lo = wall - Math.max(before, after);
  let hi = wall - Math.min(before, after);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (mid + tzOffsetMs(mid, tz) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** A stretch of constant UTC offset: instants in [start, end) have local wall clock = instant + offsetMs. */
export interface OffsetSpan {
  readonly start: number;
  readonly end: number;
  readonly offsetMs: number;
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();
// "GMT", "GMT+08:00", "GMT-03:30", "GMT-00:44:30" (seconds for pre-1972 local mean time).
const LONG_OFFSET = /GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/**
 * `tzOffsetMs` in one `format()` call: about 7 times cheaper than `formatToParts` with every field,
 * which matters when sampling a zone once a day for years (see {@link tzOffsetSpans}).
 */
function fastOffsetMs(ts: number, tz: string): number {
  let f = offsetFormatters.get(tz);
  if (!f) {
    assertTimeZone(tz);
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' });
    offsetFormatters.set(tz, f);
  }
  const m = LONG_OFFSET.exec(f.format(ts));
  if (!m) return tzOffsetMs(ts, tz);
  if (m[1] === undefined) return 0;
  const ms = ((Number(m[2]) * 60 + Number(m[3])) * 60 + Number(m[4] ?? 0)) * 1000;
  return m[1] === '-' ? -ms : ms;
}

/** First and last UTC year {@link tzOffsetSpans} answers for: tz data before 1970 differs between ICU builds. */
export const OFFSET_SPAN_YEARS = { first: 1970, last: 2199 } as const;
const MAX_CACHED_ZONE_YEARS = 4096;
const zoneYears = new Map<string, readonly OffsetSpan[]>();

/** Offset spans of one UTC calendar year, cached: the offset sampled once a day, changes bisected to the ms. */
function zoneYear(tz: string, year: number): readonly OffsetSpan[] {
  const key = `${tz}\n${year}`;
  const hit = zoneYears.get(key);
  if (hit) return hit;
  const y0 = Date.UTC(year, 0, 1);
  const y1 = Date.UTC(year + 1, 0, 1);
  const spans: OffsetSpan[] = [];
  let start = y0;
  let offset = fastOffsetMs(y0, tz);
  // Adds every change in (lo, hi]; lo has offLo, hi has offHi. A change that reverts between two
  // samples would not be seen: in Node's tz data (2025c) no offset since 1970 lasts less than 7 days
  // (America/Boa_Vista, October 2000; all 418 zones checked every 3 h from 1970 to 2040).
  const changes = (lo: number, offLo: number, hi: number, offHi: number): void => {
    if (offLo === offHi) return;
    if (hi - lo === 1) {
      spans.push({ start, end: hi, offsetMs: offset });
      start = hi;
      offset = offHi;
      return;
    }
    const mid = Math.floor((lo + hi) / 2);
    const offMid = fastOffsetMs(mid, tz);
    changes(lo, offLo, mid, offMid);
    changes(mid, offMid, hi, offHi);
  };
  let prev = y0;
  let prevOff = offset;
  for (let t = Math.min(y0 + DAY_MS, y1 - 1); ; t = Math.min(t + DAY_MS, y1 - 1)) {
    const off = fastOffsetMs(t, tz);
    changes(prev, prevOff, t, off);
    prev = t;
    prevOff = off;
    if (t === y1 - 1) break;
  }
  spans.push({ start, end: y1, offsetMs: offset });
  if (zoneYears.size >= MAX_CACHED_ZONE_YEARS) zoneYears.delete(zoneYears.keys().next().value as string);
  zoneYears.set(key, spans);
  return spans;
}

/**
 * The UTC offsets of `tz` over [from, to): spans of constant offset in time order, the first
 * starting at `from`, the last ending at `to`, neighbours with different offsets. Each UTC year is
 * computed once (about 365 `Intl` calls) and cached. `undefined` when the range is empty or leaves
 * the years {@link OFFSET_SPAN_YEARS}.
 * @throws WattproofError STORE_QUERY_INVALID for an unknown zone.
 */
export function tzOffsetSpans(from: number, to: number, tz: string): OffsetSpan[] | undefined {
  if (!(from < to) || from < Date.UTC(OFFSET_SPAN_YEARS.first, 0, 1) || to > Date.UTC(OFFSET_SPAN_YEARS.last + 1, 0, 1)) return undefined;
  const out: OffsetSpan[] = [];
  for (let year = new Date(from).getUTCFullYear(); Date.UTC(year, 0, 1) < to; year++) {
    for (const s of zoneYear(tz, year)) {
      const start = Math.max(s.start, from);
      const end = Math.min(s.end, to);
      if (start >= end) continue;
      const last = out.at(-1);
      if (last && last.offsetMs === s.offsetMs) out[out.length - 1] = { start: last.start, end, offsetMs: s.offsetMs };
      else out.push({ start, end, offsetMs: s.offsetMs });
    }
  }
  return out;
}

function localMidnight(year: number, monthIndex: number, day: number, tz: string): number {
  const d = new Date(0);
  d.setUTCFullYear(year, monthIndex, day);
  d.setUTCHours(0, 0, 0, 0);
  return wallToInstant(d.getTime(), tz);
}

/** Start and end of the local day of `ts` in `tz`, epoch ms. */
export function localDay(ts: number, tz: string): BucketRange {
  const p = localParts(ts, tz);
  return { start: localMidnight(p.year, p.month - 1, p.day, tz), end: localMidnight(p.year, p.month - 1, p.day + 1, tz) };
}

/** Start and end of the local month of `ts` in `tz`, epoch ms. */
export function localMonth(ts: number, tz: string): BucketRange {
  const p = localParts(ts, tz);
  return { start: localMidnight(p.year, p.month - 1, 1, tz), end: localMidnight(p.year, p.month, 1, tz) };
}

/** The bucket that contains instant `ts`. */
export function bucketOf(ts: number, bucket: Bucket, tz: string): BucketRange {
  switch (bucket) {
    case '15m':
    case '1h': {
      const len = FIXED_BUCKET_MS[bucket];
      const start = ts - mod(ts + tzOffsetMs(ts, tz), len);
      return { start, end: start + len };
    }
    case '1d':
      return localDay(ts, tz);
    case '1mo':
      return localMonth(ts, tz);
  }
}

/** Running totals of one bucket. */
export interface BucketTotals {
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Σ intervalS, s. */
  coveredS: number;
}

/** Fresh totals for an empty bucket. */
export function emptyTotals(): BucketTotals {
  return { count: 0, sum: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, coveredS: 0 };
}

/** Adds one bucket's totals into another (e.g. local days into their month). */
export function addTotals(into: BucketTotals, t: BucketTotals): void {
  into.count += t.count;
  into.sum += t.sum;
  into.min = Math.min(into.min, t.min);
  into.max = Math.max(into.max, t.max);
  into.coveredS += t.coveredS;
}

/**
 * Turns a bucket's totals into the port's row. Coverage is only defined for `interval` series:
 * coveredS / bucket length in s.
 */
export function toAggregateRow(range: BucketRange, kind: ReadingKind, t: BucketTotals): AggregateRow {
  const interval = kind === 'interval';
  return {
    start: range.start,
    end: range.end,
    count: t.count,
    sum: t.sum,
    mean: t.sum / t.count,
    min: t.min,
    max: t.max,
    coveredS: interval ? t.coveredS : null,
    coverage: interval ? t.coveredS / ((range.end - range.start) / 1000) : null,
  };
}

/** Order of raw readings the adapters return: by `ts`, then quantity, then kind. */
export function compareReadings(a: StoredReading, b: StoredReading): number {
  return a.ts - b.ts || cmp(a.quantity, b.quantity) || cmp(a.kind, b.kind);
}

/** Order of series the adapters return: site, building, meter, quantity, kind. */
export function compareSeries(a: SeriesRef, b: SeriesRef): number {
  return cmp(a.site, b.site) || cmp(a.building, b.building) || cmp(a.meter, b.meter) || cmp(a.quantity, b.quantity) || cmp(a.kind, b.kind);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True when `ref` matches every field the filter sets. */
export function matchesMeter(ref: MeterRef, filter: Partial<MeterRef> | undefined): boolean {
  return (
    filter === undefined ||
    ((filter.site === undefined || filter.site === ref.site) &&
      (filter.building === undefined || filter.building === ref.building) &&
      (filter.meter === undefined || filter.meter === ref.meter))
  );
}

/** A reading with exactly the port's fields; `intervalS` only for `interval` readings. */
export function normaliseReading(r: StoredReading): StoredReading {
  const base = { site: r.site, building: r.building, meter: r.meter, quantity: r.quantity, kind: r.kind, unit: r.unit, ts: r.ts, value: r.value };
  return r.kind === 'interval' && r.intervalS !== undefined ? { ...base, intervalS: r.intervalS } : base;
}
