/**
 * Weather for the building model: the bundled Chongqing typical year (TMYx 2009–2023), any CSV of
 * the same shape, or a seeded synthetic Chongqing-like climate. All map an hour start (epoch ms)
 * to that hour's dry-bulb temperature, relative humidity and global horizontal irradiance, by
 * local time in Asia/Shanghai (UTC+8, no DST).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { createErrorFactory, type ErrorCatalogue } from '@wattproof/core';
import { SHANGHAI_OFFSET_MS } from './calendar.js';
import type { WeatherHour, WeatherSeries } from './types.js';

/** Errors of the weather sources (merge into the simulators catalogue). */
export const WEATHER_ERRORS = {
  SIM_WEATHER_FILE_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'A weather CSV lacks a required column (month, day, hour_ending, air_temperature_c, relative_humidity_pct, ghi_wh_m2), has a row outside the calendar, or has no value at all in a column.',
    fix: 'Use the shape of core/data/weather/chongqing_tmyx_2009_2023.csv (see its DATASET.md); empty cells are fine, they are interpolated.',
  },
} as const satisfies ErrorCatalogue;
const weatherError = createErrorFactory(WEATHER_ERRORS);

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Cumulative days before each month in a leap year (slot layout of a typical year, Feb 29 included). */
const LEAP_MONTH_START = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335];
const NONLEAP_MONTH_START = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/** The bundled Chongqing TMYx file (see core/data/weather/DATASET.md). */
export const CHONGQING_TMYX_PATH = new URL('../../core/data/weather/chongqing_tmyx_2009_2023.csv', import.meta.url);

/** Options of {@link weatherFromCsv}. */
export interface CsvWeatherOptions {
  /** Id of the series (default: the file name without extension, `_` → `-`). */
  readonly id?: string;
}

/**
 * A typical year read from a CSV with the columns of the bundled TMYx file (`month`, `day`,
 * `hour_ending` 1…24 in local standard time UTC+8, `air_temperature_c`, `relative_humidity_pct`,
 * `ghi_wh_m2`; other columns ignored). Any instant maps onto it by local month, day and hour;
 * Feb 29 uses Feb 28 unless the file has Feb 29. Empty cells and absent rows are interpolated
 * linearly in time (circularly over the year), which is a simulator's choice: M&V inputs must not
 * be gap-filled like this (DOMAIN.md §2.2).
 * `digest` = sha256 (hex) of the file's bytes.
 * @throws WattproofError SIM_WEATHER_FILE_INVALID on a missing column, an impossible row or an empty column.
 */
export function weatherFromCsv(path: string | URL, options: CsvWeatherOptions = {}): WeatherSeries {
  const bytes = readFileSync(path);
  const name = typeof path === 'string' ? path : path.pathname;
  const id = options.id ?? basename(name, extname(name)).replace(/_/g, '-');
  return parseTypicalYear(bytes, id, name);
}

/** The bundled Chongqing typical year (station 575160, TMYx 2009–2023); id `chongqing-tmyx-2009-2023`. */
export function chongqingTypicalYear(): WeatherSeries {
  return weatherFromCsv(CHONGQING_TMYX_PATH, { id: 'chongqing-tmyx-2009-2023' });
}

