/**
 * The integrity ledger's records (docs/integrity.md): a `reading-seal` per series and local day
 * (Merkle root of the day's stored readings, chained per series) and a `reading-amendment` per
 * reading written into a day that was already sealed. Both are append-only registry records
 * keyed by their series, so a series' chain is read with one indexed key lookup.
 */
import { createHash } from 'node:crypto';
import {
  leafHash,
  leafLine,
  merkleRoot,
  RECORD_KEY_MAX_LENGTH,
  type MeterRef,
  type ReadingStore,
  type RecordQuery,
  type RegistryStore,
  type SeriesRef,
  type StoredReading,
  type StoredRecord,
} from '@wattproof/core';
import { localDay, tzOffsetMs, wallToInstant } from '../stores/buckets.js';

/** Record kind of a day seal. */
export const SEAL_RECORD_KIND = 'reading-seal';
/** Record kind of an amendment (a reading written into a sealed day). */
export const AMENDMENT_RECORD_KIND = 'reading-amendment';
/**
 * Format of a seal body; also the first element of the array its hash is taken over. Version 1
 * roots are over `wattproof.leaf/1` lines in a `wattproof.merkle/1` tree (core/src/merkle.ts).
 */
export const SEAL_FORMAT = 'wattproof.reading-seal/1';
/** Format of an amendment body. */
export const AMENDMENT_FORMAT = 'wattproof.reading-amendment/1';

/** The seal of one local day of one series: what a `reading-seal` record's body holds. */
export interface ReadingSeal {
  readonly format: typeof SEAL_FORMAT;
  readonly series: SeriesRef;
  /** IANA zone of the local days; fixed by the series' first seal. */
  readonly timeZone: string;
  /** Local date `YYYY-MM-DD`. */
  readonly day: string;
  /** The day's bounds, epoch ms: [fromMs, toMs). */
  readonly fromMs: number;
  readonly toMs: number;
  /** Stored readings of the series in the day, and their Merkle root (hex). */
  readonly readings: number;
  readonly root: string;
  /** 1 for the first seal of the day, then +1 for each re-seal after amendments. */
  readonly version: number;
  /** Position in the series' chain, from 1. */
  readonly seq: number;
  /** `hash` of the series' previous seal (seq − 1); null for seq 1. */
  readonly prev: string | null;
  /** End of the latest day the chain has sealed so far (this one included), epoch ms. */
  readonly throughMs: number;
  /** Newest amendment record id of the series read before the readings were queried; null when none. */
  readonly amendmentsThrough: string | null;
  /** Amendments of this day this version takes in (ids after the previous version's `amendmentsThrough`). */
  readonly amendments: number;
  /** Lateness allowance in force (INGEST_SEAL_AFTER_S). */
  readonly sealAfterS: number;
  readonly sealedAtMs: number;
  /** sha256 (hex) of the seal's fields, see `sealHash`. */
  readonly hash: string;
}

export type SealFields = Omit<ReadingSeal, 'hash'>;

/** Why a reading in a sealed day was written. */
export type AmendmentReason = 'late' | 'correction' | 'concurrent';

/** A reading written into a sealed day: what a `reading-amendment` record's body holds. */
export interface ReadingAmendment {
  readonly format: typeof AMENDMENT_FORMAT;
  readonly series: SeriesRef;
  readonly unit: string;
  readonly ts: number;
  readonly value: number;
  readonly intervalS?: number;
  /** The value it replaced, when known (the ingest's dedupe cache, or the sealer's snapshot). */
  readonly previousValue?: number;
  /** `late`: new reading in a sealed day; `correction`: another value for a known reading; `concurrent`: written while the day was being sealed. */
  readonly reason: AmendmentReason;
  /** The sealed local day it falls in, in the series' seal zone. */
  readonly day: string;
  readonly timeZone: string;
  /** Who recorded it: the ingest (with the message topic) or the sealer (`concurrent`). */
  readonly source: 'ingest' | 'sealer';
  readonly topic?: string;
  readonly clientId?: string;
  readonly receivedAtMs: number;
}

/** `site/building/meter/quantity/kind`: how reports name a series. */
export function seriesName(s: SeriesRef): string {
  return `${s.site}/${s.building}/${s.meter}/${s.quantity}/${s.kind}`;
}

/**
 * Registry key of a series' seals and amendments: its name, cut to RECORD_KEY_MAX_LENGTH. A cut
 * key (ids near their 64-character limit) may be shared by two series of one meter; readers
 * always match the body's series, so the key is only an index. It starts with `site/building/meter/`
 * (at most 195 characters), so filters by site, building or meter are key prefixes.
 */
export function seriesRecordKey(s: SeriesRef): string {
  return seriesName(s).slice(0, RECORD_KEY_MAX_LENGTH);
}

