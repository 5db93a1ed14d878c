/**
 * In-process `ReadingStore` for unit tests and demos: nothing survives the process.
 * Keeps one map per series keyed by `ts`; the sorted view is rebuilt lazily after writes.
 */
import type { AggregateQuery, AggregateRow, MeterRef, ReadingQuery, ReadingStore, SeriesInfo, SeriesRef, StoredReading } from '@wattproof/core';
import { seriesKey } from './series-key.js';
import {
  addTotals,
  assertAggregateArgs,
  assertRange,
  bucketOf,
  compareReadings,
  compareSeries,
  emptyTotals,
  matchesMeter,
  normaliseReading,
  toAggregateRow,
  type BucketRange,
} from './buckets.js';
import { storeError } from './errors.js';

interface SeriesState {
  readonly ref: SeriesRef;
  readonly byTs: Map<number, StoredReading>;
  sorted: StoredReading[] | undefined;
}

/** Index of the first reading with `ts >= t` in a ts-sorted array. */
function lowerBound(rows: readonly StoredReading[], t: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((rows[mid] as StoredReading).ts < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Creates an empty in-memory reading store. */
export function createMemoryReadingStore(): ReadingStore {
  const series = new Map<string, SeriesState>();
  let closed = false;

  function ensureOpen(): void {
    if (closed) throw storeError('STORE_UNAVAILABLE', 'memory reading store is closed');
  }

  function sortedOf(s: SeriesState): StoredReading[] {
    if (!s.sorted) s.sorted = [...s.byTs.values()].sort((a, b) => a.ts - b.ts);
    return s.sorted;
  }

  function newest(s: SeriesState): StoredReading | undefined {
    const rows = sortedOf(s);
    return rows[rows.length - 1];
  }

  return {
    name: 'memory',

    async init() {
      ensureOpen();
    },

    async write(readings) {
      ensureOpen();
      for (const r of readings) {
        const key = seriesKey(r);
        let s = series.get(key);
        if (!s) {
          s = { ref: { site: r.site, building: r.building, meter: r.meter, quantity: r.quantity, kind: r.kind }, byTs: new Map(), sorted: undefined };
          series.set(key, s);
        }
        s.byTs.set(r.ts, normaliseReading(r));
        s.sorted = undefined;
      }
    },

    async query(q: ReadingQuery) {
      ensureOpen();
      assertRange(q.from, q.to);
      const out: StoredReading[] = [];
      for (const s of series.values()) {
        const r = s.ref;
        if (r.site !== q.site || r.building !== q.building || r.meter !== q.meter) continue;
        if ((q.quantity !== undefined && r.quantity !== q.quantity) || (q.kind !== undefined && r.kind !== q.kind)) continue;
        const rows = sortedOf(s);
        for (let i = lowerBound(rows, q.from); i < rows.length; i++) {
          const row = rows[i] as StoredReading;
          if (row.ts >= q.to) break;
          out.push(row);
        }
      }
      out.sort(compareReadings);
      return q.limit === undefined ? out : out.slice(0, Math.max(0, q.limit));
    },

    async aggregate(q: AggregateQuery) {
      ensureOpen();
      assertAggregateArgs(q.bucket, q.tz, q.from, q.to);
      const s = series.get(seriesKey(q));
      if (!s) return [];
      const rows = sortedOf(s);
      const out: AggregateRow[] = [];
      let range: BucketRange | undefined;
      let totals = emptyTotals();
      for (let i = lowerBound(rows, q.from); i < rows.length; i++) {
        const row = rows[i] as StoredReading;
        if (row.ts >= q.to) break;
        // Rows are sorted, so a bucket only changes when ts leaves the current one.
        if (!range || row.ts >= range.end) {
          if (range) out.push(toAggregateRow(range, q.kind, totals));
          range = bucketOf(row.ts, q.bucket, q.tz);
          totals = emptyTotals();
        }
        addTotals(totals, { count: 1, sum: row.value, min: row.value, max: row.value, coveredS: row.intervalS ?? 0 });
      }
      if (range) out.push(toAggregateRow(range, q.kind, totals));
      return out;
    },

    async latest(filter?: Partial<MeterRef>) {
      ensureOpen();
      const out: StoredReading[] = [];
      for (const s of series.values()) {
        if (!matchesMeter(s.ref, filter)) continue;
        const last = newest(s);
        if (last) out.push(last);
      }
      return out.sort(compareSeries);
    },

    async listSeries(filter?: Partial<MeterRef>) {
      ensureOpen();
      const out: SeriesInfo[] = [];
      for (const s of series.values()) {
        if (!matchesMeter(s.ref, filter)) continue;
        const last = newest(s);
        if (last) out.push({ ...s.ref, unit: last.unit });
      }
      return out.sort(compareSeries);
    },

    async ping() {
      return !closed;
    },

    async close() {
      closed = true;
      series.clear();
    },
  };
}
