/**
 * CalTRACK daily and billing models on the OpenEEmeter sample meters
 * (test/fixtures/caltrack-samples, see its DATASET.md): prints, per sample and method, the model
 * type, balance points, coefficients, adjusted R², and counterfactual, observed and avoided
 * energy over the reporting period.
 *
 *   npx tsx analytics/scripts/caltrack-samples.ts [--json]
 *
 * The loaders are exported for the tests, so the documented numbers and the tested ones come
 * from the same code.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fitCaltrackBilling, predictCaltrackBilling, type CaltrackBillingModel } from '../src/caltrack/billing.js';
import { fitCaltrackDaily, predictCaltrackDaily, summarizeSavings, type CaltrackDailyModel, type SavingsSummary } from '../src/caltrack/daily.js';
import { billingRows, periodsFromReads } from '../src/prep/billing.js';
import { dailyRows, type UsageInterval } from '../src/prep/daily.js';
import { createZone, nextDate } from '../src/prep/local-time.js';
import { hourlyTemperatures, type HourlyTemperatureSeries } from '../src/prep/temperature.js';
import type { BillingRow, DailyRow, Fuel } from '../src/types.js';

/** Folder of the sample CSV files. */
export const SAMPLES_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/caltrack-samples');
/** Time zone of the samples (DATASET.md). */
export const SAMPLE_TIME_ZONE = 'America/Chicago';
/** Baseline and reporting periods of the samples, local dates inclusive (DATASET.md). */
export const SAMPLE_PERIODS = Object.freeze({
  baseline: { firstDate: '2015-12-27', lastDate: '2016-12-25' },
  reporting: { firstDate: '2017-01-04', lastDate: '2018-01-03' },
});

/** The daily sample meters and their fuel. */
export const DAILY_SAMPLES: readonly { readonly id: string; readonly fuel: Fuel }[] = [
  { id: 'il-electricity-cdd-hdd', fuel: 'electricity' },
  { id: 'il-electricity-cdd-only', fuel: 'electricity' },
  { id: 'il-gas-hdd-only', fuel: 'gas' },
  { id: 'il-gas-intercept-only', fuel: 'gas' },
];
/** The billing sample meters. */
export const BILLING_SAMPLES: readonly { readonly id: string; readonly fuel: Fuel }[] = [{ id: 'il-electricity-cdd-hdd', fuel: 'electricity' }];

/** Epoch ms of a sample timestamp such as `2016-03-13 00:00:00-06:00`. */
export function parseSampleTime(s: string): number {
  const t = Date.parse(s.trim().replace(' ', 'T'));
  if (Number.isNaN(t)) throw new RangeError(`bad timestamp ${s}`);
  return t;
}

function readCsv(file: string): string[][] {
  return readFileSync(join(SAMPLES_DIR, file), 'utf8')
    .split(/\r?\n/)
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => l.split(','));
}

let temperatureCache: HourlyTemperatureSeries | undefined;
/** The samples' hourly temperature (°F) as a series. */
export function sampleTemperatures(): HourlyTemperatureSeries {
  temperatureCache ??= hourlyTemperatures(
    readCsv('il-tempF_hourly.csv').map(([t, v]) => ({ time: parseSampleTime(t!), value: v === undefined || v === '' ? null : Number(v) })),
  );
  return temperatureCache;
}

/** A daily sample file as given: date, raw observed usage of the local day, and its mean temperature. */
export function sampleDailyFile(id: string, period: 'baseline' | 'reporting'): { start: number; date: string; temperature: number; observed: number }[] {
  return readCsv(`${id}_daily_${period}.csv`).map((c) => ({
    start: parseSampleTime(c[0]!),
    date: c[0]!.slice(0, 10),
    temperature: Number(c[3]),
    observed: Number(c[4]),
  }));
}

