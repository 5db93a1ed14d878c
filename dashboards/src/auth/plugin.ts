/**
 * The auth plugin: guards every route that declares `config.access` (types.ts) and serves the
 * audit log at `GET /api/v1/audit`. It is registered on the root instance (it breaks fastify's
 * encapsulation with `Symbol.for('skip-override')`, as fastify-plugin does), before the route
 * plugins, so its hooks apply to every route registered after it.
 *
 * Per guarded request:
 * 1. `onRequest`: the key is checked (401 AUTH_REQUIRED / AUTH_INVALID / AUTH_EXPIRED /
 *    AUTH_REVOKED with `WWW-Authenticate: Bearer`, RFC 6750 §3) and `request.identity` set; a
 *    write by a non-admin is refused here (403 AUTH_FORBIDDEN), before its body is even parsed.
 * 2. `preHandler` (after validation): the route's resource is resolved and the access matrix
 *    applied. A non-admin refused a thing addressed by id (loan, policy, building, portfolio) gets
 *    the same 404 AUTH_NOT_FOUND as for an id that does not exist, so a key cannot probe for other
 *    parties' contracts; a refusal that depends on the role alone (pricing, administration) is
 *    403 AUTH_FORBIDDEN.
 * 3. `onSend`: every request to a finance route (allowed or refused, any status) is written to
 *    the audit log before the response leaves; if that write fails the response is replaced by
 *    503 AUTH_AUDIT_UNAVAILABLE — finance data is never served unaudited.
 *
 * Routes under FINANCE_ROUTE_PREFIX without `config.access` make registration fail
 * (AUTH_ROUTE_UNGUARDED): deny by default.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AUTH_ERRORS, authError, type AuthErrorCode } from './errors.js';
import { ADDRESSED_RESOURCE_KINDS, resourceKey } from './policy.js';
import { API_KEY_ID_PATTERN } from './keys.js';
import type { AccessControl } from './access-control.js';
import type { AuditDecision } from './audit.js';
import type { ApiIdentity, ProtectedResource, RouteAccess } from './types.js';

/** Routes under this path must declare `config.access`. */
export const FINANCE_ROUTE_PREFIX = '/api/v1/finance';
/** The audit log route. */
export const AUDIT_ROUTE = '/api/v1/audit';
/** `realm` of the WWW-Authenticate challenge. */
export const AUTH_REALM = 'wattproof';

export interface AuthPluginOptions {
  readonly access: AccessControl;
  /** Routes under this prefix must declare `config.access` (default FINANCE_ROUTE_PREFIX). */
  readonly financePrefix?: string;
}

/** A route the plugin guards, as registered. */
export interface GuardedRoute {
  readonly method: string;
  readonly url: string;
  readonly access: RouteAccess;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route declaring `config.access` registered after the auth plugin (tests enumerate them). */
    guardedRoutes: GuardedRoute[];
  }
}

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
  const prefix = opts.financePrefix ?? FINANCE_ROUTE_PREFIX;
  const states = new WeakMap<FastifyRequest, RequestState>();
  const guarded: GuardedRoute[] = [];
  fastify.decorate('guardedRoutes', guarded);
  fastify.decorateRequest('identity', undefined);

  fastify.addHook('onRoute', (route) => {
    const access = route.config?.access;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (access) {
      for (const method of methods) guarded.push({ method, url: route.url, access });
      return;
    }
    if (route.url === prefix || route.url.startsWith(`${prefix}/`)) {
      throw authError('AUTH_ROUTE_UNGUARDED', `${methods.join(',')} ${route.url} is a finance route without config.access`);
    }
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
    request.identity = r.identity;
    if (access.action !== 'read' && r.identity.role !== 'admin') {
      return refuse(reply, state, 'AUTH_FORBIDDEN', `a ${r.identity.role} key may only read; ${request.method} ${request.routeOptions.url} needs an admin key`);
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
      return refuse(reply, state, 'AUTH_FORBIDDEN', `a ${identity.role} key may not ${access.action} ${resource.kind === 'admin' ? 'registry administration' : resource.kind}`);
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
