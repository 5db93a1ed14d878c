/**
 * Overload (gateway/src/hand-off.ts, GATEWAY_MAX_PUBLISHES_IN_FLIGHT) over real TCP: a subscriber
 * that stops reading makes the gateway's deliveries pile up. Past the bound the gateway drops
 * devices' QoS 0 publishes and counts them, holds QoS 1 publishes with their PUBACKs (and
 * delivers them once the subscriber reads again), and keeps running.
 *
 * The last test is the regression test of a crash measured with bench/broker.ts: with aedes'
 * default mqemitter queue (concurrency 100, unbounded queue behind it), publishes queued behind
 * a stalled subscriber were released recursively when it drained, and a long run of queued
 * publishes nobody subscribed to overflowed the stack (`RangeError: Maximum call stack size
 * exceeded`, mcollina/mqemitter#204).
 */
import type { MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configWith, readingsTopic } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService, type Gateway } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { connectClient, waitFor } from '../support/mqtt.js';
import { metricValue } from '../reliability/harness.js';

const refA = { site: 'overload', building: 'b1', meter: 'a' };
const refB = { site: 'overload', building: 'b1', meter: 'b' };
const registry = createMemoryRegistryStore();
let devA: { username: string; secret: string };
let devB: { username: string; secret: string };
let svc: { username: string; secret: string };
let gateway: Gateway;
let metrics: Registry;
let url: string;
const clients: MqttClient[] = [];
// Below what one socket read holds (aedes reads a device's next batch of packets only when the
// publishes of the last one completed), so that one device reaches it.
const LIMIT = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// ~1 KiB per message, so that a few thousand fill the stalled subscriber's socket buffers.
const filler = 'x'.repeat(1000);
const payload = (seq: number) => JSON.stringify({ seq, pad: filler, readings: [{ ts: 1_790_000_000_000 + seq * 900_000, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value: seq }] });

async function connect(who: { username: string; secret: string }, clientId: string): Promise<MqttClient> {
  const c = await connectClient(url, { username: who.username, password: who.secret, clientId });
  clients.push(c);
  return c;
}

/** A subscriber to meter A's readings that stops reading from its socket. */
async function stalledSubscriber(qos: 0 | 1): Promise<{ client: MqttClient; received: number[]; resume(): void }> {
  const client = await connect(svc, `overload-sub-${qos}`);
  const received: number[] = [];
  client.on('message', (_t, buf) => received.push((JSON.parse(buf.toString()) as { seq: number }).seq));
  await client.subscribeAsync(readingsTopic(refA), { qos });
  client.stream.pause();
  return { client, received, resume: () => client.stream.resume() };
}

/** Publishes `n` QoS 0 messages (seq first..first+n-1) without waiting for the socket. */
function flood(client: MqttClient, topic: string, n: number, first = 0): void {
  for (let i = 0; i < n; i++) client.publish(topic, payload(first + i), { qos: 0 });
}

async function metric(name: string): Promise<number> {
  return metricValue(await metrics.metrics(), name);
}

beforeAll(async () => {
  await registry.init();
  devA = await provisionDevice(registry, refA);
  devB = await provisionDevice(registry, refB);
  svc = await provisionService(registry, 'ingest-overload', 'service');
});
beforeEach(async () => {
  metrics = new Registry();
  gateway = createGateway({ registry, metrics }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0, GATEWAY_MAX_PUBLISHES_IN_FLIGHT: LIMIT }));
  url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  await gateway.close();
});
afterAll(async () => {
  await registry.close();
});

