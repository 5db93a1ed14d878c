/**
 * Shard leases among ingest workers, against a real Redis: fair shares, rebalancing when a
 * worker joins or leaves, take-over after a worker stops renewing, graceful release holding the
 * lease until the shard is drained, and a lease lost to another owner.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { READINGS_STREAM_META_KEY } from '@wattproof/core';
import { createShardLeases, fairShare, leaseKey, type ShardLeaseHooks, type ShardLeases } from '@wattproof/ingest';
import { startRedis, type TestRedis } from '../support/redis.js';

let redis: TestRedis;
let admin: Redis;
const connections: Redis[] = [];
const running: ShardLeases[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = redis.client();
});

afterEach(async () => {
  for (const l of running.splice(0)) l.abort();
  for (const c of connections.splice(0)) c.disconnect();
  await admin.flushall();
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

interface Worker {
  readonly leases: ShardLeases;
  readonly events: string[];
  /** Shards whose release the test holds back; resolve with `finishRelease`. */
  readonly holding: Map<number, () => void>;
}

function worker(id: string, leaseMs: number, options: { holdReleases?: boolean } = {}): Worker {
  const conn = redis.client();
  connections.push(conn);
  const events: string[] = [];
  const holding = new Map<number, () => void>();
  const hooks: ShardLeaseHooks = {
    acquired: (s) => void events.push(`+${s}`),
    lost: (s) => void events.push(`!${s}`),
    release: (s) => {
      events.push(`-${s}`);
      if (!options.holdReleases) return Promise.resolve();
      return new Promise<void>((resolve) => holding.set(s, resolve));
    },
  };
  const leases = createShardLeases(conn, hooks, {
    workerId: id,
    leaseMs,
    async shards() {
      const v = await conn.hget(READINGS_STREAM_META_KEY, 'shards');
      return v === null ? undefined : Number(v);
    },
  });
  running.push(leases);
  return { leases, events, holding };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

/** Ticks every worker `rounds` times, in turn, letting releases complete between rounds. */
async function rounds(workers: Worker[], n = 3): Promise<void> {
  for (let i = 0; i < n; i++) {
    for (const w of workers) await w.leases.tick();
    await settle();
  }
}

function assertPartition(workers: Worker[], shards: number): void {
  const owned = workers.flatMap((w) => w.leases.owned());
  expect(owned.sort((a, b) => a - b)).toEqual(Array.from({ length: shards }, (_, i) => i));
}

describe('fairShare', () => {
  it('is ceil(shards / live workers), every shard owned', () => {
    expect(fairShare(16, 1)).toBe(16);
    expect(fairShare(16, 3)).toBe(6);
    expect(fairShare(4, 8)).toBe(1);
    expect(fairShare(16, 0)).toBe(16);
  });
});

describe('shard leases on Redis', () => {
  it('does nothing until a gateway has recorded the shard count', async () => {
    const a = worker('a', 60_000);
    await a.leases.tick();
    expect(a.leases.owned()).toEqual([]);
    await admin.hset(READINGS_STREAM_META_KEY, 'shards', '4');
    await a.leases.tick();
    expect(a.leases.owned()).toEqual([0, 1, 2, 3]);
    expect(await admin.get(leaseKey(2))).toBe('a');
  });

  it('splits the shards evenly when a second and a third worker join, each shard owned by exactly one', async () => {
    await admin.hset(READINGS_STREAM_META_KEY, 'shards', '8');
    const a = worker('a', 60_000);
    await rounds([a], 1);
    expect(a.leases.owned()).toHaveLength(8);

    const b = worker('b', 60_000);
    await rounds([a, b]);
    expect(a.leases.owned()).toHaveLength(4);
    expect(b.leases.owned()).toHaveLength(4);
    assertPartition([a, b], 8);
    // Given back gracefully, then taken: released before acquired elsewhere.
    expect(a.events.filter((e) => e.startsWith('-'))).toHaveLength(4);
    expect(a.events.some((e) => e.startsWith('!'))).toBe(false);

    const c = worker('c', 60_000);
    await rounds([a, b, c]);
    expect([a, b, c].map((w) => w.leases.owned().length).sort()).toEqual([2, 3, 3]);
    assertPartition([a, b, c], 8);
    const byId: Record<string, Worker> = { a, b, c };
    for (let s = 0; s < 8; s++) {
      const owner = await admin.get(leaseKey(s));
      expect(byId[owner!]?.leases.owned(), `shard ${s} is leased to ${owner}`).toContain(s);
    }
  });

  it('hands the shards of a worker that stopped renewing to the others once its lease expires', async () => {
    await admin.hset(READINGS_STREAM_META_KEY, 'shards', '6');
    const leaseMs = 600;
    const a = worker('a', leaseMs);
    const b = worker('b', leaseMs);
    await rounds([a, b]);
    assertPartition([a, b], 6);
    const fromA = a.leases.owned();
    expect(fromA).toHaveLength(3);

    a.leases.abort(); // as SIGKILL: nothing released, nothing renewed
    await b.leases.tick();
    expect(b.leases.owned()).toHaveLength(3); // a's leases are still valid
    await new Promise((r) => setTimeout(r, leaseMs + 100));
    await b.leases.tick();
    expect(b.leases.liveWorkers()).toBe(1);
    expect(b.leases.owned()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const s of fromA) expect(b.events).toContain(`+${s}`);
  });

  it('holds a lease being released until the worker has drained the shard', async () => {
    await admin.hset(READINGS_STREAM_META_KEY, 'shards', '2');
    const a = worker('a', 60_000, { holdReleases: true });
    await rounds([a], 1);
    const b = worker('b', 60_000);
    await rounds([a, b]);
    // a is releasing one shard but has not drained it: b cannot take it yet.
    expect(a.holding.size).toBe(1);
    const [shard, finish] = [...a.holding][0]!;
    expect(b.leases.owned()).toEqual([]);
    expect(await admin.get(leaseKey(shard))).toBe('a');
    finish();
    await settle();
    expect(await admin.get(leaseKey(shard))).toBeNull();
    await rounds([a, b], 1);
    expect(b.leases.owned()).toEqual([shard]);
    expect(a.leases.owned()).toEqual([1 - shard]);
  });

  it('reports a lease lost when its key names another worker, and stops renewing it', async () => {
    await admin.hset(READINGS_STREAM_META_KEY, 'shards', '2');
    const a = worker('a', 60_000);
    await a.leases.tick();
    expect(a.leases.owned()).toEqual([0, 1]);
    await admin.set(leaseKey(1), 'intruder', 'PX', 60_000);
    await a.leases.tick();
    expect(a.events).toContain('!1');
    expect(a.leases.owned()).toEqual([0]);
    expect(await admin.get(leaseKey(1))).toBe('intruder');
  });

  it('gives every shard back and leaves the worker set on close', async () => {
    await admin.hset(READINGS_STREAM_META_KEY, 'shards', '3');
    const a = worker('a', 60_000);
    await a.leases.tick();
    await a.leases.close();
    for (let s = 0; s < 3; s++) expect(await admin.get(leaseKey(s))).toBeNull();
    expect(await admin.zcard('wattproof:ingest:workers')).toBe(0);
    const b = worker('b', 60_000);
    await b.leases.tick();
    expect(b.leases.owned()).toEqual([0, 1, 2]);
  });
});
