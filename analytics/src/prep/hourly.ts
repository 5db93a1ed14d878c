/**
 * Hourly rows for the CalTRACK hourly (TOWT) model: usage per hour, the hour's temperature,
 * its local calendar month and hour of week.
 */
import type { Fuel, HourlyRow } from '../types.js';
import { isPresent, type UsageInterval } from './daily.js';
import { HOUR_MS, createZone } from './local-time.js';
import { temperatureAt, type HourlyTemperatureSeries } from './temperature.js';

/** Options of {@link hourlyRows}. */
export interface HourlyRowsOptions {
  /** IANA time zone for month and hour of week. */
  readonly timeZone: string;
  /** Electricity zeros are missing, gas zeros are real (CalTRACK 2.2.1.4). */
  readonly fuel: Fuel;
  /** Epoch ms of the first hour (default: the first interval's start floored to the temperature grid). */
  readonly start?: number;
  /** Epoch ms after the last hour (default: the last interval's end). */
  readonly end?: number;
  /** Least share of an hour covered by present intervals for a valid hour (default 0.5, as CalTRACK 2.2.2.1 for days). */
  readonly minCoverage?: number;
}

/**
 * One row per hour of the temperature grid in `[start, end)`. Sub-hourly intervals are summed
 * (an interval crossing the hour counts pro rata); an hour with coverage ≥ `minCoverage` gets
 * the sum divided by its coverage, otherwise null. Hour of week: Monday 00:00 local = 0; on the
 * fall-back day the repeated local hour maps to the same hour of week twice.
 *
 * @throws RangeError for an unknown time zone.
 */
export function hourlyRows(
  usage: readonly UsageInterval[],
  temperature: HourlyTemperatureSeries,
  options: HourlyRowsOptions,
): HourlyRow[] {
  const zone = createZone(options.timeZone);
  const minCoverage = options.minCoverage ?? 0.5;
  const intervals = [...usage].filter((u) => u.end > u.start).sort((a, b) => a.start - b.start);
  if (intervals.length === 0 && (options.start === undefined || options.end === undefined)) return [];
  const align = (t: number) => temperature.start + Math.floor((t - temperature.start) / HOUR_MS) * HOUR_MS;
  const start = options.start ?? align(intervals[0]!.start);
  const end = options.end ?? Math.max(...intervals.map((u) => u.end));

  const rows: HourlyRow[] = [];
  let cursor = 0;
  for (let h = start; h < end; h += HOUR_MS) {
    const hEnd = h + HOUR_MS;
    while (cursor < intervals.length && intervals[cursor]!.end <= h) cursor++;
    let presentMs = 0;
    let sum = 0;
    for (let i = cursor; i < intervals.length && intervals[i]!.start < hEnd; i++) {
      const u = intervals[i]!;
      const overlap = Math.min(u.end, hEnd) - Math.max(u.start, h);
      if (overlap <= 0 || !isPresent(u.value, options.fuel)) continue;
      presentMs += overlap;
      sum += (u.value! * overlap) / (u.end - u.start);
    }
    const coverage = Math.min(1, presentMs / HOUR_MS);
    const p = zone.parts(h);
    rows.push({
      start: h,
      usage: coverage >= minCoverage && coverage > 0 ? sum / coverage : null,
      temperature: temperatureAt(temperature, h),
      month: p.month,
      hourOfWeek: p.weekday * 24 + p.hour,
    });
  }
  return rows;
}