/** Daily usage intervals (local midnight to local midnight) of a daily sample. */
export function sampleDailyIntervals(id: string, period: 'baseline' | 'reporting'): UsageInterval[] {
  const zone = createZone(SAMPLE_TIME_ZONE);
  return sampleDailyFile(id, period).map((r) => ({ start: r.start, end: zone.startOfDay(nextDate(r.date)), value: r.observed }));
}

/** Daily rows of a sample, rolled up by prep/daily from the intervals and the hourly temperature. */
export function sampleDailyRows(id: string, fuel: Fuel, period: 'baseline' | 'reporting'): DailyRow[] {
  return dailyRows(sampleDailyIntervals(id, period), sampleTemperatures(), {
    timeZone: SAMPLE_TIME_ZONE,
    fuel,
    ...SAMPLE_PERIODS[period],
  });
}

/**
 * Daily rows of a sample as the reference's own sample is laid out: the same daily values
 * labelled with UTC days (eemeter's `il-*-daily` samples are indexed at 00:00 UTC), with UTC-day
 * mean temperatures. The reference's published numbers were computed on this layout.
 */
export function sampleDailyRowsUtc(id: string, fuel: Fuel, period: 'baseline' | 'reporting'): DailyRow[] {
  const file = sampleDailyFile(id, period);
  const intervals = file.map((r) => {
    const start = Date.parse(`${r.date}T00:00:00Z`);
    return { start, end: start + 86_400_000, value: r.observed };
  });
  return dailyRows(intervals, sampleTemperatures(), {
    timeZone: 'UTC',
    fuel,
    firstDate: file[0]!.date,
    lastDate: file[file.length - 1]!.date,
  });
}

/** The requested baseline window of the samples in epoch ms (local midnight 2015-12-27 to local midnight 2016-12-26). */
export function sampleBaselineWindow(): { start: number; end: number } {
  const zone = createZone(SAMPLE_TIME_ZONE);
  return { start: zone.startOfDay(SAMPLE_PERIODS.baseline.firstDate), end: zone.startOfDay(nextDate(SAMPLE_PERIODS.baseline.lastDate)) };
}

