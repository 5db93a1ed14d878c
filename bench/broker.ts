/**
 * `npm run bench -- broker [options]`: the Wattproof gateway against Mosquitto under the same
 * load from one neutral load generator.
 *
 * Each broker runs as its own child process on a free 127.0.0.1 port with temp files, with the
 * same devices, credentials and per-device topic rights (bench/lib/brokers.ts): the gateway as
 * `node bin/wattproof.js gateway` on an embedded registry, Mosquitto 2.0 with a password file and
 * ACL; persistence off on both. For each cell (QoS, rate) the brokers take turns (gateway,
 * mosquitto, gateway, mosquitto, ...), each turn with a fresh broker process (unless
 * `--reuse-brokers`), a fresh load generator process holding one
 * connection per device (bench/lib/mqtt-load.ts) and a fresh subscriber process subscribed to
 * every meter's readings as the ingest is (bench/lib/mqtt-sub.ts). After `--warmup` seconds at
 * the target rate the window of `--seconds` is measured: the generator's achieved send rate, the
 * subscriber's delivered rate, end-to-end latency (p50/p99/p99.9), loss, and the broker's CPU
 * (utime + stime from /proc/<pid>/stat, also split into user space and kernel: the kernel part is
 * mostly socket system calls, so the user part is what the broker's own code costs), RSS, and read and write system calls per message (/proc/<pid>/io:
 * how many PUBLISHes one socket read carries, how many PUBACKs and deliveries one write) over the window, and how long the broker's main
 * thread waited for a core (/proc/<pid>/schedstat). A broker that dies is recorded
 * as crashed with its output and restarted for the next turn. With `--stalls` the Node brokers run
 * with bench/lib/stall-probe.cjs, and each turn reports their event-loop stalls in the window (on
 * a core, waiting for one, blocked) and how many of its messages at or above p99 were in flight
 * during one (bench/lib/stalls.ts): where the latency tail comes from.
 *
 * Options: `npm run bench -- broker --help` (CLI below).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BROKER_NAMES, BROKERS, mosquittoConfig, provisionBench, startBroker, SUBSCRIBER_USERNAME, type BenchCredentials, type BrokerName, type BrokerProcess } from './lib/brokers.js';
import { forkChild, type BenchChild } from './lib/child.js';
import { BenchUsageError, defineBench, parseBenchArgs, showBenchHelp } from './lib/cli.js';
import { mainThreadProfile, ownerOf, summarizeCpuProfile, type CpuProfile, type ProfileSummary } from './lib/cpu-profile.js';
import { writeFlameGraph, writeFoldedFlameGraph } from './lib/flame-graph.js';
import { PERF_NODE_ARGS, perfFold, perfFrameGroup, perfRecord } from './lib/perf-script.js';
import { describeMachine, machineInfo, sourceState } from './lib/machine.js';
import { checkBaselineCheckout, prepareBaselineWorktree } from './lib/worktree.js';
import type { LoadIn, LoadOut, LoadResult } from './lib/mqtt-load.js';
import type { SubIn, SubOut, SubResult } from './lib/mqtt-sub.js';
import { monotonicMs } from './lib/payload.js';
import { loadAverage, sampleProcess, type ProcessSample } from './lib/proc.js';
import { readStallProbe, summarizeStalls, type StallSummary } from './lib/stalls.js';
import { median, type LatencySummary } from './lib/stats.js';
import { formatTable } from './lib/table.js';

export interface BrokerBenchOptions {
  readonly rates: readonly number[];
  readonly qos: readonly (0 | 1)[];
  readonly devices: number;
  readonly seconds: number;
  readonly warmupS: number;
  readonly reps: number;
  readonly inflight: number;
  readonly drainS: number;
  readonly brokers: readonly BrokerName[];
  readonly pin: boolean;
  readonly mosquittoLimits: MosquittoLimits;
  /** Keep each broker running from turn to turn (restarted only when it dies) instead of a fresh process per turn. */
  readonly reuseBrokers: boolean;
  /** Profile the gateway (`node --cpu-prof`) in every turn; needs a fresh process per turn. */
  readonly cpuProf: boolean;
  /** Where the .cpuprofile files are kept; undefined = the temp dir, removed at the end. */
  readonly cpuProfDir?: string;
  /** With `cpuProf`: write a flame graph of each turn's window here (bench/lib/flame-graph.ts). */
  readonly flameDir?: string;
  /** Record each turn's window with `perf` and write an on-CPU flame graph here (bench/lib/perf-script.ts). */
  readonly perfFlameDir?: string;
  /** `--baseline DIR`: the checkout whose gateway runs as the broker `baseline`. */
  readonly baselineRoot?: string;
  /** `--baseline-commit REV`: a worktree of REV prepared for the run and removed after it (bench/lib/worktree.ts). */
  readonly baselineCommit?: string;
  /** `--gateway-node-args`: Node arguments of the gateway (not the baseline), e.g. V8 heap flags to compare. */
  readonly gatewayNodeArgs: readonly string[];
  /**
   * `--stall-subscriber-ms`: stop the subscriber (SIGSTOP) half a second into the warm-up for this
   * long, then let it go on (SIGCONT): a lagging ingest, to see whether the broker is back to its
   * normal cost by the measured window or stays behind. 0 = no stall.
   */
  readonly stallSubscriberMs: number;
  /**
   * `--stalls`: run the Node brokers with bench/lib/stall-probe.cjs and report their event-loop
   * stalls in the window (on a core, waiting for one, blocked), and how many of the messages at or
   * above p99 were in flight during one.
   */
  readonly stalls: boolean;
}

export type MosquittoLimits = 'unlimited' | 'stock';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Preloaded into the Node brokers with `--stalls`. */
const STALL_PROBE = fileURLToPath(new URL('./lib/stall-probe.cjs', import.meta.url));

/** Mosquitto config lines per `--mosquitto-limits` (mosquitto.conf(5): 0 = no maximum). */
export const MOSQUITTO_LIMITS: Record<MosquittoLimits, readonly string[]> = {
  unlimited: ['max_inflight_messages 0', 'max_queued_messages 0'],
  stock: [],
};

