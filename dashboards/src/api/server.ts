/**
 * The API server: fastify with zod validation, OpenAPI at /docs, errors as
 * `{ error: { code, message, details? } }` with stable codes; 5xx bodies hide internals.
 *
 * Logs: every line fastify writes for a request carries its id (`reqId`), taken from a safe
 * `X-Request-Id` header or generated, and echoed in the `X-Request-Id` response header. Requests
 * are logged without their headers (the API key rides in `Authorization` / `X-Api-Key`).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { isFinanceRegistry, type AlertEngine, type FinanceService, type MvJobs } from '@wattproof/analytics';
import { apiPlugin, type ApiDeps } from './app.js';
import { financePlugin } from '../finance/plugin.js';
import { mvPlugin } from './mv.js';
import { reportPlugin } from '../report/plugin.js';
import { alertsPlugin } from './alerts.js';
import { packsPlugin, type PackSigner } from '../packs/index.js';
import { consolePlugin } from '../console/plugin.js';
import type { ConsoleConfig } from '../console/config.js';
import { authPlugin, createAccessControl, type AccessControl } from '../auth/index.js';
import type { ReportConfig } from '../report/config.js';
import { apiSecurityConfigSchema, securityPlugin, SWAGGER_UI_CSP, type ApiSecurityConfig } from '../security/index.js';

export interface ApiServerOptions {
  /** fastify logger option (pino instance or options); off by default. */
  readonly logger?: FastifyServerOptions['loggerInstance'];
  readonly version?: string;
  /** The web console at `/` with its data endpoints and live stream (on by default); `false` turns it off. */
  readonly console?: false | Partial<ConsoleConfig>;
  /** Monthly report settings (Chromium path for PDFs, concurrency, timeout). */
  readonly report?: Partial<ReportConfig>;
  /** Security headers, rate limits and TLS (dashboards/src/security; docs/SECURITY.md); schema defaults for what is not given. */
  readonly security?: Partial<ApiSecurityConfig>;
}

/** The header a request id comes in and goes back out in. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Incoming `X-Request-Id` values taken as the request id: short, no spaces, nothing a log or a
 * response header could be confused by. Anything else gets a fresh UUID.
 */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  // A header sent twice arrives joined with ", ": not an id.
  return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
}

/**
 * How requests and replies appear in log lines: no headers, so no API key (`Authorization`,
 * `X-Api-Key`) and no cookie; keys are never in URLs (docs/access.md), so the URL stays.
 */
const LOG_SERIALIZERS = {
  req: (req: FastifyRequest) => ({ method: req.method, url: req.url, remoteAddress: req.ip, remotePort: req.socket?.remotePort }),
  res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
};

/** Second line of defence: credentials anything logs by mistake (an error carrying request headers) are censored. */
const LOG_REDACT = {
  paths: ['authorization', '"x-api-key"', 'headers.authorization', 'headers["x-api-key"]', '*.headers.authorization', '*.headers["x-api-key"]', '*.authorization', '*["x-api-key"]'],
  censor: '[redacted]',
};

type ErrorLike = { code?: unknown; statusCode?: unknown; message?: unknown; details?: unknown; validation?: unknown };

/** OpenAPI security schemes: how a guarded route takes its API key (docs/access.md). */
export const API_SECURITY_SCHEMES = {
  bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key `wp_<keyId>_<secret>` as `Authorization: Bearer <key>` (docs/access.md)' },
  apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'The same API key in `X-Api-Key`' },
} as const;

/**
 * `deps.access` checks the API key every route but the open ones needs (API keys, roles, audit
 * log; docs/access.md); default: an access control over `deps.registry` with the default config.
 */
