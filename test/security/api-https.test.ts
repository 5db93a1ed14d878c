/**
 * HTTPS for the API with a certificate made by the `openssl` CLI (as the gateway's TLS tests
 * do): in process through createApiServer, and end to end through `wattproof api` with
 * API_TLS_CERT_FILE / API_TLS_KEY_FILE. Clients pin the certificate as their only CA. And
 * what `wattproof api` prints about the console: its sign-in address when the data directory has
 * a valid local admin key, how to make a key when it has none.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { createApiServer } from '@wattproof/dashboards';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';
import { createTestKey } from '../support/api-keys.js';
import { freePort } from '../support/net.js';
import { runCli, startService, type Service } from '../support/processes.js';

const run = promisify(execFile);
let dir: string;
let ca: Buffer;
let app: FastifyInstance | undefined;
let service: Service | undefined;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(url: string, options: { ca?: Buffer; key?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { ...(options.ca ? { ca: options.ca } : {}), ...(options.key ? { headers: { authorization: `Bearer ${options.key}` } } : {}), timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wattproof-https-'));
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ]);
  ca = await readFile(join(dir, 'cert.pem'));
});

afterAll(async () => {
  await app?.close();
  await service?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('API over HTTPS (createApiServer)', () => {
  let base: string;
  let key: string;
  beforeAll(async () => {
    const registry = createMemoryRegistryStore();
    await registry.init();
    key = await createTestKey(registry);
    app = await createApiServer(
      { readings: createMemoryReadingStore(), registry, metrics: new Registry() },
      { console: false, security: { API_TLS_CERT_FILE: join(dir, 'cert.pem'), API_TLS_KEY_FILE: join(dir, 'key.pem') } },
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  it('answers over TLS to a client that pins the certificate, with Strict-Transport-Security', async () => {
    const res = await get(`${base}/api/v1/meters`, { ca, key });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toHaveProperty('meters');
    expect(res.headers['strict-transport-security']).toBe('max-age=15552000');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
  });

  it('is refused by a client that does not trust the certificate', async () => {
    await expect(get(`${base}/health`)).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('does not speak plain HTTP on the TLS port', async () => {
    const plain = get(base.replace('https:', 'http:') + '/health');
    // The TLS server answers a plain request with garbage or closes it; it never serves JSON.
    const outcome = await plain.then((r) => r.body, (err: Error) => err.message);
    expect(outcome).not.toMatch(/"status"/);
  });
});

describe('wattproof api with API_TLS_CERT_FILE / API_TLS_KEY_FILE', () => {
  it('serves https:// and says so', async () => {
    const port = await freePort();
    service = startService(['api'], {
      WATTPROOF_DATA_DIR: join(dir, 'data'),
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
      API_TLS_CERT_FILE: join(dir, 'cert.pem'),
      API_TLS_KEY_FILE: join(dir, 'key.pem'),
      LOG_LEVEL: 'warn',
    });
    await service.waitForOutput(`Wattproof API on https://127.0.0.1:${port}`, 60_000);
    const res = await get(`https://127.0.0.1:${port}/api`, { ca });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ name: 'Wattproof' });
    expect(res.headers['strict-transport-security']).toBeDefined();
    // A fresh data directory has no local admin key: it says how to make one, and prints no key.
    await service.waitForOutput('Web console:', 10_000);
    expect(service.output()).toContain(`Web console: https://127.0.0.1:${port}/ — sign in with an API key; make one with: node bin/wattproof.js apikey add --role admin`);
    expect(service.output()).not.toContain('#key=');
    await service.stop();
    service = undefined;
  }, 90_000);

  it('prints the console sign-in address (key in the URL fragment) when the data directory has a valid local admin key', async () => {
    const data = join(dir, 'data');
    const made = await runCli(['apikey', 'add', '--role', 'admin', '--label', 'api test'], { WATTPROOF_DATA_DIR: data });
    expect(made.code, made.stderr).toBe(0);
    const key = /key:\s+(wp_\S+)/.exec(made.stdout)![1]!;
    await writeFile(join(data, 'api-admin.key'), `${key}\n`, { mode: 0o600 });
    const port = await freePort();
    service = startService(['api'], { WATTPROOF_DATA_DIR: data, API_HOST: '127.0.0.1', API_PORT: String(port), API_TLS_CERT_FILE: join(dir, 'cert.pem'), API_TLS_KEY_FILE: join(dir, 'key.pem'), LOG_LEVEL: 'warn' });
    await service.waitForOutput('Web console:', 60_000);
    expect(service.output()).toContain(`Web console: https://127.0.0.1:${port}/#key=${key}`);
    expect((await get(`https://127.0.0.1:${port}/api/v1/auth/whoami`, { ca, key })).status).toBe(200);
    expect((await get(`https://127.0.0.1:${port}/api/v1/auth/whoami`, { ca })).status).toBe(401);
  }, 90_000);
});
