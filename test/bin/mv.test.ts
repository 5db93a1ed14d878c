/**
 * `wattproof mv` as a verifier runs it: the sample meters written in the documented CSV format,
 * the JSON output's documented fields, the reference implementation's billing coefficients,
 * byte-identical output on a re-run, and clear errors for bad arguments.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/processes.js';

const SAMPLES = new URL('../fixtures/caltrack-samples/', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'wattproof-mv-'));
const file = (name: string) => join(dir, name);

/** Rewrites a sample file as `start,energy` (the documented usage format). */
function twoColumns(sample: string, out: string, energyColumn: number): void {
  const lines = readFileSync(new URL(sample, SAMPLES), 'utf8').trim().split(/\r?\n/);
  writeFileSync(file(out), ['start,energy', ...lines.slice(1).map((l) => { const c = l.split(','); return `${c[0]},${c[energyColumn] ?? ''}`; })].join('\n'));
}

const common = ['--temperature', new URL('il-tempF_hourly.csv', SAMPLES).pathname, '--baseline', '2015-12-27/2016-12-26', '--reporting', '2017-01-04/2018-01-04', '--timezone', 'America/Chicago'];
const json = async (args: string[]) => {
  const r = await runCli(['mv', ...args, '--json'], {});
  expect(r.code, r.stderr).toBe(0);
  return { raw: r.stdout, value: JSON.parse(r.stdout) as Record<string, any> };
};

beforeAll(() => {
  for (const p of ['baseline', 'reporting']) {
    twoColumns(`il-electricity-cdd-hdd_daily_${p}.csv`, `daily_${p}.csv`, 4);
    twoColumns(`il-gas-hdd-only_daily_${p}.csv`, `gas_${p}.csv`, 4);
    twoColumns(`il-electricity-cdd-hdd_billing_monthly_${p}.csv`, `bill_${p}.csv`, 1);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('wattproof mv on the CalTRACK sample meters', () => {
  it('daily: documented JSON fields, the selected model, savings with uncertainty at 68/90/95 %', async () => {
    const { value: r } = await json(['--usage', file('daily_baseline.csv'), '--usage', file('daily_reporting.csv'), '--model', 'caltrack-daily', ...common]);
    expect(r.model.type).toBe('hdd_cdd');
    expect([r.model.heatingBalancePoint, r.model.coolingBalancePoint]).toEqual([53, 67]);
    // The same numbers test/analytics/caltrack-daily.test.ts pins for this sample on local days.
    expect(r.model.coefficients.intercept).toBeCloseTo(12.9397, 3);
    expect(r.model.coefficients.heating).toBeCloseTo(1.13589, 4);
    expect(r.model.coefficients.cooling).toBeCloseTo(2.35391, 4);
    for (const k of ['r2', 'r2Adjusted', 'cvrmse', 'nmbe', 'autocorrelation']) expect(typeof r.model.fit[k]).toBe('number');
    expect(r.savings.counterfactual).toBeCloseTo(9917.22, 1);
    expect(r.savings.observed).toBeCloseTo(9082.24, 2);
    expect(r.savings.avoided).toBeCloseTo(r.savings.counterfactual - r.savings.observed, 9);
    expect(r.savings.fraction).toBeCloseTo(r.savings.avoided / r.savings.counterfactual, 12);
    expect(r.savings.uncertainty.map((u: { confidence: number }) => u.confidence)).toEqual([0.68, 0.9, 0.95]);
    expect(r.sufficiency.baseline).toHaveProperty('disqualifications');
    expect(Array.isArray(r.warnings) && Array.isArray(r.disqualifications)).toBe(true);
    expect(r.lineage.method).toEqual({ name: 'caltrack-daily', version: '2.0' });
    expect(Object.keys(r.lineage.inputs)).toEqual(['usage[0]', 'usage[1]', 'temperature']);
  });

  it('billing: the reference implementation\'s model and coefficients (eemeter tests)', async () => {
    const { value: r } = await json(['--usage', file('bill_baseline.csv'), '--usage', file('bill_reporting.csv'), '--model', 'caltrack-billing', ...common]);
    expect(r.model.type).toBe('hdd_cdd');
    expect([r.model.heatingBalancePoint, r.model.coolingBalancePoint]).toEqual([54, 67]);
    // eemeter tests/test_caltrack_usage_per_day.py (the billing predict design-matrix tests).
    expect(r.model.coefficients.intercept / 13.420093629452852).toBeCloseTo(1, 9);
    expect(r.model.coefficients.heating / 1.0479347638717025).toBeCloseTo(1, 9);
    expect(r.model.coefficients.cooling / 2.257868665412409).toBeCloseTo(1, 9);
    expect(r.savings.observed).toBeCloseTo(9172.14, 2);
  });

  it('gas: no cooling term', async () => {
    const { value: r } = await json(['--usage', file('gas_baseline.csv'), '--usage', file('gas_reporting.csv'), '--model', 'caltrack-daily', '--fuel', 'gas', ...common]);
    expect(r.model.type).toBe('hdd_only');
    expect(r.model.heatingBalancePoint).toBe(60);
    expect(r.model.coolingBalancePoint).toBeNull();
  });

  it('hourly: the TOWT model on the hourly sample', async () => {
    const h = (p: string) => new URL(`il-electricity-cdd-hdd_hourly_${p}.csv`, SAMPLES).pathname;
    const { value: r } = await json(['--usage', h('baseline'), '--usage', h('reporting'), '--model', 'caltrack-hourly', ...common]);
    expect(r.model.type).toBe('towt');
    expect(r.model.heatingBalancePoint).toBeNull();
    expect(r.savings.fraction).toBeGreaterThan(0.05);
    expect(r.savings.fraction).toBeLessThan(0.15);
  });

  it('gives byte-identical output on a re-run (reproducible to the last digit)', async () => {
    const args = ['--usage', file('daily_baseline.csv'), '--usage', file('daily_reporting.csv'), '--model', 'caltrack-daily', ...common];
    const [a, b] = [await json(args), await json(args)];
    expect(a.raw).toBe(b.raw);
  });

  it('prints a readable report without --json', async () => {
    const r = await runCli(['mv', '--usage', file('daily_baseline.csv'), '--usage', file('daily_reporting.csv'), '--model', 'caltrack-daily', ...common], {});
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Baseline model');
    expect(r.stdout).toContain('type hdd_cdd; heating balance point 53 °F; cooling balance point 67 °F');
    expect(r.stdout).toMatch(/at 90 % confidence/);
  });

  it.each([
    [['--model', 'caltrack-daily', ...common], '--usage and --temperature are required'],
    [['--usage', 'x.csv', '--model', 'nope', ...common], '--model must be one of'],
    [['--usage', '/nonexistent.csv', '--model', 'caltrack-daily', ...common], 'cannot read /nonexistent.csv'],
    [['--usage', 'x.csv', '--model', 'caltrack-daily', ...common.slice(0, 2), '--baseline', '2016-01-01', '--reporting', '2017-01-01/2017-02-01'], '--baseline must be YYYY-MM-DD/YYYY-MM-DD'],
  ])('rejects bad arguments with a clear message (%#)', async (args, message) => {
    const r = await runCli(['mv', ...args], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});
