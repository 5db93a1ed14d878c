/**
 * Operator alerts on memory stores: each rule raises on a crafted situation with the evidence
 * that shows it, stays quiet on the normal one, resolves when the condition clears, is one alert
 * across runs, and its state survives a new engine on the same registry. above_baseline runs on a
 * real CalTRACK hourly model fitted by the M&V jobs on the OpenEEmeter sample meter.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { configWith, type NewDeadLetter, type ReadingStore, type RegistryStore, type StoredReading } from '@wattproof/core';
import { alertsConfigSchema, createAlertEngine, createMvJobs, fitCaltrackHourly, predictCaltrackHourly, type AlertEngine, type AlertsConfigInput, type HourlyRow } from '@wattproof/analytics';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createMemoryReadingStore } from '@wattproof/ingest';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

interface World {
  readings: ReadingStore;
  registry: RegistryStore;
  now: number;
  engine(config?: Partial<AlertsConfigInput>): AlertEngine;
}

async function world(now: number): Promise<World> {
  const readings = createMemoryReadingStore();
  const registry = createMemoryRegistryStore();
  await readings.init();
  await registry.init();
  const w: World = {
    readings,
    registry,
    now,
    engine: (config = {}) => createAlertEngine({ readings, registry, clock: () => w.now }, configWith(alertsConfigSchema, { ALERT_EVALUATE_INTERVAL_S: 0, ...config })),
  };
  return w;
}

const elec = (ref: { site: string; building: string; meter: string }, ts: number, value: number, intervalS = 900): StoredReading => ({ ...ref, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts, value, intervalS });
const temp = (ref: { site: string; building: string; meter: string }, ts: number, value: number): StoredReading => ({ ...ref, quantity: 'outdoor_temperature', kind: 'instant', unit: '°C', ts, value });

async function eventsOf(registry: RegistryStore, id?: string) {
  return registry.listRecords({ kind: 'alert.event', limit: 1000, ...(id ? { key: id } : {}) });
}

describe('meter_silent', () => {
  const NOW = Date.parse('2026-11-15T12:00:00+08:00');
  const m = { site: 'yz', building: 'b01', meter: 'elec' };
  const t = { site: 'yz', building: 'b01', meter: 'temp' };
  let w: World;

  beforeAll(async () => {
    w = await world(NOW);
    await w.registry.upsertSite({ id: 'yz', timezone: 'Asia/Shanghai' });
    await w.registry.upsertMeter(m);
    await w.registry.upsertMeter(t);
    await w.registry.upsertMeter({ site: 'yz', building: 'b01', meter: 'never' });
    const rs: StoredReading[] = [];
    // Last interval 11:30–11:45 local: 15 min old at noon. Temperature every 10 min up to 11:50.
    for (let ts = NOW - 2 * DAY; ts <= NOW - 30 * MIN; ts += 15 * MIN) rs.push(elec(m, ts, 2));
    for (let ts = NOW - 2 * DAY; ts <= NOW - 10 * MIN; ts += 10 * MIN) rs.push(temp(t, ts, 12));
    await w.readings.write(rs);
  });

  it('stays quiet while meters report and ignores a meter that never reported', async () => {
    const r = await w.engine().evaluate();
    expect(r.rules.meter_silent).toMatchObject({ judged: 2, firing: 0, skipped: { never_reported: 1 } });
    expect(r.raised.filter((a) => a.rule === 'meter_silent')).toEqual([]);
  });

  it('raises one alert per silent meter with its evidence, once across runs, and keeps it in a new engine', async () => {
    const engine = w.engine();
    w.now = NOW + 2 * HOUR;
    const r = await engine.evaluate();
    const raised = r.raised.filter((a) => a.rule === 'meter_silent');
    expect(raised.map((a) => a.id).sort()).toEqual(['meter_silent:yz:b01:elec', 'meter_silent:yz:b01:temp']);
    const e = raised.find((a) => a.meter === 'elec')!;
    expect(e).toMatchObject({ severity: 'warning', state: 'active', site: 'yz', building: 'b01', meter: 'elec', since: new Date(NOW + 2 * HOUR).toISOString() });
    expect(e.evidence).toMatchObject({
      lastReadingAt: new Date(NOW - 15 * MIN).toISOString(),
      silentForS: 2 * 3600 + 15 * 60,
      usualIntervalS: 900,
      usualIntervalSource: 'interval_s',
      intervals: 4,
      thresholdS: 3600,
    });
    expect(e.title).toContain('yz/b01/elec');
    expect(e.titleZh).toContain('电表');
    const tt = raised.find((a) => a.meter === 'temp')!;
    expect(tt.evidence).toMatchObject({ usualIntervalS: 600, usualIntervalSource: 'median_spacing', thresholdS: 2400, silentForS: 2 * 3600 + 10 * 60 });

    // A standing condition is the same alert, updated, with no new event.
    w.now = NOW + 3 * HOUR;
    const again = await engine.evaluate();
    expect(again.raised.filter((a) => a.rule === 'meter_silent')).toEqual([]);
    const listed = await engine.list({ rule: 'meter_silent' });
    expect(listed).toHaveLength(2);
    const same = listed.find((a) => a.meter === 'elec')!;
    expect(same.since).toBe(e.since);
    expect(same.lastEvaluated).toBe(new Date(NOW + 3 * HOUR).toISOString());
    expect(same.evidence.silentForS).toBe(3 * 3600 + 15 * 60);
    expect((await eventsOf(w.registry)).filter((r) => r.key.startsWith('meter_silent:'))).toHaveLength(2);

    // A new engine on the same registry (a restart) has the same state.
    const restarted = await w.engine().list({ rule: 'meter_silent', state: 'active' });
    expect(restarted.map((a) => [a.id, a.since])).toEqual(listed.map((a) => [a.id, a.since]));
  });

  it('turns critical after ALERT_SILENT_CRITICAL_H and records the change', async () => {
    const engine = w.engine({ ALERT_SILENT_CRITICAL_H: 24 });
    w.now = NOW + 25 * HOUR;
    const r = await engine.evaluate();
    expect(r.updated.map((a) => [a.id, a.severity]).sort()).toEqual([
      ['meter_silent:yz:b01:elec', 'critical'],
      ['meter_silent:yz:b01:temp', 'critical'],
    ]);
    const history = await engine.history('meter_silent:yz:b01:elec');
    expect(history.events.map((e) => e.type)).toEqual(['updated', 'raised']);
  });

  it('resolves when the meter reports again; a new engine sees it resolved', async () => {
    await w.readings.write([elec(m, NOW + 24 * HOUR + 30 * MIN, 2)]);
    const engine = w.engine();
    const r = await engine.evaluate();
    expect(r.resolved.map((a) => a.id)).toEqual(['meter_silent:yz:b01:elec']);
    const resolved = (await engine.get('meter_silent:yz:b01:elec'))!;
    expect(resolved).toMatchObject({ state: 'resolved', resolvedAt: new Date(w.now).toISOString() });
    const later = await w.engine().get('meter_silent:yz:b01:elec');
    expect(later?.state).toBe('resolved');
    expect((await w.engine().get('meter_silent:yz:b01:temp'))?.state).toBe('active');
    expect((await engine.history('meter_silent:yz:b01:elec')).events.map((e) => e.type)).toEqual(['resolved', 'updated', 'raised']);
  });
});

describe('above_baseline on a fitted CalTRACK hourly model (OpenEEmeter sample il-electricity-cdd-hdd)', () => {
  const FIXTURES = new URL('../fixtures/caltrack-samples/', import.meta.url);
  const meter = { site: 'il', building: 'house', meter: 'elec' };
  const wx = { site: 'il', building: 'house', meter: 'wx' };
  /** 2017-01-20 12:30 local (America/Chicago, −06:00): the last complete hour is 11:00–12:00. */
  const NOW = Date.parse('2017-01-20T12:30:00-06:00');
  const SURGE_FROM = Date.parse('2017-01-20T08:00:00-06:00');
  let w: World;
  let resultId = '';
  const tempF = new Map<number, number>();
  const usage = new Map<number, number>();

  function csv(file: string): string[][] {
    return readFileSync(new URL(file, FIXTURES), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  }
  const stamp = (s: string) => Date.parse(s.replace(' ', 'T'));

  beforeAll(async () => {
    w = await world(NOW);
    await w.registry.upsertSite({ id: 'il', timezone: 'America/Chicago' });
    await w.registry.upsertMeter({ ...meter, quantity: 'electricity' });
    const rs: StoredReading[] = [];
    for (const [s, f] of csv('il-tempF_hourly.csv')) {
      if (!f) continue;
      tempF.set(stamp(s!), Number(f));
      rs.push(temp(wx, stamp(s!), (Number(f) - 32) / 1.8));
    }
    for (const file of ['il-electricity-cdd-hdd_hourly_baseline.csv', 'il-electricity-cdd-hdd_hourly_reporting.csv']) {
      for (const [s, kwh] of csv(file)) {
        if (kwh === '' || kwh === undefined) continue;
        usage.set(stamp(s!), Number(kwh));
        // Only what had arrived by NOW.
        if (stamp(s!) < NOW - 30 * MIN) rs.push(elec(meter, stamp(s!), Number(kwh), 3600));
      }
    }
    await w.readings.write(rs);
    const jobs = createMvJobs({ readings: w.readings, registry: w.registry, clock: () => NOW });
    const rec = await jobs.run({
      meter,
      temperatureMeter: wx,
      model: 'caltrack-hourly',
      baseline: { start: '2015-12-27', end: '2016-12-26' },
      reporting: { start: '2017-01-04', end: '2017-01-20' },
      timeZone: 'America/Chicago',
      normalize: false,
    });
    resultId = rec.id;
    expect(rec.body.result.disqualifications).toEqual([]);
  }, 120_000);

  it('stays quiet on the normal reporting data', async () => {
    const r = await w.engine().evaluate();
    expect(r.rules.above_baseline).toMatchObject({ judged: 1, firing: 0 });
  });

  it('raises after 3 consecutive hours above the upper band, with the hours, actual, predicted and band', async () => {
    // A schedule left on: 6 kWh an hour from 08:00 (the sample's hours run 0–3 kWh).
    await w.readings.write([0, 1, 2, 3].map((k) => elec(meter, SURGE_FROM + k * HOUR, 6, 3600)));
    const engine = w.engine();
    const r = await engine.evaluate();
    const a = r.raised.find((x) => x.rule === 'above_baseline')!;
    expect(a).toBeDefined();
    expect(a.id).toBe('above_baseline:il:house:elec');
    const ev = a.evidence as { consecutive: number; required: number; rmse: number; t: number; confidence: number; model: { resultId: string; kind: string }; periods: Array<{ start: string; end: string; actual: number; predicted: number; upper: number }> };
    expect(ev.model).toMatchObject({ resultId, kind: 'caltrack-hourly' });
    expect(ev.required).toBe(3);
    expect(ev.confidence).toBe(0.95);
    expect(ev.periods.map((p) => p.start)).toEqual([0, 1, 2, 3].map((k) => new Date(SURGE_FROM + k * HOUR).toISOString()));
    expect(ev.consecutive).toBe(4);

    // The predictions are the baseline model's: refit it here on the CSV in °F (the fit is
    // invariant to the unit) and predict the same hours.
    const local = (ms: number) => {
      const d = new Date(ms - 6 * HOUR); // America/Chicago in winter: UTC−6
      return { month: d.getUTCMonth() + 1, hourOfWeek: ((d.getUTCDay() + 6) % 7) * 24 + d.getUTCHours() };
    };
    const localDst = (ms: number) => {
      const parts = new Intl.DateTimeFormat('en-US', { timeZone: 'America/Chicago', hourCycle: 'h23', month: 'numeric', weekday: 'short', hour: 'numeric' }).formatToParts(ms);
      const get = (t: string) => parts.find((p) => p.type === t)!.value;
      const wd = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(get('weekday'));
      return { month: Number(get('month')), hourOfWeek: wd * 24 + Number(get('hour')) };
    };
    const base: HourlyRow[] = [];
    for (let h = Date.parse('2015-12-27T00:00:00-06:00'); h < Date.parse('2016-12-26T00:00:00-06:00'); h += HOUR) {
      const u = usage.get(h);
      base.push({ start: h, usage: u === undefined || u === 0 ? null : u, temperature: tempF.get(h) ?? null, ...localDst(h) });
    }
    const model = fitCaltrackHourly(base, { temperatureUnit: 'F' });
    const rows: HourlyRow[] = [0, 1, 2, 3].map((k) => ({ start: SURGE_FROM + k * HOUR, usage: null, temperature: tempF.get(SURGE_FROM + k * HOUR)!, ...local(SURGE_FROM + k * HOUR) }));
    const expected = predictCaltrackHourly(model, rows);
    ev.periods.forEach((p, i) => {
      expect(p.actual).toBe(6);
      expect(p.predicted).toBeCloseTo(expected[i]!, 2);
      expect(p.upper - p.predicted).toBeCloseTo(ev.t * ev.rmse, 2);
      expect(p.actual).toBeGreaterThan(p.upper);
    });
    expect(ev.rmse).toBeCloseTo(model.fit.rmse, 3);
  });

  it('is one alert across runs and resolves when the use is back within the band', async () => {
    const engine = w.engine();
    expect((await engine.evaluate()).raised.filter((a) => a.rule === 'above_baseline')).toEqual([]);
    // 12:00 and 13:00 back to the sample's own values.
    const back = [Date.parse('2017-01-20T12:00:00-06:00'), Date.parse('2017-01-20T13:00:00-06:00')];
    await w.readings.write(back.map((ts) => elec(meter, ts, usage.get(ts)!, 3600)));
    w.now = Date.parse('2017-01-20T14:30:00-06:00');
    const r = await engine.evaluate();
    expect(r.resolved.map((a) => a.id)).toContain('above_baseline:il:house:elec');
    expect((await eventsOf(w.registry, 'above_baseline:il:house:elec')).map((e) => (e.body as { type: string }).type)).toEqual(['resolved', 'raised']);
  });
});

