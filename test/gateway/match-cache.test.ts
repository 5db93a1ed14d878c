/**
 * Topic-match caches (gateway/src/match-cache.ts): the cache itself; mqemitter's and
 * aedes-persistence's own test suites with the caches installed; answers after every kind of
 * subscription change, including one that is in progress; and through the gateway with real MQTT
 * clients, subscribers that come and go between messages to the same topic.
 */
import assert from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { configWith, readingsTopic } from '@wattproof/core';
import {
  cacheMatcherMatches,
  cacheSubscriptionsByTopic,
  createGateway,
  gatewayConfigSchema,
  mqMatcher,
  openSessionStore,
  provisionDevice,
  provisionService,
  SessionQueueMemoryPersistence,
  TopicMatchCache,
  type Gateway,
  type SessionStore,
} from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { connectClient, waitFor } from '../support/mqtt.js';

const require = createRequire(import.meta.url);
const fromGateway = { paths: [new URL('../../gateway/', import.meta.url).pathname] };
// Resolved from the gateway package, which depends on them (aedes brings mqemitter).
const MQEmitter = require(require.resolve('mqemitter', { paths: [require.resolve('aedes', fromGateway)] })) as new (opts?: object) => MQ;
const mqemitterSuite = require(require.resolve('mqemitter/abstractTest.js', { paths: [require.resolve('aedes', fromGateway)] })) as (opts: unknown) => void;
const persistenceSuite = require(require.resolve('aedes-persistence/abstract.js', fromGateway)) as (opts: unknown) => void;

interface MQ {
  on(topic: string, notify: (message: { topic: string }, cb: () => void) => void, done?: () => void): MQ;
  removeListener(topic: string, notify: (message: { topic: string }, cb: () => void) => void, done?: () => void): MQ;
  emit(message: { topic: string }, cb?: (err?: Error) => void): MQ;
}

/** node:test's TestContext as the suites use it (Node 22's `t.assert`, which Node 20 lacks): node:assert, plans not counted. */
function context() {
  return {
    assert: { equal: assert.equal, deepEqual: assert.deepEqual, notEqual: assert.notEqual, ok: assert.ok, ifError: assert.ifError },
    fail: (message: string) => assert.fail(message),
    plan: () => undefined,
    diagnostic: () => undefined,
  };
}
const asVitest = (name: string, fn: (t: unknown) => Promise<void> | void) => it(name, () => fn(context()));

describe('TopicMatchCache', () => {
  it('keeps an answer taken in the same generation, and none across a change', () => {
    const cache = new TopicMatchCache<string[]>(10);
    const g = cache.generation();
    cache.set('a', ['x'], g);
    expect(cache.get('a')).toEqual(['x']);
    // An answer computed before a change completed is not kept, and the change emptied the cache.
    const before = cache.generation();
    cache.changing();
    expect(cache.get('a')).toBeUndefined();
    cache.set('b', ['stale'], cache.generation());
    cache.changed();
    cache.set('c', ['stale too'], before);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')).toBeUndefined();
    cache.set('d', ['fresh'], cache.generation());
    expect(cache.get('d')).toEqual(['fresh']);
    expect(cache.stats()).toEqual({ topics: 1, hits: 2, misses: 3 });
  });
  it('empties itself when full', () => {
    const cache = new TopicMatchCache<number>(3);
    for (let i = 0; i < 3; i++) cache.set(`t${i}`, i, cache.generation());
    expect(cache.stats().topics).toBe(3);
    cache.set('t3', 3, cache.generation());
    expect(cache.stats().topics).toBe(1);
    expect(cache.get('t3')).toBe(3);
    expect(cache.get('t0')).toBeUndefined();
  });
  it('refuses a size that is not a positive integer', () => {
    expect(() => new TopicMatchCache(0)).toThrow(RangeError);
  });
});

