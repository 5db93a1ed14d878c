/**
 * Counts failed authentications per client address in fixed windows and says how long an
 * address that went over the limit stays blocked. In memory, bounded: when `maxEntries`
 * addresses are tracked, expired windows are dropped first, then the oldest.
 */

/** Addresses tracked at most (each costs one small record). */
export const DEFAULT_FAILURE_LIMITER_ENTRIES = 100_000;

export interface FailureLimiterOptions {
  /** Failures allowed per window; the next request after that is refused. */
  readonly limit: number;
  readonly windowMs: number;
  readonly maxEntries?: number;
  /** Epoch-ms clock (tests). */
  readonly clock?: () => number;
}

export interface FailureLimiter {
  /** Records one failure of `key`. */
  fail(key: string): void;
  /** 0 when `key` may go on; else the ms until its window ends. */
  blockedForMs(key: string): number;
  /** Keys tracked now (tests, metrics). */
  size(): number;
}

export function createFailureLimiter(opts: FailureLimiterOptions): FailureLimiter {
  const clock = opts.clock ?? Date.now;
  const maxEntries = opts.maxEntries ?? DEFAULT_FAILURE_LIMITER_ENTRIES;
  const windows = new Map<string, { count: number; endsAtMs: number }>();

  const prune = (now: number) => {
    for (const [k, w] of windows) if (w.endsAtMs <= now) windows.delete(k);
    // Map iterates in insertion order: the first keys are the oldest windows.
    for (const k of windows.keys()) {
      if (windows.size < maxEntries) break;
      windows.delete(k);
    }
  };

  return {
    fail(key) {
      const now = clock();
      const w = windows.get(key);
      if (w && w.endsAtMs > now) {
        w.count += 1;
        return;
      }
      if (w) windows.delete(key);
      else if (windows.size >= maxEntries) prune(now);
      windows.set(key, { count: 1, endsAtMs: now + opts.windowMs });
    },
    blockedForMs(key) {
      const w = windows.get(key);
      if (!w) return 0;
      const left = w.endsAtMs - clock();
      if (left <= 0) {
        windows.delete(key);
        return 0;
      }
      return w.count >= opts.limit ? left : 0;
    },
    size: () => windows.size,
  };
}