describe('above_baseline on a daily CalTRACK model (days, not hours)', () => {
  const meter = { site: 'yz', building: 'tower', meter: 'main' };
  const wx = { site: 'yz', building: 'tower', meter: 'wx' };
  const START = Date.parse('2025-01-01T00:00:00+08:00');
  /** 2026-06-20 10:00 local: the last complete local days are June 18 and 19. */
  const NOW = Date.parse('2026-06-20T10:00:00+08:00');
  const JUNE_18 = Date.parse('2026-06-18T00:00:00+08:00');
  let w: World;

  beforeAll(async () => {
    w = await world(NOW);
    await w.registry.upsertSite({ id: 'yz', timezone: 'Asia/Shanghai' });
    const rs: StoredReading[] = [];
    let seed = 11;
    const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 4;
    for (let t = START; t < NOW - HOUR; t += HOUR) {
      const day = (t - START) / DAY;
      const c = 18.5 - 10.5 * Math.cos((2 * Math.PI * (day - 15)) / 365) + 3 * Math.cos((2 * Math.PI * (((t / HOUR + 8) % 24) - 15)) / 24);
      rs.push(temp(wx, t, Math.round(c * 100) / 100));
      rs.push(elec(meter, t, Math.round((40 + 2.5 * Math.max(0, c - 24) + 1.5 * Math.max(0, 15 - c) + noise()) * 1000) / 1000, 3600));
    }
    await w.readings.write(rs);
    const jobs = createMvJobs({ readings: w.readings, registry: w.registry, clock: () => NOW });
    const rec = await jobs.run({ meter, temperatureMeter: wx, model: 'caltrack-daily', baseline: { start: '2025-01-01', end: '2026-01-01' }, reporting: { start: '2026-01-01', end: '2026-06-01' }, timeZone: 'Asia/Shanghai', normalize: false });
    expect(rec.body.result.disqualifications).toEqual([]);
  }, 60_000);

  it('stays quiet on normal days and raises after 2 local days above the band', async () => {
    const engine = w.engine();
    expect((await engine.evaluate()).rules.above_baseline).toMatchObject({ judged: 1, firing: 0 });
    // Both days at twice their use.
    const doubled = (await w.readings.query({ ...meter, quantity: 'electricity', kind: 'interval', from: JUNE_18, to: JUNE_18 + 2 * DAY })).map((r) => ({ ...r, value: r.value * 2 }));
    await w.readings.write(doubled);
    const r = await engine.evaluate();
    const a = r.raised.find((x) => x.rule === 'above_baseline')!;
    const ev = a.evidence as { granularity: string; consecutive: number; required: number; periods: Array<{ start: string; actual: number; predicted: number; upper: number }> };
    expect(ev).toMatchObject({ granularity: 'day', consecutive: 2, required: 2 });
    expect(ev.periods.map((p) => p.start)).toEqual([new Date(JUNE_18).toISOString(), new Date(JUNE_18 + DAY).toISOString()]);
    for (const p of ev.periods) {
      // About 2 × the 24 × ~40 kWh a June day uses; the prediction about half of it.
      expect(p.actual).toBeGreaterThan(p.upper);
      expect(p.actual / p.predicted).toBeGreaterThan(1.8);
      expect(p.actual / p.predicted).toBeLessThan(2.2);
    }
  });
});

