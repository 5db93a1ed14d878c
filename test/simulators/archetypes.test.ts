import { describe, expect, it } from 'vitest';
import { ARCHETYPE_DEFS } from '../../simulators/src/archetypes.js';
import { createBuildingModel, type BuildingModel } from '../../simulators/src/building.js';
import { localMidnightMs } from '../../simulators/src/calendar.js';
import { ARCHETYPES, type ArchetypeId } from '../../simulators/src/types.js';
import { chongqingTypicalYear } from '../../simulators/src/weather.js';

const HOUR = 3_600_000;
const weather = chongqingTypicalYear();
const AREA = 10_000;

function model(archetype: ArchetypeId, seed = 1): BuildingModel {
  return createBuildingModel({ id: `t-${archetype}`, archetype, floorAreaM2: AREA, seed }, weather);
}

/** Main-meter energy of local day `date`, kWh. */
function dayKwh(m: BuildingModel, date: string): number {
  let s = 0;
  for (let h = 0; h < 24; h++) s += m.hour(localMidnightMs(date) + h * HOUR).main;
  return s;
}

/** Annual EUI over local calendar year `year`, kWh/m²·a. */
function eui(m: BuildingModel, year: number): number {
  let s = 0;
  for (let t = localMidnightMs(`${year}-01-01`); t < localMidnightMs(`${year + 1}-01-01`); t += HOUR) s += m.hour(t).main;
  return s / AREA;
}

