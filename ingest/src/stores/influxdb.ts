/**
 * `ReadingStore` on InfluxDB 1.x, 2.x and 3.x over HTTP.
 *
 * Layout (these names live in this file only):
 *
 *   measurement  reading
 *   tags         site, building, meter, quantity, kind, unit
 *   fields       value       float, the reading in its canonical unit
 *                interval_s  integer, interval length in s (kind `interval` only)
 *   timestamp    ms precision; for `interval` readings the interval start
 *
 * Series cardinality = meters x quantities x kinds (the unit is fixed per quantity and kind).
 * A point's key is measurement + tag set + timestamp, so rewriting a reading replaces its fields:
 * last write wins. Caveat: a reading rewritten with another unit becomes a second point (unit is
 * a tag); a reading rewritten without `interval_s` keeps the old `interval_s`.
 *
 * Writes: v1 `POST /write?db=&rp=&precision=ms` (basic auth when a username is set);
 * v2/v3 `POST /api/v2/write?org=&bucket=&precision=ms` with `Authorization: Token`.
 * Batches go out in chunks of `batchPoints` lines, a few requests in flight; `write()` resolves
 * when every chunk was confirmed (2xx). A failed batch may be partly written: retrying it is safe.
 * Reads: InfluxQL on `/query?db=&rp=&epoch=ms` (native on 1.x, the v1-compatible endpoint on
 * 2.x/3.x; 2.x needs a DBRP mapping, which it creates virtually for every bucket).
 * Local days come from `GROUP BY time(1d) tz(...)`; months are summed from local days here,
 * because InfluxQL has no calendar months.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { envBool, envInt, envOptionalString } from '@wattproof/core';
import type { AggregateQuery, AggregateRow, MeterRef, Quantity, ReadingKind, ReadingQuery, ReadingStore, SeriesInfo, StoredReading, Unit } from '@wattproof/core';
import { z } from 'zod';
import {
  addTotals,
  assertAggregateArgs,
  assertRange,
  bucketOf,
  compareReadings,
  compareSeries,
  localMonth,
  toAggregateRow,
  type BucketRange,
  type BucketTotals,
} from './buckets.js';
import { storeError } from './errors.js';
import { seriesKey } from './series-key.js';
import { encodeLineProtocol, LINE_PROTOCOL_NAMES } from './line-protocol.js';

const MEASUREMENT = LINE_PROTOCOL_NAMES.measurement;
const TAG = LINE_PROTOCOL_NAMES.tag;
const FIELD = LINE_PROTOCOL_NAMES.field;

/** Which HTTP API to write with: `auto` asks `GET /ping` (`X-Influxdb-Version` 1.x => v1). */
export type InfluxApiVersion = 'auto' | 'v1' | 'v2';

/** Options of the InfluxDB reading store; only `url` is required. */
export interface InfluxReadingStoreOptions {
  /** Base URL, e.g. `http://127.0.0.1:8086` (a path prefix behind a proxy is kept). */
  readonly url: string;
  readonly apiVersion?: InfluxApiVersion;
  /** 1.x database, 2.x bucket, 3.x database. */
  readonly database?: string;
  /** 1.x retention policy (also sent as `rp` on reads); empty = the database default. */
  readonly retentionPolicy?: string;
  /** 2.x organisation (ignored by 3.x). */
  readonly org?: string;
  /** 2.x/3.x API token (1.8+ also accepts `username:password`). */
  readonly token?: string;
  /** 1.x user, sent with basic auth. */
  readonly username?: string;
  readonly password?: string;
  /** Timeout of each HTTP request, ms. */
  readonly timeoutMs?: number;
  /** On 1.x, `init()` runs `CREATE DATABASE` (idempotent). */
  readonly createDatabase?: boolean;
  /** Lines per write request. */
  readonly batchPoints?: number;
  /** Write requests in flight at once. */
  readonly writeConcurrency?: number;
}

/** Database / bucket used when none is configured. */
export const DEFAULT_INFLUX_DATABASE = 'wattproof';
/** Timeout of each HTTP request, ms. */
export const DEFAULT_INFLUX_TIMEOUT_MS = 10_000;
/** Lines per write request (InfluxDB suggests 5,000). */
export const DEFAULT_INFLUX_BATCH_POINTS = 5_000;
/** Write requests in flight at once. */
export const DEFAULT_INFLUX_WRITE_CONCURRENCY = 4;

