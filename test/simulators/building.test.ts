import { describe, expect, it } from 'vitest';
import { createBuildingModel, humidityRatioGkg, validateBuildingSpec } from '../../simulators/src/building.js';
import { localMidnightMs } from '../../simulators/src/calendar.js';
import { END_USES, type BuildingSpec, type HourLoads } from '../../simulators/src/types.js';
import { chongqingTypicalYear, syntheticWeather } from '../../simulators/src/weather.js';

const HOUR = 3_600_000;
const weather = chongqingTypicalYear();
const base: BuildingSpec = { id: 'b1', archetype: 'office_b', floorAreaM2: 40_000, seed: 11 };
const at = (date: string, hour = 0) => localMidnightMs(date) + hour * HOUR;

function hours(from: string, to: string): number[] {
  const out: number[] = [];
  for (let t = localMidnightMs(from); t < localMidnightMs(to); t += HOUR) out.push(t);
  return out;
}

describe('building model', () => {
  it('sub-meters add up to the main meter exactly, and HVAC parts to HVAC (GB 55015)', () => {
    for (const archetype of ['office_b', 'hotel', 'data_centre', 'school'] as const) {
      const m = createBuildingModel({ ...base, archetype, retrofits: [{ id: 'r', description: 'LED', from: '2025-03-01', target: 'lighting_sockets', saving: 0.3 }] }, weather);
      const problems: string[] = [];
      for (const t of hours('2025-01-01', '2026-01-01')) {
        const l = m.hour(t);
        let sum = 0;
        let cf = 0;
        for (const e of END_USES) {
          sum += l.endUses[e];
          cf += l.counterfactualEndUses![e];
          if (!(l.endUses[e] >= 0)) problems.push(`${archetype} ${t} ${e} negative`);
        }
        if (l.main !== sum) problems.push(`${archetype} ${t}: main ${l.main} ≠ Σ ${sum}`);
        if (l.counterfactualMain !== cf) problems.push(`${archetype} ${t}: counterfactual ${l.counterfactualMain} ≠ Σ ${cf}`);
        if (l.endUses.hvac !== l.hvacParts!.cooling + l.hvacParts!.heating + l.hvacParts!.fans) problems.push(`${archetype} ${t}: hvac parts`);
      }
      expect(problems).toEqual([]);
    }
  });

  it('a retrofit cuts exactly its target from its date and nothing before; the counterfactual ignores it', () => {
    const plain = createBuildingModel(base, weather);
    const chiller = createBuildingModel({ ...base, retrofits: [{ id: 'chiller', description: 'chiller replacement', from: '2025-06-01', target: 'cooling', saving: 0.18 }] }, weather);
    for (const t of hours('2025-05-01', '2025-06-01')) expect(chiller.hour(t)).toEqual(plain.hour(t));
    let saved = 0;
    let cooling = 0;
    for (const t of hours('2025-06-01', '2025-09-01')) {
      const p = plain.hour(t);
      const c = chiller.hour(t);
      expect(c.hvacParts!.cooling).toBeCloseTo(p.hvacParts!.cooling * 0.82, 9);
      expect(c.hvacParts!.heating).toBe(p.hvacParts!.heating);
      expect(c.hvacParts!.fans).toBe(p.hvacParts!.fans);
      expect(c.endUses.lighting_sockets).toBe(p.endUses.lighting_sockets);
      expect(c.endUses.power).toBe(p.endUses.power);
      expect(c.endUses.special).toBe(p.endUses.special);
      expect(c.counterfactualMain).toBe(p.main);
      expect(c.counterfactualEndUses).toEqual(p.endUses);
      expect(c.pv).toBe(p.pv);
      saved += c.counterfactualMain - c.main;
      cooling += p.hvacParts!.cooling;
    }
    expect(cooling).toBeGreaterThan(0);
    expect(saved).toBeCloseTo(0.18 * cooling, 6);
  });

  it('applies a retrofit from local midnight of its date', () => {
    const plain = createBuildingModel(base, weather);
    const led = createBuildingModel({ ...base, retrofits: [{ id: 'led', description: 'LED', from: '2025-06-01', target: 'lighting_sockets', saving: 0.4 }] }, weather);
    const before = at('2025-06-01') - HOUR; // 2025-05-31 23:00 local
    expect(led.hour(before)).toEqual(plain.hour(before));
    const first = led.hour(at('2025-06-01'));
    expect(first.endUses.lighting_sockets).toBeCloseTo(0.6 * plain.hour(at('2025-06-01')).endUses.lighting_sockets, 12);
    expect(first.endUses.lighting_sockets).toBeGreaterThan(0);
  });

  it('separates heating and whole-HVAC retrofits from cooling', () => {
    const plain = createBuildingModel(base, weather);
    const hp = createBuildingModel({ ...base, retrofits: [{ id: 'hp', description: 'heat pump', from: '2025-01-01', target: 'heating', saving: 0.25 }] }, weather);
    const bms = createBuildingModel({ ...base, retrofits: [{ id: 'bms', description: 'BMS tuning', from: '2025-01-01', target: 'hvac', saving: 0.1 }] }, weather);
    const all = createBuildingModel({ ...base, retrofits: [{ id: 'all', description: 'everything', from: '2025-01-01', target: 'total', saving: 0.05 }] }, weather);
    for (const t of [at('2025-01-15', 10), at('2025-07-23', 15)]) {
      const p = plain.hour(t);
      expect(hp.hour(t).hvacParts!.heating).toBeCloseTo(0.75 * p.hvacParts!.heating, 12);
      expect(hp.hour(t).hvacParts!.cooling).toBe(p.hvacParts!.cooling);
      expect(bms.hour(t).endUses.hvac).toBeCloseTo(0.9 * p.endUses.hvac, 9);
      expect(bms.hour(t).endUses.lighting_sockets).toBe(p.endUses.lighting_sockets);
      expect(all.hour(t).main).toBeCloseTo(0.95 * p.main, 9);
    }
    expect(plain.hour(at('2025-01-15', 10)).hvacParts!.heating).toBeGreaterThan(0);
  });

  it('non-routine events and drift shift both the counterfactual and the actual', () => {
    const retrofit = { id: 'chiller', description: 'chiller', from: '2025-01-01', target: 'cooling', saving: 0.18 } as const;
    const plain = createBuildingModel({ ...base, retrofits: [retrofit] }, weather);
    const bigger = createBuildingModel({ ...base, retrofits: [retrofit], events: [{ id: 'wing', description: 'new wing', from: '2025-07-01', kind: 'floor_area', change: 0.1 }] }, weather);
    const june = at('2025-06-30', 14);
    const july = at('2025-07-01', 14);
    expect(bigger.hour(june)).toEqual(plain.hour(june));
    expect(bigger.hour(july).main).toBeCloseTo(1.1 * plain.hour(july).main, 9);
    expect(bigger.hour(july).counterfactualMain).toBeCloseTo(1.1 * plain.hour(july).counterfactualMain, 9);

    const busier = createBuildingModel({ ...base, events: [{ id: 'shift', description: 'extra shift', from: '2025-01-01', kind: 'occupancy', change: 0.2 }] }, weather);
    const p0 = createBuildingModel(base, weather);
    const day = at('2025-04-16', 10);
    const night = at('2025-04-16', 3);
    expect(busier.hour(day).endUses.lighting_sockets / p0.hour(day).endUses.lighting_sockets).toBeGreaterThan(1.1);
    expect(busier.hour(night).endUses.lighting_sockets / p0.hour(night).endUses.lighting_sockets).toBeLessThan(1.05);

    const tenant = createBuildingModel({ ...base, events: [{ id: 'tenant', description: 'IT-heavy tenant', from: '2025-01-01', kind: 'tenant_change', change: 0.3 }] }, weather);
    expect(tenant.hour(day).endUses.lighting_sockets).toBeCloseTo(1.3 * p0.hour(day).endUses.lighting_sockets, 9);
    expect(tenant.hour(day).endUses.power).toBe(p0.hour(day).endUses.power);

    const origin = at('2025-01-01');
    const drifting = createBuildingModel({ ...base, retrofits: [retrofit], driftPerYear: 0.02 }, weather, { origin });
    const still = createBuildingModel({ ...base, retrofits: [retrofit] }, weather, { origin });
    expect(drifting.hour(origin - 24 * HOUR)).toEqual(still.hour(origin - 24 * HOUR));
    const later = origin + 8766 * HOUR; // about a year after the origin
    const factor = 1 + (0.02 * 8766) / (365.2425 * 24);
    expect(drifting.hour(later).main).toBeCloseTo(factor * still.hour(later).main, 9);
    expect(drifting.hour(later).counterfactualMain).toBeCloseTo(factor * still.hour(later).counterfactualMain, 9);
    expect(drifting.hour(later).counterfactualMain - drifting.hour(later).main).toBeCloseTo(factor * (still.hour(later).counterfactualMain - still.hour(later).main), 9);
  });

  it('is deterministic with a seed, in any order, and differs between seeds', () => {
    const ts = [at('2025-07-01', 14), at('2024-02-10', 3), at('2026-11-30', 9), at('2025-07-01', 15)];
    const a = createBuildingModel(base, weather);
    const b = createBuildingModel(base, weather);
    const forward = ts.map((t) => a.hour(t));
    const backward = [...ts].reverse().map((t) => b.hour(t)).reverse();
    expect(backward).toEqual(forward);
    const other = createBuildingModel({ ...base, seed: 12 }, weather);
    expect(other.hour(ts[0]!).main).not.toBe(forward[0]!.main);
    // Within the hour, any instant gives the hour's loads.
    expect(a.hour(ts[0]! + 59 * 60_000)).toEqual(forward[0]);
    // Synthetic weather works as well and is equally deterministic.
    const s1 = createBuildingModel(base, syntheticWeather(5)).hour(ts[0]!);
    const s2 = createBuildingModel(base, syntheticWeather(5)).hour(ts[0]!);
    expect(s1).toEqual(s2);
  });

  it('generates PV from irradiance (kWp × GHI/1000 × PR), metered apart from the main meter', () => {
    const withPv = createBuildingModel({ ...base, pvKwp: 200 }, weather);
    const plain = createBuildingModel(base, weather);
    let pv = 0;
    let ghi = 0;
    for (const t of hours('2025-01-01', '2026-01-01')) {
      const l: HourLoads = withPv.hour(t);
      const g = weather.at(t).ghiWhM2;
      expect(l.pv).toBeCloseTo((200 * g * 0.8) / 1000, 12);
      expect(l.main).toBe(plain.hour(t).main);
      pv += l.pv;
      ghi += g;
    }
    expect(pv).toBeCloseTo((200 * 0.8 * ghi) / 1000, 6);
    // ~1,215 kWh/m² a year → ~970 kWh/kWp.
    expect(pv / 200).toBeGreaterThan(850);
    expect(pv / 200).toBeLessThan(1100);
    expect(withPv.hour(at('2025-06-21', 1)).pv).toBe(0);
    expect(createBuildingModel({ ...base, pvKwp: 200, pvPerformanceRatio: 0.7 }, weather).hour(at('2025-06-21', 12)).pv).toBeCloseTo((200 * weather.at(at('2025-06-21', 12)).ghiWhM2 * 0.7) / 1000, 12);
  });

  it('rejects unusable specs and other time zones', () => {
    expect(validateBuildingSpec(base)).toEqual([]);
    const bad = { ...base, floorAreaM2: 0, retrofits: [{ id: 'r', description: '', from: '2025-13-01', target: 'cooling', saving: 1.5 }] } as BuildingSpec;
    expect(validateBuildingSpec(bad)).toHaveLength(3);
    expect(() => createBuildingModel(bad, weather)).toThrow(expect.objectContaining({ code: 'SIM_SPEC_INVALID' }));
    expect(() => createBuildingModel({ ...base, archetype: 'castle' } as unknown as BuildingSpec, weather)).toThrow(expect.objectContaining({ code: 'SIM_SPEC_INVALID' }));
    expect(() => createBuildingModel(base, weather, { timeZone: 'Europe/Berlin' as 'Asia/Shanghai' })).toThrow(expect.objectContaining({ code: 'SIM_TIME_ZONE_UNSUPPORTED' }));
  });

  it('computes the humidity ratio used for latent loads', () => {
    // 30 °C, 70 % RH at ~97.7 kPa ≈ 19.5 g/kg; 10 °C, 50 % ≈ 3.9 g/kg.
    expect(humidityRatioGkg(30, 70)).toBeGreaterThan(18.5);
    expect(humidityRatioGkg(30, 70)).toBeLessThan(20.5);
    expect(humidityRatioGkg(10, 50)).toBeGreaterThan(3.5);
    expect(humidityRatioGkg(10, 50)).toBeLessThan(4.3);
  });
});
