/**
 * `npm run bench -- ingest [options]`: Wattproof end to end (device → gateway → ingest → store)
 * against the raw write ceiling of the same InfluxDB, in the same run (issue 8, req. 1(b) and
 * the ingest targets of req. 2).
 *
 * Processes, each its own on 127.0.0.1: a real InfluxDB 1.x (Debian's `influxd`,
 * test/support/influxdb.ts), `node bin/wattproof.js gateway` (bench/lib/brokers.ts: embedded
 * JSON-lines registry, devices provisioned with credentials as in the broker benchmark, sessions
 * in memory unless --gateway-persistence), a fresh `node bin/wattproof.js ingest` per rate step
 * (same registry directory; logs in as the bench's service principal with a persistent QoS 1
 * session; READINGS_STORE=influxdb on a fresh database per step, or =embedded on a fresh DuckDB
 * file), and the neutral load generator (bench/lib/mqtt-load.ts) holding one connection per
 * device and publishing QoS 1 contract-valid readings messages of N consecutive readings each.
 *
 * 1. Raw ceiling: pre-generated line protocol with the adapter's layout (bench/lib/influx.ts),
 *    1 reading = 1 point, POSTed to /write — 5,000-point requests with 2 in flight and
 *    1,000-point requests with 1 in flight — counting points acknowledged with HTTP 204.
 * 2. Per store, per N (readings per message), a ladder of offered rates (readings/s, ascending;
 *    stops after the first step that fails once the latency rate was run; when no step passed,
 *    the lowest rate is halved, twice at most, until one does). Per step: a warm-up
 *    at the step's rate (drained), then `--seconds` of load from t0. After the last publish the
 *    store's count is polled every --poll-ms: InfluxDB the points the step's database accepted
 *    (`writePointsOk` of its shards in `/debug/vars`), checked against one
 *    `SELECT count(value) FROM reading` once they reach the target (a `SELECT count()` per poll,
 *    `--count-by select-count`, reads every point, 0.7 s of influxd's CPU per 2 million, and
 *    slowed the drain it measured); DuckDB the ingest's own `wattproof_ingest_readings_written_total`
 *    (/metrics; the DuckDB file is locked by the ingest), checked against `SELECT count(*)` on
 *    the file once the ingest has stopped. End-to-end readings/s = readings stored / (answer of the first poll that counts
 *    every acknowledged reading − t0). Loss = readings acknowledged by the gateway and not stored
 *    when the count has not moved for --drain seconds.
 *    Latency: besides the load, a marker device publishes one single-reading message every
 *    --marker-every-ms (the reading's value is its number, its timestamp newer than every load
 *    reading) and the store is polled every --poll-ms for them — InfluxDB: the marker meter's
 *    points; DuckDB: the ingest's /health `newestStoredReadingTsMs`. Latency of a marker = answer of
 *    the first poll that shows it − its publish (one clock: CLOCK_MONOTONIC in this process), an
 *    upper bound by up to one poll interval plus one query.
 *    CPU from /proc/<pid>/stat over [t0, that poll]: ingest µs per stored reading, gateway µs per
 *    message, influxd µs per stored reading.
 *    A step passes (sustained, zero loss) when nothing acknowledged is missing, ≥ 99 % of the
 *    offered messages were sent (the gateway did not push back) and the pipeline was at most
 *    --max-lag seconds behind when the load stopped.
 * 3. DuckDB: the store's `aggregate()` of one meter-year of 15-minute readings (35,040) into hours,
 *    median of 10 after a warm-up.
 * 4. Peers (issue 8 req. 1(c), --peers): on the InfluxDB store, each step of the ladder is run by
 *    every peer in turn — the Wattproof ingest, Node-RED 4.1 with node-red-contrib-influxdb joining
 *    500 messages per write (`node-red`), and Node-RED writing once per message
 *    (`node-red-unbatched`, only up to --unbatched-max-rate) — in the order given in odd
 *    repetitions and reversed in even ones (A/B, B/A). Node-RED (bench/lib/node-red.ts; installed
 *    with `npm ci --prefix bench/peers/node-red` when missing) runs as one child process with a
 *    fresh userDir per step, headless, its flow subscribing to the same broker and topics with a
 *    service login of its own (`bench-node-red`, provisioned as the ingest's) and a persistent
 *    QoS 1 session, and writing the adapter's measurement, tags and fields to a fresh database
 *    (created by the bench); the same count, markers, loss and pass rule apply, and its CPU is
 *    read from /proc as the ingest's. After every step the peer's MQTT session is ended (a clean
 *    session with its client id), so the gateway queues nothing for a peer that is not running.
 *    Reported per readings per message and rate: stored/acked readings, loss, CPU µs per stored
 *    reading of the ingest-side process, p99 publish → queryable, the CPU ratio against Wattproof
 *    in the same repetition; per readings per message the highest zero-loss rate of each peer;
 *    and the targets (Wattproof CPU per reading ≤ 1/4 of batched Node-RED's; with 10 readings a
 *    message a max zero-loss rate ≥ 2× batched Node-RED's).
 *
 * Options: `npm run bench -- ingest --help` (CLI below).
 *
 * Needs `influxd` (apt-get install influxdb); the Node-RED peers need the npm registry once.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { ALL_READINGS_FILTER, type MeterRef, type StoredReading } from '@wattproof/core';
import { GATEWAY_NODE_ARGS, provisionService } from '@wattproof/gateway';
import { createJsonlRegistryStore, REGISTRY_DATA_SUBDIR } from '@wattproof/gateway/registry';
import { INGEST_NODE_ARGS } from '@wattproof/ingest';
import { createDuckDbReadingStore, EMBEDDED_READINGS_FILE } from '@wattproof/ingest/stores';
import { startInfluxDb, type TestInfluxDb } from '../test/support/influxdb.js';
import { benchDevice, benchDeviceLogin, freePort, provisionBench, startGateway, SUBSCRIBER_USERNAME, type BenchCredentials, type BrokerProcess } from './lib/brokers.js';
import { forkChild, type BenchChild } from './lib/child.js';
import { BenchUsageError, defineBench, parseBenchArgs, showBenchHelp } from './lib/cli.js';
import { mainThreadProfile, summarizeCpuProfile, type ProfileSummary } from './lib/cpu-profile.js';
import { writeFlameGraph } from './lib/flame-graph.js';
import { countReadings, createDatabase, dropDatabase, meterValuesAfter, pointsWritten, rawBodies, writeBodies } from './lib/influx.js';
import {
  COUNT_BYS,
  DEFAULT_STEP_CRITERIA,
  firstReaching,
  formatE2e,
  formatRaw,
  formatSteps,
  formatPeerRows,
  formatTargets,
  formatZeroLoss,
  judgeStep,
  peerOf,
  PEERS,
  peerTargetRows,
  pickIntervalS,
  promValue,
  summarizePeerSteps,
  summarizeRaw,
  summarizeSteps,
  summarizeZeroLoss,
  targetRows,
  type CountBy,
  type PeerName,
  type Poll,
  type RawRow,
  type StepResult,
  type StoreName,
} from './lib/ingest-steps.js';
import { describeMachine, machineInfo, sourceState } from './lib/machine.js';
import type { LoadIn, LoadOut, LoadResult } from './lib/mqtt-load.js';
import { connectRaw, type RawClient } from './lib/mqtt-raw.js';
import { DEFAULT_NODE_RED_BATCH_MESSAGES, DEFAULT_NODE_RED_BATCH_TIMEOUT_S, ensureNodeRed, NODE_RED_READY_TEXT, nodeRedFlow, prepareNodeRed, type NodeRedInstall } from './lib/node-red.js';
import { startIngestProcess, startNodeProcess, type IngestProcess } from './lib/node-process.js';
import { monotonicMs, nextSeq, readingsBatchPayload } from './lib/payload.js';
import { loadAverage, sampleProcess, type ProcessSample } from './lib/proc.js';
import { createSampleBuffer, median } from './lib/stats.js';

export interface IngestBenchOptions {
  readonly stores: readonly StoreName[];
  /** Ingest sides, each run at every step in turn (Node-RED on the InfluxDB store only). */
  readonly peers: readonly PeerName[];
  /** node-red-unbatched runs the steps up to this many readings/s only. */
  readonly unbatchedMaxRate: number;
  /** Batched Node-RED: messages per join, and the join's timeout, s. */
  readonly nodeRedBatch: number;
  readonly nodeRedBatchTimeoutS: number;
  readonly readingsPerMessage: readonly number[];
  readonly rates: readonly number[];
  readonly latencyRate: number;
  readonly seconds: number;
  readonly warmupS: number;
  readonly reps: number;
  readonly devices: number;
  readonly inflight: number;
  readonly drainS: number;
  readonly maxLagS: number;
  readonly pollMs: number;
  /**
   * How an InfluxDB step's progress is counted: `points-written`, the statistics of the step's
   * database (cheap, confirmed by one `SELECT count()` at the end), or `select-count`, a
   * `SELECT count()` per poll as before 2026-12-03 (each one reads every point of the step).
   */
  readonly countBy: CountBy;
  readonly markerEveryMs: number;
  readonly rawPoints: number;
  readonly gatewayPersistence: boolean;
  readonly cpuProf: boolean;
  /** `--ingest-node-args`: Node arguments of the Wattproof ingest, e.g. V8 heap flags to compare. */
  readonly ingestNodeArgs: readonly string[];
  /** `--ingest-env`: environment of the Wattproof ingest on top of the benchmark's, e.g. a batch size to compare. */
  readonly ingestEnv: Readonly<Record<string, string>>;
  /** `--gateway-node-args`: Node arguments of the gateway after GATEWAY_NODE_ARGS (gateway/src/node-args.ts), e.g. V8 heap flags to compare. */
  readonly gatewayNodeArgs: readonly string[];
  /** With `cpuProf`: write a flame graph of each step's measured interval here (bench/lib/flame-graph.ts). */
  readonly flameDir?: string;
  readonly json?: string;
  /** Re-print the tables of an earlier run's --json file instead of running. */
  readonly fromJson?: string;
  /** Only time the DuckDB aggregation of a meter-year (no processes). */
  readonly aggregateOnly: boolean;
}

