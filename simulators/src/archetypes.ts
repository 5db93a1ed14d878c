/**
 * The nine building archetypes of the simulator: load densities, hourly schedules by day type,
 * HVAC response to weather, special loads and noise, each with the annual energy-use intensity
 * (EUI, kWh/m²·a of gross floor area, site electricity) it is calibrated to land in on the
 * Chongqing typical year, and the source of that range.
 *
 * End uses follow the GB 55015-2021 sub-metering categories as used by the national guideline for
 * energy monitoring of large public buildings: lighting & sockets (照明插座), HVAC (空调),
 * power (动力: lifts, water pumps, ventilation) and special (特殊: data-centre IT, kitchens,
 * laundry, medical equipment, refrigeration).
 *
 * Every power density is W per m² of gross floor area; a load at an hour is
 * `baseWm2 + (peakWm2 − baseWm2) × schedule(hour)`, schedules being 0…1.
 */
import type { ArchetypeId } from './types.js';

/** 24 hourly values (index = local hour the hour starts at), 0…1. */
export type HourProfile = readonly number[];

/** Hourly schedules by kind of day; `vacation` (schools) replaces workdays and weekends in vacations. */
export interface DayProfiles {
  readonly workday: HourProfile;
  readonly weekend: HourProfile;
  readonly holiday: HourProfile;
  readonly vacation?: HourProfile;
}

/** An end use driven by a schedule: `baseWm2 + (peakWm2 − baseWm2) × schedule`. */
export interface ScheduledLoad {
  /** Always-on part, W/m². */
  readonly baseWm2: number;
  /** Load at schedule 1, W/m². */
  readonly peakWm2: number;
  /** Own schedule (kitchens, medical equipment); default: the archetype's occupancy. */
  readonly profile?: DayProfiles;
}

/** Weather response of the HVAC system. Thermal loads are W/m² of floor; electricity = thermal / COP. */
export interface HvacParams {
  /** Outdoor temperature above which cooling starts when fully occupied (internal gains lower it), °C. */
  readonly coolingBalanceOccupiedC: number;
  /** …and when unoccupied, °C. */
  readonly coolingBalanceUnoccupiedC: number;
  /** Sensible cooling load per K above the balance point, W/(m²·K). */
  readonly coolingWm2PerK: number;
  /** Solar gain to the cooling load per W/m² of global horizontal irradiance, W/m² per W/m². */
  readonly solarGainFactor: number;
  /** Latent (dehumidification) load per g/kg of outdoor humidity ratio above 10 g/kg, W/m² per (g/kg). */
  readonly latentWm2PerGkg: number;
  /** Heat from special loads that the cooling plant removes (data-centre IT), share of the special load. */
  readonly processHeatShare: number;
  /** Cooling system COP at 30 °C outdoor. */
  readonly coolingCop: number;
  /** COP gain per K cooler than 30 °C (chillers, free cooling), 1/K; the factor is capped at `coolingCopMaxFactor`. */
  readonly coolingCopSlopePerK: number;
  readonly coolingCopMaxFactor: number;
  /** Outdoor temperature below which heating starts, °C. */
  readonly heatingBalanceC: number;
  /** Heating load per K below the balance point, W/(m²·K). */
  readonly heatingWm2PerK: number;
  /** Air-source heat pump COP at 7 °C outdoor (falls 3 %/K below, rises 3 %/K above, 0.5…1.4×). */
  readonly heatingCop: number;
  /** Fans and pumps of the HVAC system at full run and full load, W/m² (30 % of it at no load). */
  readonly fanWm2: number;
  /** Thermal load (cooling or heating) at which the fans reach full power, W/m². */
  readonly designLoadWm2: number;
  /** Share of the HVAC running when the building is empty (setback, 24 h areas). */
  readonly minRun: number;
}

/** The EUI range an archetype should land in and where it comes from. */
export interface EuiRange {
  /** kWh/m²·a. */
  readonly min: number;
  /** kWh/m²·a. */
  readonly max: number;
  /** True only when the range is read from a standard we could confirm (DOMAIN.md §4). */
  readonly confirmed: boolean;
  readonly source: string;
}

