/**
 * The endpoint × role matrix of docs/access.md over EVERY route of a fully equipped API (console,
 * M&V jobs, alerts, finance, report packs) on memory stores, through `app.inject()` (the live
 * stream, which never ends, on a loopback socket):
 *
 * - the complete route list comes from fastify itself (`printRoutes`) and must equal the table
 *   below, route for route — a route added without a row here fails this test; every route the
 *   auth plugin saw is either guarded or on the open list, and the plugin saw every route;
 * - without a key every route answers 401 AUTH_REQUIRED, except the open ones (probes, docs, the
 *   console's static shell), which answer without one;
 * - for each role — the operator of building A, the lender financing A, the insurer covering A,
 *   a verifier granted A, an admin — the expected 200/403/404 on building A and on building B
 *   (and on their loans, policies, results, alerts), the same answer for B as for a building
 *   that does not exist;
 * - the lists (sites, buildings, meters, latest readings, series, alerts, portfolio, coverage,
 *   the stream) carry only the buildings the key may read; site-wide things only for admins.
 *
 * Seeded: site yz with buildings hotel (A: owner-a; loan L-A of bank-a; policy P-A of ins-a) and
 * office (B: owner-b; loan L-B of bank-b; policy P-B of ins-b); site cq with building hq
 * (owner-b). Two years of hourly simulated readings and an M&V result per building of yz.
 * `ACCESS_MATRIX_PRINT=1` prints the matrix as it ran.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configWith, type LoanInput, type NewDeadLetter, type PolicyInput, type StoredReading } from '@wattproof/core';
import { alertsConfigSchema, createAlertEngine, createFinanceService, createMvJobs, type AlertEngine } from '@wattproof/analytics';
import { createAccessControl, createApiServer, generateSigner, isOpenRoute, OPEN_ROUTES, type ApiKeySpec } from '@wattproof/dashboards';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createMemoryReadingStore } from '@wattproof/ingest';
import { chongqingTypicalYear, createBuildingModel } from '@wattproof/simulators';
import { bearer, TEST_KEY_EXPIRES_AT_MS } from '../support/api-keys.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const H = 3_600_000;
const at = (date: string) => Date.parse(`${date}T00:00:00+08:00`);
/** The API's clock: a few days after the last reading, so every meter is silent. */
const NOW = at('2026-01-05');
const SITE = 'yz';
const A = { site: SITE, building: 'hotel' };
const B = { site: SITE, building: 'office' };
const OTHER_SITE = { site: 'cq', building: 'hq' };
type Variant = 'A' | 'B';
const BLD: Record<Variant, { site: string; building: string }> = { A, B };
const LOAN: Record<Variant, string> = { A: 'L-A', B: 'L-B' };
const POLICY: Record<Variant, string> = { A: 'P-A', B: 'P-B' };

const ROLE_SPECS = {
  admin: { role: 'admin' },
  operator: { role: 'operator', party: 'owner-a' },
  lender: { role: 'lender', party: 'bank-a' },
  insurer: { role: 'insurer', party: 'ins-a' },
  verifier: { role: 'verifier', party: 'verif-co', grants: [{ kind: 'building', site: SITE, building: 'hotel' }] },
} as const satisfies Record<string, Omit<ApiKeySpec, 'label' | 'createdBy'>>;
type Role = keyof typeof ROLE_SPECS;
const ROLES = Object.keys(ROLE_SPECS) as Role[];
const NON_ADMIN = ROLES.filter((r) => r !== 'admin') as Array<Exclude<Role, 'admin'>>;

/** What each non-admin role may read, as resource keys (docs/access.md). Everything else: 404 if addressed by id, 403 if refused by role. */
const VISIBLE: Record<Exclude<Role, 'admin'>, readonly string[]> = {
  operator: ['building/yz/hotel'],
  lender: ['building/yz/hotel', 'loan/L-A', 'lender-portfolio/bank-a'],
  insurer: ['building/yz/hotel', 'policy/P-A', 'insurer-portfolio/ins-a', 'pricing'],
  verifier: ['building/yz/hotel'],
};
/** The buildings each role's lists may show. */
const LISTED: Record<Role, readonly string[]> = { admin: ['cq/hq', 'yz/hotel', 'yz/office'], operator: ['yz/hotel'], lender: ['yz/hotel'], insurer: ['yz/hotel'], verifier: ['yz/hotel'] };

// ---------------------------------------------------------------------------------------------
// The table: every route of the server, with the requests that probe it.

/** How the matrix decides the expected answer of one request. */
type Rule =
  /** No key needed: the same answer with and without one. */
  | { readonly kind: 'open' }
  /** A thing addressed by id (`building/yz/hotel`, `loan/L-A`, …): the admin's answer if VISIBLE, else 404 AUTH_NOT_FOUND. */
  | { readonly kind: 'addressed'; readonly resource: string }
  /** A list: 200 for every key, with only LISTED buildings (`buildings` extracts them from the body). */
  | { readonly kind: 'list'; readonly buildings: (body: Json) => string[] }
  /** Role-only refusals: `ops`, `admin` (registry administration): 403 AUTH_FORBIDDEN for every non-admin. */
  | { readonly kind: 'admin-only' }
  /** A write: 403 AUTH_FORBIDDEN for every non-admin, before anything is looked up. */
  | { readonly kind: 'write' }
  /** Every key (the audit log, whoami). */
  | { readonly kind: 'any-key' }
  /** A site none of whose buildings the key may read: 404 API_NOT_FOUND, as for a site that does not exist. */
  | { readonly kind: 'hidden-site' };

