/**
 * Billing periods with their daily temperatures (CalTRACK 2.2.3, 3.3.3–3.3.5).
 */
import type { BillingRow, Fuel } from '../types.js';
import { isPresent, type UsageInterval } from './daily.js';
import { DAY_MS } from './local-time.js';
import { hoursBetween, type HourlyTemperatureSeries } from './temperature.js';

/** Options of {@link billingRows}. */
export interface BillingRowsOptions {
  /** Electricity zeros are missing, gas zeros are real (CalTRACK 2.2.1.4). */
  readonly fuel: Fuel;
  /** Least share of a day's 24 hours with a temperature for the day to count (default 0.5, CalTRACK 2.2.3.3). */
  readonly minDailyTemperatureCoverage?: number;
}

/**
 * One row per billing period (`value` = the period's total usage).
 *
 * The period's days are its consecutive 24-hour spans counted from the period start (the last
 * one may be shorter), as the reference implementation splits them; for periods that start at
 * local midnight these are the local days except across a daylight-saving change. A day's
 * temperature is the mean of its hourly temperatures when at least half of 24 hours are present
 * (CalTRACK 2.2.3.3), else null. `temperatureCoverage` is the share of the period's hours with a
 * temperature (CalTRACK 2.2.3.2 asks for ≥ 0.9; the billing fit applies it). `days` is the
 * elapsed time in days.
 */
export function billingRows(
  periods: readonly UsageInterval[],
  temperature: HourlyTemperatureSeries,
  options: BillingRowsOptions,
): BillingRow[] {
  const minDaily = options.minDailyTemperatureCoverage ?? 0.5;
  return [...periods]
    .filter((p) => p.end > p.start)
    .sort((a, b) => a.start - b.start)
    .map((p) => {
      const dailyTemperatures: (number | null)[] = [];
      for (let d = p.start; d < p.end; d += DAY_MS) {
        const t = hoursBetween(temperature, d, Math.min(d + DAY_MS, p.end));
        dailyTemperatures.push(t.present >= minDaily * 24 && t.present > 0 ? t.sum / t.present : null);
      }
      const all = hoursBetween(temperature, p.start, p.end);
      const present = isPresent(p.value, options.fuel);
      const row: BillingRow = {
        start: p.start,
        end: p.end,
        days: (p.end - p.start) / DAY_MS,
        usage: present ? p.value : null,
        dailyTemperatures,
        temperatureCoverage: all.total > 0 ? all.present / all.total : 0,
        ...(present && p.value! < 0 ? { negative: true } : {}),
      };
      return row;
    });
}

/**
 * Billing periods from consecutive read dates: period i runs from `starts[i]` to `starts[i + 1]`
 * with `values[i]`; the last start only closes the previous period.
 * @throws RangeError when the lengths differ.
 */
export function periodsFromReads(starts: readonly number[], values: readonly (number | null)[]): UsageInterval[] {
  if (values.length !== starts.length && values.length !== starts.length - 1) {
    throw new RangeError(`${starts.length} read dates need ${starts.length - 1} values`);
  }
  const out: UsageInterval[] = [];
  for (let i = 0; i + 1 < starts.length; i++) out.push({ start: starts[i]!, end: starts[i + 1]!, value: values[i] ?? null });
  return out;
}

