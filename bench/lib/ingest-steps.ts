/**
 * The pure half of the ingest benchmark (bench/ingest.ts): how a rate step is judged, how the
 * steps and repetitions are summarized, the ratios against the targets of issue 8, and the
 * timestamps the load uses; and the comparison with Node-RED as the peer ingest (req. 1(c)):
 * per step and peer, per peer's highest zero-loss rate, and the targets against batched Node-RED.
 */
import { median, type LatencySummary } from './stats.js';
import { formatTable, type Column } from './table.js';

export type StoreName = 'influxdb' | 'duckdb';

/**
 * What reads the broker and writes the store in a step: the Wattproof ingest, or Node-RED as the
 * peer ingest (bench/lib/node-red.ts) — `node-red` with a join of 500 messages per InfluxDB write,
 * `node-red-unbatched` with one write per message. Node-RED steps use the InfluxDB store.
 */
export type PeerName = 'wattproof' | 'node-red' | 'node-red-unbatched';
export const PEERS: readonly PeerName[] = ['wattproof', 'node-red', 'node-red-unbatched'];

/**
 * How an InfluxDB step's stored readings were counted while it drained: `points-written`, the
 * points the step's database accepted per InfluxDB's statistics, checked against one
 * `SELECT count()` at the end; `select-count`, a `SELECT count()` per poll (every step before
 * 2026-12-03 evening, and any step where the two disagreed: a point written twice).
 */
export type CountBy = 'points-written' | 'select-count';
export const COUNT_BYS: readonly CountBy[] = ['points-written', 'select-count'];

/** The peer of a step (steps of runs before peers existed are Wattproof's). */
export function peerOf(s: { readonly peer?: PeerName }): PeerName {
  return s.peer ?? 'wattproof';
}

/** Interval lengths a bench reading may have, s, longest (most realistic) first. */
export const INTERVAL_CHOICES_S: readonly number[] = [900, 300, 60, 30, 15, 10, 5, 2, 1];

/**
 * The longest interval from INTERVAL_CHOICES_S such that `readingsPerDevice` consecutive readings
 * of one device fit in `spanMs` (their timestamps must stay in the past and younger than the
 * ingest's sealing allowance, so they take the ordinary path).
 * @throws Error when even 1-second readings do not fit.
 */
export function pickIntervalS(readingsPerDevice: number, spanMs: number): number {
  for (const s of INTERVAL_CHOICES_S) if (Math.ceil(readingsPerDevice) * s * 1000 <= spanMs) return s;
  throw new Error(`${Math.ceil(readingsPerDevice)} readings per device do not fit in ${Math.round(spanMs / 3_600_000)} h even 1 s apart: use more --devices or fewer --seconds`);
}

export interface Poll {
  /** Monotonic ms when the answer arrived. */
  readonly atMs: number;
  readonly value: number;
}

/** The first poll whose value reached `target`; undefined when none did. */
export function firstReaching(polls: readonly Poll[], target: number): Poll | undefined {
  return polls.find((p) => p.value >= target);
}

