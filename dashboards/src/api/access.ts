/**
 * The access declarations of the operator-data routes (readings, portfolio, M&V, alerts,
 * reports, console data), each a `config.access` for the auth plugin (docs/access.md):
 *
 * - `buildingRead`: the route is about the building of its `:site/:building` path parameters —
 *   the access matrix's building row applies (a key that may not read it gets 404 AUTH_NOT_FOUND,
 *   the same answer as for a building that does not exist);
 * - `buildingListRead`: a list over buildings — every key may ask and gets only the buildings it
 *   may read (the handler filters with `request.buildingScope`); a query that names both `site`
 *   and `building` is a read of that building;
 * - `opsRead` / `opsWrite`: operations data and actions of the whole deployment, admins only;
 * - `buildingWrite`: a write about one building (admins only, like every write).
 *
 * None of them is audited: the finance audit log records finance reads; a console page makes
 * dozens of operator-data reads a minute (docs/access.md, "The audit log").
 */
import type { FastifyRequest } from 'fastify';
import type { ProtectedResource, RouteAccess } from '../auth/types.js';

function buildingOf(params: unknown): ProtectedResource {
  const p = params as { site: string; building: string };
  return { kind: 'building', site: p.site, building: p.building };
}

/** The building of the `:site/:building` path parameters. */
export const buildingRead: RouteAccess = Object.freeze({ action: 'read', finance: false, resource: (req: FastifyRequest) => buildingOf(req.params) });

/** A write about the building of the path (admins only). */
export const buildingWrite: RouteAccess = Object.freeze({ action: 'write', finance: false, resource: (req: FastifyRequest) => buildingOf(req.params) });

/** A list filtered to the readable buildings; `?site=&building=` together make it a read of that building. */
export const buildingListRead: RouteAccess = Object.freeze({
  action: 'read',
  finance: false,
  resource: (req: FastifyRequest): ProtectedResource => {
    const q = (req.query ?? {}) as { site?: string; building?: string };
    return q.site && q.building ? { kind: 'building', site: q.site, building: q.building } : { kind: 'buildings' };
  },
});

/** Operations data of the whole deployment (admins only). */
export const opsRead: RouteAccess = Object.freeze({ action: 'read', finance: false, resource: (): ProtectedResource => ({ kind: 'ops' }) });

/** An operations action on the whole deployment (admins only). */
export const opsWrite: RouteAccess = Object.freeze({ action: 'write', finance: false, resource: (): ProtectedResource => ({ kind: 'ops' }) });
