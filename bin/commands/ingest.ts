import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { loadConfig } from '@wattproof/core';
import { createIngest, ingestConfigSchema, INGEST_NODE_ARGS } from '@wattproof/ingest';
import { createLogger, createMetricsRegistry, openStores, runtimeConfigSchema, untilSignal, warnMissingNodeArgs, type Env } from '../runtime.js';

const HELP = `Usage: wattproof ingest [--help]

Runs the ingest: subscribes to every meter's readings with a persistent QoS 1 session,
validates each message against contract v1, normalizes units and registers, writes
batches to the reading store and acknowledges each message only once it is durable.
Rejected messages go to the dead letters with their reason.
Needs INGEST_MQTT_PASSWORD (from 'wattproof device add-service wattproof-ingest').
Health, readiness and metrics on INGEST_HTTP_PORT (/health, /ready, /metrics); /health also
reports the newest stored reading's timestamp and the time of the last store write.
On SIGTERM it stops, waits up to INGEST_CLOSE_TIMEOUT_MS for pending messages to become
durable and acknowledges them, then disconnects and exits 0.
With INGEST_STREAM_REDIS_URL it runs as one of several workers instead: it leases shards of
the gateways' readings streams (Redis) and acknowledges each entry once it is durable; on
SIGTERM it hands its shards back to the other workers (docs/SCALING.md).
Run it with the V8 flags it is tuned for (Node takes them only on its command line;
without them the ingest warns):
  node ${INGEST_NODE_ARGS.join(' ')} bin/wattproof.js ingest
`;

export async function runIngest(argv: string[], env: Env): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const rt = loadConfig(runtimeConfigSchema, env);
  const config = loadConfig(ingestConfigSchema, env);
  const logger = createLogger(rt.LOG_LEVEL, 'ingest');
  warnMissingNodeArgs(logger, 'ingest', INGEST_NODE_ARGS);
  const stores = await openStores(env, logger);
  const metrics = createMetricsRegistry();
  const ingest = createIngest({ ...stores, logger, metrics }, config);
  await ingest.start();
  const http = Fastify({ logger: false });
  http.get('/health', async (_req, reply) => {
    const [r, g] = await Promise.all([stores.readings.ping().catch(() => false), stores.registry.ping().catch(() => false)]);
    const ok = r && g && ingest.connected();
    return reply.code(ok ? 200 : 503).send({
      status: ok ? 'ok' : 'degraded',
      components: {
        readingStore: { ok: r, adapter: stores.readings.name },
        registry: { ok: g, adapter: stores.registry.name },
        // Freshness (newestStoredReadingTsMs, lastStoredAtMs): what the compose simulator's health
        // check reads (deploy/healthcheck.mjs --fresh-s), without needing an API key.
        ingest: { ok: ingest.connected(), pending: ingest.pipeline.pending(), ...ingest.pipeline.freshness(), ...(ingest.stream ? { stream: ingest.stream.stats() } : {}) },
      },
    });
  });
  // Readiness for orchestrators: broker connected, store answering, pending window not nearly full.
  http.get('/ready', async (_req, reply) => {
    const r = await ingest.ready();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not_ready', reasons: r.reasons, pending: r.pending });
  });
  http.get('/metrics', async (_req, reply) => reply.header('content-type', metrics.contentType).send(await metrics.metrics()));
  await http.listen({ host: rt.API_HOST, port: rt.INGEST_HTTP_PORT });
  const source = ingest.stream ? `readings streams (worker ${ingest.stream.workerId})` : config.INGEST_MQTT_URL;
  process.stdout.write(`Wattproof ingest: ${source} -> ${stores.describe}; health http://${rt.API_HOST}:${rt.INGEST_HTTP_PORT}/health\n`);
  await untilSignal(async () => {
    await http.close();
    await ingest.close();
    await stores.readings.close();
    await stores.registry.close();
  }, logger);
  return 0;
}
