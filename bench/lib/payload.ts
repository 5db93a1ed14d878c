/**
 * Contract-valid readings payloads that carry their own send time, for end-to-end latency.
 *
 * The send time goes in `seq` (contract v1: a non-negative safe integer, increasing per message
 * of a device): microseconds of CLOCK_MONOTONIC, which every process on the machine shares, so
 * the subscriber can subtract it from its own clock. A device's `seq` still increases strictly
 * because the sender never reuses a value (`nextSeq`). The payload stays valid against
 * `readingsMessageSchema`; `ts` is a real 15-minute interval start.
 */
import type { ReadingsMessage } from '@wattproof/core';

/** CLOCK_MONOTONIC in microseconds (process.hrtime is CLOCK_MONOTONIC on Linux, shared by all processes). */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** CLOCK_MONOTONIC in milliseconds (fractional). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The `seq` for a message sent now by a device whose last seq was `last`: now in µs, and above `last`. */
export function nextSeq(last: number, nowUs = monotonicUs()): number {
  return nowUs > last ? nowUs : last + 1;
}

const INTERVAL_S = 900;

/** One 15-minute electricity interval reading as a `ReadingsMessage`. */
export function readingsMessage(seq: number, nowMs: number, value: number): ReadingsMessage {
  return {
    v: 1,
    seq,
    readings: [{ ts: Math.floor(nowMs / (INTERVAL_S * 1000)) * INTERVAL_S * 1000, quantity: 'electricity', unit: 'kWh', kind: 'interval', value: Math.round(value * 1000) / 1000, intervalS: INTERVAL_S }],
  };
}

/**
 * `readingsMessage` as JSON text, written by a template rather than JSON.stringify (the load
 * generator makes tens of thousands a second; a test checks both give the same text). `seq` comes
 * first so `seqOf` finds it at once.
 */
export function readingsPayload(seq: number, nowMs: number, value: number): string {
  const ts = Math.floor(nowMs / (INTERVAL_S * 1000)) * INTERVAL_S * 1000;
  return `{"v":1,"seq":${seq},"readings":[{"ts":${ts},"quantity":"electricity","unit":"kWh","kind":"interval","value":${Math.round(value * 1000) / 1000},"intervalS":${INTERVAL_S}}]}`;
}

const SEQ_KEY = Buffer.from('"seq":');

/** The `seq` of a readings payload (UTF-8 JSON) without parsing all of it; NaN when there is none. */
export function seqOf(payload: Buffer): number {
  const at = payload.indexOf(SEQ_KEY);
  if (at < 0) return Number.NaN;
  let n = 0;
  let i = at + SEQ_KEY.length;
  const start = i;
  for (; i < payload.length; i++) {
    const c = payload[i]!;
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return i > start ? n : Number.NaN;
}

/**
 * A readings message of `count` consecutive interval readings of `intervalS` seconds each, the
 * first starting at `firstTsMs` (reading k at `firstTsMs + k × intervalS × 1000`): a device
 * sending a batch (contract v1 allows up to 1,000 readings per message) whose readings never
 * share a timestamp, so a store keeps every one of them (added for bench/ingest.ts).
 */
export function readingsBatchMessage(seq: number, firstTsMs: number, intervalS: number, count: number, value: number): ReadingsMessage {
  const v = Math.round(value * 1000) / 1000;
  return {
    v: 1,
    seq,
    readings: Array.from({ length: count }, (_, k) => ({ ts: firstTsMs + k * intervalS * 1000, quantity: 'electricity' as const, unit: 'kWh' as const, kind: 'interval' as const, value: v, intervalS })),
  };
}

/** `readingsBatchMessage` as JSON text, by template (a test checks it against JSON.stringify). */
export function readingsBatchPayload(seq: number, firstTsMs: number, intervalS: number, count: number, value: number): string {
  const tail = `,"quantity":"electricity","unit":"kWh","kind":"interval","value":${Math.round(value * 1000) / 1000},"intervalS":${intervalS}}`;
  const stepMs = intervalS * 1000;
  let s = `{"v":1,"seq":${seq},"readings":[`;
  for (let k = 0; k < count; k++) s += `${k ? ',' : ''}{"ts":${firstTsMs + k * stepMs}${tail}`;
  return `${s}]}`;
}