export interface TurnResult {
  readonly broker: BrokerName;
  readonly qos: 0 | 1;
  readonly rate: number;
  readonly rep: number;
  /** ok; crashed (the broker process died during the turn); error (the turn could not run). */
  readonly status: 'ok' | 'crashed' | 'error';
  readonly error?: string;
  readonly connect?: { readonly connected: number; readonly failed: number; readonly ms: number; readonly errors: Record<string, number> };
  readonly windowS?: number;
  /** Achieved by the generator in the window. */
  readonly sentPerS?: number;
  readonly ackedPerS?: number;
  /** Arrived at the subscriber during the window. */
  readonly deliveredPerS?: number;
  readonly sentInWindow?: number;
  readonly receivedInWindow?: number;
  /** 1 − received / sent, for the messages sent in the window. */
  readonly loss?: number;
  readonly blockedInWindow?: number;
  readonly laggedInWindow?: number;
  readonly latencyMs?: LatencySummary;
  readonly ackMs?: LatencySummary | null;
  readonly brokerCpuS?: number;
  readonly brokerCpuPct?: number;
  readonly brokerCpuUsPerMsg?: number;
  /** Of `brokerCpuUsPerMsg`, the kernel's part (stime): what the rest, user space, leaves to compare. */
  readonly brokerSysUsPerMsg?: number;
  /** The broker's write and read system calls (socket writes and reads) per message sent in the window. */
  readonly brokerWritesPerMsg?: number;
  readonly brokerReadsPerMsg?: number;
  readonly brokerRssMiB?: number;
  readonly brokerPeakRssMiB?: number;
  readonly generatorCpuPct?: number;
  readonly subscriberCpuPct?: number;
  readonly loadAverage1m?: number;
  readonly crash?: { readonly exit: unknown; readonly outputTail: string };
  /** The measured window, CLOCK_MONOTONIC ms (bench/lib/payload.ts `monotonicMs`), as the CPU profile's clock. */
  readonly windowMonoMs?: { readonly t0: number; readonly t1: number };
  /** `--cpu-prof`: the gateway's self time over the window. */
  readonly profile?: TurnProfile;
  /** `--perf-flame`: the SVG of the window's on-CPU flame graph. */
  readonly perfFlame?: string;
  /** The broker's main thread: ms per second of the window it was runnable but waited for a core (/proc/<pid>/schedstat). */
  readonly brokerRunQueueMsPerS?: number;
  /** `--stalls` (Node brokers): the window's event-loop stalls against its slowest messages. */
  readonly stalls?: StallSummary;
}

/** Self time of the code of one owner (see `ownerOf`). */
export interface OwnerRow {
  readonly owner: string;
  readonly selfMs: number;
  /** Share of the profiled (non-idle) time. */
  readonly share: number;
}

/** A gateway turn's CPU profile over the measured window: the top functions and every owner's total. */
export interface TurnProfile extends ProfileSummary {
  readonly byOwner: readonly OwnerRow[];
}

/** The profile's self time in [t0, t1] (monotonic ms): the `top` functions and every owner's total. */
export function profileTurn(profile: CpuProfile, window: { t0: number; t1: number }, top = 25): TurnProfile {
  const range = { root: REPO_ROOT, fromUs: window.t0 * 1000, toUs: window.t1 * 1000 };
  const all = summarizeCpuProfile(profile, { ...range, top: Number.MAX_SAFE_INTEGER });
  const owners = new Map<string, number>();
  for (const r of all.top) owners.set(ownerOf(r.fn), (owners.get(ownerOf(r.fn)) ?? 0) + r.selfMs);
  const byOwner = [...owners]
    .sort((a, b) => b[1] - a[1])
    .map(([owner, selfMs]) => ({ owner, selfMs, share: all.busyMs ? selfMs / all.busyMs : 0 }));
  return { ...all, top: all.top.slice(0, top), byOwner };
}


export interface SummaryRow {
  readonly broker: BrokerName;
  readonly qos: 0 | 1;
  readonly rate: number;
  readonly turns: number;
  readonly crashed: number;
  readonly sentPerS: number;
  readonly deliveredPerS: number;
  readonly loss: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly cpuUsPerMsg: number;
  /** Of `cpuUsPerMsg`, in the kernel. */
  readonly sysUsPerMsg: number;
  /** Write / read system calls of the broker per message: how well it batches socket writes (PUBACKs, deliveries) and reads. */
  readonly writesPerMsg: number;
  readonly readsPerMsg: number;
  readonly cpuPct: number;
  readonly rssMiB: number;
  readonly generatorCpuPct: number;
  readonly subscriberCpuPct: number;
  /** Share of the target the broker pushed back (every connection at its in-flight limit or with 64 KiB unsent). */
  readonly blockedShare: number;
  /** Share of the target the generator itself fell behind on (it, not the broker, was the limit). */
  readonly laggedShare: number;
  /** QoS 1: publish to PUBACK at the device, p99, ms. */
  readonly pubackP99Ms: number;
  /** The main thread's wait for a core, ms per s. */
  readonly runQueueMsPerS: number;
  /** `--stalls`: medians over the turns that have them. */
  readonly stalls?: StallRow;
}

/** Medians of the turns' `StallSummary`, per second of window where it says so. */
export interface StallRow {
  readonly thresholdMs: number;
  readonly stallsPerS: number;
  readonly stalledMsPerS: number;
  readonly onCpuMsPerS: number;
  readonly runQueueMsPerS: number;
  readonly blockedMsPerS: number;
  /** Share of the messages at or above p99 that were in flight during a stall. */
  readonly slowInStallShare: number;
}

const MiB = 2 ** 20;

function cpuPct(a: ProcessSample | undefined, b: ProcessSample | undefined): number {
  return a && b && b.atMs > a.atMs ? ((b.cpuS - a.cpuS) / ((b.atMs - a.atMs) / 1000)) * 100 : Number.NaN;
}

/** (b − a) / n, NaN when a counter is missing or nothing was sent. */
function perMsg(a: number | undefined, b: number | undefined, n: number): number {
  return a !== undefined && b !== undefined && n > 0 ? (b - a) / n : Number.NaN;
}

function at(monoMs: number, fn: () => void): NodeJS.Timeout {
  return setTimeout(fn, Math.max(0, monoMs - monotonicMs()));
}

/** A broker's name in a flame graph's title. */
function brokerTitle(broker: BrokerName): string {
  return broker === 'aedes' ? 'stock aedes' : broker === 'baseline' ? 'gateway (baseline)' : broker === 'mosquitto' ? 'Mosquitto' : broker;
}

/** File name (no extension) of a turn's `--perf-flame` graph. */
function perfFlameName(broker: BrokerName, qos: 0 | 1, rate: number, rep: number): string {
  return `perf-qos${qos}-${rate}-rep${rep}-${broker}`;
}

/**
 * The on-CPU flame graph of a turn's `perf record` (or why there is none: the turn goes on
 * without it). The recording, tens of MB, is removed once folded.
 */
