import { describe, expect, it } from 'vitest';
import { parseReadingsMessage } from '@wattproof/core';
import { createFaultInjector, FAULT_PRESETS, faultsConfigSchema, formatFaultReport, MALFORMED_VARIANTS, type FaultsConfig, type Frame } from '@wattproof/simulators';

const T0 = Date.parse('2026-11-01T00:00:00+08:00');
const PERIOD_S = 900;
const METERS = 200;
const FRAMES = 500;
const MAX_PAYLOAD = 4096;

/** `n` frames of an interval meter: value = 1 + frame index / 1000 (never 0, all distinct). */
function framesOf(meter: number, n = FRAMES, from = 0): Frame[] {
  const out: Frame[] = [];
  for (let i = from; i < from + n; i++) {
    const ts = T0 + i * PERIOD_S * 1000;
    out.push({ trueTs: ts, ts, readings: [{ ts, quantity: 'electricity', unit: 'kWh', kind: 'interval', value: 1 + meter + i / 1000, intervalS: PERIOD_S }] });
  }
  return out;
}
const meterKey = (m: number) => `s/b${m}/elec`;

/** Runs every meter's frames through an injector (in `chunk`-frame calls) and flushes. */
function runFrames(config: FaultsConfig, chunk = FRAMES) {
  const inj = createFaultInjector(config, { seed: 42, maxPayloadBytes: MAX_PAYLOAD });
  const out = new Map<string, Frame[]>();
  for (let m = 0; m < METERS; m++) {
    const list: Frame[] = [];
    for (let i = 0; i < FRAMES; i += chunk) list.push(...inj.frames(meterKey(m), PERIOD_S, framesOf(m, Math.min(chunk, FRAMES - i), i)));
    list.push(...inj.flush(meterKey(m)));
    out.set(meterKey(m), list);
  }
  return { out, report: inj.report() };
}

const TOTAL = METERS * FRAMES;
/** Within ±25 % of the expected count (these are 100,000 seeded draws; the tolerance is ~5 sigma). */
function expectRate(events: number, opportunities: number, rate: number): void {
  expect(events).toBeGreaterThan(opportunities * rate * 0.75);
  expect(events).toBeLessThan(opportunities * rate * 1.25);
}

