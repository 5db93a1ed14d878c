import { describe, expect, it } from 'vitest';
import { carbon, eui, selectEmissionFactor } from '../../analytics/src/carbon.js';
import { referenceData } from '../../analytics/src/reference.js';

describe('carbon and benchmarks', () => {
  const { factors, quotas } = referenceData();

  it('selects the effective-dated factor and names it', () => {
    const f = selectEmissionFactor(factors.data, { region: 'CN-CQ', basis: 'location', asOf: '2026-06-30' });
    expect(f?.id).toBe('cn-national-2022-average');
    expect(f?.value).toBe(0.5366);
    expect(selectEmissionFactor(factors.data, { region: 'CN', basis: 'market', asOf: '2026-06-30' })?.id).toBe('cn-national-2022-excluding-market-nonfossil');
    // Before the notice was effective there is no average factor: none is invented.
    expect(selectEmissionFactor(factors.data, { region: 'CN', basis: 'market', asOf: '2024-01-01' })).toBeUndefined();
  });

  it('turns avoided kWh into tCO2 and intensity', () => {
    const f = selectEmissionFactor(factors.data, { region: 'CN', basis: 'location', asOf: '2026-06-30' })!;
    const c = carbon({ avoidedKwh: 100_000, observedKwh: 1_000_000, days: 365, floorAreaM2: 10_000, factor: f });
    expect(c.avoidedTco2).toBeCloseTo(53.66, 10);
    expect(c.emissionsTco2).toBeCloseTo(536.6, 10);
    expect(c.intensityKgPerM2).toBeCloseTo(53.66, 10);
    expect(c.factorId).toBe('cn-national-2022-average');
  });

  it('compares EUI with the GB/T 51161 quota of the building type', () => {
    const r = eui({ energyKwh: 900_000, windowDays: 365, floorAreaM2: 10_000, buildingType: 'office_b', quotas: quotas.data });
    expect(r.eui).toBe(90);
    expect(r.quota).toMatchObject({ constraint: 110, guide: 80, meetsConstraint: true, meetsGuide: false, confirmed: true });
  });

  it('ships reference data with ids, versions and digests', () => {
    const d = referenceData();
    for (const set of [d.g14, d.factors, d.quotas]) expect(set.version.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
