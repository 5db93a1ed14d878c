/**
 * The physical building model: hourly electricity by end use for one {@link BuildingSpec} under a
 * {@link WeatherSeries}, with the counterfactual (no retrofits) alongside the actual.
 *
 * Per hour: scheduled loads (lighting & sockets, power, special) follow the archetype's schedule
 * for the local day type (workday / weekend / holiday / school vacation, Chinese holidays with
 * their make-up working days); HVAC answers the weather — sensible cooling above a balance point
 * that falls with occupancy, solar and latent (humidity) loads, process heat of IT rooms, a
 * temperature-dependent COP; air-source heat-pump heating below a balance point; fans and pumps.
 * Noise is seeded by the spec's seed and the hour, so the same spec and weather give the same
 * loads in any order. Non-routine events and drift change the counterfactual and the actual;
 * retrofits change the actual only, from local midnight of their date, by their target.
 * `main` is the sum of the four end uses, exactly (sub-meters add up to the main meter, GB 55015).
 */
import { createErrorFactory, type ErrorCatalogue } from '@wattproof/core';
import { ARCHETYPE_DEFS, DEFAULT_PV_PERFORMANCE_RATIO, SCHOOL_VACATION_RULE, type Archetype, type HourProfile } from './archetypes.js';
import { dayInfo, dayNumberOf, localMidnightMs, lunarNewYear, SHANGHAI_OFFSET_MS } from './calendar.js';
import { createRng } from './model.js';
import { ARCHETYPES, type BuildingSpec, type EndUse, type HourLoads, type NonRoutineEvent, type Retrofit, type WeatherSeries } from './types.js';

/** Errors of the building model (merge into the simulators catalogue). */
export const BUILDING_MODEL_ERRORS = {
  SIM_SPEC_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'A building spec is not usable: unknown archetype, floor area not positive, a retrofit saving outside 0…1, an event change ≤ −1, or a date not YYYY-MM-DD.',
    fix: 'Read `details.problems`: each names the field and the value.',
  },
  SIM_TIME_ZONE_UNSUPPORTED: {
    statusCode: 400,
    retriable: false,
    meaning: 'The building model only knows Asia/Shanghai (fixed UTC+8, the Chinese holiday calendar).',
    fix: "Pass timeZone 'Asia/Shanghai' or leave it out.",
  },
} as const satisfies ErrorCatalogue;
const modelError = createErrorFactory(BUILDING_MODEL_ERRORS);

/** Options of {@link createBuildingModel}. */
export interface BuildingModelOptions {
  /** Only Asia/Shanghai (UTC+8, no DST) is supported. */
  readonly timeZone?: 'Asia/Shanghai';
  /** Start of drift, epoch ms (default {@link DEFAULT_DRIFT_ORIGIN_MS}); loads before it are not drifted. */
  readonly origin?: number;
}

/** A building model: loads of any hour, deterministic. */
export interface BuildingModel {
  readonly spec: BuildingSpec;
  readonly archetype: Archetype;
  /**
   * Energy of the hour starting at `hourStartMs` (epoch ms, floored to the hour), kWh.
   * Cheap: per-day schedules are cached, the last hour is memoised for the meters of one building.
   */
  hour(hourStartMs: number): HourLoads;
}

/** Default drift origin: 2024-01-01 00:00 Asia/Shanghai. */
export const DEFAULT_DRIFT_ORIGIN_MS = localMidnightMs('2024-01-01');

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const YEAR_MS = 365.2425 * DAY_MS;
/** Mean station pressure in Chongqing (~260 m above sea level), Pa, for the humidity ratio. */
const STATION_PRESSURE_PA = 97_700;
/** Indoor humidity ratio the HVAC holds in summer, g/kg (≈ 26 °C, 50 % RH). */
const INDOOR_HUMIDITY_RATIO_GKG = 10;

