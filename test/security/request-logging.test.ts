/**
 * The HTTP API's request logs (issue 7 req. 6: "structured logs with request ids and no
 * secrets"): every line fastify writes for a request carries its `reqId`, the id comes back in
 * `X-Request-Id` (an incoming one only when it is safe), error bodies keep their format, and an
 * API key — valid or not, in `Authorization` or `X-Api-Key` — appears in no log line, even with a
 * logger whose own `req` serializer would log the headers. Through `app.inject()` on memory
 * stores, with the log captured from a pino destination stream at `trace`.
 */
import { Writable } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { ReadingStore, RegistryStore } from '@wattproof/core';
import { createApiServer, REQUEST_ID_PATTERN } from '@wattproof/dashboards';
import { createMemoryReadingStore } from '@wattproof/ingest';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { bearer, createTestKey } from '../support/api-keys.js';

type LogLine = Record<string, unknown> & { msg?: string; reqId?: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let readings: ReadingStore;
let registry: RegistryStore;
let key: string;
const apps: FastifyInstance[] = [];

beforeAll(async () => {
  readings = createMemoryReadingStore();
  await readings.init();
  registry = createMemoryRegistryStore();
  await registry.init();
  key = await createTestKey(registry);
});

afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

/** An API server logging at `trace` into memory; `log.lines()` parses what it wrote so far. */
async function serverWithLog(opts: { serializers?: pino.LoggerOptions['serializers']; readings?: ReadingStore } = {}) {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  const logger = pino({ level: 'trace', ...(opts.serializers ? { serializers: opts.serializers } : {}) }, stream);
  const app = await createApiServer({ readings: opts.readings ?? readings, registry, metrics: new Registry() }, { logger, console: false });
  apps.push(app);
  await app.ready();
  return {
    app,
    text: () => text,
    lines: (): LogLine[] => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine),
  };
}

/**
 * The secret of a key `wp_<keyId>_<secret>`: everything after the key id. Not `split('_').at(-1)`:
 * the base64url secret may itself contain `_`, and its last fragment can then be one character
 * that any log line contains (a CI run of 2026-12-03 failed on "A").
 */
const secretOf = (k: string): string => k.slice(k.indexOf('_', 3) + 1);

/** The log lines fastify wrote for the request with id `id`, and every line that names any request id. */
function linesOf(lines: LogLine[], id: string): LogLine[] {
  return lines.filter((l) => l.reqId === id);
}

