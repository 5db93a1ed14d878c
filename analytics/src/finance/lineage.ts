/**
 * Lineage of every finance figure (DOMAIN.md §7): the method and its version, the sha256 of the
 * canonical JSON of the inputs, the settings, the reference-data sets used and the code version,
 * and a digest of all of it. No clock is read: re-running on the same inputs gives the same bytes.
 */
import { analyticsVersion, digestOf } from '../lineage.js';
import type { ReferenceVersion } from '../reference.js';

export interface FinanceLineage {
  readonly method: { readonly name: string; readonly version: string };
  /** sha256 of the canonical JSON (sorted keys) of the inputs. */
  readonly inputsDigest: string;
  readonly settings: Record<string, unknown>;
  /** Reference sets used, sorted by id and version, each once. */
  readonly referenceData: ReferenceVersion[];
  readonly codeVersion: string;
  /** Digest of everything above. */
  readonly digest: string;
}

/** Unique reference versions in a stable order. */
export function uniqueReferences(refs: readonly ReferenceVersion[]): ReferenceVersion[] {
  const byKey = new Map<string, ReferenceVersion>();
  for (const r of refs) byKey.set(`${r.id}@${r.version}@${r.sha256}`, { id: r.id, version: r.version, sha256: r.sha256 });
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}

export function financeLineage(name: string, version: string, inputs: unknown, settings: Record<string, unknown>, referenceData: readonly ReferenceVersion[]): FinanceLineage {
  const body = {
    method: { name, version },
    inputsDigest: digestOf(inputs),
    settings,
    referenceData: uniqueReferences(referenceData),
    codeVersion: `@wattproof/analytics@${analyticsVersion()}`,
  };
  return { ...body, digest: digestOf(body) };
}
