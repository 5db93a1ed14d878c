/**
 * M&V on live data through the API: readings in a store, an analysis run on demand, the result
 * persisted with lineage and its exact inputs, re-derived to identical numbers after the
 * readings were corrected, and the non-routine adjustment register applied.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { StoredReading } from '@wattproof/core';
import { createMvJobs } from '@wattproof/analytics';
import { createApiServer } from '@wattproof/dashboards';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createMemoryReadingStore } from '@wattproof/ingest';
import { createTestKey, keyedInject } from '../support/api-keys.js';

const H = 3_600_000;
const START = Date.parse('2025-01-01T00:00:00+08:00');
const SWITCH = Date.parse('2026-01-01T00:00:00+08:00');
const END = Date.parse('2026-07-01T00:00:00+08:00');
const meter = { site: 'yz', building: 'tower-a', meter: 'main' };
const thermo = { site: 'yz', building: 'tower-a', meter: 'outdoor' };

/** Chongqing-like temperature and a building with heating below 15 °C and cooling above 24 °C; 10 % less from 2026. */
function synthetic(): StoredReading[] {
  const out: StoredReading[] = [];
  let seed = 7;
  const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 4;
  for (let t = START; t < END; t += H) {
    const day = (t - START) / (24 * H);
    const temp = 18.5 - 10.5 * Math.cos((2 * Math.PI * (day - 15)) / 365) + 3 * Math.cos((2 * Math.PI * ((t / H + 8) % 24 - 15)) / 24);
    const base = 40 + 2.5 * Math.max(0, temp - 24) + 1.5 * Math.max(0, 15 - temp) + noise();
    out.push({ ...thermo, quantity: 'outdoor_temperature', kind: 'instant', unit: '°C', ts: t, value: Math.round(temp * 100) / 100 });
    out.push({ ...meter, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, intervalS: 3600, value: Math.round(base * (t >= SWITCH ? 0.9 : 1) * 1000) / 1000 });
  }
  return out;
}

const readings = createMemoryReadingStore();
const registry = createMemoryRegistryStore();
const jobs = createMvJobs({ readings, registry, clock: () => END + 86_400_000 });
let app: Awaited<ReturnType<typeof createApiServer>>;
/** app.inject with an admin key (running analyses and adding adjustments are admin writes). */
let inject: ReturnType<typeof keyedInject>;

const definition = {
  meter,
  temperatureMeter: thermo,
  model: 'caltrack-daily',
  fuel: 'electricity',
  baseline: { start: '2025-01-01', end: '2026-01-01' },
  reporting: { start: '2026-01-01', end: '2026-07-01' },
  timeZone: 'Asia/Shanghai',
  building: { floorAreaM2: 12_000, type: 'office_b' },
};

beforeAll(async () => {
  await readings.init();
  await registry.init();
  await registry.upsertSite({ id: 'yz', timezone: 'Asia/Shanghai', latitude: 29.557, longitude: 106.577 });
  await registry.upsertSite({ id: 'far-station', timezone: 'Asia/Shanghai', latitude: 31.23, longitude: 121.47 });
  await registry.upsertMeter(meter);
  await readings.write(synthetic());
  app = await createApiServer({ readings, registry, metrics: new Registry(), jobs });
  inject = keyedInject(app, await createTestKey(registry));
});

