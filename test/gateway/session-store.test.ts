/**
 * The on-disk session store (aedes-persistence-level over classic-level in a temp directory):
 * what survives a reopen, which writes are fsynced, the order enqueues complete in, the lock.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configWith } from '@wattproof/core';
import { completeQueueWritesInOrder, createGateway, gatewayConfigSchema, openSessionStore, provisionDevice, SessionQueueMemoryPersistence, type QueuePersistence, type SessionStore } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { connect, type IConnackPacket } from 'mqtt';
import { connectClient } from '../support/mqtt.js';

let dir: string;
const opened: SessionStore[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wattproof-sessions-'));
});
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function open(sync: boolean): Promise<SessionStore> {
  const store = await openSessionStore({ dir, sync });
  opened.push(store);
  return store;
}

/** The persistence's own (promise) API, as aedes 1.2 calls it. */
type Api = QueuePersistence & {
  addSubscriptions(client: { id: string }, subs: Array<{ topic: string; qos: number }>): Promise<void>;
  outgoingUpdate(client: { id: string }, packet: object): Promise<void>;
  storeRetained(packet: object): Promise<void>;
  /** aedes calls it in createBroker; the level persistence loads the subscriptions then. */
  setup(broker: object): Promise<void>;
};

let counter = 0;
const packet = (topic = 'wattproof/v1/s/b/m/readings') => ({ cmd: 'publish', topic, payload: Buffer.from('{"seq":1}'), qos: 1, retain: false, dup: false, brokerId: 'broker-1', brokerCounter: ++counter });

describe('on-disk session store', () => {
  it('keeps subscriptions, queued messages and session owners across a reopen, and counts the queues it finds', async () => {
    const first = await open(false);
    const p = first.persistence as Api;
    await p.addSubscriptions({ id: 'ingest' }, [{ topic: 'wattproof/v1/+/+/+/readings', qos: 1 }]);
    const queued = [packet(), packet(), packet()];
    for (const q of queued) await p.outgoingEnqueueCombi([{ clientId: 'ingest' }, { clientId: 'ops:1' }], q);
    // The ingest got the first one (message id 7) and acknowledged it.
    await p.outgoingUpdate({ id: 'ingest' }, { ...queued[0], messageId: 7 });
    expect(await p.outgoingClearMessageId({ id: 'ingest' }, { messageId: 7 })).toMatchObject({ brokerCounter: queued[0]!.brokerCounter });
    await first.owners.set('dev-1', 'yz/b1/m1');
    // A clean session's client id is not kept; one that goes persistent later is.
    await first.owners.set('tool-1', 'operator', false);
    await first.owners.set('dev-2', 'yz/b1/m2', false);
    await first.owners.set('dev-2', 'yz/b1/m2', true);
    expect(first.owners.get('tool-1')).toBe('operator');
    await first.close();
    opened.length = 0;

    const second = await open(false);
    expect(second.kind).toBe('disk');
    expect(Object.fromEntries(second.queuedAtOpen)).toEqual({ ingest: 2, 'ops:1': 3 });
    // Their bytes as stored (for GATEWAY_MAX_QUEUED_BYTES): each record holds at least its payload.
    const bytes = Object.fromEntries(second.queuedBytesAtOpen ?? []);
    expect(Object.keys(bytes).sort()).toEqual(['ingest', 'ops:1']);
    const payload = queued[0]!.payload.length;
    expect(bytes.ingest).toBeGreaterThanOrEqual(2 * payload);
    expect(bytes.ingest).toBeLessThan(2 * (payload + 512));
    expect(bytes['ops:1']! / 3).toBeCloseTo(bytes.ingest! / 2, 0);
    expect(second.owners.get('dev-1')).toBe('yz/b1/m1');
    expect(second.owners.get('dev-2')).toBe('yz/b1/m2');
    expect(second.owners.get('tool-1')).toBeUndefined();
    await (second.persistence as Api).setup({ id: 'broker-2' });
    const subs = await (second.persistence as Api).subscriptionsByTopic('wattproof/v1/s/b/m/readings');
    expect(subs.map((s) => s.clientId)).toEqual(['ingest']);
  });

  it('fsyncs the writes an acknowledgement depends on, not the delivery bookkeeping', async () => {
    const store = await open(true);
    const p = store.persistence as Api;
    const synced = () => store.syncedWrites!();
    await p.addSubscriptions({ id: 'ingest' }, [{ topic: 'wattproof/v1/#', qos: 1 }]);
    expect(synced()).toBe(1);
    const q = packet();
    await p.outgoingEnqueueCombi([{ clientId: 'ingest' }, { clientId: 'ops' }], q);
    expect(synced()).toBe(3); // one put per session
    await p.storeRetained({ ...packet('wattproof/v1/s/b/m/status'), retain: true });
    expect(synced()).toBe(4);
    await p.outgoingUpdate({ id: 'ingest' }, { ...q, messageId: 1 });
    await p.outgoingClearMessageId({ id: 'ingest' }, { messageId: 1 });
    expect(synced()).toBe(4);
  });

  it('refuses a directory another gateway holds, with GATEWAY_SESSION_STORE_UNAVAILABLE', async () => {
    await open(true);
    await expect(openSessionStore({ dir, sync: true })).rejects.toMatchObject({ code: 'GATEWAY_SESSION_STORE_UNAVAILABLE', message: expect.stringContaining(dir) });
  });

  it('is aedes\' in-memory default when no directory is set', async () => {
    const store = await openSessionStore({ dir: undefined, sync: true });
    expect(store.kind).toBe('memory');
    expect(store.persistence).toBeInstanceOf(SessionQueueMemoryPersistence);
    expect(store.queuedAtOpen.size).toBe(0);
    await store.owners.set('c', 'u');
    expect(store.owners.get('c')).toBe('u');
  });
});

