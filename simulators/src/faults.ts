/**
 * Fault injection: what goes wrong between a meter and the gateway, all off by default, each
 * with a rate. Every decision is a seeded hash of (seed, fault, meter, true time or message
 * number), so a run is reproducible and does not depend on how time is chunked; runs of faults
 * (gaps, stuck values, outages, skewed clocks) keep their state per meter and need the frames of a
 * meter in time order.
 *
 * Reading faults (per frame, i.e. per reading instant of a meter):
 *   gap         a run of frames is never sent (an outage that loses data)
 *   lateBurst   a run of frames is held (store-and-forward) and sent at once when the run ends
 *   stuck       a run of frames repeats the last good values
 *   zero        the values are 0
 *   spike       the values are multiplied by `factor` (registers wrap at their rollover)
 *   clockSkew   a run of frames has its timestamps shifted by the meter's skew (whole seconds, never a multiple of its period)
 * Message faults (per message, decided by its sequence number; one destructive fault at most):
 *   malformed   the payload is broken in one of four ways, each rejected by the ingest with its CONTRACT_* code
 *   foreignTopic the message goes to a topic outside the publisher's ACL (GATEWAY_PUBLISH_FORBIDDEN)
 *   oversized   the payload is padded past the gateway's byte limit (GATEWAY_PAYLOAD_TOO_LARGE)
 *   duplicate   a valid message is published twice
 *   outOfOrder  a valid message is held back and published after the next 1..maxDelay messages of its meter
 * Connection faults (per connection):
 *   wrongCredentials  a connect attempt with a bad password comes first (CONNACK 4, counted by the gateway)
 *
 * The `FaultReport` counts exactly what was injected, with the affected readings and messages,
 * so a test can assert the pipeline's answer (dead letters by code, refused connects, stored counts).
 */
import { z } from 'zod';
import { allowedUnits, UNIT_NAMES, type ReadingKind, type Quantity, type Unit } from '@wattproof/core';
import { hashString, mix32, unitHash, type Frame, type SimReading } from './meters.js';