interface Probe {
  readonly url: string;
  readonly rule: Rule;
  /** The admin's status (the matrix needs to know the route really answers). */
  readonly admin: number;
  readonly body?: unknown;
}

const addressed = (resource: string) => ({ kind: 'addressed', resource }) as const;
const bld = (v: Variant) => `building/${BLD[v].site}/${BLD[v].building}`;
const list = (buildings: (body: Json) => string[]) => ({ kind: 'list', buildings }) as const;
const keyOf = (x: { site: string; building?: string | undefined }) => (x.building === undefined ? `${x.site}/*` : `${x.site}/${x.building}`);
const each = <T>(f: (v: Variant) => T): T[] => (['A', 'B'] as const).map(f);
const OPEN = { kind: 'open' } as const;
const ADMIN_ONLY = { kind: 'admin-only' } as const;
const WRITE = { kind: 'write' } as const;
const ANY_KEY = { kind: 'any-key' } as const;

/** Ids known after seeding (M&V results, settlements). */
const ids = { result: { A: '', B: '' }, settlement: { A: '', B: '' }, asset: '' };

function table(): Record<string, Probe[]> {
  const meter = (v: Variant) => `/api/v1/meters/${BLD[v].site}/${BLD[v].building}/main`;
  const building = (v: Variant) => `/api/v1/buildings/${BLD[v].site}/${BLD[v].building}`;
  const byBuilding = (path: (v: Variant) => string, admin = 200) => each((v) => ({ url: path(v), rule: addressed(bld(v)), admin }));
  const q = (v: Variant) => `site=${BLD[v].site}&building=${BLD[v].building}`;
  const docs = (url: string, admin = 200): Probe[] => [{ url, rule: OPEN, admin }];
  return {
    // Open: probes, docs, the console shell.
    'GET /': docs('/'),
    'GET /console/:file': [{ url: `/console/${ids.asset}`, rule: OPEN, admin: 200 }, { url: '/console/nope.js', rule: OPEN, admin: 404 }],
    'GET /api': docs('/api'),
    'GET /health': docs('/health'),
    'GET /ready': docs('/ready'),
    'GET /docs': docs('/docs'),
    'GET /docs/': docs('/docs/'),
    'GET /docs/json': docs('/docs/json'),
    'GET /docs/yaml': docs('/docs/yaml'),
    'GET /docs/static/index.html': docs('/docs/static/index.html', 302),
    'GET /docs/static/swagger-initializer.js': docs('/docs/static/swagger-initializer.js'),
    'GET /docs/static/*': docs('/docs/static/swagger-ui.css'),
    // Every key.
    'GET /api/v1/audit': [{ url: '/api/v1/audit?limit=5', rule: ANY_KEY, admin: 200 }],
    'GET /api/v1/auth/whoami': [{ url: '/api/v1/auth/whoami', rule: ANY_KEY, admin: 200 }],
    // Operations of the whole deployment.
    'GET /metrics': [{ url: '/metrics', rule: ADMIN_ONLY, admin: 200 }],
    'POST /api/v1/alerts/evaluate': [{ url: '/api/v1/alerts/evaluate', rule: WRITE, admin: 200 }],
    'POST /api/v1/mv/analyses': [{ url: '/api/v1/mv/analyses', rule: WRITE, admin: 400, body: {} }],
    'POST /api/v1/mv/definitions': [{ url: '/api/v1/mv/definitions', rule: WRITE, admin: 400, body: {} }],
    // Portfolio and readings.
    'GET /api/v1/sites': [{ url: '/api/v1/sites', rule: list((b) => b.sites.map((s: Json) => `${s.id}/?`)), admin: 200 }],
    'GET /api/v1/buildings': [{ url: '/api/v1/buildings', rule: list((b) => b.buildings.map((x: Json) => `${x.site}/${x.id}`)), admin: 200 }],
    'GET /api/v1/sites/:site/buildings': [
      { url: '/api/v1/sites/yz/buildings', rule: list((b) => b.buildings.map((x: Json) => `${x.site}/${x.id}`)), admin: 200 },
      { url: '/api/v1/sites/cq/buildings', rule: { kind: 'hidden-site' }, admin: 200 },
    ],
    'GET /api/v1/meters': [
      { url: '/api/v1/meters', rule: list((b) => b.meters.map((x: Json) => keyOf(x as { site: string; building?: string }))), admin: 200 },
      ...each((v) => ({ url: `/api/v1/meters?${q(v)}`, rule: addressed(bld(v)), admin: 200 })),
    ],
    'GET /api/v1/meters/:site/:building/:meter': byBuilding(meter),
    'GET /api/v1/meters/:site/:building/:meter/readings': byBuilding((v) => `${meter(v)}/readings?from=${at('2025-12-01')}&to=${at('2025-12-02')}`),
    'GET /api/v1/latest': [
      { url: '/api/v1/latest', rule: list((b) => b.readings.map((x: Json) => keyOf(x as { site: string; building?: string }))), admin: 200 },
      ...each((v) => ({ url: `/api/v1/latest?${q(v)}`, rule: addressed(bld(v)), admin: 200 })),
    ],
    'GET /api/v1/series': [
      { url: '/api/v1/series', rule: list((b) => b.series.map((x: Json) => keyOf(x as { site: string; building?: string }))), admin: 200 },
      ...each((v) => ({ url: `/api/v1/series?${q(v)}`, rule: addressed(bld(v)), admin: 200 })),
    ],
    // Ingest diagnostics: one building's for whoever may read it; the whole deployment's for admins.
    'GET /api/v1/dead-letters': [
      { url: '/api/v1/dead-letters', rule: ADMIN_ONLY, admin: 200 },
      { url: '/api/v1/dead-letters?site=yz', rule: ADMIN_ONLY, admin: 200 },
      ...each((v) => ({ url: `/api/v1/dead-letters?${q(v)}`, rule: addressed(bld(v)), admin: 200 })),
    ],
    'GET /api/v1/register-events': [
      { url: '/api/v1/register-events', rule: ADMIN_ONLY, admin: 200 },
      ...each((v) => ({ url: `/api/v1/register-events?${q(v)}`, rule: addressed(bld(v)), admin: 200 })),
    ],
    // M&V.
    'GET /api/v1/meters/:site/:building/:meter/mv': byBuilding((v) => `${meter(v)}/mv`),
    'GET /api/v1/meters/:site/:building/:meter/mv/results': byBuilding((v) => `${meter(v)}/mv/results`),
    'GET /api/v1/meters/:site/:building/:meter/mv/adjustments': byBuilding((v) => `${meter(v)}/mv/adjustments`),
    'POST /api/v1/meters/:site/:building/:meter/mv/adjustments': each((v) => ({ url: `${meter(v)}/mv/adjustments`, rule: WRITE, admin: 400, body: {} })),
    'GET /api/v1/buildings/:site/:building/mv': byBuilding((v) => `${building(v)}/mv`),
    'POST /api/v1/mv/results/:id/rederive': [
      ...each((v) => ({ url: `/api/v1/mv/results/${ids.result[v]}/rederive`, rule: addressed(bld(v)), admin: 200 })),
      { url: '/api/v1/mv/results/999999/rederive', rule: addressed('mv-result/none'), admin: 404 },
    ],
    // Console data.
    'GET /api/v1/portfolio/summary': [
      { url: '/api/v1/portfolio/summary', rule: list((b) => b.sites.flatMap((s: Json) => s.buildings.map((x: Json) => `${s.id}/${x.id}`))), admin: 200 },
      { url: '/api/v1/portfolio/summary?site=cq', rule: { kind: 'hidden-site' }, admin: 200 },
    ],
    'GET /api/v1/buildings/:site/:building/overview': byBuilding((v) => `${building(v)}/overview`),
    'GET /api/v1/buildings/:site/:building/timeseries': byBuilding((v) => `${building(v)}/timeseries?bucket=1d`),
    'GET /api/v1/buildings/:site/:building/savings': byBuilding((v) => `${building(v)}/savings`),
    'GET /api/v1/quality/coverage': [
      { url: '/api/v1/quality/coverage?bucket=1mo', rule: list((b) => b.series.map((x: Json) => keyOf(x as { site: string; building?: string }))), admin: 200 },
      { url: '/api/v1/quality/coverage?bucket=1mo&site=cq', rule: { kind: 'hidden-site' }, admin: 200 },
      ...each((v) => ({ url: `/api/v1/quality/coverage?bucket=1mo&${q(v)}`, rule: addressed(bld(v)), admin: 200 })),
    ],
    // The stream never ends: only its refusals go through inject here; what it carries is the socket test below.
    'GET /api/v1/stream': [{ url: `/api/v1/stream?${q('B')}`, rule: addressed(bld('B')), admin: -1 }],
    // Reports.
    'GET /api/v1/buildings/:site/:building/reports/monthly': byBuilding((v) => `${building(v)}/reports/monthly?month=2025-12&format=json`),
    // Alerts: a building's to the keys that may read it, a site-wide one to admins.
    'GET /api/v1/alerts': [{ url: '/api/v1/alerts', rule: list((b) => b.alerts.map((x: Json) => keyOf(x as { site: string; building?: string }))), admin: 200 }, ...each((v) => ({ url: `/api/v1/alerts?${q(v)}`, rule: addressed(bld(v)), admin: 200 }))],
    'GET /api/v1/alerts/:id': [
      ...each((v) => ({ url: `/api/v1/alerts/meter_silent:${BLD[v].site}:${BLD[v].building}:main`, rule: addressed(bld(v)), admin: 200 })),
      { url: '/api/v1/alerts/dead_letter_surge:yz', rule: addressed('site/yz'), admin: 200 },
      { url: '/api/v1/alerts/meter_silent:yz:hotel:nope', rule: addressed('alert/none'), admin: 404 },
    ],
    // Report packs (finance: audited).
    'GET /api/v1/packs/buildings/:site/:building': byBuilding((v) => `/api/v1/packs/buildings/${BLD[v].site}/${BLD[v].building}?from=2025-01-01&to=2026-01-01`),
    'GET /api/v1/packs/loans/:id': each((v) => ({ url: `/api/v1/packs/loans/${LOAN[v]}?from=2025-01-01&to=2026-01-01`, rule: addressed(`loan/${LOAN[v]}`), admin: 200 })),
    'GET /api/v1/packs/policies/:id': each((v) => ({ url: `/api/v1/packs/policies/${POLICY[v]}?period=y1`, rule: addressed(`policy/${POLICY[v]}`), admin: 200 })),
    // Finance.
    'GET /api/v1/finance/parties': [{ url: '/api/v1/finance/parties', rule: ADMIN_ONLY, admin: 200 }],
    'GET /api/v1/finance/parties/:id': [{ url: '/api/v1/finance/parties/owner-a', rule: ADMIN_ONLY, admin: 200 }],
    'GET /api/v1/finance/buildings': [{ url: '/api/v1/finance/buildings', rule: ADMIN_ONLY, admin: 200 }],
    'GET /api/v1/finance/buildings/:site/:building/profiles': byBuilding((v) => `/api/v1/finance/buildings/${BLD[v].site}/${BLD[v].building}/profiles`),
    'GET /api/v1/finance/loans': [
      { url: '/api/v1/finance/loans', rule: ADMIN_ONLY, admin: 200 },
      { url: '/api/v1/finance/loans?lender=bank-a', rule: addressed('lender-portfolio/bank-a'), admin: 200 },
      { url: '/api/v1/finance/loans?lender=bank-b', rule: addressed('lender-portfolio/bank-b'), admin: 200 },
    ],
    'GET /api/v1/finance/loans/:id': each((v) => ({ url: `/api/v1/finance/loans/${LOAN[v]}`, rule: addressed(`loan/${LOAN[v]}`), admin: 200 })),
    'GET /api/v1/finance/loans/:id/history': each((v) => ({ url: `/api/v1/finance/loans/${LOAN[v]}/history`, rule: addressed(`loan/${LOAN[v]}`), admin: 200 })),
    'GET /api/v1/finance/loans/:id/balances': each((v) => ({ url: `/api/v1/finance/loans/${LOAN[v]}/balances`, rule: addressed(`loan/${LOAN[v]}`), admin: 200 })),
    'GET /api/v1/finance/loans/:id/covenant-tests': each((v) => ({ url: `/api/v1/finance/loans/${LOAN[v]}/covenant-tests`, rule: addressed(`loan/${LOAN[v]}`), admin: 200 })),
    'POST /api/v1/finance/loans/:id/covenant-tests': each((v) => ({ url: `/api/v1/finance/loans/${LOAN[v]}/covenant-tests`, rule: addressed(`loan/${LOAN[v]}`), admin: 201, body: {} })),
    'GET /api/v1/finance/results/:id': each((v) => ({ url: `/api/v1/finance/results/${ids.settlement[v]}`, rule: addressed(`policy/${POLICY[v]}`), admin: 200 })),
    'GET /api/v1/finance/policies': [
      { url: '/api/v1/finance/policies', rule: ADMIN_ONLY, admin: 200 },
      { url: '/api/v1/finance/policies?insurer=ins-a', rule: addressed('insurer-portfolio/ins-a'), admin: 200 },
      { url: '/api/v1/finance/policies?insurer=ins-b', rule: addressed('insurer-portfolio/ins-b'), admin: 200 },
    ],
    'GET /api/v1/finance/policies/:id': each((v) => ({ url: `/api/v1/finance/policies/${POLICY[v]}`, rule: addressed(`policy/${POLICY[v]}`), admin: 200 })),
    'GET /api/v1/finance/policies/:id/settlements': each((v) => ({ url: `/api/v1/finance/policies/${POLICY[v]}/settlements`, rule: addressed(`policy/${POLICY[v]}`), admin: 200 })),
    'GET /api/v1/finance/policies/:id/periods/:period/settlements': each((v) => ({ url: `/api/v1/finance/policies/${POLICY[v]}/periods/y1/settlements`, rule: addressed(`policy/${POLICY[v]}`), admin: 200 })),
    'POST /api/v1/finance/policies/:id/periods/:period/settlement': each((v) => ({ url: `/api/v1/finance/policies/${POLICY[v]}/periods/y1/settlement`, rule: addressed(`policy/${POLICY[v]}`), admin: 201, body: {} })),
    // Pricing: insurers only, and only on a building the key may read.
    'POST /api/v1/finance/pricing': each((v) => ({ url: '/api/v1/finance/pricing', rule: addressed(`pricing/${BLD[v].building}`), admin: 200, body: pricingBody(v) })),
    'GET /api/v1/finance/portfolio/lender/:party': [
      { url: '/api/v1/finance/portfolio/lender/bank-a', rule: addressed('lender-portfolio/bank-a'), admin: 200 },
      { url: '/api/v1/finance/portfolio/lender/bank-b', rule: addressed('lender-portfolio/bank-b'), admin: 200 },
    ],
    'GET /api/v1/finance/portfolio/lender/:party/jrt0227': [
      { url: '/api/v1/finance/portfolio/lender/bank-a/jrt0227?year=2025', rule: addressed('lender-portfolio/bank-a'), admin: 200 },
      { url: '/api/v1/finance/portfolio/lender/bank-b/jrt0227?year=2025', rule: addressed('lender-portfolio/bank-b'), admin: 200 },
    ],
    'GET /api/v1/finance/portfolio/insurer/:party': [
      { url: '/api/v1/finance/portfolio/insurer/ins-a', rule: addressed('insurer-portfolio/ins-a'), admin: 200 },
      { url: '/api/v1/finance/portfolio/insurer/ins-b', rule: addressed('insurer-portfolio/ins-b'), admin: 200 },
    ],
  };
}

