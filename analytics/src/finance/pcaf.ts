/**
 * Financed emissions of a bank's building loans after PCAF (commercial real estate and
 * mortgages; DOMAIN.md §5; docs/finance-methods.md §3): per loan
 *
 *   FE = min(1, outstanding / property value at origination) × building emissions,
 *
 * building emissions from metered energy × the effective-dated grid factor (naming its id) or,
 * without metering, estimated from floor area and building type; the PCAF data-quality score per
 * loan; portfolio totals, intensities, the score weighted by outstanding, the green-loan share
 * against a target, a year-on-year trend and rows for an annual JR/T 0227-2021 disclosure.
 */
import { buildingKey, type BuildingProfile, type BuildingType, type GreenLabelLevel, type Loan, type LoanBalance, type LoanKind } from '@wattproof/core';
import { selectEmissionFactor } from '../carbon.js';
import { referenceData, type EmissionFactor, type EmissionFactors, type Loaded, type Quotas } from '../reference.js';
import type { Finding } from '../types.js';
import type { EvidenceSource } from './covenants.js';
import { financeError } from './errors.js';
import { financeLineage, type FinanceLineage } from './lineage.js';
import { financeReferenceData, type GreenFinanceReference } from './reference.js';

export const PCAF_METHOD = 'wattproof.pcaf';
export const PCAF_METHOD_VERSION = '1.0.0';
/** Version of this project's JR/T 0227-2021 row mapping (ours, not an official template). */
export const JRT0227_MAPPING_VERSION = 'wattproof-jrt0227-rows-1';

/**
 * How a building's emissions were obtained, and the PCAF score it gives (PCAF Global GHG
 * Accounting and Reporting Standard, Part A, commercial real estate and mortgages):
 * 1 metered energy + supplier-specific factor; 2 metered energy + average grid factor;
 * 3 floor area × EUI from the building's energy/green label; 4 floor area × EUI statistical for
 * the building type (GB/T 51161 quota); 5 per-building average energy of the type (no floor area used).
 */
export const PCAF_SCORES = { metered_supplier: 1, metered_average: 2, estimated_label: 3, estimated_type: 4, estimated_per_building: 5 } as const;
export type EmissionsBasis = keyof typeof PCAF_SCORES;

/** Metered annual energy of a building (e.g. Σ of its M&V observed use or its meters' totals). */
export interface BuildingEnergy {
  readonly site: string;
  readonly building: string;
  /** Calendar year of the figure. */
  readonly year: number;
  /** Site electricity (electricity-equivalent) over the year, kWh. */
  readonly electricityKwh: number;
  /** Share of the year's intervals with data, 0..1 (optional; < 0.9 gets a warning). */
  readonly coverage?: number;
  /** Id of a supplier-level factor in the emission-factor table (green-power contract, supplier disclosure): score 1. */
  readonly supplierFactorId?: string;
  /** Avoided energy of the year (verified savings), kWh, for the impact columns of the disclosure. */
  readonly avoidedKwh?: number;
  readonly sources: readonly EvidenceSource[];
}

/** Estimation inputs for buildings without metered energy. */
export interface EstimationTables {
  /** EUI by green-label level, kWh/(m²·a) (score 3). None by default: China's green labels carry no EUI. */
  readonly euiByLabel?: Partial<Record<GreenLabelLevel, number>>;
  /** EUI by building type, kWh/(m²·a) (score 4); default: the GB/T 51161 constraint value of the type. */
  readonly euiByType?: Partial<Record<BuildingType, number>>;
  /** Annual energy of an average building of the type, kWh (score 5). */
  readonly kwhPerBuildingByType?: Partial<Record<BuildingType, number>>;
}

export interface PcafOptions {
  /** Reporting year: balances, profiles and factors as of its 31 December. */
  readonly year: number;
  /** Grid region for the factor (default `CN`) and basis (default location-based). */
  readonly region?: string;
  readonly basis?: 'location' | 'market';
  readonly estimates?: EstimationTables;
  /** Loan kinds counted as green loans (default `green_loan`: use of proceeds, Green Loan Principles). */
  readonly greenLoanKinds?: readonly LoanKind[];
  /** Green-loan share target; default: the first target of the green-finance reference set. */
  readonly greenLoanTarget?: { readonly id: string; readonly share: number; readonly source: string; readonly confirmed: boolean };
  readonly factors?: Loaded<EmissionFactors>;
  readonly quotas?: Loaded<Quotas>;
  readonly finance?: Loaded<GreenFinanceReference>;
}

