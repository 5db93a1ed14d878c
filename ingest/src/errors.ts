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
} as const satisfies ErrorCatalogue;

export const ingestError = createErrorFactory(INGEST_ERRORS);
