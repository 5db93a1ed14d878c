/**
 * `npm run bench -- store-series [options]`: the embedded DuckDB store's lookups when it holds the
 * series of a city, `--buildings` × `--meters` meters with electricity, gas and outdoor temperature
 * each (300,000 series by default), one reading per series.
 *
 * Timed: the first write of every series (batches of 30,000 readings), `query()` of one meter's
 * series, and `latest()` of one building, each call over a different meter or building; median
 * of `--reps` rounds of `--calls` calls. The store runs on a file in a temp directory, as
 * `wattproof start` runs it, and in memory (`:memory:`), which leaves out the disk.
 *
 * Options: `npm run bench -- store-series --help` (CLI below).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReadingStore, StoredReading } from '@wattproof/core';
import { createDuckDbReadingStore } from '@wattproof/ingest/stores';
import { defineBench, parseBenchArgs, showBenchHelp } from './lib/cli.js';
import { describeMachine, machineInfo, sourceState } from './lib/machine.js';
import { median } from './lib/stats.js';
import { formatTable } from './lib/table.js';

const SITE = 'city';
const T0 = Date.parse('2026-01-01T00:00:00Z');
const QUANTITIES = [
  { quantity: 'electricity', kind: 'interval', unit: 'kWh', intervalS: 900 },
  { quantity: 'gas', kind: 'interval', unit: 'm3', intervalS: 900 },
  { quantity: 'outdoor_temperature', kind: 'instant', unit: '°C' },
] as const;

export const CLI = defineBench({
  name: 'store-series',
  summary: `The embedded DuckDB store's lookups by meter and by building when it holds a city's series (buildings x meters x
3 quantities): first write of every series, query() of one meter, latest() of one building; on a file and in memory.`,
  options: {
    buildings: { type: 'string', placeholder: 'N', default: '1000', description: 'buildings of the one site' },
    meters: { type: 'string', placeholder: 'N', default: '100', description: 'meters per building, 3 series each' },
    calls: { type: 'string', placeholder: 'N', default: '200', description: 'calls per timed round' },
    reps: { type: 'string', placeholder: 'N', default: '3', description: 'timed rounds; the table shows medians' },
  },
});

interface StoreFigures {
  readonly where: string;
  readonly series: number;
  readonly writeUsPerSeries: number;
  readonly queryMs: number;
  readonly latestMs: number;
}

async function measure(where: string, store: ReadingStore, o: { buildings: number; meters: number; calls: number; reps: number }): Promise<StoreFigures> {
  await store.init();
  try {
    let batch: StoredReading[] = [];
    let written = 0;
    const t0 = performance.now();
    for (let b = 0; b < o.buildings; b++) {
      for (let m = 0; m < o.meters; m++) {
        for (const q of QUANTITIES) batch.push({ site: SITE, building: `b${b}`, meter: `m${m}`, ...q, ts: T0, value: b + m } as StoredReading);
      }
      if (batch.length >= 30_000 || b === o.buildings - 1) {
        await store.write(batch);
        written += batch.length;
        batch = [];
      }
    }
    const writeUsPerSeries = ((performance.now() - t0) * 1000) / written;
    const timed = async (fn: (i: number) => Promise<unknown>) => {
      const rounds: number[] = [];
      for (let r = 0; r < o.reps; r++) {
        const start = performance.now();
        for (let i = 0; i < o.calls; i++) await fn(r * o.calls + i);
        rounds.push((performance.now() - start) / o.calls);
      }
      return median(rounds);
    };
    // Spread over the buildings and meters, so no call repeats the one before.
    const building = (i: number) => `b${(i * 7919) % o.buildings}`;
    const queryMs = await timed((i) => store.query({ site: SITE, building: building(i), meter: `m${i % o.meters}`, from: T0, to: T0 + 3_600_000 }));
    const latestMs = await timed((i) => store.latest({ site: SITE, building: building(i) }));
    return { where, series: written, writeUsPerSeries, queryMs, latestMs };
  } finally {
    await store.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  if (showBenchHelp(CLI, argv)) return;
  const values = parseBenchArgs(CLI, argv);
  const o = { buildings: Number(values.buildings), meters: Number(values.meters), calls: Number(values.calls), reps: Number(values.reps) };
  process.stdout.write(`npm run bench -- store-series ${argv.join(' ')}`.trim() + `\n${describeMachine(machineInfo())}\nsource ${sourceState(['ingest', 'core']).head}\n`);
  const dir = await mkdtemp(join(tmpdir(), 'wattproof-bench-store-series-'));
  try {
    const rows = [
      await measure('DuckDB file', createDuckDbReadingStore({ path: join(dir, 'readings.duckdb') }), o),
      await measure('DuckDB in memory', createDuckDbReadingStore({ path: ':memory:' }), o),
    ];
    const f = (x: number, d: number) => x.toFixed(d);
    process.stdout.write(
      `\n${formatTable(
        ['store', ...['series', 'first write µs/series', 'query() one meter ms', 'latest() one building ms'].map((header) => ({ header, align: 'right' as const }))],
        rows.map((r) => [r.where, r.series.toLocaleString('en-US'), f(r.writeUsPerSeries, 1), f(r.queryMs, 2), f(r.latestMs, 2)]),
      )}\n(medians of ${o.reps} rounds of ${o.calls} calls)\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
