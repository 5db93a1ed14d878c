/**
 * Message contract v1: the zod schemas are the single source of truth for what a device may
 * publish. docs/contract.md describes the same thing for people; a test keeps them in step.
 */
import { z } from 'zod';
import { CORE_ERRORS } from '../errors.js';
import { allowedUnits, isUnitAllowed, KINDS, QUANTITIES, UNIT_NAMES, type Quantity, type ReadingKind, type Unit } from './units.js';

/** Limits of contract v1. A deployment may lower the byte limit, never raise the readings limit. */
export const CONTRACT_LIMITS = {
  /** Readings in one message. */
  maxReadingsPerMessage: 1000,
  /** Default payload size limit in bytes (the gateway's `GATEWAY_MAX_PAYLOAD_BYTES`). */
  maxPayloadBytes: 256 * 1024,
  /** Largest absolute reading value accepted (in the unit sent). */
  maxAbsValue: 1e15,
  /** Earliest timestamp accepted: 2000-01-01T00:00:00Z. */
  minTimestampMs: Date.UTC(2000, 0, 1),
  /** Longest interval a reading may cover: 31 days (a billing month). */
  maxIntervalS: 31 * 86_400,
  /** Longest free-text field (e.g. meter serial, firmware). */
  maxTextLength: 128,
} as const;

export type ContractErrorCode = keyof typeof CORE_ERRORS & `CONTRACT_${string}`;

// ISO 8601 date-time with a mandatory offset; seconds and fractions optional.
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

const text = z.string().min(1).max(CONTRACT_LIMITS.maxTextLength);

/** One reading as sent by a device. `ts` is the start of the interval for kind `interval`. */
export const readingSchema = z.strictObject({
  ts: z.union([z.string().max(40), z.number()]).describe('ISO 8601 with offset, or epoch milliseconds; start of the interval for `interval` readings'),
  quantity: z.enum(QUANTITIES).describe('What is measured'),
  unit: z.enum(UNIT_NAMES as [Unit, ...Unit[]]).describe('Unit of `value`'),
  kind: z.enum(KINDS).describe('interval: used over intervalS from ts; register: cumulative index at ts; instant: sample at ts'),
  value: z.number().describe('The reading, in `unit`'),
  intervalS: z.number().int().positive().max(CONTRACT_LIMITS.maxIntervalS).optional().describe('Interval length in seconds; required for kind `interval`'),
  rollover: z.number().positive().optional().describe('Register only: the value at which the register wraps to zero (e.g. 1000000)'),
});

/** A readings message, published to `wattproof/v1/<site>/<building>/<meter>/readings`. */
export const readingsMessageSchema = z.strictObject({
  v: z.literal(1).optional().describe('Contract version; 1 if absent'),
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).describe('Device sequence number, increasing per message'),
  meterSerial: text.optional().describe('Serial number of the physical meter; a change marks a meter replacement'),
  readings: z.array(readingSchema).min(1).max(CONTRACT_LIMITS.maxReadingsPerMessage).describe('One or more readings'),
});

/** The retained status message (also the Last Will, with state `offline`). */
export const statusMessageSchema = z.strictObject({
  state: z.enum(['online', 'offline']),
  ts: z.union([z.string().max(40), z.number()]).optional(),
  firmware: text.optional(),
});

export type RawReading = z.infer<typeof readingSchema>;
export type ReadingsMessage = z.infer<typeof readingsMessageSchema>;
export type StatusMessage = z.infer<typeof statusMessageSchema>;

/** A reading after contract validation: timestamp resolved to epoch ms, nothing converted yet. */
export interface ValidReading {
  readonly tsMs: number;
  readonly quantity: Quantity;
  readonly unit: Unit;
  readonly kind: ReadingKind;
  readonly value: number;
  readonly intervalS?: number;
  readonly rollover?: number;
}

export interface ValidReadingsMessage {
  readonly seq: number;
  readonly meterSerial?: string;
  readonly readings: readonly ValidReading[];
}

export interface ContractIssue {
  /** Field path such as `readings[3].unit`; empty for the whole payload. */
  readonly path: string;
  readonly message: string;
}

/** Why a payload was rejected: a stable code, a readable reason naming the field, all issues. */
export interface ContractViolation {
  readonly code: ContractErrorCode;
  readonly reason: string;
  readonly issues: readonly ContractIssue[];
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: ContractViolation };

