/**
 * CalTRACK daily method against the reference implementation (eemeter `caltrack_usage_per_day`).
 *
 * Reference numbers come from openeemeter/eemeter's own tests, cited per test:
 * - tests/test_caltrack_usage_per_day.py (candidate fits, predictions on a synthetic year)
 * - tests/test_derivatives.py (metered savings of the full grid-search model)
 * Those tests run on eemeter's `il-electricity-cdd-hdd-daily` sample, whose days are UTC days
 * (index 00:00 UTC, docs/basic_usage.rst shows 2015-12-27 = 25.55 kWh, hdd_60 = 18.093333). The
 * fixture carries the same daily values labelled with local days, so `sampleDailyRowsUtc`
 * rebuilds the reference's layout (same values, UTC-day temperatures) to compare exactly. The
 * reference tests' synthetic reporting data are rebuilt in analytics/scripts/caltrack-samples.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  fitCaltrackDaily,
  predictCaltrackDaily,
  summarizeSavings,
  twoSidedT,
  type CaltrackDailyModel,
  type DailyRow,
} from '@wattproof/analytics';
import {
  DAILY_SAMPLES,
  referenceSyntheticDays,
  referenceSyntheticYear,
  sampleDailyRows,
  sampleDailyRowsUtc,
} from '../../analytics/scripts/caltrack-samples.js';

const DAY = 86_400_000;
const T2011 = Date.UTC(2011, 0, 1);
const syntheticYear = referenceSyntheticYear;
const synthetic60Days = referenceSyntheticDays;

const sum = (xs: readonly (number | null)[]) => xs.reduce<number>((a, b) => a + (b ?? 0), 0);
const round2 = (x: number) => Math.round(x * 100) / 100;

/** A model with hand-set parameters (for the reference's predict tests). */
function modelWith(type: CaltrackDailyModel['type'], p: { intercept: number; heating?: number; cooling?: number; hbp?: number; cbp?: number }): CaltrackDailyModel {
  const base = fitCaltrackDaily(syntheticRowsWithUsage(), { fuel: 'electricity', temperatureUnit: 'F', checkSufficiency: false });
  return {
    ...base,
    type,
    heatingBalancePoint: p.hbp ?? null,
    coolingBalancePoint: p.cbp ?? null,
    coefficients: { intercept: p.intercept, heating: p.heating ?? 0, cooling: p.cooling ?? 0 },
    disqualifications: [],
  };
}

function syntheticRowsWithUsage(): DailyRow[] {
  return syntheticYear().map((r) => ({ ...r, usage: 1 }));
}

/** Four days with the given degree days at balance point 65 °F: temperatures 65 ± dd. */
function fourDays(usage: number[], temperatures: number[]): DailyRow[] {
  return usage.map((u, i) => ({
    date: `2011-01-0${i + 1}`,
    start: T2011 + i * DAY,
    end: T2011 + (i + 1) * DAY,
    hours: 24,
    usage: u,
    coverage: 1,
    temperature: temperatures[i]!,
  }));
}

