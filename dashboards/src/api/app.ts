/**
 * The HTTP API as a fastify plugin: portfolio (sites, buildings, meters), readings raw and
 * aggregated, latest values, dead letters, register events, health and metrics. It opens no
 * socket; `createApiServer` (server.ts) mounts it with OpenAPI docs at /docs, after the auth
 * plugin: every route but /health and /ready declares its access (access.ts) — a building's data
 * for the keys that may read that building, lists filtered to them, metrics and the ingest
 * diagnostics of every site for admins.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { meterKey, WattproofError, type ReadingStore, type RegistryStore } from '@wattproof/core';
import { buildingScopeOf } from '../auth/scope.js';
import type { ProtectedResource, RouteAccess } from '../auth/types.js';
import { buildingListRead, buildingRead, opsRead } from './access.js';
import {
  aggregateOut,
  buildingOut,
  deadLetterOut,
  deadLettersQuery,
  errorBody,
  id,
  meterOut,
  meterParams,
  readingOut,
  readingsQuery,
  registerEventOut,
  seriesOut,
  siteOut,
} from './schemas.js';

/** Health of a component the API process runs or depends on. */
export type ComponentHealth = { ok: boolean; [detail: string]: unknown };

export interface ApiDeps {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  readonly metrics: Registry;
  readonly clock?: () => number;
  /** Extra components to report in /health (gateway, ingest when in the same process). */
  readonly components?: () => Record<string, ComponentHealth>;
}

const DAY_MS = 86_400_000;
const BUCKET_MS = { '15m': 900_000, '1h': 3_600_000, '1d': DAY_MS, '1mo': 28 * DAY_MS } as const;
/** Most buckets one aggregate request may return. */
export const MAX_BUCKETS = 100_000;

const iso = (ms: number) => new Date(ms).toISOString();

function notFound(what: string): WattproofError {
  return new WattproofError('API_NOT_FOUND', `${what} not found`, { statusCode: 404 });
}

/** The topic prefix of one building's messages (contract topic grammar `wattproof/v1/<site>/<building>/...`). */
const buildingTopicPrefix = (site: string, building: string) => `wattproof/v1/${site}/${building}/`;

/**
 * Ingest diagnostics (dead letters, register events): of one building for whoever may read it
 * (`site` and `building` in the query), of a site or of every site for admins only — a dead
 * letter's topic and payload may name any building.
 */
const diagnosticsAccess: RouteAccess = {
  action: 'read',
  finance: false,
  resource: (req): ProtectedResource => {
    const q = req.query as { site?: string; building?: string };
    return q.site && q.building ? { kind: 'building', site: q.site, building: q.building } : { kind: 'ops' };
  },
};

