import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { createMvJobs } from '@wattproof/analytics';
import { connectMvQueueRedis, createMvJobQueue, createMvWorker } from '@wattproof/analytics/queue';
import { loadConfig, WattproofError } from '@wattproof/core';
import { redactRedisUrl } from '@wattproof/core/redis';
import { createLogger, createMetricsRegistry, mvQueueOptions, mvWorkerOptions, openStores, registerMvQueueMetrics, registerMvWorkerMetrics, runtimeConfigSchema, untilSignal, type Env } from '../runtime.js';

const HELP = `Usage: wattproof analytics-worker [--help]

Runs M&V analyses from the job queue (docs/SCALING.md, "Analytics workers"). With
ANALYTICS_QUEUE_REDIS_URL set, 'wattproof api' and 'wattproof start' enqueue the newest
definition of every meter every ANALYTICS_SCHEDULE_INTERVAL_S instead of running it; any
number of workers take the jobs (ANALYTICS_WORKER_CONCURRENCY at once each), run them on the
stores and store each result with its lineage, as 'wattproof analyze' does. The job of a worker
that dies is run again by another once its lock (ANALYTICS_WORKER_LOCK_DURATION_MS) expires;
failures that may pass are retried (ANALYTICS_QUEUE_ATTEMPTS, ANALYTICS_QUEUE_BACKOFF_MS).
The workers and the API processes must share the stores: InfluxDB (INFLUX_URL) and PostgreSQL
(REGISTRY_POSTGRES_URL); on one machine the embedded registry directory can be shared too.
Health and metrics on ANALYTICS_WORKER_HTTP_PORT (/health, /metrics).
On SIGTERM it takes no new job, finishes the ones it is running, then exits 0.
`;

export async function runAnalyticsWorker(argv: string[], env: Env): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const rt = loadConfig(runtimeConfigSchema, env);
  const url = rt.ANALYTICS_QUEUE_REDIS_URL;
  if (url === undefined) {
    const problem = 'ANALYTICS_QUEUE_REDIS_URL: required by wattproof analytics-worker (the Redis of the M&V job queue)';
    throw new WattproofError('CONFIG_INVALID', `invalid configuration:\n  ${problem}`, { statusCode: 500, details: { problems: [problem] } });
  }
  const logger = createLogger(rt.LOG_LEVEL, 'analytics-worker');
  const workerOptions = mvWorkerOptions(rt);
  const stores = await openStores(env, logger);
  let redis: Awaited<ReturnType<typeof connectMvQueueRedis>>;
  let queueRedis: Awaited<ReturnType<typeof connectMvQueueRedis>>;
  try {
    redis = await connectMvQueueRedis(url, `wattproof-mv-worker-${process.pid}`, logger, true);
    queueRedis = await connectMvQueueRedis(url, `wattproof-mv-worker-stats-${process.pid}`, logger, false).catch((err: unknown) => {
      redis.disconnect();
      throw err;
    });
  } catch (err) {
    await stores.readings.close();
    await stores.registry.close();
    throw err;
  }
  const jobs = createMvJobs({ ...stores, logger });
  const worker = createMvWorker({ jobs, redis, logger }, workerOptions);
  // The producer side only for the queue's job counts on /metrics.
  const queue = createMvJobQueue({ registry: stores.registry, redis: queueRedis, logger }, mvQueueOptions(rt));
  const metrics = createMetricsRegistry();
  registerMvQueueMetrics(metrics, queue);
  registerMvWorkerMetrics(metrics, worker);
  await worker.waitUntilReady();

  const http = Fastify({ logger: false });
  http.get('/health', async (_req, reply) => {
    const [r, g, q] = await Promise.all([
      stores.readings.ping().catch(() => false),
      stores.registry.ping().catch(() => false),
      // The stats connection: the worker's own retries every command until Redis is back.
      queueRedis.ping().then((p) => p === 'PONG', () => false),
    ]);
    const ok = r && g && q && worker.isRunning();
    return reply.code(ok ? 200 : 503).send({
      status: ok ? 'ok' : 'degraded',
      components: {
        readingStore: { ok: r, adapter: stores.readings.name },
        registry: { ok: g, adapter: stores.registry.name },
        queue: { ok: q, name: queue.name, worker: worker.name, running: worker.isRunning(), ...worker.stats() },
      },
    });
  });
  http.get('/metrics', async (_req, reply) => reply.header('content-type', metrics.contentType).send(await metrics.metrics()));
  const address = await http.listen({ host: rt.API_HOST, port: rt.ANALYTICS_WORKER_HTTP_PORT });
  process.stdout.write(`Wattproof analytics worker ${worker.name}: queue ${queue.name} on ${redactRedisUrl(url)} (concurrency ${rt.ANALYTICS_WORKER_CONCURRENCY}) -> ${stores.describe}; health ${address}/health\n`);
  await untilSignal(async () => {
    // Finish the running jobs first: their results are stored before the stores close.
    await worker.close();
    await queue.close();
    await http.close();
    redis.disconnect();
    queueRedis.disconnect();
    await stores.readings.close();
    await stores.registry.close();
    process.stdout.write(`Wattproof analytics worker ${worker.name} stopped: ${JSON.stringify(worker.stats())}\n`);
  }, logger);
  return 0;
}