/** The raw-ceiling rows: points per request and requests in flight. */
export const RAW_ROWS: ReadonlyArray<{ readonly batchPoints: number; readonly inflight: number }> = [
  { batchPoints: 5000, inflight: 2 },
  { batchPoints: 1000, inflight: 1 },
];

/** Load readings start this long ago and end at most TS_SPAN_MS later: in the past, and younger than INGEST_SEAL_AFTER_S (2 days). */
const TS_BACK_MS = 46 * 3_600_000;
const TS_SPAN_MS = 45 * 3_600_000;
/** Marker readings are stamped from this long ago on, one second apart: newer than every load reading. */
const MARKER_BACK_MS = 30 * 60_000;
/** One meter-year of 15-minute readings. */
const METER_YEAR_READINGS = 35_040;
const MiB = 2 ** 20;
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

export const CLI = defineBench({
  name: 'ingest',
  summary: `Wattproof end to end (device -> gateway -> ingest -> store) against the raw write ceiling of the same
InfluxDB, and on the embedded DuckDB store: per readings per message, a ladder of offered rates with
loss, latency (publish -> queryable) and CPU per reading of each process; optionally Node-RED as a peer.
Needs influxd (apt-get install influxdb); the Node-RED peers need the npm registry once.`,
  options: {
    store: { type: 'string', placeholder: 'S', default: 'influxdb', description: 'influxdb | duckdb | both' },
    // Node-RED only on the InfluxDB store.
    peers: { type: 'string', placeholder: 'P,P', description: `ingest sides run at every step in turn, of ${PEERS.join(', ')} (default wattproof)` },
    // `--peer node-red`: Wattproof against batched Node-RED.
    peer: { type: 'string', placeholder: 'P', multiple: true, description: 'adds P to the --peers' },
    'unbatched-max-rate': { type: 'string', placeholder: 'R', default: '5000', description: 'node-red-unbatched runs only the steps up to R readings/s' },
    'node-red-batch': { type: 'string', placeholder: 'N', default: String(DEFAULT_NODE_RED_BATCH_MESSAGES), description: 'messages per join of batched Node-RED' },
    'node-red-batch-timeout': { type: 'string', placeholder: 'S', default: String(DEFAULT_NODE_RED_BATCH_TIMEOUT_S), description: "the join's timeout, seconds" },
    'readings-per-message': { type: 'string', placeholder: 'N,N,...', default: '1,10,1000', description: 'readings per message, one ladder each (the contract allows 1 to 1,000)' },
    rates: { type: 'string', placeholder: 'R,R,...', default: '5000,10000,20000,40000,80000,160000', description: 'offered readings/s, the ladder' },
    'latency-rate': { type: 'string', placeholder: 'R', default: '10000', description: 'the rate of the latency figure, readings/s (added to the ladder)' },
    seconds: { type: 'string', placeholder: 'S', default: '15', description: 'seconds of load per step' },
    warmup: { type: 'string', placeholder: 'S', default: '2', description: "seconds of warm-up per step at the step's rate" },
    reps: { type: 'string', placeholder: 'N', default: '2', description: 'repetitions of the ladder' },
    devices: { type: 'string', placeholder: 'N', default: '1000', description: 'device connections' },
    inflight: { type: 'string', placeholder: 'N', default: '2', description: 'QoS 1 PUBLISHes unacknowledged per device' },
    drain: { type: 'string', placeholder: 'S', default: '30', description: 'give up waiting for the count after S seconds without progress' },
    'max-lag': { type: 'string', placeholder: 'S', default: String(DEFAULT_STEP_CRITERIA.maxLagS), description: 'a passing step is at most S seconds behind when the load stops' },
    'poll-ms': { type: 'string', placeholder: 'MS', default: '100', description: 'milliseconds between polls of the count and the markers' },
    'count-by': {
      type: 'string',
      placeholder: 'HOW',
      default: 'points-written',
      description: "InfluxDB steps: points-written (the database's write statistics per poll, checked by one SELECT count() at the end) or select-count (a SELECT count() per poll, which reads every point)",
    },
    'marker-every-ms': { type: 'string', placeholder: 'MS', default: '100', description: 'milliseconds between latency marker messages' },
    'raw-points': { type: 'string', placeholder: 'N', default: '1000000', description: 'points written per raw-ceiling row' },
    'gateway-persistence': { type: 'boolean', default: false, description: 'gateway sessions on disk (GATEWAY_PERSISTENCE_DIR, fsynced) instead of in memory' },
    // Over the measured interval. Node 20 refuses --cpu-prof in NODE_OPTIONS, so it is a node argument.
    'cpu-prof': { type: 'boolean', default: false, description: 'run the ingest under node --cpu-prof and print its top self time per step' },
    'flame-dir': { type: 'string', placeholder: 'DIR', description: "with --cpu-prof: write a flame graph of the ingest over each step's measured interval there (step-N-….svg, and its stacks as .folded for speedscope or flamegraph.pl)" },
    'ingest-node-args': { type: 'string', placeholder: 'ARGS', default: '', description: `Node arguments for the Wattproof ingest, after the deployed ones (${INGEST_NODE_ARGS.join(' ')}; a later flag wins), space-separated, given with "=" (--ingest-node-args=--max-semi-space-size=16)` },
    'ingest-env': {
      type: 'string',
      placeholder: 'NAME=VALUE',
      multiple: true,
      description: "environment of the Wattproof ingest over the benchmark's, repeatable (--ingest-env INGEST_BATCH_MAX_READINGS=20000)",
    },
    'gateway-node-args': { type: 'string', placeholder: 'ARGS', default: '', description: `Node arguments for the gateway, after the deployed ones (${GATEWAY_NODE_ARGS.join(' ')}; a later flag wins), space-separated, given with "=" (--gateway-node-args=--trace-gc)` },
    json: { type: 'string', placeholder: 'FILE', description: 'also write every step and the summaries as JSON' },
    'from-json': { type: 'string', placeholder: 'FILE', description: "print the tables of an earlier run's --json file again and run nothing" },
    'aggregate-only': { type: 'boolean', default: false, description: 'only time the DuckDB aggregation of a meter-year (no processes started)' },
  },
});