function pricingBody(v: Variant) {
  return { ...BLD[v], meter: 'main', guaranteedSavingsKwh: 10_000, contractPriceCnyPerKwh: 0.8, deductibleCny: 0, limitCny: 100_000, simulations: 200, weatherYears: 'typical' };
}

/** `pricing/<building>`: the pricing role check, then the building row. */
function visibleTo(role: Exclude<Role, 'admin'>, resource: string): boolean {
  const m = /^pricing\/(.+)$/.exec(resource);
  if (m) return VISIBLE[role].includes('pricing') && VISIBLE[role].includes(`building/${SITE}/${m[1]}`);
  return VISIBLE[role].includes(resource);
}

/** What a non-admin role must get for a probe, given the admin's answer. */
function expected(role: Exclude<Role, 'admin'>, probe: Probe, admin: Answer): { status: number; code?: string | undefined } {
  const r = probe.rule;
  switch (r.kind) {
    case 'open':
    case 'any-key':
      return { status: admin.status, code: admin.code };
    case 'list':
      return { status: 200 };
    case 'hidden-site':
      return { status: 404, code: 'API_NOT_FOUND' };
    case 'admin-only':
    case 'write':
      return { status: 403, code: 'AUTH_FORBIDDEN' };
    case 'addressed':
      // Pricing is refused by role (403) before the building is looked at.
      if (r.resource.startsWith('pricing/') && !VISIBLE[role].includes('pricing')) return { status: 403, code: 'AUTH_FORBIDDEN' };
      return visibleTo(role, r.resource) ? { status: admin.status, code: admin.code } : { status: 404, code: 'AUTH_NOT_FOUND' };
  }
}