/** An mqemitter as aedes makes it, with its matches cached. */
function cachedEmitter(opts: object = {}): { mq: MQ; cache: TopicMatchCache<unknown> } {
  const mq = new MQEmitter({ matchEmptyLevels: true, ...opts });
  const matcher = mqMatcher(mq);
  if (!matcher) throw new Error("mqemitter's _matcher not found");
  return { mq, cache: cacheMatcherMatches(matcher) };
}

describe("mqemitter's test suite with its matches cached", () => {
  mqemitterSuite({ builder: (opts?: object) => cachedEmitter(opts).mq, test: asVitest });
});

describe('cached matches of live subscriptions (mqemitter)', () => {
  const emit = (mq: MQ, topic: string) => new Promise<void>((resolve, reject) => mq.emit({ topic }, (err) => (err ? reject(err) : resolve())));
  const on = (mq: MQ, topic: string, fn: (m: { topic: string }, cb: () => void) => void) => new Promise<void>((resolve) => mq.on(topic, fn, resolve));
  const off = (mq: MQ, topic: string, fn: (m: { topic: string }, cb: () => void) => void) => new Promise<void>((resolve) => mq.removeListener(topic, fn, resolve));

  it('delivers to listeners added and removed between messages to the same topic', async () => {
    const { mq, cache } = cachedEmitter();
    let got: string[] = [];
    /** The listeners that received a message to `topic` (in any order: the trie's). */
    const deliveredTo = async (topic: string) => {
      got = [];
      await emit(mq, topic);
      return got.sort();
    };
    const listener = (name: string) => (_m: { topic: string }, cb: () => void) => (got.push(name), cb());
    const exact = listener('exact');
    const plus = listener('plus');
    const hash = listener('hash');
    await on(mq, 'yz/b01/elec', exact);
    expect(await deliveredTo('yz/b01/elec')).toEqual(['exact']);
    expect(await deliveredTo('yz/b01/elec')).toEqual(['exact']);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1 });
    await on(mq, 'yz/+/elec', plus);
    expect(await deliveredTo('yz/b01/elec')).toEqual(['exact', 'plus']);
    await on(mq, 'yz/#', hash);
    expect(await deliveredTo('yz/b01/elec')).toEqual(['exact', 'hash', 'plus']);
    expect(await deliveredTo('yz/b02/elec')).toEqual(['hash', 'plus']);
    await off(mq, 'yz/b01/elec', exact);
    expect(await deliveredTo('yz/b01/elec')).toEqual(['hash', 'plus']);
    await off(mq, 'yz/+/elec', plus);
    await off(mq, 'yz/#', hash);
    expect(await deliveredTo('yz/b01/elec')).toEqual([]);
    expect(await deliveredTo('yz/b01/elec')).toEqual([]);
    expect(cache.stats().hits).toBe(2);
  });

  it('finds the matcher of the pinned mqemitter and of mqemitter-redis (cluster mode), which inherits it', () => {
    expect(mqMatcher(new MQEmitter())).toBeDefined();
    const MQEmitterRedis = require(require.resolve('mqemitter-redis', fromGateway)) as { prototype: object };
    expect(Object.getPrototypeOf(MQEmitterRedis.prototype)).toBe(MQEmitter.prototype);
    expect(mqMatcher({})).toBeUndefined();
    expect(mqMatcher({ _matcher: { match: () => [] } })).toBeUndefined();
  });
});

