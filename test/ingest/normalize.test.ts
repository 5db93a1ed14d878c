import { describe, expect, it } from 'vitest';
import { createNormalizer, registerDelta } from '@wattproof/ingest';
import type { ValidReading } from '@wattproof/core';

const ref = { site: 'yz', building: 'b01', meter: 'm1' };
const H = 3_600_000;
const T0 = Date.parse('2026-11-01T00:00:00+08:00');

function normalizer(stored: Array<{ ts: number; value: number }> = []) {
  return createNormalizer({ clock: () => T0 + 1000 * H, loadRegisters: async (_s, from, to) => stored.filter((r) => r.ts >= from && r.ts < to) }, { registerLookbackMs: 35 * 24 * H, maxFutureMs: 0 });
}
const reg = (i: number, value: number, extra: Partial<ValidReading> = {}): ValidReading => ({ tsMs: T0 + i * H, quantity: 'electricity', unit: 'kWh', kind: 'register', value, ...extra });
const intervals = (out: { readings: Array<{ kind: string; ts: number; value: number; intervalS?: number }> }) =>
  out.readings.filter((r) => r.kind === 'interval').map((r) => [(r.ts - T0) / H, Math.round(r.value * 1e9) / 1e9, r.intervalS]);

describe('unit normalization', () => {
  it('converts energy to kWh, volume to m3 and temperature to °C', async () => {
    const n = normalizer();
    const out = await n.normalize(ref, {
      seq: 1,
      readings: [
        { tsMs: T0, quantity: 'electricity', unit: 'Wh', kind: 'interval', value: 2500, intervalS: 900 },
        { tsMs: T0, quantity: 'heat', unit: 'GJ', kind: 'interval', value: 0.036, intervalS: 3600 },
        { tsMs: T0, quantity: 'water', unit: 'L', kind: 'interval', value: 1250, intervalS: 3600 },
        { tsMs: T0, quantity: 'outdoor_temperature', unit: '°F', kind: 'instant', value: 50 },
      ],
    });
    expect(out.readings.map((r) => [r.quantity, r.unit, Math.round(r.value * 1e9) / 1e9, r.intervalS])).toEqual([
      ['electricity', 'kWh', 2.5, 900],
      ['heat', 'kWh', 10, 3600],
      ['water', 'm3', 1.25, 3600],
      ['outdoor_temperature', '°C', 10, undefined],
    ]);
  });
});

describe('normalizeNow (no promise, messages without register readings)', () => {
  it('gives exactly what normalize gives for interval and instant readings', async () => {
    const msg = {
      seq: 1,
      readings: [
        { tsMs: T0, quantity: 'electricity', unit: 'Wh', kind: 'interval', value: 2500, intervalS: 900 },
        { tsMs: T0 + H, quantity: 'water', unit: 'L', kind: 'interval', value: 1250, intervalS: 3600 },
        { tsMs: T0, quantity: 'outdoor_temperature', unit: '°F', kind: 'instant', value: 50 },
      ] satisfies ValidReading[],
    };
    const now = normalizer().normalizeNow(ref, msg);
    expect(now).toEqual(await normalizer().normalize(ref, msg));
    expect(now!.readings).toHaveLength(3);
  });

  it('declines a message with a register reading (its history may have to be loaded)', () => {
    expect(normalizer().normalizeNow(ref, { seq: 1, readings: [{ tsMs: T0, quantity: 'electricity', unit: 'kWh', kind: 'interval', value: 1, intervalS: 900 }, reg(1, 100)] })).toBeUndefined();
  });
});