async function writePerfFlame(recorded: unknown, perfData: string, broker: BrokerName, pid: number, o: BrokerBenchOptions, qos: 0 | 1, rate: number, rep: number): Promise<string | undefined> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  try {
    if (recorded instanceof Error) throw recorded;
    const folded = await perfFold(perfData, { root: REPO_ROOT, pid });
    const svg = await writeFoldedFlameGraph(folded, o.perfFlameDir!, perfFlameName(broker, qos, rate, rep), {
      title: `${brokerTitle(broker)}, QoS ${qos} at ${f0(rate)} msg/s offered, ${o.devices} devices: on-CPU time of every thread over the ${o.seconds} s window (perf)`,
      subtitle: `npm run bench -- broker … --perf-flame DIR · repetition ${rep} · perf record -F 999 --call-graph ${broker === 'mosquitto' ? 'dwarf' : 'fp'} -p <broker>`,
      measure: 'on-CPU samples of all its threads, kernel included',
      groupOf: perfFrameGroup,
    });
    log(`perf flame graph: ${svg}`);
    return svg;
  } catch (err) {
    log(`no perf flame graph of ${broker} (${(err as Error).message})`);
    return undefined;
  } finally {
    await rm(perfData, { force: true });
  }
}

/**
 * One turn, and whether the broker died in it: a broker can also die after the window, while the
 * backlog drains or when the subscriber's session is cleaned up, which counts against this turn.
 */
async function runTurn(broker: BrokerProcess, creds: BenchCredentials, o: BrokerBenchOptions, qos: 0 | 1, rate: number, rep: number, stallFile?: string): Promise<TurnResult> {
  let turn = await runTurnOnce(broker, creds, o, qos, rate, rep);
  // Let an exit that came with the clean-up be noticed (and the stall probe write its file, every 500 ms).
  await new Promise((r) => setTimeout(r, 600));
  const probe = stallFile && turn.windowMonoMs ? await readStallProbe(stallFile) : undefined;
  if (probe && turn.windowMonoMs) turn = { ...turn, stalls: summarizeStalls(probe, turn.windowMonoMs, turn.slowest ?? []) };
  // The slowest messages were for the stall summary; they are not kept in the turn.
  if (turn.slowest) {
    const { slowest: _slowest, ...rest } = turn;
    turn = rest;
  }
  const exit = broker.exit();
  if (!exit || turn.status === 'crashed') return turn;
  return { ...turn, status: 'crashed', error: `${turn.error ? `${turn.error}; ` : ''}died after the window (drain or session clean-up)`, crash: { exit, outputTail: broker.outputTail() } };
}

