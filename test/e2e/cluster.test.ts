/**
 * Scale-out end to end (docs/SCALING.md): Redis (appendonly, fsync always), PostgreSQL registry,
 * InfluxDB, TWO `wattproof gateway` processes in cluster mode writing the readings streams, TWO
 * `wattproof ingest` workers sharing the stream shards. Devices spread over both gateways publish
 * QoS 1 readings with known values (interval meters and cumulative-register meters); mid-stream
 * one gateway node and one worker are killed with SIGKILL. The devices of the dead node reconnect
 * to the other one and resend what was not acknowledged; the surviving worker takes the dead
 * worker's shards over and processes what it had not acknowledged.
 *
 * Asserted: every reading whose PUBACK a device received is stored exactly once with its value
 * (one row per timestamp, nothing else), the register intervals derived across the take-over are
 * right, nothing is dead-lettered, and every stream entry is acknowledged in the end. A reading
 * lost anywhere (a PUBACK before the append, an XACK before the write, an entry of the dead worker
 * never claimed) fails the wait for the stored rows and then the exact comparison.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type MqttClient } from 'mqtt';
import { loadConfig, readingsTopic, READINGS_STREAM_GROUP, readingsStreamKey, type MeterRef, type ReadingStore, type RegistryStore } from '@wattproof/core';
import { provisionDevice } from '@wattproof/gateway';
import { createRegistryStore, registryConfigSchema } from '@wattproof/gateway/registry';
import { createReadingStore, readingStoreConfigSchema } from '@wattproof/ingest/stores';
import { startInfluxDb, type TestInfluxDb } from '../support/influxdb.js';
import { waitFor } from '../support/mqtt.js';
import { freePort } from '../support/net.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { startService, type Service } from '../support/processes.js';
import { startRedis, type TestRedis } from '../support/redis.js';

const SHARDS = 8;
const METERS = 8;
/** Messages per device, one reading each. */
const MESSAGES = 150;
/** QoS 1 messages a device has in flight at most. */
const WINDOW = 6;
const STEP_MS = 900_000;
// A month back, on a 15-minute boundary: in the past, within the register lookback.
const T0 = Math.floor((Date.now() - 30 * 86_400_000) / STEP_MS) * STEP_MS;

let redis: TestRedis;
let pg: TestPostgres;
let influx: TestInfluxDb;
let env: Record<string, string>;
let registry: RegistryStore;
let readings: ReadingStore;
const services: Service[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  [redis, pg, influx] = await Promise.all([startRedis(), startPostgres(), startInfluxDb()]);
  env = {
    INFLUX_URL: influx.url,
    INFLUX_DATABASE: influx.database,
    REGISTRY_POSTGRES_URL: await pg.createDatabase('cluster'),
    LOG_LEVEL: 'warn',
    GATEWAY_REDIS_URL: redis.url,
    GATEWAY_STREAM_REDIS_URL: redis.url,
    GATEWAY_STREAM_SHARDS: String(SHARDS),
    INGEST_STREAM_REDIS_URL: redis.url,
    INGEST_STREAM_LEASE_MS: '1500',
    INGEST_FLUSH_INTERVAL_MS: '50',
    // Sealing is per process; with several workers it is left to one place (docs/SCALING.md).
    INGEST_SEAL_INTERVAL_S: '0',
  };
  registry = createRegistryStore(loadConfig(registryConfigSchema, env));
  await registry.init();
  readings = createReadingStore(loadConfig(readingStoreConfigSchema, env));
  await readings.init();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
  await readings?.close();
  await registry?.close();
  await Promise.all([redis?.stop(), pg?.stop(), influx?.stop()]);
});

type Kind = 'interval' | 'register';

interface Device {
  readonly ref: MeterRef;
  readonly kind: Kind;
  readonly client: MqttClient;
  readonly acked: Set<number>;
  inFlight: number;
  /** PUBLISH packets sent again (same message id, not yet acknowledged) after a reconnect. */
  resent: number;
}

/** Register index after message i: irregular steps of 0.25 kWh multiples (exact in binary). */
function registerValue(i: number): number {
  let v = 1000;
  for (let k = 0; k <= i; k++) v += ((k % 7) + 1) * 0.25;
  return v;
}

function payload(kind: Kind, i: number): string {
  const ts = T0 + i * STEP_MS;
  const reading = kind === 'interval' ? { ts, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value: i + 0.5 } : { ts, quantity: 'electricity', unit: 'kWh', kind: 'register', value: registerValue(i) };
  return JSON.stringify({ seq: i, readings: [reading] });
}