/** Everything that defines an archetype. */
export interface Archetype {
  readonly id: ArchetypeId;
  readonly label: string;
  /** GB/T 51161-2016 building type, where the standard has one. */
  readonly gbt51161Type: string | null;
  /** Typical gross floor area, m². */
  readonly floorAreaM2: { readonly min: number; readonly max: number };
  readonly eui: EuiRange;
  /** Occupancy / operation schedule (0…1). */
  readonly occupancy: DayProfiles;
  readonly lightingSockets: ScheduledLoad;
  readonly power: ScheduledLoad;
  readonly special: ScheduledLoad & { readonly kind: 'none' | 'kitchen' | 'it' | 'medical' | 'kitchen_refrigeration' | 'kitchen_laundry' };
  readonly hvac: HvacParams;
  /** School calendar: winter and summer vacations use `occupancy.vacation`. */
  readonly schoolVacations: boolean;
  /** Relative standard deviation of the hourly noise of each end use. */
  readonly hourlyNoise: number;
  /** Relative standard deviation of the day-to-day activity of the scheduled loads. */
  readonly dailyNoise: number;
}

/** Expands `"0-6:0.05,7:0.2,8-17:1"` into 24 hourly values; every hour must be given once. */
function hours(spec: string): HourProfile {
  const out = new Array<number>(24).fill(NaN);
  for (const part of spec.split(',')) {
    const [range, value] = part.split(':') as [string, string];
    const [a, b] = range.split('-').map(Number) as [number, number?];
    for (let h = a; h <= (b ?? a); h++) out[h] = Number(value);
  }
  if (out.some((v) => Number.isNaN(v))) throw new Error(`profile does not cover 24 hours: ${spec}`);
  return Object.freeze(out);
}

