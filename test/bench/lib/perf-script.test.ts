/**
 * bench/lib/perf-script.ts: `perf script` output folded into call stacks, frames labelled and
 * coloured by owner; and a real `perf record` of a Node process with --perf-basic-prof, where
 * perf is allowed (it is installed by .ci/run; the probe skips the last test only where the
 * kernel refuses perf events).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerBenchArgs } from '../../../bench/broker.js';
import { flameGraphSvg } from '../../../bench/lib/flame-graph.js';
import { compactPerfMap, foldPerfScript, PERF_NODE_ARGS, perfFold, perfFrameGroup, perfRecord, perfWorks } from '../../../bench/lib/perf-script.js';
import { runNode } from '../../support/processes.js';

const SCRIPT = `node 4242 12795.065827:    1000000 cpu-clock:ppp: 
\tffffffff8225f759 pvm_irq_enable+0x19 ([kernel.kallsyms])
\tffffffff81c0f2a1 tcp_sendmsg+0x31 ([kernel.kallsyms])
\t           f1a2b writev+0x1b (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t    7fb2e37c5cd6 JS:*uncork file:///repo/node_modules/mqtt-packet/writeToStream.js:80:15+0x156 (/tmp/perf-4242.map)
\t    7fb2e37c5c41 JS:^authorizePublish file:///repo/gateway/src/gateway.ts:254:3+0xc1 (/tmp/perf-4242.map)
\t    7fb2e37c5c00 JS:~processTicksAndRejections node:internal/process/task_queues:67:35+0x10 (/tmp/perf-4242.map)
\t          c494db v8::internal::(anonymous namespace)::Invoke+0x12b (/usr/bin/node)

node 4242 12795.066827:    1000000 cpu-clock:ppp: 
\t    7fb2e37c5c41 JS:^authorizePublish file:///repo/gateway/src/gateway.ts:254:3+0xc1 (/tmp/perf-4242.map)
\t    7fb2e37c5c00 JS:~processTicksAndRejections node:internal/process/task_queues:67:35+0x10 (/tmp/perf-4242.map)
\t          c494db v8::internal::(anonymous namespace)::Invoke+0x12b (/usr/bin/node)

V8 DefaultWorke 4242/4250 12795.067000:    2000000 cpu-clock:ppp: 
\t          a1b2c3 v8::internal::ScavengerCollector::CollectGarbage+0x20 (/usr/bin/node)
\t    7f0000000000 [unknown] ([unknown])

`;

const AUTHORIZE = 'authorizePublish (gateway/src/gateway.ts:254)';
const TICKS = 'processTicksAndRejections (node:internal/process/task_queues:67)';
const INVOKE = 'v8::internal::(anonymous namespace)::Invoke [node]';

describe('foldPerfScript', () => {
  it('folds samples into stacks rooted at their thread, weighted by their period, frames labelled by kind', () => {
    const folded = foldPerfScript(SCRIPT, { root: '/repo/' });
    expect(Object.fromEntries(folded)).toEqual({
      [`thread: node;${INVOKE};${TICKS};${AUTHORIZE};uncork (node_modules/mqtt-packet/writeToStream.js:80);writev [libc.so.6];tcp_sendmsg [kernel];pvm_irq_enable [kernel]`]: 1000,
      [`thread: node;${INVOKE};${TICKS};${AUTHORIZE}`]: 1000,
      'thread: V8 DefaultWorke;[unknown] [[unknown]];v8::internal::ScavengerCollector::CollectGarbage [node]': 2000,
    });
  });

  it('colours kernel, native and JavaScript frames apart', () => {
    expect(perfFrameGroup('pvm_irq_enable [kernel]')).toBe('kernel');
    expect(perfFrameGroup('writev [libc.so.6]')).toBe('V8 / native');
    expect(perfFrameGroup(INVOKE)).toBe('V8 / native');
    expect(perfFrameGroup('thread: node')).toBe('V8 / native');
    expect(perfFrameGroup(AUTHORIZE)).toBe('Wattproof');
    expect(perfFrameGroup(TICKS)).toBe('Node.js');
    expect(perfFrameGroup('uncork (node_modules/mqtt-packet/writeToStream.js:80)')).toBe('dependencies');
  });

  it('draws the kernel in its own colour, and only the groups that occur in the legend', () => {
    const svg = flameGraphSvg(foldPerfScript(SCRIPT, { root: '/repo/' }), { title: 'perf', groupOf: perfFrameGroup, measure: 'on-CPU samples' });
    expect(svg).toContain('kernel');
    expect(svg).toContain('on-CPU samples');
    expect(svg).toContain('#bdbdbd');
    // The kernel's colour is not drawn for a profile without kernel frames.
    expect(flameGraphSvg(new Map([['a (x/src/a.ts:1)', 10]]), { title: 'v8' })).not.toContain('#bdbdbd');
  });

  it('shows a stack perf could not walk as one unknown frame, not a chain of them', () => {
    const unwalked = `mosquitto 10020 100.000001:    1000000 cpu-clock:ppp: \n\t  c0de read+0x1 (/usr/lib/x86_64-linux-gnu/libc.so.6)\n${'\t  0 [unknown] ([unknown])\n'.repeat(5)}\t  beef [unknown] (/usr/sbin/mosquitto)\n\n`;
    expect([...foldPerfScript(unwalked).keys()]).toEqual(['thread: mosquitto;[unknown] [mosquitto];[unknown] [[unknown]];read [libc.so.6]']);
  });

  it('ignores what is not a sample', () => {
    expect(foldPerfScript('\n# a comment\n\n\tdeadbeef orphan+0x1 (/x)\n').size).toBe(0);
  });
});

describe('compactPerfMap', () => {
  it('keeps, of code whose addresses overlap, the entry written last, and everything that overlaps nothing', () => {
    const map = [
      '1000 100 JS:~ /repo/node_modules/x/index.js:1:1', // start-up code, collected later
      '2000 10 Builtin:Abort', // overlaps nothing
      '1080 40 JS:*emit node:events:450:33', // took over part of the start-up code's range
      '1100 20 JS:^later /repo/a.js:3:1', // disjoint from emit, inside the first
      '10b0 30 JS:*clash /repo/b.js:9:1', // overlaps emit, which came before: stays, emit goes
      '',
    ].join('\n');
    expect(compactPerfMap(map).split('\n').filter(Boolean)).toEqual(['10b0 30 JS:*clash /repo/b.js:9:1', '1100 20 JS:^later /repo/a.js:3:1', '2000 10 Builtin:Abort']);
  });

  it('keeps a map without overlaps whole, sorted by address', () => {
    expect(compactPerfMap('30 10 c\n10 10 a\n20 10 b\n')).toBe('10 10 a\n20 10 b\n30 10 c\n');
  });
});

describe('bench broker --perf-flame', () => {
  it('takes a directory and is not combined with --cpu-prof', () => {
    expect(parseBrokerBenchArgs(['--perf-flame', '/tmp/p']).perfFlameDir).toBe('/tmp/p');
    expect(() => parseBrokerBenchArgs(['--perf-flame', '/tmp/p', '--cpu-prof'])).toThrow(/run them separately/);
  });
});

describe('a real perf record of node --perf-basic-prof', async () => {
  const works = await perfWorks();
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wattproof-perf-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.runIf(works)('names the hot JavaScript function under its thread', async () => {
    const script = join(dir, 'hot.cjs');
    // Spins until told to stop, so that perf can attach to it first.
    await writeFile(script, "// the recorded script\nfunction spinForPerf() { let x = 0; for (let i = 0; i < 5e6; i++) x += Math.sqrt(i + x); return x; }\nconst end = Date.now() + 4000; let y = 0; while (Date.now() < end) y += spinForPerf();\nconsole.log(y > 0);\n");
    const running = runNode([...PERF_NODE_ARGS, script], {}, 60_000);
    // The child's pid is not exposed by runNode: find it by its script.
    const pid = await pidOf(script);
    const data = join(dir, 'perf.data');
    await perfRecord(pid, 2, data);
    const folded = await perfFold(data, { root: `${dir}/`, pid });
    expect((await running).code).toBe(0);
    await rm(`/tmp/perf-${pid}.map`, { force: true });
    const hot = [...folded].filter(([stack]) => stack.startsWith('thread: node;') && stack.includes('spinForPerf (hot.cjs:2)'));
    const total = [...folded.values()].reduce((a, b) => a + b, 0);
    expect(hot.reduce((a, [, us]) => a + us, 0) / total).toBeGreaterThan(0.5);
  });
});

/** The pid of the node process running `script` (polls /proc for up to 10 s). */
async function pidOf(script: string): Promise<number> {
  const { readdir } = await import('node:fs/promises');
  for (let i = 0; i < 100; i++) {
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.split('\0').includes(script)) return Number(entry);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no process runs ${script}`);
}
