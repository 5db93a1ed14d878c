/** Calendar arithmetic on local dates `YYYY-MM-DD` for schedules, windows and reporting years. */
import { isFinanceDate } from '@wattproof/core';
import { formatDate, parseDate } from '../prep/local-time.js';
import { financeError } from './errors.js';

/** Checks a `YYYY-MM-DD` input. @throws WattproofError `FINANCE_INPUT_INVALID`. */
export function assertDate(value: string, field: string): void {
  if (!isFinanceDate(value)) throw financeError('FINANCE_INPUT_INVALID', `${field} must be a calendar date YYYY-MM-DD, got ${JSON.stringify(value)}`, { details: { field, value } });
}

/** Days in month `month` (1..12) of `year` (Gregorian leap years). */
export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * `date` plus `months` calendar months, on day `anchorDay` (default: the day of `date`) clamped
 * to the end of the target month: 2024-01-31 + 1 → 2024-02-29, 2024-02-29 + 12 → 2025-02-28.
 */
export function addMonths(date: string, months: number, anchorDay?: number): string {
  const [y, m, d] = parseDate(date);
  const index = y * 12 + (m - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  return formatDate(year, month, Math.min(anchorDay ?? d, daysInMonth(year, month)));
}

/** `date` plus `days` calendar days (negative allowed). */
export function addDays(date: string, days: number): string {
  const [y, m, d] = parseDate(date);
  const t = new Date(Date.UTC(y, m - 1, d + days));
  return formatDate(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}

/** Day number (days since 1970-01-01) of a date, for regressions on time. */
export function dayNumber(date: string): number {
  const [y, m, d] = parseDate(date);
  return Date.UTC(y, m - 1, d) / 86_400_000;
}

/** Mean Gregorian month in days (365.2425 / 12). */
export const MEAN_MONTH_DAYS = 365.2425 / 12;