/** One turn: a fresh subscriber and generator against `broker`, warm-up, window, drain. */
async function runTurnOnce(broker: BrokerProcess, creds: BenchCredentials, o: BrokerBenchOptions, qos: 0 | 1, rate: number, rep: number): Promise<TurnResult & { slowest?: Array<[number, number]> }> {
  const base = { broker: broker.name, qos, rate, rep } as const;
  const cpus = o.pin ? '1' : undefined;
  const sub: BenchChild<SubIn, SubOut> = forkChild(new URL('./lib/mqtt-sub.ts', import.meta.url), cpus ? { cpus } : {});
  const gen: BenchChild<LoadIn, LoadOut> = forkChild(new URL('./lib/mqtt-load.ts', import.meta.url), cpus ? { cpus } : {});
  /** `--stall-subscriber-ms`: SIGSTOP and SIGCONT to the subscriber; one that is gone is reported by the turn. */
  const signalSub = (signal: NodeJS.Signals) => {
    try {
      process.kill(sub.pid, signal);
    } catch {
      // Already gone.
    }
  };
  try {
    sub.send({ type: 'connect', host: broker.host, port: broker.port, username: SUBSCRIBER_USERNAME, password: creds.subscriberPassword, clientId: `${SUBSCRIBER_USERNAME}-${broker.name}-${qos}-${rate}-${rep}` });
    const ready = await Promise.race([sub.next('ready', 30_000), sub.next('error', 30_000).then((e) => Promise.reject(new Error(`subscriber: ${e.message}`)))]);
    if (ready.granted[0] !== 1) throw new Error(`subscription granted ${JSON.stringify(ready.granted)}`);
    gen.send({ type: 'connect', host: broker.host, port: broker.port, first: 0, count: o.devices, password: creds.devicePassword, concurrency: 100, keepaliveS: 60, sourceAddresses: 1 });
    // 1,000 first logins: about 1 s on the gateway (salted SHA-256), 0.4 s on Mosquitto.
    const connected = await gen.next('connected', 60_000 + o.devices * 100);
    const connect = { connected: connected.connected, failed: connected.failed, ms: connected.ms, errors: connected.errors };
    if (connected.connected === 0) throw new Error(`no device could connect: ${JSON.stringify(connected.errors)}`);

    const startMs = monotonicMs() + 200;
    const t0Ms = startMs + o.warmupS * 1000;
    const t1Ms = t0Ms + o.seconds * 1000;
    const samples: Record<'t0' | 't1', { broker?: ProcessSample; gen?: ProcessSample; sub?: ProcessSample }> = { t0: {}, t1: {} };
    const take = (k: 't0' | 't1') => (samples[k] = { broker: sampleProcess(broker.pid), gen: sampleProcess(gen.pid), sub: sampleProcess(sub.pid) });
    let perf: Promise<unknown> | undefined;
    const perfData = o.perfFlameDir ? join(o.perfFlameDir, `${perfFlameName(broker.name, qos, rate, rep)}.perf.data`) : undefined;
    const startPerf = () => {
      // Node keeps frame pointers in its JIT code; Debian's Mosquitto is built without them.
      if (perfData) perf = perfRecord(broker.pid, o.seconds, perfData, { callGraph: broker.name === 'mosquitto' ? 'dwarf' : 'fp' }).catch((err: unknown) => err as Error);
    };
    const timers = [at(t0Ms, () => (take('t0'), startPerf())), at(t1Ms, () => take('t1'))];
    if (o.stallSubscriberMs > 0) timers.push(at(startMs + 500, () => signalSub('SIGSTOP')), at(startMs + 500 + o.stallSubscriberMs, () => signalSub('SIGCONT')));
    const drainMs = o.drainS * 1000;
    sub.send({ type: 'window', t0Ms, t1Ms, drainMs, quietMs: 1000, ...(o.stalls ? { slowest: true } : {}) });
    gen.send({ type: 'run', startMs, t0Ms, t1Ms, rate, qos, inflight: o.inflight, drainMs });
    const deadline = o.warmupS * 1000 + o.seconds * 1000 + drainMs + 30_000;
    const [g, s] = await Promise.allSettled([gen.next('result', deadline), sub.next('result', deadline)]);
    timers.forEach(clearTimeout);
    const perfFlame = perfData ? await writePerfFlame(await perf, perfData, broker.name, broker.pid, o, qos, rate, rep) : undefined;
    const crashed = broker.exit() !== undefined;
    const gr: LoadResult | undefined = g.status === 'fulfilled' ? g.value : undefined;
    const sr: SubResult | undefined = s.status === 'fulfilled' ? s.value : undefined;
    const b0 = samples.t0.broker;
    const b1 = samples.t1.broker;
    const brokerCpuS = b0 && b1 ? b1.cpuS - b0.cpuS : Number.NaN;
    const windowS = gr?.windowS ?? o.seconds;
    const result: TurnResult = {
      ...base,
      status: crashed ? 'crashed' : gr && sr ? 'ok' : 'error',
      ...(gr && sr ? {} : { error: [g, s].map((r) => (r.status === 'rejected' ? String((r.reason as Error).message) : '')).filter(Boolean).join('; ') }),
      connect,
      windowS,
      ...(gr
        ? {
            sentPerS: gr.sentInWindow / windowS,
            ...(qos === 1 ? { ackedPerS: gr.ackedInWindow / windowS } : {}),
            sentInWindow: gr.sentInWindow,
            blockedInWindow: gr.blockedInWindow,
            laggedInWindow: gr.laggedInWindow,
            ackMs: gr.ackMs,
            brokerCpuUsPerMsg: gr.sentInWindow ? (brokerCpuS * 1e6) / gr.sentInWindow : Number.NaN,
            brokerSysUsPerMsg: gr.sentInWindow && b0 && b1 ? ((b1.systemS - b0.systemS) * 1e6) / gr.sentInWindow : Number.NaN,
            brokerWritesPerMsg: perMsg(b0?.writeSyscalls, b1?.writeSyscalls, gr.sentInWindow),
            brokerReadsPerMsg: perMsg(b0?.readSyscalls, b1?.readSyscalls, gr.sentInWindow),
          }
        : {}),
      ...(sr ? { deliveredPerS: sr.arrivedInWindow / windowS, receivedInWindow: sr.receivedInWindow, latencyMs: sr.latencyMs } : {}),
      ...(sr?.slowest ? { slowest: sr.slowest } : {}),
      ...(b0?.mainRunQueueS !== undefined && b1?.mainRunQueueS !== undefined && b1.atMs > b0.atMs ? { brokerRunQueueMsPerS: ((b1.mainRunQueueS - b0.mainRunQueueS) * 1000) / ((b1.atMs - b0.atMs) / 1000) } : {}),
      ...(gr && sr ? { loss: gr.sentInWindow ? 1 - sr.receivedInWindow / gr.sentInWindow : Number.NaN } : {}),
      brokerCpuS,
      brokerCpuPct: cpuPct(b0, b1),
      ...(b1 ? { brokerRssMiB: b1.rssBytes / MiB, brokerPeakRssMiB: b1.hwmBytes / MiB } : {}),
      generatorCpuPct: cpuPct(samples.t0.gen, samples.t1.gen),
      subscriberCpuPct: cpuPct(samples.t0.sub, samples.t1.sub),
      loadAverage1m: loadAverage()[0],
      windowMonoMs: { t0: t0Ms, t1: t1Ms },
      ...(perfFlame ? { perfFlame } : {}),
      ...(crashed ? { crash: { exit: broker.exit(), outputTail: broker.outputTail() } } : {}),
    };
    return result;
  } catch (err) {
    const crashed = broker.exit() !== undefined;
    return { ...base, status: crashed ? 'crashed' : 'error', error: (err as Error).message, ...(crashed ? { crash: { exit: broker.exit(), outputTail: broker.outputTail() } } : {}) };
  } finally {
    // A turn that ended early (an error) may have left the subscriber stopped.
    if (o.stallSubscriberMs > 0) signalSub('SIGCONT');
    gen.send({ type: 'close' });
    sub.send({ type: 'close' });
    await Promise.all([gen.next('closed', 15_000).catch(() => undefined), sub.next('closed', 15_000).catch(() => undefined)]);
    await Promise.all([gen.stop(), sub.stop()]);
  }
}

/**
 * Medians over the repetitions of each (broker, QoS, rate). A turn whose broker died after the
 * window still has its window's figures and counts; one without them (died before or during the
 * window, or an error) counts for loss only (all lost).
 */
export function summarizeTurns(turns: readonly TurnResult[]): SummaryRow[] {
  const groups = new Map<string, TurnResult[]>();
  for (const t of turns) {
    const k = `${t.qos}|${t.rate}|${t.broker}`;
    groups.set(k, [...(groups.get(k) ?? []), t]);
  }
  const rows: SummaryRow[] = [];
  for (const ts of groups.values()) {
    const ok = ts.filter((t) => t.sentPerS !== undefined && t.latencyMs !== undefined);
    const m = (f: (t: TurnResult) => number | undefined, from: readonly TurnResult[] = ok) => median(from.map((t) => f(t) ?? Number.NaN));
    const first = ts[0]!;
    rows.push({
      broker: first.broker,
      qos: first.qos,
      rate: first.rate,
      turns: ts.length,
      crashed: ts.filter((t) => t.status === 'crashed').length,
      sentPerS: m((t) => t.sentPerS),
      deliveredPerS: m((t) => t.deliveredPerS),
      loss: m((t) => t.loss ?? (t.status !== 'ok' ? 1 : undefined), ts),
      p50Ms: m((t) => t.latencyMs?.p50),
      p99Ms: m((t) => t.latencyMs?.p99),
      p999Ms: m((t) => t.latencyMs?.p999),
      cpuUsPerMsg: m((t) => t.brokerCpuUsPerMsg),
      sysUsPerMsg: m((t) => t.brokerSysUsPerMsg),
      writesPerMsg: m((t) => t.brokerWritesPerMsg),
      readsPerMsg: m((t) => t.brokerReadsPerMsg),
      cpuPct: m((t) => t.brokerCpuPct),
      rssMiB: m((t) => t.brokerRssMiB),
      generatorCpuPct: m((t) => t.generatorCpuPct),
      subscriberCpuPct: m((t) => t.subscriberCpuPct),
      blockedShare: m((t) => (t.blockedInWindow ?? Number.NaN) / (t.rate * (t.windowS ?? Number.NaN))),
      laggedShare: m((t) => (t.laggedInWindow ?? Number.NaN) / (t.rate * (t.windowS ?? Number.NaN))),
      pubackP99Ms: m((t) => t.ackMs?.p99),
      runQueueMsPerS: m((t) => t.brokerRunQueueMsPerS),
      ...stallRow(ok),
    });
  }
  return rows.sort((a, b) => a.qos - b.qos || a.rate - b.rate || a.broker.localeCompare(b.broker));
}

