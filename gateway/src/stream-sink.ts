/**
 * The durable hand-off of readings to scaled-out ingest workers (GATEWAY_STREAM_REDIS_URL,
 * docs/SCALING.md): every readings PUBLISH that passed the gateway's checks is appended (XADD)
 * to the Redis stream of its meter's shard, `wattproof:readings:<readingsShardOf(meter)>`, before
 * aedes acknowledges it. So a device's PUBACK means "in Redis" (in its AOF, with appendonly yes);
 * if Redis does not confirm within GATEWAY_STREAM_TIMEOUT_MS, the publish is refused: aedes
 * disconnects the client without PUBACK and the device resends the message after reconnecting
 * [MQTT-4.4.0-1]. An append that Redis performed but did not confirm in time gives a second
 * entry for the same message; the ingest's writes are idempotent, so it is stored once.
 *
 * Order: a meter's messages go to one shard, and appends are sent in the order the PUBLISH
 * packets were authorized on one connection to Redis, which executes them in that order.
 *
 * Bound: a shard holding GATEWAY_STREAM_MAX_ENTRIES_PER_SHARD entries (not yet acknowledged by
 * the workers and trimmed) refuses further appends the same way. Lengths are read every
 * LENGTH_REFRESH_MS and counted up with each append in between, so the bound is exceeded by at
 * most the appends of other gateway nodes within one refresh. Nothing is ever trimmed here: only
 * the ingest worker that owns a shard trims it, below what its consumer group acknowledged.
 */
import type { Redis } from 'ioredis';
import type { Client, PublishPacket } from 'aedes';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { READINGS_STREAM_FIELDS as F, READINGS_STREAM_META_KEY, meterKey, parseTopic, readingsShardOf, readingsStreamKey, silentLogger, type Logger, type WattproofError } from '@wattproof/core';
import type { GatewayConfig } from './config.js';
import { gatewayError } from './errors.js';
import { connectRedis, redactRedisUrl } from './redis.js';

/** How often the shard lengths are read for the bound. */
export const LENGTH_REFRESH_MS = 1000;

export interface StreamSinkDeps {
  readonly logger?: Logger;
  /** Epoch-ms clock (the entry's received_ms). */
  readonly clock?: () => number;
  /** Prometheus registry for the sink's metrics. */
  readonly metrics?: Registry;
}

export interface StreamSinkStats {
  readonly shards: number;
  /** Sum of the shard lengths last read (plus appends since). */
  readonly entries: number;
  /** Shards at GATEWAY_STREAM_MAX_ENTRIES_PER_SHARD. */
  readonly fullShards: number[];
  /** Whether the connection to Redis is ready. */
  readonly connected: boolean;
}

export interface StreamSink {
  /**
   * Appends an accepted readings PUBLISH to its meter's shard. Resolves with null once Redis
   * confirmed the append, or with the reason it was not appended (never rejects):
   * GATEWAY_STREAM_FULL or GATEWAY_STREAM_APPEND_FAILED. Call in arrival order.
   */
  append(client: Client, packet: PublishPacket): Promise<WattproofError | null>;
  stats(): StreamSinkStats;
  close(): Promise<void>;
}

type SinkConfig = Pick<GatewayConfig, 'GATEWAY_STREAM_REDIS_URL' | 'GATEWAY_STREAM_SHARDS' | 'GATEWAY_STREAM_MAX_ENTRIES_PER_SHARD' | 'GATEWAY_STREAM_TIMEOUT_MS'>;

/**
 * Connects to the streams' Redis and records (or checks) the shard count.
 * @throws WattproofError GATEWAY_REDIS_UNAVAILABLE when Redis cannot be reached.
 * @throws WattproofError GATEWAY_STREAM_SHARDS_MISMATCH when Redis holds another shard count.
 */
