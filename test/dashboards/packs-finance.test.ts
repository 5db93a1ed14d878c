/**
 * Loan and policy packs over the simulated hospital of test/analytics/finance/service.fixture.ts
 * (known −10 % retrofit, covenants that must pass and must fail, a guarantee above the true
 * savings): the packs verify from the stores and from the export alone; a tampered covenant KPI
 * value or status, an altered reading and a tampered payout are reported with their exact paths;
 * and the API serves a loan pack only to the lender of the loan.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createFinanceService, createMvJobs, type FinanceService } from '@wattproof/analytics';
import {
  assembleLoanPack,
  assemblePolicyPack,
  createAccessControl,
  createApiServer,
  generateSigner,
  parsePack,
  renderPackHtml,
  verifyPack,
  writePackFiles,
  type Pack,
} from '@wattproof/dashboards';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';
import { at, DEFINITION, hospital, LOAN_ID, POLICY_ID, seed } from '../analytics/finance/service.fixture.js';

const H = 3_600_000;
let now = at('2026-02-01') + 9 * H;
const clock = () => now;
const readings = createMemoryReadingStore();
const registry = createMemoryRegistryStore();
const signer = generateSigner();
let finance: FinanceService;
let asOfMs: number;
let loanPack: Pack;
let policyPack: Pack;
let loanDir: string;
let policyDir: string;

const copy = (p: Pack) => JSON.parse(JSON.stringify(p)) as Pack;

beforeAll(async () => {
  await readings.init();
  await registry.init();
  await seed(readings, registry, hospital(), now - 86_400_000);
  await registry.putParty({ id: 'other-bank', name: 'Other Bank', roles: ['bank'] }, { recordedAtMs: now - 86_400_000 });
  const jobs = createMvJobs({ readings, registry, clock });
  await jobs.define(DEFINITION);
  finance = createFinanceService({ readings, registry, jobs, clock });
  await finance.testCovenants(LOAN_ID, { refresh: true });
  now += H;
  await finance.settlePolicyPeriod(POLICY_ID, 'y2025');
  now += H;
  asOfMs = now;
  const loan = await assembleLoanPack({ readings, registry, clock }, { loanId: LOAN_ID, from: '2025-01-01', to: '2026-01-01', asOfMs });
  loanDir = await mkdtemp(join(tmpdir(), 'wattproof-loan-pack-'));
  ({ pack: loanPack } = await writePackFiles(loanDir, loan, signer, { formats: ['json', 'html', 'csv'], lang: 'en' }));
  const policy = await assemblePolicyPack({ readings, registry, clock }, { policyId: POLICY_ID, periodId: 'y2025', asOfMs });
  policyDir = await mkdtemp(join(tmpdir(), 'wattproof-policy-pack-'));
  ({ pack: policyPack } = await writePackFiles(policyDir, policy, signer, { formats: ['json', 'html', 'csv'], lang: 'zh-CN' }));
}, 300_000);

afterAll(async () => {
  for (const d of [loanDir, policyDir]) if (d) await rm(d, { recursive: true, force: true });
});

describe('a loan pack', () => {
  it('holds each covenant test with its observations, the M&V results, snapshots and profiles', async () => {
    expect(loanPack.subject).toEqual({ kind: 'loan', id: LOAN_ID });
    expect(loanPack.covenants.map((c) => c.covenantId)).toEqual(['carbon-cap', 'coverage-95', 'eui-cap', 'eui-tight', 'label-2-star', 'savings-20pct', 'savings-5pct']);
    const byId = new Map(loanPack.covenants.map((c) => [c.covenantId, c]));
    expect(byId.get('savings-5pct')!.evaluation.status).toBe('pass');
    expect(byId.get('savings-20pct')!.evaluation.status).toBe('breach');
    expect(byId.get('eui-cap')!.evaluation.status).toBe('pass');
    expect(byId.get('savings-5pct')!.observations.length).toBeGreaterThan(0);
    expect(loanPack.mv.length).toBeGreaterThanOrEqual(1);
    expect(loanPack.finance!.loan!.id).toBe(`loan:${LOAN_ID}#v1`);
    expect(loanPack.finance!.snapshots.length).toBeGreaterThanOrEqual(2);
    expect(loanPack.finance!.snapshots.every((s) => s.readings.matches)).toBe(true);
    expect(loanPack.finance!.profiles.map((p) => p.value.floorAreaM2)).toContain(20_000);
    expect(loanPack.records.map((r) => r.kind)).toEqual(expect.arrayContaining(['finance.covenant_test', 'finance.kpi_inputs', 'mv.result', 'mv.inputs']));
    expect(loanPack.methods.map((m) => m.name)).toEqual(expect.arrayContaining(['wattproof.covenant', 'wattproof.finance.service']));
    const html = await readFile(join(loanDir, 'pack.html'), 'utf8');
    expect(html).toContain('Covenant tests');
    expect(html).toContain('savings-20pct');
    expect((html.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(7);
    expect(renderPackHtml(loanPack, 'zh-CN')).toContain('契约');
  });

  it('verifies from the stores and from the export alone', async () => {
    const fromStores = await verifyPack(loanPack, { kind: 'stores', readings, registry }, { publicKeyPem: signer.publicKeyPem });
    expect(fromStores.differences).toEqual([]);
    expect(fromStores.ok).toBe(true);
    expect(fromStores.checked.covenantTests).toBe(7);
    const fromExport = await verifyPack(parsePack(await readFile(join(loanDir, 'pack.json'), 'utf8')), { kind: 'export', dir: loanDir }, { publicKeyPem: signer.publicKeyPem });
    expect(fromExport.differences).toEqual([]);
    expect(fromExport.ok).toBe(true);
    expect(fromExport.checked.snapshots).toBe(loanPack.finance!.snapshots.length);
  }, 120_000);

  it('reports a tampered KPI value and status with their exact paths', async () => {
    const tampered = copy(loanPack);
    const i = tampered.covenants.findIndex((c) => c.covenantId === 'savings-20pct');
    const ev = tampered.covenants[i]!.evaluation as { kpiValue: number; status: string };
    const original = ev.kpiValue;
    ev.kpiValue = 0.25;
    ev.status = 'pass';
    const report = await verifyPack(tampered, { kind: 'export', dir: loanDir }, { publicKeyPem: signer.publicKeyPem });
    expect(report.ok).toBe(false);
    expect(report.signature.valid).toBe(false);
    expect(report.differences).toContainEqual(expect.objectContaining({ check: 'figures', path: `covenants[${i}].evaluation.kpiValue`, pack: 0.25, derived: original }));
    expect(report.differences).toContainEqual(expect.objectContaining({ check: 'figures', path: `covenants[${i}].evaluation.status`, pack: 'pass', derived: 'breach' }));
    // A tampered observation is caught against its M&V result, and the evaluation follows it.
    const t2 = copy(loanPack);
    const j = t2.covenants.findIndex((c) => c.covenantId === 'eui-cap');
    const k = t2.covenants[j]!.observations.findIndex((o) => o.window.end === '2026-01-01');
    (t2.covenants[j]!.observations[k] as { value: number }).value *= 2;
    const r2 = await verifyPack(t2, { kind: 'export', dir: loanDir });
    const paths = r2.differences.map((d) => d.path);
    expect(paths).toContain(`covenants[${j}].observations[${k}].value`);
    expect(paths).toContain(`covenants[${j}].evaluation.status`);
    expect(paths).toContain(`covenants[${j}].observationsDigest`);
  }, 120_000);

  it('detects an altered reading by the Merkle check and the snapshot sums', async () => {
    const tamperedDir = await mkdtemp(join(tmpdir(), 'wattproof-loan-tampered-'));
    try {
      await (await import('node:fs/promises')).cp(loanDir, tamperedDir, { recursive: true });
      const snap = loanPack.finance!.snapshots[0]!;
      const si = loanPack.inputs.findIndex((s) => s.id === snap.series);
      const s = loanPack.inputs[si]!;
      const text = await readFile(join(tamperedDir, s.file), 'utf8');
      const ts = at('2025-08-12') + 15 * H;
      const changed = text.replace(new RegExp(`(,${ts},)([^,]+),`), (_m, a: string, v: string) => `${a}${Number(v) + 100},`);
      expect(changed).not.toBe(text);
      await writeFile(join(tamperedDir, s.file), changed);
      const report = await verifyPack(loanPack, { kind: 'export', dir: tamperedDir }, { publicKeyPem: signer.publicKeyPem });
      expect(report.ok).toBe(false);
      expect(report.signature.valid).toBe(true);
      const day = s.days.findIndex((d) => d.date === '2025-08-12');
      const dayDiff = report.differences.find((d) => d.path === `inputs[${si}].days[${day}].root`);
      expect(dayDiff?.message).toContain('day 2025-08-12');
      expect(report.differences.map((d) => d.path)).toContain(`inputs[${si}].root`);
      const snapDiff = report.differences.find((d) => d.path.startsWith('finance.snapshots[0].readings'));
      expect(snapDiff, JSON.stringify(report.differences.map((d) => d.path))).toBeDefined();
    } finally {
      await rm(tamperedDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('a policy pack', () => {
  it('re-derives the known shortfall and payout, from the stores and from the export', async () => {
    expect(policyPack.subject).toEqual({ kind: 'policy', id: POLICY_ID });
    expect(policyPack.period).toMatchObject({ from: '2025-01-01', to: '2026-01-01' });
    const [s] = policyPack.settlements;
    const policy = policyPack.finance!.policy!.value;
    const G = policy.periods[0]!.guaranteedSavingsKwh;
    const m = policyPack.mv.find((x) => x.resultRecord === s!.claim.inputs.verified.sources[0]!.resultId)!;
    const V = m.result.savings.adjusted.avoided;
    expect(s!.claim.figures.verifiedKwh).toBe(V);
    expect(s!.claim.figures.payoutCny).toBeCloseTo(Math.min(5_000_000, Math.max(0, (G - V) * 0.8 - 10_000)), 6);
    expect(s!.claim.figures.payoutCny).toBeGreaterThan(0);
    const fromStores = await verifyPack(policyPack, { kind: 'stores', readings, registry }, { publicKeyPem: signer.publicKeyPem });
    expect(fromStores.differences).toEqual([]);
    const fromExport = await verifyPack(parsePack(await readFile(join(policyDir, 'pack.json'), 'utf8')), { kind: 'export', dir: policyDir }, { publicKeyPem: signer.publicKeyPem });
    expect(fromExport.differences).toEqual([]);
    expect(fromExport.checked.settlements).toBe(1);
    const html = await readFile(join(policyDir, 'pack.html'), 'utf8');
    expect(html).toContain('赔付');
  }, 120_000);

  it('reports a tampered payout', async () => {
    const tampered = copy(policyPack);
    const original = tampered.settlements[0]!.claim.figures.payoutCny;
    (tampered.settlements[0]!.claim.figures as { payoutCny: number }).payoutCny = original / 2;
    const report = await verifyPack(tampered, { kind: 'export', dir: policyDir }, { publicKeyPem: signer.publicKeyPem });
    expect(report.ok).toBe(false);
    expect(report.differences).toContainEqual(expect.objectContaining({ check: 'figures', path: 'settlements[0].claim.figures.payoutCny', pack: original / 2, derived: original }));
  }, 60_000);
});

describe('packs over the API', () => {
  it('serves a loan pack to its lender and answers 404 to another lender', async () => {
    const access = createAccessControl({ registry, clock });
    const key = async (role: 'lender' | 'insurer', party: string) => (await access.createKey({ role, party, label: `pack ${party}`, createdBy: 'test' })).key;
    const lender = await key('lender', 'green-bank');
    const other = await key('lender', 'other-bank');
    const insurer = await key('insurer', 'perf-insurer');
    const app = await createApiServer({ readings, registry, metrics: new Registry(), access, packSigner: signer, clock }, { console: false });
    try {
      const asOf = new Date(asOfMs).toISOString();
      const url = `/api/v1/packs/loans/${LOAN_ID}?from=2025-01-01&to=2026-01-01&asOf=${encodeURIComponent(asOf)}`;
      const get = (u: string, k?: string) => app.inject({ method: 'GET', url: u, headers: k ? { authorization: `Bearer ${k}` } : {} });
      expect((await get(url)).statusCode).toBe(401);
      expect((await get(url, other)).statusCode).toBe(404);
      const res = await get(url, lender);
      expect(res.statusCode, res.body).toBe(200);
      const served = parsePack(res.body);
      expect(served.covenants.map((c) => c.evaluation.status)).toEqual(loanPack.covenants.map((c) => c.evaluation.status));
      expect((await verifyPack(served, { kind: 'stores', readings, registry }, { publicKeyPem: signer.publicKeyPem })).ok).toBe(true);
      const purl = `/api/v1/packs/policies/${POLICY_ID}?period=y2025&asOf=${encodeURIComponent(asOf)}`;
      expect((await get(purl, lender)).statusCode).toBe(404);
      const p = await get(`${purl}&format=html&lang=en`, insurer);
      expect(p.statusCode, p.body).toBe(200);
      expect(p.headers['content-type']).toContain('text/html');
      expect((await get(`/api/v1/packs/loans/no-such-loan?from=2025-01-01&to=2026-01-01`, lender)).statusCode).toBe(404);
    } finally {
      await app.close();
    }
  }, 120_000);
});

