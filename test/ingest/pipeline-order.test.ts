/**
 * The ingest pipeline batches messages in the order it accepted them, whether a message is
 * processed at once (a known meter, no register reading: accept()'s fast path) or has to wait
 * (a meter not seen yet, register history to load, a forgetRegisters() queued before it). The
 * store's last write of a key must be the last received value.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { configWith, readingsTopic, type ReadingStore, type RegistryStore, type StoredReading } from '@wattproof/core';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createIngestPipeline, ingestConfigSchema, type AcceptOutcome, type IngestPipeline } from '@wattproof/ingest';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const T = NOW - 3_600_000;
const X = { site: 'yz', building: 'b01', meter: 'x' };
const Y = { site: 'yz', building: 'b01', meter: 'y' };
const interval = (seq: number, value: number, ts = T) =>
  Buffer.from(JSON.stringify({ seq, readings: [{ ts, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value }] }));
const register = (seq: number, value: number, ts: number) => Buffer.from(JSON.stringify({ seq, readings: [{ ts, quantity: 'electricity', unit: 'kWh', kind: 'register', value }] }));

/** A memory store that logs every reading written, in order, with a delay before register queries. */
function loggingStore(queryDelayMs: number) {
  const inner = createMemoryReadingStore();
  const written: Array<{ meter: string; kind: string; ts: number; value: number }> = [];
  const store: ReadingStore = {
    ...inner,
    async write(readings: readonly StoredReading[]) {
      await inner.write(readings);
      for (const r of readings) written.push({ meter: r.meter, kind: r.kind, ts: r.ts, value: r.value });
    },
    async query(q) {
      await new Promise((r) => setTimeout(r, queryDelayMs));
      return inner.query(q);
    },
  };
  return { store, written };
}

/** A registry whose meter lookups take `delayMs`. */
function slowRegistry(inner: RegistryStore, delayMs: number): RegistryStore {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'getMeter' && typeof v === 'function') {
        return async (...args: unknown[]) => {
          await new Promise((r) => setTimeout(r, delayMs));
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

let pipeline: IngestPipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

async function setUp() {
  const logged = loggingStore(20);
  const registry = createMemoryRegistryStore();
  await registry.init();
  pipeline = createIngestPipeline({ readings: logged.store, registry: slowRegistry(registry, 20), clock: () => NOW }, configWith(ingestConfigSchema, { INGEST_FLUSH_INTERVAL_MS: 50 }));
  return { ...logged, pipeline };
}

describe('ingest pipeline: order', () => {
  it('keeps arrival order when a message has to wait for a new meter and later ones could go at once', async () => {
    const { pipeline: p, written } = await setUp();
    // Y becomes known first.
    expect(await p.accept({ topic: readingsTopic(Y), payload: interval(1, 0) })).toBe('stored');
    written.length = 0;
    const outcomes: Array<Promise<AcceptOutcome>> = [];
    outcomes.push(p.accept({ topic: readingsTopic(X), payload: interval(1, 1) })); // X is new: waits for the registry
    outcomes.push(p.accept({ topic: readingsTopic(Y), payload: interval(2, 1) })); // could be processed at once
    outcomes.push(p.accept({ topic: readingsTopic(X), payload: interval(2, 2) })); // corrects X's first
    outcomes.push(p.accept({ topic: readingsTopic(Y), payload: interval(3, 2) })); // corrects Y's
    expect(await Promise.all(outcomes)).toEqual(['stored', 'stored', 'stored', 'stored']);
    expect(written).toEqual([
      { meter: 'x', kind: 'interval', ts: T, value: 1 },
      { meter: 'y', kind: 'interval', ts: T, value: 1 },
      { meter: 'x', kind: 'interval', ts: T, value: 2 },
      { meter: 'y', kind: 'interval', ts: T, value: 2 },
    ]);
  });

  it('keeps arrival order around a register reading, whose history is loaded first', async () => {
    const { pipeline: p, written } = await setUp();
    await p.accept({ topic: readingsTopic(X), payload: interval(1, 0, T - 900_000) });
    written.length = 0;
    const outcomes = [
      p.accept({ topic: readingsTopic(X), payload: register(2, 100, T) }), // loads register history (delayed query)
      p.accept({ topic: readingsTopic(X), payload: interval(3, 5) }),
      p.accept({ topic: readingsTopic(X), payload: interval(4, 6) }),
    ];
    expect(await Promise.all(outcomes)).toEqual(['stored', 'stored', 'stored']);
    expect(written).toEqual([
      { meter: 'x', kind: 'register', ts: T, value: 100 },
      { meter: 'x', kind: 'interval', ts: T, value: 5 },
      { meter: 'x', kind: 'interval', ts: T, value: 6 },
    ]);
  });

  it('processes a message after a forgetRegisters() queued before it', async () => {
    const { pipeline: p, written } = await setUp();
    await p.accept({ topic: readingsTopic(X), payload: register(1, 100, T - 900_000) });
    await p.accept({ topic: readingsTopic(X), payload: register(2, 110, T) });
    written.length = 0;
    const forgotten = p.forgetRegisters(() => true);
    // Accepted after the forget: normalized with the history loaded again from the store, so the
    // interval from the 110 register reading is derived (not lost, not computed from stale memory).
    const outcome = p.accept({ topic: readingsTopic(X), payload: register(3, 125, T + 900_000) });
    expect(await forgotten).toBe(1);
    expect(await outcome).toBe('stored');
    expect(written).toContainEqual({ meter: 'x', kind: 'interval', ts: T, value: 15 });
  });
});