/** Checks a spec; returns the problems found (empty = valid). */
export function validateBuildingSpec(spec: BuildingSpec): string[] {
  const problems: string[] = [];
  const date = (v: string, where: string) => {
    try {
      dayNumberOf(v);
    } catch {
      problems.push(`${where}: not a date YYYY-MM-DD: ${v}`);
    }
  };
  if (!(ARCHETYPES as readonly string[]).includes(spec.archetype)) problems.push(`archetype: unknown ${String(spec.archetype)}`);
  if (!(Number.isFinite(spec.floorAreaM2) && spec.floorAreaM2 > 0)) problems.push(`floorAreaM2: must be > 0, got ${spec.floorAreaM2}`);
  if (!Number.isFinite(spec.seed)) problems.push(`seed: must be a finite number, got ${spec.seed}`);
  if (spec.pvKwp !== undefined && !(Number.isFinite(spec.pvKwp) && spec.pvKwp >= 0)) problems.push(`pvKwp: must be ≥ 0, got ${spec.pvKwp}`);
  if (spec.pvPerformanceRatio !== undefined && !(spec.pvPerformanceRatio > 0 && spec.pvPerformanceRatio <= 1)) problems.push(`pvPerformanceRatio: must be in (0, 1], got ${spec.pvPerformanceRatio}`);
  if (spec.driftPerYear !== undefined && !(Number.isFinite(spec.driftPerYear) && spec.driftPerYear > -1)) problems.push(`driftPerYear: must be > −1, got ${spec.driftPerYear}`);
  for (const r of spec.retrofits ?? []) {
    if (!(r.saving >= 0 && r.saving <= 1)) problems.push(`retrofit ${r.id}: saving must be in 0…1, got ${r.saving}`);
    date(r.from, `retrofit ${r.id}`);
  }
  for (const e of spec.events ?? []) {
    if (!(Number.isFinite(e.change) && e.change > -1)) problems.push(`event ${e.id}: change must be > −1, got ${e.change}`);
    date(e.from, `event ${e.id}`);
  }
  return problems;
}

/** Multipliers of the six parts of the actual load (1 = unchanged). */
interface PartFactors {
  lightingSockets: number;
  power: number;
  special: number;
  cooling: number;
  heating: number;
  fans: number;
}

interface DayContext {
  readonly occ: HourProfile;
  readonly specialProfile: HourProfile;
  /** Day-to-day activity of the scheduled loads (1 ± dailyNoise). */
  readonly activity: number;
  /** Σ floor_area events: scales every load. */
  readonly areaScale: number;
  /** occupancy events: scale the occupancy-driven part of the loads. */
  readonly occupancyScale: number;
  /** tenant_change events: scale lighting & sockets and special loads. */
  readonly tenantScale: number;
  readonly retrofit: PartFactors;
}

