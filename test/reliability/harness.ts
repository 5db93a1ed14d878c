/**
 * Rig for the fault-injection tests: a real aedes gateway on TCP — in this process (memory
 * registry) or as a `wattproof gateway` child process (embedded registry in a temp data dir) —,
 * the ingest over real MQTT into a real InfluxDB (Debian's influxd, see ../support/influxdb.ts),
 * real MQTT.js devices. Each test uses its own site, so one InfluxDB serves a whole file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { z } from 'zod';
import type { MqttClient, IClientOptions } from 'mqtt';
import { Registry } from 'prom-client';
import { configWith, readingsTopic, type MeterRef, type ReadingStore } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService, type Gateway } from '@wattproof/gateway';
import { createMemoryRegistryStore, createRegistryStore, registryConfigSchema } from '@wattproof/gateway/registry';
import { createIngest, ingestConfigSchema, type Ingest, type IngestConfig } from '@wattproof/ingest';
import { createInfluxReadingStore } from '@wattproof/ingest/stores';
import { connectClient, waitFor } from '../support/mqtt.js';
import { freePort } from '../support/net.js';
import { startService, type Service } from '../support/processes.js';

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

/** Gateway config overrides, as the schema takes them. */
export type GatewayOverrides = Partial<z.input<typeof gatewayConfigSchema>>;

