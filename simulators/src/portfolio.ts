/**
 * Portfolio files: sites, parks, buildings (the building model's `BuildingSpec`) and their meters,
 * the faults to inject and how meters connect. JSON or YAML, validated once with zod; every
 * problem is reported with the path of its field (`buildings[3].meters[1].intervalS: ...`).
 *
 * ```yaml
 * version: 1
 * seed: 42
 * connection: { strategy: aggregator }        # or device (one MQTT connection per meter)
 * sites:
 *   - { id: cq-park, timezone: Asia/Shanghai, coordinates: { latitude: 29.56, longitude: 106.55 } }
 * buildings:
 *   - id: tower-a
 *     site: cq-park
 *     archetype: office_a
 *     floorAreaM2: 32000
 *     seed: 7
 *     meters:
 *       - { id: elec-main, source: main, kind: interval, intervalS: 900 }
 *       - { id: gas, source: gas, kind: register, intervalS: 3600, rollover: 1000000 }
 * ```
 *
 * `generatePortfolio()` makes large deterministic portfolios (e.g. 2,000 buildings, 20,000 meters).
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { createErrorFactory, formatPath, ID_PATTERN, isUnitAllowed, KINDS, UNIT_NAMES, type ErrorCatalogue, type MeterRef, type Unit } from '@wattproof/core';
import { faultsConfigSchema } from './faults.js';
import { isValidMeterInterval, meterQuantities, METER_SOURCES, type MeterDefinition } from './meters.js';
import { createRng } from './model.js';
import { ARCHETYPES, END_USES, type ArchetypeId, type BuildingSpec } from './types.js';

/** Error catalogue of portfolio files. */
export const PORTFOLIO_ERRORS = {
  SIM_PORTFOLIO_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'A simulator portfolio file (JSON or YAML) does not parse or breaks its schema; the message lists every problem with the path of its field.',
    fix: 'Correct the fields named in the message (e.g. `buildings[3].meters[1].intervalS`); see simulators/src/portfolio.ts for the schema.',
  },
  SIM_PORTFOLIO_UNREADABLE: {
    statusCode: 400,
    retriable: false,
    meaning: 'The portfolio file could not be read.',
    fix: 'Check the path and its permissions.',
  },
} as const satisfies ErrorCatalogue;
const portfolioError = createErrorFactory(PORTFOLIO_ERRORS);

const id = z.string().regex(ID_PATTERN, 'must start with a letter or digit, then letters, digits, _ . - (at most 64)');
const localDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a local date YYYY-MM-DD');
const dateOrTime = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/, 'must be a local date YYYY-MM-DD or ISO 8601 with an offset');

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const clockSchema = z.strictObject({
  driftPpm: z.number().min(-1000).max(1000).describe('Clock drift, ppm (+20 = gains 1.73 s a day)'),
  initialOffsetMs: z.number().optional().describe('Offset at the start, ms'),
  ntpSyncIntervalS: z.number().int().positive().optional().describe('NTP steps the clock back every this many seconds'),
  ntpResidualMs: z.number().min(0).optional().describe('Largest error right after an NTP step, ms'),
});