export async function apiPlugin(fastify: FastifyInstance, deps: ApiDeps): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const clock = deps.clock ?? Date.now;
  const errors = { 400: errorBody, 404: errorBody, 500: errorBody, 503: errorBody };

  app.get('/health', {
    schema: {
      tags: ['ops'],
      summary: 'Health of the stores and of the services in this process',
      response: { 200: z.object({ status: z.enum(['ok', 'degraded']), components: z.record(z.string(), z.looseObject({ ok: z.boolean() })) }), 503: z.object({ status: z.enum(['ok', 'degraded']), components: z.record(z.string(), z.looseObject({ ok: z.boolean() })) }) },
    },
    handler: async (_req, reply) => {
      const [readings, registry] = await Promise.all([deps.readings.ping().catch(() => false), deps.registry.ping().catch(() => false)]);
      const components: Record<string, ComponentHealth> = {
        readingStore: { ok: readings, adapter: deps.readings.name },
        registry: { ok: registry, adapter: deps.registry.name },
        ...(deps.components?.() ?? {}),
      };
      const ok = Object.values(components).every((c) => c.ok);
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', components });
    },
  });

  // Readiness (take traffic?) as opposed to /health (detail): the same checks, a terse answer.
  const readyOut = z.object({ status: z.enum(['ready', 'not_ready']), reasons: z.array(z.string()) });
  app.get('/ready', {
    schema: { tags: ['ops'], summary: 'Readiness: 200 when the stores and the services in this process are up', response: { 200: readyOut, 503: readyOut } },
    handler: async (_req, reply) => {
      const [readings, registry] = await Promise.all([deps.readings.ping().catch(() => false), deps.registry.ping().catch(() => false)]);
      const checks: Record<string, boolean> = { readingStore: readings, registry, ...Object.fromEntries(Object.entries(deps.components?.() ?? {}).map(([k, c]) => [k, c.ok])) };
      const reasons = Object.entries(checks).filter(([, ok]) => !ok).map(([k]) => `${k} not ok`);
      return reply.code(reasons.length ? 503 : 200).send({ status: reasons.length ? 'not_ready' : 'ready', reasons });
    },
  });

  app.get('/metrics', { config: { access: opsRead }, schema: { tags: ['ops'], summary: 'Prometheus metrics (text format); admin key only', hide: false } }, async (_req, reply) => {
    reply.header('content-type', deps.metrics.contentType);
    return deps.metrics.metrics();
  });

  app.get(
    '/api/v1/sites',
    { config: { access: buildingListRead }, schema: { tags: ['portfolio'], summary: 'Sites (with at least one building this key may read)', response: { 200: z.object({ sites: z.array(siteOut) }), ...errors } } },
    async (req) => {
      const scope = buildingScopeOf(req);
      const sites = await deps.registry.listSites();
      if (scope.all) return { sites };
      const visible = new Set((await scope.filter(await deps.registry.listBuildings(), (b) => ({ site: b.site, building: b.id }))).map((b) => b.site));
      return { sites: sites.filter((s) => visible.has(s.id)) };
    },
  );

  app.get(
    '/api/v1/buildings',
    { config: { access: buildingListRead }, schema: { tags: ['portfolio'], summary: 'Buildings this key may read, optionally of one site', querystring: z.object({ site: id.optional() }), response: { 200: z.object({ buildings: z.array(buildingOut) }), ...errors } } },
    async (req) => ({ buildings: await buildingScopeOf(req).filter(await deps.registry.listBuildings(req.query.site), (b) => ({ site: b.site, building: b.id })) }),
  );

  app.get(
    '/api/v1/sites/:site/buildings',
    { config: { access: buildingListRead }, schema: { tags: ['portfolio'], summary: 'Buildings of a site this key may read', params: z.object({ site: id }), response: { 200: z.object({ buildings: z.array(buildingOut) }), ...errors } } },
    async (req) => {
      const scope = buildingScopeOf(req);
      const sites = await deps.registry.listSites();
      if (!sites.some((s) => s.id === req.params.site)) throw notFound(`site ${req.params.site}`);
      const buildings = await scope.filter(await deps.registry.listBuildings(req.params.site), (b) => ({ site: b.site, building: b.id }));
      // A site none of whose buildings the key may read answers like a site that does not exist.
      if (!scope.all && buildings.length === 0) throw notFound(`site ${req.params.site}`);
      return { buildings };
    },
  );

  app.get(
    '/api/v1/meters',
    {
      config: { access: buildingListRead },
      schema: {
        tags: ['portfolio'],
        summary: 'Meters of the buildings this key may read, optionally of one site or building',
        querystring: z.object({ site: id.optional(), building: id.optional() }),
        response: { 200: z.object({ meters: z.array(meterOut) }), ...errors },
      },
    },
    async (req) => ({
      meters: await buildingScopeOf(req).filter(await deps.registry.listMeters({ ...(req.query.site ? { site: req.query.site } : {}), ...(req.query.building ? { building: req.query.building } : {}) }), (m) => m),
    }),
  );

  app.get(
    '/api/v1/meters/:site/:building/:meter',
    {
      config: { access: buildingRead },
      schema: {
        tags: ['portfolio'],
        summary: 'A meter with its series and latest readings',
        params: meterParams,
        response: { 200: z.object({ meter: meterOut, series: z.array(seriesOut), latest: z.array(readingOut) }), ...errors },
      },
    },
    async (req) => {
      const meter = await deps.registry.getMeter(req.params);
      if (!meter) throw notFound(`meter ${meterKey(req.params)}`);
      const [series, latest] = await Promise.all([deps.readings.listSeries(req.params), deps.readings.latest(req.params)]);
      return { meter, series, latest: latest.map((r) => ({ ...r, time: iso(r.ts) })) };
    },
  );

  app.get(
    '/api/v1/meters/:site/:building/:meter/readings',
    {
      config: { access: buildingRead },
      schema: {
        tags: ['readings'],
        summary: 'Readings of a meter in [from, to): raw, or aggregated with coverage when `bucket` is set',
        description: 'Defaults: to = now, from = to - 24 h. Aggregates need `quantity` (and `kind` when the meter has several).',
        params: meterParams,
        querystring: readingsQuery,
        response: {
          200: z.union([
            z.object({ meter: z.string(), from: z.number(), to: z.number(), readings: z.array(readingOut) }),
            z.object({ meter: z.string(), from: z.number(), to: z.number(), bucket: z.string(), tz: z.string(), quantity: z.string(), kind: z.string(), unit: z.string(), rows: z.array(aggregateOut) }),
          ]),
          ...errors,
        },
      },
    },
    async (req) => {
      const q = req.query;
      const to = q.to ?? clock();
      const from = q.from ?? to - DAY_MS;
      if (from >= to) throw new WattproofError('API_REQUEST_INVALID', '`from` must be before `to`', { statusCode: 400, details: { issues: [{ path: 'from', message: 'must be before to' }] } });
      const meter = await deps.registry.getMeter(req.params);
      if (!meter) throw notFound(`meter ${meterKey(req.params)}`);
      const key = meterKey(req.params);
      if (!q.bucket) {
        const readings = await deps.readings.query({ ...req.params, from, to, limit: q.limit, ...(q.quantity ? { quantity: q.quantity } : {}), ...(q.kind ? { kind: q.kind } : {}) });
        return { meter: key, from, to, readings: readings.map((r) => ({ ...r, time: iso(r.ts) })) };
      }
      if ((to - from) / BUCKET_MS[q.bucket] > MAX_BUCKETS) {
        throw new WattproofError('API_RANGE_TOO_LARGE', `at most ${MAX_BUCKETS} ${q.bucket} buckets per request`, { statusCode: 400 });
      }
      const series = (await deps.readings.listSeries(req.params)).filter((s) => (!q.quantity || s.quantity === q.quantity) && (!q.kind || s.kind === q.kind));
      // A register series is aggregated through its derived intervals, so prefer interval over register.
      const preferred = series.filter((s) => s.kind !== 'register');
      const candidates = preferred.length ? preferred : series;
      if (candidates.length === 0) {
        return { meter: key, from, to, bucket: q.bucket, tz: q.tz ?? 'UTC', quantity: q.quantity ?? '', kind: q.kind ?? '', unit: '', rows: [] };
      }
      if (candidates.length > 1) {
        throw new WattproofError('API_REQUEST_INVALID', `the meter has ${candidates.length} series; choose one with quantity and kind`, {
          statusCode: 400,
          details: { series: candidates.map((s) => ({ quantity: s.quantity, kind: s.kind })) },
        });
      }
      const s = candidates[0]!;
      const tz = q.tz ?? (await deps.registry.listSites()).find((x) => x.id === req.params.site)?.timezone ?? 'Asia/Shanghai';
      const rows = await deps.readings.aggregate({ ...req.params, quantity: s.quantity, kind: s.kind, from, to, bucket: q.bucket, tz });
      return { meter: key, from, to, bucket: q.bucket, tz, quantity: s.quantity, kind: s.kind, unit: s.unit, rows: rows.map((r) => ({ ...r, time: iso(r.start) })) };
    },
  );

  app.get(
    '/api/v1/latest',
    {
      config: { access: buildingListRead },
      schema: {
        tags: ['readings'],
        summary: 'Latest reading of every series of the buildings this key may read',
        querystring: z.object({ site: id.optional(), building: id.optional() }),
        response: { 200: z.object({ readings: z.array(readingOut) }), ...errors },
      },
    },
    async (req) => {
      const latest = await buildingScopeOf(req).filter(await deps.readings.latest({ ...(req.query.site ? { site: req.query.site } : {}), ...(req.query.building ? { building: req.query.building } : {}) }), (r) => r);
      return { readings: latest.map((r) => ({ ...r, time: iso(r.ts) })) };
    },
  );

  app.get(
    '/api/v1/series',
    { config: { access: buildingListRead }, schema: { tags: ['readings'], summary: 'Every series with readings of the buildings this key may read', querystring: z.object({ site: id.optional(), building: id.optional() }), response: { 200: z.object({ series: z.array(seriesOut) }), ...errors } } },
    async (req) => ({
      series: await buildingScopeOf(req).filter(await deps.readings.listSeries({ ...(req.query.site ? { site: req.query.site } : {}), ...(req.query.building ? { building: req.query.building } : {}) }), (x) => x),
    }),
  );

  app.get(
    '/api/v1/dead-letters',
    {
      config: { access: diagnosticsAccess },
      schema: {
        tags: ['data quality'],
        summary: 'Rejected messages with their reasons, newest first',
        description: 'With `site` and `building`: the messages whose topic is under that building (`wattproof/v1/<site>/<building>/`), for any key that may read the building. Without them (every site, or one site): admin keys only, since a rejected message may carry any topic and payload.',
        querystring: deadLettersQuery,
        response: { 200: z.object({ total: z.number(), deadLetters: z.array(deadLetterOut), next: z.string().optional() }), ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      if (q.building && !q.site) throw new WattproofError('API_REQUEST_INVALID', 'give site with building', { statusCode: 400, details: { issues: [{ path: 'site', message: 'required with building' }] } });
      const topicPrefix = q.site ? (q.building ? buildingTopicPrefix(q.site, q.building) : `wattproof/v1/${q.site}/`) : undefined;
      const filter = { ...(q.code ? { code: q.code } : {}), ...(q.source ? { source: q.source } : {}), ...(topicPrefix ? { topicPrefix } : {}) };
      const [letters, total] = await Promise.all([
        // One more than asked: a next page exists only if it comes back.
        deps.registry.listDeadLetters({ ...filter, limit: q.limit + 1, ...(q.before ? { before: q.before } : {}) }),
        deps.registry.countDeadLetters(filter),
      ]);
      const page = letters.slice(0, q.limit);
      const last = page[page.length - 1];
      return {
        total,
        deadLetters: page.map((d) => ({ ...d, receivedAt: iso(d.receivedAtMs) })),
        ...(letters.length > q.limit && last ? { next: last.id } : {}),
      };
    },
  );

  app.get(
    '/api/v1/register-events',
    {
      config: { access: diagnosticsAccess },
      schema: {
        tags: ['data quality'],
        summary: 'Register rollovers, resets and meter replacements detected by the ingest',
        description: 'With `site` and `building`: that building\'s events, for any key that may read it. Without them: admin keys only.',
        querystring: z.object({ site: id.optional(), building: id.optional(), meter: id.optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }),
        response: { 200: z.object({ events: z.array(registerEventOut) }), ...errors },
      },
    },
    async (req) => {
      const { limit, ...ref } = req.query;
      const filter = Object.fromEntries(Object.entries(ref).filter(([, v]) => v !== undefined));
      return { events: await deps.registry.listRegisterEvents({ ...filter, limit }) };
    },
  );
}
