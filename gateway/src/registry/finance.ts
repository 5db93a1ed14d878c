/**
 * The finance registry's shared rules (validation, references, versioning, as-of reads) and its
 * in-memory model, used by the memory and JSON-lines adapters; the PostgreSQL adapter applies the
 * same rules (`prepareFinanceWrite`) to typed tables (finance-postgres.ts, migration 4).
 *
 * Why typed `FinanceStore` methods on each adapter rather than finance bodies in the generic
 * append-only records (`appendRecords`): the questions asked of this data are relational — the
 * loans of a lender or on a building, the policies of an insurer, the profile of a building on a
 * date, the state of everything as of a test date. On PostgreSQL those are indexed queries on
 * typed tables (lender, borrower, insurer, building, effective date, recorded time) with the
 * append-only rule enforced by triggers; on records they would be a scan of JSON bodies by key
 * prefix. The port stays separate from `RegistryStore` (interface segregation: code that only
 * needs meters and credentials, and its test doubles, does not have to implement finance).
 *
 * Model: every write is a new row `{ entity, key, slot, version, recordedAtMs, source?, value }`.
 * `key` groups the versions of one thing (a party id, `site/building` for profiles, a loan id
 * for balances); `slot` is the effective date within it (`effectiveFrom` of a profile or a
 * balance, `''` otherwise). The current value of a slot is its highest version; an `asOfMs`
 * read ignores rows recorded after that time. `recordedAtMs` never decreases within a key, so
 * an as-of read gives the same answer before and after later writes.
 */
import {
  buildingKey,
  buildingProfileSchema,
  FINANCE_MAX_TEXT_LENGTH,
  financeIssues,
  isFinanceDate,
  isValidId,
  loanBalanceSchema,
  loanSchema,
  partySchema,
  policySchema,
  type BuildingProfile,
  type BuildingRef,
  type FinanceAsOf,
  type FinanceEffectiveQuery,
  type FinanceStore,
  type FinanceVersion,
  type FinanceWriteOptions,
  type FinanceWriteResult,
  type Loan,
  type LoanBalance,
  type Party,
  type PartyRole,
  type Policy,
} from '@wattproof/core';
import type { z } from 'zod';
import { registryError } from './errors.js';

/** The kinds of finance entity, as stored (JSON-lines `entity`, one PostgreSQL table each). */
export const FINANCE_ENTITIES = ['party', 'building-profile', 'loan', 'loan-balance', 'policy'] as const;
export type FinanceEntity = (typeof FINANCE_ENTITIES)[number];

interface EntityValues {
  party: Party;
  'building-profile': BuildingProfile;
  loan: Loan;
  'loan-balance': LoanBalance;
  policy: Policy;
}

/** One stored row (and one JSON line of `finance.jsonl`). @internal */
export interface FinanceEntry<E extends FinanceEntity = FinanceEntity> {
  readonly entity: E;
  readonly key: string;
  readonly slot: string;
  readonly version: number;
  readonly recordedAtMs: number;
  readonly source?: string;
  readonly value: EntityValues[E];
}

const SCHEMAS: { readonly [E in FinanceEntity]: z.ZodType<EntityValues[E]> } = {
  party: partySchema,
  'building-profile': buildingProfileSchema,
  loan: loanSchema,
  'loan-balance': loanBalanceSchema,
  policy: policySchema,
};

const WHAT: Record<FinanceEntity, string> = { party: 'party', 'building-profile': 'building profile', loan: 'loan', 'loan-balance': 'loan balance', policy: 'policy' };

/** The key and slot of a validated value. @internal */
export function financeKeyOf<E extends FinanceEntity>(entity: E, value: EntityValues[E]): { key: string; slot: string } {
  switch (entity) {
    case 'party':
    case 'loan':
    case 'policy':
      return { key: (value as Party | Loan | Policy).id, slot: '' };
    case 'building-profile': {
      const p = value as BuildingProfile;
      return { key: buildingKey(p), slot: p.effectiveFrom };
    }
    case 'loan-balance': {
      const b = value as LoanBalance;
      return { key: b.loanId, slot: b.effectiveFrom };
    }
  }
  throw new Error(`unknown finance entity ${String(entity)}`);
}