describe('reference reproduction (eemeter daily sample layout, UTC days)', () => {
  const baseline = sampleDailyRowsUtc('il-electricity-cdd-hdd', 'electricity', 'baseline');

  it('rebuilds the reference design matrix (docs/basic_usage.rst: hdd_60 of the first baseline days)', () => {
    const hdd60 = baseline.slice(0, 5).map((r) => Math.round((60 - r.temperature!) * 1e6) / 1e6);
    expect(hdd60).toEqual([18.093333, 22.478333, 25.003333, 29.161667, 29.572917]);
    expect(baseline.slice(0, 5).map((r) => r.usage)).toEqual([25.55, 26.46, 30.38, 49.82, 34.47]);
  });

  it('selects the same model and gives the same metered savings (tests/test_derivatives.py: 1571.28)', () => {
    const model = fitCaltrackDaily(baseline, { fuel: 'electricity', temperatureUnit: 'F' });
    expect(model.type).toBe('hdd_cdd');
    expect([model.heatingBalancePoint, model.coolingBalancePoint]).toEqual([53, 68]);
    const pred = predictCaltrackDaily(model, synthetic60Days());
    expect(pred).toHaveLength(59);
    expect(round2(summarizeSavings(pred).avoided)).toBe(1571.28);
  });

  it('fits HDD60 + CDD65 like the reference (test_fit_caltrack_usage_per_day_model_cdd_hdd: 7059.48)', () => {
    const model = fitCaltrackDaily(baseline, { fuel: 'electricity', temperatureUnit: 'F', balancePointsF: [60, 65], checkSufficiency: false });
    // Reference candidate order: intercept-only, hdd-only, cdd-only, cdd+hdd (heating ≤ cooling).
    expect(model.candidates.map((c) => [c.type, c.heatingBalancePoint, c.coolingBalancePoint])).toEqual([
      ['intercept_only', null, null],
      ['hdd_only', 60, null],
      ['hdd_only', 65, null],
      ['cdd_only', null, 60],
      ['cdd_only', null, 65],
      ['hdd_cdd', 60, 60],
      ['hdd_cdd', 60, 65],
      ['hdd_cdd', 65, 65],
    ]);
    const fixed = fitCaltrackDaily(baseline, {
      fuel: 'electricity',
      temperatureUnit: 'F',
      heatingBalancePointsF: [60],
      coolingBalancePointsF: [65],
      checkSufficiency: false,
    });
    expect(fixed.candidates).toHaveLength(4);
    expect(fixed.type).toBe('hdd_cdd');
    expect(round2(sum(predictCaltrackDaily(fixed, syntheticYear()).map((p) => p.predicted)))).toBe(7059.48);
  });

  it('fits CDD65 only like the reference (test_fit_caltrack_usage_per_day_model_cdd_only: 10192.0)', () => {
    const model = fitCaltrackDaily(baseline, {
      fuel: 'electricity',
      temperatureUnit: 'F',
      heatingBalancePointsF: [],
      coolingBalancePointsF: [65],
      checkSufficiency: false,
    });
    expect(model.candidates.map((c) => c.type)).toEqual(['intercept_only', 'cdd_only']);
    expect(model.type).toBe('cdd_only');
    expect(round2(sum(predictCaltrackDaily(model, syntheticYear()).map((p) => p.predicted)))).toBe(10192.0);
  });
});

