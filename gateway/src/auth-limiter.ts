/**
 * Brute-force protection of MQTT logins: a token bucket per client address and one per
 * username. Each failed CONNECT takes a token from both; a bucket refills continuously at
 * `limit` tokens per window. While either bucket of a CONNECT is empty the gateway refuses it
 * with return code 5 (not authorized) before looking the principal up or checking the secret, so
 * guessing costs the attacker time and the gateway no CPU.
 *
 * In memory and bounded: when `maxEntries` buckets exist, full (idle) ones are dropped first,
 * then the oldest.
 */

/** Buckets kept at most, addresses and usernames together. */
export const DEFAULT_AUTH_LIMITER_ENTRIES = 100_000;

export interface AuthLimiterOptions {
  /** Failed CONNECTs one client address may make per window; 0 = no limit per address. */
  readonly perAddress: number;
  /** Failed CONNECTs with one username per window; 0 = no limit per username. */
  readonly perUsername: number;
  readonly windowMs: number;
  readonly maxEntries?: number;
  /** Epoch-ms clock (tests). */
  readonly clock?: () => number;
}

/** Why a CONNECT is refused before authentication, or undefined when it may go on. */
export type AuthLimitScope = 'address' | 'username';

export interface AuthLimiter {
  /** Whether a CONNECT from `address` as `username` may be authenticated now. */
  check(address: string, username: string | undefined): AuthLimitScope | undefined;
  /** Records a failed CONNECT. */
  fail(address: string, username: string | undefined): void;
  /** Buckets held now (tests). */
  size(): number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

export function createAuthLimiter(opts: AuthLimiterOptions): AuthLimiter {
  const clock = opts.clock ?? Date.now;
  const maxEntries = opts.maxEntries ?? DEFAULT_AUTH_LIMITER_ENTRIES;
  const buckets = new Map<string, Bucket>();

  /** The bucket's tokens now (refilled since it was last touched), or `limit` if there is none. */
  const tokens = (key: string, limit: number, now: number): number => {
    const b = buckets.get(key);
    if (!b) return limit;
    return Math.min(limit, b.tokens + ((now - b.atMs) * limit) / opts.windowMs);
  };

  const prune = (now: number) => {
    for (const [key, b] of buckets) {
      const limit = key.startsWith('a:') ? opts.perAddress : opts.perUsername;
      if (b.tokens + ((now - b.atMs) * limit) / opts.windowMs >= limit) buckets.delete(key);
    }
    for (const key of buckets.keys()) {
      if (buckets.size < maxEntries) break;
      buckets.delete(key);
    }
  };

  const take = (key: string, limit: number, now: number) => {
    if (limit <= 0) return;
    const left = tokens(key, limit, now);
    if (!buckets.has(key) && buckets.size >= maxEntries) prune(now);
    buckets.delete(key); // re-insert: the Map keeps the most recently failed last
    buckets.set(key, { tokens: Math.max(0, left - 1), atMs: now });
  };

  // A bucket needs one whole token to let a CONNECT through.
  const empty = (key: string, limit: number, now: number) => limit > 0 && tokens(key, limit, now) < 1;

  return {
    check(address, username) {
      const now = clock();
      if (empty(`a:${address}`, opts.perAddress, now)) return 'address';
      if (username !== undefined && empty(`u:${username}`, opts.perUsername, now)) return 'username';
      return undefined;
    },
    fail(address, username) {
      const now = clock();
      take(`a:${address}`, opts.perAddress, now);
      if (username !== undefined) take(`u:${username}`, opts.perUsername, now);
    },
    size: () => buckets.size,
  };
}