const OFFICE_WORKDAY = hours('0-5:0.04,6:0.08,7:0.2,8:0.65,9:0.95,10-11:1,12:0.8,13:0.9,14-15:1,16:0.95,17:0.75,18:0.45,19:0.3,20:0.2,21:0.12,22-23:0.06');
const OFFICE_WEEKEND = hours('0-7:0.04,8:0.08,9-16:0.14,17:0.1,18-23:0.05');
const OFFICE_HOLIDAY = hours('0-8:0.03,9-16:0.07,17-23:0.03');
const GOV_WORKDAY = hours('0-6:0.04,7:0.15,8:0.7,9-11:1,12:0.7,13:0.8,14-16:1,17:0.6,18:0.25,19:0.15,20:0.1,21-23:0.05');
const CANTEEN = hours('0-5:0,6:0.2,7:0.6,8:0.3,9:0.1,10:0.5,11:1,12:0.9,13:0.3,14-15:0.05,16:0.3,17:0.7,18:0.5,19:0.2,20-23:0');
const CANTEEN_OFF = hours('0-23:0');
const MALL_WEEKDAY = hours('0-7:0.05,8:0.15,9:0.45,10:0.85,11-13:0.9,14-17:0.85,18-20:0.95,21:0.8,22:0.35,23:0.08');
const MALL_WEEKEND = hours('0-7:0.05,8:0.15,9:0.5,10:0.95,11-20:1,21:0.9,22:0.4,23:0.1');
const FOOD_COURT = hours('0-8:0.05,9:0.2,10:0.5,11:1,12:1,13:0.7,14-16:0.35,17:0.8,18-19:1,20:0.7,21:0.4,22:0.15,23:0.05');
const HOTEL_WEEKDAY = hours('0-4:0.4,5:0.42,6:0.6,7:0.75,8:0.65,9:0.45,10-15:0.28,16:0.35,17:0.55,18:0.8,19-21:1,22:0.9,23:0.65');
const HOTEL_WEEKEND = hours('0-4:0.45,5:0.45,6:0.55,7:0.75,8:0.8,9:0.6,10-15:0.35,16:0.42,17:0.65,18:0.9,19-21:1,22:0.92,23:0.7');
const HOTEL_KITCHEN = hours('0-5:0.05,6:0.6,7-8:1,9:0.5,10:0.3,11-12:0.75,13:0.4,14-16:0.15,17:0.7,18-19:1,20:0.8,21:0.5,22-23:0.15');
const HOSPITAL_WORKDAY = hours('0-5:0.5,6:0.55,7:0.7,8-11:1,12:0.85,13:0.9,14-16:1,17:0.8,18:0.65,19-21:0.6,22-23:0.55');
const HOSPITAL_WEEKEND = hours('0-5:0.5,6:0.52,7:0.6,8-16:0.75,17:0.65,18-21:0.58,22-23:0.52');
const HOSPITAL_HOLIDAY = hours('0-5:0.48,6:0.5,7:0.55,8-16:0.65,17:0.6,18-21:0.55,22-23:0.5');
const MEDICAL_WORKDAY = hours('0-6:0.35,7:0.6,8-11:1,12:0.7,13:0.85,14-16:1,17:0.7,18-23:0.4');
const MEDICAL_WEEKEND = hours('0-6:0.35,7:0.45,8-16:0.6,17:0.5,18-23:0.38');
const SCHOOL_WORKDAY = hours('0-5:0.02,6:0.1,7:0.6,8-11:1,12:0.6,13:0.8,14-16:1,17:0.55,18:0.3,19-20:0.55,21:0.3,22-23:0.03');
const SCHOOL_WEEKEND = hours('0-7:0.02,8-16:0.08,17-23:0.03');
const SCHOOL_HOLIDAY = hours('0-23:0.02');
const SCHOOL_VACATION = hours('0-7:0.02,8-16:0.1,17-23:0.02');
const SCHOOL_CANTEEN = hours('0-5:0,6:0.7,7:0.8,8-9:0.1,10:0.6,11:1,12:0.9,13:0.1,14-15:0,16:0.6,17:1,18:0.5,19-23:0');
const SCHOOL_CANTEEN_OFF = hours('0-23:0');
const FLAT = hours('0-23:1');
const RESIDENTIAL_WORKDAY = hours('0-5:0.3,6:0.45,7:0.65,8:0.5,9-15:0.3,16:0.35,17:0.5,18:0.75,19-21:1,22:0.85,23:0.55');
const RESIDENTIAL_WEEKEND = hours('0-5:0.32,6:0.38,7:0.5,8:0.6,9-11:0.62,12:0.7,13-16:0.58,17:0.65,18:0.85,19-21:1,22:0.88,23:0.6');

const OFFICE_DAYS: DayProfiles = { workday: OFFICE_WORKDAY, weekend: OFFICE_WEEKEND, holiday: OFFICE_HOLIDAY };
const CANTEEN_DAYS: DayProfiles = { workday: CANTEEN, weekend: CANTEEN_OFF, holiday: CANTEEN_OFF };

const OFFICE_SOURCE =
  'GB/T 51161-2016 Standard for energy consumption of buildings, non-heating energy quotas of office buildings, hot-summer/cold-winter zone (DOMAIN.md §4)';

/**
 * The archetypes. EUI ranges of offices are the GB/T 51161-2016 hot-summer/cold-winter quotas
 * (guide value … constraint value: a typical existing building between the two); the other ranges
 * are indicative, each with the reason it is plausible, and must not be read as a standard.
 */
