/** Error catalogue of the monthly operator report (rendered in docs/errors.md). */
import { createErrorFactory, type ErrorCatalogue } from '@wattproof/core';

export const REPORT_ERRORS = {
  REPORT_MONTH_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'The report month is not a calendar month `YYYY-MM` (e.g. `2026-13`), or it lies entirely in the future.',
    fix: 'Pass `month=YYYY-MM` for the current or an earlier month, e.g. `2026-11`.',
  },
  REPORT_BUILDING_NOT_FOUND: {
    statusCode: 404,
    retriable: false,
    meaning: 'The registry has no building with that site and id, so there is nothing to report on.',
    fix: 'List the buildings with GET /api/v1/sites/<site>/buildings; ids are case-sensitive.',
  },
  REPORT_CHROMIUM_UNAVAILABLE: {
    statusCode: 503,
    retriable: false,
    meaning: 'A PDF was asked for but Chromium (or the playwright-core driver) is not installed or could not be started at `REPORT_CHROMIUM_PATH`.',
    fix: 'Install Chromium (`apt-get install chromium`) or point `REPORT_CHROMIUM_PATH` at a Chromium or Chrome binary; or ask for `format=html` and print the document to PDF from a browser (A4, print styles included).',
  },
  REPORT_RENDERER_BUSY: {
    statusCode: 503,
    retriable: true,
    meaning: 'Too many PDF renderings are waiting for the browser (bounded by `REPORT_PDF_CONCURRENCY` and `REPORT_PDF_QUEUE_MAX`).',
    fix: 'Retry after a few seconds, or ask for `format=html` which needs no browser.',
  },
  REPORT_PDF_FAILED: {
    statusCode: 500,
    retriable: true,
    meaning: 'Chromium started but failed or timed out while printing the report to PDF.',
    fix: 'Retry; if it persists, check the server log and `REPORT_PDF_TIMEOUT_MS`, or print the HTML from a browser.',
  },
} as const satisfies ErrorCatalogue;

export type ReportErrorCode = keyof typeof REPORT_ERRORS;

/** Creates a WattproofError of the report catalogue. */
export const reportError = createErrorFactory(REPORT_ERRORS);
