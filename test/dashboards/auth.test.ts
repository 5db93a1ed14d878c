/**
 * API keys, roles and the finance audit log through `app.inject()`: keys hashed at rest, expiry,
 * revocation (at once here, within the cache time elsewhere), the 401 variants, audit entries of
 * allowed and refused reads and who may read them, the local admin key of `wattproof start`, and
 * the access matrix — every route that declares `config.access` (test routes of every resource
 * kind, the audit route, and the finance plugin's routes when it exists) × every role — on the
 * memory registry and on a real PostgreSQL. The operator-data routes (readings, M&V, alerts,
 * reports, console data) and the complete route list: test/dashboards/access-matrix.test.ts.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFinanceService } from '@wattproof/analytics';
import { WattproofError, type FinanceStore, type LoanInput, type PolicyInput, type RegistryStore } from '@wattproof/core';
import {
  AUDIT_RECORD_KIND,
  createAccessControl,
  createApiServer,
  ensureLocalAdminKey,
  generateApiKey,
  hashApiKeySecret,
  parseApiKey,
  parseExpiry,
  parseGrant,
  verifyApiKeySecret,
  type AccessControl,
  type ApiKeySpec,
  type ProtectedResource,
} from '@wattproof/dashboards';
import { createMemoryReadingStore } from '@wattproof/ingest';
import { createJsonlRegistryStore, createMemoryRegistryStore, createPostgresRegistryStore, type RegistryAndFinanceStore } from '@wattproof/gateway/registry';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FINANCE_PLUGIN = join(ROOT, 'dashboards/src/finance/plugin.ts');
/** 2026-06-01T00:00:00Z: every seeded contract is in force. */
const T0 = Date.parse('2026-06-01T00:00:00Z');
const DAY = 86_400_000;

// ---------------------------------------------------------------------------------------------
// Seeded finance registry: two banks, two insurers, two owners, a verifier firm; one loan and one
// policy per bank/insurer on different buildings.

const SITE = 'yz';
const PARTIES = [
  { id: 'bank-a', name: 'Bank A', roles: ['bank'] },
  { id: 'bank-b', name: 'Bank B', roles: ['bank'] },
  { id: 'ins-a', name: 'Insurer A', roles: ['insurer'] },
  { id: 'ins-b', name: 'Insurer B', roles: ['insurer'] },
  { id: 'owner-1', name: 'Hotel Owner', roles: ['owner'] },
  { id: 'owner-2', name: 'Office Owner', roles: ['owner', 'operator'] },
  { id: 'verif-co', name: 'Verifier Co', roles: ['verifier'] },
] as const;
const OWNERS: Record<string, string> = { hotel: 'owner-1', office: 'owner-2', mall: 'owner-2' };

function loan(id: string, lender: string, borrower: string, building: string): LoanInput {
  return {
    id,
    lender,
    borrower,
    kind: 'green_loan',
    assetClass: 'commercial_real_estate',
    currency: 'CNY',
    buildings: [{ site: SITE, building }],
    originationDate: '2025-03-01',
    maturityDate: '2032-03-01',
    propertyValueAtOriginationCny: 400_000_000,
    baseMarginBp: -10,
  };
}

function policy(id: string, insurer: string, insured: string, building: string): PolicyInput {
  return {
    id,
    insurer,
    insured,
    buildings: [{ site: SITE, building }],
    meters: [{ site: SITE, building, meter: 'elec-main' }],
    periods: [{ id: 'y1', from: '2025-03-01', to: '2026-03-01', guaranteedSavingsKwh: 500_000 }],
    contractPriceCnyPerKwh: 0.8,
    deductibleCny: 10_000,
    limitCny: 1_000_000,
    effectiveFrom: '2025-03-01',
    effectiveTo: '2027-03-01',
  };
}

async function seed(store: FinanceStore): Promise<void> {
  const o = { recordedAtMs: T0 - 30 * DAY, source: 'auth test' };
  for (const p of PARTIES) await store.putParty({ ...p, roles: [...p.roles] }, o);
  for (const [building, owner] of Object.entries(OWNERS)) {
    await store.putBuildingProfile({ site: SITE, building, effectiveFrom: '2025-01-01', type: 'hotel', floorAreaM2: 20_000, ownerParty: owner }, o);
  }
  await store.putLoan(loan('L-A1', 'bank-a', 'owner-1', 'hotel'), o);
  await store.putLoan(loan('L-B1', 'bank-b', 'owner-2', 'office'), o);
  await store.putPolicy(policy('P-A1', 'ins-a', 'owner-1', 'hotel'), o);
  await store.putPolicy(policy('P-B1', 'ins-b', 'owner-2', 'mall'), o);
}

/** The roles of the matrix and their keys. */
const ROLE_SPECS = {
  admin: { role: 'admin' },
  lenderA: { role: 'lender', party: 'bank-a' },
  lenderB: { role: 'lender', party: 'bank-b' },
  insurerA: { role: 'insurer', party: 'ins-a' },
  insurerB: { role: 'insurer', party: 'ins-b' },
  verifierGranted: { role: 'verifier', party: 'verif-co', grants: [parseGrant('loan:L-A1')!, parseGrant('policy:P-A1')!, parseGrant('building:yz/office')!] },
  verifierNone: { role: 'verifier', party: 'verif-co' },
  operator: { role: 'operator', party: 'owner-1' },
} as const satisfies Record<string, Omit<ApiKeySpec, 'label' | 'createdBy'>>;
type RoleName = keyof typeof ROLE_SPECS;
const ROLE_NAMES = Object.keys(ROLE_SPECS) as RoleName[];

