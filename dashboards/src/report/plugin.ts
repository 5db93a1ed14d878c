/**
 * HTTP route of the monthly operator report:
 * `GET /api/v1/buildings/:site/:building/reports/monthly?month=YYYY-MM&lang=zh-CN|en&format=html|pdf|json`.
 * HTML and JSON need only the stores; PDF prints the HTML with the shared headless Chromium,
 * answering 503 REPORT_CHROMIUM_UNAVAILABLE (with how to install it) when there is none.
 * The report is about one building: the keys that may read the building may read it (docs/access.md).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { hasCode, WattproofError, type ReadingStore, type RegistryStore } from '@wattproof/core';
import { buildingRead } from '../api/access.js';
import { errorBody, id } from '../api/schemas.js';
import type { ReportConfig } from './config.js';
import { renderMonthlyReportHtml } from './html.js';
import { DEFAULT_REPORT_LANG, REPORT_LANGS } from './messages.js';
import { createMonthlyReport, type ReportAlert } from './model.js';
import { createPdfRenderer, type PdfRenderer } from './pdf.js';

export const REPORT_FORMATS = ['html', 'pdf', 'json'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportPluginOptions {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  readonly clock?: () => number;
  /** Where active alerts come from (the alert engine behind GET /api/v1/alerts fits); optional. */
  readonly alerts?: ReportAlertSource;
  /** PDF settings (Chromium path, concurrency, timeout); defaults from DEFAULT_REPORT_CONFIG. */
  readonly reportConfig?: Partial<ReportConfig>;
  /** A renderer to use instead of launching one (shared between apps, or in tests); the plugin then does not close it. */
  readonly pdfRenderer?: PdfRenderer;
}

/** File name of a report download, e.g. `wattproof-yuzhong-yz-hotel-2026-11.pdf`. */
export function reportFileName(site: string, building: string, month: string, format: ReportFormat): string {
  return `wattproof-${site}-${building}-${month}.${format}`;
}

/** A source of alerts, filtered to one building's active ones. */
export interface ReportAlertSource {
  list(filter: { site: string; building: string; state: 'active' }): Promise<ReportAlert[]>;
}

export async function reportPlugin(fastify: FastifyInstance, opts: ReportPluginOptions): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const renderer = opts.pdfRenderer ?? createPdfRenderer(opts.reportConfig);
  if (!opts.pdfRenderer) fastify.addHook('onClose', async () => renderer.close());

  app.get(
    '/api/v1/buildings/:site/:building/reports/monthly',
    {
      config: { access: buildingRead },
      schema: {
        tags: ['reports'],
        summary: 'Monthly operator report of a building: energy by meter and end use, peak demand, EUI vs GB/T 51161, verified savings, carbon, data quality',
        description:
          'format=html (default) is a self-contained printable document (A4, inline SVG charts); json the data model with every figure and its unit; pdf the document printed by headless Chromium (503 REPORT_CHROMIUM_UNAVAILABLE when it is not installed: print the HTML from a browser instead).',
        params: z.object({ site: id, building: id }),
        querystring: z.object({
          month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a calendar month YYYY-MM'),
          lang: z.enum(REPORT_LANGS).default(DEFAULT_REPORT_LANG),
          format: z.enum(REPORT_FORMATS).default('html'),
        }),
        response: { 200: z.any().describe('text/html, application/pdf or application/json (the report model)'), 400: errorBody, 404: errorBody, 500: errorBody, 503: errorBody },
      },
    },
    async (req, reply) => {
      const { site, building } = req.params;
      const { month, lang, format } = req.query;
      const alerts = opts.alerts;
      const model = await createMonthlyReport(
        { readings: opts.readings, registry: opts.registry, ...(opts.clock ? { clock: opts.clock } : {}), ...(alerts ? { alerts: () => alerts.list({ site, building, state: 'active' }) } : {}) },
        { site, building, month, lang },
      );
      if (format === 'json') return reply.type('application/json; charset=utf-8').send(JSON.stringify(model));
      const html = renderMonthlyReportHtml(model);
      if (format === 'html') return reply.type('text/html; charset=utf-8').send(html);
      try {
        const pdf = await renderer.render(html);
        return reply
          .type('application/pdf')
          .header('content-disposition', `inline; filename="${reportFileName(site, building, month, 'pdf')}"`)
          .send(pdf);
      } catch (err) {
        // Sent here, not thrown: the server's error handler would hide a 503 behind API_STORE_UNAVAILABLE.
        if (hasCode(err, 'REPORT_CHROMIUM_UNAVAILABLE') || hasCode(err, 'REPORT_RENDERER_BUSY')) {
          const e = err as WattproofError;
          req.log.warn({ err }, 'PDF report not rendered');
          if (e.retriable) reply.header('retry-after', '5');
          return reply.code(503).send({ error: { code: e.code, message: e.message } });
        }
        throw err;
      }
    },
  );
}
