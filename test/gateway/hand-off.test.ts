/**
 * The durable hand-off (gateway/src/hand-off.ts) over real TCP, sessions on disk: a QoS 1 PUBACK
 * reaches the device only after the message is queued in the session store for the persistent
 * subscriber, PUBACKs keep the order of the PUBLISH packets even when the store finishes them out
 * of order, and a message the store failed to queue is not acknowledged.
 *
 * The store is slowed down (or made to fail) by wrapping the broker's persistence, as a slow or
 * failing disk would. aedes 1.2 on its own acknowledges before it queues: these tests fail on it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configWith, readingsTopic } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService, type Gateway, type QueuePersistence } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { connectClient, waitFor } from '../support/mqtt.js';
import { metricValue } from '../reliability/harness.js';

const ref = { site: 'handoff', building: 'b1', meter: 'm1' };
const topic = readingsTopic(ref);
const registry = createMemoryRegistryStore();
let dev: { username: string; secret: string };
let svc: { username: string; secret: string };
let dir: string;
let gateway: Gateway;
let metrics: Registry;
let url: string;
const clients: MqttClient[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const payload = (seq: number) => JSON.stringify({ seq, readings: [{ ts: 1_790_000_000_000 + seq * 900_000, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value: seq + 0.25 }] });

beforeAll(async () => {
  await registry.init();
  dev = await provisionDevice(registry, ref);
  svc = await provisionService(registry, 'ingest-handoff', 'service');
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wattproof-handoff-'));
  metrics = new Registry();
  gateway = createGateway({ registry, metrics }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0, GATEWAY_PERSISTENCE_DIR: dir }));
  url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
  // The ingest's persistent session, offline: every reading is queued for it.
  const ingest = await connectClient(url, { username: svc.username, password: svc.secret, clientId: 'ingest-handoff', clean: false });
  await ingest.subscribeAsync(topic, { qos: 1 });
  await ingest.endAsync();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  await gateway.close();
  await rm(dir, { recursive: true, force: true });
});
afterAll(async () => {
  await registry.close();
});

/** Wraps the broker's persistence's outgoingEnqueueCombi (outermost, as a slow disk would be). */
function wrapEnqueue(wrap: (inner: QueuePersistence['outgoingEnqueueCombi']) => QueuePersistence['outgoingEnqueueCombi']): void {
  const persistence = (gateway.broker() as unknown as { persistence: QueuePersistence }).persistence;
  persistence.outgoingEnqueueCombi = wrap(persistence.outgoingEnqueueCombi.bind(persistence));
}

describe('durable hand-off of QoS 1 publishes', () => {
  it('sends the PUBACK only after the message is queued for the offline persistent subscriber', async () => {
    let queuedAt: number | undefined;
    wrapEnqueue((inner) => async (subs, packet) => {
      await sleep(300);
      const result = await inner(subs, packet);
      queuedAt = performance.now();
      return result;
    });
    const device = await connectClient(url, { username: dev.username, password: dev.secret, clientId: 'handoff-dev' });
    clients.push(device);
    const sentAt = performance.now();
    await device.publishAsync(topic, payload(1), { qos: 1 });
    const ackedAt = performance.now();
    expect(queuedAt, 'queued before the PUBACK arrived').toBeDefined();
    expect(ackedAt).toBeGreaterThanOrEqual(queuedAt!);
    expect(ackedAt - sentAt).toBeGreaterThanOrEqual(300);
    expect(gateway.backlog().queuedMessages).toBe(1);
    expect(metricValue(await metrics.metrics(), 'wattproof_gateway_publish_handoff_seconds_count')).toBe(1);
  });

  it('keeps PUBACKs in the order of the PUBLISH packets when the store finishes them in reverse', async () => {
    // The first message is the slowest to queue, the third the fastest.
    const delays = [200, 100, 0];
    let calls = 0;
    wrapEnqueue((inner) => async (subs, packet) => {
      await sleep(delays[calls++] ?? 0);
      return inner(subs, packet);
    });
    const port = Number(new URL(url).port);
    const order = await new Promise<number[]>((resolve, reject) => {
      const socket = createConnection(port, '127.0.0.1');
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      const acked: number[] = [];
      parser.on('packet', (p) => {
        if (p.cmd === 'connack' && p.returnCode !== 0) reject(new Error(`CONNACK ${p.returnCode}`));
        if (p.cmd === 'puback') acked.push(p.messageId!);
        if (acked.length === 3) {
          socket.destroy();
          resolve(acked);
        }
      });
      socket.on('data', (d) => parser.parse(d));
      socket.on('error', reject);
      socket.on('close', () => reject(new Error(`closed after PUBACKs ${acked.join(',')}`)));
      // CONNECT and three PUBLISH packets in one write: aedes authorizes all three concurrently.
      socket.write(
        Buffer.concat([
          mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'handoff-raw', keepalive: 30, username: dev.username, password: Buffer.from(dev.secret) }),
          ...[1, 2, 3].map((id) => mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(payload(id)), qos: 1, messageId: id, retain: false, dup: false })),
        ]),
      );
    });
    expect(calls).toBe(3);
    expect(order).toEqual([1, 2, 3]);
    expect(gateway.backlog().queuedMessages).toBe(3);
  });

  it('delivers 2,000 concurrent publishes of one device to the connected subscriber in order, each once', async () => {
    const ingest = await connectClient(url, { username: svc.username, password: svc.secret, clientId: 'ingest-handoff', clean: false });
    clients.push(ingest);
    const received: number[] = [];
    ingest.on('message', (_t, buf) => received.push((JSON.parse(buf.toString()) as { seq: number }).seq));
    const device = await connectClient(url, { username: dev.username, password: dev.secret, clientId: 'handoff-dev3' });
    clients.push(device);
    const filler = 'x'.repeat(1000);
    const n = 2000;
    await Promise.all(Array.from({ length: n }, (_, i) => device.publishAsync(topic, JSON.stringify({ seq: i + 1, pad: filler }), { qos: 1 })));
    await waitFor(() => received.length >= n, 30_000, 'every message delivered');
    await sleep(200);
    // In the order the device sent them: the LevelDB writes of the queue and of the deliveries
    // finish out of order, the store completes them in order (completeQueueWritesInOrder).
    expect(received).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  });

  it('does not acknowledge a message the store failed to queue; the device resends it and it is queued once', async () => {
    let fail = true;
    wrapEnqueue((inner) => async (subs, packet) => {
      if (fail) throw new Error('disk I/O error');
      return inner(subs, packet);
    });
    const device = await connectClient(url, { username: dev.username, password: dev.secret, clientId: 'handoff-dev2', clean: false });
    clients.push(device);
    let acked = false;
    const published = device.publishAsync(topic, payload(2), { qos: 1 }).then(() => (acked = true));
    await waitFor(() => !device.connected, 10_000, 'the gateway to disconnect the device');
    await sleep(200);
    expect(acked).toBe(false);
    expect(Object.keys(device.outgoing)).toHaveLength(1);
    expect(metricValue(await metrics.metrics(), 'wattproof_gateway_rejections_total', { code: 'GATEWAY_SESSION_STORE_FAILED' })).toBe(1);
    expect(gateway.backlog().queuedMessages).toBe(0);

    fail = false;
    device.reconnect({ incomingStore: device.incomingStore, outgoingStore: device.outgoingStore });
    await published;
    expect(gateway.backlog().queuedMessages).toBe(1);
  });
});