/** Medians of the turns' stall summaries; nothing when no turn has one. */
function stallRow(turns: readonly TurnResult[]): { stalls?: StallRow } {
  const ss = turns.map((t) => t.stalls).filter((x): x is StallSummary => x !== undefined);
  if (!ss.length) return {};
  const m = (f: (s: StallSummary) => number) => median(ss.map(f));
  const perS = (f: (s: StallSummary) => number) => m((s) => f(s) / s.windowS);
  const share = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);
  return {
    stalls: {
      thresholdMs: ss[0]!.thresholdMs,
      stallsPerS: perS((s) => s.stalls),
      stalledMsPerS: perS((s) => s.stalledMs),
      onCpuMsPerS: perS((s) => s.onCpuMs),
      runQueueMsPerS: perS((s) => s.runQueueMs),
      blockedMsPerS: perS((s) => s.blockedMs),
      slowInStallShare: m((s) => share(s.slowInStall, s.slowMessages)),
    },
  };
}

const f0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(2)} %` : '–');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : '–');

export function formatSummary(rows: readonly SummaryRow[]): string {
  const main = formatTable(
    [
      'QoS',
      { header: 'target/s', align: 'right' },
      'broker',
      { header: 'sent/s', align: 'right' },
      { header: 'delivered/s', align: 'right' },
      { header: 'loss', align: 'right' },
      { header: 'p50 ms', align: 'right' },
      { header: 'p99 ms', align: 'right' },
      { header: 'p99.9 ms', align: 'right' },
      { header: 'broker CPU µs/msg', align: 'right' },
      { header: 'of which kernel', align: 'right' },
      { header: 'writes/msg', align: 'right' },
      { header: 'reads/msg', align: 'right' },
      { header: 'broker CPU', align: 'right' },
      { header: 'broker RSS MiB', align: 'right' },
      { header: 'PUBACK p99 ms', align: 'right' },
      { header: 'pushed back', align: 'right' },
      { header: 'generator behind', align: 'right' },
      { header: 'generator CPU', align: 'right' },
      { header: 'subscriber CPU', align: 'right' },
      { header: 'main thread waiting for a core ms/s', align: 'right' },
      { header: 'crashed', align: 'right' },
    ],
    rows.map((r) => [
      String(r.qos),
      f0(r.rate),
      r.broker,
      f0(r.sentPerS),
      f0(r.deliveredPerS),
      pct(r.loss),
      f2(r.p50Ms),
      f2(r.p99Ms),
      f2(r.p999Ms),
      f1(r.cpuUsPerMsg),
      f1(r.sysUsPerMsg),
      f2(r.writesPerMsg),
      f2(r.readsPerMsg),
      `${f0(r.cpuPct)} %`,
      f0(r.rssMiB),
      r.qos === 1 ? f2(r.pubackP99Ms) : '',
      pct(r.blockedShare),
      pct(r.laggedShare),
      `${f0(r.generatorCpuPct)} %`,
      `${f0(r.subscriberCpuPct)} %`,
      f1(r.runQueueMsPerS),
      `${r.crashed}/${r.turns}`,
    ]),
  );
  // Ratios per pair of brokers run side by side: the issue's gateway / Mosquitto, and with stock
  // aedes in the run, what aedes itself costs against Mosquitto and what the gateway adds to aedes.
  const sections: string[] = [];
  for (const [a, b] of [['gateway', 'mosquitto'], ['aedes', 'mosquitto'], ['gateway', 'aedes'], ['gateway', 'baseline']] as const) {
    const pairs: string[][] = [];
    for (const g of rows.filter((r) => r.broker === a)) {
      const m = rows.find((r) => r.broker === b && r.qos === g.qos && r.rate === g.rate);
      if (!m) continue;
      pairs.push([String(g.qos), f0(g.rate), ratio(g.sentPerS, m.sentPerS), ratio(g.deliveredPerS, m.deliveredPerS), ratio(g.p50Ms, m.p50Ms), ratio(g.p99Ms, m.p99Ms), ratio(g.p999Ms, m.p999Ms), ratio(g.cpuUsPerMsg, m.cpuUsPerMsg), ratio(g.cpuUsPerMsg - g.sysUsPerMsg, m.cpuUsPerMsg - m.sysUsPerMsg), ratio(g.sysUsPerMsg, m.sysUsPerMsg), ratio(g.rssMiB, m.rssMiB)]);
    }
    if (!pairs.length) continue;
    const table = formatTable(
      ['QoS', { header: 'target/s', align: 'right' }, ...['sent/s', 'delivered/s', 'p50', 'p99', 'p99.9', 'CPU/msg', 'user', 'kernel', 'RSS'].map((h) => ({ header: h, align: 'right' as const }))],
      pairs,
    );
    sections.push(`\n${a} / ${b} (medians):\n\n${table}`);
  }
  const stallRows = rows.filter((r) => r.stalls);
  if (stallRows.length) {
    const pct0 = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)} %` : '–');
    const table = formatTable(
      ['QoS', { header: 'target/s', align: 'right' }, 'broker', ...['p99 ms', 'stalls/s', 'stalled ms/s', 'on a core', 'waiting for a core', 'blocked', 'messages ≥ p99 in a stall'].map((h) => ({ header: h, align: 'right' as const }))],
      stallRows.map((r) => {
        const st = r.stalls!;
        return [String(r.qos), f0(r.rate), r.broker, f2(r.p99Ms), f1(st.stallsPerS), f1(st.stalledMsPerS), f1(st.onCpuMsPerS), f1(st.runQueueMsPerS), f1(st.blockedMsPerS), pct0(st.slowInStallShare)];
      }),
    );
    sections.push(
      `\nEvent-loop stalls of the Node brokers in the window (--stalls; a stall: the main thread ran nothing else for over ${stallRows[0]!.stalls!.thresholdMs} ms; ` +
        `its time on a core, waiting for one, or blocked, from /proc schedstat; medians):\n\n${table}`,
    );
  }
  return `${main}${sections.join('')}`;
}

