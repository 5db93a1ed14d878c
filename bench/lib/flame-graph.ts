/**
 * Flame graphs of a V8 CPU profile over a benchmark's measured window (issue 8: "where a target
 * proves impossible, show the profile (`--cpu-prof`, flame graph)").
 *
 * `foldCpuProfile` turns the profile's samples into time per call stack in Brendan Gregg's
 * collapsed format (`frame;frame;frame <µs>` per line), which speedscope, inferno and
 * flamegraph.pl read as they are. `flameGraphSvg` draws those stacks with ECharts' server-side SVG
 * renderer (already the console's chart library): a custom series of rectangles, width = time,
 * height = stack depth with the root at the bottom, colour = whose code the frame is (Wattproof,
 * a dependency, Node's own JavaScript, or V8 and native code), so a reader sees at a glance where
 * a process spends its time and how much of it is Wattproof's.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as echarts from 'echarts';
import { forEachSample, label, ownerOf, V8_OWNER, type CpuProfile } from './cpu-profile.js';

export interface FoldOptions {
  /** Files under it are shown relative to it (the repository root). */
  readonly root?: string;
  /** The window, µs on the profile's clock (CLOCK_MONOTONIC); the whole profile without it. */
  readonly fromUs?: number;
  readonly toUs?: number;
}

/** The collapsed format's separator; a `;` inside a frame's label becomes `,`. */
const SEPARATOR = ';';

/**
 * Time (µs) per distinct call stack, root first, over the samples in the window. Idle ticks are
 * left out, as in `summarizeCpuProfile`; V8's `(program)` and `(garbage collector)` are stacks of
 * one frame.
 */
export function foldCpuProfile(profile: CpuProfile, options: FoldOptions = {}): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  // A stack per node id, built once: a window of 10 s at 1 kHz has ~10,000 ticks over a few
  // thousand nodes. `null` for idle.
  const stacks = new Map<number, string | null>();
  const stackOf = (id: number): string | null => {
    const known = stacks.get(id);
    if (known !== undefined) return known;
    const leaf = byId.get(id);
    let stack: string | null = null;
    if (leaf && leaf.callFrame.functionName !== '(idle)') {
      const frames: string[] = [];
      for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
        const node = byId.get(at);
        // The profile's root node is a placeholder, not a frame.
        if (!node || (node.callFrame.functionName === '(root)' && !parentOf.has(at))) continue;
        frames.push(label(node.callFrame, options.root ?? '').replaceAll(SEPARATOR, ','));
      }
      stack = frames.reverse().join(SEPARATOR) || null;
    }
    stacks.set(id, stack);
    return stack;
  };
  const folded = new Map<string, number>();
  forEachSample(profile, options, (id, us) => {
    const stack = stackOf(id);
    if (stack !== null && us > 0) folded.set(stack, (folded.get(stack) ?? 0) + us);
  });
  return folded;
}

/** The collapsed format, one `stack µs` line per stack, heaviest first (integer µs). */
export function formatFolded(folded: ReadonlyMap<string, number>): string {
  return [...folded]
    .sort((a, b) => b[1] - a[1])
    .map(([stack, us]) => `${stack} ${Math.round(us)}\n`)
    .join('');
}

/** Colour groups of the frames, by `ownerOf` of the frame's label. */
export const FLAME_GROUPS = ['Wattproof', 'dependencies', 'Node.js', 'V8 / native', 'kernel'] as const;
export type FlameGroup = (typeof FLAME_GROUPS)[number];
const GROUP_COLOURS: Record<FlameGroup, string> = {
  Wattproof: '#d7301f',
  dependencies: '#fc8d59',
  'Node.js': '#fdcc8a',
  'V8 / native': '#9ecae1',
  kernel: '#bdbdbd',
};

export function flameGroupOf(frame: string): FlameGroup {
  const owner = ownerOf(frame);
  if (owner === V8_OWNER) return 'V8 / native';
  if (owner === 'node internals') return 'Node.js';
  return frame.includes('node_modules/') ? 'dependencies' : 'Wattproof';
}

export interface FlameRect {
  readonly frame: string;
  readonly depth: number;
  /** µs from the left edge (the stacks are merged by frame at each depth, ordered by name). */
  readonly startUs: number;
  readonly us: number;
  readonly group: FlameGroup;
}

interface TreeNode {
  us: number;
  readonly children: Map<string, TreeNode>;
}

/**
 * The flame graph's rectangles: stacks merged into a tree (siblings by frame, in name order, as
 * flamegraph.pl does), each frame as wide as the time of the stacks through it. Frames narrower
 * than `minShare` of the total, and everything above them, are left out.
 */
