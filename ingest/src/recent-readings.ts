/**
 * The readings the ingest saw recently, to tell an exact duplicate (same series, timestamp and
 * value: dropped, or written again while its first copy is not yet durable) from a correction
 * (same series and timestamp, another value: written, counted).
 *
 * Keyed by series, then by timestamp as a number. The key used to be one string per reading
 * (`site/building/meter|quantity|kind|ts`): building and hashing it, and looking it up twice more
 * (once to mark it durable), were 16 % of the pipeline's CPU at 1,000 readings per message, plus
 * the garbage of one string per reading (bench/ingest-stages.ts, `--cpu-prof`). Now a message
 * builds its series key once per run of readings of one quantity and kind, and keeps the entries
 * it remembered, so that marking them durable is a field write, not a lookup.
 *
 * Two generations instead of one LRU map: evicting the oldest key of a large Map one at a time
 * was the ingest's hot spot (Map iteration skips deleted slots); dropping a whole generation is
 * O(1). The capacity counts readings; between capacity/2 and capacity are remembered.
 */

/** What the ingest remembers of one reading: its value, and whether a write of it is confirmed. */
export interface RecentReading {
  readonly value: number;
  durable: boolean;
}

type Generation = Map<string, Map<number, RecentReading>>;

export interface RecentReadings {
  /** The newest remembered reading of `series` at `ts`, if any. */
  get(series: string, ts: number): RecentReading | undefined;
  /**
   * Remembers `value` as the newest reading of `series` at `ts`, not yet durable, and returns the
   * entry (mark it durable once written). With a capacity of 0 nothing is remembered.
   */
  set(series: string, ts: number, value: number): RecentReading;
  /** Readings remembered in the newer generation (for tests). */
  size(): number;
}

export function createRecentReadings(capacity: number): RecentReadings {
  const half = Math.max(1, Math.floor(capacity / 2));
  let recent: Generation = new Map();
  let older: Generation = new Map();
  let recentCount = 0;
  return {
    get(series, ts) {
      return recent.get(series)?.get(ts) ?? older.get(series)?.get(ts);
    },
    set(series, ts, value) {
      const entry: RecentReading = { value, durable: false };
      if (capacity === 0) return entry;
      let byTs = recent.get(series);
      if (!byTs) recent.set(series, (byTs = new Map()));
      const before = byTs.size;
      byTs.set(ts, entry);
      if (byTs.size > before && ++recentCount >= half) {
        older = recent;
        recent = new Map();
        recentCount = 0;
      }
      return entry;
    },
    size() {
      return recentCount;
    },
  };
}

/** The key of a series of readings: meter, quantity and kind. */
export function seriesKey(meter: string, quantity: string, kind: string): string {
  return `${meter}|${quantity}|${kind}`;
}
