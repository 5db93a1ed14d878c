/** What every command shares: the runtime config, the logger, stores from config, signals. */
import { hostname } from 'node:os';
import { pino, type Logger as PinoLogger } from 'pino';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { z } from 'zod';
import type { MvJobQueue, MvJobs, MvQueueOptions, MvWorker, MvWorkerOptions } from '@wattproof/analytics';
import { envInt, envOptionalString, envPort, loadConfig, type Logger, type ReadingStore, type RegistryStore } from '@wattproof/core';
import { createReadingStore, readingStoreConfigSchema } from '@wattproof/ingest/stores';
import { createRegistryStore, registryConfigSchema } from '@wattproof/gateway/registry';
import { registerGcMetrics } from './gc-metrics.js';

export const runtimeConfigSchema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level (logs are JSON lines on stderr)'),
  API_HOST: z.string().default('127.0.0.1').describe('Address the HTTP API binds to'),
  API_PORT: envPort(8080).describe('HTTP API port (console, REST, /docs, /health, /metrics)'),
  INGEST_HTTP_PORT: envPort(9102).describe('Health and metrics port when the ingest runs as its own process'),
  ANALYTICS_REFERENCE_DIR: envOptionalString().describe('Directory with your own versions of the M&V reference data (ashrae-g14.json, emission-factors.json, gbt51161-quotas.json; same schemas); the bundled analytics/reference/ when unset'),
  ANALYTICS_SCHEDULE_INTERVAL_S: envInt(3600, 0, 7 * 86_400).describe('How often the API process re-runs the stored M&V analysis definitions (0 = never; on demand only)'),
  ANALYTICS_QUEUE_REDIS_URL: envOptionalString().describe(
    'Scale-out (docs/SCALING.md, "Analytics workers"): Redis URL of the M&V job queue (BullMQ), e.g. `redis://:secret@127.0.0.1:6379/0`. When set, the schedule of `wattproof api` and `wattproof start` enqueues one job per meter instead of running the analyses in the process, and `wattproof analytics-worker` processes run them; unset, analyses run in the API process',
  ),
  ANALYTICS_QUEUE_NAME: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, _ . - (no colon)').default('wattproof-mv').describe('Name of the M&V job queue (Redis keys `bull:<name>:…`), the same on the API processes and the workers; another name lets two deployments share one Redis'),
  ANALYTICS_QUEUE_ATTEMPTS: envInt(3, 1, 100).describe('Runs an M&V job may take in all when it fails in a way that may pass (a store unreachable); an invalid definition or insufficient data fails the job at once'),
  ANALYTICS_QUEUE_BACKOFF_MS: envInt(30_000, 0, 3_600_000).describe('Delay before the first retry of a failed M&V job, ms; doubled on each further retry'),
  ANALYTICS_QUEUE_KEEP_S: envInt(7 * 86_400, 60, 365 * 86_400).describe('How long finished M&V jobs are kept in Redis, seconds: within it a scheduled tick is not enqueued twice, so it must be at least ANALYTICS_SCHEDULE_INTERVAL_S'),
  ANALYTICS_WORKER_NAME: envOptionalString().describe('Name of this analytics worker, recorded on every job it runs; unique per running worker; default `<hostname>-<pid>`'),
  ANALYTICS_WORKER_CONCURRENCY: envInt(1, 1, 64).describe('M&V analyses one `wattproof analytics-worker` runs at once'),
  ANALYTICS_WORKER_LOCK_DURATION_MS: envInt(30_000, 1000, 600_000).describe('Lock of an analytics worker on a running job, ms, renewed every half of it; also the interval of the stalled-job check. The job of a worker that died is taken by another within about twice this. Keep it well above the longest event-loop stall of a worker'),
  ANALYTICS_WORKER_HTTP_PORT: envPort(9103).describe('Health and metrics port of `wattproof analytics-worker` (0 = a free port)'),
}).superRefine((c, ctx) => {
  if (c.ANALYTICS_QUEUE_REDIS_URL !== undefined && c.ANALYTICS_QUEUE_KEEP_S < c.ANALYTICS_SCHEDULE_INTERVAL_S) {
    ctx.addIssue({ code: 'custom', path: ['ANALYTICS_QUEUE_KEEP_S'], message: 'must be at least ANALYTICS_SCHEDULE_INTERVAL_S, or a second scheduler may enqueue a tick again' });
  }
});

