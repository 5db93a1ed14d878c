import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '@wattproof/core';
import { apiSecurityConfigSchema, authConfigSchema, consoleSignInUrl, createAccessControl, createApiServer, loadSigner, LOCAL_ADMIN_KEY_FILE, packConfigSchema, readLocalAdminKey, reportConfigSchema } from '@wattproof/dashboards';
import { alertsConfigSchema, createAlertEngine, createFinanceService, createMvJobs, isFinanceRegistry } from '@wattproof/analytics';
import { createLogger, createMetricsRegistry, openStores, runtimeConfigSchema, openAnalysisScheduler, untilSignal, type Env } from '../runtime.js';

const HELP = `Usage: wattproof api [--help]

Runs the HTTP API and the web console: portfolio, readings (raw and aggregated), M&V,
alerts, finance, dead letters, /health, /metrics and the OpenAPI document with its UI at
/docs. Every route but /health, /ready, /api, /docs and the console page needs an API key
(docs/access.md). When API_AUTH_ADMIN_KEY_FILE (default <WATTPROOF_DATA_DIR>/api-admin.key,
made by 'wattproof start') holds a valid admin key, it prints the console address that signs
in with it; otherwise how to make a key ('wattproof apikey add').
Reads API_HOST, API_PORT, the rate-limit and TLS keys (API_RATE_LIMIT_*, API_AUTH_FAILURE_*,
API_TLS_CERT_FILE/API_TLS_KEY_FILE for HTTPS; docs/SECURITY.md) and the store keys (READINGS_STORE, INFLUX_*, REGISTRY_*,
WATTPROOF_DATA_DIR); see 'wattproof config'. To run it apart from the ingest, use
InfluxDB and PostgreSQL: the embedded stores belong to one process.
With ANALYTICS_QUEUE_REDIS_URL the M&V schedule enqueues jobs for 'wattproof analytics-worker'
processes instead of running the analyses here (docs/SCALING.md).
`;

export async function runApi(argv: string[], env: Env): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const rt = loadConfig(runtimeConfigSchema, env);
  const security = loadConfig(apiSecurityConfigSchema, env);
  const alertsConfig = loadConfig(alertsConfigSchema, env);
  const logger = createLogger(rt.LOG_LEVEL, 'api');
  const stores = await openStores(env, logger);
  const metrics = createMetricsRegistry();
  const jobs = createMvJobs({ ...stores, logger });
  // With ANALYTICS_QUEUE_REDIS_URL the schedule enqueues for `wattproof analytics-worker` processes instead.
  const schedule = await openAnalysisScheduler({ jobs, registry: stores.registry, logger, metrics }, rt).catch(async (err: unknown) => {
    await stores.readings.close();
    await stores.registry.close();
    throw err;
  });
  const finance = isFinanceRegistry(stores.registry) ? createFinanceService({ readings: stores.readings, registry: stores.registry, jobs, logger }) : undefined;
  const alerts = createAlertEngine({ ...stores, logger }, alertsConfig);
  const authConfig = loadConfig(authConfigSchema, env);
  const access = createAccessControl({ registry: stores.registry, logger }, authConfig);
  const signingKey = loadConfig(packConfigSchema, env).REPORT_SIGNING_KEY_FILE;
  const packSigner = signingKey ? await loadSigner(signingKey) : undefined;
  await alerts.start();
  const app = await createApiServer({ ...stores, metrics, jobs, alerts, access, ...(finance ? { finance } : {}), ...(packSigner ? { packSigner } : {}) }, { logger, report: loadConfig(reportConfigSchema, env), security });
  await app.listen({ host: rt.API_HOST, port: rt.API_PORT });
  const scheme = security.API_TLS_CERT_FILE && security.API_TLS_KEY_FILE ? 'https' : 'http';
  const base = `${scheme}://${rt.API_HOST}:${rt.API_PORT}`;
  process.stdout.write(`Wattproof API on ${base} (docs /docs) — ${stores.describe}\n`);
  // The local admin key of `wattproof start`, when this data directory has a valid one; this command makes none.
  const localKey = await readLocalAdminKey(access, resolve(authConfig.API_AUTH_ADMIN_KEY_FILE ?? join(env.WATTPROOF_DATA_DIR ?? './data', LOCAL_ADMIN_KEY_FILE)));
  process.stdout.write(
    localKey
      ? `Web console: ${consoleSignInUrl(base, localKey.key)}\n  (signs the browser in with the local admin key in ${localKey.path}: keep this address private)\n`
      : `Web console: ${base}/ — sign in with an API key; make one with: node bin/wattproof.js apikey add --role admin --label "console" (prints it once)\n`,
  );
  await untilSignal(async () => {
    await schedule.stop();
    await alerts.close();
    await app.close();
    await stores.readings.close();
    await stores.registry.close();
  }, logger);
  return 0;
}
