/**
 * The readings the ingest saw recently, to tell an exact duplicate (same series, timestamp and
 * value: dropped, or written again while its first copy is not yet durable) from a correction
 * (same series and timestamp, another value: written, counted).
 *
 * History of this module, each step from a measurement:
 * - The key used to be one string per reading (`site/building/meter|quantity|kind|ts`): building
 *   and hashing it, and looking it up twice more (once to mark it durable), were 16 % of the
 *   pipeline's CPU at 1,000 readings per message (bench/ingest-stages.ts, `--cpu-prof`). A message
 *   now resolves its series once per run of readings of one quantity and kind.
 * - Two generations instead of one LRU map: evicting the oldest key of a large Map one at a time
 *   was the ingest's hot spot (Map iteration skips deleted slots); dropping a whole generation is
 *   O(1).
 * - Typed arrays instead of a `Map<series, Map<ts, { value, durable }>>`: each remembered reading
 *   was an entry object, a boxed value and a boxed millisecond timestamp (too large for a small
 *   integer) that lived into V8's old generation and died there. With the cache turning over
 *   (2,000,000 readings through a cache of 200,000), it cost +2.8 µs per reading (+23 %) at 10
 *   readings per message and +0.9 µs at 1,000 against no cache at all
 *   (`npm run bench -- ingest-stages --messages 2000 --dedupe-cache-size 0|200000`,
 *   docs/PERFORMANCE.md, "What the duplicate cache costs once it is full"). Now a generation is an
 *   open-addressing hash table of (series id, timestamp) → entry over typed arrays, and an entry is
 *   a value and a durable flag in typed arrays: remembering a reading allocates nothing.
 *
 * An entry is named by a handle, a number that stays valid, and never names another reading,
 * after its generation is dropped (marking a dropped entry durable does nothing). A correction
 * gets a new entry, so that the write of the value it corrects, when confirmed, does not mark the
 * correction durable. The capacity counts entries; between capacity/2 and capacity are kept.
 */

/** The series of readings of one meter, quantity and kind, as `seriesId()` numbers it. */
export type SeriesId = number;
/** One remembered reading; `NO_ENTRY` when there is none. */
export type EntryHandle = number;
export const NO_ENTRY: EntryHandle = -1;

export interface RecentReadings {
  /** The number of a series key (`seriesKey()`): resolve it once per run of readings. */
  seriesId(series: string): SeriesId;
  /** The newest remembered reading of the series at `ts`, or `NO_ENTRY`. */
  find(series: SeriesId, ts: number): EntryHandle;
  /** The value of a remembered reading (a handle `find` just returned). */
  value(entry: EntryHandle): number;
  /** Whether a write of the reading is confirmed (a handle `find` just returned). */
  isDurable(entry: EntryHandle): boolean;
  /**
   * Remembers `value` as the newest reading of the series at `ts`, not yet durable, and returns
   * its handle (mark it durable once written). With a capacity of 0 nothing is remembered and
   * the handle is `NO_ENTRY`.
   */
  remember(series: SeriesId, ts: number, value: number): EntryHandle;
  /** Records that the reading's write is confirmed; nothing if it was forgotten since. */
  markDurable(entry: EntryHandle): void;
  /** Entries in the newer generation (for tests). */
  size(): number;
  /** Series keys numbered and not yet dropped (for tests). */
  seriesCount(): number;
}

/** Handles are generation × SPAN + entry index; a generation holds at most SPAN entries. */
const SPAN = 2 ** 24;
const MAX_HALF = SPAN;

interface Generation {
  /** Which generation this is (handles carry it). */
  number: number;
  /** Hash slots: series id + 1 (0: empty), timestamp, entry index. */
  readonly slotSeries: Int32Array;
  readonly slotTs: Float64Array;
  readonly slotEntry: Int32Array;
  /** Entries: value and durable flag. */
  readonly values: Float64Array;
  readonly durable: Uint8Array;
  entries: number;
}

function createGeneration(number: number, half: number): Generation {
  // At most half entries, so at most half keys: a table of at least twice that keeps probes short.
  let slots = 16;
  while (slots < half * 2) slots *= 2;
  return {
    number,
    slotSeries: new Int32Array(slots),
    slotTs: new Float64Array(slots),
    slotEntry: new Int32Array(slots),
    values: new Float64Array(half),
    durable: new Uint8Array(half),
    entries: 0,
  };
}