const dirs: string[] = [];
const stores: SessionStore[] = [];
afterAll(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function diskStore(): Promise<SessionStore> {
  const dir = await mkdtemp(join(tmpdir(), 'wattproof-match-cache-'));
  dirs.push(dir);
  const store = await openSessionStore({ dir, sync: false });
  stores.push(store);
  return store;
}

describe("aedes-persistence's test suite against the session stores with their matches cached", () => {
  describe('in memory', () => {
    persistenceSuite({
      test: asVitest,
      persistence: async () => {
        const store = await openSessionStore({ dir: undefined, sync: false });
        expect(store.subscriptionsCache).toBeDefined();
        return store.persistence;
      },
      testAsync: true,
    });
  });
  describe('on disk (LevelDB)', () => {
    persistenceSuite({
      test: asVitest,
      persistence: async () => {
        const store = await diskStore();
        expect(store.subscriptionsCache).toBeDefined();
        return store.persistence;
      },
      testAsync: true,
    });
  });
});

type Sub = { clientId: string; topic: string; qos: number };
type SubscriptionApi = {
  setup(broker: object): Promise<void>;
  addSubscriptions(client: { id: string }, subs: Array<{ topic: string; qos: number }>): Promise<void>;
  removeSubscriptions(client: { id: string }, topics: string[]): Promise<void>;
  cleanSubscriptions(client: { id: string }): Promise<void>;
  subscriptionsByTopic(topic: string): Promise<Sub[]>;
};

describe('cached subscriptions by topic (session store)', () => {
  for (const kind of ['memory', 'disk'] as const) {
    it(`${kind}: answers after subscribing, unsubscribing and cleaning a session, for a topic asked before each`, async () => {
      const store = kind === 'memory' ? await openSessionStore({ dir: undefined, sync: false }) : await diskStore();
      const p = store.persistence as unknown as SubscriptionApi;
      await p.setup({ id: 'gw', mq: new MQEmitter(), publish: () => undefined, subscribe: () => undefined, unsubscribe: () => undefined, counter: 0 });
      const topic = 'wattproof/v1/yz/b01/elec/readings';
      const ids = async () => (await p.subscriptionsByTopic(topic)).map((s) => s.clientId).sort();
      expect(await ids()).toEqual([]);
      await p.addSubscriptions({ id: 'ingest' }, [{ topic: 'wattproof/v1/+/+/+/readings', qos: 1 }]);
      expect(await ids()).toEqual(['ingest']);
      expect(await ids()).toEqual(['ingest']);
      await p.addSubscriptions({ id: 'audit' }, [{ topic: 'wattproof/v1/yz/#', qos: 1 }, { topic: 'other', qos: 1 }]);
      expect(await ids()).toEqual(['audit', 'ingest']);
      // QoS 0 subscriptions are not queued for: re-subscribing at QoS 0 takes the session out.
      await p.addSubscriptions({ id: 'ingest' }, [{ topic: 'wattproof/v1/+/+/+/readings', qos: 0 }]);
      expect(await ids()).toEqual(['audit']);
      await p.addSubscriptions({ id: 'ingest' }, [{ topic: 'wattproof/v1/+/+/+/readings', qos: 1 }]);
      expect(await ids()).toEqual(['audit', 'ingest']);
      await p.removeSubscriptions({ id: 'audit' }, ['wattproof/v1/yz/#']);
      expect(await ids()).toEqual(['ingest']);
      await p.cleanSubscriptions({ id: 'ingest' });
      expect(await ids()).toEqual([]);
      const stats = store.subscriptionsCache!.stats();
      expect(stats.hits).toBeGreaterThanOrEqual(1);
      expect(stats.misses).toBeGreaterThanOrEqual(7);
    });
  }

  it('does not keep an answer computed while a change was in progress', async () => {
    // A persistence whose lookups and changes settle when the test says: the lookup starts, a
    // subscription is added and completes, then the lookup answers with what it saw before.
    const subs: Sub[] = [];
    let answerLookup: (() => void) | undefined;
    const persistence = {
      async subscriptionsByTopic(_topic: string) {
        const seen = [...subs];
        await new Promise<void>((resolve) => (answerLookup = resolve));
        return seen;
      },
      async addSubscriptions(client: { id: string }, added: Array<{ topic: string; qos: number }>) {
        for (const s of added) subs.push({ clientId: client.id, ...s });
      },
    };
    const cache = cacheSubscriptionsByTopic(persistence);
    const lookup = persistence.subscriptionsByTopic('t');
    await persistence.addSubscriptions({ id: 'late' }, [{ topic: 't', qos: 1 }]);
    answerLookup!();
    expect(await lookup).toEqual([]);
    // The next lookup walks the subscriptions again and sees the new one.
    const next = persistence.subscriptionsByTopic('t');
    answerLookup!();
    expect((await next).map((s) => s.clientId)).toEqual(['late']);
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 2, topics: 1 });
    expect((await persistence.subscriptionsByTopic('t')).map((s) => s.clientId)).toEqual(['late']);
    expect(cache.stats()).toMatchObject({ hits: 1 });
  });

  it('keeps the memory session queue class in use (the cache wraps, it does not replace)', async () => {
    const store = await openSessionStore({ dir: undefined, sync: false });
    expect(store.persistence).toBeInstanceOf(SessionQueueMemoryPersistence);
  });
});

