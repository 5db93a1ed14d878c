/**
 * A small, deterministic building model for the minimal simulator: hourly electricity from a
 * base load, an occupancy schedule (weekdays 08-18 local) and cooling/heating driven by a
 * synthetic Chongqing-like outdoor temperature, plus seeded noise; gas for space and water
 * heating in winter. The full simulator (archetypes, weather files, ground truth) builds on this.
 */

/** Mulberry32: a tiny seeded PRNG, so a simulated building is the same on every run. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOUR_MS = 3_600_000;
const CST_OFFSET_MS = 8 * HOUR_MS;

/** Outdoor temperature (°C) at `ts`: annual cycle (mean 18.5, coldest mid-January), daily cycle peaking 15:00 local. */
export function outdoorTemperatureC(ts: number): number {
  const local = ts + CST_OFFSET_MS;
  const dayOfYear = (local / 86_400_000) % 365.2425;
  const hour = (local / HOUR_MS) % 24;
  const annual = 18.5 - 10.5 * Math.cos((2 * Math.PI * (dayOfYear - 15)) / 365.2425);
  const daily = 3.5 * Math.cos((2 * Math.PI * (hour - 15)) / 24);
  return annual + daily;
}

export interface BuildingProfile {
  readonly floorAreaM2: number;
  /** Base electric load, kW. */
  readonly baseKw: number;
  /** Extra electric load when occupied, kW. */
  readonly occupiedKw: number;
  /** Cooling electricity per degree above 24 °C, kW/K. */
  readonly coolingKwPerK: number;
  /** Gas for heating per degree below 15 °C, m3/h per K. */
  readonly heatingM3PerHK: number;
  /** Relative noise (standard deviation as a share of the load). */
  readonly noise: number;
}

export function buildingProfile(index: number): BuildingProfile {
  const rng = createRng(1000 + index);
  const area = Math.round(8000 + rng() * 40_000);
  return {
    floorAreaM2: area,
    baseKw: area * (0.004 + rng() * 0.003),
    occupiedKw: area * (0.01 + rng() * 0.008),
    coolingKwPerK: area * (0.0015 + rng() * 0.001),
    heatingM3PerHK: area * (0.00008 + rng() * 0.00005),
    noise: 0.04,
  };
}

function occupied(ts: number): boolean {
  const local = new Date(ts + CST_OFFSET_MS);
  const dow = local.getUTCDay();
  const h = local.getUTCHours();
  return dow >= 1 && dow <= 5 && h >= 8 && h < 18;
}

/** Average electric power (kW) over the interval starting at `ts`. */
export function electricKw(p: BuildingProfile, ts: number, rng: () => number): number {
  const t = outdoorTemperatureC(ts);
  const load = p.baseKw + (occupied(ts) ? p.occupiedKw : 0) + Math.max(0, t - 24) * p.coolingKwPerK * (occupied(ts) ? 1 : 0.3);
  return Math.max(0, load * (1 + p.noise * (rng() + rng() + rng() - 1.5) * 2));
}

/** Gas flow (m3/h) at `ts`. */
export function gasM3PerH(p: BuildingProfile, ts: number): number {
  const t = outdoorTemperatureC(ts);
  return Math.max(0, 15 - t) * p.heatingM3PerHK * (occupied(ts) ? 1 : 0.4) + p.floorAreaM2 * 0.00001;
}