const meterSchema = z
  .strictObject({
    id,
    name: z.string().optional(),
    source: z.enum(METER_SOURCES.filter((s) => s !== 'weather') as [Exclude<(typeof METER_SOURCES)[number], 'weather'>, ...Array<Exclude<(typeof METER_SOURCES)[number], 'weather'>>]).describe('What the meter measures'),
    kind: z.enum(KINDS).default('interval'),
    intervalS: z.number().int().positive().default(900).describe('Interval, register reading period or sampling period, seconds'),
    unit: z.enum(UNIT_NAMES as [Unit, ...Unit[]]).optional(),
    decimals: z.number().int().min(0).max(6).optional(),
    rollover: z.number().positive().optional().describe('Register only: value at which the index wraps'),
    initialIndex: z.number().min(0).optional(),
    serial: z.string().min(1).max(128).optional(),
    replacements: z.array(z.strictObject({ at: dateOrTime, serial: z.string().min(1).max(128), initialIndex: z.number().min(0).optional() })).optional(),
    clock: clockSchema.optional(),
    parent: id.optional().describe('Main meter a sub-meter rolls up to'),
  })
  .superRefine((m, ctx) => {
    if (!isValidMeterInterval(m.intervalS)) ctx.addIssue({ code: 'custom', path: ['intervalS'], message: `intervalS ${m.intervalS} neither divides 3600 nor is a whole number of hours` });
    if (m.rollover !== undefined && m.kind !== 'register') ctx.addIssue({ code: 'custom', path: ['rollover'], message: 'rollover is only allowed for kind "register"' });
    if (m.initialIndex !== undefined && m.kind !== 'register') ctx.addIssue({ code: 'custom', path: ['initialIndex'], message: 'initialIndex is only allowed for kind "register"' });
    if (m.initialIndex !== undefined && m.rollover !== undefined && m.initialIndex >= m.rollover) {
      ctx.addIssue({ code: 'custom', path: ['initialIndex'], message: `initialIndex ${m.initialIndex} is not below rollover ${m.rollover}` });
    }
    if (m.kind === 'instant' && (m.source === 'gas' || m.source === 'water')) {
      ctx.addIssue({ code: 'custom', path: ['kind'], message: `${m.source} cannot be metered as kind "instant" (contract v1)` });
    }
    const [q] = meterQuantities({ source: m.source, kind: m.kind, unit: m.unit, decimals: m.decimals });
    if (m.unit !== undefined && q && !isUnitAllowed(q.quantity, m.kind, m.unit)) {
      ctx.addIssue({ code: 'custom', path: ['unit'], message: `unit "${m.unit}" is not valid for ${q.quantity} (${m.kind})` });
    }
  });

const weatherStationSchema = z.strictObject({
  building: id.default('weather').describe('Building id of the station in its topic'),
  meter: id.default('station'),
  intervalS: z.number().int().positive().default(900),
  clock: clockSchema.optional(),
});

const siteSchema = z.strictObject({
  id,
  name: z.string().optional(),
  timezone: z.string().refine(isTimeZone, 'is not an IANA time zone (e.g. Asia/Shanghai)').default('Asia/Shanghai'),
  coordinates: z.strictObject({ latitude: z.number().min(-90).max(90), longitude: z.number().min(-180).max(180) }).optional(),
  weather: z.string().min(1).optional().describe('Weather series id for the building model (default: the model\'s typical year)'),
  weatherStation: z
    .union([z.boolean(), weatherStationSchema])
    .optional()
    .transform((v) => (v === true ? weatherStationSchema.parse({}) : v === false ? undefined : v))
    .describe('The site\'s weather-station meter (temperature, humidity, irradiance): true or its settings; absent or false = none'),
  aggregators: z.number().int().min(1).max(1000).default(1).describe('Aggregator connections of the site in aggregator mode'),
});

const parkSchema = z.strictObject({ id, site: id, name: z.string().optional(), buildings: z.array(id).optional() });

const retrofitSchema = z.strictObject({
  id: z.string().min(1),
  description: z.string(),
  from: localDate,
  target: z.enum(['cooling', 'heating', 'hvac', 'lighting_sockets', 'power', 'special', 'total']),
  saving: z.number().min(0).max(1),
});
const eventSchema = z.strictObject({
  id: z.string().min(1),
  description: z.string(),
  from: localDate,
  kind: z.enum(['floor_area', 'occupancy', 'tenant_change']),
  change: z.number().min(-1).max(10),
});