/** Key prefix of the records of a site, building or meter (every record when the filter is empty). */
export function filterKeyPrefix(filter: Partial<MeterRef>): string | undefined {
  if (filter.site === undefined) return undefined;
  if (filter.building === undefined) return `${filter.site}/`;
  if (filter.meter === undefined) return `${filter.site}/${filter.building}/`;
  return `${filter.site}/${filter.building}/${filter.meter}/`;
}

export function sameSeries(a: SeriesRef, b: SeriesRef): boolean {
  return a.site === b.site && a.building === b.building && a.meter === b.meter && a.quantity === b.quantity && a.kind === b.kind;
}

export function matchesFilter(s: SeriesRef, filter: Partial<MeterRef>): boolean {
  return (filter.site === undefined || s.site === filter.site) && (filter.building === undefined || s.building === filter.building) && (filter.meter === undefined || s.meter === filter.meter);
}

/**
 * A seal's hash: sha256 (hex) of the UTF-8 `JSON.stringify` of the array
 * `[format, site, building, meter, quantity, kind, timeZone, day, fromMs, toMs, readings, root,
 * version, seq, prev, throughMs, amendmentsThrough, amendments, sealAfterS, sealedAtMs]`
 * (an array of strings, integers and nulls: its JSON text is canonical).
 */
export function sealHash(f: SealFields): string {
  const s = f.series;
  const fields = [
    f.format, s.site, s.building, s.meter, s.quantity, s.kind, f.timeZone, f.day, f.fromMs, f.toMs, f.readings, f.root,
    f.version, f.seq, f.prev, f.throughMs, f.amendmentsThrough, f.amendments, f.sealAfterS, f.sealedAtMs,
  ];
  return createHash('sha256').update(JSON.stringify(fields), 'utf8').digest('hex');
}

const HEX64 = /^[0-9a-f]{64}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);

function parseSeries(v: unknown): SeriesRef | undefined {
  if (!isObj(v) || ![v.site, v.building, v.meter, v.quantity, v.kind].every(isStr)) return undefined;
  return { site: v.site, building: v.building, meter: v.meter, quantity: v.quantity, kind: v.kind } as SeriesRef;
}

/** A seal record's body, checked field by field; undefined when it is not a seal of this format. */
export function parseSeal(body: unknown): ReadingSeal | undefined {
  if (!isObj(body) || body.format !== SEAL_FORMAT) return undefined;
  const series = parseSeries(body.series);
  const b = body;
  const ok =
    series !== undefined &&
    isStr(b.timeZone) &&
    typeof b.day === 'string' && DATE.test(b.day) &&
    isInt(b.fromMs) && isInt(b.toMs) && b.toMs > b.fromMs &&
    isInt(b.readings) && b.readings >= 0 &&
    typeof b.root === 'string' && HEX64.test(b.root) &&
    isInt(b.version) && b.version >= 1 &&
    isInt(b.seq) && b.seq >= 1 &&
    (b.prev === null || (typeof b.prev === 'string' && HEX64.test(b.prev))) &&
    isInt(b.throughMs) &&
    (b.amendmentsThrough === null || isStr(b.amendmentsThrough)) &&
    isInt(b.amendments) && b.amendments >= 0 &&
    isInt(b.sealAfterS) &&
    isInt(b.sealedAtMs) &&
    typeof b.hash === 'string' && HEX64.test(b.hash);
  if (!ok) return undefined;
  return {
    format: SEAL_FORMAT,
    series: series!,
    timeZone: b.timeZone as string,
    day: b.day as string,
    fromMs: b.fromMs as number,
    toMs: b.toMs as number,
    readings: b.readings as number,
    root: b.root as string,
    version: b.version as number,
    seq: b.seq as number,
    prev: b.prev as string | null,
    throughMs: b.throughMs as number,
    amendmentsThrough: b.amendmentsThrough as string | null,
    amendments: b.amendments as number,
    sealAfterS: b.sealAfterS as number,
    sealedAtMs: b.sealedAtMs as number,
    hash: b.hash as string,
  };
}

/** An amendment record's body; undefined when it is not an amendment of this format. */
export function parseAmendment(body: unknown): ReadingAmendment | undefined {
  if (!isObj(body) || body.format !== AMENDMENT_FORMAT) return undefined;
  const series = parseSeries(body.series);
  const b = body;
  const ok =
    series !== undefined &&
    isStr(b.unit) &&
    isInt(b.ts) &&
    typeof b.value === 'number' &&
    (b.intervalS === undefined || isInt(b.intervalS)) &&
    (b.previousValue === undefined || typeof b.previousValue === 'number') &&
    (b.reason === 'late' || b.reason === 'correction' || b.reason === 'concurrent') &&
    typeof b.day === 'string' && DATE.test(b.day) &&
    isStr(b.timeZone) &&
    (b.source === 'ingest' || b.source === 'sealer') &&
    isInt(b.receivedAtMs);
  return ok ? (body as unknown as ReadingAmendment) : undefined;
}

/** A local day: its date and bounds [fromMs, toMs). */
export interface LocalDay {
  readonly day: string;
  readonly fromMs: number;
  readonly toMs: number;
}

