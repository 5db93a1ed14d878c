import { describe, expect, it } from 'vitest';
import { dayNumberOf, localDayNumber } from '../../simulators/src/calendar.js';
import { validateBuildingSpec } from '../../simulators/src/building.js';
import { chongqingDemoPark, chongqingDemoParkTimeline, YUZHONG_DEMO_SITE } from '../../simulators/src/park.js';

describe('Chongqing demo park', () => {
  it('has 4–5 valid buildings of different types in Yuzhong, one with PV, chiller retrofits on the office and the hotel', () => {
    const now = Date.parse('2026-11-30T08:00:00+08:00');
    const park = chongqingDemoPark(now);
    expect(park.length).toBeGreaterThanOrEqual(4);
    expect(park.length).toBeLessThanOrEqual(5);
    expect(new Set(park.map((b) => b.archetype)).size).toBe(park.length);
    expect(new Set(park.map((b) => b.id)).size).toBe(park.length);
    for (const b of park) {
      expect(validateBuildingSpec(b)).toEqual([]);
      expect(b.location).toEqual({ latitudeDeg: 29.557, longitudeDeg: 106.577 });
    }
    expect(park.filter((b) => (b.pvKwp ?? 0) > 0)).toHaveLength(1);
    const office = park.find((b) => b.archetype === 'office_b')!;
    expect(office.retrofits).toEqual([expect.objectContaining({ target: 'cooling', saving: 0.18 })]);
    const hotel = park.find((b) => b.archetype === 'hotel')!;
    expect(hotel.retrofits).toEqual([expect.objectContaining({ target: 'cooling', saving: 0.18, from: office.retrofits![0]!.from })]);
    expect(YUZHONG_DEMO_SITE).toMatchObject({ latitudeDeg: 29.557, longitudeDeg: 106.577, timeZone: 'Asia/Shanghai' });
  });

  it.each(['2026-11-30T08:00:00+08:00', '2026-01-31T23:30:00+08:00', '2027-03-01T00:00:00+08:00', '2025-12-31T16:30:00Z'])(
    'dates the retrofit ~14 months before now with ≥ 12 months of baseline and ≥ 1 month after (now %s)',
    (iso) => {
      const now = Date.parse(iso);
      const t = chongqingDemoParkTimeline(now);
      const today = localDayNumber(now);
      const retrofit = dayNumberOf(t.retrofitFrom);
      expect(t.retrofitFrom.endsWith('-01')).toBe(true);
      expect(today - retrofit).toBeGreaterThanOrEqual(14 * 28);
      expect(today - retrofit).toBeLessThanOrEqual(15 * 31 + 1);
      expect(retrofit - dayNumberOf(t.baselineFrom)).toBeGreaterThanOrEqual(365);
      expect(retrofit - dayNumberOf(t.baselineFrom)).toBeLessThanOrEqual(366);
      expect(dayNumberOf(t.eventFrom)).toBeLessThan(today);
      expect(chongqingDemoPark(now).find((b) => b.archetype === 'office_b')!.retrofits![0]!.from).toBe(t.retrofitFrom);
      expect(chongqingDemoPark(now)).toEqual(chongqingDemoPark(now));
    },
  );
});
