/**
 * Bad input at the HTTP API (issue 7, requirement 3): for every route of the OpenAPI document of
 * `createApiServer` on memory stores, generated malformed path params, query strings and bodies
 * (wrong types, huge strings, Unicode, control characters, path traversal, prototype-pollution keys,
 * deep JSON) through `app.inject()`, with an admin key, an operator's key (its resource checks
 * see the hostile values too) or none. Never a 5xx; every error is `{ error: { code, message } }`
 * with a stable code and no stack trace or file path; /health keeps answering.
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer } from '@wattproof/dashboards';
import { createMemoryReadingStore } from '@wattproof/ingest';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { bearer, createTestKey } from '../support/api-keys.js';
import { FUZZ_RUNS, FUZZ_SEED, NOW } from './arbitraries.js';

const CODE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/;
const LEAK = /"stack"|\n\s+at |\bat [\w.<>]+ \(|\.ts:\d+|\.js:\d+|node_modules|\/work\/|\/home\//;
// 429: failed authentications are rate-limited per address (the security layer), a clean refusal too.
const ERROR_STATUSES = [400, 401, 403, 404, 405, 406, 413, 414, 415, 429, 431];
// Long-lived server-sent events: inject() would wait for the end of a stream that never ends.
const SKIP = new Set(['/api/v1/stream']);

interface Route {
  readonly path: string;
  readonly pathParams: string[];
  readonly query: string[];
}

let app: FastifyInstance;
let routes: Route[];
/** Keys the requests are sent with (none: the 401 path). */
const keys: Record<'admin' | 'operator', string> = { admin: '', operator: '' };

beforeAll(async () => {
  const readings = createMemoryReadingStore();
  const registry = createMemoryRegistryStore();
  await readings.init();
  await registry.init();
  await registry.upsertSite({ id: 'yz', name: 'Yuzhong', timezone: 'Asia/Shanghai' });
  await registry.upsertMeter({ site: 'yz', building: 'b01', meter: 'elec', quantity: 'electricity' });
  await readings.write([{ site: 'yz', building: 'b01', meter: 'elec', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: NOW - 3_600_000, value: 1.5, intervalS: 900 }]);
  keys.admin = await createTestKey(registry);
  keys.operator = await createTestKey(registry, { role: 'operator', grants: [{ kind: 'building', site: 'yz', building: 'b01' }] });
  // Requests without a key are 401s: the failed-authentication limit would soon answer the keyed ones with 429 too (it has its own tests, test/security).
  app = await createApiServer({ readings, registry, metrics: new Registry(), clock: () => NOW }, { console: false, security: { API_AUTH_FAILURE_LIMIT: 0 } });
  await app.ready();
  const doc = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string }> }>> };
  routes = Object.entries(doc.paths)
    .filter(([p, ops]) => !SKIP.has(p) && ops.get)
    .map(([path, ops]) => ({
      path,
      pathParams: (ops.get!.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
      query: (ops.get!.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
    }));
});

afterAll(async () => {
  await app?.close();
});

/** A hostile parameter value (before URL encoding). */
const nasty: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('\u0000', '\u0001', '\u001b', '\u007f', '\u202e', '\ud800', '\uffff', '😀', '°', ',', '=', ' ', '"', "'", '\\', '\n', '%', '&', '#', '?', 'a'), maxLength: 30 }),
  fc.constantFrom('..', '../..', '..%2f..%2fetc%2fpasswd', '%FF%FE', '%C0%AF', '%00', '%', '%2e%2e%2f', '....//', '/etc/passwd', 'C:\\Windows', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'),
  fc.constantFrom('-1', '0', '1e309', '-1e309', 'NaN', 'Infinity', '9007199254740993', '1.5', '0x10', 'true', 'null', 'undefined', '[]', '{}', ''),
  fc.constantFrom('2026-13-45', '2026-11-01T00:00:00', '+275760-09-13T00:00:01Z', '-271821-04-19T23:59:59Z', '0000-00-00', '2026-11-01T00:00:00Z/2026'),
  fc.constantFrom('1h', '15m', '1d', '1mo', 'Asia/Shanghai', 'Etc/GMT+99', 'Mars/Olympus', 'UTC', 'zh-CN', 'en', 'html', 'json', 'csv', 'interval', 'electricity'),
  fc.integer({ min: 1_000, max: 60_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 1, max: 2_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
);

/**
 * Percent-encodes the UTF-8 bytes (a lone surrogate becomes U+FFFD, as a browser sends it); `raw`
 * keeps printable ASCII as it is, so `..%2f` and `%FF` reach the server still encoded.
 */
function encode(v: string, raw: boolean): string {
  let out = '';
  for (const b of Buffer.from(v, 'utf8')) {
    const c = String.fromCharCode(b);
    const keep = /[A-Za-z0-9_.~-]/.test(c) || (raw && b > 0x20 && b < 0x7f && !'#?&/+'.includes(c));
    out += keep ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const request = (r: Route) =>
  fc.record({
    params: fc.tuple(...r.pathParams.map(() => fc.tuple(fc.oneof(nasty, fc.constantFrom('yz', 'b01', 'elec')), fc.boolean())), fc.constant(null)),
    query: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...(r.query.length ? r.query : ['x'])), fc.constantFrom('__proto__[polluted]', 'constructor[prototype][polluted]', '__proto__', 'site[]', 'limit[$gt]', 'a'.repeat(5000))), nasty, fc.boolean()), { maxLength: 6 }),
    method: fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'),
    key: fc.constantFrom('admin', 'admin', 'admin', 'operator', 'none'),
    body: fc.option(
      fc.oneof(
        fc.jsonValue({ maxDepth: 5 }).map((v) => ({ type: 'application/json', payload: JSON.stringify(v) ?? 'null' })),
        fc.integer({ min: 1, max: 20_000 }).map((n) => ({ type: 'application/json', payload: '{"a":'.repeat(n) + '1' + '}'.repeat(n) })),
        fc.constant({ type: 'application/json', payload: '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}' }),
        fc.constant({ type: 'application/json', payload: `{"x":"${'y'.repeat(1024 * 1024 + 10)}"}` }),
        fc.string({ maxLength: 100 }).map((s) => ({ type: 'application/json', payload: `{${s}` })),
        fc.string({ maxLength: 100 }).map((s) => ({ type: 'application/x-www-form-urlencoded', payload: s })),
        fc.string({ maxLength: 100 }).map((s) => ({ type: 'text/x-wattproof-\u00e9', payload: s })),
      ),
      { nil: undefined },
    ),
  });

