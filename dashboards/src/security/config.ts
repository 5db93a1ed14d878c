/** Config of the API's transport security: rate limits and TLS; keys are environment variable names, units in the names. */
import { z } from 'zod';
import { envInt, envOptionalString } from '@wattproof/core';

/** Requests one client address may make per window (all routes but the exempt ones). */
export const DEFAULT_RATE_LIMIT_REQUESTS = 1_200;
/** Window of the per-address request limit, ms. */
export const DEFAULT_RATE_LIMIT_WINDOW_MS = 60_000;
/** Failed authentications (401) one client address may cause per window. */
export const DEFAULT_AUTH_FAILURE_LIMIT = 30;
/** Window of the failed-authentication limit, ms. */
export const DEFAULT_AUTH_FAILURE_WINDOW_MS = 300_000;

export const apiSecurityConfigSchema = z.object({
  API_RATE_LIMIT_REQUESTS: envInt(DEFAULT_RATE_LIMIT_REQUESTS, 0, 10_000_000).describe(
    'Requests one client address may make per API_RATE_LIMIT_WINDOW_MS; more get 429 API_RATE_LIMITED with Retry-After. /health, /ready, /metrics and the live stream are exempt. 0 = no limit',
  ),
  API_RATE_LIMIT_WINDOW_MS: envInt(DEFAULT_RATE_LIMIT_WINDOW_MS, 1_000, 86_400_000).describe('Window of API_RATE_LIMIT_REQUESTS, ms'),
  API_AUTH_FAILURE_LIMIT: envInt(DEFAULT_AUTH_FAILURE_LIMIT, 0, 1_000_000).describe(
    'Failed authentications (401: missing, unknown, wrong, expired or revoked API key) one client address may cause per API_AUTH_FAILURE_WINDOW_MS; after that its requests to key-protected routes get 429 API_AUTH_RATE_LIMITED until the window ends, without the key being checked (stops key guessing and audit-log flooding). 0 = no limit',
  ),
  API_AUTH_FAILURE_WINDOW_MS: envInt(DEFAULT_AUTH_FAILURE_WINDOW_MS, 1_000, 86_400_000).describe('Window of API_AUTH_FAILURE_LIMIT, ms'),
  API_TLS_CERT_FILE: envOptionalString().describe('PEM certificate chain: with API_TLS_KEY_FILE the API (and console) is served over HTTPS only'),
  API_TLS_KEY_FILE: envOptionalString().describe('PEM private key for API_TLS_CERT_FILE'),
});

export type ApiSecurityConfig = z.output<typeof apiSecurityConfigSchema>;