function startDevice(ref: MeterRef, kind: Kind, secret: string, servers: Array<{ host: string; port: number }>): Promise<Device> {
  const client = connect({
    protocol: 'mqtt',
    servers,
    username: `${ref.site}/${ref.building}/${ref.meter}`,
    password: secret,
    clientId: `dev-${ref.meter}`,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: 250,
    connectTimeout: 30_000,
  });
  clients.push(client);
  const device: Device = { ref, kind, client, acked: new Set(), inFlight: 0, resent: 0 };
  const unacked = new Set<number>();
  client.on('packetsend', (p) => {
    if (p.cmd !== 'publish' || p.messageId === undefined) return;
    if (unacked.has(p.messageId)) device.resent++;
    unacked.add(p.messageId);
  });
  client.on('packetreceive', (p) => {
    if (p.cmd === 'puback' && p.messageId !== undefined) unacked.delete(p.messageId);
  });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(device));
    client.once('error', reject);
  });
}

/** Publishes every message of `device` with at most WINDOW in flight; resolves when all are acknowledged. */
async function publishAll(device: Device): Promise<void> {
  const all: Array<Promise<unknown>> = [];
  for (let i = 0; i < MESSAGES; i++) {
    while (device.inFlight >= WINDOW) await new Promise((r) => setTimeout(r, 5));
    device.inFlight++;
    all.push(
      device.client.publishAsync(readingsTopic(device.ref), payload(device.kind, i), { qos: 1 }).then(() => {
        device.inFlight--;
        device.acked.add(i);
      }),
    );
    await new Promise((r) => setTimeout(r, 8));
  }
  await Promise.all(all);
}

