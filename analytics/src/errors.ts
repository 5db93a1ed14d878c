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
  ...CALTRACK_HOURLY_ERRORS,
} as const satisfies ErrorCatalogue;
