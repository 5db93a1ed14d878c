/**
 * HTTP routes of the report packs: `GET /api/v1/packs/buildings/:site/:building?from&to&asOf&format&lang`
 * returns the signed pack (JSON), its HTML, or the PDF. Finance data: the route declares its
 * access so the auth plugin checks the caller's grants and audits every read.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { hasCode, WattproofError, type ReadingStore, type RegistryStore } from '@wattproof/core';
import { errorBody, id } from '../api/schemas.js';
import type { RouteAccess } from '../auth/types.js';
import { DEFAULT_REPORT_LANG, REPORT_LANGS } from '../report/messages.js';
import type { PdfRenderer } from '../report/pdf.js';
import { createPdfRenderer } from '../report/pdf.js';
import { assembleBuildingPack, signPack } from './build.js';
import { packError } from './errors.js';
import { packJson } from './files.js';
import { renderPackHtml } from './html.js';
import type { PackSigner } from './signing.js';

export interface PacksPluginOptions {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  readonly signer: PackSigner;
  readonly clock?: () => number;
  /** A shared renderer (the plugin then does not close it); otherwise one is launched on the first PDF. */
  readonly pdfRenderer?: PdfRenderer;
}

const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a local date YYYY-MM-DD');

export async function packsPlugin(fastify: FastifyInstance, opts: PacksPluginOptions): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const renderer = opts.pdfRenderer ?? createPdfRenderer();
  if (!opts.pdfRenderer) fastify.addHook('onClose', async () => renderer.close());
  const access: RouteAccess = {
    action: 'read',
    finance: true,
    resource: (req) => {
      const p = req.params as { site: string; building: string };
      return { kind: 'building', site: p.site, building: p.building };
    },
  };

  app.get(
    '/api/v1/packs/buildings/:site/:building',
    {
      config: { access },
      schema: {
        tags: ['m&v'],
        summary: 'Signed, verifiable report pack of a building over a period: M&V figures, data quality, Merkle roots of the readings used (docs/packs.md)',
        description: 'format=json (default) is the signed `wattproof.pack/1` document that `wattproof verify` checks; html the printable report of it; pdf that report printed by headless Chromium.',
        params: z.object({ site: id, building: id }),
        querystring: z.object({
          from: date,
          to: date,
          asOf: z.iso.datetime({ offset: true }).optional().describe('What the stores knew: records recorded after it are not used (default now)'),
          format: z.enum(['json', 'html', 'pdf']).default('json'),
          lang: z.enum(REPORT_LANGS).default(DEFAULT_REPORT_LANG),
        }),
        response: { 200: z.any(), 400: errorBody, 404: errorBody, 500: errorBody, 503: errorBody },
      },
    },
    async (req, reply) => {
      const { site, building } = req.params;
      const { from, to, asOf, format, lang } = req.query;
      const asOfMs = asOf === undefined ? undefined : Date.parse(asOf);
      if (asOfMs !== undefined && Number.isNaN(asOfMs)) throw packError('PACK_REQUEST_INVALID', `asOf ${asOf} is not an instant`);
      const assembled = await assembleBuildingPack({ readings: opts.readings, registry: opts.registry, ...(opts.clock ? { clock: opts.clock } : {}) }, { site, building, from, to, ...(asOfMs !== undefined ? { asOfMs } : {}) });
      const pack = signPack(assembled.body, opts.signer);
      const name = `wattproof-pack-${site}-${building}-${from}-${to}`;
      if (format === 'json') return reply.type('application/json; charset=utf-8').header('content-disposition', `inline; filename="${name}.json"`).send(packJson(pack));
      const html = renderPackHtml(pack, lang);
      if (format === 'html') return reply.type('text/html; charset=utf-8').send(html);
      try {
        return reply.type('application/pdf').header('content-disposition', `inline; filename="${name}.pdf"`).send(await renderer.render(html));
      } catch (err) {
        // Sent here: the server's error handler would hide a 503 behind API_STORE_UNAVAILABLE.
        if (hasCode(err, 'REPORT_CHROMIUM_UNAVAILABLE') || hasCode(err, 'REPORT_RENDERER_BUSY')) {
          const e = err as WattproofError;
          return reply.code(503).send({ error: { code: e.code, message: e.message } });
        }
        throw err;
      }
    },
  );
}
