/**
 * The access matrix (docs/access.md): may an identity do `action` on `resource`? And which
 * parties a resource is about (they may read the audit entries of it).
 *
 * An identity "acts for" its own party and every `party:<id>` grant — except a verifier, whose
 * own party (its firm) is party to no contract, so only its grants count. Ownership of a
 * building comes from the finance registry's building profile in force today (Asia/Shanghai):
 * its `ownerParty` and `operatorParty`.
 */
import { buildingKey, type BuildingRef, type FinanceStore } from '@wattproof/core';
import type { AccessAction, ApiIdentity, ProtectedResource } from './types.js';

/** Local date `YYYY-MM-DD` in Asia/Shanghai (UTC+8, no daylight saving) at `ms`. */
export function shanghaiDate(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
}

/** `loan/L1`, `policy/P1`, `building/<site>/<building>`, `lender-portfolio/<bank>`, `insurer-portfolio/<insurer>`, `pricing`, `admin`, `audit`, `buildings`, `ops`. */
export function resourceKey(r: ProtectedResource): string {
  switch (r.kind) {
    case 'loan':
    case 'policy':
      return `${r.kind}/${r.id}`;
    case 'building':
      return `building/${r.site}/${r.building}`;
    case 'lender-portfolio':
      return `lender-portfolio/${r.lender}`;
    case 'insurer-portfolio':
      return `insurer-portfolio/${r.insurer}`;
    default:
      return r.kind;
  }
}

/** Resource kinds addressed by an id: refusing them answers 404 like a missing one (plugin.ts). */
export const ADDRESSED_RESOURCE_KINDS: ReadonlySet<ProtectedResource['kind']> = new Set(['loan', 'policy', 'building', 'lender-portfolio', 'insurer-portfolio']);

/** Reads the decision needs; all optional: without a finance registry only explicit grants count. */
export interface PolicyContext {
  readonly finance?: FinanceStore;
  /** Epoch ms now (decides which building profile is in force). */
  readonly nowMs: number;
}

function isInputError(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 'REGISTRY_INPUT_INVALID';
}

/** Owner and operator parties of a building today; empty without a registry or a profile. */
export async function buildingParties(ref: BuildingRef, ctx: PolicyContext): Promise<string[]> {
  if (!ctx.finance) return [];
  try {
    const p = await ctx.finance.getBuildingProfile({ site: ref.site, building: ref.building }, { effectiveOn: shanghaiDate(ctx.nowMs) });
    return [p?.value.ownerParty, p?.value.operatorParty].filter((x): x is string => x !== undefined);
  } catch (err) {
    if (isInputError(err)) return [];
    throw err;
  }
}

function grantsOf(identity: ApiIdentity) {
  const loans = new Set<string>();
  const policies = new Set<string>();
  const buildings = new Set<string>();
  const parties = new Set<string>();
  for (const g of identity.grants) {
    if (g.kind === 'loan') loans.add(g.id);
    else if (g.kind === 'policy') policies.add(g.id);
    else if (g.kind === 'building') buildings.add(buildingKey(g));
    else parties.add(g.id);
  }
  // A verifier's own party is its firm, party to no contract: only what it is granted counts.
  const actsFor = new Set(parties);
  if (identity.party !== undefined && identity.role !== 'verifier') actsFor.add(identity.party);
  return { loans, policies, buildings, actsFor };
}

/** Does a loan visible to the lender cover the building? (Its own loans, or granted ones.) */
async function financedBy(ref: BuildingRef, lenders: ReadonlySet<string>, loans: ReadonlySet<string>, finance: FinanceStore): Promise<boolean> {
  for (const lender of lenders) if ((await finance.listLoans({ lender, building: ref })).length > 0) return true;
  for (const id of loans) {
    const loan = await finance.getLoan(id);
    if (loan?.value.buildings.some((b) => b.site === ref.site && b.building === ref.building)) return true;
  }
  return false;
}

/** Does a policy visible to the insurer cover the building? */
async function insuredBy(ref: BuildingRef, insurers: ReadonlySet<string>, policies: ReadonlySet<string>, finance: FinanceStore): Promise<boolean> {
  for (const insurer of insurers) if ((await finance.listPolicies({ insurer, building: ref })).length > 0) return true;
  for (const id of policies) {
    const policy = await finance.getPolicy(id);
    if (policy?.value.buildings.some((b) => b.site === ref.site && b.building === ref.building)) return true;
  }
  return false;
}

