/**
 * Write coalescing of subscribers' connections (gateway/src/write-coalescing.ts), on real TCP
 * sockets: the packets mqtt-packet writes in separate ticks of one turn leave in one socket write,
 * in order; the raised high-water mark still pushes back when the reader stops; `end()` sends what
 * waits. Then in the gateway: a subscriber's connection coalesces, a device's does not, and
 * GATEWAY_SUBSCRIBER_WRITE_BUFFER_BYTES=0 turns it off, with every message delivered in order.
 */
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configWith, readingsTopic } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService, type Gateway } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { coalesceWrites } from '../../gateway/src/write-coalescing.js';
import { connectClient, gatewayConnection, waitFor } from '../support/mqtt.js';

/** A connected loopback pair: `server` is the gateway's side, `client` the subscriber's. */
async function socketPair(): Promise<{ server: Socket; client: Socket; close(): Promise<void> }> {
  const listener: Server = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const accepted = once(listener, 'connection') as Promise<[Socket]>;
  const client = createConnection((listener.address() as { port: number }).port, '127.0.0.1');
  await once(client, 'connect');
  const [server] = await accepted;
  return {
    server,
    client,
    async close() {
      server.destroy();
      client.destroy();
      await new Promise<void>((r) => listener.close(() => r()));
    },
  };
}

/** Counts the system-call-level writes of `socket` (Node's `_writev`/`_write` of its stream). */
function countWrites(socket: Socket): () => number {
  let n = 0;
  const s = socket as unknown as { _writev: (...a: unknown[]) => unknown; _write: (...a: unknown[]) => unknown };
  const writev = s._writev.bind(socket);
  const write = s._write.bind(socket);
  s._writev = (...a) => (n++, writev(...a));
  s._write = (...a) => (n++, write(...a));
  return () => n;
}

/** Writes `count` PUBLISH packets, each in a tick of its own (as aedes delivers), all in one turn of the event loop. */
function publishInSeparateTicks(socket: Socket, count: number, payloadBytes = 200): Promise<boolean[]> {
  return new Promise((resolve) => {
    const results: boolean[] = [];
    const next = (i: number) => {
      if (i === count) return resolve(results);
      results.push(mqttPacket.writeToStream({ cmd: 'publish', topic: 't/x', payload: Buffer.alloc(payloadBytes, i % 256), qos: 1, messageId: (i % 65535) + 1, dup: false, retain: false }, socket));
      process.nextTick(next, i + 1);
    };
    next(0);
  });
}

/** Message ids of the PUBLISH packets `socket` receives, until `count` have come. */
function receiveIds(socket: Socket, count: number): Promise<number[]> {
  const parser = mqttPacket.parser();
  const ids: number[] = [];
  return new Promise((resolve, reject) => {
    parser.on('packet', (p: mqttPacket.Packet) => {
      if (p.cmd === 'publish') ids.push(p.messageId!);
      if (ids.length === count) resolve(ids);
    });
    parser.on('error', reject);
    socket.on('data', (d) => parser.parse(d));
  });
}

const pairs: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(pairs.splice(0).map((p) => p.close()));
});