/**
 * Runs `run` every `intervalS` seconds, never two at once; returns a stop function.
 * @param what - what `run` counts, for the log line.
 */
export function scheduleAnalyses(run: () => Promise<number>, intervalS: number, logger: PinoLogger, what = 'scheduled M&V analyses ran'): () => void {
  if (intervalS <= 0) return () => {};
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    run()
      .then((n) => n > 0 && logger.info({ analyses: n }, what))
      .catch((err: unknown) => logger.error({ err }, 'scheduled M&V analyses failed'))
      .finally(() => (running = false));
  }, intervalS * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
export type RuntimeConfig = z.output<typeof runtimeConfigSchema>;

/** The producer options of the M&V job queue from the runtime config. */
export function mvQueueOptions(rt: RuntimeConfig): MvQueueOptions {
  return { queueName: rt.ANALYTICS_QUEUE_NAME, attempts: rt.ANALYTICS_QUEUE_ATTEMPTS, backoffMs: rt.ANALYTICS_QUEUE_BACKOFF_MS, keepFinishedS: rt.ANALYTICS_QUEUE_KEEP_S };
}

/** The worker options of the M&V job queue from the runtime config. */
export function mvWorkerOptions(rt: RuntimeConfig): Partial<MvWorkerOptions> {
  return {
    queueName: rt.ANALYTICS_QUEUE_NAME,
    concurrency: rt.ANALYTICS_WORKER_CONCURRENCY,
    lockDurationMs: rt.ANALYTICS_WORKER_LOCK_DURATION_MS,
    ...(rt.ANALYTICS_WORKER_NAME ? { workerName: rt.ANALYTICS_WORKER_NAME } : {}),
  };
}

/** `wattproof_analytics_queue_jobs{state}`: job counts of the whole queue, read from Redis when scraped. */
export function registerMvQueueMetrics(metrics: Registry, queue: Pick<MvJobQueue, 'stats'>): void {
  new Gauge({
    name: 'wattproof_analytics_queue_jobs',
    help: 'M&V jobs in the queue by state (waiting, active, delayed = waiting for a retry, completed and failed = kept for ANALYTICS_QUEUE_KEEP_S), all workers',
    labelNames: ['state'],
    registers: [metrics],
    async collect() {
      const s = await queue.stats();
      for (const [state, n] of Object.entries(s)) this.set({ state }, n);
    },
  });
}

/** `wattproof_analytics_worker_jobs{outcome}`: what this worker did since it started. */
export function registerMvWorkerMetrics(metrics: Registry, worker: Pick<MvWorker, 'stats'>): void {
  new Gauge({
    name: 'wattproof_analytics_worker_jobs',
    help: 'M&V jobs of this worker since it started: completed (ran), reused (answered by a result computed after the job was enqueued), failed (for good), stalled (of dead workers, moved back to the queue by this worker), active (running now)',
    labelNames: ['outcome'],
    registers: [metrics],
    collect() {
      for (const [outcome, n] of Object.entries(worker.stats())) this.set({ outcome }, n);
    },
  });
}

/** The M&V schedule of `wattproof api` and `wattproof start`. */
export interface AnalysisScheduler {
  /** `inline`: analyses run in this process (no ANALYTICS_QUEUE_REDIS_URL); `queue`: enqueued for the analytics workers. */
  readonly mode: 'inline' | 'queue';
  /** The job queue in `queue` mode. */
  readonly queue?: MvJobQueue;
  stop(): Promise<void>;
}

/**
 * Starts the M&V schedule: every ANALYTICS_SCHEDULE_INTERVAL_S the newest definition of every
 * meter runs in this process, or, with ANALYTICS_QUEUE_REDIS_URL, is enqueued for the analytics
 * workers (BullMQ is loaded only then).
 * @throws WattproofError MV_QUEUE_UNAVAILABLE when the queue's Redis is not ready in time.
 */
