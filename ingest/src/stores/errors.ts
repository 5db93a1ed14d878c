/**
 * Error catalogue of the reading-store adapters (memory, DuckDB, InfluxDB).
 * Callers match on `err.code` and decide on a retry with `err.retriable`.
 */
import { WattproofError, createErrorFactory, type ErrorCatalogue } from '@wattproof/core';

/** Codes, meanings and fixes of every reading-store failure (rendered in docs/errors.md). */
export const STORE_ERRORS = {
  STORE_WRITE_FAILED: {
    statusCode: 502,
    retriable: true,
    meaning:
      'The store answered a write with an error. Retriable when it was overloaded or failed internally (HTTP 5xx, 429, 408); not retriable when it rejected the data or the credentials (other 4xx), in which case `retriable` is false and `details.status` says why.',
    fix: 'For retriable failures keep the batch and retry with backoff. For rejected writes read `details.body`: check the database/bucket exists, the token may write to it, and the field types match earlier writes.',
  },
  STORE_UNAVAILABLE: {
    statusCode: 503,
    retriable: true,
    meaning: 'The store could not be reached: connection refused, DNS failure, timeout, or the embedded database is closed.',
    fix: 'Check that the store runs and that `INFLUX_URL` (or `WATTPROOF_DATA_DIR`) points at it; raise `INFLUX_TIMEOUT_MS` for slow links. The ingest keeps the batch and retries.',
  },
  STORE_QUERY_FAILED: {
    statusCode: 502,
    retriable: false,
    meaning: 'The store rejected or failed a read (query syntax, permissions, or an internal error). `retriable` is true for 5xx answers.',
    fix: 'Read `details` for the store\'s own message; for InfluxDB 2.x/3.x check the token may read the database and a DBRP mapping exists for the bucket.',
  },
  STORE_QUERY_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'A query asked for something no store can answer: an unknown IANA time zone, an unknown bucket, or a non-finite time range.',
    fix: 'Pass an IANA time zone such as `Asia/Shanghai`, a bucket of `15m`, `1h`, `1d`, `1mo`, and epoch-millisecond bounds.',
  },
  STORE_CONFIG_INVALID: {
    statusCode: 500,
    retriable: false,
    meaning: 'The reading-store configuration is inconsistent, e.g. `READINGS_STORE=influxdb` without `INFLUX_URL`, or an URL that does not parse.',
    fix: 'Set the keys named in the message; the README lists every key with its default.',
  },
} as const satisfies ErrorCatalogue;

/** A code of {@link STORE_ERRORS}. */
export type StoreErrorCode = keyof typeof STORE_ERRORS;

const make = createErrorFactory(STORE_ERRORS);

/**
 * Builds a store error from the catalogue. `retriable` overrides the catalogue default for the
 * codes whose retriability depends on the answer (a 4xx write is final, a 5xx one is not).
 */
export function storeError(
  code: StoreErrorCode,
  message: string,
  extra: { details?: unknown; cause?: unknown; retriable?: boolean } = {},
): WattproofError {
  const err = make(code, message, { details: extra.details, cause: extra.cause });
  if (extra.retriable === undefined || extra.retriable === err.retriable) return err;
  return new WattproofError(code, message, {
    statusCode: err.statusCode,
    retriable: extra.retriable,
    details: extra.details,
    cause: extra.cause,
  });
}