export interface BuildingEmissions {
  readonly site: string;
  readonly building: string;
  readonly floorAreaM2: number;
  readonly type: BuildingType;
  readonly energyKwh: number;
  readonly emissionsTco2e: number;
  readonly basis: EmissionsBasis;
  readonly score: number;
  readonly factorId: string;
  readonly factorKgPerKwh: number;
  /** EUI used for an estimate (null when metered). */
  readonly estimatedEui: number | null;
  readonly avoidedKwh: number | null;
  readonly sources: readonly EvidenceSource[];
}

export interface LoanEmissions {
  readonly loanId: string;
  readonly kind: LoanKind;
  readonly assetClass: Loan['assetClass'];
  readonly borrower: string;
  readonly outstandingCny: number;
  readonly propertyValueAtOriginationCny: number;
  /** min(1, outstanding / property value at origination). */
  readonly attribution: number;
  /** True when outstanding > property value and the attribution was capped at 1. */
  readonly attributionCapped: boolean;
  readonly buildings: BuildingEmissions[];
  /** Σ building emissions, tCO2e. */
  readonly buildingEmissionsTco2e: number;
  /** attribution × building emissions, tCO2e. */
  readonly financedEmissionsTco2e: number;
  /** attribution × Σ floor area, m². */
  readonly attributedFloorAreaM2: number;
  /** attribution × Σ avoided energy, kWh (null when no building reported savings). */
  readonly attributedAvoidedKwh: number | null;
  readonly attributedAvoidedTco2e: number | null;
  /** The loan's score: the worst (highest) of its buildings. */
  readonly score: number;
  readonly green: boolean;
}

export interface PcafReport {
  readonly year: number;
  readonly loans: LoanEmissions[];
  readonly totals: {
    readonly loans: number;
    readonly outstandingCny: number;
    readonly financedEmissionsTco2e: number;
    /** tCO2e per million CNY outstanding. */
    readonly intensityTco2ePerMillionCny: number | null;
    /** kgCO2e per attributed m² (Σ FE / Σ attribution × floor area). */
    readonly intensityKgco2ePerM2: number | null;
    /** Σ score × outstanding / Σ outstanding. */
    readonly weightedScore: number | null;
    readonly attributedAvoidedKwh: number;
    readonly attributedAvoidedTco2e: number;
  };
  readonly byAssetClass: Array<{ assetClass: Loan['assetClass']; loans: number; outstandingCny: number; financedEmissionsTco2e: number; weightedScore: number | null }>;
  readonly greenLoans: { readonly kinds: LoanKind[]; readonly outstandingCny: number; readonly share: number | null; readonly target: { id: string; share: number; confirmed: boolean; source: string } | null; readonly meetsTarget: boolean | null };
  readonly warnings: Finding[];
  readonly lineage: FinanceLineage;
}

const QUOTA_TYPE: Partial<Record<BuildingType, string>> = { office_a: 'office_a', office_b: 'office_b', government_a: 'government_office_a', government_b: 'government_office_b' };

function latestOnOrBefore<T extends { effectiveFrom: string }>(items: readonly T[], date: string): T | undefined {
  return items.filter((x) => x.effectiveFrom <= date).sort((a, b) => (a.effectiveFrom < b.effectiveFrom ? 1 : a.effectiveFrom > b.effectiveFrom ? -1 : 0))[0];
}

/** min(1, outstanding / value): the PCAF attribution factor for CRE and mortgages. */
export function attributionFactor(outstandingCny: number, propertyValueAtOriginationCny: number): number {
  if (!(propertyValueAtOriginationCny > 0) || !(outstandingCny >= 0)) throw financeError('FINANCE_INPUT_INVALID', 'outstanding must be ≥ 0 and property value > 0', { details: { outstandingCny, propertyValueAtOriginationCny } });
  return Math.min(1, outstandingCny / propertyValueAtOriginationCny);
}

