/**
 * Verifiable report packs: the Merkle encoding against a hand-computed root, and a building pack
 * from a simulated hospital with a known −10 % retrofit that verifies from the stores and from
 * the export alone — and tampering that is caught with the exact difference: a figure in the
 * JSON, a stored reading, a line of the CSV export, a wrong public key.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createMvJobs } from '@wattproof/analytics';
import type { StoredReading } from '@wattproof/core';
import {
  assembleBuildingPack,
  createAccessControl,
  createApiServer,
  EMPTY_ROOT,
  generateSigner,
  leafLine,
  merkleRoot,
  leafHash,
  parsePack,
  qualityOf,
  renderPackHtml,
  rootsOfLines,
  verifyPack,
  writePackFiles,
  type AssembledPack,
  type Pack,
} from '@wattproof/dashboards';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createMemoryReadingStore } from '@wattproof/ingest';
import { chongqingTypicalYear, createBuildingModel, type BuildingSpec } from '@wattproof/simulators';

const H = 3_600_000;
const at = (date: string) => Date.parse(`${date}T00:00:00+08:00`);

describe('Merkle encoding (wattproof.leaf/1, wattproof.merkle/1)', () => {
  const key = { site: 'yz', building: 'tower-a', meter: 'main', quantity: 'electricity', kind: 'interval', unit: 'kWh' } as const;
  const lines = [
    leafLine(key, { ts: 1735660800000, value: 12.5, intervalS: 3600 }),
    leafLine(key, { ts: 1735664400000, value: 0.1, intervalS: 3600 }),
    leafLine({ site: 'yz', building: 'tower-a', meter: 'outdoor', quantity: 'outdoor_temperature', kind: 'instant', unit: '°C' }, { ts: 1735660800000, value: -3.25 }),
  ];

  it('encodes readings as canonical lines', () => {
    expect(lines).toEqual([
      'yz,tower-a,main,electricity,interval,kWh,1735660800000,12.5,3600',
      'yz,tower-a,main,electricity,interval,kWh,1735664400000,0.1,3600',
      'yz,tower-a,outdoor,outdoor_temperature,instant,°C,1735660800000,-3.25,',
    ]);
    expect(leafLine(key, { ts: 0, value: 0.1 + 0.2, intervalS: 900 })).toBe('yz,tower-a,main,electricity,interval,kWh,0,0.30000000000000004,900');
    expect(leafLine(key, { ts: 0, value: -0, intervalS: 900 })).toBe('yz,tower-a,main,electricity,interval,kWh,0,0,900');
  });

  it('gives the root computed by hand for three leaves (odd leaf promoted)', () => {
    // Computed independently (Python hashlib): leaf = sha256(0x00 ‖ line), node = sha256(0x01 ‖ l ‖ r), root = node(node(l0, l1), l2).
    const leaves = lines.map(leafHash);
    expect(leaves.map((l) => l.toString('hex'))).toEqual([
      '1e8a518b18a7e3f8a0e0d0547c68d95c11f7d70d5164c32497d1e682894a237c',
      '835473667f90cc91e7a9e4f610f2bcc4d5351b13a2f9bd86f5bb6a0da6855137',
      '1a2e95e8f93dd1afc3f940128d57d45b317236483c1909c36de5dce8cca37b13',
    ]);
    expect(merkleRoot(leaves)).toBe('dfdb1b5a50aa27e5e1f2adcb4f02eb5b8ef4811b56034b1811d82614ab84dc10');
    const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
    const byHand = sha(Buffer.from([1]), sha(Buffer.from([1]), leaves[0]!, leaves[1]!), leaves[2]!).toString('hex');
    expect(merkleRoot(leaves)).toBe(byHand);
    expect(merkleRoot([leaves[0]!])).toBe(leaves[0]!.toString('hex'));
    expect(merkleRoot([])).toBe(EMPTY_ROOT);
  });

  it('splits roots by local day', () => {
    const ts = [at('2025-01-01'), at('2025-01-01') + H, at('2025-01-02')];
    const r = rootsOfLines(lines, ts, 'Asia/Shanghai');
    expect(r.days.map((d) => [d.date, d.readings])).toEqual([['2025-01-01', 2], ['2025-01-02', 1]]);
    expect(r.days[0]!.root).toBe(merkleRoot([leafHash(lines[0]!), leafHash(lines[1]!)]));
  });

  it('states coverage, gaps and imputed temperature hours', () => {
    const from = at('2025-01-01');
    const interval = qualityOf({ id: 's', kind: 'interval', quantity: 'electricity', from, to: from + 10 * H }, [0, 1, 2, 5, 6, 7, 8, 9].map((h) => ({ ts: from + h * H, value: h === 8 ? 0 : 1, intervalS: 3600 })), { from, to: from + 10 * H });
    expect(interval).toMatchObject({ readings: 8, coverage: 0.8, gaps: 1, missingHours: 2, longestGap: { from: from + 3 * H, to: from + 5 * H }, imputedShare: 0, zeros: 1 });
    const temps = qualityOf({ id: 't', kind: 'instant', quantity: 'outdoor_temperature', from, to: from + 20 * H }, [0, 1, 4, 5, 6, 7, 8, 9, 10, 11].map((h) => ({ ts: from + h * H, value: 5 })), { from, to: from + 20 * H });
    // Hours 2–3 are a 2 h gap between readings (interpolated); 12–19 run to the end (missing).
    expect(temps).toMatchObject({ readings: 10, coverage: 0.5, gaps: 2, missingHours: 10, imputedShare: 0.1 });
  });
});

describe('a building pack from a simulated building with known savings', () => {
  const meter = { site: 'sim', building: 'hospital', meter: 'main' };
  const outdoor = { site: 'sim', building: 'hospital', meter: 'outdoor' };
  const readings = createMemoryReadingStore();
  const registry = createMemoryRegistryStore();
  const RAN = at('2026-01-05');
  const signer = generateSigner();
  let trueAvoided = 0;
  let assembled: AssembledPack;
  let pack: Pack;
  let dir: string;

  beforeAll(async () => {
    await readings.init();
    await registry.init();
    await registry.upsertSite({ id: 'sim', timezone: 'Asia/Shanghai' });
    await registry.upsertBuilding({ site: 'sim', id: 'hospital', name: 'Simulated hospital', type: 'hospital', floorAreaM2: 20_000 });
    await registry.upsertMeter({ ...meter, quantity: 'electricity' });
    await registry.upsertMeter({ ...outdoor, quantity: 'outdoor_temperature' });
    const weather = chongqingTypicalYear();
    const spec: BuildingSpec = { id: 'sim-hospital', archetype: 'hospital', floorAreaM2: 20_000, seed: 505, retrofits: [{ id: 'r1', description: 'whole-building programme, −10 %', from: '2025-01-01', target: 'total', saving: 0.1 }] };
    const model = createBuildingModel(spec, weather);
    const rows: StoredReading[] = [];
    for (let t = at('2024-01-01'); t < at('2026-01-01'); t += H) {
      const h = model.hour(t);
      if (t >= at('2025-01-01')) trueAvoided += h.counterfactualMain - h.main;
      rows.push({ ...meter, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, intervalS: 3600, value: Math.round(h.main * 1000) / 1000 });
      rows.push({ ...outdoor, quantity: 'outdoor_temperature', kind: 'instant', unit: '°C', ts: t, value: Math.round(weather.at(t).temperatureC * 100) / 100 });
    }
    await readings.write(rows);
    const jobs = createMvJobs({ readings, registry, clock: () => RAN });
    await jobs.addAdjustment(meter, { event: 'new ward opened', start: '2025-10-01', end: '2025-11-01', method: 'per_day', amount: 50, evidence: 'works order WO-17', approver: 'verifier' });
    await jobs.run({ meter, temperatureMeter: outdoor, model: 'caltrack-daily', baseline: { start: '2024-01-02', end: '2025-01-01' }, reporting: { start: '2025-01-01', end: '2026-01-01' } });
    assembled = await assembleBuildingPack({ readings, registry, clock: () => RAN + H }, { site: 'sim', building: 'hospital', from: '2025-01-01', to: '2026-01-01' });
    dir = await mkdtemp(join(tmpdir(), 'wattproof-pack-'));
    ({ pack } = await writePackFiles(dir, assembled, signer, { formats: ['json', 'html', 'csv', 'parquet'], lang: 'en' }));
  }, 120_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const copy = (p: Pack) => JSON.parse(JSON.stringify(p)) as Pack;

  it('holds the figures, inputs, quality and lineage, with the known saving within its band', async () => {
    expect(pack.format).toBe('wattproof.pack/1');
    expect(pack.subject).toEqual({ kind: 'building', site: 'sim', building: 'hospital' });
    expect(pack.mv).toHaveLength(1);
    const m = pack.mv[0]!;
    expect(m.result.status).toBe('verified');
    const band = m.result.savings.uncertainty.find((u) => u.confidence === 0.9)!.absolute;
    expect(Math.abs(m.result.savings.avoided - trueAvoided)).toBeLessThan(band);
    expect(m.period.months).toHaveLength(12);
    expect(m.period.avoided).toBeCloseTo(m.result.savings.avoided, 6);
    expect(m.adjustments).toHaveLength(1);
    expect(m.result.savings.adjusted.applied).toEqual([m.adjustments[0]!.id]);
    expect(pack.inputs.map((s) => s.id)).toEqual(['sim/hospital/main/electricity/interval@2024-01-01', 'sim/hospital/outdoor/outdoor_temperature/instant@2024-01-01']);
    expect(pack.inputs[0]!.readings).toBe(2 * 8760 + 24); // 2024 is a leap year
    expect(pack.inputs[0]!.days).toHaveLength(731);
    expect(pack.dataQuality.map((q) => q.coverage)).toEqual([1, 1]);
    expect(pack.methods.length).toBeGreaterThan(0);
    expect(pack.referenceData.map((r) => r.id)).toContain(m.result.lineage.referenceData[0]!.id);
    expect(pack.records.map((r) => r.kind).sort()).toEqual(['mv.inputs', 'mv.result']);
    expect(pack.signer.fingerprint).toBe(signer.fingerprint);
    expect(pack.warnings).toEqual([]);
    // The file on disk is the signed pack.
    expect(parsePack(await readFile(join(dir, 'pack.json'), 'utf8'))).toEqual(pack);
    const html = await readFile(join(dir, 'pack.html'), 'utf8');
    expect(html).toContain(pack.signature.digest);
    expect(html).toContain(signer.fingerprint);
    expect((html.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(renderPackHtml(pack, 'zh-CN')).toContain('可验证');
  });

  it('verifies from the stores', async () => {
    const report = await verifyPack(pack, { kind: 'stores', readings, registry }, { publicKeyPem: signer.publicKeyPem });
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.signature).toMatchObject({ valid: true, trustedKey: true, fingerprint: signer.fingerprint });
    expect(report.checked.figures).toBeGreaterThan(100);
  }, 60_000);

  it('verifies from the export alone', async () => {
    const report = await verifyPack(parsePack(await readFile(join(dir, 'pack.json'), 'utf8')), { kind: 'export', dir }, { publicKeyPem: signer.publicKeyPem });
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checked.readings).toBe(pack.inputs.reduce((a, s) => a + s.readings, 0));
  }, 60_000);

  it('writes the same rows as Parquet', async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    const file = join(dir, pack.inputs[0]!.file.replace(/\.csv$/, '.parquet'));
    const rows = (await conn.runAndReadAll(`SELECT count(*), sum(value), min(ts), max(intervalS) FROM read_parquet('${file}')`)).getRows()[0]!;
    conn.closeSync();
    db.closeSync();
    const series = assembled.series.get(pack.inputs[0]!.id)!;
    expect(Number(rows[0])).toBe(series.readings.length);
    expect(rows[1]).toBeCloseTo(series.readings.reduce((a, r) => a + r.value!, 0), 6);
    expect(Number(rows[2])).toBe(series.readings[0]!.ts);
    expect(rows[3]).toBe(3600);
  });

  it('(a) a changed figure breaks the signature and shows its path', async () => {
    const tampered = copy(pack);
    const original = tampered.mv[0]!.result.savings.avoided;
    (tampered.mv[0]!.result.savings as { avoided: number }).avoided = original + 5000;
    const report = await verifyPack(tampered, { kind: 'export', dir }, { publicKeyPem: signer.publicKeyPem });
    expect(report.ok).toBe(false);
    expect(report.signature.valid).toBe(false);
    expect(report.differences).toContainEqual(expect.objectContaining({ check: 'signature', path: 'signature.value' }));
    expect(report.differences).toContainEqual(expect.objectContaining({ check: 'figures', path: 'mv[0].result.savings.avoided', pack: original + 5000, derived: original }));
    // Nothing else re-derives differently: the data are intact.
    expect(report.differences.filter((d) => d.check === 'figures').map((d) => d.path)).toEqual(['mv[0].result.savings.avoided']);
  }, 60_000);

  it('(b) a stored reading altered after the pack is named by series and day', async () => {
    const ts = at('2025-06-15') + 10 * H;
    const [before] = await readings.query({ ...meter, quantity: 'electricity', kind: 'interval', from: ts, to: ts + 1 });
    await readings.write([{ ...before!, value: before!.value + 1 }]);
    try {
      const report = await verifyPack(pack, { kind: 'stores', readings, registry }, { publicKeyPem: signer.publicKeyPem });
      expect(report.ok).toBe(false);
      expect(report.signature.valid).toBe(true);
      const day = pack.inputs[0]!.days.findIndex((d) => d.date === '2025-06-15');
      expect(report.differences).toContainEqual(expect.objectContaining({ check: 'inputs', path: 'inputs[0].root' }));
      const dayDiff = report.differences.find((d) => d.path === `inputs[0].days[${day}].root`);
      expect(dayDiff?.message).toContain('sim/hospital/main electricity interval');
      expect(dayDiff?.message).toContain('day 2025-06-15');
      expect(dayDiff?.pack).toBe(pack.inputs[0]!.days[day]!.root);
      // Only that day and the series root differ; the figures re-derive from the recorded inputs.
      expect(report.differences.map((d) => d.path).sort()).toEqual([`inputs[0].days[${day}].root`, 'inputs[0].root']);
    } finally {
      await readings.write([before!]);
    }
  }, 60_000);

  it('(c) an altered line of the CSV export is caught with its file, day and figures', async () => {
    const tamperedDir = await mkdtemp(join(tmpdir(), 'wattproof-pack-tampered-'));
    try {
      const s = pack.inputs[0]!;
      for (const x of pack.inputs) {
        const text = await readFile(join(dir, x.file), 'utf8');
        await mkdirp(join(tamperedDir, 'series'));
        await writeFile(join(tamperedDir, x.file), text);
      }
      const text = await readFile(join(dir, s.file), 'utf8');
      const lines = text.split('\n');
      const i = lines.findIndex((l) => l.includes(`,${at('2025-03-03') + 9 * H},`));
      const cells = lines[i]!.split(',');
      cells[7] = String(Number(cells[7]) * 3);
      lines[i] = cells.join(',');
      await writeFile(join(tamperedDir, s.file), lines.join('\n'));
      const report = await verifyPack(pack, { kind: 'export', dir: tamperedDir }, { publicKeyPem: signer.publicKeyPem });
      expect(report.ok).toBe(false);
      expect(report.signature.valid).toBe(true);
      const paths = report.differences.map((d) => d.path);
      expect(paths).toContain('inputs[0].fileSha256');
      expect(paths).toContain('inputs[0].root');
      const day = s.days.findIndex((d) => d.date === '2025-03-03');
      expect(report.differences.find((d) => d.path === `inputs[0].days[${day}].root`)?.message).toContain('day 2025-03-03');
      expect(paths).toContain('mv[0].inputsDigest');
      expect(paths).toContain('mv[0].result.savings.observed');
      expect(report.differences.filter((d) => d.path.startsWith('inputs[1]'))).toEqual([]);
    } finally {
      await rm(tamperedDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('(d) a wrong public key is refused', async () => {
    const other = generateSigner();
    const report = await verifyPack(pack, { kind: 'export', dir }, { publicKeyPem: other.publicKeyPem });
    expect(report.ok).toBe(false);
    expect(report.signature.valid).toBe(false);
    expect(report.differences).toContainEqual(expect.objectContaining({ check: 'signature', path: 'signer.publicKey', pack: signer.fingerprint, derived: other.fingerprint }));
    // A pack re-signed by someone else with their own key embedded fails against the trusted key too.
    const forged = copy(pack);
    (forged.mv[0]!.result.savings as { avoided: number }).avoided += 1;
    const reSigned = (await import('@wattproof/dashboards')).signPack(forged as never, other);
    const r2 = await verifyPack(reSigned, { kind: 'export', dir }, { publicKeyPem: signer.publicKeyPem });
    expect(r2.signature.valid).toBe(false);
    expect(r2.differences.map((d) => d.path)).toContain('mv[0].result.savings.avoided');
  }, 60_000);

  it('serves the signed pack over the API to an authorised key', async () => {
    const access = createAccessControl({ registry });
    const { key } = await access.createKey({ role: 'admin', label: 'pack test', createdBy: 'packs test' });
    const app = await createApiServer({ readings, registry, metrics: new Registry(), access, packSigner: signer, clock: () => RAN + H }, { console: false });
    try {
      const url = '/api/v1/packs/buildings/sim/hospital?from=2025-01-01&to=2026-01-01';
      expect((await app.inject({ method: 'GET', url })).statusCode).toBe(401);
      const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });
      expect(res.statusCode, res.body).toBe(200);
      const served = parsePack(res.body);
      expect(served.mv[0]!.result.savings.avoided).toBe(pack.mv[0]!.result.savings.avoided);
      expect(served.inputs.map((s) => s.root)).toEqual(pack.inputs.map((s) => s.root));
      expect((await verifyPack(served, { kind: 'stores', readings, registry }, { publicKeyPem: signer.publicKeyPem })).ok).toBe(true);
      const html = await app.inject({ method: 'GET', url: `${url}&format=html&lang=en`, headers: { authorization: `Bearer ${key}` } });
      expect(html.headers['content-type']).toContain('text/html');
      const missing = await app.inject({ method: 'GET', url: '/api/v1/packs/buildings/sim/hospital?from=2020-01-01&to=2021-01-01', headers: { authorization: `Bearer ${key}` } });
      expect(missing.statusCode).toBe(404);
      expect(missing.json().error.code).toBe('PACK_NO_RESULTS');
    } finally {
      await app.close();
    }
  }, 60_000);
});

async function mkdirp(path: string): Promise<void> {
  await (await import('node:fs/promises')).mkdir(path, { recursive: true });
}