export interface ParseOptions {
  /** Current time (epoch ms), for the future-timestamp check. */
  readonly nowMs: number;
  /** How far ahead of `nowMs` a timestamp may be (device clock skew). */
  readonly maxFutureMs: number;
  /** Payload byte limit; defaults to CONTRACT_LIMITS.maxPayloadBytes. */
  readonly maxPayloadBytes?: number;
}

/** Formats a zod path as `readings[3].unit`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** True when the date and time written in `iso` are those of `ms` at the string's own offset (Date.parse rolls 02-30 over to 03-02). */
function sameCalendarFields(iso: string, ms: number): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/.exec(iso);
  if (!m) return false;
  const offsetMin = m[7] === 'Z' ? 0 : (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]));
  const local = new Date(ms + offsetMin * 60_000);
  return (
    local.getUTCFullYear() === Number(m[1]) &&
    local.getUTCMonth() + 1 === Number(m[2]) &&
    local.getUTCDate() === Number(m[3]) &&
    local.getUTCHours() === Number(m[4]) &&
    local.getUTCMinutes() === Number(m[5]) &&
    local.getUTCSeconds() === Number(m[6] ?? 0)
  );
}

/** Resolves a contract timestamp to epoch ms, or explains why it is not one. */
export function resolveTimestamp(ts: string | number): { ok: true; ms: number } | { ok: false; message: string } {
  const r = timestampMs(ts);
  return typeof r === 'number' ? { ok: true, ms: r } : { ok: false, message: r };
}

/**
 * resolveTimestamp without a result object: epoch ms, or the message saying why `ts` is not a
 * timestamp. parseReadingsMessage calls it once per reading, where the result object was one of
 * several short-lived allocations per reading (bench/ingest-stages.ts, validate column).
 */
function timestampMs(ts: string | number): number | string {
  if (typeof ts === 'number') {
    if (!Number.isInteger(ts)) return 'epoch timestamp must be whole milliseconds';
    // Beyond ±8.64e15 ms no Date exists (ECMA-262 21.4.1.1); formatting one in a reason would throw.
    if (Math.abs(ts) > 8.64e15) return `timestamp ${ts} is not a real date-time`;
    if (ts < CONTRACT_LIMITS.minTimestampMs) {
      const hint = ts > 1e8 && ts < 1e11 ? ' (this looks like epoch seconds; send milliseconds)' : '';
      return `timestamp ${ts} is before 2000-01-01${hint}`;
    }
    return ts;
  }
  if (!ISO_WITH_OFFSET.test(ts)) {
    return `"${ts.slice(0, 40)}" is not ISO 8601 with an offset (e.g. 2026-11-30T08:00:00+08:00)`;
  }
  const ms = Date.parse(ts);
  if (!Number.isFinite(ms) || !sameCalendarFields(ts, ms)) return `"${ts}" is not a real date-time`;
  if (ms < CONTRACT_LIMITS.minTimestampMs) return `timestamp ${ts} is before 2000-01-01`;
  return ms;
}