/** The profile of each gateway turn that has one: owners, then the top functions, as share and as µs/msg. */
export function formatProfiles(turns: readonly TurnResult[]): string {
  const out: string[] = [];
  for (const t of turns) {
    const p = t.profile;
    if (!p) continue;
    const usPerMsg = t.brokerCpuUsPerMsg ?? Number.NaN;
    const row = (share: number, selfMs: number, what: string) => `  ${(share * 100).toFixed(1).padStart(5)} %  ${f1(share * usPerMsg).padStart(6)} µs/msg  ${selfMs.toFixed(0).padStart(6)} ms  ${what}`;
    out.push(
      `${t.broker} QoS ${t.qos} ${f0(t.rate)}/s rep ${t.rep}: broker CPU ${f1(usPerMsg)} µs/msg, sent ${f0(t.sentPerS ?? Number.NaN)}/s, load ${f1(t.loadAverage1m ?? Number.NaN)}; ` +
        `profiled ${p.busyMs.toFixed(0)} ms busy, ${p.idleMs.toFixed(0)} ms idle, ${p.samples} samples (µs/msg = share × broker CPU µs/msg; wall-time samples of the main thread)`,
      '  self time by owner:',
      ...p.byOwner.map((r) => row(r.share, r.selfMs, r.owner)),
      '  top self time by function:',
      ...p.top.map((r) => row(r.share, r.selfMs, r.fn)),
      '',
    );
  }
  return out.join('\n');
}

export const CLI = defineBench({
  name: 'broker',
  summary: `The Wattproof gateway against Mosquitto (and optionally stock aedes, or another checkout's gateway) under
the same load from one load generator: per QoS and rate, the brokers take turns; each turn measures
send and delivery rates, loss, end-to-end latency and the broker's CPU, RSS and system calls per message.`,
  options: {
    rates: { type: 'string', placeholder: 'R,R,...', default: '5000,10000,20000,30000', description: 'target messages/s over all devices, one cell each' },
    qos: { type: 'string', placeholder: 'Q,Q', default: '0,1', description: 'QoS of the publishes: 0 and/or 1' },
    devices: { type: 'string', placeholder: 'N', default: '1000', description: 'device connections of the load generator' },
    seconds: { type: 'string', placeholder: 'S', default: '20', description: 'seconds measured per turn' },
    warmup: { type: 'string', placeholder: 'S', default: '3', description: 'seconds at the target rate before the measured window' },
    reps: { type: 'string', placeholder: 'N', default: '3', description: 'repetitions of every (broker, QoS, rate) turn' },
    inflight: { type: 'string', placeholder: 'N', default: '2', description: 'QoS 1 PUBLISHes unacknowledged per device connection' },
    drain: { type: 'string', placeholder: 'S', default: '10', description: 'seconds allowed after the window for late messages and PUBACKs' },
    // aedes: stock aedes without authentication, ACL or hooks (bench/lib/stock-aedes.mjs), the floor
    // under the gateway; with it the ratios aedes / mosquitto and gateway / aedes are printed too.
    brokers: { type: 'string', placeholder: 'B,B', default: BROKERS.join(','), description: `brokers in the run, of ${BROKER_NAMES.join(', ')} (baseline needs --baseline)` },
    pin: { type: 'boolean', default: false, description: 'broker on CPU 0, generator and subscriber on CPU 1 (taskset)' },
    // Faster (no broker start and first logins per turn), but RSS and backlogs then carry over between turns.
    'reuse-brokers': { type: 'boolean', default: false, description: 'keep each broker process from turn to turn (restarted only when it dies) instead of a fresh one' },
    // A fresh process per turn: the profile is written when it exits. V8 samples the main thread's wall time, not CPU time: on a busy machine the time the gateway
    // waits for a core after a syscall that woke another process (`writev` to the subscriber) is
    // counted in that syscall, and GC helper threads are not sampled; `perf record` shows on-CPU time.
    // The µs/msg column is the share of profiled time × the broker CPU µs/msg of the turn.
    'cpu-prof': { type: 'boolean', default: false, description: "run the gateway (and stock aedes) under node --cpu-prof and print its self time per turn's window, by owner and function" },
    // Open them in Chrome DevTools.
    'cpu-prof-dir': { type: 'string', placeholder: 'DIR', description: 'with --cpu-prof: keep the .cpuprofile files there (one directory per turn) instead of a removed temp dir' },
    'flame-dir': { type: 'string', placeholder: 'DIR', description: "with --cpu-prof: write a flame graph of each profiled turn's window there (turn-N-….svg, and its stacks as .folded for speedscope or flamegraph.pl)" },
    // Every broker, Mosquitto included, every thread, kernel included: what --cpu-prof cannot see.
    'perf-flame': { type: 'string', placeholder: 'DIR', description: "record every broker's window with Linux perf (all threads, kernel included; call stacks by frame pointers for Node brokers, which run with --perf-basic-prof, by DWARF for Mosquitto) and write an on-CPU flame graph per turn there (perf-….svg and .folded)" },
    // unlimited matches the gateway, which has no in-flight window (aedes) and a queue bound far
    // above what a turn builds up, so both deliver alike; stock is Mosquitto's defaults (20 in
    // flight, 1000 queued per client, the rest dropped).
    'mosquitto-limits': { type: 'string', placeholder: 'L', default: 'unlimited', description: "Mosquitto's QoS 1 in-flight and queue limits: unlimited, or stock (its defaults)" },
    // E.g. made with `git worktree add DIR <commit>` and DIR/node_modules linking this one's: A/B of two commits in one run.
    // Checked: its workspace packages must resolve into it (bench/lib/worktree.ts).
    baseline: { type: 'string', placeholder: 'DIR', description: 'the checkout whose gateway runs as the broker "baseline"' },
    'baseline-commit': { type: 'string', placeholder: 'REV', description: 'run the gateway of commit REV as the broker "baseline", from a worktree made for the run (linked to these dependencies) and removed after it' },
    // To compare Node or V8 settings with the baseline: they come after GATEWAY_NODE_ARGS
    // (bench/lib/brokers.ts, docker-compose's NODE_OPTIONS), which the baseline gets too.
    'gateway-node-args': { type: 'string', placeholder: 'ARGS', default: '', description: 'Node arguments for the gateway only, space-separated, given with "=" (--gateway-node-args=--max-semi-space-size=32)' },
    // A lagging ingest: the window then shows whether the broker recovered.
    'stall-subscriber-ms': { type: 'string', placeholder: 'MS', default: '0', description: 'stop the subscriber for MS ms (SIGSTOP, then SIGCONT) half a second into the warm-up, which must outlast it; 0 = no stall' },
    // Why the tail: each slow message against what the broker's main thread was doing meanwhile.
    stalls: { type: 'boolean', default: false, description: "run the Node brokers with a stall probe (bench/lib/stall-probe.cjs) and report their event-loop stalls in the window (on a core, waiting for one, blocked), and how many of the messages at or above p99 were in flight during one" },
    json: { type: 'string', placeholder: 'FILE', description: 'also write every turn and the summary as JSON' },
    summarize: { type: 'string', placeholder: 'FILE', description: 'print the tables of a --json file again and run nothing' },
  },
});