describe('gateway: subscribers that come and go between messages to one topic (real MQTT clients)', () => {
  const registry = createMemoryRegistryStore();
  const metrics = new Registry();
  let gateway: Gateway;
  let url: string;
  const clients: MqttClient[] = [];
  const track = (c: MqttClient) => (clients.push(c), c);
  let device: { username: string; secret: string };
  let svc: { username: string; secret: string };

  beforeAll(async () => {
    await registry.init();
    device = await provisionDevice(registry, 'yz/b01/elec');
    svc = await provisionService(registry, 'wattproof-ingest', 'service');
    gateway = createGateway({ registry, metrics }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0 }));
    url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await gateway.close();
  });

  it('delivers and queues each message for exactly the subscriptions of its moment', async () => {
    const topic = readingsTopic({ site: 'yz', building: 'b01', meter: 'elec' });
    const dev = track(await connectClient(url, { username: device.username, password: device.secret, clientId: 'dev-cache' }));
    const got = new Map<string, string[]>();
    const subscriber = async (clientId: string, filter: string) => {
      const c = track(await connectClient(url, { username: svc.username, password: svc.secret, clientId, clean: false }));
      got.set(clientId, []);
      c.on('message', (_t, payload) => got.get(clientId)!.push(payload.toString()));
      await c.subscribeAsync(filter, { qos: 1 });
      return c;
    };
    const publish = (n: number) => dev.publishAsync(topic, `{"n":${n}}`, { qos: 1 });
    const a = await subscriber('sub-a', 'wattproof/v1/yz/+/+/readings');
    await publish(1);
    await publish(2);
    const b = await subscriber('sub-b', 'wattproof/v1/yz/b01/#');
    await publish(3);
    await a.unsubscribeAsync('wattproof/v1/yz/+/+/readings');
    await publish(4);
    // b goes offline with its persistent session: messages are queued for it and arrive when it is back.
    await b.endAsync();
    await publish(5);
    await publish(6);
    const b2 = track(await connectClient(url, { username: svc.username, password: svc.secret, clientId: 'sub-b', clean: false }));
    b2.on('message', (_t, payload) => got.get('sub-b')!.push(payload.toString()));
    await waitFor(() => got.get('sub-b')!.length >= 4, 20_000, 'sub-b to receive its queued messages');
    await publish(7);
    await waitFor(() => got.get('sub-b')!.length >= 5, 20_000, 'message 7 at sub-b');
    expect(got.get('sub-a')).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
    expect(got.get('sub-b')).toEqual(['{"n":3}', '{"n":4}', '{"n":5}', '{"n":6}', '{"n":7}']);
    const text = await metrics.metrics();
    const hits = (cache: string) => Number(new RegExp(`wattproof_gateway_topic_match_cache_lookups_total\\{cache="${cache}",result="hit"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    expect(hits('sessions')).toBeGreaterThan(0);
    expect(hits('subscribers')).toBeGreaterThan(0);
    expect(text).toMatch(/wattproof_gateway_topic_match_cache_topics\{cache="subscribers"\} \d+/);
  });
});
