/**
 * The ingest's MQTT side (ingest/src/mqtt-consumer.ts) against a real broker over TCP (stock aedes
 * on loopback, which reports every PUBACK it receives): a QoS 1 message is acknowledged only once
 * `accept` says it is durable, PUBACKs keep the order the messages arrived in even when they
 * become durable out of order, and a message that failed is never acknowledged and comes again
 * on the next connection.
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { Aedes, type PublishPacket } from 'aedes';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readingsTopic } from '@wattproof/core';
import { createMqttConsumer, encodePubacks, type AcceptOutcome, type IncomingMessage } from '@wattproof/ingest';
import { waitFor } from '../support/mqtt.js';

const topic = readingsTopic({ site: 'consumer', building: 'b1', meter: 'm1' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let broker: Aedes;
let server: Server;
let url: string;
/** Payloads of the deliveries the broker got a PUBACK for, in the order the PUBACKs arrived. */
let acked: string[];
const consumers: Array<ReturnType<typeof createMqttConsumer>> = [];

function deferred() {
  const d = { settled: false, resolve: () => undefined as void, reject: (_err: Error) => undefined as void, promise: undefined as unknown as Promise<void> };
  d.promise = new Promise<void>((res, rej) => {
    d.resolve = () => {
      d.settled = true;
      res();
    };
    d.reject = (err) => {
      d.settled = true;
      rej(err);
    };
  });
  return d;
}

/** A consumer whose `accept` returns a promise the test settles, per message payload. */
function consumer(clientId = 'ingest-consumer-test', maxPending = 1000) {
  const waiting = new Map<string, ReturnType<typeof deferred>>();
  const received: string[] = [];
  const c = createMqttConsumer(
    {
      accept(msg: IncomingMessage) {
        const key = msg.payload.toString();
        received.push(key);
        const d = deferred();
        waiting.set(key, d);
        return d.promise.then((): AcceptOutcome => 'stored');
      },
      pending: () => [...waiting.values()].filter((d) => !d.settled).length,
    },
    { url, clientId, maxPending, topic },
  );
  consumers.push(c);
  return { c, received, settle: (key: string) => waiting.get(key)!.resolve(), fail: (key: string) => waiting.get(key)!.reject(new Error('store down')) };
}

async function publish(payloads: string[]): Promise<void> {
  for (const p of payloads) {
    await new Promise<void>((resolve, reject) =>
      broker.publish({ cmd: 'publish', topic, payload: Buffer.from(p), qos: 1, retain: false, dup: false } as PublishPacket, (err) => (err ? reject(err) : resolve())),
    );
  }
}

beforeEach(async () => {
  broker = await Aedes.createBroker();
  acked = [];
  broker.on('ack', (packet) => {
    if (packet && 'payload' in packet) acked.push(Buffer.from(packet.payload).toString());
  });
  server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.close(true)));
  await new Promise<void>((r) => broker.close(() => r()));
  await new Promise<void>((r) => server.close(() => r()));
});

describe('createMqttConsumer', () => {
  it('acknowledges a message only once it is durable, in the order the messages arrived', async () => {
    const { c, received, settle } = consumer();
    await c.start();
    const payloads = ['m0', 'm1', 'm2', 'm3', 'm4'];
    await publish(payloads);
    await waitFor(() => received.length === 5, 10_000, 'five deliveries');
    expect(received).toEqual(payloads);

    settle('m2');
    settle('m4');
    await sleep(150);
    expect(acked).toEqual([]);

    settle('m0');
    await waitFor(() => acked.length === 1, 10_000, 'the first PUBACK');
    await sleep(100);
    expect(acked).toEqual(['m0']);

    settle('m1');
    await waitFor(() => acked.length === 3, 10_000, 'PUBACKs up to m2');
    settle('m3');
    await waitFor(() => acked.length === 5, 10_000, 'every PUBACK');
    expect(acked).toEqual(payloads);
  });

  it('acknowledges many messages that become durable together, each once', async () => {
    const { c, received, settle } = consumer();
    await c.start();
    const payloads = Array.from({ length: 300 }, (_, i) => `n${i}`);
    await publish(payloads);
    await waitFor(() => received.length === 300, 10_000, '300 deliveries');
    for (const p of payloads) settle(p);
    await waitFor(() => acked.length === 300, 10_000, '300 PUBACKs');
    await sleep(100);
    expect(acked).toEqual(payloads);
  });

  it('with room for one message at a time, acknowledges each message once it is durable', async () => {
    const { c, received, settle } = consumer('ingest-one-at-a-time', 1);
    await c.start();
    await publish(['o0', 'o1', 'o2']);
    for (let i = 0; i < 3; i++) {
      await waitFor(() => received.length === i + 1, 10_000, `delivery ${i}`);
      await sleep(50);
      // The next message is not read while this one is pending.
      expect(received).toHaveLength(i + 1);
      settle(`o${i}`);
      await waitFor(() => acked.length === i + 1, 10_000, `PUBACK ${i}`);
    }
    expect(acked).toEqual(['o0', 'o1', 'o2']);
  });

  it('with room for one message at a time, never acknowledges a message that failed', async () => {
    const { c, received, settle, fail } = consumer('ingest-one-failed', 1);
    await c.start();
    await publish(['f0', 'f1']);
    await waitFor(() => received.length === 1, 10_000, 'the first delivery');
    fail('f0');
    await waitFor(() => received.length === 2, 10_000, 'the second delivery');
    settle('f1');
    await waitFor(() => acked.length === 1, 10_000, 'a PUBACK');
    await sleep(150);
    expect(acked).toEqual(['f1']);
  });

  it('never acknowledges a message that failed; it comes again on the next connection', async () => {
    const first = consumer('ingest-redelivery');
    await first.c.start();
    await publish(['ok-1', 'lost', 'ok-2']);
    await waitFor(() => first.received.length === 3, 10_000, 'three deliveries');
    first.settle('ok-1');
    first.fail('lost');
    first.settle('ok-2');
    await waitFor(() => acked.length === 2, 10_000, 'two PUBACKs');
    await sleep(150);
    expect(acked).toEqual(['ok-1', 'ok-2']);
    await first.c.close(true);

    const second = consumer('ingest-redelivery');
    await second.c.start();
    await waitFor(() => second.received.length === 1, 10_000, 'the redelivery');
    expect(second.received).toEqual(['lost']);
    second.settle('lost');
    await waitFor(() => acked.length === 3, 10_000, 'its PUBACK');
    expect(acked).toEqual(['ok-1', 'ok-2', 'lost']);
  });
});

describe('encodePubacks', () => {
  it('writes the same bytes as mqtt-packet, one PUBACK after another', () => {
    const ids = [1, 255, 256, 258, 4_096, 65_535];
    const expected = Buffer.concat(ids.map((messageId) => mqttPacket.generate({ cmd: 'puback', messageId })));
    expect(encodePubacks(ids)).toEqual(expected);
    expect(encodePubacks([])).toHaveLength(0);
  });
});