export function parseIngestBenchArgs(argv: string[]): IngestBenchOptions {
  const values = parseBenchArgs(CLI, argv);
  const num = (name: string, s: string, min = Number.MIN_VALUE) => {
    const x = Number(s);
    if (!Number.isFinite(x) || x < min) throw new BenchUsageError(`--${name} must be a number ≥ ${min === Number.MIN_VALUE ? '> 0' : min}, not ${s}`);
    return x;
  };
  const list = (name: string, s: string) => s.split(',').map((x) => num(name, x.trim()));
  const stores: StoreName[] = values.store === 'both' ? ['influxdb', 'duckdb'] : values.store === 'influxdb' || values.store === 'duckdb' ? [values.store] : [];
  if (!stores.length) throw new BenchUsageError('--store takes influxdb, duckdb or both');
  const peerNames = [...(values.peers ?? 'wattproof').split(','), ...(values.peer ?? [])].map((x) => x.trim()).filter((x) => x !== '');
  const unknown = peerNames.filter((x) => !(PEERS as readonly string[]).includes(x));
  if (unknown.length || !peerNames.length) throw new BenchUsageError(`--peers takes ${PEERS.join(', ')} (comma-separated), not ${unknown.join(',') || 'nothing'}`);
  const peers = [...new Set(peerNames)] as PeerName[];
  if (peers.some((x) => x !== 'wattproof') && !stores.includes('influxdb')) throw new BenchUsageError('the Node-RED peers write InfluxDB: use --store influxdb or both');
  const perMessage = list('readings-per-message', values['readings-per-message']).map(Math.floor);
  if (perMessage.some((n) => n < 1 || n > 1000)) throw new BenchUsageError('--readings-per-message: 1 to 1,000 (contract v1)');
  if (values['flame-dir'] && !values['cpu-prof']) throw new BenchUsageError('--flame-dir goes with --cpu-prof');
  const latencyRate = num('latency-rate', values['latency-rate']);
  const rates = [...new Set([...list('rates', values.rates), latencyRate])].sort((a, b) => a - b);
  return {
    stores,
    peers,
    unbatchedMaxRate: num('unbatched-max-rate', values['unbatched-max-rate']),
    nodeRedBatch: Math.floor(num('node-red-batch', values['node-red-batch'], 1)),
    nodeRedBatchTimeoutS: num('node-red-batch-timeout', values['node-red-batch-timeout']),
    readingsPerMessage: perMessage,
    rates,
    latencyRate,
    seconds: num('seconds', values.seconds),
    warmupS: num('warmup', values.warmup, 0),
    reps: Math.floor(num('reps', values.reps, 1)),
    devices: Math.floor(num('devices', values.devices, 1)),
    inflight: Math.floor(num('inflight', values.inflight, 1)),
    drainS: num('drain', values.drain),
    maxLagS: num('max-lag', values['max-lag']),
    pollMs: num('poll-ms', values['poll-ms'], 10),
    countBy: countByOf(values['count-by']),
    markerEveryMs: num('marker-every-ms', values['marker-every-ms'], 10),
    rawPoints: Math.floor(num('raw-points', values['raw-points'], 1000)),
    gatewayPersistence: values['gateway-persistence'],
    cpuProf: values['cpu-prof'],
    ingestNodeArgs: values['ingest-node-args'].split(' ').filter((a) => a !== ''),
    gatewayNodeArgs: values['gateway-node-args'].split(' ').filter((a) => a !== ''),
    ingestEnv: envPairs(values['ingest-env'] ?? []),
    ...(values['flame-dir'] ? { flameDir: values['flame-dir'] } : {}),
    ...(values.json ? { json: values.json } : {}),
    ...(values['from-json'] ? { fromJson: values['from-json'] } : {}),
    aggregateOnly: values['aggregate-only'],
  };
}

function envPairs(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(pair);
    if (!m) throw new BenchUsageError(`--ingest-env takes NAME=VALUE, not ${pair}`);
    env[m[1]!] = m[2]!;
  }
  return env;
}

function countByOf(s: string): CountBy {
  if (!(COUNT_BYS as readonly string[]).includes(s)) throw new BenchUsageError(`--count-by takes ${COUNT_BYS.join(' or ')}, not ${s}`);
  return s as CountBy;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const at = (monoMs: number, fn: () => void) => setTimeout(fn, Math.max(0, monoMs - monotonicMs()));
const log = (s: string) => process.stderr.write(`[ingest bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${loadAverage().join(', ')}`;
  }
}

