/** aedes-persistence-redis 12 ships no typings: its default export builds an aedes persistence on Redis (ioredis). */
declare module 'aedes-persistence-redis' {
  /**
   * Returns the persistence (callback and promise API, as aedes-persistence 11). `conn` is an
   * ioredis connection to use (it is disconnected by `destroy()`); other options are ioredis'.
   */
  export default function createRedisPersistence(options?: { conn?: unknown; maxSessionDelivery?: number; packetTTL?: (packet: unknown) => number } & Record<string, unknown>): unknown;
}
