/** Domain types shared by every workspace: the portfolio (site, building, meter) and devices. */
import type { MeterRef } from './contract/topics.js';
import type { Quantity, ReadingKind, Unit } from './contract/units.js';

export type { MeterRef };

/** A site (a park or campus, or a single address). */
export interface Site {
  readonly id: string;
  readonly name?: string;
  /** IANA time zone used for local days and months; Asia/Shanghai for Chongqing. */
  readonly timezone: string;
  readonly latitude?: number;
  readonly longitude?: number;
}

/** A building on a site. */
export interface Building {
  readonly site: string;
  readonly id: string;
  readonly name?: string;
  /** GB/T 51161 building type, e.g. `office_a`, `office_b`, `hotel`, `mall`. */
  readonly type?: string;
  readonly floorAreaM2?: number;
}

/** A meter in a building. `parent` names the main meter a sub-meter rolls up to. */
export interface Meter extends MeterRef {
  readonly name?: string;
  readonly quantity?: Quantity;
  /** End use of a sub-meter (GB 55015): lighting_sockets, hvac, power, special. */
  readonly endUse?: string;
  readonly parent?: string;
}

/**
 * device: one meter's own login; aggregator: a data concentrator publishing for every meter of one
 * site; service (e.g. the ingest) and operator: read-only subscribers.
 */
export type PrincipalRole = 'device' | 'aggregator' | 'service' | 'operator';

/**
 * Someone who may connect to the gateway. A device is bound to exactly one meter and its
 * username is that meter's key `site/building/meter`; an aggregator is bound to one site and its
 * username is `aggregator:<site>` (or `aggregator:<site>:<name>`); services and operators have
 * free names.
 */
export interface Principal {
  readonly username: string;
  readonly role: PrincipalRole;
  /** For devices: the meter it publishes for. */
  readonly meter?: MeterRef;
  /** For aggregators: the site whose meters it publishes for. */
  readonly site?: string;
  /** `sha256$salt$digest` (a generated secret) or `scrypt$N$r$p$salt$hash` (a supplied one), base64url parts; never the secret itself (core/src/credentials.ts). */
  readonly secretHash: string;
  readonly createdAtMs: number;
  readonly disabledAtMs?: number;
}

/** A reading as stored: canonical unit, epoch-ms timestamp (interval start for `interval`). */
export interface StoredReading extends MeterRef {
  readonly quantity: Quantity;
  readonly kind: ReadingKind;
  /** Canonical unit: kWh, kW, m3, °C, %, W/m2. */
  readonly unit: Unit;
  readonly ts: number;
  readonly value: number;
  /** Interval length in seconds; present exactly for kind `interval`. */
  readonly intervalS?: number;
}

/** A message (or part of one) that was rejected, kept whole with the reason for inspection. */
export interface DeadLetter {
  readonly id: string;
  readonly receivedAtMs: number;
  /** Which service rejected it. */
  readonly source: 'gateway' | 'ingest' | 'api';
  readonly topic: string;
  readonly clientId?: string;
  readonly username?: string;
  /** Stable error code, e.g. CONTRACT_SCHEMA_INVALID. */
  readonly code: string;
  /** Readable reason naming the offending field. */
  readonly reason: string;
  readonly details?: unknown;
  /** The payload as received: UTF-8 text when it decodes, else base64. */
  readonly payload: string;
  readonly payloadEncoding: 'utf8' | 'base64';
  readonly payloadBytes: number;
  /** True when only the first bytes of an oversized payload were kept. */
  readonly truncated: boolean;
}

export type NewDeadLetter = Omit<DeadLetter, 'id'>;

/**
 * An append-only JSON record kept by the registry for the analytics (M&V) layer: analysis results
 * with their lineage, non-routine adjustments, analysis definitions. Records are never updated
 * or deleted; a correction is a newer record.
 */
export interface StoredRecord {
  /** Assigned by the store; ids sort by arrival as strings and are unique across processes. */
  readonly id: string;
  /** What the record is, e.g. `mv.result`, `mv.adjustment`, `mv.definition` (RECORD_KIND_PATTERN). */
  readonly kind: string;
  /** What it is about, e.g. `site/building/meter` or `site/building` (1..RECORD_KEY_MAX_LENGTH UTF-16 units). */
  readonly key: string;
  /** When the caller recorded it, epoch ms (a safe integer). */
  readonly recordedAtMs: number;
  /**
   * A JSON value: null, booleans, finite numbers, strings, arrays and plain objects, nested at most
   * RECORD_BODY_MAX_DEPTH deep. It comes back deep-equal: numbers keep every digit (0.1 + 0.2 stays
   * 0.30000000000000004); object keys may come back in another order; properties whose value is
   * `undefined` are dropped and `-0` comes back as `0`, as JSON.stringify does. The store refuses
   * (REGISTRY_INPUT_INVALID) what JSON cannot carry unchanged: NaN, ±Infinity, bigint, `undefined`
   * as the body or an array item, functions, symbols, class instances (Date, Map, typed arrays),
   * cycles, and strings or object keys with U+0000 or an unpaired surrogate.
   */
  readonly body: unknown;
}

export type NewRecord = Omit<StoredRecord, 'id'>;

/** Valid record kinds: lower-case, starting with a letter, at most 64 characters. */
export const RECORD_KIND_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;
/** Longest record key, in UTF-16 code units (a key is at least 1 long, without U+0000). */
export const RECORD_KEY_MAX_LENGTH = 200;
/** Deepest nesting of arrays and objects accepted in a record body (the body itself is depth 1). */
export const RECORD_BODY_MAX_DEPTH = 128;

/** A register event detected while turning cumulative registers into intervals. */
export interface RegisterEvent extends MeterRef {
  readonly quantity: Quantity;
  readonly ts: number;
  readonly type: 'rollover' | 'reset' | 'replacement' | 'out_of_order';
  readonly previousValue: number;
  readonly value: number;
  readonly detectedAtMs: number;
  readonly note?: string;
}

/** Upper bound of dead-letter payload bytes kept; larger payloads keep this prefix and `truncated`. */
export const DEAD_LETTER_PAYLOAD_LIMIT_BYTES = 64 * 1024;

/** Builds the stored form of a payload: UTF-8 when it decodes cleanly, otherwise base64. */
export function encodeDeadLetterPayload(payload: Uint8Array | string, limitBytes = DEAD_LETTER_PAYLOAD_LIMIT_BYTES): Pick<DeadLetter, 'payload' | 'payloadEncoding' | 'payloadBytes' | 'truncated'> {
  const buf = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const kept = buf.byteLength > limitBytes ? buf.subarray(0, limitBytes) : buf;
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(kept);
  } catch {
    text = undefined;
  }
  // NUL and other C0 controls (but tab/newline) go as base64 so every store can keep them verbatim.
  // eslint-disable-next-line no-control-regex
  if (text !== undefined && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(text)) {
    return { payload: text, payloadEncoding: 'utf8', payloadBytes: buf.byteLength, truncated: kept !== buf };
  }
  return { payload: kept.toString('base64'), payloadEncoding: 'base64', payloadBytes: buf.byteLength, truncated: kept !== buf };
}
