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

// The official client's own escaping: for the names here, and for tag values that are not plain ASCII.
const escapeTag = escape.tag;

type TagKey = keyof typeof LINE_PROTOCOL_NAMES.tag;
// Tags in the order of their InfluxDB keys (what Point emits, and what InfluxDB indexes fastest).
const TAG_ORDER = (Object.keys(LINE_PROTOCOL_NAMES.tag) as TagKey[]).sort((a, b) => (LINE_PROTOCOL_NAMES.tag[a] < LINE_PROTOCOL_NAMES.tag[b] ? -1 : 1));
// encodeLineProtocol's seriesPrefix writes the tags by name in this order.
if (TAG_ORDER.join() !== 'building,kind,meter,quantity,site,unit') throw new Error(`line protocol: tag order ${TAG_ORDER.join()} is not the one seriesPrefix writes`);
const TAG_PREFIXES = TAG_ORDER.map((k) => Buffer.from(`,${escapeTag(LINE_PROTOCOL_NAMES.tag[k])}=`, 'utf8'));
const MEASUREMENT = Buffer.from(escape.measurement(LINE_PROTOCOL_NAMES.measurement), 'utf8');
/** Bytes of a series prefix besides its tag values: the measurement, each tag's ",key=", the space. */
const PREFIX_FIXED_BYTES = MEASUREMENT.length + TAG_PREFIXES.reduce((n, b) => n + b.length, 0) + 1;
/**
 * Printable ASCII a tag value may hold as it is: what `escape.tag` leaves unchanged (it puts a
 * backslash before space, comma and equals sign and writes tab, newline and carriage return as
 * `\t`, `\n`, `\r`). Anything else takes `escape.tag` and a UTF-8 write.
 */
const PLAIN_TAG_CHAR = Uint8Array.from({ length: 128 }, (_, c) => (c > 0x20 && c < 0x7f && c !== 0x2c && c !== 0x3d ? 1 : 0));
const VALUE = escapeTag(LINE_PROTOCOL_NAMES.field.value);
const INTERVAL = escapeTag(LINE_PROTOCOL_NAMES.field.intervalS);
const INTERVAL_FIRST = INTERVAL < VALUE;

// Bytes of the fixed parts of a line.
const SPACE = 0x20;
const NEWLINE = 0x0a;
const VALUE_EQ = Buffer.from(`${VALUE}=`, 'utf8');
const INTERVAL_EQ = Buffer.from(`${INTERVAL}=`, 'utf8');
const INT_SUFFIX = 0x69; // 'i'
const COMMA = 0x2c;
/** "00" to "99": the digits of every number below 100, two bytes each. */
const DIGIT_PAIRS = Uint8Array.from(Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''), 'latin1'));
/** Room for one line besides its series prefix: the field names, three numbers of at most 25 characters, separators. */
const FIELDS_BYTES = VALUE_EQ.length + INTERVAL_EQ.length + 3 * 25 + 8;

/**
 * Encodes `readings[start..end)` as UTF-8 line protocol, one line per reading, separated by
 * newlines (no trailing one): the body of one write request. Throws on a non-finite value.
 *
 * Straight into a Buffer rather than a string per line joined and then encoded by fetch: in the
 * ingest's profile at 10 readings per message and 40,000 readings/s (`npm run bench -- ingest
 * --cpu-prof`, 2026-12-02) building the lines, joining them and fetch's `TextEncoder` were 18 %
 * of the ingest's CPU (the join flattens a rope of per-line strings into a 650 kB string, which
 * fetch then copies once more as UTF-8). Here each series' escaped prefix is encoded once per run
 * of readings of that series (a message is one meter), in place, and copied with `set`; the timestamp and
 * the interval are written as digits (`String` of a 13-digit millisecond time is a double-to-
 * string conversion, about 0.3 µs); the value is `String(value)`, as `Point` writes it.
 * test/ingest/stores/line-protocol.test.ts checks the bytes against `Point#toLineProtocol`.
 */