function influxdVersion(): string {
  try {
    return execFileSync('influxd', ['version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'influxd (version unknown)';
  }
}

/** A running ingest-side process: `node [nodeArgs] bin/wattproof.js ingest`, or Node-RED (`node red.js ...`). */
/** Node-RED's MQTT login: a service principal of its own, provisioned as the ingest's. */
const NODE_RED_USERNAME = 'bench-node-red';
const NODE_RED_PASSWORD = 'bench-node-red-secret-0123456789abcdef';

/**
 * The MQTT login of a peer: the ingest's (as before peers existed) or Node-RED's. One client id
 * per peer for every step: a new one would leave the old persistent session behind, queueing
 * every message for it.
 */
function peerLogin(peer: PeerName, creds: BenchCredentials): { clientId: string; username: string; password: string } {
  if (peer === 'wattproof') return { clientId: 'bench-ingest', username: SUBSCRIBER_USERNAME, password: creds.subscriberPassword };
  return { clientId: 'bench-node-red', username: NODE_RED_USERNAME, password: NODE_RED_PASSWORD };
}

/**
 * Ends the persistent session of `login`: a CONNECT with clean session discards it and anything
 * queued for it [MQTT-3.1.2-6], so the gateway queues nothing for a peer while another one runs.
 */
async function endSession(gateway: BrokerProcess, login: { clientId: string; username: string; password: string }): Promise<void> {
  const c = await connectRaw({ host: gateway.host, port: gateway.port, clientId: login.clientId, username: login.username, password: login.password, clean: true, connectTimeoutMs: 10_000 });
  await c.close();
}

interface Marker {
  readonly client: RawClient;
  readonly ref: MeterRef;
  readonly topic: Buffer;
  lastSeq: number;
  acked: number;
}

interface Ctx {
  readonly o: IngestBenchOptions;
  /** Set when a Node-RED peer runs. */
  readonly nodeRed?: NodeRedInstall;
  readonly creds: BenchCredentials;
  readonly gateway: BrokerProcess;
  readonly gen: BenchChild<LoadIn, LoadOut>;
  readonly marker: Marker;
  readonly influx: TestInfluxDb;
  readonly dir: string;
  /** The command line, for the flame graphs' captions. */
  readonly command: string;
  /** The generator's cumulative acknowledged messages after its last run. */
  acked: number;
  stepNo: number;
}

interface Samples {
  readonly ingest: ProcessSample | undefined;
  readonly gateway: ProcessSample | undefined;
  readonly influxd: ProcessSample | undefined;
}

function cpuDelta(a: ProcessSample | undefined, b: ProcessSample | undefined): { cpuS: number; pct: number } {
  if (!a || !b || b.atMs <= a.atMs) return { cpuS: Number.NaN, pct: Number.NaN };
  return { cpuS: b.cpuS - a.cpuS, pct: ((b.cpuS - a.cpuS) / ((b.atMs - a.atMs) / 1000)) * 100 };
}

/** Runs the generator once (window = the whole run) and returns its result and the messages it got acknowledged in it. */
async function runGenerator(ctx: Ctx, startMs: number, t1Ms: number, messagesPerS: number, batch: NonNullable<Extract<LoadIn, { type: 'run' }>['batch']>): Promise<{ result: LoadResult; acked: number }> {
  const drainMs = ctx.o.drainS * 1000;
  const pending = ctx.gen.next('result', t1Ms - monotonicMs() + drainMs + 60_000);
  ctx.gen.send({ type: 'run', startMs, t0Ms: startMs, t1Ms, rate: messagesPerS, qos: 1, inflight: ctx.o.inflight, drainMs, batch });
  const result = await pending;
  const acked = result.acked - ctx.acked;
  ctx.acked = result.acked;
  return { result, acked };
}

/**
 * Polls `count` every `pollMs` until it reaches the target (once known) or has not grown for
 * `stallMs`; `onPoll` runs right after each answer.
 */
async function pollCount(
  count: () => Promise<number>,
  state: { target?: number; failed?: Error },
  pollMs: number,
  stallMs: number,
  onPoll?: (p: Poll) => void,
): Promise<{ polls: Poll[]; reached: boolean }> {
  const polls: Poll[] = [];
  let last = -1;
  let progressAt = monotonicMs();
  for (;;) {
    const t = monotonicMs();
    let v = last;
    try {
      v = await count();
    } catch (err) {
      log(`count failed: ${(err as Error).message}`);
    }
    const p = { atMs: monotonicMs(), value: v };
    polls.push(p);
    onPoll?.(p);
    if (v > last) {
      last = v;
      progressAt = p.atMs;
    }
    if (state.failed) throw state.failed;
    if (state.target !== undefined && v >= state.target) return { polls, reached: true };
    if (state.target !== undefined && p.atMs - progressAt > stallMs) return { polls, reached: false };
    await sleep(pollMs - (monotonicMs() - t));
  }
}

async function duckDbFileCount(path: string): Promise<number> {
  const instance = await DuckDBInstance.create(path);
  try {
    const conn = await instance.connect();
    try {
      // The adapter's table (ingest/src/stores/duckdb.ts).
      const reader = await conn.runAndReadAll('SELECT count(*) FROM readings');
      return Number(reader.getRows()[0]?.[0] ?? Number.NaN);
    } finally {
      conn.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}


/** One rate step: a fresh ingest (or Node-RED) on a fresh database, warm-up, load, drain, count. */
async function runStep(ctx: Ctx, store: StoreName, peer: PeerName, n: number, rate: number, rep: number): Promise<StepResult & { profile?: ProfileSummary }> {
  const { o, creds, gateway, marker, influx } = ctx;
  const stepNo = ++ctx.stepNo;
  const base = { store, peer, readingsPerMessage: n, rep, offeredPerS: rate } as const;
  const login = peerLogin(peer, creds);
  const db = `wp_step_${stepNo}`;
  const dataDir = join(creds.dir, 'data');
  const duckPath = join(dataDir, EMBEDDED_READINGS_FILE);
  const messagesPerS = rate / n;
  // Readings one device sends in the step, with room for rounding up to whole messages.
  const perDevice = (((o.warmupS + o.seconds) * rate) / o.devices) * 1.1 + 2 * n;
  const intervalS = pickIntervalS(perDevice, TS_SPAN_MS);
  // + stepNo ms: another value than the previous step's, so the generator starts its timestamps again.
  const firstTsMs = Math.floor((Date.now() - TS_BACK_MS) / (intervalS * 1000)) * intervalS * 1000 + stepNo;
  const batch = { readingsPerMessage: n, intervalS, firstTsMs };
  if (store === 'duckdb') await Promise.all([rm(duckPath, { force: true }), rm(`${duckPath}.wal`, { force: true })]);
  const httpPort = await freePort();
  const profDir = o.cpuProf && peer === 'wattproof' ? join(ctx.dir, 'profiles', `step-${stepNo}`) : undefined;
  if (profDir) await mkdir(profDir, { recursive: true });
  const env: Record<string, string> = {
    LOG_LEVEL: 'warn',
    REGISTRY_STORE: 'embedded',
    WATTPROOF_DATA_DIR: dataDir,
    API_HOST: '127.0.0.1',
    INGEST_HTTP_PORT: String(httpPort),
    INGEST_MQTT_URL: `mqtt://${gateway.host}:${gateway.port}`,
    INGEST_MQTT_USERNAME: login.username,
    INGEST_MQTT_PASSWORD: login.password,
    INGEST_MQTT_CLIENT_ID: login.clientId,
    ...(store === 'influxdb' ? { READINGS_STORE: 'influxdb', INFLUX_URL: influx.url, INFLUX_DATABASE: db, INFLUX_API_VERSION: 'v1' } : { READINGS_STORE: 'embedded' }),
    ...o.ingestEnv,
  };
  const metricsUrl = `http://127.0.0.1:${httpPort}/metrics`;
  const healthUrl = `http://127.0.0.1:${httpPort}/health`;
  // InfluxDB: `selectCount` reads every point of the step's database, 0.7 s of influxd's CPU per
  // 2 million points, so a poll of it every --poll-ms competes with the very writes it waits
  // for; `--count-by points-written` polls the database's write statistics instead and checks
  // them against one `selectCount` at the end (see the drain below).
  const selectCount = () => countReadings(influx.url, db);
  const count =
    store === 'influxdb'
      ? selectCount
      : async () => promValue(await (await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) })).text(), 'wattproof_ingest_readings_written_total');

  let ingest: IngestProcess | undefined;
  let result: StepResult & { profile?: ProfileSummary };
  let window: { fromMs: number; toMs: number } | undefined;
  try {
    if (peer === 'wattproof') {
      ingest = startIngestProcess(env, [...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), ...o.ingestNodeArgs]);
      await ingest.waitForOutput('Wattproof ingest:', 180_000);
    } else {
      if (!ctx.nodeRed) throw new Error('Node-RED is not installed');
      await createDatabase(influx.url, db);
      const u = new URL(influx.url);
      const flow = nodeRedFlow({
        variant: peer === 'node-red' ? 'batched' : 'per-message',
        mqtt: { host: gateway.host, port: gateway.port, ...login, cleanSession: false, topic: ALL_READINGS_FILTER },
        influx: { host: u.hostname, port: Number(u.port), database: db },
        batchMessages: o.nodeRedBatch,
        batchTimeoutS: o.nodeRedBatchTimeoutS,
      });
      const cmd = await prepareNodeRed(ctx.nodeRed, join(ctx.dir, 'node-red', `step-${stepNo}`), flow, 'info');
      ingest = startNodeProcess('node-red', cmd.args, {}, cmd.cwd, '[error]');
      await ingest.waitForOutput(NODE_RED_READY_TEXT, 180_000);
      // The MQTT node subscribes right after that line; give the SUBACK a moment (the warm-up's drain check catches a late one).
      await sleep(1000);
    }
    const pid = ingest.child.pid!;
    const samples = (): Samples => ({ ingest: sampleProcess(pid), gateway: sampleProcess(gateway.pid), influxd: store === 'influxdb' ? sampleProcess(influx.pid() ?? -1) : undefined });

    if (o.warmupS > 0) {
      const ws = monotonicMs() + 100;
      const w = await runGenerator(ctx, ws, ws + o.warmupS * 1000, messagesPerS, batch);
      const drained = await pollCount(count, { target: w.acked * n }, o.pollMs, o.drainS * 1000);
      if (!drained.reached) throw new Error(`the warm-up did not drain: ${drained.polls.at(-1)?.value} of ${w.acked * n} readings stored`);
    }
    const stored0 = await count();
    // Points written before the load that the step's count does not hold (the warm-up's writes twice).
    const writtenTwice0 = store === 'influxdb' && o.countBy === 'points-written' ? (await pointsWritten(influx.url, db)) - stored0 : undefined;
    const drainCount = writtenTwice0 === undefined ? count : async () => (await pointsWritten(influx.url, db)) - writtenTwice0;

    const startMs = monotonicMs() + 300;
    const t1Ms = startMs + o.seconds * 1000;
    let s0: Samples | undefined;
    let errors0 = 0;
    const proc = ingest;
    const startTimer = at(startMs, () => {
      s0 = samples();
      errors0 = proc.errorLines();
    });

    // Markers: one single-reading message every markerEveryMs in [startMs, t1Ms).
    const markers: Array<{ sendMs: number; tsMs: number; seenMs?: number }> = [];
    const markerBaseTs = Math.floor((Date.now() - MARKER_BACK_MS) / 1000) * 1000;
    const markerAcked0 = marker.acked;
    let markerTimer: NodeJS.Timeout | undefined;
    const sendMarker = () => {
      const now = monotonicMs();
      if (now >= t1Ms) return;
      const k = markers.length;
      const seq = nextSeq(marker.lastSeq);
      marker.lastSeq = seq;
      const tsMs = markerBaseTs + k * 1000;
      markers.push({ sendMs: now, tsMs });
      marker.client.publish(marker.topic, readingsBatchPayload(seq, tsMs, 1, 1, k), 1, now);
      markerTimer = setTimeout(sendMarker, startMs + (k + 1) * o.markerEveryMs - monotonicMs());
    };
    markerTimer = at(startMs, sendMarker);
    let markersDone = false;
    const markerPolling = (async () => {
      await sleep(startMs - monotonicMs());
      for (;;) {
        // Once the count has finished, one more poll: every acknowledged marker is stored by then.
        const last = markersDone;
        const t = monotonicMs();
        try {
          if (store === 'influxdb') {
            // From the oldest marker not seen yet: a batch above INFLUX_BATCH_POINTS goes out as
            // concurrent requests, so a later marker can become visible before an earlier one.
            const unseen = markers.find((m) => m.seenMs === undefined);
            const rows = await meterValuesAfter(influx.url, db, marker.ref, (unseen?.tsMs ?? markerBaseTs + markers.length * 1000) - 1);
            const seen = monotonicMs();
            for (const [, v] of rows) {
              const m = markers[v];
              if (m && m.seenMs === undefined) m.seenMs = seen;
            }
          } else {
            const health = (await (await fetch(healthUrl, { signal: AbortSignal.timeout(10_000) })).json()) as { components?: { ingest?: { newestStoredReadingTsMs?: number | null } } };
            const seen = monotonicMs();
            const newest = health.components?.ingest?.newestStoredReadingTsMs ?? -Infinity;
            for (const m of markers) if (m.seenMs === undefined && m.tsMs <= newest) m.seenMs = seen;
          }
        } catch (err) {
          log(`marker poll failed: ${(err as Error).message}`);
        }
        if (last || (monotonicMs() >= t1Ms && markers.every((m) => m.seenMs !== undefined))) break;
        await sleep(o.pollMs - (monotonicMs() - t));
      }
    })();

    const state: { target?: number; failed?: Error } = {};
    const gen = runGenerator(ctx, startMs, t1Ms, messagesPerS, batch);
    const targetKnown = gen.then(
      async (g) => {
        // Markers still unacknowledged get a moment; what is acknowledged must be stored.
        const until = monotonicMs() + 10_000;
        while (marker.client.inflight() > 0 && monotonicMs() < until) await sleep(20);
        state.target = stored0 + g.acked * n + (marker.acked - markerAcked0);
        return g;
      },
      (err: unknown) => {
        state.failed = err as Error;
        throw err;
      },
    );
    await sleep(t1Ms - monotonicMs());
    const pollSamples: Samples[] = [];
    let polled = await pollCount(drainCount, state, o.pollMs, o.drainS * 1000, () => pollSamples.push(samples()));
    let countedBy: CountBy | undefined = store === 'influxdb' ? (writtenTwice0 === undefined ? 'select-count' : 'points-written') : undefined;
    if (countedBy === 'points-written') {
      // The statistics count a point written twice twice. When they agree with SELECT count() now,
      // no point of the step was written twice, so every poll's figure was the stored count then.
      const written = await drainCount();
      const counted = await selectCount();
      if (written !== counted) {
        log(`${db}: InfluxDB's statistics say ${written} points written, SELECT count() ${counted}; counting with SELECT count() instead`);
        pollSamples.length = 0;
        polled = await pollCount(selectCount, state, o.pollMs, o.drainS * 1000, () => pollSamples.push(samples()));
        countedBy = 'select-count';
      }
    }
    const g = await targetKnown;
    markersDone = true;
    clearTimeout(startTimer);
    clearTimeout(markerTimer);
    await markerPolling;

    const expected = state.target!;
    const last = polled.polls.at(-1)!;
    const reached = firstReaching(polled.polls, expected);
    const endPoll = reached ?? [...polled.polls].reverse().find((p) => p.value === last.value) ?? last;
    const s1 = pollSamples[polled.polls.indexOf(endPoll)];
    const markersAcked = marker.acked - markerAcked0;
    const storedAtEnd = endPoll.value - stored0;
    const loadStored = Math.max(0, Math.min(storedAtEnd - markersAcked, g.acked * n));
    const e2eS = (endPoll.atMs - startMs) / 1000;
    const ingestCpu = cpuDelta(s0?.ingest, s1?.ingest);
    const gatewayCpu = cpuDelta(s0?.gateway, s1?.gateway);
    const influxdCpu = cpuDelta(s0?.influxd, s1?.influxd);
    const lat = createSampleBuffer(markers.length + 1);
    for (const m of markers) if (m.seenMs !== undefined) lat.push(m.seenMs - m.sendMs);
    const expectedInStep = expected - stored0;
    window = { fromMs: startMs, toMs: endPoll.atMs };
    result = {
      ...base,
      status: 'ok',
      seconds: o.seconds,
      intervalS,
      sentMessages: g.result.sent,
      ackedMessages: g.acked,
      blockedMessages: g.result.blockedInWindow,
      laggedMessages: g.result.laggedInWindow,
      markersSent: markers.length,
      markersAcked,
      expectedReadings: expectedInStep,
      countBefore: stored0,
      storedReadings: last.value - stored0,
      loss: expectedInStep > 0 ? Math.max(0, expected - last.value) / expectedInStep : 0,
      ...(countedBy ? { countedBy } : {}),
      drained: polled.reached,
      e2eS,
      e2ePerS: loadStored / e2eS,
      lagAfterEndS: (endPoll.atMs - t1Ms) / 1000,
      latencyMs: lat.count() ? lat.summarize() : null,
      markersMissing: markers.filter((m) => m.seenMs === undefined).length,
      ingestCpuUsPerReading: (ingestCpu.cpuS * 1e6) / storedAtEnd,
      ingestCpuPct: ingestCpu.pct,
      ingestPeakRssMiB: (sampleProcess(pid)?.hwmBytes ?? Number.NaN) / MiB,
      gatewayCpuUsPerMessage: (gatewayCpu.cpuS * 1e6) / (g.result.sent + markers.length),
      gatewayCpuPct: gatewayCpu.pct,
      ...(store === 'influxdb' ? { influxdCpuUsPerPoint: (influxdCpu.cpuS * 1e6) / storedAtEnd } : {}),
      ...(peer !== 'wattproof' ? { peerLogErrors: ingest.errorLines() - errors0, peerLogErrorSamples: ingest.errorSamples() } : {}),
      loadAverage1m: loadAverage()[0],
    };
  } catch (err) {
    result = { ...base, status: 'error', error: (err as Error).message, loadAverage1m: loadAverage()[0] };
  } finally {
    if (ingest) {
      await ingest.stop();
      if (ingest.child.exitCode !== 0) log(`${peer} exited with ${ingest.child.exitCode ?? ingest.child.signalCode}:\n${ingest.output().slice(-4000)}`);
    }
    await endSession(gateway, login).catch((err: unknown) => log(`ending the MQTT session of ${login.clientId}: ${(err as Error).message}`));
  }
  if (store === 'duckdb') {
    if (result.status === 'ok') {
      try {
        result = { ...result, fileCount: await duckDbFileCount(duckPath) };
      } catch (err) {
        log(`counting the DuckDB file failed: ${(err as Error).message}`);
      }
    }
    await Promise.all([rm(duckPath, { force: true }), rm(`${duckPath}.wal`, { force: true })]);
  } else {
    await dropDatabase(influx.url, db).catch((err: unknown) => log(`DROP DATABASE ${db}: ${(err as Error).message}`));
  }
  if (profDir && window) {
    const profile = await mainThreadProfile(profDir);
    const range = { root: REPO_ROOT, fromUs: window.fromMs * 1000, toUs: window.toMs * 1000 };
    if (profile) result = { ...result, profile: summarizeCpuProfile(profile, { top: 20, ...range }) };
    if (profile && o.flameDir) {
      const svg = await writeFlameGraph(profile, o.flameDir, `step-${stepNo}-${store}-${n}rdg-${rate}`, {
        ...range,
        title: `ingest → ${store === 'influxdb' ? 'InfluxDB' : 'DuckDB'}, ${n} reading${n === 1 ? '' : 's'} per message at ${rate.toLocaleString('en-US')} readings/s offered: main thread over the measured interval`,
        subtitle: `${ctx.command} · step ${stepNo}, repetition ${rep}` + (result.ingestCpuUsPerReading !== undefined ? ` · ${result.ingestCpuUsPerReading.toFixed(2)} µs of ingest CPU per stored reading` : ''),
      });
      log(`flame graph: ${svg}`);
    }
  }
  const failed = judgeStep(result, { ...DEFAULT_STEP_CRITERIA, maxLagS: o.maxLagS });
  return { ...result, pass: failed.length === 0, failed };
}