/**
 * Financed emissions of the loan book in `options.year`.
 * @throws WattproofError `FINANCE_LOAN_DATA_MISSING` (a loan on the book without balance, a
 *   building without profile), `FINANCE_EMISSION_FACTOR_MISSING`, `FINANCE_INPUT_INVALID`.
 */
export function financedEmissions(loans: readonly Loan[], balances: readonly LoanBalance[], profiles: readonly BuildingProfile[], energy: readonly BuildingEnergy[], options: PcafOptions): PcafReport {
  const { year } = options;
  if (!Number.isInteger(year) || year < 1900 || year > 2999) throw financeError('FINANCE_INPUT_INVALID', 'year must be a calendar year', { details: { field: 'year', value: year } });
  const yearEnd = `${year}-12-31`;
  const region = options.region ?? 'CN';
  const basis = options.basis ?? 'location';
  const ref = referenceData();
  const factors = options.factors ?? ref.factors;
  const quotas = options.quotas ?? ref.quotas;
  const finance = options.finance ?? financeReferenceData();
  const greenKinds = [...(options.greenLoanKinds ?? ['green_loan'])].sort();
  const warnings: Finding[] = [];
  const usedRefs = [factors.version];

  const average = selectEmissionFactor(factors.data, { region, basis, asOf: yearEnd, level: 'provincial' });
  if (!average) throw financeError('FINANCE_EMISSION_FACTOR_MISSING', `no ${basis}-based grid factor for ${region} in force on ${yearEnd}`, { details: { region, basis, asOf: yearEnd } });

  let usedQuotas = false;
  const buildingEmissions = (key: { site: string; building: string }): BuildingEmissions => {
    const profile = latestOnOrBefore(profiles.filter((p) => p.site === key.site && p.building === key.building), yearEnd);
    if (!profile) throw financeError('FINANCE_LOAN_DATA_MISSING', `no profile of building ${buildingKey(key)} in force on ${yearEnd}`, { details: { building: buildingKey(key), asOf: yearEnd } });
    const metered = energy.filter((e) => e.site === key.site && e.building === key.building && e.year === year);
    const common = { site: key.site, building: key.building, floorAreaM2: profile.floorAreaM2, type: profile.type };
    if (metered.length > 0) {
      const kwh = metered.reduce((a, e) => a + e.electricityKwh, 0);
      if (!(kwh >= 0)) throw financeError('FINANCE_INPUT_INVALID', `electricityKwh of ${buildingKey(key)} must be ≥ 0`, { details: { building: buildingKey(key) } });
      for (const e of metered) {
        if (e.coverage !== undefined && e.coverage < 0.9) warnings.push({ code: 'finance.pcaf.low_coverage', message: `Metered energy of ${buildingKey(key)} in ${year} covers ${(e.coverage * 100).toFixed(1)} % of the year.`, data: { building: buildingKey(key), coverage: e.coverage } });
      }
      const supplierIds = [...new Set(metered.map((e) => e.supplierFactorId).filter((x): x is string => x !== undefined))];
      let factor: EmissionFactor = average;
      let b: EmissionsBasis = 'metered_average';
      if (supplierIds.length === 1) {
        const f = factors.data.factors.find((x) => x.id === supplierIds[0] && x.level === 'supplier' && x.effectiveFrom <= yearEnd);
        if (f) {
          factor = f;
          b = 'metered_supplier';
        } else warnings.push({ code: 'finance.pcaf.supplier_factor_unknown', message: `Supplier factor ${supplierIds[0]} is not a supplier-level factor in force on ${yearEnd}; the average grid factor is used.`, data: { building: buildingKey(key), factorId: supplierIds[0] } });
      }
      const avoided = metered.some((e) => e.avoidedKwh !== undefined) ? metered.reduce((a, e) => a + (e.avoidedKwh ?? 0), 0) : null;
      return { ...common, energyKwh: kwh, emissionsTco2e: (kwh * factor.value) / 1000, basis: b, score: PCAF_SCORES[b], factorId: factor.id, factorKgPerKwh: factor.value, estimatedEui: null, avoidedKwh: avoided, sources: metered.flatMap((e) => e.sources) };
    }
    const est = options.estimates ?? {};
    let eui: number | undefined;
    let b: EmissionsBasis | undefined;
    let kwh: number | undefined;
    const labelEui = profile.label ? est.euiByLabel?.[profile.label.level] : undefined;
    if (labelEui !== undefined) {
      eui = labelEui;
      b = 'estimated_label';
    } else if (est.euiByType?.[profile.type] !== undefined) {
      eui = est.euiByType[profile.type];
      b = 'estimated_type';
    } else {
      const q = QUOTA_TYPE[profile.type] ? quotas.data.quotas.find((x) => x.buildingType === QUOTA_TYPE[profile.type]) : undefined;
      if (q) {
        // The constraint value (the quota's upper limit), not the guide value: a prudent estimate.
        eui = q.constraint;
        b = 'estimated_type';
        usedQuotas = true;
        if (!q.confirmed) warnings.push({ code: 'finance.pcaf.quota_unconfirmed', message: `The GB/T 51161 quota for ${q.buildingType} used to estimate ${buildingKey(key)} is unconfirmed.`, data: { buildingType: q.buildingType } });
      } else if (est.kwhPerBuildingByType?.[profile.type] !== undefined) {
        kwh = est.kwhPerBuildingByType[profile.type];
        b = 'estimated_per_building';
      }
    }
    if (b === undefined) throw financeError('FINANCE_LOAN_DATA_MISSING', `building ${buildingKey(key)} (${profile.type}) has no metered energy for ${year} and no estimate for its type`, { details: { building: buildingKey(key), type: profile.type, year } });
    const energyKwh = kwh ?? eui! * profile.floorAreaM2;
    return { ...common, energyKwh, emissionsTco2e: (energyKwh * average.value) / 1000, basis: b, score: PCAF_SCORES[b], factorId: average.id, factorKgPerKwh: average.value, estimatedEui: eui ?? null, avoidedKwh: null, sources: [] };
  };

  const rows: LoanEmissions[] = [];
  for (const loan of [...loans].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    // On the book at the year end: originated by then and not matured before the year began.
    if (loan.originationDate > yearEnd || loan.maturityDate <= `${year}-01-01`) continue;
    const balance = latestOnOrBefore(balances.filter((x) => x.loanId === loan.id), yearEnd);
    if (!balance) throw financeError('FINANCE_LOAN_DATA_MISSING', `loan ${loan.id} has no balance on or before ${yearEnd}`, { details: { loanId: loan.id, asOf: yearEnd } });
    const outstanding = loan.maturityDate <= yearEnd ? 0 : balance.outstandingCny;
    const attribution = attributionFactor(outstanding, loan.propertyValueAtOriginationCny);
    const buildings = loan.buildings.map(buildingEmissions);
    const be = buildings.reduce((a, x) => a + x.emissionsTco2e, 0);
    const avoidedB = buildings.filter((x) => x.avoidedKwh !== null);
    const avoidedKwh = avoidedB.length ? avoidedB.reduce((a, x) => a + x.avoidedKwh!, 0) : null;
    const avoidedT = avoidedB.length ? avoidedB.reduce((a, x) => a + (x.avoidedKwh! * x.factorKgPerKwh) / 1000, 0) : null;
    rows.push({
      loanId: loan.id,
      kind: loan.kind,
      assetClass: loan.assetClass,
      borrower: loan.borrower,
      outstandingCny: outstanding,
      propertyValueAtOriginationCny: loan.propertyValueAtOriginationCny,
      attribution,
      attributionCapped: outstanding > loan.propertyValueAtOriginationCny,
      buildings,
      buildingEmissionsTco2e: be,
      financedEmissionsTco2e: attribution * be,
      attributedFloorAreaM2: attribution * buildings.reduce((a, x) => a + x.floorAreaM2, 0),
      attributedAvoidedKwh: avoidedKwh === null ? null : attribution * avoidedKwh,
      attributedAvoidedTco2e: avoidedT === null ? null : attribution * avoidedT,
      score: Math.max(...buildings.map((x) => x.score)),
      green: greenKinds.includes(loan.kind),
    });
  }

  const aggregate = (list: LoanEmissions[]) => {
    const outstanding = list.reduce((a, l) => a + l.outstandingCny, 0);
    const fe = list.reduce((a, l) => a + l.financedEmissionsTco2e, 0);
    const area = list.reduce((a, l) => a + l.attributedFloorAreaM2, 0);
    return {
      loans: list.length,
      outstandingCny: outstanding,
      financedEmissionsTco2e: fe,
      intensityTco2ePerMillionCny: outstanding > 0 ? fe / (outstanding / 1e6) : null,
      intensityKgco2ePerM2: area > 0 ? (fe * 1000) / area : null,
      weightedScore: outstanding > 0 ? list.reduce((a, l) => a + l.score * l.outstandingCny, 0) / outstanding : null,
      attributedAvoidedKwh: list.reduce((a, l) => a + (l.attributedAvoidedKwh ?? 0), 0),
      attributedAvoidedTco2e: list.reduce((a, l) => a + (l.attributedAvoidedTco2e ?? 0), 0),
    };
  };
  const totals = aggregate(rows);
  const byAssetClass = (['commercial_real_estate', 'mortgage'] as const)
    .map((assetClass) => {
      const a = aggregate(rows.filter((r) => r.assetClass === assetClass));
      return { assetClass, loans: a.loans, outstandingCny: a.outstandingCny, financedEmissionsTco2e: a.financedEmissionsTco2e, weightedScore: a.weightedScore };
    })
    .filter((x) => x.loans > 0);

  const refTarget = finance.data.greenLoanTargets[0];
  const target = options.greenLoanTarget ?? (refTarget ? { id: refTarget.id, share: refTarget.share, source: refTarget.source, confirmed: refTarget.confirmed } : null);
  if (!options.greenLoanTarget && refTarget) {
    usedRefs.push(finance.version);
    warnings.push({ code: 'finance.pcaf.target_is_district_level', message: `The default green-loan target (${refTarget.id}) is a district-level share of the city's green loans, used here as an indicative benchmark${refTarget.confirmed ? '' : ' (unconfirmed)'}.`, data: { targetId: refTarget.id, confirmed: refTarget.confirmed } });
  }
  const greenOutstanding = rows.filter((r) => r.green).reduce((a, r) => a + r.outstandingCny, 0);
  const share = totals.outstandingCny > 0 ? greenOutstanding / totals.outstandingCny : null;
  if (usedQuotas) usedRefs.push(quotas.version);

  const body = {
    year,
    loans: rows,
    totals,
    byAssetClass,
    greenLoans: { kinds: greenKinds, outstandingCny: greenOutstanding, share, target: target ? { id: target.id, share: target.share, confirmed: target.confirmed, source: target.source } : null, meetsTarget: share === null || !target ? null : share >= target.share },
    warnings,
  };
  return {
    ...body,
    lineage: financeLineage(PCAF_METHOD, PCAF_METHOD_VERSION, { loans, balances, profiles, energy }, { year, region, basis, estimates: options.estimates ?? null, greenLoanKinds: greenKinds, greenLoanTarget: options.greenLoanTarget ?? null }, usedRefs),
  };
}

