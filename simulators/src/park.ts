/**
 * The default demo of `npm start`: a small park in Yuzhong District, Chongqing (DOMAIN.md §1),
 * of five buildings of different types, one with a chiller replacement whose true saving is known,
 * one with a non-routine event, one with rooftop PV. Dates are relative to `now`, so the demo
 * always has a full baseline year before the retrofit and a reporting period after it.
 */
import { dayInfo, localDayNumber, localDateOf, dayNumberOf } from './calendar.js';
import type { BuildingSpec } from './types.js';

/** The demo site: Yuzhong District, Chongqing. */
export const YUZHONG_DEMO_SITE = Object.freeze({
  id: 'yuzhong',
  name: 'Yuzhong demo park, Chongqing',
  latitudeDeg: 29.557,
  longitudeDeg: 106.577,
  timeZone: 'Asia/Shanghai' as const,
});

/** Key dates of the demo, local dates YYYY-MM-DD (Asia/Shanghai). */
export interface DemoParkTimeline {
  /** First day of the 12-month baseline (simulate at least from here). */
  readonly baselineFrom: string;
  /** The chiller replacement takes effect on this day (first day of a month). */
  readonly retrofitFrom: string;
  /** The mall's extension opens on this day (non-routine event). */
  readonly eventFrom: string;
  /** Full months between the retrofit and `now`'s month (≥ 13). */
  readonly reportingMonths: number;
}

/** First day (day number) of the local month `monthsBack` months before the month of `dayNumber`. */
function monthStartBefore(dayNumber: number, monthsBack: number): number {
  const d = dayInfo(dayNumber);
  const index = d.year * 12 + (d.month - 1) - monthsBack;
  const y = Math.floor(index / 12);
  const m = index - y * 12 + 1;
  return dayNumberOf(`${y}-${String(m).padStart(2, '0')}-01`);
}

/**
 * Dates of the demo relative to `now` (epoch ms): the retrofit from the first day of the month 14
 * months before now's month (so 14–15 months of reporting), the baseline the 12 months before it,
 * the mall extension from the first day of the month 5 months before now.
 */
export function chongqingDemoParkTimeline(now: number): DemoParkTimeline {
  const today = localDayNumber(now);
  const retrofit = monthStartBefore(today, 14);
  return {
    baselineFrom: localDateOf(monthStartBefore(retrofit, 12)),
    retrofitFrom: localDateOf(retrofit),
    eventFrom: localDateOf(monthStartBefore(today, 5)),
    reportingMonths: 14,
  };
}

/**
 * The demo park relative to `now` (epoch ms): a class B office with a chiller replacement
 * (−18 % of cooling electricity, see {@link chongqingDemoParkTimeline}), a mall that opens an
 * extension (+5 % floor area, a non-routine event), a hotel, a secondary school with 250 kWp of
 * rooftop PV, and a government office. Deterministic for the same `now`'s local date.
 */
export function chongqingDemoPark(now: number): BuildingSpec[] {
  const t = chongqingDemoParkTimeline(now);
  const location = { latitudeDeg: YUZHONG_DEMO_SITE.latitudeDeg, longitudeDeg: YUZHONG_DEMO_SITE.longitudeDeg };
  return [
    {
      id: 'yz-office-b',
      name: 'Demo tower (class B office)',
      archetype: 'office_b',
      floorAreaM2: 46_000,
      seed: 1101,
      driftPerYear: 0.005,
      location,
      retrofits: [
        {
          id: 'yz-office-b-chiller-2',
          description: 'Chiller replacement: centrifugal chillers with magnetic bearings, −18 % of cooling electricity',
          from: t.retrofitFrom,
          target: 'cooling',
          saving: 0.18,
        },
      ],
    },
    {
      id: 'yz-mall',
      name: 'Demo plaza (shopping mall)',
      archetype: 'mall',
      floorAreaM2: 72_000,
      seed: 1102,
      location,
      events: [
        {
          id: 'yz-mall-extension',
          description: 'New cinema and food-hall wing opens: +5 % conditioned floor area',
          from: t.eventFrom,
          kind: 'floor_area',
          change: 0.05,
        },
      ],
    },
    {
      id: 'yz-hotel',
      name: 'Demo riverside hotel',
      archetype: 'hotel',
      floorAreaM2: 28_000,
      seed: 1103,
      location,
      // The hotel runs around the clock, so its baseline fits well enough (Guideline 14) for its
      // saving to be verified; the office's, with its holiday and weekend swings, is not.
      retrofits: [
        {
          id: 'yz-hotel-chiller-1',
          description: 'Chiller plant replacement with variable-speed pumps, −18 % of cooling electricity',
          from: t.retrofitFrom,
          target: 'cooling',
          saving: 0.18,
        },
      ],
    },
    { id: 'yz-school', name: 'Demo secondary school', archetype: 'school', floorAreaM2: 18_000, seed: 1104, pvKwp: 250, location },
    { id: 'yz-gov', name: 'Demo district office (government)', archetype: 'government_office', floorAreaM2: 15_000, seed: 1105, location },
  ];
}
