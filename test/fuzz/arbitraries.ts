/**
 * fast-check generators for readings messages: valid ones with random ids, values and timestamps,
 * and one generator per category of bad input, each knowing the dead-letter codes it must get.
 * Shared by the in-process properties and the runs over a real gateway + ingest.
 */
import fc from 'fast-check';
import { allowedUnits, CONTRACT_LIMITS, toCanonical, UNIT_NAMES, type Quantity, type ReadingKind, type Unit } from '@wattproof/core';

/** The ingest clock of every fuzz run: 2026-11-01T00:00:00Z. */
export const NOW = Date.parse('2026-11-01T00:00:00Z');
export const MAX_FUTURE_S = 900;
/** Largest epoch ms a JS Date can hold (ECMA-262 §21.4.1.1). */
export const MAX_DATE_MS = 8.64e15;

/** Runs of each property; `FUZZ_RUNS=100000 npx vitest run test/fuzz` for a long soak. */
export const FUZZ_RUNS = Math.max(1, Number(process.env.FUZZ_RUNS ?? 600) || 600);
/** Fixed seed: every run generates the same cases (override with FUZZ_SEED to explore). */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20_261_101) || 20_261_101;

/** Characters that end or split a tag, field or point in InfluxDB line protocol. */
export const LINE_PROTOCOL_SPECIALS = [',', '=', ' ', '"', '\\', '\n', '\r', '\t', "'"] as const;

/** A case for the ingest: the payload, and either the readings it must store or the codes it may be dead-lettered with. */
export type FuzzCase =
  | { readonly category: 'valid'; readonly payload: string; readonly readings: readonly ExpectedReading[] }
  | { readonly category: string; readonly payload: string | Buffer; readonly codes: readonly string[]; readonly topicIds?: readonly [string, string, string] };

export interface ExpectedReading {
  readonly quantity: Quantity;
  readonly kind: ReadingKind;
  readonly unit: Unit;
  readonly ts: number;
  /** Canonical value, as the store must return it. */
  readonly value: number;
  readonly intervalS?: number;
}

const INTERVAL_QUANTITIES = ['electricity', 'pv', 'heat', 'cooling'] as const;
const INSTANT_QUANTITIES = ['electricity', 'pv', 'heat', 'cooling', 'outdoor_temperature', 'indoor_temperature', 'relative_humidity', 'irradiance'] as const;
// Registers only for quantities never sent as intervals: the intervals derived from them would overwrite those.
const REGISTER_QUANTITIES = ['water', 'gas'] as const;

const finite = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((v) => (Object.is(v, -0) ? 0 : v));

/** ISO 8601 with offset for `ms`, at a random offset, with optional seconds and 0-9 fraction digits. */
const isoAt = (ms: number) =>
  fc.record({ offsetQ: fc.integer({ min: -56, max: 56 }), zulu: fc.boolean(), extraZeros: fc.integer({ min: 0, max: 6 }), omit: fc.boolean() }).map(({ offsetQ, zulu, extraZeros, omit }) => {
    const offMin = zulu ? 0 : offsetQ * 15;
    const d = new Date(ms + offMin * 60_000);
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    const sec = d.getUTCSeconds();
    const milli = d.getUTCMilliseconds();
    let time = `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
    if (!(omit && sec === 0 && milli === 0)) time += `:${p(sec)}`;
    if (milli !== 0 || (!omit && extraZeros > 0)) time += `.${p(milli, 3)}${'0'.repeat(extraZeros)}`;
    const off = zulu ? 'Z' : `${offMin < 0 ? '-' : '+'}${p(Math.floor(Math.abs(offMin) / 60))}:${p(Math.abs(offMin) % 60)}`;
    return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${time}${off}`;
  });

const validTsMs = fc.integer({ min: CONTRACT_LIMITS.minTimestampMs, max: NOW + MAX_FUTURE_S * 1000 });
const tsField = (ms: number) => fc.oneof(fc.constant<string | number>(ms), isoAt(ms));

interface GeneratedReading {
  readonly raw: Record<string, unknown>;
  readonly expected: ExpectedReading;
}

