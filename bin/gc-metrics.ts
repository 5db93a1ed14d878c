/**
 * `nodejs_gc_duration_seconds` that counts every garbage collection.
 *
 * prom-client 15.1.3's default GC histogram observes `list.getEntries()[0]` of each
 * PerformanceObserver callback, and Node delivers GC entries in batches: every collection after
 * the first in a batch is lost (test/bin/gc-metrics.test.ts: five full GCs in a row were counted
 * once). In the gateway, whose latency tail is made of GC pauses (docs/PERFORMANCE.md, "Where the
 * p99 goes"), that undercounts exactly what an operator wants to see. Its buckets (1 ms, 10 ms,
 * 100 ms, …) also put every scavenge of the gateway (2–5 ms) into one bucket. This histogram takes
 * every entry and has buckets around young-generation pauses.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { Histogram, type Registry } from 'prom-client';

export const GC_DURATION_METRIC = 'nodejs_gc_duration_seconds';

/** Seconds: scavenges take 0.5–5 ms in the gateway, full GCs 10–100 ms and more. */
export const GC_DURATION_BUCKETS_S = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5];

const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/**
 * Registers `<prefix>nodejs_gc_duration_seconds` in `registry`, in place of one already there
 * (prom-client's default, which `collectDefaultMetrics` registers). Returns a function that stops
 * observing.
 */
export function registerGcMetrics(registry: Registry, prefix = ''): () => void {
  const name = `${prefix}${GC_DURATION_METRIC}`;
  registry.removeSingleMetric(name);
  const histogram = new Histogram({
    name,
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb; every collection counted',
    labelNames: ['kind'],
    buckets: GC_DURATION_BUCKETS_S,
    registers: [registry],
  });
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      histogram.observe({ kind: (kind !== undefined ? KINDS[kind] : undefined) ?? 'unknown' }, entry.duration / 1000);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}