describe('gateway overload', () => {
  it('drops QoS 0 publishes past GATEWAY_MAX_PUBLISHES_IN_FLIGHT, counts them, and never holds more deliveries', async () => {
    const sub = await stalledSubscriber(0);
    const device = await connect(devA, 'overload-a');
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, gateway.stats().publishesInFlight)), 5);
    flood(device, readingsTopic(refA), 20_000);
    await waitFor(async () => (await metric('wattproof_gateway_shed_publishes_total')) > 0, 20_000, 'shed publishes');
    await waitFor(() => gateway.stats().publishesInFlight === LIMIT, 20_000, 'deliveries at the bound');
    clearInterval(watch);
    expect(most).toBeLessThanOrEqual(LIMIT);
    expect(gateway.stats().publishesInFlight).toBe(LIMIT);
    const shed = await metric('wattproof_gateway_shed_publishes_total');
    sub.resume();
    // What was not shed is delivered once the subscriber reads again.
    await waitFor(() => gateway.stats().publishesInFlight === 0, 20_000, 'deliveries to drain');
    await waitFor(async () => sub.received.length + (await metric('wattproof_gateway_shed_publishes_total')) >= 20_000, 20_000, 'every publish delivered or shed');
    expect(shed).toBeGreaterThan(0);
    expect(sub.received.length + (await metric('wattproof_gateway_shed_publishes_total'))).toBe(20_000);
    // In order, gaps where publishes were shed.
    expect(sub.received.every((seq, i) => i === 0 || seq > sub.received[i - 1]!)).toBe(true);
    expect(gateway.ready().ready).toBe(true);
  });

  it('holds QoS 1 publishes and their PUBACKs while the deliveries are at the bound, and delivers every one', async () => {
    const sub = await stalledSubscriber(1);
    const device = await connect(devA, 'overload-a1');
    let acked = 0;
    const acks: Array<Promise<unknown>> = [];
    for (let i = 0; i < 20_000; i++) acks.push(device.publishAsync(readingsTopic(refA), payload(i), { qos: 1 }).then(() => acked++));
    // Until the stalled subscriber's socket buffers are full, deliveries complete and PUBACKs arrive;
    // then deliveries stay at the bound and no PUBACK comes.
    let since = Date.now();
    let last = -1;
    await waitFor(() => {
      const { publishesInFlight, publishesWaiting } = gateway.stats();
      if (publishesInFlight < LIMIT || publishesWaiting === 0 || acked !== last) since = Date.now();
      last = acked;
      return Date.now() - since > 1500;
    }, 60_000, 'deliveries held at the bound');
    expect(acked).toBeLessThan(20_000);
    // From a second connection: aedes reads nothing more from the first until its publishes completed.
    const other = await connect(devA, 'overload-a1-qos1');
    let otherAcked = false;
    const publishing = other.publishAsync(readingsTopic(refA), payload(99_999), { qos: 1 }).then(() => (otherAcked = true));
    await sleep(300);
    expect(otherAcked).toBe(false);
    expect(await metric('wattproof_gateway_publishes_waiting')).toBeGreaterThan(0);
    expect(await metric('wattproof_gateway_shed_publishes_total')).toBe(0);
    sub.resume();
    await Promise.all([publishing, ...acks]);
    await waitFor(() => new Set(sub.received).size === 20_001, 30_000, 'every acknowledged message delivered');
    expect(sub.received.includes(99_999)).toBe(true);
  });

  it('keeps running when a long run of publishes nobody subscribed to queues behind a stalled subscriber', async () => {
    const sub = await stalledSubscriber(0);
    // Three connections fill the deliveries to the stalled subscriber (and aedes' old mqemitter slots).
    for (let i = 0; i < 3; i++) flood(await connect(devA, `overload-run-a${i}`), readingsTopic(refA), 2_000, i * 2_000);
    await waitFor(() => gateway.stats().publishesInFlight === LIMIT, 20_000, 'deliveries at the bound');
    // Then 200 connections publish to a meter nobody subscribed to: with the old unbounded queue these
    // waited behind the stalled deliveries and were released on one stack when the subscriber drained.
    const others = await Promise.all(Array.from({ length: 200 }, (_, i) => connect(devB, `overload-run-b${i}`)));
    for (const [i, c] of others.entries()) flood(c, readingsTopic(refB), 150, i * 150);
    await Promise.all(others.map((c) => new Promise<void>((resolve) => c.publish(readingsTopic(refB), payload(0), { qos: 0 }, () => resolve()))));
    await sleep(500);
    sub.resume();
    await waitFor(() => gateway.stats().publishesInFlight === 0 && gateway.stats().publishesWaiting === 0, 30_000, 'deliveries to drain');
    // Still serving: a new connection publishes at QoS 1 and gets its PUBACK.
    const late = await connect(devB, 'overload-late');
    await late.publishAsync(readingsTopic(refB), payload(1), { qos: 1 });
    expect(await metric('wattproof_gateway_shed_publishes_total')).toBeGreaterThan(0);
  });
});
