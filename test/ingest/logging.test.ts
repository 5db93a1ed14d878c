/**
 * What the ingest logs about a message (issue 7 req. 6), and the freshness its /health reports:
 *
 * - a dead-lettered message, a message the store refuses, one whose processing fails and a write
 *   into a sealed day each get a line with the topic, the device (from the topic), the client id
 *   and the message id (MQTT packet id, stream entry id), the reason code where there is one, and
 *   never the payload;
 * - over a real gateway the message id is the PUBLISH packet id; from the readings streams (real
 *   Redis), the entry id;
 * - `pipeline.freshness()`: the newest reading timestamp of the confirmed store writes and the
 *   time of the last one; dead letters and refused writes do not count.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { configWith, READINGS_STREAM_FIELDS as F, READINGS_STREAM_META_KEY, readingsStreamKey, readingsTopic, type Logger, type ReadingStore, type StoredReading } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createIngest, createIngestPipeline, createReadingSealer, createStreamSource, ingestConfigSchema, messageLogFields, type IncomingMessage, type IngestPipeline } from '@wattproof/ingest';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';
import { connectClient, waitFor } from '../support/mqtt.js';
import { startRedis, type TestRedis } from '../support/redis.js';

interface Line {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

/** A logger that keeps every line (children write to the same list). */
function capturingLogger(lines: Line[] = []): Logger & { lines: Line[] } {
  const at =
    (level: Line['level'], bindings: Record<string, unknown>) =>
    (obj: object | string, msg?: string): void => {
      lines.push(typeof obj === 'string' ? { level, obj: { ...bindings }, msg: obj } : { level, obj: { ...bindings, ...(obj as Record<string, unknown>) }, msg: msg ?? '' });
    };
  const make = (bindings: Record<string, unknown>): Logger & { lines: Line[] } => ({
    lines,
    debug: at('debug', bindings),
    info: at('info', bindings),
    warn: at('warn', bindings),
    error: at('error', bindings),
    child: (b) => make({ ...bindings, ...b }),
  });
  return make({});
}

const HOUR = 3_600_000;
const NOW = Date.parse('2026-11-02T00:00:00Z');
const M = { site: 'yz', building: 'b01', meter: 'elec' };
const TOPIC = readingsTopic(M);
const config = configWith(ingestConfigSchema, { INGEST_FLUSH_INTERVAL_MS: 5, INGEST_RETRY_MAX_DELAY_MS: 100 });
const payload = (...readings: Array<[number, number]>) =>
  Buffer.from(JSON.stringify({ seq: 1, readings: readings.map(([ts, value]) => ({ ts, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 3600, value })) }));
/** Marks a payload so a test can tell whether it reached a log line. */
const MARKER = 'payload-body-marker-6b1f';

let pipeline: IngestPipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

async function pipelineWith(readings: ReadingStore = createMemoryReadingStore(), clock = () => NOW) {
  const registry = createMemoryRegistryStore();
  await registry.init();
  const logger = capturingLogger();
  pipeline = createIngestPipeline({ readings, registry, logger, clock, sleep: async () => undefined }, config);
  return { pipeline, logger, registry, readings };
}

