import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mainThreadProfile, summarizeCpuProfile, type CpuProfile } from '../../../bench/lib/cpu-profile.js';

const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber, columnNumber: 0 });

// root → main → parse (hot), root → (idle), main → write; parse also reached from write.
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3] },
    { id: 2, callFrame: frame('main', 'file:///repo/ingest/src/pipeline.ts', 9), children: [4, 5] },
    { id: 3, callFrame: frame('(idle)') },
    { id: 4, callFrame: frame('parse', 'file:///repo/node_modules/zod/v4/core.js', 0) },
    { id: 5, callFrame: frame('', 'file:///repo/ingest/src/stores/influxdb.ts', 99), children: [6] },
    { id: 6, callFrame: frame('parse', 'file:///repo/node_modules/zod/v4/core.js', 0) },
  ],
  startTime: 1_000,
  endTime: 2_000,
  // Ticks at 1100, 1200, ..., 1800 (each lasting until the next).
  samples: [4, 4, 6, 3, 3, 2, 5, 4],
  timeDeltas: [100, 100, 100, 100, 100, 100, 100, 100],
};

describe('CPU profile summary (bench/lib/cpu-profile.ts)', () => {
  it('sums self time per function over call paths, idle apart, largest first', () => {
    const s = summarizeCpuProfile(profile, { root: '/repo/' });
    expect(s.samples).toBe(8);
    expect(s.idleMs).toBeCloseTo(0.2);
    expect(s.top[0]).toMatchObject({ fn: 'parse (node_modules/zod/v4/core.js)' });
    // Three ticks of parse, each 0.1 ms, except the last tick of the profile (no next tick: 0).
    expect(s.top[0]!.selfMs).toBeCloseTo(0.3);
    expect(s.top.map((r) => r.fn)).toContain('(anonymous) (ingest/src/stores/influxdb.ts:100)');
    expect(s.top.map((r) => r.fn)).toContain('main (ingest/src/pipeline.ts:10)');
    expect(s.top.reduce((a, r) => a + r.share, 0)).toBeCloseTo(1);
  });
  it('keeps to a time window', () => {
    const s = summarizeCpuProfile(profile, { fromUs: 1_150, toUs: 1_350 });
    expect(s.samples).toBe(2);
    expect(s.top).toHaveLength(1);
    expect(s.top[0]!.fn).toBe('parse (node_modules/zod/v4/core.js)');
    expect(s.top[0]!.selfMs).toBeCloseTo(0.2);
  });
  it('falls back to hit counts without a sample list', () => {
    const s = summarizeCpuProfile({ nodes: [{ id: 1, callFrame: frame('a'), hitCount: 3 }, { id: 2, callFrame: frame('b'), hitCount: 1 }], startTime: 0, endTime: 4_000 });
    expect(s.top.map((r) => [r.fn, r.selfMs])).toEqual([
      ['a', 3],
      ['b', 1],
    ]);
  });
});

describe('mainThreadProfile', () => {
  it('picks the main thread (id 0) of the profiles node wrote, and tolerates none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wattproof-cpuprof-'));
    try {
      expect(await mainThreadProfile(dir)).toBeUndefined();
      const profile = (marker: number) => JSON.stringify({ nodes: [], startTime: marker, endTime: marker + 1, samples: [], timeDeltas: [] });
      await writeFile(join(dir, 'CPU.20261130.185824.30372.1.002.cpuprofile'), profile(1));
      await writeFile(join(dir, 'CPU.20261130.185824.30372.0.001.cpuprofile'), profile(2));
      expect((await mainThreadProfile(dir))?.startTime).toBe(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(await mainThreadProfile(join(dir, 'gone'))).toBeUndefined();
  });
});