/** The InfluxDB keys of the reading-store config (environment variable names). */
export const influxStoreConfigShape = {
  INFLUX_URL: envOptionalString().describe('InfluxDB base URL, e.g. `http://127.0.0.1:8086`. With `READINGS_STORE=auto`, setting it selects InfluxDB.'),
  INFLUX_API_VERSION: z
    .enum(['auto', 'v1', 'v2'])
    .default('auto')
    .describe('Write API: `v1` (`/write`, InfluxDB 1.x), `v2` (`/api/v2/write`, InfluxDB 2.x and 3.x), or `auto` (asks `/ping`).'),
  INFLUX_DATABASE: z.string().min(1).default(DEFAULT_INFLUX_DATABASE).describe('Database (1.x, 3.x) or bucket (2.x) holding the readings.'),
  INFLUX_RETENTION_POLICY: envOptionalString().describe('1.x retention policy to write to and read from; unset = the database default.'),
  INFLUX_ORG: envOptionalString().describe('2.x organisation name (ignored by 1.x and 3.x).'),
  INFLUX_TOKEN: envOptionalString().describe('2.x/3.x API token, sent as `Authorization: Token ...`.'),
  INFLUX_USERNAME: envOptionalString().describe('1.x user (basic auth); unset = no auth.'),
  INFLUX_PASSWORD: envOptionalString().describe('1.x password of `INFLUX_USERNAME`.'),
  INFLUX_TIMEOUT_MS: envInt(DEFAULT_INFLUX_TIMEOUT_MS, 100, 600_000).describe('Timeout of each InfluxDB HTTP request, ms.'),
  INFLUX_CREATE_DATABASE: envBool(true).describe('On 1.x, create the database at start when it is missing.'),
  INFLUX_BATCH_POINTS: envInt(DEFAULT_INFLUX_BATCH_POINTS, 1, 100_000).describe('Readings per InfluxDB write request; larger batches are split.'),
  INFLUX_WRITE_CONCURRENCY: envInt(DEFAULT_INFLUX_WRITE_CONCURRENCY, 1, 64).describe('Write requests of one store write in flight at once.'),
};

/** Config schema of the InfluxDB adapter alone (keys are environment variable names). */
export const influxStoreConfigSchema = z.object(influxStoreConfigShape);
export type InfluxStoreConfig = z.output<typeof influxStoreConfigSchema>;

/**
 * Adapter options from parsed config.
 * @throws WattproofError STORE_CONFIG_INVALID when `INFLUX_URL` is unset.
 */
export function influxOptionsFromConfig(config: InfluxStoreConfig): InfluxReadingStoreOptions {
  if (config.INFLUX_URL === undefined) throw storeError('STORE_CONFIG_INVALID', 'INFLUX_URL is required for the InfluxDB reading store');
  return {
    url: config.INFLUX_URL,
    apiVersion: config.INFLUX_API_VERSION,
    database: config.INFLUX_DATABASE,
    retentionPolicy: config.INFLUX_RETENTION_POLICY,
    org: config.INFLUX_ORG,
    token: config.INFLUX_TOKEN,
    username: config.INFLUX_USERNAME,
    password: config.INFLUX_PASSWORD,
    timeoutMs: config.INFLUX_TIMEOUT_MS,
    createDatabase: config.INFLUX_CREATE_DATABASE,
    batchPoints: config.INFLUX_BATCH_POINTS,
    writeConcurrency: config.INFLUX_WRITE_CONCURRENCY,
  };
}

