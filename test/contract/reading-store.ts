/**
 * The contract of the `ReadingStore` port: every adapter (memory, DuckDB, InfluxDB, ...) runs
 * this one suite from its own `reading-store.<adapter>.test.ts`.
 *
 * One store instance serves the whole suite; every test writes under its own site id, so an
 * adapter may share one database per file. Expected values are computed here from the readings
 * (or written out by hand), never with adapter code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AggregateRow, Bucket, Quantity, ReadingKind, ReadingStore, StoredReading, Unit } from '@wattproof/core';

/** Builds a fresh, not yet initialised store. The suite calls `init()` and finally `close()`. */
export type ReadingStoreFactory = () => ReadingStore | Promise<ReadingStore>;

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

const RUN = Math.random().toString(36).slice(2, 8);
let siteSeq = 0;

/** A site id no other test (nor an earlier run against the same database) uses. */
function uniqueSite(label: string): string {
  siteSeq += 1;
  return `s${RUN}-${siteSeq}-${label}`;
}

const at = (iso: string): number => Date.parse(iso);
const isoOf = (ms: number): string => new Date(ms).toISOString();

interface Ref {
  readonly site: string;
  readonly building: string;
  readonly meter: string;
}

function reading(ref: Ref, quantity: Quantity, kind: ReadingKind, unit: Unit, ts: number, value: number, intervalS?: number): StoredReading {
  return intervalS === undefined
    ? { ...ref, quantity, kind, unit, ts, value }
    : { ...ref, quantity, kind, unit, ts, value, intervalS };
}

const kwh = (ref: Ref, ts: number, value: number, intervalS = 900): StoredReading => reading(ref, 'electricity', 'interval', 'kWh', ts, value, intervalS);
const tempC = (ref: Ref, ts: number, value: number): StoredReading => reading(ref, 'outdoor_temperature', 'instant', '°C', ts, value);

/** Test-local order for comparing sets of rows: the port only promises earliest first. */
function byTsThenSeries(a: StoredReading, b: StoredReading): number {
  return a.ts - b.ts || seriesId(a).localeCompare(seriesId(b));
}

function seriesId(r: { site: string; building: string; meter: string; quantity: string; kind: string }): string {
  return [r.site, r.building, r.meter, r.quantity, r.kind].join('|');
}

function bySeries<T extends { site: string; building: string; meter: string; quantity: string; kind: string }>(rows: readonly T[]): T[] {
  return [...rows].sort((a, b) => seriesId(a).localeCompare(seriesId(b)));
}

/** Bucket of `ts` in a zone with a fixed UTC offset (UTC, Asia/Shanghai), computed by plain arithmetic. */
function fixedOffsetBucket(ts: number, bucket: Bucket, offsetMs: number): { start: number; end: number } {
  if (bucket === '1mo') {
    const local = new Date(ts + offsetMs);
    const y = local.getUTCFullYear();
    const m = local.getUTCMonth();
    return { start: Date.UTC(y, m, 1) - offsetMs, end: Date.UTC(y, m + 1, 1) - offsetMs };
  }
  const len = bucket === '15m' ? 15 * MIN : bucket === '1h' ? HOUR : DAY;
  const start = ts - ((((ts + offsetMs) % len) + len) % len);
  return { start, end: start + len };
}

