/**
 * The in-memory session store's queues (memory-persistence.ts): aedes-persistence's own test suite
 * (its abstract.js, the suite every aedes persistence passes) run against it, and the order and
 * removal of a queue that is drained while it holds many messages.
 */
import assert from 'node:assert';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
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
});