describe('cumulative registers to intervals', () => {
  it('emits the delta between consecutive register readings, keyed at the earlier one', async () => {
    const n = normalizer();
    const out = await n.normalize(ref, { seq: 1, readings: [reg(0, 100), reg(1, 112.5), reg(2, 130)] });
    expect(intervals(out)).toEqual([[0, 12.5, 3600], [1, 17.5, 3600]]);
    expect(out.readings.filter((r) => r.kind === 'register')).toHaveLength(3);
  });

  it('converts register units before taking deltas', async () => {
    const n = normalizer();
    const out = await n.normalize(ref, { seq: 1, readings: [reg(0, 1_000_000, { unit: 'Wh' }), reg(1, 1_002_500, { unit: 'Wh' })] });
    expect(intervals(out)).toEqual([[0, 2.5, 3600]]);
  });

  it('splits an interval when a late reading arrives between two others', async () => {
    const n = normalizer();
    const first = await n.normalize(ref, { seq: 1, readings: [reg(0, 100), reg(2, 130)] });
    expect(intervals(first)).toEqual([[0, 30, 7200]]);
    const late = await n.normalize(ref, { seq: 2, readings: [reg(1, 110)] });
    // The interval at 0 is rewritten (same key) with its new length; a new one starts at 1.
    expect(intervals(late)).toEqual([[0, 10, 3600], [1, 20, 3600]]);
  });

  it('handles a rollover when the device declares the register width', async () => {
    const n = normalizer();
    const out = await n.normalize(ref, { seq: 1, readings: [reg(0, 99_990, { rollover: 100_000 }), reg(1, 15, { rollover: 100_000 })] });
    expect(intervals(out)).toEqual([[0, 25, 3600]]);
    expect(out.events).toMatchObject([{ type: 'rollover', previousValue: 99_990, value: 15 }]);
  });

  it('treats a drop without a declared rollover as a reset: no negative delta, an event instead', async () => {
    const n = normalizer();
    const out = await n.normalize(ref, { seq: 1, readings: [reg(0, 5000), reg(1, 3), reg(2, 10)] });
    expect(intervals(out)).toEqual([[1, 7, 3600]]);
    expect(out.events).toMatchObject([{ type: 'reset', ts: T0 + H }]);
  });

  it('treats a large drop even with a rollover as a reset, not a wrap', async () => {
    expect(registerDelta({ ts: 0, value: 50_000, rollover: 100_000 }, { ts: 1, value: 10, rollover: 100_000 })).toEqual({ ok: false, event: 'reset' });
  });

  it('detects a meter replacement from a changed meterSerial, even if the index went up', async () => {
    const n = normalizer();
    await n.normalize(ref, { seq: 1, meterSerial: 'A-1', readings: [reg(0, 100)] });
    const out = await n.normalize(ref, { seq: 2, meterSerial: 'B-7', readings: [reg(1, 400), reg(2, 410)] });
    expect(intervals(out)).toEqual([[1, 10, 3600]]);
    expect(out.events).toMatchObject([{ type: 'replacement' }]);
  });

  it('continues from register history already in the store after a restart', async () => {
    const n = normalizer([{ ts: T0, value: 100 }]);
    const out = await n.normalize(ref, { seq: 9, readings: [reg(1, 104)] });
    expect(intervals(out)).toEqual([[0, 4, 3600]]);
  });

  it('reloads the history of forgotten meters from the store (a shard that moved between workers)', async () => {
    const stored = [{ ts: T0, value: 100 }];
    const n = normalizer(stored);
    await n.normalize(ref, { seq: 1, readings: [reg(0, 100)] });
    // Another worker stored hours 1 and 2 meanwhile; stale history would derive 0→3 = 30 at hour 0.
    stored.push({ ts: T0 + H, value: 110 }, { ts: T0 + 2 * H, value: 120 });
    const other = { ...ref, meter: 'm2' };
    await n.normalize(other, { seq: 1, readings: [reg(0, 5)] });
    expect(n.forget((key) => key === 'yz/b01/m1')).toBe(1);
    expect(n.registerSeries()).toBe(1);
    const out = await n.normalize(ref, { seq: 4, readings: [reg(3, 130)] });
    expect(intervals(out)).toEqual([[2, 10, 3600]]);
  });

  it('is deterministic for a repeated message (redelivery)', async () => {
    const n = normalizer();
    const msg = { seq: 1, readings: [reg(0, 100), reg(1, 104)] };
    const a = await n.normalize(ref, msg);
    const b = await n.normalize(ref, msg);
    expect(intervals(b)).toEqual(intervals(a));
  });
});