/**
 * Validates a finance value with its schema (defaults applied, strict).
 * @throws REGISTRY_FINANCE_INVALID with `details.issues` [{ path, message }]. @internal
 */
export function validateFinance<E extends FinanceEntity>(entity: E, input: unknown): EntityValues[E] {
  const parsed = SCHEMAS[entity].safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = financeIssues(parsed.error);
  const id = typeof input === 'object' && input !== null ? ((input as { id?: unknown; loanId?: unknown }).id ?? (input as { loanId?: unknown }).loanId) : undefined;
  const named = typeof id === 'string' ? ` ${id}` : '';
  const first = issues.slice(0, 3).map((i) => `${i.path || '(value)'}: ${i.message}`).join('; ');
  throw registryError('REGISTRY_FINANCE_INVALID', `invalid ${WHAT[entity]}${named}: ${first}${issues.length > 3 ? `; and ${issues.length - 3} more` : ''}`, {
    details: { entity, issues },
  });
}

function inputInvalid(message: string, details: Record<string, unknown>): Error {
  return registryError('REGISTRY_INPUT_INVALID', message, { details });
}

/** @throws REGISTRY_INPUT_INVALID unless recordedAtMs is a safe integer ≥ 0 and source short text. @internal */
export function checkWriteOptions(options: FinanceWriteOptions): void {
  if (typeof options !== 'object' || options === null || !Number.isSafeInteger(options.recordedAtMs) || options.recordedAtMs < 0) {
    throw inputInvalid('finance write: recordedAtMs must be an integer number of epoch ms ≥ 0', { recordedAtMs: String((options as { recordedAtMs?: unknown } | null)?.recordedAtMs) });
  }
  if (options.source !== undefined && (typeof options.source !== 'string' || options.source.length > FINANCE_MAX_TEXT_LENGTH || options.source.includes('\u0000'))) {
    throw inputInvalid(`finance write: source must be text of at most ${FINANCE_MAX_TEXT_LENGTH} characters`, {});
  }
}

/** @throws REGISTRY_INPUT_INVALID for a malformed id. @internal */
export function checkFinanceId(id: unknown, what: string): asserts id is string {
  if (typeof id !== 'string' || !isValidId(id)) throw inputInvalid(`${what} ${JSON.stringify(id)} is not an id`, { [what]: String(id) });
}

/** @throws REGISTRY_INPUT_INVALID for a malformed site/building. @internal */
export function checkBuildingRef(ref: BuildingRef, what = 'building'): void {
  if (typeof ref !== 'object' || ref === null) throw inputInvalid(`${what} must be { site, building }`, {});
  checkFinanceId(ref.site, 'site');
  checkFinanceId(ref.building, 'building');
}

/** The `asOfMs` bound of a read (Infinity when none). @throws REGISTRY_INPUT_INVALID @internal */
export function asOfBound(query: FinanceAsOf | undefined): number {
  const asOf = query?.asOfMs;
  if (asOf === undefined) return Number.POSITIVE_INFINITY;
  if (typeof asOf !== 'number' || !Number.isSafeInteger(asOf)) throw inputInvalid('finance read: asOfMs must be an integer number of epoch ms', { asOfMs: String(asOf) });
  return asOf;
}

/** The `effectiveOn` date of a read, if any. @throws REGISTRY_INPUT_INVALID @internal */
export function effectiveOnOf(query: FinanceEffectiveQuery | undefined): string | undefined {
  const on = query?.effectiveOn;
  if (on === undefined) return undefined;
  if (typeof on !== 'string' || !isFinanceDate(on)) throw inputInvalid('finance read: effectiveOn must be a calendar date YYYY-MM-DD', { effectiveOn: String(on) });
  return on;
}

