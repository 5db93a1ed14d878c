import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHONGQING_TMYX_PATH, chongqingTypicalYear, clearSkyWh, syntheticWeather, weatherFromCsv } from '../../simulators/src/weather.js';

const HOUR = 3_600_000;
const local = (iso: string) => Date.parse(`${iso}+08:00`);
const tmp = mkdtempSync(join(tmpdir(), 'wattproof-weather-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Rows of the bundled CSV keyed by month-day-hour_ending. */
function tmyRows(): Map<string, string[]> {
  const lines = readFileSync(CHONGQING_TMYX_PATH, 'utf8').trim().split('\n').slice(1);
  return new Map(lines.map((l) => { const c = l.split(','); return [`${c[4]}-${c[5]}-${c[6]}`, c]; }));
}

describe('Chongqing typical year', () => {
  const w = chongqingTypicalYear();
  const rows = tmyRows();

  it('has an id and the sha256 of the file as digest', () => {
    expect(w.id).toBe('chongqing-tmyx-2009-2023');
    expect(w.digest).toBe(createHash('sha256').update(readFileSync(CHONGQING_TMYX_PATH)).digest('hex'));
  });

  it('maps any year onto the typical year by local month, day and hour', () => {
    const first = w.at(local('2025-01-01T00:00:00'));
    expect(first).toEqual({ temperatureC: 7, relativeHumidityPct: 93, ghiWhM2: 0 });
    // 2026-07-15 14:00 local is the hour ending 15 of July 15.
    const row = rows.get('7-15-15')!;
    const x = w.at(local('2026-07-15T14:00:00'));
    expect(x.temperatureC).toBe(Number(row[7]));
    expect(x.relativeHumidityPct).toBe(Number(row[9]));
    expect(x.ghiWhM2).toBe(Number(row[10]));
    expect(w.at(local('2031-07-15T14:00:00'))).toEqual(x);
    // Any instant inside the hour gives the hour.
    expect(w.at(local('2026-07-15T14:59:59'))).toEqual(x);
    // Feb 29 uses Feb 28.
    expect(w.at(local('2028-02-29T13:00:00'))).toEqual(w.at(local('2027-02-28T13:00:00')));
    expect(w.at(local('2028-03-01T13:00:00'))).toEqual(w.at(local('2027-03-01T13:00:00')));
  });

  it('is Chongqing: hot humid July, mild January, no sun at night', () => {
    const mean = (from: string, days: number, f: (h: { temperatureC: number; relativeHumidityPct: number; ghiWhM2: number }) => number) => {
      let s = 0;
      for (let i = 0; i < days * 24; i++) s += f(w.at(local(from) + i * HOUR));
      return s / (days * 24);
    };
    expect(mean('2025-07-01T00:00:00', 31, (h) => h.temperatureC)).toBeGreaterThan(27);
    expect(mean('2025-01-01T00:00:00', 31, (h) => h.temperatureC)).toBeLessThan(10);
    expect(mean('2025-01-01T00:00:00', 31, (h) => h.temperatureC)).toBeGreaterThan(4);
    expect(w.at(local('2025-06-21T02:00:00')).ghiWhM2).toBe(0);
    expect(w.at(local('2025-06-21T13:00:00')).ghiWhM2).toBeGreaterThan(0);
  });
});

describe('weatherFromCsv', () => {
  const header = 'hour_of_year,timestamp_local,timestamp_utc,source_year,month,day,hour_ending,air_temperature_c,dew_point_c,relative_humidity_pct,ghi_wh_m2';

  it('interpolates missing cells linearly and hashes the file', () => {
    const src = readFileSync(CHONGQING_TMYX_PATH, 'utf8').trim().split('\n');
    // Blank the temperature of hours ending 2 and 3 on Jan 1 (rows 3 and 4).
    const edited = src.map((l, i) => {
      if (i !== 2 && i !== 3) return l;
      const c = l.split(',');
      c[7] = '';
      return c.join(',');
    });
    const path = join(tmp, 'gappy.csv');
    writeFileSync(path, `${edited.join('\n')}\n`);
    const w = weatherFromCsv(path);
    expect(w.id).toBe('gappy');
    expect(w.digest).toBe(createHash('sha256').update(readFileSync(path)).digest('hex'));
    const t1 = Number(src[1]!.split(',')[7]);
    const t4 = Number(src[4]!.split(',')[7]);
    expect(w.at(local('2025-01-01T01:00:00')).temperatureC).toBeCloseTo(t1 + (t4 - t1) / 3, 10);
    expect(w.at(local('2025-01-01T02:00:00')).temperatureC).toBeCloseTo(t1 + (2 * (t4 - t1)) / 3, 10);
  });

  it('fills absent rows and wraps around the year', () => {
    const path = join(tmp, 'two-rows.csv');
    writeFileSync(path, `${header}\n1,,,2001,1,1,1,10,,50,0\n2,,,2001,7,2,1,30,,70,0\n`);
    const w = weatherFromCsv(path, { id: 'tiny' });
    expect(w.id).toBe('tiny');
    expect(w.at(local('2025-01-01T00:00:00')).temperatureC).toBe(10);
    expect(w.at(local('2025-07-02T00:00:00')).temperatureC).toBe(30);
    const mid = w.at(local('2025-04-02T00:00:00')).temperatureC;
    expect(mid).toBeGreaterThan(15);
    expect(mid).toBeLessThan(25);
  });

  it('rejects a file without a required column or with an impossible row', () => {
    const a = join(tmp, 'no-ghi.csv');
    writeFileSync(a, 'month,day,hour_ending,air_temperature_c,relative_humidity_pct\n1,1,1,5,80\n');
    expect(() => weatherFromCsv(a)).toThrow(expect.objectContaining({ code: 'SIM_WEATHER_FILE_INVALID' }));
    const b = join(tmp, 'bad-row.csv');
    writeFileSync(b, `${header}\n1,,,2001,2,30,1,5,,80,0\n`);
    expect(() => weatherFromCsv(b)).toThrow(expect.objectContaining({ code: 'SIM_WEATHER_FILE_INVALID' }));
    const c = join(tmp, 'empty-col.csv');
    writeFileSync(c, `${header}\n1,,,2001,1,1,1,,,80,0\n`);
    expect(() => weatherFromCsv(c)).toThrow(expect.objectContaining({ code: 'SIM_WEATHER_FILE_INVALID' }));
  });
});

describe('syntheticWeather', () => {
  const start = local('2025-01-01T00:00:00');

  it('is deterministic, in any order, and seeded', () => {
    const a = syntheticWeather(42);
    const b = syntheticWeather(42);
    const hours = [5000, 17, 8000, 3000].map((i) => start + i * HOUR);
    const forward = hours.map((t) => a.at(t));
    const backward = [...hours].reverse().map((t) => b.at(t)).reverse();
    expect(backward).toEqual(forward);
    expect(syntheticWeather(43).at(hours[0]!)).not.toEqual(forward[0]);
    expect(a.id).toBe('synthetic-chongqing-42');
    expect(a.digest).toBe(b.digest);
    expect(a.digest).not.toBe(syntheticWeather(43).digest);
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('looks like Chongqing: seasons, diurnal cycle, humidity, sun by elevation, persistence', () => {
    const w = syntheticWeather(7);
    const monthMean = new Array<number>(12).fill(0);
    const monthN = new Array<number>(12).fill(0);
    let ghi = 0;
    let at6 = 0;
    let at15 = 0;
    const daily: number[] = [];
    let day = 0;
    for (let i = 0; i < 8760; i++) {
      const t = start + i * HOUR;
      const x = w.at(t);
      const m = new Date(t + 8 * HOUR).getUTCMonth();
      monthMean[m]! += x.temperatureC;
      monthN[m]!++;
      ghi += x.ghiWhM2;
      const h = i % 24;
      if (h === 6) at6 += x.temperatureC;
      if (h === 15) at15 += x.temperatureC;
      if (h <= 4 || h >= 21) expect(x.ghiWhM2).toBe(0);
      expect(x.relativeHumidityPct).toBeGreaterThan(0);
      expect(x.relativeHumidityPct).toBeLessThanOrEqual(100);
      day += x.temperatureC;
      if (h === 23) {
        daily.push(day / 24);
        day = 0;
      }
    }
    const jan = monthMean[0]! / monthN[0]!;
    const jul = monthMean[6]! / monthN[6]!;
    expect(jan).toBeGreaterThan(3);
    expect(jan).toBeLessThan(12);
    expect(jul).toBeGreaterThan(25);
    expect(jul).toBeLessThan(33);
    expect(at15 / 365).toBeGreaterThan(at6 / 365 + 3);
    // Annual irradiation near the TMYx's 1,215 kWh/m².
    expect(ghi / 1000).toBeGreaterThan(1000);
    expect(ghi / 1000).toBeLessThan(1450);
    // Day-to-day persistence: consecutive daily means are correlated.
    const d = daily.slice(1).map((v, i) => v - daily[i]!);
    const sdDiff = Math.sqrt(d.reduce((s, x) => s + x * x, 0) / d.length);
    expect(sdDiff).toBeLessThan(2.5);
    // Summer noon sun is higher than winter noon sun (solar geometry at 29.56 N), and it is cloudy.
    const lat = (29.56 * Math.PI) / 180;
    expect(clearSkyWh(lat, 106.58, 172, 12)).toBeGreaterThan(1.4 * clearSkyWh(lat, 106.58, 355, 12));
    expect(clearSkyWh(lat, 106.58, 172, 12)).toBeGreaterThan(800);
    expect(clearSkyWh(lat, 106.58, 172, 3)).toBe(0);
    let junNoon = 0;
    let decNoon = 0;
    for (let k = 0; k < 30; k++) {
      junNoon += w.at(local('2025-06-01T12:00:00') + k * 24 * HOUR).ghiWhM2;
      decNoon += w.at(local('2025-12-01T12:00:00') + k * 24 * HOUR).ghiWhM2;
    }
    expect(junNoon).toBeGreaterThan(decNoon);
    expect(junNoon / 30).toBeLessThan(clearSkyWh(lat, 106.58, 172, 12));
  });
});