describe('reference unit cases (tests/test_caltrack_usage_per_day.py)', () => {
  const year = syntheticYear();
  const loose = { fuel: 'electricity' as const, temperatureUnit: 'F' as const, minNonZeroDegreeDays: 1, minTotalDegreeDaysF: 1, checkSufficiency: false };

  it('cdd-only qualified: β 1.01, μ 0.97, prediction 1730.04', () => {
    const m = fitCaltrackDaily(fourDays([1, 1, 1, 6], [60, 65.1, 60, 70]), { ...loose, heatingBalancePointsF: [], coolingBalancePointsF: [65] });
    expect(m.type).toBe('cdd_only');
    expect([round2(m.coefficients.cooling), round2(m.coefficients.intercept), round2(m.fit.r2Adjusted)]).toEqual([1.01, 0.97, 1]);
    expect(round2(sum(predictCaltrackDaily(m, year).map((p) => p.predicted)))).toBe(1730.04);
  });

  it('hdd-only qualified: β 1.01, μ 0.97, prediction 1730.67', () => {
    const m = fitCaltrackDaily(fourDays([1, 1, 1, 6], [70, 64.9, 70, 60]), { ...loose, heatingBalancePointsF: [65], coolingBalancePointsF: [] });
    expect(m.type).toBe('hdd_only');
    expect([round2(m.coefficients.heating), round2(m.coefficients.intercept)]).toEqual([1.01, 0.97]);
    expect(round2(sum(predictCaltrackDaily(m, year).map((p) => p.predicted)))).toBe(1730.67);
  });

  it('cdd-only with a negative slope is disqualified (β −1.01, μ 1.03)', () => {
    const m = fitCaltrackDaily(fourDays([1, 1, 1, -4], [60, 65.1, 60, 70]), { ...loose, heatingBalancePointsF: [], coolingBalancePointsF: [65] });
    const cdd = m.candidates.find((c) => c.type === 'cdd_only')!;
    expect(cdd.qualified).toBe(false);
    expect(cdd.reason).toBe('cooling_negative');
    expect(m.type).toBe('intercept_only');
  });

  it('too few degree days: not attempted', () => {
    const m = fitCaltrackDaily(fourDays([1, 1, 1, 6], [60, 65.1, 60, 70]), {
      ...loose,
      minNonZeroDegreeDays: 10,
      minTotalDegreeDaysF: 10,
      heatingBalancePointsF: [],
      coolingBalancePointsF: [65],
    });
    expect(m.candidates[1]).toMatchObject({ type: 'cdd_only', qualified: false, r2Adjusted: null, reason: 'total_cdd_too_low,too_few_non_zero_cdd' });
  });

  it('predicts with given parameters: intercept 365, cdd 1733 (cooling 1368), hdd 1734 (heating 1369), cdd+hdd 1582 (609/608)', () => {
    const total = (m: CaltrackDailyModel) => predictCaltrackDaily(m, year);
    expect(sum(total(modelWith('intercept_only', { intercept: 1 })).map((p) => p.predicted))).toBeCloseTo(365, 9);
    const cdd = total(modelWith('cdd_only', { intercept: 1, cooling: 1, cbp: 65 }));
    expect(Math.round(sum(cdd.map((p) => p.predicted)))).toBe(1733);
    expect(Math.round(sum(cdd.map((p) => p.coolingLoad)))).toBe(1368);
    const hdd = total(modelWith('hdd_only', { intercept: 1, heating: 1, hbp: 65 }));
    expect(Math.round(sum(hdd.map((p) => p.predicted)))).toBe(1734);
    expect(Math.round(sum(hdd.map((p) => p.heatingLoad)))).toBe(1369);
    const both = total(modelWith('hdd_cdd', { intercept: 1, heating: 1, cooling: 1, hbp: 60, cbp: 70 }));
    expect(Math.round(sum(both.map((p) => p.predicted)))).toBe(1582);
    expect(Math.round(sum(both.map((p) => p.heatingLoad)))).toBe(609);
    expect(Math.round(sum(both.map((p) => p.coolingLoad)))).toBe(608);
    expect(Math.round(sum(both.map((p) => p.baseLoad)))).toBe(365);
  });
});

/**
 * The sample meters as the fixture gives them: local days (America/Chicago, CalTRACK 3.3.3.5).
 * eemeter publishes no number for this layout, so the model type and balance points are pinned
 * as computed here (regression values), and the savings are checked against the samples'
 * published ground truth (DATASET.md / eemeter samples/metadata.json: the reporting year uses
 * 10 % less than the baseline would). The loads are simulated with noise, so the tolerance is the
 * ASHRAE Guideline 14 savings uncertainty computed from each fit (DOMAIN.md §2.3, daily k with
 * M = 12, m = 365 reporting days) at 99 % confidence: at 90 % the cdd-only sample falls outside
 * (4.5 % estimated vs 10 % true), and so does the reference layout of the same data (3.3 %), so
 * the gap belongs to the simulated sample, not to the method. The local-day result must also
 * stay within 1.5 points of the reference layout's savings fraction.
 */