function reading(kind: ReadingKind, quantities: readonly Quantity[], value: fc.Arbitrary<number>): fc.Arbitrary<GeneratedReading> {
  return fc
    .record({ quantity: fc.constantFrom(...quantities), ms: validTsMs, value, intervalS: fc.integer({ min: 1, max: CONTRACT_LIMITS.maxIntervalS }), unitPick: fc.nat() })
    .chain((r) => tsField(r.ms).map((ts) => ({ ...r, ts })))
    .map(({ quantity, ms, ts, value: v, intervalS, unitPick }) => {
      // Gas may be volume or energy, but a series keeps to one (docs/contract.md 3.2): InfluxDB keeps
      // both when a timestamp is rewritten in the other dimension (unit is a tag), the others keep the last.
      const units = allowedUnits(quantity, kind).filter((u) => quantity !== 'gas' || u === 'm3' || u === 'L');
      const unit = units[unitPick % units.length] as Unit;
      const raw: Record<string, unknown> = { ts, quantity, unit, kind, value: v, ...(kind === 'interval' ? { intervalS } : {}) };
      const c = toCanonical(v, unit);
      return { raw, expected: { quantity, kind, unit: c.unit, ts: ms, value: c.value, ...(kind === 'interval' ? { intervalS } : {}) } };
    });
}

export const validReading: fc.Arbitrary<GeneratedReading> = fc.oneof(
  reading('interval', INTERVAL_QUANTITIES, finite(-CONTRACT_LIMITS.maxAbsValue, CONTRACT_LIMITS.maxAbsValue)),
  reading('instant', INSTANT_QUANTITIES, finite(-CONTRACT_LIMITS.maxAbsValue, CONTRACT_LIMITS.maxAbsValue)),
  reading('register', REGISTER_QUANTITIES, finite(0, CONTRACT_LIMITS.maxAbsValue)),
);

/** Free text: full Unicode, control characters and line-protocol specials included. */
const anyText = (min: number, max: number) =>
  fc.oneof(fc.string({ unit: 'binary', minLength: min, maxLength: max }), fc.string({ unit: fc.constantFrom(...LINE_PROTOCOL_SPECIALS, 'a', '\u0000', '\u202e', '°', '😀'), minLength: min, maxLength: max }));

export interface ValidMessage {
  readonly raw: Record<string, unknown>;
  readonly readings: readonly ExpectedReading[];
}

export const validMessage: fc.Arbitrary<ValidMessage> = fc
  .record({
    seq: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
    v: fc.boolean(),
    meterSerial: fc.option(anyText(1, CONTRACT_LIMITS.maxTextLength), { nil: undefined }),
    readings: fc.array(validReading, { minLength: 1, maxLength: 12 }),
  })
  .map(({ seq, v, meterSerial, readings }) => ({
    raw: { ...(v ? { v: 1 } : {}), seq, ...(meterSerial !== undefined ? { meterSerial } : {}), readings: readings.map((r) => r.raw) },
    readings: readings.map((r) => r.expected),
  }));

const validCase: fc.Arbitrary<FuzzCase> = validMessage.map((m) => ({ category: 'valid', payload: JSON.stringify(m.raw), readings: m.readings }));

const NOT_JSON = ['CONTRACT_PAYLOAD_NOT_JSON'];
const SCHEMA = ['CONTRACT_SCHEMA_INVALID'];

/** Invalid JSON: truncated messages, garbage text, invalid UTF-8, JSON5-isms (NaN, Infinity, comments, trailing commas). */
const invalidJson: fc.Arbitrary<FuzzCase> = fc.oneof(
  validMessage.chain((m) => {
    const s = JSON.stringify(m.raw);
    return fc.integer({ min: 0, max: s.length - 1 }).map((k) => s.slice(0, k));
  }),
  fc.string({ unit: 'binary', maxLength: 200 }).filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', "{'seq':1}", '{"seq":1,}', '{"seq":1 /* c */}', '{"seq":0x10}', '{"seq":01}', 'undefined'),
  fc.tuple(validMessage, fc.constantFrom('NaN', 'Infinity', '-Infinity', 'undefined', '+1', '.5', '1.', '0x1F')).map(([m, token]) =>
    JSON.stringify(m.raw).replace(/"value":[^,}]+/, `"value":${token}`),
  ),
).map((payload) => ({ category: 'invalid-json', payload, codes: NOT_JSON }));