describe('completeQueueWritesInOrder', () => {
  it('resolves enqueues in the order they were made although the writes finish out of order', async () => {
    const finished: number[] = [];
    const fake = {
      subscriptionsByTopic: async () => [],
      outgoingEnqueue: async () => undefined,
      outgoingUpdate: async () => undefined,
      outgoingClearMessageId: async () => undefined,
      // The first write takes longest, the last is immediate.
      outgoingEnqueueCombi: (_subs: unknown, p: { n: number }) => new Promise((r) => setTimeout(() => (finished.push(p.n), r(p.n)), (3 - p.n) * 30)),
    } as unknown as QueuePersistence;
    completeQueueWritesInOrder(fake);
    const resolved: number[] = [];
    await Promise.all([0, 1, 2].map((n) => fake.outgoingEnqueueCombi([], { n }).then(() => resolved.push(n))));
    expect(finished).toEqual([2, 1, 0]);
    expect(resolved).toEqual([0, 1, 2]);
  });

  it('resolves the updates of delivered messages in the order they were made, apart from the enqueues', async () => {
    const fake = {
      // An enqueue that never finishes must not hold back the updates.
      outgoingEnqueueCombi: () => new Promise(() => undefined),
      outgoingUpdate: (_client: unknown, p: { n: number }) => new Promise((r) => setTimeout(() => r(p.n), (3 - p.n) * 30)),
    } as unknown as QueuePersistence;
    completeQueueWritesInOrder(fake);
    void fake.outgoingEnqueueCombi([], { n: 9 });
    const resolved: number[] = [];
    await Promise.all([0, 1, 2].map((n) => fake.outgoingUpdate({ id: 'c' }, { n }).then(() => resolved.push(n))));
    expect(resolved).toEqual([0, 1, 2]);
  });

  it('passes a failed write on without holding back the later ones', async () => {
    const fake = {
      outgoingEnqueueCombi: async (_subs: unknown, p: { n: number }) => {
        if (p.n === 0) throw new Error('disk full');
        return p.n;
      },
      outgoingUpdate: async () => undefined,
    } as unknown as QueuePersistence;
    completeQueueWritesInOrder(fake);
    const first = fake.outgoingEnqueueCombi([], { n: 0 });
    const second = fake.outgoingEnqueueCombi([], { n: 1 });
    await expect(first).rejects.toThrow('disk full');
    await expect(second).resolves.toBe(1);
  });
});

describe('a gateway on a session directory', () => {
  it('finds a device\'s session after a restart, and refuses that client id to another device', async () => {
    const registry = createMemoryRegistryStore();
    await registry.init();
    const a = await provisionDevice(registry, 'own/b1/a');
    const b = await provisionDevice(registry, 'own/b1/b');
    const config = configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0, GATEWAY_PERSISTENCE_DIR: dir });
    let gateway = createGateway({ registry }, config);
    let url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
    const first = await connectClient(url, { username: a.username, password: a.secret, clientId: 'meter-a', clean: false });
    await first.subscribeAsync('wattproof/v1/own/b1/a/#', { qos: 1 });
    await first.endAsync();
    await gateway.close();

    gateway = createGateway({ registry }, config);
    url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
    try {
      await expect(connectClient(url, { username: b.username, password: b.secret, clientId: 'meter-a', clean: false })).rejects.toMatchObject({ code: 2 });
      const again = connect(url, { username: a.username, password: a.secret, clientId: 'meter-a', clean: false, reconnectPeriod: 0 });
      const connack = await new Promise<IConnackPacket>((resolve, reject) => {
        again.once('connect', resolve);
        again.once('error', reject);
      });
      expect(connack.sessionPresent, 'session present after the restart').toBe(true);
      await again.endAsync();
    } finally {
      await gateway.close();
      await registry.close();
    }
  });
});
