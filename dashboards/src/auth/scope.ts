/**
 * The buildings one request may read: what list routes (sites, meters, latest readings, alerts,
 * coverage, the live stream) filter their answer with, so a key sees its own buildings and never
 * learns of the others. The auth plugin makes one per guarded request (`request.buildingScope`).
 *
 * Decisions are the access matrix's (policy.ts) on `{ kind: 'building' }` and are memoised for the
 * life of the scope: a list of a thousand meters asks once per building. A long-lived response
 * (the live stream) calls `revalidate()` now and then, which checks the key again and forgets the
 * memo, so a revoked key or a building that changed owner stops flowing.
 */
import { buildingKey, WattproofError, type BuildingRef } from '@wattproof/core';
import type { FastifyRequest } from 'fastify';

export interface BuildingScope {
  /** True for admin keys: every building, and site-wide things (site alerts, dead letters of every topic). */
  readonly all: boolean;
  /** May the identity read this building? */
  has(ref: BuildingRef): Promise<boolean>;
  /**
   * The items whose building the identity may read, in their order. An item without a building
   * (`refOf` gives undefined: something site-wide) is kept for admins only.
   */
  filter<T>(items: readonly T[], refOf: (item: T) => BuildingRef | undefined): Promise<T[]>;
  /** Checks the request's key again (false once it is revoked or expired) and forgets the memoised decisions. */
  revalidate(): Promise<boolean>;
}

export interface BuildingScopeDeps {
  readonly all: boolean;
  /** The access matrix for one building. */
  readonly mayRead: (ref: BuildingRef) => Promise<boolean>;
  /** Is the request's key still the valid key it was? */
  readonly recheck: () => Promise<boolean>;
}

/** A scope over the access matrix of one identity (the auth plugin makes one per guarded request). */
export function createBuildingScope(deps: BuildingScopeDeps): BuildingScope {
  let memo = new Map<string, Promise<boolean>>();
  const has = (ref: BuildingRef): Promise<boolean> => {
    if (deps.all) return Promise.resolve(true);
    const key = buildingKey(ref);
    let p = memo.get(key);
    if (!p) {
      p = deps.mayRead({ site: ref.site, building: ref.building });
      memo.set(key, p);
      // A failed look-up is not remembered: the next question asks again.
      p.catch(() => memo.delete(key));
    }
    return p;
  };
  return {
    all: deps.all,
    has,
    async filter(items, refOf) {
      if (deps.all) return [...items];
      const refs = items.map(refOf);
      const allowed = await Promise.all(refs.map((r) => (r ? has(r) : Promise.resolve(false))));
      return items.filter((_, i) => allowed[i]);
    },
    async revalidate() {
      memo = new Map();
      return deps.recheck();
    },
  };
}

/**
 * The scope the auth plugin put on a guarded request.
 * @throws API_INTERNAL (500) when the route declares no `config.access` (a programming error: it would list every building).
 */
export function buildingScopeOf(request: FastifyRequest): BuildingScope {
  const scope = request.buildingScope;
  if (!scope) throw new WattproofError('API_INTERNAL', `${request.method} ${request.routeOptions.url ?? request.url} lists buildings but declares no config.access`, { statusCode: 500 });
  return scope;
}
