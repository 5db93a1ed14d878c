/**
 * CalTRACK billing method against the reference implementation (eemeter
 * `caltrack_usage_per_day` with `use_billing_presets=True, weights_col="n_days_kept"`).
 *
 * Reference numbers, from openeemeter/eemeter's tests on the `il-electricity-cdd-hdd-billing_monthly`
 * sample (same reads as the fixture, at 06:00 UTC = local midnight CST):
 * - tests/test_caltrack_usage_per_day.py (`_caltrack_predict_design_matrix` tests): the fitted
 *   baseline model `cdd_hdd`, heating 54 °F, cooling 67 °F, intercept 13.420093629452852,
 *   beta_hdd 1.0479347638717025, beta_cdd 2.257868665412409;
 * - tests/test_derivatives.py::test_metered_savings_cdd_hdd_billing: 1625.73 on a synthetic
 *   monthly reporting period.
 */
import { describe, expect, it } from 'vitest';
import {
  billingRows,
  fitCaltrackBilling,
  hourlyTemperatures,
  leastSquares,
  predictCaltrackBilling,
  summarizeSavings,
  twoSidedT,
  type BillingRow,
  type CaltrackBillingModel,
} from '@wattproof/analytics';
import { referenceSyntheticMonths, sampleBaselineWindow, sampleBillingRows } from '../../analytics/scripts/caltrack-samples.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const round2 = (x: number) => Math.round(x * 100) / 100;

describe('reference reproduction (eemeter billing sample)', () => {
  const baseline = sampleBillingRows('il-electricity-cdd-hdd', 'electricity', 'baseline');
  const model = fitCaltrackBilling(baseline, { fuel: 'electricity', temperatureUnit: 'F', baseline: sampleBaselineWindow() });

  it('selects the reference model with the reference coefficients', () => {
    expect(model.type).toBe('hdd_cdd');
    expect([model.heatingBalancePoint, model.coolingBalancePoint]).toEqual([54, 67]);
    expect(model.coefficients.intercept).toBeCloseTo(13.420093629452852, 9);
    expect(model.coefficients.heating).toBeCloseTo(1.0479347638717025, 9);
    expect(model.coefficients.cooling).toBeCloseTo(2.257868665412409, 9);
    expect(model.baseline).toMatchObject({ nPeriods: 11, nUsed: 11 });
    // The fixture's first period (2015-12-21 → 2016-01-22) starts before the baseline (CalTRACK 2.2.5).
    expect(model.warnings.map((w) => w.code)).toEqual(['mv.billing.period_outside_baseline']);
    expect(model.disqualifications).toEqual([]);
  });

  it('gives the reference metered savings on the synthetic monthly period (1625.73)', () => {
    // eemeter's fixture: 60 days of hourly temperature from 2011-01-01 UTC, 30 … 89 °F one value
    // per day; 12 monthly periods of 1 kWh. Only January and February have temperatures.
    const pred = predictCaltrackBilling(model, referenceSyntheticMonths());
    expect(pred.filter((p) => p.predicted !== null)).toHaveLength(2);
    expect(round2(summarizeSavings(pred).avoided)).toBe(1625.73);
  });

  it('weights each period by its days with temperature (CalTRACK 3.4.2) and reports the weighted adjusted R²', () => {
    const used = baseline.slice(1);
    const X = used.map((r) => {
      const temps = r.dailyTemperatures as number[];
      const hdd = temps.reduce((a, t) => a + Math.max(54 - t, 0), 0) / temps.length;
      const cdd = temps.reduce((a, t) => a + Math.max(t - 67, 0), 0) / temps.length;
      return [1, hdd, cdd];
    });
    const ls = leastSquares(X, used.map((r) => r.usage! / r.days), { weights: used.map((r) => r.dailyTemperatures.length) });
    expect(ls.coefficients[0]).toBeCloseTo(model.coefficients.intercept, 12);
    expect(model.fit.r2Adjusted).toBeCloseTo(ls.r2Adjusted, 12);
    const best = Math.max(...model.candidates.filter((c) => c.qualified).map((c) => c.r2Adjusted!));
    expect(model.fit.r2Adjusted).toBeCloseTo(best, 10);
  });

  it('uses every period when no baseline window is given', () => {
    const all = fitCaltrackBilling(baseline, { fuel: 'electricity', temperatureUnit: 'F' });
    expect(all.baseline.nUsed).toBe(12);
    expect(all.coefficients.intercept).not.toBeCloseTo(13.420093629452852, 3);
  });
});

