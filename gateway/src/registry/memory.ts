/**
 * In-process registry store, for unit tests and `REGISTRY_STORE=memory`. Nothing survives the
 * process. It also holds the reference semantics the other adapters share: list order, defaults
 * of auto-created sites and buildings, dead-letter query limits, register-event identity.
 */
import {
  RECORD_BODY_MAX_DEPTH,
  RECORD_KEY_MAX_LENGTH,
  RECORD_KIND_PATTERN,
  type Building,
  type DeadLetter,
  type DeadLetterQuery,
  type FinanceStore,
  type Meter,
  type MeterRef,
  type NewDeadLetter,
  type NewRecord,
  type Principal,
  type RecordQuery,
  type RegisterEvent,
  type RegistryStore,
  type Site,
  type StoredRecord,
} from '@wattproof/core';
import { registryError } from './errors.js';
import { createFinanceState, createStateFinanceStore } from './finance.js';

/** Time zone of a site that `upsertMeter` (or `upsertBuilding`) creates because it did not exist. */
export const DEFAULT_SITE_TIMEZONE = 'Asia/Shanghai';
/** Dead letters returned by `listDeadLetters` when the query has no `limit`. */
export const DEFAULT_DEAD_LETTER_LIMIT = 100;
/** Largest `limit` honoured by `listDeadLetters`; larger values are clamped. */
export const MAX_DEAD_LETTER_LIMIT = 1000;
/** Register events returned by `listRegisterEvents` when the filter has no `limit`. */
export const DEFAULT_REGISTER_EVENT_LIMIT = 100;
/** Largest `limit` honoured by `listRegisterEvents`; larger values are clamped. */
export const MAX_REGISTER_EVENT_LIMIT = 1000;

/** Records returned by `listRecords` when the query has no `limit`. */
export const DEFAULT_RECORD_LIMIT = 100;
/** Largest `limit` honoured by `listRecords`; larger values are clamped. */
export const MAX_RECORD_LIMIT = 1000;

/**
 * Clamps a caller's limit to [1, max]; `undefined` or a non-finite value gives the default.
 * @internal shared by the adapters.
 */
export function clampLimit(limit: number | undefined, defaultLimit: number, max: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return defaultLimit;
  return Math.min(max, Math.max(1, Math.floor(limit)));
}

/** Drops keys whose value is `undefined` so results compare equal across adapters. @internal */
export function compact<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** JSON round-trip: every adapter stores `details` as JSON, so the memory one does too. @internal */
export function jsonClone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** The stored shape of each entity: only its own fields, undefined ones dropped. @internal */
export const normalise = {
  site: (s: Site): Site => compact({ id: s.id, name: s.name, timezone: s.timezone, latitude: s.latitude, longitude: s.longitude }),
  building: (b: Building): Building => compact({ site: b.site, id: b.id, name: b.name, type: b.type, floorAreaM2: b.floorAreaM2 }),
  meter: (m: Meter): Meter =>
    compact({ site: m.site, building: m.building, meter: m.meter, name: m.name, quantity: m.quantity, endUse: m.endUse, parent: m.parent }),
  principal: (p: Principal): Principal =>
    compact({
      username: p.username,
      role: p.role,
      meter: p.meter ? { site: p.meter.site, building: p.meter.building, meter: p.meter.meter } : undefined,
      site: p.site,
      secretHash: p.secretHash,
      createdAtMs: p.createdAtMs,
      disabledAtMs: p.disabledAtMs,
    }),
  registerEvent: (e: RegisterEvent): RegisterEvent =>
    compact({
      site: e.site,
      building: e.building,
      meter: e.meter,
      quantity: e.quantity,
      ts: e.ts,
      type: e.type,
      previousValue: e.previousValue,
      value: e.value,
      detectedAtMs: e.detectedAtMs,
      note: e.note,
    }),
  deadLetter: (id: string, d: NewDeadLetter): DeadLetter =>
    compact({
      id,
      receivedAtMs: d.receivedAtMs,
      source: d.source,
      topic: d.topic,
      clientId: d.clientId,
      username: d.username,
      code: d.code,
      reason: d.reason,
      details: jsonClone(d.details),
      payload: d.payload,
      payloadEncoding: d.payloadEncoding,
      payloadBytes: d.payloadBytes,
      truncated: d.truncated,
    }),
  /** A checked new record with its id; the body as JSON gives it back (-0 as 0, undefined properties dropped). */
  record: (id: string, r: NewRecord): StoredRecord => ({ id, kind: r.kind, key: r.key, recordedAtMs: r.recordedAtMs, body: jsonClone(r.body) }),
};

