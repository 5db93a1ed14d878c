/**
 * `verifyReadingSeals` against tampering with the ledger itself, on the memory reading store and
 * the embedded (JSONL) registry whose file is edited the way someone with disk access would:
 * a seal record removed, a seal record changed, a day sealed again without an amendment, readings
 * slipped into a day of the sealed range that had none, and the filter by meter.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configWith, type MeterRef, type StoredReading } from '@wattproof/core';
import { createJsonlRegistryStore, JSONL_FILES } from '@wattproof/gateway/registry';
import {
  AMENDMENT_RECORD_KIND,
  createReadingSealer,
  digestDays,
  formatReadingSealReport,
  ingestConfigSchema,
  parseSeal,
  SEAL_RECORD_KIND,
  sealHash,
  verifyReadingSeals,
  type SealFields,
} from '@wattproof/ingest';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';

const H = 3_600_000;
const at = (local: string) => Date.parse(`${local}+08:00`);
const M1: MeterRef = { site: 'yz', building: 'tower', meter: 'm1' };
const M2: MeterRef = { site: 'yz', building: 'tower', meter: 'm2' };
const S1 = 'yz/tower/m1/electricity/interval';
const S2 = 'yz/tower/m2/electricity/interval';
const config = configWith(ingestConfigSchema, {});
const reading = (meter: MeterRef, ts: number, value = 1 + (ts / H) % 7): StoredReading => ({ ...meter, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts, value, intervalS: 3600 });
const hours = (meter: MeterRef, day: string) => Array.from({ length: 24 }, (_, h) => reading(meter, at(`${day}T00:00:00`) + h * H));

let dir: string;
let readings: ReturnType<typeof createMemoryReadingStore>;
let registry: ReturnType<typeof createJsonlRegistryStore>;
const now = at('2025-03-10T00:00:00');

async function reopenRegistry(edit: (lines: string[]) => string[]): Promise<void> {
  await registry.close();
  const file = join(dir, JSONL_FILES.records);
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
  await writeFile(file, `${edit(lines).join('\n')}\n`);
  registry = createJsonlRegistryStore({ dir });
  await registry.init();
}

/** The line index of a seal of `series`/`day` (version 1 unless given) in records.jsonl. */
const sealLine = (lines: string[], series: string, day: string, version = 1) =>
  lines.findIndex((l) => l.includes(`"${SEAL_RECORD_KIND}"`) && l.includes(`"day":"${day}"`) && l.includes(`"key":"${series}"`) && l.includes(`"version":${version},`));

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wattproof-seal-verify-'));
  readings = createMemoryReadingStore();
  registry = createJsonlRegistryStore({ dir });
  await registry.init();
  // m1: 1, 2 and 4 March (3 March empty); m2: 1 and 2 March.
  await readings.write([...hours(M1, '2025-03-01'), ...hours(M1, '2025-03-02'), ...hours(M1, '2025-03-04'), ...hours(M2, '2025-03-01'), ...hours(M2, '2025-03-02')]);
  const run = await createReadingSealer({ readings, registry, clock: () => now }, config).seal();
  expect(run.sealed).toHaveLength(5);
  expect((await verifyReadingSeals({ readings, registry })).problems).toEqual([]);
});

afterEach(async () => {
  await registry.close();
  await readings.close();
  await rm(dir, { recursive: true, force: true });
});

