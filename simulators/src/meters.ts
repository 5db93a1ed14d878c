/**
 * Meter behaviours: how a physical meter turns a building's hourly loads (or its site's weather)
 * into contract v1 readings.
 *
 * - `interval`: energy (or volume) per interval. Any interval that divides an hour (60, 300,
 *   900, 1800 s, ...) or is a whole number of hours (7200, 86400 s, ...). Sub-hourly values are
 *   split from the hour along a smooth, continuous intra-hour power shape and rounded so that
 *   they add up to the rounded hour exactly (largest remainder), at the meter's resolution.
 * - `register`: a cumulative index that grows by exactly the energy of the interval meter of the
 *   same period; wraps at `rollover` (every reading then carries `rollover`); a replacement on a
 *   date restarts the index near 0 under a new `meterSerial`.
 * - `instant`: a sample of power (kW demand from the same smooth shape) or, for a weather
 *   station, outdoor temperature, relative humidity and irradiance interpolated between hours.
 *
 * A meter's clock may drift (ppm: the timestamp offset grows with time) and be stepped back by
 * NTP every so often; the reported `ts` is the true time plus that offset.
 *
 * Everything is a pure function of the definition, the hourly signals and the seed: the same
 * inputs give the same readings, in any chunking of time.
 */
import { UNITS, type MeterRef, type Quantity, type ReadingKind, type Unit } from '@wattproof/core';
import { END_USES, type BuildingSpec, type EndUse, type HourLoads, type WeatherHour, type WeatherSeries } from './types.js';

/** One hour, ms. */
export const HOUR_MS = 3_600_000;

/** Gas energy per standard cubic metre of natural gas, kWh/m3 (GB 17820 class 1, ~36 MJ/m3 HHV). */
export const GAS_KWH_PER_M3 = 10;

/** What a meter measures: the main incomer, one end use (GB 55015 sub-metering), PV, gas, water, or the site's weather. */
export const METER_SOURCES = ['main', ...END_USES, 'pv', 'gas', 'water', 'weather'] as const;
export type MeterSource = (typeof METER_SOURCES)[number];

/** A clock that drifts: offset(t) = offset at the last sync + driftPpm·1e-6·(t − last sync). */
export interface ClockSpec {
  /** Drift rate, parts per million (+20 = the clock gains 20 µs per second, 1.73 s per day). */
  readonly driftPpm: number;
  /** Offset at the clock origin, ms. Default 0. */
  readonly initialOffsetMs?: number;
  /** NTP steps the clock back every this many seconds (unset = never synchronised). */
  readonly ntpSyncIntervalS?: number;
  /** Largest residual error right after an NTP step, ms (a seeded value in ±this). Default 0. */
  readonly ntpResidualMs?: number;
}

/** A meter exchanged on a date: from `atMs` readings carry `serial`; a register restarts at `initialIndex`. */
export interface MeterReplacement {
  /** When the new meter starts, epoch ms (snapped up to the meter's next reading instant). */
  readonly atMs: number;
  readonly serial: string;
  /** Index of the new register, in the meter's unit. Default: a seeded value in [0, 10). */
  readonly initialIndex?: number;
}

