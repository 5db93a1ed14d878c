/**
 * The load generator: a child process holding N device connections (bench/lib/mqtt-raw.ts)
 * that publishes contract-valid readings at a target aggregate rate, or (for the connection
 * benchmark) just holds them idle. Driven by IPC from the benchmark (bench/lib/child.ts):
 *
 *   connect → connected (progress on the way) → run → result;   status → status;   close → closed
 *
 * Pacing: a timer loop computes how many messages are due since the start at `rate` per second
 * and sends them round-robin over the connections. A connection is skipped while it has
 * `inflight` QoS 1 PUBLISHes unacknowledged or 64 KiB unsent in its socket; when every one is
 * skipped the due messages are counted as `blocked` (the broker pushing back), not sent later,
 * so the achieved rate is what the broker took. If the generator itself falls more than 50 ms
 * behind, the excess is counted as `lagged` (the generator, not the broker, was the limit).
 * Every message carries its send time in `seq` (bench/lib/payload.ts); the window [t0, t1) is
 * decided by that send time here and in the subscriber alike.
 */
import { ConnackError, connectRaw, type RawClient } from './mqtt-raw.js';
import { benchDeviceLogin } from './brokers.js';
import { isMain } from './child.js';
import { monotonicMs, monotonicUs, nextSeq, readingsBatchPayload, readingsPayload } from './payload.js';
import { createSampleBuffer, type LatencySummary } from './stats.js';

export interface LoadConnect {
  readonly type: 'connect';
  readonly host: string;
  readonly port: number;
  /** Devices `first` .. `first + count - 1` (bench/lib/brokers.ts `benchDevice`). */
  readonly first: number;
  readonly count: number;
  readonly password: string;
  /** CONNECTs in progress at once. */
  readonly concurrency: number;
  readonly keepaliveS: number;
  /** Spread connections over 127.0.0.1 .. 127.0.0.<n> as source addresses (1 = default address). */
  readonly sourceAddresses: number;
}

export interface LoadRun {
  readonly type: 'run';
  /** Monotonic ms (bench/lib/payload.ts `monotonicMs`): start sending; the window; stop. */
  readonly startMs: number;
  readonly t0Ms: number;
  readonly t1Ms: number;
  /** Messages per second over all connections. */
  readonly rate: number;
  readonly qos: 0 | 1;
  /** QoS 1 PUBLISHes unacknowledged per connection at most. */
  readonly inflight: number;
  /** After t1, time allowed for outstanding PUBACKs, ms. */
  readonly drainMs: number;
  /**
   * Batched readings (bench/ingest.ts): each message carries this many consecutive interval
   * readings of `intervalS` (bench/lib/payload.ts `readingsBatchPayload`), a device's timestamps
   * continuing from message to message and from run to run, starting again at `firstTsMs` when a
   * run brings another `firstTsMs`; so no two readings of a device share a timestamp. Unset: one
   * reading stamped with the current 15-minute interval (`readingsPayload`).
   */
  readonly batch?: { readonly readingsPerMessage: number; readonly intervalS: number; readonly firstTsMs: number };
}

export type LoadIn = LoadConnect | LoadRun | { readonly type: 'status' } | { readonly type: 'close' };

export interface LoadConnected {
  readonly type: 'connected';
  readonly connected: number;
  readonly failed: number;
  /** Refusals by CONNACK return code, and other errors by message. */
  readonly errors: Record<string, number>;
  readonly ms: number;
  /** TCP connect to CONNACK, ms. */
  readonly connackMs: LatencySummary;
}

export interface LoadResult {
  readonly type: 'result';
  readonly windowS: number;
  readonly sentInWindow: number;
  readonly ackedInWindow: number;
  readonly blockedInWindow: number;
  readonly laggedInWindow: number;
  readonly sent: number;
  readonly acked: number;
  /** Connections the broker closed during the run. */
  readonly disconnects: number;
  /** QoS 1 publish → PUBACK, ms, for messages sent in the window. */
  readonly ackMs: LatencySummary | null;
  /** Longest pause between two pacing ticks, ms (a stalled generator). */
  readonly maxTickGapMs: number;
}

export type LoadOut =
  | LoadConnected
  | { readonly type: 'progress'; readonly connected: number; readonly failed: number }
  | LoadResult
  /** Connections open now, and how many the broker has closed. */
  | { readonly type: 'status'; readonly open: number; readonly disconnects: number }
  | { readonly type: 'closed' };

interface Device {
  client: RawClient | undefined;
  topic: Buffer;
  lastSeq: number;
  /** Batched readings: the `firstTsMs` the timestamps started from, and the next timestamp. */
  tsFrom?: number;
  nextTs?: number;
}

/** The payload of the next message of `d` (batched when the run asks for it). */
function payloadFor(r: LoadRun, d: Device, seq: number, wallMs: number): string {
  const value = 0.5 + (seq % 1000) / 1000;
  if (!r.batch) return readingsPayload(seq, wallMs, value);
  const { readingsPerMessage: n, intervalS, firstTsMs } = r.batch;
  if (d.tsFrom !== firstTsMs || d.nextTs === undefined) {
    d.tsFrom = firstTsMs;
    d.nextTs = firstTsMs;
  }
  const first = d.nextTs;
  d.nextTs += n * intervalS * 1000;
  return readingsBatchPayload(seq, first, intervalS, n, value);
}

