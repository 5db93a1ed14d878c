/** Error catalogue of the API's transport security (rendered in docs/errors.md). */
import type { ErrorCatalogue } from '@wattproof/core';

export const SECURITY_ERRORS = {
  API_RATE_LIMITED: {
    statusCode: 429,
    retriable: true,
    meaning: 'This client address made more than API_RATE_LIMIT_REQUESTS requests within API_RATE_LIMIT_WINDOW_MS.',
    fix: 'Wait the seconds in the `Retry-After` header, then slow down (use the live stream `/api/v1/stream` instead of polling); an operator can raise the limit.',
  },
  API_AUTH_RATE_LIMITED: {
    statusCode: 429,
    retriable: true,
    meaning: 'This client address caused more than API_AUTH_FAILURE_LIMIT failed authentications (401) within API_AUTH_FAILURE_WINDOW_MS; its requests to key-protected routes are refused without checking the key until the window ends.',
    fix: 'Wait the seconds in the `Retry-After` header and fix the API key (`wattproof apikey list`); behind a reverse proxy every client shares the proxy\'s address.',
  },
} as const satisfies ErrorCatalogue;
