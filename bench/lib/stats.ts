/** Order statistics for benchmark samples. */

/**
 * The p-th percentile of ascending `sorted` values by the nearest-rank method (the smallest
 * value with at least p % of the samples at or below it); NaN when there are none.
 * @param p - 0 to 100.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (p <= 0) return sorted[0]!;
  // The epsilon keeps float error (99.9 / 100 * 1000 = 999.0000000000001) from moving up a rank.
  const rank = Math.ceil((p / 100) * n - 1e-9);
  return sorted[Math.min(n, rank) - 1]!;
}

/** The median: the middle value, or the mean of the two middle ones; NaN for none. Non-finite values are ignored. */
export function median(values: readonly number[]): number {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** Sorts the first `count` values of `samples` in place and summarizes them (same unit as the samples). */
export function summarize(samples: Float64Array, count = samples.length): LatencySummary {
  const s = samples.subarray(0, count).sort();
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i]!;
  return {
    count: s.length,
    mean: s.length ? sum / s.length : Number.NaN,
    p50: percentile(s, 50),
    p99: percentile(s, 99),
    p999: percentile(s, 99.9),
    max: s.length ? s[s.length - 1]! : Number.NaN,
  };
}

/**
 * A growable sample buffer (Float64Array, doubling), so that hundreds of thousands of latencies
 * per second cost no per-sample allocation.
 */
export function createSampleBuffer(initialCapacity = 1 << 16): { push(v: number): void; count(): number; summarize(): LatencySummary } {
  let buf = new Float64Array(initialCapacity);
  let n = 0;
  return {
    push(v) {
      if (n === buf.length) {
        const next = new Float64Array(buf.length * 2);
        next.set(buf);
        buf = next;
      }
      buf[n++] = v;
    },
    count: () => n,
    summarize: () => summarize(buf, n),
  };
}
