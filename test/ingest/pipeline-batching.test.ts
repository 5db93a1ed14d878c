/**
 * How the ingest pipeline cuts its store writes: one write in flight at a time (the last write of
 * a key is the last received), and each write takes, when it starts, what arrived during the one
 * before, up to INGEST_WRITE_MAX_READINGS readings of whole messages.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { configWith, readingsTopic, type ReadingStore, type StoredReading } from '@wattproof/core';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createIngestPipeline, ingestConfigSchema, type AcceptOutcome, type IngestPipeline } from '@wattproof/ingest';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const T0 = NOW - 2 * 86_400_000;
const METER = { site: 'yz', building: 'b01', meter: 'm1' };

/** A message of `count` 15-minute readings, the first at slot `first`, every value `value`. */
const message = (seq: number, first: number, count: number, value: number) =>
  Buffer.from(
    JSON.stringify({
      seq,
      readings: Array.from({ length: count }, (_, i) => ({ ts: T0 + (first + i) * 900_000, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value })),
    }),
  );

/** A memory store whose writes wait until the test releases them, one by one. */
function gatedStore() {
  const inner = createMemoryReadingStore();
  const writes: Array<{ readings: number; values: number[]; release: () => void }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const store: ReadingStore = {
    ...inner,
    async write(readings: readonly StoredReading[]) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((release) => writes.push({ readings: readings.length, values: [...new Set(readings.map((r) => r.value))], release }));
      await inner.write(readings);
      inFlight--;
    },
  };
  return { store, inner, writes, maxInFlight: () => maxInFlight };
}

let pipeline: IngestPipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

async function setUp(config: Record<string, number>) {
  const gated = gatedStore();
  const registry = createMemoryRegistryStore();
  await registry.init();
  pipeline = createIngestPipeline({ readings: gated.store, registry, clock: () => NOW }, configWith(ingestConfigSchema, { INGEST_FLUSH_INTERVAL_MS: 20, ...config }));
  return { ...gated, pipeline };
}

/** Releases the pending writes one at a time until `done` settles. */
async function releaseAll(writes: ReturnType<typeof gatedStore>['writes'], done: Promise<unknown>): Promise<void> {
  let settled = false;
  void done.finally(() => (settled = true));
  let released = 0;
  while (!settled) {
    await vi.waitFor(() => expect(settled || writes.length > released).toBe(true));
    if (writes.length > released) writes[released++]!.release();
  }
}

describe('ingest pipeline: store writes', () => {
  it('write what arrived during the write before in one, up to INGEST_WRITE_MAX_READINGS of whole messages, one write at a time', async () => {
    const { pipeline: p, writes, inner, maxInFlight } = await setUp({ INGEST_BATCH_MAX_READINGS: 10, INGEST_WRITE_MAX_READINGS: 25 });
    const topic = readingsTopic(METER);
    const outcomes: Array<Promise<AcceptOutcome>> = [p.accept({ topic, payload: message(1, 0, 10, 1) })];
    // The first message fills a batch: its write starts and is held.
    await vi.waitFor(() => expect(writes).toHaveLength(1));
    // Six more arrive meanwhile, 10 readings each, then one of 30 (above the cap: it goes alone).
    for (let k = 2; k <= 7; k++) outcomes.push(p.accept({ topic, payload: message(k, (k - 1) * 10, 10, k) }));
    outcomes.push(p.accept({ topic, payload: message(8, 70, 30, 8) }));
    await releaseAll(writes, Promise.all(outcomes));

    expect(await Promise.all(outcomes)).toEqual(Array(8).fill('stored'));
    expect(writes.map((w) => w.readings)).toEqual([10, 20, 20, 20, 30]);
    expect(writes.map((w) => w.values)).toEqual([[1], [2, 3], [4, 5], [6, 7], [8]]);
    expect(maxInFlight()).toBe(1);
    const stored = await inner.query({ ...METER, quantity: 'electricity', kind: 'interval', from: T0, to: NOW });
    expect(stored.map((r) => r.value)).toEqual([...Array(10).fill(1), ...[2, 3, 4, 5, 6, 7].flatMap((k) => Array(10).fill(k)), ...Array(30).fill(8)]);
  });

  it('write below INGEST_BATCH_MAX_READINGS after INGEST_FLUSH_INTERVAL_MS, and never less than INGEST_BATCH_MAX_READINGS at once when the cap is set lower', async () => {
    const { pipeline: p, writes } = await setUp({ INGEST_BATCH_MAX_READINGS: 40, INGEST_WRITE_MAX_READINGS: 5 });
    const topic = readingsTopic(METER);
    const outcomes = [1, 2, 3].map((k) => p.accept({ topic, payload: message(k, k * 10, 10, k) }));
    await releaseAll(writes, Promise.all(outcomes));
    expect(await Promise.all(outcomes)).toEqual(['stored', 'stored', 'stored']);
    // 30 readings, below the batch size: one write when the interval is up, the cap raised to 40.
    expect(writes.map((w) => w.readings)).toEqual([30]);
  });
});
