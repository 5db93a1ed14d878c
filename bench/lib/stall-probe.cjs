'use strict';
/**
 * Preloaded (`node --require`) into a Node broker by `npm run bench -- broker --stalls`: records
 * the broker's event-loop stalls and garbage collections on CLOCK_MONOTONIC, the bench's clock,
 * so the bench can ask of each slow message whether the broker was stalled while it was in flight.
 *
 * A stall: a 1 ms interval timer fired more than WATTPROOF_BENCH_STALL_MS (default 3) after the
 * one before, so for that long the main thread ran nothing else: it was busy (a long turn or a GC
 * pause), waiting for a core (runnable, on the run queue), or blocked (e.g. waiting for GC helper
 * threads). /proc/self/task/<pid>/schedstat, read at every tick, splits the stall into time on a
 * core and time on the run queue; the rest is blocked. GC pauses are not told apart here: perf_hooks'
 * GC entries stopped arriving after a few seconds in some gateway processes, and a drop of the
 * young generation's size between ticks also flagged stalls without a GC; `--trace-gc` in the
 * broker's log (`--gateway-node-args=--trace-gc`) is the reliable record of them.
 * The probe costs the broker one timer callback and one small /proc read a millisecond (about
 * 1-2 % of a core): compare turns that all ran with it.
 *
 * Written to WATTPROOF_BENCH_STALL_FILE every 500 ms and at exit as
 * `{ thresholdMs, stalls: [[startMs, wallMs, onCpuMs, runQueueMs], ...] }`.
 * CommonJS, so it loads the same in any checkout's gateway and in stock aedes.
 */
const fs = require('node:fs');

const file = process.env.WATTPROOF_BENCH_STALL_FILE;
if (file) {
  const thresholdMs = Number(process.env.WATTPROOF_BENCH_STALL_MS || 3);
  const monoMs = () => Number(process.hrtime.bigint()) / 1e6;
  const fd = fs.openSync(`/proc/self/task/${process.pid}/schedstat`, 'r');
  const buf = Buffer.alloc(96);
  /** [ns on a core, ns on the run queue] of the main thread. */
  const sched = () => {
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const parts = buf.toString('latin1', 0, n).split(' ');
    return [Number(parts[0]), Number(parts[1])];
  };
  const stalls = [];
  let lastMs = monoMs();
  let last = sched();
  setInterval(() => {
    const now = monoMs();
    const s = sched();
    if (now - lastMs > thresholdMs) stalls.push([lastMs, now - lastMs, (s[0] - last[0]) / 1e6, (s[1] - last[1]) / 1e6]);
    lastMs = now;
    last = s;
  }, 1).unref();
  const flush = () => {
    try {
      fs.writeFileSync(file, JSON.stringify({ thresholdMs, stalls }));
    } catch {
      // The bench's temp dir is gone: nothing to report to.
    }
  };
  setInterval(flush, 500).unref();
  process.on('exit', flush);
}
