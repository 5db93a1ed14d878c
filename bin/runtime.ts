/** What every command shares: the runtime config, the logger, stores from config, signals. */
import { pino, type Logger as PinoLogger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { z } from 'zod';
import { envInt, envOptionalString, envPort, loadConfig, type ReadingStore, type RegistryStore } from '@wattproof/core';
import { createReadingStore, readingStoreConfigSchema } from '@wattproof/ingest/stores';
import { createRegistryStore, registryConfigSchema } from '@wattproof/gateway/registry';

export const runtimeConfigSchema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level (logs are JSON lines on stderr)'),
  API_HOST: z.string().default('127.0.0.1').describe('Address the HTTP API binds to'),
  API_PORT: envPort(8080).describe('HTTP API port (console, REST, /docs, /health, /metrics)'),
  INGEST_HTTP_PORT: envPort(9102).describe('Health and metrics port when the ingest runs as its own process'),
  ANALYTICS_REFERENCE_DIR: envOptionalString().describe('Directory with your own versions of the M&V reference data (ashrae-g14.json, emission-factors.json, gbt51161-quotas.json; same schemas); the bundled analytics/reference/ when unset'),
  ANALYTICS_SCHEDULE_INTERVAL_S: envInt(3600, 0, 7 * 86_400).describe('How often the API process re-runs the stored M&V analysis definitions (0 = never; on demand only)'),
});

/** Re-runs stored M&V definitions every `intervalS` seconds; returns a stop function. */
export function scheduleAnalyses(run: () => Promise<number>, intervalS: number, logger: PinoLogger): () => void {
  if (intervalS <= 0) return () => {};
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    run()
      .then((n) => n > 0 && logger.info({ analyses: n }, 'scheduled M&V analyses ran'))
      .catch((err: unknown) => logger.error({ err }, 'scheduled M&V analyses failed'))
      .finally(() => (running = false));
  }, intervalS * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
export type RuntimeConfig = z.output<typeof runtimeConfigSchema>;

export type Env = Record<string, string | undefined>;

export function createLogger(level: string, name: string): PinoLogger {
  return pino({ name, level }, pino.destination(2));
}

export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'wattproof_process_' });
  return registry;
}

export async function openRegistry(env: Env): Promise<RegistryStore> {
  const registry = createRegistryStore(loadConfig(registryConfigSchema, env));
  await registry.init();
  return registry;
}

export async function openStores(env: Env): Promise<{ readings: ReadingStore; registry: RegistryStore; describe: string }> {
  const readingCfg = loadConfig(readingStoreConfigSchema, env);
  const registry = await openRegistry(env);
  const readings = createReadingStore(readingCfg);
  try {
    await readings.init();
  } catch (err) {
    await registry.close();
    throw err;
  }
  return { readings, registry, describe: `readings: ${readings.name}, registry: ${registry.name}` };
}

/** Runs `stop` once on SIGINT/SIGTERM; resolves when it has run. */
export function untilSignal(stop: () => Promise<void>, logger?: PinoLogger): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) {
        process.stderr.write('forced exit\n');
        process.exit(1);
      }
      stopping = true;
      logger?.info({ signal }, 'stopping');
      stop().then(resolve, (err: unknown) => {
        logger?.error({ err }, 'error while stopping');
        resolve();
      });
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  });
}