async function metric(port: string, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function workerShards(port: string): Promise<number[]> {
  const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
  if (!res) return [];
  const body = (await res.json()) as { components: { ingest: { stream?: { shards: number[] } } } };
  return body.components.ingest.stream?.shards ?? [];
}

describe('two gateway nodes and two ingest workers on Redis streams', () => {
  it('stores every acknowledged reading exactly once when a gateway node and a worker are killed mid-stream', async () => {
    const started = Date.now();
    const refs: Array<{ ref: MeterRef; kind: Kind; secret: string }> = [];
    for (let m = 0; m < METERS; m++) {
      const ref = { site: 'cq', building: `b${m % 4}`, meter: `m${m}` };
      const { secret } = await provisionDevice(registry, ref);
      refs.push({ ref, kind: m % 2 === 0 ? 'interval' : 'register', secret });
    }

    const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    const [mqttA, httpA, mqttB, httpB, http1, http2] = ports.map(String) as [string, string, string, string, string, string];
    const gatewayA = startService(['gateway'], { ...env, GATEWAY_MQTT_PORT: mqttA, GATEWAY_HTTP_PORT: httpA });
    const gatewayB = startService(['gateway'], { ...env, GATEWAY_MQTT_PORT: mqttB, GATEWAY_HTTP_PORT: httpB });
    const worker1 = startService(['ingest'], { ...env, INGEST_HTTP_PORT: http1, INGEST_STREAM_WORKER_ID: 'worker-1' });
    const worker2 = startService(['ingest'], { ...env, INGEST_HTTP_PORT: http2, INGEST_STREAM_WORKER_ID: 'worker-2' });
    services.push(gatewayA, gatewayB, worker1, worker2);
    await Promise.all([gatewayA, gatewayB].map((g) => g.waitForOutput('Wattproof gateway: mqtt://', 60_000)));
    await Promise.all([worker1, worker2].map((w) => w.waitForOutput('Wattproof ingest: readings streams', 60_000)));
    // Both workers hold shards before the stream starts (fair share 4 each).
    await waitFor(async () => (await workerShards(http1)).length === 4 && (await workerShards(http2)).length === 4, 30_000, 'the shards split between the workers');

    const A = { host: '127.0.0.1', port: Number(mqttA) };
    const B = { host: '127.0.0.1', port: Number(mqttB) };
    // Half the devices on each node; each knows the other node for its reconnects.
    const devices = await Promise.all(refs.map((d, m) => startDevice(d.ref, d.kind, d.secret, m < METERS / 2 ? [A, B] : [B, A])));
    const total = METERS * MESSAGES;
    const ackedNow = () => devices.reduce((n, d) => n + d.acked.size, 0);

    const upMs = Date.now() - started;
    const publishing = Promise.all(devices.map((d) => publishAll(d)));
    await waitFor(() => ackedNow() >= total * 0.25, 60_000, 'a quarter of the readings acknowledged');
    const inFlightOnA = devices.slice(0, METERS / 2).reduce((n, d) => n + d.inFlight, 0);
    await gatewayA.stop('SIGKILL');
    const ackedAtGatewayKill = ackedNow();
    await waitFor(() => ackedNow() >= total * 0.55, 60_000, 'over half the readings acknowledged');
    await worker1.stop('SIGKILL');
    const ackedAtWorkerKill = ackedNow();
    await publishing;
    const publishedMs = Date.now() - started - upMs;

    // Worker 2 takes every shard over once worker 1's leases expire, then catches up.
    await waitFor(async () => (await workerShards(http2)).length === SHARDS, 30_000, 'the surviving worker owning every shard');
    const admin = redis.client();
    const fullyAcknowledged = async () => {
      for (let s = 0; s < SHARDS; s++) {
        const [pending] = (await admin.xpending(readingsStreamKey(s), READINGS_STREAM_GROUP)) as [number];
        const groups = (await admin.xinfo('GROUPS', readingsStreamKey(s))) as unknown[][];
        const lag = groups[0]![groups[0]!.indexOf('lag') + 1];
        if (Number(pending) !== 0 || lag !== 0) return false;
      }
      return true;
    };
    await waitFor(fullyAcknowledged, 60_000, 'every stream entry acknowledged').catch(() => undefined);

    const expected = (kind: Kind) =>
      kind === 'interval'
        ? { interval: Array.from({ length: MESSAGES }, (_, i) => [T0 + i * STEP_MS, i + 0.5]), register: [] as number[][] }
        : {
            register: Array.from({ length: MESSAGES }, (_, i) => [T0 + i * STEP_MS, registerValue(i)]),
            // Derived from consecutive registers: the usage from ts_i to ts_i+1, at ts_i.
            interval: Array.from({ length: MESSAGES - 1 }, (_, i) => [T0 + i * STEP_MS, registerValue(i + 1) - registerValue(i)]),
          };
    const stored = async (d: Device) => {
      const rows = await readings.query({ ...d.ref, quantity: 'electricity', from: T0, to: T0 + (MESSAGES + 1) * STEP_MS, limit: 10 * MESSAGES });
      const of = (kind: string) => rows.filter((r) => r.kind === kind).map((r) => [r.ts, r.value]);
      return { interval: of('interval'), register: of('register'), other: rows.filter((r) => r.kind !== 'interval' && r.kind !== 'register').length };
    };
    const complete = async () => {
      for (const d of devices) {
        const s = await stored(d);
        const e = expected(d.kind);
        if (s.interval.length !== e.interval.length || s.register.length !== e.register.length) return false;
      }
      return true;
    };
    await waitFor(complete, 60_000, 'every reading stored').catch(() => undefined);

    // Every acknowledged reading (all of them, since the devices resend what was not) exactly once, with its value.
    for (const d of devices) {
      expect(d.acked.size, `${d.ref.meter} acknowledged`).toBe(MESSAGES);
      const s = await stored(d);
      const e = expected(d.kind);
      expect(s.register, `${d.ref.meter} register rows`).toEqual(e.register);
      expect(s.interval, `${d.ref.meter} interval rows`).toEqual(e.interval);
      expect(s.other).toBe(0);
    }
    expect(await fullyAcknowledged()).toBe(true);
    expect(await registry.countDeadLetters()).toBe(0);

    // The faults did hit in-flight work: devices of the dead node resent unacknowledged
    // publishes, and the surviving worker claimed entries the dead one had not acknowledged.
    const resent = devices.reduce((n, d) => n + d.resent, 0);
    const claimed = await metric(http2, 'wattproof_ingest_stream_claimed_entries_total');
    const appended = await metric(httpB, 'wattproof_gateway_stream_appends_total{result="ok"}');
    const acked2 = await metric(http2, 'wattproof_ingest_stream_acked_entries_total');
    // The figures of the run, for the record (docs/SCALING.md quotes them).
    console.log(
      `cluster e2e: ${total} readings; acknowledged before the gateway kill ${ackedAtGatewayKill} (in flight on it ${inFlightOnA}), before the worker kill ${ackedAtWorkerKill}; ` +
        `resent by devices ${resent}; entries claimed by worker 2 ${claimed}; appended by gateway B ${appended}; acked by worker 2 ${acked2}; processes up and shards split after ${upMs} ms, publishing took ${publishedMs} ms, all ${Date.now() - started} ms`,
    );
    expect(resent).toBeGreaterThan(0);
    expect(claimed).toBeGreaterThan(0);
    admin.disconnect();
  }, 240_000);
});
