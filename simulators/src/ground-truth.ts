/**
 * Ground truth of a simulated portfolio: what every building really used, what it would have used
 * without its retrofits, and so the true savings, by local month — the answer key against which
 * M&V results (Option C regression, normalized savings, uncertainty) are scored.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createErrorFactory } from '@wattproof/core';
import { BUILDING_MODEL_ERRORS, createBuildingModel } from './building.js';
import { dayInfo, dayNumberOf, localMidnightMs, SHANGHAI_OFFSET_MS } from './calendar.js';
import type { ArchetypeId, BuildingSpec, NonRoutineEvent, Retrofit, WeatherSeries } from './types.js';

const modelError = createErrorFactory(BUILDING_MODEL_ERRORS);

/** Name and version of the generator, recorded in every ground truth; bump the version whenever loads change. */
export const GROUND_TRUTH_GENERATOR = Object.freeze({ name: 'wattproof-building-model', version: '1.0.0' });

/** Options of {@link groundTruth}. */
export interface GroundTruthOptions {
  /** First hour, inclusive: epoch ms, a local date YYYY-MM-DD (local midnight) or ISO 8601 with offset. */
  readonly from: number | string;
  /** End, exclusive: same forms as `from`. */
  readonly to: number | string;
  readonly timeZone?: 'Asia/Shanghai';
  /** Drift origin passed to the building models, epoch ms (default: the model's). */
  readonly origin?: number;
}

/** Truth of one building in one local month (the part of the month inside the period). */
export interface MonthTruth {
  /** Local month YYYY-MM (Asia/Shanghai). */
  readonly month: string;
  /** Hours of the month inside the period. */
  readonly hours: number;
  /** Main-meter energy without the retrofits (with events and drift), kWh. */
  readonly counterfactualKwh: number;
  /** Main-meter energy as simulated, kWh. */
  readonly actualKwh: number;
  /** counterfactual − actual, kWh. */
  readonly savingsKwh: number;
  /** PV generation (metered separately), kWh. */
  readonly pvKwh: number;
  /** Ids of the retrofits in force during any part of the month. */
  readonly retrofits: readonly string[];
  /** Ids of the non-routine events in force during any part of the month. */
  readonly events: readonly string[];
}

/** Whole-period totals, kWh. */
export interface TruthTotals {
  readonly hours: number;
  readonly counterfactualKwh: number;
  readonly actualKwh: number;
  readonly savingsKwh: number;
  readonly pvKwh: number;
}

export interface BuildingTruth {
  readonly building: string;
  readonly archetype: ArchetypeId;
  readonly floorAreaM2: number;
  readonly retrofits: readonly Retrofit[];
  readonly events: readonly NonRoutineEvent[];
  readonly months: readonly MonthTruth[];
  readonly totals: TruthTotals;
}

