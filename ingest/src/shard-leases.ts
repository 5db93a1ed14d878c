/**
 * Leases of the readings stream shards among the ingest workers (docs/SCALING.md).
 *
 * - A worker is live while its entry in the sorted set `wattproof:ingest:workers` (score = expiry,
 *   Redis server time) is fresh; each tick it renews its own and drops expired ones.
 * - A shard is owned by the worker named in `wattproof:ingest:lease:<n>` (SET NX PX leaseMs);
 *   the owner renews it every tick (a third of the lease) only while the key still names it.
 * - Fair share: each worker owns at most ceil(shards / live workers). A worker above it releases
 *   shards gracefully (stops reading them, waits until everything it read from them is
 *   acknowledged, then deletes the lease); a worker below it takes free or expired leases.
 *   Every shard ends up owned because the fair shares add up to at least the shard count.
 * - A lease that could not be renewed (taken over, expired, or Redis unreachable for longer than
 *   the lease) is lost: the worker stops reading that shard at once. What it still has in flight
 *   is written and acknowledged all the same; the new owner processes those entries again, which
 *   the idempotent writes make harmless.
 *
 * Redis server time is used for expiry, so worker clocks need not agree. Each script touches one
 * key; the free-lease scan pipelines GETs over all lease keys (one Redis, not Redis Cluster).
 */
import type { Redis } from 'ioredis';
import { silentLogger, type Logger } from '@wattproof/core';

/** Sorted set of live workers: member = worker id, score = expiry (ms, Redis time). */
export const WORKERS_KEY = 'wattproof:ingest:workers';

/** Lease key of shard `n`; its value is the owner's worker id. */
export function leaseKey(shard: number): string {
  return `wattproof:ingest:lease:${shard}`;
}

/** What the owner of the leases does when one changes hands. */
export interface ShardLeaseHooks {
  /** The lease of `shard` was acquired: start consuming it. */
  acquired(shard: number): void;
  /** Give `shard` up: stop reading it; resolve once everything read from it is acknowledged (the lease is held meanwhile). */
  release(shard: number): Promise<void>;
  /** The lease of `shard` is lost: stop reading it now. */
  lost(shard: number): void;
}

export interface ShardLeasesOptions {
  readonly workerId: string;
  /** INGEST_STREAM_LEASE_MS. */
  readonly leaseMs: number;
  /** The current shard count (undefined while no gateway has recorded one). */
  shards(): Promise<number | undefined>;
  readonly logger?: Logger;
  /** Local monotonic-enough clock (ms) to tell how long ago a renewal succeeded. */
  readonly clock?: () => number;
}

export interface ShardLeases {
  /** One round: heartbeat, renew, release or acquire towards the fair share. Safe to call at any time (rounds never overlap). */
  tick(): Promise<void>;
  /** Runs `tick` every leaseMs / 3. */
  start(): void;
  /** Shards whose lease this worker holds (releasing ones included), ascending. */
  owned(): number[];
  /** Live workers seen at the last tick (this one included). */
  liveWorkers(): number;
  /** The fair share at the last tick. */
  fairShare(): number;
  /** Stops ticking; releases every shard gracefully and leaves the worker set. */
  close(): Promise<void>;
  /** Stops ticking without releasing anything (as a crash would; tests). */
  abort(): void;
}

const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])`;

// Takes a free lease, or keeps one this worker id already holds (a restarted worker with a fixed id).
const ACQUIRE = `
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

type LeaseCommands = {
  wattproofHeartbeat(key: string, workerId: string, ttlMs: number): Promise<number>;
  wattproofAcquire(key: string, workerId: string, ttlMs: number): Promise<number>;
  wattproofRenew(key: string, workerId: string, ttlMs: number): Promise<number>;
  wattproofRelease(key: string, workerId: string): Promise<number>;
};

