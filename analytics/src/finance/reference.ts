/**
 * Versioned reference data of the finance analytics: green-loan targets (the Yuzhong
 * green-finance pilot) and energy-conversion factors for disclosures. Same contract as the M&V
 * reference sets (`../reference.ts`): a JSON file with id, version and source; results record
 * the id, version and sha256 of the file they used. Grid emission factors and GB/T 51161 quotas
 * come from the shared loader (`referenceData()`).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Loaded } from '../reference.js';

const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

export const greenFinanceSchema = z.object({
  id: z.string(),
  version: z.string(),
  source: z.string(),
  greenLoanTargets: z.array(
    z.object({
      id: z.string().regex(/^[a-z0-9-]+$/),
      label: z.string(),
      /** Target share, 0..1. */
      share: z.number().min(0).max(1),
      scope: z.string(),
      dueDate: date,
      effectiveFrom: date,
      confirmed: z.boolean(),
      source: z.string(),
      note: z.string().optional(),
    }),
  ),
  energyConversion: z.array(
    z.object({
      id: z.string().regex(/^[a-z0-9-]+$/),
      label: z.string(),
      kgcePerKwh: z.number().positive(),
      effectiveFrom: date,
      confirmed: z.boolean(),
      source: z.string(),
    }),
  ),
});
export type GreenFinanceReference = z.infer<typeof greenFinanceSchema>;

let dir = new URL('../../reference/', import.meta.url);
let cache: Loaded<GreenFinanceReference> | undefined;

/**
 * Points the finance analytics at another directory holding `green-finance.json` (same schema),
 * e.g. a bank's own targets. `configureReferenceData` of the M&V analytics does not move this
 * file; call both with the same directory.
 */
export function configureFinanceReferenceData(directory: string): void {
  dir = new URL(`file://${directory.endsWith('/') ? directory : `${directory}/`}`);
  cache = undefined;
}

/** The green-finance reference set (validated once). */
export function financeReferenceData(): Loaded<GreenFinanceReference> {
  if (!cache) {
    const bytes = readFileSync(new URL('green-finance.json', dir));
    const data = greenFinanceSchema.parse(JSON.parse(bytes.toString('utf8')));
    cache = { data, version: { id: data.id, version: data.version, sha256: createHash('sha256').update(bytes).digest('hex') } };
  }
  return cache;
}