/** Billing rows of a billing sample. */
export function sampleBillingRows(id: string, fuel: Fuel, period: 'baseline' | 'reporting'): BillingRow[] {
  const rows = readCsv(`${id}_billing_monthly_${period}.csv`);
  const starts = rows.map((c) => parseSampleTime(c[0]!));
  const values = rows.slice(0, -1).map((c) => (c[1] === undefined || c[1] === '' ? null : Number(c[1])));
  return billingRows(periodsFromReads(starts, values), sampleTemperatures(), { fuel });
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const T2011 = Date.UTC(2011, 0, 1);

/**
 * The synthetic year of eemeter's tests (tests/test_caltrack_usage_per_day.py): hourly UTC
 * temperatures from 2011-01-01, 365·24 + 1 hours, T = 30·((i mod 8760)/8760) + 50 °F, as the
 * 365 full UTC days the reference predicts (it blanks the last, 1-hour day).
 */
export function referenceSyntheticYear(): DailyRow[] {
  const temps = hourlyTemperatures(Array.from({ length: 8761 }, (_, i) => ({ time: T2011 + i * HOUR_MS, value: (30 * (i % 8760)) / 8760 + 50 })));
  return dailyRows([], temps, { timeZone: 'UTC', fuel: 'electricity', firstDate: '2011-01-01', lastDate: '2011-12-31' });
}

/** 60 days of hourly temperature from 2011-01-01 UTC, 30, 31 … 89 °F one value per day (eemeter tests/test_derivatives.py). */
function referenceSyntheticTemperatures(): HourlyTemperatureSeries {
  const readings = [];
  for (let d = 0; d < 60; d++) for (let h = 0; h < 24; h++) readings.push({ time: T2011 + d * DAY_MS + h * HOUR_MS, value: 30 + d });
  readings.push({ time: T2011 + 60 * DAY_MS, value: 89 });
  return hourlyTemperatures(readings);
}

/** eemeter tests/test_derivatives.py daily reporting fixture: 59 UTC days (the last of 60 is blanked) of 1 kWh. */
export function referenceSyntheticDays(): DailyRow[] {
  const usage = Array.from({ length: 59 }, (_, d) => ({ start: T2011 + d * DAY_MS, end: T2011 + (d + 1) * DAY_MS, value: 1 }));
  return dailyRows(usage, referenceSyntheticTemperatures(), { timeZone: 'UTC', fuel: 'electricity' });
}

/** eemeter tests/test_derivatives.py billing reporting fixture: 12 calendar months of 2011 with 1 kWh each. */
export function referenceSyntheticMonths(): BillingRow[] {
  const starts = Array.from({ length: 13 }, (_, i) => Date.UTC(2011, i, 1));
  return billingRows(periodsFromReads(starts, starts.slice(0, -1).map(() => 1)), referenceSyntheticTemperatures(), { fuel: 'electricity' });
}

/** One comparison with a number the reference publishes. */
export interface ReferenceCheck {
  readonly what: string;
  readonly ours: number | string;
  readonly reference: number | string;
  /** Where the reference number is published. */
  readonly source: string;
}

/** Reproduces the numbers eemeter's own tests publish for its cdd-hdd sample (UTC-day layout for daily). */
export function referenceChecks(): ReferenceCheck[] {
  const daily = sampleDailyRowsUtc('il-electricity-cdd-hdd', 'electricity', 'baseline');
  const full = fitCaltrackDaily(daily, { fuel: 'electricity', temperatureUnit: 'F' });
  const fixed = fitCaltrackDaily(daily, { fuel: 'electricity', temperatureUnit: 'F', heatingBalancePointsF: [60], coolingBalancePointsF: [65], checkSufficiency: false });
  const cdd = fitCaltrackDaily(daily, { fuel: 'electricity', temperatureUnit: 'F', heatingBalancePointsF: [], coolingBalancePointsF: [65], checkSufficiency: false });
  const billing = fitCaltrackBilling(sampleBillingRows('il-electricity-cdd-hdd', 'electricity', 'baseline'), {
    fuel: 'electricity',
    temperatureUnit: 'F',
    baseline: sampleBaselineWindow(),
  });
  const total = (xs: readonly { predicted: number | null }[]) => xs.reduce((a, p) => a + (p.predicted ?? 0), 0);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  const usage = 'eemeter tests/test_caltrack_usage_per_day.py';
  const deriv = 'eemeter tests/test_derivatives.py';
  return [
    { what: 'daily, full grid: model', ours: `${full.type} ${full.heatingBalancePoint}/${full.coolingBalancePoint}`, reference: 'cdd_hdd (see savings)', source: deriv },
    { what: 'daily, full grid: metered savings, synthetic 59 days', ours: r2(summarizeSavings(predictCaltrackDaily(full, referenceSyntheticDays(), { ignoreDisqualification: true })).avoided), reference: 1571.28, source: `${deriv}::test_metered_savings_cdd_hdd_daily` },
    { what: 'daily, HDD60+CDD65: prediction, synthetic year', ours: r2(total(predictCaltrackDaily(fixed, referenceSyntheticYear()))), reference: 7059.48, source: `${usage}::test_fit_caltrack_usage_per_day_model_cdd_hdd` },
    { what: 'daily, CDD65 only: prediction, synthetic year', ours: r2(total(predictCaltrackDaily(cdd, referenceSyntheticYear()))), reference: 10192.0, source: `${usage}::test_fit_caltrack_usage_per_day_model_cdd_only` },
    { what: 'billing: model', ours: `${billing.type} ${billing.heatingBalancePoint}/${billing.coolingBalancePoint}`, reference: 'cdd_hdd 54/67', source: `${usage} (_caltrack_predict_design_matrix tests)` },
    { what: 'billing: intercept', ours: billing.coefficients.intercept, reference: 13.420093629452852, source: usage },
    { what: 'billing: β_H', ours: billing.coefficients.heating, reference: 1.0479347638717025, source: usage },
    { what: 'billing: β_C', ours: billing.coefficients.cooling, reference: 2.257868665412409, source: usage },
    { what: 'billing: metered savings, synthetic months', ours: r2(summarizeSavings(predictCaltrackBilling(billing, referenceSyntheticMonths())).avoided), reference: 1625.73, source: `${deriv}::test_metered_savings_cdd_hdd_billing` },
  ];
}

/** One line of the report. */
export interface SampleResult {
  readonly sample: string;
  readonly method: 'daily' | 'billing';
  readonly model: CaltrackDailyModel | CaltrackBillingModel;
  readonly reporting: SavingsSummary;
}

/** Fits and predicts every sample. */
export function runSamples(): SampleResult[] {
  const out: SampleResult[] = [];
  for (const s of DAILY_SAMPLES) {
    const model = fitCaltrackDaily(sampleDailyRows(s.id, s.fuel, 'baseline'), { fuel: s.fuel, temperatureUnit: 'F' });
    const pred = predictCaltrackDaily(model, sampleDailyRows(s.id, s.fuel, 'reporting'), { ignoreDisqualification: true });
    out.push({ sample: s.id, method: 'daily', model, reporting: summarizeSavings(pred) });
  }
  for (const s of BILLING_SAMPLES) {
    const model = fitCaltrackBilling(sampleBillingRows(s.id, s.fuel, 'baseline'), {
      fuel: s.fuel,
      temperatureUnit: 'F',
      baseline: sampleBaselineWindow(),
    });
    const pred = predictCaltrackBilling(model, sampleBillingRows(s.id, s.fuel, 'reporting'), { ignoreDisqualification: true });
    out.push({ sample: s.id, method: 'billing', model, reporting: summarizeSavings(pred) });
  }
  return out;
}

function main(): void {
  const results = runSamples();
  if (process.argv.includes('--json')) {
    const samples = results.map((r) => ({ ...r, model: { ...r.model, candidates: undefined } }));
    console.log(JSON.stringify({ samples, reference: referenceChecks() }, null, 2));
    return;
  }
  const f = (x: number | null, d = 4) => (x === null ? '—' : x.toFixed(d));
  console.log('| sample | method | type | heating bp °F | cooling bp °F | intercept /day | β_H /(day·°F) | β_C /(day·°F) | adj. R² | CV(RMSE) | counterfactual | observed | avoided | avoided % |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const m = r.model;
    const pct = r.reporting.counterfactual !== 0 ? (100 * r.reporting.avoided) / r.reporting.counterfactual : Number.NaN;
    console.log(
      `| ${r.sample} | ${r.method} | ${m.type} | ${f(m.heatingBalancePoint, 0)} | ${f(m.coolingBalancePoint, 0)} | ${f(m.coefficients.intercept)} | ${f(m.coefficients.heating)} | ${f(m.coefficients.cooling)} | ${f(m.fit.r2Adjusted)} | ${f(m.fit.cvrmse)} | ${f(r.reporting.counterfactual, 1)} | ${f(r.reporting.observed, 1)} | ${f(r.reporting.avoided, 1)} | ${f(pct, 2)} |`,
    );
  }
  console.log('\nReference reproduction (eemeter cdd-hdd sample; daily on its UTC-day layout):\n');
  console.log('| check | Wattproof | eemeter | source |');
  console.log('|---|---|---|---|');
  for (const c of referenceChecks()) console.log(`| ${c.what} | ${c.ours} | ${c.reference} | ${c.source} |`);
  console.log('');
  for (const r of results) {
    const findings = [...r.model.disqualifications.map((d) => `disqualification ${d.code}`), ...r.model.warnings.map((w) => `warning ${w.code}`)];
    if (findings.length) console.log(`${r.sample} ${r.method}: ${findings.join('; ')}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
