/**
 * Alerts through the HTTP API (`app.inject()`), webhook delivery to a real HTTP server on
 * 127.0.0.1 (a retry after a 500, the HMAC signature, no retry after a 4xx, no secret in logs or
 * records), and a meter going silent in a run of the minimal simulator through the real gateway
 * and ingest.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { configWith, type Logger, type ReadingStore, type RegistryStore, type StoredReading } from '@wattproof/core';
import { alertsConfigSchema, createAlertEngine, verifyWebhookSignature, type AlertEngine } from '@wattproof/analytics';
import { createApiServer } from '@wattproof/dashboards';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createIngest, createMemoryReadingStore, ingestConfigSchema } from '@wattproof/ingest';
import { createSimulator } from '@wattproof/simulators';
import { createTestKey, keyedInject } from '../support/api-keys.js';
import { waitFor } from '../support/mqtt.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const NOW = Date.parse('2026-11-15T12:00:00+08:00');
const SECRET = 'webhook-signing-secret-123';
const URL_TOKEN = 'url-token-456';
const ref = { site: 'yz', building: 'b01', meter: 'elec' };

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly status: number;
}

/** A webhook receiver answering each request with the next status of `statuses` (then 200). */
async function receiver(statuses: number[]): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const status = statuses.shift() ?? 200;
      received.push({ headers: req.headers, body, status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/wattproof?token=${URL_TOKEN}`, received };
}

function capturingLogger(lines: string[]): Logger {
  const log = (obj: object | string, msg?: string) => lines.push(JSON.stringify(obj) + (msg ?? ''));
  const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
  return logger;
}

const interval = (ts: number): StoredReading => ({ ...ref, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts, value: 1.5, intervalS: 900 });

describe('alerts API and webhooks', () => {
  let readings: ReadingStore;
  let registry: RegistryStore;
  let engine: AlertEngine;
  let app: FastifyInstance;
  /** app.inject with an admin key. */
  let inject: ReturnType<typeof keyedInject>;
  let hook: Awaited<ReturnType<typeof receiver>>;
  const logs: string[] = [];
  let now = NOW;

  beforeAll(async () => {
    readings = createMemoryReadingStore();
    registry = createMemoryRegistryStore();
    await readings.init();
    await registry.init();
    await registry.upsertSite({ id: 'yz', timezone: 'Asia/Shanghai' });
    await registry.upsertMeter(ref);
    const rs: StoredReading[] = [];
    for (let ts = NOW - 6 * HOUR; ts <= NOW - 30 * MIN; ts += 15 * MIN) rs.push(interval(ts));
    await readings.write(rs);
    // The first delivery attempt gets a 500, the retry a 200.
    hook = await receiver([500]);
    engine = createAlertEngine(
      { readings, registry, clock: () => now, logger: capturingLogger(logs) },
      configWith(alertsConfigSchema, {
        ALERT_EVALUATE_INTERVAL_S: 0,
        ALERT_WEBHOOK_URLS: hook.url,
        ALERT_WEBHOOK_SECRET: SECRET,
        ALERT_WEBHOOK_BACKOFF_MS: 50,
        ALERT_WEBHOOK_MAX_ATTEMPTS: 3,
        ALERT_WEBHOOK_TIMEOUT_MS: 2000,
      }),
    );
    app = await createApiServer({ readings, registry, metrics: new Registry(), alerts: engine });
    inject = keyedInject(app, await createTestKey(registry));
  });

  afterAll(async () => {
    await app?.close();
    await engine?.close();
    await new Promise((r) => hook?.server.close(r));
  });

  it('evaluates on demand and lists nothing while the meter reports', async () => {
    const res = await inject({ method: 'POST', url: '/api/v1/alerts/evaluate' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { raised: unknown[]; rules: Record<string, { judged: number }> };
    expect(body.raised).toEqual([]);
    expect(body.rules.meter_silent!.judged).toBe(1);
    expect((await inject({ url: '/api/v1/alerts' })).json()).toEqual({ alerts: [] });
  });

  it('raises a silent-meter alert, serves it with filters, and delivers it by webhook after a 500', async () => {
    now = NOW + 2 * HOUR;
    const res = await inject({ method: 'POST', url: '/api/v1/alerts/evaluate' });
    expect(res.statusCode, res.body).toBe(200);
    const evaluation = res.json() as { raised: Array<{ id: string }> };
    expect(evaluation.raised.map((a) => a.id)).toContain('meter_silent:yz:b01:elec');

    const list = (await inject({ url: '/api/v1/alerts?site=yz&rule=meter_silent&state=active' })).json() as { alerts: Array<Record<string, unknown>> };
    expect(list.alerts).toHaveLength(1);
    expect(list.alerts[0]).toMatchObject({
      id: 'meter_silent:yz:b01:elec',
      rule: 'meter_silent',
      severity: 'warning',
      state: 'active',
      site: 'yz',
      building: 'b01',
      meter: 'elec',
      since: new Date(NOW + 2 * HOUR).toISOString(),
      lastEvaluated: new Date(NOW + 2 * HOUR).toISOString(),
      evidence: { lastReadingAt: new Date(NOW - 15 * MIN).toISOString(), usualIntervalS: 900, thresholdS: 3600 },
    });
    for (const k of ['title', 'message', 'titleZh', 'messageZh']) expect(typeof list.alerts[0]![k]).toBe('string');
    expect(((await inject({ url: '/api/v1/alerts?state=resolved' })).json() as { alerts: unknown[] }).alerts).toEqual([]);
    expect(((await inject({ url: '/api/v1/alerts?meter=other' })).json() as { alerts: unknown[] }).alerts).toEqual([]);
    const bad = await inject({ url: '/api/v1/alerts?state=bogus' });
    expect(bad.statusCode).toBe(400);
    expect((bad.json() as { error: { code: string } }).error.code).toBe('API_REQUEST_INVALID');

    await engine.deliveriesIdle();
    const raisedHooks = hook.received.filter((r) => JSON.parse(r.body).alert.id === 'meter_silent:yz:b01:elec');
    expect(raisedHooks.map((r) => r.status)).toEqual([500, 200]);
    const [first, second] = raisedHooks as [Received, Received];
    expect(first.headers['x-wattproof-delivery']).toBe(second.headers['x-wattproof-delivery']);
    const payload = JSON.parse(second.body) as { type: string; alert: { id: string; state: string } };
    expect(payload).toMatchObject({ type: 'alert.raised', alert: { id: 'meter_silent:yz:b01:elec', state: 'active' } });
    // The signature, checked here with node:crypto alone, and with the exported verifier.
    for (const r of raisedHooks) {
      const ts = String(r.headers['x-wattproof-timestamp']);
      const expected = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${r.body}`).digest('hex')}`;
      expect(r.headers['x-wattproof-signature']).toBe(expected);
      expect(verifyWebhookSignature(SECRET, ts, r.body, expected, { nowMs: now })).toBe(true);
      expect(verifyWebhookSignature('wrong-secret', ts, r.body, expected, { nowMs: now })).toBe(false);
      expect(verifyWebhookSignature(SECRET, ts, r.body.replace('active', 'resolved'), expected, { nowMs: now })).toBe(false);
    }
  });

  it('serves one alert with its events, evidence and delivery attempts, never the URL or the secret', async () => {
    const res = await inject({ url: '/api/v1/alerts/meter_silent:yz:b01:elec' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { alert: { evidence: Record<string, unknown> }; events: Array<{ type: string }>; deliveries: Array<Record<string, unknown>> };
    expect(body.alert.evidence.silentForS).toBe(2 * 3600 + 15 * 60);
    expect(body.events.map((e) => e.type)).toEqual(['raised']);
    expect(body.deliveries.map((d) => [d.attempt, d.ok, d.status, d.code ?? null])).toEqual([
      [2, true, 200, null],
      [1, false, 500, 'ALERT_WEBHOOK_FAILED'],
    ]);
    expect(body.deliveries[1]!.retryAtMs).toBeTypeOf('number');
    expect(body.deliveries[0]!.origin).toBe(new URL(hook.url).origin);
    expect(res.body).not.toContain(URL_TOKEN);
    expect(res.body).not.toContain(SECRET);
    const missing = await inject({ url: '/api/v1/alerts/meter_silent:yz:b01:nope' });
    expect(missing.statusCode).toBe(404);
    expect((missing.json() as { error: { code: string } }).error.code).toBe('ALERT_NOT_FOUND');
  });

  it('shows an alert to the keys that may read its building only; evaluating is an admin action', async () => {
    const b01 = await createTestKey(registry, { role: 'operator', grants: [{ kind: 'building', site: 'yz', building: 'b01' }] });
    const b02 = await createTestKey(registry, { role: 'operator', grants: [{ kind: 'building', site: 'yz', building: 'b02' }] });
    const as = (key: string, url: string, method: 'GET' | 'POST' = 'GET') => app.inject({ method, url, headers: { authorization: `Bearer ${key}` } });
    const ids = async (key: string) => ((await as(key, '/api/v1/alerts')).json() as { alerts: Array<{ id: string }> }).alerts.map((a) => a.id);
    const all = (await inject({ url: '/api/v1/alerts' })).json() as { alerts: Array<{ id: string; building?: string }> };
    expect(await ids(b01)).toContain('meter_silent:yz:b01:elec');
    expect(await ids(b01)).toEqual(all.alerts.filter((a) => a.building === 'b01').map((a) => a.id));
    expect((await as(b01, '/api/v1/alerts/meter_silent:yz:b01:elec')).statusCode).toBe(200);
    expect((await as(b02, '/api/v1/alerts')).json()).toEqual({ alerts: [] });
    // Another building's alert answers exactly like one that was never raised.
    const other = await as(b02, '/api/v1/alerts/meter_silent:yz:b01:elec');
    const never = await as(b02, '/api/v1/alerts/meter_silent:yz:b01:nope');
    expect([other.statusCode, (other.json() as { error: { code: string } }).error.code]).toEqual([404, 'AUTH_NOT_FOUND']);
    const message = (r: typeof other) => (r.json() as { error: { message: string } }).error.message;
    expect(message(other).replace(':elec', ':X')).toBe(message(never).replace(':nope', ':X'));
    expect(never.statusCode).toBe(404);
    const evaluate = await as(b01, '/api/v1/alerts/evaluate', 'POST');
    expect([evaluate.statusCode, (evaluate.json() as { error: { code: string } }).error.code]).toEqual([403, 'AUTH_FORBIDDEN']);
    expect((await app.inject({ url: '/api/v1/alerts' })).statusCode).toBe(401);
  });

  it('keeps one alert across runs and sends the resolve', async () => {
    now = NOW + 3 * HOUR;
    const again = (await inject({ method: 'POST', url: '/api/v1/alerts/evaluate' })).json() as { raised: unknown[] };
    expect(again.raised).toEqual([]);
    await readings.write([interval(NOW + 2 * HOUR + 30 * MIN)]);
    const res = (await inject({ method: 'POST', url: '/api/v1/alerts/evaluate' })).json() as { resolved: Array<{ id: string; state: string; resolvedAt: string }> };
    expect(res.resolved).toEqual([expect.objectContaining({ id: 'meter_silent:yz:b01:elec', state: 'resolved', resolvedAt: new Date(now).toISOString() })]);
    await engine.deliveriesIdle();
    const last = hook.received[hook.received.length - 1]!;
    expect(JSON.parse(last.body)).toMatchObject({ type: 'alert.resolved', alert: { id: 'meter_silent:yz:b01:elec', state: 'resolved' } });
    expect(hook.received.filter((r) => JSON.parse(r.body).type === 'alert.raised' && JSON.parse(r.body).alert.id === 'meter_silent:yz:b01:elec')).toHaveLength(2);
    const detail = (await inject({ url: '/api/v1/alerts/meter_silent:yz:b01:elec' })).json() as { events: Array<{ type: string }> };
    expect(detail.events.map((e) => e.type)).toEqual(['resolved', 'raised']);
  });

  it('logs no webhook URL token and no secret', () => {
    expect(logs.length).toBeGreaterThan(0);
    const all = logs.join('\n');
    expect(all).not.toContain(URL_TOKEN);
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain('/hooks/wattproof');
  });

  it('documents the routes in OpenAPI under the alerts tag', async () => {
    const doc = (await inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, { tags?: string[] }>> };
    expect(doc.paths['/api/v1/alerts']?.get?.tags).toEqual(['alerts']);
    expect(doc.paths['/api/v1/alerts/{id}']?.get?.tags).toEqual(['alerts']);
    expect(doc.paths['/api/v1/alerts/evaluate']?.post?.tags).toEqual(['alerts']);
  });
});

describe('webhook rejected with a 4xx', () => {
  it('is not retried and is recorded as ALERT_WEBHOOK_REJECTED', async () => {
    const hook = await receiver([401, 401, 401]);
    const readings = createMemoryReadingStore();
    const registry = createMemoryRegistryStore();
    await readings.init();
    await registry.init();
    await readings.write([interval(NOW - 5 * HOUR)]);
    const engine = createAlertEngine({ readings, registry, clock: () => NOW }, configWith(alertsConfigSchema, { ALERT_WEBHOOK_URLS: hook.url, ALERT_WEBHOOK_BACKOFF_MS: 10, ALERT_WEBHOOK_MAX_ATTEMPTS: 3 }));
    try {
      const r = await engine.evaluate();
      expect(r.raised.map((a) => a.id)).toContain('meter_silent:yz:b01:elec');
      await engine.deliveriesIdle();
      expect(hook.received.filter((x) => JSON.parse(x.body).alert.id === 'meter_silent:yz:b01:elec').map((x) => x.status)).toEqual([401]);
      const { deliveries } = await engine.history('meter_silent:yz:b01:elec');
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]).toMatchObject({ ok: false, status: 401, code: 'ALERT_WEBHOOK_REJECTED', attempt: 1 });
      expect(deliveries[0]!.retryAtMs).toBeUndefined();
      // Without a secret there is no signature header.
      expect(hook.received[0]!.headers['x-wattproof-signature']).toBeUndefined();
    } finally {
      await engine.close();
      await new Promise((r) => hook.server.close(r));
    }
  });
});

describe('a meter of the minimal simulator goes silent (real gateway and ingest)', () => {
  it('appears at /api/v1/alerts once the simulator stops publishing', async () => {
    const readings = createMemoryReadingStore();
    const registry = createMemoryRegistryStore();
    await readings.init();
    await registry.init();
    const metrics = new Registry();
    const svc = await provisionService(registry, 'ingest-alerts', 'service');
    const gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0 }));
    const url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
    const ingest = createIngest({ readings, registry, metrics }, configWith(ingestConfigSchema, { INGEST_MQTT_URL: url, INGEST_MQTT_USERNAME: svc.username, INGEST_MQTT_PASSWORD: svc.secret, INGEST_MQTT_CLIENT_ID: 'ingest-alerts', INGEST_FLUSH_INTERVAL_MS: 20 }));
    await ingest.start();
    let now = Date.now();
    const engine = createAlertEngine({ readings, registry, clock: () => now }, configWith(alertsConfigSchema, { ALERT_EVALUATE_INTERVAL_S: 0 }));
    const app = await createApiServer({ readings, registry, metrics, alerts: engine });
    const inject = keyedInject(app, await createTestKey(registry));
    const sim = createSimulator({ provision: (r) => provisionDevice(registry, r, { rotate: true }) }, { url, site: 'sim', buildings: 1, intervalS: 60, backfillHours: 1, ratePerS: 500, readingsPerMessage: 60 });
    try {
      const run = sim.start();
      // Backfilled: every series of the building has its newest interval.
      await waitFor(async () => (await readings.latest({ site: 'sim' })).filter((r) => r.kind !== 'register').length >= 3 && (await readings.latest({ site: 'sim' })).every((r) => r.ts >= Math.floor(Date.now() / 60_000) * 60_000 - 3 * 60_000), 30_000, 'backfill stored');
      await sim.close();
      await run;
      now = Date.now();
      const quiet = (await inject({ method: 'POST', url: '/api/v1/alerts/evaluate' })).json() as { raised: Array<{ rule: string }> };
      expect(quiet.raised.filter((a) => a.rule === 'meter_silent')).toEqual([]);
      // Ten minutes later, with nothing published since: 4 intervals of 60 s have passed.
      now = Date.now() + 10 * MIN;
      await inject({ method: 'POST', url: '/api/v1/alerts/evaluate' });
      const res = (await inject({ url: '/api/v1/alerts?rule=meter_silent&site=sim' })).json() as { alerts: Array<{ id: string; evidence: { usualIntervalS: number } }> };
      expect(res.alerts.map((a) => a.id).sort()).toEqual(['meter_silent:sim:b01:elec-main', 'meter_silent:sim:b01:gas-main', 'meter_silent:sim:b01:outdoor-temp']);
      expect(res.alerts.every((a) => a.evidence.usualIntervalS === 60)).toBe(true);
    } finally {
      await app.close();
      await engine.close();
      await ingest.close();
      await gateway.close();
    }
  }, 90_000);
});