/** One year of the carbon-intensity trend. */
export interface PcafTrendRow {
  readonly year: number;
  readonly financedEmissionsTco2e: number;
  readonly outstandingCny: number;
  readonly intensityTco2ePerMillionCny: number | null;
  readonly intensityKgco2ePerM2: number | null;
  readonly weightedScore: number | null;
  /** Relative change of the intensity per million CNY against the previous year (null for the first). */
  readonly intensityChange: number | null;
}

/** The portfolio's carbon intensity year by year (one PCAF report per year, oldest first). */
export function pcafTrend(reports: readonly PcafReport[]): PcafTrendRow[] {
  const sorted = [...reports].sort((a, b) => a.year - b.year);
  return sorted.map((r, i) => {
    const prev = i > 0 ? sorted[i - 1]!.totals.intensityTco2ePerMillionCny : null;
    const cur = r.totals.intensityTco2ePerMillionCny;
    return {
      year: r.year,
      financedEmissionsTco2e: r.totals.financedEmissionsTco2e,
      outstandingCny: r.totals.outstandingCny,
      intensityTco2ePerMillionCny: cur,
      intensityKgco2ePerM2: r.totals.intensityKgco2ePerM2,
      weightedScore: r.totals.weightedScore,
      intensityChange: prev !== null && prev > 0 && cur !== null ? cur / prev - 1 : null,
    };
  });
}

