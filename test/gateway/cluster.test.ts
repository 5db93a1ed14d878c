/**
 * Gateway cluster mode and the readings streams, in process against a real Redis: two gateway
 * nodes share publications, retained messages, persistent sessions and client-id owners; an
 * accepted readings PUBLISH is in its meter's stream shard before the device gets its PUBACK;
 * when Redis does not confirm, there is no PUBACK and the device's resend is appended later.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { Redis } from 'ioredis';
import { ALL_READINGS_FILTER, configWith, READINGS_STREAM_META_KEY, readingsShardOf, readingsStreamKey, readingsTopic, statusTopic } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService, type Gateway } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { connectClient, waitFor } from '../support/mqtt.js';
import { startRedis, type TestRedis } from '../support/redis.js';

const SHARDS = 4;
const registry = createMemoryRegistryStore();
let redis: TestRedis;
let admin: Redis;
const gateways: Gateway[] = [];
let urlA: string;
let urlB: string;
let dev: { username: string; secret: string };
let other: { username: string; secret: string };
let svc: { username: string; secret: string };
const clients: MqttClient[] = [];
const track = (c: MqttClient) => (clients.push(c), c);
const ref = { site: 'yz', building: 'b01', meter: 'elec' };

async function startNode(overrides: Record<string, unknown> = {}): Promise<{ gateway: Gateway; url: string }> {
  const gateway = createGateway(
    { registry },
    configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0, GATEWAY_REDIS_URL: redis.url, GATEWAY_STREAM_REDIS_URL: redis.url, GATEWAY_STREAM_SHARDS: SHARDS, GATEWAY_STREAM_TIMEOUT_MS: 500, ...overrides }),
  );
  const addr = await gateway.start();
  gateways.push(gateway);
  return { gateway, url: `mqtt://127.0.0.1:${addr.mqtt.port}` };
}

beforeAll(async () => {
  redis = await startRedis();
  admin = redis.client();
  await registry.init();
  dev = await provisionDevice(registry, 'yz/b01/elec');
  other = await provisionDevice(registry, 'yz/b02/elec');
  svc = await provisionService(registry, 'wattproof-ingest', 'service');
  urlA = (await startNode()).url;
  urlB = (await startNode()).url;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  for (const g of gateways) await g.close();
  admin?.disconnect();
  await redis?.stop();
});

function reading(seq: number): string {
  return JSON.stringify({ seq, readings: [{ ts: Date.parse('2026-11-01T00:00:00Z') + seq * 900_000, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value: seq + 0.5 }] });
}

async function streamEntries(): Promise<Array<{ topic: string; payload: string; client: string }>> {
  const [entries] = [await admin.xrange(readingsStreamKey(readingsShardOf('yz/b01/elec', SHARDS)), '-', '+')];
  return entries.map(([, f]) => {
    const o: Record<string, string> = {};
    for (let i = 0; i < f.length; i += 2) o[f[i]!] = f[i + 1]!;
    return { topic: o.topic!, payload: o.payload!, client: o.client! };
  });
}

describe('gateway cluster mode (GATEWAY_REDIS_URL)', () => {
  it('delivers a publish on one node to a subscriber on the other', async () => {
    const sub = track(await connectClient(urlB, { username: svc.username, password: svc.secret, clientId: 'sub-live' }));
    await sub.subscribeAsync(ALL_READINGS_FILTER, { qos: 1 });
    const got: string[] = [];
    sub.on('message', (_t, p) => got.push(p.toString()));
    const device = track(await connectClient(urlA, { username: dev.username, password: dev.secret, clientId: 'dev-live' }));
    await device.publishAsync(readingsTopic(ref), reading(1), { qos: 1 });
    await waitFor(() => got.length === 1, 10_000, 'the message through Redis');
    expect(JSON.parse(got[0]!).seq).toBe(1);
    await sub.endAsync();
    await device.endAsync();
  });

  it('shares retained messages and persistent sessions between nodes', async () => {
    const device = track(await connectClient(urlA, { username: dev.username, password: dev.secret, clientId: 'dev-status' }));
    await device.publishAsync(statusTopic(ref), JSON.stringify({ state: 'online' }), { qos: 1, retain: true });
    const viewer = track(await connectClient(urlB, { username: svc.username, password: svc.secret, clientId: 'viewer' }));
    const retained: string[] = [];
    viewer.on('message', (t, p, packet) => packet.retain && retained.push(`${t} ${p.toString()}`));
    await viewer.subscribeAsync(statusTopic(ref), { qos: 1 });
    await waitFor(() => retained.length === 1, 10_000, 'the retained status from the other node');
    expect(retained[0]).toBe(`${statusTopic(ref)} {"state":"online"}`);

    // A persistent subscriber session made on A, offline while a message is published on A, resumed on B.
    const s1 = track(await connectClient(urlA, { username: svc.username, password: svc.secret, clientId: 'sub-persistent', clean: false }));
    await s1.subscribeAsync(ALL_READINGS_FILTER, { qos: 1 });
    await s1.endAsync();
    await device.publishAsync(readingsTopic(ref), reading(2), { qos: 1 });
    const s2 = track(await connectClient(urlB, { username: svc.username, password: svc.secret, clientId: 'sub-persistent', clean: false }));
    expect((s2 as unknown as { connackPacket?: { sessionPresent?: boolean } }).connackPacket?.sessionPresent).toBe(true);
    const queued: number[] = [];
    s2.on('message', (_t, p) => queued.push(JSON.parse(p.toString()).seq as number));
    await waitFor(() => queued.includes(2), 10_000, 'the queued message delivered by the other node');
    await s2.endAsync();
    await viewer.endAsync();
    await device.endAsync();
  });

  it('refuses, on every node, a client id bound to another principal', async () => {
    const c = track(await connectClient(urlA, { username: dev.username, password: dev.secret, clientId: 'owned-id' }));
    await c.endAsync();
    await expect(connectClient(urlB, { username: other.username, password: other.secret, clientId: 'owned-id' })).rejects.toMatchObject({ code: 2 });
  });

  it('refuses GATEWAY_PERSISTENCE_DIR together with GATEWAY_REDIS_URL', async () => {
    const g = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0, GATEWAY_REDIS_URL: redis.url, GATEWAY_PERSISTENCE_DIR: '/tmp/not-used' }));
    await expect(g.start()).rejects.toMatchObject({ code: 'GATEWAY_CLUSTER_CONFIG_INVALID' });
  });
});

describe('readings streams (GATEWAY_STREAM_REDIS_URL)', () => {
  it('records the shard count and refuses to start with another', async () => {
    expect(await admin.hget(READINGS_STREAM_META_KEY, 'shards')).toBe(String(SHARDS));
    const g = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0, GATEWAY_STREAM_REDIS_URL: redis.url, GATEWAY_STREAM_SHARDS: SHARDS + 1 }));
    await expect(g.start()).rejects.toMatchObject({ code: 'GATEWAY_STREAM_SHARDS_MISMATCH' });
  });

  it('appends every accepted readings publish to its meter\'s shard before the PUBACK, in order, and nothing else', async () => {
    const before = (await streamEntries()).length;
    const totalLength = async () => {
      let n = 0;
      for (let s = 0; s < SHARDS; s++) n += await admin.xlen(readingsStreamKey(s));
      return n;
    };
    const totalBefore = await totalLength();
    const device = track(await connectClient(urlB, { username: dev.username, password: dev.secret, clientId: 'dev-stream' }));
    for (let seq = 10; seq < 20; seq++) {
      await device.publishAsync(readingsTopic(ref), reading(seq), { qos: 1 });
      // The PUBACK is in: the entry must be in Redis already.
      const entries = await streamEntries();
      expect(entries).toHaveLength(before + seq - 9);
      expect(entries.at(-1)).toEqual({ topic: readingsTopic(ref), payload: reading(seq), client: 'dev-stream' });
    }
    // Status messages and refused publishes are not readings for the ingest.
    await device.publishAsync(statusTopic(ref), JSON.stringify({ state: 'online' }), { qos: 1, retain: true });
    await device.publishAsync(readingsTopic({ ...ref, building: 'b02' }), reading(99), { qos: 1 });
    expect(await totalLength()).toBe(totalBefore + 10);
    await device.endAsync();
  });

  it('refuses without PUBACK the readings of a full shard until the workers have trimmed it (a stand-alone gateway with streams)', async () => {
    const node = await startNode({ GATEWAY_REDIS_URL: undefined, GATEWAY_STREAM_MAX_ENTRIES_PER_SHARD: 1000 });
    const key = readingsStreamKey(readingsShardOf('yz/b01/elec', SHARDS));
    const filler = admin.pipeline();
    for (let i = 0; i < 1000; i++) filler.xadd(key, '*', 'topic', 'filler', 'payload', 'x', 'client', 'x', 'received_ms', '0');
    await filler.exec();
    await new Promise((r) => setTimeout(r, 1200)); // one length refresh
    expect(node.gateway.ready().reasons.join()).toMatch(/at 1000 entries/);
    const device = track(await connectClient(node.url, { username: dev.username, password: dev.secret, clientId: 'dev-full', clean: false, reconnectPeriod: 300 }));
    let acked = false;
    const published = device.publishAsync(readingsTopic(ref), reading(77), { qos: 1 }).then(() => (acked = true));
    await new Promise((r) => setTimeout(r, 800));
    expect(acked).toBe(false);
    expect((await streamEntries()).some((e) => e.payload === reading(77))).toBe(false);
    await admin.xtrim(key, 'MAXLEN', 0); // what the workers do once the entries are acknowledged
    await published;
    expect((await streamEntries()).filter((e) => e.payload === reading(77))).toHaveLength(1);
    await device.endAsync();
  });

  it('sends no PUBACK while Redis is down, and appends the resent message once Redis is back', async () => {
    const device = track(await connectClient(urlA, { username: dev.username, password: dev.secret, clientId: 'dev-outage', clean: false, reconnectPeriod: 300 }));
    const before = (await streamEntries()).length;
    await redis.kill('SIGKILL');
    let acked = false;
    const published = device.publishAsync(readingsTopic(ref), reading(42), { qos: 1 }).then(() => (acked = true));
    await new Promise((r) => setTimeout(r, 1500));
    expect(acked).toBe(false);
    await redis.restart();
    await published;
    await waitFor(async () => (await streamEntries()).some((e) => JSON.parse(e.payload).seq === 42), 15_000, 'the resent reading in the stream');
    const entries = await streamEntries();
    // Appended at least once (a resend of an append Redis made but did not confirm would be a second, harmless entry).
    expect(entries.length).toBeGreaterThan(before);
    expect(entries.filter((e) => JSON.parse(e.payload).seq === 42).length).toBeGreaterThanOrEqual(1);
    await device.endAsync();
  });
});