describe('M&V jobs on live data', () => {
  let resultId = '';

  it('runs an analysis from the stores and persists it with lineage', async () => {
    const res = await inject({ method: 'POST', url: '/api/v1/mv/analyses', payload: definition });
    expect(res.statusCode, res.body).toBe(201);
    const rec = res.json() as { id: string; body: { result: { status: string; model: { type: string; heatingBalancePoint: number | null; coolingBalancePoint: number | null }; savings: { fraction: number; monthly: unknown[]; uncertainty: Array<{ confidence: number; absolute: number }> }; carbon: { factorId: string; avoidedTco2: number }; eui: { quota: { buildingType: string } }; lineage: { digest: string; inputs: Record<string, string>; referenceData: Array<{ id: string }> } } } };
    resultId = rec.id;
    const r = rec.body.result;
    expect(r.status).toBe('verified');
    expect(r.model.type).toBe('hdd_cdd');
    // The injected saving is 10 %; the model must find it within its own 90 % band.
    expect(Math.abs(r.savings.fraction - 0.1)).toBeLessThan(0.02);
    expect(r.savings.monthly).toHaveLength(6);
    expect(r.savings.uncertainty.map((u) => u.confidence)).toEqual([0.68, 0.9, 0.95]);
    expect(r.carbon.factorId).toBe('cn-national-2022-average');
    expect(r.carbon.avoidedTco2).toBeGreaterThan(0);
    expect(r.eui.quota.buildingType).toBe('office_b');
    expect(r.lineage.inputs.series).toMatch(/^[0-9a-f]{64}$/);
    expect(r.lineage.referenceData.map((x) => x.id)).toEqual(['ashrae-g14-acceptance', 'grid-emission-factors', 'gbt-51161-2016-hscw']);
  });

  it('normalizes the savings on the Chongqing typical year', async () => {
    const latest = (await jobs.latest(meter))!.body.result;
    expect(latest.savings.normalized?.typicalYear).toBe('chongqing-tmyx-2009-2023');
    expect(latest.savings.normalized!.fraction!).toBeGreaterThan(0.07);
    expect(latest.savings.normalized!.fraction!).toBeLessThan(0.13);
    expect(latest.lineage.inputs.typicalYear).toMatch(/^[0-9a-f]{64}$/);
  });

  it('serves the building\'s latest result per meter', async () => {
    const res = await inject({ url: '/api/v1/buildings/yz/tower-a/mv' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { meters: Array<{ meter: string; result: { id: string } | null }> };
    expect(body.meters.find((m) => m.meter === 'main')?.result?.id).toBe(resultId);
    expect((await inject({ url: '/api/v1/buildings/yz/nowhere/mv' })).statusCode).toBe(404);
  });

  it('serves the latest result and the list of results', async () => {
    const latest = await inject({ url: '/api/v1/meters/yz/tower-a/main/mv' });
    expect(latest.statusCode).toBe(200);
    expect((latest.json() as { id: string }).id).toBe(resultId);
    const list = await inject({ url: '/api/v1/meters/yz/tower-a/main/mv/results' });
    expect((list.json() as { results: unknown[] }).results).toHaveLength(1);
    const none = await inject({ url: '/api/v1/meters/yz/tower-a/other/mv' });
    expect(none.statusCode).toBe(404);
  });

  it('re-derives a past result exactly even after the readings were corrected', async () => {
    // A later correction of the data: the past result must not change.
    await readings.write([{ ...meter, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: SWITCH + 100 * H, intervalS: 3600, value: 999 }]);
    const res = await inject({ method: 'POST', url: `/api/v1/mv/results/${resultId}/rederive` });
    expect(res.statusCode).toBe(200);
    expect((res.json() as { identical: boolean }).identical).toBe(true);
    // A new run sees the corrected data and differs.
    const again = await inject({ method: 'POST', url: '/api/v1/mv/analyses', payload: definition });
    const before = (await jobs.rederive(resultId))!.original;
    expect((again.json() as { body: { result: { savings: { avoided: number } } } }).body.result.savings.avoided).not.toBe(before.savings.avoided);
  });

  it('keeps an append-only adjustment register and shows savings with and without it', async () => {
    const bad = await inject({ method: 'POST', url: '/api/v1/meters/yz/tower-a/main/mv/adjustments', payload: { event: 'x' } });
    expect(bad.statusCode).toBe(400);
    expect((bad.json() as { error: { code: string } }).error.code).toBe('API_REQUEST_INVALID');
    const add = await inject({
      method: 'POST',
      url: '/api/v1/meters/yz/tower-a/main/mv/adjustments',
      payload: { event: 'server room added', start: '2026-03-01', end: '2026-07-01', method: 'per_day', amount: 50, evidence: 'work order 42', approver: 'verifier Li' },
    });
    expect(add.statusCode).toBe(201);
    const run = await inject({ method: 'POST', url: '/api/v1/mv/analyses', payload: definition });
    const s = (run.json() as { body: { result: { savings: { avoided: number; adjusted: { adjustment: number; avoided: number; applied: string[] } } } } }).body.result.savings;
    // 122 days from March to June at 50 kWh/day.
    expect(s.adjusted.adjustment).toBeCloseTo(122 * 50, 6);
    expect(s.adjusted.avoided).toBeCloseTo(s.avoided + 122 * 50, 6);
    expect(s.adjusted.applied).toEqual([(add.json() as { id: string }).id]);
  });

  it('warns when the weather station is more than 200 km away', async () => {
    await readings.write(synthetic().filter((r) => r.quantity === 'outdoor_temperature').map((r) => ({ ...r, site: 'far-station', building: 'wx', meter: 't' })));
    const rec = await jobs.run({ ...definition, temperatureMeter: { site: 'far-station', building: 'wx', meter: 't' } });
    const w = rec.body.result.warnings.find((x) => x.code === 'mv.sufficiency.weather_station_far');
    expect(w?.data?.distanceKm).toBeGreaterThan(1400); // Chongqing to Shanghai
    expect((await jobs.rederive(rec.id))!.identical).toBe(true);
    // The thermometer on the building's own site is 0 km away: no warning.
    const near = await jobs.run(definition);
    expect(near.body.result.warnings.some((x) => x.code === 'mv.sufficiency.weather_station_far')).toBe(false);
  });

  it('rejects an invalid definition with the field named', async () => {
    const res = await inject({ method: 'POST', url: '/api/v1/mv/analyses', payload: { ...definition, baseline: { start: '2025-13-01', end: 'x' } } });
    expect(res.statusCode).toBe(400);
    expect((res.json() as { error: { message: string } }).error.message).toContain('baseline');
  });
});
