/**
 * Hourly outdoor temperature series from hourly or irregular observations (CalTRACK 2.2.4,
 * 2.3.4).
 */
import { HOUR_MS } from './local-time.js';

/** One temperature observation (unit: the caller's `temperatureUnit`). */
export interface TemperatureReading {
  /** Epoch ms of the observation (for hourly data: the hour start). */
  readonly time: number;
  /** null = missing. */
  readonly value: number | null;
}

/**
 * Hourly temperatures on a regular grid: hour `k` covers `[start + k·1 h, start + (k + 1)·1 h)`.
 * null = missing after interpolation.
 */
export interface HourlyTemperatureSeries {
  /** Epoch ms of the first hour's start. */
  readonly start: number;
  readonly values: readonly (number | null)[];
}

/** Options of {@link hourlyTemperatures}. */
export interface HourlyTemperatureOptions {
  /** Epoch ms of the first hour (default: the first reading's time floored to a UTC hour). Sets the grid alignment. */
  readonly start?: number;
  /** Epoch ms after the last hour (exclusive; default: one hour after the last reading's hour). */
  readonly end?: number;
  /** Longest run of missing hours that is filled by linear interpolation, in hours (default 6, CalTRACK 2.2.4.1). */
  readonly maxGapHours?: number;
}

/** Default longest interpolated gap, hours (CalTRACK 2.2.4.1). */
export const DEFAULT_MAX_TEMPERATURE_GAP_HOURS = 6;

/**
 * Builds an hourly series: each hour is the mean of the readings whose time falls in it
 * (hourly input passes through unchanged), then runs of at most `maxGapHours` missing hours
 * between two known hours are filled by linear interpolation (CalTRACK 2.2.4.1); longer runs,
 * and missing hours before the first or after the last known hour, stay missing.
 *
 * Sub-hourly readings are averaged per hour rather than interpolated to the minute first
 * (CalTRACK 2.3.4); for evenly spaced readings the two agree.
 *
 * @throws RangeError when `end` ≤ `start` or `maxGapHours` < 0.
 */
export function hourlyTemperatures(
  readings: readonly TemperatureReading[],
  options: HourlyTemperatureOptions = {},
): HourlyTemperatureSeries {
  const maxGap = options.maxGapHours ?? DEFAULT_MAX_TEMPERATURE_GAP_HOURS;
  if (!(maxGap >= 0)) throw new RangeError(`maxGapHours must be ≥ 0, got ${maxGap}`);
  let minT = Number.POSITIVE_INFINITY;
  let maxT = Number.NEGATIVE_INFINITY;
  for (const r of readings) {
    if (r.time < minT) minT = r.time;
    if (r.time > maxT) maxT = r.time;
  }
  const start = options.start ?? (readings.length ? Math.floor(minT / HOUR_MS) * HOUR_MS : 0);
  const end = options.end ?? (readings.length ? start + (Math.floor((maxT - start) / HOUR_MS) + 1) * HOUR_MS : start);
  if (end < start) throw new RangeError('end must not be before start');
  const nHours = Math.ceil((end - start) / HOUR_MS);

  const sums = new Float64Array(nHours);
  const counts = new Uint32Array(nHours);
  for (const r of readings) {
    if (r.value === null || !Number.isFinite(r.value)) continue;
    const k = Math.floor((r.time - start) / HOUR_MS);
    if (k < 0 || k >= nHours) continue;
    sums[k] = sums[k]! + r.value;
    counts[k] = counts[k]! + 1;
  }
  const values: (number | null)[] = new Array(nHours);
  for (let k = 0; k < nHours; k++) values[k] = counts[k]! > 0 ? sums[k]! / counts[k]! : null;

  // CalTRACK 2.2.4.1: linear interpolation of gaps of up to maxGap consecutive hours.
  let lastKnown = -1;
  for (let k = 0; k < nHours; k++) {
    if (values[k] === null) continue;
    const gap = k - lastKnown - 1;
    if (lastKnown >= 0 && gap > 0 && gap <= maxGap) {
      const a = values[lastKnown]!;
      const b = values[k]!;
      for (let g = 1; g <= gap; g++) values[lastKnown + g] = a + ((b - a) * g) / (gap + 1);
    }
    lastKnown = k;
  }
  return { start, values };
}

/**
 * Hours of `series` whose start lies in `[from, to)`: their count and the present values.
 * @returns `{ total, present, sum }` with `sum` over the present values.
 */
export function hoursBetween(
  series: HourlyTemperatureSeries,
  from: number,
  to: number,
): { total: number; present: number; sum: number } {
  const first = Math.ceil((from - series.start) / HOUR_MS);
  const last = Math.ceil((to - series.start) / HOUR_MS); // exclusive
  let present = 0;
  let sum = 0;
  for (let k = first; k < last; k++) {
    const v = k >= 0 && k < series.values.length ? series.values[k] : null;
    if (v !== null && v !== undefined) {
      present++;
      sum += v;
    }
  }
  return { total: Math.max(0, last - first), present, sum };
}

/** Temperature of the hour containing epoch ms `t`, or null when missing or outside the series. */
export function temperatureAt(series: HourlyTemperatureSeries, t: number): number | null {
  const k = Math.floor((t - series.start) / HOUR_MS);
  return k >= 0 && k < series.values.length ? (series.values[k] ?? null) : null;
}