describe('eui_above_quota', () => {
  const NOW = Date.parse('2026-11-15T12:00:00+08:00');
  let w: World;
  const days: number[] = [];
  for (let d = Date.parse('2025-10-01T00:00:00+08:00'); d < Date.parse('2026-11-15T00:00:00+08:00'); d += DAY) days.push(d);

  /** Daily intervals giving `euiPerYear` kWh/m² over 365 days on `area` m². */
  const daily = (ref: { site: string; building: string; meter: string }, euiPerYear: number, area: number) => days.map((d) => elec(ref, d, (euiPerYear * area) / 365, 86_400));

  beforeAll(async () => {
    w = await world(NOW);
    await w.registry.upsertSite({ id: 'yz', timezone: 'Asia/Shanghai' });
    await w.registry.upsertBuilding({ site: 'yz', id: 'over', type: 'office_b', floorAreaM2: 10_000 });
    await w.registry.upsertBuilding({ site: 'yz', id: 'fine', type: 'office_b', floorAreaM2: 10_000 });
    await w.registry.upsertBuilding({ site: 'yz', id: 'young', type: 'office_b', floorAreaM2: 10_000 });
    await w.registry.upsertMeter({ site: 'yz', building: 'over', meter: 'main' });
    // A sub-meter of the main meter: already in it, must not count twice.
    await w.registry.upsertMeter({ site: 'yz', building: 'over', meter: 'hvac', parent: 'main' });
    await w.registry.upsertMeter({ site: 'yz', building: 'fine', meter: 'main' });
    await w.registry.upsertMeter({ site: 'yz', building: 'young', meter: 'main' });
    await w.readings.write([
      ...daily({ site: 'yz', building: 'over', meter: 'main' }, 120, 10_000),
      ...daily({ site: 'yz', building: 'over', meter: 'hvac' }, 60, 10_000),
      ...daily({ site: 'yz', building: 'fine', meter: 'main' }, 100, 10_000),
      // Only since June: too few months to judge.
      ...daily({ site: 'yz', building: 'young', meter: 'main' }, 300, 10_000).filter((r) => r.ts >= Date.parse('2026-06-01T00:00:00+08:00')),
    ]);
  });

  it('raises for the building above the office_b constraint with EUI, quota and months covered; not for the others', async () => {
    const engine = w.engine();
    const r = await engine.evaluate();
    const eui = r.raised.filter((a) => a.rule === 'eui_above_quota');
    expect(eui.map((a) => a.id)).toEqual(['eui_above_quota:yz:over']);
    expect(r.rules.eui_above_quota).toMatchObject({ judged: 2, firing: 1, skipped: { too_few_months: 1 } });
    const a = eui[0]!;
    expect(a).toMatchObject({ severity: 'critical', site: 'yz', building: 'over' });
    expect(a.meter).toBeUndefined();
    const ev = a.evidence as { eui: number; quota: { constraint: number; buildingType: string; confirmed: boolean }; monthsCovered: number; windowDays: number; from: string; to: string; meters: string[]; months: Array<{ month: string }> };
    expect(ev.eui).toBeCloseTo(120, 6);
    expect(ev.quota).toMatchObject({ constraint: 110, buildingType: 'office_b', confirmed: true });
    expect(ev.monthsCovered).toBe(12);
    expect(ev.windowDays).toBe(365);
    expect(ev.from).toBe(new Date(Date.parse('2025-11-01T00:00:00+08:00')).toISOString());
    expect(ev.to).toBe(new Date(Date.parse('2026-11-01T00:00:00+08:00')).toISOString());
    expect(ev.meters).toEqual(['main']);
    expect(ev.months.map((m) => m.month)).toEqual(['2025-11', '2025-12', '2026-01', '2026-02', '2026-03', '2026-04', '2026-05', '2026-06', '2026-07', '2026-08', '2026-09', '2026-10']);
  });

  it('resolves when corrected readings bring the EUI under the constraint', async () => {
    await w.readings.write(daily({ site: 'yz', building: 'over', meter: 'main' }, 105, 10_000));
    const r = await w.engine().evaluate();
    expect(r.resolved.map((a) => a.id)).toEqual(['eui_above_quota:yz:over']);
  });
});

