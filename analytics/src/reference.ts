/**
 * Versioned reference data: ASHRAE Guideline 14 acceptance thresholds, grid emission factors and
 * GB/T 51161 energy-use quotas. Each set is a JSON file under analytics/reference/ with its id,
 * version and source; results name the set (id, version, sha256 of the file) they used, so a
 * figure can be re-derived with the same reference data.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

let referenceDir = new URL('../reference/', import.meta.url);

/**
 * Points the analytics at another directory of reference data (same file names and schemas),
 * e.g. a bank's own Guideline 14 thresholds or newer emission factors. Called once by `main`.
 */
export function configureReferenceData(dir: string): void {
  referenceDir = new URL(`file://${dir.endsWith('/') ? dir : `${dir}/`}`);
  cache = undefined;
}

/** Identity of a reference-data set as recorded in lineage. */
export interface ReferenceVersion {
  readonly id: string;
  readonly version: string;
  /** sha256 of the file's bytes. */
  readonly sha256: string;
}

const thresholdSchema = z.object({ cvrmseMax: z.number().positive(), nmbeMaxAbs: z.number().positive() });
export const g14Schema = z.object({
  id: z.string(),
  version: z.string(),
  effectiveFrom: z.string(),
  source: z.string(),
  confirmed: z.boolean(),
  thresholds: z.object({ billing: thresholdSchema, daily: thresholdSchema, hourly: thresholdSchema }),
  savingsUncertainty: z.object({ fsuMax: z.number().positive(), confidence: z.number().gt(0).lt(1), note: z.string() }),
});
export type G14Reference = z.infer<typeof g14Schema>;

export const emissionFactorSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/),
  region: z.string(),
  level: z.enum(['national', 'regional', 'provincial', 'supplier']),
  basis: z.enum(['location', 'market']),
  dataYear: z.number().int(),
  value: z.number().positive(),
  effectiveFrom: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  source: z.string(),
});
export type EmissionFactor = z.infer<typeof emissionFactorSchema>;
export const emissionFactorsSchema = z.object({
  id: z.string(),
  version: z.string(),
  source: z.string(),
  unit: z.literal('kgCO2/kWh'),
  factors: z.array(emissionFactorSchema).refine((f) => new Set(f.map((x) => x.id)).size === f.length, 'factor ids must be unique'),
});
export type EmissionFactors = z.infer<typeof emissionFactorsSchema>;

export const quotasSchema = z.object({
  id: z.string(),
  version: z.string(),
  effectiveFrom: z.string(),
  source: z.string(),
  unit: z.string(),
  quotas: z.array(z.object({ buildingType: z.string(), label: z.string(), constraint: z.number().positive(), guide: z.number().positive(), confirmed: z.boolean() })),
});
export type Quotas = z.infer<typeof quotasSchema>;

export interface Loaded<T> {
  readonly data: T;
  readonly version: ReferenceVersion;
}

function load<T extends { id: string; version: string }>(file: string, schema: z.ZodType<T>): Loaded<T> {
  const bytes = readFileSync(new URL(file, referenceDir));
  const data = schema.parse(JSON.parse(bytes.toString('utf8')));
  return { data, version: { id: data.id, version: data.version, sha256: createHash('sha256').update(bytes).digest('hex') } };
}

let cache: { g14: Loaded<G14Reference>; factors: Loaded<EmissionFactors>; quotas: Loaded<Quotas> } | undefined;

/** The shipped reference data (validated once). */
export function referenceData() {
  cache ??= {
    g14: load('ashrae-g14.json', g14Schema),
    factors: load('emission-factors.json', emissionFactorsSchema),
    quotas: load('gbt51161-quotas.json', quotasSchema),
  };
  return cache;
}