/** JSON with object keys sorted: equal values give equal text whatever the key order. @internal */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A stored row as the port returns it. @internal */
export function toVersion<T>(e: { value: T; version: number; recordedAtMs: number; source?: string }): FinanceVersion<T> {
  const v = { value: JSON.parse(JSON.stringify(e.value)) as T, version: e.version, recordedAtMs: e.recordedAtMs };
  return e.source === undefined ? v : { ...v, source: e.source };
}

/** What a write needs to know from the adapter: the latest rows under a key, parties and loans. @internal */
export interface FinanceWriteContext {
  /** The row with the highest version under (entity, key). */
  latest(entity: FinanceEntity, key: string): Promise<FinanceEntry | undefined>;
  /** The row with the highest version under (entity, key, slot). */
  latestInSlot(entity: FinanceEntity, key: string, slot: string): Promise<FinanceEntry | undefined>;
  /** Latest versions of parties and loans, for reference checks. */
  party(id: string): Promise<Party | undefined>;
  loan(id: string): Promise<Loan | undefined>;
}

export type PreparedWrite<E extends FinanceEntity> = { readonly created: false; readonly result: FinanceWriteResult<EntityValues[E]> } | { readonly created: true; readonly entry: FinanceEntry<E> };

function unknownReference(message: string, details: Record<string, unknown>): Error {
  return registryError('REGISTRY_FINANCE_REFERENCE_UNKNOWN', message, { details });
}

async function checkParty(ctx: FinanceWriteContext, id: string | undefined, field: string, role?: PartyRole): Promise<void> {
  if (id === undefined) return;
  const party = await ctx.party(id);
  if (!party) throw unknownReference(`${field}: party ${id} is not in the finance registry`, { field, party: id });
  if (role !== undefined && !party.roles.includes(role)) {
    throw unknownReference(`${field}: party ${id} does not have role ${role} (it has ${party.roles.join(', ')})`, { field, party: id, role, roles: party.roles });
  }
}

async function checkReferences<E extends FinanceEntity>(entity: E, value: EntityValues[E], ctx: FinanceWriteContext): Promise<void> {
  switch (entity) {
    case 'building-profile': {
      const p = value as BuildingProfile;
      await checkParty(ctx, p.ownerParty, 'ownerParty');
      await checkParty(ctx, p.operatorParty, 'operatorParty');
      return;
    }
    case 'loan': {
      const l = value as Loan;
      await checkParty(ctx, l.borrower, 'borrower');
      await checkParty(ctx, l.lender, 'lender', 'bank');
      return;
    }
    case 'loan-balance': {
      const b = value as LoanBalance;
      const loan = await ctx.loan(b.loanId);
      if (!loan) throw unknownReference(`loanId: loan ${b.loanId} is not in the finance registry`, { field: 'loanId', loan: b.loanId });
      if (b.effectiveFrom < loan.originationDate) {
        throw registryError('REGISTRY_FINANCE_INVALID', `invalid loan balance ${b.loanId}: effectiveFrom: must not be before the loan's originationDate (${loan.originationDate})`, {
          details: { entity, issues: [{ path: 'effectiveFrom', message: `must not be before the loan's originationDate (${loan.originationDate})` }] },
        });
      }
      return;
    }
    case 'policy': {
      const p = value as Policy;
      await checkParty(ctx, p.insurer, 'insurer', 'insurer');
      await checkParty(ctx, p.insured, 'insured');
      return;
    }
    default:
      return;
  }
}

/**
 * Validates a write and decides what to store: nothing when the value equals the current
 * version of its slot, else the next version. The adapter calls it with writes to the key
 * serialised and stores `entry` when `created`.
 * @throws REGISTRY_INPUT_INVALID, REGISTRY_FINANCE_INVALID, REGISTRY_FINANCE_REFERENCE_UNKNOWN, REGISTRY_FINANCE_OUT_OF_ORDER @internal
 */
