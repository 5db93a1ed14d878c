/**
 * The in-memory session store's queues (memory-persistence.ts): aedes-persistence's own test suite
 * (its abstract.js, the suite every aedes persistence passes) run against it, and the order and
 * removal of a queue that is drained while it holds many messages.
 */
import assert from 'node:assert';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import MemoryPersistence from 'aedes-persistence/asyncPersistence.js';
import { SessionQueueMemoryPersistence } from '@wattproof/gateway';

const require = createRequire(import.meta.url);
// Resolved from the gateway package, which depends on aedes-persistence.
const abstractSuite = require(require.resolve('aedes-persistence/abstract.js', { paths: [new URL('../../gateway/', import.meta.url).pathname] })) as (opts: unknown) => void;

/** node:test's TestContext as abstract.js uses it (Node 22's `t.assert`, which Node 20 lacks): node:assert, plans not counted. */
function context() {
  return { assert: { equal: assert.equal, deepEqual: assert.deepEqual, notEqual: assert.notEqual, ok: assert.ok }, plan: () => undefined, diagnostic: () => undefined };
}

describe('aedes-persistence test suite against the in-memory session store', () => {
  abstractSuite({
    test: (name: string, fn: (t: unknown) => Promise<void> | void) => it(name, () => fn(context())),
    persistence: () => new SessionQueueMemoryPersistence(),
    testAsync: true,
  });
});

type Packet = { brokerId: string; brokerCounter: number; messageId?: number; topic: string; payload: Buffer; qos: number; cmd: string };
const packet = (n: number): Packet => ({ cmd: 'publish', topic: 'wattproof/v1/s/b/m/readings', payload: Buffer.from(`{"seq":${n}}`), qos: 1, brokerId: 'gw', brokerCounter: n });

async function drain(stream: AsyncIterable<unknown>): Promise<Packet[]> {
  const out: Packet[] = [];
  for await (const p of stream) out.push(p as Packet);
  return out;
}