/** The value of an un-labelled counter or gauge in Prometheus text exposition format; NaN when absent. */
export function promValue(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{\\})? ([0-9.eE+-]+|NaN)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** The sum of every series of a counter or gauge (labelled or not) in Prometheus text format; 0 when absent. */
export function promSum(text: string, name: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

export interface StepResult {
  readonly store: StoreName;
  /** The ingest-side process; absent: wattproof. Its CPU and RSS are the `ingest*` figures. */
  readonly peer?: PeerName;
  readonly readingsPerMessage: number;
  readonly rep: number;
  /** Offered readings per second (the generator's target). */
  readonly offeredPerS: number;
  readonly status: 'ok' | 'error';
  readonly error?: string;
  /** Publishing time, s. */
  readonly seconds?: number;
  readonly intervalS?: number;
  readonly sentMessages?: number;
  readonly ackedMessages?: number;
  readonly blockedMessages?: number;
  readonly laggedMessages?: number;
  readonly markersSent?: number;
  readonly markersAcked?: number;
  /** Readings (load and markers) the gateway acknowledged: what must be stored. */
  readonly expectedReadings?: number;
  /** The store's count when the load started (warm-up included). */
  readonly countBefore?: number;
  /** Readings of the step stored when the count stopped (load and markers). */
  readonly storedReadings?: number;
  /** (expected − stored) / expected, 0 when at least as many were stored. */
  readonly loss?: number;
  /** How the InfluxDB count was polled (steps before 2026-12-03 evening: `select-count`). */
  readonly countedBy?: CountBy;
  /** Every acknowledged reading became queryable within the drain time. */
  readonly drained?: boolean;
  /** First publish to the answer of the poll that first counted every acknowledged reading, s. */
  readonly e2eS?: number;
  /** Load readings stored / e2eS. */
  readonly e2ePerS?: number;
  /** Last publish to that poll, s: how far behind the pipeline was when the load stopped. */
  readonly lagAfterEndS?: number;
  /** Publish → queryable of the marker readings, ms (upper bounds: the answer of the first poll that saw each). */
  readonly latencyMs?: LatencySummary | null;
  readonly markersMissing?: number;
  readonly ingestCpuUsPerReading?: number;
  readonly ingestCpuPct?: number;
  readonly ingestPeakRssMiB?: number;
  readonly gatewayCpuUsPerMessage?: number;
  readonly gatewayCpuPct?: number;
  /** InfluxDB's own CPU per stored reading (influxdb steps only). */
  readonly influxdCpuUsPerPoint?: number;
  /** DuckDB steps: the rows counted in the file after the ingest stopped, against the ingest's own count. */
  readonly fileCount?: number;
  /** Lines of the ingest-side process's log at error level during the step (Node-RED: failed writes). */
  readonly peerLogErrors?: number;
  /** A few distinct such lines (digits as N), the start-up's included. */
  readonly peerLogErrorSamples?: readonly string[];
  readonly pass?: boolean;
  /** Why a step did not pass. */
  readonly failed?: readonly string[];
  readonly loadAverage1m?: number;
}

export interface StepCriteria {
  /** Largest share of the offered messages the gateway may push back (every connection of the generator at its in-flight limit). */
  readonly maxPushBackShare: number;
  /**
   * Largest share of the offered messages the generator itself may fall behind on (its process
   * starved of CPU: on a shared 2-vCPU machine it competes with what it measures); beyond it the
   * rate was not offered and the step does not count as passed.
   */
  readonly maxGeneratorBehindShare: number;
  /** Longest lag after the last publish, s. */
  readonly maxLagS: number;
}

export const DEFAULT_STEP_CRITERIA: StepCriteria = { maxPushBackShare: 0.01, maxGeneratorBehindShare: 0.1, maxLagS: 5 };

/**
 * Whether a step ran at a sustainable zero-loss rate: nothing acknowledged went missing, the
 * gateway took the offered load without pushing back, the generator did offer it, and the
 * pipeline was at most `maxLagS` behind when the load stopped. Returns the reasons it did not.
 */
export function judgeStep(s: StepResult, criteria: StepCriteria = DEFAULT_STEP_CRITERIA): string[] {
  if (s.status !== 'ok') return [s.error ?? 'error'];
  const why: string[] = [];
  if (!s.drained) why.push('not drained');
  if ((s.loss ?? 1) > 0) why.push(`loss ${((s.loss ?? 1) * 100).toFixed(3)} %`);
  const targetMessages = (s.offeredPerS / s.readingsPerMessage) * (s.seconds ?? 0);
  if (targetMessages > 0) {
    const share = (x: number | undefined) => (x ?? 0) / targetMessages;
    const p = (x: number | undefined) => `${(share(x) * 100).toFixed(1)} %`;
    // One message is the pacing's rounding at the end of the run (it matters at 1,000 readings a message).
    if ((s.blockedMessages ?? 0) > 1 && share(s.blockedMessages) > criteria.maxPushBackShare) why.push(`gateway pushed back ${p(s.blockedMessages)} of the offered messages`);
    if ((s.laggedMessages ?? 0) > 1 && share(s.laggedMessages) > criteria.maxGeneratorBehindShare) why.push(`generator ${p(s.laggedMessages)} behind (CPU-starved): rate not offered`);
  }
  if ((s.lagAfterEndS ?? Infinity) > criteria.maxLagS) why.push(`${(s.lagAfterEndS ?? Infinity).toFixed(1)} s behind at the end`);
  return why;
}

/** One (store, readings per message) over its repetitions: medians of each repetition's figures. */
export interface E2eSummary {
  readonly store: StoreName;
  readonly readingsPerMessage: number;
  readonly reps: number;
  /** Highest end-to-end readings/s of any step. */
  readonly throughputPerS: number;
  /** Highest offered rate that passed, with every lower step passing too; 0 when the first failed. */
  readonly maxZeroLossPerS: number;
  /** At the throughput step. */
  readonly ingestCpuUsPerReading: number;
  readonly gatewayCpuUsPerMessage: number;
  readonly influxdCpuUsPerPoint: number;
  readonly ingestPeakRssMiB: number;
  /** At the latency rate. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly latencyPass: boolean | undefined;
  /** Any acknowledged reading missing in any step. */
  readonly anyLoss: boolean;
}

export function summarizeSteps(steps: readonly StepResult[], latencyRate: number): E2eSummary[] {
  const groups = new Map<string, StepResult[]>();
  for (const s of steps) {
    const k = `${s.store}|${s.readingsPerMessage}`;
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  const out: E2eSummary[] = [];
  for (const group of groups.values()) {
    const reps = [...new Set(group.map((s) => s.rep))];
    const perRep = reps.map((rep) => {
      const ladder = group.filter((s) => s.rep === rep).sort((a, b) => a.offeredPerS - b.offeredPerS);
      const ok = ladder.filter((s) => s.status === 'ok' && s.e2ePerS !== undefined);
      const best = ok.reduce<StepResult | undefined>((b, s) => (!b || (s.e2ePerS ?? 0) > (b.e2ePerS ?? 0) ? s : b), undefined);
      let maxZeroLoss = 0;
      for (const s of ladder) {
        if (!s.pass) break;
        maxZeroLoss = s.offeredPerS;
      }
      const lat = ladder.find((s) => s.offeredPerS === latencyRate);
      return { best, maxZeroLoss, lat, anyLoss: ladder.some((s) => (s.loss ?? 0) > 0) };
    });
    const m = (f: (r: (typeof perRep)[number]) => number | undefined) => median(perRep.map((r) => f(r) ?? Number.NaN));
    const first = group[0]!;
    const p99 = m((r) => r.lat?.latencyMs?.p99);
    out.push({
      store: first.store,
      readingsPerMessage: first.readingsPerMessage,
      reps: reps.length,
      throughputPerS: m((r) => r.best?.e2ePerS),
      maxZeroLossPerS: m((r) => r.maxZeroLoss),
      ingestCpuUsPerReading: m((r) => r.best?.ingestCpuUsPerReading),
      gatewayCpuUsPerMessage: m((r) => r.best?.gatewayCpuUsPerMessage),
      influxdCpuUsPerPoint: m((r) => r.best?.influxdCpuUsPerPoint),
      ingestPeakRssMiB: m((r) => r.best?.ingestPeakRssMiB),
      p50Ms: m((r) => r.lat?.latencyMs?.p50),
      p99Ms: p99,
      latencyPass: Number.isFinite(p99) ? p99 <= 2000 : undefined,
      anyLoss: perRep.some((r) => r.anyLoss),
    });
  }
  return out.sort((a, b) => a.store.localeCompare(b.store) || a.readingsPerMessage - b.readingsPerMessage);
}

export interface RawRow {
  readonly batchPoints: number;
  readonly inflight: number;
  readonly rep: number;
  readonly points: number;
  readonly pointsPerS: number;
  readonly influxdCpuUsPerPoint: number;
  /** Points counted back in the database afterwards. */
  readonly counted: number;
  readonly statuses: Record<string, number>;
  readonly loadAverage1m?: number;
}

export interface RawSummary {
  readonly batchPoints: number;
  readonly inflight: number;
  readonly reps: number;
  readonly pointsPerS: number;
  readonly influxdCpuUsPerPoint: number;
}

export function summarizeRaw(rows: readonly RawRow[]): RawSummary[] {
  const groups = new Map<string, RawRow[]>();
  for (const r of rows) groups.set(`${r.batchPoints}|${r.inflight}`, [...(groups.get(`${r.batchPoints}|${r.inflight}`) ?? []), r]);
  return [...groups.values()].map((g) => ({
    batchPoints: g[0]!.batchPoints,
    inflight: g[0]!.inflight,
    reps: g.length,
    pointsPerS: median(g.map((r) => r.pointsPerS)),
    influxdCpuUsPerPoint: median(g.map((r) => r.influxdCpuUsPerPoint)),
  }));
}

export interface TargetRow {
  readonly measure: string;
  readonly value: string;
  readonly target: string;
  /** undefined: not measured in this run. */
  readonly met: boolean | undefined;
}

const f0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)} %` : '–');

/**
 * The ratios and absolute figures issue 8 sets targets for. `raw` is the ceiling the batched
 * throughput is compared with (5,000-point requests, 2 in flight); `aggregateMs` the DuckDB
 * hourly aggregation of a meter-year.
 */
export function targetRows(e2e: readonly E2eSummary[], raw: RawSummary | undefined, aggregateMs: number | undefined, latencyRate: number): TargetRow[] {
  const rows: TargetRow[] = [];
  const get = (store: StoreName, n: number) => e2e.find((s) => s.store === store && s.readingsPerMessage === n);
  const ns = [...new Set(e2e.map((s) => s.readingsPerMessage))].sort((a, b) => a - b);
  for (const n of ns.filter((x) => x > 1)) {
    const w = get('influxdb', n);
    if (!w || !raw) continue;
    const r = w.throughputPerS / raw.pointsPerS;
    rows.push({ measure: `InfluxDB: ${n} readings/msg end to end / raw ceiling (${f0(w.throughputPerS)} / ${f0(raw.pointsPerS)} /s)`, value: pct(r), target: '≥ 60 %', met: Number.isFinite(r) ? r >= 0.6 : undefined });
  }
  for (const store of ['influxdb', 'duckdb'] as const) {
    const one = get(store, 1);
    if (one) rows.push({ measure: `${store}: single-reading messages, readings/s end to end`, value: f0(one.throughputPerS), target: '≥ 20,000', met: Number.isFinite(one.throughputPerS) ? one.throughputPerS >= 20_000 : undefined });
  }
  for (const s of e2e) {
    rows.push({
      measure: `${s.store}: ${s.readingsPerMessage} readings/msg, p99 publish → queryable at ${f0(latencyRate)} readings/s`,
      value: Number.isFinite(s.p99Ms) ? `${f0(s.p99Ms)} ms` : '–',
      target: '≤ 2,000 ms',
      met: s.latencyPass,
    });
  }
  for (const n of ns) {
    const d = get('duckdb', n);
    const i = get('influxdb', n);
    if (!d || !i) continue;
    const r = d.throughputPerS / i.throughputPerS;
    rows.push({ measure: `DuckDB / InfluxDB end to end, ${n} readings/msg (${f0(d.throughputPerS)} / ${f0(i.throughputPerS)} /s)`, value: pct(r), target: '≥ 50 %', met: Number.isFinite(r) ? r >= 0.5 : undefined });
  }
  if (aggregateMs !== undefined) {
    rows.push({ measure: 'DuckDB aggregate(), 1 h buckets of one meter-year (35,040 readings), median of 10', value: `${f1(aggregateMs)} ms`, target: '< 50 ms', met: aggregateMs < 50 });
  }
  return rows;
}

export function formatTargets(rows: readonly TargetRow[]): string {
  return formatTable(
    ['measure', { header: 'value', align: 'right' }, 'target', 'met'],
    rows.map((r) => [r.measure, r.value, r.target, r.met === undefined ? '–' : r.met ? 'yes' : '**no**']),
  );
}

export function formatE2e(rows: readonly E2eSummary[], latencyRate: number): string {
  return formatTable(
    [
      'store',
      { header: 'readings/msg', align: 'right' },
      { header: 'reps', align: 'right' },
      { header: 'end-to-end readings/s', align: 'right' },
      { header: 'max zero-loss offered/s', align: 'right' },
      { header: `p50 ms @${f0(latencyRate)}/s`, align: 'right' },
      { header: `p99 ms @${f0(latencyRate)}/s`, align: 'right' },
      { header: 'ingest CPU µs/reading', align: 'right' },
      { header: 'gateway CPU µs/msg', align: 'right' },
      { header: 'influxd CPU µs/reading', align: 'right' },
      { header: 'ingest peak RSS MiB', align: 'right' },
      { header: 'loss', align: 'right' },
    ],
    rows.map((r) => [
      r.store,
      String(r.readingsPerMessage),
      String(r.reps),
      f0(r.throughputPerS),
      f0(r.maxZeroLossPerS),
      f0(r.p50Ms),
      f0(r.p99Ms),
      f2(r.ingestCpuUsPerReading),
      f1(r.gatewayCpuUsPerMessage),
      r.store === 'influxdb' ? f2(r.influxdCpuUsPerPoint) : '',
      f0(r.ingestPeakRssMiB),
      r.anyLoss ? '**yes**' : 'none',
    ]),
  );
}

export function formatRaw(rows: readonly RawSummary[]): string {
  return formatTable(
    [{ header: 'points/request', align: 'right' }, { header: 'in flight', align: 'right' }, { header: 'reps', align: 'right' }, { header: 'points/s (HTTP 204)', align: 'right' }, { header: 'influxd CPU µs/point', align: 'right' }],
    rows.map((r) => [f0(r.batchPoints), String(r.inflight), String(r.reps), f0(r.pointsPerS), f2(r.influxdCpuUsPerPoint)]),
  );
}

/** Every step as a row; with more than one peer in the steps a `peer` column comes first (its CPU and RSS are the `ingest` columns). */
export function formatSteps(steps: readonly StepResult[]): string {
  // Without other peers, the table of the runs before peers existed (no peer column).
  const from = steps.some((s) => peerOf(s) !== 'wattproof') ? 0 : 1;
  const columns: Array<string | Column> = [
    'peer',
    'store',
    { header: 'rdg/msg', align: 'right' },
    { header: 'rep', align: 'right' },
    { header: 'offered/s', align: 'right' },
    { header: 'sent %', align: 'right' },
    { header: 'pushed back %', align: 'right' },
    { header: 'gen. behind %', align: 'right' },
    { header: 'e2e readings/s', align: 'right' },
    { header: 'behind at end s', align: 'right' },
    { header: 'loss', align: 'right' },
    { header: 'p50 ms', align: 'right' },
    { header: 'p99 ms', align: 'right' },
    { header: 'ingest µs/rdg', align: 'right' },
    { header: 'ingest CPU', align: 'right' },
    { header: 'gateway µs/msg', align: 'right' },
    { header: 'influxd µs/rdg', align: 'right' },
    { header: 'ingest RSS MiB', align: 'right' },
    { header: 'load 1m', align: 'right' },
    'pass',
  ];
  return formatTable(
    columns.slice(from),
    steps.map((s) => {
      const target = (s.offeredPerS / s.readingsPerMessage) * (s.seconds ?? Number.NaN);
      return [
        peerOf(s),
        s.store,
        String(s.readingsPerMessage),
        String(s.rep),
        f0(s.offeredPerS),
        s.sentMessages !== undefined ? `${f1((s.sentMessages / target) * 100)}` : '–',
        s.blockedMessages !== undefined ? `${f1((s.blockedMessages / target) * 100)}` : '–',
        s.laggedMessages !== undefined ? `${f1((s.laggedMessages / target) * 100)}` : '–',
        f0(s.e2ePerS ?? Number.NaN),
        f1(s.lagAfterEndS ?? Number.NaN),
        s.loss !== undefined ? `${(s.loss * 100).toFixed(3)} %` : '–',
        f0(s.latencyMs?.p50 ?? Number.NaN),
        f0(s.latencyMs?.p99 ?? Number.NaN),
        f2(s.ingestCpuUsPerReading ?? Number.NaN),
        s.ingestCpuPct !== undefined ? `${f0(s.ingestCpuPct)} %` : '–',
        f1(s.gatewayCpuUsPerMessage ?? Number.NaN),
        s.store === 'influxdb' ? f2(s.influxdCpuUsPerPoint ?? Number.NaN) : '',
        f0(s.ingestPeakRssMiB ?? Number.NaN),
        f1(s.loadAverage1m ?? Number.NaN),
        s.pass ? 'yes' : `no (${(s.failed ?? []).join('; ')})`,
      ].slice(from);
    }),
  );
}

/** One (readings per message, offered rate, peer) of the peer comparison, over its repetitions. */
export interface PeerRow {
  readonly readingsPerMessage: number;
  readonly offeredPerS: number;
  readonly peer: PeerName;
  /** Steps run (errors included). */
  readonly steps: number;
  /** Steps that passed (zero loss, sustained). */
  readonly passes: number;
  /** Medians over the steps that ran: readings the gateway acknowledged, readings stored (load and markers). */
  readonly ackedReadings: number;
  readonly storedReadings: number;
  readonly lossMedian: number;
  readonly lossMax: number;
  /** The ingest-side process (Wattproof ingest or Node-RED): CPU µs per stored reading and share of a core. */
  readonly cpuUsPerReading: number;
  readonly cpuPct: number;
  readonly p99Ms: number;
  readonly e2ePerS: number;
  /** Median over repetitions of this peer's CPU per reading ÷ Wattproof's in the same repetition, same step; NaN for Wattproof or without a pair. */
  readonly cpuRatioToWattproof: number;
  /** The pairs' ratios, by repetition (NaN where one of the pair is missing or failed to run). */
  readonly cpuRatioPerRep: readonly number[];
  readonly peerLogErrors: number;
}

const stepKey = (s: StepResult) => `${s.readingsPerMessage}|${s.offeredPerS}`;

/**
 * The peer comparison of the InfluxDB steps: per readings per message and offered rate, each
 * peer's medians over the repetitions, and its CPU per reading against Wattproof's from the same
 * repetition (the two ran one after the other, so a ratio of a pair is less exposed to the
 * load of a shared machine than a ratio of medians).
 */
export function summarizePeerSteps(steps: readonly StepResult[]): PeerRow[] {
  const influx = steps.filter((s) => s.store === 'influxdb');
  const groups = new Map<string, StepResult[]>();
  for (const s of influx) {
    const k = `${stepKey(s)}|${peerOf(s)}`;
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  const wattproofCpu = (s: StepResult) =>
    influx.find((w) => peerOf(w) === 'wattproof' && w.rep === s.rep && stepKey(w) === stepKey(s) && w.status === 'ok')?.ingestCpuUsPerReading ?? Number.NaN;
  const out: PeerRow[] = [];
  for (const g of groups.values()) {
    const first = g[0]!;
    const ok = g.filter((s) => s.status === 'ok');
    const m = (f: (s: StepResult) => number | undefined) => median(ok.map((s) => f(s) ?? Number.NaN));
    const peer = peerOf(first);
    out.push({
      readingsPerMessage: first.readingsPerMessage,
      offeredPerS: first.offeredPerS,
      peer,
      steps: g.length,
      passes: g.filter((s) => s.pass).length,
      ackedReadings: m((s) => s.expectedReadings),
      storedReadings: m((s) => s.storedReadings),
      lossMedian: m((s) => s.loss),
      lossMax: ok.length ? Math.max(...ok.map((s) => s.loss ?? Number.NaN)) : Number.NaN,
      cpuUsPerReading: m((s) => s.ingestCpuUsPerReading),
      cpuPct: m((s) => s.ingestCpuPct),
      p99Ms: m((s) => s.latencyMs?.p99),
      e2ePerS: m((s) => s.e2ePerS),
      cpuRatioToWattproof: peer === 'wattproof' ? Number.NaN : m((s) => (s.ingestCpuUsPerReading ?? Number.NaN) / wattproofCpu(s)),
      cpuRatioPerRep: peer === 'wattproof' ? [] : [...ok].sort((a, b) => a.rep - b.rep).map((s) => (s.ingestCpuUsPerReading ?? Number.NaN) / wattproofCpu(s)),
      peerLogErrors: ok.reduce((a, s) => a + (s.peerLogErrors ?? 0), 0),
    });
  }
  return out.sort((a, b) => a.readingsPerMessage - b.readingsPerMessage || a.offeredPerS - b.offeredPerS || PEERS.indexOf(a.peer) - PEERS.indexOf(b.peer));
}

/** The highest offered rate a peer sustained with zero loss, per readings per message. */
export interface ZeroLossRow {
  readonly readingsPerMessage: number;
  readonly peer: PeerName;
  /** Per repetition: the highest passing rate with every lower step passing too (0 when the lowest failed). */
  readonly perRep: readonly number[];
  readonly maxZeroLossPerS: number;
  /** Every repetition passed every step it ran: the true maximum is at least this (the ladder ended first). */
  readonly atLeast: boolean;
  /** Per repetition: Wattproof's maximum ÷ this peer's (NaN for Wattproof, or when the peer's is 0). */
  readonly wattproofRatioPerRep: readonly number[];
  /**
   * Median of `wattproofRatioPerRep`. With two repetitions that disagree it is their mean, which
   * can point the other way than the ratio of the medians: read it with the per-repetition values.
   */
  readonly wattproofRatio: number;
}

/** Per repetition, the ladder of one peer and readings per message: its max zero-loss rate and whether it ever failed. */
function ladderMax(ladder: readonly StepResult[]): { max: number; failed: boolean } {
  let max = 0;
  let failed = false;
  for (const s of [...ladder].sort((a, b) => a.offeredPerS - b.offeredPerS)) {
    if (!s.pass) {
      failed = true;
      break;
    }
    max = s.offeredPerS;
  }
  return { max, failed };
}

export function summarizeZeroLoss(steps: readonly StepResult[]): ZeroLossRow[] {
  const influx = steps.filter((s) => s.store === 'influxdb');
  const keys = [...new Set(influx.map((s) => `${s.readingsPerMessage}|${peerOf(s)}`))];
  const ladder = (n: number, peer: PeerName, rep: number) => influx.filter((s) => s.readingsPerMessage === n && peerOf(s) === peer && s.rep === rep);
  const out: ZeroLossRow[] = [];
  for (const k of keys) {
    const [nText, peerText] = k.split('|') as [string, PeerName];
    const n = Number(nText);
    const reps = [...new Set(influx.filter((s) => s.readingsPerMessage === n && peerOf(s) === peerText).map((s) => s.rep))].sort((a, b) => a - b);
    const per = reps.map((rep) => ladderMax(ladder(n, peerText, rep)));
    const ratios = reps.map((rep, i) => {
      const w = ladder(n, 'wattproof', rep);
      const mine = per[i]!.max;
      return w.length && mine > 0 ? ladderMax(w).max / mine : Number.NaN;
    });
    out.push({
      readingsPerMessage: n,
      peer: peerText,
      perRep: per.map((p) => p.max),
      maxZeroLossPerS: median(per.map((p) => p.max)),
      atLeast: per.length > 0 && per.every((p) => !p.failed),
      wattproofRatioPerRep: peerText === 'wattproof' ? [] : ratios,
      wattproofRatio: peerText === 'wattproof' ? Number.NaN : median(ratios),
    });
  }
  return out.sort((a, b) => a.readingsPerMessage - b.readingsPerMessage || PEERS.indexOf(a.peer) - PEERS.indexOf(b.peer));
}

/**
 * Issue 8's targets against Node-RED (batched), same load, same run:
 * - ingest CPU per stored reading ≤ 1/4 of batched Node-RED's, per readings per message, at the
 *   highest offered rate both passed in every repetition (zero loss for both: the same readings
 *   stored); without such a rate, not judged;
 * - with 10 readings a message, a max zero-loss rate ≥ 2× batched Node-RED's. When Wattproof
 *   passed its whole ladder the ratio is a lower bound; it is "met" only if that bound is ≥ 2.
 */
export function peerTargetRows(rows: readonly PeerRow[], zeroLoss: readonly ZeroLossRow[], against: PeerName = 'node-red'): TargetRow[] {
  const out: TargetRow[] = [];
  const ns = [...new Set(rows.map((r) => r.readingsPerMessage))].sort((a, b) => a - b);
  for (const n of ns) {
    const both = rows
      .filter((r) => r.readingsPerMessage === n && r.peer === against && r.passes === r.steps && r.steps > 0)
      .map((r) => ({ peer: r, w: rows.find((w) => w.peer === 'wattproof' && w.readingsPerMessage === n && w.offeredPerS === r.offeredPerS) }))
      .filter((x): x is { peer: PeerRow; w: PeerRow } => x.w !== undefined && x.w.passes === x.w.steps && x.w.steps > 0)
      .sort((a, b) => b.peer.offeredPerS - a.peer.offeredPerS)[0];
    if (!both && !rows.some((r) => r.readingsPerMessage === n && r.peer === against)) continue;
    const share = both ? 1 / both.peer.cpuRatioToWattproof : Number.NaN;
    out.push({
      measure: both
        ? `${n} readings/msg at ${f0(both.peer.offeredPerS)} readings/s (both zero loss): Wattproof ingest CPU per reading / ${against}'s (medians ${f2(both.w.cpuUsPerReading)} / ${f2(both.peer.cpuUsPerReading)} µs; ` +
          `1 / median of the repetitions' ${against} ÷ Wattproof ${both.peer.cpuRatioPerRep.map((x) => `${f1(x)}×`).join(', ')})`
        : `${n} readings/msg: Wattproof ingest CPU per reading / ${against}'s (no rate where both had zero loss in every repetition)`,
      value: pct(share),
      target: '≤ 25 %',
      met: Number.isFinite(share) ? share <= 0.25 : undefined,
    });
  }
  for (const z of zeroLoss.filter((r) => r.peer === against && r.readingsPerMessage === 10)) {
    const w = zeroLoss.find((r) => r.peer === 'wattproof' && r.readingsPerMessage === z.readingsPerMessage);
    if (!w) continue;
    const r = z.wattproofRatio;
    const none = z.maxZeroLossPerS === 0 && w.maxZeroLossPerS > 0;
    // Bounds: a ladder passed to its end gives a lower bound of that peer's maximum.
    let met: boolean | undefined;
    if (none) met = true;
    else if (!Number.isFinite(r)) met = undefined;
    else if (w.atLeast && z.atLeast) met = undefined;
    else if (w.atLeast) met = r >= 2 ? true : undefined;
    else if (z.atLeast) met = r < 2 ? false : undefined;
    else met = r >= 2;
    out.push({
      measure:
        `${z.readingsPerMessage} readings/msg: max zero-loss rate, Wattproof / ${against} (medians ${w.atLeast ? '≥ ' : ''}${f0(w.maxZeroLossPerS)} / ${z.atLeast ? '≥ ' : ''}${f0(z.maxZeroLossPerS)} /s; ` +
        `median of the repetitions' ratios ${z.wattproofRatioPerRep.map((x) => (Number.isFinite(x) ? `${f1(x)}×` : '–')).join(', ')})`,
      // Both ladders passed to their ends: the ratio says nothing.
      value: none ? `∞ (${against}: none)` : Number.isFinite(r) && !(w.atLeast && z.atLeast) ? `${w.atLeast ? '≥ ' : z.atLeast ? '≤ ' : ''}${f1(r)}×` : '–',
      target: '≥ 2×',
      met,
    });
  }
  return out;
}

