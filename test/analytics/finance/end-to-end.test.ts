/**
 * End to end: a simulated building with a known retrofit (the simulators' building model on the
 * Chongqing typical year, a hospital with a −10 % whole-building programme from 2025) → CalTRACK
 * daily through analyze() → covenants that must pass / fail, and a policy settled on the verified
 * figure. Pricing on a real building with two real weather years (test/fixtures/dev).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { covenantSpecSchema, policySchema } from '@wattproof/core';
import { analyze, counterfactualByWeatherYear, evaluateCovenant, priceGuarantee, savingsFractionObservations, settlePeriod, splitWeatherYears, verifiedSavingsFromAnalyses } from '@wattproof/analytics';
import { chongqingTypicalYear, createBuildingModel, type BuildingSpec } from '@wattproof/simulators';

const H = 3_600_000;
const at = (date: string) => Date.parse(`${date}T00:00:00+08:00`);

function simulatedHospital() {
  const weather = chongqingTypicalYear();
  const spec: BuildingSpec = { id: 'sim-hospital', archetype: 'hospital', floorAreaM2: 20_000, seed: 505, retrofits: [{ id: 'r1', description: 'whole-building programme, −10 %', from: '2025-01-01', target: 'total', saving: 0.1 }] };
  const model = createBuildingModel(spec, weather);
  const usage = [];
  const temps = [];
  let trueAvoided = 0;
  let trueCounterfactual = 0;
  for (let t = Date.parse('2024-01-01T00:00:00+08:00'); t < Date.parse('2026-01-01T00:00:00+08:00'); t += H) {
    const h = model.hour(t);
    if (t >= Date.parse('2025-01-01T00:00:00+08:00')) {
      trueAvoided += h.counterfactualMain - h.main;
      trueCounterfactual += h.counterfactualMain;
    }
    usage.push({ start: t, end: t + H, value: h.main });
    temps.push({ time: t, value: weather.at(t).temperatureC });
  }
  const result = analyze({
    usage,
    temperatures: temps,
    baseline: { start: '2024-01-02', end: '2025-01-01' },
    reporting: { start: '2025-01-01', end: '2026-01-01' },
    model: 'caltrack-daily',
    fuel: 'electricity',
    temperatureUnit: 'C',
    timeZone: 'Asia/Shanghai',
    inputDigests: { usage: 'sim-hospital-505', temperature: weather.digest },
  });
  return { result, trueAvoided, trueFraction: trueAvoided / trueCounterfactual };
}

describe('finance on a simulated building with known savings', () => {
  const { result, trueAvoided, trueFraction } = simulatedHospital();
  const scope = { site: 'sim', building: 'hospital' };
  const observations = savingsFractionObservations(result, { scope, resultId: 'mv-hospital-2025', recordedAtMs: at('2026-01-05') });
  const covenant = (id: string, threshold: number) =>
    covenantSpecSchema.parse({ id, kpi: 'savings_fraction', scope, operator: '>=', threshold, schedule: { frequency: 'annual', firstTestDate: '2026-01-01' }, ratchet: { bpOnPass: -5, bpOnFail: 5 } });

  it('recovers the known saving within its uncertainty', () => {
    expect(result.status).toBe('verified');
    expect(trueFraction).toBeGreaterThan(0.09);
    expect(trueFraction).toBeLessThan(0.11);
    const band = result.savings.uncertainty.find((u) => u.confidence === 0.9)!.absolute;
    expect(Math.abs(result.savings.avoided - trueAvoided)).toBeLessThan(band);
    // One observation per month end; the last is the full reporting year.
    expect(observations).toHaveLength(12);
    const last = observations[11]!;
    expect(last.window).toEqual({ start: '2025-01-01', end: '2026-01-01' });
    expect(last.value).toBeCloseTo(result.savings.fraction!, 12);
    expect(last.dataCoverage).toBe(1);
  });

  it('passes a covenant well below the true savings and fails one well above', () => {
    const pass = evaluateCovenant(covenant('cov-5pct', 0.05), observations, { testDate: '2026-01-01', asOfMs: at('2026-02-01') });
    expect(pass.status).toBe('pass');
    expect(pass.marginStepBp).toBe(-5);
    expect(pass.passProbability!).toBeGreaterThan(0.99);
    expect(pass.projection.probabilityOfFailing!).toBeLessThan(0.2);
    const fail = evaluateCovenant(covenant('cov-20pct', 0.2), observations, { testDate: '2026-01-01', asOfMs: at('2026-02-01') });
    expect(fail.status).toBe('breach'); // no cure periods
    expect(fail.marginStepBp).toBe(5);
    expect(fail.passProbability!).toBeLessThan(0.01);
    expect(fail.evidence.sources).toEqual([{ resultId: 'mv-hospital-2025', digest: result.lineage.digest }]);
    expect(JSON.stringify(evaluateCovenant(covenant('cov-20pct', 0.2), observations, { testDate: '2026-01-01', asOfMs: at('2026-02-01') }))).toBe(JSON.stringify(fail));
  });

  it('pays a guarantee above the true savings the amount computed by hand', () => {
    const policy = policySchema.parse({
      id: 'pol-hospital',
      insurer: 'insurer',
      insured: 'esco',
      buildings: [{ site: 'sim', building: 'hospital' }],
      meters: [{ site: 'sim', building: 'hospital', meter: 'main' }],
      periods: [{ id: '2025', from: '2025-01-01', to: '2026-01-01', guaranteedSavingsKwh: 450_000 }],
      contractPriceCnyPerKwh: 0.8,
      deductibleCny: 10_000,
      limitCny: 100_000,
      effectiveFrom: '2025-01-01',
      effectiveTo: '2026-01-01',
    });
    const verified = verifiedSavingsFromAnalyses([{ resultId: 'mv-hospital-2025', result }]);
    expect(verified.kwh).toBe(result.savings.adjusted.avoided);
    const claim = settlePeriod(policy, '2025', verified);
    const byHand = Math.min(100_000, Math.max(0, (450_000 - result.savings.avoided) * 0.8 - 10_000));
    expect(claim.figures.payoutCny).toBeCloseTo(byHand, 6);
    expect(claim.figures.shortfallKwh).toBeCloseTo(450_000 - result.savings.avoided, 6);
    // Against the truth: within the verified figure's uncertainty of (450,000 − true) × 0.8 − 10,000.
    const band = result.savings.uncertainty.find((u) => u.confidence === 0.9)!.absolute;
    expect(Math.abs(claim.figures.payoutCny - ((450_000 - trueAvoided) * 0.8 - 10_000))).toBeLessThan(band * 0.8);
    expect(claim.settleable).toBe(true);
    expect(claim.warnings.map((w) => w.code)).not.toContain('finance.claim.window_mismatch');
  });
});

describe('pricing on real weather years', () => {
  it('resamples the 2018 and 2019 weather of a dev building', () => {
    const dir = new URL('../../fixtures/dev/', import.meta.url);
    const read = (f: string) => readFileSync(new URL(f, dir), 'utf8').trim().split(/\r?\n/);
    const w = read('weather.csv');
    const e = read('electricity.csv');
    const col = e[0]!.split(',').indexOf('CAM_b16');
    expect(col).toBe(1);
    const temps = w.slice(1).map((l) => {
      const c = l.split(',');
      return { time: Date.parse(c[0]!), value: c[1] === '' ? null : Number(c[1]) };
    });
    const usage = e.slice(1).map((l) => {
      const c = l.split(',');
      const t = Date.parse(c[0]!);
      return { start: t, end: t + H, value: c[col] === '' || c[col] === undefined ? null : Number(c[col]) };
    });
    const result = analyze({ usage, temperatures: temps, baseline: { start: '2018-01-01', end: '2019-01-01' }, reporting: { start: '2019-01-01', end: '2020-01-01' }, model: 'caltrack-daily', fuel: 'electricity', temperatureUnit: 'C', timeZone: 'Europe/London', inputDigests: {} });
    const years = splitWeatherYears(temps, { sourceId: 'bedford', timeZone: 'Europe/London' });
    expect(years.map((y) => y.id)).toEqual(['bedford-2018', 'bedford-2019']);
    const cf = counterfactualByWeatherYear(result, years);
    expect(cf).toHaveLength(2);
    for (const y of cf) expect(y.counterfactualKwh).toBeGreaterThan(0);
    const mean = (cf[0]!.counterfactualKwh + cf[1]!.counterfactualKwh) / 2;
    const price = priceGuarantee({ guaranteedSavingsKwh: 0.08 * mean, contractPriceCnyPerKwh: 0.8, deductibleCny: 0, limitCny: 1e9, expectedSavingsFraction: 0.1, weatherYears: cf, model: { fit: result.model.fit, granularity: 'daily' }, simulations: 5_000, seed: 1 });
    expect(price.savings.P90).toBeLessThan(price.savings.P50);
    expect(price.probabilityOfShortfall).toBeGreaterThan(0);
    expect(price.probabilityOfShortfall).toBeLessThan(0.5);
    expect(price.weatherYears.map((y) => y.id)).toEqual(['bedford-2018', 'bedford-2019']);
    expect(JSON.stringify(priceGuarantee({ guaranteedSavingsKwh: 0.08 * mean, contractPriceCnyPerKwh: 0.8, deductibleCny: 0, limitCny: 1e9, expectedSavingsFraction: 0.1, weatherYears: cf, model: { fit: result.model.fit, granularity: 'daily' }, simulations: 5_000, seed: 1 }))).toBe(JSON.stringify(price));
  });
});
