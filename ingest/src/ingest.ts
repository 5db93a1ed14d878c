/** The ingest service: MQTT consumer + pipeline, created from its dependencies and config. */
import type { Registry } from 'prom-client';
import { silentLogger, type Logger, type ReadingStore, type RegistryStore } from '@wattproof/core';
import type { IngestConfig } from './config.js';
import { createMqttConsumer } from './mqtt-consumer.js';
import { createIngestPipeline } from './pipeline.js';

export interface IngestDeps {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  readonly logger?: Logger;
  readonly clock?: () => number;
  readonly metrics?: Registry;
}

export function createIngest(deps: IngestDeps, config: IngestConfig) {
  const logger = deps.logger ?? silentLogger;
  const pipeline = createIngestPipeline(deps, config);
  const consumer = createMqttConsumer(
    { accept: pipeline.accept, pending: pipeline.pending, logger },
    {
      url: config.INGEST_MQTT_URL,
      username: config.INGEST_MQTT_USERNAME,
      ...(config.INGEST_MQTT_PASSWORD ? { password: config.INGEST_MQTT_PASSWORD } : {}),
      clientId: config.INGEST_MQTT_CLIENT_ID,
      maxPending: config.INGEST_MAX_PENDING_MESSAGES,
    },
  );
  return {
    pipeline,
    async start(): Promise<void> {
      await consumer.start();
      logger.info({ url: config.INGEST_MQTT_URL, store: deps.readings.name }, 'ingest consuming');
    },
    connected: () => consumer.connected(),
    /** Resolves when every message received so far is durable. */
    drain: () => pipeline.drain(),
    /**
     * Stops: waits up to INGEST_CLOSE_TIMEOUT_MS for pending messages to become durable, then
     * disconnects. Whatever is still pending then is not acknowledged and comes again later.
     */
    async close(): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        pipeline.close().then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), config.INGEST_CLOSE_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
      if (!drained) logger.warn({ pending: pipeline.pending() }, 'closing with messages not yet durable; the broker will redeliver them');
      await consumer.close(!drained);
    },
    /** Drops the broker connection at once without acknowledging anything pending (as a crash would). */
    async abort(): Promise<void> {
      await consumer.close(true);
    },
  };
}

export type Ingest = ReturnType<typeof createIngest>;