const buildingSchema = z.strictObject({
  id,
  site: id,
  park: id.optional(),
  name: z.string().optional(),
  archetype: z.enum(ARCHETYPES),
  floorAreaM2: z.number().positive().max(5_000_000),
  seed: z.number().int(),
  pvKwp: z.number().min(0).optional(),
  retrofits: z.array(retrofitSchema).optional(),
  events: z.array(eventSchema).optional(),
  driftPerYear: z.number().min(-1).max(1).optional(),
  pvPerformanceRatio: z.number().positive().max(1).optional(),
  location: z.strictObject({ latitudeDeg: z.number().min(-90).max(90), longitudeDeg: z.number().min(-180).max(180) }).optional().describe('Default: the site\'s coordinates'),
  meters: z.array(meterSchema).min(1),
});

export const CONNECTION_STRATEGIES = ['device', 'aggregator'] as const;
export type ConnectionStrategy = (typeof CONNECTION_STRATEGIES)[number];

/** The portfolio file. */
export const portfolioSchema = z
  .strictObject({
    version: z.literal(1).default(1),
    name: z.string().optional(),
    seed: z.number().int().default(1).describe('Seed of everything not seeded per building (fault decisions, register start indexes)'),
    connection: z
      .strictObject({
        strategy: z.enum(CONNECTION_STRATEGIES).default('device').describe('device: one MQTT connection per meter with its own credentials; aggregator: one per site'),
        connections: z.number().int().positive().optional().describe('Connections open at once, at most'),
        ratePerS: z.number().positive().optional().describe('Messages per second, at most'),
      })
      .default({ strategy: 'device' }),
    sites: z.array(siteSchema).min(1),
    parks: z.array(parkSchema).optional(),
    buildings: z.array(buildingSchema).min(1),
    faults: faultsConfigSchema.optional(),
  })
  .superRefine((p, ctx) => {
    const sites = new Map<string, number>();
    p.sites.forEach((s, i) => {
      if (sites.has(s.id)) ctx.addIssue({ code: 'custom', path: ['sites', i, 'id'], message: `duplicate site id "${s.id}" (also sites[${sites.get(s.id)}])` });
      else sites.set(s.id, i);
    });
    const parks = new Map<string, { site: string; i: number }>();
    (p.parks ?? []).forEach((park, i) => {
      if (parks.has(park.id)) ctx.addIssue({ code: 'custom', path: ['parks', i, 'id'], message: `duplicate park id "${park.id}"` });
      else parks.set(park.id, { site: park.site, i });
      if (!sites.has(park.site)) ctx.addIssue({ code: 'custom', path: ['parks', i, 'site'], message: `unknown site "${park.site}"` });
    });
    const buildings = new Map<string, number>();
    p.buildings.forEach((b, i) => {
      const key = `${b.site}/${b.id}`;
      if (buildings.has(key)) ctx.addIssue({ code: 'custom', path: ['buildings', i, 'id'], message: `duplicate building "${key}" (also buildings[${buildings.get(key)}])` });
      else buildings.set(key, i);
      if (!sites.has(b.site)) ctx.addIssue({ code: 'custom', path: ['buildings', i, 'site'], message: `unknown site "${b.site}"` });
      if (b.park !== undefined) {
        const park = parks.get(b.park);
        if (!park) ctx.addIssue({ code: 'custom', path: ['buildings', i, 'park'], message: `unknown park "${b.park}"` });
        else if (park.site !== b.site) ctx.addIssue({ code: 'custom', path: ['buildings', i, 'park'], message: `park "${b.park}" is on site "${park.site}", not "${b.site}"` });
      }
      const meters = new Set<string>();
      b.meters.forEach((m, j) => {
        if (meters.has(m.id)) ctx.addIssue({ code: 'custom', path: ['buildings', i, 'meters', j, 'id'], message: `duplicate meter id "${m.id}" in building "${b.id}"` });
        meters.add(m.id);
      });
      b.meters.forEach((m, j) => {
        if (m.parent !== undefined && !meters.has(m.parent)) ctx.addIssue({ code: 'custom', path: ['buildings', i, 'meters', j, 'parent'], message: `unknown meter "${m.parent}" in building "${b.id}"` });
      });
    });
    (p.parks ?? []).forEach((park, i) => {
      (park.buildings ?? []).forEach((bid, j) => {
        if (!buildings.has(`${park.site}/${bid}`)) ctx.addIssue({ code: 'custom', path: ['parks', i, 'buildings', j], message: `unknown building "${bid}" on site "${park.site}"` });
      });
    });
    p.sites.forEach((s, i) => {
      const ws = s.weatherStation;
      if (ws && buildings.has(`${s.id}/${ws.building}`)) {
        ctx.addIssue({ code: 'custom', path: ['sites', i, 'weatherStation', 'building'], message: `"${ws.building}" is also a building of site "${s.id}"; give the station another building id` });
      }
    });
  });