/** Escapes control characters so a reason can be logged and stored anywhere (PostgreSQL refuses NUL). */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function violation(code: ContractErrorCode, rawIssues: ContractIssue[]): ContractViolation {
  const issues = rawIssues.map((i) => ({ path: printable(i.path), message: printable(i.message) }));
  const first = issues[0];
  const where = first && first.path ? `${first.path}: ` : '';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more issue${issues.length > 2 ? 's' : ''})` : '';
  return { code, reason: `${where}${first?.message ?? 'invalid'}${more}`, issues };
}

const QUANTITY_SET: ReadonlySet<unknown> = new Set(QUANTITIES);
const UNIT_SET: ReadonlySet<unknown> = new Set(UNIT_NAMES);
const KIND_SET: ReadonlySet<unknown> = new Set(KINDS);

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isFiniteNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isText = (x: unknown) => typeof x === 'string' && x.length >= 1 && x.length <= CONTRACT_LIMITS.maxTextLength;

/** Own enumerable keys of a JSON object; -1 if it inherits an enumerable one (then zod decides). */
function ownKeyCount(o: Record<string, unknown>): number {
  let n = 0;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) return -1;
    n++;
  }
  return n;
}

/**
 * A readings message that `readingsMessageSchema` certainly accepts as it is, checked without
 * zod: true only when every field has the type, range and membership the schema requires and
 * there is no other key. zod's strict objects copy every object they accept, one per reading;
 * at 10 readings per message that and zod's checks were 6.6 % of the ingest's CPU (the
 * `--cpu-prof` profile in docs/PERFORMANCE.md, "ingest, 10 readings per message"). A message
 * this says no to still goes through zod, which decides and explains: the check can only make
 * acceptance faster, never accept what zod refuses (test/core/contract-fast-path.test.ts
 * compares the two on generated messages, valid and broken field by field).
 */
export function isPlainValidMessage(json: unknown): json is ReadingsMessage {
  if (!isRecord(json)) return false;
  const keys = ownKeyCount(json);
  const { seq, readings, v, meterSerial } = json;
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) return false;
  if (v !== undefined && v !== 1) return false;
  if (meterSerial !== undefined && !isText(meterSerial)) return false;
  if (!Array.isArray(readings) || readings.length < 1 || readings.length > CONTRACT_LIMITS.maxReadingsPerMessage) return false;
  // Exactly the schema's keys: as many keys as its fields present leaves room for no other.
  if (keys !== 2 + (v !== undefined ? 1 : 0) + (meterSerial !== undefined ? 1 : 0)) return false;
  for (let i = 0; i < readings.length; i++) {
    if (!isPlainValidReading(readings[i])) return false;
  }
  return true;
}

function isPlainValidReading(r: unknown): boolean {
  if (!isRecord(r)) return false;
  const { ts, quantity, unit, kind, value, intervalS, rollover } = r;
  if (typeof ts === 'string' ? ts.length > 40 : !isFiniteNumber(ts)) return false;
  if (!QUANTITY_SET.has(quantity) || !UNIT_SET.has(unit) || !KIND_SET.has(kind) || !isFiniteNumber(value)) return false;
  let expected = 5;
  if (intervalS !== undefined) {
    if (!Number.isSafeInteger(intervalS) || (intervalS as number) <= 0 || (intervalS as number) > CONTRACT_LIMITS.maxIntervalS) return false;
    expected++;
  }
  if (rollover !== undefined) {
    if (!isFiniteNumber(rollover) || rollover <= 0) return false;
    expected++;
  }
  return ownKeyCount(r) === expected;
}

/** The path of a field of the i-th reading, for an issue (module level: no closure per message). */
const at = (i: number, field: string) => `readings[${i}].${field}`;

// One decoder for every message (a fatal decoder keeps no state between calls): a new one per
// message cost ~2 µs per single-reading message (bench/ingest-stages.ts, 1 reading per message).
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses and validates a readings payload. Never throws: every failure comes back as a
 * ContractViolation with a stable code and a reason naming the offending field.
 */
export function parseReadingsMessage(payload: Uint8Array | string, opts: ParseOptions): ParseResult<ValidReadingsMessage> {
  const maxBytes = opts.maxPayloadBytes ?? CONTRACT_LIMITS.maxPayloadBytes;
  const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  if (bytes > maxBytes) {
    return { ok: false, error: violation('CONTRACT_PAYLOAD_TOO_LARGE', [{ path: '', message: `payload is ${bytes} bytes; the limit is ${maxBytes}` }]) };
  }
  let json: unknown;
  try {
    const textPayload = typeof payload === 'string' ? payload : UTF8.decode(payload);
    json = JSON.parse(textPayload);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return { ok: false, error: violation('CONTRACT_PAYLOAD_NOT_JSON', [{ path: '', message: `payload is not UTF-8 JSON: ${detail.slice(0, 200)}` }]) };
  }
  let msg: ReadingsMessage;
  if (isPlainValidMessage(json)) {
    msg = json;
  } else {
    const parsed = readingsMessageSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 20).map((i) => ({ path: formatPath(i.path), message: i.message }));
      const tooMany = parsed.error.issues.some((i) => i.code === 'too_big' && i.path.length === 1 && i.path[0] === 'readings');
      return { ok: false, error: violation(tooMany ? 'CONTRACT_TOO_MANY_READINGS' : 'CONTRACT_SCHEMA_INVALID', issues) };
    }
    msg = parsed.data;
  }
  const readings: ValidReading[] = [];
  const tsIssues: ContractIssue[] = [];
  const unitIssues: ContractIssue[] = [];
  const schemaIssues: ContractIssue[] = [];
  // Per reading, nothing is allocated unless it is invalid: the issue paths are built only for an
  // issue, and the optional fields are assigned rather than spread (the spreads and the per-reading
  // path string were most of this loop's cost; bench/ingest-stages.ts, validate column).
  for (let i = 0; i < msg.readings.length; i++) {
    const r = msg.readings[i]!;
    if (!isUnitAllowed(r.quantity, r.kind, r.unit)) {
      const allowed = allowedUnits(r.quantity, r.kind);
      unitIssues.push({
        path: at(i, 'unit'),
        message: allowed.length
          ? `unit "${r.unit}" is not valid for ${r.quantity} (${r.kind}); expected one of ${allowed.join(', ')}`
          : `${r.quantity} cannot be reported as kind "${r.kind}"`,
      });
    }
    if (Math.abs(r.value) > CONTRACT_LIMITS.maxAbsValue) {
      schemaIssues.push({ path: at(i, 'value'), message: `value ${r.value} exceeds ±${CONTRACT_LIMITS.maxAbsValue}` });
    }
    if (r.kind === 'interval' && r.intervalS === undefined) {
      schemaIssues.push({ path: at(i, 'intervalS'), message: 'intervalS is required for kind "interval"' });
    }
    if (r.kind !== 'interval' && r.intervalS !== undefined) {
      schemaIssues.push({ path: at(i, 'intervalS'), message: `intervalS is only allowed for kind "interval", not "${r.kind}"` });
    }
    if (r.rollover !== undefined && r.kind !== 'register') {
      schemaIssues.push({ path: at(i, 'rollover'), message: 'rollover is only allowed for kind "register"' });
    }
    if (r.rollover !== undefined && r.value >= r.rollover) {
      schemaIssues.push({ path: at(i, 'value'), message: `register value ${r.value} is not below its rollover ${r.rollover}` });
    }
    if (r.kind === 'register' && r.value < 0) {
      schemaIssues.push({ path: at(i, 'value'), message: 'a cumulative register cannot be negative' });
    }
    const ms = timestampMs(r.ts);
    if (typeof ms === 'string') {
      tsIssues.push({ path: at(i, 'ts'), message: ms });
      continue;
    }
    if (ms > opts.nowMs + opts.maxFutureMs) {
      tsIssues.push({
        path: at(i, 'ts'),
        message: `timestamp ${new Date(ms).toISOString()} is ${Math.round((ms - opts.nowMs) / 1000)} s in the future (limit ${Math.round(opts.maxFutureMs / 1000)} s); check the device clock`,
      });
      continue;
    }
    const reading: { -readonly [K in keyof ValidReading]: ValidReading[K] } = { tsMs: ms, quantity: r.quantity, unit: r.unit, kind: r.kind, value: r.value };
    if (r.intervalS !== undefined) reading.intervalS = r.intervalS;
    if (r.rollover !== undefined) reading.rollover = r.rollover;
    readings.push(reading);
  }
  if (schemaIssues.length) return { ok: false, error: violation('CONTRACT_SCHEMA_INVALID', schemaIssues) };
  if (unitIssues.length) return { ok: false, error: violation('CONTRACT_UNIT_INVALID', unitIssues) };
  if (tsIssues.length) return { ok: false, error: violation('CONTRACT_TIMESTAMP_INVALID', tsIssues) };
  return {
    ok: true,
    value: { seq: msg.seq, ...(msg.meterSerial !== undefined ? { meterSerial: msg.meterSerial } : {}), readings },
  };
}

/** Parses a status payload (retained online/offline). */
export function parseStatusMessage(payload: Uint8Array | string): ParseResult<StatusMessage> {
  let json: unknown;
  try {
    json = JSON.parse(typeof payload === 'string' ? payload : UTF8.decode(payload));
  } catch (err) {
    return { ok: false, error: violation('CONTRACT_PAYLOAD_NOT_JSON', [{ path: '', message: `payload is not UTF-8 JSON: ${(err as Error).message}` }]) };
  }
  const parsed = statusMessageSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      error: violation('CONTRACT_SCHEMA_INVALID', parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }))),
    };
  }
  return { ok: true, value: parsed.data };
}
