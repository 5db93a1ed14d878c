/**
 * Benchmark: fitting CalTRACK daily and hourly baselines for many meter-years on this machine.
 *
 *   npm run bench -- analytics [--meters 1000]
 *
 * Each meter-year is a simulated building (the simulators' model, a different profile per meter)
 * on the Chongqing typical weather year (core/data/weather). Data preparation (hourly rows and
 * local days) is built before the clock starts; the figures time the model fit alone, the same
 * scope as the reference figures quoted from the issue (OpenEEmeter, Python, on this class of
 * machine: about 6.4 s per meter-year for the CalTRACK 2.0 daily grid search and about 4 s for
 * the hourly model). The Python reference cannot be installed here (no PyPI), so it is not
 * re-run side by side; its figures are the issue's measurement.
 */
import { readFileSync } from 'node:fs';
import { dailyRows, fitCaltrackDaily, fitCaltrackHourly, hourlyRows, hourlyTemperatures, digestOf, type DailyRow, type HourlyRow, type UsageInterval } from '@wattproof/analytics';
import { buildingProfile, createRng, electricKw } from '@wattproof/simulators';
import { BenchUsageError, defineBench, parseBenchArgs, showBenchHelp } from './lib/cli.js';

const H = 3_600_000;
export const REFERENCE_SECONDS_PER_METER_YEAR = { daily: 6.4, hourly: 4 } as const;

function typicalYear(): { time: number; value: number | null }[] {
  const lines = readFileSync(new URL('../core/data/weather/chongqing_tmyx_2009_2023.csv', import.meta.url), 'utf8').trim().split(/\r?\n/);
  const header = lines[0]!.split(',');
  const ti = header.indexOf('timestamp_utc');
  const vi = header.indexOf('air_temperature_c');
  return lines.slice(1).map((l) => {
    const c = l.split(',');
    return { time: Date.parse(c[ti]!), value: c[vi] === '' ? null : Number(c[vi]) };
  });
}

export function prepareMeterYears(meters: number): { daily: DailyRow[][]; hourly: HourlyRow[][] } {
  const tmy = typicalYear();
  const temps = hourlyTemperatures(tmy);
  const start = tmy[0]!.time;
  const daily: DailyRow[][] = [];
  const hourly: HourlyRow[][] = [];
  for (let m = 0; m < meters; m++) {
    const p = buildingProfile(m);
    const usage: UsageInterval[] = tmy.map((w) => ({ start: w.time, end: w.time + H, value: electricKw(p, w.time, createRng((m * 7919) ^ Math.floor(w.time / 1000))) }));
    daily.push(dailyRows(usage, temps, { timeZone: 'Asia/Shanghai', fuel: 'electricity', firstDate: '2001-01-01', lastDate: '2001-12-31' }));
    hourly.push(hourlyRows(usage, temps, { timeZone: 'Asia/Shanghai', fuel: 'electricity', start, end: start + 8760 * H }));
  }
  return { daily, hourly };
}

export interface BenchRow {
  readonly model: 'daily' | 'hourly';
  readonly meterYears: number;
  readonly seconds: number;
  readonly msPerMeterYear: number;
  readonly referenceMsPerMeterYear: number;
  readonly speedup: number;
  readonly resultsDigest: string;
}

export function runAnalyticsBench(meters: number): BenchRow[] {
  const data = prepareMeterYears(meters);
  // Warm up the JIT on a few meters so the figure is the steady state.
  for (let i = 0; i < Math.min(5, meters); i++) {
    fitCaltrackDaily(data.daily[i]!, { fuel: 'electricity', temperatureUnit: 'C' });
    fitCaltrackHourly(data.hourly[i]!, { temperatureUnit: 'C' });
  }
  const rows: BenchRow[] = [];
  for (const model of ['daily', 'hourly'] as const) {
    const results: unknown[] = [];
    const t0 = performance.now();
    for (let i = 0; i < meters; i++) {
      if (model === 'daily') results.push(fitCaltrackDaily(data.daily[i]!, { fuel: 'electricity', temperatureUnit: 'C' }).coefficients);
      else results.push(fitCaltrackHourly(data.hourly[i]!, { temperatureUnit: 'C' }).fit);
    }
    const seconds = (performance.now() - t0) / 1000;
    const ms = (seconds * 1000) / meters;
    const ref = REFERENCE_SECONDS_PER_METER_YEAR[model] * 1000;
    rows.push({ model, meterYears: meters, seconds, msPerMeterYear: ms, referenceMsPerMeterYear: ref, speedup: ref / ms, resultsDigest: digestOf(results).slice(0, 16) });
  }
  return rows;
}

export function formatTable(rows: readonly BenchRow[]): string {
  const head = '| model | meter-years | total s | ms per meter-year | reference ms per meter-year (OpenEEmeter, issue) | speed-up | results digest |';
  return [head, '| --- | ---: | ---: | ---: | ---: | ---: | --- |', ...rows.map((r) => `| CalTRACK ${r.model} | ${r.meterYears} | ${r.seconds.toFixed(2)} | ${r.msPerMeterYear.toFixed(2)} | ${r.referenceMsPerMeterYear.toFixed(0)} | ${r.speedup.toFixed(0)}× | ${r.resultsDigest} |`)].join('\n');
}

export const CLI = defineBench({
  name: 'analytics',
  summary: `Times the CalTRACK daily and hourly model fits over many simulated meter-years (one building each, Chongqing
typical weather year) against the OpenEEmeter reference figures of the issue.`,
  options: {
    meters: { type: 'string', placeholder: 'N', default: '200', description: 'meter-years fitted by each model' },
  },
});

export async function main(argv: string[]): Promise<void> {
  if (showBenchHelp(CLI, argv)) return;
  const values = parseBenchArgs(CLI, argv);
  const meters = Number(values.meters);
  if (!Number.isInteger(meters) || meters < 1) throw new BenchUsageError('--meters must be a positive integer');
  process.stdout.write(`Preparing ${meters} meter-years (simulated buildings on the Chongqing typical year)...\n`);
  process.stdout.write(`${formatTable(runAnalyticsBench(meters))}\n`);
}
