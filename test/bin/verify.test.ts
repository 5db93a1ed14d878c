/**
 * `wattproof report keygen`, `wattproof report pack` and `wattproof verify` end to end on the
 * embedded stores: a pack verifies from the stores and from its export alone; an altered CSV
 * line and a wrong public key make `verify` exit 1 and say what differs.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMvJobs } from '@wattproof/analytics';
import { loadConfig, type StoredReading } from '@wattproof/core';
import { createRegistryStore, registryConfigSchema } from '@wattproof/gateway/registry';
import { createReadingStore, readingStoreConfigSchema } from '@wattproof/ingest/stores';
import { chongqingTypicalYear, createBuildingModel } from '@wattproof/simulators';
import { runCli } from '../support/processes.js';

const H = 3_600_000;
const at = (date: string) => Date.parse(`${date}T00:00:00+08:00`);

let root: string;
let env: Record<string, string>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wattproof-verify-'));
  env = { WATTPROOF_DATA_DIR: join(root, 'data'), READINGS_STORE: 'embedded', REGISTRY_STORE: 'embedded', LOG_LEVEL: 'silent', REPORT_SIGNING_KEY_FILE: join(root, 'keys', 'pack-signing-key.pem') };
  const readings = createReadingStore(loadConfig(readingStoreConfigSchema, env));
  const registry = createRegistryStore(loadConfig(registryConfigSchema, env));
  await readings.init();
  await registry.init();
  try {
    const meter = { site: 'cq', building: 'office', meter: 'main' };
    const outdoor = { site: 'cq', building: 'office', meter: 'outdoor' };
    await registry.upsertSite({ id: 'cq', timezone: 'Asia/Shanghai' });
    await registry.upsertBuilding({ site: 'cq', id: 'office', type: 'office_b', floorAreaM2: 8_000 });
    await registry.upsertMeter({ ...meter, quantity: 'electricity' });
    const weather = chongqingTypicalYear();
    const model = createBuildingModel({ id: 'cq-office', archetype: 'office_b', floorAreaM2: 8_000, seed: 11, retrofits: [{ id: 'led', description: 'LED and controls', from: '2025-01-01', target: 'total', saving: 0.08 }] }, weather);
    const rows: StoredReading[] = [];
    for (let t = at('2024-01-01'); t < at('2025-07-01'); t += H) {
      rows.push({ ...meter, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, intervalS: 3600, value: Math.round(model.hour(t).main * 100) / 100 });
      rows.push({ ...outdoor, quantity: 'outdoor_temperature', kind: 'instant', unit: '°C', ts: t, value: Math.round(weather.at(t).temperatureC * 10) / 10 });
    }
    await readings.write(rows);
    await createMvJobs({ readings, registry, clock: () => at('2025-07-02') }).run({ meter, temperatureMeter: outdoor, baseline: { start: '2024-01-02', end: '2025-01-01' }, reporting: { start: '2025-01-01', end: '2025-07-01' } });
  } finally {
    await readings.close();
    await registry.close();
  }
}, 120_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('wattproof report pack / verify', () => {
  const out = () => join(root, 'pack');

  it('creates a signing key with a private file only its owner reads', async () => {
    const r = await runCli(['report', 'keygen', '--out', join(root, 'keys')], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/fingerprint: sha256:[0-9a-f]{64}/);
    expect((await stat(env.REPORT_SIGNING_KEY_FILE!)).mode & 0o777).toBe(0o600);
    const again = await runCli(['report', 'keygen', '--out', join(root, 'keys')], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('--force');
  });

  it('writes a pack that verifies from the stores and from the export alone', async () => {
    const r = await runCli(['report', 'pack', '--building', 'cq/office', '--from', '2025-01-01', '--to', '2025-07-01', '--as-of', '2025-07-03T00:00:00+08:00', '--out', out(), '--format', 'json,html,csv,parquet', '--lang', 'en'], env, 120_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('1 M&V result(s), 2 series');
    const pub = join(root, 'keys', 'pack-signing-key.pub.pem');
    const fromStores = await runCli(['verify', join(out(), 'pack.json'), '--public-key', pub], env, 120_000);
    expect(fromStores.code, fromStores.stdout + fromStores.stderr).toBe(0);
    expect(fromStores.stdout).toContain('Result: OK');
    expect(fromStores.stdout).toContain('the configured stores');
    const fromExport = await runCli(['verify', join(out(), 'pack.json'), '--data', out(), '--public-key', pub, '--json'], env, 120_000);
    expect(fromExport.code, fromExport.stdout + fromExport.stderr).toBe(0);
    const report = JSON.parse(fromExport.stdout) as { ok: boolean; source: string; checked: { readings: number } };
    expect(report).toMatchObject({ ok: true, source: 'export' });
    expect(report.checked.readings).toBeGreaterThan(2 * 13_000);
  }, 300_000);

  it('fails on an altered CSV line and names the day', async () => {
    const pack = JSON.parse(await readFile(join(out(), 'pack.json'), 'utf8')) as { inputs: Array<{ file: string }> };
    const file = join(out(), pack.inputs[1]!.file);
    const text = await readFile(file, 'utf8');
    const ts = at('2025-02-10') + 14 * H;
    const tampered = text.replace(new RegExp(`(,${ts},)([^,]+),`), (_m, a: string, v: string) => `${a}${Number(v) + 5},`);
    expect(tampered).not.toBe(text);
    await writeFile(file, tampered);
    try {
      const r = await runCli(['verify', join(out(), 'pack.json'), '--data', out()], env, 120_000);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('Result: FAILED');
      expect(r.stdout).toMatch(/inputs\[1\]\.days\[\d+\]\.root: series cq\/office\/outdoor\/outdoor_temperature\/instant@\S+ \(cq\/office\/outdoor outdoor_temperature instant\), day 2025-02-10: Merkle root differs/);
      expect(r.stdout).toContain('inputs[1].fileSha256');
      expect(r.stdout).toContain('mv[0].inputsDigest');
      expect(r.stdout).toContain('no trusted public key given');
    } finally {
      await writeFile(file, text);
    }
  }, 120_000);

  it('fails with a wrong public key', async () => {
    const other = join(root, 'other-keys');
    expect((await runCli(['report', 'keygen', '--out', other], env)).code).toBe(0);
    const r = await runCli(['verify', join(out(), 'pack.json'), '--data', out(), '--public-key', join(other, 'pack-signing-key.pub.pem')], env, 120_000);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Signature: INVALID');
    expect(r.stdout).toMatch(/signer\.publicKey: the pack was signed with key sha256:[0-9a-f]{64}, not with the trusted key sha256:[0-9a-f]{64}/);
  }, 120_000);

  it('refuses bad arguments and a file that is not a pack', async () => {
    const r = await runCli(['report', 'pack', '--building', 'cq', '--from', '2025-01-01', '--out', out()], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--building must be SITE/BUILDING');
    expect(r.stderr).toContain('--to is required');
    await writeFile(join(root, 'not-a-pack.json'), '{"format":"other"}');
    const v = await runCli(['verify', join(root, 'not-a-pack.json'), '--data', out()], env);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain('PACK_INVALID');
  }, 60_000);
});
