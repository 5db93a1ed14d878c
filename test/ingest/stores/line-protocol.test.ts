/**
 * The ingest's own line-protocol encoder (ingest/src/stores/line-protocol.ts) against the official
 * client's `Point#toLineProtocol`, the reference it replaced for speed: the same bytes as the
 * reference's lines joined by newlines and encoded as UTF-8, for generated readings, including tag
 * values that need escaping or are not ASCII, prefixes long enough to make the buffer grow (also
 * while a prefix is copied from the line before), series that change mid-batch and sub-ranges of a batch.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StoredReading } from '@wattproof/core';
import { encodeLineProtocol, referenceLineProtocol } from '../../../ingest/src/stores/line-protocol.js';

const reference = referenceLineProtocol;

const text = fc.oneof(
  fc.constantFrom('s1', 'b-01', 'm.main', 'a b', 'x,y', 'k=v', 'tab\there', 'new\nline', 'back\\slash', 'ü€', '渝中区'),
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }),
  fc.string({ minLength: 100, maxLength: 300, unit: 'binary' }),
);
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
      fc.property(fc.array(reading, { minLength: 1, maxLength: 30 }), fc.nat(), fc.nat(), (rs, a, b) => {
        // Runs of the same series too, as messages bring them: the cached prefix must follow every change.
        const batch = rs.flatMap((r, i) => (i % 3 === 0 ? [r, { ...r, ts: r.ts + 900_000, value: r.value / 2 }] : [r]));
        expect(encodeLineProtocol(batch).toString('utf8')).toBe(batch.map(reference).join('\n'));
        // A chunk of a batch, as the store splits large writes.
        const start = a % batch.length;
        const end = start + (b % (batch.length - start + 1));
        expect(encodeLineProtocol(batch, start, end).toString('utf8')).toBe(batch.slice(start, end).map(reference).join('\n'));
      }),
      { numRuns: 500 },
    );
  });

  it('grows the buffer while it copies a long series prefix line after line', () => {
    // Six tag values of the contract's longest text: each line is about 860 bytes against the
    // 128 a line the buffer starts with, so it grows while prefixes are copied from the line before.
    const long = (c: string) => c.repeat(128);
    const r: StoredReading = { site: long('s'), building: long('b'), meter: long('m'), quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: 1_764_547_200_000, value: 1.5, intervalS: 900 };
    const batch = Array.from({ length: 50 }, (_, i) => ({ ...r, ts: r.ts + i * 900_000 }));
    expect(encodeLineProtocol(batch).toString('utf8')).toBe(batch.map(reference).join('\n'));
    const mixed = batch.flatMap((x, i) => (i % 7 === 0 ? [x, { ...x, meter: `${long('é')},=` }] : [x]));
    expect(encodeLineProtocol(mixed).toString('utf8')).toBe(mixed.map(reference).join('\n'));
    // The widest values per UTF-16 unit: three-byte characters, surrogate pairs, lone surrogates
    // (UTF-8 writes U+FFFD for them, as Buffer.from does for the reference), escaped characters.
    const wide = { ...r, site: long('渝'), building: '\ud83d\ude00'.repeat(64), meter: long('\ud800'), unit: ' ,='.repeat(42) } as StoredReading;
    const wideBatch = [wide, { ...wide, ts: wide.ts + 900_000 }, r, wide];
    expect(encodeLineProtocol(wideBatch).equals(Buffer.from(wideBatch.map(reference).join('\n'), 'utf8'))).toBe(true);
  });

  it('writes timestamps and intervals of every magnitude as String does', () => {
    const base: StoredReading = { site: 's', building: 'b', meter: 'm', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: 0, value: 1, intervalS: 1 };
    const numbers = [0, -0, 1, 9, 10, 99_999_999, 100_000_000, 100_000_001, 1_764_547_200_000, 9_999_999_999_999_999, 1e16, 1e21, -1, -1_764_547_200_000, 2 ** 31, 2 ** 53];
    // Point refuses an integer field outside int64 (the contract bounds intervals far below that).
    const batch = numbers.flatMap((n) => [{ ...base, ts: n }, ...(Math.abs(n) < 2 ** 63 ? [{ ...base, ts: n, intervalS: n }] : [])]);
    expect(encodeLineProtocol(batch).toString('utf8')).toBe(batch.map(reference).join('\n'));
  });

  it('refuses a value InfluxDB cannot store, as Point does', () => {
    const r: StoredReading = { site: 's', building: 'b', meter: 'm', quantity: 'electricity', kind: 'instant', unit: 'kW', ts: 1, value: Number.NaN };
    expect(() => reference(r)).toThrow();
    expect(() => encodeLineProtocol([r])).toThrow(/invalid float value/);
  });

  it('leaves out an empty tag value, as Point does', () => {
    const r = { site: 's', building: '', meter: 'm', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: 5, value: 2, intervalS: 900 } as StoredReading;
    expect(encodeLineProtocol([r]).toString('utf8')).toBe(reference(r));
  });
});