export async function createApiServer(deps: ApiDeps & { readonly jobs?: MvJobs; readonly alerts?: AlertEngine; readonly access?: AccessControl; readonly packSigner?: PackSigner; readonly finance?: FinanceService }, options: ApiServerOptions = {}): Promise<FastifyInstance> {
  const security = apiSecurityConfigSchema.parse(options.security ?? {});
  const tls = security.API_TLS_CERT_FILE && security.API_TLS_KEY_FILE ? { cert: readFileSync(security.API_TLS_CERT_FILE), key: readFileSync(security.API_TLS_KEY_FILE) } : undefined;
  const app = Fastify({
    // Our serializers win over fastify's (they are the logger's own); the redaction carries over to fastify's children.
    ...(options.logger ? { loggerInstance: options.logger.child({}, { serializers: LOG_SERIALIZERS, redact: LOG_REDACT }) } : { logger: false }),
    genReqId: requestIdOf,
    bodyLimit: 1024 * 1024,
    // Errors the router raises before any route runs (bad percent-encoding, a path parameter over
    // 100 characters) get the same `{ error: { code, message } }` body as every other 400.
    frameworkErrors: (error, request, reply) => {
      const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is longer than 100 characters' : 'the URL is not valid (bad percent-encoding or characters)';
      // No hook runs for these: the request id goes out here.
      reply.raw.setHeader(REQUEST_ID_HEADER, request.id);
      (reply as unknown as { code(status: number): { send(body: unknown): void } }).code(400).send({ error: { code: 'API_REQUEST_INVALID', message } });
    },
    ...(tls ? { https: tls } : {}),
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // First of every hook, so refusals (rate limit, missing key) carry it too; on the raw response,
  // so a stream the handler writes itself (the console's live stream) carries it as well.
  app.addHook('onRequest', (request, reply, done) => {
    reply.raw.setHeader(REQUEST_ID_HEADER, request.id);
    done();
  });

  app.setErrorHandler((error: ErrorLike, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const issues = error.validation.map((v) => ({
        path: [String(v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.')].filter(Boolean).join('') || String((v.params as { issue?: { path?: unknown[] } })?.issue?.path?.join('.') ?? ''),
        message: v.message ?? 'invalid',
      }));
      const where = (error as { validationContext?: string }).validationContext ?? 'request';
      return reply.code(400).send({
        error: { code: 'API_REQUEST_INVALID', message: `invalid ${where}: ${issues.map((i) => `${i.path ? `${i.path}: ` : ''}${i.message}`).join('; ')}`, details: { issues } },
      });
    }
    const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      const unavailable = status === 503 || (typeof error.code === 'string' && /UNAVAILABLE|STORE_/.test(error.code));
      return reply.code(unavailable ? 503 : 500).send({
        error: unavailable
          ? { code: 'API_STORE_UNAVAILABLE', message: 'a store did not answer; see /health' }
          : { code: 'API_INTERNAL', message: 'internal error' },
      });
    }
    const code = typeof error.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(error.code) && !error.code.startsWith('FST_') ? error.code : status === 404 ? 'API_NOT_FOUND' : 'API_REQUEST_INVALID';
    return reply.code(status).send({
      error: { code, message: String(error.message ?? 'invalid request'), ...(error.details !== undefined ? { details: error.details } : {}) },
    });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: { code: 'API_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });

  await app.register(securityPlugin, { config: security, ...(deps.clock ? { clock: deps.clock } : {}) });

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Wattproof API',
        description: 'Building-meter readings, portfolio and data quality. Errors are `{ error: { code, message, details? } }`; codes are listed in docs/errors.md.',
        version: options.version ?? '0.1.0',
      },
      tags: [{ name: 'portfolio' }, { name: 'readings' }, { name: 'data quality' }, { name: 'm&v' }, { name: 'ops' }],
      components: { securitySchemes: API_SECURITY_SCHEMES },
    },
    // Routes that take a key say so, so Swagger UI's "Authorize" sends it.
    transform: (args) => {
      const out = jsonSchemaTransform(args);
      const guarded = Boolean((args.route as { config?: { access?: unknown } }).config?.access);
      return guarded ? { ...out, schema: { ...out.schema, security: [{ bearerAuth: [] }, { apiKeyHeader: [] }] } } : out;
    },
  });
  // After swagger (which documents the audit route it adds) and before Swagger UI and every other
  // route: it refuses any later route that declares no access and is not an open one.
  await app.register(authPlugin, { access: deps.access ?? createAccessControl({ registry: deps.registry, ...(deps.clock ? { clock: deps.clock } : {}) }) });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    // Swagger UI gets its own policy instead of the console's: it applies inline styles from its
    // bundle; still no inline scripts, nothing from other origins (the online validator is off).
    staticCSP: SWAGGER_UI_CSP,
    uiConfig: { validatorUrl: null },
  });
  await app.register(apiPlugin, deps);
  if (deps.jobs) await app.register(mvPlugin, { jobs: deps.jobs, registry: deps.registry });
  await app.register(reportPlugin, { readings: deps.readings, registry: deps.registry, ...(deps.clock ? { clock: deps.clock } : {}), ...(deps.alerts ? { alerts: deps.alerts } : {}), ...(options.report ? { reportConfig: options.report } : {}) });
  if (deps.alerts) await app.register(alertsPlugin, { alerts: deps.alerts });
  if (deps.finance && isFinanceRegistry(deps.registry)) await app.register(financePlugin, { finance: deps.finance, registry: deps.registry, ...(deps.clock ? { clock: deps.clock } : {}) });
  if (deps.packSigner) await app.register(packsPlugin, { readings: deps.readings, registry: deps.registry, signer: deps.packSigner, ...(deps.clock ? { clock: deps.clock } : {}) });
  if (options.console !== false) await app.register(consolePlugin, { ...deps, config: options.console ?? {} });
  else app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/api'));
  app.get('/api', { schema: { hide: true } }, async () => ({
    name: 'Wattproof',
    links: { console: '/', docs: '/docs', openapi: '/docs/json', health: '/health', metrics: '/metrics', meters: '/api/v1/meters', latest: '/api/v1/latest', deadLetters: '/api/v1/dead-letters' },
  }));
  return app;
}