/**
 * The access matrix. Admins may do everything; every other role may only read, and only:
 * - lender: loans it lends (or is granted), its lender portfolio, buildings its visible loans finance, buildings granted;
 * - insurer: policies it writes (or is granted), its insurer portfolio, pricing, buildings its visible policies cover, buildings granted;
 * - verifier: exactly its grants — loans, policies and buildings by id; `party:<id>` covers that
 *   party's loans (as lender or borrower), policies (as insurer or insured), buildings (as owner or
 *   operator) and portfolios;
 * - operator: buildings it owns or operates (building profile) or is granted.
 * Everyone authenticated may read the audit log (filtered to what it may see, audit.ts) and ask
 * for building lists (filtered to the buildings it may read, scope.ts); operations data of the
 * whole deployment (`ops`) and registry administration are admins' only.
 */
export async function isAllowed(identity: ApiIdentity, resource: ProtectedResource, action: AccessAction, ctx: PolicyContext): Promise<boolean> {
  if (identity.role === 'admin') return true;
  if (action !== 'read') return false;
  // The audit log and building lists answer every key, each with what it may see (audit.ts, scope.ts).
  if (resource.kind === 'audit' || resource.kind === 'buildings') return true;
  if (resource.kind === 'admin' || resource.kind === 'ops') return false;
  const g = grantsOf(identity);
  const ownsBuilding = async (ref: BuildingRef) => (await buildingParties(ref, ctx)).some((p) => g.actsFor.has(p));
  try {
    switch (identity.role) {
      case 'lender':
        switch (resource.kind) {
          case 'loan':
            return g.actsFor.has(resource.lender) || g.loans.has(resource.id);
          case 'lender-portfolio':
            return g.actsFor.has(resource.lender);
          case 'building':
            return g.buildings.has(buildingKey(resource)) || (ctx.finance !== undefined && (await financedBy(resource, g.actsFor, g.loans, ctx.finance)));
          default:
            return false;
        }
      case 'insurer':
        switch (resource.kind) {
          case 'policy':
            return g.actsFor.has(resource.insurer) || g.policies.has(resource.id);
          case 'insurer-portfolio':
            return g.actsFor.has(resource.insurer);
          case 'pricing':
            return true;
          case 'building':
            return g.buildings.has(buildingKey(resource)) || (ctx.finance !== undefined && (await insuredBy(resource, g.actsFor, g.policies, ctx.finance)));
          default:
            return false;
        }
      case 'verifier':
        switch (resource.kind) {
          case 'loan':
            return g.loans.has(resource.id) || g.actsFor.has(resource.lender) || g.actsFor.has(resource.borrower);
          case 'policy':
            return g.policies.has(resource.id) || g.actsFor.has(resource.insurer) || g.actsFor.has(resource.insured);
          case 'building':
            return g.buildings.has(buildingKey(resource)) || (await ownsBuilding(resource));
          case 'lender-portfolio':
            return g.actsFor.has(resource.lender);
          case 'insurer-portfolio':
            return g.actsFor.has(resource.insurer);
          default:
            return false;
        }
      case 'operator':
        return resource.kind === 'building' && (g.buildings.has(buildingKey(resource)) || (await ownsBuilding(resource)));
    }
  } catch (err) {
    // A malformed id reaching the registry matches nothing.
    if (isInputError(err)) return false;
    throw err;
  }
}

/**
 * The parties a resource is about, who may read its audit entries: a loan's lender, borrower and
 * the owners/operators of its buildings; a policy's insurer, insured and its buildings'
 * owners/operators; a building's owner and operator; a portfolio's bank or insurer.
 */
export async function stakeholders(resource: ProtectedResource, ctx: PolicyContext): Promise<string[]> {
  const out = new Set<string>();
  const addBuildings = async (refs: readonly BuildingRef[]) => {
    for (const ref of refs) for (const p of await buildingParties(ref, ctx)) out.add(p);
  };
  switch (resource.kind) {
    case 'loan':
      out.add(resource.lender).add(resource.borrower);
      await addBuildings(resource.buildings);
      break;
    case 'policy':
      out.add(resource.insurer).add(resource.insured);
      await addBuildings(resource.buildings);
      break;
    case 'building':
      await addBuildings([resource]);
      break;
    case 'lender-portfolio':
      out.add(resource.lender);
      break;
    case 'insurer-portfolio':
      out.add(resource.insurer);
      break;
    default:
      break;
  }
  return [...out].sort();
}