export interface Rig {
  /** The running in-process gateway (a new one after a restart); throws when the gateway is a child process. */
  readonly gateway: Gateway;
  readonly mqttUrl: string;
  /** The running ingest (a new one after `startIngest()`). */
  readonly ingest: Ingest;
  readonly store: ReadingStore;
  /** Metrics of the running ingest. */
  readonly metrics: Registry;
  readonly ref: MeterRef;
  /** Client id of the ingest's persistent session. */
  readonly ingestClientId: string;
  /** GATEWAY_PERSISTENCE_DIR, when the sessions are on disk. */
  readonly sessionDir: string | undefined;
  /** A device session (clean session off) that keeps un-acknowledged QoS 1 messages and resends them. */
  device(options?: IClientOptions): Promise<MqttClient>;
  /** Stored electricity readings of the rig's meter, earliest first. */
  stored(quantity?: string): Promise<Array<{ ts: number; value: number }>>;
  /** Asserts readings 0..n-1 are stored, each exactly once, with their values. */
  expectExactly(n: number, quantity?: string): Promise<void>;
  /** Stops the gateway: `close()` in process; SIGTERM or SIGKILL for a child process. */
  stopGateway(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts a new gateway on the same port, registry and session directory. */
  startGateway(): Promise<void>;
  /** Closes the ingest (it disconnects; its persistent session stays at the gateway). */
  stopIngest(): Promise<void>;
  /** Starts a new ingest with the same client id (fresh metrics). */
  startIngest(): Promise<void>;
  /** Value of a gateway metric (summed over the series matching `labels`), from its registry or its /metrics. */
  gatewayMetric(name: string, labels?: Record<string, string>): Promise<number>;
  /** The gateway's metrics text (one scrape), for values that must come from the same instant. */
  gatewayMetricsText(): Promise<string>;
  /** The gateway's readiness: `ready()` in process, GET /ready of a child process. */
  gatewayReady(): Promise<{ ready: boolean; reasons: string[] }>;
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
  /** `disk`: the gateway keeps its sessions in a temp GATEWAY_PERSISTENCE_DIR (removed on close). Default memory. */
  readonly sessions?: 'memory' | 'disk';
  /** Further gateway config. */
  readonly gateway?: GatewayOverrides;
  /** Run the gateway as a `wattproof gateway` child process. */
  readonly gatewayProcess?: boolean;
  /** Start the ingest with the rig (default true). */
  readonly startIngest?: boolean;
}

/** Sum of the samples of `name` matching `labels` in a Prometheus text exposition. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const series = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => series.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

export async function createRig(options: RigOptions): Promise<Rig> {
  const ref = { site: options.site, building: 'b1', meter: 'm1' };
  const ingestClientId = `ingest-${options.site}`;
  const tempDir = options.sessions === 'disk' || options.gatewayProcess ? await mkdtemp(join(tmpdir(), `wattproof-${options.site}-`)) : undefined;
  const sessionDir = options.sessions === 'disk' ? join(tempDir!, 'gateway-sessions') : undefined;
  // The ingest's registry (meters it registers); in process the gateway shares it for credentials.
  const registry = createMemoryRegistryStore();
  await registry.init();
  let svc: { username: string; secret: string };
  let dev: { username: string; secret: string };
  if (options.gatewayProcess) {
    // The child's embedded registry: provisioned here, closed before the child opens it.
    const childRegistry = createRegistryStore(configWith(registryConfigSchema, { REGISTRY_STORE: 'embedded', WATTPROOF_DATA_DIR: tempDir! }));
    await childRegistry.init();
    svc = await provisionService(childRegistry, ingestClientId, 'service');
    dev = await provisionDevice(childRegistry, ref);
    await childRegistry.close();
  } else {
    svc = await provisionService(registry, ingestClientId, 'service');
    dev = await provisionDevice(registry, ref);
  }
  const gatewayConfig: GatewayOverrides = { ...(sessionDir ? { GATEWAY_PERSISTENCE_DIR: sessionDir } : {}), ...options.gateway };

  let gateway: Gateway | undefined;
  let gatewayMetrics = new Registry();
  let child: Service | undefined;
  let httpPort = 0;
  const port = options.gatewayPort ?? (options.gatewayProcess ? await freePort() : 0);
  let boundPort = port;

  async function gatewayMetricsText(): Promise<string> {
    return child ? (await gatewayHttp('/metrics')).text() : gatewayMetrics.metrics();
  }

  async function startGateway(): Promise<void> {
    if (options.gatewayProcess) {
      httpPort ||= await freePort();
      const env: Record<string, string> = {
        WATTPROOF_DATA_DIR: tempDir!,
        REGISTRY_STORE: 'embedded',
        GATEWAY_MQTT_PORT: String(boundPort),
        GATEWAY_HTTP_PORT: String(httpPort),
        LOG_LEVEL: 'warn',
        ...Object.fromEntries(Object.entries(gatewayConfig).map(([k, v]) => [k, String(v)])),
      };
      child = startService(['gateway'], env);
      await child.waitForOutput('Wattproof gateway: mqtt://', 60_000);
      return;
    }
    gatewayMetrics = new Registry();
    gateway = createGateway({ registry, metrics: gatewayMetrics }, configWith(gatewayConfigSchema, { ...gatewayConfig, GATEWAY_MQTT_PORT: boundPort }));
    boundPort = (await gateway.start()).mqtt.port;
  }
  await startGateway();
  const mqttUrl = `mqtt://127.0.0.1:${boundPort}`;

  const store = createInfluxReadingStore({ url: options.influxUrl, database: options.database, timeoutMs: options.storeTimeoutMs ?? 2_000 });
  await store.init();
  const ingestConfig = configWith(ingestConfigSchema, {
    INGEST_MQTT_URL: options.ingestUrl ? await options.ingestUrl(boundPort) : mqttUrl,
    INGEST_MQTT_USERNAME: svc.username,
    INGEST_MQTT_PASSWORD: svc.secret,
    INGEST_MQTT_CLIENT_ID: ingestClientId,
    INGEST_FLUSH_INTERVAL_MS: 20,
    INGEST_RETRY_MAX_DELAY_MS: 500,
    INGEST_CLOSE_TIMEOUT_MS: 2_000,
    ...options.ingest,
  });
  let ingest: Ingest | undefined;
  let metrics = new Registry();
  async function startIngest(): Promise<void> {
    metrics = new Registry();
    ingest = createIngest({ readings: store, registry, metrics, clock: () => NOW }, ingestConfig);
    await ingest.start();
  }
  if (options.startIngest !== false) await startIngest();

  const clients: MqttClient[] = [];
  const stored = async (quantity = 'electricity') =>
    (await store.query({ ...ref, quantity: quantity as 'electricity', kind: 'interval', from: T0, to: NOW })).map((r) => ({ ts: r.ts, value: r.value }));
  const gatewayHttp = (path: string) => fetch(`http://127.0.0.1:${httpPort}${path}`);
  return {
    get gateway() {
      if (!gateway) throw new Error(options.gatewayProcess ? 'the gateway is a child process' : 'gateway not started');
      return gateway;
    },
    get ingest() {
      if (!ingest) throw new Error('ingest not started');
      return ingest;
    },
    get metrics() {
      return metrics;
    },
    mqttUrl,
    store,
    ref,
    ingestClientId,
    sessionDir,
    async stopGateway(signal = 'SIGTERM') {
      if (child) {
        await child.stop(signal);
        child = undefined;
      } else {
        await gateway?.close();
        gateway = undefined;
      }
    },
    startGateway,
    async stopIngest() {
      await ingest?.close();
      ingest = undefined;
    },
    startIngest,
    gatewayMetricsText,
    async gatewayMetric(name, labels) {
      return metricValue(await gatewayMetricsText(), name, labels);
    },
    async gatewayReady() {
      if (!child) return gateway!.ready();
      const res = await gatewayHttp('/ready');
      const body = (await res.json()) as { reasons?: string[] };
      return { ready: res.status === 200, reasons: body.reasons ?? [] };
    },
    async device(extra = {}) {
      const c = await connectClient(mqttUrl, { username: dev.username, password: dev.secret, clientId: `dev-${options.site}`, clean: false, ...extra });
      clients.push(c);
      return c;
    },
    stored,
    async expectExactly(n, quantity = 'electricity') {
      await waitFor(async () => (await stored(quantity)).length >= n && (ingest?.pipeline.pending() ?? 0) === 0, 60_000, `${n} ${quantity} readings stored`);
      const rows = await stored(quantity);
      expect(rows.map((r) => r.ts)).toEqual(Array.from({ length: n }, (_, i) => T0 + i * STEP_MS));
      expect(rows.map((r) => r.value)).toEqual(Array.from({ length: n }, (_, i) => valueOf(i)));
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
      await ingest?.close().catch(() => undefined);
      await gateway?.close().catch(() => undefined);
      await child?.stop('SIGKILL');
      await store.close();
      await registry.close();
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
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