export const FAULT_KINDS = [
  'gap',
  'lateBurst',
  'stuck',
  'zero',
  'spike',
  'clockSkew',
  'malformed',
  'foreignTopic',
  'oversized',
  'duplicate',
  'outOfOrder',
  'wrongCredentials',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const rate = z.number().min(0).max(1).describe('Probability per opportunity (frame, message or connection), 0..1');
const runLength = {
  minLength: z.number().int().min(1).optional().describe('Shortest run, frames (default 2)'),
  maxLength: z.number().int().min(1).optional().describe('Longest run, frames (default 8)'),
};

/** Fault configuration: every fault is off unless given a rate. Rates are per frame, message or connection. */
export const faultsConfigSchema = z.strictObject({
  seed: z.number().int().optional().describe('Seed of every fault decision (default: the run seed)'),
  gap: z.strictObject({ rate, ...runLength }).optional().describe('Runs of frames never sent; rate = chance a run starts at a frame'),
  lateBurst: z.strictObject({ rate, ...runLength }).optional().describe('Runs of frames held during an outage, then sent at once'),
  stuck: z.strictObject({ rate, ...runLength }).optional().describe('Runs of frames repeating the last good values'),
  zero: z.strictObject({ rate }).optional().describe('Frames whose values are 0'),
  spike: z.strictObject({ rate, factor: z.number().positive().optional().describe('Multiplier (default 10)') }).optional().describe('Frames whose values are multiplied'),
  clockSkew: z
    .strictObject({ rate, ...runLength, maxSkewS: z.number().int().min(1).max(86_400).optional().describe('Largest |skew|, seconds (default 120)') })
    .optional()
    .describe('Runs of frames whose timestamps are shifted'),
  malformed: z.strictObject({ rate }).optional().describe('Messages with a broken payload (dead letter CONTRACT_*)'),
  foreignTopic: z.strictObject({ rate }).optional().describe('Messages published outside the ACL (dead letter GATEWAY_PUBLISH_FORBIDDEN)'),
  oversized: z.strictObject({ rate }).optional().describe('Messages padded past the byte limit (dead letter GATEWAY_PAYLOAD_TOO_LARGE)'),
  duplicate: z.strictObject({ rate }).optional().describe('Valid messages published twice'),
  outOfOrder: z.strictObject({ rate, maxDelay: z.number().int().min(1).max(100).optional().describe('Messages it is overtaken by, at most (default 3)') }).optional().describe('Valid messages published late'),
  wrongCredentials: z.strictObject({ rate }).optional().describe('Connections preceded by an attempt with a wrong password'),
});
export type FaultsConfig = z.infer<typeof faultsConfigSchema>;

/** Named fault mixes for `wattproof simulate --faults <preset>`. */
export const FAULT_PRESETS: Readonly<Record<'none' | 'light' | 'realistic' | 'chaos', FaultsConfig>> = Object.freeze({
  none: {},
  light: { gap: { rate: 0.001 }, duplicate: { rate: 0.005 }, outOfOrder: { rate: 0.005 } },
  realistic: {
    gap: { rate: 0.002, minLength: 1, maxLength: 16 },
    lateBurst: { rate: 0.001, minLength: 4, maxLength: 48 },
    stuck: { rate: 0.0005 },
    zero: { rate: 0.0005 },
    spike: { rate: 0.0002 },
    clockSkew: { rate: 0.0005 },
    malformed: { rate: 0.001 },
    duplicate: { rate: 0.01 },
    outOfOrder: { rate: 0.01 },
    wrongCredentials: { rate: 0.01 },
  },
  chaos: {
    gap: { rate: 0.01 },
    lateBurst: { rate: 0.005 },
    stuck: { rate: 0.005 },
    zero: { rate: 0.005 },
    spike: { rate: 0.005 },
    clockSkew: { rate: 0.005 },
    malformed: { rate: 0.02 },
    foreignTopic: { rate: 0.01 },
    oversized: { rate: 0.005 },
    duplicate: { rate: 0.05 },
    outOfOrder: { rate: 0.05 },
    wrongCredentials: { rate: 0.1 },
  },
});

/** One injected fault, for the report: which meter (or publisher), which reading time or message. */
export interface FaultExample {
  /** `site/building/meter`, or the publisher's username for connection faults. */
  readonly meter: string;
  /** True time of the first affected frame, epoch ms. */
  readonly ts?: number;
  /** Frames or readings affected. */
  readonly frames?: number;
  /** Message sequence number. */
  readonly seq?: number;
  /** Where the message went. */
  readonly topic?: string;
  /** The dead-letter code the pipeline should answer with. */
  readonly code?: string;
  /** How it was broken or shifted (malformed variant, skew in s, delay in messages). */
  readonly detail?: string;
}

/** Exactly what was injected. */
export interface FaultReport {
  readonly seed: number;
  /** Fault events by kind: a gap of five frames is one event. */
  readonly events: Record<FaultKind, number>;
  /** Readings affected by kind: dropped, held, changed, shifted, in a broken, copied or delayed message. */
  readonly readings: Record<FaultKind, number>;
  /** Dead letters the gateway and ingest should hold because of these faults, by code. */
  readonly expectedDeadLetters: Record<string, number>;
  /** CONNECT attempts the gateway should refuse (return code 4). */
  readonly expectedRefusedConnects: number;
  /** The first `maxExamples` events of each kind. */
  readonly examples: Record<FaultKind, FaultExample[]>;
}

/** How a message is broken: its payload (or topic) and the code it will be rejected with. */
export interface MessageFault {
  readonly kind: 'malformed' | 'foreignTopic' | 'oversized';
  readonly topic: string;
  readonly payload: string;
  readonly code: string;
  readonly detail: string;
}

/** What the injector decided for one valid message. */
export interface MessageDecision {
  /** Set when the message is replaced by a broken one (its readings are lost). */
  readonly broken?: MessageFault;
  /** Publish the message this many times in all (2 = once more). */
  readonly copies: number;
  /** Hold the message back until this many later messages of its meter went out (0 = send now). */
  readonly delay: number;
}

export interface FaultInjectorOptions {
  /** Seed used when the config has none. */
  readonly seed?: number;
  /** The gateway's payload limit, bytes (oversized payloads exceed it). */
  readonly maxPayloadBytes: number;
  /** Examples kept per fault kind. Default 1000. */
  readonly maxExamples?: number;
}

type RunKind = 'gap' | 'lateBurst' | 'stuck' | 'clockSkew';

interface MeterState {
  readonly key: number;
  /** Index of the example of the run in progress, per run kind (-1 = not kept). */
  readonly example: Record<RunKind, number>;
  readonly periodMs: number;
  /** Remaining frames of the current run, per run fault. */
  gap: number;
  lateBurst: number;
  stuck: number;
  clockSkew: number;
  held: Frame[];
  lastGood: Frame | undefined;
  skewMs: number;
  heldSince: number;
}

const SALT: Record<FaultKind, number> = Object.fromEntries(FAULT_KINDS.map((k) => [k, hashString(k)])) as Record<FaultKind, number>;

const zeroCounts = (): Record<FaultKind, number> => Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;

/** A unit unknown to the quantity and kind, for a CONTRACT_UNIT_INVALID payload. */
function wrongUnit(quantity: Quantity, kind: ReadingKind): Unit {
  const ok = new Set(allowedUnits(quantity, kind));
  return UNIT_NAMES.find((u) => !ok.has(u)) ?? 'W/m2';
}

/** The four ways a payload is malformed, each with the code the ingest answers. */
export const MALFORMED_VARIANTS = [
  { name: 'truncated_json', code: 'CONTRACT_PAYLOAD_NOT_JSON' },
  { name: 'unknown_field', code: 'CONTRACT_SCHEMA_INVALID' },
  { name: 'wrong_unit', code: 'CONTRACT_UNIT_INVALID' },
  { name: 'local_timestamp', code: 'CONTRACT_TIMESTAMP_INVALID' },
] as const;

/** Creates a fault injector. Throws a ZodError-derived message when the config is invalid. */
export function createFaultInjector(config: FaultsConfig = {}, options: FaultInjectorOptions) {
  const cfg = faultsConfigSchema.parse(config);
  const seed = cfg.seed ?? options.seed ?? 0;
  const seedKey = mix32(seed >>> 0, Math.floor(seed / 4294967296) >>> 0);
  const maxExamples = options.maxExamples ?? 1000;
  const events = zeroCounts();
  const readings = zeroCounts();
  const examples = Object.fromEntries(FAULT_KINDS.map((k) => [k, [] as FaultExample[]])) as Record<FaultKind, FaultExample[]>;
  const deadLetters: Record<string, number> = {};
  let refusedConnects = 0;
  const meters = new Map<string, MeterState>();
  const readingFaultsOn = Boolean(cfg.gap || cfg.lateBurst || cfg.stuck || cfg.zero || cfg.spike || cfg.clockSkew);

  /** Counts a new fault event; returns the index of its example, or -1 when the examples are full. */
  function record(kind: FaultKind, nReadings: number, example: FaultExample): number {
    events[kind]++;
    readings[kind] += nReadings;
    if (examples[kind].length >= maxExamples) return -1;
    examples[kind].push(example);
    return examples[kind].length - 1;
  }
  /** Counts one more frame of the run `s` has open for `kind`. */
  function extend(kind: RunKind, nReadings: number, s: MeterState): void {
    readings[kind] += nReadings;
    const i = s.example[kind];
    const ex = i >= 0 ? examples[kind][i] : undefined;
    if (ex) examples[kind][i] = { ...ex, frames: (ex.frames ?? 0) + 1 };
  }
  function startRun(kind: RunKind, nReadings: number, s: MeterState, example: FaultExample): void {
    s.example[kind] = record(kind, nReadings, example);
  }
  function u(kind: FaultKind, meterKey: number, t: number, extra = 0): number {
    return unitHash(mix32(mix32(seedKey, SALT[kind]), meterKey ^ extra), t);
  }
  function runLengthOf(kind: RunKind, meterKey: number, t: number): number {
    const c = cfg[kind]!;
    const lo = c.minLength ?? 2;
    const hi = Math.max(lo, c.maxLength ?? 8);
    return lo + Math.floor(u(kind, meterKey, t, 0x5eed) * (hi - lo + 1));
  }
  function stateOf(meter: string, periodMs: number): MeterState {
    let s = meters.get(meter);
    if (!s) {
      const key = hashString(meter);
      let skewMs = 0;
      if (cfg.clockSkew) {
        const max = cfg.clockSkew.maxSkewS ?? 120;
        let skewS = 1 + Math.floor(unitHash(mix32(seedKey, key), 0x51ce) * max);
        // Never a whole number of periods: a skewed reading must not land on another reading's slot.
        if ((skewS * 1000) % periodMs === 0) skewS += 1;
        skewMs = (unitHash(mix32(seedKey, key), 0x5167) < 0.5 ? -1 : 1) * skewS * 1000;
      }
      s = { key, example: { gap: -1, lateBurst: -1, stuck: -1, clockSkew: -1 }, periodMs, gap: 0, lateBurst: 0, stuck: 0, clockSkew: 0, held: [], lastGood: undefined, skewMs, heldSince: 0 };
      meters.set(meter, s);
    }
    return s;
  }

  function mapValues(f: Frame, fn: (r: SimReading, i: number) => number): Frame {
    return { ...f, readings: f.readings.map((r, i) => ({ ...r, value: fn(r, i) })) };
  }
  function wrapRegister(r: SimReading, v: number): number {
    return r.kind === 'register' && r.rollover !== undefined ? v % r.rollover : v;
  }

  return {
    seed,
    /** True when any reading fault is configured (the runner skips `frames` otherwise). */
    readingFaultsOn,

    /**
     * Applies the reading faults to the next frames of `meter` (in time order). Frames held by a
     * late burst come out with the first frame after the outage, or from `flush`.
     */
    frames(meter: string, periodS: number, input: readonly Frame[]): Frame[] {
      if (!readingFaultsOn) return [...input];
      const s = stateOf(meter, periodS * 1000);
      const out: Frame[] = [];
      for (const frame0 of input) {
        let f = frame0;
        const t = f.trueTs;
        const n = f.readings.length;
        // Gap: the frame is lost.
        if (s.gap > 0) {
          s.gap--;
          extend('gap', n, s);
          continue;
        }
        if (cfg.gap && u('gap', s.key, t) < cfg.gap.rate) {
          s.gap = runLengthOf('gap', s.key, t) - 1;
          startRun('gap', n, s, { meter, ts: t, frames: 1 });
          continue;
        }
        // Values: stuck, zero, spike (one of them per frame, in that order).
        if (s.stuck > 0 && s.lastGood) {
          s.stuck--;
          const last = s.lastGood;
          f = mapValues(f, (r, i) => last.readings[i]?.value ?? r.value);
          extend('stuck', n, s);
        } else if (cfg.stuck && s.lastGood && u('stuck', s.key, t) < cfg.stuck.rate) {
          s.stuck = runLengthOf('stuck', s.key, t) - 1;
          const last = s.lastGood;
          f = mapValues(f, (r, i) => last.readings[i]?.value ?? r.value);
          startRun('stuck', n, s, { meter, ts: t, frames: 1 });
        } else {
          s.stuck = 0;
          s.lastGood = f;
          if (cfg.zero && u('zero', s.key, t) < cfg.zero.rate) {
            f = mapValues(f, () => 0);
            record('zero', n, { meter, ts: t, frames: 1 });
          } else if (cfg.spike && u('spike', s.key, t) < cfg.spike.rate) {
            const factor = cfg.spike.factor ?? 10;
            f = mapValues(f, (r) => wrapRegister(r, Math.round(r.value * factor * 1000) / 1000));
            record('spike', n, { meter, ts: t, frames: 1, detail: `x${factor}` });
          }
        }
        // Clock skew: timestamps shifted for a run.
        let skewed = false;
        if (s.clockSkew > 0) {
          s.clockSkew--;
          skewed = true;
          extend('clockSkew', n, s);
        } else if (cfg.clockSkew && u('clockSkew', s.key, t) < cfg.clockSkew.rate) {
          s.clockSkew = runLengthOf('clockSkew', s.key, t) - 1;
          skewed = true;
          startRun('clockSkew', n, s, { meter, ts: t, frames: 1, detail: `${s.skewMs / 1000} s` });
        }
        if (skewed) {
          const ts = f.ts + s.skewMs;
          f = { ...f, ts, readings: f.readings.map((r) => ({ ...r, ts })) };
        }
        // Late burst: held during the outage, released with the first frame after it.
        if (s.lateBurst > 0) {
          s.lateBurst--;
          s.held.push(f);
          extend('lateBurst', n, s);
          continue;
        }
        if (cfg.lateBurst && u('lateBurst', s.key, t) < cfg.lateBurst.rate) {
          s.lateBurst = runLengthOf('lateBurst', s.key, t) - 1;
          s.held.push(f);
          startRun('lateBurst', n, s, { meter, ts: t, frames: 1 });
          continue;
        }
        if (s.held.length) out.push(...s.held.splice(0));
        out.push(f);
      }
      return out;
    },

    /** Frames still held by a late burst of `meter` (at the end of a run). */
    flush(meter: string): Frame[] {
      const s = meters.get(meter);
      return s ? s.held.splice(0) : [];
    },

    /**
     * Decides the message faults of message `seq` of `meter`. `payload` is the valid message;
     * `foreignTopic` a topic its publisher may not use.
     */
    message(meter: string, seq: number, topic: string, payload: { seq: number; meterSerial?: string; readings: readonly SimReading[] }, foreignTopic: string): MessageDecision {
      const key = hashString(meter);
      const n = payload.readings.length;
      const text = () => JSON.stringify(payload);
      if (cfg.malformed && u('malformed', key, seq) < cfg.malformed.rate) {
        const variant = MALFORMED_VARIANTS[Math.floor(u('malformed', key, seq, 0xa11) * MALFORMED_VARIANTS.length)]!;
        const first = payload.readings[0]!;
        let broken: string;
        switch (variant.name) {
          case 'truncated_json': {
            const full = text();
            broken = full.slice(0, Math.max(1, Math.floor(full.length / 2)));
            break;
          }
          case 'unknown_field': {
            const { value, ...rest } = first;
            broken = JSON.stringify({ ...payload, readings: [{ ...rest, vaule: value }, ...payload.readings.slice(1)] });
            break;
          }
          case 'wrong_unit':
            broken = JSON.stringify({ ...payload, readings: [{ ...first, unit: wrongUnit(first.quantity, first.kind) }, ...payload.readings.slice(1)] });
            break;
          case 'local_timestamp':
            // ISO 8601 without an offset: ambiguous, refused.
            broken = JSON.stringify({ ...payload, readings: [{ ...first, ts: new Date(first.ts).toISOString().slice(0, 19) }, ...payload.readings.slice(1)] });
            break;
        }
        deadLetters[variant.code] = (deadLetters[variant.code] ?? 0) + 1;
        record('malformed', n, { meter, seq, topic, code: variant.code, detail: variant.name });
        return { broken: { kind: 'malformed', topic, payload: broken, code: variant.code, detail: variant.name }, copies: 1, delay: 0 };
      }
      if (cfg.foreignTopic && u('foreignTopic', key, seq) < cfg.foreignTopic.rate) {
        const code = 'GATEWAY_PUBLISH_FORBIDDEN';
        deadLetters[code] = (deadLetters[code] ?? 0) + 1;
        record('foreignTopic', n, { meter, seq, topic: foreignTopic, code });
        return { broken: { kind: 'foreignTopic', topic: foreignTopic, payload: text(), code, detail: foreignTopic }, copies: 1, delay: 0 };
      }
      if (cfg.oversized && u('oversized', key, seq) < cfg.oversized.rate) {
        const code = 'GATEWAY_PAYLOAD_TOO_LARGE';
        const body = text();
        // Whitespace keeps it JSON: only the size is wrong.
        const pad = Math.max(0, options.maxPayloadBytes + 1 + Math.floor(u('oversized', key, seq, 0xb16) * 1024) - Buffer.byteLength(body));
        deadLetters[code] = (deadLetters[code] ?? 0) + 1;
        record('oversized', n, { meter, seq, topic, code, detail: `${Buffer.byteLength(body) + pad} bytes` });
        return { broken: { kind: 'oversized', topic, payload: body + ' '.repeat(pad), code, detail: `${pad} bytes of padding` }, copies: 1, delay: 0 };
      }
      let copies = 1;
      let delay = 0;
      if (cfg.duplicate && u('duplicate', key, seq) < cfg.duplicate.rate) {
        copies = 2;
        record('duplicate', n, { meter, seq, topic });
      }
      if (cfg.outOfOrder && u('outOfOrder', key, seq) < cfg.outOfOrder.rate) {
        delay = 1 + Math.floor(u('outOfOrder', key, seq, 0xde1) * (cfg.outOfOrder.maxDelay ?? 3));
        record('outOfOrder', n, { meter, seq, topic, detail: `after ${delay} later message${delay > 1 ? 's' : ''}` });
      }
      return { copies, delay };
    },

    /** Connect attempts with a wrong password to make before connection number `attempt` of `publisher`. */
    wrongCredentials(publisher: string, attempt: number): number {
      if (!cfg.wrongCredentials) return 0;
      if (u('wrongCredentials', hashString(publisher), attempt) >= cfg.wrongCredentials.rate) return 0;
      refusedConnects++;
      record('wrongCredentials', 0, { meter: publisher, detail: `connection ${attempt}`, code: 'GATEWAY_AUTH_FAILED' });
      return 1;
    },

    /** What was injected so far. */
    report(): FaultReport {
      return {
        seed,
        events: { ...events },
        readings: { ...readings },
        expectedDeadLetters: { ...deadLetters },
        expectedRefusedConnects: refusedConnects,
        examples: Object.fromEntries(FAULT_KINDS.map((k) => [k, [...examples[k]]])) as Record<FaultKind, FaultExample[]>,
      };
    },
  };
}
export type FaultInjector = ReturnType<typeof createFaultInjector>;

/** One line per injected fault kind, for the end of a CLI run. */
export function formatFaultReport(report: FaultReport): string {
  const lines = FAULT_KINDS.filter((k) => report.events[k] > 0).map((k) => `  ${k.padEnd(17)} ${String(report.events[k]).padStart(8)} events ${String(report.readings[k]).padStart(10)} readings`);
  if (!lines.length) return 'faults: none injected\n';
  const dl = Object.entries(report.expectedDeadLetters).map(([c, n]) => `${c}=${n}`).join(', ');
  return [
    `faults (seed ${report.seed}):`,
    ...lines,
    `  expected dead letters: ${dl || 'none'}`,
    `  expected refused connects: ${report.expectedRefusedConnects}`,
    '',
  ].join('\n');
}
