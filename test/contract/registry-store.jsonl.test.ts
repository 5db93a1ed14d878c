import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeDeadLetterPayload, hasCode, type Logger, type NewDeadLetter, type NewRecord, type Principal } from '@wattproof/core';
import { createJsonlRegistryStore } from '@wattproof/gateway/registry';
import { describeRegistryStore } from './registry-store.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'wattproof-registry-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

let sharedDir: string | undefined;
describeRegistryStore(
  'jsonl',
  async () => {
    sharedDir ??= await tempDir();
    // A nested path checks mkdir -p.
    return createJsonlRegistryStore({ dir: join(sharedDir, 'data', 'registry') });
  },
  { sharedAcrossInstances: true },
);

function recordingLogger(): Logger & { warnings: unknown[] } {
  const warnings: unknown[] = [];
  const noop = () => {};
  return { debug: noop, info: noop, error: noop, warn: (obj: object | string) => void warnings.push(obj), warnings };
}

const principal = (username: string): Principal => ({ username, role: 'service', secretHash: `scrypt$16384$8$1$c2FsdA$${username}`, createdAtMs: 1 });
const letter = (topic: string): NewDeadLetter => ({
  receivedAtMs: 1,
  source: 'gateway',
  topic,
  code: 'CONTRACT_PAYLOAD_NOT_JSON',
  reason: 'not JSON',
  ...encodeDeadLetterPayload('nope'),
});

const rec = (key: string, body: unknown = { v: 0.1 + 0.2 }, kind = 'mv.result'): NewRecord => ({ kind, key, recordedAtMs: 1_764_460_800_000, body });

