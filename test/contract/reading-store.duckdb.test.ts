import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, DuckDBTimestampTZValue } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, type StoredReading } from '@wattproof/core';
import { createDuckDbReadingStore } from '@wattproof/ingest/stores';
import { describeReadingStore } from './reading-store.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wattproof-duckdb-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// The parent directory does not exist yet: the adapter creates it.
describeReadingStore('duckdb (file)', () => createDuckDbReadingStore({ path: join(dir, 'data', 'readings.duckdb') }));
describeReadingStore('duckdb (:memory:)', () => createDuckDbReadingStore({ path: ':memory:' }));

describe('duckdb reading store file', () => {
  it('keeps readings across close and reopen', async () => {
    const path = join(dir, 'reopen', 'readings.duckdb');
    const rows: StoredReading[] = Array.from({ length: 500 }, (_, i) => ({
      site: 'reopen',
      building: 'b',
      meter: 'm',
      quantity: 'electricity',
      kind: 'interval',
      unit: 'kWh',
      ts: Date.parse('2026-01-01T00:00:00Z') + i * 900_000,
      value: i / 3,
      intervalS: 900,
    }));
    const first = createDuckDbReadingStore({ path });
    await first.init();
    await first.write(rows);
    await first.close();
    expect((await stat(path)).isFile()).toBe(true);

    const second = createDuckDbReadingStore({ path });
    try {
      await second.init();
      const got = await second.query({ site: 'reopen', building: 'b', meter: 'm', from: 0, to: Date.parse('2027-01-01T00:00:00Z') });
      expect(got).toEqual(rows);
      expect(await second.listSeries()).toEqual([{ site: 'reopen', building: 'b', meter: 'm', quantity: 'electricity', kind: 'interval', unit: 'kWh' }]);
    } finally {
      await second.close();
    }
  });

  it('numbers series once: batches interleaving series, repeated keys, new series after a reopen', async () => {
    const path = join(dir, 'series-ids', 'readings.duckdb');
    const ts0 = Date.parse('2026-05-01T00:00:00Z');
    const r = (meter: string, quantity: 'electricity' | 'gas', i: number, value: number): StoredReading => ({
      site: 'ids', building: 'b', meter, quantity, kind: 'interval', unit: quantity === 'gas' ? 'm3' : 'kWh', ts: ts0 + i * 900_000, value, intervalS: 900,
    });
    // One batch: meters alternating reading by reading, two quantities of one meter, the same key
    // three times (the last one counts), a series again after others came in between.
    const batch = [r('m1', 'electricity', 0, 1), r('m2', 'electricity', 0, 2), r('m1', 'gas', 0, 3), r('m1', 'electricity', 1, 4), r('m1', 'electricity', 0, 5), r('m2', 'electricity', 0, 6), r('m1', 'electricity', 0, 7)];
    const range = { from: 0, to: ts0 + 86_400_000 };
    const first = createDuckDbReadingStore({ path });
    try {
      await first.write(batch);
      expect(await first.query({ site: 'ids', building: 'b', meter: 'm1', ...range })).toEqual([r('m1', 'electricity', 0, 7), r('m1', 'gas', 0, 3), r('m1', 'electricity', 1, 4)]);
      expect(await first.query({ site: 'ids', building: 'b', meter: 'm2', ...range })).toEqual([r('m2', 'electricity', 0, 6)]);
    } finally {
      await first.close();
    }
    const second = createDuckDbReadingStore({ path });
    try {
      await second.write([r('m3', 'electricity', 0, 8), r('m2', 'electricity', 1, 9)]);
      expect(await second.query({ site: 'ids', building: 'b', meter: 'm2', ...range })).toEqual([r('m2', 'electricity', 0, 6), r('m2', 'electricity', 1, 9)]);
      expect(await second.query({ site: 'ids', building: 'b', meter: 'm3', ...range })).toEqual([r('m3', 'electricity', 0, 8)]);
      expect(await second.listSeries({ site: 'ids' })).toHaveLength(4);
    } finally {
      await second.close();
    }
    // Each series has one id, numbered from 1 in order of first appearance.
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    try {
      const rows = (await conn.runAndReadAll('SELECT id, meter, quantity FROM series ORDER BY id')).getRows();
      expect(rows).toEqual([[1, 'm1', 'electricity'], [2, 'm2', 'electricity'], [3, 'm1', 'gas'], [4, 'm3', 'electricity']]);
      expect((await conn.runAndReadAll('SELECT count(*)::INTEGER FROM reading_rows')).getRows()).toEqual([[6]]);
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  });

  it('migrates a file of the first layout (readings keyed by the five ids) to series ids, keeping every reading', async () => {
    const path = join(dir, 'v1', 'readings.duckdb');
    const ts0 = Date.parse('2026-03-01T00:00:00Z');
    const kwh = (building: string, i: number, value: number): StoredReading => ({
      site: 'v1', building, meter: 'm.1', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: ts0 + i * 900_000, value, intervalS: 900,
    });
    const temp = (i: number): StoredReading => ({ site: 'v1', building: 'b', meter: 'm.1', quantity: 'outdoor_temperature', kind: 'instant', unit: '°C', ts: ts0 + i * 3_600_000, value: 10 + i / 4 });
    const old = [...Array.from({ length: 96 }, (_, i) => kwh('b', i, i / 8)), ...Array.from({ length: 24 }, (_, i) => temp(i)), ...Array.from({ length: 10 }, (_, i) => kwh('a', i, 100 + i))];
    // The file as the store wrote it before series ids (schema verbatim from that version).
    await mkdir(join(dir, 'v1'), { recursive: true });
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    await conn.run(`SET TimeZone = 'UTC'`);
    await conn.run(`CREATE TABLE readings (
      site VARCHAR NOT NULL, building VARCHAR NOT NULL, meter VARCHAR NOT NULL, quantity VARCHAR NOT NULL, kind VARCHAR NOT NULL,
      ts TIMESTAMPTZ NOT NULL, unit VARCHAR NOT NULL, value DOUBLE NOT NULL, interval_s INTEGER,
      PRIMARY KEY (site, building, meter, quantity, kind, ts))`);
    const appender = await conn.createAppender('readings');
    for (const r of old) {
      for (const v of [r.site, r.building, r.meter, r.quantity, r.kind]) appender.appendVarchar(v);
      appender.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(r.ts) * 1000n));
      appender.appendVarchar(r.unit);
      appender.appendDouble(r.value);
      if (r.intervalS === undefined) appender.appendNull();
      else appender.appendInteger(r.intervalS);
      appender.endRow();
    }
    appender.closeSync();
    conn.closeSync();
    instance.closeSync();

    const logged: Array<{ obj: unknown; msg: string | undefined }> = [];
    const logger = { ...silentLogger, info: (obj: object | string, msg?: string) => void logged.push({ obj, msg }) };
    const store = createDuckDbReadingStore({ path, logger });
    const range = { from: 0, to: Date.parse('2027-01-01T00:00:00Z') };
    const byTs = (a: StoredReading, b: StoredReading) => a.ts - b.ts || a.quantity.localeCompare(b.quantity);
    try {
      await store.init();
      // The operator is told before the copy starts and after it finished.
      expect(logged).toEqual([
        { obj: { path, readings: old.length }, msg: expect.stringMatching(/migrating to series ids/) },
        { obj: { path, readings: old.length, series: 3, durationMs: expect.any(Number) }, msg: expect.stringMatching(/migrated to series ids/) },
      ]);
      expect(await store.query({ site: 'v1', building: 'b', meter: 'm.1', ...range })).toEqual(old.filter((r) => r.building === 'b').sort(byTs));
      expect(await store.query({ site: 'v1', building: 'a', meter: 'm.1', ...range })).toEqual(old.filter((r) => r.building === 'a'));
      expect(await store.latest({ site: 'v1', building: 'b' })).toEqual([old[95], old[119]]);
      const hours = await store.aggregate({ site: 'v1', building: 'b', meter: 'm.1', quantity: 'electricity', kind: 'interval', bucket: '1h', tz: 'UTC', ...range });
      expect(hours.map((h) => h.sum)).toEqual(Array.from({ length: 24 }, (_, h) => [0, 1, 2, 3].reduce((s, q) => s + (h * 4 + q) / 8, 0)));
      // Last write wins over a migrated reading; a new series is numbered after the migrated ones.
      await store.write([kwh('b', 0, 42), kwh('c', 0, 7)]);
      expect((await store.query({ site: 'v1', building: 'b', meter: 'm.1', quantity: 'electricity', ...range, limit: 1 }))[0]!.value).toBe(42);
      expect(await store.query({ site: 'v1', building: 'c', meter: 'm.1', ...range })).toEqual([kwh('c', 0, 7)]);
    } finally {
      await store.close();
    }
    // Opened again: already migrated, nothing changes and nothing is said.
    const again = createDuckDbReadingStore({ path, logger });
    try {
      await again.init();
      expect(logged).toHaveLength(2);
      expect(await again.listSeries({ site: 'v1' })).toHaveLength(4);
      expect(await again.query({ site: 'v1', building: 'b', meter: 'm.1', quantity: 'electricity', ...range })).toHaveLength(96);
    } finally {
      await again.close();
    }
  });

  it('rejects calls after close with STORE_UNAVAILABLE', async () => {
    const store = createDuckDbReadingStore({ path: ':memory:' });
    await store.init();
    await store.close();
    await expect(store.query({ site: 'a', building: 'b', meter: 'c', from: 0, to: 1 })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
    expect(await store.ping()).toBe(false);
  });
});