describe('coalesceWrites', () => {
  it('sends the packets of one turn in one write, in order', async () => {
    const pair = await socketPair();
    pairs.push(pair);
    coalesceWrites(pair.server, { highWaterMarkBytes: 64 * 1024 });
    const writes = countWrites(pair.server);
    const received = receiveIds(pair.client, 50);
    const results = await publishInSeparateTicks(pair.server, 50);
    expect(results.every(Boolean)).toBe(true);
    expect(await received).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(writes()).toBe(1);
  });

  it('is what makes the difference: the same packets without it take a write each', async () => {
    const pair = await socketPair();
    pairs.push(pair);
    const writes = countWrites(pair.server);
    const received = receiveIds(pair.client, 50);
    await publishInSeparateTicks(pair.server, 50);
    await received;
    expect(writes()).toBe(50);
  });

  it('raises the high-water mark once, and never lowers it', async () => {
    const pair = await socketPair();
    pairs.push(pair);
    expect(pair.server.writableHighWaterMark).toBe(16 * 1024);
    coalesceWrites(pair.server, { highWaterMarkBytes: 64 * 1024 });
    expect(pair.server.writableHighWaterMark).toBe(64 * 1024);
    coalesceWrites(pair.server, { highWaterMarkBytes: 1024 });
    expect(pair.server.writableHighWaterMark).toBe(64 * 1024);
    const other = await socketPair();
    pairs.push(other);
    coalesceWrites(other.server, { highWaterMarkBytes: 1024 });
    expect(other.server.writableHighWaterMark).toBe(16 * 1024);
  });

  it('pushes back once the reader stops, and delivers everything when it reads again', async () => {
    const pair = await socketPair();
    pairs.push(pair);
    coalesceWrites(pair.server, { highWaterMarkBytes: 64 * 1024 });
    pair.client.pause();
    // Turns of 100 packets of 1 KiB until the kernel's buffers are full and data stays in the
    // gateway's buffer after a turn's flush.
    let written = 0;
    let turns = 0;
    for (; turns < 5000 && pair.server.writableLength === 0; turns++) {
      const results = await publishInSeparateTicks(pair.server, 100, 1024);
      written += results.length;
      // Within a turn, refused only once the corked bytes pass the raised mark (16 KiB would refuse the 16th).
      expect(results.indexOf(false) === -1 || results.indexOf(false) >= 60).toBe(true);
      await new Promise((r) => setImmediate(r));
    }
    expect(pair.server.writableLength).toBeGreaterThan(0);
    // Once the kernel takes no more, the next write is refused: aedes waits for 'drain'.
    const more = await publishInSeparateTicks(pair.server, 100, 1024);
    written += more.length;
    expect(more.at(-1)).toBe(false);
    const drained = once(pair.server, 'drain');
    const received = receiveIds(pair.client, written);
    pair.client.resume();
    await drained;
    // Each turn numbers its packets from 1.
    expect(await received).toEqual(Array.from({ length: written }, (_, i) => (i % 100) + 1));
  });

  it('sends what waits in the buffer when the connection is ended', async () => {
    const pair = await socketPair();
    pairs.push(pair);
    coalesceWrites(pair.server, { highWaterMarkBytes: 64 * 1024 });
    const received = receiveIds(pair.client, 10);
    const ended = once(pair.client, 'end');
    await new Promise<void>((resolve) => {
      for (let i = 0; i < 10; i++) mqttPacket.writeToStream({ cmd: 'publish', topic: 't/x', payload: Buffer.from([i]), qos: 1, messageId: i + 1, dup: false, retain: false }, pair.server);
      pair.server.end(resolve);
    });
    expect(await received).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    await ended;
  });
});

describe('the gateway and its subscribers', () => {
  const registry = createMemoryRegistryStore();
  const refs = [0, 1, 2, 3].map((i) => ({ site: 'coalesce', building: 'b1', meter: `m${i}` }));
  let devices: Array<{ username: string; secret: string }>;
  let svc: { username: string; secret: string };
  const clients: MqttClient[] = [];
  let gateway: Gateway | undefined;

  beforeAll(async () => {
    await registry.init();
    devices = await Promise.all(refs.map((r) => provisionDevice(registry, r)));
    svc = await provisionService(registry, 'ingest-coalesce', 'service');
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
    await gateway?.close();
    gateway = undefined;
  });
  afterAll(async () => {
    await registry.close();
  });

  for (const bufferBytes of [65_536, 0]) {
    it(`with GATEWAY_SUBSCRIBER_WRITE_BUFFER_BYTES=${bufferBytes}: every QoS 1 message reaches the subscriber in each device's order`, async () => {
      gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0, GATEWAY_SUBSCRIBER_WRITE_BUFFER_BYTES: bufferBytes }));
      const url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
      const sub = await connectClient(url, { username: svc.username, password: svc.secret, clientId: 'ingest-coalesce' });
      clients.push(sub);
      const got = new Map<string, number[]>();
      sub.on('message', (topic, payload) => {
        const list = got.get(topic) ?? [];
        list.push(JSON.parse(payload.toString()).seq);
        got.set(topic, list);
      });
      await sub.subscribeAsync('wattproof/v1/coalesce/#', { qos: 1 });
      const pubs = await Promise.all(devices.map((d, i) => connectClient(url, { username: d.username, password: d.secret, clientId: `coalesce-dev-${i}` })));
      clients.push(...pubs);
      expect(gatewayConnection(gateway!, 'ingest-coalesce').writableHighWaterMark).toBe(bufferBytes || 16 * 1024);
      expect(gatewayConnection(gateway!, 'coalesce-dev-0').writableHighWaterMark).toBe(16 * 1024);
      const perDevice = 300;
      await Promise.all(
        pubs.map((p, d) =>
          Promise.all(
            Array.from({ length: perDevice }, (_, k) =>
              p.publishAsync(readingsTopic(refs[d]!), JSON.stringify({ seq: k + 1, readings: [{ ts: 1_790_000_000_000 + k * 900_000, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value: k }] }), { qos: 1 }),
            ),
          ),
        ),
      );
      await waitFor(() => [...got.values()].reduce((n, l) => n + l.length, 0) >= refs.length * perDevice);
      for (const r of refs) expect(got.get(readingsTopic(r))).toEqual(Array.from({ length: perDevice }, (_, k) => k + 1));
    });
  }
});
