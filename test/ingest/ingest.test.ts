/**
 * The ingest against a real aedes gateway over TCP and real MQTT.js devices, on memory stores:
 * acknowledgement only after a durable write, redelivery after a crash, retries while the
 * store is down, dead letters for bad messages among good ones.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { configWith, readingsTopic, type ReadingStore, type StoredReading } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService, type Gateway } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createIngest, createMemoryReadingStore, ingestConfigSchema, type Ingest } from '@wattproof/ingest';
import { connectClient, waitFor } from '../support/mqtt.js';

const T0 = Date.parse('2026-11-01T00:00:00+08:00');
const ref = { site: 'yz', building: 'b01', meter: 'elec' };

/** A memory store whose writes can be held back or made to fail. */
function controllableStore(inner: ReadingStore) {
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => {};
  let failures = 0;
  let writes = 0;
  const store: ReadingStore = {
    ...inner,
    name: 'controllable-memory',
    async write(readings: readonly StoredReading[]) {
      writes++;
      await gate;
      if (failures > 0) {
        failures--;
        throw Object.assign(new Error('store down'), { code: 'STORE_UNAVAILABLE', retriable: true });
      }
      return inner.write(readings);
    },
  };
  return {
    store,
    hold() {
      gate = new Promise((r) => (open = r));
    },
    release: () => open(),
    failNext(n: number) {
      failures = n;
    },
    writes: () => writes,
  };
}

let registry: ReturnType<typeof createMemoryRegistryStore>;
let gateway: Gateway;
let url: string;
let svc: { username: string; secret: string };
let dev: { username: string; secret: string };
const open: Array<{ close(): Promise<void> } | MqttClient> = [];

beforeEach(async () => {
  registry = createMemoryRegistryStore();
  await registry.init();
  svc = await provisionService(registry, 'wattproof-ingest', 'service');
  dev = await provisionDevice(registry, ref);
  gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0 }));
  url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
});

afterEach(async () => {
  for (const o of open.splice(0).reverse()) await ('endAsync' in o ? o.endAsync(true) : o.close()).catch(() => undefined);
  await gateway.close();
});

function ingestWith(store: ReadingStore, extra: Partial<Parameters<typeof configWith<typeof ingestConfigSchema>>[1]> = {}, metrics?: Registry): Ingest {
  const ingest = createIngest(
    { readings: store, registry, clock: () => T0 + 86_400_000, ...(metrics ? { metrics } : {}) },
    configWith(ingestConfigSchema, { INGEST_MQTT_URL: url, INGEST_MQTT_PASSWORD: svc.secret, INGEST_FLUSH_INTERVAL_MS: 20, INGEST_RETRY_MAX_DELAY_MS: 200, INGEST_CLOSE_TIMEOUT_MS: 500, ...extra }),
  );
  open.push(ingest);
  return ingest;
}

const msg = (seq: number, i: number, value = i) => JSON.stringify({ seq, readings: [{ ts: T0 + i * 900_000, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value }] });

async function device(): Promise<MqttClient> {
  const c = await connectClient(url, { username: dev.username, password: dev.secret, clientId: 'dev-1' });
  open.push(c);
  return c;
}