function parseTypicalYear(bytes: Buffer, id: string, name: string): WeatherSeries {
  const lines = bytes.toString('utf8').trim().split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  const col = (c: string): number => {
    const i = header.indexOf(c);
    if (i < 0) throw weatherError('SIM_WEATHER_FILE_INVALID', `${name}: no column ${c}`, { details: { column: c, header } });
    return i;
  };
  const [mi, di, hi, ti, ri, gi] = ['month', 'day', 'hour_ending', 'air_temperature_c', 'relative_humidity_pct', 'ghi_wh_m2'].map(col) as [number, number, number, number, number, number];
  // Slots of a leap year (366 × 24) so Feb 29 has a place; filled from the file, NaN = missing.
  const slots = 366 * 24;
  const temp = new Float64Array(slots).fill(NaN);
  const rh = new Float64Array(slots).fill(NaN);
  const ghi = new Float64Array(slots).fill(NaN);
  const present = new Uint8Array(slots);
  const num = (s: string | undefined): number => (s === undefined || s.trim() === '' ? NaN : Number(s));
  for (let r = 1; r < lines.length; r++) {
    const line = lines[r]!;
    if (line.trim() === '') continue;
    const c = line.split(',');
    const month = Number(c[mi]);
    const day = Number(c[di]);
    const hourEnding = Number(c[hi]);
    const dim = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
    if (!Number.isInteger(month) || dim === undefined || !Number.isInteger(day) || day < 1 || day > dim || !Number.isInteger(hourEnding) || hourEnding < 1 || hourEnding > 24) {
      throw weatherError('SIM_WEATHER_FILE_INVALID', `${name}: row ${r + 1} has no valid month/day/hour_ending`, { details: { row: r + 1, line } });
    }
    const s = (LEAP_MONTH_START[month - 1]! + day - 1) * 24 + hourEnding - 1;
    present[s] = 1;
    temp[s] = num(c[ti]);
    rh[s] = num(c[ri]);
    ghi[s] = num(c[gi]);
  }
  // Feb 29 absent: repeat Feb 28 (the usual typical-year convention).
  const feb28 = (LEAP_MONTH_START[1]! + 27) * 24;
  const feb29 = feb28 + 24;
  let hasFeb29 = false;
  for (let h = 0; h < 24; h++) if (present[feb29 + h]) hasFeb29 = true;
  // Interpolate over the 365 non-leap days in time order (circularly), then place Feb 29.
  const order: number[] = [];
  for (let s = 0; s < slots; s++) if (s < feb29 || s >= feb29 + 24) order.push(s);
  for (const [column, values] of [['air_temperature_c', temp], ['relative_humidity_pct', rh], ['ghi_wh_m2', ghi]] as const) {
    fillCircular(values, order, () => weatherError('SIM_WEATHER_FILE_INVALID', `${name}: column ${column} has no value`, { details: { column } }));
    if (hasFeb29) fillCircular(values, Array.from({ length: slots }, (_, i) => i), () => weatherError('SIM_WEATHER_FILE_INVALID', `${name}: column ${column} has no value`));
    else for (let h = 0; h < 24; h++) values[feb29 + h] = values[feb28 + h]!;
  }
  const hours: WeatherHour[] = new Array(slots);
  for (let s = 0; s < slots; s++) {
    hours[s] = Object.freeze({
      temperatureC: temp[s]!,
      relativeHumidityPct: Math.min(100, Math.max(0, rh[s]!)),
      ghiWhM2: Math.max(0, ghi[s]!),
    });
  }
  const digest = createHash('sha256').update(bytes).digest('hex');
  let lastDay = NaN;
  let lastBase = 0;
  return Object.freeze({
    id,
    digest,
    at(hourStartMs: number): WeatherHour {
      const local = hourStartMs + SHANGHAI_OFFSET_MS;
      const dayNumber = Math.floor(local / DAY_MS);
      if (dayNumber !== lastDay) {
        const d = new Date(dayNumber * DAY_MS);
        lastBase = (LEAP_MONTH_START[d.getUTCMonth()]! + d.getUTCDate() - 1) * 24;
        lastDay = dayNumber;
      }
      const hour = Math.floor((local - dayNumber * DAY_MS) / HOUR_MS);
      return hours[lastBase + hour]!;
    },
  });
}

