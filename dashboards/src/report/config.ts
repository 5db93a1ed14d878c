/** Configuration of the PDF rendering of reports; keys are environment variable names (parsed by `main`). */
import { z } from 'zod';
import { envInt } from '@wattproof/core';

/** Default Chromium binary (Debian's `chromium` package). */
export const DEFAULT_REPORT_CHROMIUM_PATH = '/usr/bin/chromium';
/** PDFs rendered at the same time in one browser. */
export const DEFAULT_REPORT_PDF_CONCURRENCY = 2;
/** Renderings allowed to wait for a free slot before new ones are refused (REPORT_RENDERER_BUSY). */
export const DEFAULT_REPORT_PDF_QUEUE_MAX = 16;
/** Longest one rendering (page load + print) may take, ms. */
export const DEFAULT_REPORT_PDF_TIMEOUT_MS = 60_000;

export const reportConfigSchema = z.object({
  REPORT_CHROMIUM_PATH: z.string().min(1).default(DEFAULT_REPORT_CHROMIUM_PATH).describe('Chromium or Chrome binary used to print reports to PDF (`format=pdf`); without it only HTML and JSON reports are served'),
  REPORT_PDF_CONCURRENCY: envInt(DEFAULT_REPORT_PDF_CONCURRENCY, 1, 16).describe('PDF reports rendered at the same time (one shared headless browser)'),
  REPORT_PDF_QUEUE_MAX: envInt(DEFAULT_REPORT_PDF_QUEUE_MAX, 0, 1000).describe('PDF reports allowed to wait for a rendering slot; more are refused with REPORT_RENDERER_BUSY'),
  REPORT_PDF_TIMEOUT_MS: envInt(DEFAULT_REPORT_PDF_TIMEOUT_MS, 1000, 600_000).describe('Longest one PDF rendering may take, in milliseconds'),
});
export type ReportConfig = z.output<typeof reportConfigSchema>;

/** The defaults, frozen. */
export const DEFAULT_REPORT_CONFIG: Readonly<ReportConfig> = Object.freeze({
  REPORT_CHROMIUM_PATH: DEFAULT_REPORT_CHROMIUM_PATH,
  REPORT_PDF_CONCURRENCY: DEFAULT_REPORT_PDF_CONCURRENCY,
  REPORT_PDF_QUEUE_MAX: DEFAULT_REPORT_PDF_QUEUE_MAX,
  REPORT_PDF_TIMEOUT_MS: DEFAULT_REPORT_PDF_TIMEOUT_MS,
});