/** Adds the lease scripts to `redis` (once per connection). */
function leaseCommands(redis: Redis): LeaseCommands {
  const r = redis as Redis & Partial<LeaseCommands>;
  if (!r.wattproofHeartbeat) {
    redis.defineCommand('wattproofHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT });
    redis.defineCommand('wattproofAcquire', { numberOfKeys: 1, lua: ACQUIRE });
    redis.defineCommand('wattproofRenew', { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand('wattproofRelease', { numberOfKeys: 1, lua: RELEASE });
  }
  return r as unknown as LeaseCommands;
}

/** The fair share of one worker: ceil(shards / live workers). */
export function fairShare(shards: number, liveWorkers: number): number {
  return Math.ceil(shards / Math.max(1, liveWorkers));
}

/** A stable per-worker starting point, so workers looking for free shards do not all race for shard 0. */
function offsetOf(workerId: string, shards: number): number {
  let h = 0;
  for (let i = 0; i < workerId.length; i++) h = (Math.imul(h, 31) + workerId.charCodeAt(i)) | 0;
  return Math.abs(h) % shards;
}

export function createShardLeases(redis: Redis, hooks: ShardLeaseHooks, options: ShardLeasesOptions): ShardLeases {
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? Date.now;
  const cmd = leaseCommands(redis);
  const { workerId, leaseMs } = options;
  // shard -> state; `renewedAtMs` = local time of the last confirmed renewal (or acquisition).
  const held = new Map<number, { releasing?: Promise<void>; renewedAtMs: number }>();
  let live = 1;
  let fair = 0;
  let shardCount: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closed = false;

  function lose(shard: number, why: string): void {
    if (!held.delete(shard)) return;
    logger.warn({ shard, workerId, why }, 'shard lease lost: stopped reading it');
    hooks.lost(shard);
  }

  function release(shard: number): Promise<void> {
    const state = held.get(shard);
    if (!state) return Promise.resolve();
    if (state.releasing) return state.releasing;
    logger.info({ shard, workerId, fairShare: fair, liveWorkers: live }, 'releasing shard');
    state.releasing = hooks
      .release(shard)
      .then(async () => {
        // Only if it is still ours: a lease lost meanwhile belongs to someone else now.
        if (held.get(shard) === state) {
          held.delete(shard);
          await cmd.wattproofRelease(leaseKey(shard), workerId).catch(() => undefined);
        }
      })
      .catch((err: unknown) => logger.error({ err, shard }, 'releasing a shard failed'));
    return state.releasing;
  }

  async function round(): Promise<void> {
    const shards = await options.shards();
    if (shards === undefined) {
      if (shardCount === undefined) logger.debug({}, 'no shard count recorded yet (no gateway with streams has started)');
      return;
    }
    if (shardCount !== undefined && shards !== shardCount) logger.warn({ from: shardCount, to: shards }, 'shard count changed');
    shardCount = shards;
    live = await cmd.wattproofHeartbeat(WORKERS_KEY, workerId, leaseMs);

    // Renew what is held; anything not renewed within the lease is lost.
    const now = clock();
    const mine = [...held.keys()];
    const renewed = await Promise.all(mine.map((s) => cmd.wattproofRenew(leaseKey(s), workerId, leaseMs).catch(() => -1)));
    mine.forEach((shard, i) => {
      const state = held.get(shard);
      if (!state) return;
      if (renewed[i] === 1) state.renewedAtMs = now;
      else if (renewed[i] === 0) lose(shard, 'the lease names another worker or expired');
      else if (now - state.renewedAtMs >= leaseMs) lose(shard, 'not renewed within the lease (Redis unreachable)');
    });
    if (closed) return;

    fair = fairShare(shards, live);
    const active = [...held].filter(([s, st]) => !st.releasing && s < shards).map(([s]) => s);
    for (const [s, st] of held) if (s >= shards && !st.releasing) void release(s);
    const releasing = [...held.values()].some((st) => st.releasing !== undefined);
    if (active.length > fair) {
      // Give up the highest-numbered first: deterministic, so two rounds do not pick different ones.
      for (const s of active.sort((a, b) => b - a).slice(0, active.length - fair)) void release(s);
      return;
    }
    if (active.length === fair || releasing) return;

    // Below the fair share: take free (or expired) shards, starting at a per-worker offset.
    const pipeline = redis.pipeline();
    for (let s = 0; s < shards; s++) pipeline.get(leaseKey(s));
    const owners = ((await pipeline.exec()) ?? []).map(([err, v]) => (err ? 'unknown' : (v as string | null)));
    let want = fair - active.length;
    const start = offsetOf(workerId, shards);
    for (let i = 0; i < shards && want > 0; i++) {
      const s = (start + i) % shards;
      if (held.has(s) || (owners[s] !== null && owners[s] !== workerId)) continue;
      if ((await cmd.wattproofAcquire(leaseKey(s), workerId, leaseMs)) !== 1) continue;
      if (closed) {
        await cmd.wattproofRelease(leaseKey(s), workerId).catch(() => undefined);
        return;
      }
      held.set(s, { renewedAtMs: clock() });
      want--;
      logger.info({ shard: s, workerId, fairShare: fair, liveWorkers: live }, 'shard acquired');
      hooks.acquired(s);
    }
  }

  const leases: ShardLeases = {
    tick() {
      if (!running) {
        running = round()
          .catch((err: unknown) => {
            logger.warn({ err: (err as Error).message }, 'shard lease round failed; retrying next round');
            // Still lose what could not be renewed in time.
            const now = clock();
            for (const [s, st] of [...held]) if (now - st.renewedAtMs >= leaseMs) lose(s, 'not renewed within the lease (Redis unreachable)');
          })
          .finally(() => (running = undefined));
      }
      return running;
    },
    start() {
      if (timer) return;
      void leases.tick();
      timer = setInterval(() => void leases.tick(), Math.max(100, Math.floor(leaseMs / 3)));
    },
    owned: () => [...held.keys()].sort((a, b) => a - b),
    liveWorkers: () => live,
    fairShare: () => fair,
    async close() {
      closed = true;
      clearInterval(timer);
      timer = undefined;
      await running;
      // Keep the leases alive while the shards drain.
      const keepAlive = setInterval(() => {
        for (const s of held.keys()) void cmd.wattproofRenew(leaseKey(s), workerId, leaseMs).catch(() => undefined);
      }, Math.max(100, Math.floor(leaseMs / 3)));
      try {
        await Promise.all([...held.keys()].map((s) => release(s)));
      } finally {
        clearInterval(keepAlive);
      }
      await redis.zrem(WORKERS_KEY, workerId).catch(() => undefined);
    },
    abort() {
      closed = true;
      clearInterval(timer);
      timer = undefined;
    },
  };
  return leases;
}