/** True when a dead letter passes the query's filters (not `before`/`limit`). @internal */
export function deadLetterMatches(d: Pick<DeadLetter, 'code' | 'source' | 'topic'>, q: Omit<DeadLetterQuery, 'limit' | 'before'>): boolean {
  if (q.code !== undefined && d.code !== q.code) return false;
  if (q.source !== undefined && d.source !== q.source) return false;
  if (q.topicPrefix !== undefined && !d.topic.startsWith(q.topicPrefix)) return false;
  return true;
}

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text every adapter can hold: PostgreSQL text and jsonb refuse U+0000 and unpaired surrogates. */
function storableText(s: string): boolean {
  return !s.includes('\u0000') && !UNPAIRED_SURROGATE.test(s);
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'object') return (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'object';
  return typeof v;
}

/**
 * Why `value` is not a JSON value that round-trips through every adapter, or undefined when it is.
 * Object properties whose value is `undefined` are allowed (JSON drops them).
 */
function jsonBodyProblem(value: unknown, path: string, depth: number, ancestors: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
      return storableText(value) ? undefined : `${path}: string with U+0000 or an unpaired surrogate`;
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path}: ${value} is not a JSON number`;
    case 'object':
      break;
    default:
      return `${path}: ${typeof value} is not JSON`;
  }
  if (value === null) return undefined;
  if (depth > RECORD_BODY_MAX_DEPTH) return `${path}: nested deeper than ${RECORD_BODY_MAX_DEPTH}`;
  if (ancestors.has(value)) return `${path}: cycle`;
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (item === undefined) return `${path}[${i}]: undefined (or a hole) in an array is not JSON`;
        const problem = jsonBodyProblem(item, `${path}[${i}]`, depth + 1, ancestors);
        if (problem) return problem;
      }
      return undefined;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return `${path}: ${describeValue(value)} is not a plain object`;
    for (const [k, v] of Object.entries(value)) {
      const at = `${path}.${k}`;
      if (!storableText(k)) return `${path}: property name with U+0000 or an unpaired surrogate`;
      if (v === undefined) continue;
      const problem = jsonBodyProblem(v, at, depth + 1, ancestors);
      if (problem) return problem;
    }
    return undefined;
  } finally {
    ancestors.delete(value);
  }
}

function invalidRecord(message: string, details: Record<string, unknown>): Error {
  return registryError('REGISTRY_INPUT_INVALID', message, { details });
}

/** Throws REGISTRY_INPUT_INVALID unless `kind` matches RECORD_KIND_PATTERN. @internal */
export function checkRecordKind(kind: unknown, where: string): void {
  if (typeof kind !== 'string' || !RECORD_KIND_PATTERN.test(kind)) {
    throw invalidRecord(`${where}: record kind ${JSON.stringify(kind)} does not match ${RECORD_KIND_PATTERN}`, { kind: String(kind) });
  }
}

/** Throws REGISTRY_INPUT_INVALID unless `key` is a valid record key. @internal */
export function checkRecordKey(key: unknown, where: string): void {
  if (typeof key !== 'string' || key.length < 1 || key.length > RECORD_KEY_MAX_LENGTH || !storableText(key)) {
    throw invalidRecord(`${where}: record key must be 1..${RECORD_KEY_MAX_LENGTH} characters without U+0000 or unpaired surrogates`, {
      key: typeof key === 'string' ? key.slice(0, RECORD_KEY_MAX_LENGTH + 10) : String(key),
    });
  }
}

/**
 * Validates a whole batch before anything is stored, so a batch is appended all or none.
 * @throws REGISTRY_INPUT_INVALID naming the first bad record (`details.index`). @internal
 */
export function checkNewRecords(records: readonly NewRecord[]): void {
  records.forEach((r, index) => {
    const where = `record ${index}`;
    if (typeof r !== 'object' || r === null) throw invalidRecord(`${where}: not an object`, { index });
    checkRecordKind(r.kind, where);
    checkRecordKey(r.key, where);
    if (!Number.isSafeInteger(r.recordedAtMs)) {
      throw invalidRecord(`${where}: recordedAtMs must be an integer number of epoch ms`, { index, recordedAtMs: String(r.recordedAtMs) });
    }
    if (r.body === undefined) throw invalidRecord(`${where}: body is undefined (use null for no body)`, { index });
    const problem = jsonBodyProblem(r.body, 'body', 1, new Set());
    if (problem) throw invalidRecord(`${where}: ${problem}`, { index, problem });
  });
}

/** Validates a record query (kind, key, keyPrefix, before). @throws REGISTRY_INPUT_INVALID @internal */
export function checkRecordQuery(q: RecordQuery): void {
  if (typeof q !== 'object' || q === null) throw invalidRecord('record query: not an object', {});
  checkRecordKind(q.kind, 'record query');
  if (q.key !== undefined) checkRecordKey(q.key, 'record query');
  if (q.keyPrefix !== undefined && (typeof q.keyPrefix !== 'string' || q.keyPrefix.length > RECORD_KEY_MAX_LENGTH || !storableText(q.keyPrefix))) {
    throw invalidRecord(`record query: keyPrefix must be at most ${RECORD_KEY_MAX_LENGTH} characters without U+0000 or unpaired surrogates`, {});
  }
  if (q.before !== undefined && typeof q.before !== 'string') throw invalidRecord('record query: before must be a record id', {});
}

/** True when a record passes the query's kind/key/keyPrefix (not `before`/`limit`). @internal */
export function recordMatches(r: Pick<StoredRecord, 'kind' | 'key'>, q: RecordQuery): boolean {
  return r.kind === q.kind && (q.key === undefined || r.key === q.key) && (q.keyPrefix === undefined || r.key.startsWith(q.keyPrefix));
}

/** The identity of a register event: adding the same one again replaces it (replays after a restart re-detect events). @internal */
export function registerEventKey(e: RegisterEvent): string {
  return [e.site, e.building, e.meter, e.quantity, String(e.ts), e.type].join('\u0000');
}

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const buildingKey = (site: string, id: string) => `${site}/${id}`;
const meterKeyOf = (m: MeterRef) => `${m.site}/${m.building}/${m.meter}`;

/**
 * The synchronous in-memory model of sites, buildings, meters, principals and register events.
 * The memory adapter is this plus dead letters; the JSON-lines adapter replays its log into it.
 * @internal
 */
export interface RegistryState {
  putSite(site: Site): void;
  /** Creates the site with defaults unless it exists. */
  ensureSite(id: string): void;
  putBuilding(building: Building): void;
  ensureBuilding(site: string, id: string): void;
  putMeter(meter: Meter): void;
  hasSite(id: string): boolean;
  hasBuilding(site: string, id: string): boolean;
  listSites(): Site[];
  listBuildings(site?: string): Building[];
  listMeters(filter?: { site?: string; building?: string }): Meter[];
  getMeter(ref: MeterRef): Meter | undefined;
  putPrincipal(principal: Principal): void;
  getPrincipal(username: string): Principal | undefined;
  listPrincipals(): Principal[];
  /** Keeps the first disable time when already disabled; false when unknown. */
  disablePrincipal(username: string, atMs: number): boolean;
  putRegisterEvent(event: RegisterEvent): void;
  listRegisterEvents(filter?: Partial<MeterRef> & { limit?: number }): RegisterEvent[];
  clear(): void;
}

/** @internal */
export function createRegistryState(): RegistryState {
  const sites = new Map<string, Site>();
  const buildings = new Map<string, Building>();
  const meters = new Map<string, Meter>();
  const principals = new Map<string, Principal>();
  // Insertion sequence breaks ties between events of the same ts (newest first).
  const events = new Map<string, { seq: number; event: RegisterEvent }>();
  let seq = 0;

  const state: RegistryState = {
    putSite: (site) => void sites.set(site.id, normalise.site(site)),
    ensureSite(id) {
      if (!sites.has(id)) sites.set(id, { id, timezone: DEFAULT_SITE_TIMEZONE });
    },
    putBuilding(building) {
      state.ensureSite(building.site);
      buildings.set(buildingKey(building.site, building.id), normalise.building(building));
    },
    ensureBuilding(site, id) {
      state.ensureSite(site);
      if (!buildings.has(buildingKey(site, id))) buildings.set(buildingKey(site, id), { site, id });
    },
    putMeter(meter) {
      state.ensureBuilding(meter.site, meter.building);
      meters.set(meterKeyOf(meter), normalise.meter(meter));
    },
    hasSite: (id) => sites.has(id),
    hasBuilding: (site, id) => buildings.has(buildingKey(site, id)),
    listSites: () => [...sites.values()].sort((a, b) => byKey(a.id, b.id)).map((s) => ({ ...s })),
    listBuildings: (site) =>
      [...buildings.values()]
        .filter((b) => site === undefined || b.site === site)
        .sort((a, b) => byKey(a.site, b.site) || byKey(a.id, b.id))
        .map((b) => ({ ...b })),
    listMeters: (filter = {}) =>
      [...meters.values()]
        .filter((m) => (filter.site === undefined || m.site === filter.site) && (filter.building === undefined || m.building === filter.building))
        .sort((a, b) => byKey(a.site, b.site) || byKey(a.building, b.building) || byKey(a.meter, b.meter))
        .map((m) => ({ ...m })),
    getMeter(ref) {
      const m = meters.get(meterKeyOf(ref));
      return m ? { ...m } : undefined;
    },
    putPrincipal: (p) => void principals.set(p.username, normalise.principal(p)),
    getPrincipal(username) {
      const p = principals.get(username);
      return p ? normalise.principal(p) : undefined;
    },
    listPrincipals: () => [...principals.values()].sort((a, b) => byKey(a.username, b.username)).map(normalise.principal),
    disablePrincipal(username, atMs) {
      const p = principals.get(username);
      if (!p) return false;
      if (p.disabledAtMs === undefined) principals.set(username, { ...p, disabledAtMs: atMs });
      return true;
    },
    putRegisterEvent(event) {
      events.set(registerEventKey(event), { seq: ++seq, event: normalise.registerEvent(event) });
    },
    listRegisterEvents(filter = {}) {
      const limit = clampLimit(filter.limit, DEFAULT_REGISTER_EVENT_LIMIT, MAX_REGISTER_EVENT_LIMIT);
      return [...events.values()]
        .filter(
          ({ event: e }) =>
            (filter.site === undefined || e.site === filter.site) &&
            (filter.building === undefined || e.building === filter.building) &&
            (filter.meter === undefined || e.meter === filter.meter),
        )
        .sort((a, b) => b.event.ts - a.event.ts || b.seq - a.seq)
        .slice(0, limit)
        .map(({ event }) => ({ ...event }));
    },
    clear() {
      sites.clear();
      buildings.clear();
      meters.clear();
      principals.clear();
      events.clear();
      seq = 0;
    },
  };
  return state;
}

/** Width of the zero-padded sequence in memory and PostgreSQL dead-letter ids, so string order is arrival order. */
export const DEAD_LETTER_SEQUENCE_DIGITS = 16;

/**
 * Creates an in-process registry store. Ids of dead letters and of records are zero-padded
 * sequences (`0000000000000001`, one sequence each), so they sort by arrival as strings.
 */
export function createMemoryRegistryStore(): RegistryStore & FinanceStore {
  const state = createRegistryState();
  const deadLetters: DeadLetter[] = [];
  let nextId = 1;
  // Records in id (= arrival) order, and by id.
  const records: StoredRecord[] = [];
  const recordsById = new Map<string, StoredRecord>();
  let nextRecordId = 1;
  let closed = false;

  const open = () => {
    if (closed) throw registryError('REGISTRY_CLOSED', 'the memory registry store is closed');
  };

  const finance = createFinanceState();
  // Finance writes check, then store: one at a time, so two writes to one key cannot both pass the checks.
  let financeChain: Promise<unknown> = Promise.resolve();
  const financeStore = createStateFinanceStore({
    read: async (fn) => {
      open();
      return fn(finance);
    },
    write: (fn) => {
      const run = financeChain.then(async () => {
        open();
        return fn(finance, async (entry) => finance.apply(jsonClone(entry)));
      });
      financeChain = run.catch(() => undefined);
      return run;
    },
  });

  return {
    ...financeStore,
    name: 'memory',
    async init() {
      open();
    },
    async upsertSite(site) {
      open();
      state.putSite(site);
    },
    async upsertBuilding(building) {
      open();
      state.putBuilding(building);
    },
    async upsertMeter(meter) {
      open();
      state.putMeter(meter);
    },
    async listSites() {
      open();
      return state.listSites();
    },
    async listBuildings(site) {
      open();
      return state.listBuildings(site);
    },
    async listMeters(filter) {
      open();
      return state.listMeters(filter);
    },
    async getMeter(ref) {
      open();
      return state.getMeter(ref);
    },
    async putPrincipal(principal) {
      open();
      state.putPrincipal(principal);
    },
    async getPrincipal(username) {
      open();
      return state.getPrincipal(username);
    },
    async listPrincipals() {
      open();
      return state.listPrincipals();
    },
    async disablePrincipal(username, atMs) {
      open();
      return state.disablePrincipal(username, atMs);
    },
    async addDeadLetters(letters) {
      open();
      const added = letters.map((l) => normalise.deadLetter(String(nextId++).padStart(DEAD_LETTER_SEQUENCE_DIGITS, '0'), l));
      deadLetters.push(...added);
      return added.map(jsonClone);
    },
    async listDeadLetters(q = {}) {
      open();
      const limit = clampLimit(q.limit, DEFAULT_DEAD_LETTER_LIMIT, MAX_DEAD_LETTER_LIMIT);
      const out: DeadLetter[] = [];
      for (let i = deadLetters.length - 1; i >= 0 && out.length < limit; i--) {
        const d = deadLetters[i]!;
        if (q.before !== undefined && d.id >= q.before) continue;
        if (deadLetterMatches(d, q)) out.push(jsonClone(d));
      }
      return out;
    },
    async countDeadLetters(q = {}) {
      open();
      return deadLetters.reduce((n, d) => (deadLetterMatches(d, q) ? n + 1 : n), 0);
    },
    async addRegisterEvents(events) {
      open();
      for (const e of events) state.putRegisterEvent(e);
    },
    async listRegisterEvents(filter) {
      open();
      return state.listRegisterEvents(filter);
    },
    async appendRecords(batch) {
      open();
      checkNewRecords(batch);
      const added = batch.map((r) => normalise.record(String(nextRecordId++).padStart(DEAD_LETTER_SEQUENCE_DIGITS, '0'), r));
      for (const r of added) {
        records.push(r);
        recordsById.set(r.id, r);
      }
      return added.map(jsonClone);
    },
    async listRecords(q) {
      open();
      checkRecordQuery(q);
      const limit = clampLimit(q.limit, DEFAULT_RECORD_LIMIT, MAX_RECORD_LIMIT);
      const out: StoredRecord[] = [];
      for (let i = records.length - 1; i >= 0 && out.length < limit; i--) {
        const r = records[i]!;
        if (q.before !== undefined && r.id >= q.before) continue;
        if (recordMatches(r, q)) out.push(jsonClone(r));
      }
      return out;
    },
    async getRecord(id) {
      open();
      const r = recordsById.get(id);
      return r ? jsonClone(r) : undefined;
    },
    async ping() {
      return !closed;
    },
    async close() {
      closed = true;
    },
  };
}