// ---------------------------------------------------------------------------------------------
// Seed and server

let app: FastifyInstance;
let engine: AlertEngine;
const keys = {} as Record<Role, string>;

interface Answer {
  readonly status: number;
  readonly code?: string | undefined;
  readonly body: Json;
  readonly text: string;
}

async function call(method: string, url: string, key?: string, body?: unknown): Promise<Answer> {
  const res = await app.inject({ method: method as 'GET', url, headers: key ? bearer(key) : {}, ...(body !== undefined ? { payload: body as Json } : {}) });
  let json: Json = {};
  try {
    json = res.json();
  } catch {
    json = {};
  }
  return { status: res.statusCode, code: json.error?.code, body: json, text: res.body };
}

function loan(id: string, lender: string, borrower: string, building: string): LoanInput {
  return {
    id,
    lender,
    borrower,
    kind: 'green_loan',
    assetClass: 'commercial_real_estate',
    currency: 'CNY',
    buildings: [{ site: SITE, building }],
    originationDate: '2024-06-01',
    maturityDate: '2031-06-01',
    propertyValueAtOriginationCny: 300_000_000,
    baseMarginBp: -10,
    covenants: [{ id: 'coverage-95', kpi: 'data_coverage_fraction', scope: { site: SITE, building, meter: 'main' }, operator: '>=', threshold: 0.95, schedule: { frequency: 'quarterly', firstTestDate: '2025-04-01', measurementWindowMonths: 3 }, graceDays: 0, ratchet: { bpOnPass: 0, bpOnFail: 5 } }],
  };
}