/** 32-bit mix of two integers (murmur3 finaliser), for per-hour and per-day noise seeds. */
function mix(a: number, b: number): number {
  let h = (Math.imul(a | 0, 0x9e3779b1) ^ (b | 0)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Approximately normal N(0, 1), bounded at ±3 (sum of three uniforms, rescaled). */
function gauss(rng: () => number): number {
  return (rng() + rng() + rng() - 1.5) * 2;
}

/** Outdoor humidity ratio, g/kg dry air, from temperature (°C) and relative humidity (%). */
export function humidityRatioGkg(temperatureC: number, relativeHumidityPct: number): number {
  const pSat = 610.94 * Math.exp((17.625 * temperatureC) / (temperatureC + 243.04));
  const pv = (relativeHumidityPct / 100) * pSat;
  return (622 * pv) / (STATION_PRESSURE_PA - pv);
}

function isSchoolVacation(dayNumber: number, year: number, month: number, day: number): boolean {
  const md = `${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  if (md >= SCHOOL_VACATION_RULE.summer.from && md <= SCHOOL_VACATION_RULE.summer.to) return true;
  const lny = lunarNewYear(year);
  if (lny === undefined) return md >= SCHOOL_VACATION_RULE.winterFallback.from && md <= SCHOOL_VACATION_RULE.winterFallback.to;
  const d = dayNumber - dayNumberOf(lny);
  return d >= -SCHOOL_VACATION_RULE.winterBeforeLunarNewYearDays && d <= SCHOOL_VACATION_RULE.winterAfterLunarNewYearDays;
}

/**
 * Creates the model of one building. Deterministic for the same spec, weather and options.
 * @throws WattproofError SIM_SPEC_INVALID when the spec is not usable (see {@link validateBuildingSpec}).
 * @throws WattproofError SIM_TIME_ZONE_UNSUPPORTED for a time zone other than Asia/Shanghai.
 */
export function createBuildingModel(spec: BuildingSpec, weather: WeatherSeries, options: BuildingModelOptions = {}): BuildingModel {
  if (options.timeZone !== undefined && options.timeZone !== 'Asia/Shanghai') {
    throw modelError('SIM_TIME_ZONE_UNSUPPORTED', `time zone ${String(options.timeZone)} is not supported`, { details: { timeZone: options.timeZone } });
  }
  const problems = validateBuildingSpec(spec);
  if (problems.length > 0) throw modelError('SIM_SPEC_INVALID', `building ${spec.id}: ${problems.join('; ')}`, { details: { building: spec.id, problems } });

  const a = ARCHETYPE_DEFS[spec.archetype];
  const hv = a.hvac;
  const seed = (spec.seed >>> 0) ^ (Math.floor(spec.seed / 4294967296) >>> 0);
  const kwPerWm2 = spec.floorAreaM2 / 1000;
  const origin = options.origin ?? DEFAULT_DRIFT_ORIGIN_MS;
  const drift = spec.driftPerYear ?? 0;
  const pvKwp = spec.pvKwp ?? 0;
  const pr = spec.pvPerformanceRatio ?? DEFAULT_PV_PERFORMANCE_RATIO;
  const retrofits = (spec.retrofits ?? []).map((r) => ({ r, day: dayNumberOf(r.from) }));
  const events = (spec.events ?? []).map((e) => ({ e, day: dayNumberOf(e.from) }));
  const specialProfiles = a.special.profile ?? a.occupancy;

  const days = new Map<number, DayContext>();
  let lastDayNumber = NaN;
  let lastDay: DayContext | undefined;
  function dayContext(dayNumber: number): DayContext {
    if (dayNumber === lastDayNumber && lastDay) return lastDay;
    const hit = days.get(dayNumber);
    if (hit) {
      lastDayNumber = dayNumber;
      lastDay = hit;
      return hit;
    }
    const info = dayInfo(dayNumber);
    const vacation = a.schoolVacations && info.dayType !== 'holiday' && isSchoolVacation(dayNumber, info.year, info.month, info.day);
    const pick = (p: typeof a.occupancy): HourProfile => (info.dayType === 'holiday' ? p.holiday : vacation && p.vacation ? p.vacation : info.dayType === 'workday' ? p.workday : p.weekend);
    let areaScale = 1;
    let occupancyScale = 1;
    let tenantScale = 1;
    for (const { e, day } of events) {
      if (dayNumber < day) continue;
      if (e.kind === 'floor_area') areaScale *= 1 + e.change;
      else if (e.kind === 'occupancy') occupancyScale *= 1 + e.change;
      else tenantScale *= 1 + e.change;
    }
    const f: PartFactors = { lightingSockets: 1, power: 1, special: 1, cooling: 1, heating: 1, fans: 1 };
    for (const { r, day } of retrofits) {
      if (dayNumber < day) continue;
      applyRetrofit(f, r);
    }
    const ctx: DayContext = {
      occ: pick(a.occupancy),
      specialProfile: pick(specialProfiles),
      activity: Math.max(0, 1 + a.dailyNoise * gauss(createRng(mix(seed ^ 0x5eed1e55, dayNumber)))),
      areaScale,
      occupancyScale,
      tenantScale,
      retrofit: f,
    };
    if (days.size > 800) days.clear();
    days.set(dayNumber, ctx);
    lastDayNumber = dayNumber;
    lastDay = ctx;
    return ctx;
  }

  let lastIndex = NaN;
  let last: HourLoads | undefined;

  function hour(hourStartMs: number): HourLoads {
    const index = Math.floor(hourStartMs / HOUR_MS);
    if (index === lastIndex && last) return last;
    const start = index * HOUR_MS;
    const local = start + SHANGHAI_OFFSET_MS;
    const dayNumber = Math.floor(local / DAY_MS);
    const h = Math.floor((local - dayNumber * DAY_MS) / HOUR_MS);
    const ctx = dayContext(dayNumber);
    const w = weather.at(start);
    const rng = createRng(mix(seed, index));

    const o = ctx.occ[h]!;
    const act = ctx.activity * ctx.occupancyScale;
    const sp = ctx.specialProfile[h]!;
    const ls = a.lightingSockets;
    const pw = a.power;
    const sl = a.special;
    // Scheduled loads, W/m².
    const lsW = (ls.baseWm2 + (ls.peakWm2 - ls.baseWm2) * o * act) * ctx.tenantScale;
    const powerW = pw.baseWm2 + (pw.peakWm2 - pw.baseWm2) * o * act;
    const specialW = (sl.baseWm2 + (sl.peakWm2 - sl.baseWm2) * sp * act) * ctx.tenantScale;

    // HVAC, W/m² of electricity.
    const t = w.temperatureC;
    const run = hv.minRun + (1 - hv.minRun) * Math.min(1, o * ctx.occupancyScale);
    const balance = hv.coolingBalanceUnoccupiedC - (hv.coolingBalanceUnoccupiedC - hv.coolingBalanceOccupiedC) * o;
    let coolThermal = hv.processHeatShare * specialW;
    if (t > balance - 2) {
      const sensible = hv.coolingWm2PerK * Math.max(0, t - balance);
      const solar = hv.solarGainFactor * w.ghiWhM2;
      const latent = t > hv.heatingBalanceC + 4 ? hv.latentWm2PerGkg * Math.max(0, humidityRatioGkg(t, w.relativeHumidityPct) - INDOOR_HUMIDITY_RATIO_GKG) : 0;
      coolThermal += (sensible + solar + latent) * run;
    }
    const copFactor = Math.min(hv.coolingCopMaxFactor, Math.max(0.5, 1 + hv.coolingCopSlopePerK * (30 - t)));
    const coolingW = coolThermal / (hv.coolingCop * copFactor);
    const heatThermal = hv.heatingWm2PerK * Math.max(0, hv.heatingBalanceC - t) * run;
    const heatingW = heatThermal > 0 ? heatThermal / (hv.heatingCop * Math.min(1.4, Math.max(0.5, 1 + 0.03 * (t - 7)))) : 0;
    const fansW = hv.fanWm2 * run * (0.3 + 0.7 * Math.min(1, (coolThermal + heatThermal) / hv.designLoadWm2));

    // To kWh in the hour, with events, drift and noise (the same for counterfactual and actual).
    const years = start > origin ? (start - origin) / YEAR_MS : 0;
    const scale = kwPerWm2 * ctx.areaScale * (1 + drift * years);
    const n = a.hourlyNoise;
    const noisy = (x: number) => (x > 0 ? x * scale * Math.max(0, 1 + n * gauss(rng)) : 0);
    const cfLs = noisy(lsW);
    const cfPower = noisy(powerW);
    const cfSpecial = noisy(specialW);
    const cfCooling = noisy(coolingW);
    const cfHeating = noisy(heatingW);
    const cfFans = noisy(fansW);
    const cfHvac = cfCooling + cfHeating + cfFans;
    const f = ctx.retrofit;
    const cooling = cfCooling * f.cooling;
    const heating = cfHeating * f.heating;
    const fans = cfFans * f.fans;
    const hvac = cooling + heating + fans;
    const endUses: Record<EndUse, number> = {
      lighting_sockets: cfLs * f.lightingSockets,
      hvac,
      power: cfPower * f.power,
      special: cfSpecial * f.special,
    };
    const counterfactualEndUses: Record<EndUse, number> = { lighting_sockets: cfLs, hvac: cfHvac, power: cfPower, special: cfSpecial };
    // GB 55015: the main meter is the sum of the sub-meters (same order as END_USES).
    const main = endUses.lighting_sockets + endUses.hvac + endUses.power + endUses.special;
    const counterfactualMain = cfLs + cfHvac + cfPower + cfSpecial;
    const result: HourLoads = {
      hourStartMs: start,
      endUses,
      main,
      pv: pvKwp > 0 ? (pvKwp * w.ghiWhM2 * pr) / 1000 : 0,
      counterfactualMain,
      hvacParts: { cooling, heating, fans },
      counterfactualEndUses,
    };
    lastIndex = index;
    last = result;
    return result;
  }

  return Object.freeze({ spec, archetype: a, hour });
}

function applyRetrofit(f: PartFactors, r: Retrofit): void {
  const k = 1 - r.saving;
  switch (r.target) {
    case 'cooling':
      f.cooling *= k;
      break;
    case 'heating':
      f.heating *= k;
      break;
    case 'hvac':
      f.cooling *= k;
      f.heating *= k;
      f.fans *= k;
      break;
    case 'lighting_sockets':
      f.lightingSockets *= k;
      break;
    case 'power':
      f.power *= k;
      break;
    case 'special':
      f.special *= k;
      break;
    case 'total':
      f.lightingSockets *= k;
      f.power *= k;
      f.special *= k;
      f.cooling *= k;
      f.heating *= k;
      f.fans *= k;
      break;
  }
}

/** Retrofits in force on a local day (their `from` on or before it). */
export function retrofitsInForce(spec: BuildingSpec, dayNumber: number): Retrofit[] {
  return (spec.retrofits ?? []).filter((r) => dayNumberOf(r.from) <= dayNumber);
}

/** Non-routine events in force on a local day. */
export function eventsInForce(spec: BuildingSpec, dayNumber: number): NonRoutineEvent[] {
  return (spec.events ?? []).filter((e) => dayNumberOf(e.from) <= dayNumber);
}