export function parseBrokerBenchArgs(argv: string[]): BrokerBenchOptions & { json?: string; summarize?: string } {
  const values = parseBenchArgs(CLI, argv);
  const list = (s: string) => s.split(',').map((x) => Number(x.trim()));
  const positive = (name: string, x: number) => {
    if (!Number.isFinite(x) || x <= 0) throw new BenchUsageError(`--${name} must be a positive number, not ${x}`);
    return x;
  };
  const qos = list(values.qos).map((q) => {
    if (q !== 0 && q !== 1) throw new BenchUsageError('--qos takes 0 and/or 1');
    return q as 0 | 1;
  });
  if (values['cpu-prof'] && values['reuse-brokers']) throw new BenchUsageError('--cpu-prof needs a fresh gateway per turn (the profile is written when it exits): drop --reuse-brokers');
  if (values['cpu-prof-dir'] && !values['cpu-prof']) throw new BenchUsageError('--cpu-prof-dir goes with --cpu-prof');
  if (values['flame-dir'] && !values['cpu-prof']) throw new BenchUsageError('--flame-dir goes with --cpu-prof');
  // Both would sample the same process at once, and each distorts what the other sees.
  if (values['perf-flame'] && values['cpu-prof']) throw new BenchUsageError('--perf-flame and --cpu-prof profile the same processes: run them separately');
  const brokers = values.brokers.split(',').map((b) => {
    if (!(BROKER_NAMES as readonly string[]).includes(b)) throw new BenchUsageError(`--brokers takes ${BROKER_NAMES.join(', ')}`);
    return b as BrokerName;
  });
  if (values.baseline && values['baseline-commit']) throw new BenchUsageError('--baseline DIR and --baseline-commit REV: give one');
  if (brokers.includes('baseline') !== Boolean(values.baseline ?? values['baseline-commit'])) throw new BenchUsageError('--brokers baseline goes with --baseline DIR or --baseline-commit REV');
  return {
    rates: list(values.rates).map((r) => positive('rates', r)),
    qos,
    devices: Math.floor(positive('devices', Number(values.devices))),
    seconds: positive('seconds', Number(values.seconds)),
    warmupS: Number(values.warmup),
    reps: Math.floor(positive('reps', Number(values.reps))),
    inflight: Math.floor(positive('inflight', Number(values.inflight))),
    drainS: positive('drain', Number(values.drain)),
    brokers,
    pin: values.pin,
    reuseBrokers: values['reuse-brokers'],
    cpuProf: values['cpu-prof'],
    ...(values['cpu-prof-dir'] ? { cpuProfDir: values['cpu-prof-dir'] } : {}),
    ...(values['flame-dir'] ? { flameDir: values['flame-dir'] } : {}),
    ...(values['perf-flame'] ? { perfFlameDir: values['perf-flame'] } : {}),
    mosquittoLimits: (() => {
      const l = values['mosquitto-limits'];
      if (l !== 'unlimited' && l !== 'stock') throw new BenchUsageError('--mosquitto-limits takes unlimited or stock');
      return l;
    })(),
    ...(values.baseline ? { baselineRoot: values.baseline } : {}),
    ...(values['baseline-commit'] ? { baselineCommit: values['baseline-commit'] } : {}),
    gatewayNodeArgs: values['gateway-node-args'].split(' ').filter((a) => a !== ''),
    stalls: values.stalls,
    stallSubscriberMs: (() => {
      const ms = Number(values['stall-subscriber-ms']);
      if (!Number.isFinite(ms) || ms < 0) throw new BenchUsageError(`--stall-subscriber-ms must be 0 or more, not ${values['stall-subscriber-ms']}`);
      if (ms > 0 && ms + 500 >= Number(values.warmup) * 1000) throw new BenchUsageError('--stall-subscriber-ms must end inside the warm-up: raise --warmup above the stall + 0.5 s');
      return ms;
    })(),
    ...(values.json ? { json: values.json } : {}),
    ...(values.summarize ? { summarize: values.summarize } : {}),
  };
}

