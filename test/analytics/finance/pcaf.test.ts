import { describe, expect, it } from 'vitest';
import { buildingProfileSchema, hasCode, loanSchema } from '@wattproof/core';
import { attributionFactor, financedEmissions, jrt0227Rows, pcafTrend, referenceData, type BuildingEnergy } from '@wattproof/analytics';

const cov = { id: 'c1', kpi: 'savings_fraction', scope: { site: 's', building: 'a' }, operator: '>=', threshold: 0.1, schedule: { frequency: 'annual', firstTestDate: '2025-06-30' } };
const loans = [
  loanSchema.parse({ id: 'loan-a', borrower: 'owner-a', lender: 'bank', kind: 'sustainability_linked_loan', assetClass: 'commercial_real_estate', currency: 'CNY', buildings: [{ site: 's', building: 'a' }], originationDate: '2024-06-30', maturityDate: '2031-06-30', propertyValueAtOriginationCny: 100_000_000, baseMarginBp: 80, covenants: [cov] }),
  loanSchema.parse({ id: 'loan-b', borrower: 'owner-b', lender: 'bank', kind: 'green_loan', assetClass: 'mortgage', currency: 'CNY', buildings: [{ site: 's', building: 'b' }], originationDate: '2023-01-01', maturityDate: '2043-01-01', propertyValueAtOriginationCny: 1_000_000, baseMarginBp: -20 }),
  loanSchema.parse({ id: 'loan-c', borrower: 'owner-c', lender: 'bank', kind: 'green_loan', assetClass: 'commercial_real_estate', currency: 'CNY', buildings: [{ site: 's', building: 'c' }], originationDate: '2024-01-01', maturityDate: '2030-01-01', propertyValueAtOriginationCny: 50_000_000, baseMarginBp: 60 }),
  // Originated after the reporting year: not on the 2025 book.
  loanSchema.parse({ id: 'loan-d', borrower: 'owner-c', lender: 'bank', kind: 'green_loan', assetClass: 'commercial_real_estate', currency: 'CNY', buildings: [{ site: 's', building: 'c' }], originationDate: '2026-03-01', maturityDate: '2030-01-01', propertyValueAtOriginationCny: 50_000_000, baseMarginBp: 60 }),
];
const balances = [
  { loanId: 'loan-a', effectiveFrom: '2024-06-30', outstandingCny: 70_000_000 },
  { loanId: 'loan-a', effectiveFrom: '2025-12-01', outstandingCny: 60_000_000 },
  { loanId: 'loan-a', effectiveFrom: '2026-01-05', outstandingCny: 55_000_000 }, // after the year end: ignored
  { loanId: 'loan-b', effectiveFrom: '2025-01-01', outstandingCny: 1_200_000 }, // more than the value: capped at 1
  { loanId: 'loan-c', effectiveFrom: '2024-01-01', outstandingCny: 20_000_000 },
];
const profiles = [
  buildingProfileSchema.parse({ site: 's', building: 'a', effectiveFrom: '2020-01-01', type: 'office_b', floorAreaM2: 20_000 }),
  buildingProfileSchema.parse({ site: 's', building: 'b', effectiveFrom: '2020-01-01', type: 'office_b', floorAreaM2: 1_000 }),
  buildingProfileSchema.parse({ site: 's', building: 'c', effectiveFrom: '2020-01-01', type: 'hotel', floorAreaM2: 10_000 }),
];
const energy: BuildingEnergy[] = [
  { site: 's', building: 'a', year: 2025, electricityKwh: 2_000_000, avoidedKwh: 100_000, coverage: 0.97, sources: [{ resultId: 'mv-a', digest: 'da' }] },
  { site: 's', building: 'c', year: 2025, electricityKwh: 1_000_000, supplierFactorId: 'cq-green-power-2025', sources: [{ resultId: 'mv-c', digest: 'dc' }] },
];
const ref = referenceData().factors;
const factors = {
  data: { ...ref.data, factors: [...ref.data.factors, { id: 'cq-green-power-2025', region: 'CN-CQ', level: 'supplier' as const, basis: 'market' as const, dataYear: 2025, value: 0.3, effectiveFrom: '2025-01-01', source: 'test supplier disclosure' }] },
  version: { id: 'test-factors', version: 't1', sha256: 'f'.repeat(64) },
};

