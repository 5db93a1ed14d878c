/**
 * Tamper evidence over readings (DOMAIN.md §7), shared by the report packs (dashboards) and the
 * store-wide integrity ledger (ingest): every reading is one canonical text line, and lines are
 * the leaves of a Merkle tree (RFC 6962 style, with leaf and node prefixes so a leaf can never
 * pass for a node). docs/packs.md states the encoding precisely enough to recompute it elsewhere.
 */
import { createHash } from 'node:crypto';
import type { Quantity, ReadingKind, Unit } from './contract/units.js';

/** Names of the encodings, recorded in every pack and every reading seal. */
export const LEAF_ENCODING = 'wattproof.leaf/1';
export const MERKLE_ENCODING = 'wattproof.merkle/1';

/** Column names of a leaf line, and the header row of a CSV export. */
export const LEAF_COLUMNS = ['site', 'building', 'meter', 'quantity', 'kind', 'unit', 'ts', 'value', 'intervalS'] as const;
export const CSV_HEADER = LEAF_COLUMNS.join(',');

/** Which series a reading belongs to. */
export interface SeriesKey {
  readonly site: string;
  readonly building: string;
  readonly meter: string;
  readonly quantity: Quantity;
  readonly kind: ReadingKind;
  readonly unit: Unit;
}

/** One reading of a series: start (epoch ms), value in the series unit, interval length (interval series). */
export interface SeriesReading {
  readonly ts: number;
  /** null: recorded as missing (empty field). Stored readings always have a value. */
  readonly value: number | null;
  readonly intervalS?: number;
}

/**
 * The canonical line of a reading: `site,building,meter,quantity,kind,unit,ts,value,intervalS`.
 * `ts` is the epoch-ms integer in decimal; `value` is the shortest decimal that reads back as
 * the same IEEE double (ECMAScript Number::toString, as in JSON and RFC 8785), empty when
 * missing; `intervalS` the interval in whole seconds, empty for non-interval readings. Ids never
 * contain a comma (ID_PATTERN), so no quoting is needed. UTF-8 (the unit `°C` is 3 bytes).
 */
export function leafLine(key: SeriesKey, r: SeriesReading): string {
  const value = r.value === null ? '' : Object.is(r.value, -0) ? '0' : String(r.value);
  return `${key.site},${key.building},${key.meter},${key.quantity},${key.kind},${key.unit},${r.ts},${value},${r.intervalS ?? ''}`;
}

/** Parses a canonical line back; `canonical` is false when re-encoding gives other text (e.g. `1.50`). */
export function parseLeafLine(line: string): { key: SeriesKey; reading: SeriesReading; canonical: boolean } | undefined {
  const c = line.split(',');
  if (c.length !== LEAF_COLUMNS.length) return undefined;
  const [site, building, meter, quantity, kind, unit, ts, value, intervalS] = c as [string, string, string, string, string, string, string, string, string];
  if (!/^-?\d+$/.test(ts)) return undefined;
  const v = value === '' ? null : Number(value);
  if (v !== null && (!Number.isFinite(v) || value.trim() !== value)) return undefined;
  if (intervalS !== '' && !/^\d+$/.test(intervalS)) return undefined;
  const key = { site, building, meter, quantity: quantity as Quantity, kind: kind as ReadingKind, unit: unit as Unit };
  const reading: SeriesReading = { ts: Number(ts), value: v, ...(intervalS !== '' ? { intervalS: Number(intervalS) } : {}) };
  return { key, reading, canonical: leafLine(key, reading) === line };
}

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** sha256(0x00 ‖ UTF-8 line). */
export function leafHash(line: string): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(line, 'utf8').digest();
}

/** sha256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/** sha256 of nothing: the root of an empty tree. */
export const EMPTY_ROOT = createHash('sha256').digest('hex');

/**
 * Merkle root (hex) of leaf hashes in order: adjacent pairs are hashed level by level; an odd
 * node at the end of a level is promoted unchanged (never duplicated); one leaf is its own root.
 */
export function merkleRoot(leaves: readonly Buffer[]): string {
  if (leaves.length === 0) return EMPTY_ROOT;
  let level: Buffer[] = [...leaves];
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!.toString('hex');
}
