/**
 * The DuckDB store's fast aggregation (zone offsets as integer arithmetic, ingest/src/stores/duckdb.ts)
 * against the reference it replaced for speed: the same SQL with ICU's `timezone()` on every row,
 * run here on the same file with DuckDB itself. Rows must be identical, floats to the last bit, for
 * 15 min, 1 h, 1 d and 1 month buckets, in zones with DST (changes at 01:00 UTC, at 02:00 local, at
 * local midnight, by 30 min), with fixed offsets, with a half-hour offset, and over ranges that
 * start mid-day, cross a DST change or a UTC year, or start before 1970 (where the store itself
 * falls back to ICU).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AggregateQuery, AggregateRow, Bucket, ReadingKind, StoredReading } from '@wattproof/core';
import { BUCKETS } from '@wattproof/core';
import { createDuckDbReadingStore, tzOffsetMs, tzOffsetSpans } from '@wattproof/ingest/stores';

const MIN = 60_000;
const DAY = 86_400_000;
const at = (iso: string): number => Date.parse(iso);

// Europe/Berlin and America/New_York change at 01:00 UTC and 02:00 local; America/Santiago at local
// midnight (the day of the September change starts at 01:00); Australia/Lord_Howe by 30 min (hours
// start at :00 or :30 UTC depending on the season); Asia/Kolkata is +05:30; Asia/Shanghai +08:00.
const ZONES = ['Asia/Shanghai', 'Europe/Berlin', 'America/New_York', 'America/Santiago', 'Australia/Lord_Howe', 'Asia/Kolkata'] as const;

// Readings around every DST change of 2025 in these zones, and across the turn of the year (the
// store computes zone offsets per UTC year): early March to mid-April, late August to mid-November,
// the last ten days of December to early January.
const DATA: ReadonlyArray<readonly [number, number]> = [
  [at('2025-03-01T00:00:00Z'), at('2025-04-20T00:00:00Z')],
  [at('2025-08-25T00:00:00Z'), at('2025-11-10T00:00:00Z')],
  [at('2025-12-21T00:00:00Z'), at('2026-01-05T00:00:00Z')],
];

/** Ranges queried in every zone: all data, a window across the March change, and one from before 1970. */
const RANGES: ReadonlyArray<{ label: string; from: number; to: number }> = [
  { label: 'all (crosses 2025 → 2026)', from: at('2025-01-01T00:00:00Z'), to: at('2026-02-01T00:00:00Z') },
  { label: 'mid-day window', from: at('2025-03-27T13:45:00Z'), to: at('2025-04-08T07:15:00Z') },
  { label: 'September to November', from: at('2025-09-01T00:00:00Z'), to: at('2025-11-15T00:00:00Z') },
  { label: 'from before 1970 (ICU path)', from: -DAY, to: at('2025-04-01T00:00:00Z') },
];

const ref = (tz: string) => ({ site: 'agg', building: 'b', meter: tz.replace('/', '-') });

/** 15-min interval readings with values whose sums depend on the order of addition. */
function intervalReadings(tz: string): StoredReading[] {
  const out: StoredReading[] = [];
  let i = 0;
  for (const [from, to] of DATA) {
    for (let ts = from; ts < to; ts += 15 * MIN, i++) {
      // A gap of a few hours now and then: not every bucket is full.
      if (i % 997 < 9) continue;
      out.push({ ...ref(tz), quantity: 'electricity', kind: 'interval', unit: 'kWh', ts, value: Math.sin(i) * 1e3 + i / 7, intervalS: i % 5 === 0 ? 600 : 900 });
    }
  }
  return out;
}

/** Instant readings every 40 min, 7 s past: buckets without coverage, some hours without a reading. */
function instantReadings(tz: string): StoredReading[] {
  const out: StoredReading[] = [];
  let i = 0;
  for (const [from, to] of DATA) {
    for (let ts = from + 7_000; ts < to; ts += 40 * MIN, i++) {
      out.push({ ...ref(tz), quantity: 'outdoor_temperature', kind: 'instant', unit: '°C', ts, value: Math.cos(i / 50) * 15 + 0.1 });
    }
  }
  return out;
}

