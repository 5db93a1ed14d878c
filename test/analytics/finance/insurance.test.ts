import { describe, expect, it } from 'vitest';
import { hasCode, policySchema } from '@wattproof/core';
import { aggregatePortfolio, guaranteeTerms, normalCdf, priceGuarantee, settlementFigures, settlePeriod, type VerifiedSavings } from '@wattproof/analytics';

const terms = { guaranteedKwh: 100_000, contractPriceCnyPerKwh: 0.8, deductibleCny: 5_000, limitCny: 20_000 };

const policy = policySchema.parse({
  id: 'pol-1',
  insurer: 'picc-cq',
  insured: 'esco-a',
  buildings: [{ site: 'yuzhong', building: 'hotel-1' }],
  meters: [{ site: 'yuzhong', building: 'hotel-1', meter: 'main' }],
  periods: [
    { id: 'y1', from: '2025-01-01', to: '2026-01-01', guaranteedSavingsKwh: 100_000 },
    { id: 'y2', from: '2026-01-01', to: '2027-01-01', guaranteedSavingsKwh: 110_000 },
  ],
  contractPriceCnyPerKwh: 0.8,
  deductibleCny: 5_000,
  limitCny: 20_000,
  effectiveFrom: '2025-01-01',
  effectiveTo: '2027-01-01',
});

const verified = (kwh: number, over: Partial<VerifiedSavings> = {}): VerifiedSavings => ({
  kwh,
  standardErrorKwh: 4_000,
  status: 'verified',
  window: { start: '2025-01-01', end: '2026-01-01' },
  sources: [{ resultId: 'mv-1', digest: 'abc' }],
  warnings: [],
  disqualifications: [],
  referenceData: [],
  ...over,
});

describe('settlement', () => {
  it('pays nothing without a shortfall', () => {
    const f = settlementFigures({ ...terms, verifiedKwh: 120_000 });
    expect(f).toMatchObject({ shortfallKwh: 0, grossLossCny: 0, payoutCny: 0, deductibleAppliedCny: 0, limitReached: false });
  });
  it('pays nothing below the deductible', () => {
    // shortfall 5,000 kWh × 0.8 = 4,000 CNY < 5,000 deductible
    const f = settlementFigures({ ...terms, verifiedKwh: 95_000 });
    expect(f.shortfallKwh).toBe(5_000);
    expect(f.grossLossCny).toBeCloseTo(4_000, 9);
    expect(f.payoutCny).toBe(0);
    expect(f.deductibleAppliedCny).toBeCloseTo(4_000, 9);
  });
  it('pays shortfall × price − deductible between deductible and limit', () => {
    // 20,000 kWh × 0.8 = 16,000 − 5,000 = 11,000
    const f = settlementFigures({ ...terms, verifiedKwh: 80_000 });
    expect(f.payoutCny).toBeCloseTo(11_000, 9);
    expect(f.limitReached).toBe(false);
  });
  it('caps the payout at the limit', () => {
    // 60,000 kWh × 0.8 = 48,000 − 5,000 = 43,000 → limit 20,000
    const f = settlementFigures({ ...terms, verifiedKwh: 40_000 });
    expect(f.payoutCny).toBe(20_000);
    expect(f.limitReached).toBe(true);
    // Negative verified savings (use went up) are a full shortfall, not an error.
    expect(settlementFigures({ ...terms, verifiedKwh: -10_000 }).shortfallKwh).toBe(110_000);
  });

  it('writes a claim file with figures, uncertainty, evidence and lineage', () => {
    const c = settlePeriod(policy, 'y1', verified(80_000));
    expect(c.figures.payoutCny).toBeCloseTo(11_000, 9);
    expect(c.settleable).toBe(true);
    expect(c.uncertainty.probabilityTrueShortfall).toBeCloseTo(normalCdf(5), 12);
    expect(c.uncertainty.band90Kwh.low).toBeCloseTo(80_000 - 1.6448536269514722 * 4_000, 6);
    expect(c.evidence).toEqual([{ resultId: 'mv-1', digest: 'abc' }]);
    expect(c.lineage.method.name).toBe('wattproof.insurance.settlement');
    expect(JSON.stringify(settlePeriod(policy, 'y1', verified(80_000)))).toBe(JSON.stringify(c));
    // Period by index; the second year has its own guarantee and a window mismatch warning.
    const y2 = settlePeriod(policy, 1, verified(100_000));
    expect(y2.figures.shortfallKwh).toBe(10_000);
    expect(y2.figures.payoutCny).toBeCloseTo(3_000, 9);
    expect(y2.warnings.map((w) => w.code)).toContain('finance.claim.window_mismatch');
    // Unverified M&V: figures shown, not settleable.
    const dq = settlePeriod(policy, 'y1', verified(80_000, { status: 'not_verified', disqualifications: [{ code: 'mv.sufficiency.too_many_days_missing', message: 'x' }] }));
    expect(dq.settleable).toBe(false);
    try {
      settlePeriod(policy, 'y9', verified(1));
      expect.fail('should throw');
    } catch (err) {
      expect(hasCode(err, 'FINANCE_POLICY_PERIOD_UNKNOWN')).toBe(true);
    }
  });
});

