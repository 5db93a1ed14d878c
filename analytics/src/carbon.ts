/**
 * Carbon and benchmarks (DOMAIN.md §3–4): avoided tCO2 from an effective-dated grid factor
 * (every result names the factor it used), carbon intensity, and EUI over the last 12 months
 * against the GB/T 51161 quota of the building type.
 */
import type { EmissionFactor, EmissionFactors, Quotas } from './reference.js';

export interface FactorQuery {
  readonly region: string;
  readonly basis: 'location' | 'market';
  /** The date the figure is for (YYYY-MM-DD): the newest factor effective on or before it is used. */
  readonly asOf: string;
  /** Prefer this level; falls back to broader levels (provincial → regional → national). */
  readonly level?: EmissionFactor['level'];
}

const LEVEL_ORDER: EmissionFactor['level'][] = ['supplier', 'provincial', 'regional', 'national'];

/**
 * The factor in force: the most specific level available for the region, newest `effectiveFrom`
 * on or before `asOf`. Returns undefined when none applies (the caller reports it; no default).
 */
export function selectEmissionFactor(table: EmissionFactors, q: FactorQuery): EmissionFactor | undefined {
  const start = q.level ? LEVEL_ORDER.indexOf(q.level) : 0;
  for (const level of LEVEL_ORDER.slice(start)) {
    const candidates = table.factors
      .filter((f) => f.level === level && f.basis === q.basis && f.effectiveFrom <= q.asOf && (f.region === q.region || (level === 'national' && q.region.startsWith(f.region))))
      .sort((a, b) => (a.effectiveFrom === b.effectiveFrom ? b.dataYear - a.dataYear : a.effectiveFrom < b.effectiveFrom ? 1 : -1));
    if (candidates[0]) return candidates[0];
  }
  return undefined;
}

export interface CarbonResult {
  readonly factorId: string;
  readonly factor: number;
  readonly basis: 'location' | 'market';
  /** Avoided emissions, tCO2 (avoided kWh × factor / 1000). */
  readonly avoidedTco2: number;
  /** Emissions of the observed use, tCO2. */
  readonly emissionsTco2: number;
  /** kgCO2 per m² and year (observed use annualised over the covered days), null without floor area. */
  readonly intensityKgPerM2: number | null;
}

export function carbon(opts: { avoidedKwh: number; observedKwh: number; days: number; floorAreaM2?: number; factor: EmissionFactor }): CarbonResult {
  const emissionsKg = opts.observedKwh * opts.factor.value;
  return {
    factorId: opts.factor.id,
    factor: opts.factor.value,
    basis: opts.factor.basis,
    avoidedTco2: (opts.avoidedKwh * opts.factor.value) / 1000,
    emissionsTco2: emissionsKg / 1000,
    intensityKgPerM2: opts.floorAreaM2 && opts.days > 0 ? (emissionsKg * (365 / opts.days)) / opts.floorAreaM2 : null,
  };
}

export interface EuiResult {
  /** kWh/(m²·a) over the window. */
  readonly eui: number;
  readonly windowDays: number;
  readonly quota?: { buildingType: string; constraint: number; guide: number; confirmed: boolean; meetsConstraint: boolean; meetsGuide: boolean; reference: { id: string; version: string } };
}

/** EUI = site energy over the last 12 months (electricity-equivalent kWh) / floor area, annualised when the window is shorter. */
export function eui(opts: { energyKwh: number; windowDays: number; floorAreaM2: number; buildingType?: string; quotas?: Quotas }): EuiResult {
  const value = (opts.energyKwh / opts.floorAreaM2) * (365 / opts.windowDays);
  const q = opts.buildingType ? opts.quotas?.quotas.find((x) => x.buildingType === opts.buildingType) : undefined;
  return {
    eui: value,
    windowDays: opts.windowDays,
    ...(q && opts.quotas
      ? { quota: { buildingType: q.buildingType, constraint: q.constraint, guide: q.guide, confirmed: q.confirmed, meetsConstraint: value <= q.constraint, meetsGuide: value <= q.guide, reference: { id: opts.quotas.id, version: opts.quotas.version } } }
      : {}),
  };
}