/** Linear interpolation of NaN entries of `values` along `order`, wrapping around the ends. */
function fillCircular(values: Float64Array, order: readonly number[], empty: () => Error): void {
  const n = order.length;
  const known: number[] = [];
  for (let k = 0; k < n; k++) if (!Number.isNaN(values[order[k]!]!)) known.push(k);
  if (known.length === 0) throw empty();
  if (known.length === n) return;
  for (let j = 0; j < known.length; j++) {
    const a = known[j]!;
    const b = j + 1 < known.length ? known[j + 1]! : known[0]! + n;
    const va = values[order[a]!]!;
    const vb = values[order[b % n]!]!;
    for (let k = a + 1; k < b; k++) values[order[k % n]!] = va + ((vb - va) * (k - a)) / (b - a);
  }
}

/** Settings of {@link syntheticWeather}; every field has a Chongqing default. */
export interface SyntheticWeatherSettings {
  /** Site latitude, degrees north (default 29.56, Chongqing). */
  readonly latitudeDeg: number;
  /** Site longitude, degrees east (default 106.58). */
  readonly longitudeDeg: number;
  /** Monthly mean dry-bulb temperature, °C, January first. */
  readonly monthlyMeanC: readonly number[];
  /** Monthly mean diurnal range (daily max − min), K. */
  readonly monthlyDiurnalRangeK: readonly number[];
  /** Monthly mean dew-point depression (T − Td), K. */
  readonly monthlyDewPointDepressionK: readonly number[];
  /** Monthly global horizontal irradiation, kWh/m². */
  readonly monthlyGhiKwhM2: readonly number[];
  /** Standard deviation of daily mean temperature anomalies, K. */
  readonly dailyAnomalySdK: number;
}

/**
 * Defaults: monthly statistics of the bundled Chongqing TMYx (mean temperature, mean daily range,
 * mean T − Td, monthly GHI; rounded), so the synthetic climate matches the typical year in the
 * mean while varying day to day.
 */
export const DEFAULT_SYNTHETIC_WEATHER: SyntheticWeatherSettings = Object.freeze({
  latitudeDeg: 29.56,
  longitudeDeg: 106.58,
  monthlyMeanC: [7.7, 11.3, 15.5, 19.4, 22.5, 25.7, 29.4, 29.7, 24.3, 18.8, 13.9, 9.2],
  monthlyDiurnalRangeK: [6.6, 6.1, 7.3, 9.4, 7.6, 7.8, 8.9, 9.2, 6.2, 5.4, 5.1, 5.0],
  monthlyDewPointDepressionK: [4.3, 5.2, 4.6, 5.4, 5.7, 4.4, 7.2, 8.0, 4.0, 2.8, 3.6, 3.2],
  monthlyGhiKwhM2: [72, 65, 91, 121, 122, 126, 172, 168, 100, 68, 49, 60],
  dailyAnomalySdK: 2.5,
});

/** Version of the synthetic generator; part of its digest, bump when its output changes. */
export const SYNTHETIC_WEATHER_VERSION = 1;

/**
 * A seeded synthetic Chongqing-like climate, valid for any date: hot humid summers and mild,
 * cloudy winters (monthly means of the TMYx), a diurnal cycle (minimum near 06:00, maximum near
 * 15:00 local), day-to-day persistence (smooth noise over 1, 4 and 15 days), humidity from a
 * dew point that stays nearly constant over the day, and irradiance from the sun's elevation at
 * the site (Haurwitz clear sky × a daily clearness drawn around the monthly mean).
 * Deterministic: the same seed and settings give the same weather at every instant, in any order.
 * `id` = `synthetic-chongqing-<seed>`, `digest` = sha256 of the generator settings.
 */