/** The store's aggregation before the fast path: ICU on every row (duckdb.ts, verbatim). */
function referenceSql(bucket: Bucket): string {
  let startSql: string;
  let endSql: string;
  if (bucket === '15m' || bucket === '1h') {
    const len = bucket === '15m' ? 900_000 : 3_600_000;
    startSql = `epoch_ms(ts) - (((epoch_ms(timezone($tz, ts)) % ${len}) + ${len}) % ${len})`;
    endSql = `${startSql} + ${len}`;
  } else {
    const unit = bucket === '1d' ? 'day' : 'month';
    const localStart = `date_trunc('${unit}', timezone($tz, ts))`;
    startSql = `epoch_ms(timezone($tz, ${localStart}))`;
    endSql = `epoch_ms(timezone($tz, ${localStart} + INTERVAL 1 ${unit}))`;
  }
  const tsParam = (p: string) => `make_timestamptz(CAST($${p} AS BIGINT) * 1000)`;
  return `
    WITH b AS (
      SELECT (${startSql})::DOUBLE AS start_ms, (${endSql})::DOUBLE AS end_ms, value, interval_s FROM readings
      WHERE series = CAST($series AS INTEGER)
        AND ts >= ${tsParam('from')} AND ts < ${tsParam('to')}
    )
    SELECT start_ms, end_ms, count(*)::DOUBLE, sum(value), min(value), max(value), coalesce(sum(interval_s), 0)::DOUBLE
    FROM b GROUP BY start_ms, end_ms ORDER BY start_ms`;
}

async function reference(conn: DuckDBConnection, q: AggregateQuery): Promise<AggregateRow[]> {
  const { bucket, tz, from, to, ...key } = q;
  const ids = (await conn.runAndReadAll('SELECT id FROM series WHERE site = $site AND building = $building AND meter = $meter AND quantity = $quantity AND kind = $kind', key)).getRows();
  const rows = (await conn.runAndReadAll(referenceSql(bucket), { series: Number(ids[0]![0]), tz, from, to })).getRows() as number[][];
  const interval = q.kind === 'interval';
  return rows.map(([start, end, count, sum, min, max, coveredS]) => ({
    start: start!,
    end: end!,
    count: count!,
    sum: sum!,
    mean: sum! / count!,
    min: min!,
    max: max!,
    coveredS: interval ? coveredS! : null,
    coverage: interval ? coveredS! / ((end! - start!) / 1000) : null,
  }));
}

interface Case {
  readonly name: string;
  readonly query: AggregateQuery;
}

// Every zone, range and bucket for the interval series; the instant series (no coverage) over all data.
const CASES: Case[] = ZONES.flatMap((tz) =>
  (['interval', 'instant'] as ReadingKind[]).flatMap((kind) =>
    RANGES.filter((r, i) => kind === 'interval' || i === 0).flatMap((r) =>
      BUCKETS.map((bucket) => ({
        name: `${tz} ${kind} ${bucket} ${r.label}`,
        query: { ...ref(tz), quantity: kind === 'interval' ? 'electricity' : 'outdoor_temperature', kind, bucket, tz, from: r.from, to: r.to },
      })),
    ),
  ),
);