/** The local day of instant `ts` in `tz` (DST-aware, ingest/src/stores/buckets.ts). */
export function localDayOf(ts: number, tz: string): LocalDay {
  const { start, end } = localDay(ts, tz);
  // The wall clock at the day's first instant is 00:00 (or the end of a DST gap) of that date.
  const day = new Date(start + tzOffsetMs(start, tz)).toISOString().slice(0, 10);
  return { day, fromMs: start, toMs: end };
}

/** First instant of local date `YYYY-MM-DD` in `tz`. */
export function localDateStart(date: string, tz: string): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return wallToInstant(Date.UTC(y, m - 1, d), tz);
}

/** The canonical leaf line of a stored reading (`wattproof.leaf/1`, docs/packs.md). */
export function readingLeaf(r: StoredReading): string {
  return leafLine(
    { site: r.site, building: r.building, meter: r.meter, quantity: r.quantity, kind: r.kind, unit: r.unit },
    { ts: r.ts, value: r.value, ...(r.intervalS !== undefined ? { intervalS: r.intervalS } : {}) },
  );
}

/** Readings and Merkle root of one local day. */
export interface DayDigest extends LocalDay {
  readonly readings: number;
  readonly root: string;
  /** The day's readings in leaf order. */
  readonly rows: readonly StoredReading[];
}

/**
 * Groups a series' readings by local day and computes each day's root over its leaf lines in
 * ascending `ts` (ties — two units at one instant, possible in InfluxDB — by line text).
 */
export function digestDays(readings: readonly StoredReading[], tz: string, keepRows = true): DayDigest[] {
  const lines = readings.map((r) => ({ r, line: readingLeaf(r) }));
  lines.sort((a, b) => a.r.ts - b.r.ts || (a.line < b.line ? -1 : a.line > b.line ? 1 : 0));
  const out: DayDigest[] = [];
  let i = 0;
  while (i < lines.length) {
    const d = localDayOf(lines[i]!.r.ts, tz);
    let j = i;
    while (j < lines.length && lines[j]!.r.ts < d.toMs) j++;
    const day = lines.slice(i, j);
    out.push({ ...d, readings: day.length, root: merkleRoot(day.map((l) => leafHash(l.line))), rows: keepRows ? day.map((l) => l.r) : [] });
    i = j;
  }
  return out;
}

/** Readings read per store query while sealing or verifying; a page ends on a day boundary. */
export const SEAL_PAGE_READINGS = 100_000;

/**
 * A series' readings in [from, to) by local day: one store query per `pageReadings` readings
 * (default SEAL_PAGE_READINGS; a page is cut at the start of its last day, which the next page
 * reads whole; a day larger than a page is read on its own without a limit).
 */
export async function readSeriesDays(
  store: ReadingStore,
  series: SeriesRef,
  from: number,
  to: number,
  tz: string,
  options: { keepRows?: boolean; pageReadings?: number } = {},
): Promise<DayDigest[]> {
  const keepRows = options.keepRows ?? true;
  const page = options.pageReadings ?? SEAL_PAGE_READINGS;
  const out: DayDigest[] = [];
  const q = { site: series.site, building: series.building, meter: series.meter, quantity: series.quantity, kind: series.kind };
  let start = from;
  while (start < to) {
    const rows = await store.query({ ...q, from: start, to, limit: page });
    if (rows.length < page) {
      out.push(...digestDays(rows, tz, keepRows));
      break;
    }
    const last = localDayOf(rows[rows.length - 1]!.ts, tz);
    if (last.fromMs <= start) {
      // One day fills a whole page: read that day without a limit.
      out.push(...digestDays(await store.query({ ...q, from: start, to: Math.min(last.toMs, to) }), tz, keepRows));
      start = last.toMs;
      continue;
    }
    out.push(...digestDays(rows.filter((r) => r.ts < last.fromMs), tz, keepRows));
    start = last.fromMs;
  }
  return out;
}

/**
 * Every record of a query, newest first, page by page: the first page holds `firstPage` records,
 * each next one ten times more, up to 1,000 (a reader that usually needs the newest record or
 * two does not read a thousand).
 */
export async function* allRecords(registry: RegistryStore, q: Omit<RecordQuery, 'limit' | 'before'>, firstPage = 1000): AsyncGenerator<StoredRecord> {
  let before: string | undefined;
  let limit = Math.min(1000, Math.max(1, firstPage));
  for (;;) {
    const page = await registry.listRecords({ ...q, limit, ...(before !== undefined ? { before } : {}) });
    for (const r of page) yield r;
    if (page.length < limit) return;
    before = page[page.length - 1]!.id;
    limit = Math.min(1000, limit * 10);
  }
}

/** Registry ids sort by arrival as strings (RegistryStore): a < b means a arrived first. */
export function idAfter(id: string, cursor: string | null): boolean {
  return cursor === null || id > cursor;
}
