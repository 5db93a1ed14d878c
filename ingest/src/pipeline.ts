/**
 * The ingest pipeline, independent of MQTT: validate -> normalize -> batch -> durable write.
 * `accept()` resolves only when everything the message produced is durable: its readings in the
 * reading store, or the message itself in the dead letters. The caller acknowledges the MQTT
 * message then, and not before.
 *
 * Writes are serial (one batch in flight) so that the last write of a key is the last received.
 * A batch is taken from the queue when its write starts, not when it is due: what arrived during
 * the previous write goes out in one write of up to INGEST_WRITE_MAX_READINGS readings, which the
 * InfluxDB adapter sends as several requests at once (see `takeBatch`). A failed write is retried with back-off for as long as it takes (the broker keeps the
 * unacknowledged messages meanwhile); a batch the store refuses for good is split per message
 * and only the refused messages are dead-lettered.
 *
 * Integrity (docs/integrity.md): a reading older than INGEST_SEAL_AFTER_S may fall into a sealed
 * day; once its write is confirmed, it is recorded as a `reading-amendment` when its day is sealed,
 * before the message is acknowledged. Younger readings cost one comparison.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  encodeDeadLetterPayload,
  meterKey,
  parseReadingsMessage,
  parseTopic,
  silentLogger,
  type Logger,
  type MeterRef,
  type NewDeadLetter,
  type ReadingStore,
  type RegisterEvent,
  type RegistryStore,
  type StoredReading,
  type ValidReadingsMessage,
} from '@wattproof/core';
import type { IngestConfig } from './config.js';
import { createAmendmentRecorder, type LateWrite } from './integrity/amendments.js';
import { createSealIndex, type SealIndex } from './integrity/seal-index.js';
import { createNormalizer, type NormalizedMessage } from './normalize.js';
import { createRecentReadings, seriesKey, NO_ENTRY, type EntryHandle } from './recent-readings.js';

export interface PipelineDeps {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  readonly logger?: Logger;
  readonly clock?: () => number;
  readonly metrics?: Registry;
  /** Sleep used between retries (tests may shorten it). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Seal chain heads, shared with the sealer of the same process (created when absent). */
  readonly seals?: SealIndex;
}

export interface IncomingMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly clientId?: string;
  /**
   * Where the message came from, for logs: the MQTT packet id (QoS 1; reused once acknowledged)
   * or the readings-stream entry id (`<ms>-<seq>`). Absent for QoS 0.
   */
  readonly messageId?: string;
}

/**
 * What identifies `msg` in a log line: topic, the device (`site/building/meter`, from the topic),
 * client id and message id when known. Never the payload (it may be large, and is in the dead
 * letter when it matters).
 */
export function messageLogFields(msg: IncomingMessage): Record<string, string> {
  const topic = parseTopic(msg.topic);
  return {
    topic: msg.topic.slice(0, 300),
    ...(topic ? { device: meterKey(topic) } : {}),
    ...(msg.clientId ? { clientId: msg.clientId } : {}),
    ...(msg.messageId !== undefined ? { messageId: msg.messageId } : {}),
  };
}

/** Freshness of the store writes, for health checks (`pipeline.freshness()`). */
export interface IngestFreshness {
  /** Largest reading timestamp (epoch ms) in any store write confirmed since start; null before the first. */
  readonly newestStoredReadingTsMs: number | null;
  /** Clock time (epoch ms) of the last confirmed store write; null before the first. */
  readonly lastStoredAtMs: number | null;
}

export type AcceptOutcome = 'stored' | 'dead_lettered' | 'ignored';

interface PendingItem {
  readonly readings: StoredReading[];
  readonly events: RegisterEvent[];
  readonly deadLetter?: NewDeadLetter;
  readonly message?: IncomingMessage;
  /** The duplicate-cache entries of `readings`, marked durable once they are written. */
  readonly remembered: EntryHandle[];
  /** Readings older than INGEST_SEAL_AFTER_S: their day may be sealed. */
  readonly late?: LateWrite[];
  resolve(outcome: AcceptOutcome): void;
  reject(err: unknown): void;
}

