/**
 * The ingest's own line-protocol encoder (ingest/src/stores/line-protocol.ts) against the official
 * client's `Point#toLineProtocol`, the reference it replaced for speed: identical lines for
 * generated readings, including tag values that need escaping and series that change mid-batch.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StoredReading } from '@wattproof/core';
import { createLineEncoder, referenceLineProtocol } from '../../../ingest/src/stores/line-protocol.js';

const reference = referenceLineProtocol;

const text = fc.oneof(fc.constantFrom('s1', 'b-01', 'm.main', 'a b', 'x,y', 'k=v', 'tab\there', 'new\nline', 'back\\slash', 'ü€'), fc.string({ minLength: 1, maxLength: 12 }));
const reading: fc.Arbitrary<StoredReading> = fc
  .record({
    site: text,
    building: text,
    meter: text,
    quantity: fc.constantFrom('electricity', 'gas', 'outdoor_temperature'),
    kind: fc.constantFrom('interval', 'instant', 'register'),
    unit: fc.constantFrom('kWh', 'm3', 'C'),
    ts: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.constantFrom(0, -0, 0.1 + 0.2, 1e21, 5e-324)),
    intervalS: fc.option(fc.integer({ min: 1, max: 86_400 }), { nil: undefined }),
  })
  .map((r) => {
    const { intervalS, ...rest } = r;
    return (intervalS !== undefined ? { ...rest, intervalS } : rest) as StoredReading;
  });

describe('line protocol', () => {
  it('writes what Point#toLineProtocol writes, reading by reading, across series changes', () => {
    fc.assert(
      fc.property(fc.array(reading, { minLength: 1, maxLength: 30 }), (rs) => {
        // Runs of the same series too, as messages bring them: the cached prefix must follow every change.
        const batch = rs.flatMap((r, i) => (i % 3 === 0 ? [r, { ...r, ts: r.ts + 900_000, value: r.value / 2 }] : [r]));
        const encode = createLineEncoder();
        expect(batch.map(encode)).toEqual(batch.map(reference));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a value InfluxDB cannot store, as Point does', () => {
    const r: StoredReading = { site: 's', building: 'b', meter: 'm', quantity: 'electricity', kind: 'instant', unit: 'kW', ts: 1, value: Number.NaN };
    expect(() => reference(r)).toThrow();
    expect(() => createLineEncoder()(r)).toThrow(/invalid float value/);
  });

  it('leaves out an empty tag value, as Point does', () => {
    const r = { site: 's', building: '', meter: 'm', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: 5, value: 2, intervalS: 900 } as StoredReading;
    expect(createLineEncoder()(r)).toBe(reference(r));
  });
});
