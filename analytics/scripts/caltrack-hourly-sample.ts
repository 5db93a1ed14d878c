/**
 * Fits the CalTRACK hourly (TOWT) model on the OpenEEmeter sample meter `il-electricity-cdd-hdd`
 * (test/fixtures/caltrack-samples) and prints occupancy, bins, fit statistics, the reporting-period
 * counterfactual, observed and avoided energy, fit time, and the check against eemeter's own test.
 *
 * Run: `npx tsx analytics/scripts/caltrack-hourly-sample.ts [--repeat 200]`
 */
import { summarizeSavings } from '../src/caltrack/daily.js';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fitCaltrackHourly, predictCaltrackHourly, type CaltrackHourlyModel } from '../src/caltrack/hourly.js';
import type { HourlyRow } from '../src/types.js';

const HOUR = 3_600_000;
const FIXTURES = new URL('../../test/fixtures/caltrack-samples/', import.meta.url);

interface CsvHour {
  readonly start: number;
  readonly kwh: number | null;
  readonly temperatureF: number | null;
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
}

/** Reads `hour_start_local_America_Chicago,observed_kWh,temperature_F`; local fields come from the stamp. */
function readHourly(file: string): CsvHour[] {
  const lines = readFileSync(new URL(file, FIXTURES), 'utf8').trim().split('\n').slice(1);
  return lines.map((line) => {
    const [stamp, kwh, temp] = line.split(',');
    const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):00:00([+-]\d{2}:\d{2})$/.exec(stamp ?? '');
    if (!m) throw new Error(`${file}: bad timestamp ${stamp}`);
    const [, y, mo, d, h, offset] = m;
    return {
      start: Date.parse(`${y}-${mo}-${d}T${h}:00:00${offset}`),
      kwh: kwh === undefined || kwh === '' ? null : Number(kwh),
      temperatureF: temp === undefined || temp === '' ? null : Number(temp),
      year: Number(y),
      month: Number(mo),
      day: Number(d),
      hour: Number(h),
    };
  });
}

const mondayBased = (sundayBased: number) => (sundayBased + 6) % 7;

/** America/Chicago month and hour of week (Monday 00:00 = 0); electricity zeros are missing. */
const localRows = (hours: readonly CsvHour[]): HourlyRow[] =>
  hours.map((h) => ({
    start: h.start,
    usage: h.kwh === null || h.kwh === 0 ? null : h.kwh,
    temperature: h.temperatureF,
    month: h.month,
    hourOfWeek: mondayBased(new Date(Date.UTC(h.year, h.month - 1, h.day)).getUTCDay()) * 24 + h.hour,
  }));

/** UTC month and hour of week, zeros kept: how eemeter's own tests see the sample. */
const utcRow = (start: number, usage: number | null, temperature: number | null): HourlyRow => {
  const d = new Date(start);
  return { start, usage, temperature, month: d.getUTCMonth() + 1, hourOfWeek: mondayBased(d.getUTCDay()) * 24 + d.getUTCHours() };
};

/** Σ prediction, Σ observation and their difference over hours with both (the same rule as the daily model's). */
function totals(rows: readonly HourlyRow[], predicted: readonly (number | null)[]) {
  const s = summarizeSavings(rows.map((r, i) => ({ predicted: predicted[i] ?? null, observed: r.usage })));
  return { counterfactual: s.counterfactual, observed: s.observed, avoided: s.avoided, hours: s.periods };
}

const { values } = parseArgs({ options: { repeat: { type: 'string', default: '200' } } });
const repeat = Math.max(1, Number(values.repeat));

const baselineCsv = readHourly('il-electricity-cdd-hdd_hourly_baseline.csv');
const reportingCsv = readHourly('il-electricity-cdd-hdd_hourly_reporting.csv');
const baseline = localRows(baselineCsv);
const reporting = localRows(reportingCsv);

let t = performance.now();
const model: CaltrackHourlyModel = fitCaltrackHourly(baseline, { temperatureUnit: 'F' });
const firstFitMs = performance.now() - t;
t = performance.now();
for (let i = 0; i < repeat; i++) fitCaltrackHourly(baseline, { temperatureUnit: 'F' });
const fitMs = (performance.now() - t) / repeat;
t = performance.now();
const predicted = predictCaltrackHourly(model, reporting);
const predictMs = performance.now() - t;