/** Invalid UTF-8 bytes inside otherwise valid JSON. */
const invalidUtf8: fc.Arbitrary<FuzzCase> = fc
  .tuple(validMessage, fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]))
  .map(([m, bad]) => {
    const s = JSON.stringify(m.raw);
    const i = s.indexOf('"readings"');
    return { category: 'invalid-utf8', payload: Buffer.concat([Buffer.from(s.slice(0, i + 1)), Buffer.from(bad), Buffer.from(s.slice(i + 1))]), codes: NOT_JSON };
  });

/** A wrong type somewhere: the message, seq, readings, or one field of a reading. */
const wrongType: fc.Arbitrary<FuzzCase> = (() => {
  const junk = fc.oneof(fc.constant(null), fc.boolean(), fc.string({ maxLength: 12 }), fc.array(fc.nat(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.nat(), { maxKeys: 2 }), fc.constant('NaN'), fc.constant('1e3'));
  return fc
    .tuple(validMessage, fc.constantFrom('message', 'seq', 'readings', 'v', 'ts', 'quantity', 'unit', 'kind', 'value', 'intervalS', 'rollover', 'meterSerial'), junk, fc.nat())
    .map(([m, field, value, pick]) => {
      const msg: Record<string, unknown> = structuredClone(m.raw);
      const readings = msg.readings as Array<Record<string, unknown>>;
      const r = readings[pick % readings.length]!;
      let payload: unknown = msg;
      if (field === 'message') payload = value;
      else if (field === 'seq' || field === 'readings' || field === 'meterSerial') msg[field] = typeof value === 'string' && field === 'meterSerial' ? 42 : value;
      else if (field === 'v') msg.v = value;
      else if (field === 'ts') r.ts = typeof value === 'string' ? { at: value } : value;
      else r[field] = typeof value === 'string' && (field === 'quantity' || field === 'unit' || field === 'kind') ? 7 : value;
      return { category: 'wrong-type', payload: JSON.stringify(payload) ?? 'null', codes: SCHEMA };
    });
})();

/** Out-of-range numbers: huge values, overflow to Infinity in the JSON text, seq beyond 2^53, intervals too long, fractions where integers belong. */
const hugeNumbers: fc.Arbitrary<FuzzCase> = fc
  .tuple(
    validMessage,
    fc.nat(),
    fc.oneof(
      fc.double({ min: 1.0000001e15, max: Number.MAX_VALUE, noNaN: true }).map((v) => ({ field: 'value', text: String(v) })),
      fc.double({ min: 1.0000001e15, max: Number.MAX_VALUE, noNaN: true }).map((v) => ({ field: 'value', text: String(-v) })),
      fc.constantFrom('1e309', '-1e309', '1e999999', '123456789012345678901234567890e300').map((text) => ({ field: 'value', text })),
      fc.constantFrom('9007199254740992', '1e16', '-1', '1.5', '1e400').map((text) => ({ field: 'seq', text })),
      fc.oneof(fc.integer({ min: CONTRACT_LIMITS.maxIntervalS + 1 }).map(String), fc.constantFrom('0', '-900', '900.5', '1e309')).map((text) => ({ field: 'intervalS', text })),
    ),
  )
  .map(([m, pick, { field, text }]) => {
    const msg = structuredClone(m.raw) as { readings: Array<Record<string, unknown>> } & Record<string, unknown>;
    const i = pick % msg.readings.length;
    if (field === 'intervalS') {
      // Make the target an interval reading so intervalS is in place.
      msg.readings[i] = { ts: NOW, quantity: 'electricity', unit: 'kWh', kind: 'interval', value: 1, intervalS: 900 };
    }
    const marker = '"__FUZZ__"';
    if (field === 'seq') msg.seq = '__FUZZ__';
    else msg.readings[i]![field] = '__FUZZ__';
    return { category: 'huge-number', payload: JSON.stringify(msg).replace(marker, text), codes: SCHEMA };
  });

/** Timestamps before 2000, too far ahead, epoch seconds, beyond what a Date holds, without offset, impossible dates. */
const badTimestamp: fc.Arbitrary<FuzzCase> = fc
  .tuple(
    validMessage,
    fc.nat(),
    fc.oneof(
      fc.integer({ min: -8.64e15, max: CONTRACT_LIMITS.minTimestampMs - 1 }),
      fc.integer({ min: 1e8, max: 2e9 }),
      fc.integer({ min: NOW + MAX_FUTURE_S * 1000 + 1, max: MAX_DATE_MS }),
      fc.constantFrom(MAX_DATE_MS + 1, Number.MAX_SAFE_INTEGER, 1e20, 1.7976931348623157e308, -Number.MAX_SAFE_INTEGER),
      fc.constantFrom('1970-01-01T00:00:00Z', '1999-12-31T23:59:59.999Z', '9999-12-31T23:59:59Z', '2026-11-30T08:00:00', '2026-02-30T00:00:00Z', '2026-11-30T24:00:00Z', '2026-11-30 08:00:00+08:00', '+275760-09-13T00:00:00Z', '0000-01-01T00:00:00Z', '2026-11-30T08:00:00+99:99', '2026-11-30T08:00:60Z', ''),
      isoAt(NOW + 86_400_000),
    ),
  )
  .map(([m, pick, ts]) => {
    const msg = structuredClone(m.raw) as { readings: Array<Record<string, unknown>> };
    msg.readings[pick % msg.readings.length]!.ts = ts;
    return { category: 'bad-timestamp', payload: JSON.stringify(msg), codes: ['CONTRACT_TIMESTAMP_INVALID'] };
  });

/** Units that do not exist (schema) or do not suit the quantity and kind. */
const badUnit: fc.Arbitrary<FuzzCase> = fc
  .tuple(validMessage, fc.nat(), fc.oneof(anyText(0, 20).filter((u) => !(UNIT_NAMES as string[]).includes(u)).map((u) => ({ unit: u, known: false })), fc.constantFrom(...UNIT_NAMES).map((u) => ({ unit: u as string, known: true }))))
  .filter(([m, pick, { unit, known }]) => {
    if (!known) return true;
    const r = m.raw.readings as Array<{ quantity: Quantity; kind: ReadingKind }>;
    const t = r[pick % r.length]!;
    return !(allowedUnits(t.quantity, t.kind) as string[]).includes(unit);
  })
  .map(([m, pick, { unit, known }]) => {
    const msg = structuredClone(m.raw) as { readings: Array<Record<string, unknown>> };
    const t = msg.readings[pick % msg.readings.length]!;
    t.unit = unit;
    // A known unit that does not suit is CONTRACT_UNIT_INVALID, unless the reading also breaks a schema rule (none here).
    return { category: 'bad-unit', payload: JSON.stringify(msg), codes: known ? ['CONTRACT_UNIT_INVALID'] : SCHEMA };
  });

/** Unicode, control and line-protocol characters in enum fields and in unknown keys; over-long text. */
const unicodeJunk: fc.Arbitrary<FuzzCase> = fc
  .tuple(validMessage, fc.nat(), fc.constantFrom('quantity', 'kind', 'unknownKey', 'topKey', 'serial'), anyText(1, 40))
  .map(([m, pick, where, text]) => {
    const msg = structuredClone(m.raw) as { readings: Array<Record<string, unknown>> } & Record<string, unknown>;
    const r = msg.readings[pick % msg.readings.length]!;
    if (where === 'quantity') r.quantity = `electricity${text}`;
    else if (where === 'kind') r.kind = `${text}interval`;
    else if (where === 'unknownKey') r[`value${text}`] = 1;
    else if (where === 'topKey') msg[`seq${text}`] = text;
    else msg.meterSerial = text.repeat(Math.ceil((CONTRACT_LIMITS.maxTextLength + 1) / [...text].length)); // zod counts code points
    return { category: 'unicode', payload: JSON.stringify(msg), codes: SCHEMA };
  });

/** A publish to a topic whose ids carry line-protocol specials: the id grammar refuses them before any store sees them. */
const injectionTopic: fc.Arbitrary<FuzzCase> = fc
  .tuple(validMessage, fc.constantFrom(0, 1, 2), fc.string({ unit: fc.constantFrom(...LINE_PROTOCOL_SPECIALS, 'a', '1'), minLength: 1, maxLength: 12 }).filter((s) => /[^a1]/.test(s) && !s.includes('/')))
  .map(([m, slot, bad]) => {
    const ids: [string, string, string] = ['fz', 'b0', 'm0'];
    ids[slot] = slot === 2 ? `m0${bad}` : `${bad}x`;
    // An injection attempt a naive line-protocol writer would turn into an extra tag, field or point.
    return { category: 'injection-topic', payload: JSON.stringify(m.raw), codes: ['GATEWAY_PUBLISH_FORBIDDEN', 'CONTRACT_TOPIC_INVALID'], topicIds: ids };
  });

/** Payloads over the byte limit (valid JSON padded), and messages with more than 1000 readings. */
export const oversized: fc.Arbitrary<FuzzCase> = fc.oneof(
  fc.tuple(validMessage, fc.integer({ min: 1, max: 40_000 })).map(([m, extra]) => {
    const s = JSON.stringify(m.raw);
    return { category: 'oversized', payload: s.slice(0, -1) + ' '.repeat(CONTRACT_LIMITS.maxPayloadBytes - s.length + extra) + '}', codes: ['GATEWAY_PAYLOAD_TOO_LARGE', 'CONTRACT_PAYLOAD_TOO_LARGE'] };
  }),
  fc.integer({ min: 1001, max: 1400 }).map((n) => ({
    category: 'too-many-readings',
    payload: JSON.stringify({ seq: 1, readings: Array.from({ length: n }, (_, i) => ({ ts: NOW - i * 1000, quantity: 'electricity', unit: 'kW', kind: 'instant', value: i })) }),
    codes: ['CONTRACT_TOO_MANY_READINGS'],
  })),
);

/** Deeply nested arrays and objects (up to 60,000 levels, within the byte limit) in place of the message, readings, a value or an unknown key. */
const deepNesting: fc.Arbitrary<FuzzCase> = fc
  .tuple(validMessage, fc.integer({ min: 1, max: 60_000 }), fc.constantFrom('message', 'readings', 'value', 'extra', 'objects'))
  .map(([m, depth, where]) => {
    // Objects cost 6 bytes a level: at most 40,000 levels stay under the byte limit.
    const nest = where === 'objects' ? '{"a":'.repeat(Math.min(depth, 40_000)) + '1' + '}'.repeat(Math.min(depth, 40_000)) : '['.repeat(depth) + ']'.repeat(depth);
    const s = JSON.stringify({ ...m.raw, seq: '__DEEP__' }).replace('"__DEEP__"', String(m.raw.seq));
    let payload: string;
    if (where === 'message') payload = nest;
    else if (where === 'readings') payload = `{"seq":1,"readings":${nest}}`;
    else if (where === 'value') payload = s.replace(/"value":[^,}]+/, `"value":${nest}`);
    else payload = `${s.slice(0, -1)},"extra":${nest}}`;
    return { category: 'deep-nesting', payload, codes: SCHEMA };
  });

