/**
 * The finance audit log: one append-only registry record (kind `audit.finance`) per request to a
 * finance route — allowed or refused — with who asked (key id, role, party; never the key),
 * what about (the resource and the parties it concerns), the route, method, status, time,
 * request id and client address. The record key is the resource key (`loan/L1`,
 * `building/<site>/<building>`, ...; `unresolved` when the request was refused before its
 * resource was known), so one resource's history is one key query.
 *
 * Who sees an entry: admins all; any other key the entries about its own party (its party is one
 * of the entry's `stakeholders`: the bank sees reads of its loans, the owner reads of its
 * buildings' data and loans) and the entries of its own requests.
 */
import type { RecordQuery, RegistryStore, StoredRecord } from '@wattproof/core';
import type { AccessAction, ApiIdentity, ApiRole } from './types.js';

/** Record kind of audit entries. */
export const AUDIT_RECORD_KIND = 'audit.finance';
/** Record key of an entry refused before its resource was resolved (e.g. no key). */
export const AUDIT_UNRESOLVED_KEY = 'unresolved';
/** Longest URL kept in an entry, characters (the rest is cut). */
export const AUDIT_URL_MAX_LENGTH = 500;

/** What was decided about the request. */
export type AuditDecision = 'allowed' | 'refused' | 'none';

/** One audit entry as written (without its record id). */
export interface AuditEntryInput {
  /** Epoch ms when the answer was decided. */
  readonly atMs: number;
  readonly requestId: string;
  readonly method: string;
  /** The route pattern, e.g. `/api/v1/finance/loans/:id`. */
  readonly route: string;
  /** Path and query as requested (at most AUDIT_URL_MAX_LENGTH characters). */
  readonly url: string;
  /** HTTP status sent. */
  readonly status: number;
  /** `allowed` / `refused` by the access rules; `none` when the request failed before a decision (e.g. invalid parameters). */
  readonly decision: AuditDecision;
  /** Error code of a refusal or failure. */
  readonly code?: string;
  readonly action: AccessAction;
  /** Who asked: the key id is public; an unknown or malformed key leaves only what could be read of it. */
  readonly actor: { readonly keyId?: string; readonly role?: ApiRole; readonly party?: string };
  /** `loan/L1`, ...; undefined when not resolved. */
  readonly resource?: string;
  readonly resourceKind?: string;
  /** Parties the resource concerns; they may read this entry. */
  readonly stakeholders: readonly string[];
  readonly clientIp: string;
}

/** An entry as read back. */
export interface AuditEntry extends AuditEntryInput {
  /** Record id: entries sort by it (arrival); the cursor of the audit query. */
  readonly id: string;
}

export interface AuditQuery {
  /** At most this many entries (1..1000). */
  readonly limit: number;
  /** Only entries older than this id (the `next` of the previous page). */
  readonly before?: string;
  /** Only about this resource key (`loan/L1`), or those starting with it when it ends with `/` (`building/yuzhong/`). */
  readonly resource?: string;
  /** Only requests by this key id. */
  readonly keyId?: string;
}

export interface AuditPage {
  readonly entries: AuditEntry[];
  /** Pass as `before` to continue; absent when the log has no older records. */
  readonly next?: string;
  /** Records looked at for this page (some are not visible to the caller). */
  readonly scanned: number;
}

/** The body stored: the input without undefined fields (records carry JSON only). */
export function auditRecordBody(e: AuditEntryInput): Record<string, unknown> {
  const actor: Record<string, unknown> = {};
  if (e.actor.keyId !== undefined) actor.keyId = e.actor.keyId;
  if (e.actor.role !== undefined) actor.role = e.actor.role;
  if (e.actor.party !== undefined) actor.party = e.actor.party;
  return {
    atMs: e.atMs,
    requestId: e.requestId,
    method: e.method,
    route: e.route,
    url: e.url.slice(0, AUDIT_URL_MAX_LENGTH),
    status: e.status,
    decision: e.decision,
    ...(e.code !== undefined ? { code: e.code } : {}),
    action: e.action,
    actor,
    ...(e.resource !== undefined ? { resource: e.resource, resourceKind: e.resourceKind ?? e.resource.split('/')[0] } : {}),
    stakeholders: [...e.stakeholders],
    clientIp: e.clientIp,
  };
}

