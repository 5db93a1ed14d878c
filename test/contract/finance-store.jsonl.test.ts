import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasCode } from '@wattproof/core';
import { createJsonlRegistryStore, JSONL_FILES } from '@wattproof/gateway/registry';
import { describeFinanceStore } from './finance-store.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'wattproof-finance-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

let sharedDir: string | undefined;
describeFinanceStore(
  'jsonl',
  async () => {
    sharedDir ??= await tempDir();
    return createJsonlRegistryStore({ dir: join(sharedDir, 'registry') });
  },
  { sharedAcrossInstances: true },
);

describe('jsonl finance registry: the file', () => {
  it('appends one line per version and never rewrites one; a reopened store reads them back', async () => {
    const dir = await tempDir();
    const store = createJsonlRegistryStore({ dir });
    await store.init();
    await store.putParty({ id: 'bank', name: 'Bank', roles: ['bank'] }, { recordedAtMs: 1000 });
    const afterFirst = await readFile(join(dir, JSONL_FILES.finance), 'utf8');
    await store.putParty({ id: 'bank', name: 'Bank of Yuzhong', roles: ['bank'] }, { recordedAtMs: 2000 });
    await store.putParty({ id: 'bank', name: 'Bank of Yuzhong', roles: ['bank'] }, { recordedAtMs: 3000 });
    const text = await readFile(join(dir, JSONL_FILES.finance), 'utf8');
    expect(text.startsWith(afterFirst)).toBe(true);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { op: string; value: { entity: string; key: string; version: number } });
    expect(lines.map((l) => [l.op, l.value.entity, l.value.key, l.value.version])).toEqual([
      ['finance', 'party', 'bank', 1],
      ['finance', 'party', 'bank', 2],
    ]);
    await store.close();

    const reopened = createJsonlRegistryStore({ dir });
    await reopened.init();
    expect((await reopened.getParty('bank', { asOfMs: 1500 }))?.value.name).toBe('Bank');
    expect((await reopened.getParty('bank'))?.value.name).toBe('Bank of Yuzhong');
    await reopened.close();
  });

  it('reads a version two processes wrote at once as the next version, keeping both', async () => {
    const dir = await tempDir();
    const a = createJsonlRegistryStore({ dir });
    await a.init();
    await a.putParty({ id: 'p', name: 'one', roles: ['owner'] }, { recordedAtMs: 1 });
    // What a second process racing on the same version leaves in the file.
    const line = { v: 1, at: 2, op: 'finance', value: { entity: 'party', key: 'p', slot: '', version: 1, recordedAtMs: 2, value: { id: 'p', name: 'two', roles: ['owner'] } } };
    await appendFile(join(dir, JSONL_FILES.finance), `${JSON.stringify(line)}\n`);
    const history = await a.partyHistory('p');
    expect(history.map((v) => [v.version, v.value.name])).toEqual([
      [1, 'one'],
      [2, 'two'],
    ]);
    expect((await a.putParty({ id: 'p', name: 'three', roles: ['owner'] }, { recordedAtMs: 3 })).version).toBe(3);
    await a.close();
  });

  it('stops with REGISTRY_CORRUPT on a finance entity this version does not know', async () => {
    const dir = await tempDir();
    const line = { v: 1, at: 1, op: 'finance', value: { entity: 'bond', key: 'b', slot: '', version: 1, recordedAtMs: 1, value: { id: 'b' } } };
    const s = createJsonlRegistryStore({ dir });
    await s.init();
    await appendFile(join(dir, JSONL_FILES.finance), `${JSON.stringify(line)}\n`);
    const err = await s.listParties().catch((e: unknown) => e);
    expect(hasCode(err, 'REGISTRY_CORRUPT')).toBe(true);
    await s.close();
  });
});
