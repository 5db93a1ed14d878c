/**
 * The finance registry on PostgreSQL: typed, append-only tables of migration 4 (one per entity,
 * plus child tables of loan buildings, covenants, policy buildings, meters and periods for
 * queries). A write runs in one transaction under an advisory lock on its entity key, applies the
 * shared rules of finance.ts (`prepareFinanceWrite`) and inserts the version with its child rows;
 * reads pick the highest version recorded by `asOfMs` with `DISTINCT ON`, served by the
 * `(key, version)` primary keys and the effective-date, lender, borrower, insurer and building
 * indexes. Values come back from the `body` column, exactly as validated.
 */
import type pg from 'pg';
import {
  type BuildingProfile,
  type BuildingRef,
  type FinanceStore,
  type FinanceVersion,
  type FinanceWriteOptions,
  type FinanceWriteResult,
  type Loan,
  type LoanBalance,
  type Party,
  type Policy,
} from '@wattproof/core';
import {
  asOfBound,
  checkBuildingRef,
  checkFinanceId,
  effectiveOnOf,
  prepareFinanceWrite,
  toVersion,
  type FinanceEntity,
  type FinanceEntry,
  type FinanceWriteContext,
} from './finance.js';

type Row = Record<string, unknown>;
type Queryable = Pick<pg.PoolClient, 'query'>;

/** What the finance store borrows from the PostgreSQL registry store it is part of. @internal */
export interface PostgresFinanceDeps {
  /** Runs `fn`, mapping failures to registry errors (REGISTRY_UNAVAILABLE, ...). */
  run<T>(kind: 'read' | 'write', what: string, fn: () => Promise<T>): Promise<T>;
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult<Row>>;
  transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T>;
}

interface Table {
  readonly name: string;
  /** Key columns and how the entry key splits into them. */
  readonly keyColumns: readonly string[];
  readonly splitKey: (key: string) => unknown[];
  /** The effective-date column, for profiles and balances. */
  readonly slotColumn?: string;
}

const TABLES: Record<FinanceEntity, Table> = {
  party: { name: 'finance_parties', keyColumns: ['id'], splitKey: (k) => [k] },
  'building-profile': { name: 'finance_building_profiles', keyColumns: ['site', 'building'], splitKey: (k) => k.split('/'), slotColumn: 'effective_from' },
  loan: { name: 'finance_loans', keyColumns: ['id'], splitKey: (k) => [k] },
  'loan-balance': { name: 'finance_loan_balances', keyColumns: ['loan_id'], splitKey: (k) => [k], slotColumn: 'effective_from' },
  policy: { name: 'finance_policies', keyColumns: ['id'], splitKey: (k) => [k] },
};

/** Columns every read selects: the version's metadata, its slot as text (pg would make a Date of a `date`) and the body. */
function selectColumns(t: Table): string {
  return `version, recorded_at_ms, source, ${t.slotColumn ? `${t.slotColumn}::text` : `''::text`} AS slot, body`;
}

const keyWhere = (t: Table, firstParam = 1) => t.keyColumns.map((c, i) => `${c} = $${firstParam + i}`).join(' AND ');

function toEntry(entity: FinanceEntity, key: string, r: Row): FinanceEntry {
  return {
    entity,
    key,
    slot: String(r.slot),
    version: Number(r.version),
    recordedAtMs: Number(r.recorded_at_ms),
    ...(r.source === null || r.source === undefined ? {} : { source: String(r.source) }),
    value: r.body as never,
  };
}

function toVersionRow<T>(r: Row): FinanceVersion<T> {
  return toVersion<T>({
    value: r.body as T,
    version: Number(r.version),
    recordedAtMs: Number(r.recorded_at_ms),
    ...(r.source === null || r.source === undefined ? {} : { source: String(r.source) }),
  });
}

/** `NULL` for "no bound" so one statement serves both. */
const asOfParam = (asOf: number) => (Number.isFinite(asOf) ? asOf : null);

