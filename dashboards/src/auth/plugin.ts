/**
 * The auth plugin: every route needs an API key (docs/access.md). It guards each route that
 * declares `config.access` (types.ts), refuses to register a route that declares none unless it
 * is on the open list (OPEN_ROUTES: probes, the API docs, the console's static shell — deny by
 * default, AUTH_ROUTE_UNGUARDED), and serves the audit log at `GET /api/v1/audit`. It is
 * registered on the root instance (it breaks fastify's encapsulation with
 * `Symbol.for('skip-override')`, as fastify-plugin does), after the security plugin (whose limits
 * run first) and before every route, so its hooks see every route registered after it.
 *
 * Per guarded request:
 * 1. `onRequest`: the key is checked (401 AUTH_REQUIRED / AUTH_INVALID / AUTH_EXPIRED /
 *    AUTH_REVOKED with `WWW-Authenticate: Bearer`, RFC 6750 §3), `request.identity` and
 *    `request.buildingScope` (scope.ts) set; a write by a non-admin is refused here (403
 *    AUTH_FORBIDDEN), before its body is even parsed.
 * 2. `preHandler` (after validation): the route's resource is resolved and the access matrix
 *    applied. A non-admin refused a thing addressed by id (loan, policy, building, portfolio) gets
 *    the same 404 AUTH_NOT_FOUND as for an id that does not exist, so a key cannot probe for other
 *    parties' contracts or buildings; a refusal that depends on the role alone (pricing,
 *    administration, operations data) is 403 AUTH_FORBIDDEN. Lists (`buildings`) pass and filter
 *    their answer with `request.buildingScope`.
 * 3. `onSend`: every request to a finance route (allowed or refused, any status) is written to
 *    the audit log before the response leaves; if that write fails the response is replaced by
 *    503 AUTH_AUDIT_UNAVAILABLE — finance data is never served unaudited. Operator data
 *    (readings, M&V, alerts, reports) is not audited: a console page makes dozens of such reads.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AUTH_ERRORS, authError, type AuthErrorCode } from './errors.js';
import { ADDRESSED_RESOURCE_KINDS, resourceKey } from './policy.js';
import { API_KEY_ID_PATTERN } from './keys.js';
import type { AccessControl } from './access-control.js';
import type { AuditDecision } from './audit.js';
import { createBuildingScope } from './scope.js';
import type { ApiIdentity, ProtectedResource, RouteAccess } from './types.js';

/**
 * The routes that answer without an API key; every other route must declare `config.access`.
 * Probes (`/health`, `/ready`), the link list `/api`, the OpenAPI document and Swagger UI
 * (`/docs…`), and the console's static page and bundle (`/`, `/console/:file`): none holds data —
 * the console asks for a key before it reads any. A pattern ending in `/*` covers the path and
 * everything under it; others match the registered route pattern exactly.
 */
export const OPEN_ROUTES: readonly string[] = Object.freeze(['/health', '/ready', '/api', '/docs/*', '/', '/console/:file']);

/** Is a route pattern on an open list? */
export function isOpenRoute(url: string, open: readonly string[] = OPEN_ROUTES): boolean {
  return open.some((p) => (p.endsWith('/*') ? url === p.slice(0, -2) || url.startsWith(p.slice(0, -1)) : url === p));
}
/** The audit log route. */
export const AUDIT_ROUTE = '/api/v1/audit';
/** `realm` of the WWW-Authenticate challenge. */
export const AUTH_REALM = 'wattproof';

export interface AuthPluginOptions {
  readonly access: AccessControl;
  /** Route patterns that need no key (default OPEN_ROUTES); any other route without `config.access` fails to register. */
  readonly openRoutes?: readonly string[];
}

/** A route the plugin guards, as registered. */
export interface GuardedRoute {
  readonly method: string;
  readonly url: string;
  readonly access: RouteAccess;
}

/** A route that answers without a key (on the open list). */
export interface OpenRoute {
  readonly method: string;
  readonly url: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route declaring `config.access` registered after the auth plugin (tests enumerate them). */
    guardedRoutes: GuardedRoute[];
    /** Every open route registered after the auth plugin: with `guardedRoutes`, every route it saw. */
    openRoutes: OpenRoute[];
  }
}

/** What a role-only refusal says the key may not touch. */
const REFUSED_WHAT: Partial<Record<ProtectedResource['kind'], string>> = {
  admin: 'registry administration',
  ops: 'operations data of the whole deployment (admins only)',
  pricing: 'pricing (insurers only)',
};

interface RequestState {
  claimedKeyId?: string;
  resource?: ProtectedResource;
  decision: AuditDecision;
  code?: string;
  audited: boolean;
}

const pathOf = (request: FastifyRequest) => request.url.split('?')[0] ?? request.url;

function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown })?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

