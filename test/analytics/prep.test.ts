import { describe, expect, it } from 'vitest';
import {
  billingRows,
  checkBillingSufficiency,
  checkDailySufficiency,
  checkHourlySufficiency,
  createZone,
  dailyRows,
  hourlyRows,
  hourlyTemperatures,
  nextDate,
  periodsFromReads,
  type DailyRow,
  type UsageInterval,
} from '@wattproof/analytics';
import { sampleDailyFile, sampleDailyRows, SAMPLE_TIME_ZONE } from '../../analytics/scripts/caltrack-samples.js';

const HOUR = 3_600_000;
const CHICAGO = 'America/Chicago';
const zone = createZone(CHICAGO);

/** Hourly intervals of `value` from local midnight of `first` to local midnight after `last`. */
function hourlyUsage(first: string, last: string, value: (t: number) => number | null): UsageInterval[] {
  const out: UsageInterval[] = [];
  for (let t = zone.startOfDay(first); t < zone.startOfDay(nextDate(last)); t += HOUR) out.push({ start: t, end: t + HOUR, value: value(t) });
  return out;
}

/** Hourly temperatures equal to the local hour of day. */
function temperaturesByLocalHour(first: string, last: string) {
  const readings = [];
  for (let t = zone.startOfDay(first) - 24 * HOUR; t < zone.startOfDay(nextDate(last)) + 24 * HOUR; t += HOUR) readings.push({ time: t, value: zone.parts(t).hour });
  return hourlyTemperatures(readings);
}

describe('local time (America/Chicago)', () => {
  it('knows the 23- and 25-hour days', () => {
    expect((zone.startOfDay('2016-03-14') - zone.startOfDay('2016-03-13')) / HOUR).toBe(23);
    expect((zone.startOfDay('2016-11-07') - zone.startOfDay('2016-11-06')) / HOUR).toBe(25);
    expect(zone.startOfDay('2016-07-01')).toBe(Date.parse('2016-07-01T00:00:00-05:00'));
    expect(zone.date(Date.parse('2016-07-01T04:59:00Z'))).toBe('2016-06-30');
  });
});

describe('hourlyTemperatures', () => {
  const t0 = Date.UTC(2020, 0, 1);
  const reading = (h: number, value: number | null) => ({ time: t0 + h * HOUR, value });

  it('interpolates gaps of up to 6 hours linearly (CalTRACK 2.2.4.1)', () => {
    const s = hourlyTemperatures([reading(0, 0), reading(7, 70)]);
    expect(s.values).toHaveLength(8);
    expect(s.values.map((v) => Math.round(v! * 1e9) / 1e9)).toEqual([0, 10, 20, 30, 40, 50, 60, 70]);
  });

  it('leaves gaps of 7 hours and more missing', () => {
    const s = hourlyTemperatures([reading(0, 0), reading(8, 80)]);
    expect(s.values.slice(1, 8).every((v) => v === null)).toBe(true);
    expect(s.values[8]).toBe(80);
  });

  it('averages sub-hourly readings per hour and ignores nulls', () => {
    const s = hourlyTemperatures([reading(0, 10), { time: t0 + HOUR / 2, value: 20 }, reading(1, null), reading(2, 30)]);
    expect(s.values[0]).toBe(15);
    expect(s.values[1]).toBeCloseTo(22.5, 12);
    expect(s.values[2]).toBe(30);
  });
});

