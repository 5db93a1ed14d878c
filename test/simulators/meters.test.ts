import { describe, expect, it } from 'vitest';
import { parseReadingsMessage } from '@wattproof/core';
import { clockOffsetMs, createHourSignals, createMeter, hourSignal, splitHour, type Frame, type MeterDefinition } from '@wattproof/simulators';
import { stubBuildingModel, stubWeather } from './stub-model.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-01T00:00:00+08:00');
const spec = { id: 'b01', archetype: 'office_a' as const, floorAreaM2: 20_000, seed: 7, pvKwp: 200 };
const weather = stubWeather();
const ref = (meter: string) => ({ site: 's', building: 'b01', meter });

function signals() {
  return createHourSignals(stubBuildingModel(spec, weather), weather, spec.floorAreaM2);
}
function meter(def: Partial<MeterDefinition> & Pick<MeterDefinition, 'source' | 'kind' | 'intervalS'>, origin = T0) {
  return createMeter(ref(def.id ?? 'm'), { id: def.id ?? 'm', ...def }, signals(), origin);
}
const units = (v: number, d = 3) => Math.round(v * 10 ** d);
const values = (frames: Frame[]) => frames.map((f) => f.readings[0]!.value);

describe('interval meters', () => {
  it.each([60, 300, 900, 1800, 3600])('split each hour into %i-s intervals that add up to the hour exactly', (intervalS) => {
    const sig = signals();
    const m = createMeter(ref('elec'), { id: 'elec', source: 'main', kind: 'interval', intervalS }, sig, T0);
    const frames = m.frames(T0, T0 + 48 * HOUR);
    expect(frames).toHaveLength((48 * 3600) / intervalS);
    for (let h = T0; h < T0 + 48 * HOUR; h += HOUR) {
      const inHour = frames.filter((f) => f.trueTs >= h && f.trueTs < h + HOUR);
      expect(inHour.reduce((s, f) => s + units(f.readings[0]!.value), 0)).toBe(units(hourSignal('main', sig, h)));
      for (const f of inHour) expect(f.readings[0]).toMatchObject({ ts: f.trueTs, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS });
    }
  });

  it('follows a smooth intra-hour shape: no jumps at hour boundaries, flat when the load is flat', () => {
    // Flat load: the parts differ by at most one unit of resolution.
    const flat = splitHour(1000, 5, 5, 5, 4);
    expect(flat.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(Math.max(...flat) - Math.min(...flat)).toBeLessThanOrEqual(1);
    // Rising load: the parts rise too, and still add up exactly.
    const rising = splitHour(12_345, 1, 12.345, 30, 4);
    expect(rising.reduce((a, b) => a + b, 0)).toBe(12_345);
    expect(rising).toEqual([...rising].sort((a, b) => a - b));
    // A short hour between two tall ones never goes negative.
    const dip = splitHour(10, 100, 0.01, 100, 12);
    expect(dip.every((x) => x >= 0)).toBe(true);
    expect(dip.reduce((a, b) => a + b, 0)).toBe(10);
    // Across the morning ramp, 15-min steps between neighbouring intervals stay small compared with hourly steps.
    const m = meter({ source: 'main', kind: 'interval', intervalS: 900 });
    const q = values(m.frames(T0 + 23 * HOUR, T0 + 27 * HOUR)); // 07:00-11:00 local
    const hourly = values(meter({ source: 'main', kind: 'interval', intervalS: 3600 }).frames(T0 + 23 * HOUR, T0 + 27 * HOUR));
    const maxQuarterStep = Math.max(...q.slice(1).map((v, i) => Math.abs(v - q[i]!)));
    const maxHourStep = Math.max(...hourly.slice(1).map((v, i) => Math.abs(v - hourly[i]!)));
    expect(maxQuarterStep).toBeLessThan(maxHourStep / 4 + 0.01);
  });

  it('sums whole hours for multi-hour intervals aligned to local midnight', () => {
    const sig = signals();
    const daily = createMeter(ref('d'), { id: 'd', source: 'main', kind: 'interval', intervalS: 86_400, alignOffsetS: 8 * 3600 }, sig, T0);
    const frames = daily.frames(T0, T0 + 3 * 24 * HOUR);
    expect(frames.map((f) => new Date(f.ts).toISOString())).toEqual(['2026-10-31T16:00:00.000Z', '2026-11-01T16:00:00.000Z', '2026-11-02T16:00:00.000Z']);
    let sum = 0;
    for (let h = T0; h < T0 + 24 * HOUR; h += HOUR) sum += units(hourSignal('main', sig, h));
    expect(units(frames[0]!.readings[0]!.value)).toBe(sum);
    const twoHourly = createMeter(ref('t'), { id: 't', source: 'hvac', kind: 'interval', intervalS: 7200 }, sig, T0).frames(T0, T0 + 6 * HOUR);
    expect(twoHourly).toHaveLength(3);
    expect(units(twoHourly[1]!.readings[0]!.value)).toBe(units(hourSignal('hvac', sig, T0 + 2 * HOUR)) + units(hourSignal('hvac', sig, T0 + 3 * HOUR)));
  });

  it('refuses intervals that neither divide an hour nor are whole hours', () => {
    expect(() => meter({ source: 'main', kind: 'interval', intervalS: 700 })).toThrow(/700/);
    expect(() => meter({ source: 'main', kind: 'interval', intervalS: 5400 })).toThrow(/5400/);
  });
});

describe('register meters', () => {
  it('grow by exactly the energy of each interval', () => {
    const sig = signals();
    const reg = createMeter(ref('r'), { id: 'r', source: 'main', kind: 'register', intervalS: 900, initialIndex: 1234.5 }, sig, T0);
    const int = createMeter(ref('i'), { id: 'i', source: 'main', kind: 'interval', intervalS: 900 }, sig, T0);
    const r = reg.frames(T0, T0 + 24 * HOUR);
    const i = int.frames(T0, T0 + 24 * HOUR);
    expect(r[0]!.readings[0]).toMatchObject({ ts: T0, kind: 'register', value: 1234.5 });
    for (let k = 1; k < r.length; k++) {
      expect(units(r[k]!.readings[0]!.value) - units(r[k - 1]!.readings[0]!.value)).toBe(units(i[k - 1]!.readings[0]!.value));
    }
  });

  it('wrap at the rollover, every reading carrying `rollover`', () => {
    const reg = meter({ source: 'main', kind: 'register', intervalS: 3600, rollover: 100_000, initialIndex: 99_000 });
    const frames = reg.frames(T0, T0 + 72 * HOUR);
    const v = values(frames);
    const wrap = v.findIndex((x, k) => k > 0 && x < v[k - 1]!);
    expect(wrap).toBeGreaterThan(0);
    for (const f of frames) expect(f.readings[0]!.rollover).toBe(100_000);
    expect(v.every((x) => x >= 0 && x < 100_000)).toBe(true);
    // The usage across the wrap is value + rollover − previous, as the ingest derives it.
    const int = values(meter({ source: 'main', kind: 'interval', intervalS: 3600 }).frames(T0, T0 + 72 * HOUR));
    expect(units(v[wrap]! + 100_000 - v[wrap - 1]!)).toBe(units(int[wrap - 1]!));
  });

  it('restart near 0 with a new meterSerial after a replacement', () => {
    const at = T0 + 30 * HOUR + 10 * 60_000; // 06:10 local: the new meter's first reading is at 06:15
    const reg = meter({ source: 'gas', kind: 'register', intervalS: 900, unit: 'm3', serial: 'OLD-1', initialIndex: 5000, replacements: [{ atMs: at, serial: 'NEW-2', initialIndex: 3.25 }] });
    const frames = reg.frames(T0, T0 + 48 * HOUR);
    const first = frames.findIndex((f) => f.serial === 'NEW-2');
    expect(frames[first]!.trueTs).toBe(T0 + 30 * HOUR + 15 * 60_000);
    expect(frames.slice(0, first).every((f) => f.serial === 'OLD-1')).toBe(true);
    expect(frames.slice(first).every((f) => f.serial === 'NEW-2')).toBe(true);
    expect(frames[first]!.readings[0]!.value).toBe(3.25);
    expect(frames[first - 1]!.readings[0]!.value).toBeGreaterThan(5000);
    expect(frames[first + 1]!.readings[0]!.value).toBeGreaterThan(3.25);
    expect(frames[first + 1]!.readings[0]!.value).toBeLessThan(100);
    // Without an index of its own the new meter starts below 10.
    const dflt = meter({ source: 'gas', kind: 'register', intervalS: 900, unit: 'm3', serial: 'A', replacements: [{ atMs: T0 + HOUR, serial: 'B' }] }).frames(T0 + HOUR, T0 + HOUR + 1);
    expect(dflt[0]!.readings[0]!.value).toBeLessThan(10);
    expect(dflt[0]!.serial).toBe('B');
  });

  it('are the same whatever the chunking of time, and restart from the origin when asked for the past', () => {
    const reg = meter({ source: 'water', kind: 'register', intervalS: 900 });
    const whole = reg.frames(T0, T0 + 30 * HOUR);
    const chunked: Frame[] = [];
    for (let t = T0; t < T0 + 30 * HOUR; t += 7 * HOUR) chunked.push(...reg.frames(t, Math.min(t + 7 * HOUR, T0 + 30 * HOUR)));
    expect(chunked).toEqual(whole);
    expect(reg.frames(T0, T0 + 30 * HOUR)).toEqual(whole);
    expect(whole[0]!.readings[0]).toMatchObject({ quantity: 'water', unit: 'm3' });
  });
});

describe('instant meters', () => {
  it('sample kW demand from the same shape: the mean of the samples is near the hourly energy', () => {
    const sig = signals();
    const demand = createMeter(ref('kw'), { id: 'kw', source: 'main', kind: 'instant', intervalS: 60 }, sig, T0);
    for (const h of [T0 + 2 * HOUR, T0 + 26 * HOUR, T0 + 33 * HOUR]) {
      const samples = values(demand.frames(h, h + HOUR));
      const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
      expect(mean).toBeCloseTo(hourSignal('main', sig, h), 0);
      expect(demand.frames(h, h + 1)[0]!.readings[0]).toMatchObject({ quantity: 'electricity', unit: 'kW', kind: 'instant' });
    }
    const watts = meter({ source: 'pv', kind: 'instant', intervalS: 900, unit: 'W' }).frames(T0 + 12 * HOUR, T0 + 12 * HOUR + 1)[0]!.readings[0]!;
    expect(watts).toMatchObject({ quantity: 'pv', unit: 'W' });
    expect(watts.value).toBeGreaterThan(1000);
  });

  it('report temperature, humidity and irradiance for a weather station, interpolated between hours', () => {
    const station = meter({ source: 'weather', kind: 'instant', intervalS: 1800 });
    const frames = station.frames(T0, T0 + 24 * HOUR);
    expect(frames).toHaveLength(48);
    for (const f of frames) {
      expect(f.readings.map((r) => [r.quantity, r.unit])).toEqual([
        ['outdoor_temperature', '°C'],
        ['relative_humidity', '%'],
        ['irradiance', 'W/m2'],
      ]);
    }
    // At mid-hour the sample is the hour's value.
    const mid = frames.find((f) => f.trueTs === T0 + 14 * HOUR + 1_800_000)!;
    expect(mid.readings[0]!.value).toBeCloseTo(weather.at(T0 + 14 * HOUR).temperatureC, 2);
    expect(mid.readings[2]!.value).toBeCloseTo(weather.at(T0 + 14 * HOUR).ghiWhM2, 1);
    const fahrenheit = meter({ source: 'weather', kind: 'instant', intervalS: 3600, unit: '°F' }).frames(T0, T0 + 1)[0]!.readings[0]!;
    expect(fahrenheit.unit).toBe('°F');
  });
});

describe('clock drift', () => {
  it('grows with time at the configured ppm', () => {
    const m = meter({ source: 'main', kind: 'interval', intervalS: 900, clock: { driftPpm: 50 } });
    const frames = m.frames(T0, T0 + 10 * 24 * HOUR);
    for (const f of [frames[0]!, frames[100]!, frames[frames.length - 1]!]) {
      expect(f.ts - f.trueTs).toBe(Math.round(50e-6 * (f.trueTs - T0)));
      expect(f.readings[0]!.ts).toBe(f.ts);
    }
    // 50 ppm over ten days is 43 s.
    expect(frames[frames.length - 1]!.ts - frames[frames.length - 1]!.trueTs).toBeGreaterThan(43_000);
    expect(clockOffsetMs({ driftPpm: -20, initialOffsetMs: 1500 }, T0 + 86_400_000, T0)).toBeCloseTo(1500 - 1728, 6);
  });

  it('is stepped back by NTP to within the residual', () => {
    const clock = { driftPpm: 100, ntpSyncIntervalS: 86_400, ntpResidualMs: 20 };
    const m = meter({ source: 'main', kind: 'register', intervalS: 3600, clock });
    const frames = m.frames(T0, T0 + 5 * 24 * HOUR);
    const offsets = frames.map((f) => f.ts - f.trueTs);
    // Never more than a day of drift (8.64 s) plus the residual, and back near 0 right after each sync.
    expect(Math.max(...offsets)).toBeLessThanOrEqual(8640 + 20);
    for (let d = 1; d < 5; d++) {
      const atSync = frames.find((f) => f.trueTs === T0 + d * 24 * HOUR)!;
      expect(Math.abs(atSync.ts - atSync.trueTs)).toBeLessThanOrEqual(20);
      const before = frames.find((f) => f.trueTs === T0 + d * 24 * HOUR - HOUR)!;
      expect(before.ts - before.trueTs).toBeGreaterThan(8000);
    }
  });
});

describe('every meter kind', () => {
  it('produces readings the contract accepts', () => {
    const defs: MeterDefinition[] = [
      { id: 'a', source: 'main', kind: 'interval', intervalS: 900 },
      { id: 'b', source: 'lighting_sockets', kind: 'interval', intervalS: 300, unit: 'Wh' },
      { id: 'c', source: 'gas', kind: 'register', intervalS: 3600, rollover: 1e6, serial: 'G-1' },
      { id: 'd', source: 'gas', kind: 'interval', intervalS: 3600, unit: 'MJ' },
      { id: 'e', source: 'water', kind: 'register', intervalS: 900, unit: 'L' },
      { id: 'f', source: 'pv', kind: 'interval', intervalS: 900 },
      { id: 'g', source: 'main', kind: 'instant', intervalS: 900, unit: 'MW' },
      { id: 'h', source: 'weather', kind: 'instant', intervalS: 600, unit: 'K' },
      { id: 'i', source: 'special', kind: 'register', intervalS: 86_400, clock: { driftPpm: 30 } },
    ];
    for (const def of defs) {
      const frames = meter(def).frames(T0, T0 + 72 * HOUR);
      expect(frames.length).toBeGreaterThan(0);
      const parsed = parseReadingsMessage(JSON.stringify({ seq: 1, readings: frames.flatMap((f) => f.readings).slice(0, 1000) }), { nowMs: T0 + 100 * HOUR, maxFutureMs: 0 });
      expect(parsed.ok, `${def.id}: ${parsed.ok ? '' : parsed.error.reason}`).toBe(true);
    }
  });
});