describe('in-memory session queue', () => {
  it('keeps the order through deliveries and acknowledgements in and out of order, across compactions', async () => {
    const p = new SessionQueueMemoryPersistence();
    const client = { id: 'ingest' };
    const N = 5000;
    for (let n = 1; n <= N; n++) await p.outgoingEnqueueCombi([{ clientId: 'ingest' }], packet(n));
    // Deliver the first 3,000 (message ids 1..3000), acknowledge them except every 100th, and out of order at the start.
    for (let n = 1; n <= 3000; n++) await p.outgoingUpdate(client, { ...packet(n), messageId: n });
    expect(((await p.outgoingClearMessageId(client, { messageId: 2 })) as Packet).brokerCounter).toBe(2);
    for (let n = 1; n <= 3000; n++) if (n !== 2 && n % 100 !== 0) expect(((await p.outgoingClearMessageId(client, { messageId: n })) as Packet).brokerCounter).toBe(n);
    expect(await p.outgoingClearMessageId(client, { messageId: 2 })).toBeUndefined();
    const left = await drain(p.outgoingStream(client));
    const expected = [...Array.from({ length: 30 }, (_, k) => (k + 1) * 100), ...Array.from({ length: N - 3000 }, (_, k) => 3001 + k)];
    expect(left.map((x) => x.brokerCounter)).toEqual(expected);
    // A message queued now goes behind them; one delivered late is still found.
    await p.outgoingEnqueue({ clientId: 'ingest' }, packet(N + 1));
    await p.outgoingUpdate(client, { ...packet(N + 1), messageId: 7 });
    expect(((await p.outgoingClearMessageId(client, { messageId: 7 })) as Packet).brokerCounter).toBe(N + 1);
    for (const n of expected.slice(0, 30)) await p.outgoingClearMessageId(client, { messageId: n });
    expect((await drain(p.outgoingStream(client))).map((x) => x.brokerCounter)).toEqual(expected.slice(30));
    await expect(p.outgoingUpdate(client, { ...packet(N + 99), messageId: 9 })).rejects.toThrow('no such packet');
  });

  it('streams a snapshot: what is acknowledged while the stream is read is still in it', async () => {
    const p = new SessionQueueMemoryPersistence();
    const client = { id: 'c' };
    for (let n = 1; n <= 3; n++) await p.outgoingEnqueue({ clientId: 'c' }, packet(n));
    await p.outgoingUpdate(client, { ...packet(1), messageId: 1 });
    const stream = p.outgoingStream(client);
    await p.outgoingClearMessageId(client, { messageId: 1 });
    expect((await drain(stream)).map((x) => x.brokerCounter)).toEqual([1, 2, 3]);
    expect((await drain(p.outgoingStream(client))).map((x) => x.brokerCounter)).toEqual([2, 3]);
  });

  it('finds the newest message to update among thousands in flight, and the first of two copies', async () => {
    const p = new SessionQueueMemoryPersistence();
    const client = { id: 'ingest' };
    // As aedes with the subscriber online: each message is queued, then updated when written; acknowledged 3,000 later.
    for (let n = 1; n <= 10_000; n++) {
      await p.outgoingEnqueueCombi([{ clientId: 'ingest' }], packet(n));
      await p.outgoingUpdate(client, { ...packet(n), messageId: (n % 65_535) + 1 });
      if (n > 3000) expect(((await p.outgoingClearMessageId(client, { messageId: ((n - 3000) % 65_535) + 1 })) as Packet).brokerCounter).toBe(n - 3000);
    }
    expect((await drain(p.outgoingStream(client))).map((x) => [x.brokerCounter, x.messageId])).toEqual(Array.from({ length: 3000 }, (_, k) => [7001 + k, 7002 + k]));
    // Two matching subscriptions of one client: two copies; an update goes to the first, then, once it is gone, to the second.
    const twice = new SessionQueueMemoryPersistence();
    await twice.outgoingEnqueueCombi([{ clientId: 'c' }, { clientId: 'c' }], packet(1));
    await twice.outgoingUpdate({ id: 'c' }, { ...packet(1), messageId: 5 });
    await twice.outgoingUpdate({ id: 'c' }, { ...packet(1), messageId: 6 });
    expect((await drain(twice.outgoingStream({ id: 'c' }))).map((x) => x.messageId)).toEqual([6, undefined]);
    await twice.outgoingClearMessageId({ id: 'c' }, { messageId: 6 });
    await twice.outgoingUpdate({ id: 'c' }, { ...packet(1), messageId: 7 });
    expect((await drain(twice.outgoingStream({ id: 'c' }))).map((x) => x.messageId)).toEqual([7]);
  });

  it('answers as aedes-persistence does over random queues, updates and acknowledgements, with messages of two brokers', async () => {
    // A seeded generator (mulberry32), so a failure replays.
    let seed = 0x5eed;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const ours = new SessionQueueMemoryPersistence();
    const stock = new MemoryPersistence();
    const both = async <T>(f: (p: SessionQueueMemoryPersistence | InstanceType<typeof MemoryPersistence>) => Promise<T>) => {
      const [a, b] = await Promise.allSettled([f(ours), f(stock)]);
      const view = (r: PromiseSettledResult<T>) => (r.status === 'fulfilled' ? { ok: r.value } : { error: String((r.reason as Error).message) });
      expect(view(a)).toEqual(view(b));
    };
    const client = { id: 'c' };
    const queued: Packet[] = [];
    let counter = 0;
    for (let step = 0; step < 6000; step++) {
      const r = random();
      if (r < 0.4 || queued.length === 0) {
        // Mostly this gateway's messages, some of another broker id (as after a restart on a shared store).
        const pk = { ...packet(++counter), ...(random() < 0.05 ? { brokerId: 'other' } : {}) };
        const subs = random() < 0.05 ? [{ clientId: 'c' }, { clientId: 'c' }] : [{ clientId: 'c' }];
        await both((p) => p.outgoingEnqueueCombi(subs, pk));
        queued.push(pk);
      } else if (r < 0.75) {
        // Update a queued message (mostly a recent one, as aedes does), a message id from a small range so that ids collide.
        const pk = queued[Math.max(0, queued.length - 1 - Math.floor(random() * random() * queued.length))]!;
        const update = { ...pk, ...(random() < 0.05 ? { brokerId: 'third' } : {}), messageId: 1 + Math.floor(random() * 50) };
        await both((p) => p.outgoingUpdate(client, { ...update }));
      } else {
        const messageId = 1 + Math.floor(random() * 50);
        await both(async (p) => {
          const removed = (await p.outgoingClearMessageId(client, { messageId })) as Packet | undefined;
          return removed && [removed.brokerId, removed.brokerCounter, removed.messageId];
        });
      }
      if (step % 500 === 0) await both(async (p) => (await drain(p.outgoingStream(client))).map((x) => [x.brokerId, x.brokerCounter, x.messageId]));
    }
    await both(async (p) => (await drain(p.outgoingStream(client))).map((x) => [x.brokerId, x.brokerCounter, x.messageId]));
  });
});