async function runRaw(influx: TestInfluxDb, bodies: readonly Buffer[], points: number, batchPoints: number, inflight: number, rep: number): Promise<RawRow> {
  const db = `raw_${rep}_${batchPoints}_${inflight}`;
  await createDatabase(influx.url, db);
  try {
    const pid = influx.pid() ?? -1;
    const a = sampleProcess(pid);
    const w = await writeBodies(influx.url, db, bodies, inflight);
    const b = sampleProcess(pid);
    const counted = await countReadings(influx.url, db);
    const cpu = cpuDelta(a, b);
    return { batchPoints, inflight, rep, points, pointsPerS: w.pointsAcked / (w.ms / 1000), influxdCpuUsPerPoint: (cpu.cpuS * 1e6) / w.pointsAcked, counted, statuses: w.statuses, loadAverage1m: loadAverage()[0] };
  } finally {
    await dropDatabase(influx.url, db).catch(() => undefined);
  }
}

/** The store's `aggregate()` of one meter-year of 15-minute readings into hours (Asia/Shanghai): median of 10 after one warm-up. */
async function timeDuckDbAggregate(dir: string): Promise<{ medianMs: number; runsMs: number[]; buckets: number }> {
  const store = createDuckDbReadingStore({ path: join(dir, 'aggregate.duckdb') });
  await store.init();
  try {
    const Q = 900_000;
    const ref = { site: 'bench', building: 'aggregate', meter: 'm00' };
    const to = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    const from = to - METER_YEAR_READINGS * Q;
    const readings: StoredReading[] = Array.from({ length: METER_YEAR_READINGS }, (_, i) => ({
      ...ref,
      quantity: 'electricity',
      kind: 'interval',
      unit: 'kWh',
      ts: from + i * Q,
      value: 10 + ((i * 7) % 13) / 4,
      intervalS: 900,
    }));
    await store.write(readings);
    const q = { ...ref, quantity: 'electricity', kind: 'interval', from, to, bucket: '1h', tz: 'Asia/Shanghai' } as const;
    await store.aggregate(q);
    const runsMs: number[] = [];
    let buckets = 0;
    for (let i = 0; i < 10; i++) {
      const t = monotonicMs();
      buckets = (await store.aggregate(q)).length;
      runsMs.push(monotonicMs() - t);
    }
    return { medianMs: median(runsMs), runsMs, buckets };
  } finally {
    await store.close();
  }
}

