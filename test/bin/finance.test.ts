/**
 * `wattproof finance` as a child process on a fresh data directory (embedded registry): loads the
 * demo park's example file, reloads it without new versions, lists the registry now and as of
 * before the load, and refuses an invalid file listing every problem with its path.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonlRegistryStore, REGISTRY_DATA_SUBDIR } from '@wattproof/gateway/registry';
import { YUZHONG_DEMO_SITE } from '@wattproof/simulators';
import { DEMO_RETROFIT_METER } from '../../bin/commands/demo-park.js';
import { parseFinanceFile } from '../../bin/commands/finance.js';
import { embeddedCliEnv, REPO_ROOT, runCli, type RunResult } from '../support/processes.js';

const EXAMPLE = 'docs/examples/finance.yaml';

let dataDir: string;

function wattproof(...args: string[]): Promise<RunResult> {
  return runCli(args, embeddedCliEnv(dataDir), 120_000);
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'wattproof-finance-cli-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('wattproof finance', () => {
  it('the example file describes the demo park: its site, the hotel and the retrofit meter', async () => {
    const { readFile } = await import('node:fs/promises');
    const parsed = parseFinanceFile(await readFile(join(REPO_ROOT, EXAMPLE), 'utf8'));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const loans = parsed.file.loans as Array<{ buildings: Array<{ site: string; building: string }>; covenants: Array<{ kpi: string }> }>;
    expect(loans[0]!.buildings).toEqual([{ site: YUZHONG_DEMO_SITE.id, building: DEMO_RETROFIT_METER.building }]);
    expect(loans[0]!.covenants.map((c) => c.kpi)).toContain('savings_fraction');
    const policies = parsed.file.policies as Array<{ meters: unknown[] }>;
    expect(policies[0]!.meters).toEqual([DEMO_RETROFIT_METER]);
  });

  it('loads the example, stores nothing new on a reload, and lists it now and as of before the load', async () => {
    const beforeLoad = new Date(Date.now() - 1000).toISOString();
    const first = await wattproof('finance', 'load', EXAMPLE);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('party cq-green-bank: version 1 (new)');
    expect(first.stdout).toContain('loan slb-yz-hotel-2025 (3 covenants): version 1 (new)');
    expect(first.stdout).toContain('policy esi-yz-hotel-chiller (3 periods): version 1 (new)');
    expect(first.stdout).toMatch(/Done: 10 new versions, 0 unchanged\./);

    const again = await wattproof('finance', 'load', EXAMPLE);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Done: 0 new versions, 10 unchanged\./);

    const listed = await wattproof('finance', 'list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('cq-green-bank  Chongqing Green Demo Bank (重庆绿色示范银行)  [bank]  v1');
    expect(listed.stdout).toContain('yuzhong/yz-hotel from 2025-12-01  hotel, 28,000 m², 2-star operation label until 2028-12-01  v2');
    expect(listed.stdout).toContain('covenant savings-5pct: savings_fraction >= 0.05, annual from 2026-09-30');
    expect(listed.stdout).toContain('outstanding from 2026-08-15: CNY 162,000,000');

    const past = await wattproof('finance', 'list', '--as-of', beforeLoad);
    expect(past.code).toBe(0);
    expect(past.stdout).toContain('parties (0):');
    expect(past.stdout).toContain('loans (0):');

    // What a covenant engine reads: the registry the CLI wrote, through the adapter.
    const store = createJsonlRegistryStore({ dir: join(dataDir, REGISTRY_DATA_SUBDIR) });
    await store.init();
    try {
      const loans = await store.listLoans({ building: { site: 'yuzhong', building: 'yz-hotel' } });
      expect(loans.map((l) => [l.value.id, l.version, l.source])).toEqual([['slb-yz-hotel-2025', 1, `finance load ${EXAMPLE}`]]);
      expect((await store.getBuildingProfile({ site: 'yuzhong', building: 'yz-hotel' }, { effectiveOn: '2025-11-30' }))?.value.label).toBeUndefined();
      expect((await store.getLoanBalance('slb-yz-hotel-2025', { effectiveOn: '2026-01-01' }))?.value.outstandingCny).toBe(180_000_000);
      expect((await store.listPolicies({ insurer: 'cq-perf-insurance' })).map((p) => p.value.id)).toEqual(['esi-yz-hotel-chiller']);
    } finally {
      await store.close();
    }
  }, 240_000);

  it('refuses an invalid file before storing anything, naming every problem', async () => {
    const bad = join(dataDir, 'bad.yaml');
    await writeFile(
      bad,
      [
        'parties:',
        '  - { id: only-party, name: Only, roles: [bank] }',
        'loans:',
        '  - id: l1',
        '    borrower: only-party',
        '    lender: only-party',
        '    kind: sustainability_linked_loan',
        '    assetClass: commercial_real_estate',
        '    currency: CNY',
        '    buildings: [{ site: yuzhong, building: yz-hotel }]',
        "    originationDate: '2025-01-01'",
        "    maturityDate: '2030-01-01'",
        '    propertyValueAtOriginationCny: 1000',
        '    baseMarginBp: 0',
        '    covenants: []',
        'policies:',
        '  - { id: p1 }',
        'bonds: []',
      ].join('\n'),
    );
    const run = await wattproof('finance', 'load', bad);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Unrecognized key: "bonds"');
    const fixed = bad.replace('bad.yaml', 'bad2.yaml');
    const { readFile } = await import('node:fs/promises');
    await writeFile(fixed, (await readFile(bad, 'utf8')).replace('bonds: []', ''));
    const second = await wattproof('finance', 'load', fixed);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('nothing was stored');
    expect(second.stderr).toContain('loans[0].lender: lender and borrower must be different parties');
    expect(second.stderr).toContain('loans[0].covenants: a sustainability-linked loan needs at least one covenant');
    expect(second.stderr).toContain('policies[0].insurer:');
    const store = createJsonlRegistryStore({ dir: join(dataDir, REGISTRY_DATA_SUBDIR) });
    await store.init();
    expect(await store.getParty('only-party')).toBeUndefined();
    await store.close();

    expect((await wattproof('finance', 'load', EXAMPLE, '--dry-run')).stdout).toContain('10 entries valid (dry run: nothing stored)');
    expect((await wattproof('finance', 'load', join(dataDir, 'missing.yaml'))).code).toBe(1);
    expect((await wattproof('finance')).code).toBe(2);
  }, 240_000);
});
