/**
 * Graceful shutdown: `wattproof ingest` (a child process, InfluxDB store) receives SIGTERM while a
 * device streams readings. It exits 0 within INGEST_CLOSE_TIMEOUT_MS plus a margin; every
 * reading whose PUBACK reached the gateway is in InfluxDB at that moment; a new ingest on the
 * same session then stores the rest, each reading exactly once. Also checks /ready and the
 * reliability metrics of the process.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configWith } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService, type Gateway } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createInfluxReadingStore } from '@wattproof/ingest/stores';
import { startInfluxDb, type TestInfluxDb } from '../support/influxdb.js';
import { connectClient, waitFor } from '../support/mqtt.js';
import { freePort } from '../support/net.js';
import { startService, type Service } from '../support/processes.js';
import { NOW, STEP_MS, T0, publishRange, recordIngestAcks, valueOf } from './harness.js';

const CLOSE_TIMEOUT_MS = 5_000;
const N = 2_000;

let influx: TestInfluxDb;
let gateway: Gateway;
let dataDir: string;
const services: Service[] = [];

beforeAll(async () => {
  influx = await startInfluxDb();
  dataDir = await mkdtemp(join(tmpdir(), 'wattproof-sigterm-'));
});
afterAll(async () => {
  for (const s of services) await s.stop('SIGKILL');
  await gateway?.close();
  await influx?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('wattproof ingest on SIGTERM', () => {
  it('flushes, acknowledges and exits 0 within the bound; nothing acknowledged is lost', async () => {
    const registry = createMemoryRegistryStore();
    await registry.init();
    const ref = { site: 'sigterm', building: 'b1', meter: 'm1' };
    const svc = await provisionService(registry, 'ingest-sigterm', 'service');
    const dev = await provisionDevice(registry, ref);
    gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0 }));
    const mqttUrl = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
    const acks = recordIngestAcks(gateway, 'ingest-sigterm');
    const httpPort = await freePort();
    const env = {
      INFLUX_URL: influx.url,
      INFLUX_DATABASE: influx.database,
      WATTPROOF_DATA_DIR: dataDir,
      INGEST_MQTT_URL: mqttUrl,
      INGEST_MQTT_USERNAME: svc.username,
      INGEST_MQTT_PASSWORD: svc.secret,
      INGEST_MQTT_CLIENT_ID: 'ingest-sigterm',
      INGEST_HTTP_PORT: String(httpPort),
      INGEST_FLUSH_INTERVAL_MS: '50',
      INGEST_BATCH_MAX_READINGS: '100',
      INGEST_CLOSE_TIMEOUT_MS: String(CLOSE_TIMEOUT_MS),
      INGEST_MAX_FUTURE_S: String(86_400 * 7),
      LOG_LEVEL: 'warn',
    };
    const first = startService(['ingest'], env);
    services.push(first);
    await first.waitForOutput('Wattproof ingest:');
    const ready = await fetch(`http://127.0.0.1:${httpPort}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', reasons: [] });

    const device = await connectClient(mqttUrl, { username: dev.username, password: dev.secret, clientId: 'dev-sigterm', clean: false });
    const published = publishRange(device, ref, 0, N);
    await waitFor(() => acks.size >= 200, 30_000, 'the first acknowledgements');
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    for (const name of ['wattproof_ingest_pending_messages', 'wattproof_ingest_batch_write_seconds_bucket', 'wattproof_ingest_rejections_total', 'wattproof_ingest_redeliveries_total', 'wattproof_ingest_unacknowledged_messages', 'wattproof_ingest_broker_connected 1']) {
      expect(metrics).toContain(name);
    }

    const termAt = Date.now();
    await first.stop('SIGTERM');
    const tookMs = Date.now() - termAt;
    expect(first.child.exitCode, first.output()).toBe(0);
    expect(tookMs).toBeLessThan(CLOSE_TIMEOUT_MS + 10_000);

    // Everything acknowledged before the exit is durable.
    const store = createInfluxReadingStore({ url: influx.url, database: influx.database });
    const stored = async () => (await store.query({ ...ref, quantity: 'electricity', kind: 'interval', from: T0, to: NOW })).map((r) => r.ts);
    const atExit = new Set(await stored());
    const acked = [...acks.keys()];
    expect(acked.length).toBeGreaterThan(0);
    expect(acked.filter((ts) => !atExit.has(ts))).toEqual([]);

    // A new ingest on the same persistent session gets the rest.
    const second = startService(['ingest'], { ...env, INGEST_HTTP_PORT: String(await freePort()) });
    services.push(second);
    await second.waitForOutput('Wattproof ingest:');
    await published;
    await waitFor(async () => (await stored()).length >= N, 60_000, `${N} readings stored`);
    const rows = await store.query({ ...ref, quantity: 'electricity', kind: 'interval', from: T0, to: NOW });
    expect(rows.map((r) => r.ts)).toEqual(Array.from({ length: N }, (_, i) => T0 + i * STEP_MS));
    expect(rows.map((r) => r.value)).toEqual(Array.from({ length: N }, (_, i) => valueOf(i)));
    await device.endAsync(true);
    await second.stop('SIGTERM');
    expect(second.child.exitCode, second.output()).toBe(0);
    await store.close();
  }, 180_000);

  it('exits 0 within the bound while the store is down, acknowledging nothing it could not store', async () => {
    const registry = createMemoryRegistryStore();
    await registry.init();
    const ref = { site: 'sigterm-down', building: 'b1', meter: 'm1' };
    const svc = await provisionService(registry, 'ingest-sigterm-down', 'service');
    const dev = await provisionDevice(registry, ref);
    await gateway?.close();
    gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0 }));
    const mqttUrl = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
    const acks = recordIngestAcks(gateway, 'ingest-sigterm-down');
    const env = {
      INFLUX_URL: influx.url,
      INFLUX_DATABASE: influx.database,
      INFLUX_TIMEOUT_MS: '1000',
      WATTPROOF_DATA_DIR: dataDir,
      INGEST_MQTT_URL: mqttUrl,
      INGEST_MQTT_USERNAME: svc.username,
      INGEST_MQTT_PASSWORD: svc.secret,
      INGEST_MQTT_CLIENT_ID: 'ingest-sigterm-down',
      INGEST_HTTP_PORT: String(await freePort()),
      INGEST_FLUSH_INTERVAL_MS: '50',
      INGEST_CLOSE_TIMEOUT_MS: String(CLOSE_TIMEOUT_MS),
      INGEST_RETRY_MAX_DELAY_MS: '500',
      INGEST_MAX_FUTURE_S: String(86_400 * 7),
      LOG_LEVEL: 'warn',
    };
    const ingest = startService(['ingest'], env);
    services.push(ingest);
    await ingest.waitForOutput('Wattproof ingest:');
    const device = await connectClient(mqttUrl, { username: dev.username, password: dev.secret, clientId: 'dev-sigterm-down', clean: false });
    await publishRange(device, ref, 0, 50);
    await waitFor(() => acks.size === 50, 30_000, 'the first 50 stored and acknowledged');

    await influx.kill('SIGKILL');
    try {
      await publishRange(device, ref, 50, 100);
      await new Promise((r) => setTimeout(r, 1_000));
      const termAt = Date.now();
      ingest.child.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => {
        const t = setTimeout(() => resolve(-1), CLOSE_TIMEOUT_MS + 10_000);
        ingest.child.once('exit', (c) => {
          clearTimeout(t);
          resolve(c);
        });
      });
      expect(code, `exit code (-1: still running after the bound)\n${ingest.output()}`).toBe(0);
      expect(Date.now() - termAt).toBeLessThan(CLOSE_TIMEOUT_MS + 10_000);
      expect(acks.size).toBe(50);
    } finally {
      await influx.restart();
    }
    // The un-acknowledged 50 are stored by the next ingest.
    const next = startService(['ingest'], { ...env, INGEST_HTTP_PORT: String(await freePort()) });
    services.push(next);
    await next.waitForOutput('Wattproof ingest:');
    const store = createInfluxReadingStore({ url: influx.url, database: influx.database });
    await waitFor(async () => (await store.query({ ...ref, from: T0, to: NOW })).length >= 100, 60_000, '100 readings stored');
    const rows = await store.query({ ...ref, quantity: 'electricity', kind: 'interval', from: T0, to: NOW });
    expect(rows.map((r) => r.value)).toEqual(Array.from({ length: 100 }, (_, i) => valueOf(i)));
    await device.endAsync(true);
    await next.stop('SIGTERM');
    await store.close();
  }, 180_000);
});
