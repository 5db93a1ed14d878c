/**
 * The zod-free check of a readings message (core/src/contract/message.ts, isPlainValidMessage):
 * whatever it accepts, `readingsMessageSchema` accepts too and returns unchanged, so skipping zod
 * for it changes no result; and it accepts every message of valid fields, so the fast path is
 * the one valid traffic takes. Generated messages are valid, or broken field by field (missing,
 * extra and `__proto__` keys, wrong types, values at and past every limit).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTRACT_LIMITS, isPlainValidMessage, readingsMessageSchema } from '../../core/src/contract/message.js';
import { KINDS, QUANTITIES, UNIT_NAMES } from '../../core/src/contract/units.js';

const L = CONTRACT_LIMITS;
const isoTs = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2030-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
const validFields = {
  ts: fc.oneof(isoTs, fc.integer({ min: L.minTimestampMs, max: 2 ** 42 })),
  quantity: fc.constantFrom(...QUANTITIES),
  unit: fc.constantFrom(...UNIT_NAMES),
  kind: fc.constantFrom(...KINDS),
  value: fc.double({ noNaN: true, noDefaultInfinity: true }),
  intervalS: fc.integer({ min: 1, max: L.maxIntervalS }),
  rollover: fc.double({ min: Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }),
};
const junk = fc.oneof(fc.jsonValue(), fc.constantFrom(null, true, false, '', NaN, Infinity, -Infinity, -0, 0.5, -1, [], {}, '1'));
const anyOf = <T,>(valid: fc.Arbitrary<T>, ...edges: unknown[]) => fc.oneof({ weight: 6, arbitrary: valid }, { weight: 2, arbitrary: junk }, { weight: 2, arbitrary: fc.constantFrom(...(edges.length ? edges : [null])) });

const validReading = fc.record(validFields, { requiredKeys: ['ts', 'quantity', 'unit', 'kind', 'value'], noNullPrototype: true });
const extraKey = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'toString', 'Ts', 'seq', 'extra'), fc.string({ maxLength: 6 }));
const withExtra = <T extends object>(arb: fc.Arbitrary<T>) =>
  fc.tuple(arb, fc.option(fc.tuple(extraKey, junk), { freq: 4 })).map(([o, extra]) => {
    if (!extra) return o;
    // JSON.parse makes `__proto__` an own key, as a device could send it; so does defineProperty.
    const copy = { ...o };
    Object.defineProperty(copy, extra[0], { value: extra[1], enumerable: true, configurable: true, writable: true });
    return copy;
  });
const anyReading = withExtra(
  fc.record(
    {
      ts: anyOf(validFields.ts, 'x'.repeat(40), 'x'.repeat(41), L.minTimestampMs - 1),
      quantity: anyOf(validFields.quantity, 'Electricity', 'hasOwnProperty'),
      unit: anyOf(validFields.unit, 'kwh', 'toString'),
      kind: anyOf(validFields.kind, 'Interval'),
      value: anyOf(validFields.value, Infinity, -Infinity, NaN, 1e16, -1e16),
      intervalS: anyOf(validFields.intervalS, 0, -900, 900.5, L.maxIntervalS, L.maxIntervalS + 1, 2 ** 53),
      rollover: anyOf(validFields.rollover, 0, -1, Infinity),
    },
    { requiredKeys: [], noNullPrototype: true },
  ),
);

const validMessage = fc.record(
  {
    v: fc.constant(1 as const),
    seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    meterSerial: fc.string({ minLength: 1, maxLength: L.maxTextLength }),
    readings: fc.array(validReading, { minLength: 1, maxLength: 5 }),
  },
  { requiredKeys: ['seq', 'readings'], noNullPrototype: true },
);
const anyMessage = withExtra(
  fc.record(
    {
      v: anyOf(fc.constant(1), 2, '1', 1.0000001),
      seq: anyOf(validFields.intervalS, -1, 0.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2),
      meterSerial: anyOf(fc.string({ minLength: 1, maxLength: 8 }), '', 'x'.repeat(L.maxTextLength), 'x'.repeat(L.maxTextLength + 1)),
      readings: anyOf(fc.array(anyReading, { minLength: 0, maxLength: 4 }), []),
    },
    { requiredKeys: [], noNullPrototype: true },
  ),
);

/** Values at and past every limit of the contract, and of the wrong type, for any field. */
const EDGES: unknown[] = [
  ...['x'.repeat(40), 'x'.repeat(41), L.minTimestampMs - 1, L.minTimestampMs, 2 ** 53 + 2, 1.5, '2026-11-30T08:00:00+08:00', 'Electricity', 'kwh', 'Interval'],
  ...[Infinity, -Infinity, NaN, L.maxAbsValue, L.maxAbsValue * 10, -0, 0, -900, 900.5, L.maxIntervalS, L.maxIntervalS + 1, -1, 0.5, 1, 2, '1'],
  ...[Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, '', 'x', 'x'.repeat(L.maxTextLength), 'x'.repeat(L.maxTextLength + 1), null, true, [], {}],
  ...QUANTITIES, ...UNIT_NAMES, ...KINDS,
];
const DELETE = Symbol('delete');
const MESSAGE_FIELDS = ['v', 'seq', 'meterSerial', 'readings', '__proto__', 'extra'];
const READING_FIELDS = ['ts', 'quantity', 'unit', 'kind', 'value', 'intervalS', 'rollover', '__proto__', 'constructor', 'extra'];
/** A valid message with exactly one field of it, or of one of its readings, set, added or deleted. */
const oneFieldBroken = fc
  .tuple(
    validMessage,
    fc.boolean(),
    fc.nat(),
    fc.constantFrom(...MESSAGE_FIELDS),
    fc.constantFrom(...READING_FIELDS),
    fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...EDGES) }, { weight: 2, arbitrary: junk }, { weight: 1, arbitrary: fc.constant(DELETE) }),
  )
  .map(([m, inReading, n, messageField, readingField, value]) => {
    const readings = m.readings.map((r) => ({ ...r }));
    const msg: Record<string, unknown> = { ...m, readings };
    const target: Record<string, unknown> = inReading ? readings[n % readings.length]! : msg;
    const field = inReading ? readingField : messageField;
    if (value === DELETE) delete target[field];
    else Object.defineProperty(target, field, { value, enumerable: true, configurable: true, writable: true });
    return msg;
  });