type NewItem = Omit<PendingItem, 'resolve' | 'reject'>;

/** A valid readings message of a meter, not yet normalized. */
interface ParsedMessage {
  readonly msg: IncomingMessage;
  readonly ref: MeterRef;
  readonly key: string;
  readonly value: ValidReadingsMessage;
  readonly nowMs: number;
}

const isParsed = (p: NewItem | ParsedMessage): p is ParsedMessage => 'value' in p;

function createPipelineMetrics(registry: Registry) {
  return {
    messages: new Counter({ name: 'wattproof_ingest_messages_total', help: 'Messages by outcome', labelNames: ['outcome'] as const, registers: [registry] }),
    rejections: new Counter({ name: 'wattproof_ingest_rejections_total', help: 'Dead-lettered messages by error code', labelNames: ['code'] as const, registers: [registry] }),
    readings: new Counter({ name: 'wattproof_ingest_readings_written_total', help: 'Readings written to the store (derived intervals included)', registers: [registry] }),
    duplicates: new Counter({ name: 'wattproof_ingest_duplicates_total', help: 'Exact duplicate readings (same series, timestamp, value) dropped', registers: [registry] }),
    corrections: new Counter({ name: 'wattproof_ingest_corrections_total', help: 'Readings that replaced an earlier value of the same series and timestamp', registers: [registry] }),
    late: new Counter({ name: 'wattproof_ingest_late_readings_total', help: 'Readings older than INGEST_LATE_AFTER_S when received', registers: [registry] }),
    amendments: new Counter({ name: 'wattproof_ingest_amendments_total', help: 'Readings written into an already sealed day, recorded as amendments', registers: [registry] }),
    registerEvents: new Counter({ name: 'wattproof_ingest_register_events_total', help: 'Register rollovers, resets and replacements detected', labelNames: ['type'] as const, registers: [registry] }),
    writeFailures: new Counter({ name: 'wattproof_ingest_store_write_failures_total', help: 'Failed store writes (retried)', registers: [registry] }),
    pending: new Gauge({ name: 'wattproof_ingest_pending_messages', help: 'Messages accepted but not yet durable', registers: [registry] }),
    batchSeconds: new Histogram({ name: 'wattproof_ingest_batch_write_seconds', help: 'Store write time per batch', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
  };
}

export type IngestPipeline = ReturnType<typeof createIngestPipeline>;

/** Messages named in one amendment log line at most (the rest are counted). */
const AMENDMENT_LOG_MAX_MESSAGES = 20;

export function createIngestPipeline(deps: PipelineDeps, config: IngestConfig) {
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? Date.now;
  // Retry timers are tracked so that abort() can clear them: a pending back-off must not keep a
  // stopping process alive (found by test/reliability/sigterm.test.ts, SIGTERM while the store is down).
  const retryTimers = new Set<NodeJS.Timeout>();
  const sleep =
    deps.sleep ??
    ((ms: number) =>
      new Promise<void>((r) => {
        const t = setTimeout(() => {
          retryTimers.delete(t);
          r();
        }, ms);
        retryTimers.add(t);
      }));
  let aborted = false;
  let onAbort: () => void = () => {};
  const abortedSignal = new Promise<void>((r) => (onAbort = r));
  const metrics = createPipelineMetrics(deps.metrics ?? new Registry());
  const amendments = createAmendmentRecorder({ registry: deps.registry, index: deps.seals ?? createSealIndex(deps.registry), clock });
  const normalizer = createNormalizer(
    {
      clock,
      loadRegisters: async (s, from, to) =>
        (await withRetry('register history load', () =>
          deps.readings.query({ site: s.site, building: s.building, meter: s.meter, quantity: s.quantity, kind: 'register', from, to }),
        )).map((r) => ({ ts: r.ts, value: r.value })),
    },
    { registerLookbackMs: config.INGEST_REGISTER_LOOKBACK_S * 1000, maxFutureMs: config.INGEST_MAX_FUTURE_S * 1000 },
  );

  const recent = createRecentReadings(config.INGEST_DEDUPE_CACHE_SIZE);
  const knownMeters = new Set<string>();
  /**
   * The meters registered before this process saw them, loaded once, at the first meter not yet
   * known. Meters are never removed from a registry, so a listed meter needs no lookup; the others
   * are looked up (and registered) one by one as before. Without it, each meter's first message
   * after a start cost a `getMeter` (for the JSONL registry a `stat` and a read of the file's new
   * lines through the thread pool, one lookup at a time): a fresh pipeline taking the first message
   * of each of 1,000 registered meters used 136-383 ms of CPU (median 194, 5 runs) and with the list
   * 33-88 ms (median 50), in a scratch script on a JSONL registry (2026-12-02) — about 0.15 ms per
   * meter at every restart, 15 s of CPU for a city's 100,000 meters.
   */
  let registeredMetersLoaded: Promise<void> | undefined;
  function loadRegisteredMeters(): Promise<void> {
    registeredMetersLoaded ??= deps.registry.listMeters().then(
      (meters) => {
        for (const m of meters) knownMeters.add(meterKey(m));
      },
      // Not retried: the lookups one by one below are the fallback, and report their own failures.
      (err: unknown) => logger.warn({ err: (err as Error).message }, 'cannot list the registered meters; looking each meter up on its first message'),
    );
    return registeredMetersLoaded;
  }
  let queue: PendingItem[] = [];
  let queuedReadings = 0;
  let pendingCount = 0;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  /** A write is chained on `writing` that has not taken its batch from the queue yet. */
  let writeChained = false;
  const writeMaxReadings = Math.max(config.INGEST_WRITE_MAX_READINGS, config.INGEST_BATCH_MAX_READINGS);
  let normalizing: Promise<unknown> = Promise.resolve();
  /** Work queued on `normalizing` and not finished (accept()'s fast path needs it at 0). */
  let chained = 0;
  let closed = false;
  const idleWaiters: Array<() => void> = [];
  let newestStoredTsMs: number | null = null;
  let lastStoredAtMs: number | null = null;

  function enqueue(item: NewItem): Promise<AcceptOutcome> {
    return new Promise((resolve, reject) => {
      // Fields assigned, not spread: one spread per message showed with small messages.
      queue.push({ readings: item.readings, events: item.events, deadLetter: item.deadLetter, message: item.message, remembered: item.remembered, late: item.late, resolve, reject });
      queuedReadings += item.readings.length;
      if (queuedReadings >= config.INGEST_BATCH_MAX_READINGS) scheduleFlush(0);
      else scheduleFlush(config.INGEST_FLUSH_INTERVAL_MS);
    });
  }

  function scheduleFlush(delayMs: number): void {
    if (timer && delayMs > 0) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      // The write already chained takes these messages too.
      if (writeChained) return;
      writeChained = true;
      writing = writing.then(() => {
        writeChained = false;
        const batch = takeBatch();
        return writeBatch(batch).catch((err: unknown) => {
          // Nothing of this batch is acknowledged: the broker redelivers it. The chain goes on.
          logger.error({ err, messages: batch.length }, 'batch not durable; its messages will be redelivered');
          for (const item of batch) item.reject(err);
          settle(batch.length);
        });
      });
    }, delayMs);
  }

  /**
   * The queue's oldest messages, up to INGEST_WRITE_MAX_READINGS readings (whole messages, at
   * least one), when the write before has finished; the rest is scheduled as a next batch.
   * Batches used to be cut when due, of about INGEST_BATCH_MAX_READINGS each, and went out one
   * after another: under load, one InfluxDB request in flight where the adapter can send
   * INFLUX_WRITE_CONCURRENCY (docs/PERFORMANCE.md, "One write takes what arrived during the one
   * before").
   */
  function takeBatch(): PendingItem[] {
    let n = 0;
    let readings = 0;
    while (n < queue.length && (n === 0 || readings + queue[n]!.readings.length <= writeMaxReadings)) readings += queue[n++]!.readings.length;
    const batch = n === queue.length ? queue : queue.slice(0, n);
    queue = n === queue.length ? [] : queue.slice(n);
    queuedReadings -= readings;
    if (queue.length) scheduleFlush(queuedReadings >= config.INGEST_BATCH_MAX_READINGS || closed ? 0 : config.INGEST_FLUSH_INTERVAL_MS);
    return batch;
  }

  async function withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let delay = 100;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        const retriable = (err as { retriable?: boolean }).retriable !== false;
        if (!retriable || aborted) throw err;
        metrics.writeFailures.inc();
        logger.warn({ err: (err as Error).message, retryInMs: delay }, `${what} failed; retrying`);
        await Promise.race([sleep(delay), abortedSignal]);
        if (aborted) throw err;
        delay = Math.min(delay * 2, config.INGEST_RETRY_MAX_DELAY_MS);
      }
    }
  }

  async function writeReadings(items: PendingItem[]): Promise<PendingItem[]> {
    const readings = items.flatMap((i) => i.readings);
    if (!readings.length) return [];
    const end = metrics.batchSeconds.startTimer();
    try {
      await withRetry('store write', () => deps.readings.write(readings));
      end();
      let newest = newestStoredTsMs ?? -Infinity;
      for (const r of readings) if (r.ts > newest) newest = r.ts;
      newestStoredTsMs = newest;
      lastStoredAtMs = clock();
      return [];
    } catch (err) {
      // Given up because the ingest is stopping, not refused by the store: nothing to dead-letter.
      if (aborted) throw err;
      if (items.length === 1) {
        logger.error({ ...(items[0]!.message ? messageLogFields(items[0]!.message) : {}), err: (err as Error).message }, 'store refused a message');
        return items;
      }
      // The store refused the batch for good: find the messages it refuses, one by one.
      const refused: PendingItem[] = [];
      for (const item of items) refused.push(...(await writeReadings([item])));
      return refused;
    }
  }

  async function writeBatch(batch: PendingItem[]): Promise<void> {
    if (!batch.length) return;
    const refused = new Set(await writeReadings(batch));
    const late = batch.flatMap((i) => (i.late && !refused.has(i) ? i.late : []));
    if (late.length) {
      // After the write, before any acknowledgement: if this fails for good, nothing of the
      // batch is acknowledged and the broker redelivers it (written again, amended again).
      const n = await withRetry('amendment write', () => amendments.record(late));
      metrics.amendments.inc(n);
      if (n > 0) {
        const from = batch.filter((i) => i.late && !refused.has(i) && i.message).map((i) => messageLogFields(i.message!));
        logger.info({ amendments: n, messages: from.slice(0, AMENDMENT_LOG_MAX_MESSAGES), ...(from.length > AMENDMENT_LOG_MAX_MESSAGES ? { moreMessages: from.length - AMENDMENT_LOG_MAX_MESSAGES } : {}) }, 'readings written into sealed days; amendments recorded');
      }
    }
    const letters: NewDeadLetter[] = [];
    for (const item of batch) {
      if (item.deadLetter) letters.push(item.deadLetter);
      else if (refused.has(item) && item.message) {
        letters.push(deadLetterFor(item.message, 'INGEST_STORE_REJECTED', 'the reading store refused these readings', undefined));
      }
    }
    if (letters.length) await writeDeadLetters(letters);
    const events = batch.flatMap((i) => i.events);
    if (events.length) {
      await withRetry('register-event write', () => deps.registry.addRegisterEvents(events)).catch((err: unknown) =>
        logger.error({ err }, 'register events not stored'),
      );
    }
    // Messages by outcome counted here, once per batch: each message used to be counted by a
    // `.then` on its own promise with a labelled prom-client inc(), which counted a message the
    // store refused twice and a message the contract rejected not at all.
    const outcomes: Record<AcceptOutcome, number> = { stored: 0, dead_lettered: 0, ignored: 0 };
    let written = 0;
    for (const item of batch) {
      let outcome: AcceptOutcome;
      if (refused.has(item)) {
        metrics.rejections.inc({ code: 'INGEST_STORE_REJECTED' });
        outcome = 'dead_lettered';
      } else {
        for (const entry of item.remembered) recent.markDurable(entry);
        written += item.readings.length;
        outcome = item.deadLetter ? 'dead_lettered' : item.readings.length ? 'stored' : 'ignored';
      }
      outcomes[outcome]++;
      item.resolve(outcome);
    }
    metrics.readings.inc(written);
    for (const [outcome, n] of Object.entries(outcomes)) if (n) metrics.messages.inc({ outcome }, n);
    settle(batch.length);
  }

  function settle(n: number): void {
    pendingCount -= n;
    metrics.pending.set(pendingCount);
    if (pendingCount === 0) idleWaiters.splice(0).forEach((w) => w());
  }

  /**
   * Stores dead letters; one the registry refuses for good (e.g. text it cannot hold) is stored
   * again in a plain form: payload as base64, reason as escaped ASCII, details dropped.
   */
  async function writeDeadLetters(letters: NewDeadLetter[]): Promise<void> {
    try {
      await withRetry('dead-letter write', () => deps.registry.addDeadLetters(letters));
    } catch {
      for (const letter of letters) {
        try {
          await withRetry('dead-letter write', () => deps.registry.addDeadLetters([letter]));
        } catch (err) {
          logger.warn({ err, topic: letter.topic.slice(0, 300), ...(letter.clientId ? { clientId: letter.clientId } : {}), code: letter.code }, 'dead letter refused by the registry; storing it in plain form');
          const plain: NewDeadLetter = {
            ...letter,
            reason: JSON.stringify(letter.reason).slice(1, -1).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
            details: undefined,
            payload: letter.payloadEncoding === 'base64' ? letter.payload : Buffer.from(letter.payload, 'utf8').toString('base64'),
            payloadEncoding: 'base64',
          };
          await withRetry('dead-letter write', () => deps.registry.addDeadLetters([plain]));
        }
      }
    }
  }

  function deadLetterFor(msg: IncomingMessage, code: string, reason: string, details: unknown): NewDeadLetter {
    return {
      receivedAtMs: clock(),
      source: 'ingest',
      topic: msg.topic,
      ...(msg.clientId ? { clientId: msg.clientId } : {}),
      code,
      reason,
      ...(details === undefined ? {} : { details }),
      ...encodeDeadLetterPayload(msg.payload),
    };
  }

  /**
   * The synchronous first part of processing a message: a finished item (a dead letter, or nothing
   * to do for a status message), or the validated message of a meter.
   */
  function parse(msg: IncomingMessage): NewItem | ParsedMessage {
    const topic = parseTopic(msg.topic);
    if (!topic) {
      return { readings: [], events: [], remembered: [], message: msg, deadLetter: deadLetterFor(msg, 'CONTRACT_TOPIC_INVALID', `"${msg.topic.slice(0, 200)}" is not wattproof/v1/<site>/<building>/<meter>/readings`, undefined) };
    }
    if (topic.channel === 'status') return { readings: [], events: [], remembered: [] };
    const nowMs = clock();
    const parsed = parseReadingsMessage(msg.payload, { nowMs, maxFutureMs: config.INGEST_MAX_FUTURE_S * 1000, maxPayloadBytes: config.INGEST_MAX_PAYLOAD_BYTES });
    if (!parsed.ok) {
      return { readings: [], events: [], remembered: [], message: msg, deadLetter: deadLetterFor(msg, parsed.error.code, parsed.error.reason, { issues: parsed.error.issues }) };
    }
    const ref = { site: topic.site, building: topic.building, meter: topic.meter };
    return { msg, ref, key: meterKey(ref), value: parsed.value, nowMs };
  }

  /** The rest of processing, with what it may have to wait for: registering a new meter, loading register history. */
  async function finish(p: ParsedMessage): Promise<NewItem> {
    if (!knownMeters.has(p.key)) await loadRegisteredMeters();
    if (!knownMeters.has(p.key)) {
      if (!(await deps.registry.getMeter(p.ref))) await withRetry('meter registration', () => deps.registry.upsertMeter(p.ref));
      knownMeters.add(p.key);
    }
    return collect(p, await normalizer.normalize(p.ref, p.value));
  }

  /** finish() without waiting, when nothing in it has to (a known meter, no register reading); undefined otherwise. */
  function finishNow(p: ParsedMessage): NewItem | undefined {
    if (!knownMeters.has(p.key)) return undefined;
    const normalized = normalizer.normalizeNow(p.ref, p.value);
    return normalized && collect(p, normalized);
  }

  async function process(msg: IncomingMessage): Promise<NewItem> {
    const p = parse(msg);
    return isParsed(p) ? finish(p) : p;
  }

  /** Duplicate detection and late-data records of a normalized message: the item to batch. */
  function collect(p: ParsedMessage, normalized: NormalizedMessage): NewItem {
    const { msg, key, nowMs } = p;
    const readings: StoredReading[] = [];
    const remembered: EntryHandle[] = [];
    const lateBefore = nowMs - config.INGEST_LATE_AFTER_S * 1000;
    // No day ending after this instant is sealed yet: only older readings can amend a sealed day.
    const sealBefore = nowMs - config.INGEST_SEAL_AFTER_S * 1000;
    let late: LateWrite[] | undefined;
    // One series lookup per run of readings of the same quantity and kind (recent-readings.ts).
    let series = 0;
    let seriesQuantity = '';
    let seriesKind = '';
    // Counted here and added to the metrics once per message: a prom-client inc() per reading
    // showed in a backfill's profile, where every reading is late.
    let duplicates = 0;
    let corrections = 0;
    let lateReadings = 0;
    for (const r of normalized.readings) {
      if (r.quantity !== seriesQuantity || r.kind !== seriesKind) {
        seriesQuantity = r.quantity;
        seriesKind = r.kind;
        series = recent.seriesId(seriesKey(key, r.quantity, r.kind));
      }
      const seen = recent.find(series, r.ts);
      const seenValue = seen === NO_ENTRY ? undefined : recent.value(seen);
      let entry: EntryHandle;
      if (seenValue === r.value) {
        // An exact duplicate: dropped when its first copy is durable, written again (idempotent)
        // when that copy is still pending, so that this message is acknowledged only once it is.
        duplicates++;
        if (recent.isDurable(seen)) continue;
        entry = seen;
      } else {
        entry = recent.remember(series, r.ts, r.value);
        if (seenValue !== undefined) corrections++;
      }
      if (r.ts < lateBefore) lateReadings++;
      if (r.ts < sealBefore) {
        // Optional fields assigned, not spread: per-reading spreads were a measurable share of a
        // backfill's CPU (bench/simulate.ts --cpu-prof; every reading of a backfill is late).
        const write: { -readonly [K in keyof LateWrite]: LateWrite[K] } = { reading: r, topic: msg.topic, receivedAtMs: nowMs };
        if (seenValue !== undefined && seenValue !== r.value) write.previousValue = seenValue;
        if (msg.clientId) write.clientId = msg.clientId;
        (late ??= []).push(write);
      }
      readings.push(r);
      remembered.push(entry);
    }
    if (duplicates) metrics.duplicates.inc(duplicates);
    if (corrections) metrics.corrections.inc(corrections);
    if (lateReadings) metrics.late.inc(lateReadings);
    for (const e of normalized.events) metrics.registerEvents.inc({ type: e.type });
    return late ? { readings, events: normalized.events, remembered, message: msg, late } : { readings, events: normalized.events, remembered, message: msg };
  }

  /** Hands a processed message to the batch; resolves with its outcome once durable. */
  function handle(msg: IncomingMessage, item: NewItem): Promise<AcceptOutcome> {
    if (item.deadLetter) {
      metrics.rejections.inc({ code: item.deadLetter.code });
      logger.warn({ ...messageLogFields(msg), code: item.deadLetter.code, reason: item.deadLetter.reason }, 'message rejected; dead-lettered');
    }
    return enqueue(item);
  }

  /**
   * A failure of ours while processing, not bad input (e.g. the store unreachable while loading
   * register history): dead-lettered with the reason rather than lose the message or stall the stream.
   */
  function failed(msg: IncomingMessage, err: unknown): Promise<AcceptOutcome> {
    logger.error({ ...messageLogFields(msg), err }, 'message processing failed; dead-lettered');
    const letter = deadLetterFor(msg, 'INGEST_STORE_REJECTED', `processing failed: ${(err as Error).message}`, undefined);
    metrics.rejections.inc({ code: letter.code });
    return enqueue({ readings: [], events: [], remembered: [], message: msg, deadLetter: letter });
  }

  /**
   * Processes a message on the normalizing chain, after everything queued there before it, and
   * hands it to the batch in the same step that takes it off the chain: no message taking the
   * fast path in accept() can be batched between the two.
   */
  function processInTurn(msg: IncomingMessage, work: () => Promise<NewItem>): Promise<AcceptOutcome> {
    chained++;
    const handed = normalizing.then(work).then(
      (item) => {
        chained--;
        return { outcome: handle(msg, item) };
      },
      (err: unknown) => {
        chained--;
        return { outcome: failed(msg, err) };
      },
    );
    normalizing = handed.catch(() => undefined);
    return handed.then((h) => h.outcome);
  }

  return {
    /**
     * Takes one MQTT message. Resolves when it is durable (stored or dead-lettered); never rejects
     * for bad input. Messages are normalized in arrival order.
     */
    accept(msg: IncomingMessage): Promise<AcceptOutcome> {
      if (closed) return Promise.reject(Object.assign(new Error('ingest is closing'), { code: 'INGEST_NOT_STARTED', retriable: true }));
      pendingCount++;
      metrics.pending.set(pendingCount);
      // Messages are processed in arrival order. While nothing waits on the chain, a message that
      // needs no waiting is processed at once, without a promise per step: the chain's promises
      // and microtasks were a visible share of the cost of small messages (bench/ingest-stages.ts).
      if (chained === 0) {
        let p: NewItem | ParsedMessage;
        let item: NewItem | undefined;
        try {
          p = parse(msg);
          item = isParsed(p) ? finishNow(p) : p;
        } catch (err) {
          return failed(msg, err);
        }
        if (item) return handle(msg, item);
        const parsed = p as ParsedMessage;
        return processInTurn(msg, () => finish(parsed));
      }
      return processInTurn(msg, () => process(msg));
    },
    /**
     * Runs `fn` in the write slot: after the batch being written, before the next one. The
     * sealer seals each series in it, so no reading is written between its query and its seal.
     */
    exclusive<T>(fn: () => Promise<T>): Promise<T> {
      const run = writing.then(fn);
      writing = run.then(
        () => undefined,
        () => undefined,
      );
      return run;
    },
    /**
     * Drops the register history of the meters `match` selects (normalize.ts `forget`), in turn
     * with the messages accepted so far: those are normalized with the history they had. For
     * meters whose readings another ingest worker may have written (stream-source.ts, on taking
     * a shard). Resolves with the series dropped.
     */
    forgetRegisters(match: (meterKey: string) => boolean): Promise<number> {
      chained++;
      const forgotten = normalizing.then(() => normalizer.forget(match));
      normalizing = forgotten.then(
        () => void chained--,
        () => void chained--,
      );
      return forgotten;
    },
    /** Messages accepted and not yet durable. */
    pending(): number {
      return pendingCount;
    },
    /** Newest reading timestamp and time of the last confirmed store write (for `/health`). */
    freshness(): IngestFreshness {
      return { newestStoredReadingTsMs: newestStoredTsMs, lastStoredAtMs };
    },
    /** Resolves when nothing is pending. */
    async drain(): Promise<void> {
      if (pendingCount === 0) return;
      scheduleFlush(0);
      await new Promise<void>((r) => idleWaiters.push(r));
    },
    /**
     * Stops retrying: the write in flight ends with its store timeout, pending messages are
     * rejected (never acknowledged; the broker redelivers them). For a shutdown that cannot wait.
     */
    abort(): void {
      closed = true;
      aborted = true;
      for (const t of retryTimers) clearTimeout(t);
      retryTimers.clear();
      onAbort();
      scheduleFlush(0);
    },
    async close(): Promise<void> {
      closed = true;
      if (pendingCount > 0) {
        scheduleFlush(0);
        await new Promise<void>((r) => idleWaiters.push(r));
      }
      if (timer) clearTimeout(timer);
    },
  };
}