describe('PCAF financed emissions', () => {
  const report = financedEmissions(loans, balances, profiles, energy, { year: 2025, factors });

  it('computes FE per loan with the attribution cap and names the factor', () => {
    expect(attributionFactor(60e6, 100e6)).toBe(0.6);
    expect(attributionFactor(1.2e6, 1e6)).toBe(1);
    const [a, b, c] = report.loans;
    expect(report.loans.map((l) => l.loanId)).toEqual(['loan-a', 'loan-b', 'loan-c']);
    // a: 2,000,000 kWh × 0.5366 = 1,073.2 t; × 0.6 = 643.92 t; metered + average factor: score 2
    expect(a!.outstandingCny).toBe(60_000_000);
    expect(a!.financedEmissionsTco2e).toBeCloseTo(643.92, 9);
    expect(a!.score).toBe(2);
    expect(a!.buildings[0]!.factorId).toBe('cn-national-2022-average');
    // b: not metered, office_b quota 110 kWh/m² × 1,000 m² = 110,000 kWh × 0.5366 = 59.026 t; attribution capped at 1; score 4
    expect(b!.attribution).toBe(1);
    expect(b!.attributionCapped).toBe(true);
    expect(b!.financedEmissionsTco2e).toBeCloseTo(59.026, 9);
    expect(b!.score).toBe(4);
    // c: 1,000,000 kWh × 0.3 (supplier) = 300 t × 0.4 = 120 t; score 1
    expect(c!.financedEmissionsTco2e).toBeCloseTo(120, 9);
    expect(c!.score).toBe(1);
  });

  it('totals, intensities, the weighted score and the green share', () => {
    const t = report.totals;
    expect(t.outstandingCny).toBe(81_200_000);
    expect(t.financedEmissionsTco2e).toBeCloseTo(822.946, 9);
    expect(t.intensityTco2ePerMillionCny!).toBeCloseTo(822.946 / 81.2, 9);
    // attributed floor area: 0.6·20,000 + 1·1,000 + 0.4·10,000 = 17,000 m²
    expect(t.intensityKgco2ePerM2!).toBeCloseTo(822_946 / 17_000, 6);
    // (2·60 + 4·1.2 + 1·20) / 81.2
    expect(t.weightedScore!).toBeCloseTo(144.8 / 81.2, 12);
    expect(report.greenLoans.share!).toBeCloseTo(21.2 / 81.2, 12);
    expect(report.greenLoans.target!.share).toBe(0.25);
    expect(report.greenLoans.target!.confirmed).toBe(false);
    expect(report.greenLoans.meetsTarget).toBe(true);
    expect(report.warnings.map((w) => w.code)).toContain('finance.pcaf.target_is_district_level');
    expect(report.lineage.referenceData.map((r) => r.id)).toEqual(['gbt-51161-2016-hscw', 'green-finance-targets', 'test-factors']);
    expect(report.byAssetClass.map((x) => x.assetClass)).toEqual(['commercial_real_estate', 'mortgage']);
    expect(financedEmissions(loans, balances, profiles, energy, { year: 2025, factors, greenLoanTarget: { id: 'bank', share: 0.5, source: 'board', confirmed: true } }).greenLoans.meetsTarget).toBe(false);
    expect(JSON.stringify(financedEmissions(loans, balances, profiles, energy, { year: 2025, factors }))).toBe(JSON.stringify(report));
  });

  it('uses label-based estimates (score 3) and per-building estimates (score 5)', () => {
    const p = [...profiles.slice(0, 2), buildingProfileSchema.parse({ site: 's', building: 'c', effectiveFrom: '2020-01-01', type: 'hotel', floorAreaM2: 10_000, label: { scheme: 'GB/T 50378-2019', level: '2-star', kind: 'operation', validFrom: '2022-01-01', validTo: '2028-01-01' } })];
    const e = energy.filter((x) => x.building === 'a');
    const r3 = financedEmissions(loans, balances, p, e, { year: 2025, estimates: { euiByLabel: { '2-star': 90 } } });
    expect(r3.loans[2]!.score).toBe(3);
    expect(r3.loans[2]!.financedEmissionsTco2e).toBeCloseTo(0.4 * 900_000 * 0.5366 / 1000, 9);
    const r5 = financedEmissions(loans, balances, profiles, e, { year: 2025, estimates: { kwhPerBuildingByType: { hotel: 2_500_000 } } });
    expect(r5.loans[2]!.score).toBe(5);
    try {
      financedEmissions(loans, balances, profiles, e, { year: 2025 });
      expect.fail('hotel without estimate');
    } catch (err) {
      expect(hasCode(err, 'FINANCE_LOAN_DATA_MISSING')).toBe(true);
    }
    try {
      financedEmissions(loans, balances, profiles, energy, { year: 2022, factors });
      expect.fail('no factor in force on 2022-12-31');
    } catch (err) {
      expect(hasCode(err, 'FINANCE_EMISSION_FACTOR_MISSING')).toBe(true);
    }
  });

  it('gives a trend and JR/T 0227 disclosure rows', () => {
    const e2026 = energy.map((x) => ({ ...x, year: 2026, electricityKwh: x.electricityKwh * 0.9 }));
    const r2026 = financedEmissions(loans, [...balances, { loanId: 'loan-d', effectiveFrom: '2026-03-01', outstandingCny: 10_000_000 }], profiles, e2026, { year: 2026, factors });
    const trend = pcafTrend([r2026, report]);
    expect(trend.map((t) => t.year)).toEqual([2025, 2026]);
    expect(trend[0]!.intensityChange).toBeNull();
    expect(trend[1]!.intensityChange!).toBeCloseTo(trend[1]!.intensityTco2ePerMillionCny! / trend[0]!.intensityTco2ePerMillionCny! - 1, 12);
    const rows = jrt0227Rows(report, { institution: 'Bank of Yuzhong' });
    expect(rows.map((r) => `${r.assetClass}/${r.loanKind}`)).toEqual(['commercial_real_estate/green_loan', 'commercial_real_estate/sustainability_linked_loan', 'mortgage/green_loan']);
    const sll = rows[1]!;
    // 100,000 kWh avoided × 0.6 attribution = 60,000 kWh; × 0.1229 kgce/kWh = 7.374 tce; × 0.5366 = 32.196 tCO2
    expect(sll.energySavedKwh).toBeCloseTo(60_000, 9);
    expect(sll.energySavedTce).toBeCloseTo(7.374, 9);
    expect(sll.co2AvoidedTco2e).toBeCloseTo(32.196, 9);
    expect(sll.outstandingTenThousandCny).toBe(6_000);
    expect(sll.mapping).toBe('wattproof-jrt0227-rows-1');
  });
});