describe('ingest log lines about a message', () => {
  it('a dead-lettered message: topic, device, client id, message id and reason code, no payload', async () => {
    const { pipeline, logger, registry } = await pipelineWith();
    const body = `{"seq":1,"readings":[{"ts":"yesterday","note":"${MARKER}"}]}`;
    expect(await pipeline.accept({ topic: TOPIC, payload: Buffer.from(body), clientId: 'dev-7', messageId: '42' })).toBe('dead_lettered');
    const line = logger.lines.find((l) => l.msg.includes('dead-lettered'));
    expect(line?.level).toBe('warn');
    expect(line?.obj).toMatchObject({ topic: TOPIC, device: 'yz/b01/elec', clientId: 'dev-7', messageId: '42', code: 'CONTRACT_SCHEMA_INVALID' });
    expect(typeof line?.obj.reason).toBe('string');
    // The payload is in the dead letter, not in the log.
    expect((await registry.listDeadLetters())[0]!.payload).toContain(MARKER);
    expect(JSON.stringify(logger.lines)).not.toContain(MARKER);

    // A topic outside the contract: no device, the rest as before.
    expect(await pipeline.accept({ topic: 'elsewhere/x', payload: Buffer.from(MARKER), clientId: 'dev-8', messageId: '1700000000000-3' })).toBe('dead_lettered');
    const other = logger.lines.filter((l) => l.msg.includes('dead-lettered'))[1];
    expect(other?.obj).toMatchObject({ topic: 'elsewhere/x', clientId: 'dev-8', messageId: '1700000000000-3', code: 'CONTRACT_TOPIC_INVALID' });
    expect(other?.obj.device).toBeUndefined();
    expect(JSON.stringify(logger.lines)).not.toContain(MARKER);
  });

  it('a message the store refuses for good, and one whose processing fails, name the message', async () => {
    const inner = createMemoryReadingStore();
    let refuse = false;
    const store: ReadingStore = {
      ...inner,
      async write(readings: readonly StoredReading[]) {
        if (refuse) throw Object.assign(new Error('field type conflict'), { code: 'STORE_WRITE_REJECTED', retriable: false });
        return inner.write(readings);
      },
    };
    const { pipeline, logger } = await pipelineWith(store);
    refuse = true;
    expect(await pipeline.accept({ topic: TOPIC, payload: payload([NOW - HOUR, 1]), clientId: 'dev-7', messageId: '7' })).toBe('dead_lettered');
    expect(logger.lines.find((l) => l.msg === 'store refused a message')?.obj).toMatchObject({ topic: TOPIC, device: 'yz/b01/elec', clientId: 'dev-7', messageId: '7', err: 'field type conflict' });

    // Loading the register history fails for good: processing fails, the message is dead-lettered.
    store.query = async () => Promise.reject(Object.assign(new Error('history unreadable'), { retriable: false }));
    const register = Buffer.from(JSON.stringify({ seq: 2, readings: [{ ts: NOW - HOUR, quantity: 'electricity', unit: 'kWh', kind: 'register', value: 100 }] }));
    expect(await pipeline.accept({ topic: TOPIC, payload: register, clientId: 'dev-7', messageId: '8' })).toBe('dead_lettered');
    expect(logger.lines.find((l) => l.msg.startsWith('message processing failed'))?.obj).toMatchObject({ topic: TOPIC, device: 'yz/b01/elec', clientId: 'dev-7', messageId: '8' });
  });

  it('a write into a sealed day: the amendment line names the messages', async () => {
    const at = (local: string) => Date.parse(`${local}+08:00`);
    const now = at('2025-03-09T00:00:00');
    const readings = createMemoryReadingStore();
    const registry = createMemoryRegistryStore();
    await registry.init();
    await readings.write(Array.from({ length: 24 }, (_, h) => ({ ...M, quantity: 'electricity' as const, kind: 'interval' as const, unit: 'kWh' as const, ts: at('2025-03-02T00:00:00') + h * HOUR, value: h, intervalS: 3600 })));
    expect((await createReadingSealer({ readings, registry, clock: () => now }, config).seal()).sealed).toHaveLength(1);
    const logger = capturingLogger();
    pipeline = createIngestPipeline({ readings, registry, logger, clock: () => now }, config);
    expect(await pipeline.accept({ topic: TOPIC, payload: payload([at('2025-03-02T10:00:00'), 9.5]), clientId: 'dev-7', messageId: '99' })).toBe('stored');
    const line = logger.lines.find((l) => l.msg.includes('amendments recorded'));
    expect(line?.level).toBe('info');
    expect(line?.obj).toMatchObject({ amendments: 1, messages: [{ topic: TOPIC, device: 'yz/b01/elec', clientId: 'dev-7', messageId: '99' }] });
  });

  it('messageLogFields keeps a long topic short and leaves out what is unknown', () => {
    expect(messageLogFields({ topic: TOPIC, payload: Buffer.from(MARKER) })).toEqual({ topic: TOPIC, device: 'yz/b01/elec' });
    const long = messageLogFields({ topic: 'x'.repeat(10_000), payload: Buffer.alloc(0) });
    expect(long.topic).toHaveLength(300);
  });
});

describe('pipeline.freshness()', () => {
  it('reports the newest stored reading and the time of the last confirmed write; dead letters and refusals do not count', async () => {
    let clock = NOW;
    const inner = createMemoryReadingStore();
    let refuse = false;
    const store: ReadingStore = {
      ...inner,
      async write(readings: readonly StoredReading[]) {
        if (refuse) throw Object.assign(new Error('refused'), { retriable: false });
        return inner.write(readings);
      },
    };
    const { pipeline } = await pipelineWith(store, () => clock);
    expect(pipeline.freshness()).toEqual({ newestStoredReadingTsMs: null, lastStoredAtMs: null });

    expect(await pipeline.accept({ topic: TOPIC, payload: Buffer.from('not json') })).toBe('dead_lettered');
    expect(pipeline.freshness()).toEqual({ newestStoredReadingTsMs: null, lastStoredAtMs: null });

    clock = NOW + 1000;
    expect(await pipeline.accept({ topic: TOPIC, payload: payload([NOW - 3 * HOUR, 1], [NOW - HOUR, 2], [NOW - 2 * HOUR, 3]) })).toBe('stored');
    expect(pipeline.freshness()).toEqual({ newestStoredReadingTsMs: NOW - HOUR, lastStoredAtMs: NOW + 1000 });

    // An older reading, written later: the newest stays, the write time moves.
    clock = NOW + 2000;
    expect(await pipeline.accept({ topic: TOPIC, payload: payload([NOW - 5 * HOUR, 4]) })).toBe('stored');
    expect(pipeline.freshness()).toEqual({ newestStoredReadingTsMs: NOW - HOUR, lastStoredAtMs: NOW + 2000 });

    // Refused by the store: not stored, not fresh.
    refuse = true;
    clock = NOW + 3000;
    expect(await pipeline.accept({ topic: TOPIC, payload: payload([NOW, 5]) })).toBe('dead_lettered');
    expect(pipeline.freshness()).toEqual({ newestStoredReadingTsMs: NOW - HOUR, lastStoredAtMs: NOW + 2000 });
  });
});