export type PortfolioInput = z.input<typeof portfolioSchema>;
export type Portfolio = z.output<typeof portfolioSchema>;
export type PortfolioSite = Portfolio['sites'][number];
export type PortfolioBuilding = Portfolio['buildings'][number];
export type PortfolioMeter = PortfolioBuilding['meters'][number];

/**
 * Validates a parsed portfolio (from JSON, YAML or code).
 * @param source - named in the error message (a file path).
 * @throws WattproofError SIM_PORTFOLIO_INVALID listing every problem with its field path (details.issues).
 */
export function parsePortfolio(input: unknown, source = 'portfolio'): Portfolio {
  const parsed = portfolioSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
  const shown = issues.slice(0, 20).map((i) => `  ${i.path || '(root)'}: ${i.message}`);
  const more = issues.length > 20 ? [`  ... and ${issues.length - 20} more`] : [];
  throw portfolioError('SIM_PORTFOLIO_INVALID', `${source} is invalid (${issues.length} problem${issues.length > 1 ? 's' : ''}):\n${[...shown, ...more].join('\n')}`, { details: { issues } });
}

/**
 * Reads a portfolio file: `.json`, or `.yaml`/`.yml` (any other extension: JSON, then YAML).
 * @throws WattproofError SIM_PORTFOLIO_UNREADABLE, SIM_PORTFOLIO_INVALID
 */
