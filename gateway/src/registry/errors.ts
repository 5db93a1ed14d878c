/** Error catalogue of the registry store adapters (rendered in docs/errors.md). */
import { createErrorFactory, type ErrorCatalogue } from '@wattproof/core';

export const REGISTRY_ERRORS = {
  REGISTRY_UNAVAILABLE: {
    statusCode: 503,
    retriable: true,
    meaning: 'The registry store cannot be reached: PostgreSQL refused or dropped the connection, timed out, or is shutting down; or the data directory cannot be opened.',
    fix: 'Check REGISTRY_POSTGRES_URL and that the server is up (`pg_isready`), or that WATTPROOF_DATA_DIR exists and is readable and writable by this process. Callers retry.',
  },
  REGISTRY_WRITE_FAILED: {
    statusCode: 503,
    retriable: true,
    meaning: 'A write (upsert, principal, dead letter, register event) was not confirmed durable: the append or fsync failed (disk full, I/O error) or the transaction failed.',
    fix: 'Read `cause`; free disk space or fix permissions of the data directory, or check the PostgreSQL log. Nothing was acknowledged, so the caller may retry.',
  },
  REGISTRY_READ_FAILED: {
    statusCode: 503,
    retriable: true,
    meaning: 'A read of the registry failed after the store was reached (I/O error on a registry file, query error).',
    fix: 'Read `cause`; check the disk or the PostgreSQL log.',
  },
  REGISTRY_INPUT_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'The store refused a value: a malformed cursor (`before`), an invalid record kind or key, a record body JSON cannot carry unchanged (NaN, Infinity, bigint, cycles, Dates), or data the database cannot hold (e.g. a NUL character in text).',
    fix: 'Pass `before` exactly as an `id` returned by the same store; record bodies must be plain JSON; dead-letter payloads with control characters go as base64 (see encodeDeadLetterPayload).',
  },
  REGISTRY_CORRUPT: {
    statusCode: 500,
    retriable: false,
    meaning: 'A registry file holds a record this version cannot read (a newer format version or an unknown record type), so continuing could lose data.',
    fix: 'Run the same or a newer Wattproof version on this data directory; `details` names the file and line offset.',
  },
  REGISTRY_SCHEMA_TOO_NEW: {
    statusCode: 500,
    retriable: false,
    meaning: 'The PostgreSQL database has registry migrations applied that this version does not know: a newer Wattproof version migrated it.',
    fix: 'Upgrade this process to the version that migrated the database, or point REGISTRY_POSTGRES_URL at another database.',
  },
  REGISTRY_MIGRATION_FAILED: {
    statusCode: 500,
    retriable: false,
    meaning: 'Applying a registry migration to PostgreSQL failed; the migration was rolled back.',
    fix: 'Read `cause` and `details.version`; check the role may create tables in the database (`GRANT CREATE ON SCHEMA public`).',
  },
  REGISTRY_FINANCE_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'A finance entity (party, building profile, loan, covenant, loan balance, policy) failed validation: a missing or unknown field, an id or date in the wrong form, a negative amount, `from` not before `to`, overlapping policy periods, a covenant outside its loan. Nothing was stored.',
    fix: 'Read `details.issues`: each names the field path (e.g. `covenants[0].schedule.firstTestDate`) and what is expected; docs/finance-registry.md describes every field.',
  },
  REGISTRY_FINANCE_REFERENCE_UNKNOWN: {
    statusCode: 409,
    retriable: false,
    meaning: 'A finance entity names a party or loan the registry does not know, or a party without the role it needs (a loan\'s lender must be a `bank`, a policy\'s insurer an `insurer`). Nothing was stored.',
    fix: 'Store the parties first (`wattproof finance load` does: parties, building profiles, loans, balances, policies), or add the missing role to the party; `details` names the reference.',
  },
  REGISTRY_FINANCE_OUT_OF_ORDER: {
    statusCode: 409,
    retriable: false,
    meaning: 'A new finance version has a `recordedAtMs` earlier than the latest version of the same entity: storing it would change what past as-of reads returned.',
    fix: 'Record corrections with the current time (the registry keeps the history; never back-date `recordedAtMs`); `details` has the latest `recordedAtMs`. Check the clock of the writing host.',
  },
  REGISTRY_CLOSED: {
    statusCode: 500,
    retriable: false,
    meaning: 'The registry store was used after `close()`.',
    fix: 'A bug in the caller: stop using a store after closing it, or create a new one.',
  },
} as const satisfies ErrorCatalogue;

export type RegistryErrorCode = keyof typeof REGISTRY_ERRORS;

/** Builds a registry error with the catalogue's status code and retriable flag. */
export const registryError = createErrorFactory(REGISTRY_ERRORS);