describe('low_coverage', () => {
  /** Nov 15, 12:00 local: 14.5 days of the month have passed. */
  const NOW = Date.parse('2026-11-15T12:00:00+08:00');
  const MONTH = Date.parse('2026-11-01T00:00:00+08:00');
  const full = { site: 'yz', building: 'b01', meter: 'full' };
  const gappy = { site: 'yz', building: 'b01', meter: 'gappy' };
  const fresh = { site: 'yz', building: 'b01', meter: 'fresh' };
  const GAP = [Date.parse('2026-11-05T00:00:00+08:00'), Date.parse('2026-11-10T00:00:00+08:00')] as const;
  let w: World;

  const series = (ref: typeof full, from: number, skip?: readonly [number, number]) => {
    const out: StoredReading[] = [];
    for (let ts = from; ts < NOW - 15 * MIN; ts += 15 * MIN) if (!skip || ts < skip[0] || ts >= skip[1]) out.push(elec(ref, ts, 1));
    return out;
  };

  beforeAll(async () => {
    w = await world(NOW);
    await w.registry.upsertSite({ id: 'yz', timezone: 'Asia/Shanghai' });
    await w.readings.write([...series(full, MONTH - 31 * DAY), ...series(gappy, MONTH - 31 * DAY, GAP), ...series(fresh, Date.parse('2026-11-10T00:00:00+08:00'))]);
  });

  it('raises for the meter that missed five days of the month so far, with expected and received intervals', async () => {
    const engine = w.engine();
    const r = await engine.evaluate();
    const low = r.raised.filter((a) => a.rule === 'low_coverage');
    expect(low.map((a) => a.id)).toEqual(['low_coverage:yz:b01:gappy']);
    expect(r.rules.low_coverage).toMatchObject({ judged: 3, firing: 1 });
    // From Nov 1 00:00 to 11:45 (the interval in flight is not expected yet).
    const expected = (NOW - 15 * MIN - MONTH) / (15 * MIN);
    const received = expected - (GAP[1] - GAP[0]) / (15 * MIN);
    expect(low[0]!.evidence).toMatchObject({
      period: 'month_to_date',
      month: '2026-11',
      from: new Date(MONTH).toISOString(),
      to: new Date(NOW - 15 * MIN).toISOString(),
      expectedIntervals: expected,
      receivedIntervals: received,
      fraction: Math.round((received / expected) * 1e4) / 1e4,
      minFraction: 0.9,
    });
    expect(low[0]!.severity).toBe('warning');
    expect(low[0]!.messageZh).toContain('应收 1391');
  });

  it('judges the last complete month in the first hours of a month, a meter installed mid-month from its first reading', async () => {
    const DEC = Date.parse('2026-12-01T00:00:00+08:00');
    const v = await world(DEC + 3 * HOUR);
    await v.registry.upsertSite({ id: 'yz', timezone: 'Asia/Shanghai' });
    const upTo = (ref: typeof full, from: number, skip?: readonly [number, number]) => {
      const out: StoredReading[] = [];
      for (let ts = from; ts < DEC + 2 * HOUR; ts += 15 * MIN) if (!skip || ts < skip[0] || ts >= skip[1]) out.push(elec(ref, ts, 1));
      return out;
    };
    await v.readings.write([...upTo(full, MONTH - 31 * DAY), ...upTo(gappy, MONTH - 31 * DAY, GAP), ...upTo(fresh, Date.parse('2026-11-10T00:00:00+08:00'))]);
    const r = await v.engine().evaluate();
    const low = r.raised.filter((a) => a.rule === 'low_coverage');
    expect(low.map((a) => a.id)).toEqual(['low_coverage:yz:b01:gappy']);
    expect(low[0]!.evidence).toMatchObject({ period: 'last_complete_month', month: '2026-11', from: new Date(MONTH).toISOString(), to: new Date(DEC).toISOString(), expectedIntervals: 30 * 96, receivedIntervals: 25 * 96 });
  });

  it('resolves when the gap is backfilled', async () => {
    const fill: StoredReading[] = [];
    for (let ts = GAP[0]; ts < GAP[1]; ts += 15 * MIN) fill.push(elec(gappy, ts, 1));
    await w.readings.write(fill);
    const r = await w.engine().evaluate();
    expect(r.resolved.map((a) => a.id)).toEqual(['low_coverage:yz:b01:gappy']);
  });
});

