/**
 * The ingest's stream worker against a real Redis, with a controllable `accept`: entries are
 * acknowledged only once accepted and in order, at most INGEST_MAX_PENDING_MESSAGES are in
 * flight, a worker taking over a dead worker's shard first processes the entries that worker
 * never acknowledged, and trimming never removes an unacknowledged entry.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { READINGS_STREAM_FIELDS as F, READINGS_STREAM_GROUP, READINGS_STREAM_META_KEY, readingsStreamKey } from '@wattproof/core';
import { createStreamSource, type AcceptOutcome, type IncomingMessage, type StreamSource } from '@wattproof/ingest';
import { waitFor } from '../support/mqtt.js';
import { startRedis, type TestRedis } from '../support/redis.js';

let redis: TestRedis;
let admin: Redis;
const sources: StreamSource[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = redis.client();
});

afterEach(async () => {
  for (const s of sources.splice(0)) await s.close(true);
  await admin.flushall();
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

interface Seen {
  readonly msg: IncomingMessage;
  done: boolean;
  /** Makes this message durable. */
  resolve(): void;
}

/** An accept whose messages become durable only when the test says so. */
function controlledAccept() {
  const seen: Seen[] = [];
  return {
    seen,
    accept(msg: IncomingMessage): Promise<AcceptOutcome> {
      return new Promise((resolve) => {
        const item: Seen = {
          msg,
          done: false,
          resolve() {
            item.done = true;
            resolve('stored');
          },
        };
        seen.push(item);
      });
    },
    /** Makes the first `n` messages not yet durable durable, in order. */
    resolve(n = Infinity) {
      let k = 0;
      for (const s of seen) {
        if (k >= n) break;
        if (!s.done) {
          s.resolve();
          k++;
        }
      }
    },
  };
}

const METER_KEYS = Array.from({ length: 40 }, (_, i) => `s/b/m${i}`);

function source(workerId: string, accept: (m: IncomingMessage) => Promise<AcceptOutcome>, options: { maxPending?: number; maxPendingBytes?: number; leaseMs?: number; forgot?: string[][] } = {}): StreamSource {
  const s = createStreamSource(
    {
      accept,
      forgetRegisters: async (match) => {
        options.forgot?.push(METER_KEYS.filter(match));
        return 0;
      },
    },
    { url: redis.url, workerId, leaseMs: options.leaseMs ?? 1500, readEntries: 100, maxPending: options.maxPending ?? 1000, ...(options.maxPendingBytes !== undefined ? { maxPendingBytes: options.maxPendingBytes } : {}) },
  );
  sources.push(s);
  return s;
}

async function append(shard: number, n: number, from = 0, padBytes = 0): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < from + n; i++) {
    const payload = Buffer.from(JSON.stringify({ seq: i, ...(padBytes ? { pad: 'x'.repeat(padBytes) } : {}) }));
    ids.push((await admin.xadd(readingsStreamKey(shard), '*', F.topic, `wattproof/v1/s/b/m${i}/readings`, F.payload, payload, F.client, `c${i}`, F.receivedMs, '0'))!);
  }
  return ids;
}

const seqs = (seen: Array<{ msg: IncomingMessage }>) => seen.map((s) => (JSON.parse(s.msg.payload.toString()) as { seq: number }).seq);

async function pendingCount(shard: number): Promise<number> {
  const summary = (await admin.xpending(readingsStreamKey(shard), READINGS_STREAM_GROUP)) as [number];
  return Number(summary[0]);
}

