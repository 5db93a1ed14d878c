/**
 * Access control of the HTTP API: API keys (created, listed, revoked, checked), the access matrix
 * and the finance audit log, over any RegistryStore (append-only records). No socket, no env.
 */
import { silentLogger, type FinanceStore, type Logger, type RegistryStore } from '@wattproof/core';
import { DEFAULT_KEY_CACHE_ENTRIES, DEFAULT_AUDIT_SCAN_MAX, DEFAULT_KEY_CACHE_MS, DEFAULT_KEY_TTL_DAYS, type AuthConfig } from './config.js';
import { authError } from './errors.js';
import {
  API_KEY_ID_PATTERN,
  API_KEY_RECORD_KIND,
  API_KEY_REVOKED_RECORD_KIND,
  checkApiKeySpec,
  generateApiKey,
  hashApiKeySecret,
  parseApiKey,
  toApiKeyRecord,
  toApiKeyRevocation,
  verifyApiKeySecret,
  type ApiKeyRecord,
  type ApiKeyRevocation,
  type ApiKeySpec,
} from './keys.js';
import { AUDIT_RECORD_KIND, AUDIT_UNRESOLVED_KEY, auditRecordBody, queryAudit, type AuditEntryInput, type AuditPage, type AuditQuery } from './audit.js';
import { isAllowed, stakeholders, type PolicyContext } from './policy.js';
import type { AccessAction, ApiIdentity, ProtectedResource } from './types.js';

/** The headers a request is authenticated from (a FastifyRequest fits). */
export interface AuthHeaders {
  readonly headers: Record<string, string | string[] | undefined>;
}

/** A key as listed: its record without the digest, and its revocation if any. */
export type ApiKeyInfo = Omit<ApiKeyRecord, 'secretHash'> & { readonly revokedAtMs?: number; readonly revokedBy?: string };

/** The outcome of checking a request's key without throwing. */
export type AuthResult =
  | { readonly ok: true; readonly identity: ApiIdentity }
  | { readonly ok: false; readonly code: 'AUTH_REQUIRED' | 'AUTH_INVALID' | 'AUTH_EXPIRED' | 'AUTH_REVOKED'; readonly message: string; readonly keyId?: string };

export interface AccessControlDeps {
  readonly registry: RegistryStore;
  /** Building ownership and loan/policy coverage for the matrix; default: the registry when it implements FinanceStore. */
  readonly finance?: FinanceStore;
  /** Epoch ms. Default Date.now. */
  readonly clock?: () => number;
  readonly logger?: Logger;
}

export interface AccessControl {
  readonly config: Readonly<AuthConfig>;
  /** The clock decisions and audit entries use, epoch ms. */
  readonly clock: () => number;
  /**
   * The identity behind the request's `Authorization: Bearer <key>` or `X-Api-Key: <key>`.
   * @throws AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_REVOKED (401); registry errors.
   */
  authenticate(request: AuthHeaders): Promise<ApiIdentity>;
  /** Like `authenticate`, as a result instead of a throw (the plugin audits refusals with the claimed key id). */
  check(request: AuthHeaders): Promise<AuthResult>;
  /** The identity of a whole key string (`wp_...`), or the reason it is refused. */
  checkKey(key: string): Promise<AuthResult>;
  /** The access matrix (policy.ts; docs/access.md). */
  authorize(identity: ApiIdentity, resource: ProtectedResource, action: AccessAction): Promise<boolean>;
  /** The parties a resource concerns (they may read its audit entries). */
  stakeholders(resource: ProtectedResource): Promise<string[]>;
  /** Appends one audit entry. @throws the registry's errors (the caller must not serve the data then). */
  audit(entry: AuditEntryInput): Promise<void>;
  /** A page of the audit entries `identity` may see. */
  listAudit(identity: ApiIdentity, query: AuditQuery): Promise<AuditPage>;
  /**
   * Creates a key; the returned `key` is the only time its secret exists outside the caller.
   * @throws AUTH_KEY_SPEC_INVALID with `details.issues`.
   */
  createKey(spec: ApiKeySpec): Promise<{ key: string; info: ApiKeyInfo }>;
  /**
   * Revokes a key: refused at once by this process, by others within API_AUTH_KEY_CACHE_MS.
   * Revoking a revoked key keeps the first revocation.
   * @throws AUTH_KEY_UNKNOWN.
   */
  revokeKey(keyId: string, by: string, reason?: string): Promise<ApiKeyRevocation>;
  /** Every key, newest first, without digests. */
  listKeys(): Promise<ApiKeyInfo[]>;
  getKey(keyId: string): Promise<ApiKeyInfo | undefined>;
}

const DEFAULT_CONFIG: AuthConfig = {
  API_AUTH_KEY_CACHE_MS: DEFAULT_KEY_CACHE_MS,
  API_AUTH_KEY_DEFAULT_TTL_DAYS: DEFAULT_KEY_TTL_DAYS,
  API_AUTH_AUDIT_SCAN_MAX: DEFAULT_AUDIT_SCAN_MAX,
  API_AUTH_ADMIN_KEY_FILE: undefined,
};

