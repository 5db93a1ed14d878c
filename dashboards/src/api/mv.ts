/**
 * M&V routes: run an analysis on live data, read a meter's latest baseline, fit, monthly
 * savings with uncertainty, carbon and EUI, list past results, re-derive one from its stored
 * inputs, and keep the append-only non-routine adjustment register.
 *
 * Access (docs/access.md): reading a building's M&V, and re-deriving one of its stored results
 * (a pure re-computation that stores nothing), follow the building's row of the matrix. Running an
 * analysis, storing a definition and appending an adjustment are admin writes: the stored result
 * becomes the evidence covenant tests and settlements rest on, and its definition (baseline,
 * model, override) and the adjustments are judgements no single party to a contract makes alone.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { meterKey, WattproofError, type RegistryStore } from '@wattproof/core';
import { adjustmentInputSchema, analysisDefinitionSchema, RECORD_KINDS, type MvJobs, type ResultRecordBody } from '@wattproof/analytics';
import type { RouteAccess } from '../auth/types.js';
import { buildingRead, buildingWrite, opsWrite } from './access.js';
import { errorBody, id, meterParams } from './schemas.js';

const recordOut = z.object({ id: z.string(), kind: z.string(), key: z.string(), recordedAtMs: z.number(), body: z.unknown() });
const resultSummary = z.object({
  id: z.string(),
  ranAtMs: z.number(),
  status: z.string(),
  modelType: z.string(),
  avoided: z.number(),
  fraction: z.number().nullable(),
  lineageDigest: z.string(),
});

function zodIssues(err: z.ZodError) {
  return err.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

function noResult(resultId: string): WattproofError {
  return new WattproofError('API_NOT_FOUND', `no M&V result ${resultId}`, { statusCode: 404 });
}

export async function mvPlugin(fastify: FastifyInstance, deps: { jobs: MvJobs; registry: RegistryStore }): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const errors = { 400: errorBody, 404: errorBody, 500: errorBody, 503: errorBody };
  /** A stored result is about the building of its meter; an unknown id is a 404 (for non-admins the same as a refusal). */
  const resultAccess: RouteAccess = {
    action: 'read',
    finance: false,
    resource: async (req) => {
      const resultId = (req.params as { id: string }).id;
      const record = await deps.registry.getRecord(resultId).catch((err: unknown) => {
        // A malformed id is no id of the store.
        if ((err as { code?: unknown })?.code === 'REGISTRY_INPUT_INVALID') return undefined;
        throw err;
      });
      if (!record || record.kind !== RECORD_KINDS.result) throw noResult(resultId);
      const { meter } = (record.body as ResultRecordBody).definition;
      return { kind: 'building', site: meter.site, building: meter.building };
    },
  };
  const parse = <T>(schema: z.ZodType<T>, body: unknown): T => {
    const r = schema.safeParse(body);
    if (!r.success) {
      const issues = zodIssues(r.error);
      throw new WattproofError('API_REQUEST_INVALID', `invalid body: ${issues.map((i) => `${i.path ? `${i.path}: ` : ''}${i.message}`).join('; ')}`, { statusCode: 400, details: { issues } });
    }
    return r.data;
  };

  app.post(
    '/api/v1/mv/analyses',
    {
      config: { access: opsWrite },
      schema: {
        tags: ['m&v'],
        summary: 'Run a CalTRACK analysis on a meter\'s stored data now and persist the result with its lineage',
        body: z.unknown().describe('an analysis definition: meter, temperatureMeter, model, baseline, reporting, fuel, timeZone, building, emission, override'),
        response: { 201: recordOut, ...errors },
      },
    },
    async (req, reply) => {
      const def = parse(analysisDefinitionSchema, req.body);
      try {
        return reply.code(201).send(await deps.jobs.run(def));
      } catch (err) {
        if (err instanceof RangeError) throw new WattproofError('API_REQUEST_INVALID', err.message, { statusCode: 400 });
        throw err;
      }
    },
  );

  app.post(
    '/api/v1/mv/definitions',
    { config: { access: opsWrite }, schema: { tags: ['m&v'], summary: 'Store an analysis definition; the scheduler re-runs the newest one of each meter', body: z.unknown(), response: { 201: recordOut, ...errors } } },
    async (req, reply) => reply.code(201).send(await deps.jobs.define(parse(analysisDefinitionSchema, req.body))),
  );

  app.get(
    '/api/v1/meters/:site/:building/:meter/mv',
    {
      config: { access: buildingRead },
      schema: {
        tags: ['m&v'],
        summary: 'The meter\'s latest M&V result: baseline model, fit, savings per month with uncertainty, carbon, EUI, lineage',
        params: meterParams,
        response: { 200: recordOut, ...errors },
      },
    },
    async (req) => {
      const r = await deps.jobs.latest(req.params);
      if (!r) throw new WattproofError('API_NOT_FOUND', `no M&V result for ${meterKey(req.params)}; run one with POST /api/v1/mv/analyses`, { statusCode: 404 });
      return r;
    },
  );

  app.get(
    '/api/v1/buildings/:site/:building/mv',
    {
      config: { access: buildingRead },
      schema: {
        tags: ['m&v'],
        summary: 'The building\'s M&V: the latest result of each of its meters (baseline, fit, monthly savings with uncertainty, carbon, EUI)',
        params: z.object({ site: id, building: id }),
        response: { 200: z.object({ site: z.string(), building: z.string(), meters: z.array(z.object({ meter: z.string(), result: recordOut.nullable() })) }), ...errors },
      },
    },
    async (req) => {
      const meters = await deps.registry.listMeters({ site: req.params.site, building: req.params.building });
      if (!meters.length) throw new WattproofError('API_NOT_FOUND', `building ${req.params.site}/${req.params.building} not found`, { statusCode: 404 });
      const results = await Promise.all(meters.map(async (m) => ({ meter: m.meter, result: (await deps.jobs.latest(m)) ?? null })));
      return { site: req.params.site, building: req.params.building, meters: results };
    },
  );

  app.get(
    '/api/v1/meters/:site/:building/:meter/mv/results',
    { config: { access: buildingRead }, schema: { tags: ['m&v'], summary: 'Past M&V results of the meter, newest first', params: meterParams, response: { 200: z.object({ results: z.array(resultSummary) }), ...errors } } },
    async (req) => {
      const records = await deps.jobs.list(req.params);
      return {
        results: records.map((r) => {
          const b = r.body as { ranAtMs: number; result: { status: string; model: { type: string }; savings: { avoided: number; fraction: number | null }; lineage: { digest: string } } };
          return { id: r.id, ranAtMs: b.ranAtMs, status: b.result.status, modelType: b.result.model.type, avoided: b.result.savings.avoided, fraction: b.result.savings.fraction, lineageDigest: b.result.lineage.digest };
        }),
      };
    },
  );

  app.post(
    '/api/v1/mv/results/:id/rederive',
    {
      config: { access: resultAccess },
      schema: {
        tags: ['m&v'],
        summary: 'Re-run a stored result on its stored inputs and compare every number',
        params: z.object({ id: z.string().max(100) }),
        response: { 200: z.object({ identical: z.boolean(), lineageDigest: z.string() }), ...errors },
      },
    },
    async (req) => {
      const r = await deps.jobs.rederive(req.params.id);
      if (!r) throw noResult(req.params.id);
      return { identical: r.identical, lineageDigest: r.rederived.lineage.digest };
    },
  );

  app.get(
    '/api/v1/meters/:site/:building/:meter/mv/adjustments',
    { config: { access: buildingRead }, schema: { tags: ['m&v'], summary: 'The meter\'s non-routine adjustment register (append-only)', params: meterParams, response: { 200: z.object({ adjustments: z.array(z.unknown()) }), ...errors } } },
    async (req) => ({ adjustments: await deps.jobs.adjustments(req.params) }),
  );

  app.post(
    '/api/v1/meters/:site/:building/:meter/mv/adjustments',
    {
      config: { access: buildingWrite },
      schema: {
        tags: ['m&v'],
        summary: 'Append a non-routine adjustment (event, dates, amount or method, evidence, approver); corrections supersede, never overwrite',
        params: meterParams,
        body: z.unknown(),
        response: { 201: recordOut, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(await deps.jobs.addAdjustment(req.params, parse(adjustmentInputSchema, req.body))),
  );
}
