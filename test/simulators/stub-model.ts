/**
 * A small deterministic building model and weather for the meter-layer tests, written against
 * simulators/src/types.ts only (the physical model lives in simulators/src/building.ts).
 */
import type { BuildingModelFactory, HourlyLoadModel } from '@wattproof/simulators';
import type { BuildingSpec, HourLoads, WeatherHour, WeatherSeries } from '../../simulators/src/types.js';

const HOUR_MS = 3_600_000;

/** Weather with a daily cycle: 20 ± 6 °C (warmest 15:00 UTC+8), humidity 60-85 %, sun 06-18 local. */
export function stubWeather(): WeatherSeries {
  return {
    id: 'stub',
    digest: 'stub',
    at(h: number): WeatherHour {
      const local = ((h / HOUR_MS + 8) % 24 + 24) % 24;
      const temperatureC = 20 + 6 * Math.cos((2 * Math.PI * (local - 15)) / 24);
      const sun = Math.max(0, Math.sin((Math.PI * (local - 6)) / 12));
      return { temperatureC, relativeHumidityPct: 72 - 12 * Math.cos((2 * Math.PI * (local - 15)) / 24), ghiWhM2: 700 * sun };
    },
  };
}

/** Loads: base + occupied-hours load per m², scaled by the spec's seed; PV from the weather. */
export const stubBuildingModel: BuildingModelFactory = (spec: BuildingSpec, weather: WeatherSeries): HourlyLoadModel => ({
  hour(h: number): HourLoads {
    const local = ((h / HOUR_MS + 8) % 24 + 24) % 24;
    const occupied = local >= 8 && local < 18 ? 1 : 0;
    const k = spec.floorAreaM2 / 10_000;
    const wiggle = 1 + 0.05 * Math.sin(h / HOUR_MS + (spec.seed % 97));
    const w = weather.at(h);
    const endUses = {
      lighting_sockets: k * (8 + 22 * occupied) * wiggle,
      hvac: k * (5 + 2.5 * Math.max(0, w.temperatureC - 18) * (0.4 + occupied)) * wiggle,
      power: k * (6 + 6 * occupied),
      special: k * 3,
    };
    const main = endUses.lighting_sockets + endUses.hvac + endUses.power + endUses.special;
    return { hourStartMs: h, endUses, main, pv: ((spec.pvKwp ?? 0) * w.ghiWhM2) / 1000 * 0.8, counterfactualMain: main };
  },
});
