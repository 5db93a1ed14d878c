/**
 * Redis connections (gateway cluster mode, the readings streams, ingest workers): connect once at
 * start, never log a password. A subpath export (`@wattproof/core/redis`) so that only the
 * processes that use Redis load ioredis.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

/** How long a process waits for Redis at start before it gives up. */
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
 * Opens a connection to `url` and waits until it is ready. Later disconnects are retried by
 * ioredis; each new error message is logged once.
 * @param name - connection name shown by CLIENT LIST (`wattproof-gateway-…`).
 * @param unavailable - the caller's error (with its catalogue code) when Redis is not ready in time.
 * @throws what `unavailable` returns when Redis is not ready within REDIS_CONNECT_TIMEOUT_MS.
 */
export async function connectRedis(
  url: string,
  name: string,
  logger: Logger,
  unavailable: (message: string, cause: unknown) => Error,
  options: RedisOptions = {},
): Promise<Redis> {
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
    throw unavailable(`cannot connect to Redis at ${redactRedisUrl(url)}: ${(err as Error).message}`, err);
  } finally {
    clearTimeout(timer);
  }
  return redis;
}
