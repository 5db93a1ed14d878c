/**
 * How the ingest pipeline learns which meters are registered: the registry's meters are listed
 * once, at the first meter the pipeline does not know, so a meter registered before the process
 * started costs no lookup of its own; a meter not in that list is looked up and registered on its
 * first message, as before; and if the list cannot be read, every new meter is looked up one by one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { configWith, readingsTopic, type MeterRef, type RegistryStore } from '@wattproof/core';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createIngestPipeline, ingestConfigSchema, type IngestPipeline } from '@wattproof/ingest';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const A = { site: 'yz', building: 'b01', meter: 'a' };
const B = { site: 'yz', building: 'b01', meter: 'b' };
const C = { site: 'yz', building: 'b02', meter: 'c' };
const payload = (seq: number, value: number) =>
  Buffer.from(JSON.stringify({ seq, readings: [{ ts: NOW - 86_400_000 + seq * 900_000, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value }] }));

/** The registry with its calls counted by method; `listMeters` fails when `failList` is set. */
function countingRegistry(inner: RegistryStore, failList = false) {
  const calls: Record<string, unknown[][]> = {};
  const registry = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        (calls[String(prop)] ??= []).push(args);
        if (prop === 'listMeters' && failList) return Promise.reject(new Error('registry unavailable'));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { registry, calls };
}

let pipeline: IngestPipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

async function run(failList: boolean) {
  const inner = createMemoryRegistryStore();
  await inner.init();
  await inner.upsertMeter(A);
  await inner.upsertMeter(B);
  const { registry, calls } = countingRegistry(inner, failList);
  const readings = createMemoryReadingStore();
  pipeline = createIngestPipeline({ readings, registry, clock: () => NOW }, configWith(ingestConfigSchema, { INGEST_FLUSH_INTERVAL_MS: 10 }));
  const outcomes = await Promise.all(
    [A, B, C, A, B, C].map((ref: MeterRef, i) => pipeline!.accept({ topic: readingsTopic(ref), payload: payload(i + 1, i) })),
  );
  const stored = (await Promise.all([A, B, C].map((ref) => readings.query({ ...ref, from: 0, to: NOW + 1 })))).flat();
  return { outcomes, calls, stored, meters: (await inner.listMeters()).map((m) => m.meter).sort() };
}

describe('ingest pipeline: registered meters', () => {
  it('lists the registered meters once and looks up only a meter that is not among them', async () => {
    const { outcomes, calls, stored, meters } = await run(false);
    expect(outcomes).toEqual(Array(6).fill('stored'));
    expect(stored).toHaveLength(6);
    expect(calls.listMeters).toHaveLength(1);
    expect(calls.getMeter).toEqual([[C]]);
    expect(calls.upsertMeter).toEqual([[C]]);
    expect(meters).toEqual(['a', 'b', 'c']);
  });

  it('looks each new meter up on its first message when the list cannot be read', async () => {
    const { outcomes, calls, stored, meters } = await run(true);
    expect(outcomes).toEqual(Array(6).fill('stored'));
    expect(stored).toHaveLength(6);
    expect(calls.listMeters).toHaveLength(1);
    expect((calls.getMeter ?? []).map(([ref]) => (ref as MeterRef).meter).sort()).toEqual(['a', 'b', 'c']);
    expect(calls.upsertMeter).toEqual([[C]]);
    expect(meters).toEqual(['a', 'b', 'c']);
  });
});