export async function loadPortfolio(path: string): Promise<Portfolio> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw portfolioError('SIM_PORTFOLIO_UNREADABLE', `cannot read portfolio ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parsePortfolioText(text, path);
}

/** Parses portfolio text; the format follows the extension of `source` (JSON or YAML). */
export function parsePortfolioText(text: string, source = 'portfolio.yaml'): Portfolio {
  const ext = extname(source).toLowerCase();
  let data: unknown;
  try {
    if (ext === '.json') data = JSON.parse(text);
    else if (ext === '.yaml' || ext === '.yml') data = parseYaml(text);
    else {
      try {
        data = JSON.parse(text);
      } catch {
        data = parseYaml(text);
      }
    }
  } catch (err) {
    throw portfolioError('SIM_PORTFOLIO_INVALID', `${source} is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`, { cause: err });
  }
  return parsePortfolio(data, source);
}

/** UTC offset of `tz` at `ms`, ms east of UTC. */
export function timeZoneOffsetMs(tz: string, ms: number): number {
  const name = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' }).formatToParts(ms).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3_600_000 + Number(m[3]) * 60_000) : 0;
}

/** `YYYY-MM-DD` (local midnight in `tz`) or ISO 8601 with an offset, to epoch ms. */
export function resolveLocalTime(value: string, tz: string): number {
  if (value.length > 10) return Date.parse(value);
  const [y, m, d] = value.split('-').map(Number) as [number, number, number];
  const guess = Date.UTC(y, m - 1, d);
  const first = guess - timeZoneOffsetMs(tz, guess);
  return guess - timeZoneOffsetMs(tz, first);
}

/** One meter of the portfolio with everything needed to simulate and publish it. */
export interface ResolvedMeter {
  readonly ref: MeterRef;
  readonly site: PortfolioSite;
  /** Undefined for a site's weather station. */
  readonly building?: PortfolioBuilding;
  readonly definition: MeterDefinition;
  readonly name?: string;
  readonly parent?: string;
}

/** The building model's spec of a portfolio building (its location defaults to the site's coordinates). */
export function buildingSpecOf(b: PortfolioBuilding, site?: PortfolioSite): BuildingSpec {
  const location = b.location ?? (site?.coordinates ? { latitudeDeg: site.coordinates.latitude, longitudeDeg: site.coordinates.longitude } : undefined);
  return {
    id: b.id,
    ...(b.name !== undefined ? { name: b.name } : {}),
    archetype: b.archetype,
    floorAreaM2: b.floorAreaM2,
    seed: b.seed,
    ...(b.pvKwp !== undefined ? { pvKwp: b.pvKwp } : {}),
    ...(b.retrofits ? { retrofits: b.retrofits } : {}),
    ...(b.events ? { events: b.events } : {}),
    ...(b.driftPerYear !== undefined ? { driftPerYear: b.driftPerYear } : {}),
    ...(b.pvPerformanceRatio !== undefined ? { pvPerformanceRatio: b.pvPerformanceRatio } : {}),
    ...(location ? { location } : {}),
  };
}

/** Every meter of the portfolio (buildings' meters, then each site's weather station), in file order. */
export function portfolioMeters(p: Portfolio): ResolvedMeter[] {
  const sites = new Map(p.sites.map((s) => [s.id, s]));
  const out: ResolvedMeter[] = [];
  for (const b of p.buildings) {
    const site = sites.get(b.site)!;
    // Whole hours east of UTC at the first of January: daily and other multi-hour intervals start at local midnight.
    const alignOffsetS = Math.round(timeZoneOffsetMs(site.timezone, Date.UTC(2026, 0, 1)) / 3_600_000) * 3600;
    for (const m of b.meters) {
      const definition: MeterDefinition = {
        id: m.id,
        source: m.source,
        kind: m.kind,
        intervalS: m.intervalS,
        alignOffsetS,
        ...(m.unit !== undefined ? { unit: m.unit } : {}),
        ...(m.decimals !== undefined ? { decimals: m.decimals } : {}),
        ...(m.rollover !== undefined ? { rollover: m.rollover } : {}),
        ...(m.initialIndex !== undefined ? { initialIndex: m.initialIndex } : {}),
        ...(m.serial !== undefined ? { serial: m.serial } : {}),
        ...(m.replacements ? { replacements: m.replacements.map((r) => ({ atMs: resolveLocalTime(r.at, site.timezone), serial: r.serial, ...(r.initialIndex !== undefined ? { initialIndex: r.initialIndex } : {}) })) } : {}),
        ...(m.clock ? { clock: m.clock } : {}),
      };
      out.push({ ref: { site: b.site, building: b.id, meter: m.id }, site, building: b, definition, ...(m.name !== undefined ? { name: m.name } : {}), ...(m.parent !== undefined ? { parent: m.parent } : {}) });
    }
  }
  for (const site of p.sites) {
    const ws = site.weatherStation;
    if (!ws) continue;
    out.push({
      ref: { site: site.id, building: ws.building, meter: ws.meter },
      site,
      definition: { id: ws.meter, source: 'weather', kind: 'instant', intervalS: ws.intervalS, ...(ws.clock ? { clock: ws.clock } : {}) },
      name: `${site.name ?? site.id} weather station`,
    });
  }
  return out;
}

/** Options of `generatePortfolio`. */
export interface GeneratePortfolioOptions {
  readonly buildings: number;
  /** Meters per building (not counting the sites' weather stations). Default 10. */
  readonly metersPerBuilding?: number;
  readonly seed?: number;
  /** Buildings per site. Default 100. */
  readonly buildingsPerSite?: number;
  /** Interval of the interval meters and sampling period of the demand meters, seconds. Default 900. */
  readonly intervalS?: number;
  readonly strategy?: ConnectionStrategy;
  /** Add a weather station per site. Default true. */
  readonly weatherStations?: boolean;
}

const ARCHETYPE_MIX: ReadonlyArray<[ArchetypeId, number, [number, number]]> = [
  // archetype, share, floor area range m²
  ['office_a', 0.22, [8000, 60000]],
  ['office_b', 0.18, [3000, 20000]],
  ['government_office', 0.08, [5000, 30000]],
  ['mall', 0.1, [20000, 150000]],
  ['hotel', 0.1, [10000, 60000]],
  ['hospital', 0.06, [20000, 120000]],
  ['school', 0.12, [5000, 40000]],
  ['data_centre', 0.02, [2000, 15000]],
  ['residential_tower', 0.12, [10000, 50000]],
];

/** Meter templates of a generated building, in the order they are taken. */
const METER_TEMPLATES: ReadonlyArray<(intervalS: number, pv: boolean) => PortfolioInput['buildings'][number]['meters'][number] | undefined> = [
  (s) => ({ id: 'elec-main', source: 'main', kind: 'interval', intervalS: s }),
  (s) => ({ id: 'elec-lighting', source: 'lighting_sockets', kind: 'interval', intervalS: s, parent: 'elec-main' }),
  (s) => ({ id: 'elec-hvac', source: 'hvac', kind: 'interval', intervalS: s, parent: 'elec-main' }),
  (s) => ({ id: 'elec-power', source: 'power', kind: 'interval', intervalS: s, parent: 'elec-main' }),
  (s) => ({ id: 'elec-special', source: 'special', kind: 'interval', intervalS: s, parent: 'elec-main' }),
  (_s, pv) => (pv ? { id: 'pv', source: 'pv', kind: 'interval', intervalS: 900 } : undefined),
  () => ({ id: 'gas', source: 'gas', kind: 'register', intervalS: 3600, unit: 'm3', rollover: 1_000_000 }),
  () => ({ id: 'water', source: 'water', kind: 'register', intervalS: 3600, unit: 'm3', rollover: 100_000 }),
  (s) => ({ id: 'demand', source: 'main', kind: 'instant', intervalS: s, unit: 'kW' }),
  () => ({ id: 'elec-register', source: 'main', kind: 'register', intervalS: 3600, unit: 'kWh', rollover: 1_000_000 }),
];

/**
 * A large deterministic portfolio: buildings spread over sites of `buildingsPerSite` around
 * Chongqing, an archetype mix with plausible floor areas, PV on about half, and
 * `metersPerBuilding` meters each (main, four end-use sub-meters, PV, gas and water registers,
 * kW demand, a kWh register; more meters add further end-use sub-meters).
 */
export function generatePortfolio(options: GeneratePortfolioOptions): Portfolio {
  const n = options.buildings;
  const perBuilding = options.metersPerBuilding ?? 10;
  const perSite = options.buildingsPerSite ?? 100;
  const intervalS = options.intervalS ?? 900;
  const seed = options.seed ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new RangeError('buildings must be a positive integer');
  if (!Number.isInteger(perBuilding) || perBuilding < 1) throw new RangeError('metersPerBuilding must be a positive integer');
  const rng = createRng(seed);
  const siteCount = Math.ceil(n / perSite);
  const width = String(siteCount).length < 3 ? 3 : String(siteCount).length;
  const sites: PortfolioInput['sites'] = [];
  for (let s = 0; s < siteCount; s++) {
    sites.push({
      id: `site-${String(s + 1).padStart(width, '0')}`,
      name: `Generated site ${s + 1}`,
      timezone: 'Asia/Shanghai',
      // Around Chongqing (29.56 N, 106.55 E), within ~40 km.
      coordinates: { latitude: Math.round((29.56 + (rng() - 0.5) * 0.7) * 1e4) / 1e4, longitude: Math.round((106.55 + (rng() - 0.5) * 0.8) * 1e4) / 1e4 },
      ...(options.weatherStations === false ? {} : { weatherStation: { intervalS } }),
    });
  }
  const bWidth = Math.max(4, String(n).length);
  const buildings: PortfolioInput['buildings'] = [];
  for (let i = 0; i < n; i++) {
    let pick = rng();
    let arch = ARCHETYPE_MIX[0]!;
    for (const a of ARCHETYPE_MIX) {
      arch = a;
      if ((pick -= a[1]) < 0) break;
    }
    const [lo, hi] = arch[2];
    const floorAreaM2 = Math.round(lo + rng() * (hi - lo));
    const pv = rng() < 0.5;
    const pvKwp = pv ? Math.round(floorAreaM2 * (0.005 + rng() * 0.01)) : undefined;
    const meters: PortfolioInput['buildings'][number]['meters'] = [];
    for (const t of METER_TEMPLATES) {
      if (meters.length >= perBuilding) break;
      const m = t(intervalS, pv);
      if (m) meters.push(m);
    }
    for (let k = 0; meters.length < perBuilding; k++) {
      const endUse = END_USES[k % END_USES.length]!;
      meters.push({ id: `elec-${endUse.replace('_', '-')}-${Math.floor(k / END_USES.length) + 2}`, source: endUse, kind: 'interval', intervalS, parent: 'elec-main' });
    }
    // The main meter is the parent of the sub-meters; drop the reference when it was not taken.
    const hasMain = meters.some((m) => m.id === 'elec-main');
    buildings.push({
      id: `b${String(i + 1).padStart(bWidth, '0')}`,
      site: sites[Math.floor(i / perSite)]!.id,
      archetype: arch[0],
      floorAreaM2,
      seed: Math.floor(rng() * 2 ** 31),
      ...(pvKwp !== undefined ? { pvKwp } : {}),
      meters: hasMain ? meters : meters.map(({ parent: _parent, ...m }) => m),
    });
  }
  return parsePortfolio(
    { version: 1, name: `generated ${n} buildings`, seed, connection: { strategy: options.strategy ?? 'device' }, sites, buildings },
    'generated portfolio',
  );
}

/**
 * A portfolio of one site from building specs (e.g. `chongqingDemoPark(now)`), each building with
 * the standard meters: main and four end-use sub-meters at `intervalS`, PV when it has `pvKwp`, a
 * gas register, and kW demand; plus the site's weather station.
 */
export function portfolioFromSpecs(
  site: { id: string; name?: string; timezone?: string; latitude?: number; longitude?: number },
  specs: readonly BuildingSpec[],
  options: { intervalS?: number; seed?: number; strategy?: ConnectionStrategy } = {},
): Portfolio {
  const intervalS = options.intervalS ?? 900;
  return parsePortfolio(
    {
      version: 1,
      seed: options.seed ?? 1,
      connection: { strategy: options.strategy ?? 'device' },
      sites: [
        {
          id: site.id,
          ...(site.name !== undefined ? { name: site.name } : {}),
          timezone: site.timezone ?? 'Asia/Shanghai',
          ...(site.latitude !== undefined && site.longitude !== undefined ? { coordinates: { latitude: site.latitude, longitude: site.longitude } } : {}),
          weatherStation: { intervalS },
        },
      ],
      buildings: specs.map((s) => ({
        ...s,
        site: site.id,
        meters: [
          ...METER_TEMPLATES.slice(0, 6)
            .map((t) => t(intervalS, (s.pvKwp ?? 0) > 0))
            .filter((m) => m !== undefined),
          { id: 'gas', source: 'gas', kind: 'register', intervalS: 3600, unit: 'm3', rollover: 1_000_000 },
          { id: 'demand', source: 'main', kind: 'instant', intervalS, unit: 'kW' },
        ],
      })),
    },
    'portfolio from building specs',
  );
}

/** Counts of a portfolio, for logs and the CLI. */
export function portfolioSummary(p: Portfolio): { sites: number; buildings: number; meters: number; weatherStations: number } {
  const stations = p.sites.filter((s) => s.weatherStation).length;
  return { sites: p.sites.length, buildings: p.buildings.length, meters: p.buildings.reduce((n, b) => n + b.meters.length, 0) + stations, weatherStations: stations };
}
