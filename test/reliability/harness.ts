/**
 * Rig for the fault-injection tests: a real aedes gateway on TCP (memory registry), the ingest
 * over real MQTT into a real InfluxDB (Debian's influxd, see ../support/influxdb.ts), real MQTT.js
 * devices. Each test uses its own site, so one InfluxDB serves a whole file.
 */
import { expect } from 'vitest';
import type { MqttClient, IClientOptions } from 'mqtt';
import { Registry } from 'prom-client';
import { configWith, readingsTopic, type MeterRef, type ReadingStore } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService, type Gateway } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createIngest, ingestConfigSchema, type Ingest, type IngestConfig } from '@wattproof/ingest';
import { createInfluxReadingStore } from '@wattproof/ingest/stores';
import { connectClient, waitFor } from '../support/mqtt.js';

/** Readings are 15-min intervals from T0; the ingest clock is NOW (well after the last one). */
export const T0 = Date.parse('2026-10-01T00:00:00+08:00');
export const NOW = Date.parse('2026-11-01T00:00:00+08:00');
export const STEP_MS = 900_000;

/** Value of reading i: distinct and not round, to catch mix-ups. */
export const valueOf = (i: number) => Math.round((i * 1.5 + 0.123) * 1000) / 1000;

export function readingMessage(seq: number, indexes: readonly number[], quantity: 'electricity' | 'heat' | 'water' | 'gas' = 'electricity'): string {
  const unit = { electricity: 'kWh', heat: 'kWh', water: 'm3', gas: 'm3' }[quantity];
  return JSON.stringify({ seq, readings: indexes.map((i) => ({ ts: T0 + i * STEP_MS, quantity, unit, kind: 'interval', intervalS: 900, value: valueOf(i) })) });
}

export interface Rig {
  /** The running gateway (a new one after `restartGateway()`). */
  readonly gateway: Gateway;
  readonly mqttUrl: string;
  readonly ingest: Ingest;
  readonly store: ReadingStore;
  readonly metrics: Registry;
  readonly ref: MeterRef;
  /** A device session (clean session off) that keeps un-acknowledged QoS 1 messages and resends them. */
  device(options?: IClientOptions): Promise<MqttClient>;
  /** Stored electricity readings of the rig's meter, earliest first. */
  stored(quantity?: string): Promise<Array<{ ts: number; value: number }>>;
  /** Asserts readings 0..n-1 are stored, each exactly once, with their values. */
  expectExactly(n: number, quantity?: string): Promise<void>;
  /** Closes the gateway (in-memory sessions are lost) and starts a new one on the same port and registry. */
  stopGateway(): Promise<void>;
  startGateway(): Promise<void>;
  close(): Promise<void>;
}

export interface RigOptions {
  readonly influxUrl: string;
  readonly database: string;
  readonly site: string;
  readonly ingest?: Partial<IngestConfig>;
  /** The ingest connects here instead of the gateway (e.g. a TCP proxy); gets the gateway's port. */
  readonly ingestUrl?: (gatewayPort: number) => Promise<string> | string;
  readonly gatewayPort?: number;
  /** Timeout of each InfluxDB request, ms (2 s by default). */
  readonly storeTimeoutMs?: number;
}

export async function createRig(options: RigOptions): Promise<Rig> {
  const registry = createMemoryRegistryStore();
  await registry.init();
  const ref = { site: options.site, building: 'b1', meter: 'm1' };
  const svc = await provisionService(registry, `ingest-${options.site}`, 'service');
  const dev = await provisionDevice(registry, ref);
  let gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: options.gatewayPort ?? 0 }));
  const port = (await gateway.start()).mqtt.port;
  const mqttUrl = `mqtt://127.0.0.1:${port}`;
  const store = createInfluxReadingStore({ url: options.influxUrl, database: options.database, timeoutMs: options.storeTimeoutMs ?? 2_000 });
  await store.init();
  const metrics = new Registry();
  const ingest = createIngest(
    { readings: store, registry, metrics, clock: () => NOW },
    configWith(ingestConfigSchema, {
      INGEST_MQTT_URL: options.ingestUrl ? await options.ingestUrl(port) : mqttUrl,
      INGEST_MQTT_USERNAME: svc.username,
      INGEST_MQTT_PASSWORD: svc.secret,
      INGEST_MQTT_CLIENT_ID: `ingest-${options.site}`,
      INGEST_FLUSH_INTERVAL_MS: 20,
      INGEST_RETRY_MAX_DELAY_MS: 500,
      INGEST_CLOSE_TIMEOUT_MS: 2_000,
      ...options.ingest,
    }),
  );
  await ingest.start();
  const clients: MqttClient[] = [];
  const stored = async (quantity = 'electricity') =>
    (await store.query({ ...ref, quantity: quantity as 'electricity', kind: 'interval', from: T0, to: NOW })).map((r) => ({ ts: r.ts, value: r.value }));
  return {
    get gateway() {
      return gateway;
    },
    async stopGateway() {
      await gateway.close();
    },
    async startGateway() {
      gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: port }));
      await gateway.start();
    },
    mqttUrl,
    ingest,
    store,
    metrics,
    ref,
    async device(extra = {}) {
      const c = await connectClient(mqttUrl, { username: dev.username, password: dev.secret, clientId: `dev-${options.site}`, clean: false, ...extra });
      clients.push(c);
      return c;
    },
    stored,
    async expectExactly(n, quantity = 'electricity') {
      await waitFor(async () => (await stored(quantity)).length >= n && ingest.pipeline.pending() === 0, 60_000, `${n} ${quantity} readings stored`);
      const rows = await stored(quantity);
      expect(rows.map((r) => r.ts)).toEqual(Array.from({ length: n }, (_, i) => T0 + i * STEP_MS));
      expect(rows.map((r) => r.value)).toEqual(Array.from({ length: n }, (_, i) => valueOf(i)));
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
      await ingest.close().catch(() => undefined);
      await gateway.close().catch(() => undefined);
      await store.close();
      await registry.close();
    },
  };
}

/** Publishes readings [from, to) one per message at QoS 1 without waiting; resolves when all are PUBACKed by the gateway. */
export function publishRange(device: MqttClient, ref: MeterRef, from: number, to: number): Promise<void> {
  const acks: Array<Promise<unknown>> = [];
  for (let i = from; i < to; i++) acks.push(device.publishAsync(readingsTopic(ref), readingMessage(i + 1, [i]), { qos: 1 }));
  return Promise.all(acks).then(() => undefined);
}

/** Records the ingest's PUBACKs as the gateway receives them: reading ts -> time of the ack. */
export function recordIngestAcks(gateway: Gateway, ingestClientId: string): Map<number, number> {
  const acks = new Map<number, number>();
  gateway.broker().on('ack', (packet, client) => {
    if (client?.id !== ingestClientId || !packet || !('payload' in packet)) return;
    const body = JSON.parse(String(packet.payload)) as { readings: Array<{ ts: number }> };
    for (const r of body.readings) if (!acks.has(r.ts)) acks.set(r.ts, Date.now());
  });
  return acks;
}

export { waitFor };