describe('HTTP API: malformed params, query and body on every route', () => {
  it('lists the routes of the OpenAPI document', () => {
    expect(routes.length).toBeGreaterThanOrEqual(12);
    expect(routes.map((r) => r.path)).toContain('/api/v1/meters/{site}/{building}/{meter}/readings');
  });

  it('regression: router errors (long path parameter, bad percent-encoding) have the API error body', async () => {
    for (const url of [`/api/v1/sites/${'x'.repeat(101)}/buildings`, '/api/v1/sites/%E0%A4%A/buildings']) {
      const res = await app.inject({ url, headers: bearer(keys.admin) });
      expect(res.statusCode, url).toBe(400);
      expect(res.json(), url).toEqual({ error: { code: 'API_REQUEST_INVALID', message: expect.any(String) } });
    }
  });

  it(`never answers 5xx, leaks no internals and keeps answering /health (${Math.max(40, Math.ceil(FUZZ_RUNS / 8))} requests per route)`, async () => {
    const statuses = new Map<number, number>();
    for (const route of routes) {
      await fc.assert(
        fc.asyncProperty(request(route), async ({ params, query, method, body, key }) => {
          let path = route.path;
          route.pathParams.forEach((name, i) => {
            const [v, raw] = params[i] as [string, boolean];
            path = path.replace(`{${name}}`, encode(v, raw) || '%20');
          });
          const qs = query.map(([k, v, raw]) => `${encode(k, false)}=${encode(v, raw)}`).join('&');
          const url = qs ? `${path}?${qs}` : path;
          const auth = key === 'none' ? {} : bearer(keys[key as 'admin' | 'operator']);
          const res = await app.inject({
            method: method as 'GET',
            url,
            headers: { ...auth, ...(body && method !== 'GET' && method !== 'HEAD' ? { 'content-type': body.type } : {}) },
            ...(body && method !== 'GET' && method !== 'HEAD' ? { payload: body.payload } : {}),
          });
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          const where = `${method} ${url.slice(0, 200)} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
          expect(res.statusCode, where).toBeLessThan(500);
          expect(res.body, where).not.toMatch(LEAK);
          if (res.statusCode >= 400) {
            expect(ERROR_STATUSES, where).toContain(res.statusCode);
            if (method !== 'HEAD') {
              const parsed = res.json() as { error?: { code?: unknown; message?: unknown } };
              expect(typeof parsed.error?.code === 'string' && CODE.test(parsed.error.code), where).toBe(true);
              expect(typeof parsed.error?.message, where).toBe('string');
            }
          }
          expect(({} as Record<string, unknown>).polluted, 'Object.prototype polluted').toBeUndefined();
        }),
        { seed: FUZZ_SEED, numRuns: Math.max(40, Math.ceil(FUZZ_RUNS / 8)) },
      );
      const health = await app.inject({ url: '/health' });
      expect(health.statusCode, `health after fuzzing ${route.path}`).toBe(200);
    }
    // Invalid input was actually refused, not only passed through.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(404) ?? 0).toBeGreaterThan(0);
    // And requests without a key were refused, those with one answered.
    expect(statuses.get(401) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
  }, 300_000);
});
