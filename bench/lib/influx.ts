/**
 * InfluxDB 1.x over plain HTTP for the benchmarks: the raw write ceiling (pre-generated line
 * protocol posted to `/write`, a few requests in flight), the statistics and InfluxQL the ingest
 * benchmark polls with (points written per database, `SELECT count(value) ...`, marker readings,
 * CREATE/DROP DATABASE).
 *
 * The points have the layout the Wattproof adapter writes (ingest/src/stores/influxdb.ts, whose
 * names are private to it, so they are repeated here; a test compares a line with what
 * `@influxdata/influxdb-client`'s `Point` — the adapter's encoder — makes of the same reading):
 *
 *   reading,building=…,kind=interval,meter=…,quantity=electricity,site=…,unit=kWh interval_s=<s>i,value=<kWh> <ms>
 */
import { Agent, request } from 'node:http';
import type { MeterRef } from '@wattproof/core';
import { monotonicMs } from './payload.js';

/** The adapter's measurement, field and tag names (ingest/src/stores/influxdb.ts). */
export const READING_MEASUREMENT = 'reading';
export const VALUE_FIELD = 'value';

/** One 15-minute-style interval reading (electricity, kWh) as a line of line protocol, ms precision. */
export function readingLine(ref: MeterRef, tsMs: number, value: number, intervalS: number): string {
  // Tags and fields sorted by key, as the client library's Point writes them.
  return `${READING_MEASUREMENT},building=${ref.building},kind=interval,meter=${ref.meter},quantity=electricity,site=${ref.site},unit=kWh interval_s=${intervalS}i,${VALUE_FIELD}=${value} ${tsMs}`;
}

export interface RawPointsPlan {
  /** Points in all. */
  readonly points: number;
  /** Lines per request body. */
  readonly batchPoints: number;
  /** Meters the points are spread over, round-robin (`meter(i)` names them). */
  readonly meters: number;
  readonly meter: (i: number) => MeterRef;
  /** Timestamp of each meter's first point; the next ones follow every `intervalS`. */
  readonly firstTsMs: number;
  readonly intervalS: number;
}

/**
 * Pre-generates the request bodies of the raw writer: point j goes to meter j mod `meters`, the
 * k-th point of a meter at `firstTsMs + k × intervalS` — every point a distinct key, in the order
 * single-reading messages from many meters arrive at the ingest.
 */
export function rawBodies(plan: RawPointsPlan): Buffer[] {
  const refs = Array.from({ length: plan.meters }, (_, i) => plan.meter(i));
  const bodies: Buffer[] = [];
  const stepMs = plan.intervalS * 1000;
  for (let start = 0; start < plan.points; start += plan.batchPoints) {
    const end = Math.min(plan.points, start + plan.batchPoints);
    const lines: string[] = new Array(end - start);
    for (let j = start; j < end; j++) {
      const m = j % plan.meters;
      const k = Math.floor(j / plan.meters);
      lines[j - start] = readingLine(refs[m]!, plan.firstTsMs + k * stepMs, 0.5 + (j % 1000) / 1000, plan.intervalS);
    }
    bodies.push(Buffer.from(lines.join('\n')));
  }
  return bodies;
}

/** Lines in a body (the count of `\n` + 1). */
export function linesIn(body: Buffer): number {
  let n = 1;
  for (let i = body.indexOf(10); i >= 0; i = body.indexOf(10, i + 1)) n++;
  return n;
}

export interface RawWriteResult {
  /** Points in bodies InfluxDB answered 204. */
  readonly pointsAcked: number;
  readonly requests: number;
  /** Answers by HTTP status (and `error` for network errors). */
  readonly statuses: Record<string, number>;
  /** First request sent to last answer received, ms. */
  readonly ms: number;
}

/**
 * Posts every body to `/write?db=&precision=ms`, `inflight` requests at a time on keep-alive
 * connections (node:http, one socket per request in flight), and counts what was acknowledged.
 */
export async function writeBodies(url: string, database: string, bodies: readonly Buffer[], inflight: number): Promise<RawWriteResult> {
  const base = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: inflight });
  const path = `/write?db=${encodeURIComponent(database)}&precision=ms`;
  const statuses: Record<string, number> = {};
  let pointsAcked = 0;
  let next = 0;
  const post = (body: Buffer) =>
    new Promise<number | 'error'>((resolve) => {
      const req = request(
        { host: base.hostname, port: base.port, path, method: 'POST', agent, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length } },
        (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode ?? 0));
          res.once('error', () => resolve('error'));
        },
      );
      req.once('error', () => resolve('error'));
      req.end(body);
    });
  const t0 = monotonicMs();
  await Promise.all(
    Array.from({ length: Math.min(inflight, bodies.length) }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const status = await post(body);
        statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
        if (status === 204) pointsAcked += linesIn(body);
      }
    }),
  );
  const ms = monotonicMs() - t0;
  agent.destroy();
  return { pointsAcked, requests: bodies.length, statuses, ms };
}

