/** Redis connections of an ingest worker (the readings streams); see core/src/redis.ts. */
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from '@wattproof/core';
import { connectRedis as connect } from '@wattproof/core/redis';
import { ingestError } from './errors.js';

export { redactRedisUrl, REDIS_CONNECT_TIMEOUT_MS } from '@wattproof/core/redis';

/** @throws WattproofError INGEST_STREAM_UNAVAILABLE when Redis is not ready in time. */
export function connectRedis(url: string, name: string, logger: Logger, options: RedisOptions = {}): Promise<Redis> {
  return connect(url, name, logger, (message, cause) => ingestError('INGEST_STREAM_UNAVAILABLE', message, { cause }), options);
}
