/** Error catalogue of the ingest (rendered in docs/errors.md). */
import { createErrorFactory, type ErrorCatalogue } from '@wattproof/core';

export const INGEST_ERRORS = {
  INGEST_STORE_REJECTED: {
    statusCode: 422,
    retriable: false,
    meaning: 'The reading store refused a message\'s readings for good (e.g. an InfluxDB field-type conflict); the message was dead-lettered, the rest of its batch stored.',
    fix: 'Read the dead letter\'s reason; fix the store schema or the device and republish.',
  },
  INGEST_NOT_STARTED: {
    statusCode: 503,
    retriable: true,
    meaning: 'A message arrived while the ingest was closing.',
    fix: 'None: the broker redelivers unacknowledged messages when the ingest is back.',
  },
  INGEST_SEAL_RECORD_INVALID: {
    statusCode: 500,
    retriable: false,
    meaning: 'A `reading-seal` record in the registry is not a valid seal of this version (edited, truncated, or written by another program); the sealer does not extend that series\' chain.',
    fix: 'Run `wattproof verify readings --meter <id>` to see the record and what differs; restore the registry from a backup. Seal records are append-only and never edited.',
  },
  INGEST_SEAL_INPUT_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'A sealing or seal-verification request is invalid: `until` is not a `YYYY-MM-DD` date, or an id of the filter is not a valid site, building or meter id.',
    fix: 'Pass `--until` as a local date such as `2026-03-01` and ids as in the topic (`[A-Za-z0-9][A-Za-z0-9_.-]*`).',
  },
  INGEST_STREAM_UNAVAILABLE: {
    statusCode: 503,
    retriable: true,
    meaning: 'At start the ingest worker could not reach the Redis of INGEST_STREAM_REDIS_URL (refused, timed out, wrong password or database). Once running, an unreachable Redis only pauses the worker: it reads, acknowledges and renews its leases again when Redis is back.',
    fix: 'Check the URL (`redis://:password@host:port/db`, the same Redis as the gateways\' GATEWAY_STREAM_REDIS_URL) and that Redis is running; then start the worker again.',
  },
} as const satisfies ErrorCatalogue;

export const ingestError = createErrorFactory(INGEST_ERRORS);