/** An InfluxQL identifier: double quotes, backslash-escaped. */
export function influxIdent(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** An InfluxQL string literal: single quotes, backslash-escaped. */
export function influxString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

interface InfluxSeries {
  readonly name?: string;
  readonly tags?: Record<string, string>;
  readonly columns: string[];
  readonly values?: unknown[][];
}

interface InfluxResponse {
  readonly results?: Array<{ readonly series?: InfluxSeries[]; readonly error?: string }>;
  readonly error?: string;
}

type WireVersion = 'v1' | 'v2';

/** An HTTP answer, read whole (`request` in the store). */
interface HttpAnswer {
  readonly status: number;
  /** A 2xx status. */
  readonly ok: boolean;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

const GROUP_BY_TIME = { '15m': '15m', '1h': '1h', '1d': '1d', '1mo': '1d' } as const;

/**
 * Creates an InfluxDB reading store. Nothing is contacted until `init()` or the first call.
 * @throws WattproofError STORE_CONFIG_INVALID when the URL does not parse.
 */
export function createInfluxReadingStore(options: InfluxReadingStoreOptions): ReadingStore {
  let base: URL;
  try {
    base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
  } catch (cause) {
    throw storeError('STORE_CONFIG_INVALID', `INFLUX_URL ${JSON.stringify(options.url)} is not a URL`, { cause });
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw storeError('STORE_CONFIG_INVALID', `INFLUX_URL must be http(s), got ${base.protocol}`);
  }
  // Credentials in the URL go to basic auth (v1) rather than into every request's URL.
  const username = options.username ?? (base.username ? decodeURIComponent(base.username) : undefined);
  const password = options.password ?? (base.password ? decodeURIComponent(base.password) : undefined);
  base.username = '';
  base.password = '';
  const database = options.database ?? DEFAULT_INFLUX_DATABASE;
  const rp = options.retentionPolicy || undefined;
  const timeoutMs = options.timeoutMs ?? DEFAULT_INFLUX_TIMEOUT_MS;
  const batchPoints = Math.max(1, options.batchPoints ?? DEFAULT_INFLUX_BATCH_POINTS);
  const concurrency = Math.max(1, options.writeConcurrency ?? DEFAULT_INFLUX_WRITE_CONCURRENCY);
  const display = `${base.origin}${base.pathname.replace(/\/$/, '')}`;
  let version: WireVersion | undefined = options.apiVersion === 'v1' || options.apiVersion === 'v2' ? options.apiVersion : undefined;
  let initialised: Promise<void> | undefined;
  let closed = false;
  // node:http(s) with connections kept alive, not fetch: a 5,000-line (650 kB) write cost 1.5-2.0
  // ms of client CPU through fetch (its body is a web stream written chunk by chunk, an
  // AbortSignal.timeout per request) against 0.5-0.7 ms through `http.request` + `end(body)` (to
  // a local server, 300 requests x 4 alternations, 2026-12-02); fetch's write path was 12 % of the
  // ingest's sampled CPU at 40,000 readings/s (docs/PERFORMANCE.md, "Store writes over node:http").
  const https = base.protocol === 'https:';
  const agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });

  function authHeaders(wire: WireVersion): Record<string, string> {
    if (wire === 'v1' && username !== undefined) {
      return { authorization: `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` };
    }
    return options.token !== undefined ? { authorization: `Token ${options.token}` } : {};
  }

  function endpoint(path: string, params: Record<string, string | undefined>): URL {
    const u = new URL(path, base);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
    return u;
  }

  /**
   * One HTTP request with the timeout, its whole answer read. Network failures, timeouts and
   * redirects become STORE_UNAVAILABLE: InfluxDB redirects nothing, and a proxy that does is not
   * followed (a write's body would go again, perhaps elsewhere); point INFLUX_URL at the endpoint.
   */
  function request(url: URL, method: 'GET' | 'POST', headers: Record<string, string>, body: Buffer | undefined, what: string): Promise<HttpAnswer> {
    if (closed) return Promise.reject(storeError('STORE_UNAVAILABLE', `InfluxDB reading store for ${display} is closed`));
    return new Promise((resolve, reject) => {
      const unreachable = (reason: string, cause: unknown, timedOut: boolean, status?: number) =>
        reject(storeError('STORE_UNAVAILABLE', `InfluxDB at ${display} is unreachable (${what}): ${reason}`, { cause, details: { url: display, timedOut, ...(status ? { status } : {}) } }));
      const req = (https ? httpsRequest : httpRequest)(url, { method, agent, headers: body ? { ...headers, 'content-length': String(body.length) } : headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          if (status >= 300 && status < 400) return unreachable(`unexpected redirect (HTTP ${status} to ${res.headers.location ?? 'nowhere'})`, undefined, false, status);
          resolve({ status, ok: status >= 200 && status <= 299, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (cause) => {
          clearTimeout(timer);
          unreachable(describeNetworkError(cause), cause, false);
        });
      });
      const timer = setTimeout(() => {
        const cause = new Error(`no answer within ${timeoutMs} ms`);
        req.destroy(cause);
        unreachable(cause.message, cause, true);
      }, timeoutMs);
      req.on('error', (cause) => {
        clearTimeout(timer);
        unreachable(describeNetworkError(cause), cause, false);
      });
      req.end(body);
    });
  }

  async function detectVersion(): Promise<WireVersion> {
    if (version) return version;
    const res = await request(endpoint('ping', {}), 'GET', authHeaders('v2'), undefined, 'ping');
    if (res.status >= 500) {
      throw storeError('STORE_UNAVAILABLE', `InfluxDB at ${display} answered /ping with HTTP ${res.status}`, { details: { status: res.status } });
    }
    const v = String(res.headers['x-influxdb-version'] ?? '');
    version = /^v?1\./.test(v) ? 'v1' : 'v2';
    return version;
  }

  function ready(): Promise<void> {
    initialised ??= (async () => {
      const wire = await detectVersion();
      if (wire === 'v1' && (options.createDatabase ?? true)) {
        await influxql(`CREATE DATABASE ${influxIdent(database)}`, 'POST');
      }
    })().catch((err: unknown) => {
      initialised = undefined;
      throw err;
    });
    return initialised;
  }

  async function influxql(q: string, method: 'GET' | 'POST' = 'GET'): Promise<InfluxSeries[]> {
    const wire = version ?? (await detectVersion());
    const url = endpoint('query', { db: database, rp, epoch: 'ms', q: method === 'GET' ? q : undefined });
    const form = method === 'POST' ? Buffer.from(new URLSearchParams({ q }).toString()) : undefined;
    const headers = form ? { ...authHeaders(wire), 'content-type': 'application/x-www-form-urlencoded' } : authHeaders(wire);
    const res = await request(url, method, headers, form, 'query');
    const text = res.text;
    if (!res.ok) {
      throw storeError('STORE_QUERY_FAILED', `InfluxDB query failed with HTTP ${res.status}: ${errorText(text)}`, {
        retriable: res.status >= 500 || res.status === 429,
        details: { status: res.status, body: errorText(text), query: q },
      });
    }
    let body: InfluxResponse;
    try {
      body = JSON.parse(text) as InfluxResponse;
    } catch (cause) {
      throw storeError('STORE_QUERY_FAILED', 'InfluxDB answered a query with something that is not JSON', { cause, details: { body: text.slice(0, 500) } });
    }
    const error = body.error ?? body.results?.find((r) => r.error !== undefined)?.error;
    if (error !== undefined) {
      // A database that does not exist yet (3.x creates it on the first write) holds no readings.
      if (/database not found/i.test(error)) return [];
      throw storeError('STORE_QUERY_FAILED', `InfluxDB rejected a query: ${error}`, { details: { error, query: q } });
    }
    return body.results?.flatMap((r) => r.series ?? []) ?? [];
  }

  async function writeChunk(body: Buffer, lines: number): Promise<void> {
    const wire = version ?? (await detectVersion());
    const url =
      wire === 'v1'
        ? endpoint('write', { db: database, rp, precision: 'ms' })
        : endpoint('api/v2/write', { org: options.org, bucket: database, precision: 'ms' });
    const res = await request(url, 'POST', { ...authHeaders(wire), 'content-type': 'text/plain; charset=utf-8' }, body, 'write');
    if (!res.ok) {
      const retriable = res.status >= 500 || res.status === 429 || res.status === 408;
      throw storeError('STORE_WRITE_FAILED', `InfluxDB refused a write of ${lines} readings with HTTP ${res.status}: ${errorText(res.text)}`, {
        retriable,
        details: { status: res.status, body: errorText(res.text), retryAfter: res.headers['retry-after'] },
      });
    }
  }

  function meterWhere(f: Partial<MeterRef> & { quantity?: Quantity; kind?: ReadingKind }): string[] {
    const out: string[] = [];
    for (const key of ['site', 'building', 'meter', 'quantity', 'kind'] as const) {
      const v = f[key];
      if (v !== undefined) out.push(`${influxIdent(TAG[key])} = ${influxString(v)}`);
    }
    return out;
  }

  function timeWhere(from: number, to: number): string {
    // Stored times are whole ms: ts >= from <=> ts >= ceil(from), ts < to <=> ts < ceil(to).
    return `time >= ${Math.ceil(from)}ms AND time < ${Math.ceil(to)}ms`;
  }

  function column(s: InfluxSeries, name: string): number {
    const i = s.columns.indexOf(name);
    if (i < 0) throw storeError('STORE_QUERY_FAILED', `InfluxDB answer lacks column ${name}`, { details: { columns: s.columns } });
    return i;
  }

  async function latestReadings(filter: Partial<MeterRef> | undefined): Promise<StoredReading[]> {
    const where = meterWhere(filter ?? {});
    const series = await influxql(
      `SELECT ${influxIdent(FIELD.value)}, ${influxIdent(FIELD.intervalS)} FROM ${influxIdent(MEASUREMENT)}` +
        `${where.length ? ` WHERE ${where.join(' AND ')}` : ''} GROUP BY * ORDER BY time DESC LIMIT 1`,
    );
    // One result per tag set; a series written with two units shows twice: keep the newest.
    const newest = new Map<string, StoredReading>();
    for (const s of series) {
      const t = s.tags ?? {};
      const row = s.values?.[0];
      if (!row) continue;
      const iTime = column(s, 'time');
      const iValue = column(s, FIELD.value);
      const iInterval = s.columns.indexOf(FIELD.intervalS);
      const r = toReading(
        { site: t[TAG.site] ?? '', building: t[TAG.building] ?? '', meter: t[TAG.meter] ?? '' },
        t[TAG.quantity] as Quantity,
        t[TAG.kind] as ReadingKind,
        t[TAG.unit] as Unit,
        row[iTime],
        row[iValue],
        iInterval < 0 ? null : row[iInterval],
      );
      const key = seriesKey(r);
      const prev = newest.get(key);
      if (!prev || prev.ts < r.ts) newest.set(key, r);
    }
    return [...newest.values()].sort(compareSeries);
  }

  return {
    name: `influxdb (${display})`,

    init() {
      return ready();
    },

    async write(readings) {
      if (readings.length === 0) return;
      await ready();
      const chunks: Array<{ body: Buffer; lines: number }> = [];
      for (let i = 0; i < readings.length; i += batchPoints) {
        const end = Math.min(readings.length, i + batchPoints);
        let body: Buffer;
        try {
          body = encodeLineProtocol(readings, i, end);
        } catch (cause) {
          throw storeError('STORE_WRITE_FAILED', `cannot encode a reading for InfluxDB: ${(cause as Error).message}`, { cause, retriable: false });
        }
        chunks.push({ body, lines: end - i });
      }
      // A few requests in flight; the first failure is reported once all in flight settled.
      let next = 0;
      let failure: unknown;
      const worker = async (): Promise<void> => {
        while (failure === undefined && next < chunks.length) {
          const chunk = chunks[next++] as { body: Buffer; lines: number };
          try {
            await writeChunk(chunk.body, chunk.lines);
          } catch (err) {
            failure ??= err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, chunks.length) }, worker));
      if (failure !== undefined) throw failure;
    },

    async query(q: ReadingQuery) {
      assertRange(q.from, q.to);
      await ready();
      if (!(q.to > q.from) || (q.limit !== undefined && q.limit <= 0)) return [];
      const where = [...meterWhere(q), timeWhere(q.from, q.to)];
      const cols = [FIELD.value, FIELD.intervalS, TAG.quantity, TAG.kind, TAG.unit].map(influxIdent).join(', ');
      const limit = q.limit === undefined ? '' : ` LIMIT ${Math.floor(q.limit)}`;
      const series = await influxql(`SELECT ${cols} FROM ${influxIdent(MEASUREMENT)} WHERE ${where.join(' AND ')}${limit}`);
      const out: StoredReading[] = [];
      for (const s of series) {
        const [iTime, iValue, iInterval, iQuantity, iKind, iUnit] = ['time', FIELD.value, FIELD.intervalS, TAG.quantity, TAG.kind, TAG.unit].map((c) => column(s, c)) as [
          number,
          number,
          number,
          number,
          number,
          number,
        ];
        for (const row of s.values ?? []) {
          out.push(toReading(q, row[iQuantity] as Quantity, row[iKind] as ReadingKind, row[iUnit] as Unit, row[iTime], row[iValue], row[iInterval]));
        }
      }
      out.sort(compareReadings);
      return q.limit === undefined ? out : out.slice(0, q.limit);
    },

    async aggregate(q: AggregateQuery) {
      assertAggregateArgs(q.bucket, q.tz, q.from, q.to);
      await ready();
      if (!(q.to > q.from)) return [];
      const where = [...meterWhere(q), timeWhere(q.from, q.to)];
      const v = influxIdent(FIELD.value);
      const series = await influxql(
        `SELECT COUNT(${v}) AS "count", SUM(${v}) AS "sum", MIN(${v}) AS "min", MAX(${v}) AS "max", SUM(${influxIdent(FIELD.intervalS)}) AS "covered_s"` +
          ` FROM ${influxIdent(MEASUREMENT)} WHERE ${where.join(' AND ')}` +
          ` GROUP BY time(${GROUP_BY_TIME[q.bucket]}) fill(none) tz(${influxString(q.tz)})`,
      );
      const buckets: Array<{ range: BucketRange; totals: BucketTotals }> = [];
      for (const s of series) {
        const [iTime, iCount, iSum, iMin, iMax, iCovered] = ['time', 'count', 'sum', 'min', 'max', 'covered_s'].map((c) => column(s, c)) as [
          number,
          number,
          number,
          number,
          number,
          number,
        ];
        for (const row of s.values ?? []) {
          const start = Number(row[iTime]);
          const count = Number(row[iCount] ?? 0);
          if (count === 0) continue;
          const day = bucketOf(start, q.bucket === '1mo' ? '1d' : q.bucket, q.tz);
          buckets.push({
            range: { start, end: day.end },
            totals: { count, sum: Number(row[iSum]), min: Number(row[iMin]), max: Number(row[iMax]), coveredS: Number(row[iCovered] ?? 0) },
          });
        }
      }
      buckets.sort((a, b) => a.range.start - b.range.start);
      if (q.bucket !== '1mo') return buckets.map((b) => toAggregateRow(b.range, q.kind, b.totals));

      const months: AggregateRow[] = [];
      let month: BucketRange | undefined;
      let totals: BucketTotals | undefined;
      for (const b of buckets) {
        if (!month || !totals || b.range.start >= month.end) {
          if (month && totals) months.push(toAggregateRow(month, q.kind, totals));
          month = localMonth(b.range.start, q.tz);
          totals = { ...b.totals };
        } else {
          addTotals(totals, b.totals);
        }
      }
      if (month && totals) months.push(toAggregateRow(month, q.kind, totals));
      return months;
    },

    async latest(filter?: Partial<MeterRef>) {
      await ready();
      return latestReadings(filter);
    },

    async listSeries(filter?: Partial<MeterRef>) {
      await ready();
      return (await latestReadings(filter)).map(
        (r): SeriesInfo => ({ site: r.site, building: r.building, meter: r.meter, quantity: r.quantity, kind: r.kind, unit: r.unit }),
      );
    },

    async ping() {
      if (closed) return false;
      try {
        const res = await request(endpoint('ping', {}), 'GET', authHeaders(version ?? 'v2'), undefined, 'ping');
        return res.status === 204 || res.status === 200;
      } catch {
        return false;
      }
    },

    async close() {
      closed = true;
      agent.destroy();
    },
  };
}

function toReading(ref: MeterRef, quantity: Quantity, kind: ReadingKind, unit: Unit, ts: unknown, value: unknown, intervalS: unknown): StoredReading {
  const base = { site: ref.site, building: ref.building, meter: ref.meter, quantity, kind, unit, ts: Number(ts), value: Number(value) };
  return kind === 'interval' && intervalS !== null && intervalS !== undefined ? { ...base, intervalS: Number(intervalS) } : base;
}

/** The `error`/`message` of an InfluxDB JSON error body, else the text (trimmed). */
function errorText(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof body.error === 'string') return body.error;
    if (typeof body.message === 'string') return body.message;
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return text.trim().slice(0, 500);
}

/** A socket error as `ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:8086)`. */
function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code}${e.message ? ` (${e.message})` : ''}` : String(e.message ?? err);
}