describe('DuckDB aggregate: fast path = ICU reference', () => {
  let dir: string;
  let instance: DuckDBInstance | undefined;
  let conn: DuckDBConnection;
  const got = new Map<string, AggregateRow[]>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wattproof-duckdb-aggregate-'));
    const path = join(dir, 'readings.duckdb');
    const store = createDuckDbReadingStore({ path });
    try {
      for (const tz of ZONES) await store.write([...intervalReadings(tz), ...instantReadings(tz)]);
      for (const c of CASES) got.set(c.name, await store.aggregate(c.query));
    } finally {
      await store.close();
    }
    // The store holds the file's lock: the reference runs after it closed, single-threaded as the store.
    instance = await DuckDBInstance.create(path, { threads: '1' });
    conn = await instance.connect();
    await conn.run(`SET TimeZone = 'UTC'`);
  }, 120_000);

  afterAll(async () => {
    conn?.closeSync();
    instance?.closeSync();
    await rm(dir, { recursive: true, force: true });
  });

  it.each(CASES)('$name', async ({ name, query }) => {
    const expected = await reference(conn, query);
    const actual = got.get(name)!;
    expect(actual.length).toBe(expected.length);
    expect(actual).toEqual(expected);
  });

  it('covers what it claims: DST days of 23 and 25 hours, hours at :30 UTC, a day starting at 01:00', () => {
    const hours = (tz: string, bucket: Bucket, range: string) => got.get(`${tz} interval ${bucket} ${range}`)!;
    const berlinDays = hours('Europe/Berlin', '1d', 'all (crosses 2025 → 2026)').map((r) => (r.end - r.start) / 3_600_000);
    expect(berlinDays).toContain(23);
    expect(berlinDays).toContain(25);
    const lordHowe = hours('Australia/Lord_Howe', '1h', 'all (crosses 2025 → 2026)').map((r) => new Date(r.start).getUTCMinutes());
    expect(new Set(lordHowe)).toEqual(new Set([0, 30]));
    const santiago = hours('America/Santiago', '1d', 'September to November').find((r) => r.end - r.start === 23 * 3_600_000)!;
    expect(new Date(santiago.start).toISOString()).toBe('2025-09-07T04:00:00.000Z'); // 01:00 local, -03
  });
});

describe('tzOffsetSpans', () => {
  it.each([...ZONES, 'UTC', 'America/St_Johns', 'Africa/Casablanca', 'Pacific/Apia', 'Africa/Monrovia'])('%s: every instant gets the offset Intl gives it', (tz) => {
    const from = at('1970-01-01T00:00:00Z');
    const to = at('2040-01-01T00:00:00Z');
    const spans = tzOffsetSpans(from, to, tz)!;
    expect(spans[0]!.start).toBe(from);
    expect(spans.at(-1)!.end).toBe(to);
    spans.forEach((s, i) => {
      expect(s.start).toBeLessThan(s.end);
      if (i > 0) {
        expect(s.start).toBe(spans[i - 1]!.end);
        expect(s.offsetMs).not.toBe(spans[i - 1]!.offsetMs);
      }
      // Both sides of every change, and the middle of the span.
      expect(tzOffsetMs(s.start, tz)).toBe(s.offsetMs);
      expect(tzOffsetMs(s.end - 1, tz)).toBe(s.offsetMs);
      expect(tzOffsetMs(Math.floor((s.start + s.end) / 2), tz)).toBe(s.offsetMs);
    });
    // And a deterministic scatter of instants: each falls in a span with its offset.
    for (let k = 0; k < 2000; k++) {
      const t = from + Math.floor(((k * 2654435761) % 4294967296) / 4294967296 * (to - from));
      const span = spans.find((s) => s.start <= t && t < s.end)!;
      expect(span.offsetMs, new Date(t).toISOString()).toBe(tzOffsetMs(t, tz));
    }
  });

  it('answers only for 1970-2199 and non-empty ranges', () => {
    expect(tzOffsetSpans(-1, at('2000-01-01T00:00:00Z'), 'UTC')).toBeUndefined();
    expect(tzOffsetSpans(at('2100-01-01T00:00:00Z'), at('2300-01-01T00:00:00Z'), 'UTC')).toBeUndefined();
    expect(tzOffsetSpans(5, 5, 'UTC')).toBeUndefined();
    expect(tzOffsetSpans(at('2025-06-01T00:00:00Z'), at('2025-06-02T00:00:00Z'), 'Asia/Shanghai')).toEqual([
      { start: at('2025-06-01T00:00:00Z'), end: at('2025-06-02T00:00:00Z'), offsetMs: 8 * 3_600_000 },
    ]);
  });
});