function writeContext(c: Queryable): FinanceWriteContext {
  const latest = async (entity: FinanceEntity, key: string, slot?: string) => {
    const t = TABLES[entity];
    const params = t.splitKey(key);
    let where = keyWhere(t);
    if (slot !== undefined && t.slotColumn) {
      params.push(slot);
      where += ` AND ${t.slotColumn} = $${params.length}::date`;
    }
    const res = await c.query<Row>(`SELECT ${selectColumns(t)} FROM ${t.name} WHERE ${where} ORDER BY version DESC LIMIT 1`, params);
    return res.rows[0] ? toEntry(entity, key, res.rows[0]) : undefined;
  };
  return {
    latest: (entity, key) => latest(entity, key),
    latestInSlot: (entity, key, slot) => latest(entity, key, TABLES[entity].slotColumn ? slot : undefined),
    party: async (id) => (await latest('party', id))?.value as Party | undefined,
    loan: async (id) => (await latest('loan', id))?.value as Loan | undefined,
  };
}

const json = (v: unknown) => JSON.stringify(v);

/** Inserts a version and its child rows. */
async function insertEntry(c: Queryable, e: FinanceEntry): Promise<void> {
  const meta = [e.version, e.recordedAtMs, e.source ?? null];
  switch (e.entity) {
    case 'party': {
      const p = e.value as Party;
      await c.query(
        `INSERT INTO finance_parties (id, version, recorded_at_ms, source, name, roles, unified_social_credit_code, body)
         VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8::jsonb)`,
        [p.id, ...meta, p.name, p.roles, p.unifiedSocialCreditCode ?? null, json(p)],
      );
      return;
    }
    case 'building-profile': {
      const p = e.value as BuildingProfile;
      await c.query(
        `INSERT INTO finance_building_profiles (site, building, version, recorded_at_ms, source, effective_from, type, floor_area_m2,
           owner_party, operator_party, label_level, label_kind, label_valid_from, label_valid_to, body)
         VALUES ($1, $2, $3, $4, $5, $6::date, $7, $8, $9, $10, $11, $12, $13::date, $14::date, $15::jsonb)`,
        [
          p.site,
          p.building,
          ...meta,
          p.effectiveFrom,
          p.type,
          p.floorAreaM2,
          p.ownerParty ?? null,
          p.operatorParty ?? null,
          p.label?.level ?? null,
          p.label?.kind ?? null,
          p.label?.validFrom ?? null,
          p.label?.validTo ?? null,
          json(p),
        ],
      );
      return;
    }
    case 'loan': {
      const l = e.value as Loan;
      await c.query(
        `INSERT INTO finance_loans (id, version, recorded_at_ms, source, borrower, lender, kind, asset_class, currency, origination_date, maturity_date,
           property_value_at_origination_cny, base_margin_bp, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::date, $11::date, $12, $13, $14::jsonb)`,
        [l.id, ...meta, l.borrower, l.lender, l.kind, l.assetClass, l.currency, l.originationDate, l.maturityDate, String(l.propertyValueAtOriginationCny), String(l.baseMarginBp), json(l)],
      );
      await c.query(
        `INSERT INTO finance_loan_buildings (loan_id, version, site, building)
         SELECT $1, $2, site, building FROM unnest($3::text[], $4::text[]) AS t(site, building)`,
        [l.id, e.version, l.buildings.map((b) => b.site), l.buildings.map((b) => b.building)],
      );
      for (const cv of l.covenants) {
        await c.query(
          `INSERT INTO finance_covenants (loan_id, version, covenant_id, kpi, site, building, meter, operator, threshold, frequency, first_test_date,
             measurement_window_months, grace_days, cure_periods, bp_on_pass, bp_on_fail, at_risk_probability)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::date, $12, $13, $14, $15, $16, $17)`,
          [
            l.id,
            e.version,
            cv.id,
            cv.kpi,
            cv.scope.site,
            cv.scope.building,
            cv.scope.meter ?? null,
            cv.operator,
            cv.threshold,
            cv.schedule.frequency,
            cv.schedule.firstTestDate,
            cv.schedule.measurementWindowMonths,
            cv.graceDays,
            cv.cure.periods,
            cv.ratchet.bpOnPass,
            cv.ratchet.bpOnFail,
            cv.atRiskProbability,
          ],
        );
      }
      return;
    }
    case 'loan-balance': {
      const b = e.value as LoanBalance;
      await c.query(
        `INSERT INTO finance_loan_balances (loan_id, version, recorded_at_ms, source, effective_from, outstanding_cny, body)
         VALUES ($1, $2, $3, $4, $5::date, $6, $7::jsonb)`,
        [b.loanId, ...meta, b.effectiveFrom, String(b.outstandingCny), json(b)],
      );
      return;
    }
    case 'policy': {
      const p = e.value as Policy;
      await c.query(
        `INSERT INTO finance_policies (id, version, recorded_at_ms, source, insurer, insured, mv_definition_id, contract_price_cny_per_kwh, deductible_cny,
           limit_cny, premium_cny, effective_from, effective_to, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::date, $13::date, $14::jsonb)`,
        [
          p.id,
          ...meta,
          p.insurer,
          p.insured,
          p.mvDefinitionId ?? null,
          String(p.contractPriceCnyPerKwh),
          String(p.deductibleCny),
          String(p.limitCny),
          p.premiumCny === undefined ? null : String(p.premiumCny),
          p.effectiveFrom,
          p.effectiveTo,
          json(p),
        ],
      );
      await c.query(
        `INSERT INTO finance_policy_buildings (policy_id, version, site, building)
         SELECT $1, $2, site, building FROM unnest($3::text[], $4::text[]) AS t(site, building)`,
        [p.id, e.version, p.buildings.map((b) => b.site), p.buildings.map((b) => b.building)],
      );
      await c.query(
        `INSERT INTO finance_policy_meters (policy_id, version, site, building, meter)
         SELECT $1, $2, site, building, meter FROM unnest($3::text[], $4::text[], $5::text[]) AS t(site, building, meter)`,
        [p.id, e.version, p.meters.map((m) => m.site), p.meters.map((m) => m.building), p.meters.map((m) => m.meter)],
      );
      await c.query(
        `INSERT INTO finance_policy_periods (policy_id, version, period_id, period_from, period_to, guaranteed_savings_kwh)
         SELECT $1, $2, period_id, period_from::date, period_to::date, kwh FROM unnest($3::text[], $4::text[], $5::text[], $6::float8[]) AS t(period_id, period_from, period_to, kwh)`,
        [p.id, e.version, p.periods.map((x) => x.id), p.periods.map((x) => x.from), p.periods.map((x) => x.to), p.periods.map((x) => x.guaranteedSavingsKwh)],
      );
      return;
    }
  }
}

