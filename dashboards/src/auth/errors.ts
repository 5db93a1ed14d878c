/** Error catalogue of API authentication, authorization and the audit log (rendered in docs/errors.md). */
import { createErrorFactory, type ErrorCatalogue } from '@wattproof/core';

export const AUTH_ERRORS = {
  AUTH_REQUIRED: {
    statusCode: 401,
    retriable: false,
    meaning: 'The route needs an API key and the request carried none.',
    fix: 'Send `Authorization: Bearer wp_<keyId>_<secret>` (or `X-Api-Key: wp_...`); an admin creates keys with `wattproof apikey add` (docs/access.md).',
  },
  AUTH_INVALID: {
    statusCode: 401,
    retriable: false,
    meaning: 'The API key is malformed, unknown, or its secret does not match.',
    fix: 'Check that the whole key `wp_<keyId>_<secret>` was copied; a lost key cannot be recovered: create a new one with `wattproof apikey add`.',
  },
  AUTH_EXPIRED: {
    statusCode: 401,
    retriable: false,
    meaning: 'The API key was valid but its expiry time has passed.',
    fix: 'Ask an admin for a new key (`wattproof apikey add ... --expires YYYY-MM-DD`); `wattproof apikey list` shows every key with its expiry.',
  },
  AUTH_REVOKED: {
    statusCode: 401,
    retriable: false,
    meaning: 'The API key was revoked by an admin.',
    fix: 'Ask an admin for a new key; revocation is final.',
  },
  AUTH_FORBIDDEN: {
    statusCode: 403,
    retriable: false,
    meaning: 'The key is valid but its role may not do this at all (e.g. a write without the admin role, pricing without the insurer role, metrics or the dead letters of every site without the admin role). A refusal on a finance route is written to the audit log.',
    fix: 'Use a key of a role that may (docs/access.md lists the matrix), or ask an admin.',
  },
  AUTH_NOT_FOUND: {
    statusCode: 404,
    retriable: false,
    meaning: 'Nothing visible to this key at that address: the loan, policy, building (its readings, M&V, reports, alerts) or portfolio does not exist, or it exists but the key was not granted it (the answer is the same, so a key cannot probe for other parties’ contracts or buildings). A refusal on a finance route is written to the audit log.',
    fix: 'Check the id; ask an admin for a grant (`wattproof apikey add --grant loan:<id>`) if the key should see it.',
  },
  AUTH_KEY_SPEC_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'A new API key was described wrongly: unknown role, malformed grant, an expiry in the past, or a non-admin key that could read nothing.',
    fix: 'Read `error.details.issues`; grants are `loan:<id>`, `policy:<id>`, `building:<site>/<building>` or `party:<id>`, expiry `YYYY-MM-DD` or an ISO 8601 time.',
  },
  AUTH_KEY_UNKNOWN: {
    statusCode: 404,
    retriable: false,
    meaning: 'No API key with that key id (revoking, or reading the local admin key).',
    fix: 'List the keys with `wattproof apikey list`; the key id is the part between `wp_` and the second `_`.',
  },
  AUTH_ROUTE_UNGUARDED: {
    statusCode: 500,
    retriable: false,
    meaning: 'A route was registered without `config.access` and is not one of the open routes (`/health`, `/ready`, `/api`, `/docs…`, the console page and bundle); the server refuses to start rather than serve it to anyone.',
    fix: 'Declare `config: { access: { action, finance, resource } }` on the route (dashboards/src/auth/types.ts; docs/access.md, "For route authors").',
  },
  AUTH_AUDIT_UNAVAILABLE: {
    statusCode: 503,
    retriable: true,
    meaning: 'The audit entry of a finance request could not be written, so the data was not sent (every finance read is audited or refused).',
    fix: 'Check GET /health: the registry (data directory or PostgreSQL) must accept writes; then retry.',
  },
} as const satisfies ErrorCatalogue;

export type AuthErrorCode = keyof typeof AUTH_ERRORS;

/** A WattproofError of this catalogue. */
export const authError = createErrorFactory(AUTH_ERRORS);