function policy(id: string, insurer: string, insured: string, building: string): PolicyInput {
  return {
    id,
    insurer,
    insured,
    buildings: [{ site: SITE, building }],
    meters: [{ site: SITE, building, meter: 'main' }],
    periods: [{ id: 'y1', from: '2025-01-01', to: '2026-01-01', guaranteedSavingsKwh: 50_000 }],
    contractPriceCnyPerKwh: 0.8,
    deductibleCny: 0,
    limitCny: 1_000_000,
    effectiveFrom: '2025-01-01',
    effectiveTo: '2027-01-01',
  };
}

function deadLetter(building: string, i: number): NewDeadLetter {
  return { receivedAtMs: NOW - 60_000 - i * 1000, source: 'gateway', topic: `wattproof/v1/${SITE}/${building}/main/readings`, code: 'CONTRACT_SCHEMA_INVALID', reason: `bad ${building} ${i}`, payload: '{}', payloadEncoding: 'utf8', payloadBytes: 2, truncated: false };
}

beforeAll(async () => {
  const readings = createMemoryReadingStore();
  const registry = createMemoryRegistryStore();
  await readings.init();
  await registry.init();
  const clock = () => NOW;
  await registry.upsertSite({ id: SITE, name: 'Yuzhong', timezone: 'Asia/Shanghai' });
  await registry.upsertSite({ id: 'cq', name: 'Chongqing HQ', timezone: 'Asia/Shanghai' });
  const weather = chongqingTypicalYear();
  const rows: StoredReading[] = [];
  for (const [i, b] of [A, B].entries()) {
    await registry.upsertBuilding({ site: b.site, id: b.building, type: 'office_b', floorAreaM2: 20_000 });
    await registry.upsertMeter({ ...b, meter: 'main', quantity: 'electricity' });
    await registry.upsertMeter({ ...b, meter: 'outdoor', quantity: 'outdoor_temperature' });
    const model = createBuildingModel({ id: `sim-${b.building}`, archetype: 'office_b', floorAreaM2: 20_000, seed: 100 + i, retrofits: [{ id: 'r1', description: 'lighting, −8 %', from: '2025-01-01', target: 'total', saving: 0.08 }] }, weather);
    for (let t = at('2024-01-01'); t < at('2026-01-01'); t += H) {
      rows.push({ ...b, meter: 'main', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, intervalS: 3600, value: Math.round(model.hour(t).main * 1000) / 1000 });
      rows.push({ ...b, meter: 'outdoor', quantity: 'outdoor_temperature', kind: 'instant', unit: '°C', ts: t, value: Math.round(weather.at(t).temperatureC * 100) / 100 });
    }
  }
  await registry.upsertMeter({ ...OTHER_SITE, meter: 'main', quantity: 'electricity' });
  for (let t = at('2025-12-01'); t < at('2026-01-01'); t += H) rows.push({ ...OTHER_SITE, meter: 'main', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, intervalS: 3600, value: 5 });
  await readings.write(rows);
  await registry.addDeadLetters([...Array.from({ length: 6 }, (_, i) => deadLetter('hotel', i)), ...Array.from({ length: 6 }, (_, i) => deadLetter('office', i))]);
  await registry.addRegisterEvents(
    [A, B].map((b) => ({ ...b, meter: 'main', quantity: 'electricity' as const, ts: at('2025-06-01'), type: 'reset' as const, previousValue: 100, value: 0, detectedAtMs: at('2025-06-01') })),
  );

  const o = { recordedAtMs: at('2024-06-01'), source: 'access matrix test' };
  for (const p of [
    { id: 'bank-a', name: 'Bank A', roles: ['bank'] },
    { id: 'bank-b', name: 'Bank B', roles: ['bank'] },
    { id: 'ins-a', name: 'Insurer A', roles: ['insurer'] },
    { id: 'ins-b', name: 'Insurer B', roles: ['insurer'] },
    { id: 'owner-a', name: 'Hotel owner', roles: ['owner'] },
    { id: 'owner-b', name: 'Office owner', roles: ['owner', 'operator'] },
    { id: 'verif-co', name: 'Verifier', roles: ['verifier'] },
  ] as const) {
    await registry.putParty({ ...p, roles: [...p.roles] }, o);
  }
  for (const [b, owner] of [[A, 'owner-a'], [B, 'owner-b'], [OTHER_SITE, 'owner-b']] as const) {
    await registry.putBuildingProfile({ ...b, effectiveFrom: '2024-01-01', type: 'office_b', floorAreaM2: 20_000, ownerParty: owner }, o);
  }
  await registry.putLoan(loan('L-A', 'bank-a', 'owner-a', 'hotel'), o);
  await registry.putLoan(loan('L-B', 'bank-b', 'owner-b', 'office'), o);
  for (const id of ['L-A', 'L-B']) await registry.putLoanBalance({ loanId: id, effectiveFrom: '2024-06-01', outstandingCny: 100_000_000 }, o);
  await registry.putPolicy(policy('P-A', 'ins-a', 'owner-a', 'hotel'), o);
  await registry.putPolicy(policy('P-B', 'ins-b', 'owner-b', 'office'), o);

  const jobs = createMvJobs({ readings, registry, clock });
  for (const v of ['A', 'B'] as const) {
    const r = await jobs.run({ meter: { ...BLD[v], meter: 'main' }, temperatureMeter: { ...BLD[v], meter: 'outdoor' }, model: 'caltrack-daily', baseline: { start: '2024-01-02', end: '2025-01-01' }, reporting: { start: '2025-01-01', end: '2026-01-01' } });
    ids.result[v] = r.id;
  }
  const finance = createFinanceService({ readings, registry, jobs, clock });
  for (const v of ['A', 'B'] as const) {
    ids.settlement[v] = (await finance.settlePolicyPeriod(POLICY[v], 'y1')).record.id;
    await finance.testCovenants(LOAN[v]);
  }
  engine = createAlertEngine({ readings, registry, clock }, configWith(alertsConfigSchema, { ALERT_EVALUATE_INTERVAL_S: 0 }));
  await engine.evaluate();

  const access = createAccessControl({ registry, clock });
  for (const role of ROLES) keys[role] = (await access.createKey({ ...ROLE_SPECS[role], label: `matrix ${role}`, createdBy: 'access matrix test', expiresAtMs: TEST_KEY_EXPIRES_AT_MS })).key;
  // The matrix sends many 401s from one address; the failed-authentication limit has its own tests (test/security).
  app = await createApiServer({ readings, registry, metrics: new Registry(), clock, jobs, alerts: engine, finance, access, packSigner: generateSigner() }, { security: { API_AUTH_FAILURE_LIMIT: 0, API_RATE_LIMIT_REQUESTS: 0 } });
  await app.ready();
  ids.asset = /src="\/console\/([^"]+\.js)"/.exec((await call('GET', '/')).text)![1]!;
}, 240_000);