function describeStep(s: StepResult): string {
  const f0 = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
  const what = `${peerOf(s) === 'wattproof' ? '' : `${peerOf(s)} → `}${s.store} ${s.readingsPerMessage}/msg rep ${s.rep} ${f0(s.offeredPerS)}/s`;
  const who = peerOf(s) === 'wattproof' ? 'ingest' : peerOf(s);
  if (s.status !== 'ok') return `${what}: error (${s.error})`;
  return (
    `${what}: sent ${f0(s.sentMessages)} msgs, e2e ${f0(s.e2ePerS)} readings/s, ` +
    `${(s.lagAfterEndS ?? Number.NaN).toFixed(1)} s behind at end, loss ${((s.loss ?? Number.NaN) * 100).toFixed(3)} %, ` +
    `markers p50 ${f0(s.latencyMs?.p50)} p99 ${f0(s.latencyMs?.p99)} ms (${s.markersMissing} missing), ${who} ${(s.ingestCpuUsPerReading ?? Number.NaN).toFixed(2)} µs/reading (${f0(s.ingestCpuPct)} %), ` +
    `gateway ${(s.gatewayCpuUsPerMessage ?? Number.NaN).toFixed(1)} µs/msg (${f0(s.gatewayCpuPct)} %)` +
    (s.influxdCpuUsPerPoint !== undefined ? `, influxd ${s.influxdCpuUsPerPoint.toFixed(2)} µs/reading` : '') +
    (s.fileCount !== undefined ? `, DuckDB file ${f0(s.fileCount)} rows${s.fileCount === (s.countBefore ?? 0) + (s.storedReadings ?? 0) ? ' (= the ingest\'s count)' : ` (the ingest counted ${f0((s.countBefore ?? 0) + (s.storedReadings ?? 0))})`}` : '') +
    (s.peerLogErrors !== undefined ? `, ${s.peerLogErrors} error lines in its log${s.peerLogErrorSamples?.length ? ` (${s.peerLogErrorSamples.join(' / ')})` : ''}` : '') +
    `, ${who} RSS peak ${f0(s.ingestPeakRssMiB)} MiB, load ${(s.loadAverage1m ?? Number.NaN).toFixed(1)}; ${s.pass ? 'pass' : `fail: ${(s.failed ?? []).join('; ')}`}`
  );
}

