/** Config of API keys and the audit log; keys are environment variable names, units in the names. */
import { z } from 'zod';
import { envInt, envOptionalString } from '@wattproof/core';

/** How long a key's registry records are cached (ms): a revocation by another process takes effect within this time. */
export const DEFAULT_KEY_CACHE_MS = 5_000;
/** Lifetime of a key created without an explicit expiry, days. */
export const DEFAULT_KEY_TTL_DAYS = 365;
/** Audit records one `GET /api/v1/audit` page may scan for a non-admin (who sees only some of them). */
export const DEFAULT_AUDIT_SCAN_MAX = 5_000;
/** Keys whose records are held in the cache at most (known and unknown key ids). */
export const DEFAULT_KEY_CACHE_ENTRIES = 10_000;
/** File name of the local admin key `wattproof start` keeps in the data directory. */
export const LOCAL_ADMIN_KEY_FILE = 'api-admin.key';

export const authConfigSchema = z.object({
  API_AUTH_KEY_CACHE_MS: envInt(DEFAULT_KEY_CACHE_MS, 0, 300_000).describe(
    'How long the API caches an API key looked up in the registry, ms; a key revoked from another process (`wattproof apikey revoke`) stops working within this time (at once in the process that revokes it). 0 = look up every request',
  ),
  API_AUTH_KEY_DEFAULT_TTL_DAYS: envInt(DEFAULT_KEY_TTL_DAYS, 1, 3650).describe('Lifetime of an API key created without `--expires`, days (every key expires)'),
  API_AUTH_AUDIT_SCAN_MAX: envInt(DEFAULT_AUDIT_SCAN_MAX, 100, 1_000_000).describe(
    'Audit records one GET /api/v1/audit page scans at most for a non-admin key (it sees only the entries about its own party); the answer carries a cursor to continue',
  ),
  API_AUTH_ADMIN_KEY_FILE: envOptionalString().describe(
    `Where \`wattproof start\` keeps the local admin API key (created on first start, mode 0600, reused while valid); default \`<WATTPROOF_DATA_DIR>/${LOCAL_ADMIN_KEY_FILE}\``,
  ),
});

export type AuthConfig = z.output<typeof authConfigSchema>;