export function encodeLineProtocol(readings: readonly StoredReading[], start = 0, end = readings.length): Buffer {
  let buf = Buffer.allocUnsafe(Math.max(256, (end - start) * 128));
  let pos = 0;
  let last: StoredReading | undefined;
  // The series prefix of `last` where it was written (a view of `buf`, or of the smaller buffer
  // `reserve` replaced), copied for the next readings of the same series.
  let prefix = buf.subarray(0, 0);

  function reserve(n: number): void {
    if (pos + n <= buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, pos + n));
    buf.copy(bigger, 0, 0, pos);
    buf = bigger;
  }
  function ascii(s: string): void {
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
  }
  /** A tag value, escaped as `escape.tag` escapes it: byte by byte while it is plain ASCII. */
  function tagValue(v: string): void {
    const from = pos;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c >= 128 || PLAIN_TAG_CHAR[c] === 0) {
        pos = from + buf.write(escapeTag(v), from, 'utf8');
        return;
      }
      buf[pos++] = c;
    }
  }
  /**
   * The series prefix of `r` ("reading,building=…,…,unit=… "), written in place, plain ASCII tag
   * values byte by byte. It was built as a string and encoded into a Buffer of its own, which
   * single-reading messages pay for every reading (consecutive readings are of different meters):
   * the encoder took 2.5–3.5 µs per reading of 5,000 meters before, 1.5–2.0 µs now (0.58–0.61×,
   * alternating rounds in one process, 2026-12-03 evening), the same within noise for runs of 10
   * and 1,000 readings of a meter; docs/PERFORMANCE.md ("Series prefixes written in place").
   */
  function seriesPrefix(r: StoredReading): void {
    // The tags by name, in TAG_ORDER (checked where it is defined): a loop over TAG_ORDER reading
    // `r[key]` made each a generic keyed load, a third of this function's time.
    const { building, kind, meter, quantity, site, unit } = r;
    // At most 3 bytes per UTF-16 unit of a value: an escaped ASCII character takes 2, a unit below
    // 0x800 2 in UTF-8, any other 3 (a surrogate pair's two units take 4, a lone surrogate 3).
    reserve(PREFIX_FIXED_BYTES + 3 * ((building?.length ?? 0) + (kind?.length ?? 0) + (meter?.length ?? 0) + (quantity?.length ?? 0) + (site?.length ?? 0) + (unit?.length ?? 0)) + FIELDS_BYTES + 1);
    buf.set(MEASUREMENT, pos);
    pos += MEASUREMENT.length;
    tag(0, building);
    tag(1, kind);
    tag(2, meter);
    tag(3, quantity);
    tag(4, site);
    tag(5, unit);
    buf[pos++] = SPACE;
  }
  function tag(i: number, v: string | undefined): void {
    // Point leaves out a tag whose value is empty.
    if (!v) return;
    const name = TAG_PREFIXES[i]!;
    buf.set(name, pos);
    pos += name.length;
    tagValue(v);
  }
  /**
   * A non-negative integer below 2^31 as decimal digits, zero-padded to `minDigits`: two digits
   * per division, from a table. One division per digit was 20 % of the encoder's CPU (a 13-digit
   * timestamp and the interval per line); with the table the encoder takes 18-20 % less CPU per
   * reading (a loop over 5,000-reading batches, `--cpu-prof`, 2026-12-02, docs/PERFORMANCE.md
   * "Two digits per division in the line-protocol encoder").
   */
  function smallDigits(n: number, minDigits: number): void {
    let len = n < 1e4 ? (n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : 4) : n < 1e8 ? (n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : 8) : n < 1e9 ? 9 : 10;
    if (len < minDigits) len = minDigits;
    let i = pos + len;
    while (n >= 100) {
      const q = (n / 100) | 0;
      const pair = (n - q * 100) * 2;
      buf[--i] = DIGIT_PAIRS[pair + 1]!;
      buf[--i] = DIGIT_PAIRS[pair]!;
      n = q;
    }
    if (n >= 10) {
      buf[--i] = DIGIT_PAIRS[n * 2 + 1]!;
      buf[--i] = DIGIT_PAIRS[n * 2]!;
    } else buf[--i] = 0x30 + n;
    while (i > pos) buf[--i] = 0x30;
    pos += len;
  }
  /** An integer as `String` writes it: digits without a double-to-string conversion for 0 <= n < 10^16. */
  function integer(n: number): void {
    if (n >= 0 && n < 1e16) {
      const high = Math.floor(n / 1e8);
      const low = n - high * 1e8;
      if (high > 0) {
        smallDigits(high, 1);
        smallDigits(low, 8);
      } else smallDigits(low, 1);
    } else ascii(String(n));
  }
  function valueField(value: number): void {
    buf.set(VALUE_EQ, pos);
    pos += VALUE_EQ.length;
    ascii(String(value));
  }
  function intervalField(intervalS: number): void {
    buf.set(INTERVAL_EQ, pos);
    pos += INTERVAL_EQ.length;
    integer(Math.floor(intervalS));
    buf[pos++] = INT_SUFFIX;
  }

  for (let k = start; k < end; k++) {
    const r = readings[k]!;
    if (!Number.isFinite(r.value)) throw new Error(`invalid float value for field '${LINE_PROTOCOL_NAMES.field.value}': ${r.value}`);
    if (!last || last.site !== r.site || last.building !== r.building || last.meter !== r.meter || last.quantity !== r.quantity || last.kind !== r.kind || last.unit !== r.unit) {
      if (k > start) {
        reserve(1);
        buf[pos++] = NEWLINE;
      }
      const from = pos;
      seriesPrefix(r);
      prefix = buf.subarray(from, pos);
      last = r;
    } else {
      // The same series as the line before (so not the first line): its prefix copied.
      reserve(1 + prefix.length + FIELDS_BYTES);
      buf[pos++] = NEWLINE;
      buf.set(prefix, pos);
      pos += prefix.length;
    }
    if (r.kind === 'interval' && r.intervalS !== undefined) {
      if (INTERVAL_FIRST) {
        intervalField(r.intervalS);
        buf[pos++] = COMMA;
        valueField(r.value);
      } else {
        valueField(r.value);
        buf[pos++] = COMMA;
        intervalField(r.intervalS);
      }
    } else valueField(r.value);
    buf[pos++] = SPACE;
    integer(Math.round(r.ts));
  }
  return buf.subarray(0, pos);
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
