/**
 * The readings hand-off stream between the gateway and the ingest workers when they scale out
 * (docs/SCALING.md): Redis Streams, one per shard, keys and field names here and nowhere else.
 *
 *   wattproof:readings:<n>      stream of shard n (0 <= n < shards); one entry per accepted
 *                               readings PUBLISH: topic, payload, client, received_ms
 *   wattproof:readings:meta     hash: `shards` = the shard count the gateways write with
 *   wattproof-ingest            the consumer group of the ingest workers on every shard
 *
 * A meter always maps to the same shard, so its messages keep their order from the gateway to
 * the worker that owns the shard.
 */

/** Prefix of the shard streams: `wattproof:readings:<n>`. */
export const READINGS_STREAM_PREFIX = 'wattproof:readings:';

/** Hash holding the shard count (`shards`) the gateways write with; the ingest workers read it. */
export const READINGS_STREAM_META_KEY = 'wattproof:readings:meta';

/** The consumer group of the ingest workers, on every shard. */
export const READINGS_STREAM_GROUP = 'wattproof-ingest';

/** Field names of one stream entry. */
export const READINGS_STREAM_FIELDS = {
  /** The MQTT topic (`wattproof/v1/<site>/<building>/<meter>/readings`). */
  topic: 'topic',
  /** The PUBLISH payload, bytes as received. */
  payload: 'payload',
  /** MQTT client id of the publisher. */
  client: 'client',
  /** Epoch ms when the gateway accepted the PUBLISH. */
  receivedMs: 'received_ms',
} as const;

/** Largest shard count: enough for thousands of ingest workers, small enough to scan every tick. */
export const MAX_READINGS_STREAM_SHARDS = 4096;

/** The stream key of shard `shard`. */
export function readingsStreamKey(shard: number): string {
  return `${READINGS_STREAM_PREFIX}${shard}`;
}

/**
 * The shard of a meter: FNV-1a (32 bit) of its key `site/building/meter`, modulo `shards`.
 * Stable across processes, versions and platforms (it is part of the hand-off contract:
 * gateways and workers must agree on it).
 */
export function readingsShardOf(meterKey: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < meterKey.length; i++) {
    h ^= meterKey.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}