export function formatPeerRows(rows: readonly PeerRow[]): string {
  return formatTable(
    [
      { header: 'rdg/msg', align: 'right' },
      { header: 'offered/s', align: 'right' },
      'peer',
      { header: 'pass', align: 'right' },
      { header: 'stored / acked readings', align: 'right' },
      { header: 'loss (max)', align: 'right' },
      { header: 'e2e readings/s', align: 'right' },
      { header: 'CPU µs/rdg', align: 'right' },
      { header: 'CPU', align: 'right' },
      { header: 'p99 ms', align: 'right' },
      { header: 'CPU/rdg ÷ Wattproof', align: 'right' },
      { header: 'log errors', align: 'right' },
    ],
    rows.map((r) => [
      String(r.readingsPerMessage),
      f0(r.offeredPerS),
      r.peer,
      `${r.passes}/${r.steps}`,
      `${f0(r.storedReadings)} / ${f0(r.ackedReadings)}`,
      Number.isFinite(r.lossMedian) ? `${(r.lossMedian * 100).toFixed(2)} % (${(r.lossMax * 100).toFixed(2)} %)` : '–',
      f0(r.e2ePerS),
      f2(r.cpuUsPerReading),
      Number.isFinite(r.cpuPct) ? `${f0(r.cpuPct)} %` : '–',
      f0(r.p99Ms),
      r.peer === 'wattproof' ? '1' : Number.isFinite(r.cpuRatioToWattproof) ? `${f1(r.cpuRatioToWattproof)}×` : '–',
      r.peer === 'wattproof' ? '' : String(r.peerLogErrors),
    ]),
  );
}

