/** Error catalogue of the operator alerts (rendered in docs/errors.md). */
import { createErrorFactory, type ErrorCatalogue } from '@wattproof/core';

export const ALERT_ERRORS = {
  ALERT_NOT_FOUND: {
    statusCode: 404,
    retriable: false,
    meaning: 'No alert with that id has ever been raised.',
    fix: 'List alerts with GET /api/v1/alerts; an id is `<rule>:<site>[:<building>[:<meter>]]`.',
  },
  ALERT_STORE_UNAVAILABLE: {
    statusCode: 503,
    retriable: true,
    meaning: 'The registry did not store or return the alert events, so the evaluation was not applied (no alert changed state, no webhook was sent).',
    fix: 'Check GET /health; the registry (PostgreSQL or the data directory) must be reachable. The next scheduled evaluation retries.',
  },
  ALERT_RULE_FAILED: {
    statusCode: 500,
    retriable: true,
    meaning: 'One alert rule failed while evaluating (reported in the evaluation result under `rules.<rule>.error`); its alerts kept their state, the other rules ran.',
    fix: 'Read the server log for the cause (often a store that did not answer); the next evaluation retries.',
  },
  ALERT_ENGINE_CLOSED: {
    statusCode: 503,
    retriable: false,
    meaning: 'An evaluation was requested after the alert engine was closed (the process is stopping).',
    fix: 'Start the process again; evaluations resume on its schedule.',
  },
  ALERT_WEBHOOK_FAILED: {
    statusCode: 502,
    retriable: true,
    meaning: 'A webhook POST failed: the connection failed, it timed out, or the receiver answered 408, 429 or 5xx. Recorded as a delivery attempt (`alert.delivery`) and retried with back-off.',
    fix: 'Check that the receiver is up and answers 2xx within ALERT_WEBHOOK_TIMEOUT_MS; the delivery records show each attempt.',
  },
  ALERT_WEBHOOK_REJECTED: {
    statusCode: 400,
    retriable: false,
    meaning: 'A webhook receiver answered with a 4xx status other than 408 and 429 (e.g. a bad signature or a wrong URL); the delivery is not retried.',
    fix: 'Check the URL in ALERT_WEBHOOK_URLS and that the receiver verifies the signature with the same ALERT_WEBHOOK_SECRET.',
  },
} as const satisfies ErrorCatalogue;

export type AlertErrorCode = keyof typeof ALERT_ERRORS;

export const alertError = createErrorFactory(ALERT_ERRORS);
