/**
 * API keys: `wp_<keyId>_<secret>`, where `keyId` is 16 lower-case base32 characters (80 random
 * bits, public: it names the key in lists, logs and the audit log) and `secret` is 32 random bytes
 * as base64url (43 characters, 256 bits). Only a SHA-256 digest of the secret is stored.
 *
 * Why SHA-256 and not scrypt (as for generated device secrets, core/src/credentials.ts): a slow hash
 * protects *guessable* secrets (human passwords) against offline guessing; these secrets are 256
 * bits from the operating system's CSPRNG, so a guess succeeds with probability 2^-256 per try
 * however fast the hash — as with session tokens. A fast hash lets the API verify the secret on
 * every request in microseconds without keeping secrets (or "already verified" flags) in memory.
 * The digest is domain-separated and bound to the key id, so a digest copied onto another key's
 * record does not verify; it is compared in constant time.
 *
 * Keys live in the registry as append-only records (every adapter supports them):
 * `api.key` (key = keyId, body = {@link ApiKeyRecord}) and `api.key.revoked` (key = keyId, body =
 * {@link ApiKeyRevocation}). A key is never changed: a new scope is a new key.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ID_PATTERN, isFinanceDate } from '@wattproof/core';
import { API_ROLES, type AccessGrant, type ApiRole } from './types.js';
import { authError } from './errors.js';

/** Record kind of a created key. */
export const API_KEY_RECORD_KIND = 'api.key';
/** Record kind of a revocation. */
export const API_KEY_REVOKED_RECORD_KIND = 'api.key.revoked';
/** Prefix of every key, so secret scanners and people recognise one. */
export const API_KEY_PREFIX = 'wp_';
/** A whole key: `wp_`, 16 base32 characters, `_`, 43 base64url characters. */
export const API_KEY_PATTERN = /^wp_([a-z2-7]{16})_([A-Za-z0-9_-]{43})$/;
/** A key id alone. */
export const API_KEY_ID_PATTERN = /^[a-z2-7]{16}$/;
/** Longest label, characters. */
export const API_KEY_LABEL_MAX_LENGTH = 200;
/** Most grants on one key. */
export const API_KEY_MAX_GRANTS = 200;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const DIGEST_DOMAIN = 'wattproof-api-key-v1';

/** What is stored about a key (never its secret). */
export interface ApiKeyRecord {
  readonly keyId: string;
  readonly role: ApiRole;
  readonly party?: string;
  readonly grants: readonly AccessGrant[];
  /** Epoch ms. */
  readonly createdAtMs: number;
  /** Epoch ms; the key is refused from this time on. */
  readonly expiresAtMs?: number;
  readonly label: string;
  /** Who created it, e.g. `cli:alice` or `wattproof start`. */
  readonly createdBy: string;
  /** `sha256$<base64url digest>` of the secret, bound to the key id (see the module comment). */
  readonly secretHash: string;
}

export interface ApiKeyRevocation {
  readonly keyId: string;
  readonly revokedAtMs: number;
  readonly revokedBy: string;
  readonly reason?: string;
}

/** What a new key is to be; validated by {@link checkApiKeySpec}. */
export interface ApiKeySpec {
  readonly role: ApiRole;
  readonly party?: string;
  readonly grants?: readonly AccessGrant[];
  /** Epoch ms; default: now + API_AUTH_KEY_DEFAULT_TTL_DAYS. */
  readonly expiresAtMs?: number;
  readonly label: string;
  readonly createdBy: string;
}

function randomBase32(chars: number): string {
  const bytes = randomBytes(chars);
  let out = '';
  for (let i = 0; i < chars; i++) out += BASE32[bytes[i]! & 31];
  return out;
}

/** A fresh key id and secret, and the whole key as the caller is given it (once). */
export function generateApiKey(): { keyId: string; secret: string; key: string } {
  const keyId = randomBase32(16);
  const secret = randomBytes(32).toString('base64url');
  return { keyId, secret, key: `${API_KEY_PREFIX}${keyId}_${secret}` };
}