/** The property: what the fast check accepts, zod accepts, returning an equal object. */
function agreesWithZod(m: unknown): boolean {
  if (!isPlainValidMessage(m)) return false;
  const z = readingsMessageSchema.safeParse(m);
  expect(z.success, JSON.stringify(m)).toBe(true);
  expect(z.data).toStrictEqual(m);
  return true;
}

describe('the zod-free check of a readings message', () => {
  it('accepts nothing zod refuses, over messages broken field by field', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.oneof(oneFieldBroken, anyMessage, validMessage, junk), (m) => {
        if (agreesWithZod(m)) accepted++;
        else refused++;
      }),
      { numRuns: 30_000, seed: 20261202 },
    );
    // The generator reaches both sides, so the property above is not vacuous.
    expect(accepted).toBeGreaterThan(5_000);
    expect(refused).toBeGreaterThan(5_000);
  });

  it('accepts every message of valid fields (valid traffic skips zod)', () => {
    fc.assert(
      fc.property(validMessage, (m) => {
        expect(readingsMessageSchema.safeParse(m).success).toBe(true);
        expect(agreesWithZod(m)).toBe(true);
      }),
      { numRuns: 5_000, seed: 20261202 },
    );
  });

  it('holds at the limits: 1 and 1,000 readings, and past them', () => {
    const r = { ts: 1_764_460_800_000, quantity: 'electricity', unit: 'kWh', kind: 'interval', value: 1, intervalS: 900 };
    expect(agreesWithZod({ seq: 0, readings: [r] })).toBe(true);
    expect(agreesWithZod({ seq: 0, readings: Array(L.maxReadingsPerMessage).fill(r) })).toBe(true);
    expect(isPlainValidMessage({ seq: 0, readings: Array(L.maxReadingsPerMessage + 1).fill(r) })).toBe(false);
    expect(isPlainValidMessage({ seq: 0, readings: [] })).toBe(false);
    expect(isPlainValidMessage(JSON.parse('{"seq":0,"readings":[{"ts":1764460800000,"quantity":"electricity","unit":"kWh","kind":"instant","value":1e400}]}'))).toBe(false);
    expect(isPlainValidMessage(JSON.parse(`{"seq":0,"__proto__":{},"readings":[${JSON.stringify(r)}]}`))).toBe(false);
    expect(isPlainValidMessage(JSON.parse(`{"seq":0,"readings":[{"__proto__":{},${JSON.stringify(r).slice(1)}]}`))).toBe(false);
  });
});