/** Reads a stored audit record back; undefined when the body is not an audit entry. */
export function toAuditEntry(r: StoredRecord): AuditEntry | undefined {
  const b = r.body as Record<string, unknown> | null;
  if (typeof b !== 'object' || b === null || typeof b.atMs !== 'number' || typeof b.status !== 'number') return undefined;
  const actor = (typeof b.actor === 'object' && b.actor !== null ? b.actor : {}) as AuditEntry['actor'];
  return {
    id: r.id,
    atMs: b.atMs,
    requestId: String(b.requestId ?? ''),
    method: String(b.method ?? ''),
    route: String(b.route ?? ''),
    url: String(b.url ?? ''),
    status: b.status,
    decision: (['allowed', 'refused', 'none'].includes(String(b.decision)) ? b.decision : 'none') as AuditDecision,
    ...(typeof b.code === 'string' ? { code: b.code } : {}),
    action: b.action === 'write' ? 'write' : 'read',
    actor,
    ...(typeof b.resource === 'string' ? { resource: b.resource, resourceKind: String(b.resourceKind ?? b.resource.split('/')[0]) } : {}),
    stakeholders: Array.isArray(b.stakeholders) ? b.stakeholders.filter((s): s is string => typeof s === 'string') : [],
    clientIp: String(b.clientIp ?? ''),
  };
}

/** May `identity` read this entry? */
export function canSeeAuditEntry(identity: ApiIdentity, e: AuditEntry): boolean {
  if (identity.role === 'admin') return true;
  if (e.actor.keyId === identity.keyId) return true;
  return identity.party !== undefined && e.stakeholders.includes(identity.party);
}

/**
 * The entry as `identity` may read it. A key that sees an entry only because it made the request
 * (it is not a party to the resource) does not learn what the request resolved to: a refused read
 * of another bank's loan must not reveal that the loan exists, nor its parties.
 */
export function auditEntryFor(identity: ApiIdentity, e: AuditEntry): AuditEntry {
  if (identity.role === 'admin' || (identity.party !== undefined && e.stakeholders.includes(identity.party))) return e;
  const { resource: _resource, resourceKind: _kind, ...rest } = e;
  return { ...rest, stakeholders: [] };
}

/** Largest page of records read from the registry at once. */
const SCAN_PAGE = 1000;

/**
 * One page of the audit entries `identity` may see, newest first. Admins read one registry page;
 * others scan at most `scanMax` records for up to `limit` visible entries, and get a cursor to go on.
 */
export async function queryAudit(registry: RegistryStore, identity: ApiIdentity, q: AuditQuery, scanMax: number): Promise<AuditPage> {
  const entries: AuditEntry[] = [];
  let before = q.before;
  let scanned = 0;
  const prefix = q.resource?.endsWith('/') ? q.resource : undefined;
  const exact = q.resource !== undefined && prefix === undefined ? q.resource : undefined;
  for (;;) {
    const want = identity.role === 'admin' && q.keyId === undefined ? q.limit - entries.length : Math.min(SCAN_PAGE, scanMax - scanned);
    if (want <= 0) return { entries, ...(before !== undefined ? { next: before } : {}), scanned };
    const query: RecordQuery = {
      kind: AUDIT_RECORD_KIND,
      limit: want,
      ...(before !== undefined ? { before } : {}),
      ...(exact !== undefined ? { key: exact } : {}),
      ...(prefix !== undefined ? { keyPrefix: prefix } : {}),
    };
    const page = await registry.listRecords(query);
    for (const r of page) {
      scanned++;
      before = r.id;
      const e = toAuditEntry(r);
      if (!e || !canSeeAuditEntry(identity, e) || (q.keyId !== undefined && e.actor.keyId !== q.keyId)) continue;
      // Filtering by resource would tell an outsider which ids resolved (exist): stakeholders only.
      if (q.resource !== undefined && auditEntryFor(identity, e) !== e) continue;
      entries.push(auditEntryFor(identity, e));
      if (entries.length >= q.limit) return { entries, next: r.id, scanned };
    }
    if (page.length < want) return { entries, scanned };
  }
}