afterAll(async () => {
  await app?.close();
  await engine?.close();
});

// ---------------------------------------------------------------------------------------------

/** Every route fastify serves, from its own route tree (`printRoutes`), as `METHOD /pattern`. */
function registeredRoutes(server: FastifyInstance): string[] {
  const out: string[] = [];
  const path: string[] = [];
  for (const line of server.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    path.length = depth;
    path.push(m[2]!);
    if (m[3]) for (const method of m[3].split(', ')) out.push(`${method} ${path.join('')}`);
  }
  return [...new Set(out)].sort();
}

describe('the route list', () => {
  it('is exactly the table: a route added without its row here fails', () => {
    const routes = registeredRoutes(app).filter((r) => !r.startsWith('HEAD '));
    const rows = Object.keys(table()).sort();
    expect(routes.length).toBeGreaterThan(60);
    expect(routes.length).toBe(rows.length);
    // printRoutes shows a wildcard under its radix-tree node (`/docs/*` for `/docs/static/*`): those are matched by existence.
    expect(routes.filter((r) => !r.includes('*'))).toEqual(rows.filter((r) => !r.includes('*')));
    for (const row of rows) {
      const [method, url] = row.split(' ') as ['GET', string];
      expect(app.hasRoute({ method, url }), row).toBe(true);
    }
  });

  it('every route is guarded by the auth plugin or open by name; the plugin saw them all (HEAD too)', () => {
    const seen = new Set([...app.guardedRoutes, ...app.openRoutes].map((r) => `${r.method} ${r.url}`));
    for (const r of registeredRoutes(app)) {
      const [method, url] = r.split(' ') as [string, string];
      const guarded = app.guardedRoutes.some((g) => g.method === method && g.url === url);
      expect(guarded || isOpenRoute(url), r).toBe(true);
      // fastify registers `/docs/` beside `/docs` without a second onRoute call; both are open.
      if (!seen.has(r)) expect(isOpenRoute(url) && url.startsWith('/docs'), `${r} registered without the auth plugin seeing it`).toBe(true);
    }
    expect(OPEN_ROUTES).toEqual(['/health', '/ready', '/api', '/docs/*', '/', '/console/:file']);
  });
});

