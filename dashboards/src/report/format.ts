/** Number, date and unit formatting of the report with Intl, per language. */
import type { ReportFigure } from './model.js';
import type { ReportLang } from './messages.js';

const numberFormats = new Map<string, Intl.NumberFormat>();

function numberFormat(lang: ReportLang, digits: number): Intl.NumberFormat {
  const key = `${lang}|${digits}`;
  let f = numberFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(lang, { minimumFractionDigits: digits, maximumFractionDigits: digits });
    numberFormats.set(key, f);
  }
  return f;
}

/** Fraction digits that keep about three significant figures, at most `max`. */
export function autoDigits(value: number, max = 2): number {
  const a = Math.abs(value);
  if (a >= 100 || a === 0) return 0;
  if (a >= 10) return Math.min(1, max);
  return max;
}

/** A plain number in the language's style. */
export function formatNumber(lang: ReportLang, value: number, digits = autoDigits(value)): string {
  return numberFormat(lang, digits).format(value);
}

/** A figure with its unit (`12,345 kWh`, `98.5%`); `fallback` when there is none. */
export function formatFigure(lang: ReportLang, f: ReportFigure | null | undefined, options: { digits?: number; fallback?: string; signed?: boolean } = {}): string {
  if (!f) return options.fallback ?? '–';
  const digits = options.digits ?? autoDigits(f.value, f.unit === '%' ? 1 : 2);
  const text = formatNumber(lang, f.value, digits);
  const sign = options.signed && f.value > 0 ? '+' : '';
  if (f.unit === '%') return `${sign}${text}%`;
  return `${sign}${text}\u00a0${f.unit}`;
}

const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

function dateTimeFormat(lang: ReportLang, timeZone: string, style: 'date' | 'dateTime' | 'month' | 'shortDateTime'): Intl.DateTimeFormat {
  const key = `${lang}|${timeZone}|${style}`;
  let f = dateTimeFormats.get(key);
  if (!f) {
    const options: Intl.DateTimeFormatOptions =
      style === 'date'
        ? { timeZone, year: 'numeric', month: 'short', day: 'numeric' }
        : style === 'month'
          ? { timeZone, year: 'numeric', month: 'long' }
          : style === 'shortDateTime'
            ? { timeZone, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }
            : { timeZone, year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
    f = new Intl.DateTimeFormat(lang, options);
    dateTimeFormats.set(key, f);
  }
  return f;
}

/** A local date and time of an instant (ISO string or epoch ms). */
export function formatDateTime(lang: ReportLang, at: string | number, timeZone: string, short = false): string {
  return dateTimeFormat(lang, timeZone, short ? 'shortDateTime' : 'dateTime').format(new Date(at));
}

/** A local date of an instant, or of a local date `YYYY-MM-DD` (taken at noon UTC, so any zone keeps the day). */
export function formatDate(lang: ReportLang, at: string | number, timeZone: string): string {
  if (typeof at === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(at)) return dateTimeFormat(lang, 'UTC', 'date').format(new Date(`${at}T12:00:00Z`));
  return dateTimeFormat(lang, timeZone, 'date').format(new Date(at));
}

/** A calendar month `YYYY-MM` as words: `November 2026`, `2026年11月`. */
export function formatMonth(lang: ReportLang, month: string): string {
  return dateTimeFormat(lang, 'UTC', 'month').format(new Date(`${month}-15T12:00:00Z`));
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
