/**
 * `GET /api/v1/auth/whoami`: the identity behind the request's API key — key id, role, party,
 * grants, expiry and label, never the secret — so the console can show who is signed in and which
 * finance views apply. Declared with `config.access` on the `audit` resource, which every valid
 * key may read (docs/access.md): the auth plugin authenticates the key (401 without or with a bad
 * one) and sets `request.identity`. Not finance data, so not audited.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody } from '../api/schemas.js';
import type { AccessGrant, ApiIdentity, RouteAccess } from '../auth/types.js';

export const WHOAMI_ROUTE = '/api/v1/auth/whoami';

const grantOut = z.union([
  z.object({ kind: z.literal('building'), site: z.string(), building: z.string() }),
  z.object({ kind: z.enum(['loan', 'policy', 'party']), id: z.string() }),
]);

export const whoamiOut = z
  .object({
    keyId: z.string().describe('Public id of the key (never the secret)'),
    role: z.enum(['operator', 'lender', 'insurer', 'verifier', 'admin']),
    party: z.string().nullable().describe('The finance-registry party the key acts for'),
    grants: z.array(grantOut),
    expiresAt: z.string().nullable().describe('ISO 8601 UTC; the key stops working then'),
    label: z.string().nullable(),
  })
  .meta({ example: { keyId: 'k3v9x0c2m4n6b8q1', role: 'lender', party: 'cq-green-bank', grants: [], expiresAt: '2027-11-30T15:59:59.999Z', label: 'Covenant desk' } });

function grantView(g: AccessGrant) {
  return g.kind === 'building' ? { kind: g.kind, site: g.site, building: g.building } : { kind: g.kind, id: g.id };
}

export function whoamiView(identity: ApiIdentity): z.infer<typeof whoamiOut> {
  return {
    keyId: identity.keyId,
    role: identity.role,
    party: identity.party ?? null,
    grants: identity.grants.map(grantView),
    expiresAt: identity.expiresAtMs === undefined ? null : new Date(identity.expiresAtMs).toISOString(),
    label: identity.label ?? null,
  };
}

/** Every valid key may ask who it is. */
const access: RouteAccess = { action: 'read', finance: false, resource: () => ({ kind: 'audit' }) };

export async function whoamiRoute(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get(
    WHOAMI_ROUTE,
    {
      config: { access },
      schema: {
        tags: ['audit'],
        summary: 'Who the API key of this request is: key id, role, party, grants, expiry (never the secret)',
        description: 'Any valid key (Authorization: Bearer wp_<id>_<secret> or X-Api-Key); 401 without one. The web console uses it to show who is signed in.',
        response: { 200: whoamiOut, 401: errorBody, 503: errorBody },
      },
    },
    async (req, reply) => {
      // The auth plugin sets the identity on every route that declares `config.access`.
      if (!req.identity) return reply.code(401).send({ error: { code: 'AUTH_REQUIRED', message: 'an API key is required' } });
      return whoamiView(req.identity);
    },
  );
}
