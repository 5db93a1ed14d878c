/**
 * A finance registry over a simulated building with a known retrofit, shared by the finance
 * service, API and CLI tests: the simulators' hospital (20,000 m², −10 % whole-building programme
 * from 2025) on the Chongqing typical year, hourly, 2024–2025, written into a reading store the
 * way the ingest stores readings; a weather station meter; a bank, an owner and an insurer; a
 * building profile with a 2-star label; a sustainability-linked loan whose covenants must pass or
 * must fail on the truth; an energy-savings policy whose guarantee is above the true savings; and
 * the M&V definition of the main meter (baseline 2024, reporting 2025).
 */
import { meterKey, type ReadingStore, type StoredReading } from '@wattproof/core';
import type { FinanceRegistry } from '@wattproof/analytics';
import { chongqingTypicalYear, createBuildingModel, type BuildingSpec } from '@wattproof/simulators';

export const H = 3_600_000;
export const at = (date: string) => Date.parse(`${date}T00:00:00+08:00`);

export const MAIN = { site: 'sim', building: 'hospital', meter: 'main' } as const;
export const WEATHER = { site: 'sim', building: 'weather', meter: 'station' } as const;
export const BUILDING = { site: 'sim', building: 'hospital' } as const;
export const FLOOR_AREA_M2 = 20_000;
export const LOAN_ID = 'slb-hospital';
export const POLICY_ID = 'esi-hospital';

export const DEFINITION = {
  meter: MAIN,
  temperatureMeter: WEATHER,
  model: 'caltrack-daily',
  baseline: { start: '2024-01-02', end: '2025-01-01' },
  reporting: { start: '2025-01-01', end: '2026-01-01' },
} as const;

export interface SimulatedTruth {
  /** True avoided energy in 2025 (counterfactual − actual), kWh. */
  readonly avoidedKwh: number;
  readonly fraction: number;
  /** Actual use of the main meter in 2025, kWh. */
  readonly used2025Kwh: number;
  readonly used2024Kwh: number;
  readonly readings: StoredReading[];
}

/** The hospital's hourly main-meter readings and station temperatures, 2024–2025, and the truth. */
export function simulateHospital(): SimulatedTruth {
  const weather = chongqingTypicalYear();
  const spec: BuildingSpec = { id: 'sim-hospital', archetype: 'hospital', floorAreaM2: FLOOR_AREA_M2, seed: 505, retrofits: [{ id: 'r1', description: 'whole-building programme, −10 %', from: '2025-01-01', target: 'total', saving: 0.1 }] };
  const model = createBuildingModel(spec, weather);
  const readings: StoredReading[] = [];
  let avoided = 0;
  let cf = 0;
  let used2025 = 0;
  let used2024 = 0;
  for (let t = at('2024-01-01'); t < at('2026-01-01'); t += H) {
    const h = model.hour(t);
    if (t >= at('2025-01-01')) {
      avoided += h.counterfactualMain - h.main;
      cf += h.counterfactualMain;
      used2025 += h.main;
    } else used2024 += h.main;
    readings.push({ ...MAIN, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, value: h.main, intervalS: 3600 });
    readings.push({ ...WEATHER, quantity: 'outdoor_temperature', kind: 'instant', unit: '°C', ts: t, value: weather.at(t).temperatureC });
  }
  return { avoidedKwh: avoided, fraction: avoided / cf, used2025Kwh: used2025, used2024Kwh: used2024, readings };
}

let cached: SimulatedTruth | undefined;
export const hospital = () => (cached ??= simulateHospital());

