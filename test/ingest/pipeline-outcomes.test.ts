/**
 * `wattproof_ingest_messages_total{outcome}` (ingest/src/pipeline.ts): every accepted message is
 * counted once, by the outcome its accept() resolves with: stored, ignored (nothing to write),
 * or dead_lettered, whether the contract rejected it or the store refused its readings for good.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { configWith, readingsTopic, statusTopic, type ReadingStore } from '@wattproof/core';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createIngestPipeline, ingestConfigSchema, type IngestPipeline } from '@wattproof/ingest';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const T = NOW - 3_600_000;
const M = { site: 'yz', building: 'b01', meter: 'elec' };
const reading = (ts: number, value: number) => ({ ts, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value });
const payload = (seq: number, ...readings: object[]) => Buffer.from(JSON.stringify({ seq, readings }));

let pipeline: IngestPipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

describe('ingest pipeline: messages by outcome', () => {
  it('counts each message once, by the outcome it resolved with', async () => {
    const inner = createMemoryReadingStore();
    // Refuses for good any write holding the value 666, as a store refuses a point it cannot hold.
    const store: ReadingStore = {
      ...inner,
      async write(readings) {
        if (readings.some((r) => r.value === 666)) throw Object.assign(new Error('refused for good'), { retriable: false });
        await inner.write(readings);
      },
    };
    const registry = createMemoryRegistryStore();
    await registry.init();
    const metrics = new Registry();
    pipeline = createIngestPipeline({ readings: store, registry, clock: () => NOW, metrics }, configWith(ingestConfigSchema, { INGEST_FLUSH_INTERVAL_MS: 1 }));
    const topic = readingsTopic(M);
    const outcomes = await Promise.all([
      pipeline.accept({ topic, payload: payload(1, reading(T, 1)) }),
      pipeline.accept({ topic, payload: payload(2, reading(T + 900_000, 2)) }),
      pipeline.accept({ topic, payload: payload(3, reading(T, 1)) }), // a duplicate of a pending reading: written again
      pipeline.accept({ topic, payload: Buffer.from('{"seq":4,"readings":[]}') }), // contract: no readings
      pipeline.accept({ topic, payload: Buffer.from('{"seq":4,') }), // contract: not JSON
      pipeline.accept({ topic, payload: payload(5, reading(T + 1_800_000, 666)) }), // refused by the store
      pipeline.accept({ topic: statusTopic(M), payload: Buffer.from('{"state":"online"}') }),
    ]);
    expect(outcomes).toEqual(['stored', 'stored', 'stored', 'dead_lettered', 'dead_lettered', 'dead_lettered', 'ignored']);
    // Only duplicates of durable readings now: nothing to write.
    expect(await pipeline.accept({ topic, payload: payload(6, reading(T, 1)) })).toBe('ignored');
    const values = (await metrics.getSingleMetric('wattproof_ingest_messages_total')!.get()).values;
    const byOutcome = Object.fromEntries(values.map((v) => [v.labels.outcome, v.value]));
    expect(byOutcome).toEqual({ stored: 3, dead_lettered: 3, ignored: 2 });
    const rejections = (await metrics.getSingleMetric('wattproof_ingest_rejections_total')!.get()).values;
    expect(Object.fromEntries(rejections.map((v) => [v.labels.code, v.value]))).toEqual({ CONTRACT_SCHEMA_INVALID: 1, CONTRACT_PAYLOAD_NOT_JSON: 1, INGEST_STORE_REJECTED: 1 });
  });
});