/** A hash of (series, timestamp): MurmurHash3's 32-bit finalizer over both halves of the time. */
function slotHash(series: number, ts: number): number {
  let h = Math.imul(ts | 0, 0xcc9e2d51) ^ Math.imul((ts / 4294967296) | 0, 0x1b873593) ^ Math.imul(series, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The slot of (series, ts) in `g`: the one holding it, or the empty one where it would go. */
function probe(g: Generation, series: number, ts: number): number {
  const mask = g.slotSeries.length - 1;
  const tag = series + 1;
  let i = slotHash(series, ts) & mask;
  for (;;) {
    const s = g.slotSeries[i]!;
    if (s === 0 || (s === tag && g.slotTs[i] === ts)) return i;
    i = (i + 1) & mask;
  }
}

/** Series numbers are never reused; past this many, everything is forgotten and numbering restarts. */
const MAX_SERIES_ID = 2 ** 31 - 2;

interface SeriesNumber {
  readonly id: SeriesId;
  /** The generation that was newest when the series was last resolved. */
  lastGeneration: number;
  /** The latest timestamp ever remembered under this number (-Infinity: none). */
  newestTs: number;
}

export function createRecentReadings(capacity: number): RecentReadings {
  if (capacity === 0) return createForgetful();
  const half = Math.min(MAX_HALF, Math.max(1, Math.floor(capacity / 2)));
  // Series keys to numbers. A series not resolved while either live generation was the newer one
  // has no entry left and is dropped from the map once it holds `pruneAt` keys, so the map stays
  // in proportion to the series seen recently, not all series ever. Numbers are never reused
  // (a dropped series that comes back gets a new one), so an entry left under an old number can
  // never be taken for another series' reading: at worst a duplicate goes unnoticed and is
  // written again, which is idempotent.
  let ids = new Map<string, SeriesNumber>();
  // The same by number, for `remember` and `find` of a series other than the one `seriesId` last
  // resolved (`current`, the pipeline's case: one series per run of readings).
  let byId = new Map<SeriesId, SeriesNumber>();
  let current: SeriesNumber | undefined;
  let nextId = 0;
  let pruneAt = 2 * Math.max(capacity, 65_536);
  let recent = createGeneration(1, half);
  // The generation before; starts empty (number 0 never matches a handle of a later one).
  let older = createGeneration(0, half);

  /** The series number behind an id; undefined once dropped. */
  const numberOf = (series: SeriesId): SeriesNumber | undefined => (current !== undefined && current.id === series ? current : byId.get(series));
  const generationOf = (entry: EntryHandle): Generation | undefined => {
    const n = Math.floor(entry / SPAN);
    return n === recent.number ? recent : n === older.number ? older : undefined;
  };
  const findIn = (g: Generation, series: number, ts: number): EntryHandle => {
    if (g.entries === 0) return NO_ENTRY;
    const i = probe(g, series, ts);
    return g.slotSeries[i] === 0 ? NO_ENTRY : g.number * SPAN + g.slotEntry[i]!;
  };
  const turnOver = () => {
    // The older generation is forgotten whole, and its arrays hold the new one.
    const next = older;
    next.number = recent.number + 1;
    next.slotSeries.fill(0);
    next.entries = 0;
    older = recent;
    recent = next;
  };

  return {
    seriesId(series) {
      let s = ids.get(series);
      if (s === undefined) {
        if (ids.size >= pruneAt) {
          for (const [key, n] of ids) {
            if (n.lastGeneration < older.number) {
              ids.delete(key);
              byId.delete(n.id);
            }
          }
          // Everything still live: let the map grow rather than scan it for every new series.
          if (ids.size * 2 > pruneAt) pruneAt = ids.size * 2;
        }
        if (nextId > MAX_SERIES_ID) {
          ids = new Map();
          byId = new Map();
          nextId = 0;
          turnOver();
          turnOver();
        }
        ids.set(series, (s = { id: nextId++, lastGeneration: 0, newestTs: Number.NEGATIVE_INFINITY }));
        byId.set(s.id, s);
      }
      s.lastGeneration = recent.number;
      current = s;
      return s.id;
    },
    find(series, ts) {
      // A reading later than any remembered of its series (a meter's next reading, nearly every
      // reading) is not in either table: no probe. The probes of both generations, each a cache
      // miss or three in tables of millions of slots, were 7 % of the ingest's sampled CPU at 10
      // readings per message and 40,000 readings/s (`npm run bench -- ingest --cpu-prof`,
      // 2026-12-02, docs/PERFORMANCE.md "The duplicate cache skips readings newer than its series").
      const s = numberOf(series);
      if (s !== undefined && ts > s.newestTs) return NO_ENTRY;
      const e = findIn(recent, series, ts);
      return e !== NO_ENTRY ? e : findIn(older, series, ts);
    },
    value(entry) {
      const g = generationOf(entry);
      return g ? g.values[entry % SPAN]! : NaN;
    },
    isDurable(entry) {
      const g = generationOf(entry);
      return g !== undefined && g.durable[entry % SPAN] === 1;
    },
    remember(series, ts, value) {
      // A number no longer in `byId` was dropped: `find` under it takes the probes, never the
      // shortcut, so it needs no bound.
      const s = numberOf(series);
      if (s !== undefined && ts > s.newestTs) s.newestTs = ts;
      const g = recent;
      const e = g.entries++;
      g.values[e] = value;
      g.durable[e] = 0;
      const i = probe(g, series, ts);
      g.slotSeries[i] = series + 1;
      g.slotTs[i] = ts;
      g.slotEntry[i] = e;
      const handle = g.number * SPAN + e;
      if (g.entries >= half) turnOver();
      return handle;
    },
    markDurable(entry) {
      if (entry === NO_ENTRY) return;
      const g = generationOf(entry);
      if (g) g.durable[entry % SPAN] = 1;
    },
    size() {
      return recent.entries;
    },
    seriesCount() {
      return ids.size;
    },
  };
}

/** A capacity of 0: nothing is remembered, every reading is new. */
function createForgetful(): RecentReadings {
  return {
    seriesId: () => 0,
    find: () => NO_ENTRY,
    value: () => NaN,
    isDurable: () => false,
    remember: () => NO_ENTRY,
    markDurable() {},
    size: () => 0,
    seriesCount: () => 0,
  };
}

/** The key of a series of readings: meter, quantity and kind. */
export function seriesKey(meter: string, quantity: string, kind: string): string {
  return `${meter}|${quantity}|${kind}`;
}
