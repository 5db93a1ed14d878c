/**
 * Finance routes under /api/v1/finance (docs/finance-api.md): the finance registry (parties,
 * building profiles, loans with history and balances, policies), covenant tests run and listed,
 * policy settlements, guarantee pricing, and the lender (PCAF, JR/T 0227) and insurer
 * portfolios. Every route declares `config.access` (dashboards/src/auth/types.ts): the resource it
 * touches, resolved from the registry (404 when unknown); the auth plugin decides who may.
 *
 * Running a covenant test, a settlement or a pricing is declared as a `read` of its loan, policy
 * or `pricing`: it derives figures from the registry and stores them as append-only evidence, it
 * does not change the registry's facts (parties, loans, policies stay admin writes). A pricing
 * rests on a meter's M&V result, i.e. on its building's data: besides the insurer role, the key
 * must be able to read that building (its policies cover it, or it was granted).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { financeDateSchema, PARTY_ROLES, WattproofError, type FinanceVersion } from '@wattproof/core';
import { financeError, jrt0227Csv, pricingRequestSchema, type CovenantTestRecord, type FinanceRegistry, type FinanceService, type SettlementRecord } from '@wattproof/analytics';
import type { ProtectedResource, RouteAccess } from '../auth/types.js';
import { errorBody, id, timeParam } from '../api/schemas.js';

export interface FinancePluginDeps {
  readonly finance: FinanceService;
  readonly registry: FinanceRegistry;
  readonly clock?: () => number;
}

const TAG = 'finance';
const date = financeDateSchema;
const asOfQuery = timeParam.optional().describe('What the registry knew at this time: ISO 8601 with offset or epoch ms (default: now)');

const versionOut = z.object({ value: z.unknown(), version: z.number(), recordedAtMs: z.number(), recordedAt: z.string(), source: z.string().optional() });
const iso = (ms: number) => new Date(ms).toISOString();
const version = <T>(v: FinanceVersion<T>) => ({ value: v.value, version: v.version, recordedAtMs: v.recordedAtMs, recordedAt: iso(v.recordedAtMs), ...(v.source !== undefined ? { source: v.source } : {}) });

const LOAN_EXAMPLE = {
  value: { id: 'slb-yz-hotel-2025', borrower: 'yz-hotel-co', lender: 'cq-green-bank', kind: 'sustainability_linked_loan', assetClass: 'commercial_real_estate', currency: 'CNY', buildings: [{ site: 'yuzhong', building: 'yz-hotel' }], originationDate: '2025-08-15', maturityDate: '2032-08-15', propertyValueAtOriginationCny: 560000000, baseMarginBp: -10, covenants: [] },
  version: 1,
  recordedAtMs: 1793000000000,
  recordedAt: '2026-10-26T09:33:20.000Z',
  source: 'finance load docs/examples/finance.yaml',
};

export const covenantTestOut = z
  .object({
    id: z.string().describe('Registry record id (kind finance.covenant_test)'),
    recordedAtMs: z.number(),
    loanId: z.string(),
    covenantId: z.string(),
    kpi: z.string(),
    testDate: z.string(),
    asOfMs: z.number().describe('What the registry knew: re-run with this value to get the same figures'),
    asOf: z.string(),
    status: z.enum(['pass', 'fail', 'at_risk', 'breach', 'in_grace', 'not_tested']),
    kpiValue: z.number().nullable(),
    operator: z.string(),
    threshold: z.number(),
    passProbability: z.number().nullable(),
    marginStepBp: z.number(),
    lineageDigest: z.string(),
    record: z.unknown().describe('The whole stored body: evaluation (evidence, projection, cure, grace, warnings), evidence records, lineage, run'),
  })
  .meta({
    example: {
      id: '0000000000000042',
      recordedAtMs: 1793000000000,
      loanId: 'slb-yz-hotel-2025',
      covenantId: 'savings-5pct',
      kpi: 'savings_fraction',
      testDate: '2026-09-30',
      asOfMs: 1793000000000,
      asOf: '2026-10-26T09:33:20.000Z',
      status: 'pass',
      kpiValue: 0.071,
      operator: '>=',
      threshold: 0.05,
      passProbability: 0.998,
      marginStepBp: -5,
      lineageDigest: '5b1e…',
      record: {},
    },
  });

function covenantTestView(r: CovenantTestRecord) {
  const b = r.body;
  const e = b.evaluation;
  return {
    id: r.id,
    recordedAtMs: r.recordedAtMs,
    loanId: b.loanId,
    covenantId: b.covenantId,
    kpi: e.kpi,
    testDate: b.testDate,
    asOfMs: b.asOfMs,
    asOf: iso(b.asOfMs),
    status: e.status,
    kpiValue: e.kpiValue,
    operator: e.operator,
    threshold: e.threshold,
    passProbability: e.passProbability,
    marginStepBp: e.marginStepBp,
    lineageDigest: b.lineage.digest,
    record: b,
  };
}

export const settlementOut = z
  .object({
    id: z.string().describe('Registry record id (kind finance.settlement)'),
    recordedAtMs: z.number(),
    policyId: z.string(),
    periodId: z.string(),
    asOfMs: z.number(),
    asOf: z.string(),
    guaranteedKwh: z.number(),
    verifiedKwh: z.number(),
    shortfallKwh: z.number(),
    payoutCny: z.number(),
    settleable: z.boolean(),
    lineageDigest: z.string(),
    record: z.unknown().describe('The whole stored body: claim file (figures, uncertainty, evidence, warnings), evidence records, lineage, run'),
  })
  .meta({
    example: {
      id: '0000000000000043',
      recordedAtMs: 1793000000000,
      policyId: 'esi-yz-hotel-chiller',
      periodId: 'year-1',
      asOfMs: 1793000000000,
      asOf: '2026-10-26T09:33:20.000Z',
      guaranteedKwh: 300000,
      verifiedKwh: 262000,
      shortfallKwh: 38000,
      payoutCny: 12300,
      settleable: true,
      lineageDigest: '9c04…',
      record: {},
    },
  });

function settlementView(r: SettlementRecord) {
  const b = r.body;
  const f = b.claim.figures;
  return {
    id: r.id,
    recordedAtMs: r.recordedAtMs,
    policyId: b.policyId,
    periodId: b.periodId,
    asOfMs: b.asOfMs,
    asOf: iso(b.asOfMs),
    guaranteedKwh: f.guaranteedKwh,
    verifiedKwh: f.verifiedKwh,
    shortfallKwh: f.shortfallKwh,
    payoutCny: f.payoutCny,
    settleable: b.claim.settleable,
    lineageDigest: b.lineage.digest,
    record: b,
  };
}

const runBody = z
  .strictObject({
    testDate: date.optional().describe("Test this date (covenants without it as a test date are skipped); default: each covenant's latest test date"),
    covenantId: id.optional().describe('Only this covenant'),
    asOfMs: z.number().int().min(0).optional().describe('Re-run as of this instant (epoch ms): only what the registry had recorded by then'),
    asOf: z.string().max(40).optional().describe('Same as asOfMs, ISO 8601 with offset'),
    refresh: z.boolean().default(false).describe('Live runs only: re-run the M&V definition over each savings test window first'),
  })
  .meta({ example: { testDate: '2026-09-30', refresh: true } });

const settleBody = z
  .strictObject({
    asOfMs: z.number().int().min(0).optional(),
    asOf: z.string().max(40).optional(),
    refresh: z.boolean().default(false).describe('Live runs only: re-run the meters\' M&V definition over the policy period first'),
  })
  .meta({ example: { refresh: true } });

const pricingBody = pricingRequestSchema
  .extend({ asOfMs: z.number().int().min(0).optional().describe('Price on the M&V result recorded by this instant (default: the latest)') })
  .meta({ example: { site: 'yuzhong', building: 'yz-hotel', meter: 'elec-main', guaranteedSavingsKwh: 300000, contractPriceCnyPerKwh: 0.85, deductibleCny: 20000, limitCny: 300000, loading: 0.3, expenseCny: 2000, seed: 20231101, weatherYears: 'auto' } });

/** Epoch ms from a body's `asOfMs` or `asOf` (ISO with offset). */
function bodyAsOf(b: { asOfMs?: number | undefined; asOf?: string | undefined }): number | undefined {
  if (b.asOfMs !== undefined && b.asOf !== undefined) throw financeError('FINANCE_INPUT_INVALID', 'give asOfMs or asOf, not both', { details: { field: 'asOf' } });
  if (b.asOf === undefined) return b.asOfMs;
  const parsed = timeParam.safeParse(b.asOf);
  if (!parsed.success) throw financeError('FINANCE_INPUT_INVALID', `asOf: ${parsed.error.issues[0]?.message ?? 'invalid'}`, { details: { field: 'asOf', value: b.asOf } });
  return parsed.data;
}

