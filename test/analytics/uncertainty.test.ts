import { describe, expect, it } from 'vitest';
import { assessG14, effectiveSampleSize, savingsUncertainty, uncertaintyFactor } from '../../analytics/src/uncertainty.js';
import { referenceData } from '../../analytics/src/reference.js';

describe('Guideline 14 savings uncertainty', () => {
  it('uses the hourly, daily and billing factors of DOMAIN.md §2.3', () => {
    expect(uncertaintyFactor('hourly', 12)).toBe(1.26);
    expect(uncertaintyFactor('daily', 12)).toBeCloseTo(1.3925, 10);
    expect(uncertaintyFactor('billing', 12)).toBeCloseTo(-0.00022 * 144 + 0.03306 * 12 + 0.94054, 12);
  });

  it('corrects n for lag-1 autocorrelation and never credits a negative one', () => {
    expect(effectiveSampleSize(365, 0.5)).toBeCloseTo(121.6666667, 6);
    expect(effectiveSampleSize(365, -0.3)).toBe(365);
  });

  it('computes the absolute and fractional uncertainty at 68/90/95 % (t from n − p)', () => {
    // Hand-computed: n=365, p=3, CV=0.1, ρ=0.5 → n'=121.667; m=365; M=12 → k=1.3925;
    // t(0.68, 362)=0.995826, t(0.90)=1.649074, t(0.95)=1.966539 (Student t tables).
    const u = savingsUncertainty({ fit: { n: 365, p: 3, cvrmse: 0.1, autocorrelation: 0.5 }, granularity: 'daily', reportingPoints: 365, reportingMonths: 12, counterfactual: 10_000, avoided: 1_000 });
    expect(u.levels.map((l) => l.confidence)).toEqual([0.68, 0.9, 0.95]);
    expect(u.levels[0]!.absolute).toBeCloseTo(126.7457, 3);
    expect(u.levels[1]!.absolute).toBeCloseTo(209.8892, 3);
    expect(u.levels[2]!.absolute).toBeCloseTo(250.2952, 3);
    expect(u.levels[1]!.fsu).toBeCloseTo(0.2098892, 6);
    // Minimum detectable savings: the fraction at which U = 50 %.
    expect(u.minimumDetectable[1]!.fraction).toBeCloseTo(209.8892 / 10_000 / 0.5, 6);
  });

  it('reports no fraction when there are no savings, but still the absolute band', () => {
    const u = savingsUncertainty({ fit: { n: 100, p: 2, cvrmse: 0.2, autocorrelation: 0 }, granularity: 'hourly', reportingPoints: 100, reportingMonths: 1, counterfactual: 500, avoided: 0 });
    expect(u.levels[0]!.fsu).toBeNull();
    expect(u.levels[0]!.absolute).toBeGreaterThan(0);
  });

  it('assesses Guideline 14 against the versioned thresholds', () => {
    const ref = referenceData().g14.data;
    const good = assessG14({ cvrmse: 0.1, nmbe: 0.001 }, 'daily', ref);
    expect(good.passed).toBe(true);
    const bad = assessG14({ cvrmse: 0.4, nmbe: 0 }, 'daily', ref);
    expect(bad.passed).toBe(false);
    expect(bad.checks.find((c) => c.name === 'cvrmse')).toMatchObject({ passed: false, limit: ref.thresholds.daily.cvrmseMax });
    expect(good.reference).toEqual({ id: 'ashrae-g14-acceptance', version: '1' });
  });
});

describe('configurable reference data', () => {
  it('reads a deployment\'s own thresholds from another directory, then the bundled ones again', async () => {
    const { mkdtempSync, readFileSync, writeFileSync, copyFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { configureReferenceData } = await import('../../analytics/src/reference.js');
    const bundled = new URL('../../analytics/reference/', import.meta.url);
    const dir = mkdtempSync(join(tmpdir(), 'wattproof-ref-'));
    for (const f of ['emission-factors.json', 'gbt51161-quotas.json']) copyFileSync(new URL(f, bundled), join(dir, f));
    const g14 = JSON.parse(readFileSync(new URL('ashrae-g14.json', bundled), 'utf8'));
    g14.version = 'bank-x-1';
    g14.thresholds.daily.cvrmseMax = 0.05;
    writeFileSync(join(dir, 'ashrae-g14.json'), JSON.stringify(g14));
    try {
      configureReferenceData(dir);
      const ref = referenceData().g14;
      expect(ref.version.version).toBe('bank-x-1');
      expect(assessG14({ cvrmse: 0.1, nmbe: 0 }, 'daily', ref.data).passed).toBe(false);
    } finally {
      configureReferenceData(new URL('.', bundled).pathname);
      rmSync(dir, { recursive: true, force: true });
    }
    expect(referenceData().g14.version.version).toBe('1');
  });
});
