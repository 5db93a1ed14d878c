/**
 * Chinese public holidays and adjusted working days (调休) for the building model, in local dates
 * of Asia/Shanghai (UTC+8, no daylight saving time).
 *
 * The table below transcribes, for each year, the notice of the General Office of the State
 * Council (国务院办公厅关于 YYYY 年部分节假日安排的通知). A day inside an announced break counts as
 * a holiday even when it is a Saturday or Sunday (the break is one block of closed offices); a
 * make-up working day (调休上班) on a weekend counts as a workday. Years without a notice in the
 * table fall back to the statutory festival dates (2027) or, further out, to the fixed-date
 * statutory holidays only (see {@link calendarCoverage}).
 */

/** Kind of a local day for occupancy schedules. */
export type DayType = 'workday' | 'weekend' | 'holiday';

/** The statutory festivals (全国年节及纪念日放假办法, art. 2). */
export type Festival = 'new_year' | 'spring_festival' | 'qingming' | 'labour_day' | 'dragon_boat' | 'mid_autumn' | 'national_day';

/** One announced break: every local date from `from` to `to` (inclusive) is a holiday. */
export interface HolidayBreak {
  /** Festivals of the break (2023 and 2025 merge Mid-Autumn into the National Day week). */
  readonly festivals: readonly Festival[];
  /** First local date, YYYY-MM-DD. */
  readonly from: string;
  /** Last local date, YYYY-MM-DD (inclusive). */
  readonly to: string;
}

/** The holiday arrangement of one calendar year and where it comes from. */
export interface HolidayYear {
  readonly year: number;
  /**
   * `official`: transcribed from the State Council General Office notice for the year;
   * `statutory_only`: the statutory festival dates of the national holiday measures, without the
   * weekend swaps the (unknown) notice will add.
   */
  readonly status: 'official' | 'statutory_only';
  /** Citation of the source. */
  readonly source: string;
  readonly breaks: readonly HolidayBreak[];
  /** Weekend dates that are working days (调休上班), YYYY-MM-DD. */
  readonly makeUpWorkdays: readonly string[];
  /** Lunar New Year's Day (正月初一) as a local Gregorian date, used for school winter vacations. */
  readonly lunarNewYear: string;
}

/** How well the calendar knows a year. */
export type CalendarCoverage = 'official' | 'statutory_only' | 'fixed_dates_only';

