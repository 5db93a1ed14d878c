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

/** Share of INGEST_MAX_PENDING_MESSAGES pending above which the ingest reports itself not ready. */
export const READY_MAX_PENDING_RATIO = 0.9;

export function createIngest(deps: IngestDeps, config: IngestConfig) {
  const logger = deps.logger ?? silentLogger;
  const pipeline = createIngestPipeline(deps, config);
  const consumer = createMqttConsumer(
    { accept: pipeline.accept, pending: pipeline.pending, logger, ...(deps.metrics ? { metrics: deps.metrics } : {}) },
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
    /**
     * Readiness: connected to the broker, the reading store answering its ping, and fewer than
     * READY_MAX_PENDING_RATIO (90 %) of INGEST_MAX_PENDING_MESSAGES pending (a full window means
     * the store is not keeping up). Each failed check is named in `reasons`.
     */
    async ready(): Promise<{ ready: boolean; reasons: string[]; pending: number }> {
      const reasons: string[] = [];
      if (!consumer.connected()) reasons.push('not connected to the broker');
      if (!(await deps.readings.ping().catch(() => false))) reasons.push('reading store unreachable');
      const pending = pipeline.pending();
      if (pending >= config.INGEST_MAX_PENDING_MESSAGES * READY_MAX_PENDING_RATIO) reasons.push(`${pending} messages pending (limit ${config.INGEST_MAX_PENDING_MESSAGES})`);
      return { ready: reasons.length === 0, reasons, pending };
    },
    /** Resolves when every message received so far is durable. */
    drain: () => pipeline.drain(),
    /**
     * Stops: waits up to INGEST_CLOSE_TIMEOUT_MS for pending messages to become durable, then
     * disconnects. Whatever is still pending then is not acknowledged and comes again later, and
     * the pipeline stops retrying (so a store that is down does not keep the process alive).
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
      // Without this the retries of a store that is down would go on and keep the process alive.
      if (!drained) pipeline.abort();
    },
    /** Drops the broker connection at once without acknowledging anything pending (as a crash would). */
    async abort(): Promise<void> {
      await consumer.close(true);
    },
  };
}

export type Ingest = ReturnType<typeof createIngest>;