describe('sample meters, local days (ground truth)', () => {
  const expected: Record<string, { type: string; heating: number | null; cooling: number | null }> = {
    'il-electricity-cdd-hdd': { type: 'hdd_cdd', heating: 53, cooling: 67 },
    'il-electricity-cdd-only': { type: 'cdd_only', heating: null, cooling: 62 },
    'il-gas-hdd-only': { type: 'hdd_only', heating: 60, cooling: null },
    // No p-value screen in CalTRACK 2.0: a negligible HDD slope (adj. R² 0.001) beats 0; see the next test.
    'il-gas-intercept-only': { type: 'hdd_only', heating: 72, cooling: null },
  };

  for (const s of DAILY_SAMPLES) {
    it(`${s.id}: model and savings within the G14 99 % band of the true 10 %`, () => {
      const model = fitCaltrackDaily(sampleDailyRows(s.id, s.fuel, 'baseline'), { fuel: s.fuel, temperatureUnit: 'F' });
      expect(model.disqualifications).toEqual([]);
      expect({ type: model.type, heating: model.heatingBalancePoint, cooling: model.coolingBalancePoint }).toEqual(expected[s.id]);
      expect(model.candidates).toHaveLength(s.fuel === 'gas' ? 1 + 61 : 1 + 61 + 61 + 1891);
      if (s.fuel === 'gas') expect(model.candidates.some((c) => c.coolingBalancePoint !== null)).toBe(false);
      const reporting = sampleDailyRows(s.id, s.fuel, 'reporting');
      const savings = summarizeSavings(predictCaltrackDaily(model, reporting));
      expect(savings.periods).toBe(365);
      const band = g14Band(model, savings.counterfactual, savings.periods, 0.99);
      expect(Math.abs(savings.avoided - 0.1 * savings.counterfactual)).toBeLessThan(band);
      const utcModel = fitCaltrackDaily(sampleDailyRowsUtc(s.id, s.fuel, 'baseline'), { fuel: s.fuel, temperatureUnit: 'F' });
      const utc = summarizeSavings(predictCaltrackDaily(utcModel, sampleDailyRowsUtc(s.id, s.fuel, 'reporting')));
      expect(Math.abs(savings.avoided / savings.counterfactual - utc.avoided / utc.counterfactual)).toBeLessThan(0.015);
    });
  }

  it('il-gas-intercept-only: the selected HDD term carries < 2 % of the load', () => {
    const model = fitCaltrackDaily(sampleDailyRows('il-gas-intercept-only', 'gas', 'baseline'), { fuel: 'gas', temperatureUnit: 'F' });
    const pred = predictCaltrackDaily(model, sampleDailyRows('il-gas-intercept-only', 'gas', 'reporting'));
    expect(sum(pred.map((p) => p.heatingLoad)) / sum(pred.map((p) => p.predicted))).toBeLessThan(0.02);
    expect(model.fit.r2Adjusted).toBeLessThan(0.01);
  });
});

