/**
 * Amendments in the ingest pipeline: a reading written into a sealed day is recorded in the same
 * durability step as its write — `accept()` (after which the MQTT PUBACK goes out) resolves only
 * once the amendment is in the registry, and a registry that refuses it for good leaves the
 * message unacknowledged. Readings of days not sealed cost no registry read.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configWith, readingsTopic, type NewRecord, type RegistryStore, type StoredReading } from '@wattproof/core';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { AMENDMENT_RECORD_KIND, createIngestPipeline, createReadingSealer, ingestConfigSchema, SEAL_RECORD_KIND, type IngestPipeline } from '@wattproof/ingest';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';

const H = 3_600_000;
const at = (local: string) => Date.parse(`${local}+08:00`);
const M = { site: 'yz', building: 'tower', meter: 'm1' };
const config = configWith(ingestConfigSchema, { INGEST_FLUSH_INTERVAL_MS: 5, INGEST_RETRY_MAX_DELAY_MS: 100 });
const now = at('2025-03-09T00:00:00');
const payload = (ts: number, value: number) => Buffer.from(JSON.stringify({ seq: 1, readings: [{ ts, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 3600, value }] }));

let readings: ReturnType<typeof createMemoryReadingStore>;
let inner: ReturnType<typeof createMemoryRegistryStore>;
let pipeline: IngestPipeline | undefined;
/** Registry calls seen, and a gate/failure on appending amendments. */
let listCalls: string[];
let hold: Promise<void> | undefined;
let failAppend: { retriable: boolean; times: number } | undefined;

function registryWrapper(): RegistryStore {
  return {
    ...inner,
    async listRecords(q) {
      listCalls.push(q.kind);
      return inner.listRecords(q);
    },
    async appendRecords(records: readonly NewRecord[]) {
      if (records.some((r) => r.kind === AMENDMENT_RECORD_KIND)) {
        await hold;
        if (failAppend && failAppend.times > 0) {
          failAppend.times--;
          throw Object.assign(new Error('registry says no'), { code: failAppend.retriable ? 'REGISTRY_UNAVAILABLE' : 'REGISTRY_INPUT_INVALID', retriable: failAppend.retriable });
        }
      }
      return inner.appendRecords(records);
    },
  };
}

beforeEach(async () => {
  readings = createMemoryReadingStore();
  inner = createMemoryRegistryStore();
  await inner.init();
  listCalls = [];
  hold = undefined;
  failAppend = undefined;
  const day: StoredReading[] = Array.from({ length: 24 }, (_, h) => ({ ...M, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: at('2025-03-02T00:00:00') + h * H, value: h, intervalS: 3600 }));
  await readings.write(day);
  expect((await createReadingSealer({ readings, registry: inner, clock: () => now }, config).seal()).sealed).toHaveLength(1);
});

afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

describe('amendments in the pipeline', () => {
  it('acknowledges a late reading into a sealed day only once its amendment is stored', async () => {
    pipeline = createIngestPipeline({ readings, registry: registryWrapper(), clock: () => now }, config);
    let release!: () => void;
    hold = new Promise((r) => (release = r));
    let outcome: string | undefined;
    const accepted = pipeline.accept({ topic: readingsTopic(M), payload: payload(at('2025-03-02T10:30:00'), 9.5) }).then((o) => (outcome = o));
    await expect.poll(async () => (await readings.query({ ...M, from: at('2025-03-02T10:30:00'), to: at('2025-03-02T10:31:00') })).length).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(outcome).toBeUndefined();
    release();
    await accepted;
    expect(outcome).toBe('stored');
    expect(await inner.listRecords({ kind: AMENDMENT_RECORD_KIND })).toHaveLength(1);
  });

  it('retries an amendment the registry cannot take now, and leaves the message unacknowledged when it refuses it for good', async () => {
    pipeline = createIngestPipeline({ readings, registry: registryWrapper(), clock: () => now, sleep: async () => undefined }, config);
    failAppend = { retriable: true, times: 2 };
    expect(await pipeline.accept({ topic: readingsTopic(M), payload: payload(at('2025-03-02T11:30:00'), 1) })).toBe('stored');
    expect(await inner.listRecords({ kind: AMENDMENT_RECORD_KIND })).toHaveLength(1);

    failAppend = { retriable: false, times: 1 };
    await expect(pipeline.accept({ topic: readingsTopic(M), payload: payload(at('2025-03-02T12:30:00'), 2) })).rejects.toMatchObject({ code: 'REGISTRY_INPUT_INVALID' });
    expect(await inner.listRecords({ kind: AMENDMENT_RECORD_KIND })).toHaveLength(1);
    // The broker redelivers it: written again, amended this time.
    expect(await pipeline.accept({ topic: readingsTopic(M), payload: payload(at('2025-03-02T12:30:00'), 2) })).toBe('stored');
    expect(await inner.listRecords({ kind: AMENDMENT_RECORD_KIND })).toHaveLength(2);
  });

  it('costs no registry read for readings younger than the lateness allowance, and reads the chain head once for an old unsealed day', async () => {
    pipeline = createIngestPipeline({ readings, registry: registryWrapper(), clock: () => now }, config);
    expect(await pipeline.accept({ topic: readingsTopic(M), payload: payload(at('2025-03-08T10:00:00'), 1) })).toBe('stored');
    expect(listCalls.filter((k) => k === SEAL_RECORD_KIND)).toEqual([]);
    // 4 March: older than 2 days, after the sealed range: one head read, no amendment.
    expect(await pipeline.accept({ topic: readingsTopic(M), payload: payload(at('2025-03-04T10:00:00'), 1) })).toBe('stored');
    expect(listCalls.filter((k) => k === SEAL_RECORD_KIND)).toEqual([SEAL_RECORD_KIND]);
    expect(await inner.listRecords({ kind: AMENDMENT_RECORD_KIND })).toEqual([]);
  });
});