/**
 * One row of the annual environmental disclosure (JR/T 0227-2021, "environmental impact of
 * investment and financing activities"), per asset class and loan kind. The field mapping is
 * Wattproof's own reading of the guideline, not an official template (see
 * docs/finance-methods.md §3.5).
 */
export interface Jrt0227Row {
  readonly mapping: typeof JRT0227_MAPPING_VERSION;
  readonly reportingYear: number;
  readonly institution: string;
  readonly assetClass: Loan['assetClass'];
  readonly loanKind: LoanKind;
  readonly loanCount: number;
  /** Outstanding at year end, CNY and 10,000 CNY (万元, as disclosures usually state it). */
  readonly outstandingCny: number;
  readonly outstandingTenThousandCny: number;
  readonly financedEmissionsTco2e: number;
  readonly carbonIntensityTco2ePerMillionCny: number | null;
  readonly physicalIntensityKgco2ePerM2: number | null;
  readonly weightedDataQualityScore: number | null;
  readonly energySavedKwh: number;
  /** Energy saved in tonnes of standard coal (kWh × kgce/kWh / 1000). */
  readonly energySavedTce: number;
  readonly co2AvoidedTco2e: number;
  readonly emissionFactorIds: string[];
  readonly conversionFactorId: string;
  readonly method: string;
}

