/** Redis connections of the gateway (cluster mode and the readings streams): connect once at start, never log a password. */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '@wattproof/core';
import { gatewayError } from './errors.js';

/** How long the gateway waits for Redis at start before it gives up (GATEWAY_REDIS_UNAVAILABLE). */
export const REDIS_CONNECT_TIMEOUT_MS = 10_000;

/** `url` with its password (and user name) replaced, for logs and errors. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.username) u.username = '***';
    return u.toString();
  } catch {
    return '(unparsable Redis URL)';
  }
}

/**
 * Opens a connection to `url` and waits until it is ready.
 * @param name - connection name shown by CLIENT LIST (`wattproof-gateway-…`).
 * @throws WattproofError GATEWAY_REDIS_UNAVAILABLE when Redis is not ready within REDIS_CONNECT_TIMEOUT_MS.
 */
export async function connectRedis(url: string, name: string, logger: Logger, options: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, connectionName: name, connectTimeout: REDIS_CONNECT_TIMEOUT_MS, ...options });
  // Without a listener ioredis reports every failed reconnect as an unhandled 'error' event.
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => {
    if (lastError?.message !== err.message) logger.warn({ redis: redactRedisUrl(url), connection: name, err: err.message }, 'redis connection error');
    lastError = err;
  });
  redis.on('ready', () => {
    if (lastError) logger.info({ redis: redactRedisUrl(url), connection: name }, 'redis connection ready again');
    lastError = undefined;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not ready within ${REDIS_CONNECT_TIMEOUT_MS} ms`)), REDIS_CONNECT_TIMEOUT_MS))),
    ]);
  } catch (err) {
    redis.disconnect();
    throw gatewayError('GATEWAY_REDIS_UNAVAILABLE', `cannot connect to Redis at ${redactRedisUrl(url)}: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
  return redis;
}