export async function main(argv: string[]): Promise<void> {
  if (showBenchHelp(CLI, argv)) return;
  const o = parseBrokerBenchArgs(argv);
  if (o.summarize) {
    const saved = JSON.parse(await readFile(o.summarize, 'utf8')) as { command: string; turns: TurnResult[] };
    const profiles = formatProfiles(saved.turns);
    process.stdout.write(`${saved.command}\n\n${formatSummary(summarizeTurns(saved.turns))}${profiles ? `\nGateway CPU profiles (self time over each turn's window):\n\n${profiles}` : ''}`);
    return;
  }
  const command = `npm run bench -- broker ${argv.join(' ')}`.trim();
  const machineStart = machineInfo();
  const startedAt = new Date().toISOString();
  const source = sourceState();
  process.stdout.write(`${command}\n${describeMachine(machineStart)}\nsource ${source.head}${source.modified.length ? ` + ${source.modified.length} modified files under gateway/, core/, bin/` : ''}\n`);
  if (o.baselineRoot) await checkBaselineCheckout(o.baselineRoot);
  if (o.perfFlameDir) await mkdir(o.perfFlameDir, { recursive: true });
  const worktree = o.baselineCommit ? await prepareBaselineWorktree(o.baselineCommit, REPO_ROOT) : undefined;
  if (worktree) process.stdout.write(`baseline ${worktree.commit} in ${worktree.dir}\n`);
  const baselineRoot = worktree?.dir ?? o.baselineRoot;
  const dir = await mkdtemp(join(tmpdir(), 'wattproof-bench-broker-'));
  const brokers = new Map<BrokerName, BrokerProcess>();
  /** Stops a broker and removes the JIT map `--perf-basic-prof` left in /tmp. */
  const stopBroker = async (b: BrokerProcess) => {
    await b.stop();
    if (o.perfFlameDir) await rm(join('/tmp', `perf-${b.pid}.map`), { force: true });
  };
  const commands = new Map<BrokerName, string>();
  const turns: TurnResult[] = [];
  const log = (s: string) => process.stderr.write(`${s}\n`);
  try {
    let t = performance.now();
    const creds = await provisionBench(dir, o.devices);
    log(`provisioned ${o.devices} devices for both brokers in ${((performance.now() - t) / 1000).toFixed(1)} s (${dir})`);
    /** `--stalls`: the probe file of each running Node broker. */
    const stallFiles = new Map<BrokerName, string>();
    const ensure = async (name: BrokerName, profDir: string | undefined): Promise<BrokerProcess> => {
      const b = brokers.get(name);
      if (b && !b.exit()) return b;
      t = performance.now();
      const stallFile = o.stalls && name !== 'mosquitto' ? join(dir, `stalls-${name}-${turns.length + 1}.json`) : undefined;
      if (stallFile) stallFiles.set(name, stallFile);
      else stallFiles.delete(name);
      const started = await startBroker(name, creds, {
        extraConfig: MOSQUITTO_LIMITS[o.mosquittoLimits],
        ...(baselineRoot ? { baselineRoot } : {}),
        ...(o.pin ? { cpus: '0' } : {}),
        // Writing a profile of a 10-30 s turn at exit takes a few seconds.
        ...(profDir ? { stopTimeoutMs: 60_000 } : {}),
        nodeArgs: [
          ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
          ...(o.perfFlameDir ? PERF_NODE_ARGS : []),
          ...(stallFile ? [`--require=${STALL_PROBE}`] : []),
          ...(name === 'gateway' ? o.gatewayNodeArgs : []),
        ],
        ...(stallFile ? { env: { WATTPROOF_BENCH_STALL_FILE: stallFile } } : {}),
      });
      brokers.set(name, started);
      commands.set(name, started.command);
      log(`${b ? 're' : ''}started ${name} pid ${started.pid} on port ${started.port} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      return started;
    };
    const total = o.reps * o.qos.length * o.rates.length * o.brokers.length;
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const qos of o.qos) {
        for (const rate of o.rates) {
          for (const name of o.brokers) {
            let turn: TurnResult;
            const profDir = o.cpuProf && name !== 'mosquitto' ? join(o.cpuProfDir ?? join(dir, 'profiles'), `turn-${turns.length + 1}-qos${qos}-${rate}-rep${rep}`) : undefined;
            if (profDir) await mkdir(profDir, { recursive: true });
            try {
              const broker = await ensure(name, profDir);
              turn = await runTurn(broker, creds, o, qos, rate, rep, stallFiles.get(name));
            } catch (err) {
              turn = { broker: name, qos, rate, rep, status: 'error', error: (err as Error).message };
            } finally {
              const broker = brokers.get(name);
              if (broker && !o.reuseBrokers) {
                await stopBroker(broker);
                brokers.delete(name);
              }
            }
            const window = turn.windowMonoMs;
            if (profDir && window) {
              const profile = await mainThreadProfile(profDir);
              if (profile) {
                turn = { ...turn, profile: profileTurn(profile, window) };
                if (o.flameDir) {
                  const svg = await writeFlameGraph(profile, o.flameDir, `${basename(profDir)}-${name}`, {
                    root: REPO_ROOT,
                    fromUs: window.t0 * 1000,
                    toUs: window.t1 * 1000,
                    title: `${brokerTitle(name)}, QoS ${qos} at ${f0(rate)} msg/s offered, ${o.devices} devices: main thread over the ${o.seconds} s window`,
                    subtitle: `${command} · turn ${turns.length + 1}, repetition ${rep}` + (turn.brokerCpuUsPerMsg !== undefined ? ` · ${f1(turn.brokerCpuUsPerMsg)} µs of CPU per message (process), p99 ${f2(turn.latencyMs?.p99 ?? Number.NaN)} ms` : ''),
                  });
                  log(`flame graph: ${svg}`);
                }
              } else log(`no CPU profile of the gateway in ${profDir} (killed before it could write one?)`);
            }
            turns.push(turn);
            log(
              `[${turns.length}/${total}] rep ${rep} QoS ${qos} ${f0(rate)}/s ${name}: ${turn.status}` +
                (turn.sentPerS !== undefined ? `; sent ${f0(turn.sentPerS)}/s, delivered ${f0(turn.deliveredPerS ?? Number.NaN)}/s, loss ${pct(turn.loss ?? Number.NaN)}` : '') +
                (turn.latencyMs ? `, p50 ${f2(turn.latencyMs.p50)} p99 ${f2(turn.latencyMs.p99)} p99.9 ${f2(turn.latencyMs.p999)} ms` : '') +
                (turn.brokerCpuUsPerMsg !== undefined ? `, broker ${f1(turn.brokerCpuUsPerMsg)} µs/msg (kernel ${f1(turn.brokerSysUsPerMsg ?? Number.NaN)}; ${f0(turn.brokerCpuPct ?? Number.NaN)} %), RSS ${f0(turn.brokerRssMiB ?? Number.NaN)} MiB` : '') +
                (turn.generatorCpuPct !== undefined ? `, generator ${f0(turn.generatorCpuPct)} %, subscriber ${f0(turn.subscriberCpuPct ?? Number.NaN)} %` : '') +
                (turn.error ? ` (${turn.error})` : '') +
                (turn.crash ? `\n--- ${name} output before it died ---\n${turn.crash.outputTail}\n---` : ''),
            );
            if (turn.profile) log(formatProfiles([turn]));
          }
        }
      }
    }
    const summary = summarizeTurns(turns);
    const machineEnd = machineInfo();
    const profiles = formatProfiles(turns);
    process.stdout.write(
      `\n${formatSummary(summary)}\nload average at start ${machineStart.loadAverage.join(' ')}, at end ${machineEnd.loadAverage.join(' ')}\n` +
        (profiles ? `\nGateway CPU profiles (self time over each turn's window):\n\n${profiles}` : ''),
    );
    if (o.json) {
      await writeFile(
        o.json,
        `${JSON.stringify({ command, startedAt, finishedAt: new Date().toISOString(), machine: { start: machineStart, end: machineEnd }, source, options: o, brokers: [...commands].map(([name, command]) => ({ name, command })), mosquittoConfig: mosquittoConfig(dir, 0, MOSQUITTO_LIMITS[o.mosquittoLimits]), summary, turns }, null, 2)}\n`,
      );
      process.stdout.write(`JSON written to ${o.json}\n`);
    }
  } finally {
    await Promise.all([...brokers.values()].map(stopBroker));
    await rm(dir, { recursive: true, force: true });
    await worktree?.remove();
  }
}
