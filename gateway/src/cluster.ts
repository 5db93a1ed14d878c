/**
 * Cluster mode (GATEWAY_REDIS_URL): several gateway nodes behind any TCP load balancer share,
 * through one Redis,
 * - publications between nodes: `mqemitter-redis` is aedes' `mq` (a PUBLISH received by node A
 *   reaches subscribers connected to node B through Redis pub/sub);
 * - persistent sessions, their subscriptions, the QoS 1/2 messages queued for them, retained
 *   messages and wills: `aedes-persistence-redis` is aedes' `persistence`, so a device (or a
 *   subscriber) that reconnects through another node finds its session there; wills of a node
 *   that died are published by the others once its heartbeats stop (aedes: 3 × heartbeatInterval);
 * - which principal owns which client id (a Redis hash), so no principal can take over another's
 *   session through another node [MQTT-3.1.4-2].
 *
 * The readings themselves go to the ingest workers through the streams (stream-sink.ts), not
 * through a shared MQTT subscription: aedes has none (docs/SCALING.md).
 */
import type { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import createRedisPersistence from 'aedes-persistence-redis';
import { silentLogger, type Logger } from '@wattproof/core';
import type { GatewayConfig } from './config.js';
import { gatewayError } from './errors.js';
import { connectRedis, redactRedisUrl } from './redis.js';
import type { QueuePersistence, SessionOwners, SessionStore } from './session-store.js';

/** Hash of client id -> username of the principal that owns the session (cluster mode). */
export const CLIENT_OWNERS_KEY = 'wattproof:gateway:client-owners';

/** How long closing the Redis persistence may take before its connection is dropped. */
const CLOSE_TIMEOUT_MS = 2000;

interface Destroyable {
  destroy(): Promise<unknown>;
}

interface Closeable {
  close(cb: () => void): void;
}

/**
 * Opens the shared session store of a cluster node.
 * @throws WattproofError GATEWAY_CLUSTER_CONFIG_INVALID when GATEWAY_PERSISTENCE_DIR is set too.
 * @throws WattproofError GATEWAY_REDIS_UNAVAILABLE when Redis cannot be reached.
 */
export async function openClusterStore(config: Pick<GatewayConfig, 'GATEWAY_REDIS_URL' | 'GATEWAY_PERSISTENCE_DIR'>, logger: Logger = silentLogger): Promise<SessionStore> {
  const url = config.GATEWAY_REDIS_URL;
  if (!url) throw gatewayError('GATEWAY_CLUSTER_CONFIG_INVALID', 'openClusterStore needs GATEWAY_REDIS_URL');
  if (config.GATEWAY_PERSISTENCE_DIR !== undefined) {
    throw gatewayError('GATEWAY_CLUSTER_CONFIG_INVALID', 'GATEWAY_REDIS_URL and GATEWAY_PERSISTENCE_DIR are both set: cluster nodes keep their sessions in Redis; unset GATEWAY_PERSISTENCE_DIR');
  }
  const connections: Redis[] = [];
  try {
    // Four connections: persistence, owners, and mqemitter's publisher and subscriber (a connection in subscribe mode can do nothing else).
    const db = await connectRedis(url, 'wattproof-gateway-sessions', logger);
    connections.push(db);
    const ownersDb = await connectRedis(url, 'wattproof-gateway-owners', logger);
    connections.push(ownersDb);
    const pubConn = await connectRedis(url, 'wattproof-gateway-mq-pub', logger);
    connections.push(pubConn);
    const subConn = await connectRedis(url, 'wattproof-gateway-mq-sub', logger);
    connections.push(subConn);

    const owners = new Map<string, string>(Object.entries(await ownersDb.hgetall(CLIENT_OWNERS_KEY)));
    const persistence = createRedisPersistence({ conn: db }) as unknown as QueuePersistence & Destroyable;
    // [MQTT-4.7.1-3]: `#` matches the parent level too, as aedes' default mqemitter is configured.
    const mq = MQEmitterRedis({ pubConn, subConn, matchEmptyLevels: true });
    // mqemitter-redis re-emits connection errors on `state`; unheard, an 'error' event is thrown.
    // The connections log their own errors (redis.ts) and reconnect.
    (mq as unknown as { state: { on(event: 'error', listener: (err: Error) => void): void } }).state.on('error', () => undefined);
    const sessionOwners: SessionOwners = {
      get: (clientId) => owners.get(clientId),
      async set(clientId, username) {
        if (owners.get(clientId) === username) return;
        // First owner wins, across nodes: another node may have bound the id since this one last looked.
        const created = await ownersDb.hsetnx(CLIENT_OWNERS_KEY, clientId, username);
        const owner = created === 1 ? username : await ownersDb.hget(CLIENT_OWNERS_KEY, clientId);
        if (owner !== null) owners.set(clientId, owner);
        if (owner !== null && owner !== username) {
          // returnCode 2 (identifier rejected): the gateway passes an error carrying a return code to the CONNACK.
          throw Object.assign(gatewayError('GATEWAY_CLIENT_ID_REJECTED', `client id "${clientId}" belongs to another principal`), { returnCode: 2 });
        }
      },
    };
    logger.info({ redis: redactRedisUrl(url), clientIdOwners: owners.size }, 'cluster mode: sessions, subscriptions and retained messages in Redis');
    return {
      kind: 'redis',
      persistence,
      mq,
      queuedAtOpen: new Map(),
      owners: sessionOwners,
      async close() {
        // aedes closes its mq itself (broker.close); the persistence unsubscribes from it and drops its connection.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([persistence.destroy().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, CLOSE_TIMEOUT_MS)))]);
        clearTimeout(timer);
        await new Promise<void>((resolve) => (mq as unknown as Closeable).close(() => resolve()));
        for (const c of connections) c.disconnect();
      },
    };
  } catch (err) {
    for (const c of connections) c.disconnect();
    throw err;
  }
}
