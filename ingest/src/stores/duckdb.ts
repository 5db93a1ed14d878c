/**
 * Embedded `ReadingStore` on DuckDB (`@duckdb/node-api`): one file, no server.
 *
 * Tables: `series` numbers each (site, building, meter, quantity, kind) once; `readings` holds
 * (series, ts) as its primary key with `ts` a TIMESTAMPTZ (ms precision), `unit`, `value` DOUBLE
 * and `interval_s` INTEGER (interval readings only). The view `reading_rows` joins them back into
 * one row per reading with its ids, for SQL by hand. Series ids are cached in the store (it is the
 * only writer: DuckDB locks the file). Writes go through the appender into a temp staging table,
 * then one `INSERT OR REPLACE ... SELECT` upserts the batch (last write wins). Files of the layout
 * before series ids (one table keyed by the five ids and ts) are migrated when opened. Buckets are computed in SQL:
 * local offsets as integer arithmetic from the zone's offset spans (see {@link fastAggregatePlan}),
 * start and end of local days and months with ICU (`timezone()`, `date_trunc`), so they honour DST.
 * DuckDB runs one statement per connection at a time: every call is queued on the one connection.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBPreparedStatement, type DuckDBValue } from '@duckdb/node-api';
import { silentLogger, WattproofError } from '@wattproof/core';
import type { AggregateQuery, AggregateRow, Logger, MeterRef, Quantity, ReadingKind, ReadingQuery, ReadingStore, StoredReading, Unit } from '@wattproof/core';
import { assertAggregateArgs, assertRange, compareSeries, FIXED_BUCKET_MS, toAggregateRow, tzOffsetSpans, type OffsetSpan } from './buckets.js';
import { storeError } from './errors.js';
import { seriesKey } from './series-key.js';

/** Options of the DuckDB reading store. */
export interface DuckDbReadingStoreOptions {
  /** Database file (its parent directory is created), or `:memory:`. */
  readonly path: string;
  /**
   * DuckDB worker threads, default {@link DEFAULT_DUCKDB_THREADS}. The store runs one statement at
   * a time on one connection; more threads only pay off for scans of many row groups (122,880 rows
   * each) on a machine with idle cores.
   */
  readonly threads?: number;
  /** Where the store says what it does on its own: migrating a file of the first layout (info). */
  readonly logger?: Logger;
}

/**
 * DuckDB worker threads of the store. One: statements here are small (an ingest batch, one series'
 * range, mostly a single row group), and on a busy machine extra threads cost more than they give:
 * with 2 threads the same aggregate used up to twice the CPU (a thread waiting for another's task
 * keeps polling). Measured on the loaded 2-core bench machine (load average 5-6): `aggregate()` of a
 * meter-year into hours, median of 10, 6 alternating runs each: 13-35 ms with 1 thread against
 * 20-58 ms with DuckDB's default (one per core); 100 upserts of 5,000 readings into one table took
 * a third less CPU with 1 thread.
 */
export const DEFAULT_DUCKDB_THREADS = 1;

/**
 * Why series ids (issue 8, embedded store at >= 50 % of InfluxDB with 1,000 readings per message):
 * with the five ids as VARCHAR columns of the primary key, maintaining that index under upsert was
 * 8.9 of the store's 12-14 us per reading. With one INTEGER for the series, the same upsert of 1,000
 * readings took 6.0-6.9 us per reading and staging, upsert and clearing 7.8-8.7 against 13.1-13.8
 * (a scratch loop of these statements, 300 batches of 1,000 readings into a file, one thread,
 * alternating, 2026-12-03). docs/PERFORMANCE.md, "The embedded store with series ids".
 */