describe('reading faults', () => {
  it('are all off by default', () => {
    const { out, report } = runFrames({});
    expect([...out.values()].flat()).toHaveLength(TOTAL);
    expect(Object.values(report.events).every((n) => n === 0)).toBe(true);
    expect(formatFaultReport(report)).toBe('faults: none injected\n');
  });

  it('gap: runs of frames are dropped at the rate, and the report counts exactly the dropped readings', () => {
    const { out, report } = runFrames({ gap: { rate: 0.005, minLength: 1, maxLength: 4 } });
    const sent = [...out.values()].flat().length;
    expect(TOTAL - sent).toBe(report.readings.gap);
    expectRate(report.events.gap, TOTAL, 0.005);
    expect(report.readings.gap).toBeGreaterThanOrEqual(report.events.gap);
    expect(report.readings.gap).toBeLessThanOrEqual(report.events.gap * 4);
    const ex = report.examples.gap[0]!;
    const frames = out.get(ex.meter)!;
    // The example names the first lost frame and its length: none of them were sent.
    for (let k = 0; k < ex.frames!; k++) expect(frames.some((f) => f.trueTs === ex.ts! + k * PERIOD_S * 1000)).toBe(false);
  });

  it('zero and spike: values changed at their rate, counted exactly', () => {
    const { out, report } = runFrames({ zero: { rate: 0.01 }, spike: { rate: 0.01, factor: 10 } });
    const all = [...out.entries()].flatMap(([k, fs]) => fs.map((f) => ({ m: Number(k.split('/')[1]!.slice(1)), f })));
    const zeros = all.filter(({ f }) => f.readings[0]!.value === 0).length;
    const spikes = all.filter(({ m, f }) => {
      const i = (f.trueTs - T0) / (PERIOD_S * 1000);
      return f.readings[0]!.value === Math.round((1 + m + i / 1000) * 10 * 1000) / 1000;
    }).length;
    expect(zeros).toBe(report.readings.zero);
    expect(spikes).toBe(report.readings.spike);
    expectRate(report.events.zero, TOTAL, 0.01);
    expectRate(report.events.spike, TOTAL, 0.01);
  });

  it('stuck: runs repeating the last good value', () => {
    const { out, report } = runFrames({ stuck: { rate: 0.004, minLength: 2, maxLength: 5 } });
    let repeated = 0;
    for (const frames of out.values()) for (let i = 1; i < frames.length; i++) if (frames[i]!.readings[0]!.value === frames[i - 1]!.readings[0]!.value) repeated++;
    expect(repeated).toBe(report.readings.stuck);
    expectRate(report.events.stuck, TOTAL, 0.004);
  });

  it('lateBurst: frames held during an outage come out at once, none lost', () => {
    const { out, report } = runFrames({ lateBurst: { rate: 0.003, minLength: 3, maxLength: 6 } });
    expect([...out.values()].flat()).toHaveLength(TOTAL);
    // Held frames are sent with the first frame after the outage: just before it in the output, all at the same send position.
    let late = 0;
    for (const frames of out.values()) {
      const sorted = [...frames].sort((a, b) => a.trueTs - b.trueTs);
      expect(frames.map((f) => f.trueTs)).toEqual(sorted.map((f) => f.trueTs)); // a burst keeps its order
      late += frames.length;
    }
    expect(late).toBe(TOTAL);
    expectRate(report.events.lateBurst, TOTAL, 0.003);
    expect(report.readings.lateBurst).toBeGreaterThanOrEqual(report.events.lateBurst * 3);
  });

  it('clockSkew: runs of timestamps shifted by the meter skew, never onto another slot', () => {
    const { out, report } = runFrames({ clockSkew: { rate: 0.005, maxSkewS: 900 } });
    let shifted = 0;
    for (const frames of out.values()) {
      const ts = new Set<number>();
      for (const f of frames) {
        if (f.ts !== f.trueTs) {
          shifted++;
          expect((f.ts - f.trueTs) % (PERIOD_S * 1000)).not.toBe(0);
          expect(Math.abs(f.ts - f.trueTs)).toBeLessThanOrEqual(901_000);
          expect(f.readings[0]!.ts).toBe(f.ts);
        }
        ts.add(f.ts);
      }
      expect(ts.size).toBe(frames.length);
    }
    expect(shifted).toBe(report.readings.clockSkew);
    expectRate(report.events.clockSkew, TOTAL, 0.005);
  });

  it('are deterministic for a seed and independent of how time is chunked', () => {
    const config: FaultsConfig = FAULT_PRESETS.chaos;
    const a = runFrames(config, FRAMES);
    const b = runFrames(config, 37);
    expect([...b.out.entries()]).toEqual([...a.out.entries()]);
    expect(b.report).toEqual(a.report);
    const other = createFaultInjector(config, { seed: 43, maxPayloadBytes: MAX_PAYLOAD });
    const c = other.frames(meterKey(0), PERIOD_S, framesOf(0));
    expect(c).not.toEqual(a.out.get(meterKey(0))!.slice(0, c.length));
  });
});