/** The rows an adapter must return for `readings` (all of one series, all inside the range). */
function expectedRows(readings: readonly StoredReading[], bucket: Bucket, offsetMs: number, kind: ReadingKind): AggregateRow[] {
  const groups = new Map<number, { end: number; values: number[]; coveredS: number }>();
  for (const r of readings) {
    const { start, end } = fixedOffsetBucket(r.ts, bucket, offsetMs);
    const g = groups.get(start) ?? { end, values: [], coveredS: 0 };
    g.values.push(r.value);
    g.coveredS += r.intervalS ?? 0;
    groups.set(start, g);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .map(([start, g]) => {
      const sum = g.values.reduce((a, b) => a + b, 0);
      return {
        start,
        end: g.end,
        count: g.values.length,
        sum,
        mean: sum / g.values.length,
        min: Math.min(...g.values),
        max: Math.max(...g.values),
        coveredS: kind === 'interval' ? g.coveredS : null,
        coverage: kind === 'interval' ? g.coveredS / ((g.end - start) / 1000) : null,
      };
    });
}

/** Compares aggregate rows: bounds, counts, min/max and coveredS exactly; sums and ratios to 1e-9. */
function expectRows(actual: readonly AggregateRow[], expected: readonly AggregateRow[]): void {
  expect(actual.map((r) => `${isoOf(r.start)} .. ${isoOf(r.end)}`)).toEqual(expected.map((r) => `${isoOf(r.start)} .. ${isoOf(r.end)}`));
  expected.forEach((e, i) => {
    const a = actual[i] as AggregateRow;
    expect({ start: isoOf(a.start), count: a.count, min: a.min, max: a.max, coveredS: a.coveredS }).toEqual({
      start: isoOf(e.start),
      count: e.count,
      min: e.min,
      max: e.max,
      coveredS: e.coveredS,
    });
    expect(a.sum).toBeCloseTo(e.sum, 9);
    expect(a.mean).toBeCloseTo(e.mean, 9);
    if (e.coverage === null) expect(a.coverage).toBeNull();
    else expect(a.coverage).toBeCloseTo(e.coverage, 9);
  });
}

/** Registers the `ReadingStore` contract suite for one adapter. */
export function describeReadingStore(name: string, factory: ReadingStoreFactory): void {
  describe(`ReadingStore contract: ${name}`, () => {
    let store: ReadingStore;

    beforeAll(async () => {
      store = await factory();
      await store.init();
    });

    afterAll(async () => {
      await store?.close();
    });

    it('has a name, answers ping and init is idempotent', async () => {
      expect(typeof store.name).toBe('string');
      expect(store.name.length).toBeGreaterThan(0);
      await store.init();
      expect(await store.ping()).toBe(true);
    });

    it('round-trips readings exactly: float64 values, ms timestamps, ids with . - _, every unit', async () => {
      const ref = { site: uniqueSite('round.trip_x'), building: 'bldg_2.east-wing', meter: 'meter.A-1_b' };
      const t0 = at('2026-05-04T10:00:00.123Z');
      const values = [0.1 + 0.2, -1234.5678901234567, 1e-300, 1.7976931348623157e308, 5e-324, 2 ** 53 + 2, 123456789.98765433, 0, 42, -7];
      const written: StoredReading[] = [
        ...values.map((v, i) => kwh(ref, t0 + i * 15 * MIN, v, 900)),
        tempC(ref, t0, -12.345678901234567),
        reading(ref, 'relative_humidity', 'instant', '%', t0 + 1, 55.5),
        reading(ref, 'irradiance', 'instant', 'W/m2', t0 + 2, 812.25),
        reading(ref, 'electricity', 'register', 'kWh', t0 + 3, 987654.321),
        reading(ref, 'electricity', 'instant', 'kW', t0 + 4, 12.5),
        reading(ref, 'gas', 'interval', 'm3', t0 + 5, 0.75, 3600),
      ];
      // Same meter id in another building and another meter in the same building: not returned.
      const noise = [kwh({ ...ref, building: 'other' }, t0, 1), kwh({ ...ref, meter: 'meter.A-2' }, t0, 2)];
      await store.write([...written].reverse().concat(noise));

      const got = await store.query({ ...ref, from: t0 - HOUR, to: t0 + DAY });
      expect(got.map((r) => r.ts)).toEqual([...got.map((r) => r.ts)].sort((a, b) => a - b));
      expect([...got].sort(byTsThenSeries)).toEqual([...written].sort(byTsThenSeries));
      const interval = got.filter((r) => r.kind === 'interval' && r.quantity === 'electricity').map((r) => r.value);
      expect(interval).toEqual(values);
      for (const r of got) {
        if (r.kind === 'interval') expect(r.intervalS).toBeTypeOf('number');
        else expect(r.intervalS).toBeUndefined();
      }
    });

    it('queries the half-open range [from, to) with ms precision', async () => {
      const ref = { site: uniqueSite('bounds'), building: 'b', meter: 'm' };
      const from = at('2026-02-10T00:00:00.000Z');
      const to = at('2026-02-11T00:00:00.000Z');
      await store.write([from - 1, from, from + 1, to - 1, to, to + 1].map((ts, i) => tempC(ref, ts, i)));
      const got = await store.query({ ...ref, from, to });
      expect(got.map((r) => isoOf(r.ts))).toEqual([from, from + 1, to - 1].map(isoOf));
      expect(await store.query({ ...ref, from, to: from })).toEqual([]);
    });

    it('filters by quantity and kind and caps rows with limit (earliest first)', async () => {
      const ref = { site: uniqueSite('filter'), building: 'b', meter: 'm' };
      const t0 = at('2026-06-01T00:00:00Z');
      const rows: StoredReading[] = [];
      for (let i = 0; i < 10; i++) {
        rows.push(kwh(ref, t0 + i * 15 * MIN, i));
        rows.push(reading(ref, 'electricity', 'instant', 'kW', t0 + i * 15 * MIN + 1, 100 + i));
        rows.push(tempC(ref, t0 + i * 15 * MIN + 2, 20 + i));
      }
      await store.write(rows);
      const range = { ...ref, from: t0, to: t0 + DAY };

      const elec = await store.query({ ...range, quantity: 'electricity' });
      expect(elec).toHaveLength(20);
      expect(new Set(elec.map((r) => r.kind))).toEqual(new Set(['interval', 'instant']));

      const instants = await store.query({ ...range, kind: 'instant' });
      expect(instants).toHaveLength(20);
      expect(new Set(instants.map((r) => r.quantity))).toEqual(new Set(['electricity', 'outdoor_temperature']));

      const one = await store.query({ ...range, quantity: 'electricity', kind: 'instant' });
      expect(one.map((r) => r.value)).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);

      const limited = await store.query({ ...range, quantity: 'outdoor_temperature', limit: 3 });
      expect(limited.map((r) => r.value)).toEqual([20, 21, 22]);
      const all = await store.query({ ...range, limit: 4 });
      expect(all.map((r) => r.ts)).toEqual([t0, t0 + 1, t0 + 2, t0 + 15 * MIN]);
    });

    it('rewriting the same key replaces the value and keeps the count (last write wins)', async () => {
      const ref = { site: uniqueSite('upsert'), building: 'b', meter: 'm' };
      const t0 = at('2026-07-01T00:00:00Z');
      await store.write([0, 1, 2, 3, 4].map((i) => kwh(ref, t0 + i * 15 * MIN, i + 0.5)));
      await store.write([kwh(ref, t0 + 2 * 15 * MIN, 99.25)]);
      // Duplicates inside one batch: the later element wins.
      await store.write([kwh(ref, t0 + 4 * 15 * MIN, 7), kwh(ref, t0 + 4 * 15 * MIN, 8.5)]);
      await store.write([0, 1, 2, 3, 4].map((i) => kwh(ref, t0 + i * 15 * MIN, i === 2 ? 99.25 : i === 4 ? 8.5 : i + 0.5)));

      const got = await store.query({ ...ref, from: t0, to: t0 + DAY });
      expect(got.map((r) => r.value)).toEqual([0.5, 1.5, 99.25, 3.5, 8.5]);
      const [day] = await store.aggregate({ ...ref, quantity: 'electricity', kind: 'interval', from: t0, to: t0 + DAY, bucket: '1d', tz: 'UTC' });
      expect(day?.count).toBe(5);
      expect(day?.sum).toBeCloseTo(0.5 + 1.5 + 99.25 + 3.5 + 8.5, 9);
      expect(day?.coveredS).toBe(5 * 900);
    });

    it('writes and reads back a batch of 20,000 readings', async () => {
      const ref = { site: uniqueSite('batch'), building: 'b', meter: 'm' };
      const t0 = at('2025-01-01T00:00:00Z');
      const rows = Array.from({ length: 20_000 }, (_, i) => kwh(ref, t0 + i * 15 * MIN, (i % 8) * 0.125 + (i % 3)));
      await store.write(rows);

      const got = await store.query({ ...ref, from: t0, to: t0 + 400 * DAY });
      expect(got).toHaveLength(20_000);
      expect(got[0]).toEqual(rows[0]);
      expect(got[12_345]).toEqual(rows[12_345]);
      expect(got[19_999]).toEqual(rows[19_999]);

      const months = await store.aggregate({ ...ref, quantity: 'electricity', kind: 'interval', from: t0, to: t0 + 400 * DAY, bucket: '1mo', tz: 'UTC' });
      expectRows(months, expectedRows(rows, '1mo', 0, 'interval'));
      expect(months.reduce((a, r) => a + r.count, 0)).toBe(20_000);
    });

    describe('aggregate', () => {
      const zones = [
        { tz: 'UTC', offsetMs: 0 },
        { tz: 'Asia/Shanghai', offsetMs: 8 * HOUR },
      ];

      it('interval series: sum, count, coveredS and coverage per 15m / 1h / 1d / 1mo; empty buckets omitted', async () => {
        const ref = { site: uniqueSite('agg-interval'), building: 'b', meter: 'm' };
        const rows: StoredReading[] = [];
        const start = at('2026-01-31T20:00:00Z');
        for (let i = 0; i < 32; i++) {
          const ts = start + i * 15 * MIN;
          const hourUtc = new Date(ts).getUTCHours();
          // A missing hour (23:00Z) and a missing quarter (01:15Z): buckets without data are omitted.
          if (hourUtc === 23 || ts === at('2026-02-01T01:15:00Z')) continue;
          rows.push(kwh(ref, ts, (i % 7) * 0.25 + 1.5, 900));
        }
        rows.push(kwh(ref, at('2026-02-01T05:10:00Z'), 0.375, 300));
        rows.push(kwh(ref, at('2026-02-02T05:00:00Z'), 24.5, 86_400));
        await store.write(rows);

        const from = at('2026-01-01T00:00:00Z');
        const to = at('2026-03-01T00:00:00Z');
        for (const { tz, offsetMs } of zones) {
          for (const bucket of ['15m', '1h', '1d', '1mo'] as const) {
            const got = await store.aggregate({ ...ref, quantity: 'electricity', kind: 'interval', from, to, bucket, tz });
            expectRows(got, expectedRows(rows, bucket, offsetMs, 'interval'));
          }
        }

        // Spot checks written out by hand (UTC).
        const hours = await store.aggregate({ ...ref, quantity: 'electricity', kind: 'interval', from, to, bucket: '1h', tz: 'UTC' });
        expect(hours.map((r) => isoOf(r.start))).not.toContain('2026-01-31T23:00:00.000Z');
        const h1 = hours.find((r) => r.start === at('2026-02-01T01:00:00Z'));
        expect(h1).toMatchObject({ count: 3, coveredS: 2700, coverage: 0.75 });
        const h5 = hours.find((r) => r.start === at('2026-02-01T05:00:00Z'));
        expect(h5).toMatchObject({ count: 1, sum: 0.375, mean: 0.375, min: 0.375, max: 0.375, coveredS: 300 });
        expect(h5?.coverage).toBeCloseTo(300 / 3600, 12);
        const months = await store.aggregate({ ...ref, quantity: 'electricity', kind: 'interval', from, to, bucket: '1mo', tz: 'UTC' });
        expect(months.map((r) => [isoOf(r.start), isoOf(r.end), r.count])).toEqual([
          ['2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z', 12],
          ['2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z', 17],
        ]);
        expect(months[1]?.coverage).toBeCloseTo((15 * 900 + 300 + 86_400) / (28 * 86_400), 12);
      });

      it('instant and register series: mean/min/max per bucket, coverage null', async () => {
        const ref = { site: uniqueSite('agg-instant'), building: 'b', meter: 'm' };
        const rows: StoredReading[] = [];
        const start = at('2026-02-27T22:00:00Z');
        for (let i = 0; i < 85; i++) rows.push(tempC(ref, start + i * 20 * MIN, -5.5 + ((i * 37) % 23) * 0.5));
        const registers = [0, 1, 2, 3].map((i) => reading(ref, 'electricity', 'register', 'kWh', start + i * 15 * MIN, 1000 + i * 2.5));
        await store.write([...rows, ...registers]);

        const from = at('2026-02-01T00:00:00Z');
        const to = at('2026-04-01T00:00:00Z');
        for (const { tz, offsetMs } of zones) {
          for (const bucket of ['15m', '1h', '1d', '1mo'] as const) {
            const got = await store.aggregate({ ...ref, quantity: 'outdoor_temperature', kind: 'instant', from, to, bucket, tz });
            expectRows(got, expectedRows(rows, bucket, offsetMs, 'instant'));
          }
        }
        const reg = await store.aggregate({ ...ref, quantity: 'electricity', kind: 'register', from, to, bucket: '1d', tz: 'UTC' });
        expectRows(reg, expectedRows(registers, '1d', 0, 'register'));
        expect(reg[0]).toMatchObject({ count: 4, min: 1000, max: 1007.5, coveredS: null, coverage: null });
      });

      it('local days and months: Asia/Shanghai and UTC give different boundaries', async () => {
        const ref = { site: uniqueSite('agg-shanghai'), building: 'b', meter: 'm' };
        const rows = [
          kwh(ref, at('2026-02-28T17:00:00Z'), 1, 900), // 2026-03-01 01:00 in Shanghai
          kwh(ref, at('2026-03-01T15:30:00Z'), 2, 900), // 2026-03-01 23:30 in Shanghai
          kwh(ref, at('2026-03-01T16:30:00Z'), 4, 900), // 2026-03-02 00:30 in Shanghai
        ];
        await store.write(rows);
        const q = { ...ref, quantity: 'electricity' as const, kind: 'interval' as const, from: at('2026-02-01T00:00:00Z'), to: at('2026-04-01T00:00:00Z') };
        const summary = (rs: AggregateRow[]) => rs.map((r) => [isoOf(r.start), isoOf(r.end), r.count, r.sum]);

        expect(summary(await store.aggregate({ ...q, bucket: '1d', tz: 'UTC' }))).toEqual([
          ['2026-02-28T00:00:00.000Z', '2026-03-01T00:00:00.000Z', 1, 1],
          ['2026-03-01T00:00:00.000Z', '2026-03-02T00:00:00.000Z', 2, 6],
        ]);
        expect(summary(await store.aggregate({ ...q, bucket: '1d', tz: 'Asia/Shanghai' }))).toEqual([
          ['2026-02-28T16:00:00.000Z', '2026-03-01T16:00:00.000Z', 2, 3],
          ['2026-03-01T16:00:00.000Z', '2026-03-02T16:00:00.000Z', 1, 4],
        ]);
        expect(summary(await store.aggregate({ ...q, bucket: '1mo', tz: 'UTC' }))).toEqual([
          ['2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z', 1, 1],
          ['2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z', 2, 6],
        ]);
        const monthsSh = await store.aggregate({ ...q, bucket: '1mo', tz: 'Asia/Shanghai' });
        expect(summary(monthsSh)).toEqual([['2026-02-28T16:00:00.000Z', '2026-03-31T16:00:00.000Z', 3, 7]]);
        expect(monthsSh[0]?.coverage).toBeCloseTo(2700 / (31 * 86_400), 12);
      });

      it('DST (America/Chicago): 23-hour and 25-hour local days; coverage uses the real length', async () => {
        const ref = { site: uniqueSite('agg-chicago'), building: 'b', meter: 'm' };
        const hourly = (fromIso: string, n: number) => Array.from({ length: n }, (_, i) => kwh(ref, at(fromIso) + i * HOUR, 1 + (i % 4) * 0.5, 3600));
        const mar7 = hourly('2026-03-07T12:00:00Z', 6); // a 24-hour day, a quarter covered
        const mar8 = hourly('2026-03-08T06:00:00Z', 23); // spring forward: 00:00 CST .. 00:00 CDT
        const nov1 = hourly('2026-11-01T05:00:00Z', 25); // fall back: 00:00 CDT .. 00:00 CST
        await store.write([...mar7, ...mar8, ...nov1]);
        const q = { ...ref, quantity: 'electricity' as const, kind: 'interval' as const, tz: 'America/Chicago' };
        const sum = (rs: StoredReading[]) => rs.reduce((a, r) => a + r.value, 0);

        const days = await store.aggregate({ ...q, bucket: '1d', from: at('2026-03-01T00:00:00Z'), to: at('2026-12-01T00:00:00Z') });
        expect(days.map((r) => [isoOf(r.start), isoOf(r.end), r.count, r.coveredS])).toEqual([
          ['2026-03-07T06:00:00.000Z', '2026-03-08T06:00:00.000Z', 6, 6 * 3600],
          ['2026-03-08T06:00:00.000Z', '2026-03-09T05:00:00.000Z', 23, 23 * 3600],
          ['2026-11-01T05:00:00.000Z', '2026-11-02T06:00:00.000Z', 25, 25 * 3600],
        ]);
        expect(days.map((r) => r.coverage)).toEqual([0.25, 1, 1]);
        expect(days[1]?.sum).toBeCloseTo(sum(mar8), 9);
        expect(days[2]?.sum).toBeCloseTo(sum(nov1), 9);

        const months = await store.aggregate({ ...q, bucket: '1mo', from: at('2026-01-01T00:00:00Z'), to: at('2027-01-01T00:00:00Z') });
        expect(months.map((r) => [isoOf(r.start), isoOf(r.end), r.count])).toEqual([
          ['2026-03-01T06:00:00.000Z', '2026-04-01T05:00:00.000Z', 29],
          ['2026-11-01T05:00:00.000Z', '2026-12-01T06:00:00.000Z', 25],
        ]);
        expect(months[0]?.coverage).toBeCloseTo(29 / 743, 12);
        expect(months[1]?.coverage).toBeCloseTo(25 / 721, 12);

        // The two 01:00 hours of the fall-back day are separate buckets.
        const hours = await store.aggregate({ ...q, bucket: '1h', from: at('2026-11-01T05:00:00Z'), to: at('2026-11-02T06:00:00Z') });
        expect(hours.map((r) => isoOf(r.start))).toEqual(nov1.map((r) => isoOf(r.ts)));
        expect(hours.every((r) => r.end - r.start === HOUR && r.coverage === 1 && r.count === 1)).toBe(true);

        // [from, to) selects readings; a bucket cut by `from` keeps its local bounds and full length.
        const cut = await store.aggregate({ ...q, bucket: '1d', from: at('2026-03-08T12:00:00Z'), to: at('2026-03-09T05:00:00Z') });
        expect(cut.map((r) => [isoOf(r.start), isoOf(r.end), r.count])).toEqual([['2026-03-08T06:00:00.000Z', '2026-03-09T05:00:00.000Z', 17]]);
        expect(cut[0]?.coverage).toBeCloseTo(17 / 23, 12);
      });

      it('returns nothing for a series without readings in the range', async () => {
        const ref = { site: uniqueSite('agg-empty'), building: 'b', meter: 'm' };
        await store.write([kwh(ref, at('2026-01-01T00:00:00Z'), 1)]);
        const base = { ...ref, quantity: 'electricity' as const, kind: 'interval' as const, bucket: '1d' as const, tz: 'UTC' };
        expect(await store.aggregate({ ...base, from: at('2026-02-01T00:00:00Z'), to: at('2026-03-01T00:00:00Z') })).toEqual([]);
        expect(await store.aggregate({ ...base, kind: 'instant', from: at('2025-01-01T00:00:00Z'), to: at('2027-01-01T00:00:00Z') })).toEqual([]);
        expect(await store.aggregate({ ...base, meter: 'nope', from: at('2025-01-01T00:00:00Z'), to: at('2027-01-01T00:00:00Z') })).toEqual([]);
      });
    });

    it('latest returns the newest reading of each matching series', async () => {
      const site = uniqueSite('latest');
      const m1 = { site, building: 'b1', meter: 'm.1' };
      const m2 = { site, building: 'b2', meter: 'm-2' };
      const t = at('2026-08-01T00:00:00Z');
      const rows = [
        kwh(m1, t + 2 * 15 * MIN, 3.25),
        kwh(m1, t, 1.25),
        kwh(m1, t + 15 * MIN, 2.25, 600),
        tempC(m1, t + HOUR, 30.5),
        tempC(m1, t, 28),
        reading(m2, 'electricity', 'register', 'kWh', t, 5000.5),
      ];
      await store.write(rows);

      expect(bySeries(await store.latest({ site }))).toEqual(bySeries([rows[0], rows[3], rows[5]] as StoredReading[]));
      expect(await store.latest({ site, building: 'b2' })).toEqual([rows[5]]);
      expect(bySeries(await store.latest({ site, building: 'b1', meter: 'm.1' }))).toEqual(bySeries([rows[0], rows[3]] as StoredReading[]));
      expect(await store.latest({ site, building: 'b1', meter: 'other' })).toEqual([]);
      expect(await store.latest({ site: uniqueSite('latest-none') })).toEqual([]);
      const everything = await store.latest();
      expect(everything.filter((r) => r.site === site)).toHaveLength(3);
    });

    it('keeps sites apart that use the same building and meter ids', async () => {
      const a = { site: uniqueSite('twin-a'), building: 'b1', meter: 'm.1' };
      const b = { site: uniqueSite('twin-b'), building: 'b1', meter: 'm.1' };
      const t = at('2026-08-01T00:00:00Z');
      await store.write([kwh(a, t, 1), kwh(b, t, 2), kwh(b, t + 15 * MIN, 3), tempC(b, t, 20)]);
      const range = { from: t, to: t + HOUR };
      expect((await store.query({ ...a, ...range })).map((r) => r.value)).toEqual([1]);
      expect((await store.query({ ...b, ...range, quantity: 'electricity' })).map((r) => r.value)).toEqual([2, 3]);
      expect((await store.latest({ site: a.site, building: 'b1' })).map((r) => r.value)).toEqual([1]);
      expect(bySeries(await store.latest({ site: b.site, building: 'b1', meter: 'm.1' })).map((r) => r.value)).toEqual(bySeries([kwh(b, t + 15 * MIN, 3), tempC(b, t, 20)]).map((r) => r.value));
      // Without a site, the building and meter ids match in both.
      expect((await store.latest({ building: 'b1', meter: 'm.1' })).filter((r) => r.site === a.site || r.site === b.site)).toHaveLength(3);
    });

    it('listSeries lists every series with its unit', async () => {
      const site = uniqueSite('series');
      const m1 = { site, building: 'b1', meter: 'm_1' };
      const m2 = { site, building: 'b2', meter: 'm-2' };
      const t = at('2026-09-01T00:00:00Z');
      await store.write([
        kwh(m1, t, 1),
        kwh(m1, t + 15 * MIN, 2),
        reading(m1, 'relative_humidity', 'instant', '%', t, 40),
        tempC(m2, t, 21.5),
        reading(m2, 'gas', 'interval', 'm3', t, 0.5, 3600),
      ]);
      const all = bySeries(await store.listSeries({ site }));
      expect(all).toEqual(
        bySeries([
          { ...m1, quantity: 'electricity', kind: 'interval', unit: 'kWh' },
          { ...m1, quantity: 'relative_humidity', kind: 'instant', unit: '%' },
          { ...m2, quantity: 'outdoor_temperature', kind: 'instant', unit: '°C' },
          { ...m2, quantity: 'gas', kind: 'interval', unit: 'm3' },
        ]),
      );
      expect(bySeries(await store.listSeries({ site, building: 'b2', meter: 'm-2' })).map((s) => s.quantity)).toEqual(['gas', 'outdoor_temperature']);
      expect(await store.listSeries({ site: uniqueSite('series-none') })).toEqual([]);
    });

    it('empty batches and unknown meters give empty results', async () => {
      const ref = { site: uniqueSite('empty'), building: 'b', meter: 'm' };
      await store.write([]);
      expect(await store.query({ ...ref, from: 0, to: at('2100-01-01T00:00:00Z') })).toEqual([]);
      expect(await store.latest(ref)).toEqual([]);
      expect(await store.listSeries(ref)).toEqual([]);
    });
  });
}
