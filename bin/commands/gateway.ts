import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { loadConfig } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, GATEWAY_NODE_ARGS } from '@wattproof/gateway';
import { createLogger, createMetricsRegistry, openRegistry, runtimeConfigSchema, untilSignal, warnMissingNodeArgs, type Env } from '../runtime.js';

const HELP = `Usage: wattproof gateway [--help]

Runs the MQTT gateway (aedes): per-device credentials, topic ACLs, payload limits, dead
letters for refused publishes, and health/metrics on GATEWAY_HTTP_PORT (/health, /ready, /metrics).
Listeners: TCP on GATEWAY_MQTT_HOST:GATEWAY_MQTT_PORT; TLS when GATEWAY_MQTTS_PORT and
GATEWAY_TLS_CERT_FILE/KEY_FILE are set; WebSocket (/mqtt) when GATEWAY_WS_PORT is set.
The registry is REGISTRY_POSTGRES_URL when set, else the embedded files in WATTPROOF_DATA_DIR.
Sessions (and the messages queued for the ingest) are kept on disk in GATEWAY_PERSISTENCE_DIR
when it is set, else in memory and lost on restart; a subscriber session may hold at most
GATEWAY_MAX_QUEUED_MESSAGES, past which device publishes are refused unacknowledged (they resend).
Cluster mode (GATEWAY_REDIS_URL): several gateway nodes behind a TCP load balancer share
sessions, subscriptions and retained messages through Redis. With GATEWAY_STREAM_REDIS_URL
every readings publish is appended to a Redis stream shard before its PUBACK, for scaled-out
ingest workers (docs/SCALING.md).
Run it with the V8 flags it is tuned for (Node takes them only on its command line;
without them the gateway warns):
  node ${GATEWAY_NODE_ARGS.join(' ')} bin/wattproof.js gateway
`;

export async function runGateway(argv: string[], env: Env): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const config = loadConfig(gatewayConfigSchema, env);
  const logger = createLogger(loadConfig(runtimeConfigSchema, env).LOG_LEVEL, 'gateway');
  warnMissingNodeArgs(logger, 'gateway', GATEWAY_NODE_ARGS);
  const registry = await openRegistry(env);
  const metrics = createMetricsRegistry();
  const gateway = createGateway({ registry, logger, metrics }, config);
  const addresses = await gateway.start();
  const http = Fastify({ logger: false });
  http.get('/health', async (_req, reply) => {
    const ok = await registry.ping().catch(() => false);
    return reply.code(ok ? 200 : 503).send({
      status: ok ? 'ok' : 'degraded',
      components: { registry: { ok, adapter: registry.name }, gateway: { ok: true, ...gateway.stats(), backlog: gateway.backlog() } },
    });
  });
  // Readiness: listening, the registry (credentials, dead letters) answering, and no subscriber
  // session at GATEWAY_MAX_QUEUED_MESSAGES (device publishes are being refused meanwhile).
  http.get('/ready', async (_req, reply) => {
    const { reasons } = gateway.ready();
    if (!(await registry.ping().catch(() => false))) reasons.push('registry unreachable');
    const ok = reasons.length === 0;
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', ...(ok ? {} : { reasons }) });
  });
  http.get('/metrics', async (_req, reply) => reply.header('content-type', metrics.contentType).send(await metrics.metrics()));
  await http.listen({ host: config.GATEWAY_MQTT_HOST, port: config.GATEWAY_HTTP_PORT });
  process.stdout.write(
    `Wattproof gateway: mqtt://${addresses.mqtt.host}:${addresses.mqtt.port}` +
      (addresses.mqtts ? `, mqtts://${addresses.mqtts.host}:${addresses.mqtts.port}` : '') +
      (addresses.ws ? `, ws://${addresses.ws.host}:${addresses.ws.port}${addresses.ws.path}` : '') +
      `; health http://${config.GATEWAY_MQTT_HOST}:${config.GATEWAY_HTTP_PORT}/health — registry: ${registry.name}` +
      ` — sessions: ${{ disk: `on disk in ${config.GATEWAY_PERSISTENCE_DIR}${config.GATEWAY_PERSISTENCE_SYNC ? '' : ' (not fsynced)'}`, memory: 'in memory (lost on restart; set GATEWAY_PERSISTENCE_DIR)', redis: 'in Redis' }[gateway.stats().sessionStore]}\n`,
  );
  await untilSignal(async () => {
    await http.close();
    await gateway.close();
    await registry.close();
  }, logger);
  return 0;
}