/**
 * THE MATRIX: what each non-admin role may read of the seeded registry (resource keys). Admins
 * may do everything; everything not listed is refused — 404 for things addressed by id (loans,
 * policies, buildings, portfolios: the same answer as for ids that do not exist), 403 for
 * pricing and administration, 403 for every write; no key: 401.
 */
const VISIBLE: Record<Exclude<RoleName, 'admin'>, readonly string[]> = {
  lenderA: ['loan/L-A1', 'building/yz/hotel', 'lender-portfolio/bank-a'],
  lenderB: ['loan/L-B1', 'building/yz/office', 'lender-portfolio/bank-b'],
  insurerA: ['policy/P-A1', 'building/yz/hotel', 'insurer-portfolio/ins-a', 'pricing'],
  insurerB: ['policy/P-B1', 'building/yz/mall', 'insurer-portfolio/ins-b', 'pricing'],
  verifierGranted: ['loan/L-A1', 'policy/P-A1', 'building/yz/office'],
  verifierNone: [],
  operator: ['building/yz/hotel'],
};

// ---------------------------------------------------------------------------------------------
// Test routes: one per ProtectedResource kind, resolving from the registry like finance routes do.

function notFound(what: string): WattproofError {
  return new WattproofError('API_NOT_FOUND', `${what} not found`, { statusCode: 404 });
}

function testRoutes(finance: FinanceStore): FastifyPluginAsync {
  return async (app) => {
    const p = (req: FastifyRequest) => req.params as Record<string, string>;
    const read = (resource: (req: FastifyRequest) => Promise<ProtectedResource> | ProtectedResource) => ({ config: { access: { action: 'read' as const, finance: true, resource } } });
    const ok = async (req: FastifyRequest) => ({ ok: true, keyId: req.identity?.keyId ?? null, url: req.url, secret: 'FINANCE-PAYLOAD' });
    app.get('/api/v1/finance/test/loans/:id', read(async (req) => {
      const l = await finance.getLoan(p(req).id!);
      if (!l) throw notFound(`loan ${p(req).id}`);
      return { kind: 'loan', id: l.value.id, lender: l.value.lender, borrower: l.value.borrower, buildings: l.value.buildings };
    }), ok);
    app.get('/api/v1/finance/test/policies/:id', read(async (req) => {
      const x = await finance.getPolicy(p(req).id!);
      if (!x) throw notFound(`policy ${p(req).id}`);
      return { kind: 'policy', id: x.value.id, insurer: x.value.insurer, insured: x.value.insured, buildings: x.value.buildings };
    }), ok);
    app.get('/api/v1/finance/test/buildings/:site/:building', read(async (req) => {
      const b = await finance.getBuildingProfile({ site: p(req).site!, building: p(req).building! });
      if (!b) throw notFound('building');
      return { kind: 'building', site: b.value.site, building: b.value.building };
    }), ok);
    app.get('/api/v1/finance/test/portfolio/lenders/:lender', read((req) => ({ kind: 'lender-portfolio', lender: p(req).lender! })), ok);
    app.get('/api/v1/finance/test/portfolio/insurers/:insurer', read((req) => ({ kind: 'insurer-portfolio', insurer: p(req).insurer! })), ok);
    app.get('/api/v1/finance/test/pricing', read(() => ({ kind: 'pricing' })), ok);
    app.get('/api/v1/finance/test/admin/keys', read(() => ({ kind: 'admin' })), ok);
    app.post('/api/v1/finance/test/admin/loans', { config: { access: { action: 'write', finance: true, resource: () => ({ kind: 'admin' }) } } }, async (_req, reply) => reply.code(201).send({ created: true }));
  };
}

// ---------------------------------------------------------------------------------------------
// Harness

interface Harness {
  app: FastifyInstance;
  registry: RegistryAndFinanceStore;
  access: AccessControl;
  keys: Record<RoleName, string>;
  clock: { now: number };
}

async function createHarness(registry: RegistryAndFinanceStore, options: { seed?: boolean; finance?: boolean } = {}): Promise<Harness> {
  await registry.init();
  if (options.seed !== false) await seed(registry);
  const clock = { now: T0 };
  const access = createAccessControl({ registry, clock: () => clock.now }, { API_AUTH_KEY_CACHE_MS: 5_000 });
  const keys = {} as Record<RoleName, string>;
  for (const name of ROLE_NAMES) keys[name] = (await access.createKey({ ...ROLE_SPECS[name], label: `matrix ${name}`, createdBy: 'auth test' })).key;
  const readings = createMemoryReadingStore();
  // The finance plugin's routes join the matrix through createApiServer, as in production.
  const finance = options.finance === false ? undefined : createFinanceService({ readings, registry, clock: () => clock.now });
  // The matrix sends hundreds of 401s from one address; the failed-authentication limit has its own tests (test/security).
  const app = await createApiServer({ readings, registry, metrics: new Registry(), access, clock: () => clock.now, ...(finance ? { finance } : {}) }, { console: false, security: { API_AUTH_FAILURE_LIMIT: 0 } });
  await app.register(testRoutes(registry));
  await app.ready();
  return { app, registry, access, keys, clock };
}

