/**
 * Lineage of every figure (DOMAIN.md §7): digests of the inputs, method and version, settings,
 * reference-data versions, code version. Digests are sha256 of a canonical JSON (sorted keys)
 * or of the raw input bytes, so a re-run on the same inputs gives the same lineage.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ReferenceVersion } from './reference.js';

/** JSON with object keys sorted at every level; numbers as JavaScript prints them (shortest round-trip). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function digestOf(value: unknown): string {
  return sha256(canonicalJson(value));
}

let codeVersion: string | undefined;
/** The analytics package version; results also record the method version, which changes whenever a result could change. */
export function analyticsVersion(): string {
  codeVersion ??= (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return codeVersion;
}

export interface Lineage {
  readonly inputs: Record<string, string>;
  readonly method: { readonly name: string; readonly version: string };
  readonly settings: Record<string, unknown>;
  readonly referenceData: ReferenceVersion[];
  readonly codeVersion: string;
  /** Digest of everything above: equal lineage digests mean the result must be identical. */
  readonly digest: string;
}

export function buildLineage(parts: Omit<Lineage, 'digest' | 'codeVersion'>): Lineage {
  const body = { ...parts, codeVersion: `@wattproof/analytics@${analyticsVersion()}` };
  return { ...body, digest: digestOf(body) };
}
