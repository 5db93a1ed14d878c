/** bench/lib/stalls.ts and the probe it reads (bench/lib/stall-probe.cjs), run in a real Node process. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slowestMessages } from '../../../bench/lib/mqtt-sub.js';
import { readStallProbe, summarizeStalls, type StallProbeFile } from '../../../bench/lib/stalls.js';

const PROBE = fileURLToPath(new URL('../../../bench/lib/stall-probe.cjs', import.meta.url));

describe('summarizeStalls', () => {
  const probe: StallProbeFile = {
    thresholdMs: 3,
    stalls: [
      [900, 10, 10, 0], // before the window
      [1000, 5, 4, 0.5], // in the window
      [1500, 8, 0.5, 7], // waiting for a core
      [2000, 6, 1, 1], // blocked for 4 ms
      [3000, 4, 4, 0], // at t1: outside
    ],
  };
  const window = { t0: 1000, t1: 3000 };

  it('sums the stalls that started in the window, split into on a core, run queue and blocked', () => {
    const s = summarizeStalls(probe, window, []);
    expect(s).toEqual({ thresholdMs: 3, windowS: 2, stalls: 3, stalledMs: 19, onCpuMs: 5.5, runQueueMs: 8.5, blockedMs: 5, slowMessages: 0, slowInStall: 0 });
  });

  it('counts the slow messages in flight during a stall', () => {
    const slow: Array<[number, number]> = [
      [995, 9], // in flight 995-1004: the stall at 1000
      [1496, 6], // 1496-1502: the run-queue stall at 1500
      [1800, 3], // nothing
      [2998, 5], // 2998-3003: the stall at 3000 (after t1, still in flight)
    ];
    expect(summarizeStalls(probe, window, slow)).toMatchObject({ slowMessages: 4, slowInStall: 3 });
  });

  it('keeps no negative blocked time when schedstat rounds past the wall time', () => {
    expect(summarizeStalls({ thresholdMs: 3, stalls: [[1000, 4, 3.5, 1]] }, window, []).blockedMs).toBe(0);
  });
});

describe('slowestMessages (the subscriber, --stalls)', () => {
  it('returns send time and latency of the messages at or above the threshold, in arrival order, at most max', () => {
    const sent = Float64Array.from([10, 11, 12, 13, 14]);
    const latency = Float64Array.from([1, 5, 2, 7, 5]);
    expect(slowestMessages(sent, latency, 5, 5)).toEqual([
      [11, 5],
      [13, 7],
      [14, 5],
    ]);
    expect(slowestMessages(sent, latency, 4, 5, 1)).toEqual([[11, 5]]);
  });
});

describe('bench/lib/stall-probe.cjs in a Node process', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wattproof-stall-probe-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('records a busy stall as time on a core and a blocked one as neither, on CLOCK_MONOTONIC', async () => {
    const file = join(dir, 'stalls.json');
    // 40 ms of busy loop, then 40 ms blocked in Atomics.wait, each after the loop has idled.
    const script = `
      const mono = () => Number(process.hrtime.bigint()) / 1e6;
      const marks = {};
      setTimeout(() => { marks.busy = mono(); const end = performance.now() + 40; while (performance.now() < end); }, 100);
      setTimeout(() => { marks.blocked = mono(); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 40); }, 200);
      setTimeout(() => { console.log(JSON.stringify(marks)); }, 1200);
    `;
    const { stdout } = await promisify(execFile)(process.execPath, [`--require=${PROBE}`, '-e', script], { env: { ...process.env, WATTPROOF_BENCH_STALL_FILE: file } });
    const marks = JSON.parse(stdout) as { busy: number; blocked: number };
    const probe = await readStallProbe(file);
    expect(probe?.thresholdMs).toBe(3);
    const near = (at: number) => probe!.stalls.find(([start, wall]) => start <= at && at <= start + wall);
    // Time neither on a core nor waiting for one. A busy thread is runnable throughout (on a busy
    // machine part of it on the run queue); a thread in Atomics.wait sleeps, off both.
    const blockedMs = (s: readonly number[] | undefined) => s![1]! - s![2]! - s![3]!;
    const busy = near(marks.busy + 20);
    expect(busy?.[1]).toBeGreaterThanOrEqual(39);
    expect(blockedMs(busy)).toBeLessThan(10);
    const blocked = near(marks.blocked + 20);
    expect(blocked?.[1]).toBeGreaterThanOrEqual(39);
    expect(blockedMs(blocked)).toBeGreaterThanOrEqual(30);
    expect(await readStallProbe(join(dir, 'none.json'))).toBeUndefined();
  });
});
