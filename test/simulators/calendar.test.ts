import { describe, expect, it } from 'vitest';
import { CN_HOLIDAY_CALENDAR, calendarCoverage, dayInfo, dayNumberOf, dayType, localDateOf, localDayNumber, localMidnightMs, lunarNewYear, type Festival } from '../../simulators/src/calendar.js';

const FESTIVALS: Festival[] = ['new_year', 'spring_festival', 'qingming', 'labour_day', 'dragon_boat', 'mid_autumn', 'national_day'];

describe('Chinese holiday calendar (Asia/Shanghai)', () => {
  it('knows the Spring Festival 2025 and its make-up working days', () => {
    // 国办发明电〔2024〕12号: 1月28日至2月4日放假调休，1月26日（周日）、2月8日（周六）上班。
    for (let d = dayNumberOf('2025-01-28'); d <= dayNumberOf('2025-02-04'); d++) {
      expect(dayType(localDateOf(d)), localDateOf(d)).toBe('holiday');
      expect(dayInfo(d).festival).toBe('spring_festival');
    }
    expect(dayType('2025-01-26')).toBe('workday'); // a Sunday
    expect(dayInfo(dayNumberOf('2025-01-26')).weekday).toBe(0);
    expect(dayInfo(dayNumberOf('2025-01-26')).makeUpWorkday).toBe(true);
    expect(dayType('2025-02-08')).toBe('workday'); // a Saturday
    expect(dayType('2025-01-27')).toBe('workday');
    expect(dayType('2025-02-05')).toBe('workday');
    expect(dayType('2025-02-09')).toBe('weekend');
    expect(dayType('2025-01-25')).toBe('weekend');
  });

  it('knows the other 2025 breaks (two extra statutory days from 2025)', () => {
    expect(dayType('2025-01-01')).toBe('holiday');
    expect(dayType('2025-04-04')).toBe('holiday');
    expect(dayType('2025-04-27')).toBe('workday'); // Sunday before Labour Day
    expect(dayType('2025-05-05')).toBe('holiday');
    expect(dayType('2025-05-31')).toBe('holiday'); // Dragon Boat, a Saturday inside the break
    expect(dayType('2025-06-02')).toBe('holiday');
    expect(dayType('2025-09-28')).toBe('workday'); // Sunday
    expect(dayType('2025-10-08')).toBe('holiday'); // National Day + Mid-Autumn, 8 days
    expect(dayType('2025-10-11')).toBe('workday'); // Saturday
    let holidays = 0;
    for (let d = dayNumberOf('2025-01-01'); d <= dayNumberOf('2025-12-31'); d++) if (dayType(localDateOf(d)) === 'holiday') holidays++;
    expect(holidays).toBe(1 + 8 + 3 + 5 + 3 + 8);
  });

  it('knows 2024 and 2026 including the adjusted Sundays and Saturdays', () => {
    expect(dayType('2024-02-04')).toBe('workday'); // Sunday
    expect(dayType('2024-02-18')).toBe('workday'); // Sunday
    expect(dayType('2024-02-10')).toBe('holiday');
    expect(dayType('2024-02-17')).toBe('holiday');
    expect(dayType('2024-02-09')).toBe('workday'); // New Year's Eve 2024 was a working day
    expect(dayType('2024-04-07')).toBe('workday');
    expect(dayType('2024-05-11')).toBe('workday');
    expect(dayType('2024-06-10')).toBe('holiday');
    expect(dayType('2024-09-14')).toBe('workday');
    expect(dayType('2024-10-12')).toBe('workday');
    expect(dayType('2026-01-04')).toBe('workday'); // Sunday
    expect(dayType('2026-02-14')).toBe('workday'); // Saturday
    expect(dayType('2026-02-15')).toBe('holiday');
    expect(dayType('2026-02-23')).toBe('holiday');
    expect(dayType('2026-02-24')).toBe('workday');
    expect(dayType('2026-02-28')).toBe('workday'); // Saturday
    expect(dayType('2026-05-09')).toBe('workday');
    expect(dayType('2026-09-20')).toBe('workday');
    expect(dayType('2026-10-07')).toBe('holiday');
    expect(dayType('2026-10-10')).toBe('workday');
    expect(dayType('2026-11-28')).toBe('weekend');
    expect(dayType('2026-11-30')).toBe('workday');
  });

  it('uses the statutory dates for 2027 and says so', () => {
    expect(calendarCoverage(2027)).toBe('statutory_only');
    expect(CN_HOLIDAY_CALENDAR[2027]!.source).toMatch(/statutory/);
    for (const d of ['2027-01-01', '2027-02-05', '2027-02-08', '2027-04-05', '2027-05-01', '2027-05-02', '2027-06-09', '2027-09-15', '2027-10-01', '2027-10-03']) {
      expect(dayType(d), d).toBe('holiday');
    }
    expect(dayType('2027-10-04')).toBe('workday');
    expect(dayType('2027-02-13')).toBe('weekend');
  });

  it('falls back to the fixed-date statutory holidays outside the table', () => {
    expect(calendarCoverage(2031)).toBe('fixed_dates_only');
    expect(dayType('2031-10-02')).toBe('holiday');
    expect(dayType('2031-05-02')).toBe('holiday');
    expect(dayType('2031-10-06')).toBe('workday');
    expect(lunarNewYear(2031)).toBeUndefined();
  });

  it('has a consistent table: every year cites its source, make-up days fall on weekends, all festivals present', () => {
    for (const y of Object.values(CN_HOLIDAY_CALENDAR)) {
      expect(y.source.length).toBeGreaterThan(10);
      for (const w of y.makeUpWorkdays) expect([0, 6], w).toContain(dayInfo(dayNumberOf(w)).weekday);
      const festivals = new Set(y.breaks.flatMap((b) => b.festivals));
      for (const f of FESTIVALS) expect(festivals.has(f), `${y.year} ${f}`).toBe(true);
      for (const b of y.breaks) expect(dayNumberOf(b.to)).toBeGreaterThanOrEqual(dayNumberOf(b.from));
      // The Spring Festival break contains New Year's Eve or New Year's Day.
      const sf = y.breaks.find((b) => b.festivals.includes('spring_festival'))!;
      const lny = dayNumberOf(y.lunarNewYear);
      expect(lny).toBeGreaterThanOrEqual(dayNumberOf(sf.from) - 1);
      expect(lny).toBeLessThanOrEqual(dayNumberOf(sf.to));
    }
  });

  it('maps instants to local days in UTC+8', () => {
    const ms = Date.parse('2025-01-27T16:00:00Z'); // 2025-01-28 00:00 local
    expect(localDateOf(localDayNumber(ms))).toBe('2025-01-28');
    expect(localDateOf(localDayNumber(ms - 1))).toBe('2025-01-27');
    expect(localMidnightMs('2025-01-28')).toBe(ms);
    expect(() => dayType('2025-02-30')).toThrow(RangeError);
    expect(() => dayType('20250101')).toThrow(RangeError);
  });
});