describe('jsonl registry store: files', () => {
  it('skips a torn last line with a warning and starts the next append on a new line', async () => {
    const dir = await tempDir();
    const first = createJsonlRegistryStore({ dir });
    await first.putPrincipal(principal('svc-a'));
    await first.addDeadLetters([letter('wattproof/v1/s/b/m/readings')]);
    await first.close();
    // A crash mid-write leaves a fragment without its newline.
    await appendFile(join(dir, 'registry.jsonl'), '{"v":1,"at":2,"op":"principal","value":{"username":"svc-to');
    await appendFile(join(dir, 'dead-letters.jsonl'), '{"v":1,"at":2,"op":"dead-le');

    const logger = recordingLogger();
    const second = createJsonlRegistryStore({ dir, logger });
    await second.init();
    expect((await second.listPrincipals()).map((p) => p.username)).toEqual(['svc-a']);
    expect(await second.countDeadLetters()).toBe(1);
    await second.putPrincipal(principal('svc-b'));
    await second.addDeadLetters([letter('wattproof/v1/s/b/m2/readings')]);
    expect((await second.listPrincipals()).map((p) => p.username)).toEqual(['svc-a', 'svc-b']);
    expect((await second.listDeadLetters()).map((d) => d.topic)).toEqual(['wattproof/v1/s/b/m2/readings', 'wattproof/v1/s/b/m/readings']);
    expect(logger.warnings.length).toBeGreaterThanOrEqual(2);
    await second.close();

    const lines = (await readFile(join(dir, 'registry.jsonl'), 'utf8')).split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.filter((l) => l.startsWith('{"v":1,"at":2,"op":"principal","value":{"username":"svc-to'))).toEqual([
      '{"v":1,"at":2,"op":"principal","value":{"username":"svc-to',
    ]);

    const third = createJsonlRegistryStore({ dir });
    expect((await third.listPrincipals()).map((p) => p.username)).toEqual(['svc-a', 'svc-b']);
    expect(await third.countDeadLetters()).toBe(2);
    await third.close();
  });

  it('skips garbage lines and refuses records of a newer format version', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'registry.jsonl'), `not json\n\n${JSON.stringify({ v: 1, at: 1, op: 'site', value: { id: 'ok', timezone: 'Asia/Shanghai' } })}\n{"v":1,"at":1,"op":"site","value":{"name":"no id"}}\n`);
    const logger = recordingLogger();
    const s = createJsonlRegistryStore({ dir, logger });
    expect(await s.listSites()).toEqual([{ id: 'ok', timezone: 'Asia/Shanghai' }]);
    expect(logger.warnings).toHaveLength(2);
    await appendFile(join(dir, 'registry.jsonl'), `${JSON.stringify({ v: 2, at: 1, op: 'site', value: { id: 'new', timezone: 'UTC' } })}\n`);
    const err = await s.listSites().catch((e: unknown) => e);
    expect(hasCode(err, 'REGISTRY_CORRUPT')).toBe(true);
    await s.close();
  });

  it('reports REGISTRY_UNAVAILABLE when the directory cannot be created', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a-file'), 'x');
    const s = createJsonlRegistryStore({ dir: join(dir, 'a-file', 'registry') });
    const err = await s.init().catch((e: unknown) => e);
    expect(hasCode(err, 'REGISTRY_UNAVAILABLE')).toBe(true);
    expect((err as { retriable?: boolean }).retriable).toBe(true);
    await s.close();
  });

  it('keeps concurrent appends of two instances whole, with unique ids', async () => {
    const dir = await tempDir();
    const a = createJsonlRegistryStore({ dir });
    const b = createJsonlRegistryStore({ dir });
    await Promise.all([a.init(), b.init()]);
    const batches = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).addDeadLetters(Array.from({ length: 25 }, (_, j) => letter(`wattproof/v1/s/b/m${i}-${j}/readings`)))),
    );
    const ids = batches.flat().map((d) => d.id);
    expect(new Set(ids).size).toBe(1000);
    expect(await a.countDeadLetters()).toBe(1000);
    expect(await b.countDeadLetters()).toBe(1000);
    const listed = await b.listDeadLetters({ limit: 1000 });
    expect(listed.map((d) => d.id)).toEqual([...ids].sort().reverse());
    const lines = (await readFile(join(dir, 'dead-letters.jsonl'), 'utf8')).split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1000);
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    await a.close();
    await b.close();
  });

  it('indexes only the newest maxIndexedDeadLetters', async () => {
    const dir = await tempDir();
    const s = createJsonlRegistryStore({ dir, maxIndexedDeadLetters: 10 });
    const added = await s.addDeadLetters(Array.from({ length: 15 }, (_, i) => letter(`wattproof/v1/s/b/m${i}/readings`)));
    expect(await s.countDeadLetters()).toBe(10);
    expect((await s.listDeadLetters({ limit: 1000 })).map((d) => d.id)).toEqual(added.slice(5).map((d) => d.id).reverse());
    await s.close();
  });

  it('keeps dead-letter ids increasing when the clock steps back', async () => {
    const dir = await tempDir();
    let t = 2_000_000_000_000;
    const s = createJsonlRegistryStore({ dir, now: () => t });
    const [a] = await s.addDeadLetters([letter('wattproof/v1/s/b/m/readings')]);
    await s.close();
    t -= 60_000;
    const reopened = createJsonlRegistryStore({ dir, now: () => t });
    const [b] = await reopened.addDeadLetters([letter('wattproof/v1/s/b/m/readings')]);
    const [c] = await reopened.addDeadLetters([letter('wattproof/v1/s/b/m/readings')]);
    expect(b!.id > a!.id).toBe(true);
    expect(c!.id > b!.id).toBe(true);
    await reopened.close();
  });

  it('records: skips a torn last line of records.jsonl and starts the next append on a new line', async () => {
    const dir = await tempDir();
    const first = createJsonlRegistryStore({ dir });
    const [a] = await first.appendRecords([rec('s/b/m', { i: 1 })]);
    await first.close();
    await appendFile(join(dir, 'records.jsonl'), '{"v":1,"at":2,"op":"record","value":{"id":"9999999999999-000000-torn","kind":"mv.result","key":"s/b/m","recordedAtMs":1,"bo');

    const logger = recordingLogger();
    const second = createJsonlRegistryStore({ dir, logger });
    expect(await second.listRecords({ kind: 'mv.result' })).toEqual([a]);
    const [b] = await second.appendRecords([rec('s/b/m', { i: 2 })]);
    expect(await second.listRecords({ kind: 'mv.result' })).toEqual([b, a]);
    expect(logger.warnings.length).toBeGreaterThanOrEqual(1);
    await second.close();

    const lines = (await readFile(join(dir, 'records.jsonl'), 'utf8')).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]!.endsWith('"bo')).toBe(true);
    expect(JSON.parse(lines[2]!).value).toEqual(b);
    expect(lines[3]).toBe('');
    const third = createJsonlRegistryStore({ dir });
    expect(await third.listRecords({ kind: 'mv.result' })).toEqual([b, a]);
    expect(await third.getRecord('9999999999999-000000-torn')).toBeUndefined();
    await third.close();
  });

  it('records: an incomplete last line written by another process is read once it is complete', async () => {
    const dir = await tempDir();
    const s = createJsonlRegistryStore({ dir });
    await s.init();
    const line = JSON.stringify({ v: 1, at: 1, op: 'record', value: { id: '0000000000001-000000-other', kind: 'mv.result', key: 'k', recordedAtMs: 1, body: { x: [1, 2] } } });
    await appendFile(join(dir, 'records.jsonl'), line.slice(0, 40));
    expect(await s.listRecords({ kind: 'mv.result' })).toEqual([]);
    await appendFile(join(dir, 'records.jsonl'), `${line.slice(40)}\n`);
    expect(await s.listRecords({ kind: 'mv.result' })).toEqual([{ id: '0000000000001-000000-other', kind: 'mv.result', key: 'k', recordedAtMs: 1, body: { x: [1, 2] } }]);
    await s.close();
  });

  it('records: are not capped like dead letters, and skip lines with missing fields', async () => {
    const dir = await tempDir();
    const logger = recordingLogger();
    const s = createJsonlRegistryStore({ dir, logger, maxIndexedDeadLetters: 10 });
    const added = await s.appendRecords(Array.from({ length: 25 }, (_, i) => rec(`s/b/m${i % 3}`, { i })));
    expect(await s.listRecords({ kind: 'mv.result', limit: 1000 })).toEqual([...added].reverse());
    expect(await s.getRecord(added[0]!.id)).toEqual(added[0]);
    await appendFile(join(dir, 'records.jsonl'), `${JSON.stringify({ v: 1, at: 1, op: 'record', value: { id: 'x', kind: 'mv.result', key: 'k' } })}\n`);
    const reopened = createJsonlRegistryStore({ dir, logger });
    expect(await reopened.listRecords({ kind: 'mv.result', limit: 1000 })).toHaveLength(25);
    expect(logger.warnings.length).toBeGreaterThanOrEqual(1);
    await s.close();
    await reopened.close();
  });

  it('records: concurrent appends of two instances stay whole, with unique ids in arrival order', async () => {
    const dir = await tempDir();
    const a = createJsonlRegistryStore({ dir });
    const b = createJsonlRegistryStore({ dir });
    await Promise.all([a.init(), b.init()]);
    const batches = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).appendRecords(Array.from({ length: 25 }, (_, j) => rec(`s/b/m${i}`, { i, j, text: '重庆 🔥' })))),
    );
    const ids = batches.flat().map((r) => r.id);
    expect(new Set(ids).size).toBe(1000);
    for (const batch of batches) for (let k = 1; k < batch.length; k++) expect(batch[k]!.id > batch[k - 1]!.id).toBe(true);
    const listed = await b.listRecords({ kind: 'mv.result', limit: 1000 });
    expect(listed.map((r) => r.id)).toEqual([...ids].sort().reverse());
    expect((await a.listRecords({ kind: 'mv.result', key: 's/b/m7', limit: 1000 })).map((r) => (r.body as { j: number }).j)).toEqual(
      Array.from({ length: 25 }, (_, j) => 24 - j),
    );
    const lines = (await readFile(join(dir, 'records.jsonl'), 'utf8')).split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1000);
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    await a.close();
    await b.close();
  });

  it('records: ids keep increasing when the clock steps back', async () => {
    const dir = await tempDir();
    let t = 2_000_000_000_000;
    const s = createJsonlRegistryStore({ dir, now: () => t });
    const [a] = await s.appendRecords([rec('k')]);
    await s.close();
    t -= 60_000;
    const reopened = createJsonlRegistryStore({ dir, now: () => t });
    const [b] = await reopened.appendRecords([rec('k')]);
    const [d] = await reopened.addDeadLetters([letter('wattproof/v1/s/b/m/readings')]);
    const [c] = await reopened.appendRecords([rec('k')]);
    expect(b!.id > a!.id).toBe(true);
    expect(d!.id > b!.id).toBe(true);
    expect(c!.id > d!.id).toBe(true);
    await reopened.close();
  });

  it('records: a running instance sees records that another process appended', async () => {
    const dir = await tempDir();
    const running = createJsonlRegistryStore({ dir });
    expect(await running.listRecords({ kind: 'mv.adjustment' })).toEqual([]);
    const moduleUrl = new URL('../../gateway/src/registry/jsonl.ts', import.meta.url).href;
    const script = [
      `import { createJsonlRegistryStore } from ${JSON.stringify(moduleUrl)};`,
      `const s = createJsonlRegistryStore({ dir: ${JSON.stringify(dir)} });`,
      `const added = await s.appendRecords([{ kind: 'mv.adjustment', key: 'site-x/b', recordedAtMs: 7, body: { kWh: -1234.5678901234567, note: '新设备 🆕' } }]);`,
      `process.stdout.write(JSON.stringify(added));`,
      `await s.close();`,
    ].join('\n');
    const scriptPath = join(dir, 'cli-records.mts');
    await writeFile(scriptPath, script);
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', scriptPath], { cwd: root });
    const added = JSON.parse(stdout) as unknown[];
    expect(await running.listRecords({ kind: 'mv.adjustment', keyPrefix: 'site-x/' })).toEqual(added);
    expect(await running.listRecords({ kind: 'mv.adjustment' })).toEqual([
      expect.objectContaining({ kind: 'mv.adjustment', key: 'site-x/b', recordedAtMs: 7, body: { kWh: -1234.5678901234567, note: '新设备 🆕' } }),
    ]);
    await running.close();
  });

  it('a running instance sees a principal that another process appended', async () => {
    const dir = await tempDir();
    const running = createJsonlRegistryStore({ dir });
    await running.init();
    expect(await running.getPrincipal('site-x/b/m')).toBeUndefined();

    const moduleUrl = new URL('../../gateway/src/registry/jsonl.ts', import.meta.url).href;
    const script = [
      `import { createJsonlRegistryStore } from ${JSON.stringify(moduleUrl)};`,
      `const s = createJsonlRegistryStore({ dir: ${JSON.stringify(dir)} });`,
      `await s.putPrincipal({ username: 'site-x/b/m', role: 'device', meter: { site: 'site-x', building: 'b', meter: 'm' }, secretHash: 'scrypt$1$1$1$a$b', createdAtMs: 5 });`,
      `await s.upsertMeter({ site: 'site-x', building: 'b', meter: 'm' });`,
      `await s.close();`,
    ].join('\n');
    const scriptPath = join(dir, 'cli.mts');
    await writeFile(scriptPath, script);
    const root = fileURLToPath(new URL('../../', import.meta.url));
    await promisify(execFile)(process.execPath, ['--import', 'tsx', scriptPath], { cwd: root });

    expect(await running.getPrincipal('site-x/b/m')).toEqual({
      username: 'site-x/b/m',
      role: 'device',
      meter: { site: 'site-x', building: 'b', meter: 'm' },
      secretHash: 'scrypt$1$1$1$a$b',
      createdAtMs: 5,
    });
    expect(await running.listMeters({ site: 'site-x' })).toEqual([{ site: 'site-x', building: 'b', meter: 'm' }]);
    await running.close();
  });
});
