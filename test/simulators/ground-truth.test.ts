import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBuildingModel } from '../../simulators/src/building.js';
import { localMidnightMs } from '../../simulators/src/calendar.js';
import { GROUND_TRUTH_CSV_HEADER, GROUND_TRUTH_GENERATOR, groundTruth, readGroundTruth, specsDigest, writeGroundTruth } from '../../simulators/src/ground-truth.js';
import { chongqingDemoPark, chongqingDemoParkTimeline } from '../../simulators/src/park.js';
import { chongqingTypicalYear } from '../../simulators/src/weather.js';

const HOUR = 3_600_000;
const weather = chongqingTypicalYear();
const now = Date.parse('2026-11-30T08:00:00+08:00');
const specs = chongqingDemoPark(now);
const timeline = chongqingDemoParkTimeline(now);
const truth = groundTruth(specs, weather, { from: timeline.baselineFrom, to: '2026-11-01', timeZone: 'Asia/Shanghai' });
const tmp = mkdtempSync(join(tmpdir(), 'wattproof-truth-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('ground truth', () => {
  it('covers every building and local month of the period', () => {
    expect(timeline).toMatchObject({ baselineFrom: '2024-09-01', retrofitFrom: '2025-09-01' });
    expect(truth.buildings.map((b) => b.building)).toEqual(specs.map((s) => s.id));
    for (const b of truth.buildings) {
      expect(b.months).toHaveLength(26); // 2024-09 … 2026-10
      expect(b.months[0]!.month).toBe('2024-09');
      expect(b.months.at(-1)!.month).toBe('2026-10');
      expect(b.months[0]!.hours).toBe(30 * 24);
      expect(b.totals.hours).toBe((localMidnightMs('2026-11-01') - localMidnightMs('2024-09-01')) / HOUR);
    }
  });

  it('equals the sum of the hourly loads, month by month', () => {
    for (const spec of specs) {
      const model = createBuildingModel(spec, weather);
      const b = truth.buildings.find((x) => x.building === spec.id)!;
      for (const m of b.months) {
        let cf = 0;
        let actual = 0;
        let pv = 0;
        let n = 0;
        for (let t = localMidnightMs(`${m.month}-01`); t < localMidnightMs(nextMonth(m.month)); t += HOUR) {
          const l = model.hour(t);
          cf += l.counterfactualMain;
          actual += l.main;
          pv += l.pv;
          n++;
        }
        expect(m.hours).toBe(n);
        expect(m.counterfactualKwh).toBe(cf);
        expect(m.actualKwh).toBe(actual);
        expect(m.pvKwh).toBe(pv);
        expect(m.savingsKwh).toBe(cf - actual);
      }
      const sum = (k: 'counterfactualKwh' | 'actualKwh' | 'savingsKwh' | 'pvKwh') => b.months.reduce((s, m) => s + m[k], 0);
      expect(b.totals.counterfactualKwh).toBeCloseTo(sum('counterfactualKwh'), 6);
      expect(b.totals.actualKwh).toBeCloseTo(sum('actualKwh'), 6);
      expect(b.totals.savingsKwh).toBeCloseTo(sum('savingsKwh'), 6);
      expect(b.totals.pvKwh).toBeCloseTo(sum('pvKwh'), 6);
    }
  });

  it('shows the retrofit saving from its month only, and the events in force', () => {
    const office = truth.buildings.find((b) => b.building === 'yz-office-b')!;
    for (const m of office.months) {
      if (m.month < '2025-09') {
        expect(m.savingsKwh, m.month).toBe(0);
        expect(m.retrofits).toEqual([]);
      } else {
        expect(m.retrofits).toEqual(['yz-office-b-chiller-2']);
        // The chiller saves only when it cools: nothing in the coldest months, most in summer.
        expect(m.savingsKwh, m.month).toBeGreaterThanOrEqual(0);
        if (m.month.slice(5) >= '05' && m.month.slice(5) <= '10') expect(m.savingsKwh, m.month).toBeGreaterThan(0);
      }
    }
    // Cooling dominates: summer savings exceed winter savings.
    const month = (k: string) => office.months.find((m) => m.month === k)!;
    expect(month('2026-07').savingsKwh).toBeGreaterThan(5 * month('2026-01').savingsKwh);
    expect(office.totals.savingsKwh / office.totals.counterfactualKwh).toBeGreaterThan(0.02);
    expect(office.totals.savingsKwh / office.totals.counterfactualKwh).toBeLessThan(0.1);

    const mall = truth.buildings.find((b) => b.building === 'yz-mall')!;
    for (const m of mall.months) {
      expect(m.savingsKwh).toBe(0);
      expect(m.events).toEqual(m.month >= '2026-06' ? ['yz-mall-extension'] : []);
    }
    const school = truth.buildings.find((b) => b.building === 'yz-school')!;
    expect(school.totals.pvKwh).toBeGreaterThan(0);
    expect(truth.buildings.find((b) => b.building === 'yz-hotel')!.totals.pvKwh).toBe(0);
  });

  it('carries its lineage', () => {
    expect(truth.generator).toEqual(GROUND_TRUTH_GENERATOR);
    expect(truth.weather).toEqual({ id: 'chongqing-tmyx-2009-2023', digest: weather.digest });
    expect(truth.specsDigest).toBe(specsDigest(specs));
    expect(truth.specsDigest).toMatch(/^[0-9a-f]{64}$/);
    // Key order does not matter; content does.
    const reordered = specs.map((s) => Object.fromEntries(Object.entries(s).reverse())) as typeof specs;
    expect(specsDigest(reordered)).toBe(truth.specsDigest);
    expect(specsDigest([{ ...specs[0]!, seed: 1 }, ...specs.slice(1)])).not.toBe(truth.specsDigest);
    expect(truth.from).toBe('2024-08-31T16:00:00.000Z');
    expect(truth.to).toBe('2026-10-31T16:00:00.000Z');
    expect(truth.timeZone).toBe('Asia/Shanghai');
  });

  it('writes ground-truth.json and ground-truth.csv that read back equal', () => {
    const paths = writeGroundTruth(join(tmp, 'out'), truth);
    expect(readGroundTruth(join(tmp, 'out'))).toEqual(truth);
    expect(JSON.parse(readFileSync(paths.json, 'utf8'))).toEqual(truth);
    const lines = readFileSync(paths.csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(GROUND_TRUTH_CSV_HEADER);
    const rows = lines.slice(1).map((l) => l.split(','));
    const expected = truth.buildings.flatMap((b) => b.months.map((m) => [b.building, m.month, m.counterfactualKwh, m.actualKwh, m.savingsKwh]));
    expect(rows.map(([b, m, c, a, s]) => [b, m, Number(c), Number(a), Number(s)])).toEqual(expected);
  });

  it('accepts epoch ms and partial months, and is deterministic', () => {
    const from = Date.parse('2026-01-15T10:30:00+08:00');
    const to = Date.parse('2026-02-10T00:00:00+08:00');
    const a = groundTruth(specs.slice(0, 1), weather, { from, to });
    const b = groundTruth(specs.slice(0, 1), weather, { from, to });
    expect(a).toEqual(b);
    expect(a.buildings[0]!.months.map((m) => [m.month, m.hours])).toEqual([['2026-01', 16 * 24 + 13], ['2026-02', 9 * 24]]);
    expect(() => groundTruth(specs, weather, { from: to, to: from })).toThrow(expect.objectContaining({ code: 'SIM_SPEC_INVALID' }));
    expect(() => groundTruth(specs, weather, { from: '2026-01-15T10:30:00', to })).toThrow(expect.objectContaining({ code: 'SIM_SPEC_INVALID' }));
    expect(groundTruth(specs.slice(0, 1), weather, { from: '2026-01-15T10:30:00+08:00', to })).toEqual(a);
    expect(() => groundTruth(specs, weather, { from, to, timeZone: 'UTC' as 'Asia/Shanghai' })).toThrow(expect.objectContaining({ code: 'SIM_TIME_ZONE_UNSUPPORTED' }));
  });
});

function nextMonth(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
}
