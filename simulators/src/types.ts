/**
 * Shared types of the full simulator. The building model (archetypes, calendar, weather, ground
 * truth) produces hourly loads; the meter layer (meters, faults, portfolio, runner) turns them
 * into readings and publishes them through the gateway.
 */

/** Building archetypes (DOMAIN.md §4; GB/T 51161 types where the standard has them). */
export const ARCHETYPES = [
  'office_a',
  'office_b',
  'government_office',
  'mall',
  'hotel',
  'hospital',
  'school',
  'data_centre',
  'residential_tower',
] as const;
export type ArchetypeId = (typeof ARCHETYPES)[number];

/** End uses of GB 55015 sub-metering. */
export const END_USES = ['lighting_sockets', 'hvac', 'power', 'special'] as const;
export type EndUse = (typeof END_USES)[number];

/** Weather of one hour. */
export interface WeatherHour {
  readonly temperatureC: number;
  readonly relativeHumidityPct: number;
  /** Global horizontal irradiance over the hour, Wh/m². */
  readonly ghiWhM2: number;
}

/** A weather source: any hour start (epoch ms) maps to a weather hour (typical years repeat). */
export interface WeatherSeries {
  readonly id: string;
  /** sha256 of the source (file or generator settings), for ground-truth lineage. */
  readonly digest: string;
  at(hourStartMs: number): WeatherHour;
}

/** A scheduled retrofit with a known saving, e.g. chiller replacement: −18 % of HVAC cooling energy from a date. */
export interface Retrofit {
  readonly id: string;
  readonly description: string;
  /** Local date YYYY-MM-DD from which it applies. */
  readonly from: string;
  /** Which energy it cuts. */
  readonly target: 'cooling' | 'heating' | 'hvac' | 'lighting_sockets' | 'power' | 'special' | 'total';
  /** Fraction saved, 0..1 (0.18 = −18 %). */
  readonly saving: number;
}

/** A non-routine event (not weather, not the retrofit): changes the baseline itself. */
export interface NonRoutineEvent {
  readonly id: string;
  readonly description: string;
  readonly from: string;
  /** floor_area: scale all loads by (1 + change); occupancy: scale occupied-hour loads; tenant_change: new schedule intensity. */
  readonly kind: 'floor_area' | 'occupancy' | 'tenant_change';
  readonly change: number;
}

/** Everything that defines one simulated building. */
export interface BuildingSpec {
  readonly id: string;
  readonly name?: string;
  readonly archetype: ArchetypeId;
  readonly floorAreaM2: number;
  /** Seed of the building's noise: the same spec and weather give the same loads. */
  readonly seed: number;
  /** On-site PV peak power, kWp (generation metered separately, GB 55015). */
  readonly pvKwp?: number;
  readonly retrofits?: readonly Retrofit[];
  readonly events?: readonly NonRoutineEvent[];
  /** Gradual drift of all loads per year (e.g. 0.01 = +1 %/a), from the simulation origin. */
  readonly driftPerYear?: number;
  /** PV performance ratio (AC energy / (kWp × kWh/m² of GHI)), default 0.8. */
  readonly pvPerformanceRatio?: number;
  /** Site coordinates, degrees (north, east); informational (weather comes from the WeatherSeries). */
  readonly location?: { readonly latitudeDeg: number; readonly longitudeDeg: number };
}

/** The HVAC end use split by purpose, kWh: cooling + heating + fans = hvac (retrofits target cooling or heating alone). */
export interface HvacParts {
  readonly cooling: number;
  readonly heating: number;
  /** Fans and pumps of the HVAC system. */
  readonly fans: number;
}

/** Energy of one hour of one building, kWh. */
export interface HourLoads {
  readonly hourStartMs: number;
  readonly endUses: Readonly<Record<EndUse, number>>;
  /** Σ end uses (the main meter; PV is metered separately). */
  readonly main: number;
  /** PV generation in the hour. */
  readonly pv: number;
  /** What `main` would have been without the retrofits (with the non-routine events and drift). */
  readonly counterfactualMain: number;
  /** Split of `endUses.hvac` (set by the physical building model). */
  readonly hvacParts?: Readonly<HvacParts>;
  /** End uses without the retrofits; Σ = `counterfactualMain` (set by the physical building model). */
  readonly counterfactualEndUses?: Readonly<Record<EndUse, number>>;
}