describe('ingest over a real gateway', () => {
  it('stores valid readings and dead-letters bad messages without losing the ones around them', async () => {
    const store = createMemoryReadingStore();
    await store.init();
    const ingest = ingestWith(store);
    await ingest.start();
    const d = await device();
    await d.publishAsync(readingsTopic(ref), msg(1, 0), { qos: 1 });
    await d.publishAsync(readingsTopic(ref), '{"seq":2,"readings":[{"ts":"yesterday"}]}', { qos: 1 });
    await d.publishAsync(readingsTopic(ref), 'not json', { qos: 1 });
    await d.publishAsync(readingsTopic(ref), msg(4, 1), { qos: 1 });
    await waitFor(async () => (await store.query({ ...ref, from: T0, to: T0 + 86_400_000 })).length === 2 && (await registry.countDeadLetters()) === 2);
    const letters = await registry.listDeadLetters();
    expect(letters.map((l) => l.code).sort()).toEqual(['CONTRACT_PAYLOAD_NOT_JSON', 'CONTRACT_SCHEMA_INVALID']);
    expect(letters.find((l) => l.code === 'CONTRACT_PAYLOAD_NOT_JSON')!.payload).toBe('not json');
    expect(await registry.getMeter(ref)).toBeDefined();
  });

  it('does not acknowledge until the write is durable: a crashed ingest gets the messages again', async () => {
    // The first ingest's store never confirms a write, so nothing may be acknowledged.
    const stuck = controllableStore(createMemoryReadingStore());
    stuck.hold();
    const first = ingestWith(stuck.store);
    await first.start();
    const d = await device();
    for (let i = 0; i < 20; i++) await d.publishAsync(readingsTopic(ref), msg(i + 1, i), { qos: 1 });
    await waitFor(() => stuck.writes() > 0, 5000, 'a write to start');
    await first.abort(); // like a kill: the connection drops, no acknowledgements sent
    // A second ingest resumes the persistent session on a store that works.
    const store = createMemoryReadingStore();
    const second = ingestWith(store);
    await second.start();
    await waitFor(async () => (await store.query({ ...ref, from: T0, to: T0 + 86_400_000 })).length === 20, 15_000, '20 readings');
    const rows = await store.query({ ...ref, from: T0, to: T0 + 86_400_000 });
    expect(rows.map((r) => r.value)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('retries while the store is down and loses nothing', async () => {
    const ctl = controllableStore(createMemoryReadingStore());
    ctl.failNext(3);
    const ingest = ingestWith(ctl.store);
    await ingest.start();
    const d = await device();
    for (let i = 0; i < 10; i++) await d.publishAsync(readingsTopic(ref), msg(i + 1, i), { qos: 1 });
    await waitFor(async () => (await ctl.store.query({ ...ref, from: T0, to: T0 + 86_400_000 })).length === 10, 15_000, '10 readings');
    expect(ctl.writes()).toBeGreaterThan(3);
  });

  it('bounds the payload bytes it holds unacknowledged (INGEST_MAX_PENDING_BYTES), then stores everything', async () => {
    const ctl = controllableStore(createMemoryReadingStore());
    ctl.hold();
    const metrics = new Registry();
    const pendingBytes = async () => (await metrics.getSingleMetric('wattproof_ingest_pending_bytes')!.get()).values[0]?.value ?? Number.NaN;
    const ingest = ingestWith(ctl.store, { INGEST_MAX_PENDING_BYTES: 64 * 1024 }, metrics);
    await ingest.start();
    const d = await device();
    // 20 messages of 100 30-second readings (within the ingest clock's day), about 13 KB each: 260 KB in all, four times the bound.
    const big = (m: number) =>
      JSON.stringify({
        seq: m + 1,
        readings: Array.from({ length: 100 }, (_, k) => ({ ts: T0 + (m * 100 + k) * 30_000, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 30, value: m * 100 + k })),
      });
    const size = Buffer.byteLength(big(0));
    expect(size).toBeGreaterThan(10_000);
    const acked = Array.from({ length: 20 }, (_, m) => d.publishAsync(readingsTopic(ref), big(m), { qos: 1 }));
    await waitFor(() => ctl.writes() > 0, 5000, 'a write to start');
    // While the store holds the write, the ingest takes messages only up to the byte bound.
    let most = 0;
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      most = Math.max(most, ingest.pipeline.pending());
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(Math.ceil((64 * 1024) / size) + 1);
    // Reading stopped once the payload held reached the bound (messages differ by a few bytes).
    const held = await pendingBytes();
    expect(held).toBeGreaterThanOrEqual(64 * 1024);
    expect(held).toBeLessThan(64 * 1024 + 1.1 * size);
    ctl.release();
    await Promise.all(acked);
    await waitFor(async () => (await pendingBytes()) === 0, 5000, 'no payload held');
    await waitFor(async () => (await ctl.store.query({ ...ref, from: T0, to: T0 + 86_400_000 })).length === 2000, 15_000, '2,000 readings');
  });
});