describe('pricing', () => {
  const fit = { n: 365, p: 3, cvrmse: 0.1, autocorrelation: 0 };
  // Guideline 14 by hand: k(M = 12, daily) = −0.00024·144 + 0.03535·12 + 1.00286; n' = n (ρ = 0).
  const k = -0.00024 * 144 + 0.03535 * 12 + 1.00286;
  const C = 1_000_000;
  const se = k * 0.1 * Math.sqrt((1 + 2 / 365) / 365) * C;
  const base = {
    policyId: 'pol-1',
    insured: 'esco-a',
    guaranteedSavingsKwh: 140_000,
    contractPriceCnyPerKwh: 0.8,
    deductibleCny: 1_000,
    limitCny: 10_000,
    expectedSavingsFraction: 0.15,
    weatherYears: [{ id: 'tmy', digest: 'x', counterfactualKwh: C, reportingPoints: 365, days: 365 }],
    model: { fit, granularity: 'daily' as const },
    simulations: 40_000,
    seed: 7,
  };

  it('matches the normal approximation of the savings distribution', () => {
    const r = priceGuarantee(base);
    expect(r.weatherYears[0]!.standardErrorKwh).toBeCloseTo(se, 6);
    expect(r.savings.mean).toBeCloseTo(150_000, -3);
    expect(Math.abs(r.savings.P50 - 150_000)).toBeLessThan(150);
    // P90 = μ − z₀.₉·σ (t with 362 df is within 0.3 % of the normal here).
    expect(Math.abs(r.savings.P90 - (150_000 - 1.2815515655446004 * se))).toBeLessThan(200);
    expect(Math.abs(r.probabilityOfShortfall - normalCdf((140_000 - 150_000) / se))).toBeLessThan(0.006);
    // E[payout] by numerical integration over the normal density.
    let el = 0;
    const steps = 20_000;
    for (let i = 0; i < steps; i++) {
      const z = -8 + (16 * (i + 0.5)) / steps;
      const s = 150_000 + z * se;
      const pay = Math.min(10_000, Math.max(0, Math.max(0, 140_000 - s) * 0.8 - 1_000));
      el += (pay * Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI)) * (16 / steps);
    }
    expect(Math.abs(r.expectedLossCny - el) / el).toBeLessThan(0.05);
    expect(r.indicativePremiumCny).toBeCloseTo(r.expectedLossCny * 1.3, 9);
    expect(priceGuarantee({ ...base, loading: 0.5, expenseCny: 200 }).indicativePremiumCny).toBeCloseTo(r.expectedLossCny * 1.5 + 200, 9);
  });

  it('is reproducible with its seed and resamples whole weather years', () => {
    const two = { ...base, weatherYears: [base.weatherYears[0]!, { id: 'hot', digest: 'y', counterfactualKwh: 1_200_000, reportingPoints: 365, days: 365 }] };
    const a = priceGuarantee(two);
    expect(JSON.stringify(priceGuarantee(two))).toBe(JSON.stringify(a));
    expect(priceGuarantee({ ...two, seed: 8 }).savings.mean).not.toBe(a.savings.mean);
    const draws = a.weatherYears.map((y) => y.draws);
    expect(draws[0]! + draws[1]!).toBe(40_000);
    expect(Math.abs(draws[0]! / 40_000 - 0.5)).toBeLessThan(0.01);
    // A hotter year raises the counterfactual and the savings: the mean lies between the two years.
    expect(a.savings.mean).toBeGreaterThan(150_000);
    expect(a.savings.mean).toBeLessThan(180_000);
    expect(() => priceGuarantee({ ...base, weatherYears: [] })).toThrow(/weather year/);
  });

  it('aggregates a portfolio assuming independence', () => {
    const p1 = priceGuarantee(base);
    const p2 = priceGuarantee({ ...base, policyId: 'pol-2', insured: 'esco-b', guaranteedSavingsKwh: 150_000, limitCny: 30_000 });
    const p3 = priceGuarantee({ ...base, policyId: 'pol-3', seed: 9 });
    const agg = aggregatePortfolio([p1, p2, p3]);
    const el = p1.expectedLossCny + p2.expectedLossCny + p3.expectedLossCny;
    expect(agg.expectedLossCny).toBeCloseTo(el, 9);
    const sd = Math.sqrt(p1.payout.standardDeviation ** 2 + p2.payout.standardDeviation ** 2 + p3.payout.standardDeviation ** 2);
    expect(agg.aggregateLoss.p90).toBeCloseTo(el + 1.2815515655446004 * sd, 6);
    expect(agg.limitCny).toBe(50_000);
    const a = agg.concentration.find((c) => c.insured === 'esco-a')!;
    expect(a.policies).toEqual(['pol-1', 'pol-3']);
    expect(a.shareOfExpectedLoss).toBeCloseTo((p1.expectedLossCny + p3.expectedLossCny) / el, 12);
    expect(a.shareOfLimit).toBeCloseTo(0.4, 12);
    expect(agg.herfindahlExpectedLoss).toBeCloseTo(a.shareOfExpectedLoss ** 2 + (1 - a.shareOfExpectedLoss) ** 2, 12);
  });

  it('takes the terms of a policy period', () => {
    expect(guaranteeTerms(policy, 'y2')).toEqual({ policyId: 'pol-1', insured: 'esco-a', guaranteedSavingsKwh: 110_000, contractPriceCnyPerKwh: 0.8, deductibleCny: 5_000, limitCny: 20_000 });
  });
});