const SCHEMA_SQL = [
  `CREATE TABLE IF NOT EXISTS series (
    id       INTEGER PRIMARY KEY,
    site     VARCHAR NOT NULL,
    building VARCHAR NOT NULL,
    meter    VARCHAR NOT NULL,
    quantity VARCHAR NOT NULL,
    kind     VARCHAR NOT NULL,
    UNIQUE (site, building, meter, quantity, kind)
  )`,
  `CREATE TABLE IF NOT EXISTS readings (
    series     INTEGER     NOT NULL,
    ts         TIMESTAMPTZ NOT NULL,
    unit       VARCHAR     NOT NULL,
    value      DOUBLE      NOT NULL,
    interval_s INTEGER,
    PRIMARY KEY (series, ts)
  )`,
  `CREATE OR REPLACE VIEW reading_rows AS
    SELECT s.site, s.building, s.meter, s.quantity, s.kind, r.ts, r.unit, r.value, r.interval_s
    FROM readings r JOIN series s ON s.id = r.series`,
];

/**
 * From the first layout (one table, primary key on the five ids and ts) to series ids, in one
 * transaction: number the distinct series, copy the readings in key order, swap the tables.
 */
const MIGRATE_FROM_V1_SQL = [
  'BEGIN TRANSACTION',
  SCHEMA_SQL[0]!,
  `INSERT INTO series
    SELECT (row_number() OVER (ORDER BY site, building, meter, quantity, kind))::INTEGER, site, building, meter, quantity, kind
    FROM (SELECT DISTINCT site, building, meter, quantity, kind FROM readings)`,
  SCHEMA_SQL[1]!.replace('readings', 'readings_by_series'),
  `INSERT INTO readings_by_series
    SELECT s.id, r.ts, r.unit, r.value, r.interval_s FROM readings r JOIN series s USING (site, building, meter, quantity, kind)
    ORDER BY s.id, r.ts`,
  'DROP TABLE readings',
  'ALTER TABLE readings_by_series RENAME TO readings',
  'COMMIT',
];

// ts_ms is a DOUBLE so the appender needs no BigInt per row (epoch ms are exact in a double);
// seq is the position in the batch.
const STAGING_SQL = `
CREATE TEMP TABLE IF NOT EXISTS readings_staging (
  seq INTEGER, series INTEGER, ts_ms DOUBLE, unit VARCHAR, value DOUBLE, interval_s INTEGER
)`;

// INSERT OR REPLACE keeps an arbitrary one of two source rows with the same key, so the batch is
// first reduced to its last row per key (last write wins inside a batch too). The QUALIFY also
// pays for itself: without it the upsert took 11.1-11.6 us per reading against 6.3-6.7 (the same
// scratch loop), the rows reaching the index unordered.
const UPSERT_SQL = `
INSERT OR REPLACE INTO readings (series, ts, unit, value, interval_s)
SELECT series, make_timestamptz(CAST(ts_ms AS BIGINT) * 1000), unit, value, interval_s
FROM readings_staging
QUALIFY row_number() OVER (PARTITION BY series, ts_ms ORDER BY seq DESC) = 1`;

/** SQL turning an epoch-ms parameter into a TIMESTAMPTZ. */
const tsParam = (param: string): string => `make_timestamptz(CAST($${param} AS BIGINT) * 1000)`;

// The series id is a constant of the statement, so DuckDB skips row groups by their min/max.
const SERIES_IN_RANGE = `series = CAST($series AS INTEGER) AND ts >= ${tsParam('from')} AND ts < ${tsParam('to')}`;
// count, sum, min, max, Σ interval_s of one bucket, in the column order `aggregate()` reads.
const TOTALS_SQL = 'count(*)::DOUBLE AS n, sum(value) AS s, min(value) AS lo, max(value) AS hi, coalesce(sum(interval_s), 0)::DOUBLE AS cov';
/** Most offset spans the fast path writes into one CASE; more (many DST years of days or months) go the ICU way. */
const MAX_OFFSET_SPANS = 16;
/**
 * Longest range the fast path takes, ms (25 years): the first query of a zone-year samples the zone
 * 365 times (about 1 ms); a range from epoch 0 to now would pay that for 56 years at once.
 */
const MAX_FAST_RANGE_MS = 25 * 365 * 86_400_000;

