/**
 * The subscriber: a child process with one connection as the ingest has it (a service login,
 * persistent session, `wattproof/v1/+/+/+/readings` at QoS 1, PUBACK per message). It counts
 * what arrives and the end-to-end latency of each message sent in the window [t0, t1) (send
 * time from `seq`, bench/lib/payload.ts), then drains: it reports once nothing has arrived for
 * `quietMs` or `drainMs` after t1 has passed. Then it ends its session (reconnects with a clean
 * session) so the broker keeps nothing for it between runs.
 *
 *   connect → ready;  window → result;  close → closed
 */
import { ALL_READINGS_FILTER } from '@wattproof/core';
import { connectRaw, type RawClient } from './mqtt-raw.js';
import { isMain } from './child.js';
import { monotonicMs, monotonicUs, seqOf } from './payload.js';
import { createSampleBuffer, type LatencySummary } from './stats.js';

export interface SubConnect {
  readonly type: 'connect';
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly clientId: string;
}

export interface SubWindow {
  readonly type: 'window';
  /** Monotonic ms. */
  readonly t0Ms: number;
  readonly t1Ms: number;
  readonly drainMs: number;
  readonly quietMs: number;
  /** Also report the send time and latency of every message at or above the window's p99 (`--stalls`). */
  readonly slowest?: boolean;
}

export type SubIn = SubConnect | SubWindow | { readonly type: 'close' };

export interface SubResult {
  readonly type: 'result';
  /** Messages sent in the window that arrived (by the end of the drain). */
  readonly receivedInWindow: number;
  /** Messages that arrived during the window, whenever sent (the delivered rate). */
  readonly arrivedInWindow: number;
  readonly received: number;
  /** End-to-end latency of the window's messages, ms. */
  readonly latencyMs: LatencySummary;
  /** The broker closed the connection. */
  readonly disconnected: boolean;
  /** t1 to the report, ms. */
  readonly drainedMs: number;
  /** With `slowest`: [send ms (CLOCK_MONOTONIC), latency ms] of the messages at or above p99, at most 10,000. */
  readonly slowest?: Array<[number, number]>;
}

/** [send ms, latency ms] of the messages whose latency is at least `thresholdMs`, the first `max`. */
export function slowestMessages(sentMs: Float64Array, latencyMs: Float64Array, n: number, thresholdMs: number, max = 10_000): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < n && out.length < max; i++) if (latencyMs[i]! >= thresholdMs) out.push([sentMs[i]!, latencyMs[i]!]);
  return out;
}

export type SubOut = { readonly type: 'ready'; readonly granted: number[] } | SubResult | { readonly type: 'closed' } | { readonly type: 'error'; readonly message: string };

function main(): void {
  const send = (m: SubOut) => process.send?.(m);
  let client: RawClient | undefined;
  let login: SubConnect | undefined;
  let t0Us = Number.POSITIVE_INFINITY;
  let t1Us = Number.POSITIVE_INFINITY;
  let received = 0;
  let receivedInWindow = 0;
  let arrivedInWindow = 0;
  let lastArrivalMs = 0;
  let disconnected = false;
  const latency = createSampleBuffer(1 << 20);
  // With `slowest`: send and latency of each window message, in arrival order.
  let slowest: { sentMs: Float64Array; latencyMs: Float64Array; n: number } | undefined;

  process.on('message', (m: SubIn) => {
    if (m.type === 'connect') {
      login = m;
      connectRaw(
        { host: m.host, port: m.port, clientId: m.clientId, username: m.username, password: m.password, clean: false, keepaliveS: 60 },
        {
          onPublish(p) {
            const nowUs = monotonicUs();
            received++;
            lastArrivalMs = nowUs / 1000;
            if (nowUs >= t0Us && nowUs < t1Us) arrivedInWindow++;
            const seq = seqOf(p.payload as Buffer);
            if (seq >= t0Us && seq < t1Us) {
              receivedInWindow++;
              latency.push((nowUs - seq) / 1000);
              if (slowest) {
                if (slowest.n === slowest.sentMs.length) {
                  const grow = (a: Float64Array) => {
                    const next = new Float64Array(a.length * 2);
                    next.set(a);
                    return next;
                  };
                  slowest = { sentMs: grow(slowest.sentMs), latencyMs: grow(slowest.latencyMs), n: slowest.n };
                }
                slowest.sentMs[slowest.n] = seq / 1000;
                slowest.latencyMs[slowest.n++] = (nowUs - seq) / 1000;
              }
            }
          },
          onClose: () => (disconnected = true),
        },
      )
        .then(async (c) => {
          client = c;
          send({ type: 'ready', granted: await c.subscribe(ALL_READINGS_FILTER, 1) });
        })
        .catch((err: Error) => send({ type: 'error', message: err.message }));
    } else if (m.type === 'window') {
      t0Us = m.t0Ms * 1000;
      t1Us = m.t1Ms * 1000;
      if (m.slowest) slowest = { sentMs: new Float64Array(1 << 18), latencyMs: new Float64Array(1 << 18), n: 0 };
      const poll = setInterval(() => {
        const now = monotonicMs();
        if (now < m.t1Ms) return;
        if (now - lastArrivalMs >= m.quietMs || now - m.t1Ms >= m.drainMs || disconnected) {
          clearInterval(poll);
          const latencyMs = latency.summarize();
          send({
            type: 'result',
            receivedInWindow,
            arrivedInWindow,
            received,
            latencyMs,
            disconnected,
            drainedMs: now - m.t1Ms,
            ...(slowest ? { slowest: slowestMessages(slowest.sentMs, slowest.latencyMs, slowest.n, latencyMs.p99) } : {}),
          });
        }
      }, 50);
    } else if (m.type === 'close') {
      void (async () => {
        try {
          await client?.close();
          // A clean session discards the persistent one and anything queued for it [MQTT-3.1.2-6].
          if (login && !disconnected) await (await connectRaw({ host: login.host, port: login.port, clientId: login.clientId, username: login.username, password: login.password, clean: true, connectTimeoutMs: 10_000 })).close();
        } catch {
          // The broker may be gone (crashed); nothing to clean then.
        }
        send({ type: 'closed' });
        process.exit(0);
      })();
    }
  });
  process.on('disconnect', () => process.exit(0));
}

if (isMain(import.meta.url)) main();