/** Splits a key into id and secret; undefined when it is not shaped like a key. */
export function parseApiKey(key: string): { keyId: string; secret: string } | undefined {
  const m = API_KEY_PATTERN.exec(key);
  return m ? { keyId: m[1]!, secret: m[2]! } : undefined;
}

/** The stored digest of a key's secret: SHA-256 over a domain tag, the key id and the secret. */
export function hashApiKeySecret(keyId: string, secret: string): string {
  const digest = createHash('sha256').update(`${DIGEST_DOMAIN}\0${keyId}\0${secret}`).digest('base64url');
  return `sha256$${digest}`;
}

/** True when `secret` is the secret of the key whose stored digest is `stored` (constant time). */
export function verifyApiKeySecret(keyId: string, secret: string, stored: string): boolean {
  const a = Buffer.from(hashApiKeySecret(keyId, secret));
  const b = Buffer.from(stored);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Parses a grant as written on the command line: `loan:<id>`, `policy:<id>`, `party:<id>` or
 * `building:<site>/<building>`. Undefined when malformed.
 */
export function parseGrant(text: string): AccessGrant | undefined {
  const i = text.indexOf(':');
  if (i < 0) return undefined;
  const kind = text.slice(0, i);
  const rest = text.slice(i + 1);
  if (kind === 'building') {
    const [site, building, ...more] = rest.split('/');
    if (more.length || !site || !building || !ID_PATTERN.test(site) || !ID_PATTERN.test(building)) return undefined;
    return { kind, site, building };
  }
  if ((kind === 'loan' || kind === 'policy' || kind === 'party') && ID_PATTERN.test(rest)) return { kind, id: rest };
  return undefined;
}

/** A grant as `parseGrant` reads it. */
export function formatGrant(g: AccessGrant): string {
  return g.kind === 'building' ? `building:${g.site}/${g.building}` : `${g.kind}:${g.id}`;
}

/**
 * Parses an expiry: `YYYY-MM-DD` means "valid through that local day in Asia/Shanghai" (it
 * expires at the next midnight, UTC+8, China has no daylight saving); anything else must be an ISO
 * 8601 time with a zone (`2027-12-31T18:00:00+08:00`, `...Z`). Undefined when unreadable.
 */
export function parseExpiry(text: string): number | undefined {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    if (!isFinanceDate(text)) return undefined;
    return Date.parse(`${text}T00:00:00+08:00`) + 86_400_000;
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

/** One problem with a key spec: the field and what is wrong. */
export interface KeySpecIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * Lists what is wrong with a key spec, given the time now (epoch ms). A non-admin key must be able
 * to read something: a party or at least one grant; admin keys take neither (they see everything).
 */
export function apiKeySpecIssues(spec: ApiKeySpec, nowMs: number): KeySpecIssue[] {
  const issues: KeySpecIssue[] = [];
  if (!(API_ROLES as readonly string[]).includes(spec.role)) issues.push({ path: 'role', message: `must be one of ${API_ROLES.join(', ')}` });
  if (spec.party !== undefined && !ID_PATTERN.test(spec.party)) issues.push({ path: 'party', message: 'must be a party id' });
  const grants = spec.grants ?? [];
  if (grants.length > API_KEY_MAX_GRANTS) issues.push({ path: 'grants', message: `at most ${API_KEY_MAX_GRANTS} grants` });
  grants.forEach((g, i) => {
    if (grantOf(g) === undefined) issues.push({ path: `grants[${i}]`, message: 'must be loan:<id>, policy:<id>, party:<id> or building:<site>/<building>' });
  });
  if (spec.role === 'admin' && (spec.party !== undefined || grants.length > 0)) issues.push({ path: 'grants', message: 'an admin key sees everything: give it no party and no grants' });
  if (spec.role !== 'admin' && spec.party === undefined && grants.length === 0) issues.push({ path: 'grants', message: `a ${spec.role} key needs a party or at least one grant, or it can read nothing` });
  if (spec.role === 'lender' && grants.some((g) => g.kind === 'policy')) issues.push({ path: 'grants', message: 'a lender never sees policies: remove the policy grants' });
  if (spec.role === 'insurer' && grants.some((g) => g.kind === 'loan')) issues.push({ path: 'grants', message: 'an insurer never sees loans: remove the loan grants' });
  if (spec.role === 'operator' && grants.some((g) => g.kind === 'loan' || g.kind === 'policy')) issues.push({ path: 'grants', message: 'an operator sees buildings only: grant building:<site>/<building> or party:<id>' });
  if (spec.expiresAtMs !== undefined && (!Number.isSafeInteger(spec.expiresAtMs) || spec.expiresAtMs <= nowMs)) issues.push({ path: 'expiresAtMs', message: 'must be in the future' });
  if (typeof spec.label !== 'string' || spec.label.trim() === '' || spec.label.length > API_KEY_LABEL_MAX_LENGTH) issues.push({ path: 'label', message: `must be 1..${API_KEY_LABEL_MAX_LENGTH} characters` });
  if (typeof spec.createdBy !== 'string' || spec.createdBy.trim() === '' || spec.createdBy.length > API_KEY_LABEL_MAX_LENGTH) issues.push({ path: 'createdBy', message: `must be 1..${API_KEY_LABEL_MAX_LENGTH} characters` });
  return issues;
}

/** @throws AUTH_KEY_SPEC_INVALID with `details.issues` when the spec has problems. */
export function checkApiKeySpec(spec: ApiKeySpec, nowMs: number): void {
  const issues = apiKeySpecIssues(spec, nowMs);
  if (issues.length) throw authError('AUTH_KEY_SPEC_INVALID', `invalid API key: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { details: { issues } });
}

/** A grant read back from JSON: every field a string of the right grammar, nothing else. */
function grantOf(g: unknown): AccessGrant | undefined {
  if (typeof g !== 'object' || g === null) return undefined;
  const o = g as Record<string, unknown>;
  if (o.kind === 'building') return typeof o.site === 'string' && typeof o.building === 'string' ? parseGrant(`building:${o.site}/${o.building}`) : undefined;
  return typeof o.kind === 'string' && typeof o.id === 'string' ? parseGrant(`${o.kind}:${o.id}`) : undefined;
}

/** Reads an `api.key` record body back; undefined when it is not one (a foreign or damaged record). */
export function toApiKeyRecord(body: unknown): ApiKeyRecord | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  if (typeof b.keyId !== 'string' || typeof b.secretHash !== 'string' || typeof b.role !== 'string' || !(API_ROLES as readonly string[]).includes(b.role)) return undefined;
  if (!Array.isArray(b.grants) || typeof b.createdAtMs !== 'number') return undefined;
  const grants: AccessGrant[] = [];
  for (const g of b.grants) {
    const parsed = grantOf(g);
    if (!parsed) return undefined;
    grants.push(parsed);
  }
  return {
    keyId: b.keyId,
    role: b.role as ApiRole,
    ...(typeof b.party === 'string' ? { party: b.party } : {}),
    grants,
    createdAtMs: b.createdAtMs,
    ...(typeof b.expiresAtMs === 'number' ? { expiresAtMs: b.expiresAtMs } : {}),
    label: typeof b.label === 'string' ? b.label : '',
    createdBy: typeof b.createdBy === 'string' ? b.createdBy : '',
    secretHash: b.secretHash,
  };
}

/** Reads an `api.key.revoked` record body back. */
export function toApiKeyRevocation(body: unknown): ApiKeyRevocation | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  if (typeof b.keyId !== 'string' || typeof b.revokedAtMs !== 'number') return undefined;
  return { keyId: b.keyId, revokedAtMs: b.revokedAtMs, revokedBy: typeof b.revokedBy === 'string' ? b.revokedBy : '', ...(typeof b.reason === 'string' ? { reason: b.reason } : {}) };
}