describe('verifyReadingSeals', () => {
  it('detects a seal record removed from the middle of a chain', async () => {
    await reopenRegistry((lines) => lines.filter((_, i) => i !== sealLine(lines, S1, '2025-03-02')));
    const report = await verifyReadingSeals({ readings, registry });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.check, p.series, p.day])).toEqual([
      ['chain', S1, '2025-03-04'],
      ['unsealed', S1, '2025-03-02'],
    ]);
    expect(report.problems[0]!.message).toContain('seq 3');
    expect(report.problems[0]!.message).toContain('a seal record is missing or was changed');
    expect(report.problems[1]!.message).toContain('24 readings stored inside the sealed range');
  });

  it('detects a seal record whose root was rewritten to match altered readings', async () => {
    const victim = reading(M2, at('2025-03-01T07:00:00'));
    await readings.write([{ ...victim, value: 99 }]);
    const [forged] = digestDays(await readings.query({ ...M2, from: at('2025-03-01T00:00:00'), to: at('2025-03-02T00:00:00') }), 'Asia/Shanghai');
    await reopenRegistry((lines) => {
      const i = sealLine(lines, S2, '2025-03-01');
      const out = [...lines];
      out[i] = out[i]!.replace(/"root":"[0-9a-f]{64}"/, `"root":"${forged!.root}"`);
      return out;
    });
    const report = await verifyReadingSeals({ readings, registry });
    // The root now matches the store, but the seal's own hash gives it away.
    expect(report.problems).toEqual([expect.objectContaining({ check: 'chain', series: S2, day: '2025-03-01', message: expect.stringContaining('its hash does not match its fields') })]);
  });

  it('detects a day sealed again without an amendment record (a forged re-seal)', async () => {
    const victim = reading(M1, at('2025-03-01T07:00:00'));
    await readings.write([{ ...victim, value: 99 }]);
    const [day] = digestDays(await readings.query({ ...M1, from: at('2025-03-01T00:00:00'), to: at('2025-03-02T00:00:00') }), 'Asia/Shanghai');
    const head = parseSeal((await registry.listRecords({ kind: SEAL_RECORD_KIND, key: S1, limit: 1 }))[0]!.body)!;
    const fields: SealFields = { ...head, day: day!.day, fromMs: day!.fromMs, toMs: day!.toMs, readings: day!.readings, root: day!.root, version: 2, seq: head.seq + 1, prev: head.hash, amendments: 1, sealedAtMs: now + 1 };
    await registry.appendRecords([{ kind: SEAL_RECORD_KIND, key: S1, recordedAtMs: now + 1, body: { ...fields, hash: sealHash(fields) } }]);
    const report = await verifyReadingSeals({ readings, registry });
    expect(report.problems).toEqual([
      expect.objectContaining({ check: 'amendment', series: S1, day: '2025-03-01', message: 'day 2025-03-01: sealed again (version 2) without an amendment record of that day' }),
    ]);
  });

  it('detects readings slipped into an empty day inside the sealed range, and before the first sealed day', async () => {
    await readings.write([reading(M1, at('2025-03-03T12:00:00')), reading(M2, at('2025-02-27T12:00:00'))]);
    const report = await verifyReadingSeals({ readings, registry });
    expect(report.problems.map((p) => [p.check, p.series, p.day, p.stored?.readings])).toEqual([
      ['unsealed', S1, '2025-03-03', 1],
      ['unsealed', S2, '2025-02-27', 1],
    ]);
    expect(formatReadingSealReport(report)).toMatch(/\[unsealed\] yz\/tower\/m1\/electricity\/interval: day 2025-03-03: 1 readings stored inside the sealed range[^\n]*\n[\s\S]*Result: FAILED \(2 differences\)\n$/);
  });

  it('fails a pending day whose stored value is not the amended one', async () => {
    const ts = at('2025-03-02T09:00:00');
    await readings.write([{ ...reading(M2, ts), value: 5.5 }]);
    const body = { format: 'wattproof.reading-amendment/1', series: { ...M2, quantity: 'electricity', kind: 'interval' }, unit: 'kWh', ts, value: 4.25, reason: 'correction', previousValue: reading(M2, ts).value, day: '2025-03-02', timeZone: 'Asia/Shanghai', source: 'ingest', receivedAtMs: now };
    await registry.appendRecords([{ kind: AMENDMENT_RECORD_KIND, key: S2, recordedAtMs: now, body }]);
    const mismatch = await verifyReadingSeals({ readings, registry });
    expect(mismatch.problems).toEqual([expect.objectContaining({ check: 'root', series: S2, day: '2025-03-02' })]);
    expect(mismatch.pending).toEqual([]);
    await readings.write([{ ...reading(M2, ts), value: 4.25 }]);
    const pending = await verifyReadingSeals({ readings, registry });
    expect(pending.problems).toEqual([]);
    expect(pending.pending).toEqual([expect.objectContaining({ series: S2, day: '2025-03-02', amendments: 1 })]);
  });

  it('reports unreadable seal records', async () => {
    await reopenRegistry((lines) => {
      const i = sealLine(lines, S2, '2025-03-02');
      const out = [...lines];
      out[i] = out[i]!.replace(/"seq":\d+/, '"seq":"two"');
      return out;
    });
    const report = await verifyReadingSeals({ readings, registry });
    expect(report.problems.map((p) => p.check)).toContain('record');
    expect(report.problems.find((p) => p.check === 'record')!.series).toBe(S2);
  });

  it('checks only the meter asked for, and lists series without seals', async () => {
    await readings.write([reading(M2, at('2025-03-01T07:00:00'), 42), { ...reading({ ...M1, meter: 'm3' }, at('2025-03-09T07:00:00')) }]);
    const m1 = await verifyReadingSeals({ readings, registry }, M1);
    expect(m1).toMatchObject({ ok: true, series: 1, seals: 3, unsealedSeries: [] });
    const all = await verifyReadingSeals({ readings, registry }, { site: 'yz' });
    expect(all.problems.map((p) => [p.series, p.day])).toEqual([[S2, '2025-03-01']]);
    expect(all.unsealedSeries).toEqual(['yz/tower/m3/electricity/interval']);
    await expect(verifyReadingSeals({ readings, registry }, { site: 'a/b' })).rejects.toMatchObject({ code: 'INGEST_SEAL_INPUT_INVALID' });
  });
});