const DAY_MS = 86_400_000;

/** The registry as a FinanceStore when its adapter implements one (all of gateway/registry's do). */
export function financeStoreOf(registry: RegistryStore): FinanceStore | undefined {
  const r = registry as Partial<FinanceStore>;
  return typeof r.getLoan === 'function' && typeof r.listLoans === 'function' && typeof r.getBuildingProfile === 'function' ? (registry as unknown as FinanceStore) : undefined;
}

/** The key a request carries, or why the headers cannot carry one. */
function keyFromHeaders(headers: AuthHeaders['headers']): { key?: string; malformed?: string } {
  // Repeated headers arrive joined or as arrays; either way they no longer parse as one key.
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(', ') : v);
  const auth = one(headers.authorization);
  const apiKey = one(headers['x-api-key']);
  let bearer: string | undefined;
  if (auth !== undefined) {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(auth);
    if (!m) return { malformed: 'the Authorization header must be `Bearer <key>`' };
    bearer = m[1];
  }
  const key = apiKey?.trim();
  if (bearer !== undefined && key !== undefined && bearer !== key) return { malformed: 'Authorization and X-Api-Key carry different keys' };
  return { ...((bearer ?? key) ? { key: (bearer ?? key)! } : {}) };
}

interface CacheEntry {
  readonly record?: ApiKeyRecord;
  readonly revocation?: ApiKeyRevocation;
  readonly fetchedAtMs: number;
}

/**
 * Creates the access control of one API process.
 *
 * Key lookups are cached per key id (found or not) for `API_AUTH_KEY_CACHE_MS` and at most
 * DEFAULT_KEY_CACHE_ENTRIES ids; the secret is verified against the digest on every request and
 * expiry is checked against the clock on every request, so only a revocation (or a new key) made
 * by *another* process waits for the cache: at most API_AUTH_KEY_CACHE_MS.
 */