/** The zero-loss table; a ratio is marked ≥ / ≤ when Wattproof's / the peer's maximum is a lower bound, and left out when both are. */
export function formatZeroLoss(rows: readonly ZeroLossRow[]): string {
  const bound = (r: ZeroLossRow) => {
    const w = rows.find((x) => x.peer === 'wattproof' && x.readingsPerMessage === r.readingsPerMessage);
    if (w?.atLeast && r.atLeast) return undefined;
    return w?.atLeast ? '≥ ' : r.atLeast ? '≤ ' : '';
  };
  return formatTable(
    [
      { header: 'rdg/msg', align: 'right' },
      'peer',
      { header: 'max zero-loss offered/s (median)', align: 'right' },
      { header: 'per repetition', align: 'right' },
      { header: 'Wattproof ÷ peer (median)', align: 'right' },
      { header: 'per repetition', align: 'right' },
    ],
    rows.map((r) => [
      String(r.readingsPerMessage),
      r.peer,
      `${r.atLeast ? '≥ ' : ''}${f0(r.maxZeroLossPerS)}`,
      r.perRep.map(f0).join(', '),
      r.peer === 'wattproof' ? '' : Number.isFinite(r.wattproofRatio) && bound(r) !== undefined ? `${bound(r)}${f1(r.wattproofRatio)}×` : '–',
      r.wattproofRatioPerRep.map((x) => (Number.isFinite(x) ? `${f1(x)}×` : '–')).join(', '),
    ]),
  );
}
