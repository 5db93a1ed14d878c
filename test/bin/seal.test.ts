/**
 * `wattproof seal` and `wattproof verify readings` as processes on the embedded stores: sealing
 * is idempotent, verification exits 0 on untouched readings and 1 naming the series and day of
 * a reading altered in the DuckDB file, with --json for machines.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type StoredReading } from '@wattproof/core';
import { createReadingStore, readingStoreConfigSchema, EMBEDDED_READINGS_FILE } from '@wattproof/ingest/stores';
import { runCli } from '../support/processes.js';

const H = 3_600_000;
const at = (local: string) => Date.parse(`${local}+08:00`);

let root: string;
let env: Record<string, string>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wattproof-seal-cli-'));
  env = { WATTPROOF_DATA_DIR: join(root, 'data'), READINGS_STORE: 'embedded', REGISTRY_STORE: 'embedded', LOG_LEVEL: 'silent' };
  const readings = createReadingStore(loadConfig(readingStoreConfigSchema, env));
  await readings.init();
  const rows: StoredReading[] = [];
  for (const meter of ['m1', 'm2']) {
    for (let t = at('2025-03-01T00:00:00'); t < at('2025-03-04T00:00:00'); t += H) {
      rows.push({ site: 'yz', building: 'tower', meter, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, value: ((t / H) % 11) + 0.5, intervalS: 3600 });
    }
  }
  await readings.write(rows);
  await readings.close();
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

// Each test starts a few CLI processes (tsx): give them room on a loaded machine.
describe('wattproof seal / verify readings', { timeout: 180_000 }, () => {
  it('are listed in the command help', async () => {
    const r = await runCli(['--help'], env);
    expect(r.stdout).toMatch(/^ {2}seal +Seal the closed days/m);
    const help = await runCli(['verify', 'readings', '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: wattproof verify readings');
  });

  it('seals the closed days once; a second run seals nothing', async () => {
    const partial = await runCli(['seal', '--site', 'yz', '--building', 'tower', '--meter', 'm1', '--until', '2025-03-03'], env);
    expect(partial.code, partial.stderr).toBe(0);
    expect(partial.stdout).toContain('Sealed 2 day(s) of 1 series');
    const first = await runCli(['seal', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout) as { series: number; sealed: Array<{ series: string; day: string; version: number; readings: number }> };
    expect(report.series).toBe(2);
    expect(report.sealed.map((s) => `${s.series} ${s.day} v${s.version} ${s.readings}`)).toEqual([
      'yz/tower/m1/electricity/interval 2025-03-03 v1 24',
      'yz/tower/m2/electricity/interval 2025-03-01 v1 24',
      'yz/tower/m2/electricity/interval 2025-03-02 v1 24',
      'yz/tower/m2/electricity/interval 2025-03-03 v1 24',
    ]);
    const again = await runCli(['seal'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Sealed 0 day(s) of 2 series');
  });

  it('verify readings exits 0 on untouched readings', async () => {
    const r = await runCli(['verify', 'readings'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('2 series with seals, 6 seals, 6 sealed days, 144 stored readings checked');
    expect(r.stdout).toContain('Result: OK');
  });

  it('verify readings exits 1 and names the series and day of a reading altered in the store file', async () => {
    const instance = await DuckDBInstance.create(join(root, 'data', EMBEDDED_READINGS_FILE));
    const conn = await instance.connect();
    await conn.run(`UPDATE readings SET value = value + 1 WHERE series = (SELECT id FROM series WHERE meter = 'm2') AND ts = make_timestamptz(CAST(${at('2025-03-02T13:00:00')} AS BIGINT) * 1000)`);
    conn.closeSync();
    instance.closeSync();

    const r = await runCli(['verify', 'readings'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\[root\] yz\/tower\/m2\/electricity\/interval: day 2025-03-02: a reading differs from the sealed one \(sealed 24 readings, root [0-9a-f]{64}; stored 24 readings, root [0-9a-f]{64}\)/);
    expect(r.stdout).toContain('Result: FAILED (1 difference)');
    const json = await runCli(['verify', 'readings', '--json'], env);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, problems: [{ check: 'root', series: 'yz/tower/m2/electricity/interval', day: '2025-03-02' }] });
    // Scoped to the other meter, everything matches.
    expect((await runCli(['verify', 'readings', '--site', 'yz', '--building', 'tower', '--meter', 'm1'], env)).code).toBe(0);
  });

  it('rejects bad arguments', async () => {
    expect((await runCli(['verify', 'readings', '--meter', 'm1'], env)).code).toBe(2);
    const until = await runCli(['seal', '--until', '2025-3-1'], env);
    expect(until.code).toBe(1);
    expect(until.stderr).toContain('INGEST_SEAL_INPUT_INVALID');
  });
});