export function createAccessControl(deps: AccessControlDeps, config: Partial<AuthConfig> = {}): AccessControl {
  const cfg: Readonly<AuthConfig> = Object.freeze({ ...DEFAULT_CONFIG, ...config });
  const clock = deps.clock ?? Date.now;
  const logger = deps.logger ?? silentLogger;
  const registry = deps.registry;
  const finance = deps.finance ?? financeStoreOf(registry);
  const cache = new Map<string, CacheEntry>();
  const ctx = (): PolicyContext => ({ nowMs: clock(), ...(finance ? { finance } : {}) });

  async function fetchKey(keyId: string): Promise<CacheEntry> {
    const now = clock();
    const hit = cache.get(keyId);
    if (hit && cfg.API_AUTH_KEY_CACHE_MS > 0 && now - hit.fetchedAtMs < cfg.API_AUTH_KEY_CACHE_MS) return hit;
    const [created, revoked] = await Promise.all([
      registry.listRecords({ kind: API_KEY_RECORD_KIND, key: keyId, limit: 2 }),
      registry.listRecords({ kind: API_KEY_REVOKED_RECORD_KIND, key: keyId, limit: 1000 }),
    ]);
    // A key is written once; a second record under its id is not ours to trust (ids are 80 random bits).
    if (created.length > 1) logger.error({ keyId }, 'two api.key records with one key id; the key is refused');
    const record = created.length === 1 ? toApiKeyRecord(created[0]!.body) : undefined;
    // The first revocation counts (records are newest first).
    const last = revoked.length ? revoked[revoked.length - 1] : undefined;
    const revocation = last ? toApiKeyRevocation(last.body) : undefined;
    const entry: CacheEntry = { ...(record ? { record } : {}), ...(revocation ? { revocation } : {}), fetchedAtMs: now };
    if (cfg.API_AUTH_KEY_CACHE_MS > 0) {
      cache.delete(keyId);
      if (cache.size >= DEFAULT_KEY_CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
      cache.set(keyId, entry);
    }
    return entry;
  }

  function identityOf(r: ApiKeyRecord): ApiIdentity {
    return {
      keyId: r.keyId,
      role: r.role,
      ...(r.party !== undefined ? { party: r.party } : {}),
      grants: r.grants,
      ...(r.expiresAtMs !== undefined ? { expiresAtMs: r.expiresAtMs } : {}),
      ...(r.label ? { label: r.label } : {}),
    };
  }

  async function checkKey(key: string): Promise<AuthResult> {
    const parsed = parseApiKey(key);
    if (!parsed) {
      const claimed = /^wp_([a-z2-7]{16})_/.exec(key)?.[1];
      return { ok: false, code: 'AUTH_INVALID', message: 'not an API key: expected wp_<keyId>_<secret>', ...(claimed ? { keyId: claimed } : {}) };
    }
    const { record, revocation } = await fetchKey(parsed.keyId);
    // The same answer for an unknown id and a wrong secret: a caller cannot tell which ids exist.
    if (!record || !verifyApiKeySecret(parsed.keyId, parsed.secret, record.secretHash)) {
      return { ok: false, code: 'AUTH_INVALID', message: 'unknown API key', keyId: parsed.keyId };
    }
    if (revocation) return { ok: false, code: 'AUTH_REVOKED', message: `API key ${parsed.keyId} was revoked on ${new Date(revocation.revokedAtMs).toISOString()}`, keyId: parsed.keyId };
    if (record.expiresAtMs !== undefined && clock() >= record.expiresAtMs) {
      return { ok: false, code: 'AUTH_EXPIRED', message: `API key ${parsed.keyId} expired on ${new Date(record.expiresAtMs).toISOString()}`, keyId: parsed.keyId };
    }
    return { ok: true, identity: identityOf(record) };
  }

  async function check(request: AuthHeaders): Promise<AuthResult> {
    const { key, malformed } = keyFromHeaders(request.headers);
    if (malformed) return { ok: false, code: 'AUTH_INVALID', message: malformed };
    if (key === undefined) return { ok: false, code: 'AUTH_REQUIRED', message: 'this route needs an API key: send `Authorization: Bearer <key>` or `X-Api-Key: <key>`' };
    return checkKey(key);
  }

  function info(r: ApiKeyRecord, rev?: ApiKeyRevocation): ApiKeyInfo {
    const { secretHash: _omit, ...rest } = r;
    return { ...rest, ...(rev ? { revokedAtMs: rev.revokedAtMs, revokedBy: rev.revokedBy } : {}) };
  }

  async function allRecords(kind: string) {
    const out = [];
    let before: string | undefined;
    for (;;) {
      const page = await registry.listRecords({ kind, limit: 1000, ...(before ? { before } : {}) });
      out.push(...page);
      if (page.length < 1000) return out;
      before = page[page.length - 1]!.id;
    }
  }

  return {
    config: cfg,
    clock,
    check,
    checkKey,
    async authenticate(request) {
      const r = await check(request);
      if (r.ok) return r.identity;
      throw authError(r.code, r.message);
    },
    authorize: (identity, resource, action) => isAllowed(identity, resource, action, ctx()),
    stakeholders: (resource) => stakeholders(resource, ctx()),
    async audit(entry) {
      await registry.appendRecords([{ kind: AUDIT_RECORD_KIND, key: entry.resource ?? AUDIT_UNRESOLVED_KEY, recordedAtMs: entry.atMs, body: auditRecordBody(entry) }]);
    },
    listAudit: (identity, query) => queryAudit(registry, identity, query, cfg.API_AUTH_AUDIT_SCAN_MAX),
    async createKey(spec) {
      const now = clock();
      checkApiKeySpec(spec, now);
      const { keyId, secret, key } = generateApiKey();
      const record: ApiKeyRecord = {
        keyId,
        role: spec.role,
        ...(spec.party !== undefined ? { party: spec.party } : {}),
        grants: [...(spec.grants ?? [])],
        createdAtMs: now,
        expiresAtMs: spec.expiresAtMs ?? now + cfg.API_AUTH_KEY_DEFAULT_TTL_DAYS * DAY_MS,
        label: spec.label.trim(),
        createdBy: spec.createdBy.trim(),
        secretHash: hashApiKeySecret(keyId, secret),
      };
      await registry.appendRecords([{ kind: API_KEY_RECORD_KIND, key: keyId, recordedAtMs: now, body: record }]);
      cache.delete(keyId);
      logger.info({ keyId, role: record.role, party: record.party }, 'API key created');
      return { key, info: info(record) };
    },
    async revokeKey(keyId, by, reason) {
      cache.delete(keyId);
      const entry = API_KEY_ID_PATTERN.test(keyId) ? await fetchKey(keyId) : undefined;
      if (!entry?.record) throw authError('AUTH_KEY_UNKNOWN', `no API key ${keyId}`);
      if (entry.revocation) return entry.revocation;
      const revocation: ApiKeyRevocation = { keyId, revokedAtMs: clock(), revokedBy: by, ...(reason ? { reason } : {}) };
      await registry.appendRecords([{ kind: API_KEY_REVOKED_RECORD_KIND, key: keyId, recordedAtMs: revocation.revokedAtMs, body: revocation }]);
      cache.delete(keyId);
      logger.info({ keyId }, 'API key revoked');
      return revocation;
    },
    async listKeys() {
      const [keys, revocations] = await Promise.all([allRecords(API_KEY_RECORD_KIND), allRecords(API_KEY_REVOKED_RECORD_KIND)]);
      const revoked = new Map<string, ApiKeyRevocation>();
      // Newest first: the last one seen per key is its first revocation.
      for (const r of revocations) {
        const rev = toApiKeyRevocation(r.body);
        if (rev) revoked.set(rev.keyId, rev);
      }
      return keys.flatMap((r) => {
        const rec = toApiKeyRecord(r.body);
        return rec ? [info(rec, revoked.get(rec.keyId))] : [];
      });
    },
    async getKey(keyId) {
      if (!API_KEY_ID_PATTERN.test(keyId)) return undefined;
      const entry = await fetchKey(keyId);
      return entry.record ? info(entry.record, entry.revocation) : undefined;
    },
  };
}
