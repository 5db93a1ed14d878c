/**
 * Operator alert routes: list alerts (filter by site, building, meter, state, rule), one alert
 * with its recorded events and webhook attempts, and an evaluation run now.
 *
 * Access (docs/access.md): an alert about a building (or one of its meters) is visible to the keys
 * that may read the building; a site-wide alert (a dead-letter surge, whose evidence names topics
 * of every building of the site) to admins only; evaluating the rules (which also sends the
 * webhooks) is an admin action.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ALERT_RULES, ALERT_SEVERITIES, ALERT_STATES, alertError, type AlertEngine } from '@wattproof/analytics';
import { buildingScopeOf } from '../auth/scope.js';
import type { RouteAccess } from '../auth/types.js';
import { buildingListRead, opsWrite } from './access.js';
import { errorBody, id } from './schemas.js';

export const alertOut = z.object({
  id: z.string().describe('stable per (rule, subject): `<rule>:<site>[:<building>[:<meter>]]`'),
  rule: z.enum(ALERT_RULES),
  severity: z.enum(ALERT_SEVERITIES),
  state: z.enum(ALERT_STATES),
  site: z.string(),
  building: z.string().optional(),
  meter: z.string().optional(),
  title: z.string(),
  message: z.string(),
  titleZh: z.string().describe('title in Simplified Chinese'),
  messageZh: z.string().describe('message in Simplified Chinese'),
  since: z.string().describe('when it was raised (this time round), ISO 8601 UTC'),
  lastEvaluated: z.string().describe('when a rule last judged its subject, ISO 8601 UTC'),
  resolvedAt: z.string().optional(),
  evidence: z.record(z.string(), z.unknown()).describe('the numbers and time ranges that show the condition; fields per rule'),
});

const ruleReport = z.object({
  judged: z.number(),
  firing: z.number(),
  skipped: z.record(z.string(), z.number()).optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

export const evaluationOut = z.object({
  evaluatedAt: z.string(),
  durationMs: z.number(),
  raised: z.array(alertOut),
  resolved: z.array(alertOut),
  updated: z.array(alertOut),
  active: z.number(),
  rules: z.record(z.string(), ruleReport),
});

const eventOut = z.object({ id: z.string(), type: z.enum(['raised', 'updated', 'resolved']), at: z.string(), alert: alertOut });
const deliveryOut = z.object({
  id: z.string(),
  at: z.string(),
  deliveryId: z.string(),
  eventId: z.string(),
  eventType: z.string(),
  target: z.number().describe('position of the URL in ALERT_WEBHOOK_URLS (1-based); URLs are never shown'),
  origin: z.string(),
  attempt: z.number(),
  atMs: z.number(),
  durationMs: z.number(),
  ok: z.boolean(),
  status: z.number().nullable(),
  code: z.string().optional(),
  error: z.string().optional(),
  retryAtMs: z.number().optional(),
});

/** The building an alert is about; undefined for a site-wide alert. */
export const alertBuilding = (a: { site: string; building?: string | undefined }) => (a.building !== undefined ? { site: a.site, building: a.building } : undefined);

export async function alertsPlugin(fastify: FastifyInstance, deps: { alerts: AlertEngine }): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const errors = { 400: errorBody, 404: errorBody, 500: errorBody, 503: errorBody };
  const alertAccess: RouteAccess = {
    action: 'read',
    finance: false,
    resource: async (req) => {
      const alertId = (req.params as { id: string }).id;
      const alert = await deps.alerts.get(alertId);
      // A site-wide alert is admins' only; for anyone else it answers like one that does not exist.
      if (!alert || (alert.building === undefined && req.identity?.role !== 'admin')) throw alertError('ALERT_NOT_FOUND', `no alert ${alertId}`);
      return alert.building !== undefined ? { kind: 'building', site: alert.site, building: alert.building } : { kind: 'ops' };
    },
  };

  app.get(
    '/api/v1/alerts',
    {
      config: { access: buildingListRead },
      schema: {
        tags: ['alerts'],
        summary: 'Operator alerts (silent meters, use above baseline, EUI above quota, low coverage, dead-letter surges): active first, then critical first, newest first',
        description: 'Only the alerts of buildings this key may read; site-wide alerts (dead-letter surges) for admin keys only.',
        querystring: z.object({
          site: id.optional(),
          building: id.optional(),
          meter: id.optional(),
          state: z.enum(ALERT_STATES).optional(),
          rule: z.enum(ALERT_RULES).optional(),
        }),
        response: { 200: z.object({ alerts: z.array(alertOut) }), ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      return {
        alerts: await buildingScopeOf(req).filter(
          await deps.alerts.list({
          ...(q.site ? { site: q.site } : {}),
          ...(q.building ? { building: q.building } : {}),
          ...(q.meter ? { meter: q.meter } : {}),
          ...(q.state ? { state: q.state } : {}),
          ...(q.rule ? { rule: q.rule } : {}),
          }),
          alertBuilding,
        ),
      };
    },
  );

  app.get(
    '/api/v1/alerts/:id',
    {
      config: { access: alertAccess },
      schema: {
        tags: ['alerts'],
        summary: 'One alert with its evidence, its recorded events (raised, severity changes, resolved) and its webhook delivery attempts, newest first',
        params: z.object({ id: z.string().min(1).max(300) }),
        response: { 200: z.object({ alert: alertOut, events: z.array(eventOut), deliveries: z.array(deliveryOut) }), ...errors },
      },
    },
    async (req) => {
      const alert = await deps.alerts.get(req.params.id);
      if (!alert) throw alertError('ALERT_NOT_FOUND', `no alert ${req.params.id}`);
      const history = await deps.alerts.history(req.params.id);
      return { alert, ...history };
    },
  );

  app.post(
    '/api/v1/alerts/evaluate',
    {
      config: { access: opsWrite },
      schema: {
        tags: ['alerts'],
        summary: 'Evaluate every alert rule now; returns what was raised and resolved and what each rule judged',
        response: { 200: evaluationOut, ...errors },
      },
    },
    async () => deps.alerts.evaluate(),
  );
}