export async function financePlugin(fastify: FastifyInstance, deps: FinancePluginDeps): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const reg = deps.registry;
  const clock = deps.clock ?? Date.now;
  const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 422: errorBody, 500: errorBody, 503: errorBody };
  const P = '/api/v1/finance';

  // What `resource` resolved, kept per request so the handler does not read the registry twice.
  const resolved = new WeakMap<FastifyRequest, Promise<unknown>>();
  const once = <T>(req: FastifyRequest, f: () => Promise<T>): Promise<T> => {
    let p = resolved.get(req) as Promise<T> | undefined;
    if (!p) {
      p = f();
      resolved.set(req, p);
    }
    return p;
  };

  const loanOf = (req: FastifyRequest) =>
    once(req, async () => {
      const idParam = (req.params as { id: string }).id;
      const loan = await reg.getLoan(idParam);
      if (!loan) throw financeError('FINANCE_LOAN_UNKNOWN', `no loan ${idParam}`, { details: { loanId: idParam } });
      return loan;
    });
  const policyOf = (req: FastifyRequest) =>
    once(req, async () => {
      const idParam = (req.params as { id: string }).id;
      const policy = await reg.getPolicy(idParam);
      if (!policy) throw financeError('FINANCE_POLICY_UNKNOWN', `no policy ${idParam}`, { details: { policyId: idParam } });
      return policy;
    });
  const partyOf = (req: FastifyRequest, role: 'bank' | 'insurer', name: string) =>
    once(req, async () => {
      const party = await reg.getParty(name);
      if (!party || !party.value.roles.includes(role)) throw financeError('FINANCE_PARTY_UNKNOWN', party ? `party ${name} is not a ${role}` : `no party ${name}`, { details: { party: name, role } });
      return party;
    });

  const loanAccess: RouteAccess = {
    action: 'read',
    finance: true,
    resource: async (req): Promise<ProtectedResource> => {
      const { value: l } = await loanOf(req);
      return { kind: 'loan', id: l.id, lender: l.lender, borrower: l.borrower, buildings: l.buildings };
    },
  };
  const policyAccess: RouteAccess = {
    action: 'read',
    finance: true,
    resource: async (req): Promise<ProtectedResource> => {
      const { value: p } = await policyOf(req);
      return { kind: 'policy', id: p.id, insurer: p.insurer, insured: p.insured, buildings: p.buildings };
    },
  };
  const adminRead: RouteAccess = { action: 'read', finance: true, resource: () => ({ kind: 'admin' }) };
  const lenderAccess: RouteAccess = {
    action: 'read',
    finance: true,
    resource: async (req) => ({ kind: 'lender-portfolio', lender: (await partyOf(req, 'bank', (req.params as { party: string }).party)).value.id }),
  };
  const insurerAccess: RouteAccess = {
    action: 'read',
    finance: true,
    resource: async (req) => ({ kind: 'insurer-portfolio', insurer: (await partyOf(req, 'insurer', (req.params as { party: string }).party)).value.id }),
  };

  // ---------------------------------------------------------------------------------------------
  // Registry

  app.get(
    `${P}/parties`,
    {
      config: { access: adminRead },
      schema: { tags: [TAG], summary: 'Parties (banks, insurers, owners, operators, verifiers), current or as of a time', querystring: z.object({ role: z.enum(PARTY_ROLES).optional(), asOf: asOfQuery }), response: { 200: z.object({ parties: z.array(versionOut) }), ...errors } },
    },
    async (req) => ({ parties: (await reg.listParties({ ...(req.query.role ? { role: req.query.role } : {}), ...(req.query.asOf !== undefined ? { asOfMs: req.query.asOf } : {}) })).map(version) }),
  );

  app.get(
    `${P}/parties/:id`,
    {
      config: { access: adminRead },
      schema: { tags: [TAG], summary: 'A party with every version', params: z.object({ id }), response: { 200: z.object({ party: versionOut, history: z.array(versionOut) }), ...errors } },
    },
    async (req) => {
      const party = await reg.getParty(req.params.id);
      if (!party) throw financeError('FINANCE_PARTY_UNKNOWN', `no party ${req.params.id}`, { details: { party: req.params.id } });
      return { party: version(party), history: (await reg.partyHistory(req.params.id)).map(version) };
    },
  );

  app.get(
    `${P}/buildings`,
    {
      config: { access: adminRead },
      schema: { tags: [TAG], summary: 'Effective-dated building profiles of every building (type, floor area, owner, label)', querystring: z.object({ site: id.optional(), asOf: asOfQuery }), response: { 200: z.object({ profiles: z.array(versionOut) }), ...errors } },
    },
    async (req) => ({ profiles: (await reg.listBuildingProfiles({ ...(req.query.site ? { site: req.query.site } : {}), ...(req.query.asOf !== undefined ? { asOfMs: req.query.asOf } : {}) })).map(version) }),
  );

  const buildingParams = z.object({ site: id, building: id });
  app.get(
    `${P}/buildings/:site/:building/profiles`,
    {
      config: {
        access: {
          action: 'read',
          finance: true,
          resource: async (req) => {
            const p = req.params as { site: string; building: string };
            const known = await once(req, () => reg.listBuildingProfiles({ site: p.site, building: p.building }));
            if (known.length === 0) throw notFound(`no building profile of ${p.site}/${p.building}`);
            return { kind: 'building', site: p.site, building: p.building };
          },
        },
      },
      schema: {
        tags: [TAG],
        summary: "A building's profiles: the one in force on a date, every effective-dated profile, and every version recorded",
        params: buildingParams,
        querystring: z.object({ on: date.optional().describe('The profile in force on this local date'), asOf: asOfQuery }),
        response: { 200: z.object({ inForce: versionOut.nullable(), profiles: z.array(versionOut), history: z.array(versionOut) }), ...errors },
      },
    },
    async (req) => {
      const q = req.query.asOf !== undefined ? { asOfMs: req.query.asOf } : {};
      const profiles = await reg.listBuildingProfiles({ ...q, site: req.params.site, building: req.params.building });
      if (profiles.length === 0) throw notFound(`no building profile of ${req.params.site}/${req.params.building}`);
      const inForce = await reg.getBuildingProfile(req.params, { ...q, ...(req.query.on ? { effectiveOn: req.query.on } : {}) });
      return { inForce: inForce ? version(inForce) : null, profiles: profiles.map(version), history: (await reg.buildingProfileHistory(req.params)).map(version) };
    },
  );

  app.get(
    `${P}/loans`,
    {
      config: {
        access: {
          action: 'read',
          finance: true,
          // A lender's own loans are its portfolio; every loan of every lender is administration.
          resource: async (req) => {
            const lender = (req.query as { lender?: string }).lender;
            return lender ? { kind: 'lender-portfolio', lender: (await partyOf(req, 'bank', lender)).value.id } : { kind: 'admin' };
          },
        },
      },
      schema: {
        tags: [TAG],
        summary: 'Loans (current versions), of one lender or borrower or building',
        querystring: z.object({ lender: id.optional(), borrower: id.optional(), site: id.optional(), building: id.optional(), asOf: asOfQuery }),
        response: { 200: z.object({ loans: z.array(versionOut) }).meta({ example: { loans: [LOAN_EXAMPLE] } }), ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      if ((q.site === undefined) !== (q.building === undefined)) throw financeError('FINANCE_INPUT_INVALID', 'give site and building together', { details: { field: 'building' } });
      const loans = await reg.listLoans({
        ...(q.lender ? { lender: q.lender } : {}),
        ...(q.borrower ? { borrower: q.borrower } : {}),
        ...(q.site && q.building ? { building: { site: q.site, building: q.building } } : {}),
        ...(q.asOf !== undefined ? { asOfMs: q.asOf } : {}),
      });
      return { loans: loans.map(version) };
    },
  );

  const loanParams = z.object({ id });
  app.get(
    `${P}/loans/:id`,
    {
      config: { access: loanAccess },
      schema: { tags: [TAG], summary: 'A loan with its covenants (current, or as of a time)', params: loanParams, querystring: z.object({ asOf: asOfQuery }), response: { 200: z.object({ loan: versionOut.meta({ example: LOAN_EXAMPLE }) }), ...errors } },
    },
    async (req) => {
      await loanOf(req);
      if (req.query.asOf === undefined) return { loan: version(await loanOf(req)) };
      const then = await reg.getLoan(req.params.id, { asOfMs: req.query.asOf });
      if (!then) throw financeError('FINANCE_LOAN_UNKNOWN', `no loan ${req.params.id} as of ${iso(req.query.asOf)}`, { details: { loanId: req.params.id, asOfMs: req.query.asOf } });
      return { loan: version(then) };
    },
  );

  app.get(
    `${P}/loans/:id/history`,
    { config: { access: loanAccess }, schema: { tags: [TAG], summary: 'Every version of a loan, oldest first', params: loanParams, response: { 200: z.object({ history: z.array(versionOut) }), ...errors } } },
    async (req) => {
      await loanOf(req);
      return { history: (await reg.loanHistory(req.params.id)).map(version) };
    },
  );

  app.get(
    `${P}/loans/:id/balances`,
    {
      config: { access: loanAccess },
      schema: { tags: [TAG], summary: 'Outstanding balances of a loan (effective-dated), and the one in force on a date', params: loanParams, querystring: z.object({ on: date.optional(), asOf: asOfQuery }), response: { 200: z.object({ balances: z.array(versionOut), inForce: versionOut.nullable() }), ...errors } },
    },
    async (req) => {
      await loanOf(req);
      const q = req.query.asOf !== undefined ? { asOfMs: req.query.asOf } : {};
      const inForce = await reg.getLoanBalance(req.params.id, { ...q, ...(req.query.on ? { effectiveOn: req.query.on } : {}) });
      return { balances: (await reg.loanBalances(req.params.id, q)).map(version), inForce: inForce ? version(inForce) : null };
    },
  );

  // ---------------------------------------------------------------------------------------------
  // Covenant tests

  app.post(
    `${P}/loans/:id/covenant-tests`,
    {
      config: { access: loanAccess },
      schema: {
        tags: [TAG],
        summary: "Test the loan's covenants (on their latest test date, or `testDate`), as of now or a past instant, and store each result with its lineage",
        description: 'A live run (no asOf) records the evidence it reads first (readings snapshots; with `refresh`, M&V over each savings test window), then evaluates as of the instant after. Re-running with the returned `asOfMs` gives the same figures even after later data corrections.',
        params: loanParams,
        body: runBody,
        response: { 201: z.object({ loanId: z.string(), asOfMs: z.number(), asOf: z.string(), tests: z.array(covenantTestOut), skipped: z.array(z.object({ covenantId: z.string(), reason: z.string() })) }), ...errors },
      },
    },
    async (req, reply) => {
      await loanOf(req);
      const asOfMs = bodyAsOf(req.body);
      const run = await deps.finance.testCovenants(req.params.id, {
        ...(req.body.testDate ? { testDate: req.body.testDate } : {}),
        ...(req.body.covenantId ? { covenantId: req.body.covenantId } : {}),
        ...(asOfMs !== undefined ? { asOfMs } : {}),
        refresh: req.body.refresh,
      });
      return reply.code(201).send({ loanId: run.loanId, asOfMs: run.asOfMs, asOf: iso(run.asOfMs), tests: run.tests.map((t) => covenantTestView(t.record)), skipped: run.skipped });
    },
  );

  app.get(
    `${P}/loans/:id/covenant-tests`,
    {
      config: { access: loanAccess },
      schema: {
        tags: [TAG],
        summary: 'Stored covenant tests of the loan, newest first',
        params: loanParams,
        querystring: z.object({ covenantId: id.optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }),
        response: { 200: z.object({ tests: z.array(covenantTestOut) }), ...errors },
      },
    },
    async (req) => {
      await loanOf(req);
      const records = await deps.finance.listCovenantTests(req.params.id, { limit: req.query.limit, ...(req.query.covenantId ? { covenantId: req.query.covenantId } : {}) });
      return { tests: records.map(covenantTestView) };
    },
  );

  app.get(
    `${P}/results/:id`,
    {
      config: {
        access: {
          action: 'read',
          finance: true,
          resource: async (req): Promise<ProtectedResource> => {
            const r = await once(req, () => deps.finance.getResult((req.params as { id: string }).id));
            if (r.kind === 'finance.covenant_test') {
              const b = (r as CovenantTestRecord).body;
              const loan = await reg.getLoan(b.loanId);
              return { kind: 'loan', id: b.loanId, lender: b.lender, borrower: b.borrower, buildings: loan?.value.buildings ?? [] };
            }
            const b = (r as SettlementRecord).body;
            const policy = await reg.getPolicy(b.policyId);
            return { kind: 'policy', id: b.policyId, insurer: b.insurer, insured: b.insured, buildings: policy?.value.buildings ?? [] };
          },
        },
      },
      schema: {
        tags: [TAG],
        summary: 'One stored covenant test or settlement',
        params: z.object({ id: z.string().min(1).max(100) }),
        response: { 200: z.object({ kind: z.enum(['finance.covenant_test', 'finance.settlement']), covenantTest: covenantTestOut.optional(), settlement: settlementOut.optional() }), ...errors },
      },
    },
    async (req) => {
      const r = await deps.finance.getResult(req.params.id);
      return r.kind === 'finance.covenant_test' ? { kind: 'finance.covenant_test' as const, covenantTest: covenantTestView(r as CovenantTestRecord) } : { kind: 'finance.settlement' as const, settlement: settlementView(r as SettlementRecord) };
    },
  );

  // ---------------------------------------------------------------------------------------------
  // Policies

  app.get(
    `${P}/policies`,
    {
      config: {
        access: {
          action: 'read',
          finance: true,
          resource: async (req) => {
            const insurer = (req.query as { insurer?: string }).insurer;
            return insurer ? { kind: 'insurer-portfolio', insurer: (await partyOf(req, 'insurer', insurer)).value.id } : { kind: 'admin' };
          },
        },
      },
      schema: {
        tags: [TAG],
        summary: 'Insurance policies (current versions), of one insurer or insured or building',
        querystring: z.object({ insurer: id.optional(), insured: id.optional(), site: id.optional(), building: id.optional(), asOf: asOfQuery }),
        response: { 200: z.object({ policies: z.array(versionOut) }), ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      if ((q.site === undefined) !== (q.building === undefined)) throw financeError('FINANCE_INPUT_INVALID', 'give site and building together', { details: { field: 'building' } });
      const policies = await reg.listPolicies({
        ...(q.insurer ? { insurer: q.insurer } : {}),
        ...(q.insured ? { insured: q.insured } : {}),
        ...(q.site && q.building ? { building: { site: q.site, building: q.building } } : {}),
        ...(q.asOf !== undefined ? { asOfMs: q.asOf } : {}),
      });
      return { policies: policies.map(version) };
    },
  );

  const policyParams = z.object({ id });
  app.get(
    `${P}/policies/:id`,
    {
      config: { access: policyAccess },
      schema: { tags: [TAG], summary: 'A policy with its periods, and every version', params: policyParams, querystring: z.object({ asOf: asOfQuery }), response: { 200: z.object({ policy: versionOut, history: z.array(versionOut) }), ...errors } },
    },
    async (req) => {
      const current = await policyOf(req);
      const then = req.query.asOf === undefined ? current : await reg.getPolicy(req.params.id, { asOfMs: req.query.asOf });
      if (!then) throw financeError('FINANCE_POLICY_UNKNOWN', `no policy ${req.params.id} as of ${iso(req.query.asOf!)}`, { details: { policyId: req.params.id } });
      return { policy: version(then), history: (await reg.policyHistory(req.params.id)).map(version) };
    },
  );

  const periodParams = z.object({ id, period: id });
  app.post(
    `${P}/policies/:id/periods/:period/settlement`,
    {
      config: { access: policyAccess },
      schema: {
        tags: [TAG],
        summary: 'Settle a policy period from its meters\' verified savings (shortfall, payout, claim file) and store it',
        description: 'shortfall = max(0, guaranteed − verified); payout = min(limit, max(0, shortfall × contract price − deductible)). A live run with `refresh` re-runs M&V over the exact period first.',
        params: periodParams,
        body: settleBody,
        response: { 201: settlementOut, ...errors },
      },
    },
    async (req, reply) => {
      await policyOf(req);
      const asOfMs = bodyAsOf(req.body);
      const { record } = await deps.finance.settlePolicyPeriod(req.params.id, req.params.period, { ...(asOfMs !== undefined ? { asOfMs } : {}), refresh: req.body.refresh });
      return reply.code(201).send(settlementView(record));
    },
  );

  const listSettlements = async (req: FastifyRequest<{ Params: { id: string; period?: string }; Querystring: { limit: number } }>) => {
    await policyOf(req);
    const records = await deps.finance.listSettlements(req.params.id, { limit: req.query.limit, ...(req.params.period ? { periodId: req.params.period } : {}) });
    return { settlements: records.map(settlementView) };
  };
  const limitQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) });
  app.get(
    `${P}/policies/:id/periods/:period/settlements`,
    { config: { access: policyAccess }, schema: { tags: [TAG], summary: 'Stored settlements of a policy period, newest first', params: periodParams, querystring: limitQuery, response: { 200: z.object({ settlements: z.array(settlementOut) }), ...errors } } },
    listSettlements,
  );
  app.get(
    `${P}/policies/:id/settlements`,
    { config: { access: policyAccess }, schema: { tags: [TAG], summary: 'Stored settlements of every period of a policy, newest first', params: policyParams, querystring: limitQuery, response: { 200: z.object({ settlements: z.array(settlementOut) }), ...errors } } },
    listSettlements,
  );

  app.post(
    `${P}/pricing`,
    {
      config: {
        access: {
          action: 'read',
          finance: true,
          resource: async (req): Promise<ProtectedResource> => {
            // The role decides first (403 for a non-insurer); then the building priced must be one the key may read (else 404, as for any building).
            const identity = req.identity;
            if (identity && identity.role !== 'admin' && identity.role !== 'insurer') return { kind: 'pricing' };
            const { site, building } = req.body as { site: string; building: string };
            if (req.buildingScope && !(await req.buildingScope.has({ site, building }))) throw notFound(`no building ${site}/${building} for this key`);
            return { kind: 'pricing' };
          },
        },
      },
      schema: {
        tags: [TAG],
        summary: 'Price an energy-savings guarantee on a meter: distribution of verified savings (P50/P90), probability of shortfall, expected loss, indicative premium',
        description: "The meter's latest M&V result (CalTRACK daily) gives the baseline model and, unless set, the expected savings fraction; `weatherYears` picks the complete calendar years of its weather-station meter and/or the Chongqing typical year. Seeded Monte Carlo: same request, same numbers. Not stored.",
        body: pricingBody,
        response: { 200: z.object({ pricing: z.unknown(), basis: z.unknown() }), ...errors },
      },
    },
    async (req) => {
      const { asOfMs, ...request } = req.body;
      return deps.finance.pricePolicy(request, asOfMs !== undefined ? { asOfMs } : {});
    },
  );

  // ---------------------------------------------------------------------------------------------
  // Portfolios

  const partyParams = z.object({ party: id });
  const yearQuery = z.coerce.number().int().min(1900).max(2999).optional().describe('Reporting year (default: the last complete calendar year)');
  const lastYear = () => Number(new Date(clock() + 8 * 3_600_000).toISOString().slice(0, 4)) - 1;

  app.get(
    `${P}/portfolio/lender/:party`,
    {
      config: { access: lenderAccess },
      schema: {
        tags: [TAG],
        summary: "A bank's building loans under PCAF: financed emissions, intensities, weighted data-quality score, green-loan share, trend",
        params: partyParams,
        querystring: z.object({ year: yearQuery, asOf: asOfQuery }),
        response: {
          200: z
            .object({ lender: z.object({ id: z.string(), name: z.string() }), year: z.number(), asOfMs: z.number(), report: z.unknown(), trend: z.array(z.unknown()), energy: z.array(z.unknown()), evidence: z.unknown(), warnings: z.array(z.unknown()) })
            .meta({ example: { lender: { id: 'cq-green-bank', name: 'Chongqing Green Demo Bank' }, year: 2025, asOfMs: 1793000000000, report: { totals: { financedEmissionsTco2e: 812.4, weightedScore: 2 } }, trend: [], energy: [], evidence: { records: [] }, warnings: [] } }),
          ...errors,
        },
      },
    },
    async (req) => {
      await partyOf(req, 'bank', req.params.party);
      return deps.finance.lenderPortfolio(req.params.party, { year: req.query.year ?? lastYear(), ...(req.query.asOf !== undefined ? { asOfMs: req.query.asOf } : {}) });
    },
  );

  app.get(
    `${P}/portfolio/lender/:party/jrt0227`,
    {
      config: { access: lenderAccess },
      schema: {
        tags: [TAG],
        summary: 'Rows of the annual JR/T 0227-2021 environmental disclosure of the bank\'s building loans (JSON or CSV)',
        params: partyParams,
        querystring: z.object({ year: yearQuery, asOf: asOfQuery, format: z.enum(['json', 'csv']).default('json') }),
        response: { 200: z.union([z.object({ lender: z.string(), year: z.number(), asOfMs: z.number(), rows: z.array(z.record(z.string(), z.unknown())) }), z.string()]), ...errors },
      },
    },
    async (req, reply) => {
      await partyOf(req, 'bank', req.params.party);
      const out = await deps.finance.jrt0227Export(req.params.party, req.query.year ?? lastYear(), req.query.asOf !== undefined ? { asOfMs: req.query.asOf } : {});
      if (req.query.format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="jrt0227-${out.lender}-${out.year}.csv"`)
          .send(jrt0227Csv(out.rows));
      }
      return { lender: out.lender, year: out.year, asOfMs: out.asOfMs, rows: out.rows as unknown as Array<Record<string, unknown>> };
    },
  );

  app.get(
    `${P}/portfolio/insurer/:party`,
    {
      config: { access: insurerAccess },
      schema: {
        tags: [TAG],
        summary: "An insurer's policies: periods settled / due / open, paid claims, loss ratio, and the pricing of the open periods",
        params: partyParams,
        querystring: z.object({ asOf: asOfQuery }),
        response: { 200: z.object({ insurer: z.object({ id: z.string(), name: z.string() }), asOfMs: z.number(), policies: z.array(z.unknown()), totals: z.record(z.string(), z.unknown()), pricing: z.unknown(), warnings: z.array(z.unknown()) }), ...errors },
      },
    },
    async (req) => {
      await partyOf(req, 'insurer', req.params.party);
      return deps.finance.insurerPortfolio(req.params.party, req.query.asOf !== undefined ? { asOfMs: req.query.asOf } : {});
    },
  );
}

function notFound(message: string): WattproofError {
  return new WattproofError('API_NOT_FOUND', message, { statusCode: 404 });
}