/** An aggregate statement and its parameters. */
interface AggregatePlan {
  readonly sql: string;
  readonly values: Record<string, DuckDBValue>;
}

/**
 * Reference bucketing with ICU: `timezone($tz, ts)` on every row. Exact for any zone and range, and
 * the definition the fast path must reproduce; kept for ranges the fast path does not cover.
 */
function icuAggregateSql(bucket: AggregateQuery['bucket']): string {
  let startSql: string;
  let endSql: string;
  if (bucket === '15m' || bucket === '1h') {
    const len = FIXED_BUCKET_MS[bucket];
    // Align to the local clock: subtract the remainder of the local wall time.
    startSql = `epoch_ms(ts) - (((epoch_ms(timezone($tz, ts)) % ${len}) + ${len}) % ${len})`;
    endSql = `${startSql} + ${len}`;
  } else {
    const unit = bucket === '1d' ? 'day' : 'month';
    const localStart = `date_trunc('${unit}', timezone($tz, ts))`;
    startSql = `epoch_ms(timezone($tz, ${localStart}))`;
    endSql = `epoch_ms(timezone($tz, ${localStart} + INTERVAL 1 ${unit}))`;
  }
  return `
    WITH b AS (
      SELECT (${startSql})::DOUBLE AS start_ms, (${endSql})::DOUBLE AS end_ms, value, interval_s FROM readings
      WHERE ${SERIES_IN_RANGE}
    )
    SELECT start_ms, end_ms, ${TOTALS_SQL}
    FROM b GROUP BY start_ms, end_ms ORDER BY start_ms`;
}

/**
 * Fast bucketing: the zone's UTC offset as integer arithmetic on epoch ms, from offset spans
 * computed once per zone and year in JS (`tzOffsetSpans`), instead of ICU on every row.
 *
 * Why (issue target: a meter-year of 15-min readings into hours in under 50 ms): in the ICU
 * reference, `timezone($tz, ts)` on each of the 35,040 rows was most of the statement (EXPLAIN
 * ANALYZE: that projection 20 ms of 57 ms; 28-44 ms CPU per query against 10-23 ms with integer
 * offsets, loaded 2-core machine). What is left is DuckDB's hash aggregate of 8,760 groups and
 * its sort (about 5 ms unloaded) and 1-2 ms of JS building the rows. `npm run bench -- ingest
 * --aggregate-only` (median of 10 after a warm-up): before 83-168 ms (4 runs, load average 6-7);
 * after, with {@link DEFAULT_DUCKDB_THREADS}, 18-42 ms (6 runs, load average 4-6; single queries
 * 7-430 ms, the first few after the write slowest). A copy of that benchmark alternating the old
 * and the new file (load average 5-7.5): 28-86 ms before, 14-23 ms after; 1 d and 1 mo in
 * Europe/Berlin 37 ms before, 8 ms after.
 *
 * - `15m`, `1h`: bucket start = t - mod(t + offset(t), len), as in the ICU reference. Offsets that
 *   agree modulo the bucket length give the same buckets, so whole-hour DST zones need no CASE.
 * - `1d`, `1mo`: rows are grouped by their local wall-clock day or month (t + offset(t)); only the
 *   grouped keys (a few hundred) go through ICU for start and end, with the reference's expressions,
 *   so DST days, gaps at midnight and month lengths come out exactly as before.
 *
 * Offsets come from Node's tz data, start and end of days and months from DuckDB's ICU, as before;
 * both ship IANA 2025 data, and the tests compare this path with the ICU one across DST changes.
 *
 * `undefined` (use {@link icuAggregateSql}) when the range is empty, longer than 25 years, leaves the
 * years `tzOffsetSpans` covers (1970-2199) or needs more than {@link MAX_OFFSET_SPANS} spans.
 */