async function connectAll(req: LoadConnect, devices: Device[], onProgress: (connected: number, failed: number) => void): Promise<Omit<LoadConnected, 'type'>> {
  const errors: Record<string, number> = {};
  const connack = createSampleBuffer(req.count);
  let connected = 0;
  let failed = 0;
  let next = 0;
  const t = monotonicMs();
  let lastReport = t;
  async function worker(): Promise<void> {
    while (next < req.count) {
      const k = next++;
      const i = req.first + k;
      const login = benchDeviceLogin(i);
      devices[k] = { client: undefined, topic: Buffer.from(login.topic), lastSeq: 0 };
      const started = monotonicMs();
      try {
        devices[k]!.client = await connectRaw(
          {
            host: req.host,
            port: req.port,
            clientId: login.username,
            username: login.username,
            password: req.password,
            keepaliveS: req.keepaliveS,
            ...(req.sourceAddresses > 1 ? { localAddress: `127.0.0.${1 + (i % req.sourceAddresses)}` } : {}),
          },
          { onPuback, onClose: () => disconnects++ },
        );
        connack.push(monotonicMs() - started);
        connected++;
      } catch (err) {
        failed++;
        const key = err instanceof ConnackError ? `CONNACK ${err.returnCode}` : (err as Error).message.replace(/\d+/g, 'N');
        errors[key] = (errors[key] ?? 0) + 1;
      }
      if (monotonicMs() - lastReport > 1000) {
        lastReport = monotonicMs();
        onProgress(connected, failed);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(req.concurrency, req.count)) }, worker));
  return { connected, failed, errors, ms: monotonicMs() - t, connackMs: connack.summarize() };
}

// Run state shared with the PUBACK handler.
let run: LoadRun | undefined;
let acked = 0;
let ackedInWindow = 0;
let disconnects = 0;
const ackMs = createSampleBuffer();

function onPuback(sentAtMs: number): void {
  acked++;
  if (run && sentAtMs >= run.t0Ms && sentAtMs < run.t1Ms) {
    ackedInWindow++;
    ackMs.push(monotonicMs() - sentAtMs);
  }
}

function publishLoop(r: LoadRun, devices: Device[]): Promise<Omit<LoadResult, 'type' | 'acked' | 'ackedInWindow' | 'ackMs' | 'disconnects'>> {
  return new Promise((resolve) => {
    const n = devices.length;
    const maxBurst = Math.max(1, Math.ceil(r.rate * 0.05));
    let scheduled = 0;
    let rr = 0;
    let sent = 0;
    let sentInWindow = 0;
    let blockedInWindow = 0;
    let laggedInWindow = 0;
    let lastTick = monotonicMs();
    let maxTickGapMs = 0;
    const t0Us = r.t0Ms * 1000;
    const t1Us = r.t1Ms * 1000;
    const available = (d: Device) => d.client !== undefined && !d.client.closed && d.client.writable() && (r.qos === 0 || d.client.inflight() < r.inflight);

    function tick(): void {
      const now = monotonicMs();
      maxTickGapMs = Math.max(maxTickGapMs, now - lastTick);
      lastTick = now;
      if (now >= r.t1Ms) {
        resolve({ windowS: (r.t1Ms - r.t0Ms) / 1000, sentInWindow, blockedInWindow, laggedInWindow, sent, maxTickGapMs });
        return;
      }
      const inWindow = now >= r.t0Ms;
      const target = Math.floor(((now - r.startMs) * r.rate) / 1000);
      let due = target - scheduled;
      scheduled = target;
      if (due > maxBurst) {
        if (inWindow) laggedInWindow += due - maxBurst;
        due = maxBurst;
      }
      const wallMs = Date.now();
      for (let k = 0; k < due; k++) {
        let d: Device | undefined;
        for (let tries = 0; tries < n; tries++) {
          const c = devices[rr]!;
          rr = rr + 1 === n ? 0 : rr + 1;
          if (available(c)) {
            d = c;
            break;
          }
        }
        if (!d) {
          if (inWindow) blockedInWindow += due - k;
          break;
        }
        const seq = nextSeq(d.lastSeq, monotonicUs());
        d.lastSeq = seq;
        d.client!.publish(d.topic, payloadFor(r, d, seq, wallMs), r.qos, seq / 1000);
        sent++;
        if (seq >= t0Us && seq < t1Us) sentInWindow++;
      }
      // Sub-millisecond gaps between messages: keep going without the 1 ms timer granularity.
      if (r.rate >= 1000 && due >= maxBurst) setImmediate(tick);
      else setTimeout(tick, 1);
    }
    setTimeout(tick, Math.max(0, r.startMs - monotonicMs()));
  });
}

async function drainAcks(devices: Device[], untilMs: number): Promise<void> {
  while (monotonicMs() < untilMs && devices.some((d) => d.client && !d.client.closed && d.client.inflight() > 0)) {
    await new Promise((res) => setTimeout(res, 20));
  }
}

function main(): void {
  const devices: Device[] = [];
  const send = (m: LoadOut) => process.send?.(m);
  process.on('message', (m: LoadIn) => {
    if (m.type === 'connect') {
      void connectAll(m, devices, (connected, failed) => send({ type: 'progress', connected, failed })).then((r) => send({ type: 'connected', ...r }));
    } else if (m.type === 'run') {
      run = m;
      void publishLoop(m, devices).then(async (r) => {
        if (m.qos === 1) await drainAcks(devices, m.t1Ms + m.drainMs);
        send({ type: 'result', ...r, acked, ackedInWindow, disconnects, ackMs: ackedInWindow ? ackMs.summarize() : null });
      });
    } else if (m.type === 'status') {
      send({ type: 'status', open: devices.filter((d) => d?.client && !d.client.closed).length, disconnects });
    } else if (m.type === 'close') {
      void Promise.all(devices.map((d) => (d?.client ? Promise.race([d.client.close(), new Promise((res) => setTimeout(res, 2000))]) : undefined))).then(() => {
        send({ type: 'closed' });
        process.exit(0);
      });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

if (isMain(import.meta.url)) main();