/** Holiday arrangements by year (Asia/Shanghai local dates). */
export const CN_HOLIDAY_CALENDAR: Readonly<Record<number, HolidayYear>> = Object.freeze({
  2023: {
    year: 2023,
    status: 'official',
    source: '国务院办公厅关于2023年部分节假日安排的通知, 国办发明电〔2022〕16号, 2022-12-08',
    breaks: [
      { festivals: ['new_year'], from: '2022-12-31', to: '2023-01-02' },
      { festivals: ['spring_festival'], from: '2023-01-21', to: '2023-01-27' },
      { festivals: ['qingming'], from: '2023-04-05', to: '2023-04-05' },
      { festivals: ['labour_day'], from: '2023-04-29', to: '2023-05-03' },
      { festivals: ['dragon_boat'], from: '2023-06-22', to: '2023-06-24' },
      { festivals: ['mid_autumn', 'national_day'], from: '2023-09-29', to: '2023-10-06' },
    ],
    makeUpWorkdays: ['2023-01-28', '2023-01-29', '2023-04-23', '2023-05-06', '2023-06-25', '2023-10-07', '2023-10-08'],
    lunarNewYear: '2023-01-22',
  },
  2024: {
    year: 2024,
    status: 'official',
    source: '国务院办公厅关于2024年部分节假日安排的通知, 2023-10-25',
    breaks: [
      // "1月1日放假，与周末连休" / "6月10日放假，与周末连休": the adjoining weekend is part of the break.
      { festivals: ['new_year'], from: '2023-12-30', to: '2024-01-01' },
      { festivals: ['spring_festival'], from: '2024-02-10', to: '2024-02-17' },
      { festivals: ['qingming'], from: '2024-04-04', to: '2024-04-06' },
      { festivals: ['labour_day'], from: '2024-05-01', to: '2024-05-05' },
      { festivals: ['dragon_boat'], from: '2024-06-08', to: '2024-06-10' },
      { festivals: ['mid_autumn'], from: '2024-09-15', to: '2024-09-17' },
      { festivals: ['national_day'], from: '2024-10-01', to: '2024-10-07' },
    ],
    makeUpWorkdays: ['2024-02-04', '2024-02-18', '2024-04-07', '2024-04-28', '2024-05-11', '2024-09-14', '2024-09-29', '2024-10-12'],
    lunarNewYear: '2024-02-10',
  },
  2025: {
    year: 2025,
    status: 'official',
    source: '国务院办公厅关于2025年部分节假日安排的通知, 国办发明电〔2024〕12号, 2024-11-12',
    breaks: [
      { festivals: ['new_year'], from: '2025-01-01', to: '2025-01-01' },
      { festivals: ['spring_festival'], from: '2025-01-28', to: '2025-02-04' },
      { festivals: ['qingming'], from: '2025-04-04', to: '2025-04-06' },
      { festivals: ['labour_day'], from: '2025-05-01', to: '2025-05-05' },
      { festivals: ['dragon_boat'], from: '2025-05-31', to: '2025-06-02' },
      { festivals: ['national_day', 'mid_autumn'], from: '2025-10-01', to: '2025-10-08' },
    ],
    makeUpWorkdays: ['2025-01-26', '2025-02-08', '2025-04-27', '2025-09-28', '2025-10-11'],
    lunarNewYear: '2025-01-29',
  },
  2026: {
    year: 2026,
    status: 'official',
    source: '国务院办公厅关于2026年部分节假日安排的通知, 2025-11-04',
    breaks: [
      { festivals: ['new_year'], from: '2026-01-01', to: '2026-01-03' },
      { festivals: ['spring_festival'], from: '2026-02-15', to: '2026-02-23' },
      { festivals: ['qingming'], from: '2026-04-04', to: '2026-04-06' },
      { festivals: ['labour_day'], from: '2026-05-01', to: '2026-05-05' },
      { festivals: ['dragon_boat'], from: '2026-06-19', to: '2026-06-21' },
      { festivals: ['mid_autumn'], from: '2026-09-25', to: '2026-09-27' },
      { festivals: ['national_day'], from: '2026-10-01', to: '2026-10-07' },
    ],
    makeUpWorkdays: ['2026-01-04', '2026-02-14', '2026-02-28', '2026-05-09', '2026-09-20', '2026-10-10'],
    lunarNewYear: '2026-02-17',
  },
  2027: {
    year: 2027,
    status: 'statutory_only',
    // The 2027 notice was not available when this table was written: these are the statutory
    // festival days alone (除夕 to 初三 for the Spring Festival, May 1-2, Oct 1-3), without the
    // weekend swaps and bridge days the notice will add. Replace with the notice when published.
    source:
      '全国年节及纪念日放假办法 (revised 2024-11, in force 2025-01-01), art. 2: statutory festival dates only; ' +
      'the State Council General Office notice for 2027 (adjusted working days) not transcribed',
    breaks: [
      { festivals: ['new_year'], from: '2027-01-01', to: '2027-01-01' },
      { festivals: ['spring_festival'], from: '2027-02-05', to: '2027-02-08' },
      { festivals: ['qingming'], from: '2027-04-05', to: '2027-04-05' },
      { festivals: ['labour_day'], from: '2027-05-01', to: '2027-05-02' },
      { festivals: ['dragon_boat'], from: '2027-06-09', to: '2027-06-09' },
      { festivals: ['mid_autumn'], from: '2027-09-15', to: '2027-09-15' },
      { festivals: ['national_day'], from: '2027-10-01', to: '2027-10-03' },
    ],
    makeUpWorkdays: [],
    lunarNewYear: '2027-02-06',
  },
} satisfies Record<number, HolidayYear>);

const DAY_MS = 86_400_000;
/** Asia/Shanghai is UTC+8 all year (no DST since 1991). */
export const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/** Local day number (days since 1970-01-01 in UTC+8) of an instant, epoch ms. */
export function localDayNumber(epochMs: number): number {
  return Math.floor((epochMs + SHANGHAI_OFFSET_MS) / DAY_MS);
}

/** Day number of a local date YYYY-MM-DD. @throws RangeError when the date is malformed. */
export function dayNumberOf(localDate: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(localDate);
  if (!m) throw new RangeError(`not a local date YYYY-MM-DD: ${localDate}`);
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const ms = Date.UTC(y, mo - 1, d);
  const check = new Date(ms);
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) throw new RangeError(`no such date: ${localDate}`);
  return ms / DAY_MS;
}