/**
 * Local billing sample against the published ground truth (reporting year −10 %), with the
 * ASHRAE G14 billing uncertainty at 99 % (k for billing data, M = 12; n = 11 baseline periods,
 * m = 12 reporting periods) as the tolerance: the loads are simulated with noise.
 */
describe('billing sample: reporting savings (ground truth)', () => {
  it('estimates savings within the G14 band of the true 10 %', () => {
    const model = fitCaltrackBilling(sampleBillingRows('il-electricity-cdd-hdd', 'electricity', 'baseline'), {
      fuel: 'electricity',
      temperatureUnit: 'F',
      baseline: sampleBaselineWindow(),
    });
    const pred = predictCaltrackBilling(model, sampleBillingRows('il-electricity-cdd-hdd', 'electricity', 'reporting'));
    const s = summarizeSavings(pred);
    expect(s.periods).toBe(12);
    const band = g14BillingBand(model, s.counterfactual, s.periods, 0.99);
    expect(Math.abs(s.avoided - 0.1 * s.counterfactual)).toBeLessThan(band);
  });
});

describe('billing model behaviour', () => {
  /** Synthetic periods whose usage per day is exactly 5 + 2·HDD60 + 3·CDD70 (°F). */
  function synthetic(lengths: number[], fuel: 'electricity' | 'gas' = 'electricity', heating = 2, cooling = 3): BillingRow[] {
    const t0 = Date.UTC(2016, 0, 1, 6);
    const total = lengths.reduce((a, b) => a + b, 0);
    const dayTemp = (d: number) => 55 + 25 * Math.sin((2 * Math.PI * d) / 365);
    const readings = [];
    for (let d = 0; d < total; d++) for (let h = 0; h < 24; h++) readings.push({ time: t0 + d * DAY + h * HOUR, value: dayTemp(d) });
    const temps = hourlyTemperatures(readings);
    const periods = [];
    let d0 = 0;
    for (const len of lengths) {
      let usage = 0;
      for (let d = d0; d < d0 + len; d++) {
        const t = dayTemp(d);
        usage += 5 + heating * Math.max(60 - t, 0) + (fuel === 'electricity' ? cooling * Math.max(t - 70, 0) : 0);
      }
      periods.push({ start: t0 + d0 * DAY, end: t0 + (d0 + len) * DAY, value: usage });
      d0 += len;
    }
    return billingRows(periods, temps, { fuel });
  }

  it('recovers exact coefficients and balance points', () => {
    const m = fitCaltrackBilling(synthetic([30, 31, 29, 30, 31, 30, 30, 31, 30, 31, 30, 32]), { fuel: 'electricity', temperatureUnit: 'F' });
    expect(m.type).toBe('hdd_cdd');
    expect([m.heatingBalancePoint, m.coolingBalancePoint]).toEqual([60, 70]);
    expect(m.coefficients.intercept).toBeCloseTo(5, 9);
    expect(m.coefficients.heating).toBeCloseTo(2, 9);
    expect(m.coefficients.cooling).toBeCloseTo(3, 9);
    expect(m.disqualifications).toEqual([]);
  });

  it('fits gas without CDD candidates and in °C', () => {
    const rows = synthetic([30, 31, 29, 30, 31, 30, 30, 31, 30, 31, 30, 32], 'gas');
    const m = fitCaltrackBilling(rows, { fuel: 'gas', temperatureUnit: 'F' });
    expect(m.candidates.every((c) => c.coolingBalancePoint === null)).toBe(true);
    expect([m.type, m.heatingBalancePoint]).toEqual(['hdd_only', 60]);
    const celsius = rows.map((r) => ({ ...r, dailyTemperatures: r.dailyTemperatures.map((t) => (t === null ? null : ((t - 32) * 5) / 9)) }));
    const c = fitCaltrackBilling(celsius, { fuel: 'gas', temperatureUnit: 'C' });
    expect(c.heatingBalancePoint).toBeCloseTo((28 * 5) / 9, 12);
    expect(c.coefficients.heating).toBeCloseTo(2 * 1.8, 9);
  });

  it('leaves out off-cycle periods and periods without enough temperature (CalTRACK 2.2.3)', () => {
    const rows = synthetic([30, 20, 31, 29, 40, 30, 31, 30, 30, 31, 30, 31, 30]);
    rows[3] = { ...rows[3]!, temperatureCoverage: 0.85 };
    const m = fitCaltrackBilling(rows, { fuel: 'electricity', temperatureUnit: 'F' });
    expect(m.baseline.nUsed).toBe(10);
    const unusable = m.warnings.find((w) => w.code === 'mv.sufficiency.billing_period_unusable');
    expect((unusable!.data as { periods: { problem: string }[] }).periods.map((p) => p.problem)).toEqual([
      'period_too_short',
      'insufficient_temperature_coverage',
      'period_too_long',
    ]);
    expect(m.coefficients.heating).toBeCloseTo(2, 9);
    const bimonthly = fitCaltrackBilling(rows, { fuel: 'electricity', temperatureUnit: 'F', cycle: 'bimonthly' });
    expect(bimonthly.baseline.nUsed).toBe(11);
  });

  it('predicts days × per-day load and masks periods with < 90 % temperature hours', () => {
    const rows = synthetic([30, 31, 29, 30, 31, 30, 30, 31, 30, 31, 30, 32]);
    const m = fitCaltrackBilling(rows, { fuel: 'electricity', temperatureUnit: 'F' });
    const pred = predictCaltrackBilling(m, [rows[0]!, { ...rows[1]!, temperatureCoverage: 0.5 }]);
    expect(pred[0]!.predicted).toBeCloseTo(rows[0]!.usage!, 6);
    expect(pred[0]!.predicted).toBeCloseTo(pred[0]!.predictedPerDay! * 30, 9);
    expect(pred[1]!.predicted).toBeNull();
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
  });

  it('disqualifies a baseline with too many missing days and refuses to predict without override', () => {
    const rows = synthetic([30, 31, 29, 30, 31, 30, 30, 31, 30]);
    const m = fitCaltrackBilling(rows, { fuel: 'electricity', temperatureUnit: 'F' });
    expect(m.disqualifications.map((d) => d.code)).toEqual(['mv.sufficiency.too_many_days_missing']);
    expect(() => predictCaltrackBilling(m, rows)).toThrow(expect.objectContaining({ code: 'MV_MODEL_DISQUALIFIED' }));
    expect(predictCaltrackBilling(m, rows, { ignoreDisqualification: true })).toHaveLength(9);
  });
});

/** ASHRAE G14 absolute savings uncertainty (DOMAIN.md §2.3), billing data, M = 12 months. */
function g14BillingBand(model: CaltrackBillingModel, counterfactual: number, m: number, confidence: number): number {
  const { n, p, cvrmse, autocorrelation: rho } = model.fit;
  const nPrime = (n * (1 - rho)) / (1 + rho);
  const M = 12;
  const k = -0.00022 * M * M + 0.03306 * M + 0.94054;
  const t = twoSidedT(confidence, Math.max(1, nPrime - p));
  return t * k * cvrmse * Math.sqrt(((n / nPrime) * (1 + 2 / nPrime)) / m) * counterfactual;
}