describe('archetypes', () => {
  it('cover the nine archetypes with sourced EUI ranges and valid schedules', () => {
    expect(Object.keys(ARCHETYPE_DEFS).sort()).toEqual([...ARCHETYPES].sort());
    for (const a of Object.values(ARCHETYPE_DEFS)) {
      expect(a.eui.min).toBeLessThan(a.eui.max);
      expect(a.eui.source.length).toBeGreaterThan(20);
      if (!a.eui.confirmed) expect(a.eui.source, a.id).toMatch(/indicative|unconfirmed/);
      expect(a.floorAreaM2.min).toBeLessThan(a.floorAreaM2.max);
      for (const p of [a.occupancy, a.special.profile ?? a.occupancy]) {
        for (const day of [p.workday, p.weekend, p.holiday, p.vacation ?? p.workday]) {
          expect(day).toHaveLength(24);
          for (const v of day) expect(v >= 0 && v <= 1).toBe(true);
        }
      }
    }
    expect(ARCHETYPE_DEFS.office_a.eui).toMatchObject({ min: 70, max: 85, confirmed: true });
    expect(ARCHETYPE_DEFS.office_b.eui).toMatchObject({ min: 80, max: 110, confirmed: true });
  });

  it.each([...ARCHETYPES])('%s lands within its EUI range on the Chongqing typical year', (id) => {
    const range = ARCHETYPE_DEFS[id].eui;
    for (const [seed, year] of [[1, 2025], [99, 2026]] as const) {
      const value = eui(model(id, seed), year);
      expect(value, `${id} seed ${seed} ${year}: ${value.toFixed(1)} kWh/m²·a`).toBeGreaterThanOrEqual(range.min);
      expect(value, `${id} seed ${seed} ${year}: ${value.toFixed(1)} kWh/m²·a`).toBeLessThanOrEqual(range.max);
    }
  });

  it('offices use less on weekends and far less during the Spring Festival', () => {
    for (const id of ['office_a', 'office_b', 'government_office'] as const) {
      const m = model(id);
      const workday = dayKwh(m, '2025-03-12'); // Wednesday
      const saturday = dayKwh(m, '2025-03-15');
      const springFestival = dayKwh(m, '2025-01-30'); // Thursday in the break
      const normalThursday = dayKwh(m, '2025-01-23');
      expect(saturday).toBeLessThan(0.6 * workday);
      expect(springFestival).toBeLessThan(0.5 * normalThursday);
      expect(springFestival).toBeLessThan(saturday);
      // A make-up working Sunday looks like a workday.
      expect(dayKwh(m, '2025-01-26')).toBeGreaterThan(1.5 * dayKwh(m, '2025-01-19'));
    }
  });

  it('a data centre is flat: hour to hour, weekday to weekend, holiday to workday', () => {
    const m = model('data_centre');
    const hours = Array.from({ length: 24 }, (_, h) => m.hour(localMidnightMs('2025-04-16') + h * HOUR).main);
    expect(Math.max(...hours) / Math.min(...hours)).toBeLessThan(1.12);
    const wed = dayKwh(m, '2025-04-16');
    expect(dayKwh(m, '2025-04-19') / wed).toBeGreaterThan(0.95);
    expect(dayKwh(m, '2025-04-19') / wed).toBeLessThan(1.05);
    expect(dayKwh(m, '2025-10-02') / dayKwh(m, '2025-10-09')).toBeGreaterThan(0.93);
    expect(dayKwh(m, '2025-10-02') / dayKwh(m, '2025-10-09')).toBeLessThan(1.07);
    // PUE of a Chongqing data centre with free cooling in winter.
    let all = 0;
    let it = 0;
    for (let t = localMidnightMs('2025-01-01'); t < localMidnightMs('2026-01-01'); t += HOUR) {
      const l = m.hour(t);
      all += l.main;
      it += l.endUses.special;
    }
    expect(all / it).toBeGreaterThan(1.2);
    expect(all / it).toBeLessThan(1.5);
  });

  it('a hotel peaks in the evening, a home in the evening, a mall on weekends', () => {
    const hourMean = (id: ArchetypeId, hours: number[], month: string) => {
      const m = model(id);
      let s = 0;
      let n = 0;
      for (let d = 1; d <= 30; d++) {
        const date = `${month}-${String(d).padStart(2, '0')}`;
        for (const h of hours) {
          s += m.hour(localMidnightMs(date) + h * HOUR).main;
          n++;
        }
      }
      return s / n;
    };
    expect(hourMean('hotel', [19, 20, 21], '2025-04')).toBeGreaterThan(1.2 * hourMean('hotel', [10, 11, 12, 13, 14, 15], '2025-04'));
    expect(hourMean('hotel', [19, 20, 21], '2025-04')).toBeGreaterThan(1.3 * hourMean('hotel', [2, 3, 4], '2025-04'));
    expect(hourMean('residential_tower', [19, 20, 21], '2025-04')).toBeGreaterThan(1.5 * hourMean('residential_tower', [10, 11, 12], '2025-04'));
    // Over a year, a mall's average Saturday/Sunday uses more than its average weekday.
    const mall = model('mall');
    const byType = { weekend: { kwh: 0, days: 0 }, workday: { kwh: 0, days: 0 } };
    for (let d = localMidnightMs('2025-01-01'); d < localMidnightMs('2026-01-01'); d += 24 * HOUR) {
      const date = new Date(d + 8 * HOUR);
      const kind = date.getUTCDay() === 0 || date.getUTCDay() === 6 ? 'weekend' : 'workday';
      byType[kind].kwh += dayKwh(mall, date.toISOString().slice(0, 10));
      byType[kind].days++;
    }
    expect(byType.weekend.kwh / byType.weekend.days).toBeGreaterThan(1.03 * (byType.workday.kwh / byType.workday.days));
  });

  it('a school empties in its vacations', () => {
    const m = model('school');
    const term = dayKwh(m, '2025-05-14'); // Wednesday in term
    expect(dayKwh(m, '2025-08-13')).toBeLessThan(0.5 * term); // Wednesday in the summer vacation, hot
    expect(dayKwh(m, '2025-02-12')).toBeLessThan(0.5 * dayKwh(m, '2025-03-12')); // winter vacation vs March
  });

  it('HVAC answers the weather: cooling in summer, heat-pump heating in winter', () => {
    const m = model('office_b');
    const sum = (date: string, part: 'cooling' | 'heating') => {
      let s = 0;
      for (let h = 0; h < 24; h++) s += m.hour(localMidnightMs(date) + h * HOUR).hvacParts![part];
      return s;
    };
    expect(sum('2025-07-23', 'cooling')).toBeGreaterThan(10 * sum('2025-01-15', 'cooling') + 1);
    expect(sum('2025-01-15', 'heating')).toBeGreaterThan(10 * sum('2025-07-23', 'heating') + 1);
    expect(sum('2025-07-23', 'heating')).toBe(0);
  });
});