/** Local date YYYY-MM-DD of a day number. */
export function localDateOf(dayNumber: number): string {
  return new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
}

/** Epoch ms of local midnight (00:00 Asia/Shanghai) starting a local date. */
export function localMidnightMs(localDate: string): number {
  return dayNumberOf(localDate) * DAY_MS - SHANGHAI_OFFSET_MS;
}

/** Everything the building model needs to know about one local day. */
export interface DayInfo {
  readonly dayNumber: number;
  /** YYYY-MM-DD. */
  readonly date: string;
  readonly year: number;
  /** 1..12. */
  readonly month: number;
  /** 1..31. */
  readonly day: number;
  /** 0 = Sunday … 6 = Saturday. */
  readonly weekday: number;
  readonly dayType: DayType;
  /** The festival of the break the day belongs to, if any (first one for merged breaks). */
  readonly festival?: Festival;
  /** A weekend day worked in exchange for a holiday. */
  readonly makeUpWorkday: boolean;
  readonly coverage: CalendarCoverage;
}

const holidayDays = new Map<number, Festival>();
const makeUpDays = new Set<number>();
for (const y of Object.values(CN_HOLIDAY_CALENDAR)) {
  for (const b of y.breaks) {
    for (let d = dayNumberOf(b.from); d <= dayNumberOf(b.to); d++) holidayDays.set(d, b.festivals[0]!);
  }
  for (const w of y.makeUpWorkdays) makeUpDays.add(dayNumberOf(w));
}

/** Which kind of source the calendar has for a year. */
export function calendarCoverage(year: number): CalendarCoverage {
  const y = CN_HOLIDAY_CALENDAR[year];
  return y ? y.status : 'fixed_dates_only';
}

// Outside the table only the fixed-date statutory days are known (lunar festivals need the notice).
function fixedDateFestival(month: number, day: number): Festival | undefined {
  if (month === 1 && day === 1) return 'new_year';
  if (month === 5 && day <= 2) return 'labour_day';
  if (month === 10 && day <= 3) return 'national_day';
  return undefined;
}

const infoCache = new Map<number, DayInfo>();

/** Day information for a local day number (cached; cheap in hot loops). */
export function dayInfo(dayNumber: number): DayInfo {
  const hit = infoCache.get(dayNumber);
  if (hit) return hit;
  const date = new Date(dayNumber * DAY_MS);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth() + 1;
  const day = date.getUTCDate();
  const weekday = date.getUTCDay();
  const coverage = calendarCoverage(year);
  // A break may start in the previous year (New Year 2024 from 2023-12-30): look the day up first.
  let festival: Festival | undefined = holidayDays.get(dayNumber);
  if (festival === undefined && coverage === 'fixed_dates_only') festival = fixedDateFestival(month, day);
  const makeUpWorkday = makeUpDays.has(dayNumber);
  const weekend = weekday === 0 || weekday === 6;
  const dayType: DayType = festival !== undefined ? 'holiday' : makeUpWorkday || !weekend ? 'workday' : 'weekend';
  const info: DayInfo = Object.freeze({
    dayNumber,
    date: date.toISOString().slice(0, 10),
    year,
    month,
    day,
    weekday,
    dayType,
    ...(festival !== undefined ? { festival } : {}),
    makeUpWorkday,
    coverage,
  });
  if (infoCache.size > 20_000) infoCache.clear();
  infoCache.set(dayNumber, info);
  return info;
}

/**
 * Kind of a local date in Asia/Shanghai: `holiday` inside an announced break, `workday` on
 * Monday–Friday and on make-up working days, `weekend` otherwise.
 * @param localDate YYYY-MM-DD (local date in Asia/Shanghai).
 * @throws RangeError when the date is malformed.
 */
export function dayType(localDate: string): DayType {
  return dayInfo(dayNumberOf(localDate)).dayType;
}

/**
 * Lunar New Year's Day (正月初一) of a Gregorian year as a local date, or undefined when the year
 * is not in {@link CN_HOLIDAY_CALENDAR}.
 */
export function lunarNewYear(year: number): string | undefined {
  return CN_HOLIDAY_CALENDAR[year]?.lunarNewYear;
}
