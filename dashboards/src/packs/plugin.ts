/**
 * HTTP routes of the report packs: `GET /api/v1/packs/buildings/:site/:building?from&to&asOf&format&lang`
 * returns the signed pack (JSON), its HTML, or the PDF; `/api/v1/packs/loans/:id` and
 * `/api/v1/packs/policies/:id` the same for a loan or a policy. Finance data: the route declares its
 * access so the auth plugin checks the caller's grants and audits every read.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { hasCode, WattproofError, type ReadingStore, type RegistryStore } from '@wattproof/core';
import { errorBody, id } from '../api/schemas.js';
import type { ProtectedResource, RouteAccess } from '../auth/types.js';
import { isFinanceRegistry } from '@wattproof/analytics';
import { DEFAULT_REPORT_LANG, REPORT_LANGS, type ReportLang } from '../report/messages.js';
import type { PdfRenderer } from '../report/pdf.js';
import { createPdfRenderer } from '../report/pdf.js';
import { assembleBuildingPack, signPack, type AssembledPack } from './build.js';
import { assembleLoanPack, assemblePolicyPack } from './finance.js';
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
      return send(reply, assembled, `wattproof-pack-${site}-${building}-${from}-${to}`, format, lang);
    },
  );

  const finance = () => {
    if (!isFinanceRegistry(opts.registry)) throw packError('PACK_SUBJECT_NOT_FOUND', 'this registry keeps no finance registry (loans, policies)');
    return opts.registry;
  };
  const loanAccess: RouteAccess = {
    action: 'read',
    finance: true,
    resource: async (req): Promise<ProtectedResource> => {
      const { id: loanId } = req.params as { id: string };
      const loan = await finance().getLoan(loanId);
      if (!loan) throw packError('PACK_SUBJECT_NOT_FOUND', `no loan ${loanId}`, { details: { loanId } });
      return { kind: 'loan', id: loan.value.id, lender: loan.value.lender, borrower: loan.value.borrower, buildings: loan.value.buildings };
    },
  };
  const policyAccess: RouteAccess = {
    action: 'read',
    finance: true,
    resource: async (req): Promise<ProtectedResource> => {
      const { id: policyId } = req.params as { id: string };
      const policy = await finance().getPolicy(policyId);
      if (!policy) throw packError('PACK_SUBJECT_NOT_FOUND', `no policy ${policyId}`, { details: { policyId } });
      return { kind: 'policy', id: policy.value.id, insurer: policy.value.insurer, insured: policy.value.insured, buildings: policy.value.buildings };
    },
  };
  const common = {
    asOf: z.iso.datetime({ offset: true }).optional().describe('What the stores knew: records recorded after it are not used (default now)'),
    format: z.enum(['json', 'html', 'pdf']).default('json'),
    lang: z.enum(REPORT_LANGS).default(DEFAULT_REPORT_LANG),
  };
  const deps = () => ({ readings: opts.readings, registry: opts.registry, ...(opts.clock ? { clock: opts.clock } : {}) });

  app.get(
    '/api/v1/packs/loans/:id',
    {
      config: { access: loanAccess },
      schema: {
        tags: ['finance'],
        summary: 'Signed, verifiable report pack of a loan: its covenant tests with test dates in (from, to], their KPI observations, M&V results, readings snapshots and profiles (docs/packs.md)',
        description: 'Lenders see the packs of their own loans only (another lender gets 404). format=json is the signed `wattproof.pack/1` document that `wattproof verify` checks.',
        params: z.object({ id }),
        querystring: z.object({ from: date, to: date, ...common }),
        response: { 200: z.any(), 400: errorBody, 404: errorBody, 500: errorBody, 503: errorBody },
      },
    },
    async (req, reply) => {
      const { from, to, asOf, format, lang } = req.query;
      const asOfMs = asOf === undefined ? undefined : Date.parse(asOf);
      const assembled = await assembleLoanPack(deps(), { loanId: req.params.id, from, to, ...(asOfMs !== undefined ? { asOfMs } : {}) });
      return send(reply, assembled, `wattproof-pack-loan-${req.params.id}-${from}-${to}`, format, lang);
    },
  );

  app.get(
    '/api/v1/packs/policies/:id',
    {
      config: { access: policyAccess },
      schema: {
        tags: ['finance'],
        summary: 'Signed, verifiable report pack of a policy: the settlements of one period (period=) or of the periods inside [from, to), with the M&V results they rest on (docs/packs.md)',
        description: 'Insurers see the packs of their own policies only (another party gets 404). format=json is the signed `wattproof.pack/1` document that `wattproof verify` checks.',
        params: z.object({ id }),
        querystring: z.object({ period: z.string().min(1).max(64).optional(), from: date.optional(), to: date.optional(), ...common }),
        response: { 200: z.any(), 400: errorBody, 404: errorBody, 500: errorBody, 503: errorBody },
      },
    },
    async (req, reply) => {
      const { period, from, to, asOf, format, lang } = req.query;
      const asOfMs = asOf === undefined ? undefined : Date.parse(asOf);
      const assembled = await assemblePolicyPack(deps(), { policyId: req.params.id, ...(period !== undefined ? { periodId: period } : {}), ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}), ...(asOfMs !== undefined ? { asOfMs } : {}) });
      return send(reply, assembled, `wattproof-pack-policy-${req.params.id}-${assembled.body.period.from}-${assembled.body.period.to}`, format, lang);
    },
  );

  async function send(reply: FastifyReply, assembled: AssembledPack, name: string, format: 'json' | 'html' | 'pdf', lang: ReportLang) {
    const pack = signPack(assembled.body, opts.signer);
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
  }
}