describe('dead_letter_surge', () => {
  const NOW = Date.parse('2026-11-15T12:00:00+08:00');
  let w: World;

  const letter = (site: string, at: number, code: string): NewDeadLetter => ({
    receivedAtMs: at,
    source: 'ingest',
    topic: `wattproof/v1/${site}/b01/m1/readings`,
    code,
    reason: 'test',
    payload: '{}',
    payloadEncoding: 'utf8',
    payloadBytes: 2,
    truncated: false,
  });

  beforeAll(async () => {
    w = await world(NOW);
    for (const id of ['yz', 'busy', 'calm']) await w.registry.upsertSite({ id, timezone: 'Asia/Shanghai' });
    const letters: NewDeadLetter[] = [];
    // Trailing day: yz 1 an hour, busy 20 per 15 min (steady), calm 1 an hour.
    for (let t = NOW - 24 * HOUR - 15 * MIN; t < NOW - 15 * MIN; t += HOUR) letters.push(letter('yz', t, 'CONTRACT_SCHEMA_INVALID'), letter('calm', t + 1, 'CONTRACT_UNIT_INVALID'));
    for (let t = NOW - 24 * HOUR - 15 * MIN; t < NOW; t += 45_000) letters.push(letter('busy', t, 'CONTRACT_SCHEMA_INVALID'));
    // Last 15 min: yz surges to 30 (20 unit, 10 schema), calm stays at 1.
    for (let i = 0; i < 30; i++) letters.push(letter('yz', NOW - 14 * MIN + i * 1000, i < 20 ? 'CONTRACT_UNIT_INVALID' : 'CONTRACT_SCHEMA_INVALID'));
    letters.push(letter('calm', NOW - 5 * MIN, 'CONTRACT_UNIT_INVALID'));
    letters.push({ ...letter('x', NOW - 5 * MIN, 'CONTRACT_TOPIC_INVALID'), topic: 'garbage' });
    letters.sort((a, b) => a.receivedAtMs - b.receivedAtMs);
    await w.registry.addDeadLetters(letters);
  });

  it('raises for the site whose dead letters surged above its baseline, with counts and top codes; not for steady sites', async () => {
    const r = await w.engine().evaluate();
    const surge = r.raised.filter((a) => a.rule === 'dead_letter_surge');
    expect(surge.map((a) => a.id)).toEqual(['dead_letter_surge:yz']);
    const ev = surge[0]!.evidence as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(ev.count).toBe(30);
    expect(ev.baseline.count).toBe(24);
    expect(ev.baseline.expectedPerWindow).toBeCloseTo(0.25, 6);
    expect(ev.exceeded).toEqual(['surge_factor']);
    expect(ev.topCodes).toEqual([
      { code: 'CONTRACT_UNIT_INVALID', count: 20 },
      { code: 'CONTRACT_SCHEMA_INVALID', count: 10 },
    ]);
    expect(ev.window).toMatchObject({ from: new Date(NOW - 15 * MIN).toISOString(), to: new Date(NOW).toISOString(), seconds: 900 });
    expect(surge[0]!.severity).toBe('warning');
  });

  it('raises on the absolute limit even for a steady site', async () => {
    const r = await w.engine({ ALERT_DEAD_LETTER_MAX_COUNT: 15 }).evaluate();
    const busy = r.raised.find((a) => a.id === 'dead_letter_surge:busy');
    expect(busy?.evidence.exceeded).toEqual(['max_count']);
    expect(busy?.evidence.count).toBe(20);
  });

  it('resolves when the window has passed', async () => {
    w.now = NOW + 20 * MIN;
    const r = await w.engine().evaluate();
    expect(r.resolved.map((a) => a.id).sort()).toEqual(['dead_letter_surge:busy', 'dead_letter_surge:yz']);
  });
});