describe('API request logs', () => {
  it('carry the request id on every line of a request, which the response echoes; the key is in none', async () => {
    const log = await serverWithLog();
    const res = await log.app.inject({ url: '/api/v1/meters', headers: bearer(key) });
    expect(res.statusCode).toBe(200);
    const id = String(res.headers['x-request-id']);
    expect(id).toMatch(UUID);
    const mine = linesOf(log.lines(), id);
    // fastify's own pair: "incoming request" and "request completed".
    expect(mine.map((l) => l.msg)).toEqual(expect.arrayContaining(['incoming request', 'request completed']));
    const req = mine.find((l) => l.msg === 'incoming request')!.req as Record<string, unknown>;
    expect(req).toMatchObject({ method: 'GET', url: '/api/v1/meters', remoteAddress: '127.0.0.1' });
    expect(Object.keys(req).every((k) => ['method', 'url', 'remoteAddress', 'remotePort'].includes(k)), Object.keys(req).join()).toBe(true);
    expect(mine.find((l) => l.msg === 'request completed')!.res).toEqual({ statusCode: 200 });
    // Every line written while serving it belongs to it (nothing else ran meanwhile).
    expect(log.lines().filter((l) => 'req' in l || 'res' in l).every((l) => l.reqId === id)).toBe(true);
    expect(log.text()).not.toContain(key);
    expect(secretOf(key)).toHaveLength(43);
    expect(log.text()).not.toContain(secretOf(key));
    expect(log.text().toLowerCase()).not.toContain('authorization');

    // A second request gets another id.
    const again = await log.app.inject({ url: '/api/v1/meters', headers: bearer(key) });
    expect(String(again.headers['x-request-id'])).toMatch(UUID);
    expect(again.headers['x-request-id']).not.toBe(id);
  });

  it('takes a safe X-Request-Id from the caller and replaces any other', async () => {
    const log = await serverWithLog();
    const given = 'edge-7f3a.2026-11-01T08:00:00Z';
    expect(given).toMatch(REQUEST_ID_PATTERN);
    const res = await log.app.inject({ url: '/api/v1/meters', headers: { ...bearer(key), 'x-request-id': given } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toBe(given);
    expect(linesOf(log.lines(), given).length).toBeGreaterThanOrEqual(2);

    for (const unsafe of ['two words', '<script>', 'x'.repeat(65), 'id/with/slashes', 'ключ', '']) {
      const r = await log.app.inject({ url: '/api/v1/meters', headers: { ...bearer(key), 'x-request-id': unsafe } });
      expect(r.statusCode, unsafe).toBe(200);
      expect(String(r.headers['x-request-id']), unsafe).toMatch(UUID);
      if (unsafe) expect(log.text(), unsafe).not.toContain(unsafe);
    }
    // Sent twice, the header arrives joined with ", ": not an id either.
    const twice = await log.app.inject({ url: '/api/v1/meters', headers: { ...bearer(key), 'x-request-id': ['a1', 'b2'] } });
    expect(String(twice.headers['x-request-id'])).toMatch(UUID);
  });

  it('keeps the error format and the request id on refusals, unknown routes, bad URLs and failures', async () => {
    const failing = { ...readings, latest: async () => Promise.reject(new Error('disk on fire')) } as ReadingStore;
    const log = await serverWithLog({ readings: failing });

    const noKey = await log.app.inject({ url: '/api/v1/meters', headers: { 'x-request-id': 'no-key-1' } });
    expect(noKey.statusCode).toBe(401);
    expect(noKey.json()).toMatchObject({ error: { code: 'AUTH_REQUIRED' } });
    expect(noKey.headers['x-request-id']).toBe('no-key-1');

    const notFound = await log.app.inject({ url: '/no/such/route', headers: bearer(key) });
    expect(notFound.statusCode).toBe(404);
    expect(notFound.json()).toEqual({ error: { code: 'API_NOT_FOUND', message: 'no route GET /no/such/route' } });
    expect(String(notFound.headers['x-request-id'])).toMatch(UUID);

    // Rejected by the router before any hook runs (frameworkErrors).
    const badUrl = await log.app.inject({ url: '/api/v1/meters/%E0%A4%A', headers: { ...bearer(key), 'x-request-id': 'bad-url-1' } });
    expect(badUrl.statusCode).toBe(400);
    expect(badUrl.json()).toMatchObject({ error: { code: 'API_REQUEST_INVALID' } });
    expect(badUrl.headers['x-request-id']).toBe('bad-url-1');

    const failed = await log.app.inject({ url: '/api/v1/latest', headers: { ...bearer(key), 'x-request-id': 'fail-1' } });
    expect(failed.statusCode).toBe(500);
    expect(failed.json()).toEqual({ error: { code: 'API_INTERNAL', message: 'internal error' } });
    expect(failed.headers['x-request-id']).toBe('fail-1');
    // The failure is logged with the request's id (and its cause, which the response hides).
    const line = linesOf(log.lines(), 'fail-1').find((l) => l.msg === 'request failed');
    expect(line?.level).toBe(50);
    expect(JSON.stringify(line)).toContain('disk on fire');
    expect(log.text()).not.toContain(key);
  });

  it('never logs a presented key, valid or not, in Authorization or X-Api-Key, whatever serializers the logger brings', async () => {
    // pino's standard req serializer logs every header: the server's own serializer must win.
    const log = await serverWithLog({ serializers: { req: pino.stdSerializers.req } });
    const wrong = `${key.slice(0, -6)}zzzzzz`;
    const forged = 'wp_AAAAAAAAAAAA_forgedsecretvalue0123456789';
    const requests = [
      { headers: bearer(key), status: 200 },
      { headers: { 'x-api-key': key }, status: 200 },
      { headers: bearer(wrong), status: 401 },
      { headers: { 'x-api-key': forged }, status: 401 },
      { headers: { authorization: `Basic ${Buffer.from(`admin:${forged}`).toString('base64')}` }, status: 401 },
    ];
    for (const r of requests) {
      const res = await log.app.inject({ url: '/api/v1/meters', headers: r.headers });
      expect(res.statusCode, JSON.stringify(r.headers)).toBe(r.status);
      expect(linesOf(log.lines(), String(res.headers['x-request-id'])).length).toBeGreaterThanOrEqual(2);
    }
    const text = log.text();
    for (const secret of [key, wrong, forged, secretOf(key), secretOf(forged), Buffer.from(`admin:${forged}`).toString('base64')]) {
      expect(text).not.toContain(secret);
    }
    expect(text.toLowerCase()).not.toContain('authorization');
    expect(text.toLowerCase()).not.toContain('x-api-key');
    // The request is still described.
    expect(log.lines().find((l) => l.msg === 'incoming request')?.req).toMatchObject({ method: 'GET', url: '/api/v1/meters' });
  });

  it('censors credentials a log call passes by mistake (an error carrying request headers)', async () => {
    const log = await serverWithLog();
    log.app.log.error({ err: Object.assign(new Error('upstream failed'), { headers: { authorization: `Bearer ${key}`, 'x-api-key': key } }) }, 'oops');
    log.app.log.warn({ headers: { authorization: `Bearer ${key}` } }, 'oops again');
    const text = log.text();
    expect(text).toContain('upstream failed');
    expect(text).toContain('[redacted]');
    expect(text).not.toContain(key);
  });
});