describe('dailyRows', () => {
  it('scales 23- and 25-hour days to 24 hours and averages all their hours (DST in Chicago)', () => {
    const temps = temperaturesByLocalHour('2016-03-12', '2016-11-07');
    const rows = dailyRows(hourlyUsage('2016-03-12', '2016-11-07', () => 1), temps, { timeZone: CHICAGO, fuel: 'electricity' });
    const byDate = new Map(rows.map((r) => [r.date, r]));
    const spring = byDate.get('2016-03-13')!;
    const fall = byDate.get('2016-11-06')!;
    const normal = byDate.get('2016-03-12')!;
    expect([spring.hours, fall.hours, normal.hours]).toEqual([23, 25, 24]);
    for (const r of [spring, fall, normal]) {
      expect(r.coverage).toBe(1);
      expect(r.usage).toBeCloseTo(24, 12);
    }
    // Local hours of the spring day: 0, 1, 3..23 (2 o'clock does not exist); of the fall day 0, 1, 1, 2..23.
    const springHours = [0, 1, ...Array.from({ length: 21 }, (_, i) => i + 3)];
    const fallHours = [0, 1, 1, ...Array.from({ length: 22 }, (_, i) => i + 2)];
    expect(spring.temperature).toBeCloseTo(springHours.reduce((a, b) => a + b) / 23, 12);
    expect(fall.temperature).toBeCloseTo(fallHours.reduce((a, b) => a + b) / 25, 12);
    expect(normal.temperature).toBeCloseTo(11.5, 12);
  });

  it('keeps a day with 50 % of its intervals, scaled by coverage (CalTRACK 2.2.2.1), and drops one with less', () => {
    const temps = temperaturesByLocalHour('2016-07-01', '2016-07-02');
    const start1 = zone.startOfDay('2016-07-01');
    const start2 = zone.startOfDay('2016-07-02');
    const usage = hourlyUsage('2016-07-01', '2016-07-02', (t) => {
      const h = (t - (t < start2 ? start1 : start2)) / HOUR;
      if (t < start2) return h < 12 ? 2 : null; // day 1: 12 of 24 present
      return h < 11 ? 2 : null; // day 2: 11 of 24 present
    });
    const [d1, d2] = dailyRows(usage, temps, { timeZone: CHICAGO, fuel: 'electricity' });
    expect(d1!.coverage).toBe(0.5);
    expect(d1!.usage).toBeCloseTo(48, 12);
    expect(d2!.coverage).toBeCloseTo(11 / 24, 12);
    expect(d2!.usage).toBeNull();
  });

  it('treats electricity zeros as missing and gas zeros as real (CalTRACK 2.2.1.4)', () => {
    const temps = temperaturesByLocalHour('2016-07-01', '2016-07-01');
    const usage = hourlyUsage('2016-07-01', '2016-07-01', (t) => (zone.parts(t).hour < 6 ? 0 : 1));
    const [elec] = dailyRows(usage, temps, { timeZone: CHICAGO, fuel: 'electricity' });
    const [gas] = dailyRows(usage, temps, { timeZone: CHICAGO, fuel: 'gas' });
    expect(elec!.coverage).toBe(0.75);
    expect(elec!.usage).toBeCloseTo(24, 12);
    expect(gas!.coverage).toBe(1);
    expect(gas!.usage).toBeCloseTo(18, 12);
  });

  it('flags negative readings', () => {
    const temps = temperaturesByLocalHour('2016-07-01', '2016-07-01');
    const usage = hourlyUsage('2016-07-01', '2016-07-01', (t) => (zone.parts(t).hour === 12 ? -3 : 1));
    const [d] = dailyRows(usage, temps, { timeZone: CHICAGO, fuel: 'electricity' });
    expect(d!.negative).toBe(true);
    expect(d!.usage).toBeCloseTo(20, 12);
  });

  it('splits an interval that crosses midnight pro rata', () => {
    const temps = temperaturesByLocalHour('2016-07-01', '2016-07-02');
    const mid = zone.startOfDay('2016-07-02');
    const rows = dailyRows(
      [
        { start: zone.startOfDay('2016-07-01'), end: mid - 6 * HOUR, value: 18 },
        { start: mid - 6 * HOUR, end: mid + 18 * HOUR, value: 24 },
        { start: mid + 18 * HOUR, end: mid + 24 * HOUR, value: 6 },
      ],
      temps,
      { timeZone: CHICAGO, fuel: 'electricity' },
    );
    expect(rows.map((r) => r.usage)).toEqual([24, 24]);
  });

  it('needs half of the hours for a day temperature (CalTRACK 2.2.2.3)', () => {
    const start = zone.startOfDay('2016-07-01');
    const temps = hourlyTemperatures(
      Array.from({ length: 24 }, (_, h) => ({ time: start + h * HOUR, value: h < 11 ? 20 : null })),
      { start, end: start + 24 * HOUR, maxGapHours: 0 },
    );
    const [d] = dailyRows(hourlyUsage('2016-07-01', '2016-07-01', () => 1), temps, { timeZone: CHICAGO, fuel: 'electricity' });
    expect(d!.temperatureCoverage).toBeCloseTo(11 / 24, 12);
    expect(d!.temperature).toBeNull();
  });

  it('reproduces the sample files: day means of the hourly temperature, usage scaled to 24 h', () => {
    const file = sampleDailyFile('il-electricity-cdd-hdd', 'baseline');
    const rows = sampleDailyRows('il-electricity-cdd-hdd', 'electricity', 'baseline');
    expect(rows).toHaveLength(365);
    rows.forEach((r, i) => {
      expect(r.date).toBe(file[i]!.date);
      expect(r.temperature).toBeCloseTo(file[i]!.temperature, 6);
      expect(r.usage).toBeCloseTo((file[i]!.observed * 24) / r.hours, 9);
    });
    const fall = rows.find((r) => r.date === '2016-11-06')!;
    expect(fall.hours).toBe(25);
    expect(fall.usage).toBeCloseTo((18.52 * 24) / 25, 12);
    expect(SAMPLE_TIME_ZONE).toBe(CHICAGO);
  });
});