/** The loan's covenants, thresholds set from the truth so that each must pass or must fail. */
export function loanInput(truth: SimulatedTruth) {
  const eui = truth.used2025Kwh / FLOOR_AREA_M2;
  const annual = (firstTestDate: string) => ({ frequency: 'annual', firstTestDate, measurementWindowMonths: 12 });
  return {
    id: LOAN_ID,
    borrower: 'hospital-co',
    lender: 'green-bank',
    kind: 'sustainability_linked_loan',
    assetClass: 'commercial_real_estate',
    currency: 'CNY',
    buildings: [BUILDING],
    originationDate: '2024-12-15',
    maturityDate: '2031-12-15',
    propertyValueAtOriginationCny: 400_000_000,
    baseMarginBp: -10,
    covenants: [
      { id: 'savings-5pct', kpi: 'savings_fraction', scope: MAIN, operator: '>=', threshold: 0.05, schedule: annual('2026-01-01'), ratchet: { bpOnPass: -5, bpOnFail: 5 } },
      { id: 'savings-20pct', kpi: 'savings_fraction', scope: MAIN, operator: '>=', threshold: 0.2, schedule: annual('2026-01-01'), ratchet: { bpOnPass: -5, bpOnFail: 5 } },
      { id: 'eui-cap', kpi: 'eui_kwh_per_m2', scope: BUILDING, operator: '<=', threshold: Math.round(eui * 1.05), schedule: annual('2026-01-01') },
      { id: 'eui-tight', kpi: 'eui_kwh_per_m2', scope: MAIN, operator: '<=', threshold: Math.round(eui * 0.8), schedule: annual('2026-01-01') },
      { id: 'carbon-cap', kpi: 'carbon_intensity_kgco2e_per_m2', scope: MAIN, operator: '<=', threshold: Math.round(eui * 0.7), schedule: annual('2026-01-01') },
      { id: 'coverage-95', kpi: 'data_coverage_fraction', scope: MAIN, operator: '>=', threshold: 0.95, schedule: { frequency: 'quarterly', firstTestDate: '2025-04-01', measurementWindowMonths: 3 } },
      { id: 'label-2-star', kpi: 'label_maintained', scope: BUILDING, operator: '>=', threshold: 2, schedule: annual('2026-01-01') },
    ],
  };
}

/** Guarantee 130 % of the true savings: a known shortfall. */
export function policyInput(truth: SimulatedTruth) {
  return {
    id: POLICY_ID,
    insurer: 'perf-insurer',
    insured: 'hospital-co',
    buildings: [BUILDING],
    meters: [MAIN],
    periods: [
      { id: 'y2025', from: '2025-01-01', to: '2026-01-01', guaranteedSavingsKwh: Math.round(truth.avoidedKwh * 1.3) },
      { id: 'y2026', from: '2026-01-01', to: '2027-01-01', guaranteedSavingsKwh: Math.round(truth.avoidedKwh * 1.3) },
    ],
    contractPriceCnyPerKwh: 0.8,
    deductibleCny: 10_000,
    limitCny: 5_000_000,
    premiumCny: 60_000,
    effectiveFrom: '2025-01-01',
    effectiveTo: '2027-01-01',
  };
}

/** Writes the readings, the meters and the finance registry; `recordedAtMs` is the registry's clock now. */
export async function seed(readings: ReadingStore, registry: FinanceRegistry, truth: SimulatedTruth, recordedAtMs: number): Promise<void> {
  await registry.upsertSite({ id: 'sim', name: 'Simulated site', timezone: 'Asia/Shanghai', latitude: 29.56, longitude: 106.57 });
  await registry.upsertMeter({ ...MAIN, quantity: 'electricity' });
  await registry.upsertMeter({ ...WEATHER, quantity: 'outdoor_temperature' });
  for (let i = 0; i < truth.readings.length; i += 5000) await readings.write(truth.readings.slice(i, i + 5000));
  const o = { recordedAtMs, source: 'test fixture' };
  await registry.putParty({ id: 'green-bank', name: 'Green Bank', roles: ['bank'] }, o);
  await registry.putParty({ id: 'hospital-co', name: 'Hospital Co', roles: ['owner', 'operator'] }, o);
  await registry.putParty({ id: 'perf-insurer', name: 'Performance Insurer', roles: ['insurer'] }, o);
  await registry.putBuildingProfile(
    {
      ...BUILDING,
      effectiveFrom: '2024-01-01',
      type: 'other',
      floorAreaM2: FLOOR_AREA_M2,
      ownerParty: 'hospital-co',
      label: { scheme: 'GB/T 50378-2019', level: '2-star', kind: 'operation', validFrom: '2025-06-01', validTo: '2028-06-01' },
    },
    o,
  );
  await registry.putLoan(loanInput(truth) as never, o);
  await registry.putLoanBalance({ loanId: LOAN_ID, effectiveFrom: '2024-12-15', outstandingCny: 120_000_000 }, o);
  await registry.putPolicy(policyInput(truth) as never, o);
}

export { meterKey };