function fastAggregatePlan(q: AggregateQuery): AggregatePlan | undefined {
  if (q.to - q.from > MAX_FAST_RANGE_MS) return undefined;
  const fixed = q.bucket === '15m' || q.bucket === '1h' ? FIXED_BUCKET_MS[q.bucket] : undefined;
  const raw = tzOffsetSpans(q.from, q.to, q.tz);
  if (raw === undefined) return undefined;
  let spans: OffsetSpan[] = raw;
  if (fixed !== undefined) {
    spans = [];
    for (const s of raw) {
      const offsetMs = ((s.offsetMs % fixed) + fixed) % fixed;
      const last = spans.at(-1);
      if (last && last.offsetMs === offsetMs) spans[spans.length - 1] = { ...last, end: s.end };
      else spans.push({ ...s, offsetMs });
    }
  }
  if (spans.length > MAX_OFFSET_SPANS) return undefined;
  const values: Record<string, DuckDBValue> = {};
  spans.forEach((s, i) => {
    values[`o${i}`] = s.offsetMs;
    if (i > 0) values[`t${i}`] = s.start;
  });
  const off = (i: number): string => `CAST($o${i} AS BIGINT)`;
  let offsetSql = off(0);
  if (spans.length > 1) {
    const whens = spans.slice(1).map((_, i) => `WHEN epoch_ms(ts) < CAST($t${i + 1} AS BIGINT) THEN ${off(i)}`);
    offsetSql = `CASE ${whens.join(' ')} ELSE ${off(spans.length - 1)} END`;
  }
  if (fixed !== undefined) {
    return {
      values,
      sql: `
        SELECT start_ms::DOUBLE, (start_ms + ${fixed})::DOUBLE, n, s, lo, hi, cov FROM (
          SELECT epoch_ms(ts) - ((((epoch_ms(ts) + ${offsetSql}) % ${fixed}) + ${fixed}) % ${fixed}) AS start_ms, ${TOTALS_SQL}
          FROM readings WHERE ${SERIES_IN_RANGE}
          GROUP BY start_ms
        ) ORDER BY start_ms`,
    };
  }
  const DAY = 86_400_000;
  // k: the local start as wall-clock ms, the TIMESTAMP date_trunc gives in the reference.
  const key = q.bucket === '1d' ? `w - (((w % ${DAY}) + ${DAY}) % ${DAY})` : `epoch_ms(date_trunc('month', make_timestamp(w * 1000)))`;
  const unit = q.bucket === '1d' ? 'day' : 'month';
  return {
    values: { ...values, tz: q.tz },
    sql: `
      SELECT epoch_ms(timezone($tz, make_timestamp(k * 1000)))::DOUBLE, epoch_ms(timezone($tz, make_timestamp(k * 1000) + INTERVAL 1 ${unit}))::DOUBLE, n, s, lo, hi, cov
      FROM (
        SELECT ${key} AS k, ${TOTALS_SQL}
        FROM (SELECT epoch_ms(ts) + ${offsetSql} AS w, value, interval_s FROM readings WHERE ${SERIES_IN_RANGE})
        GROUP BY k
      ) ORDER BY k`,
  };
}

/** A series and its id in the `series` table. */
interface SeriesEntry {
  readonly id: number;
  readonly site: string;
  readonly building: string;
  readonly meter: string;
  readonly quantity: Quantity;
  readonly kind: ReadingKind;
}

type SeriesKey = Pick<SeriesEntry, 'site' | 'building' | 'meter' | 'quantity' | 'kind'>;

/**
 * The store's copy of the `series` table: loaded when the file is opened, extended by writes after
 * the new rows were appended. The store is the file's only writer, so the copy stays exact.
 */
interface SeriesCache {
  readonly ids: Map<string, number>;
  readonly entries: SeriesEntry[];
  /**
   * The entries by site, by site and building, and by site, building and meter (keys of
   * {@link seriesPrefix}), each list in id order. A query names a meter and `latest()` a building:
   * with 300,000 series, scanning every entry instead made `query()` of one meter 18 ms against
   * 3.2 and `latest()` of one building 22 against 6.3, on the connection every write also waits
   * for (`npm run bench -- store-series`, docs/PERFORMANCE.md).
   */
  readonly byPrefix: Map<string, SeriesEntry[]>;
  nextId: number;
}