/** Everything that defines how one meter reads. */
export interface MeterDefinition {
  /** Meter id (the last part of `site/building/meter`). */
  readonly id: string;
  readonly source: MeterSource;
  readonly kind: ReadingKind;
  /**
   * Seconds: the interval length (interval), the reading period (register) or the sampling
   * period (instant). Divides 3600 or is a multiple of 3600.
   */
  readonly intervalS: number;
  /** Unit of the values; default kWh (electricity, PV), kW (instant power), m3 (gas, water). Gas in m3 uses GAS_KWH_PER_M3. */
  readonly unit?: Unit;
  /** Decimal places of the values (the meter's resolution). Default 3 (2 for temperature, 1 for humidity and irradiance). */
  readonly decimals?: number;
  /** Register only: the value at which the index wraps to 0 (e.g. 1e6 for a 6-digit kWh register). */
  readonly rollover?: number;
  /** Register only: the index at the meter origin, in `unit`. Default: seeded in [0, rollover/2) or [0, 50000). */
  readonly initialIndex?: number;
  /** Serial number of the physical meter, sent as `meterSerial`. */
  readonly serial?: string;
  /** Replacements, in time order. */
  readonly replacements?: readonly MeterReplacement[];
  readonly clock?: ClockSpec;
  /** Seed of the meter's own choices (initial index, NTP residuals). Default: derived from the id. */
  readonly seed?: number;
  /**
   * Where multi-hour intervals start, seconds east of UTC (whole hours): 28800 makes daily
   * intervals start at local midnight in UTC+8. Default 0 (UTC). Sub-hourly grids are unaffected.
   */
  readonly alignOffsetS?: number;
}

/** A reading in contract v1 shape (`ts` epoch ms). */
export interface SimReading {
  readonly ts: number;
  readonly quantity: Quantity;
  readonly unit: Unit;
  readonly kind: ReadingKind;
  readonly value: number;
  readonly intervalS?: number;
  readonly rollover?: number;
}

/** Everything a meter reports at one instant (a weather station reports three readings). */
export interface Frame {
  /** True time (interval start for `interval`), epoch ms: what fault decisions key on. */
  readonly trueTs: number;
  /** Reported time (after clock drift and any fault), epoch ms; equal to each reading's `ts`. */
  readonly ts: number;
  /** The physical meter's serial when the frame was read, if known. */
  readonly serial?: string;
  readonly readings: readonly SimReading[];
}

/** Where frames come from: a simulated meter, or a column of a replayed CSV. */
export interface FrameSource {
  readonly ref: MeterRef;
  /** Seconds between frames. */
  readonly periodS: number;
  /** Readings per frame (for progress estimates). */
  readonly readingsPerFrame: number;
  /** Frames whose true time lies in [fromMs, toMs), in time order. */
  frames(fromMs: number, toMs: number): Frame[];
  /** Exclusive upper bound of true times whose frames are complete at `nowMs` (an interval is complete at its end). */
  completeBefore(nowMs: number): number;
}

/** The hourly signals one building's meters read from (shared, so the model runs once per hour). */
export interface HourSignals {
  /** Loads of the hour starting at `hourStartMs`, kWh. */
  loads(hourStartMs: number): HourLoads;
  /** Weather of the hour starting at `hourStartMs`. */
  weather(hourStartMs: number): WeatherHour;
  /** Floor area, m² (scales the gas and water proxies). */
  readonly floorAreaM2: number;
}

/** The building model's contract as the meter layer uses it (implemented by simulators/src/building.ts). */
export interface HourlyLoadModel {
  hour(hourStartMs: number): HourLoads;
}
export type BuildingModelFactory = (spec: BuildingSpec, weather: WeatherSeries) => HourlyLoadModel;

/**
 * Memoises a model's and a weather series' hours for the meters of one building. Runs go forward
 * in time, so only the last `capacity` hours are kept (insertion order = age).
 */
export function createHourSignals(model: HourlyLoadModel, weather: WeatherSeries, floorAreaM2: number, capacity = 72): HourSignals {
  const loads = new Map<number, HourLoads>();
  const wx = new Map<number, WeatherHour>();
  function memo<T>(cache: Map<number, T>, key: number, make: () => T): T {
    let v = cache.get(key);
    if (v === undefined) {
      v = make();
      cache.set(key, v);
      if (cache.size > capacity) cache.delete(cache.keys().next().value as number);
    }
    return v;
  }
  return {
    floorAreaM2,
    loads: (h) => memo(loads, h, () => model.hour(h)),
    weather: (h) => memo(wx, h, () => weather.at(h)),
  };
}

