/**
 * Daily rollup of interval usage and hourly temperature into local days (CalTRACK 2.2.2,
 * 3.3.3.5; DOMAIN.md §2.2).
 */
import type { DailyRow, Fuel } from '../types.js';
import { HOUR_MS, createZone, nextDate } from './local-time.js';
import { hoursBetween, type HourlyTemperatureSeries } from './temperature.js';

/** Usage over `[start, end)` in the meter's unit (kWh, therm …). */
export interface UsageInterval {
  /** Epoch ms, inclusive. */
  readonly start: number;
  /** Epoch ms, exclusive. */
  readonly end: number;
  /** null = missing. For electricity, 0 also counts as missing (CalTRACK 2.2.1.4). */
  readonly value: number | null;
}

/** Options of {@link dailyRows}. */
export interface DailyRowsOptions {
  /** IANA time zone of the site, e.g. `Asia/Shanghai`: days run from local midnight to local midnight. */
  readonly timeZone: string;
  /** Electricity zeros are missing, gas zeros are real (CalTRACK 2.2.1.4). */
  readonly fuel: Fuel;
  /** First local date `YYYY-MM-DD` (default: the date of the first interval's start). */
  readonly firstDate?: string;
  /** Last local date `YYYY-MM-DD`, inclusive (default: the date of the last interval's end). */
  readonly lastDate?: string;
  /** Least share of the day covered by present intervals for a valid day (default 0.5, CalTRACK 2.2.2.1). */
  readonly minCoverage?: number;
  /** Least share of the day's hours with a temperature for a valid day temperature (default 0.5, CalTRACK 2.2.2.3). */
  readonly minTemperatureCoverage?: number;
}

/** Default least coverage of a valid day (CalTRACK 2.2.2.1, 2.2.2.3). */
export const DEFAULT_MIN_DAY_COVERAGE = 0.5;

/**
 * Rolls interval usage up to local days and attaches each day's mean temperature.
 *
 * - A day's coverage is the share of its length covered by present intervals (an interval
 *   crossing midnight counts pro rata). With coverage ≥ `minCoverage` the day's usage is the
 *   sum of its present intervals divided by the coverage (CalTRACK 2.2.2.1: fill missing values
 *   with the average of the present ones) and scaled to 24 hours (`× 24 / hours` on 23- and
 *   25-hour days); otherwise it is null.
 * - The day's temperature is the mean of the hourly temperatures whose hour starts in the day,
 *   if at least `minTemperatureCoverage` of those hours are present (CalTRACK 2.2.2.3).
 *
 * @param usage intervals in any order; overlapping intervals are summed.
 * @throws RangeError for an unknown time zone or a malformed date.
 */
export function dailyRows(
  usage: readonly UsageInterval[],
  temperature: HourlyTemperatureSeries,
  options: DailyRowsOptions,
): DailyRow[] {
  const zone = createZone(options.timeZone);
  const minCoverage = options.minCoverage ?? DEFAULT_MIN_DAY_COVERAGE;
  const minTempCoverage = options.minTemperatureCoverage ?? DEFAULT_MIN_DAY_COVERAGE;
  const intervals = [...usage].filter((u) => u.end > u.start).sort((a, b) => a.start - b.start);
  if (intervals.length === 0 && (options.firstDate === undefined || options.lastDate === undefined)) return [];

  const firstDate = options.firstDate ?? zone.date(intervals[0]!.start);
  const lastDate = options.lastDate ?? zone.date(Math.max(...intervals.map((u) => u.end)) - 1);

  const rows: DailyRow[] = [];
  let cursor = 0; // first interval that may still overlap the current day
  let dayStart = zone.startOfDay(firstDate);
  for (let date = firstDate; date <= lastDate; date = nextDate(date)) {
    const dayEnd = zone.startOfDay(nextDate(date));
    const dayMs = dayEnd - dayStart;
    const hours = dayMs / HOUR_MS;

    while (cursor < intervals.length && intervals[cursor]!.end <= dayStart) cursor++;
    let presentMs = 0;
    let sum = 0;
    let negative = false;
    for (let i = cursor; i < intervals.length && intervals[i]!.start < dayEnd; i++) {
      const u = intervals[i]!;
      const overlap = Math.min(u.end, dayEnd) - Math.max(u.start, dayStart);
      if (overlap <= 0 || !isPresent(u.value, options.fuel)) continue;
      presentMs += overlap;
      sum += overlap === u.end - u.start ? u.value! : (u.value! * overlap) / (u.end - u.start);
      if (u.value! < 0) negative = true;
    }
    const coverage = Math.min(1, presentMs / dayMs);
    // Exact arithmetic on whole days keeps the value as read (no 24/24 rounding noise).
    const scale = (coverage === 1 ? 1 : 1 / coverage) * (hours === 24 ? 1 : 24 / hours);
    const usageValue = coverage >= minCoverage && coverage > 0 ? sum * scale : null;

    const t = hoursBetween(temperature, dayStart, dayEnd);
    const temperatureCoverage = t.total > 0 ? t.present / t.total : 0;
    const temp = t.present > 0 && temperatureCoverage >= minTempCoverage ? t.sum / t.present : null;

    const row: DailyRow = {
      date,
      start: dayStart,
      end: dayEnd,
      hours,
      usage: usageValue,
      coverage,
      temperature: temp,
      temperatureCoverage,
      ...(negative ? { negative: true } : {}),
    };
    rows.push(row);
    dayStart = dayEnd;
  }
  return rows;
}

/** Whether a reading counts as present (CalTRACK 2.2.1.3, 2.2.1.4). */
export function isPresent(value: number | null, fuel: Fuel): value is number {
  if (value === null || !Number.isFinite(value)) return false;
  return !(fuel === 'electricity' && value === 0);
}
