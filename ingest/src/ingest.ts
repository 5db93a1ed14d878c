/**
 * The ingest service: MQTT consumer + pipeline, created from its dependencies and config, plus
 * the periodic sealing of stored readings (INGEST_SEAL_INTERVAL_S, docs/integrity.md).
 */
import type { Registry } from 'prom-client';
import { childLogger, silentLogger, type Logger, type ReadingStore, type RegistryStore } from '@wattproof/core';
import type { IngestConfig } from './config.js';
import { createSealIndex } from './integrity/seal-index.js';
import { createReadingSealer } from './integrity/sealer.js';
import { createMqttConsumer } from './mqtt-consumer.js';
import { createStreamSource } from './stream-source.js';
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
  const seals = createSealIndex(deps.registry);
  const pipeline = createIngestPipeline({ ...deps, seals }, config);
  // Each series is sealed in the pipeline's write slot: no reading lands between query and seal.
  const sealer = createReadingSealer(
    { readings: deps.readings, registry: deps.registry, logger: childLogger(logger, { component: 'sealer' }), index: seals, exclusive: pipeline.exclusive, ...(deps.clock ? { clock: deps.clock } : {}), ...(deps.metrics ? { metrics: deps.metrics } : {}) },
    config,
  );
  // Scaled out (docs/SCALING.md): one of several workers on the gateways' readings streams instead of the MQTT subscription.
  const stream = config.INGEST_STREAM_REDIS_URL
    ? createStreamSource(
        { accept: pipeline.accept, forgetRegisters: pipeline.forgetRegisters, logger, ...(deps.metrics ? { metrics: deps.metrics } : {}) },
        {
          url: config.INGEST_STREAM_REDIS_URL,
          ...(config.INGEST_STREAM_WORKER_ID ? { workerId: config.INGEST_STREAM_WORKER_ID } : {}),
          leaseMs: config.INGEST_STREAM_LEASE_MS,
          readEntries: config.INGEST_STREAM_READ_ENTRIES,
          maxPending: config.INGEST_MAX_PENDING_MESSAGES,
          maxPendingBytes: config.INGEST_MAX_PENDING_BYTES,
        },
      )
    : undefined;
  const consumer = stream ?? createMqttConsumer(
    { accept: pipeline.accept, pending: pipeline.pending, logger, ...(deps.metrics ? { metrics: deps.metrics } : {}) },
    {
      url: config.INGEST_MQTT_URL,
      username: config.INGEST_MQTT_USERNAME,
      ...(config.INGEST_MQTT_PASSWORD ? { password: config.INGEST_MQTT_PASSWORD } : {}),
      clientId: config.INGEST_MQTT_CLIENT_ID,
      maxPending: config.INGEST_MAX_PENDING_MESSAGES,
      maxPendingBytes: config.INGEST_MAX_PENDING_BYTES,
    },
  );
  return {
    pipeline,
    /** The stream worker, when INGEST_STREAM_REDIS_URL is set. */
    stream,
    sealer,
    async start(): Promise<void> {
      await consumer.start();
      // Several stream workers would each extend the same seal chains: they only record
      // amendments, and one `wattproof seal` (a timer) seals for all (docs/integrity.md).
      if (!stream) sealer.start();
      logger.info({ source: stream ? `readings streams (worker ${stream.workerId})` : config.INGEST_MQTT_URL, store: deps.readings.name }, 'ingest consuming');
    },
    connected: () => consumer.connected(),
    /**
     * Readiness: connected to the broker, the reading store answering its ping, and fewer than
     * READY_MAX_PENDING_RATIO (90 %) of INGEST_MAX_PENDING_MESSAGES pending (a full window means
     * the store is not keeping up). Each failed check is named in `reasons`.
     */
    async ready(): Promise<{ ready: boolean; reasons: string[]; pending: number }> {
      const reasons: string[] = [];
      if (!consumer.connected()) reasons.push(stream ? 'not connected to the readings streams\' Redis' : 'not connected to the broker');
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
      sealer.stop();
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
      await sealer.close();
    },
    /** Drops the broker connection at once without acknowledging anything pending (as a crash would). */
    async abort(): Promise<void> {
      sealer.stop();
      await consumer.close(true);
    },
  };
}

export type Ingest = ReturnType<typeof createIngest>;
