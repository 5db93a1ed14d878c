/**
 * The open-format export of a pack's readings: one CSV per series whose data lines are exactly
 * the Merkle leaves (so the export alone re-derives every root), and optionally the same rows as
 * Parquet (DuckDB `COPY ... (FORMAT parquet)`). Reading an export back for `wattproof verify`.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { packError } from './errors.js';
import { CSV_HEADER, parseLeafLine, type SeriesReading } from './merkle.js';
import { seriesCsv, type AssembledPack } from './build.js';
import type { PackSeries } from './types.js';

/** Writes `series/<id>.csv` for every series; returns the paths written (relative). */
export async function writeCsvExport(dir: string, assembled: AssembledPack): Promise<string[]> {
  const written: string[] = [];
  for (const s of assembled.body.inputs) {
    const packed = assembled.series.get(s.id)!;
    const path = join(dir, s.file);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, seriesCsv(packed.lines));
    written.push(s.file);
  }
  return written;
}

/**
 * Writes `series/<id>.parquet` next to each CSV (columns as the CSV; ts BIGINT epoch ms, value
 * DOUBLE, intervalS INTEGER). The CSVs must have been written first.
 * @throws WattproofError PACK_PARQUET_UNAVAILABLE when DuckDB cannot be loaded or fails.
 */
export async function writeParquetExport(dir: string, assembled: AssembledPack): Promise<string[]> {
  let duckdb: typeof import('@duckdb/node-api');
  try {
    duckdb = await import('@duckdb/node-api');
  } catch (cause) {
    throw packError('PACK_PARQUET_UNAVAILABLE', `DuckDB (@duckdb/node-api) is not installed: ${(cause as Error).message}`, { cause });
  }
  const instance = await duckdb.DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  const written: string[] = [];
  const quote = (p: string) => `'${p.replace(/'/g, "''")}'`;
  try {
    for (const s of assembled.body.inputs) {
      const csv = join(dir, s.file);
      const parquet = s.file.replace(/\.csv$/, '.parquet');
      await conn.run(
        `COPY (SELECT * FROM read_csv(${quote(csv)}, header = true, delim = ',', quote = '', escape = '', ` +
          `columns = {'site': 'VARCHAR', 'building': 'VARCHAR', 'meter': 'VARCHAR', 'quantity': 'VARCHAR', 'kind': 'VARCHAR', 'unit': 'VARCHAR', 'ts': 'BIGINT', 'value': 'DOUBLE', 'intervalS': 'INTEGER'})) ` +
          `TO ${quote(join(dir, parquet))} (FORMAT parquet)`,
      );
      written.push(parquet);
    }
  } catch (cause) {
    throw packError('PACK_PARQUET_UNAVAILABLE', `DuckDB failed to write Parquet: ${(cause as Error).message}`, { cause });
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  return written;
}

/** One series as read back from an export, with what is wrong with the file. */
export interface ExportedSeries {
  readonly lines: string[];
  readonly readings: SeriesReading[];
  readonly sha256: string | null;
  readonly problems: Array<{ readonly line: number | null; readonly message: string }>;
}

/** Reads a series' CSV from an export directory (a missing file gives no lines and a problem). */
export async function readExportedSeries(dir: string, s: PackSeries): Promise<ExportedSeries> {
  const root = resolve(dir);
  const path = resolve(root, s.file);
  if (!path.startsWith(root + sep)) return { lines: [], readings: [], sha256: null, problems: [{ line: null, message: `file ${s.file} lies outside the export directory` }] };
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    return { lines: [], readings: [], sha256: null, problems: [{ line: null, message: `cannot read ${s.file}: ${(cause as Error).message}` }] };
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const text = bytes.toString('utf8');
  const rows = text.split('\n');
  if (rows[rows.length - 1] === '') rows.pop();
  const problems: ExportedSeries['problems'] = [];
  if (rows[0] !== CSV_HEADER) problems.push({ line: 1, message: `the header is not ${CSV_HEADER}` });
  const lines: string[] = [];
  const readings: SeriesReading[] = [];
  rows.slice(1).forEach((line, i) => {
    const parsed = parseLeafLine(line);
    const n = i + 2;
    if (!parsed) return problems.push({ line: n, message: `not a reading line: ${JSON.stringify(line.slice(0, 120))}` });
    const k = parsed.key;
    if (k.site !== s.site || k.building !== s.building || k.meter !== s.meter || k.quantity !== s.quantity || k.kind !== s.kind || k.unit !== s.unit) {
      problems.push({ line: n, message: `belongs to ${k.site}/${k.building}/${k.meter} ${k.quantity} ${k.kind} ${k.unit}, not to series ${s.id}` });
    }
    if (!parsed.canonical) problems.push({ line: n, message: `not in canonical form: ${JSON.stringify(line)}` });
    if (readings.length && parsed.reading.ts <= readings[readings.length - 1]!.ts) problems.push({ line: n, message: 'not in ascending ts order' });
    lines.push(line);
    readings.push(parsed.reading);
    return undefined;
  });
  return { lines, readings, sha256, problems };
}