export async function prepareFinanceWrite<E extends FinanceEntity>(entity: E, input: unknown, options: FinanceWriteOptions, ctx: FinanceWriteContext): Promise<PreparedWrite<E>> {
  checkWriteOptions(options);
  const value = validateFinance(entity, input);
  const { key, slot } = financeKeyOf(entity, value);
  const latest = await ctx.latest(entity, key);
  const current = await ctx.latestInSlot(entity, key, slot);
  if (current && canonicalJson(current.value) === canonicalJson(value)) {
    return { created: false, result: { ...toVersion(current as FinanceEntry<E>), created: false } };
  }
  if (latest && options.recordedAtMs < latest.recordedAtMs) {
    throw registryError(
      'REGISTRY_FINANCE_OUT_OF_ORDER',
      `${WHAT[entity]} ${key}: recordedAtMs ${options.recordedAtMs} is before its latest version (${latest.version}, recorded at ${latest.recordedAtMs})`,
      { details: { entity, key, recordedAtMs: options.recordedAtMs, latestRecordedAtMs: latest.recordedAtMs, latestVersion: latest.version } },
    );
  }
  await checkReferences(entity, value, ctx);
  const entry: FinanceEntry<E> = {
    entity,
    key,
    slot,
    version: (latest?.version ?? 0) + 1,
    recordedAtMs: options.recordedAtMs,
    ...(options.source === undefined ? {} : { source: options.source }),
    value,
  };
  return { created: true, entry };
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Picks from slot-current rows (sorted by slot) the one in force on `on` (or the last). @internal */
export function pickEffective<T extends { slot: string }>(rows: readonly T[], on: string | undefined): T | undefined {
  if (on === undefined) return rows[rows.length - 1];
  let found: T | undefined;
  for (const r of rows) if (r.slot <= on) found = r;
  return found;
}

/**
 * The in-memory model of the finance rows: the memory adapter's storage and the JSON-lines
 * adapter's index (rebuilt from `finance.jsonl`). Rows of a key are kept in version order.
 * @internal
 */
export interface FinanceState {
  /** Adds a stored row. A row whose version is not the next one of its key is renumbered (another process wrote the same version); returns the row as kept. */
  apply(entry: FinanceEntry): FinanceEntry;
  rows(entity: FinanceEntity, key: string): readonly FinanceEntry[];
  keys(entity: FinanceEntity): string[];
  clear(): void;
  readonly context: FinanceWriteContext;
}

/** @internal */
export function createFinanceState(): FinanceState {
  const byKey = new Map<string, FinanceEntry[]>();
  const keysByEntity = new Map<FinanceEntity, Set<string>>();
  const id = (entity: FinanceEntity, key: string) => `${entity}\u0000${key}`;
  const rows = (entity: FinanceEntity, key: string) => byKey.get(id(entity, key)) ?? [];
  const state: FinanceState = {
    apply(entry) {
      let list = byKey.get(id(entry.entity, entry.key));
      if (!list) {
        byKey.set(id(entry.entity, entry.key), (list = []));
        let keys = keysByEntity.get(entry.entity);
        if (!keys) keysByEntity.set(entry.entity, (keys = new Set()));
        keys.add(entry.key);
      }
      const expected = list.length + 1;
      const kept = entry.version === expected ? entry : { ...entry, version: expected };
      list.push(kept);
      return kept;
    },
    rows,
    keys: (entity) => [...(keysByEntity.get(entity) ?? [])].sort(byText),
    clear() {
      byKey.clear();
      keysByEntity.clear();
    },
    context: {
      latest: async (entity, key) => rows(entity, key).at(-1),
      latestInSlot: async (entity, key, slot) => rows(entity, key).findLast((r) => r.slot === slot),
      party: async (pid) => rows('party', pid).at(-1)?.value as Party | undefined,
      loan: async (lid) => rows('loan', lid).at(-1)?.value as Loan | undefined,
    },
  };
  return state;
}

/** The rows of a key recorded by `asOf`. */
function known(state: FinanceState, entity: FinanceEntity, key: string, asOf: number): FinanceEntry[] {
  return state.rows(entity, key).filter((r) => r.recordedAtMs <= asOf);
}

/** The highest version of each slot of a key recorded by `asOf`, sorted by slot. */
function slotCurrent(state: FinanceState, entity: FinanceEntity, key: string, asOf: number): FinanceEntry[] {
  const bySlot = new Map<string, FinanceEntry>();
  for (const r of known(state, entity, key, asOf)) bySlot.set(r.slot, r);
  return [...bySlot.values()].sort((a, b) => byText(a.slot, b.slot));
}

/**
 * How an adapter runs finance calls on a FinanceState: `read` brings the state up to date and
 * runs `fn`; `write` does the same with `commit`, which stores rows durably and applies them.
 * Both serialise with the adapter's other calls. @internal
 */
export interface FinanceStateBackend {
  read<T>(fn: (state: FinanceState) => T): Promise<T>;
  write<T>(fn: (state: FinanceState, commit: (entry: FinanceEntry) => Promise<FinanceEntry>) => Promise<T>): Promise<T>;
}

/** The FinanceStore methods of an adapter that keeps its finance rows in a FinanceState. @internal */
export function createStateFinanceStore(backend: FinanceStateBackend): FinanceStore {
  function put<E extends FinanceEntity>(entity: E) {
    return (input: unknown, options: FinanceWriteOptions): Promise<FinanceWriteResult<EntityValues[E]>> =>
      backend.write(async (state, commit) => {
        const prepared = await prepareFinanceWrite(entity, input, options, state.context);
        if (!prepared.created) return prepared.result;
        const kept = (await commit(prepared.entry)) as FinanceEntry<E>;
        return { ...toVersion(kept), created: true };
      });
  }
  const currentOf = <T>(state: FinanceState, entity: FinanceEntity, key: string, asOf: number) => {
    const r = known(state, entity, key, asOf).at(-1);
    return r ? (toVersion(r) as FinanceVersion<T>) : undefined;
  };
  const listCurrent = <T>(state: FinanceState, entity: FinanceEntity, asOf: number, keep: (value: T) => boolean) => {
    const out: FinanceVersion<T>[] = [];
    for (const key of state.keys(entity)) {
      const r = known(state, entity, key, asOf).at(-1);
      if (r && keep(r.value as T)) out.push(toVersion(r) as FinanceVersion<T>);
    }
    return out;
  };
  const hasBuilding = (list: readonly BuildingRef[], ref: BuildingRef | undefined) => ref === undefined || list.some((b) => b.site === ref.site && b.building === ref.building);

  return {
    putParty: put('party'),
    async getParty(id, query) {
      checkFinanceId(id, 'party');
      const asOf = asOfBound(query);
      return backend.read((s) => currentOf<Party>(s, 'party', id, asOf));
    },
    async listParties(query) {
      const asOf = asOfBound(query);
      const role = query?.role;
      return backend.read((s) => listCurrent<Party>(s, 'party', asOf, (p) => role === undefined || p.roles.includes(role)));
    },
    async partyHistory(id) {
      checkFinanceId(id, 'party');
      return backend.read((s) => s.rows('party', id).map((r) => toVersion(r) as FinanceVersion<Party>));
    },

    putBuildingProfile: put('building-profile'),
    async getBuildingProfile(ref, query) {
      checkBuildingRef(ref);
      const asOf = asOfBound(query);
      const on = effectiveOnOf(query);
      return backend.read((s) => {
        const r = pickEffective(slotCurrent(s, 'building-profile', buildingKey(ref), asOf), on);
        return r ? (toVersion(r) as FinanceVersion<BuildingProfile>) : undefined;
      });
    },
    async listBuildingProfiles(query) {
      const asOf = asOfBound(query);
      if (query?.site !== undefined) checkFinanceId(query.site, 'site');
      if (query?.building !== undefined) checkFinanceId(query.building, 'building');
      return backend.read((s) =>
        s
          .keys('building-profile')
          .flatMap((key) => slotCurrent(s, 'building-profile', key, asOf))
          .filter((r) => {
            const p = r.value as BuildingProfile;
            return (query?.site === undefined || p.site === query.site) && (query?.building === undefined || p.building === query.building);
          })
          .sort((a, b) => {
            const pa = a.value as BuildingProfile;
            const pb = b.value as BuildingProfile;
            return byText(pa.site, pb.site) || byText(pa.building, pb.building) || byText(a.slot, b.slot);
          })
          .map((r) => toVersion(r) as FinanceVersion<BuildingProfile>),
      );
    },
    async buildingProfileHistory(ref) {
      checkBuildingRef(ref);
      return backend.read((s) => s.rows('building-profile', buildingKey(ref)).map((r) => toVersion(r) as FinanceVersion<BuildingProfile>));
    },

    putLoan: put('loan'),
    async getLoan(id, query) {
      checkFinanceId(id, 'loan');
      const asOf = asOfBound(query);
      return backend.read((s) => currentOf<Loan>(s, 'loan', id, asOf));
    },
    async listLoans(query) {
      const asOf = asOfBound(query);
      if (query?.lender !== undefined) checkFinanceId(query.lender, 'lender');
      if (query?.borrower !== undefined) checkFinanceId(query.borrower, 'borrower');
      if (query?.building !== undefined) checkBuildingRef(query.building);
      return backend.read((s) =>
        listCurrent<Loan>(
          s,
          'loan',
          asOf,
          (l) => (query?.lender === undefined || l.lender === query.lender) && (query?.borrower === undefined || l.borrower === query.borrower) && hasBuilding(l.buildings, query?.building),
        ),
      );
    },
    async loanHistory(id) {
      checkFinanceId(id, 'loan');
      return backend.read((s) => s.rows('loan', id).map((r) => toVersion(r) as FinanceVersion<Loan>));
    },

    putLoanBalance: put('loan-balance'),
    async loanBalances(loanId, query) {
      checkFinanceId(loanId, 'loan');
      const asOf = asOfBound(query);
      return backend.read((s) => slotCurrent(s, 'loan-balance', loanId, asOf).map((r) => toVersion(r) as FinanceVersion<LoanBalance>));
    },
    async getLoanBalance(loanId, query) {
      checkFinanceId(loanId, 'loan');
      const asOf = asOfBound(query);
      const on = effectiveOnOf(query);
      return backend.read((s) => {
        const r = pickEffective(slotCurrent(s, 'loan-balance', loanId, asOf), on);
        return r ? (toVersion(r) as FinanceVersion<LoanBalance>) : undefined;
      });
    },

    putPolicy: put('policy'),
    async getPolicy(id, query) {
      checkFinanceId(id, 'policy');
      const asOf = asOfBound(query);
      return backend.read((s) => currentOf<Policy>(s, 'policy', id, asOf));
    },
    async listPolicies(query) {
      const asOf = asOfBound(query);
      if (query?.insurer !== undefined) checkFinanceId(query.insurer, 'insurer');
      if (query?.insured !== undefined) checkFinanceId(query.insured, 'insured');
      if (query?.building !== undefined) checkBuildingRef(query.building);
      return backend.read((s) =>
        listCurrent<Policy>(
          s,
          'policy',
          asOf,
          (p) => (query?.insurer === undefined || p.insurer === query.insurer) && (query?.insured === undefined || p.insured === query.insured) && hasBuilding(p.buildings, query?.building),
        ),
      );
    },
    async policyHistory(id) {
      checkFinanceId(id, 'policy');
      return backend.read((s) => s.rows('policy', id).map((r) => toVersion(r) as FinanceVersion<Policy>));
    },
  };
}
