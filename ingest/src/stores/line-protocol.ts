/**
 * InfluxDB line protocol of stored readings, written directly. It produces exactly what the
 * official client's `Point#toLineProtocol` produces for the same reading (tags sorted by key,
 * fields sorted by key, tag values escaped, floats as `String(n)`, the interval as an integer
 * field); test/ingest/stores/line-protocol.test.ts checks that on generated readings.
 *
 * Why not `Point`: at 1,000 readings per message it was the ingest's largest cost after the
 * garbage collector: 8–16 µs of CPU per reading (a `Point` object, two key sorts, an escape pass
 * over every tag and a closure per line), measured with `npm run bench -- ingest-stages`; this
 * takes about 0.3 µs. Readings come grouped by series (a message is one meter), so the escaped
 * series prefix (escaped by the client's `escape`) is reused while the series stays the same.
 */
import { escape, Point } from '@influxdata/influxdb-client';
import type { StoredReading } from '@wattproof/core';

/** Measurement, tag and field names: the only place they are spelled (with the store's queries). */
export const LINE_PROTOCOL_NAMES = {
  measurement: 'reading',
  tag: { site: 'site', building: 'building', meter: 'meter', quantity: 'quantity', kind: 'kind', unit: 'unit' },
  field: { value: 'value', intervalS: 'interval_s' },
} as const;

// The official client's own escaping (computed once per series, so its cost does not matter).
const escapeTag = escape.tag;

type TagKey = keyof typeof LINE_PROTOCOL_NAMES.tag;
// Tags in the order of their InfluxDB keys (what Point emits, and what InfluxDB indexes fastest).
const TAG_ORDER = (Object.keys(LINE_PROTOCOL_NAMES.tag) as TagKey[]).sort((a, b) => (LINE_PROTOCOL_NAMES.tag[a] < LINE_PROTOCOL_NAMES.tag[b] ? -1 : 1));
const TAG_PREFIXES = TAG_ORDER.map((k) => `,${escapeTag(LINE_PROTOCOL_NAMES.tag[k])}=`);
const MEASUREMENT = escape.measurement(LINE_PROTOCOL_NAMES.measurement);
const VALUE = escapeTag(LINE_PROTOCOL_NAMES.field.value);
const INTERVAL = escapeTag(LINE_PROTOCOL_NAMES.field.intervalS);
const INTERVAL_FIRST = INTERVAL < VALUE;

/** Encodes readings as line protocol, one per line (no trailing newline). Throws on a non-finite value. */
export function createLineEncoder(): (r: StoredReading) => string {
  let last: StoredReading | undefined;
  let prefix = '';
  return (r) => {
    if (!Number.isFinite(r.value)) throw new Error(`invalid float value for field '${LINE_PROTOCOL_NAMES.field.value}': ${r.value}`);
    if (!last || last.site !== r.site || last.building !== r.building || last.meter !== r.meter || last.quantity !== r.quantity || last.kind !== r.kind || last.unit !== r.unit) {
      prefix = MEASUREMENT;
      for (let i = 0; i < TAG_ORDER.length; i++) {
        const v = r[TAG_ORDER[i]!];
        // Point leaves out a tag whose value is empty.
        if (v) prefix += TAG_PREFIXES[i]! + escapeTag(v);
      }
      prefix += ' ';
      last = r;
    }
    // One template per line, not the fields first and then the line: fewer intermediate strings
    // for the join to flatten (a small gain: line protocol 0.55 → 0.52 µs per reading in
    // bench/ingest-stages.ts at 1,000 readings per message).
    const ts = Math.round(r.ts);
    if (r.kind === 'interval' && r.intervalS !== undefined) {
      const interval = Math.floor(r.intervalS);
      return INTERVAL_FIRST ? `${prefix}${INTERVAL}=${interval}i,${VALUE}=${r.value} ${ts}` : `${prefix}${VALUE}=${r.value},${INTERVAL}=${interval}i ${ts}`;
    }
    return `${prefix}${VALUE}=${r.value} ${ts}`;
  };
}

/**
 * The same line built with the official client's `Point`, as the store wrote it before: the
 * reference the encoder above is tested against (test/ingest/stores/line-protocol.test.ts) and
 * compared with (bench/ingest-stages.ts). Not used on the write path.
 */
export function referenceLineProtocol(r: StoredReading): string {
  const names = LINE_PROTOCOL_NAMES;
  const p = new Point(names.measurement)
    .tag(names.tag.site, r.site)
    .tag(names.tag.building, r.building)
    .tag(names.tag.meter, r.meter)
    .tag(names.tag.quantity, r.quantity)
    .tag(names.tag.kind, r.kind)
    .tag(names.tag.unit, r.unit)
    .floatField(names.field.value, r.value)
    .timestamp(Math.round(r.ts));
  if (r.kind === 'interval' && r.intervalS !== undefined) p.intField(names.field.intervalS, r.intervalS);
  return p.toLineProtocol({ convertTime: (t) => (t === undefined ? undefined : String(t)) }) ?? '';
}