const auditEntryOut = z.object({
  id: z.string(),
  time: z.string().describe('ISO 8601 UTC'),
  atMs: z.number(),
  requestId: z.string(),
  method: z.string(),
  route: z.string(),
  url: z.string(),
  status: z.number(),
  decision: z.enum(['allowed', 'refused', 'none']),
  code: z.string().optional(),
  action: z.enum(['read', 'write']),
  actor: z.object({ keyId: z.string().optional(), role: z.string().optional(), party: z.string().optional() }),
  resource: z.string().optional().describe('`loan/<id>`, `policy/<id>`, `building/<site>/<building>`, `lender-portfolio/<bank>`, `insurer-portfolio/<insurer>`, `pricing`, `admin`'),
  resourceKind: z.string().optional(),
  stakeholders: z.array(z.string()).describe('parties the resource concerns; each may read this entry'),
  clientIp: z.string(),
});

const errorOut = z.object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) });

const authPluginImpl: FastifyPluginAsync<AuthPluginOptions> = async (fastify: FastifyInstance, opts: AuthPluginOptions) => {
  const ac = opts.access;
  const openList = opts.openRoutes ?? OPEN_ROUTES;
  const states = new WeakMap<FastifyRequest, RequestState>();
  const guarded: GuardedRoute[] = [];
  const open: OpenRoute[] = [];
  fastify.decorate('guardedRoutes', guarded);
  fastify.decorate('openRoutes', open);
  fastify.decorateRequest('identity', undefined);
  fastify.decorateRequest('buildingScope', undefined);

  // Deny by default: a route is guarded, or open by name, or it does not register.
  fastify.addHook('onRoute', (route) => {
    const access = route.config?.access;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (access) {
      for (const method of methods) guarded.push({ method, url: route.url, access });
      return;
    }
    if (isOpenRoute(route.url, openList)) {
      for (const method of methods) open.push({ method, url: route.url });
      return;
    }
    throw authError('AUTH_ROUTE_UNGUARDED', `${methods.join(',')} ${route.url} declares no config.access and is not an open route (${openList.join(', ')})`);
  });

  const refuse = (reply: FastifyReply, state: RequestState, code: AuthErrorCode, message: string) => {
    state.decision = 'refused';
    state.code = code;
    const status = AUTH_ERRORS[code].statusCode;
    if (status === 401) {
      // RFC 6750 §3: no error attribute when no credentials were sent.
      reply.header('www-authenticate', code === 'AUTH_REQUIRED' ? `Bearer realm="${AUTH_REALM}"` : `Bearer realm="${AUTH_REALM}", error="invalid_token", error_description="${code}"`);
    }
    return reply.code(status).send({ error: { code, message } });
  };

  const notFound = (request: FastifyRequest) => `nothing at ${request.method} ${pathOf(request)} for this API key`;

  fastify.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config.access;
    if (!access) return;
    const state: RequestState = { decision: 'none', audited: false };
    states.set(request, state);
    const r = await ac.check(request);
    if (!r.ok) {
      if (r.keyId !== undefined) state.claimedKeyId = r.keyId;
      return refuse(reply, state, r.code, r.message);
    }
    const identity = r.identity;
    request.identity = identity;
    request.buildingScope = createBuildingScope({
      all: identity.role === 'admin',
      mayRead: (ref) => ac.authorize(identity, { kind: 'building', site: ref.site, building: ref.building }, 'read'),
      recheck: async () => {
        const again = await ac.check(request);
        return again.ok && again.identity.keyId === identity.keyId;
      },
    });
    if (access.action !== 'read' && identity.role !== 'admin') {
      return refuse(reply, state, 'AUTH_FORBIDDEN', `a ${identity.role} key may only read; ${request.method} ${request.routeOptions.url} needs an admin key`);
    }
  });

  fastify.addHook('preHandler', async (request, reply) => {
    const access = request.routeOptions.config.access;
    const state = states.get(request);
    const identity = request.identity;
    if (!access || !state || !identity) return;
    let resource: ProtectedResource;
    try {
      resource = await access.resource(request);
    } catch (err) {
      // A missing thing looks the same as a thing the key may not see.
      if (statusOf(err) === 404 && identity.role !== 'admin') return refuse(reply, state, 'AUTH_NOT_FOUND', notFound(request));
      throw err;
    }
    state.resource = resource;
    if (!(await ac.authorize(identity, resource, access.action))) {
      if (ADDRESSED_RESOURCE_KINDS.has(resource.kind)) return refuse(reply, state, 'AUTH_NOT_FOUND', notFound(request));
      return refuse(reply, state, 'AUTH_FORBIDDEN', `a ${identity.role} key may not ${access.action} ${REFUSED_WHAT[resource.kind] ?? resource.kind}`);
    }
    state.decision = 'allowed';
  });

  const writeAudit = async (request: FastifyRequest, state: RequestState, status: number, access: RouteAccess, errorCode?: string) => {
    state.audited = true;
    const identity: ApiIdentity | undefined = request.identity;
    const code = state.code ?? errorCode;
    await ac.audit({
      atMs: ac.clock(),
      requestId: String(request.id),
      method: request.method,
      route: request.routeOptions.url ?? pathOf(request),
      url: request.url,
      status,
      decision: state.decision,
      ...(code !== undefined ? { code } : {}),
      action: access.action,
      actor: identity
        ? { keyId: identity.keyId, role: identity.role, ...(identity.party !== undefined ? { party: identity.party } : {}) }
        : state.claimedKeyId !== undefined
          ? { keyId: state.claimedKeyId }
          : {},
      ...(state.resource ? { resource: resourceKey(state.resource), resourceKind: state.resource.kind } : {}),
      stakeholders: state.resource ? await ac.stakeholders(state.resource) : [],
      clientIp: request.ip,
    });
  };

  /** The error code of a JSON error body, for the audit entry of a failed request. */
  const codeOfPayload = (payload: unknown): string | undefined => {
    if (typeof payload !== 'string' || !payload.startsWith('{"error"')) return undefined;
    try {
      const code = (JSON.parse(payload) as { error?: { code?: unknown } }).error?.code;
      return typeof code === 'string' ? code : undefined;
    } catch {
      return undefined;
    }
  };

  fastify.addHook('onSend', async (request, reply, payload) => {
    const access = request.routeOptions.config.access;
    const state = states.get(request);
    if (!access?.finance || !state || state.audited) return payload;
    try {
      await writeAudit(request, state, reply.statusCode, access, reply.statusCode >= 400 ? codeOfPayload(payload) : undefined);
      return payload;
    } catch (err) {
      request.log.error({ err }, 'audit entry not written; the finance response is withheld');
      if (payload && typeof (payload as { destroy?: unknown }).destroy === 'function') (payload as { destroy: () => void }).destroy();
      reply.code(503);
      reply.removeHeader('content-disposition');
      reply.header('content-type', 'application/json; charset=utf-8');
      return JSON.stringify({ error: { code: 'AUTH_AUDIT_UNAVAILABLE', message: 'the audit log did not accept the entry of this request; nothing was served (retry later, see /health)' } });
    }
  });

  // A hijacked reply (a stream the handler writes itself) skips onSend: audit it after the fact.
  fastify.addHook('onResponse', async (request, reply) => {
    const access = request.routeOptions.config.access;
    const state = states.get(request);
    if (!access?.finance || !state || state.audited) return;
    await writeAudit(request, state, reply.statusCode, access).catch((err: unknown) => request.log.error({ err }, 'audit entry of a hijacked reply not written'));
  });

  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get(
    AUDIT_ROUTE,
    {
      schema: {
        tags: ['audit'],
        summary: 'Audit log of finance reads: who read which loan, policy, building or portfolio, allowed or refused',
        description:
          'Needs an API key. Admins see every entry; any other key the entries about its own party (a bank: reads of its loans; an owner: reads of its buildings and of its loans and policies) and those of its own requests. Newest first; pass `next` as `before` for the next page.',
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(1000).default(100).describe('entries per page'),
          before: z.string().min(1).max(200).optional().describe('cursor: `next` of the previous page'),
          resource: z.string().min(1).max(200).optional().describe('only this resource, e.g. `loan/slb-1`; ending with `/` a prefix, e.g. `building/yuzhong/`'),
          keyId: z.string().regex(API_KEY_ID_PATTERN, 'a key id: 16 characters a-z, 2-7').optional().describe('only requests made with this key'),
        }),
        response: { 200: z.object({ entries: z.array(auditEntryOut), next: z.string().optional(), scanned: z.number() }), 400: errorOut, 401: errorOut, 503: errorOut },
      },
      config: { access: { action: 'read', finance: false, resource: () => ({ kind: 'audit' }) } },
    },
    async (req) => {
      const page = await ac.listAudit(req.identity!, {
        limit: req.query.limit,
        ...(req.query.before !== undefined ? { before: req.query.before } : {}),
        ...(req.query.resource !== undefined ? { resource: req.query.resource } : {}),
        ...(req.query.keyId !== undefined ? { keyId: req.query.keyId } : {}),
      });
      return { ...page, entries: page.entries.map((e) => ({ ...e, stakeholders: [...e.stakeholders], time: new Date(e.atMs).toISOString() })) };
    },
  );
};

Object.defineProperty(authPluginImpl, Symbol.for('skip-override'), { value: true });
Object.defineProperty(authPluginImpl, Symbol.for('fastify.display-name'), { value: 'wattproof-auth' });

/** The auth plugin (see the module comment). Register it before the route plugins. */
export const authPlugin = authPluginImpl;