describe('the endpoint × role matrix', () => {
  it('answers 401 without a key on every route but the open ones, HEAD included', async () => {
    const problems: string[] = [];
    for (const [route, probes] of Object.entries(table())) {
      const method = route.split(' ')[0]!;
      for (const probe of probes) {
        if (probe.admin === -1) continue; // the stream: refusals only, below
        const methods = method === 'GET' ? ['GET', 'HEAD'] : [method];
        for (const m of methods) {
          const anon = await call(m, probe.url, undefined, probe.body);
          if (probe.rule.kind === 'open') {
            if (anon.status === 401 || anon.status !== probe.admin) problems.push(`${m} ${probe.url} without a key: ${anon.status}, expected ${probe.admin}`);
          } else if (anon.status !== 401 || (m !== 'HEAD' && anon.code !== 'AUTH_REQUIRED')) {
            problems.push(`${m} ${probe.url} without a key: ${anon.status} ${anon.code ?? ''}`);
          }
        }
      }
    }
    const stream = await call('GET', '/api/v1/stream');
    if (stream.status !== 401) problems.push(`GET /api/v1/stream without a key: ${stream.status}`);
    expect(problems).toEqual([]);
  });

  it('gives each role exactly its buildings, loans, policies and portfolios, on A and on B', async () => {
    const problems: string[] = [];
    const rows: string[] = [];
    for (const [route, probes] of Object.entries(table())) {
      const method = route.split(' ')[0]!;
      for (const probe of probes) {
        if (probe.rule.kind === 'open') continue;
        const cells: string[] = [];
        let admin: Answer;
        if (probe.admin === -1) {
          // The stream answers an allowed request by streaming; its admin cell is the socket test's.
          admin = { status: 200, body: {}, text: '' };
        } else {
          admin = await call(method, probe.url, keys.admin, probe.body);
          if (admin.status !== probe.admin) problems.push(`${method} ${probe.url} as admin: ${admin.status} ${admin.code ?? ''} ${admin.text.slice(0, 200)}, expected ${probe.admin}`);
          if (probe.rule.kind === 'list') {
            const listed = [...new Set(probe.rule.buildings(admin.body))].sort();
            const want = route === 'GET /api/v1/sites' ? ['cq/?', 'yz/?'] : route === 'GET /api/v1/sites/:site/buildings' ? ['yz/hotel', 'yz/office'] : LISTED.admin;
            // Admins see everything (the alerts add the site-wide ones).
            for (const b of want) if (!listed.includes(b)) problems.push(`${method} ${probe.url} as admin lists ${listed.join(' ')}: no ${b}`);
          }
        }
        cells.push(`admin=${admin.status}`);
        for (const role of NON_ADMIN) {
          const r = await call(method, probe.url, keys[role], probe.body);
          const want = expected(role, probe, admin);
          if (r.status !== want.status || (want.code !== undefined && r.code !== want.code)) problems.push(`${method} ${probe.url} as ${role}: ${r.status} ${r.code ?? ''}, expected ${want.status} ${want.code ?? ''}`);
          if (probe.rule.kind === 'list' && r.status === 200) {
            const listed = [...new Set(probe.rule.buildings(r.body))].sort();
            const allowed = route === 'GET /api/v1/sites' ? ['yz/?'] : LISTED[role];
            const leaked = listed.filter((b) => !allowed.includes(b));
            if (leaked.length) problems.push(`${method} ${probe.url} as ${role} lists ${leaked.join(' ')}`);
            if (!listed.length) problems.push(`${method} ${probe.url} as ${role} lists nothing (its own building is missing)`);
          }
          cells.push(`${role}=${r.status}`);
        }
        rows.push(`${method} ${probe.url} [${probe.rule.kind}${probe.rule.kind === 'addressed' ? ` ${probe.rule.resource}` : ''}] ${cells.join(' ')}`);
      }
    }
    if (process.env.ACCESS_MATRIX_PRINT) process.stdout.write(`${rows.join('\n')}\n`);
    expect(problems, rows.join('\n')).toEqual([]);
  }, 300_000);

  it('shows a refused building exactly like one that does not exist', async () => {
    const refused = await call('GET', '/api/v1/buildings/yz/office/overview', keys.operator);
    const missing = await call('GET', '/api/v1/buildings/yz/nowhere/overview', keys.operator);
    expect([refused.status, refused.code]).toEqual([404, 'AUTH_NOT_FOUND']);
    expect(refused.body.error.message.replace('office', 'X')).toBe(missing.body.error.message.replace('nowhere', 'X'));
    // A building's dead letters are those of its own topics only.
    const letters = await call('GET', '/api/v1/dead-letters?site=yz&building=hotel', keys.operator);
    expect(letters.body.total).toBe(6);
    expect(letters.body.deadLetters.every((d: Json) => d.topic.startsWith('wattproof/v1/yz/hotel/'))).toBe(true);
  });
});

