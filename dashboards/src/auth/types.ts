/**
 * Who may read what: the identities behind API keys and the resources the routes protect.
 *
 * Every route declares `config: { access: RouteAccess }`, except the few open ones of
 * plugin.ts's OPEN_ROUTES (probes, API docs, the console's static shell); the auth plugin refuses
 * to register any other route. Per request it authenticates the API key, resolves the route's
 * resource and refuses with 401/403/404 unless the identity's role and grants cover it; every
 * allowed or refused read of finance data is written to the audit log. docs/access.md has the
 * endpoint × role matrix.
 */
import type { FastifyRequest } from 'fastify';
import type { BuildingScope } from './scope.js';

/** Roles of API users (DOMAIN.md: operators, banks, insurers and the verifiers they hire). */
export const API_ROLES = ['operator', 'lender', 'insurer', 'verifier', 'admin'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** What an identity has been granted. Admins need no grants. */
export type AccessGrant =
  | { readonly kind: 'building'; readonly site: string; readonly building: string }
  | { readonly kind: 'loan'; readonly id: string }
  | { readonly kind: 'policy'; readonly id: string }
  /** Everything of one party: a bank's loans, an insurer's policies, an owner's buildings. */
  | { readonly kind: 'party'; readonly id: string };

/** The caller of a request, from its API key. */
export interface ApiIdentity {
  readonly keyId: string;
  readonly role: ApiRole;
  /** The party (finance registry) the key acts for: the bank of a lender, the insurer of an insurer. */
  readonly party?: string;
  readonly grants: readonly AccessGrant[];
  /** The key stops working at this time (epoch ms). */
  readonly expiresAtMs?: number;
  /** What the key is for, as given when it was created (never the secret). */
  readonly label?: string;
}

/** A thing a route reads or writes, with what decides who may see it. */
export type ProtectedResource =
  | { readonly kind: 'building'; readonly site: string; readonly building: string }
  | { readonly kind: 'loan'; readonly id: string; readonly lender: string; readonly borrower: string; readonly buildings: readonly { site: string; building: string }[] }
  | { readonly kind: 'policy'; readonly id: string; readonly insurer: string; readonly insured: string; readonly buildings: readonly { site: string; building: string }[] }
  /** A portfolio view: every loan of one lender, or every policy of one insurer. */
  | { readonly kind: 'lender-portfolio'; readonly lender: string }
  | { readonly kind: 'insurer-portfolio'; readonly insurer: string }
  /** Pricing a prospective policy: insurers (and admins) only. */
  | { readonly kind: 'pricing' }
  /** Registry administration: admins only. */
  | { readonly kind: 'admin' }
  /** The audit log: every identity may ask; it sees the entries about its own party's things (audit.ts). */
  | { readonly kind: 'audit' }
  /**
   * A list over buildings (sites, meters, latest readings, alerts, coverage, the live stream):
   * every identity may ask; the route keeps only the buildings it may read (`request.buildingScope`).
   */
  | { readonly kind: 'buildings' }
  /** Operations data and actions of the whole deployment (metrics, ingest diagnostics of every site, alert evaluation, M&V runs): admins only. */
  | { readonly kind: 'ops' };

export type AccessAction = 'read' | 'write';

/**
 * Declared by a route in `config.access`. `resource` resolves what the request touches (it may
 * read the registry; throw a 404 WattproofError when the thing does not exist).
 */
export interface RouteAccess {
  readonly action: AccessAction;
  /** Finance data: every read is audited. */
  readonly finance: boolean;
  readonly resource: (request: FastifyRequest) => ProtectedResource | Promise<ProtectedResource>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** Set by the auth plugin on routes that declare `config.access`. */
    identity?: ApiIdentity;
    /** Set with `identity`: which buildings the identity may read (scope.ts); lists filter with it. */
    buildingScope?: BuildingScope;
  }
}
