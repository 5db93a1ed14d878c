/**
 * More than one store write at a time (INGEST_MAX_WRITES_IN_FLIGHT): a batch goes to the store
 * alongside unfinished ones only when it shares none of their meters and no exclusive() is queued;
 * batches still finish, and their messages are acknowledged, in order. The store here is the
 * memory adapter behind a gate the test opens write by write.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { configWith, readingsTopic, type ReadingStore, type StoredReading } from '@wattproof/core';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createIngestPipeline, ingestConfigSchema, type AcceptOutcome, type IngestPipeline } from '@wattproof/ingest';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const T = NOW - 3_600_000;
const meter = (id: string) => ({ site: 'yz', building: 'b01', meter: id });
const payload = (seq: number, value: number) =>
  Buffer.from(JSON.stringify({ seq, readings: [{ ts: T, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value }] }));

interface PendingWrite {
  readonly meters: string[];
  open(): void;
  fail(err: Error): void;
}

/** The memory store, each write held until the test opens it (or fails it). */
function gatedStore() {
  const inner = createMemoryReadingStore();
  const writes: PendingWrite[] = [];
  let onWrite: (() => void) | undefined;
  const store: ReadingStore = {
    ...inner,
    write(readings: readonly StoredReading[]) {
      return new Promise<void>((resolve, reject) => {
        writes.push({
          meters: [...new Set(readings.map((r) => r.meter))],
          open: () => void inner.write(readings).then(resolve, reject),
          fail: reject,
        });
        onWrite?.();
      });
    },
  };
  /** Resolves once `n` writes have reached the store. */
  const untilWrites = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (writes.length >= n) {
          onWrite = undefined;
          resolve();
        }
      };
      onWrite = check;
      check();
    });
  return { store, inner, writes, untilWrites };
}

/**
 * Lets timers and promise chains run (the batches flush on a 0 ms timer). Messages accepted in one
 * turn share a batch, so each test lets its messages reach the store one by one.
 */
const settleTurns = async (turns = 5) => {
  for (let i = 0; i < turns; i++) await new Promise((r) => setTimeout(r, 1));
};

let pipeline: IngestPipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

async function setUp(maxWritesInFlight?: number) {
  const gated = gatedStore();
  const registry = createMemoryRegistryStore();
  await registry.init();
  pipeline = createIngestPipeline(
    { readings: gated.store, registry, clock: () => NOW, sleep: async () => undefined },
    // One reading per batch: every message is its own store write.
    configWith(ingestConfigSchema, { INGEST_BATCH_MAX_READINGS: 1, INGEST_FLUSH_INTERVAL_MS: 1, ...(maxWritesInFlight ? { INGEST_MAX_WRITES_IN_FLIGHT: maxWritesInFlight } : {}) }),
  );
  // Meters known and registered before the test: accept() then batches at once.
  for (const id of ['x', 'y', 'z']) {
    const warm = pipeline.accept({ topic: readingsTopic(meter(id)), payload: payload(0, 0) });
    await gated.untilWrites(1);
    gated.writes.shift()!.open();
    expect(await warm).toBe('stored');
  }
  return { ...gated, pipeline };
}

/** Tracks the order in which outcomes resolve. */
function tracked(order: string[], label: string, p: Promise<AcceptOutcome>): Promise<AcceptOutcome> {
  return p.then((o) => {
    order.push(label);
    return o;
  });
}