describe('the live stream', () => {
  let base = '';
  beforeAll(async () => {
    // A second server on the same stores would double the pollers; this one listens on a socket.
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  async function snapshot(key: string, query = ''): Promise<Json> {
    const ctl = new AbortController();
    try {
      const res = await fetch(`${base}/api/v1/stream${query}`, { headers: bearer(key), signal: ctl.signal });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      let text = '';
      const t0 = Date.now();
      while (!/event: snapshot\ndata: .*\n\n/.test(text)) {
        if (Date.now() - t0 > 10_000) throw new Error(`no snapshot in ${text}`);
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended: ${text}`);
        text += new TextDecoder().decode(value);
      }
      return JSON.parse(/event: snapshot\ndata: (.*)\n/.exec(text)![1]!) as Json;
    } finally {
      ctl.abort();
    }
  }

  it('carries to each key only the readings and alerts of the buildings it may read', async () => {
    for (const role of ROLES) {
      const s = await snapshot(keys[role]);
      const readingBuildings = [...new Set((s.readings as Json[]).map((x: Json) => keyOf(x as { site: string; building?: string })))].sort();
      expect(readingBuildings, role).toEqual(LISTED[role]);
      const alertSubjects = [...new Set((s.alerts as Json[]).map((x: Json) => keyOf(x as { site: string; building?: string })))].sort();
      // Admins also get the site-wide dead-letter surge (no building).
      expect(alertSubjects, role).toEqual(role === 'admin' ? ['cq/hq', 'yz/*', 'yz/hotel', 'yz/office'] : ['yz/hotel']);
    }
    // One building's stream: the admin gets it; for the others B is a building that does not exist.
    expect([...new Set(((await snapshot(keys.admin, '?site=yz&building=office')).readings as Json[]).map((x: Json) => keyOf(x as { site: string; building?: string })))]).toEqual(['yz/office']);
    for (const role of NON_ADMIN) {
      const refused = await fetch(`${base}/api/v1/stream?site=yz&building=office`, { headers: bearer(keys[role]) });
      expect([refused.status, ((await refused.json()) as Json).error.code], role).toEqual([404, 'AUTH_NOT_FOUND']);
    }
  }, 60_000);
});