export function layoutFlameGraph(folded: ReadonlyMap<string, number>, minShare = 0, groupOf: (frame: string) => FlameGroup = flameGroupOf): { readonly totalUs: number; readonly maxDepth: number; readonly rects: readonly FlameRect[] } {
  const root: TreeNode = { us: 0, children: new Map() };
  for (const [stack, us] of folded) {
    root.us += us;
    let at = root;
    for (const frame of stack.split(SEPARATOR)) {
      let next = at.children.get(frame);
      if (!next) at.children.set(frame, (next = { us: 0, children: new Map() }));
      next.us += us;
      at = next;
    }
  }
  const rects: FlameRect[] = [];
  const minUs = root.us * minShare;
  let maxDepth = -1;
  const place = (node: TreeNode, depth: number, startUs: number) => {
    let x = startUs;
    for (const frame of [...node.children.keys()].sort()) {
      const child = node.children.get(frame)!;
      if (child.us >= minUs && child.us > 0) {
        rects.push({ frame, depth, startUs: x, us: child.us, group: groupOf(frame) });
        maxDepth = Math.max(maxDepth, depth);
        place(child, depth + 1, x);
      }
      x += child.us;
    }
  };
  place(root, 0, 0);
  return { totalUs: root.us, maxDepth, rects };
}

export interface FlameGraphOptions {
  readonly title: string;
  /** A second line under the title: what was measured, the command, the window. */
  readonly subtitle?: string;
  readonly widthPx?: number;
  readonly frameHeightPx?: number;
  /** What the widths add up to, for the caption; a V8 profile's main thread without it. */
  readonly measure?: string;
  /** The colour group of a frame; `flameGroupOf` (a V8 profile's frames) without it. */
  readonly groupOf?: (frame: string) => FlameGroup;
}

const HEADER_PX = 78;

/** The flame graph as a standalone SVG document. */
export function flameGraphSvg(folded: ReadonlyMap<string, number>, options: FlameGraphOptions): string {
  const width = options.widthPx ?? 1600;
  const frameHeight = options.frameHeightPx ?? 16;
  // Narrower than a pixel cannot be seen; leaving those frames out keeps the file small.
  const { totalUs, maxDepth, rects } = layoutFlameGraph(folded, 1 / width, options.groupOf);
  const groups = FLAME_GROUPS.filter((g) => rects.some((r) => r.group === g));
  const depths = Math.max(1, maxDepth + 1);
  const height = HEADER_PX + depths * frameHeight + 8;
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({
      animation: false,
      backgroundColor: '#ffffff',
      title: {
        text: options.title,
        subtext: `${options.subtitle ? `${options.subtitle}\n` : ''}width = share of ${(totalUs / 1000).toFixed(0)} ms of ${options.measure ?? "the main thread's sampled CPU time (idle excluded)"}; frames under ${(100 / width).toFixed(2)} % not drawn`,
        left: 8,
        top: 4,
        textStyle: { fontSize: 15 },
        subtextStyle: { fontSize: 11, lineHeight: 14 },
      },
      legend: { right: 8, top: 6, itemGap: 16, data: groups, textStyle: { fontSize: 11 }, itemWidth: 14, itemHeight: 10 },
      grid: { left: 4, right: 4, top: HEADER_PX, bottom: 8 },
      xAxis: { type: 'value', min: 0, max: totalUs || 1, show: false },
      yAxis: { type: 'value', min: 0, max: depths, show: false },
      series: groups.map((group) => ({
        type: 'custom',
        name: group,
        itemStyle: { color: GROUP_COLOURS[group] },
        encode: { x: [1, 2], y: 0 },
        data: rects.filter((r) => r.group === group).map((r) => [r.depth, r.startUs, r.startUs + r.us, r.frame, r.us / totalUs]),
        renderItem: (_params: unknown, api: echarts.CustomSeriesRenderItemAPI) => {
          const depth = Number(api.value(0));
          const [x0, yTop] = api.coord([api.value(1), depth + 1]) as [number, number];
          const [x1] = api.coord([api.value(2), depth]) as [number, number];
          const w = Math.max(0, x1 - x0);
          const share = Number(api.value(4));
          const text = `${String(api.value(3))} ${(share * 100).toFixed(1)} %`;
          return {
            type: 'rect',
            shape: { x: x0, y: yTop, width: w, height: frameHeight - 1 },
            style: { fill: GROUP_COLOURS[group], stroke: '#ffffff', lineWidth: 0.5 },
            ...(w > 24
              ? {
                  textContent: { style: { text, fontSize: 10, fill: '#1a1a1a', width: w - 6, overflow: 'truncate', ellipsis: '…' } },
                  textConfig: { position: 'insideLeft', distance: 3 },
                }
              : {}),
          };
        },
      })),
    });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/**
 * A benchmark's flame graph of one process over its measured window: `<name>.svg` and the stacks
 * in `<name>.folded` in `dir`. Returns the SVG's path.
 */
export async function writeFoldedFlameGraph(folded: ReadonlyMap<string, number>, dir: string, name: string, options: FlameGraphOptions): Promise<string> {
  await mkdir(dir, { recursive: true });
  const svg = join(dir, `${name}.svg`);
  await Promise.all([writeFile(svg, flameGraphSvg(folded, options)), writeFile(join(dir, `${name}.folded`), formatFolded(folded))]);
  return svg;
}

/** `writeFoldedFlameGraph` of a V8 CPU profile's window. */
export function writeFlameGraph(profile: CpuProfile, dir: string, name: string, options: FoldOptions & FlameGraphOptions): Promise<string> {
  return writeFoldedFlameGraph(foldCpuProfile(profile, options), dir, name, options);
}