export function syntheticWeather(seed: number, settings: Partial<SyntheticWeatherSettings> = {}): WeatherSeries {
  const s: SyntheticWeatherSettings = { ...DEFAULT_SYNTHETIC_WEATHER, ...settings };
  const seed32 = seed >>> 0;
  const digest = createHash('sha256')
    .update(JSON.stringify({ generator: 'wattproof-synthetic-weather', version: SYNTHETIC_WEATHER_VERSION, seed: seed32, settings: s }))
    .digest('hex');
  const lat = (s.latitudeDeg * Math.PI) / 180;
  // Mean clear-sky irradiation of each month (non-leap reference year) → the clearness that gives the monthly GHI.
  const clearMonthly = new Array<number>(12).fill(0);
  for (let doy = 0; doy < 365; doy++) {
    let m = 11;
    while (NONLEAP_MONTH_START[m]! > doy) m--;
    for (let h = 0; h < 24; h++) clearMonthly[m]! += clearSkyWh(lat, s.longitudeDeg, doy + 1, h) / 1000;
  }
  const monthlyClearness = clearMonthly.map((c, m) => Math.min(0.95, s.monthlyGhiKwhM2[m]! / c));

  const cache = new Map<number, WeatherHour[]>();
  function day(dayNumber: number): WeatherHour[] {
    const hit = cache.get(dayNumber);
    if (hit) return hit;
    const d = new Date(dayNumber * DAY_MS);
    const year = d.getUTCFullYear();
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    const doy = (dayNumber - Date.UTC(year, 0, 1) / DAY_MS) + 1;
    const doy365 = leap && doy > 59 ? doy - 1 : doy;
    const clim = (v: readonly number[]) => monthlyInterpolate(v, doy365);
    const kMean = monthlyInterpolate(monthlyClearness, doy365);
    // Persistent anomalies: smooth value noise over 15, 4 and 1 days (std ≈ 1 after scaling).
    const tNoise = 2.3 * (0.5 * valueNoise(seed32, 1, dayNumber / 15) + 0.6 * valueNoise(seed32, 2, dayNumber / 4) + 0.35 * valueNoise(seed32, 3, dayNumber));
    const cNoise = 2.3 * (0.3 * valueNoise(seed32, 4, dayNumber / 4) + 0.7 * valueNoise(seed32, 5, dayNumber));
    const clearness = Math.min(0.98, Math.max(0.08, kMean * (1 + 0.45 * cNoise)));
    const sunny = clearness / kMean; // >1 on clearer days than usual
    const summer = Math.max(0, Math.cos((2 * Math.PI * (doy365 - 200)) / 365));
    const tMean = clim(s.monthlyMeanC) + s.dailyAnomalySdK * tNoise + 1.2 * summer * (sunny - 1);
    const range = clim(s.monthlyDiurnalRangeK) * Math.min(1.5, Math.max(0.45, 0.5 + 0.5 * sunny));
    const dewPoint = tMean - clim(s.monthlyDewPointDepressionK) * Math.min(1.8, Math.max(0.4, 0.4 + 0.6 * sunny));
    const hours: WeatherHour[] = new Array(24);
    for (let h = 0; h < 24; h++) {
      const t = tMean + (range / 2) * diurnalShape(h + 0.5) + 0.3 * (hash01(seed32, 6, dayNumber * 24 + h) * 2 - 1);
      const td = Math.min(t, dewPoint + 0.4 * (hash01(seed32, 7, dayNumber * 24 + h) * 2 - 1));
      const ghi = clearSkyWh(lat, s.longitudeDeg, doy365, h) * clearness * (0.85 + 0.3 * hash01(seed32, 8, dayNumber * 24 + h));
      hours[h] = Object.freeze({
        temperatureC: Math.round(t * 100) / 100,
        relativeHumidityPct: Math.round(Math.min(100, relativeHumidity(t, td)) * 10) / 10,
        ghiWhM2: Math.round(ghi * 10) / 10,
      });
    }
    if (cache.size > 1200) cache.clear();
    cache.set(dayNumber, hours);
    return hours;
  }
  return Object.freeze({
    id: `synthetic-chongqing-${seed32}`,
    digest,
    at(hourStartMs: number): WeatherHour {
      const local = hourStartMs + SHANGHAI_OFFSET_MS;
      const dayNumber = Math.floor(local / DAY_MS);
      return day(dayNumber)[Math.floor((local - dayNumber * DAY_MS) / HOUR_MS)]!;
    },
  });
}