/** The FinanceStore methods of the PostgreSQL registry store. @internal */
export function createPostgresFinanceStore(deps: PostgresFinanceDeps): FinanceStore {
  const { run, query, transaction } = deps;

  function put<T>(entity: FinanceEntity, what: string) {
    return (input: unknown, options: FinanceWriteOptions): Promise<FinanceWriteResult<T>> =>
      run('write', `store ${what}`, () =>
        transaction(async (c) => {
          // Serialises writers of one key across processes; the version, order and "unchanged"
          // checks below read that key's rows inside the lock.
          const id = typeof input === 'object' && input !== null ? JSON.stringify([(input as Row).id, (input as Row).loanId, (input as Row).site, (input as Row).building]) : '';
          await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`wattproof.finance:${entity}:${id}`]);
          const prepared = await prepareFinanceWrite(entity, input, options, writeContext(c));
          if (!prepared.created) return prepared.result as FinanceWriteResult<T>;
          await insertEntry(c, prepared.entry);
          return { ...toVersion(prepared.entry), created: true } as FinanceWriteResult<T>;
        }),
      );
  }

  async function current<T>(entity: FinanceEntity, key: string, asOf: number): Promise<FinanceVersion<T> | undefined> {
    const t = TABLES[entity];
    const params = [...t.splitKey(key), asOfParam(asOf)];
    const res = await query(
      `SELECT ${selectColumns(t)} FROM ${t.name} WHERE ${keyWhere(t)} AND ($${params.length}::bigint IS NULL OR recorded_at_ms <= $${params.length}::bigint)
       ORDER BY version DESC LIMIT 1`,
      params,
    );
    return res.rows[0] ? toVersionRow<T>(res.rows[0]) : undefined;
  }

  async function history<T>(entity: FinanceEntity, key: string): Promise<FinanceVersion<T>[]> {
    const t = TABLES[entity];
    const res = await query(`SELECT ${selectColumns(t)} FROM ${t.name} WHERE ${keyWhere(t)} ORDER BY version`, t.splitKey(key));
    return res.rows.map((r) => toVersionRow<T>(r));
  }

  /** The slot-current versions of one key recorded by asOf, optionally only the one in force on `on`. */
  async function effective<T>(entity: 'building-profile' | 'loan-balance', key: string, asOf: number, pick: { on: string | undefined } | undefined): Promise<FinanceVersion<T>[]> {
    const t = TABLES[entity];
    const params: unknown[] = [...t.splitKey(key), asOfParam(asOf)];
    const asOfAt = params.length;
    let outer = 'ORDER BY effective_from';
    if (pick) {
      params.push(pick.on ?? null);
      outer = `WHERE ($${params.length}::date IS NULL OR effective_from <= $${params.length}::date) ORDER BY effective_from DESC LIMIT 1`;
    }
    const res = await query(
      `SELECT * FROM (
         SELECT DISTINCT ON (effective_from) effective_from, ${selectColumns(t)} FROM ${t.name}
         WHERE ${keyWhere(t)} AND ($${asOfAt}::bigint IS NULL OR recorded_at_ms <= $${asOfAt}::bigint)
         ORDER BY effective_from, version DESC
       ) cur ${outer}`,
      params,
    );
    return res.rows.map((r) => toVersionRow<T>(r));
  }

  /** Current versions of loans or policies with their typed filters. */
  async function listContracts<T>(
    table: 'finance_loans' | 'finance_policies',
    buildingsTable: 'finance_loan_buildings' | 'finance_policy_buildings',
    parentColumn: 'loan_id' | 'policy_id',
    asOf: number,
    filters: ReadonlyArray<readonly [column: string, value: string | undefined]>,
    building: BuildingRef | undefined,
  ): Promise<FinanceVersion<T>[]> {
    const params: unknown[] = [asOfParam(asOf)];
    const where: string[] = [];
    for (const [column, value] of filters) {
      if (value === undefined) continue;
      params.push(value);
      where.push(`cur.${column} = $${params.length}`);
    }
    if (building) {
      params.push(building.site, building.building);
      where.push(
        `EXISTS (SELECT 1 FROM ${buildingsTable} b WHERE b.${parentColumn} = cur.id AND b.version = cur.version AND b.site = $${params.length - 1} AND b.building = $${params.length})`,
      );
    }
    const res = await query(
      `SELECT cur.* FROM (
         SELECT DISTINCT ON (id) id, ${filters.map(([c]) => c).join(', ')}, version, recorded_at_ms, source, body FROM ${table}
         WHERE ($1::bigint IS NULL OR recorded_at_ms <= $1::bigint)
         ORDER BY id, version DESC
       ) cur ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY cur.id`,
      params,
    );
    return res.rows.map((r) => toVersionRow<T>(r));
  }

  return {
    putParty: put<Party>('party', 'party'),
    async getParty(id, q) {
      checkFinanceId(id, 'party');
      const asOf = asOfBound(q);
      return run('read', `get party ${id}`, () => current<Party>('party', id, asOf));
    },
    async listParties(q) {
      const asOf = asOfBound(q);
      const role = q?.role ?? null;
      return run('read', 'list parties', async () => {
        const res = await query(
          `SELECT cur.* FROM (
             SELECT DISTINCT ON (id) id, roles, version, recorded_at_ms, source, body FROM finance_parties
             WHERE ($1::bigint IS NULL OR recorded_at_ms <= $1::bigint) ORDER BY id, version DESC
           ) cur WHERE ($2::text IS NULL OR $2::text = ANY (cur.roles)) ORDER BY cur.id`,
          [asOfParam(asOf), role],
        );
        return res.rows.map((r) => toVersionRow<Party>(r));
      });
    },
    async partyHistory(id) {
      checkFinanceId(id, 'party');
      return run('read', `read the history of party ${id}`, () => history<Party>('party', id));
    },

    putBuildingProfile: put<BuildingProfile>('building-profile', 'building profile'),
    async getBuildingProfile(ref, q) {
      checkBuildingRef(ref);
      const asOf = asOfBound(q);
      const on = effectiveOnOf(q);
      return run('read', `get the profile of ${ref.site}/${ref.building}`, async () => (await effective<BuildingProfile>('building-profile', `${ref.site}/${ref.building}`, asOf, { on }))[0]);
    },
    async listBuildingProfiles(q) {
      const asOf = asOfBound(q);
      if (q?.site !== undefined) checkFinanceId(q.site, 'site');
      if (q?.building !== undefined) checkFinanceId(q.building, 'building');
      return run('read', 'list building profiles', async () => {
        const res = await query(
          `SELECT DISTINCT ON (site, building, effective_from) ${selectColumns(TABLES['building-profile'])} FROM finance_building_profiles
           WHERE ($1::bigint IS NULL OR recorded_at_ms <= $1::bigint) AND ($2::text IS NULL OR site = $2) AND ($3::text IS NULL OR building = $3)
           ORDER BY site, building, effective_from, version DESC`,
          [asOfParam(asOf), q?.site ?? null, q?.building ?? null],
        );
        return res.rows.map((r) => toVersionRow<BuildingProfile>(r));
      });
    },
    async buildingProfileHistory(ref) {
      checkBuildingRef(ref);
      return run('read', `read the profile history of ${ref.site}/${ref.building}`, () => history<BuildingProfile>('building-profile', `${ref.site}/${ref.building}`));
    },

    putLoan: put<Loan>('loan', 'loan'),
    async getLoan(id, q) {
      checkFinanceId(id, 'loan');
      const asOf = asOfBound(q);
      return run('read', `get loan ${id}`, () => current<Loan>('loan', id, asOf));
    },
    async listLoans(q) {
      const asOf = asOfBound(q);
      if (q?.lender !== undefined) checkFinanceId(q.lender, 'lender');
      if (q?.borrower !== undefined) checkFinanceId(q.borrower, 'borrower');
      if (q?.building !== undefined) checkBuildingRef(q.building);
      return run('read', 'list loans', () =>
        listContracts<Loan>(
          'finance_loans',
          'finance_loan_buildings',
          'loan_id',
          asOf,
          [
            ['lender', q?.lender],
            ['borrower', q?.borrower],
          ],
          q?.building,
        ),
      );
    },
    async loanHistory(id) {
      checkFinanceId(id, 'loan');
      return run('read', `read the history of loan ${id}`, () => history<Loan>('loan', id));
    },

    putLoanBalance: put<LoanBalance>('loan-balance', 'loan balance'),
    async loanBalances(loanId, q) {
      checkFinanceId(loanId, 'loan');
      const asOf = asOfBound(q);
      return run('read', `list the balances of loan ${loanId}`, () => effective<LoanBalance>('loan-balance', loanId, asOf, undefined));
    },
    async getLoanBalance(loanId, q) {
      checkFinanceId(loanId, 'loan');
      const asOf = asOfBound(q);
      const on = effectiveOnOf(q);
      return run('read', `get the balance of loan ${loanId}`, async () => (await effective<LoanBalance>('loan-balance', loanId, asOf, { on }))[0]);
    },

    putPolicy: put<Policy>('policy', 'policy'),
    async getPolicy(id, q) {
      checkFinanceId(id, 'policy');
      const asOf = asOfBound(q);
      return run('read', `get policy ${id}`, () => current<Policy>('policy', id, asOf));
    },
    async listPolicies(q) {
      const asOf = asOfBound(q);
      if (q?.insurer !== undefined) checkFinanceId(q.insurer, 'insurer');
      if (q?.insured !== undefined) checkFinanceId(q.insured, 'insured');
      if (q?.building !== undefined) checkBuildingRef(q.building);
      return run('read', 'list policies', () =>
        listContracts<Policy>(
          'finance_policies',
          'finance_policy_buildings',
          'policy_id',
          asOf,
          [
            ['insurer', q?.insurer],
            ['insured', q?.insured],
          ],
          q?.building,
        ),
      );
    },
    async policyHistory(id) {
      checkFinanceId(id, 'policy');
      return run('read', `read the history of policy ${id}`, () => history<Policy>('policy', id));
    },
  };
}