/** The ground truth of a set of buildings over a period, with its lineage. */
export interface GroundTruth {
  readonly generator: { readonly name: string; readonly version: string };
  readonly timeZone: 'Asia/Shanghai';
  /** Period start, ISO 8601 UTC, inclusive. */
  readonly from: string;
  /** Period end, ISO 8601 UTC, exclusive. */
  readonly to: string;
  /** Drift origin used, ISO 8601 UTC (null: the model default). */
  readonly origin: string | null;
  readonly weather: { readonly id: string; readonly digest: string };
  /** sha256 of the canonical JSON (sorted keys) of the specs. */
  readonly specsDigest: string;
  readonly buildings: readonly BuildingTruth[];
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** JSON with object keys sorted at every level, so equal specs give equal digests. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** sha256 (hex) of the canonical JSON of building specs. */
export function specsDigest(specs: readonly BuildingSpec[]): string {
  return createHash('sha256').update(canonicalJson(specs)).digest('hex');
}

function instant(v: number | string, what: string): number {
  if (typeof v === 'number') return v;
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return localMidnightMs(v);
  // Without an offset Date.parse would read the machine's time zone: refuse rather than guess.
  const ms = /(Z|[+-]\d{2}:?\d{2})$/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw modelError('SIM_SPEC_INVALID', `${what}: not a local date YYYY-MM-DD nor ISO 8601 with an offset: ${v}`, { details: { problems: [`${what}: ${v}`] } });
  return ms;
}

/**
 * Ground truth by building and local month over [from, to): true counterfactual, actual, true
 * savings, the retrofits and events in force, and whole-period totals. Hours are whole hours from
 * `from` rounded up to the hour. Each month's figures are the sums of `hour()` of the building
 * model over its hours, in time order.
 * @throws WattproofError SIM_SPEC_INVALID for an unusable spec or period, SIM_TIME_ZONE_UNSUPPORTED for another time zone.
 */
export function groundTruth(specs: readonly BuildingSpec[], weather: WeatherSeries, options: GroundTruthOptions): GroundTruth {
  if (options.timeZone !== undefined && options.timeZone !== 'Asia/Shanghai') {
    throw modelError('SIM_TIME_ZONE_UNSUPPORTED', `time zone ${String(options.timeZone)} is not supported`, { details: { timeZone: options.timeZone } });
  }
  const from = Math.ceil(instant(options.from, 'from') / HOUR_MS) * HOUR_MS;
  const to = instant(options.to, 'to');
  if (!(to > from)) throw modelError('SIM_SPEC_INVALID', 'the period is empty: `to` must be after `from`', { details: { problems: ['to ≤ from'] } });
  const modelOptions = options.origin === undefined ? { timeZone: 'Asia/Shanghai' as const } : { timeZone: 'Asia/Shanghai' as const, origin: options.origin };

  const buildings = specs.map((spec): BuildingTruth => {
    const model = createBuildingModel(spec, weather, modelOptions);
    const retrofitDays = (spec.retrofits ?? []).map((r) => ({ id: r.id, day: dayNumberOf(r.from) }));
    const eventDays = (spec.events ?? []).map((e) => ({ id: e.id, day: dayNumberOf(e.from) }));
    const months: MonthTruth[] = [];
    let current: { month: string; hours: number; cf: number; actual: number; pv: number; lastDay: number } | undefined;
    const close = () => {
      if (!current) return;
      months.push({
        month: current.month,
        hours: current.hours,
        counterfactualKwh: current.cf,
        actualKwh: current.actual,
        savingsKwh: current.cf - current.actual,
        pvKwh: current.pv,
        retrofits: retrofitDays.filter((r) => r.day <= current!.lastDay).map((r) => r.id),
        events: eventDays.filter((e) => e.day <= current!.lastDay).map((e) => e.id),
      });
    };
    let dayNumber = NaN;
    let month = '';
    for (let t = from; t < to; t += HOUR_MS) {
      const dn = Math.floor((t + SHANGHAI_OFFSET_MS) / DAY_MS);
      if (dn !== dayNumber) {
        dayNumber = dn;
        month = dayInfo(dn).date.slice(0, 7);
      }
      if (!current || current.month !== month) {
        close();
        current = { month, hours: 0, cf: 0, actual: 0, pv: 0, lastDay: dn };
      }
      const l = model.hour(t);
      current.hours++;
      current.cf += l.counterfactualMain;
      current.actual += l.main;
      current.pv += l.pv;
      current.lastDay = dn;
    }
    close();
    let cf = 0;
    let actual = 0;
    let pv = 0;
    let hours = 0;
    for (const m of months) {
      cf += m.counterfactualKwh;
      actual += m.actualKwh;
      pv += m.pvKwh;
      hours += m.hours;
    }
    return {
      building: spec.id,
      archetype: spec.archetype,
      floorAreaM2: spec.floorAreaM2,
      retrofits: spec.retrofits ?? [],
      events: spec.events ?? [],
      months,
      totals: { hours, counterfactualKwh: cf, actualKwh: actual, savingsKwh: cf - actual, pvKwh: pv },
    };
  });

  return {
    generator: { ...GROUND_TRUTH_GENERATOR },
    timeZone: 'Asia/Shanghai',
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    origin: options.origin === undefined ? null : new Date(options.origin).toISOString(),
    weather: { id: weather.id, digest: weather.digest },
    specsDigest: specsDigest(specs),
    buildings,
  };
}

/** File names written by {@link writeGroundTruth}. */
export const GROUND_TRUTH_FILES = Object.freeze({ json: 'ground-truth.json', csv: 'ground-truth.csv' });

/** Header of ground-truth.csv. */
export const GROUND_TRUTH_CSV_HEADER = 'building,month,counterfactual_kwh,actual_kwh,savings_kwh';

/**
 * Writes `ground-truth.json` (everything, with lineage: generator, weather id and digest, specs
 * digest) and `ground-truth.csv` (building, month, counterfactual_kwh, actual_kwh, savings_kwh;
 * numbers at full precision so they read back equal) into `dir`, creating it if needed.
 * @returns the paths written.
 */
export function writeGroundTruth(dir: string, truth: GroundTruth): { json: string; csv: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, GROUND_TRUTH_FILES.json);
  const csv = join(dir, GROUND_TRUTH_FILES.csv);
  writeFileSync(json, `${JSON.stringify(truth, null, 2)}\n`);
  const rows = [GROUND_TRUTH_CSV_HEADER];
  for (const b of truth.buildings) {
    for (const m of b.months) rows.push([csvField(b.building), m.month, String(m.counterfactualKwh), String(m.actualKwh), String(m.savingsKwh)].join(','));
  }
  writeFileSync(csv, `${rows.join('\n')}\n`);
  return { json, csv };
}

/** Reads `ground-truth.json` back from `dir`. */
export function readGroundTruth(dir: string): GroundTruth {
  return JSON.parse(readFileSync(join(dir, GROUND_TRUTH_FILES.json), 'utf8')) as GroundTruth;
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
