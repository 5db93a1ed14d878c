/**
 * Security headers and rate limits of the API through `app.inject()` (trustProxy off; each test
 * speaks from its own `remoteAddress`): the console's Content-Security-Policy and the other
 * helmet headers, Swagger UI's own policy under /docs, the per-address request limit (429
 * API_RATE_LIMITED with Retry-After, health exempt) and the failed-authentication limit (429
 * API_AUTH_RATE_LIMITED, the key no longer checked, other addresses unaffected, lifted when the
 * window ends).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { createAccessControl, createApiServer, CONSOLE_CSP_DIRECTIVES, RATE_LIMIT_EXEMPT_ROUTES, SECURITY_ERRORS, SWAGGER_UI_CSP, type ApiSecurityConfig } from '@wattproof/dashboards';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const apps: FastifyInstance[] = [];

async function server(security: Partial<ApiSecurityConfig>, opts: { console?: boolean } = {}) {
  const clock = { now: T0 };
  const registry = createMemoryRegistryStore();
  await registry.init();
  const access = createAccessControl({ registry, clock: () => clock.now });
  const admin = (await access.createKey({ role: 'admin', label: 'security test', createdBy: 'test' })).key;
  const app = await createApiServer(
    { readings: createMemoryReadingStore(), registry, metrics: new Registry(), access, clock: () => clock.now },
    { security, ...(opts.console === false ? { console: false } : {}) },
  );
  await app.ready();
  apps.push(app);
  return { app, admin, clock };
}

afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
});

const AUDIT = '/api/v1/audit';

describe('security headers', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    ({ app } = await server({}));
  });

  it('serves the console page under a CSP with scripts from self only and no inline scripts', async () => {
    const res = await app.inject({ url: '/' });
    expect(res.statusCode).toBe(200);
    const csp = String(res.headers['content-security-policy']);
    const directives = Object.fromEntries(csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => [d.split(/\s+/)[0], d.split(/\s+/).slice(1)]));
    expect(directives['script-src']).toEqual(["'self'"]);
    expect(directives['script-src-attr']).toEqual(["'none'"]);
    expect(directives['default-src']).toEqual(["'self'"]);
    expect(directives['object-src']).toEqual(["'none'"]);
    expect(directives['frame-ancestors']).toEqual(["'none'"]);
    expect(directives['connect-src']).toEqual(["'self'"]);
    expect(directives['style-src']).toEqual(["'self'", "'unsafe-inline'"]);
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(csp).not.toContain("'unsafe-eval'");
    // The page itself has no executable inline script (the settings block is JSON data).
    const inline = [...res.body.matchAll(/<script(?![^>]*\bsrc=)([^>]*)>/g)].map((m) => m[1]);
    expect(inline.every((attrs) => /type="application\/json"/.test(attrs!))).toBe(true);
    expect(Object.keys(CONSOLE_CSP_DIRECTIVES)).toContain('scriptSrc');
  });

  it('sends the helmet headers on API responses, errors included', async () => {
    for (const url of ['/api/v1/meters', '/no/such/route', AUDIT]) {
      const res = await app.inject({ url });
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      expect(res.headers['x-frame-options'], url).toBe('SAMEORIGIN');
      expect(res.headers['referrer-policy'], url).toBe('no-referrer');
      expect(res.headers['cross-origin-opener-policy'], url).toBe('same-origin');
      expect(res.headers['content-security-policy'], url).toContain("script-src 'self'");
      expect(res.headers['x-powered-by'], url).toBeUndefined();
    }
  });

  it('sends no Strict-Transport-Security over plain HTTP', async () => {
    const res = await app.inject({ url: '/api/v1/meters' });
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });

  it('gives Swagger UI its own policy under /docs, still without inline scripts by default', async () => {
    const res = await app.inject({ url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('swagger-initializer.js');
    const csp = String(res.headers['content-security-policy']);
    const scriptSrc = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('script-src '));
    expect(scriptSrc).toMatch(/^script-src 'self'( 'sha256-[^']+')*\s*$/);
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain('img-src');
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect((await app.inject({ url: '/docs/static/swagger-initializer.js' })).headers['content-security-policy']).toBe(csp);
    expect(csp).not.toContain('https:');
    expect(csp).toBe(SWAGGER_UI_CSP);
  });
});

describe('per-address request limit', () => {
  it('answers 429 API_RATE_LIMITED with Retry-After after API_RATE_LIMIT_REQUESTS, per address, never on /health', async () => {
    const { app, admin } = await server({ API_RATE_LIMIT_REQUESTS: 5, API_RATE_LIMIT_WINDOW_MS: 60_000 }, { console: false });
    const from = (remoteAddress: string, url = '/api/v1/meters') => app.inject({ url, remoteAddress, headers: { authorization: `Bearer ${admin}` } });
    for (let i = 0; i < 5; i++) {
      const ok = await from('192.0.2.10');
      expect(ok.statusCode).toBe(200);
      expect(ok.headers['x-ratelimit-remaining']).toBe(String(4 - i));
    }
    const refused = await from('192.0.2.10');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ error: { code: 'API_RATE_LIMITED' } });
    expect(refused.json().error.message).toMatch(/more than 5 requests/);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Other routes from the same address too: the limit is per address.
    expect((await from('192.0.2.10', '/api/v1/latest')).statusCode).toBe(429);
    // Another address is not affected.
    expect((await from('192.0.2.11')).statusCode).toBe(200);
    // Health, metrics and the live stream are exempt, so probes and open consoles are not starved.
    expect((await from('192.0.2.10', '/health')).statusCode).not.toBe(429);
    expect((await from('192.0.2.10', '/metrics')).statusCode).toBe(200);
    expect([...RATE_LIMIT_EXEMPT_ROUTES]).toEqual(expect.arrayContaining(['/health', '/metrics', '/api/v1/stream']));
    expect(SECURITY_ERRORS.API_RATE_LIMITED.statusCode).toBe(429);
  });

  it('is off with API_RATE_LIMIT_REQUESTS=0', async () => {
    const { app, admin } = await server({ API_RATE_LIMIT_REQUESTS: 0 }, { console: false });
    for (let i = 0; i < 30; i++) expect((await app.inject({ url: '/api/v1/meters', remoteAddress: '192.0.2.20', headers: { authorization: `Bearer ${admin}` } })).statusCode).toBe(200);
  });
});

describe('failed-authentication limit', () => {
  it('refuses an address after API_AUTH_FAILURE_LIMIT 401s until the window ends, without checking its key', async () => {
    const { app, admin, clock } = await server({ API_AUTH_FAILURE_LIMIT: 3, API_AUTH_FAILURE_WINDOW_MS: 120_000 }, { console: false });
    const attacker = '198.51.100.7';
    const guess = (n: number) => app.inject({ url: AUDIT, remoteAddress: attacker, headers: { authorization: `Bearer wp_aaaaaaaaaaaaaaa${n % 8 + 2}_notthesecret` } });
    for (let i = 0; i < 3; i++) {
      const r = await guess(i);
      expect(r.statusCode).toBe(401);
      expect(r.json().error.code).toMatch(/^AUTH_/);
    }
    const blocked = await guess(3);
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json()).toMatchObject({ error: { code: 'API_AUTH_RATE_LIMITED' } });
    expect(Number(blocked.headers['retry-after'])).toBe(120);
    // Even the right key is not looked at from that address while it is blocked…
    const withKey = await app.inject({ url: AUDIT, remoteAddress: attacker, headers: { authorization: `Bearer ${admin}` } });
    expect(withKey.statusCode).toBe(429);
    // …while another address with the right key, and open routes from the blocked one, still work.
    expect((await app.inject({ url: AUDIT, remoteAddress: '198.51.100.8', headers: { authorization: `Bearer ${admin}` } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/v1/meters', remoteAddress: '198.51.100.8', headers: { authorization: `Bearer ${admin}` } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/docs/json', remoteAddress: attacker })).statusCode).toBe(200);
    expect((await app.inject({ url: '/health', remoteAddress: attacker })).statusCode).not.toBe(429);
    // Every data route needs a key now, so the blocked address gets none of them.
    expect((await app.inject({ url: '/api/v1/meters', remoteAddress: attacker, headers: { authorization: `Bearer ${admin}` } })).statusCode).toBe(429);

    clock.now += 60_000;
    const later = await guess(4);
    expect(later.statusCode).toBe(429);
    expect(Number(later.headers['retry-after'])).toBe(60);
    clock.now += 60_001;
    expect((await app.inject({ url: AUDIT, remoteAddress: attacker, headers: { authorization: `Bearer ${admin}` } })).statusCode).toBe(200);
  });

  it('counts a missing key as a failure too, and successes do not reset the count', async () => {
    const { app, admin } = await server({ API_AUTH_FAILURE_LIMIT: 2 }, { console: false });
    const ip = '203.0.113.9';
    expect((await app.inject({ url: AUDIT, remoteAddress: ip })).statusCode).toBe(401);
    expect((await app.inject({ url: AUDIT, remoteAddress: ip, headers: { authorization: `Bearer ${admin}` } })).statusCode).toBe(200);
    expect((await app.inject({ url: AUDIT, remoteAddress: ip, headers: { 'x-api-key': 'nonsense' } })).statusCode).toBe(401);
    expect((await app.inject({ url: AUDIT, remoteAddress: ip, headers: { authorization: `Bearer ${admin}` } })).statusCode).toBe(429);
  });

  it('is off with API_AUTH_FAILURE_LIMIT=0', async () => {
    const { app } = await server({ API_AUTH_FAILURE_LIMIT: 0 }, { console: false });
    for (let i = 0; i < 40; i++) expect((await app.inject({ url: AUDIT, remoteAddress: '203.0.113.10' })).statusCode).toBe(401);
  });
});