describe('ingest pipeline: store writes in flight', () => {
  it('defaults to two writes in flight', () => {
    expect(configWith(ingestConfigSchema, {}).INGEST_MAX_WRITES_IN_FLIGHT).toBe(2);
  });

  it('writes a batch of another meter while the one before is in flight, and acknowledges them in order', async () => {
    const { pipeline: p, writes, untilWrites } = await setUp();
    const order: string[] = [];
    const a = tracked(order, 'x', p.accept({ topic: readingsTopic(meter('x')), payload: payload(1, 1) }));
    await untilWrites(1);
    const b = tracked(order, 'y', p.accept({ topic: readingsTopic(meter('y')), payload: payload(1, 2) }));
    await untilWrites(2);
    expect(writes.map((w) => w.meters)).toEqual([['x'], ['y']]);
    // The second write completes first; its message still waits for the first.
    writes[1]!.open();
    await settleTurns();
    expect(order).toEqual([]);
    writes[0]!.open();
    expect(await Promise.all([a, b])).toEqual(['stored', 'stored']);
    expect(order).toEqual(['x', 'y']);
  });

  it('holds a batch with a meter of an unfinished one until that one finished: the last value received is the one stored', async () => {
    const { pipeline: p, inner, writes, untilWrites } = await setUp();
    const first = p.accept({ topic: readingsTopic(meter('x')), payload: payload(1, 1) });
    await untilWrites(1);
    const correction = p.accept({ topic: readingsTopic(meter('x')), payload: payload(2, 2) });
    await settleTurns();
    expect(writes).toHaveLength(1);
    writes[0]!.open();
    await untilWrites(2);
    writes[1]!.open();
    expect(await Promise.all([first, correction])).toEqual(['stored', 'stored']);
    expect((await inner.query({ ...meter('x'), from: T, to: T + 1 })).map((r) => r.value)).toEqual([2]);
  });

  it('never has more writes in flight than INGEST_MAX_WRITES_IN_FLIGHT', async () => {
    const { pipeline: p, writes, untilWrites } = await setUp(2);
    const outcomes: Array<Promise<AcceptOutcome>> = [];
    for (const [i, id] of ['x', 'y', 'z'].entries()) {
      outcomes.push(p.accept({ topic: readingsTopic(meter(id)), payload: payload(1, i + 1) }));
      await settleTurns();
    }
    expect(writes.map((w) => w.meters)).toEqual([['x'], ['y']]);
    writes[0]!.open();
    writes[1]!.open();
    await untilWrites(3);
    expect(writes[2]!.meters).toEqual(['z']);
    writes[2]!.open();
    expect(await Promise.all(outcomes)).toEqual(['stored', 'stored', 'stored']);
  });

  it('with INGEST_MAX_WRITES_IN_FLIGHT=1 writes one batch at a time, as before', async () => {
    const { pipeline: p, writes, untilWrites } = await setUp(1);
    const a = p.accept({ topic: readingsTopic(meter('x')), payload: payload(1, 1) });
    await untilWrites(1);
    const b = p.accept({ topic: readingsTopic(meter('y')), payload: payload(1, 2) });
    await settleTurns();
    expect(writes).toHaveLength(1);
    writes[0]!.open();
    await untilWrites(2);
    writes[1]!.open();
    expect(await Promise.all([a, b])).toEqual(['stored', 'stored']);
  });

  it('a write refused for good while a later one succeeded: dead-lettered and stored, resolved in order', async () => {
    const { pipeline: p, writes, untilWrites } = await setUp();
    const order: string[] = [];
    const a = tracked(order, 'x', p.accept({ topic: readingsTopic(meter('x')), payload: payload(1, 1) }));
    await untilWrites(1);
    const b = tracked(order, 'y', p.accept({ topic: readingsTopic(meter('y')), payload: payload(1, 2) }));
    await untilWrites(2);
    writes[1]!.open();
    await settleTurns();
    writes[0]!.fail(Object.assign(new Error('field type conflict'), { retriable: false }));
    expect(await Promise.all([a, b])).toEqual(['dead_lettered', 'stored']);
    expect(order).toEqual(['x', 'y']);
  });

  it('exclusive() runs after the batches before it finished, and no later batch is written before it ends', async () => {
    const { pipeline: p, writes, untilWrites } = await setUp();
    const events: string[] = [];
    const a = p.accept({ topic: readingsTopic(meter('x')), payload: payload(1, 1) });
    await untilWrites(1);
    let endExclusive!: () => void;
    const exclusive = p.exclusive(async () => {
      events.push('exclusive starts');
      await new Promise<void>((r) => (endExclusive = r));
      events.push('exclusive ends');
    });
    const b = p.accept({ topic: readingsTopic(meter('y')), payload: payload(1, 2) });
    await settleTurns();
    // y shares no meter with x, but an exclusive() is queued: it waits.
    expect(writes).toHaveLength(1);
    expect(events).toEqual([]);
    writes[0]!.open();
    expect(await a).toBe('stored');
    await settleTurns();
    expect(events).toEqual(['exclusive starts']);
    expect(writes).toHaveLength(1);
    endExclusive();
    await exclusive;
    await untilWrites(2);
    events.push('y written');
    writes[1]!.open();
    expect(await b).toBe('stored');
    expect(events).toEqual(['exclusive starts', 'exclusive ends', 'y written']);
  });
});