async function call(app: FastifyInstance, method: 'GET' | 'POST', url: string, key?: string, header: 'bearer' | 'x-api-key' = 'bearer') {
  const headers: Record<string, string> = {};
  if (key !== undefined) headers[header === 'bearer' ? 'authorization' : 'x-api-key'] = header === 'bearer' ? `Bearer ${key}` : key;
  const res = await app.inject({ method, url, headers, ...(method === 'POST' ? { payload: {} } : {}) });
  let body: Json = {};
  try {
    body = res.json();
  } catch {
    body = {};
  }
  return { status: res.statusCode, body, text: res.body, headers: res.headers };
}

async function latestAudit(registry: RegistryStore): Promise<Json | undefined> {
  const [r] = await registry.listRecords({ kind: AUDIT_RECORD_KIND, limit: 1 });
  return r ? { id: r.id, key: r.key, ...(r.body as Json) } : undefined;
}

/** Values for a route parameter, from its name or the path segment before it. */
function paramValues(name: string, before: string | undefined): readonly string[] | undefined {
  const n = name.toLowerCase();
  const seg = (before ?? '').toLowerCase();
  if (seg === 'lender' || seg === 'lenders' || seg === 'banks') return ['bank-a', 'bank-b', 'ins-a'];
  if (seg === 'insurer' || seg === 'insurers') return ['ins-a', 'ins-b', 'bank-a'];
  if (seg === 'results') return ['no-such-result'];
  if (n === 'period') return ['y1'];
  if (n === 'site') return [SITE];
  if (n === 'building' || n === 'buildingid') return Object.keys(OWNERS);
  if (n.startsWith('loan') || seg === 'loans') return ['L-A1', 'L-B1', 'L-X'];
  if (n.startsWith('polic') || seg === 'policies') return ['P-A1', 'P-B1', 'P-X'];
  if (n === 'lender' || n === 'bank' || seg === 'lenders' || seg === 'banks') return ['bank-a', 'bank-b'];
  if (n === 'insurer' || seg === 'insurers') return ['ins-a', 'ins-b'];
  if (n === 'party' || n === 'partyid' || seg === 'parties') return PARTIES.map((x) => x.id);
  return undefined;
}

/** Every concrete URL of a route pattern over the seeded ids; throws naming a parameter it cannot fill. */
function urlsOf(pattern: string): string[] {
  const parts = pattern.split('/');
  let urls = [''];
  parts.forEach((part, i) => {
    if (i === 0) return;
    if (!part.startsWith(':')) {
      urls = urls.map((u) => `${u}/${part}`);
      return;
    }
    const values = paramValues(part.slice(1), parts[i - 1]);
    if (!values) throw new Error(`the matrix test cannot fill :${part.slice(1)} of ${pattern}: teach paramValues() in test/dashboards/auth.test.ts`);
    urls = urls.flatMap((u) => values.map((v) => `${u}/${encodeURIComponent(v)}`));
  });
  return urls;
}

/**
 * Runs every guarded route × URL × role and compares with the matrix. What a URL touches is read
 * from the audit entry of the admin's request; the expected answer for a role then follows from
 * VISIBLE (2xx like the admin's, else 404 for addressed things, 403 otherwise).
 */
async function runMatrix(h: Harness): Promise<{ checked: number; allowed: Record<string, number>; rows: string[] }> {
  const problems: string[] = [];
  const rows: string[] = [];
  const allowed: Record<string, number> = {};
  let checked = 0;
  // Finance routes and the audit log; the operator-data routes have their own matrix (access-matrix.test.ts).
  const routes = h.app.guardedRoutes.filter((r) => (r.method === 'GET' || r.method === 'POST') && (r.access.finance || r.url === '/api/v1/audit'));
  expect(routes.length).toBeGreaterThanOrEqual(9);
  for (const route of routes) {
    for (const url of urlsOf(route.url)) {
      const method = route.method as 'GET' | 'POST';
      const before = await latestAudit(h.registry);
      const admin = await call(h.app, method, url, h.keys.admin);
      const entry = route.access.finance ? await latestAudit(h.registry) : undefined;
      if (route.access.finance) {
        if (!entry || entry.id === before?.id) problems.push(`${method} ${url}: admin request not audited`);
        else if (entry.url !== url || entry.actor?.role !== 'admin' || entry.status !== admin.status) problems.push(`${method} ${url}: audit entry ${JSON.stringify(entry)}`);
      }
      const resource: string | undefined = route.access.finance ? entry?.resource : 'audit';
      const row: string[] = [`${method} ${url} [${resource ?? '-'}] admin=${admin.status}`];
      const anon = await call(h.app, method, url);
      checked += 2;
      if (anon.status !== 401 || anon.body.error?.code !== 'AUTH_REQUIRED') problems.push(`${method} ${url} without key: ${anon.status} ${anon.body.error?.code}`);
      for (const role of ROLE_NAMES.filter((r) => r !== 'admin') as Array<Exclude<RoleName, 'admin'>>) {
        const r = await call(h.app, method, url, h.keys[role], role.endsWith('B') ? 'x-api-key' : 'bearer');
        checked++;
        let expected: number;
        let code: string | undefined;
        if (route.access.action === 'write') [expected, code] = [403, 'AUTH_FORBIDDEN'];
        else if (resource === 'audit') expected = 200;
        else if (resource === undefined) [expected, code] = admin.status === 404 ? [404, 'AUTH_NOT_FOUND'] : [admin.status, undefined];
        else if (VISIBLE[role].includes(resource)) expected = admin.status;
        else if (resource === 'pricing' || resource === 'admin') [expected, code] = [403, 'AUTH_FORBIDDEN'];
        else [expected, code] = [404, 'AUTH_NOT_FOUND'];
        if (r.status !== expected || (code !== undefined && r.body.error?.code !== code)) problems.push(`${method} ${url} as ${role}: ${r.status} ${r.body.error?.code ?? ''}, expected ${expected} ${code ?? ''}`);
        if (r.status < 300) allowed[role] = (allowed[role] ?? 0) + 1;
        if (r.status >= 400 && r.text.includes('FINANCE-PAYLOAD')) problems.push(`${method} ${url} as ${role}: refused but payload sent`);
        row.push(`${role}=${r.status}`);
      }
      rows.push(row.join(' '));
    }
  }
  // AUTH_MATRIX_PRINT=1 prints the whole matrix as it ran (for review).
  if (process.env.AUTH_MATRIX_PRINT) process.stdout.write(`${rows.join('\n')}\n`);
  expect(problems, rows.join('\n')).toEqual([]);
  return { checked, allowed, rows };
}