/** Rows for the annual JR/T 0227-2021 disclosure from a PCAF report. */
export function jrt0227Rows(report: PcafReport, options: { readonly institution: string; readonly finance?: Loaded<GreenFinanceReference> }): Jrt0227Row[] {
  const finance = options.finance ?? financeReferenceData();
  const conv = finance.data.energyConversion.filter((c) => c.effectiveFrom <= `${report.year}-12-31`).sort((a, b) => (a.effectiveFrom < b.effectiveFrom ? 1 : -1))[0];
  if (!conv) throw financeError('FINANCE_INPUT_INVALID', `no energy-conversion factor in force in ${report.year}`, { details: { year: report.year } });
  const groups = new Map<string, LoanEmissions[]>();
  for (const l of report.loans) {
    const key = `${l.assetClass}|${l.kind}`;
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, list]) => {
      const [assetClass, loanKind] = key.split('|') as [Loan['assetClass'], LoanKind];
      const outstanding = list.reduce((a, l) => a + l.outstandingCny, 0);
      const fe = list.reduce((a, l) => a + l.financedEmissionsTco2e, 0);
      const area = list.reduce((a, l) => a + l.attributedFloorAreaM2, 0);
      const saved = list.reduce((a, l) => a + (l.attributedAvoidedKwh ?? 0), 0);
      return {
        mapping: JRT0227_MAPPING_VERSION,
        reportingYear: report.year,
        institution: options.institution,
        assetClass,
        loanKind,
        loanCount: list.length,
        outstandingCny: outstanding,
        outstandingTenThousandCny: outstanding / 10_000,
        financedEmissionsTco2e: fe,
        carbonIntensityTco2ePerMillionCny: outstanding > 0 ? fe / (outstanding / 1e6) : null,
        physicalIntensityKgco2ePerM2: area > 0 ? (fe * 1000) / area : null,
        weightedDataQualityScore: outstanding > 0 ? list.reduce((a, l) => a + l.score * l.outstandingCny, 0) / outstanding : null,
        energySavedKwh: saved,
        energySavedTce: (saved * conv.kgcePerKwh) / 1000,
        co2AvoidedTco2e: list.reduce((a, l) => a + (l.attributedAvoidedTco2e ?? 0), 0),
        emissionFactorIds: [...new Set(list.flatMap((l) => l.buildings.map((b) => b.factorId)))].sort(),
        conversionFactorId: conv.id,
        method: `PCAF (CRE/mortgages) attribution outstanding / property value at origination, capped at 1; ${PCAF_METHOD}@${PCAF_METHOD_VERSION}`,
      };
    });
}