describe('ingest stream worker', () => {
  it('acknowledges an entry only once it is durable, in stream order, and passes topic, payload and client id', async () => {
    await admin.hset(READINGS_STREAM_META_KEY, 'shards', '1');
    await append(0, 10);
    const acc = controlledAccept();
    const w = source('w1', acc.accept);
    await w.start();
    await waitFor(() => acc.seen.length === 10, 10_000, 'ten entries read');
    expect(seqs(acc.seen)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(acc.seen[3]!.msg).toMatchObject({ topic: 'wattproof/v1/s/b/m3/readings', clientId: 'c3' });
    expect(await pendingCount(0)).toBe(10);

    // Durable out of order: only the head of the order may be acknowledged.
    acc.seen[1]!.resolve();
    await new Promise((r) => setTimeout(r, 200));
    expect(await pendingCount(0)).toBe(10);
    acc.resolve(3); // 0, 2, 3
    await waitFor(async () => (await pendingCount(0)) === 6, 5000, 'four acknowledged');
    acc.resolve();
    await waitFor(async () => (await pendingCount(0)) === 0, 5000, 'all acknowledged');
    expect(w.stats()).toMatchObject({ shards: [0], acked: 10, claimed: 0 });
  });

  it('keeps at most maxPending entries in flight', async () => {
    await admin.hset(READINGS_STREAM_META_KEY, 'shards', '1');
    await append(0, 50);
    const acc = controlledAccept();
    const w = source('w1', acc.accept, { maxPending: 7 });
    await w.start();
    await waitFor(() => acc.seen.length === 7, 10_000, 'seven entries read');
    await new Promise((r) => setTimeout(r, 600));
    expect(acc.seen).toHaveLength(7);
    expect(w.stats().inFlight).toBe(7);
    for (let round = 0; round < 20 && acc.seen.length < 50; round++) {
      acc.resolve();
      await new Promise((r) => setTimeout(r, 50));
      expect(w.stats().inFlight).toBeLessThanOrEqual(7);
    }
    acc.resolve();
    await waitFor(async () => (await pendingCount(0)) === 0 && acc.seen.length === 50, 10_000, 'all fifty processed');
    expect(seqs(acc.seen)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('keeps at most maxPendingBytes of payload in flight (INGEST_MAX_PENDING_BYTES), one read past the bound at most', async () => {
    await admin.hset(READINGS_STREAM_META_KEY, 'shards', '1');
    // 50 entries of ~10 KB against 64 KiB: at most ⌈65,536 / 10,000⌉ + 1 = 8 in flight, far below maxPending.
    await append(0, 50, 0, 10_000);
    const acc = controlledAccept();
    const w = source('w1', acc.accept, { maxPending: 1000, maxPendingBytes: 64 * 1024 });
    await w.start();
    await waitFor(() => acc.seen.length > 0, 10_000, 'entries read');
    await new Promise((r) => setTimeout(r, 600));
    const held = acc.seen.length;
    expect(held).toBeGreaterThanOrEqual(6);
    expect(held).toBeLessThanOrEqual(8);
    expect(w.stats().inFlightBytes).toBe(acc.seen.reduce((sum, x) => sum + x.msg.payload.length, 0));
    for (let round = 0; round < 40 && acc.seen.length < 50; round++) {
      acc.resolve();
      await new Promise((r) => setTimeout(r, 50));
      expect(acc.seen.filter((x) => !x.done).length).toBeLessThanOrEqual(8);
    }
    acc.resolve();
    await waitFor(async () => (await pendingCount(0)) === 0 && acc.seen.length === 50, 10_000, 'all fifty processed');
    expect(seqs(acc.seen)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(w.stats().inFlightBytes).toBe(0);
  });

  it('lets the next owner process, before anything new, every entry a killed worker had not acknowledged', async () => {
    await admin.hset(READINGS_STREAM_META_KEY, 'shards', '2');
    await append(0, 20);
    await append(1, 20, 100);
    const first = controlledAccept();
    const w1 = source('w1', first.accept, { leaseMs: 800 });
    await w1.start();
    await waitFor(() => first.seen.length === 40, 10_000, 'forty entries read');
    first.resolve(5); // some durable and acknowledged; the rest in flight when the worker dies
    await waitFor(async () => (await pendingCount(0)) + (await pendingCount(1)) === 35, 5000, 'five acknowledged');
    const acknowledged = seqs(first.seen.slice(0, 5));
    await w1.close(true); // SIGKILL: nothing more acknowledged, leases not given back

    await append(0, 5, 20); // new entries behind the unacknowledged ones
    const second = controlledAccept();
    const forgot: string[][] = [];
    const w2 = source('w2', second.accept, { leaseMs: 800, forgot });
    await w2.start();
    await waitFor(() => second.seen.length === 40, 15_000, 'the pending and the new entries processed by the second worker');
    second.resolve();
    await waitFor(async () => (await pendingCount(0)) + (await pendingCount(1)) === 0, 5000, 'all acknowledged');
    const got = seqs(second.seen);
    const shard0 = got.filter((s) => s < 100);
    const shard1 = got.filter((s) => s >= 100);
    // Per shard: the claimed (unacknowledged) ones first, in order, then the new ones.
    expect(shard0).toEqual(Array.from({ length: 25 }, (_, i) => i).filter((s) => !acknowledged.includes(s)));
    expect(shard1).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i).filter((s) => !acknowledged.includes(s)));
    // The 35 unacknowledged, plus any new entry Redis handed to the dead worker's read still blocked
    // on its half-closed connection (as after a real SIGKILL): claimed and processed all the same.
    expect(w2.stats().claimed).toBeGreaterThanOrEqual(35);
    // Register history was dropped for the meters of each shard taken over: each meter once, every meter.
    expect(forgot).toHaveLength(2);
    expect(forgot.flat().sort()).toEqual([...METER_KEYS].sort());
    expect(forgot.every((keys) => keys.length > 0)).toBe(true);
  });

  it('on a graceful close acknowledges what became durable and hands its shards over at once', async () => {
    await admin.hset(READINGS_STREAM_META_KEY, 'shards', '2');
    await append(0, 10);
    await append(1, 10, 100);
    const first = controlledAccept();
    const w1 = source('w1', first.accept, { leaseMs: 60_000 });
    await w1.start();
    await waitFor(() => first.seen.length === 20, 10_000, 'twenty entries read');
    const closed = w1.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(await admin.get('wattproof:ingest:lease:0')).toBe('w1'); // held while entries are in flight
    first.resolve();
    await closed;
    expect(await pendingCount(0)).toBe(0);
    expect(await pendingCount(1)).toBe(0);
    expect(await admin.get('wattproof:ingest:lease:0')).toBeNull();
    // Leases of a minute, yet the next worker takes both shards on its first round.
    const second = controlledAccept();
    const w2 = source('w2', second.accept, { leaseMs: 60_000 });
    await w2.start();
    await waitFor(() => w2.stats().shards.length === 2, 5000, 'both shards taken at once');
    await append(0, 1, 10);
    await waitFor(() => second.seen.length === 1, 5000, 'the new entry read by the second worker');
    expect(seqs(second.seen)).toEqual([10]);
  });

  it('trims acknowledged entries only', async () => {
    await admin.hset(READINGS_STREAM_META_KEY, 'shards', '1');
    await append(0, 300);
    const acc = controlledAccept();
    const w = source('w1', acc.accept, { leaseMs: 600 });
    await w.start();
    await waitFor(() => acc.seen.length === 300, 10_000, 'all read');
    acc.resolve(250);
    await waitFor(async () => (await pendingCount(0)) === 50, 5000, '250 acknowledged');
    // Maintenance runs every lease/3; approximate trimming drops whole nodes (100 entries by default) below the oldest pending entry.
    await waitFor(async () => (await admin.xlen(readingsStreamKey(0))) < 300, 5000, 'acknowledged entries trimmed');
    const left = await admin.xrange(readingsStreamKey(0), '-', '+');
    const leftSeqs = left.map(([, fields]) => (JSON.parse(fields[3]!) as { seq: number }).seq);
    for (let s = 250; s < 300; s++) expect(leftSeqs).toContain(s);
    acc.resolve();
    await waitFor(async () => (await pendingCount(0)) === 0, 5000, 'all acknowledged');
  });
});