export async function openStreamSink(deps: StreamSinkDeps, config: SinkConfig): Promise<StreamSink> {
  const url = config.GATEWAY_STREAM_REDIS_URL;
  if (!url) throw new Error('openStreamSink needs GATEWAY_STREAM_REDIS_URL');
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? Date.now;
  const shards = config.GATEWAY_STREAM_SHARDS;
  const max = config.GATEWAY_STREAM_MAX_ENTRIES_PER_SHARD;
  // No offline queue and no resend after a reconnect: an append either reaches Redis now or
  // fails now (the device keeps the message), instead of waiting in the gateway's memory.
  const redis: Redis = await connectRedis(url, 'wattproof-gateway-stream', logger, {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: config.GATEWAY_STREAM_TIMEOUT_MS,
  });
  try {
    await redis.hsetnx(READINGS_STREAM_META_KEY, 'shards', String(shards));
    const recorded = Number(await redis.hget(READINGS_STREAM_META_KEY, 'shards'));
    if (recorded !== shards) {
      throw gatewayError('GATEWAY_STREAM_SHARDS_MISMATCH', `GATEWAY_STREAM_SHARDS is ${shards} but the gateways writing to ${redactRedisUrl(url)} use ${recorded} (${READINGS_STREAM_META_KEY})`);
    }
  } catch (err) {
    redis.disconnect();
    if ((err as WattproofError).code === 'GATEWAY_STREAM_SHARDS_MISMATCH') throw err;
    throw gatewayError('GATEWAY_REDIS_UNAVAILABLE', `cannot record the shard count at ${redactRedisUrl(url)}: ${(err as Error).message}`, { cause: err });
  }

  const registers = deps.metrics ? [deps.metrics] : [];
  // A gateway started again on the same registry (tests) registers these again.
  for (const name of ['wattproof_gateway_stream_appends_total', 'wattproof_gateway_stream_append_seconds', 'wattproof_gateway_stream_entries']) deps.metrics?.removeSingleMetric(name);
  const lengths = new Array<number>(shards).fill(0);
  const metrics = {
    appends: new Counter({ name: 'wattproof_gateway_stream_appends_total', help: 'Readings PUBLISH packets appended to the readings streams (ok) or refused without PUBACK (full, failed)', labelNames: ['result'] as const, registers }),
    appendSeconds: new Histogram({
      name: 'wattproof_gateway_stream_append_seconds',
      help: 'Time from an accepted readings PUBLISH to Redis confirming its append to the stream (XADD)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    }),
    entries: new Gauge({
      name: 'wattproof_gateway_stream_entries',
      help: 'Entries in the readings streams (all shards) as last read: not yet acknowledged by the ingest workers and trimmed',
      registers,
      collect() {
        this.set(lengths.reduce((a, b) => a + b, 0));
      },
    }),
  };

  let refreshing = false;
  const refresh = async () => {
    if (refreshing || redis.status !== 'ready') return;
    refreshing = true;
    try {
      const pipeline = redis.pipeline();
      for (let s = 0; s < shards; s++) pipeline.xlen(readingsStreamKey(s));
      const results = (await pipeline.exec()) ?? [];
      results.forEach(([err, n], s) => {
        if (!err && typeof n === 'number') lengths[s] = n;
      });
    } catch {
      // Redis unreachable: appends fail on their own; keep the last lengths.
    } finally {
      refreshing = false;
    }
  };
  await refresh();
  const timer = setInterval(() => void refresh(), LENGTH_REFRESH_MS);
  timer.unref();

  // Refusals come in storms (every device of a full shard retries): log at most one a second.
  let loggedAtMs = 0;
  let unlogged = 0;
  const refuse = (error: WattproofError, fields: Record<string, unknown>): WattproofError => {
    const now = clock();
    if (now - loggedAtMs >= 1000) {
      logger.warn({ ...fields, code: error.code, err: error.message, notLogged: unlogged }, 'readings publish refused without PUBACK: not in the stream; disconnecting, the device resends it');
      loggedAtMs = now;
      unlogged = 0;
    } else {
      unlogged++;
    }
    return error;
  };

  return {
    async append(client, packet) {
      const topic = parseTopic(packet.topic);
      // The gateway calls this for readings topics only; anything else has no meter to shard by.
      if (!topic) return gatewayError('GATEWAY_STREAM_APPEND_FAILED', `"${packet.topic}" is not a readings topic`);
      const shard = readingsShardOf(meterKey(topic), shards);
      const key = readingsStreamKey(shard);
      if (lengths[shard]! >= max) {
        metrics.appends.inc({ result: 'full' });
        return refuse(gatewayError('GATEWAY_STREAM_FULL', `stream ${key} holds ${lengths[shard]} entries (limit ${max})`), { clientId: client.id, topic: packet.topic, shard });
      }
      const startedAt = performance.now();
      try {
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload ?? '');
        await redis.xadd(key, '*', F.topic, packet.topic, F.payload, payload, F.client, client.id, F.receivedMs, String(clock()));
      } catch (err) {
        metrics.appends.inc({ result: 'failed' });
        return refuse(gatewayError('GATEWAY_STREAM_APPEND_FAILED', `append to ${key} not confirmed: ${(err as Error).message}`, { cause: err }), { clientId: client.id, topic: packet.topic, shard });
      }
      lengths[shard]!++;
      metrics.appends.inc({ result: 'ok' });
      metrics.appendSeconds.observe((performance.now() - startedAt) / 1000);
      return null;
    },
    stats() {
      const fullShards: number[] = [];
      lengths.forEach((n, s) => n >= max && fullShards.push(s));
      return { shards, entries: lengths.reduce((a, b) => a + b, 0), fullShards, connected: redis.status === 'ready' };
    },
    async close() {
      clearInterval(timer);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
