/**
 * Embedded `ReadingStore` on DuckDB (`@duckdb/node-api`): one file, no server.
 *
 * Table `readings`: primary key (site, building, meter, quantity, kind, ts) with `ts` a
 * TIMESTAMPTZ (ms precision), `value` DOUBLE, `interval_s` INTEGER (interval readings only).
 * Writes go through the appender into a temp staging table, then one
 * `INSERT OR REPLACE ... SELECT` upserts the batch (last write wins). Buckets are computed in SQL
 * with ICU (`timezone()`, `date_trunc`), so local days and months honour DST.
 * DuckDB runs one statement per connection at a time: every call is queued on the one connection.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { WattproofError } from '@wattproof/core';
import type { AggregateQuery, AggregateRow, MeterRef, Quantity, ReadingKind, ReadingQuery, ReadingStore, StoredReading, Unit } from '@wattproof/core';
import { assertAggregateArgs, assertRange, FIXED_BUCKET_MS, toAggregateRow } from './buckets.js';
import { storeError } from './errors.js';

/** Options of the DuckDB reading store. */
export interface DuckDbReadingStoreOptions {
  /** Database file (its parent directory is created), or `:memory:`. */
  readonly path: string;
}

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS readings (
  site       VARCHAR     NOT NULL,
  building   VARCHAR     NOT NULL,
  meter      VARCHAR     NOT NULL,
  quantity   VARCHAR     NOT NULL,
  kind       VARCHAR     NOT NULL,
  ts         TIMESTAMPTZ NOT NULL,
  unit       VARCHAR     NOT NULL,
  value      DOUBLE      NOT NULL,
  interval_s INTEGER,
  PRIMARY KEY (site, building, meter, quantity, kind, ts)
)`;

// ts_ms is a DOUBLE so the appender needs no BigInt per row (epoch ms are exact in a double);
// seq is the position in the batch.
const STAGING_SQL = `
CREATE TEMP TABLE IF NOT EXISTS readings_staging (
  seq INTEGER, site VARCHAR, building VARCHAR, meter VARCHAR, quantity VARCHAR, kind VARCHAR,
  ts_ms DOUBLE, unit VARCHAR, value DOUBLE, interval_s INTEGER
)`;

// INSERT OR REPLACE keeps an arbitrary one of two source rows with the same key, so the batch is
// first reduced to its last row per key (last write wins inside a batch too).
const UPSERT_SQL = `
INSERT OR REPLACE INTO readings (site, building, meter, quantity, kind, ts, unit, value, interval_s)
SELECT site, building, meter, quantity, kind, make_timestamptz(CAST(ts_ms AS BIGINT) * 1000), unit, value, interval_s
FROM readings_staging
QUALIFY row_number() OVER (PARTITION BY site, building, meter, quantity, kind, ts_ms ORDER BY seq DESC) = 1`;

const TS_MS = 'epoch_ms(ts)::DOUBLE';
/** SQL turning an epoch-ms parameter into a TIMESTAMPTZ. */
const tsParam = (param: string): string => `make_timestamptz(CAST($${param} AS BIGINT) * 1000)`;

/** Creates a DuckDB reading store; the file is opened by `init()` (or the first call). */
export function createDuckDbReadingStore(options: DuckDbReadingStoreOptions): ReadingStore {
  const path = options.path === ':memory:' ? ':memory:' : resolve(options.path);
  let opened: Promise<{ instance: DuckDBInstance; conn: DuckDBConnection }> | undefined;
  let closed = false;
  let tail: Promise<unknown> = Promise.resolve();

  async function open() {
    if (path !== ':memory:') await mkdir(dirname(path), { recursive: true });
    const instance = await DuckDBInstance.create(path);
    try {
      const conn = await instance.connect();
      // Casts between TIMESTAMP and TIMESTAMPTZ follow the session zone: pin it.
      await conn.run(`SET TimeZone = 'UTC'`);
      await conn.run(SCHEMA_SQL);
      await conn.run(STAGING_SQL);
      return { instance, conn };
    } catch (err) {
      instance.closeSync();
      throw err;
    }
  }

  /** Runs `fn` after every earlier call finished, on the open connection. */
  function serial<T>(op: 'write' | 'read', fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const run = tail.then(async () => {
      if (closed) throw storeError('STORE_UNAVAILABLE', 'DuckDB reading store is closed');
      opened ??= open();
      let conn: DuckDBConnection;
      try {
        conn = (await opened).conn;
      } catch (cause) {
        opened = undefined;
        throw storeError('STORE_UNAVAILABLE', `cannot open DuckDB database ${path}: ${(cause as Error).message}`, { cause, details: { path } });
      }
      try {
        return await fn(conn);
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

  function toReading(ref: MeterRef, row: readonly DuckDBValue[], offset: number): StoredReading {
    const [quantity, kind, unit, ts, value, intervalS] = row.slice(offset) as [Quantity, ReadingKind, Unit, number, number, number | null];
    const base = { site: ref.site, building: ref.building, meter: ref.meter, quantity, kind, unit, ts, value };
    return intervalS === null ? base : { ...base, intervalS };
  }

  async function latestRows(conn: DuckDBConnection, filter: Partial<MeterRef> | undefined): Promise<StoredReading[]> {
    const where: string[] = [];
    const values: Record<string, DuckDBValue> = {};
    for (const key of ['site', 'building', 'meter'] as const) {
      const v = filter?.[key];
      if (v !== undefined) {
        where.push(`${key} = $${key}`);
        values[key] = v;
      }
    }
    const sql = `
      SELECT site, building, meter, quantity, kind, unit, ${TS_MS}, value, interval_s
      FROM readings ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      QUALIFY row_number() OVER (PARTITION BY site, building, meter, quantity, kind ORDER BY ts DESC) = 1
      ORDER BY site, building, meter, quantity, kind`;
    return (await rows(conn, sql, values)).map((row) => {
      const [site, building, meter] = row as [string, string, string];
      return toReading({ site, building, meter }, row, 3);
    });
  }

  return {
    name: path === ':memory:' ? 'duckdb (in memory)' : `duckdb (${path})`,

    init() {
      return serial('read', async () => undefined);
    },

    write(readings) {
      if (readings.length === 0) return serial('write', async () => undefined);
      return serial('write', async (conn) => {
        await conn.run('DELETE FROM readings_staging');
        const appender = await conn.createAppender('readings_staging', 'main', 'temp');
        try {
          let seq = 0;
          for (const r of readings) {
            appender.appendInteger(seq++);
            appender.appendVarchar(r.site);
            appender.appendVarchar(r.building);
            appender.appendVarchar(r.meter);
            appender.appendVarchar(r.quantity);
            appender.appendVarchar(r.kind);
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
        await conn.run(UPSERT_SQL);
        await conn.run('DELETE FROM readings_staging');
      });
    },

    query(q: ReadingQuery) {
      assertRange(q.from, q.to);
      return serial('read', async (conn) => {
        const values: Record<string, DuckDBValue> = { site: q.site, building: q.building, meter: q.meter, from: q.from, to: q.to };
        let sql = `
          SELECT quantity, kind, unit, ${TS_MS}, value, interval_s FROM readings
          WHERE site = $site AND building = $building AND meter = $meter AND ts >= ${tsParam('from')} AND ts < ${tsParam('to')}`;
        if (q.quantity !== undefined) {
          sql += ' AND quantity = $quantity';
          values.quantity = q.quantity;
        }
        if (q.kind !== undefined) {
          sql += ' AND kind = $kind';
          values.kind = q.kind;
        }
        sql += ' ORDER BY ts, quantity, kind';
        if (q.limit !== undefined) sql += ` LIMIT ${Math.max(0, Math.floor(q.limit))}`;
        return (await rows(conn, sql, values)).map((row) => toReading(q, row, 0));
      });
    },

    aggregate(q: AggregateQuery) {
      assertAggregateArgs(q.bucket, q.tz, q.from, q.to);
      return serial('read', async (conn) => {
        let startSql: string;
        let endSql: string;
        if (q.bucket === '15m' || q.bucket === '1h') {
          const len = FIXED_BUCKET_MS[q.bucket];
          // Align to the local clock: subtract the remainder of the local wall time.
          startSql = `epoch_ms(ts) - (((epoch_ms(timezone($tz, ts)) % ${len}) + ${len}) % ${len})`;
          endSql = `${startSql} + ${len}`;
        } else {
          const unit = q.bucket === '1d' ? 'day' : 'month';
          const localStart = `date_trunc('${unit}', timezone($tz, ts))`;
          startSql = `epoch_ms(timezone($tz, ${localStart}))`;
          endSql = `epoch_ms(timezone($tz, ${localStart} + INTERVAL 1 ${unit}))`;
        }
        const sql = `
          WITH b AS (
            SELECT (${startSql})::DOUBLE AS start_ms, (${endSql})::DOUBLE AS end_ms, value, interval_s FROM readings
            WHERE site = $site AND building = $building AND meter = $meter AND quantity = $quantity AND kind = $kind
              AND ts >= ${tsParam('from')} AND ts < ${tsParam('to')}
          )
          SELECT start_ms, end_ms, count(*)::DOUBLE, sum(value), min(value), max(value), coalesce(sum(interval_s), 0)::DOUBLE
          FROM b GROUP BY start_ms, end_ms ORDER BY start_ms`;
        const values: Record<string, DuckDBValue> = {
          site: q.site,
          building: q.building,
          meter: q.meter,
          quantity: q.quantity,
          kind: q.kind,
          from: q.from,
          to: q.to,
          tz: q.tz,
        };
        return (await rows(conn, sql, values)).map((row): AggregateRow => {
          const [start, end, count, sum, min, max, coveredS] = row as number[] as [number, number, number, number, number, number, number];
          return toAggregateRow({ start, end }, q.kind, { count, sum, min, max, coveredS });
        });
      });
    },

    latest(filter?: Partial<MeterRef>) {
      return serial('read', (conn) => latestRows(conn, filter));
    },

    listSeries(filter?: Partial<MeterRef>) {
      return serial('read', async (conn) =>
        (await latestRows(conn, filter)).map((r) => ({ site: r.site, building: r.building, meter: r.meter, quantity: r.quantity, kind: r.kind, unit: r.unit })),
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