describe('hourlyRows', () => {
  it('gives local month and hour of week (Monday 00:00 = 0) across DST', () => {
    const temps = temperaturesByLocalHour('2016-03-12', '2016-03-14');
    const rows = hourlyRows(hourlyUsage('2016-03-12', '2016-03-14', () => 1), temps, { timeZone: CHICAGO, fuel: 'electricity' });
    expect(rows).toHaveLength(24 + 23 + 24);
    const monday = rows.find((r) => r.start === zone.startOfDay('2016-03-14'))!;
    expect(monday.hourOfWeek).toBe(0);
    expect(monday.month).toBe(3);
    expect(rows[0]!.hourOfWeek).toBe(5 * 24); // Saturday 00:00
    expect(rows.every((r) => r.usage === 1)).toBe(true);
    expect(monday.temperature).toBe(0);
  });

  it('sums 15-minute data to hours and treats electricity zeros as missing', () => {
    const start = zone.startOfDay('2016-07-01');
    const q = 15 * 60_000;
    const usage = Array.from({ length: 8 }, (_, i) => ({ start: start + i * q, end: start + (i + 1) * q, value: i === 1 ? 0 : 0.25 }));
    const temps = temperaturesByLocalHour('2016-07-01', '2016-07-01');
    const rows = hourlyRows(usage, temps, { timeZone: CHICAGO, fuel: 'electricity', start, end: start + 2 * HOUR });
    expect(rows[0]!.usage).toBeCloseTo(1, 12); // 3 of 4 quarters, scaled by coverage
    expect(rows[1]!.usage).toBeCloseTo(1, 12);
  });
});

describe('billingRows', () => {
  it('splits a period into 24-hour days from its start and measures temperature coverage', () => {
    const start = Date.UTC(2016, 0, 1, 6);
    const end = start + 30 * 24 * HOUR;
    const readings = Array.from({ length: 30 * 24 }, (_, h) => ({ time: start + h * HOUR, value: h < 24 ? 10 : h >= 29 * 24 + 20 ? null : 20 }));
    const temps = hourlyTemperatures(readings, { start, end, maxGapHours: 0 });
    const [row] = billingRows([{ start, end, value: 300 }], temps, { fuel: 'electricity' });
    expect(row!.days).toBe(30);
    expect(row!.dailyTemperatures).toHaveLength(30);
    expect(row!.dailyTemperatures[0]).toBe(10);
    expect(row!.dailyTemperatures[29]).toBe(20); // 20 of 24 hours present: enough (≥ 12)
    expect(row!.temperatureCoverage).toBeCloseTo((30 * 24 - 4) / (30 * 24), 12);
  });

  it('builds periods from read dates and treats a zero electricity bill as missing', () => {
    const reads = [0, 30, 61].map((d) => Date.UTC(2016, 0, 1) + d * 24 * HOUR);
    const periods = periodsFromReads(reads, [0, 5]);
    expect(periods.map((p) => p.value)).toEqual([0, 5]);
    const temps = hourlyTemperatures([{ time: reads[0]!, value: 1 }], { start: reads[0]!, end: reads[2]! });
    const rows = billingRows(periods, temps, { fuel: 'electricity' });
    expect(rows[0]!.usage).toBeNull();
    expect(billingRows(periods, temps, { fuel: 'gas' })[0]!.usage).toBe(0);
  });
});