// ---------------------------------------------------------------------------------------------

describe('API keys', () => {
  it('are wp_<keyId>_<secret> with 256 random bits, verified against a bound SHA-256 digest', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.key).toMatch(/^wp_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$/);
    expect(a.key).not.toBe(b.key);
    expect(parseApiKey(a.key)).toEqual({ keyId: a.keyId, secret: a.secret });
    expect(parseApiKey(`${a.key}x`)).toBeUndefined();
    expect(parseApiKey('Bearer abc')).toBeUndefined();
    const digest = hashApiKeySecret(a.keyId, a.secret);
    expect(digest).toMatch(/^sha256\$[A-Za-z0-9_-]{43}$/);
    expect(digest).not.toContain(a.secret);
    expect(verifyApiKeySecret(a.keyId, a.secret, digest)).toBe(true);
    expect(verifyApiKeySecret(a.keyId, b.secret, digest)).toBe(false);
    // Bound to the key id: the digest of A does not verify A's secret under B's id.
    expect(verifyApiKeySecret(b.keyId, a.secret, digest)).toBe(false);
    expect(verifyApiKeySecret(a.keyId, a.secret, 'sha256$short')).toBe(false);
  });

  it('parse grants and expiry dates as the CLI takes them', () => {
    expect(parseGrant('loan:L1')).toEqual({ kind: 'loan', id: 'L1' });
    expect(parseGrant('building:yuzhong/yz-hotel')).toEqual({ kind: 'building', site: 'yuzhong', building: 'yz-hotel' });
    expect(parseGrant('party:bank-cq')).toEqual({ kind: 'party', id: 'bank-cq' });
    for (const bad of ['loan:', 'loan', 'building:a', 'building:a/b/c', 'site:x', 'loan:has space']) expect(parseGrant(bad), bad).toBeUndefined();
    expect(parseExpiry('2027-12-31')).toBe(Date.parse('2028-01-01T00:00:00+08:00'));
    expect(parseExpiry('2027-12-31T18:00:00Z')).toBe(Date.parse('2027-12-31T18:00:00Z'));
    for (const bad of ['2027-02-30', '2027-12-31T18:00:00', 'tomorrow']) expect(parseExpiry(bad), bad).toBeUndefined();
  });

  it('refuse specs that make no sense, listing every problem', async () => {
    const access = createAccessControl({ registry: createMemoryRegistryStore(), clock: () => T0 });
    const bad = async (spec: Partial<ApiKeySpec>) => {
      const err = await access.createKey({ label: 'x', createdBy: 't', role: 'lender', ...spec } as ApiKeySpec).catch((e: unknown) => e);
      expect((err as WattproofError).code).toBe('AUTH_KEY_SPEC_INVALID');
      return ((err as WattproofError).details as { issues: Array<{ path: string; message: string }> }).issues;
    };
    expect(await bad({ role: 'lender' })).toEqual([expect.objectContaining({ path: 'grants', message: expect.stringContaining('can read nothing') })]);
    expect((await bad({ role: 'admin', party: 'bank-a' }))[0]!.message).toContain('admin key sees everything');
    expect((await bad({ role: 'insurer', party: 'ins-a', grants: [{ kind: 'loan', id: 'L1' }] }))[0]!.message).toContain('never sees loans');
    expect((await bad({ role: 'lender', party: 'bank-a', grants: [{ kind: 'policy', id: 'P1' }] }))[0]!.message).toContain('never sees policies');
    expect((await bad({ role: 'operator', grants: [{ kind: 'loan', id: 'L1' }] }))[0]!.message).toContain('buildings only');
    expect((await bad({ party: 'bank-a', expiresAtMs: T0 - 1 }))[0]!.path).toBe('expiresAtMs');
    expect((await bad({ party: 'bank-a', label: ' ' }))[0]!.path).toBe('label');
    expect((await bad({ role: 'root' as never, party: 'x' }))[0]!.path).toBe('role');
  });

  it('are stored as digests only: neither the key nor its secret is in any registry file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wattproof-auth-'));
    try {
      const registry = createJsonlRegistryStore({ dir });
      await registry.init();
      const access = createAccessControl({ registry });
      const { key, info } = await access.createKey({ role: 'lender', party: 'bank-a', label: 'bank A reporting', createdBy: 'auth test' });
      const { secret } = parseApiKey(key)!;
      expect((await access.checkKey(key)).ok).toBe(true);
      await registry.close();
      let all = '';
      for (const f of await readdir(dir)) all += await readFile(join(dir, f), 'utf8');
      expect(all).toContain(info.keyId);
      expect(all).toContain(hashApiKeySecret(info.keyId, secret));
      expect(all).not.toContain(secret);
      expect(all).not.toContain(key);
      // Reopened from the files, the key still works.
      const again = createJsonlRegistryStore({ dir });
      await again.init();
      expect(await createAccessControl({ registry: again }).checkKey(key)).toMatchObject({ ok: true, identity: { keyId: info.keyId, role: 'lender', party: 'bank-a' } });
      expect(JSON.stringify(await createAccessControl({ registry: again }).listKeys())).not.toMatch(/secretHash|sha256\$/);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('expire: refused from expiresAtMs on, and default to API_AUTH_KEY_DEFAULT_TTL_DAYS', async () => {
    const clock = { now: T0 };
    const access = createAccessControl({ registry: createMemoryRegistryStore(), clock: () => clock.now }, { API_AUTH_KEY_DEFAULT_TTL_DAYS: 30 });
    const short = await access.createKey({ role: 'admin', label: 'short', createdBy: 't', expiresAtMs: T0 + 60_000 });
    const dflt = await access.createKey({ role: 'admin', label: 'default', createdBy: 't' });
    expect(dflt.info.expiresAtMs).toBe(T0 + 30 * DAY);
    expect((await access.checkKey(short.key)).ok).toBe(true);
    clock.now = T0 + 59_999;
    expect((await access.checkKey(short.key)).ok).toBe(true);
    clock.now = T0 + 60_000;
    expect(await access.checkKey(short.key)).toMatchObject({ ok: false, code: 'AUTH_EXPIRED', keyId: short.info.keyId });
    expect((await access.checkKey(dflt.key)).ok).toBe(true);
  });

  it('revoke: at once in this process, within API_AUTH_KEY_CACHE_MS in another one', async () => {
    const registry = createMemoryRegistryStore();
    const clock = { now: T0 };
    const here = createAccessControl({ registry, clock: () => clock.now }, { API_AUTH_KEY_CACHE_MS: 5_000 });
    const there = createAccessControl({ registry, clock: () => clock.now }, { API_AUTH_KEY_CACHE_MS: 5_000 });
    const { key, info } = await here.createKey({ role: 'insurer', party: 'ins-a', label: 'x', createdBy: 't' });
    expect((await there.checkKey(key)).ok).toBe(true); // cached by `there` now
    await here.revokeKey(info.keyId, 'auth test', 'left the bank');
    expect(await here.checkKey(key)).toMatchObject({ ok: false, code: 'AUTH_REVOKED' });
    clock.now = T0 + 4_999;
    expect((await there.checkKey(key)).ok).toBe(true);
    clock.now = T0 + 5_000;
    expect(await there.checkKey(key)).toMatchObject({ ok: false, code: 'AUTH_REVOKED' });
    // A second revocation keeps the first; an unknown key id is an error.
    const first = await here.revokeKey(info.keyId, 'someone else');
    expect(first).toMatchObject({ revokedBy: 'auth test', reason: 'left the bank' });
    await expect(here.revokeKey('aaaaaaaaaaaaaaaa', 't')).rejects.toMatchObject({ code: 'AUTH_KEY_UNKNOWN' });
    await expect(here.revokeKey('not-a-key-id', 't')).rejects.toMatchObject({ code: 'AUTH_KEY_UNKNOWN' });
    expect((await here.listKeys()).map((k) => [k.keyId, k.revokedBy])).toEqual([[info.keyId, 'auth test']]);
  });

  it('answer an unknown key id and a wrong secret alike', async () => {
    const access = createAccessControl({ registry: createMemoryRegistryStore() });
    const { key } = await access.createKey({ role: 'admin', label: 'x', createdBy: 't' });
    const wrongSecret = `${key.slice(0, 20)}${generateApiKey().secret}`;
    const unknown = generateApiKey().key;
    const a = await access.checkKey(wrongSecret);
    const b = await access.checkKey(unknown);
    expect(a).toMatchObject({ ok: false, code: 'AUTH_INVALID', message: 'unknown API key' });
    expect(b).toMatchObject({ ok: false, code: 'AUTH_INVALID', message: 'unknown API key' });
  });
});

