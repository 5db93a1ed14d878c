/** Error catalogue of the HTTP API (rendered in docs/errors.md). */
import type { ErrorCatalogue } from '@wattproof/core';

export const API_ERRORS = {
  API_REQUEST_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'A path, query or body parameter failed validation.',
    fix: 'Read `error.details.issues`: each names the parameter and what was expected (see /docs).',
  },
  API_NOT_FOUND: {
    statusCode: 404,
    retriable: false,
    meaning: 'No route, or no site/building/meter with that id.',
    fix: 'List what exists with GET /api/v1/meters; ids are case-sensitive.',
  },
  API_RANGE_TOO_LARGE: {
    statusCode: 400,
    retriable: false,
    meaning: 'The requested time range would return more rows than allowed for its bucket.',
    fix: 'Use a coarser `bucket` (1h, 1d, 1mo) or a shorter range.',
  },
  API_INTERNAL: {
    statusCode: 500,
    retriable: true,
    meaning: 'An unexpected failure; details are in the server log, not in the response.',
    fix: 'Retry; if it persists, report it with the time and request.',
  },
  API_STORE_UNAVAILABLE: {
    statusCode: 503,
    retriable: true,
    meaning: 'The reading store or registry did not answer.',
    fix: 'Check GET /health; the store (InfluxDB, PostgreSQL or the data directory) must be reachable.',
  },
} as const satisfies ErrorCatalogue;