function formatProfile(p: ProfileSummary): string {
  const lines = p.top.map((r) => `  ${(r.share * 100).toFixed(1).padStart(5)} %  ${r.selfMs.toFixed(0).padStart(7)} ms  ${r.fn}`);
  return `  busy ${p.busyMs.toFixed(0)} ms, idle ${p.idleMs.toFixed(0)} ms, ${p.samples} samples; top self time:\n${lines.join('\n')}\n`;
}

/**
 * The report's tables from the rows of a run (also for re-printing a run's --json file): the
 * medians over the repetitions and, with more than one, each repetition on its own (on a shared
 * machine the load can change a lot between them; the load average of each is shown).
 */
export function formatReport(run: { raw: readonly RawRow[]; steps: ReadonlyArray<StepResult & { profile?: ProfileSummary }>; reps: number; rawPoints: number; latencyRate: number; aggregateMs?: number }) {
  const rate = run.latencyRate.toLocaleString('en-US');
  const multiPeer = run.steps.some((s) => peerOf(s) !== 'wattproof');
  const tables = (raw: readonly RawRow[], allSteps: readonly StepResult[], what: string) => {
    const rawSummary = summarizeRaw(raw);
    const steps = allSteps.filter((s) => peerOf(s) === 'wattproof');
    const e2e = summarizeSteps(steps, run.latencyRate);
    const targets = targetRows(e2e, rawSummary.find((r) => r.batchPoints === 5000 && r.inflight === 2), run.aggregateMs, run.latencyRate);
    const text =
      (rawSummary.length ? `\nRaw InfluxDB write ceiling (pre-generated line protocol, ${run.rawPoints.toLocaleString('en-US')} points per row, ${what}):\n\n${formatRaw(rawSummary)}` : '') +
      `\nWattproof end to end (${what}; readings/s and CPU at each ladder's best step; latency at ${rate} readings/s):\n\n${formatE2e(e2e, run.latencyRate)}` +
      `\nTargets (issue 8; ${what}):\n\n${formatTargets(targets)}`;
    if (!multiPeer) return { rawSummary, e2e, targets, text, peerRows: [], zeroLoss: [], peerTargets: [] };
    const peerRows = summarizePeerSteps(allSteps);
    const zeroLoss = summarizeZeroLoss(allSteps);
    const peerTargets = [...new Set(allSteps.map(peerOf))].includes('node-red') ? peerTargetRows(peerRows, zeroLoss, 'node-red') : [];
    const peerText =
      `\nPeers on InfluxDB, same load, same run (${what}; CPU = the ingest-side process: Wattproof ingest or Node-RED, per stored reading; ` +
      `the ratio is the median over repetitions of Node-RED's ÷ Wattproof's at the same step of the same repetition; p99 = marker publish → queryable):\n\n${formatPeerRows(peerRows)}` +
      `\nMax zero-loss rate per peer (highest offered rate passed with every lower one passing; ≥: never failed, the ladder ended first; ${what}):\n\n${formatZeroLoss(zeroLoss)}` +
      (peerTargets.length ? `\nTargets against batched Node-RED (issue 8; ${what}):\n\n${formatTargets(peerTargets)}` : '');
    return { rawSummary, e2e, targets, text: text + peerText, peerRows, zeroLoss, peerTargets };
  };
  const all = tables(run.raw, run.steps, `medians over ${run.reps} repetition(s)`);
  let perRep = '';
  if (run.reps > 1) {
    for (let rep = 1; rep <= run.reps; rep++) {
      const steps = run.steps.filter((s) => s.rep === rep);
      const loads = [...run.raw.filter((r) => r.rep === rep), ...steps].map((s) => s.loadAverage1m ?? Number.NaN).filter(Number.isFinite);
      const load = loads.length ? `load average (1 min) ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}` : 'load average unknown';
      perRep += tables(run.raw.filter((r) => r.rep === rep), steps, `repetition ${rep} alone, ${load}`).text;
    }
  }
  const profiles = run.steps.filter((s) => s.profile);
  const report =
    all.text +
    perRep +
    `\nEvery step:\n\n${formatSteps(run.steps)}` +
    (profiles.length ? `\nIngest CPU profiles (self time over each step's measured interval):\n\n${profiles.map((s) => `${s.store} ${s.readingsPerMessage}/msg ${s.offeredPerS.toLocaleString('en-US')}/s rep ${s.rep}:\n${formatProfile(s.profile!)}`).join('\n')}` : '');
  return { report, rawSummary: all.rawSummary, e2e: all.e2e, targets: all.targets, peerRows: all.peerRows, zeroLoss: all.zeroLoss, peerTargets: all.peerTargets };
}