/** Key of the series under `site`, `site`/`building` or `site`/`building`/`meter` in `SeriesCache.byPrefix`. */
function seriesPrefix(...ids: string[]): string {
  return ids.join('\u0000');
}

function cacheSeries(cache: SeriesCache, entry: SeriesEntry): void {
  cache.ids.set(seriesKey(entry), entry.id);
  cache.entries.push(entry);
  for (const prefix of [seriesPrefix(entry.site), seriesPrefix(entry.site, entry.building), seriesPrefix(entry.site, entry.building, entry.meter)]) {
    const list = cache.byPrefix.get(prefix);
    if (list) list.push(entry);
    else cache.byPrefix.set(prefix, [entry]);
  }
  cache.nextId = Math.max(cache.nextId, entry.id + 1);
}

async function loadSeries(conn: DuckDBConnection): Promise<SeriesCache> {
  const rows = (await conn.runAndReadAll('SELECT id, site, building, meter, quantity, kind FROM series ORDER BY id')).getRows();
  const cache: SeriesCache = { ids: new Map(), entries: [], byPrefix: new Map(), nextId: 1 };
  for (const [id, site, building, meter, quantity, kind] of rows as Array<[number, string, string, string, Quantity, ReadingKind]>) cacheSeries(cache, { id, site, building, meter, quantity, kind });
  return cache;
}

/** Whether the file holds the first layout (readings keyed by the five ids, no `series` table). */
async function isFirstLayout(conn: DuckDBConnection): Promise<boolean> {
  const rows = (
    await conn.runAndReadAll(`SELECT count(*) FROM information_schema.columns WHERE table_schema = 'main' AND table_name = 'readings' AND column_name = 'site'`)
  ).getRows();
  return Number(rows[0]![0]) > 0;
}

/**
 * Moves a file of the first layout to series ids in one transaction, saying so before and after:
 * it copies the whole table once, and an operator who upgraded should see why the first start
 * takes longer, and that it finished.
 */
async function migrateFromFirstLayout(conn: DuckDBConnection, path: string, logger: Logger): Promise<void> {
  const readings = Number((await conn.runAndReadAll('SELECT count(*) FROM readings')).getRows()[0]![0]);
  logger.info({ path, readings }, 'embedded readings file: migrating to series ids (one copy of the table, in one transaction; the file is unchanged if this stops)');
  const startedAt = performance.now();
  try {
    for (const sql of MIGRATE_FROM_V1_SQL) await conn.run(sql);
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw new Error(`migrating readings to series ids failed (the file is unchanged): ${(err as Error).message}`, { cause: err });
  }
  const series = Number((await conn.runAndReadAll('SELECT count(*) FROM series')).getRows()[0]![0]);
  logger.info({ path, readings, series, durationMs: Math.round(performance.now() - startedAt) }, 'embedded readings file: migrated to series ids');
}