/** 32-bit integer mix (murmur3 finaliser over a xor): the base of every seeded choice here. */
export function mix32(a: number, b: number): number {
  let h = Math.imul((a ^ b) >>> 0, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a of a string, 32 bits. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A uniform number in [0, 1) from a 32-bit key and an epoch-ms time (or any integer up to 2^53). */
export function unitHash(key: number, t: number): number {
  const lo = t % 4294967296;
  const hi = Math.floor(t / 4294967296);
  return mix32(mix32(key, lo >>> 0), hi >>> 0) / 4294967296;
}

/** Floor of `t` to the grid `k·periodMs` (epoch-aligned: whole hours of UTC). */
export function alignDown(t: number, periodMs: number): number {
  return Math.floor(t / periodMs) * periodMs;
}

function alignUp(t: number, periodMs: number): number {
  return Math.ceil(t / periodMs) * periodMs;
}

/** Checks that `intervalS` divides an hour or is a whole number of hours. */
export function isValidMeterInterval(intervalS: number): boolean {
  if (!Number.isInteger(intervalS) || intervalS <= 0) return false;
  return 3600 % intervalS === 0 || intervalS % 3600 === 0;
}

/**
 * The smooth intra-hour power shape: piecewise linear through the boundary values (mean of the
 * neighbouring hours) and a middle value chosen so that its integral over the hour is `e`.
 * Returns power at fraction `x` ∈ [0, 1] of the hour in units of `e` per hour.
 */
export function intraHourPower(prev: number, e: number, next: number, x: number): number {
  const { b0, m, b1 } = shapePoints(prev, e, next);
  return x <= 0.5 ? b0 + (m - b0) * (x / 0.5) : m + (b1 - m) * ((x - 0.5) / 0.5);
}

function shapePoints(prev: number, e: number, next: number): { b0: number; m: number; b1: number } {
  let b0 = (prev + e) / 2;
  let b1 = (e + next) / 2;
  // Integral of the three-point shape = (b0 + 2m + b1) / 4.
  let m = (4 * e - b0 - b1) / 2;
  if (m < 0) {
    // A short hour between two large ones: pull the ends down so the shape stays non-negative.
    const scale = e > 0 && b0 + b1 > 0 ? (4 * e) / (b0 + b1) : 0;
    b0 *= scale;
    b1 *= scale;
    m = 0;
  }
  return { b0, m, b1 };
}

/** Integral of the shape over [x0, x1] ⊆ [0, 1] (in units of `e`). */
function shapeIntegral(p: { b0: number; m: number; b1: number }, x0: number, x1: number): number {
  const at = (x: number) => (x <= 0.5 ? p.b0 + (p.m - p.b0) * (x / 0.5) : p.m + (p.b1 - p.m) * ((x - 0.5) / 0.5));
  // Split at the kink so each part is linear (trapezoid rule is exact).
  if (x0 < 0.5 && x1 > 0.5) return ((at(x0) + p.m) / 2) * (0.5 - x0) + ((p.m + at(x1)) / 2) * (x1 - 0.5);
  return ((at(x0) + at(x1)) / 2) * (x1 - x0);
}

/**
 * Splits an hour of `units` (an integer count at the meter's resolution) into `parts` integer
 * counts that add up to `units` exactly, following the smooth shape through the neighbouring
 * hours' energies (`prev`, `e`, `next`, any consistent unit). Largest-remainder rounding; ties go
 * to the earlier part, so the split is deterministic.
 */
export function splitHour(units: number, prev: number, e: number, next: number, parts: number): number[] {
  if (parts === 1) return [units];
  const p = shapePoints(Math.max(0, prev), Math.max(0, e), Math.max(0, next));
  const weights: number[] = [];
  let total = 0;
  for (let i = 0; i < parts; i++) {
    const w = Math.max(0, shapeIntegral(p, i / parts, (i + 1) / parts));
    weights.push(w);
    total += w;
  }
  if (!(total > 0)) for (let i = 0; i < parts; i++) weights[i] = 1 / parts;
  else for (let i = 0; i < parts; i++) weights[i] = weights[i]! / total;
  const out: number[] = [];
  const rema: Array<{ i: number; r: number }> = [];
  let given = 0;
  for (let i = 0; i < parts; i++) {
    const exact = units * weights[i]!;
    const base = Math.floor(exact);
    out.push(base);
    given += base;
    rema.push({ i, r: exact - base });
  }
  rema.sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; k < units - given; k++) out[rema[k % parts]!.i]! += 1;
  return out;
}

/** Clock offset (ms) of a meter's clock at true time `t`, from the clock origin `originMs`. */
export function clockOffsetMs(clock: ClockSpec | undefined, t: number, originMs: number, seed = 0): number {
  if (!clock) return 0;
  const ppm = clock.driftPpm * 1e-6;
  const sync = clock.ntpSyncIntervalS;
  if (sync !== undefined && sync > 0) {
    const syncMs = sync * 1000;
    const k = Math.floor((t - originMs) / syncMs);
    if (k >= 1) {
      const lastSync = originMs + k * syncMs;
      const residual = ((unitHash(mix32(seed, 0x6e7470), lastSync) * 2 - 1) * (clock.ntpResidualMs ?? 0));
      return residual + ppm * (t - lastSync);
    }
  }
  return (clock.initialOffsetMs ?? 0) + ppm * (t - originMs);
}

interface QuantitySpec {
  readonly quantity: Quantity;
  readonly unit: Unit;
  readonly decimals: number;
}

/** Quantity, unit and resolution of a meter's readings; the weather station reports three. */
export function meterQuantities(def: Pick<MeterDefinition, 'source' | 'kind' | 'unit' | 'decimals'>): QuantitySpec[] {
  if (def.source === 'weather') {
    return [
      { quantity: 'outdoor_temperature', unit: def.unit && UNITS[def.unit].dimension === 'temperature' ? def.unit : '°C', decimals: def.decimals ?? 2 },
      { quantity: 'relative_humidity', unit: '%', decimals: 1 },
      { quantity: 'irradiance', unit: 'W/m2', decimals: 1 },
    ];
  }
  const quantity: Quantity = def.source === 'pv' ? 'pv' : def.source === 'gas' ? 'gas' : def.source === 'water' ? 'water' : 'electricity';
  const dflt: Unit = def.kind === 'instant' ? 'kW' : quantity === 'water' || quantity === 'gas' ? 'm3' : 'kWh';
  return [{ quantity, unit: def.unit ?? dflt, decimals: def.decimals ?? 3 }];
}

/** The value a meter's source has over the hour, in canonical units: kWh (energy) or m3 (water). */
export function hourSignal(source: Exclude<MeterSource, 'weather'>, signals: HourSignals, hourStartMs: number): number {
  const loads = signals.loads(hourStartMs);
  switch (source) {
    case 'main':
      return loads.main;
    case 'pv':
      return loads.pv;
    case 'gas': {
      const own = (loads as { gas?: unknown }).gas;
      if (typeof own === 'number') return own;
      // Until the building model reports gas: space heating by degree-hours below 15 °C plus hot water, per m².
      const t = signals.weather(hourStartMs).temperatureC;
      return signals.floorAreaM2 * (0.0009 * Math.max(0, 15 - t) + 0.0002);
    }
    case 'water': {
      const own = (loads as { water?: unknown }).water;
      if (typeof own === 'number') return own;
      // Until the building model reports water: domestic water follows occupancy, proxied by plug and lighting energy.
      return loads.endUses.lighting_sockets * 0.006 + signals.floorAreaM2 * 0.000005;
    }
    default:
      return loads.endUses[source as EndUse];
  }
}

/** Converts a canonical value (kWh, kW, m3, °C, ...) to `unit`; gas volume via GAS_KWH_PER_M3. */
function fromCanonical(value: number, unit: Unit, quantity: Quantity): number {
  const spec = UNITS[unit] as { dimension: string; factor: number; offset?: number };
  if (quantity === 'gas' && spec.dimension === 'volume') return value / GAS_KWH_PER_M3 / spec.factor;
  return value / spec.factor - (spec.offset ?? 0);
}

const pow10 = (d: number) => 10 ** d;

/**
 * A simulated meter of one building (or a site's weather station).
 * @param originMs - start of the meter's history: registers count from here, clocks drift from here.
 */
export function createMeter(ref: MeterRef, def: MeterDefinition, signals: HourSignals, originMs: number): FrameSource {
  if (!isValidMeterInterval(def.intervalS)) throw new RangeError(`meter ${def.id}: intervalS ${def.intervalS} neither divides 3600 nor is a multiple of it`);
  const periodMs = def.intervalS * 1000;
  // Grid: t ≡ offset (mod periodMs), offset a whole number of hours.
  // Local midnight in UTC+8 is 16:00 UTC: the grid is shifted back by the offset.
  const offset = ((-Math.round((def.alignOffsetS ?? 0) / 3600) * HOUR_MS) % periodMs + periodMs) % periodMs;
  const gridUp = (t: number) => alignUp(t - offset, periodMs) + offset;
  const seed = def.seed ?? hashString(`${ref.site}/${ref.building}/${ref.meter}`);
  const specs = meterQuantities(def);
  const q0 = specs[0]!;
  const scale = pow10(q0.decimals);
  const replacements = [...(def.replacements ?? [])].map((r) => ({ ...r, atMs: gridUp(r.atMs) })).sort((a, b) => a.atMs - b.atMs);
  const rolloverUnits = def.rollover !== undefined ? Math.round(def.rollover * scale) : undefined;

  function serialAt(t: number): string | undefined {
    let serial = def.serial;
    for (const r of replacements) if (r.atMs <= t) serial = r.serial;
    return serial;
  }
  function report(t: number): number {
    return t + Math.round(clockOffsetMs(def.clock, t, originMs, seed));
  }

  // Energy of one hour in integer units of the meter's resolution, and its split.
  function hourUnits(h: number): number {
    if (def.source === 'weather') return 0;
    return Math.round(fromCanonical(hourSignal(def.source, signals, h), q0.unit, q0.quantity) * scale);
  }
  let lastSplit: { h: number; parts: number[] } | undefined;
  function hourParts(h: number, parts: number): number[] {
    if (lastSplit?.h === h) return lastSplit.parts;
    const src = def.source as Exclude<MeterSource, 'weather'>;
    const units = hourUnits(h);
    const split = splitHour(units, hourSignal(src, signals, h - HOUR_MS), hourSignal(src, signals, h), hourSignal(src, signals, h + HOUR_MS), parts);
    lastSplit = { h, parts: split };
    return split;
  }
  /** Energy units of the interval [t, t + periodMs). */
  function intervalUnits(t: number): number {
    if (periodMs <= HOUR_MS) {
      const h = alignDown(t, HOUR_MS);
      const parts = HOUR_MS / periodMs;
      return hourParts(h, parts)[Math.round((t - h) / periodMs)]!;
    }
    let sum = 0;
    for (let h = t; h < t + periodMs; h += HOUR_MS) sum += hourUnits(h);
    return sum;
  }

  // Register state: the index (units, unwrapped) at `at`; restarts at the origin when asked for the past.
  const initialUnits = Math.round(
    (def.initialIndex ?? (def.rollover !== undefined ? unitHash(seed, 1) * def.rollover * 0.5 : unitHash(seed, 1) * 50_000)) * scale,
  );
  let reg = { at: gridUp(originMs), units: initialUnits };
  function registerUnitsAt(t: number): number {
    if (t < reg.at) reg = { at: gridUp(originMs), units: initialUnits };
    while (reg.at < t) {
      const next = reg.at + periodMs;
      const swap = replacements.find((r) => r.atMs === next);
      reg = { at: next, units: swap ? Math.round((swap.initialIndex ?? unitHash(seed, swap.atMs) * 10) * scale) : reg.units + intervalUnits(reg.at) };
    }
    return reg.units;
  }

  function frameAt(t: number): Frame | undefined {
    const ts = report(t);
    const serial = serialAt(t);
    const readings: SimReading[] = [];
    switch (def.kind) {
      case 'interval': {
        readings.push({ ts, quantity: q0.quantity, unit: q0.unit, kind: 'interval', value: intervalUnits(t) / scale, intervalS: def.intervalS });
        break;
      }
      case 'register': {
        if (t < originMs) return undefined;
        const units = registerUnitsAt(t);
        if (rolloverUnits !== undefined) {
          readings.push({ ts, quantity: q0.quantity, unit: q0.unit, kind: 'register', value: (units % rolloverUnits) / scale, rollover: def.rollover! });
        } else {
          readings.push({ ts, quantity: q0.quantity, unit: q0.unit, kind: 'register', value: units / scale });
        }
        break;
      }
      case 'instant': {
        const h = alignDown(t, HOUR_MS);
        const x = (t - h) / HOUR_MS;
        if (def.source === 'weather') {
          // Hourly weather is taken at mid-hour and interpolated linearly between mid-hours.
          const h0 = x < 0.5 ? h - HOUR_MS : h;
          const f = x < 0.5 ? x + 0.5 : x - 0.5;
          const a = signals.weather(h0);
          const b = signals.weather(h0 + HOUR_MS);
          const lerp = (u: number, v: number) => u + (v - u) * f;
          const [tq, rh, ir] = specs as [QuantitySpec, QuantitySpec, QuantitySpec];
          const round = (v: number, d: number) => Math.round(v * pow10(d)) / pow10(d);
          readings.push({ ts, quantity: tq.quantity, unit: tq.unit, kind: 'instant', value: round(fromCanonical(lerp(a.temperatureC, b.temperatureC), tq.unit, tq.quantity), tq.decimals) });
          readings.push({ ts, quantity: rh.quantity, unit: rh.unit, kind: 'instant', value: round(Math.min(100, Math.max(0, lerp(a.relativeHumidityPct, b.relativeHumidityPct))), rh.decimals) });
          readings.push({ ts, quantity: ir.quantity, unit: ir.unit, kind: 'instant', value: round(Math.max(0, lerp(a.ghiWhM2, b.ghiWhM2)), ir.decimals) });
        } else {
          const src = def.source;
          const kw = intraHourPower(hourSignal(src, signals, h - HOUR_MS), hourSignal(src, signals, h), hourSignal(src, signals, h + HOUR_MS), x);
          readings.push({ ts, quantity: q0.quantity, unit: q0.unit, kind: 'instant', value: Math.round(fromCanonical(Math.max(0, kw), q0.unit, q0.quantity) * scale) / scale });
        }
        break;
      }
    }
    return { trueTs: t, ts, ...(serial !== undefined ? { serial } : {}), readings };
  }

  return {
    ref,
    periodS: def.intervalS,
    readingsPerFrame: specs.length,
    frames(fromMs, toMs) {
      const out: Frame[] = [];
      for (let t = gridUp(fromMs); t < toMs; t += periodMs) {
        const f = frameAt(t);
        if (f) out.push(f);
      }
      return out;
    },
    completeBefore(nowMs) {
      // An interval [t, t+P) is complete at t+P; a register or a sample at t is complete at t.
      return def.kind === 'interval' ? nowMs - periodMs + 1 : nowMs + 1;
    },
  };
}
