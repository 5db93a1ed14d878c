/**
 * Transport security of the API, registered on the root instance before every route plugin:
 *
 * - security headers (`@fastify/helmet`) with a Content-Security-Policy the console works under:
 *   scripts only from this origin (the bundled, hashed files), no inline scripts or event
 *   handlers; inline style *attributes* allowed because the charts size and colour their
 *   elements with them. Swagger UI under /docs gets its own policy (see server.ts).
 *   Strict-Transport-Security only when the API itself serves HTTPS.
 * - a per-address request limit (`@fastify/rate-limit`, 429 API_RATE_LIMITED with Retry-After);
 *   health, readiness, metrics and the live stream are exempt so probes and open consoles are
 *   never starved.
 * - a per-address limit on failed authentications (auth-failures.ts): after too many 401s the
 *   address gets 429 API_AUTH_RATE_LIMITED on key-protected routes without its key being checked.
 *
 * The client address is the socket's (fastify `trustProxy` is off): behind a reverse proxy every
 * client shares the proxy's address, so limit at the proxy instead or raise the limits.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import type { ApiSecurityConfig } from './config.js';
import { createFailureLimiter } from './auth-failures.js';
import { SECURITY_ERRORS } from './errors.js';

/** Routes the request limit never applies to (exact route patterns). */
export const RATE_LIMIT_EXEMPT_ROUTES: ReadonlySet<string> = new Set(['/health', '/ready', '/metrics', '/api/v1/stream']);

/** The console's Content-Security-Policy directives (helmet's camelCase names). */
export const CONSOLE_CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'", 'data:'],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  objectSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  workerSrc: ["'self'", 'blob:'],
  // No upgrade-insecure-requests: the API serves plain HTTP unless API_TLS_* are set, and that
  // directive would make a browser fetch the console's own scripts over https.
} as const;

/** The Content-Security-Policy of Swagger UI under /docs (its static routes set it themselves). */
export const SWAGGER_UI_CSP =
  "default-src 'self'; base-uri 'self'; connect-src 'self'; font-src 'self' data:; form-action 'self'; frame-ancestors 'none'; img-src 'self' data:; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'";

export interface SecurityPluginOptions {
  readonly config: ApiSecurityConfig;
  /** Epoch-ms clock of the failed-authentication limiter (tests). */
  readonly clock?: () => number;
}

function rateLimitError(code: keyof typeof SECURITY_ERRORS, message: string): Error & { statusCode: number; code: string } {
  return Object.assign(new Error(message), { code, statusCode: SECURITY_ERRORS[code].statusCode });
}

const routeOf = (request: FastifyRequest) => request.routeOptions.url ?? '';

const securityPluginImpl: FastifyPluginAsync<SecurityPluginOptions> = async (fastify: FastifyInstance, opts) => {
  const config = opts.config;
  const https = Boolean(config.API_TLS_CERT_FILE && config.API_TLS_KEY_FILE);
  await fastify.register(fastifyHelmet, {
    contentSecurityPolicy: { useDefaults: false, directives: { ...CONSOLE_CSP_DIRECTIVES } },
    strictTransportSecurity: https ? { maxAge: 180 * 86_400, includeSubDomains: false } : false,
  });

  // Failed authentications first: a blocked address is answered before the key is looked at.
  if (config.API_AUTH_FAILURE_LIMIT > 0) {
    const limiter = createFailureLimiter({ limit: config.API_AUTH_FAILURE_LIMIT, windowMs: config.API_AUTH_FAILURE_WINDOW_MS, ...(opts.clock ? { clock: opts.clock } : {}) });
    fastify.addHook('onRequest', async (request, reply) => {
      if (!request.routeOptions.config.access) return;
      const retryAfterMs = limiter.blockedForMs(request.ip);
      if (retryAfterMs > 0) {
        const retryAfterS = Math.max(1, Math.ceil(retryAfterMs / 1000));
        reply.header('retry-after', String(retryAfterS));
        throw rateLimitError('API_AUTH_RATE_LIMITED', `too many failed authentications from this address; retry in ${retryAfterS} s`);
      }
    });
    fastify.addHook('onResponse', async (request, reply) => {
      if (reply.statusCode === 401) limiter.fail(request.ip);
    });
  }

  if (config.API_RATE_LIMIT_REQUESTS > 0) {
    // global: false and an app-level hook, so the limit runs before the auth plugin's hooks
    // (a route-level hook, which `global: true` would add, runs after them).
    await fastify.register(fastifyRateLimit, {
      global: false,
      max: config.API_RATE_LIMIT_REQUESTS,
      timeWindow: config.API_RATE_LIMIT_WINDOW_MS,
      allowList: (request) => RATE_LIMIT_EXEMPT_ROUTES.has(routeOf(request)),
      errorResponseBuilder: (_request, context) => rateLimitError('API_RATE_LIMITED', `more than ${context.max} requests from this address in ${Math.round(config.API_RATE_LIMIT_WINDOW_MS / 1000)} s; retry in ${context.after}`),
    });
    fastify.addHook('onRequest', fastify.rateLimit());
  }
};

Object.defineProperty(securityPluginImpl, Symbol.for('skip-override'), { value: true });
Object.defineProperty(securityPluginImpl, Symbol.for('fastify.display-name'), { value: 'wattproof-security' });

/** Security headers and rate limits (see the module comment). Register it before the route plugins. */
export const securityPlugin = securityPluginImpl;
