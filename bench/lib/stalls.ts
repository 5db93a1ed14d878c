/**
 * What a Node broker's event-loop stalls had to do with the slow messages of a turn
 * (`npm run bench -- broker --stalls`): the stalls recorded by bench/lib/stall-probe.cjs inside
 * the broker, against the messages the subscriber saw at or above the turn's p99.
 */
import { readFile } from 'node:fs/promises';

/** The probe's file, as written (bench/lib/stall-probe.cjs). */
export interface StallProbeFile {
  readonly thresholdMs: number;
  /** [start ms (CLOCK_MONOTONIC), wall ms, ms on a core, ms on the run queue] */
  readonly stalls: ReadonlyArray<readonly [number, number, number, number]>;
}

/** One turn's stalls over its measured window, and the share of its slowest messages they explain. */
export interface StallSummary {
  /** Shortest stall recorded, ms. */
  readonly thresholdMs: number;
  readonly windowS: number;
  /** Stalls that started in the window. */
  readonly stalls: number;
  /** Their wall time, ms, split into time on a core, on the run queue (waiting for one), and the rest (blocked). */
  readonly stalledMs: number;
  readonly onCpuMs: number;
  readonly runQueueMs: number;
  readonly blockedMs: number;
  /** Messages of the window at or above its p99 latency, as the subscriber reported them. */
  readonly slowMessages: number;
  /** Of those, in flight (between send and arrival) during a stall. */
  readonly slowInStall: number;
}

/** Whether [a, a + da] and [b, b + db] share a moment. */
function overlaps(a: number, da: number, b: number, db: number): boolean {
  return a <= b + db && b <= a + da;
}

/**
 * The stalls that started in [t0, t1) (monotonic ms), and how many of `slow` ([send ms, latency
 * ms] of the messages at or above p99) were in flight during one.
 */
export function summarizeStalls(probe: StallProbeFile, window: { readonly t0: number; readonly t1: number }, slow: ReadonlyArray<readonly [number, number]>): StallSummary {
  const stalls = probe.stalls.filter((r) => r[0] >= window.t0 && r[0] < window.t1);
  const sum = (rows: ReadonlyArray<readonly number[]>, i: number) => rows.reduce((s, r) => s + r[i]!, 0);
  const stalledMs = sum(stalls, 1);
  const onCpuMs = sum(stalls, 2);
  const runQueueMs = sum(stalls, 3);
  return {
    thresholdMs: probe.thresholdMs,
    windowS: (window.t1 - window.t0) / 1000,
    stalls: stalls.length,
    stalledMs,
    onCpuMs,
    runQueueMs,
    // schedstat counts in whole scheduler ticks of accounting; never below zero.
    blockedMs: Math.max(0, stalledMs - onCpuMs - runQueueMs),
    slowMessages: slow.length,
    // Every stall of the probe: a slow message sent late in the window may wait on one after t1.
    slowInStall: slow.filter(([sent, ms]) => probe.stalls.some((s) => overlaps(sent, ms, s[0], s[1]))).length,
  };
}

/** Reads the probe's file; undefined when the broker wrote none (it did not run with the probe). */
export async function readStallProbe(file: string): Promise<StallProbeFile | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as StallProbeFile;
  } catch {
    return undefined;
  }
}
