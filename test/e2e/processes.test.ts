/**
 * The distributed deployment: `wattproof gateway`, `wattproof ingest` and `wattproof api` as
 * separate processes sharing a real PostgreSQL registry and a real InfluxDB, devices created
 * with the CLI, readings published by real MQTT clients and read back over HTTP. The ingest is
 * killed with SIGKILL while messages are pending and restarted: nothing acknowledged is lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { readingsTopic } from '@wattproof/core';
import { startInfluxDb, type TestInfluxDb } from '../support/influxdb.js';
import { connectClient, waitFor } from '../support/mqtt.js';
import { freePort } from '../support/net.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { runCli, startService, type Service } from '../support/processes.js';

let influx: TestInfluxDb;
let pg: TestPostgres;
let env: Record<string, string>;
const services: Service[] = [];
const clients: MqttClient[] = [];
const T0 = Date.parse('2026-11-01T00:00:00+08:00');
const ref = { site: 'yz', building: 'tower-a', meter: 'main' };

beforeAll(async () => {
  [influx, pg] = await Promise.all([startInfluxDb(), startPostgres()]);
  const [mqttPort, gwHttp, ingestHttp, apiPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  env = {
    INFLUX_URL: influx.url,
    INFLUX_DATABASE: influx.database,
    REGISTRY_POSTGRES_URL: await pg.createDatabase('processes'),
    GATEWAY_MQTT_PORT: String(mqttPort),
    GATEWAY_HTTP_PORT: String(gwHttp),
    INGEST_HTTP_PORT: String(ingestHttp),
    API_PORT: String(apiPort),
    INGEST_MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`,
    INGEST_MQTT_PASSWORD: 'a-shared-ingest-secret-for-tests',
    INGEST_FLUSH_INTERVAL_MS: '20',
    LOG_LEVEL: 'warn',
  };
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  for (const s of services.reverse()) await s.stop();
  await influx?.stop();
  await pg?.stop();
});

describe('gateway, ingest and api as separate processes on InfluxDB + PostgreSQL', () => {
  it('carries readings from a device to the API, and loses none when the ingest is killed', async () => {
    const svc = await runCli(['device', 'add-service', 'wattproof-ingest', '--secret-env', 'INGEST_MQTT_PASSWORD'], env);
    expect(svc.code, svc.stderr).toBe(0);
    const dev = await runCli(['device', 'add', 'yz/tower-a/main'], env);
    expect(dev.code, dev.stderr).toBe(0);
    const secret = /MQTT password: (\S+)/.exec(dev.stdout)?.[1];
    expect(secret).toBeDefined();
    // The API needs a key on every data route: an admin makes one with the CLI on the shared registry.
    const made = await runCli(['apikey', 'add', '--role', 'admin', '--label', 'e2e processes'], env);
    expect(made.code, made.stderr).toBe(0);
    const apiKey = /key:\s+(wp_\S+)/.exec(made.stdout)![1]!;
    const auth = { headers: { authorization: `Bearer ${apiKey}` } };

    const gateway = startService(['gateway'], env);
    services.push(gateway);
    await gateway.waitForOutput('Wattproof gateway: mqtt://');
    let ingest = startService(['ingest'], env);
    services.push(ingest);
    await ingest.waitForOutput('Wattproof ingest:');
    const api = startService(['api'], env);
    services.push(api);
    await api.waitForOutput('Wattproof API on');

    const device = await connectClient(`mqtt://127.0.0.1:${env.GATEWAY_MQTT_PORT}`, { username: 'yz/tower-a/main', password: secret!, clientId: 'tower-a-main' });
    clients.push(device);
    const publish = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await device.publishAsync(readingsTopic(ref), JSON.stringify({ seq: i, readings: [{ ts: T0 + i * 900_000, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value: i + 0.5 }] }), { qos: 1 });
      }
    };
    const apiUrl = `http://127.0.0.1:${env.API_PORT}`;
    const stored = async () => {
      const res = await fetch(`${apiUrl}/api/v1/meters/yz/tower-a/main/readings?from=${T0}&to=${T0 + 400 * 900_000}&limit=1000`, auth);
      if (res.status !== 200) return -1;
      return ((await res.json()) as { readings: unknown[] }).readings.length;
    };

    await publish(0, 100);
    await waitFor(async () => (await stored()) === 100, 30_000, '100 readings via the API');

    // Kill the ingest without warning while more readings arrive; the gateway keeps its session.
    await ingest.stop('SIGKILL');
    await publish(100, 250);
    ingest = startService(['ingest'], env);
    services.push(ingest);
    await ingest.waitForOutput('Wattproof ingest:');
    await publish(250, 300);
    await waitFor(async () => (await stored()) === 300, 60_000, '300 readings via the API');

    const body = (await (await fetch(`${apiUrl}/api/v1/meters/yz/tower-a/main/readings?from=${T0}&to=${T0 + 400 * 900_000}&limit=1000`, auth)).json()) as { readings: Array<{ ts: number; value: number }> };
    expect(body.readings.map((r) => r.value)).toEqual(Array.from({ length: 300 }, (_, i) => i + 0.5));

    const daily = (await (await fetch(`${apiUrl}/api/v1/meters/yz/tower-a/main/readings?from=${T0}&to=${T0 + 4 * 86_400_000}&bucket=1d`, auth)).json()) as { rows: Array<{ count: number; coverage: number }> };
    expect(daily.rows.map((r) => r.count)).toEqual([96, 96, 96, 12]);
    expect(daily.rows[0]!.coverage).toBe(1);

    for (const port of [env.GATEWAY_HTTP_PORT, env.INGEST_HTTP_PORT, env.API_PORT]) {
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${env.GATEWAY_HTTP_PORT}/metrics`)).text();
    expect(metrics).toMatch(/wattproof_gateway_publishes_total\{result="accepted"\} 300/);
  }, 180_000);
});