/** Empty payloads and JSON that is not an object. */
const emptyAndScalars: fc.Arbitrary<FuzzCase> = fc.oneof(
  fc.constant({ category: 'empty', payload: '', codes: NOT_JSON }),
  // A UTF-8 byte-order mark: the byte decoder drops it (then the schema refuses), JSON.parse of the string refuses it.
  fc.constant({ category: 'not-an-object', payload: '\uFEFF{"seq":1}', codes: [...NOT_JSON, ...SCHEMA] }),
  fc.jsonValue().filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)).map((v) => ({ category: 'not-an-object', payload: JSON.stringify(v), codes: SCHEMA })),
);

/** Every malformed category, equally likely. */
export const malformedCase: fc.Arbitrary<FuzzCase> = fc.oneof(invalidJson, invalidUtf8, wrongType, hugeNumbers, badTimestamp, badUnit, unicodeJunk, injectionTopic, oversized, deepNesting, emptyAndScalars);

/** Mixed stream: about 40 % valid messages. */
export const mixedCase: fc.Arbitrary<FuzzCase> = fc.oneof({ arbitrary: validCase, weight: 4 }, { arbitrary: malformedCase, weight: 6 });

export const CATEGORIES = ['valid', 'invalid-json', 'invalid-utf8', 'wrong-type', 'huge-number', 'bad-timestamp', 'bad-unit', 'unicode', 'injection-topic', 'oversized', 'too-many-readings', 'deep-nesting', 'empty', 'not-an-object'] as const;