export const ARCHETYPE_DEFS: Readonly<Record<ArchetypeId, Archetype>> = Object.freeze({
  office_a: {
    id: 'office_a',
    label: 'Commercial office, class A (openable windows, split or VRF air conditioning)',
    gbt51161Type: 'commercial office building, class A',
    floorAreaM2: { min: 3_000, max: 20_000 },
    eui: { min: 70, max: 85, confirmed: true, source: `${OFFICE_SOURCE}: class A guide 70, constraint 85 kWh/m²·a` },
    occupancy: OFFICE_DAYS,
    lightingSockets: { baseWm2: 1.6, peakWm2: 11 },
    power: { baseWm2: 0.7, peakWm2: 2.2 },
    special: { kind: 'none', baseWm2: 0, peakWm2: 0 },
    hvac: {
      coolingBalanceOccupiedC: 20,
      coolingBalanceUnoccupiedC: 27,
      coolingWm2PerK: 4.6,
      solarGainFactor: 0.025,
      latentWm2PerGkg: 1.4,
      processHeatShare: 0,
      coolingCop: 3.4,
      coolingCopSlopePerK: 0.02,
      coolingCopMaxFactor: 1.3,
      heatingBalanceC: 12,
      heatingWm2PerK: 3.2,
      heatingCop: 2.6,
      fanWm2: 1.2,
      designLoadWm2: 60,
      minRun: 0.02,
    },
    schoolVacations: false,
    hourlyNoise: 0.05,
    dailyNoise: 0.04,
  },
  office_b: {
    id: 'office_b',
    label: 'Commercial office, class B (sealed facade, central chilled-water air conditioning)',
    gbt51161Type: 'commercial office building, class B',
    floorAreaM2: { min: 20_000, max: 100_000 },
    eui: { min: 80, max: 110, confirmed: true, source: `${OFFICE_SOURCE}: class B guide 80, constraint 110 kWh/m²·a` },
    occupancy: OFFICE_DAYS,
    lightingSockets: { baseWm2: 2.0, peakWm2: 10 },
    power: { baseWm2: 1.1, peakWm2: 3.0 },
    special: { kind: 'kitchen', baseWm2: 0.1, peakWm2: 2.5, profile: CANTEEN_DAYS },
    hvac: {
      coolingBalanceOccupiedC: 17,
      coolingBalanceUnoccupiedC: 25,
      coolingWm2PerK: 6.2,
      solarGainFactor: 0.03,
      latentWm2PerGkg: 2.2,
      processHeatShare: 0,
      coolingCop: 4.2,
      coolingCopSlopePerK: 0.02,
      coolingCopMaxFactor: 1.3,
      heatingBalanceC: 11,
      heatingWm2PerK: 3.0,
      heatingCop: 2.8,
      fanWm2: 4.5,
      designLoadWm2: 80,
      minRun: 0.04,
    },
    schoolVacations: false,
    hourlyNoise: 0.04,
    dailyNoise: 0.03,
  },
  government_office: {
    id: 'government_office',
    label: 'Government office (central air conditioning)',
    gbt51161Type: 'government office building, class B',
    floorAreaM2: { min: 5_000, max: 40_000 },
    eui: {
      min: 65,
      max: 90,
      confirmed: false,
      source: `${OFFICE_SOURCE}: government office class B guide 65, constraint 90 kWh/m²·a — values unconfirmed in DOMAIN.md §4, keep as indicative`,
    },
    occupancy: { workday: GOV_WORKDAY, weekend: OFFICE_WEEKEND, holiday: OFFICE_HOLIDAY },
    lightingSockets: { baseWm2: 1.6, peakWm2: 10.5 },
    power: { baseWm2: 0.9, peakWm2: 2.8 },
    special: { kind: 'kitchen', baseWm2: 0.05, peakWm2: 2.2, profile: CANTEEN_DAYS },
    hvac: {
      coolingBalanceOccupiedC: 18,
      coolingBalanceUnoccupiedC: 26,
      coolingWm2PerK: 4.2,
      solarGainFactor: 0.03,
      latentWm2PerGkg: 1.8,
      processHeatShare: 0,
      coolingCop: 4.0,
      coolingCopSlopePerK: 0.02,
      coolingCopMaxFactor: 1.3,
      heatingBalanceC: 11,
      heatingWm2PerK: 3.0,
      heatingCop: 2.7,
      fanWm2: 3.5,
      designLoadWm2: 75,
      minRun: 0.03,
    },
    schoolVacations: false,
    hourlyNoise: 0.04,
    dailyNoise: 0.03,
  },
  mall: {
    id: 'mall',
    label: 'Shopping mall (open every day 10:00–22:00, food court, supermarket)',
    gbt51161Type: 'commercial building, class B: shopping centre',
    floorAreaM2: { min: 20_000, max: 150_000 },
    eui: {
      min: 150,
      max: 250,
      confirmed: false,
      source:
        'indicative: GB/T 51161-2016 has quotas for shopping centres but we could not confirm the hot-summer/cold-winter values (DOMAIN.md §4). ' +
        'Plausible because a mall runs 12–13 h every day with dense lighting (GB 50034 commercial 9–14 W/m²), high fresh-air and latent loads, ' +
        'food-court kitchens and refrigeration, i.e. about twice a class B office',
    },
    occupancy: { workday: MALL_WEEKDAY, weekend: MALL_WEEKEND, holiday: MALL_WEEKEND },
    lightingSockets: { baseWm2: 1.8, peakWm2: 16 },
    power: { baseWm2: 1.0, peakWm2: 5.0 },
    special: { kind: 'kitchen_refrigeration', baseWm2: 2.0, peakWm2: 7.5, profile: { workday: FOOD_COURT, weekend: FOOD_COURT, holiday: FOOD_COURT } },
    hvac: {
      coolingBalanceOccupiedC: 13,
      coolingBalanceUnoccupiedC: 24,
      coolingWm2PerK: 5.5,
      solarGainFactor: 0.02,
      latentWm2PerGkg: 4.0,
      processHeatShare: 0,
      coolingCop: 4.2,
      coolingCopSlopePerK: 0.02,
      coolingCopMaxFactor: 1.3,
      heatingBalanceC: 8,
      heatingWm2PerK: 2.5,
      heatingCop: 2.8,
      fanWm2: 6.5,
      designLoadWm2: 110,
      minRun: 0.04,
    },
    schoolVacations: false,
    hourlyNoise: 0.04,
    dailyNoise: 0.04,
  },
  hotel: {
    id: 'hotel',
    label: 'Hotel (four-star class, 24 h, restaurants and laundry)',
    gbt51161Type: 'hotel building, class B',
    floorAreaM2: { min: 10_000, max: 60_000 },
    eui: {
      min: 100,
      max: 180,
      confirmed: false,
      source:
        'indicative: GB/T 51161-2016 has hotel quotas by star rating but we could not confirm the hot-summer/cold-winter values (DOMAIN.md §4). ' +
        'Plausible because a hotel conditions guest rooms around the clock, heats water and runs kitchens and laundry: well above offices, below malls',
    },
    occupancy: { workday: HOTEL_WEEKDAY, weekend: HOTEL_WEEKEND, holiday: HOTEL_WEEKEND },
    lightingSockets: { baseWm2: 2.5, peakWm2: 8 },
    power: { baseWm2: 1.5, peakWm2: 3.5 },
    special: { kind: 'kitchen_laundry', baseWm2: 1.0, peakWm2: 5.0, profile: { workday: HOTEL_KITCHEN, weekend: HOTEL_KITCHEN, holiday: HOTEL_KITCHEN } },
    hvac: {
      coolingBalanceOccupiedC: 18,
      coolingBalanceUnoccupiedC: 21,
      coolingWm2PerK: 3.6,
      solarGainFactor: 0.02,
      latentWm2PerGkg: 2.0,
      processHeatShare: 0,
      coolingCop: 4.0,
      coolingCopSlopePerK: 0.02,
      coolingCopMaxFactor: 1.3,
      heatingBalanceC: 14,
      heatingWm2PerK: 2.8,
      heatingCop: 2.7,
      fanWm2: 3.0,
      designLoadWm2: 70,
      minRun: 0.55,
    },
    schoolVacations: false,
    hourlyNoise: 0.04,
    dailyNoise: 0.05,
  },
  hospital: {
    id: 'hospital',
    label: 'General hospital (in-patients 24 h, out-patients on workdays)',
    gbt51161Type: null,
    floorAreaM2: { min: 20_000, max: 150_000 },
    eui: {
      min: 120,
      max: 220,
      confirmed: false,
      source:
        'indicative: hospitals are outside GB/T 51161-2016. Plausible because a general hospital runs wards, theatres and imaging 24 h, ' +
        'with strict ventilation and sterilisation; surveys of Chinese public hospitals usually report their electricity intensity above hotels',
    },
    occupancy: { workday: HOSPITAL_WORKDAY, weekend: HOSPITAL_WEEKEND, holiday: HOSPITAL_HOLIDAY },
    lightingSockets: { baseWm2: 3.0, peakWm2: 8.5 },
    power: { baseWm2: 2.0, peakWm2: 4.0 },
    special: { kind: 'medical', baseWm2: 1.6, peakWm2: 5.5, profile: { workday: MEDICAL_WORKDAY, weekend: MEDICAL_WEEKEND, holiday: MEDICAL_WEEKEND } },
    hvac: {
      coolingBalanceOccupiedC: 16,
      coolingBalanceUnoccupiedC: 18,
      coolingWm2PerK: 2.9,
      solarGainFactor: 0.02,
      latentWm2PerGkg: 2.4,
      processHeatShare: 0,
      coolingCop: 4.2,
      coolingCopSlopePerK: 0.02,
      coolingCopMaxFactor: 1.3,
      heatingBalanceC: 14,
      heatingWm2PerK: 3.0,
      heatingCop: 2.7,
      fanWm2: 3.5,
      designLoadWm2: 75,
      minRun: 0.5,
    },
    schoolVacations: false,
    hourlyNoise: 0.03,
    dailyNoise: 0.03,
  },
  school: {
    id: 'school',
    label: 'Secondary school (classrooms, canteen, evening self-study; winter and summer vacations)',
    gbt51161Type: null,
    floorAreaM2: { min: 8_000, max: 40_000 },
    eui: {
      min: 25,
      max: 60,
      confirmed: false,
      source:
        'indicative: schools are outside GB/T 51161-2016. Plausible because classrooms are used about 200 days a year (vacations of ~4 weeks in winter ' +
        'and ~8 weeks in summer), air conditioning is by split units in classrooms only part of the day, so a school uses well under an office',
    },
    occupancy: { workday: SCHOOL_WORKDAY, weekend: SCHOOL_WEEKEND, holiday: SCHOOL_HOLIDAY, vacation: SCHOOL_VACATION },
    lightingSockets: { baseWm2: 0.5, peakWm2: 8.5 },
    power: { baseWm2: 0.3, peakWm2: 1.2 },
    special: {
      kind: 'kitchen',
      baseWm2: 0.05,
      peakWm2: 3.0,
      profile: { workday: SCHOOL_CANTEEN, weekend: SCHOOL_CANTEEN_OFF, holiday: SCHOOL_CANTEEN_OFF, vacation: SCHOOL_CANTEEN_OFF },
    },
    hvac: {
      coolingBalanceOccupiedC: 24,
      coolingBalanceUnoccupiedC: 30,
      coolingWm2PerK: 3.5,
      solarGainFactor: 0.015,
      latentWm2PerGkg: 0.8,
      processHeatShare: 0,
      coolingCop: 3.2,
      coolingCopSlopePerK: 0.02,
      coolingCopMaxFactor: 1.3,
      heatingBalanceC: 10,
      heatingWm2PerK: 2.5,
      heatingCop: 2.5,
      fanWm2: 0.3,
      designLoadWm2: 50,
      minRun: 0,
    },
    schoolVacations: true,
    hourlyNoise: 0.05,
    dailyNoise: 0.05,
  },
  data_centre: {
    id: 'data_centre',
    label: 'Data centre (IT load around the clock, chilled water with free cooling)',
    gbt51161Type: null,
    floorAreaM2: { min: 2_000, max: 20_000 },
    eui: {
      min: 2_500,
      max: 6_000,
      confirmed: false,
      source:
        'indicative: data centres are outside GB/T 51161-2016. Plausible from an IT load of 250–450 W per m² of gross floor area running 8,760 h ' +
        'and a PUE of 1.25–1.5 (GB 40879-2021 sets a PUE limit of 1.5 for data centres)',
    },
    occupancy: { workday: FLAT, weekend: FLAT, holiday: FLAT },
    lightingSockets: { baseWm2: 4, peakWm2: 4 },
    power: { baseWm2: 24, peakWm2: 24 },
    special: { kind: 'it', baseWm2: 330, peakWm2: 330 },
    hvac: {
      coolingBalanceOccupiedC: 22,
      coolingBalanceUnoccupiedC: 22,
      coolingWm2PerK: 2.0,
      solarGainFactor: 0.01,
      latentWm2PerGkg: 0,
      processHeatShare: 1,
      coolingCop: 4.0,
      coolingCopSlopePerK: 0.045,
      coolingCopMaxFactor: 2.2,
      heatingBalanceC: -50,
      heatingWm2PerK: 0,
      heatingCop: 3,
      fanWm2: 28,
      designLoadWm2: 380,
      minRun: 1,
    },
    schoolVacations: false,
    hourlyNoise: 0.01,
    dailyNoise: 0.005,
  },
  residential_tower: {
    id: 'residential_tower',
    label: 'Residential tower (flats with split air conditioners, common-area lifts and pumps)',
    gbt51161Type: 'residential building (GB/T 51161 quotas are per household, not per m²)',
    floorAreaM2: { min: 10_000, max: 40_000 },
    eui: {
      min: 20,
      max: 45,
      confirmed: false,
      source:
        'indicative: GB/T 51161-2016 sets residential quotas per household, which we could not confirm for this zone; plausible because ' +
        'a household of ~90 m² in Chongqing uses roughly 2,000–3,500 kWh a year (split A/C in summer, little heating), plus common areas',
    },
    occupancy: { workday: RESIDENTIAL_WORKDAY, weekend: RESIDENTIAL_WEEKEND, holiday: RESIDENTIAL_WEEKEND },
    lightingSockets: { baseWm2: 1.1, peakWm2: 3.8 },
    power: { baseWm2: 0.35, peakWm2: 0.9 },
    special: { kind: 'none', baseWm2: 0, peakWm2: 0 },
    hvac: {
      coolingBalanceOccupiedC: 25,
      coolingBalanceUnoccupiedC: 29,
      coolingWm2PerK: 2.6,
      solarGainFactor: 0.01,
      latentWm2PerGkg: 0.5,
      processHeatShare: 0,
      coolingCop: 3.2,
      coolingCopSlopePerK: 0.02,
      coolingCopMaxFactor: 1.3,
      heatingBalanceC: 11,
      heatingWm2PerK: 1.6,
      heatingCop: 2.5,
      fanWm2: 0,
      designLoadWm2: 40,
      minRun: 0,
    },
    schoolVacations: false,
    hourlyNoise: 0.06,
    dailyNoise: 0.05,
  },
} satisfies Record<ArchetypeId, Archetype>);

/** The archetype definition of an id. */
export function archetype(id: ArchetypeId): Archetype {
  return ARCHETYPE_DEFS[id];
}

/**
 * School vacations in Chongqing, indicative (the municipal education commission publishes the
 * dates each year): winter from two weeks before to a little over two weeks after the Lunar New
 * Year (about four weeks), summer from July 5 to August 31.
 */
export const SCHOOL_VACATION_RULE = Object.freeze({
  winterBeforeLunarNewYearDays: 14,
  winterAfterLunarNewYearDays: 16,
  /** Used when the calendar does not know the year's Lunar New Year: Jan 20 … Feb 20. */
  winterFallback: { from: '01-20', to: '02-20' },
  summer: { from: '07-05', to: '08-31' },
});

/** Default PV performance ratio (AC energy / (kWp × irradiation in kWh/m²)), typical of well-kept rooftop systems. */
export const DEFAULT_PV_PERFORMANCE_RATIO = 0.8;
