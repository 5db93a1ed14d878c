/**
 * bench/lib/flame-graph.ts: folded stacks of a V8 CPU profile's window, their layout and the SVG,
 * on a hand-made profile and on one that `node --cpu-prof` writes.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerBenchArgs } from '../../../bench/broker.js';
import { parseIngestBenchArgs } from '../../../bench/ingest.js';
import { mainThreadProfile, type CpuProfile } from '../../../bench/lib/cpu-profile.js';
import { flameGraphSvg, flameGroupOf, foldCpuProfile, formatFolded, layoutFlameGraph, writeFlameGraph } from '../../../bench/lib/flame-graph.js';
import { runNode } from '../../support/processes.js';

const at = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber, columnNumber: 0 });

// (root) → handle (gateway) → { check (gateway), write (node:net) → writev (native) }, (root) → (garbage collector), (root) → (idle).
const tree: CpuProfile = {
  nodes: [
    { id: 10, callFrame: at('(root)'), children: [11, 14, 15] },
    { id: 11, callFrame: at('handle', 'file:///repo/gateway/src/gateway.ts', 41), children: [12, 13] },
    { id: 12, callFrame: at('check', 'file:///repo/gateway/src/acl.ts', 7) },
    { id: 13, callFrame: at('write', 'node:net', 899), children: [16] },
    { id: 14, callFrame: at('(garbage collector)') },
    { id: 15, callFrame: at('(idle)') },
    { id: 16, callFrame: at('writev') },
  ],
  startTime: 0,
  endTime: 1_000,
  // Ticks at 100, 200, ..., 1000; each lasts until the next (the last one: 0).
  samples: [12, 12, 16, 16, 16, 14, 15, 15, 11, 12],
  timeDeltas: [100, 100, 100, 100, 100, 100, 100, 100, 100, 100],
};

const HANDLE = 'handle (gateway/src/gateway.ts:42)';
const CHECK = 'check (gateway/src/acl.ts:8)';
const WRITE = 'write (node:net:900)';

describe('foldCpuProfile', () => {
  it('sums the time of each call stack, root first, without the root placeholder or idle', () => {
    const folded = foldCpuProfile(tree, { root: '/repo/' });
    expect(Object.fromEntries(folded)).toEqual({
      // The tick at 1000 is the profile's last: no time.
      [`${HANDLE};${CHECK}`]: 200,
      [`${HANDLE};${WRITE};writev`]: 300,
      '(garbage collector)': 100,
      [HANDLE]: 100,
    });
    expect(formatFolded(folded).split('\n')[0]).toBe(`${HANDLE};${WRITE};writev 300`);
  });

  it('keeps to the window', () => {
    // Ticks at 300, 400 and 500: writev, three times.
    expect(Object.fromEntries(foldCpuProfile(tree, { root: '/repo/', fromUs: 250, toUs: 520 }))).toEqual({ [`${HANDLE};${WRITE};writev`]: 300 });
  });

  it('keeps the separator out of frame names', () => {
    const folded = foldCpuProfile({ nodes: [{ id: 1, callFrame: at('a;b', 'file:///x/y.js', 0), hitCount: 2 }], startTime: 0, endTime: 10 });
    expect([...folded.keys()]).toEqual(['a,b (/x/y.js)']);
  });
});

describe('layoutFlameGraph', () => {
  it('merges stacks by frame per depth, siblings in name order, as wide as their time', () => {
    const { totalUs, maxDepth, rects } = layoutFlameGraph(foldCpuProfile(tree, { root: '/repo/' }));
    expect(totalUs).toBe(700);
    expect(maxDepth).toBe(2);
    const by = (frame: string) => rects.find((r) => r.frame === frame);
    expect(by('(garbage collector)')).toMatchObject({ depth: 0, startUs: 0, us: 100 });
    expect(by(HANDLE)).toMatchObject({ depth: 0, startUs: 100, us: 600, group: 'Wattproof' });
    expect(by(CHECK)).toMatchObject({ depth: 1, startUs: 100, us: 200, group: 'Wattproof' });
    expect(by(WRITE)).toMatchObject({ depth: 1, startUs: 300, us: 300, group: 'Node.js' });
    expect(by('writev')).toMatchObject({ depth: 2, startUs: 300, us: 300, group: 'V8 / native' });
    expect(rects).toHaveLength(5);
  });

  it('leaves out frames narrower than the minimum share, and what stands on them', () => {
    const folded = new Map([
      ['a;b;c', 990],
      ['a;d;e', 10],
    ]);
    expect(layoutFlameGraph(folded, 0.02).rects.map((r) => r.frame)).toEqual(['a', 'b', 'c']);
    expect(layoutFlameGraph(folded, 0.005).rects.map((r) => r.frame)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('colours frames by whose code they are', () => {
    expect(flameGroupOf('publish (node_modules/aedes/lib/handlers/publish.js:10)')).toBe('dependencies');
    expect(flameGroupOf('normalize (ingest/src/normalize.ts:3)')).toBe('Wattproof');
    expect(flameGroupOf('emit (node:events:519)')).toBe('Node.js');
    expect(flameGroupOf('(program)')).toBe('V8 / native');
  });
});

describe('flameGraphSvg', () => {
  it('draws one rectangle per frame, as wide as its share, labelled with its name and share', () => {
    const svg = flameGraphSvg(foldCpuProfile(tree, { root: '/repo/' }), { title: 'gateway at 10k', subtitle: 'npm run bench -- broker', widthPx: 708 });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    // ECharts writes each data item as a path `M x y l w 0 l 0 h l -w 0 Z` with its series and index.
    const widths = [...svg.matchAll(/<path d="M[\d.]+ [\d.]+l([\d.]+) 0l0 [\d.]+l-[\d.]+ 0Z"[^>]*ecmeta_series_index/g)].map((m) => Number(m[1]));
    expect(widths).toHaveLength(5);
    // 700 px of plot for 700 µs (708 less the grid's 4 px each side).
    expect(widths.sort((a, b) => a - b)).toEqual([100, 200, 300, 300, 600]);
    for (const text of ['gateway at 10k', 'npm run bench -- broker', 'handle (gateway/src/gateway.ts:42) 85.7 %', 'Wattproof', 'V8 / native']) expect(svg).toContain(text);
  });
});

describe('flame graphs of a real node --cpu-prof profile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wattproof-flame-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('shows the hot function of the profiled script on top of its stack', async () => {
    const script = join(dir, 'hot.cjs');
    await writeFile(script, '// the profiled script\nfunction spinForFlames(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x; }\nspinForFlames(400);\n');
    const profDir = join(dir, 'prof');
    const run = await runNode(['--cpu-prof', `--cpu-prof-dir=${profDir}`, script]);
    expect(run.code).toBe(0);
    const profile = await mainThreadProfile(profDir);
    expect(profile).toBeDefined();
    const svgPath = await writeFlameGraph(profile!, join(dir, 'out'), 'hot', { root: `${dir}/`, title: 'hot.cjs' });
    expect(await readdir(join(dir, 'out'))).toEqual(['hot.folded', 'hot.svg']);
    const folded = await readFile(join(dir, 'out', 'hot.folded'), 'utf8');
    const hottest = folded.split('\n')[0]!;
    expect(hottest).toMatch(/;spinForFlames \(hot\.cjs:2\) \d+$/);
    // The spin is most of the sampled time.
    const total = folded.trim().split('\n').reduce((s, line) => s + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    expect(Number(hottest.slice(hottest.lastIndexOf(' ') + 1)) / total).toBeGreaterThan(0.5);
    expect(await readFile(svgPath, 'utf8')).toContain('spinForFlames (hot.cjs:2)');
  });
});

describe('--flame-dir', () => {
  it('goes with --cpu-prof in both benchmarks that profile a process', () => {
    expect(() => parseBrokerBenchArgs(['--flame-dir', '/tmp/f'])).toThrow(/--flame-dir goes with --cpu-prof/);
    expect(parseBrokerBenchArgs(['--cpu-prof', '--flame-dir', '/tmp/f']).flameDir).toBe('/tmp/f');
    expect(() => parseIngestBenchArgs(['--flame-dir', '/tmp/f'])).toThrow(/--flame-dir goes with --cpu-prof/);
    expect(parseIngestBenchArgs(['--cpu-prof', '--flame-dir', '/tmp/f']).flameDir).toBe('/tmp/f');
  });
});