export async function openAnalysisScheduler(deps: { jobs: Pick<MvJobs, 'runScheduled'>; registry: RegistryStore; logger: PinoLogger; metrics?: Registry }, rt: RuntimeConfig): Promise<AnalysisScheduler> {
  const url = rt.ANALYTICS_QUEUE_REDIS_URL;
  if (url === undefined) {
    const stop = scheduleAnalyses(() => deps.jobs.runScheduled(), rt.ANALYTICS_SCHEDULE_INTERVAL_S, deps.logger);
    return { mode: 'inline', stop: async () => stop() };
  }
  const { connectMvQueueRedis, createMvJobQueue } = await import('@wattproof/analytics/queue');
  const redis = await connectMvQueueRedis(url, `wattproof-mv-scheduler-${hostname()}-${process.pid}`, deps.logger, false);
  const queue = createMvJobQueue({ registry: deps.registry, redis, logger: deps.logger }, mvQueueOptions(rt));
  if (deps.metrics) registerMvQueueMetrics(deps.metrics, queue);
  const stop = scheduleAnalyses(async () => (await queue.enqueueScheduled(rt.ANALYTICS_SCHEDULE_INTERVAL_S)).jobIds.length, rt.ANALYTICS_SCHEDULE_INTERVAL_S, deps.logger, 'scheduled M&V analyses enqueued');
  return {
    mode: 'queue',
    queue,
    async stop() {
      stop();
      await queue.close();
      redis.disconnect();
    },
  };
}

export type Env = Record<string, string | undefined>;

/** `--max-semi-space-size=64` → `max-semi-space-size`; V8 takes `_` for `-`, and `--no-x` sets the flag `x` too. */
function nodeFlagName(arg: string): string {
  return arg.replace(/^--/, '').split('=')[0]!.replaceAll('_', '-').replace(/^no-/, '');
}

/**
 * The entries of `wanted` whose V8 flag `execArgv` (`process.execArgv`) does not set, with any
 * value: an operator who set a flag otherwise on purpose is not warned.
 */
export function missingNodeArgs(wanted: readonly string[], execArgv: readonly string[]): string[] {
  const given = new Set(execArgv.filter((a) => a.startsWith('--')).map(nodeFlagName));
  return wanted.filter((a) => !given.has(nodeFlagName(a)));
}

/**
 * Logs a warning when the service runs without the V8 arguments it is tuned for (GATEWAY_NODE_ARGS,
 * INGEST_NODE_ARGS): Node takes them only on its command line, before the script, so the command
 * cannot set them itself. Returns the missing ones.
 */
export function warnMissingNodeArgs(logger: PinoLogger, service: string, wanted: readonly string[], execArgv: readonly string[] = process.execArgv): string[] {
  const missing = missingNodeArgs(wanted, execArgv);
  if (missing.length) {
    logger.warn(
      { missing, command: `node ${wanted.join(' ')} bin/wattproof.js ${service}` },
      `the ${service} runs without the V8 flags it is tuned for (docs/PERFORMANCE.md): start it with them, as docker-compose.yml does`,
    );
  }
  return missing;
}

export function createLogger(level: string, name: string): PinoLogger {
  return pino({ name, level }, pino.destination(2));
}

/**
 * The process's metrics: prom-client's defaults under `wattproof_process_`, with its GC histogram
 * replaced by one that counts every collection (bin/gc-metrics.ts). prom-client's own GC observer
 * keeps running (it cannot be turned off alone), one callback per batch of collections, into a
 * histogram no longer registered.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });
  registerGcMetrics(registry, METRICS_PREFIX);
  return registry;
}

const METRICS_PREFIX = 'wattproof_process_';

export async function openRegistry(env: Env): Promise<RegistryStore> {
  const registry = createRegistryStore(loadConfig(registryConfigSchema, env));
  await registry.init();
  return registry;
}

/**
 * Opens the reading store and the registry the environment configures. `logger`: where the
 * stores say what they do on their own (a file migrated when opened); by default a logger of
 * `LOG_LEVEL` on stderr, so one-shot commands report it too.
 */
export async function openStores(env: Env, logger?: Logger): Promise<{ readings: ReadingStore; registry: RegistryStore; describe: string }> {
  const readingCfg = loadConfig(readingStoreConfigSchema, env);
  const registry = await openRegistry(env);
  const readings = createReadingStore(readingCfg, { logger: logger ?? createLogger(loadConfig(runtimeConfigSchema, env).LOG_LEVEL, 'stores') });
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