export async function main(argv: string[]): Promise<void> {
  if (showBenchHelp(CLI, argv)) return;
  const o = parseIngestBenchArgs(argv);
  if (o.fromJson) {
    const run = JSON.parse(await readFile(o.fromJson, 'utf8')) as { command: string; uptime: { start: string; end: string }; options: IngestBenchOptions; raw: RawRow[]; steps: StepResult[]; aggregate?: { medianMs: number } };
    const { report } = formatReport({ raw: run.raw, steps: run.steps, reps: run.options.reps, rawPoints: run.options.rawPoints, latencyRate: run.options.latencyRate, ...(run.aggregate ? { aggregateMs: run.aggregate.medianMs } : {}) });
    process.stdout.write(`${run.command}\nuptime at start: ${run.uptime.start}\n${report}\nuptime at end: ${run.uptime.end}\n`);
    return;
  }
  if (o.aggregateOnly) {
    const dir = await mkdtemp(join(tmpdir(), 'wattproof-bench-aggregate-'));
    try {
      const before = uptime();
      const a = await timeDuckDbAggregate(dir);
      process.stdout.write(
        `DuckDB aggregate() of one meter-year (${METER_YEAR_READINGS.toLocaleString('en-US')} 15-min readings) into 1 h buckets, Asia/Shanghai: median ${a.medianMs.toFixed(1)} ms of 10 after a warm-up ` +
          `(${a.runsMs.map((x) => x.toFixed(1)).join(', ')}), ${a.buckets} buckets\nuptime before: ${before}\nuptime after: ${uptime()}\n`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return;
  }
  const command = `npm run bench -- ingest ${argv.join(' ')}`.trim();
  const usesNodeRed = o.peers.some((p) => p !== 'wattproof');
  // Before any clock starts and before the machine's load is noted: installing takes half a minute and a lot of CPU.
  const nodeRed = usesNodeRed ? await ensureNodeRed(undefined, log) : undefined;
  const machineStart = machineInfo();
  const uptimeStart = uptime();
  const startedAt = new Date().toISOString();
  const source = sourceState(['gateway', 'ingest', 'core', 'bin']);
  const header =
    `${command}\n${describeMachine(machineStart)}\n${influxdVersion()}\n` +
    (nodeRed ? `Node-RED ${nodeRed.nodeRed}, node-red-contrib-influxdb ${nodeRed.contribInfluxdb} (${nodeRed.prefix}${nodeRed.installed ? ', installed now with npm ci' : ''})\n` : '') +
    `uptime at start: ${uptimeStart}\nsource ${source.head}${source.modified.length ? ` + ${source.modified.length} modified files under gateway/, ingest/, core/, bin/` : ''}\n`;
  process.stdout.write(header);

  const dir = await mkdtemp(join(tmpdir(), 'wattproof-bench-ingest-'));
  let influx: TestInfluxDb | undefined;
  let gateway: BrokerProcess | undefined;
  let gen: BenchChild<LoadIn, LoadOut> | undefined;
  let markerClient: RawClient | undefined;
  const steps: Array<StepResult & { profile?: ProfileSummary }> = [];
  const raw: RawRow[] = [];
  try {
    let t = monotonicMs();
    // Devices 0 .. devices-1 carry the load, device `devices` the markers.
    const creds = await provisionBench(dir, o.devices + 1);
    if (usesNodeRed) {
      // Node-RED logs in as a service of its own, provisioned as the ingest's (gateway/src/devices.ts), before the gateway reads the registry.
      const registry = createJsonlRegistryStore({ dir: join(dir, 'data', REGISTRY_DATA_SUBDIR) });
      await registry.init();
      try {
        await provisionService(registry, NODE_RED_USERNAME, 'service', { secret: NODE_RED_PASSWORD });
      } finally {
        await registry.close();
      }
    }
    log(`provisioned ${o.devices + 1} devices in ${((monotonicMs() - t) / 1000).toFixed(1)} s (${dir})`);
    influx = await startInfluxDb();
    gateway = await startGateway(creds, { env: o.gatewayPersistence ? { GATEWAY_PERSISTENCE_DIR: join(dir, 'gateway-sessions') } : {}, nodeArgs: o.gatewayNodeArgs });
    log(`influxd pid ${influx.pid()} at ${influx.url}; gateway pid ${gateway.pid} on port ${gateway.port}`);
    gen = forkChild<LoadIn, LoadOut>(new URL('./lib/mqtt-load.ts', import.meta.url));
    t = monotonicMs();
    gen.send({ type: 'connect', host: gateway.host, port: gateway.port, first: 0, count: o.devices, password: creds.devicePassword, concurrency: 100, keepaliveS: 60, sourceAddresses: 1 });
    const connected = await gen.next('connected', 60_000 + o.devices * 200);
    if (connected.connected !== o.devices) throw new Error(`${connected.failed} of ${o.devices} devices could not connect: ${JSON.stringify(connected.errors)}`);
    log(`${connected.connected} devices connected in ${((monotonicMs() - t) / 1000).toFixed(1)} s`);
    const markerRef = benchDevice(o.devices);
    const markerLogin = benchDeviceLogin(o.devices);
    const marker: Marker = { client: undefined as unknown as RawClient, ref: markerRef, topic: Buffer.from(markerLogin.topic), lastSeq: 0, acked: 0 };
    markerClient = await connectRaw(
      { host: gateway.host, port: gateway.port, clientId: markerLogin.username, username: markerLogin.username, password: creds.devicePassword, keepaliveS: 60 },
      { onPuback: () => marker.acked++ },
    );
    (marker as { client: RawClient }).client = markerClient;
    const ctx: Ctx = { o, ...(nodeRed ? { nodeRed } : {}), creds, gateway, gen, marker, influx, dir, command, acked: 0, stepNo: 0 };

    // The raw ceiling's bodies, generated before any clock starts (kept for every repetition).
    const rawPlan = { points: o.rawPoints, meters: o.devices, meter: benchDevice, intervalS: pickIntervalS(Math.ceil(o.rawPoints / o.devices), TS_SPAN_MS) };
    const rawBodiesBy = new Map<number, Buffer[]>();
    if (o.stores.includes('influxdb')) {
      t = monotonicMs();
      const firstTsMs = Math.floor((Date.now() - TS_BACK_MS) / 1000) * 1000;
      for (const r of RAW_ROWS) if (!rawBodiesBy.has(r.batchPoints)) rawBodiesBy.set(r.batchPoints, rawBodies({ ...rawPlan, batchPoints: r.batchPoints, firstTsMs }));
      log(`pre-generated ${o.rawPoints.toLocaleString('en-US')} points for each raw row in ${((monotonicMs() - t) / 1000).toFixed(1)} s`);
    }

    for (let rep = 1; rep <= o.reps; rep++) {
      if (o.stores.includes('influxdb')) {
        for (const r of RAW_ROWS) {
          const row = await runRaw(influx, rawBodiesBy.get(r.batchPoints)!, o.rawPoints, r.batchPoints, r.inflight, rep);
          raw.push(row);
          log(`raw rep ${rep} ${r.batchPoints} points × ${r.inflight} in flight: ${Math.round(row.pointsPerS).toLocaleString('en-US')} points/s, influxd ${row.influxdCpuUsPerPoint.toFixed(2)} µs/point, counted ${row.counted.toLocaleString('en-US')}, ${JSON.stringify(row.statuses)}`);
        }
      }
      for (const store of o.stores) {
        // A/B: the peers in the order given in odd repetitions, reversed in even ones.
        const peers = store === 'influxdb' ? o.peers : o.peers.filter((p) => p === 'wattproof');
        const order = rep % 2 === 1 ? peers : [...peers].reverse();
        for (const n of o.readingsPerMessage) {
          const gw = gateway;
          const run = async (peer: PeerName, rate: number) => {
            const s = await runStep(ctx, store, peer, n, rate, rep);
            steps.push(s);
            log(describeStep(s));
            if (s.profile) process.stderr.write(formatProfile(s.profile));
            if (gw.exit()) throw new Error(`the gateway died: ${JSON.stringify(gw.exit())}\n${gw.outputTail()}`);
            return s.pass === true;
          };
          const runs = (peer: PeerName, rate: number) => peer !== 'node-red-unbatched' || rate <= o.unbatchedMaxRate;
          const state = new Map(order.map((p) => [p, { passed: false, stopped: false }]));
          for (const rate of o.rates) {
            for (const peer of order) {
              const st = state.get(peer)!;
              if (st.stopped || !runs(peer, rate)) continue;
              const ok = await run(peer, rate);
              st.passed ||= ok;
              if (!ok && rate >= o.latencyRate) st.stopped = true;
            }
          }
          // A peer with nothing passed: halve the lowest rate (twice at most) to find a rate that does.
          for (let rate = o.rates[0]! / 2, k = 0; k < 2; rate /= 2, k++) {
            for (const peer of order) {
              const st = state.get(peer)!;
              if (!st.passed) st.passed = await run(peer, rate);
            }
          }
        }
      }
    }

    let aggregate: Awaited<ReturnType<typeof timeDuckDbAggregate>> | undefined;
    if (o.stores.includes('duckdb')) {
      aggregate = await timeDuckDbAggregate(dir);
      log(`DuckDB aggregate of a meter-year into hours: median ${aggregate.medianMs.toFixed(1)} ms (${aggregate.runsMs.map((x) => x.toFixed(1)).join(', ')}), ${aggregate.buckets} buckets`);
    }

    const uptimeEnd = uptime();
    const { report, rawSummary, e2e, targets, peerRows, zeroLoss, peerTargets } = formatReport({ raw, steps, reps: o.reps, rawPoints: o.rawPoints, latencyRate: o.latencyRate, ...(aggregate ? { aggregateMs: aggregate.medianMs } : {}) });
    process.stdout.write(`${report}\nuptime at end: ${uptimeEnd}\n`);
    if (o.json) {
      await writeFile(
        o.json,
        `${JSON.stringify({ command, startedAt, finishedAt: new Date().toISOString(), machine: { start: machineStart, end: machineInfo() }, uptime: { start: uptimeStart, end: uptimeEnd }, influxd: influxdVersion(), ...(nodeRed ? { nodeRed } : {}), source, options: o, gateway: gateway.command, raw, rawSummary, steps, e2e, targets, peerRows, zeroLoss, peerTargets, aggregate }, null, 2)}\n`,
      );
      process.stdout.write(`JSON written to ${o.json}\n`);
    }
  } finally {
    await markerClient?.close().catch(() => undefined);
    if (gen) {
      gen.send({ type: 'close' });
      await gen.next('closed', 15_000).catch(() => undefined);
      await gen.stop();
    }
    await gateway?.stop();
    await influx?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