describe('sufficiency', () => {
  const year = (mutate: (r: DailyRow, i: number) => DailyRow = (r) => r): DailyRow[] => {
    const rows: DailyRow[] = [];
    let d = '2016-01-01';
    for (let i = 0; i < 365; i++, d = nextDate(d)) {
      const start = zone.startOfDay(d);
      const end = zone.startOfDay(nextDate(d));
      rows.push(mutate({ date: d, start, end, hours: (end - start) / HOUR, usage: 10 + (i % 7), coverage: 1, temperature: 50, temperatureCoverage: 1 }, i));
    }
    return rows;
  };

  it('passes a complete year', () => {
    expect(checkDailySufficiency(year())).toEqual({ warnings: [], disqualifications: [] });
    expect(checkDailySufficiency(year().slice(0, 90), { requiredDays: 0 }).disqualifications).toEqual([]);
  });

  it('disqualifies more than 37 missing days and shows the counts', () => {
    const r = checkDailySufficiency(year((row, i) => (i < 38 ? { ...row, usage: null } : row)));
    const f = r.disqualifications.find((d) => d.code === 'mv.sufficiency.too_many_days_missing');
    expect(f?.data).toMatchObject({ nDays: 365, nValidDays: 327, nMissingDays: 38, nMissingUsage: 38, maxMissingDays: 37 });
    expect(checkDailySufficiency(year((row, i) => (i < 37 ? { ...row, usage: null } : row))).disqualifications).toEqual(
      expect.not.arrayContaining([expect.objectContaining({ code: 'mv.sufficiency.too_many_days_missing' })]),
    );
  });

  it('disqualifies a short baseline and a month with < 90 % temperature hours', () => {
    const rows = year((row) => (row.date >= '2016-02-01' && row.date <= '2016-02-04' ? { ...row, temperature: null, temperatureCoverage: 0 } : row));
    const r = checkDailySufficiency(rows.slice(0, 300));
    expect(r.disqualifications.map((d) => d.code)).toEqual(['mv.sufficiency.baseline_too_short', 'mv.sufficiency.insufficient_temperature_coverage']);
    const months = (r.disqualifications[1]!.data as { months: { month: string; coverage: number }[] }).months;
    expect(months).toEqual([{ month: '2016-02', coverage: expect.closeTo(25 / 29, 9) }]);
  });

  it('warns about extreme (> median + 3·IQR) and negative values', () => {
    const r = checkDailySufficiency(year((row, i) => (i === 100 ? { ...row, usage: 1000 } : i === 5 ? { ...row, usage: -2, negative: true } : row)));
    expect(r.disqualifications).toEqual([]);
    expect(r.warnings.map((w) => w.code)).toEqual(['mv.sufficiency.extreme_values', 'mv.sufficiency.negative_values']);
    expect(r.warnings[0]!.data).toMatchObject({ nExtremeValues: 1, median: 13 });
  });

  it('reports unusable billing periods and missing billing days', () => {
    const t0 = Date.UTC(2016, 0, 1);
    const day = 24 * HOUR;
    const mk = (s: number, days: number, coverage = 1) => ({ start: t0 + s * day, end: t0 + (s + days) * day, days, usage: 300, dailyTemperatures: Array(days).fill(50), temperatureCoverage: coverage });
    const rows = [mk(0, 31), mk(31, 20), mk(51, 40), mk(91, 30, 0.8), ...Array.from({ length: 8 }, (_, i) => mk(121 + i * 30, 30))];
    const r = checkBillingSufficiency(rows);
    expect(r.warnings[0]!.code).toBe('mv.sufficiency.billing_period_unusable');
    expect((r.warnings[0]!.data as { periods: { problem: string }[] }).periods.map((p) => p.problem)).toEqual([
      'period_too_short',
      'period_too_long',
      'insufficient_temperature_coverage',
    ]);
    expect(r.disqualifications[0]).toMatchObject({ code: 'mv.sufficiency.too_many_days_missing', data: { validDays: 271 } });
  });

  it('checks hourly usage coverage per calendar month', () => {
    const start = zone.startOfDay('2016-01-01');
    const rows = Array.from({ length: 24 * 60 }, (_, h) => ({ start: start + h * HOUR, usage: h % 20 === 0 && h < 24 * 31 ? null : 1, temperature: 5, month: h < 24 * 31 ? 1 : 2, hourOfWeek: 0 }));
    const r = checkHourlySufficiency(rows);
    expect(r.disqualifications).toHaveLength(0);
    const poor = checkHourlySufficiency(rows.map((x) => (x.month === 2 && x.start % (5 * HOUR) === 0 ? { ...x, usage: null } : x)));
    expect(poor.disqualifications[0]).toMatchObject({ code: 'mv.sufficiency.hourly_usage_coverage_too_low', data: { months: [{ month: 2 }] } });
  });
});