describe('message faults', () => {
  const MESSAGES = 20_000;
  function runMessages(config: FaultsConfig) {
    const inj = createFaultInjector(config, { seed: 7, maxPayloadBytes: MAX_PAYLOAD });
    const decisions = [];
    for (let k = 0; k < MESSAGES; k++) {
      const meter = meterKey(k % 50);
      const seq = Math.floor(k / 50) + 1;
      const readings = framesOf(k % 50, 4, seq * 4).flatMap((f) => f.readings);
      decisions.push({ meter, seq, d: inj.message(meter, seq, `wattproof/v1/${meter}/readings`, { seq, readings }, 'wattproof/v1/s/other/elec/readings') });
    }
    return { decisions, report: inj.report() };
  }

  it('malformed payloads come at their rate, each rejected by the contract with the code the report expects', () => {
    const { decisions, report } = runMessages({ malformed: { rate: 0.02 } });
    const broken = decisions.filter((x) => x.d.broken);
    expect(broken).toHaveLength(report.events.malformed);
    expectRate(broken.length, MESSAGES, 0.02);
    const codes: Record<string, number> = {};
    for (const { d } of broken) {
      const parsed = parseReadingsMessage(d.broken!.payload, { nowMs: T0 + 1e12, maxFutureMs: 0 });
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error.code).toBe(d.broken!.code);
      codes[d.broken!.code] = (codes[d.broken!.code] ?? 0) + 1;
    }
    expect(codes).toEqual(report.expectedDeadLetters);
    // All four variants occur.
    expect(Object.keys(codes).sort()).toEqual(MALFORMED_VARIANTS.map((v) => v.code).sort());
    expect(report.readings.malformed).toBe(broken.length * 4);
  });

  it('foreign topics and oversized payloads: one dead letter each, by code', () => {
    const { decisions, report } = runMessages({ foreignTopic: { rate: 0.01 }, oversized: { rate: 0.01 } });
    const foreign = decisions.filter((x) => x.d.broken?.kind === 'foreignTopic');
    const oversized = decisions.filter((x) => x.d.broken?.kind === 'oversized');
    expectRate(foreign.length, MESSAGES, 0.01);
    expectRate(oversized.length, MESSAGES, 0.01);
    expect(foreign.every((x) => x.d.broken!.topic === 'wattproof/v1/s/other/elec/readings')).toBe(true);
    for (const { d } of oversized) {
      expect(Buffer.byteLength(d.broken!.payload)).toBeGreaterThan(MAX_PAYLOAD);
      expect(() => JSON.parse(d.broken!.payload)).not.toThrow();
    }
    expect(report.expectedDeadLetters).toEqual({ GATEWAY_PUBLISH_FORBIDDEN: foreign.length, GATEWAY_PAYLOAD_TOO_LARGE: oversized.length });
  });

  it('duplicates and out-of-order: valid messages copied or delayed at their rate', () => {
    const { decisions, report } = runMessages({ duplicate: { rate: 0.05 }, outOfOrder: { rate: 0.05, maxDelay: 3 } });
    const dups = decisions.filter((x) => x.d.copies === 2);
    const late = decisions.filter((x) => x.d.delay > 0);
    expect(dups).toHaveLength(report.events.duplicate);
    expect(late).toHaveLength(report.events.outOfOrder);
    expectRate(dups.length, MESSAGES, 0.05);
    expectRate(late.length, MESSAGES, 0.05);
    expect(late.every((x) => x.d.delay >= 1 && x.d.delay <= 3)).toBe(true);
    expect(decisions.every((x) => !x.d.broken)).toBe(true);
    expect(report.expectedDeadLetters).toEqual({});
  });

  it('wrong credentials: refused connects at their rate, counted exactly', () => {
    const inj = createFaultInjector({ wrongCredentials: { rate: 0.1 } }, { seed: 1, maxPayloadBytes: MAX_PAYLOAD });
    let attempts = 0;
    for (let p = 0; p < 1000; p++) for (let c = 1; c <= 10; c++) attempts += inj.wrongCredentials(`s/b${p}/elec`, c);
    const report = inj.report();
    expect(report.expectedRefusedConnects).toBe(attempts);
    expect(report.events.wrongCredentials).toBe(attempts);
    expectRate(attempts, 10_000, 0.1);
  });

  it('validates the config with field-named errors', () => {
    expect(faultsConfigSchema.safeParse({ gap: { rate: 2 } }).success).toBe(false);
    expect(faultsConfigSchema.safeParse({ gapp: { rate: 0.1 } }).success).toBe(false);
    for (const preset of Object.values(FAULT_PRESETS)) expect(faultsConfigSchema.safeParse(preset).success).toBe(true);
  });
});
