/** Error catalogue of the analytics (rendered in docs/errors.md, with the hourly model's own codes). */
import type { ErrorCatalogue } from '@wattproof/core';
import { CALTRACK_HOURLY_ERRORS } from './caltrack/hourly.js';

export const MV_ERRORS = {
  MV_NO_DATA: {
    statusCode: 422,
    retriable: false,
    meaning: 'No baseline day (or billing period) has both usage and temperature, so no model can be fitted.',
    fix: 'Check the baseline dates, the time zone, and that the temperature series covers the baseline; `wattproof mv --help` describes the CSV formats.',
  },
  MV_MODEL_DISQUALIFIED: {
    statusCode: 422,
    retriable: false,
    meaning: 'A daily or billing model with disqualifications was asked to predict without an override: its figures would not be verified savings.',
    fix: 'Fix the data sufficiency listed in `details.disqualifications`, or give an explicit override (it is recorded in the result).',
  },
  MV_QUEUE_UNAVAILABLE: {
    statusCode: 503,
    retriable: true,
    meaning: 'At start, the Redis of the M&V job queue (ANALYTICS_QUEUE_REDIS_URL) could not be reached (refused, timed out, wrong password or database), so `wattproof analytics-worker`, `wattproof api` or `wattproof start` did not start. Once running, an unreachable Redis is not fatal: the schedule logs the tick it could not enqueue and tries again at the next one, and the workers reconnect and go on.',
    fix: 'Check the URL (`redis://:password@host:port/db`, the same on the API processes and the workers) and that Redis is running; then start the process again. Unset ANALYTICS_QUEUE_REDIS_URL to run analyses in the API process instead.',
  },
  ...CALTRACK_HOURLY_ERRORS,
} as const satisfies ErrorCatalogue;