/** Creates a DuckDB reading store; the file is opened by `init()` (or the first call). */
export function createDuckDbReadingStore(options: DuckDbReadingStoreOptions): ReadingStore {
  const path = options.path === ':memory:' ? ':memory:' : resolve(options.path);
  let opened: Promise<{ instance: DuckDBInstance; conn: DuckDBConnection; series: SeriesCache }> | undefined;
  let closed = false;
  let tail: Promise<unknown> = Promise.resolve();
  // Aggregate statements prepared on the store's one connection, by SQL text (the shapes are few).
  const statements = new Map<string, DuckDBPreparedStatement>();

  async function open() {
    if (path !== ':memory:') await mkdir(dirname(path), { recursive: true });
    const instance = await DuckDBInstance.create(path, { threads: String(options.threads ?? DEFAULT_DUCKDB_THREADS) });
    try {
      const conn = await instance.connect();
      // Casts between TIMESTAMP and TIMESTAMPTZ follow the session zone: pin it.
      await conn.run(`SET TimeZone = 'UTC'`);
      if (await isFirstLayout(conn)) await migrateFromFirstLayout(conn, path, options.logger ?? silentLogger);
      for (const sql of SCHEMA_SQL) await conn.run(sql);
      await conn.run(STAGING_SQL);
      return { instance, conn, series: await loadSeries(conn) };
    } catch (err) {
      instance.closeSync();
      throw err;
    }
  }

  /** Runs `fn` after every earlier call finished, on the open connection. */
  function serial<T>(op: 'write' | 'read', fn: (conn: DuckDBConnection, series: SeriesCache) => Promise<T>): Promise<T> {
    const run = tail.then(async () => {
      if (closed) throw storeError('STORE_UNAVAILABLE', 'DuckDB reading store is closed');
      opened ??= open();
      let db: { conn: DuckDBConnection; series: SeriesCache };
      try {
        db = await opened;
      } catch (cause) {
        opened = undefined;
        throw storeError('STORE_UNAVAILABLE', `cannot open DuckDB database ${path}: ${(cause as Error).message}`, { cause, details: { path } });
      }
      try {
        return await fn(db.conn, db.series);
      } catch (cause) {
        if (cause instanceof WattproofError) throw cause;
        const message = `DuckDB ${op} failed: ${(cause as Error).message}`;
        throw op === 'write'
          ? storeError('STORE_WRITE_FAILED', message, { cause, retriable: false, details: { path } })
          : storeError('STORE_QUERY_FAILED', message, { cause, details: { path } });
      }
    });
    tail = run.catch(() => undefined);
    return run;
  }

  async function rows(conn: DuckDBConnection, sql: string, values: Record<string, DuckDBValue>): Promise<DuckDBValue[][]> {
    const reader = await conn.runAndReadAll(sql, values);
    return reader.getRows();
  }

  async function preparedFor(conn: DuckDBConnection, sql: string): Promise<DuckDBPreparedStatement> {
    let statement = statements.get(sql);
    if (!statement) {
      statement = await conn.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Runs an aggregate plan and builds the rows straight from the result's chunks: one async call
   * (the chunks of a materialized result are read synchronously) and no per-column or per-row arrays.
   */
  async function aggregateRows(conn: DuckDBConnection, plan: AggregatePlan, kind: ReadingKind): Promise<AggregateRow[]> {
    const statement = await preparedFor(conn, plan.sql);
    statement.bind(plan.values);
    const result = await statement.run();
    const out: AggregateRow[] = [];
    for (let c = 0, chunks = result.chunkCount; c < chunks; c++) {
      const chunk = result.getChunk(c);
      const [start, end, count, sum, min, max, coveredS] = [0, 1, 2, 3, 4, 5, 6].map((i) => chunk.getColumnVector(i));
      for (let i = 0, n = chunk.rowCount; i < n; i++) {
        const range = { start: start!.getItem(i) as number, end: end!.getItem(i) as number };
        const totals = { count: count!.getItem(i) as number, sum: sum!.getItem(i) as number, min: min!.getItem(i) as number, max: max!.getItem(i) as number, coveredS: coveredS!.getItem(i) as number };
        out.push(toAggregateRow(range, kind, totals));
      }
    }
    return out;
  }

  function toReading(ref: MeterRef, row: readonly DuckDBValue[], offset: number): StoredReading {
    const [quantity, kind, unit, ts, value, intervalS] = row.slice(offset) as [Quantity, ReadingKind, Unit, number, number, number | null];
    const base = { site: ref.site, building: ref.building, meter: ref.meter, quantity, kind, unit, ts, value };
    return intervalS === null ? base : { ...base, intervalS };
  }

  /** The cached series matching every given field, in id order; `undefined` for no filter at all. */
  function entriesWhere(series: SeriesCache, filter: Partial<SeriesKey> | undefined): SeriesEntry[] | undefined {
    const keys = (['site', 'building', 'meter', 'quantity', 'kind'] as const).filter((k) => filter?.[k] !== undefined);
    if (keys.length === 0) return undefined;
    // The longest leading run of site, building, meter picks a list of the index; the rest is filtered.
    const path: string[] = [];
    for (const k of ['site', 'building', 'meter'] as const) {
      const v = filter![k];
      if (v === undefined) break;
      path.push(v);
    }
    const candidates = path.length ? (series.byPrefix.get(seriesPrefix(...path)) ?? []) : series.entries;
    return candidates.filter((e) => keys.every((k) => e[k] === filter![k]));
  }

  async function latestRows(conn: DuckDBConnection, series: SeriesCache, filter: Partial<MeterRef> | undefined): Promise<StoredReading[]> {
    const matched = entriesWhere(series, filter && { site: filter.site, building: filter.building, meter: filter.meter });
    if (matched?.length === 0) return [];
    // Ids come from the cache (integers), not from the caller: safe to write into the statement.
    // Each row's site, building, meter, quantity and kind come from the cache too, as in query().
    const sql = `
      SELECT series, unit, epoch_ms(ts)::DOUBLE, value, interval_s FROM readings
      ${matched ? `WHERE series IN (${matched.map((e) => e.id).join(',')})` : ''}
      QUALIFY row_number() OVER (PARTITION BY series ORDER BY ts DESC) = 1`;
    const byId = new Map((matched ?? series.entries).map((e) => [e.id, e]));
    return (await rows(conn, sql, {}))
      .map((row) => {
        const e = byId.get(row[0] as number)!;
        return toReading(e, [e.quantity, e.kind, ...row.slice(1)], 0);
      })
      .sort(compareSeries);
  }

  /**
   * Appends the batch to the staging table, numbering series not seen before; those are appended to
   * `series` and only then added to the cache, so a failed write leaves the cache as the file is.
   */
  async function stage(conn: DuckDBConnection, series: SeriesCache, readings: readonly StoredReading[]): Promise<void> {
    const fresh = new Map<string, SeriesEntry>();
    let nextId = series.nextId;
    // Readings of one message share their meter and mostly their quantity: the last id is reused
    // while the five ids are the same strings, saving the key's concatenation and hash per reading.
    let last: StoredReading | undefined;
    let lastId = 0;
    const appender = await conn.createAppender('readings_staging', 'main', 'temp');
    try {
      let seq = 0;
      for (const r of readings) {
        let id = lastId;
        if (!last || r.meter !== last.meter || r.quantity !== last.quantity || r.kind !== last.kind || r.building !== last.building || r.site !== last.site) {
          const key = seriesKey(r);
          const known = series.ids.get(key) ?? fresh.get(key)?.id;
          if (known !== undefined) id = known;
          else {
            id = nextId++;
            fresh.set(key, { id, site: r.site, building: r.building, meter: r.meter, quantity: r.quantity, kind: r.kind });
          }
          last = r;
          lastId = id;
        }
        appender.appendInteger(seq++);
        appender.appendInteger(id);
        appender.appendDouble(r.ts);
        appender.appendVarchar(r.unit);
        appender.appendDouble(r.value);
        if (r.kind === 'interval' && r.intervalS !== undefined) appender.appendInteger(r.intervalS);
        else appender.appendNull();
        appender.endRow();
      }
    } finally {
      appender.closeSync();
    }
    if (fresh.size === 0) return;
    const seriesAppender = await conn.createAppender('series');
    try {
      for (const e of fresh.values()) {
        seriesAppender.appendInteger(e.id);
        seriesAppender.appendVarchar(e.site);
        seriesAppender.appendVarchar(e.building);
        seriesAppender.appendVarchar(e.meter);
        seriesAppender.appendVarchar(e.quantity);
        seriesAppender.appendVarchar(e.kind);
        seriesAppender.endRow();
      }
    } finally {
      seriesAppender.closeSync();
    }
    for (const e of fresh.values()) cacheSeries(series, e);
    series.nextId = nextId;
  }

  return {
    name: path === ':memory:' ? 'duckdb (in memory)' : `duckdb (${path})`,

    init() {
      return serial('read', async () => undefined);
    },

    write(readings) {
      if (readings.length === 0) return serial('write', async () => undefined);
      return serial('write', async (conn, series) => {
        // Cleared before, not after: a write that failed half-way leaves its rows, and one
        // statement per write is enough (about 0.6 ms per batch of 1,000).
        await conn.run('DELETE FROM readings_staging');
        await stage(conn, series, readings);
        await conn.run(UPSERT_SQL);
      });
    },

    query(q: ReadingQuery) {
      assertRange(q.from, q.to);
      return serial('read', async (conn, series) => {
        const matched = entriesWhere(series, { site: q.site, building: q.building, meter: q.meter, quantity: q.quantity, kind: q.kind })!;
        if (matched.length === 0) return [];
        // The series' quantity and kind come from the cache, not from a join with the `series`
        // table: with 300,000 series the join was 0.6-0.9 ms of a 2.9-3.2 ms query (`npm run bench
        // -- store-series`). Their order (quantity, then kind) is given as each id's rank. Ids and
        // ranks are integers from the cache: safe in the statement.
        // Same site, building and meter: compareSeries orders them by quantity, then kind.
        const ranked = [...matched].sort(compareSeries);
        const byId = new Map(ranked.map((e) => [e.id, e]));
        // (An integer alone in ORDER BY would name a column: one series needs no rank.)
        const rank = ranked.length === 1 ? '' : `, CASE r.series ${ranked.map((e, i) => `WHEN ${e.id} THEN ${i}`).join(' ')} END`;
        let sql = `
          SELECT r.series, r.unit, epoch_ms(r.ts)::DOUBLE, r.value, r.interval_s
          FROM readings r
          WHERE r.series IN (${ranked.map((e) => e.id).join(',')}) AND r.ts >= ${tsParam('from')} AND r.ts < ${tsParam('to')}
          ORDER BY r.ts${rank}`;
        if (q.limit !== undefined) sql += ` LIMIT ${Math.max(0, Math.floor(q.limit))}`;
        return (await rows(conn, sql, { from: q.from, to: q.to })).map((row) => {
          const e = byId.get(row[0] as number)!;
          return toReading(q, [e.quantity, e.kind, ...row.slice(1)], 0);
        });
      });
    },

    aggregate(q: AggregateQuery) {
      assertAggregateArgs(q.bucket, q.tz, q.from, q.to);
      return serial('read', async (conn, series) => {
        const id = series.ids.get(seriesKey(q));
        if (id === undefined) return [];
        const range = { series: id, from: q.from, to: q.to };
        const fast = fastAggregatePlan(q);
        const plan = fast ? { sql: fast.sql, values: { ...range, ...fast.values } } : { sql: icuAggregateSql(q.bucket), values: { ...range, tz: q.tz } };
        return aggregateRows(conn, plan, q.kind);
      });
    },

    latest(filter?: Partial<MeterRef>) {
      return serial('read', (conn, series) => latestRows(conn, series, filter));
    },

    listSeries(filter?: Partial<MeterRef>) {
      return serial('read', async (conn, series) =>
        (await latestRows(conn, series, filter)).map((r) => ({ site: r.site, building: r.building, meter: r.meter, quantity: r.quantity, kind: r.kind, unit: r.unit })),
      );
    },

    async ping() {
      try {
        await serial('read', async (conn) => {
          await conn.run('SELECT 1');
        });
        return true;
      } catch {
        return false;
      }
    },

    close() {
      const run = tail.then(async () => {
        if (closed) return;
        closed = true;
        if (!opened) return;
        try {
          const { instance, conn } = await opened;
          for (const statement of statements.values()) statement.destroySync();
          statements.clear();
          conn.closeSync();
          instance.closeSync();
        } catch {
          // Opening failed: nothing to close.
        }
      });
      tail = run.catch(() => undefined);
      return run;
    },
  };
}