describe('over a real gateway', () => {
  const open: Array<{ close(): Promise<void> } | MqttClient> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await ('endAsync' in o ? o.endAsync(true) : o.close()).catch(() => undefined);
  });

  it('a dead-lettered MQTT message is logged with its PUBLISH packet id', async () => {
    const registry = createMemoryRegistryStore();
    await registry.init();
    const svc = await provisionService(registry, 'wattproof-ingest', 'service');
    const dev = await provisionDevice(registry, M);
    const gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0 }));
    const url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
    open.push(gateway);
    const logger = capturingLogger();
    const ingest = createIngest(
      { readings: createMemoryReadingStore(), registry, logger, clock: () => NOW },
      configWith(ingestConfigSchema, { INGEST_MQTT_URL: url, INGEST_MQTT_PASSWORD: svc.secret, INGEST_FLUSH_INTERVAL_MS: 5, INGEST_CLOSE_TIMEOUT_MS: 500 }),
    );
    await ingest.start();
    open.push(ingest);
    const d = await connectClient(url, { username: dev.username, password: dev.secret, clientId: 'dev-logging' });
    open.push(d);
    await d.publishAsync(TOPIC, `not json ${MARKER}`, { qos: 1 });
    await waitFor(async () => (await registry.countDeadLetters()) === 1, 10_000, 'the dead letter');
    const line = logger.lines.find((l) => l.msg.includes('dead-lettered'));
    expect(line?.obj).toMatchObject({ topic: TOPIC, device: 'yz/b01/elec', clientId: 'wattproof-ingest', code: 'CONTRACT_PAYLOAD_NOT_JSON' });
    // The packet id the gateway gave this delivery to the ingest's session (1..65535) [MQTT-2.3.1-1].
    expect(Number(line?.obj.messageId)).toBeGreaterThanOrEqual(1);
    expect(Number(line?.obj.messageId)).toBeLessThanOrEqual(65_535);
    expect(JSON.stringify(logger.lines)).not.toContain(MARKER);
    expect(JSON.stringify(logger.lines)).not.toContain(svc.secret);
  });
});

describe('from the readings streams', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('passes the entry id as the message id, and logs an entry that is not durable with it', async () => {
    const admin = redis.client();
    try {
      await admin.hset(READINGS_STREAM_META_KEY, 'shards', '1');
      const ids: string[] = [];
      for (const [i, client] of ['dev-a', 'dev-b'].entries()) {
        ids.push((await admin.xadd(readingsStreamKey(0), '*', F.topic, readingsTopic({ ...M, meter: `m${i}` }), F.payload, Buffer.from(MARKER), F.client, client, F.receivedMs, '0'))!);
      }
      const seen: IncomingMessage[] = [];
      const logger = capturingLogger();
      const source = createStreamSource(
        {
          logger,
          // The first is durable; the second fails (as a store outage would) and stays pending.
          accept: async (msg) => {
            seen.push(msg);
            if (seen.length === 1) return 'stored';
            throw Object.assign(new Error('store unreachable'), { code: 'STORE_UNAVAILABLE' });
          },
        },
        { url: redis.url, workerId: 'w-logging', leaseMs: 1500, readEntries: 10, maxPending: 10 },
      );
      try {
        await source.start();
        await waitFor(() => logger.lines.some((l) => l.msg.startsWith('entry not durable')), 10_000, 'the failed entry');
        expect(seen.slice(0, 2).map((m) => [m.messageId, m.clientId])).toEqual([
          [ids[0], 'dev-a'],
          [ids[1], 'dev-b'],
        ]);
        const line = logger.lines.find((l) => l.msg.startsWith('entry not durable'))!;
        expect(line.level).toBe('error');
        expect(line.obj).toMatchObject({ topic: readingsTopic({ ...M, meter: 'm1' }), device: 'yz/b01/m1', clientId: 'dev-b', messageId: ids[1], shard: 0 });
        expect(JSON.stringify(logger.lines)).not.toContain(MARKER);
      } finally {
        await source.close(true);
      }
    } finally {
      admin.disconnect();
    }
  });
});
