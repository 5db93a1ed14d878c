import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredReading } from '@wattproof/core';
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

  it('rejects calls after close with STORE_UNAVAILABLE', async () => {
    const store = createDuckDbReadingStore({ path: ':memory:' });
    await store.init();
    await store.close();
    await expect(store.query({ site: 'a', building: 'b', meter: 'c', from: 0, to: 1 })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
    expect(await store.ping()).toBe(false);
  });
});
