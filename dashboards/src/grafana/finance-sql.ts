/**
 * SQL fragments of the lender and insurer dashboards over the finance registry (migration 4 of
 * gateway/src/registry/migrations.ts) and the finance service's append-only result records.
 *
 * The finance tables are append-only: each write of an entity is a new row keyed by
 * (key, version). "Current" here is the highest version of each key (what the registry knows
 * now); a child row (loan buildings, covenants, policy buildings, meters, periods) belongs to the
 * current version when its (parent key, version) is the parent's current one. Profiles and
 * balances have an effective date as well: the current version of each (key, effective date)
 * wins (a second write for the same date is a correction), then the latest effective date on or
 * before the day asked for is the one in force.
 */
import { sqlValues, type GrafanaConfig } from './common.js';

/** The record kinds the finance service writes (analytics/src/finance/service.ts, FINANCE_RECORD_KINDS). */
export const FINANCE_RECORD_KIND = { covenantTest: 'finance.covenant_test', settlement: 'finance.settlement' } as const;

/** A SQL string literal. */
export const sqlText = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** The local calendar day (config time zone) of the end of the dashboard's time range: the day balances, profiles and period states are read on. */
export function rangeEndDate(config: GrafanaConfig): string {
  return `(to_timestamp($__unixEpochTo()) AT TIME ZONE ${sqlText(config.timezone)})::date`;
}

/** Local midnight (config time zone) of a `date` expression, as a timestamptz. */
export function localMidnight(config: GrafanaConfig, date: string): string {
  return `((${date})::timestamp AT TIME ZONE ${sqlText(config.timezone)})`;
}

/** A record's id as the registry API shows it (the bigserial zero-padded to 16 digits, as the PostgreSQL adapter formats it). */
export const recordId = (column: string): string => `lpad(${column}::text, 16, '0')`;

/** Epoch ms → timestamptz. */
export const msTime = (ms: string): string => `to_timestamp((${ms})::float8 / 1000.0)`;

/** The current version of every party. */
export const CURRENT_PARTIES = `(SELECT DISTINCT ON (id) id, version, name, roles FROM finance_parties ORDER BY id, version DESC)`;

/** The current version of every loan (all typed columns). */
export const CURRENT_LOANS = `(SELECT DISTINCT ON (id) * FROM finance_loans ORDER BY id, version DESC)`;

/** The current version of every policy (all typed columns). */
export const CURRENT_POLICIES = `(SELECT DISTINCT ON (id) * FROM finance_policies ORDER BY id, version DESC)`;

/** Parties whose current version has `role`, as Grafana variable options (id as value, name as text). */
export function partyOptionsSql(role: 'bank' | 'insurer'): string {
  return `SELECT id AS __value, name AS __text FROM ${CURRENT_PARTIES} p WHERE ${sqlText(role)} = ANY (p.roles) ORDER BY id`;
}

/**
 * Balance of each loan in force on `onDate`: the current version of each (loan, effective date),
 * then the latest effective date on or before the day. Columns loan_id, effective_from, outstanding_cny.
 */
export function balancesInForce(onDate: string): string {
  return (
    `(SELECT DISTINCT ON (loan_id) loan_id, effective_from, outstanding_cny FROM ` +
    `(SELECT DISTINCT ON (loan_id, effective_from) loan_id, effective_from, outstanding_cny FROM finance_loan_balances ORDER BY loan_id, effective_from, version DESC) b ` +
    `WHERE effective_from <= ${onDate} ORDER BY loan_id, effective_from DESC)`
  );
}

/** Building profile in force on `onDate` (same rule as balances). */
export function profilesInForce(onDate: string): string {
  return (
    `(SELECT DISTINCT ON (site, building) * FROM ` +
    `(SELECT DISTINCT ON (site, building, effective_from) * FROM finance_building_profiles ORDER BY site, building, effective_from, version DESC) p ` +
    `WHERE effective_from <= ${onDate} ORDER BY site, building, effective_from DESC)`
  );
}

/** Current loans of the selected lender and loans (`lender`, `loan` variables), as `l`. */
export function lenderLoans(): string {
  return `(SELECT * FROM ${CURRENT_LOANS} c WHERE c.lender IN (${sqlValues('lender')}) AND c.id IN (${sqlValues('loan')})) l`;
}

/** Current policies of the selected insurer and policies (`insurer`, `policy` variables), as `p`. */
export function insurerPolicies(): string {
  return `(SELECT * FROM ${CURRENT_POLICIES} c WHERE c.insurer IN (${sqlValues('insurer')}) AND c.id IN (${sqlValues('policy')})) p`;
}

/**
 * The newest covenant test of each loan covenant and test date: the run as of the latest instant
 * (`asOfMs`, what the registry knew), then the newest record. Columns: id, key, recorded_at_ms,
 * body, loan_id, covenant_id, test_date.
 */
export function covenantTestsByDate(): string {
  return (
    `(SELECT DISTINCT ON (body->>'loanId', body->>'covenantId', body->>'testDate') id, key, recorded_at_ms, body, ` +
    `body->>'loanId' AS loan_id, body->>'covenantId' AS covenant_id, (body->>'testDate')::date AS test_date ` +
    `FROM records WHERE kind = ${sqlText(FINANCE_RECORD_KIND.covenantTest)} ` +
    `ORDER BY body->>'loanId', body->>'covenantId', body->>'testDate', (body->>'asOfMs')::bigint DESC, id DESC)`
  );
}

/** The latest test of each loan covenant: its latest test date, chosen as in `covenantTestsByDate`. */
export function latestCovenantTests(): string {
  return `(SELECT DISTINCT ON (loan_id, covenant_id) * FROM ${covenantTestsByDate()} t ORDER BY loan_id, covenant_id, test_date DESC)`;
}

/**
 * The settlement of each policy period: the run as of the latest instant (`asOfMs`), then the
 * newest record. Columns: id, body, policy_id, period_id.
 */
export function latestSettlements(): string {
  return (
    `(SELECT DISTINCT ON (body->>'policyId', body->>'periodId') id, body, body->>'policyId' AS policy_id, body->>'periodId' AS period_id ` +
    `FROM records WHERE kind = ${sqlText(FINANCE_RECORD_KIND.settlement)} ` +
    `ORDER BY body->>'policyId', body->>'periodId', (body->>'asOfMs')::bigint DESC, id DESC)`
  );
}