describe('daily model behaviour', () => {
  const rows = sampleDailyRows('il-electricity-cdd-hdd', 'electricity', 'baseline');
  const model = fitCaltrackDaily(rows, { fuel: 'electricity', temperatureUnit: 'F' });

  it('scales 23- and 25-hour days instead of counting the fall-back day twice', () => {
    const reporting = sampleDailyRows('il-electricity-cdd-hdd', 'electricity', 'reporting');
    const pred = predictCaltrackDaily(model, reporting);
    const spring = pred.find((p) => p.date === '2017-03-12')!;
    const fall = pred.find((p) => p.date === '2017-11-05')!;
    expect(spring.hours).toBe(23);
    expect(fall.hours).toBe(25);
    expect(spring.predicted).toBeCloseTo((spring.predictedPerDay! * 23) / 24, 12);
    expect(fall.predicted).toBeCloseTo((fall.predictedPerDay! * 25) / 24, 12);
    expect(sum(pred.map((p) => p.hours))).toBe(365 * 24);
  });

  it('gives the same model in °C: balance points converted, slopes × 1.8, same predictions', () => {
    const celsius = rows.map((r) => ({ ...r, temperature: r.temperature === null ? null : ((r.temperature - 32) * 5) / 9 }));
    const c = fitCaltrackDaily(celsius, { fuel: 'electricity', temperatureUnit: 'C' });
    expect(c.type).toBe(model.type);
    expect(c.heatingBalancePoint).toBeCloseTo(((model.heatingBalancePoint! - 32) * 5) / 9, 12);
    expect(c.coolingBalancePoint).toBeCloseTo(((model.coolingBalancePoint! - 32) * 5) / 9, 12);
    expect(c.coefficients.intercept).toBeCloseTo(model.coefficients.intercept, 9);
    expect(c.coefficients.heating).toBeCloseTo(model.coefficients.heating * 1.8, 9);
    expect(c.coefficients.cooling).toBeCloseTo(model.coefficients.cooling * 1.8, 9);
    expect(c.fit.r2Adjusted).toBeCloseTo(model.fit.r2Adjusted, 12);
    const pc = predictCaltrackDaily(c, celsius);
    predictCaltrackDaily(model, rows).forEach((p, i) => expect(pc[i]!.predicted).toBeCloseTo(p.predicted!, 9));
  });

  it('selects the qualified candidate with the highest adjusted R² and reports fit statistics', () => {
    const best = Math.max(...model.candidates.filter((c) => c.qualified).map((c) => c.r2Adjusted!));
    expect(model.fit.r2Adjusted).toBeCloseTo(best, 10);
    expect(model.fit.n).toBe(365);
    expect(model.fit.p).toBe(3);
    expect(model.fit.nmbe).toBeCloseTo(0, 10); // OLS with an intercept
    expect(model.standardErrors.heating).toBeGreaterThan(0);
  });

  it('is JSON-serialisable and predicts the same after a round trip', () => {
    const copy = JSON.parse(JSON.stringify(model)) as CaltrackDailyModel;
    expect(copy).toEqual(model);
    expect(predictCaltrackDaily(copy, rows.slice(0, 10))).toEqual(predictCaltrackDaily(model, rows.slice(0, 10)));
  });

  it('refuses to predict with a disqualified baseline unless overridden', () => {
    const short = fitCaltrackDaily(rows.slice(0, 200), { fuel: 'electricity', temperatureUnit: 'F' });
    expect(short.disqualifications.map((d) => d.code)).toContain('mv.sufficiency.baseline_too_short');
    expect(() => predictCaltrackDaily(short, rows)).toThrow(expect.objectContaining({ code: 'MV_MODEL_DISQUALIFIED' }));
    expect(predictCaltrackDaily(short, rows, { ignoreDisqualification: true })).toHaveLength(365);
  });

  it('masks days without temperature or usage', () => {
    const holes = rows.map((r, i) => (i === 3 ? { ...r, temperature: null } : i === 4 ? { ...r, usage: null } : r));
    const pred = predictCaltrackDaily(model, holes);
    expect(pred[3]!.predicted).toBeNull();
    expect(pred[4]!.observed).toBeNull();
    expect(summarizeSavings(pred)).toMatchObject({ periods: 363, masked: 2 });
  });

  it('throws MV_NO_DATA without usable days', () => {
    expect(() => fitCaltrackDaily(rows.map((r) => ({ ...r, usage: null })), { fuel: 'electricity', temperatureUnit: 'F' })).toThrow(
      expect.objectContaining({ code: 'MV_NO_DATA' }),
    );
  });
});

/** ASHRAE G14 absolute savings uncertainty (DOMAIN.md §2.3), daily data, M = 12 months. */
function g14Band(model: CaltrackDailyModel, counterfactual: number, m: number, confidence: number): number {
  const { n, p, cvrmse, autocorrelation: rho } = model.fit;
  const nPrime = (n * (1 - rho)) / (1 + rho);
  const M = 12;
  const k = -0.00024 * M * M + 0.03535 * M + 1.00286;
  const t = twoSidedT(confidence, nPrime - p);
  return t * k * cvrmse * Math.sqrt(((n / nPrime) * (1 + 2 / nPrime)) / m) * counterfactual;
}