/** Value of a monthly table (January first) on day-of-year `doy` (1…365), linear between mid-months. */
function monthlyInterpolate(values: readonly number[], doy: number): number {
  const x = doy - 0.5;
  let m = 11;
  const mid = (i: number) => NONLEAP_MONTH_START[(i + 12) % 12]! + [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][(i + 12) % 12]! / 2 + (i < 0 ? -365 : i > 11 ? 365 : 0);
  while (m >= 0 && mid(m) > x) m--;
  const a = m; // mid(a) <= x < mid(a+1), with a in -1..11
  const xa = mid(a);
  const xb = mid(a + 1);
  const va = values[(a + 12) % 12]!;
  const vb = values[(a + 13) % 12]!;
  return va + ((vb - va) * (x - xa)) / (xb - xa);
}

/** Normalised diurnal temperature shape at local solar-ish hour `h`: −1 at 06:00, +1 at 15:00. */
function diurnalShape(h: number): number {
  if (h >= 6 && h < 15) return -Math.cos((Math.PI * (h - 6)) / 9);
  const since = h >= 15 ? h - 15 : h + 9; // hours since 15:00, 0…15
  return Math.cos((Math.PI * since) / 15);
}

/** Relative humidity, %, from temperature and dew point (Magnus formula, Alduchov & Eskridge 1996 coefficients). */
function relativeHumidity(t: number, td: number): number {
  const es = (x: number) => Math.exp((17.625 * x) / (243.04 + x));
  return (100 * es(td)) / es(t);
}

/**
 * Clear-sky global horizontal irradiation over the local clock hour starting at `hour` (UTC+8),
 * Wh/m², from the Haurwitz model GHI = 1098·sin(α)·exp(−0.057/sin(α)) averaged over four
 * sub-steps; solar position from Cooper's declination and Spencer-type equation of time.
 */
export function clearSkyWh(latRad: number, longitudeDeg: number, doy: number, hour: number): number {
  const decl = ((23.45 * Math.PI) / 180) * Math.sin((2 * Math.PI * (284 + doy)) / 365);
  const b = (2 * Math.PI * (doy - 81)) / 364;
  const eotMin = 9.87 * Math.sin(2 * b) - 7.53 * Math.cos(b) - 1.5 * Math.sin(b);
  let sum = 0;
  for (let k = 0; k < 4; k++) {
    const clock = hour + (k + 0.5) / 4;
    const solarHour = clock + (4 * (longitudeDeg - 120) + eotMin) / 60;
    const omega = ((solarHour - 12) * 15 * Math.PI) / 180;
    const sinAlt = Math.sin(latRad) * Math.sin(decl) + Math.cos(latRad) * Math.cos(decl) * Math.cos(omega);
    if (sinAlt > 0.01) sum += 1098 * sinAlt * Math.exp(-0.057 / sinAlt);
  }
  return sum / 4;
}

/** Deterministic hash of (seed, channel, index) to [0, 1). */
function hash01(seed: number, channel: number, index: number): number {
  let h = (seed ^ Math.imul(channel, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (index | 0), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h ^ Math.floor(index / 4294967296), 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x27d4eb2f);
  h ^= h >>> 15;
  return (h >>> 0) / 4294967296;
}

/** Smooth value noise in [−1, 1] at real `x`: random knots at integers, smoothstep in between. */
function valueNoise(seed: number, channel: number, x: number): number {
  const i = Math.floor(x);
  const f = x - i;
  const a = hash01(seed, channel, i) * 2 - 1;
  const b = hash01(seed, channel, i + 1) * 2 - 1;
  const u = f * f * (3 - 2 * f);
  return a + (b - a) * u;
}