const fmt = (x: number, d = 2) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
console.log('CalTRACK hourly (TOWT) on il-electricity-cdd-hdd, America/Chicago, electricity zeros missing');
console.log(`baseline ${baseline.length} h (${baseline.filter((r) => r.usage !== null).length} with usage), reporting ${reporting.length} h`);
console.log('\nOccupied hours of week per month model (of 168):');
console.log('  ' + model.occupancy.map((o) => `${o.month}:${o.occupied.filter(Boolean).length}`).join('  '));
console.log(`\nTemperature bins (kept knots, °${model.temperatureUnit}):`);
for (const b of model.bins) console.log(`  month ${String(b.month).padStart(2)}  occupied [${b.occupied.join(', ')}]  unoccupied [${b.unoccupied.join(', ')}]`);
const f = model.fit;
console.log(`\nBaseline fit: n ${f.n}, p ${f.p} (sum over the 12 month models), R² ${fmt(f.r2, 4)}, adj. R² ${fmt(f.r2Adjusted, 4)}`);
console.log(`  CV(RMSE) ${fmt(f.cvrmse * 100, 1)} %, NMBE ${fmt(f.nmbe * 100, 3)} %, RMSE ${fmt(f.rmse, 3)} kWh/h, mean ${fmt(f.mean, 3)} kWh/h, lag-1 autocorrelation ${fmt(f.autocorrelation, 4)}`);
console.log(`warnings: ${model.warnings.map((w) => w.code).join(', ') || 'none'}; disqualifications: ${model.disqualifications.map((d) => d.code).join(', ') || 'none'}`);
const s = totals(reporting, predicted);
console.log(`\nReporting period (${s.hours} hours with observed data):`);
console.log(`  counterfactual ${fmt(s.counterfactual)} kWh, observed ${fmt(s.observed)} kWh, avoided ${fmt(s.avoided)} kWh (${fmt((s.avoided / s.counterfactual) * 100, 1)} % of the counterfactual)`);
console.log('  ground truth (DATASET.md): the reporting loads are the baseline loads cut by 10 %');
console.log(`\nFit time: ${fmt(fitMs, 2)} ms per meter-year (mean of ${repeat} warm fits; first fit ${fmt(firstFitMs, 1)} ms); predict ${fmt(predictMs, 1)} ms`);

// eemeter's own test (tests/test_derivatives.py: test_metered_savings_cdd_hdd_hourly,
// test_modeled_savings_cdd_hdd_hourly): UTC features, zeros kept, synthetic prediction weather.
const within = (hours: readonly CsvHour[], from: string, to: string) =>
  hours.filter((h) => h.start >= Date.parse(from) && h.start < Date.parse(to)).map((h) => utcRow(h.start, h.kwh, h.temperatureF));
const refBaseline = fitCaltrackHourly(within(baselineCsv, '2015-12-27T00:00:00Z', '2016-12-26T00:00:00Z'), { temperatureUnit: 'F' });
const refReporting = fitCaltrackHourly(within(reportingCsv, '2017-01-04T00:00:00Z', '2018-01-04T00:00:00Z'), { temperatureUnit: 'F' });
const T0 = Date.parse('2011-01-01T00:00:00Z');
const synthetic = Array.from({ length: 1417 }, (_, i) => utcRow(T0 + i * HOUR, 1, 30 + Math.floor(i / 24)));
const pb = predictCaltrackHourly(refBaseline, synthetic);
const pr = predictCaltrackHourly(refReporting, synthetic);
let metered = 0;
let modeled = 0;
pb.forEach((p, i) => {
  metered += p! - 1;
  modeled += p! - pr[i]!;
});
console.log('\neemeter tests/test_derivatives.py on the same sample (UTC, zeros kept, 6 h less data at each period start):');
console.log(`  metered savings ${fmt(metered)} kWh (eemeter −403.70), modeled savings ${fmt(modeled)} kWh (eemeter 55.30)`);
