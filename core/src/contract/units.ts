/**
 * Quantities, units and kinds of message contract v1, and the conversion of every unit to the
 * canonical unit of its dimension (energy kWh, power kW, volume m3, temperature °C).
 */

export const QUANTITIES = [
  'electricity',
  'pv',
  'gas',
  'water',
  'heat',
  'cooling',
  'outdoor_temperature',
  'indoor_temperature',
  'relative_humidity',
  'irradiance',
] as const;
export type Quantity = (typeof QUANTITIES)[number];

/** interval: energy/volume used over `intervalS` from `ts`; register: cumulative meter index at `ts`; instant: a sample at `ts`. */
export const KINDS = ['interval', 'register', 'instant'] as const;
export type ReadingKind = (typeof KINDS)[number];

export type Dimension = 'energy' | 'power' | 'volume' | 'temperature' | 'ratio' | 'irradiance';

interface UnitSpec {
  readonly dimension: Dimension;
  /** Canonical value = (value + offset) * factor. */
  readonly factor: number;
  readonly offset?: number;
}

export const UNITS = {
  Wh: { dimension: 'energy', factor: 1e-3 },
  kWh: { dimension: 'energy', factor: 1 },
  MWh: { dimension: 'energy', factor: 1e3 },
  MJ: { dimension: 'energy', factor: 1 / 3.6 },
  GJ: { dimension: 'energy', factor: 1e3 / 3.6 },
  // 1 therm = 105.4804 MJ (US therm, as in the CalTRACK gas samples).
  therm: { dimension: 'energy', factor: 105.4804 / 3.6 },
  W: { dimension: 'power', factor: 1e-3 },
  kW: { dimension: 'power', factor: 1 },
  MW: { dimension: 'power', factor: 1e3 },
  m3: { dimension: 'volume', factor: 1 },
  L: { dimension: 'volume', factor: 1e-3 },
  '°C': { dimension: 'temperature', factor: 1 },
  degC: { dimension: 'temperature', factor: 1 },
  '°F': { dimension: 'temperature', factor: 5 / 9, offset: -32 },
  degF: { dimension: 'temperature', factor: 5 / 9, offset: -32 },
  K: { dimension: 'temperature', factor: 1, offset: -273.15 },
  '%': { dimension: 'ratio', factor: 1 },
  'W/m2': { dimension: 'irradiance', factor: 1 },
} as const satisfies Record<string, UnitSpec>;
export type Unit = keyof typeof UNITS;
export const UNIT_NAMES = Object.keys(UNITS) as Unit[];

export const CANONICAL_UNIT: Record<Dimension, Unit> = {
  energy: 'kWh',
  power: 'kW',
  volume: 'm3',
  temperature: '°C',
  ratio: '%',
  irradiance: 'W/m2',
};

/** Which dimensions a quantity may be reported in, per kind. Absent kind = not allowed. */
export const ALLOWED_DIMENSIONS: Record<Quantity, Partial<Record<ReadingKind, readonly Dimension[]>>> = {
  electricity: { interval: ['energy'], register: ['energy'], instant: ['power'] },
  pv: { interval: ['energy'], register: ['energy'], instant: ['power'] },
  heat: { interval: ['energy'], register: ['energy'], instant: ['power'] },
  cooling: { interval: ['energy'], register: ['energy'], instant: ['power'] },
  gas: { interval: ['volume', 'energy'], register: ['volume', 'energy'] },
  water: { interval: ['volume'], register: ['volume'] },
  outdoor_temperature: { instant: ['temperature'] },
  indoor_temperature: { instant: ['temperature'] },
  relative_humidity: { instant: ['ratio'] },
  irradiance: { instant: ['irradiance'] },
};

export function allowedUnits(quantity: Quantity, kind: ReadingKind): Unit[] {
  const dims = ALLOWED_DIMENSIONS[quantity][kind] ?? [];
  return UNIT_NAMES.filter((u) => dims.includes(UNITS[u].dimension));
}

export function isUnitAllowed(quantity: Quantity, kind: ReadingKind, unit: Unit): boolean {
  return (ALLOWED_DIMENSIONS[quantity][kind] ?? []).includes(UNITS[unit].dimension);
}

/** Converts a value to the canonical unit of its dimension. */
export function toCanonical(value: number, unit: Unit): { value: number; unit: Unit } {
  const spec: UnitSpec = UNITS[unit];
  return { value: (value + (spec.offset ?? 0)) * spec.factor, unit: CANONICAL_UNIT[spec.dimension] };
}
