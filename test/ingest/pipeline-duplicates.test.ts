/**
 * Duplicates and corrections in the ingest pipeline (ingest/src/pipeline.ts with
 * ingest/src/recent-readings.ts): an exact duplicate of a durable reading is dropped and counted;
 * one of a reading still being written is written again, so its message is acknowledged only
 * once the value is durable; a correction is written and counted. A write confirms the entries of
 * its own messages only: a correction queued behind it is not made durable by it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { configWith, readingsTopic, type ReadingStore, type StoredReading } from '@wattproof/core';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createIngestPipeline, ingestConfigSchema, type IngestPipeline } from '@wattproof/ingest';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const T = NOW - 3_600_000;
const M = { site: 'yz', building: 'b01', meter: 'elec' };
const TOPIC = readingsTopic(M);
const payload = (seq: number, ...readings: Array<[number, number]>) =>
  Buffer.from(JSON.stringify({ seq, readings: readings.map(([ts, value]) => ({ ts, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value })) }));

/** A memory store whose writes can be held, and refused for good, one at a time; it logs what it stored. */
function gatedStore() {
  const inner = createMemoryReadingStore();
  const stored: Array<{ ts: number; value: number }> = [];
  const started: Array<() => void> = [];
  let gates: Array<{ open: Promise<void>; release(refuse?: boolean): void }> = [];
  let hold = false;
  const store: ReadingStore = {
    ...inner,
    async write(readings: readonly StoredReading[]) {
      started.splice(0).forEach((f) => f());
      if (hold) {
        let release!: (refuse?: boolean) => void;
        const open = new Promise<void>((resolve, reject) => {
          release = (refuse) => (refuse ? reject(Object.assign(new Error('refused for good'), { retriable: false })) : resolve());
        });
        gates.push({ open, release });
        await open;
      }
      await inner.write(readings);
      for (const r of readings) stored.push({ ts: r.ts, value: r.value });
    },
  };
  return {
    store,
    stored,
    holdWrites(on: boolean) {
      hold = on;
    },
    /** Resolves once a write has started (and is held, when holding). */
    nextWriteStarted: () => new Promise<void>((r) => started.push(r)),
    release(refuse = false) {
      const g = gates.shift();
      if (!g) throw new Error('no held write');
      g.release(refuse);
    },
    held: () => gates.length,
  };
}

let pipeline: IngestPipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

async function setUp(overrides: Record<string, unknown> = {}) {
  const gated = gatedStore();
  const registry = createMemoryRegistryStore();
  await registry.init();
  const metrics = new Registry();
  pipeline = createIngestPipeline({ readings: gated.store, registry, clock: () => NOW, metrics }, configWith(ingestConfigSchema, { INGEST_FLUSH_INTERVAL_MS: 1, ...overrides }));
  const counter = async (name: string) => (await metrics.getSingleMetric(name)!.get()).values.reduce((s, v) => s + v.value, 0);
  return { gated, registry, pipeline, counter };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('ingest pipeline: duplicates and corrections', () => {
  it('drops an exact duplicate of a durable reading and writes a correction', async () => {
    const { gated, pipeline: p, counter } = await setUp();
    expect(await p.accept({ topic: TOPIC, payload: payload(1, [T, 1.5], [T + 900_000, 2]) })).toBe('stored');
    // Both readings again (one duplicate, one corrected) and one new.
    expect(await p.accept({ topic: TOPIC, payload: payload(2, [T, 1.5], [T + 900_000, 3], [T + 1_800_000, 4]) })).toBe('stored');
    // Only duplicates: nothing to write, acknowledged as ignored.
    expect(await p.accept({ topic: TOPIC, payload: payload(3, [T, 1.5]) })).toBe('ignored');
    expect(gated.stored).toEqual([
      { ts: T, value: 1.5 },
      { ts: T + 900_000, value: 2 },
      { ts: T + 900_000, value: 3 },
      { ts: T + 1_800_000, value: 4 },
    ]);
    expect(await counter('wattproof_ingest_duplicates_total')).toBe(2);
    expect(await counter('wattproof_ingest_corrections_total')).toBe(1);
    expect(await counter('wattproof_ingest_readings_written_total')).toBe(4);
  });

  it('writes a duplicate again while its first copy is not durable', async () => {
    const { gated, pipeline: p, counter } = await setUp();
    gated.holdWrites(true);
    const started = gated.nextWriteStarted();
    const first = p.accept({ topic: TOPIC, payload: payload(1, [T, 1.5]) });
    await started;
    const second = p.accept({ topic: TOPIC, payload: payload(2, [T, 1.5]) });
    await settle();
    gated.holdWrites(false);
    gated.release();
    expect(await first).toBe('stored');
    expect(await second).toBe('stored');
    expect(gated.stored).toEqual([
      { ts: T, value: 1.5 },
      { ts: T, value: 1.5 },
    ]);
    expect(await counter('wattproof_ingest_duplicates_total')).toBe(1);
  });

  it('does not take a correction for durable when the write before it lands', async () => {
    const { gated, pipeline: p } = await setUp();
    gated.holdWrites(true);
    let started = gated.nextWriteStarted();
    const a = p.accept({ topic: TOPIC, payload: payload(1, [T, 1]) });
    await started;
    // B corrects A's reading while A's write is in flight; it waits for the next batch.
    const b = p.accept({ topic: TOPIC, payload: payload(2, [T, 2]) });
    await settle();
    started = gated.nextWriteStarted();
    gated.release(); // A is durable
    expect(await a).toBe('stored');
    await started; // B's write is held
    // C repeats B's value: B is not durable, so C must be written, not dropped.
    const c = p.accept({ topic: TOPIC, payload: payload(3, [T, 2]) });
    await settle();
    gated.holdWrites(false);
    gated.release(true); // the store refuses B's batch for good: B is dead-lettered
    expect(await b).toBe('dead_lettered');
    expect(await c).toBe('stored');
    expect(gated.stored).toEqual([
      { ts: T, value: 1 },
      { ts: T, value: 2 },
    ]);
  });

  it('with INGEST_DEDUPE_CACHE_SIZE=0 writes every copy', async () => {
    const { gated, pipeline: p, counter } = await setUp({ INGEST_DEDUPE_CACHE_SIZE: 0 });
    expect(await p.accept({ topic: TOPIC, payload: payload(1, [T, 1.5]) })).toBe('stored');
    expect(await p.accept({ topic: TOPIC, payload: payload(2, [T, 1.5]) })).toBe('stored');
    expect(gated.stored).toHaveLength(2);
    expect(await counter('wattproof_ingest_duplicates_total')).toBe(0);
  });
});