export interface InfluxSeries {
  readonly name?: string;
  readonly columns: string[];
  readonly values?: unknown[][];
}

/**
 * Runs InfluxQL (`/query`, ms epochs); GET for reads, POST for CREATE/DROP.
 * @throws Error on an HTTP error or an error in the answer.
 */
export async function influxQl(url: string, database: string | undefined, q: string, method: 'GET' | 'POST' = 'GET'): Promise<InfluxSeries[]> {
  const u = new URL('/query', url);
  u.searchParams.set('epoch', 'ms');
  if (database !== undefined) u.searchParams.set('db', database);
  if (method === 'GET') u.searchParams.set('q', q);
  const res = await fetch(u, {
    method,
    signal: AbortSignal.timeout(30_000),
    ...(method === 'POST' ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ q }).toString() } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`InfluxQL ${q.slice(0, 80)}: HTTP ${res.status} ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { results?: Array<{ series?: InfluxSeries[]; error?: string }>; error?: string };
  const error = body.error ?? body.results?.find((r) => r.error !== undefined)?.error;
  if (error !== undefined) throw new Error(`InfluxQL ${q.slice(0, 80)}: ${error}`);
  return body.results?.flatMap((r) => r.series ?? []) ?? [];
}

/** The number in the `count` column of an InfluxQL `SELECT count(...)` answer; 0 when there is no series (no points). */
export function countOf(series: readonly InfluxSeries[]): number {
  let n = 0;
  for (const s of series) {
    const i = s.columns.indexOf('count');
    if (i < 0) continue;
    for (const row of s.values ?? []) n += Number(row[i] ?? 0);
  }
  return n;
}

/** Points of the reading measurement in `database` (every series, every time). */
export async function countReadings(url: string, database: string): Promise<number> {
  return countOf(await influxQl(url, database, `SELECT count("${VALUE_FIELD}") FROM "${READING_MEASUREMENT}"`));
}

/**
 * Points the shards of `database` accepted, from InfluxDB 1.x's statistics (`/debug/vars`, the
 * expvar JSON: an entry `{ name: "shard", tags: { database }, values: { writePointsOk } }` per
 * shard), summed over its shards. A shard counts a point once it is in its cache and WAL, where
 * queries see it. A point written twice (same series and time) counts twice here and once in
 * `SELECT count()`, so a caller checks the two agree before trusting this one.
 */
export function pointsWrittenIn(vars: unknown, database: string): number {
  let n = 0;
  if (typeof vars !== 'object' || vars === null) return n;
  for (const entry of Object.values(vars as Record<string, unknown>)) {
    const e = entry as { name?: unknown; tags?: { database?: unknown } | null; values?: { writePointsOk?: unknown } } | null;
    if (e?.name !== 'shard' || e.tags?.database !== database) continue;
    const ok = e.values?.writePointsOk;
    if (typeof ok === 'number') n += ok;
  }
  return n;
}

/**
 * `pointsWrittenIn` of a live server. Reading the statistics costs InfluxDB about as much at any
 * size (5 ms for a few dozen shards), where `SELECT count()` reads every point: 375 ms and
 * 0.73 s of influxd's CPU over 2.2 million points on the 2-vCPU machine (docs/PERFORMANCE.md,
 * "The benchmark's own count queries").
 */
export async function pointsWritten(url: string, database: string): Promise<number> {
  const res = await fetch(new URL('/debug/vars', url), { signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`InfluxDB /debug/vars: HTTP ${res.status} ${text.slice(0, 300)}`);
  return pointsWrittenIn(JSON.parse(text), database);
}

/** `value` of the points of one meter after `afterMs` (exclusive), as [ts ms, value] pairs. */
export async function meterValuesAfter(url: string, database: string, ref: MeterRef, afterMs: number): Promise<Array<[number, number]>> {
  const series = await influxQl(
    url,
    database,
    `SELECT "${VALUE_FIELD}" FROM "${READING_MEASUREMENT}" WHERE "site" = '${ref.site}' AND "building" = '${ref.building}' AND "meter" = '${ref.meter}' AND time > ${Math.floor(afterMs)}ms`,
  );
  const out: Array<[number, number]> = [];
  for (const s of series) {
    const iv = s.columns.indexOf(VALUE_FIELD);
    for (const row of s.values ?? []) out.push([Number(row[0]), Number(row[iv])]);
  }
  return out;
}

export async function createDatabase(url: string, database: string): Promise<void> {
  await influxQl(url, undefined, `CREATE DATABASE "${database}"`, 'POST');
}

export async function dropDatabase(url: string, database: string): Promise<void> {
  await influxQl(url, undefined, `DROP DATABASE "${database}"`, 'POST');
}
