/** Error catalogue of the web console and its data endpoints (rendered in docs/errors.md). */
import type { ErrorCatalogue } from '@wattproof/core';

export const CONSOLE_ERRORS = {
  CONSOLE_BUNDLE_FAILED: {
    statusCode: 500,
    retriable: false,
    meaning: 'The console front end (dashboards/console/) could not be bundled when the API started; the API routes still work.',
    fix: 'Read the server log for the esbuild message, fix the source under dashboards/console/src and restart; `npm run typecheck` shows type errors.',
  },
  CONSOLE_STREAM_FULL: {
    statusCode: 503,
    retriable: true,
    meaning: 'The live stream (GET /api/v1/stream) already serves the most clients allowed at once.',
    fix: 'Retry after the seconds in `Retry-After`; close unused console tabs, or raise `streamMaxClients` in the console options of createApiServer.',
  },
  CONSOLE_TOO_MANY_SERIES: {
    statusCode: 400,
    retriable: false,
    meaning: 'A data-quality or time-series request covers more series than one response may carry.',
    fix: 'Narrow it with `site` and `building` (or `meters`).',
  },
} as const satisfies ErrorCatalogue;
