/**
 * Tamper evidence over readings (DOMAIN.md §7): every reading is one canonical text line, a
 * series' lines are the leaves of a Merkle tree (RFC 6962 style, with leaf and node prefixes so
 * a leaf can never pass for a node), and a pack records the root of each series and of each of
 * its local days. docs/packs.md states the encoding precisely enough to recompute it elsewhere.
 *
 * The line and tree encodings live in `@wattproof/core` (core/src/merkle.ts), shared with the
 * ingest's store-wide seals (docs/integrity.md); they are re-exported here unchanged.
 */
import { createZone } from '@wattproof/analytics';
import { leafHash, leafLine, merkleRoot, type SeriesKey, type SeriesReading } from '@wattproof/core';

export {
  CSV_HEADER,
  EMPTY_ROOT,
  LEAF_COLUMNS,
  LEAF_ENCODING,
  MERKLE_ENCODING,
  leafHash,
  leafLine,
  merkleRoot,
  nodeHash,
  parseLeafLine,
  type SeriesKey,
  type SeriesReading,
} from '@wattproof/core';

/** Root of one local day of a series. */
export interface DayRoot {
  /** Local date `YYYY-MM-DD` of the readings' `ts` in the pack's time zone. */
  readonly date: string;
  readonly readings: number;
  readonly root: string;
}

/** Roots of a series: over all its lines in `ts` order, and per local day. */
export interface SeriesRoots {
  readonly readings: number;
  readonly root: string;
  readonly days: DayRoot[];
}

/** Sorts readings by ts and encodes them (the lines an export writes, in order). */
export function seriesLines(key: SeriesKey, readings: readonly SeriesReading[]): string[] {
  return [...readings].sort((a, b) => a.ts - b.ts).map((r) => leafLine(key, r));
}

/** The roots of lines already in `ts` order; days are local dates of `ts` in `timeZone`. */
export function rootsOfLines(lines: readonly string[], timestamps: readonly number[], timeZone: string): SeriesRoots {
  const zone = createZone(timeZone);
  const hashes = lines.map(leafHash);
  const days: DayRoot[] = [];
  let start = 0;
  for (let i = 1; i <= hashes.length; i++) {
    const date = zone.date(timestamps[start]!);
    if (i === hashes.length || zone.date(timestamps[i]!) !== date) {
      days.push({ date, readings: i - start, root: merkleRoot(hashes.slice(start, i)) });
      start = i;
    }
  }
  return { readings: lines.length, root: merkleRoot(hashes), days };
}

/** Lines and roots of a series' readings. */
export function seriesRoots(key: SeriesKey, readings: readonly SeriesReading[], timeZone: string): SeriesRoots & { lines: string[] } {
  const sorted = [...readings].sort((a, b) => a.ts - b.ts);
  const lines = sorted.map((r) => leafLine(key, r));
  return { ...rootsOfLines(lines, sorted.map((r) => r.ts), timeZone), lines };
}