describe('the auth plugin (memory registry)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(createMemoryRegistryStore(), { finance: false });
  });
  afterAll(async () => {
    await h?.app.close();
  });

  it('needs a key on every route but the open ones (probes, docs, the console shell)', async () => {
    const none = await call(h.app, 'GET', '/api/v1/sites');
    expect([none.status, none.body.error?.code]).toEqual([401, 'AUTH_REQUIRED']);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="wattproof"');
    expect((await call(h.app, 'GET', '/api/v1/sites', h.keys.operator)).status).toBe(200);
    expect((await call(h.app, 'GET', '/health')).status).toBe(200);
    expect((await call(h.app, 'GET', '/docs/json')).status).toBe(200);
  });

  it('answers 401 with a Bearer challenge: no key, malformed, unknown, wrong scheme, two different keys, expired, revoked', async () => {
    const url = '/api/v1/finance/test/loans/L-A1';
    const none = await call(h.app, 'GET', url);
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('AUTH_REQUIRED');
    expect(none.headers['www-authenticate']).toBe('Bearer realm="wattproof"');

    const cases: Array<[Record<string, string>, string]> = [
      [{ authorization: 'Bearer nonsense' }, 'AUTH_INVALID'],
      [{ authorization: `Bearer ${generateApiKey().key}` }, 'AUTH_INVALID'],
      [{ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, 'AUTH_INVALID'],
      [{ authorization: `Bearer ${h.keys.admin}`, 'x-api-key': h.keys.lenderA }, 'AUTH_INVALID'],
    ];
    for (const [headers, code] of cases) {
      const r = await h.app.inject({ method: 'GET', url, headers });
      expect(r.statusCode, JSON.stringify(headers)).toBe(401);
      expect(r.json().error.code).toBe(code);
      expect(r.headers['www-authenticate']).toBe(`Bearer realm="wattproof", error="invalid_token", error_description="${code}"`);
    }
    // The same key in both headers is fine; case-insensitive scheme.
    expect((await h.app.inject({ method: 'GET', url, headers: { authorization: `bearer ${h.keys.admin}`, 'x-api-key': h.keys.admin } })).statusCode).toBe(200);

    const expiring = await h.access.createKey({ role: 'admin', label: 'expiring', createdBy: 't', expiresAtMs: h.clock.now + 1000 });
    expect((await call(h.app, 'GET', url, expiring.key)).status).toBe(200);
    h.clock.now += 1000;
    try {
      const expired = await call(h.app, 'GET', url, expiring.key);
      expect([expired.status, expired.body.error.code]).toEqual([401, 'AUTH_EXPIRED']);
      expect(expired.headers['www-authenticate']).toContain('error="invalid_token"');
    } finally {
      h.clock.now -= 1000;
    }

    const revoked = await h.access.createKey({ role: 'lender', party: 'bank-a', label: 'revoked', createdBy: 't' });
    expect((await call(h.app, 'GET', url, revoked.key)).status).toBe(200);
    await h.access.revokeKey(revoked.info.keyId, 'auth test');
    const r = await call(h.app, 'GET', url, revoked.key);
    expect([r.status, r.body.error.code]).toEqual([401, 'AUTH_REVOKED']);
    expect(r.text).not.toContain('FINANCE-PAYLOAD');
  });

  it('refuses another lender’s loan exactly as a loan that does not exist', async () => {
    const other = await call(h.app, 'GET', '/api/v1/finance/test/loans/L-A1', h.keys.lenderB);
    const missing = await call(h.app, 'GET', '/api/v1/finance/test/loans/L-ZZ', h.keys.lenderB);
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('AUTH_NOT_FOUND');
    expect(missing.body.error.code).toBe('AUTH_NOT_FOUND');
    expect(other.body.error.message.replace('L-A1', 'X')).toBe(missing.body.error.message.replace('L-ZZ', 'X'));
    // An insurer sees no loan at all, existing or not.
    expect((await call(h.app, 'GET', '/api/v1/finance/test/loans/L-A1', h.keys.insurerA)).body.error.code).toBe('AUTH_NOT_FOUND');
    // A write is refused for the role before anything is looked up.
    const w = await call(h.app, 'POST', '/api/v1/finance/test/admin/loans', h.keys.lenderA);
    expect([w.status, w.body.error.code]).toEqual([403, 'AUTH_FORBIDDEN']);
    expect((await call(h.app, 'POST', '/api/v1/finance/test/admin/loans', h.keys.admin)).status).toBe(201);
  });

  it('audits every finance read, allowed and refused, with who, what, route, status, time, request id and client address', async () => {
    const ok = await h.app.inject({ method: 'GET', url: '/api/v1/finance/test/loans/L-A1?asOf=2026-05-01', headers: { authorization: `Bearer ${h.keys.lenderA}` }, remoteAddress: '10.1.2.3' });
    expect(ok.statusCode).toBe(200);
    const allowed = (await latestAudit(h.registry))!;
    const lenderA = parseApiKey(h.keys.lenderA)!.keyId;
    expect(allowed).toMatchObject({
      key: 'loan/L-A1',
      atMs: h.clock.now,
      method: 'GET',
      route: '/api/v1/finance/test/loans/:id',
      url: '/api/v1/finance/test/loans/L-A1?asOf=2026-05-01',
      status: 200,
      decision: 'allowed',
      action: 'read',
      actor: { keyId: lenderA, role: 'lender', party: 'bank-a' },
      resource: 'loan/L-A1',
      resourceKind: 'loan',
      stakeholders: ['bank-a', 'owner-1'],
      clientIp: '10.1.2.3',
    });
    expect(allowed.requestId).toMatch(/\S/);

    await call(h.app, 'GET', '/api/v1/finance/test/loans/L-A1', h.keys.lenderB);
    expect(await latestAudit(h.registry)).toMatchObject({ key: 'loan/L-A1', status: 404, decision: 'refused', code: 'AUTH_NOT_FOUND', actor: { role: 'lender', party: 'bank-b' }, stakeholders: ['bank-a', 'owner-1'] });

    const forged = generateApiKey();
    await call(h.app, 'GET', '/api/v1/finance/test/loans/L-A1', forged.key);
    const anon = (await latestAudit(h.registry))!;
    expect(anon).toMatchObject({ key: 'unresolved', status: 401, decision: 'refused', code: 'AUTH_INVALID', actor: { keyId: forged.keyId }, stakeholders: [] });
    expect(anon.resource).toBeUndefined();

    await call(h.app, 'GET', '/api/v1/finance/test/pricing', h.keys.operator);
    expect(await latestAudit(h.registry)).toMatchObject({ key: 'pricing', status: 403, decision: 'refused', code: 'AUTH_FORBIDDEN', actor: { role: 'operator' } });

    // No key, secret or digest ever lands in the audit log.
    const all = JSON.stringify(await h.registry.listRecords({ kind: AUDIT_RECORD_KIND, limit: 1000 }));
    for (const key of Object.values(h.keys)) expect(all).not.toContain(parseApiKey(key)!.secret);
    expect(all).not.toContain('sha256$');
    expect(all).not.toContain(forged.secret);
  });

  it('shows each party the audit entries about its own things; admins all', async () => {
    // Fresh history: reads by several keys.
    await call(h.app, 'GET', '/api/v1/finance/test/loans/L-A1', h.keys.verifierGranted);
    await call(h.app, 'GET', '/api/v1/finance/test/loans/L-B1', h.keys.lenderB);
    await call(h.app, 'GET', '/api/v1/finance/test/buildings/yz/hotel', h.keys.insurerA);
    await call(h.app, 'GET', '/api/v1/finance/test/policies/P-B1', h.keys.insurerB);
    await call(h.app, 'GET', '/api/v1/finance/test/loans/L-B1', h.keys.lenderA); // refused

    const audit = async (role: RoleName, query = '') => {
      const r = await call(h.app, 'GET', `/api/v1/audit?limit=1000${query}`, h.keys[role]);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body.entries as Json[];
    };
    const all = await audit('admin');
    expect(all.length).toBe((await h.registry.listRecords({ kind: AUDIT_RECORD_KIND, limit: 1000 })).length);
    expect(all[0]!.time).toBe(new Date(all[0]!.atMs).toISOString());

    const bankA = await audit('lenderA');
    // Bank A sees every read of its loan (by the verifier, by bank B refused), and its own refused read of L-B1 without what it resolved to.
    expect(bankA.filter((e) => e.resource === 'loan/L-A1' && e.actor.role === 'verifier').length).toBeGreaterThan(0);
    expect(bankA.some((e) => e.resource === 'loan/L-A1' && e.actor.party === 'bank-b')).toBe(true);
    expect(bankA.some((e) => e.resource === 'loan/L-B1')).toBe(false);
    const ownRefusal = bankA.find((e) => e.url === '/api/v1/finance/test/loans/L-B1');
    expect(ownRefusal).toMatchObject({ status: 404, decision: 'refused', stakeholders: [] });
    expect(ownRefusal!.resource).toBeUndefined();
    // Filtering by a resource it is not party to tells it nothing.
    expect(await audit('lenderA', '&resource=loan/L-B1')).toEqual([]);

    // The owner of the hotel (operator key of owner-1) sees reads of its loan, its policy and its building, not of the office's.
    const owner = await audit('operator');
    expect(owner.some((e) => e.resource === 'loan/L-A1')).toBe(true);
    expect(owner.some((e) => e.resource === 'building/yz/hotel' && e.actor.party === 'ins-a')).toBe(true);
    expect(owner.every((e) => e.stakeholders.includes('owner-1') || e.actor.keyId === parseApiKey(h.keys.operator)!.keyId)).toBe(true);
    expect(owner.some((e) => e.resource === 'loan/L-B1' || e.resource === 'policy/P-B1')).toBe(false);

    // Insurer B sees reads of its policy only; the verifier without grants only its own requests.
    expect((await audit('insurerB')).every((e) => e.stakeholders.includes('ins-b') || e.actor.party === 'ins-b')).toBe(true);
    expect((await audit('insurerB')).some((e) => e.resource === 'policy/P-B1')).toBe(true);
    const verifierKey = parseApiKey(h.keys.verifierNone)!.keyId;
    expect((await audit('verifierNone')).every((e) => e.actor.keyId === verifierKey)).toBe(true);

    // Filters and pages: by resource, by key id, and a cursor.
    const loanA = await audit('admin', '&resource=loan/L-A1');
    expect(loanA.length).toBeGreaterThan(2);
    expect(loanA.every((e) => e.resource === 'loan/L-A1')).toBe(true);
    expect((await audit('admin', '&resource=building/')).every((e) => e.resource.startsWith('building/'))).toBe(true);
    const byKey = await audit('admin', `&keyId=${parseApiKey(h.keys.lenderB)!.keyId}`);
    expect(byKey.length).toBeGreaterThan(0);
    expect(byKey.every((e) => e.actor.party === 'bank-b')).toBe(true);
    const p1 = await call(h.app, 'GET', '/api/v1/audit?limit=2', h.keys.admin);
    const p2 = await call(h.app, 'GET', `/api/v1/audit?limit=2&before=${p1.body.next}`, h.keys.admin);
    expect(p2.body.entries.map((e: Json) => e.id)).toEqual(all.slice(2, 4).map((e) => e.id));
    // The audit route needs a key too, and is not itself audited.
    expect((await call(h.app, 'GET', '/api/v1/audit')).status).toBe(401);
    expect((await call(h.app, 'GET', '/api/v1/audit?limit=0', h.keys.admin)).status).toBe(400);
  });

  it('withholds finance data when its audit entry cannot be written (503 AUTH_AUDIT_UNAVAILABLE)', async () => {
    const registry = createMemoryRegistryStore();
    await registry.init();
    await seed(registry);
    let failAudit = false;
    const flaky = new Proxy(registry, {
      get(target, prop, receiver) {
        if (prop === 'appendRecords') {
          return async (records: Parameters<RegistryStore['appendRecords']>[0]) => {
            if (failAudit && records.some((r) => r.kind === AUDIT_RECORD_KIND)) throw new WattproofError('REGISTRY_WRITE_FAILED', 'disk full', { statusCode: 503, retriable: true });
            return target.appendRecords(records);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as RegistryAndFinanceStore;
    const access = createAccessControl({ registry: flaky });
    const { key } = await access.createKey({ role: 'admin', label: 'x', createdBy: 't' });
    const app = await createApiServer({ readings: createMemoryReadingStore(), registry: flaky, metrics: new Registry(), access }, { console: false });
    await app.register(testRoutes(flaky));
    try {
      expect((await call(app, 'GET', '/api/v1/finance/test/loans/L-A1', key)).status).toBe(200);
      failAudit = true;
      const r = await call(app, 'GET', '/api/v1/finance/test/loans/L-A1', key);
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('AUTH_AUDIT_UNAVAILABLE');
      expect(r.text).not.toContain('FINANCE-PAYLOAD');
      // Refusals are withheld too (their audit entry is as important).
      expect((await call(app, 'GET', '/api/v1/finance/test/loans/L-A1')).status).toBe(503);
    } finally {
      await app.close();
    }
  });

  it('refuses to start with a route that declares no access and is not an open one (deny by default)', async () => {
    for (const url of ['/api/v1/finance/unguarded', '/api/v1/readings-dump', '/debug', '/docsx', '/console/:file/extra']) {
      const app = await createApiServer({ readings: createMemoryReadingStore(), registry: createMemoryRegistryStore(), metrics: new Registry() }, { console: false });
      const failed = await (async () => {
        await app.register(async (a) => {
          a.get(url, async () => ({ loans: ['everything'] }));
        });
        await app.ready();
      })().catch((e: unknown) => e);
      expect(failed, url).toMatchObject({ code: 'AUTH_ROUTE_UNGUARDED' });
      await app.close().catch(() => undefined);
    }
    // The same route with config.access registers.
    const ok = await createApiServer({ readings: createMemoryReadingStore(), registry: createMemoryRegistryStore(), metrics: new Registry() }, { console: false });
    await ok.register(async (a) => {
      a.get('/debug', { config: { access: { action: 'read', finance: false, resource: () => ({ kind: 'ops' }) } } }, async () => ({ ok: true }));
    });
    await ok.ready();
    expect((await ok.inject({ url: '/debug' })).statusCode).toBe(401);
    await ok.close();
  });
});

describe('the access matrix', () => {
  let memory: Harness;
  let server: TestPostgres | undefined;
  let pgHarness: Harness | undefined;

  beforeAll(async () => {
    memory = await createHarness(createMemoryRegistryStore());
  });
  afterAll(async () => {
    await memory?.app.close();
    await pgHarness?.app.close();
    await pgHarness?.registry.close();
    await server?.stop();
  });

  it('covers every guarded route (test routes of every resource kind, the audit route, the finance plugin when present)', () => {
    const urls = memory.app.guardedRoutes.map((r) => `${r.method} ${r.url}`);
    for (const u of ['GET /api/v1/audit', 'GET /api/v1/finance/test/loans/:id', 'GET /api/v1/finance/test/policies/:id', 'GET /api/v1/finance/test/buildings/:site/:building', 'GET /api/v1/finance/test/pricing', 'POST /api/v1/finance/test/admin/loans']) {
      expect(urls).toContain(u);
    }
    if (existsSync(FINANCE_PLUGIN)) expect(urls.some((u) => u.includes('/api/v1/finance/') && !u.includes('/api/v1/finance/test/'))).toBe(true);
  });

  it('on the memory registry: every role gets exactly what the matrix grants', async () => {
    const { checked, allowed } = await runMatrix(memory);
    expect(checked).toBeGreaterThan(150);
    // Over the test routes and the audit log alone, the 2xx answers per role, counted by hand from VISIBLE.
    if (!memory.app.guardedRoutes.some((r) => r.url.startsWith('/api/v1/finance/') && !r.url.startsWith('/api/v1/finance/test/'))) {
      expect(allowed).toEqual({ lenderA: 4, lenderB: 4, insurerA: 5, insurerB: 5, verifierGranted: 4, verifierNone: 1, operator: 2 });
    }
  }, 120_000);

  it('on PostgreSQL: the same matrix', async () => {
    server = await startPostgres();
    const url = await server.createDatabase('auth_matrix');
    pgHarness = await createHarness(createPostgresRegistryStore({ connectionString: url, poolSize: 4 }));
    const { checked } = await runMatrix(pgHarness);
    expect(checked).toBeGreaterThan(150);
    // And the keys there are digests only.
    const rows = JSON.stringify(await pgHarness.registry.listRecords({ kind: 'api.key', limit: 100 }));
    for (const key of Object.values(pgHarness.keys)) expect(rows).not.toContain(parseApiKey(key)!.secret);
  }, 240_000);
});

describe('the local admin key of wattproof start', () => {
  it('is created in a 0600 file, reused while valid, replaced when revoked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wattproof-adminkey-'));
    try {
      const access = createAccessControl({ registry: createMemoryRegistryStore() });
      const path = join(dir, 'nested', 'api-admin.key');
      const first = await ensureLocalAdminKey(access, path);
      expect(first.created).toBe(true);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      const key = (await readFile(path, 'utf8')).trim();
      expect(await access.checkKey(key)).toMatchObject({ ok: true, identity: { role: 'admin', keyId: first.keyId } });
      const second = await ensureLocalAdminKey(access, path);
      expect(second).toMatchObject({ created: false, keyId: first.keyId });
      await access.revokeKey(first.keyId, 'test');
      const third = await ensureLocalAdminKey(access, path);
      expect(third.created).toBe(true);
      expect(third.keyId).not.toBe(first.keyId);
      await writeFile(path, 'garbage\n', { mode: 0o644 });
      const fourth = await ensureLocalAdminKey(access, path);
      expect(fourth.created).toBe(true);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
