/**
 * Self time by function from a V8 CPU profile (`node --cpu-prof` writes one `.cpuprofile` JSON
 * per process at exit): `nodes` is the call tree, each node a function at a call site; `samples`
 * lists the node that was on top of the stack at each sampling tick and `timeDeltas` the µs
 * since the previous tick. A node's self time is the time of the ticks it was on top; the same
 * function reached through different call paths is summed here.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber?: number };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  /** µs, V8's monotonic clock (CLOCK_MONOTONIC on Linux, as `process.hrtime`). */
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface SelfTimeRow {
  /** `name (file:line)`, with the file relative to `root` when under it; `(anonymous)` for unnamed functions. */
  readonly fn: string;
  readonly selfMs: number;
  /** Share of the sampled time (idle excluded). */
  readonly share: number;
}

export interface ProfileSummary {
  /** Sampled time in the window, idle excluded, ms. */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly samples: number;
  readonly top: readonly SelfTimeRow[];
}

/** A frame's `name (file:line)` label, the file relative to `root` (see `SelfTimeRow.fn`). */
export function label(frame: CpuProfileNode['callFrame'], root: string): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  let file = frame.url.replace(/^file:\/\//, '');
  if (root && file.startsWith(root)) file = file.slice(root.length);
  // node_modules/<pkg>/… is enough to know whose code it is.
  file = file.replace(/^.*node_modules\//, 'node_modules/');
  // Line 0: tsx's transpiled modules carry no useful position for the function itself.
  return frame.lineNumber > 0 ? `${name} (${file}:${frame.lineNumber + 1})` : `${name} (${file})`;
}

/**
 * Self time per function over the samples taken in [fromUs, toUs] (the whole profile without a
 * window), the `top` largest first. Time of a tick = the delta to the next tick.
 */
export function summarizeCpuProfile(profile: CpuProfile, options: { top?: number; root?: string; fromUs?: number; toUs?: number } = {}): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  const add = (id: number, us: number) => {
    const node = byId.get(id);
    if (!node) return;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us;
      return;
    }
    busyUs += us;
    const key = label(node.callFrame, options.root ?? '');
    selfUs.set(key, (selfUs.get(key) ?? 0) + us);
  };
  const samples = forEachSample(profile, options, add);
  const top = [...selfUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, options.top ?? 15)
    .map(([fn, us]) => ({ fn, selfMs: us / 1000, share: busyUs ? us / busyUs : 0 }));
  return { busyMs: busyUs / 1000, idleMs: idleUs / 1000, samples, top };
}

/**
 * Calls `visit(nodeId, µs)` for every sampling tick in [fromUs, toUs] (the whole profile without
 * a window) and returns how many ticks that was. A tick's time is the delta to the next tick; a
 * profile without a sample list is spread as hitCount × the mean interval.
 */
export function forEachSample(profile: CpuProfile, window: { fromUs?: number; toUs?: number }, visit: (nodeId: number, us: number) => void): number {
  const from = window.fromUs ?? -Infinity;
  const to = window.toUs ?? Infinity;
  let ticks = 0;
  if (profile.samples && profile.timeDeltas && profile.samples.length === profile.timeDeltas.length) {
    let t = profile.startTime;
    const n = profile.samples.length;
    for (let i = 0; i < n; i++) {
      t += profile.timeDeltas[i]!;
      if (t < from || t > to) continue;
      const dt = i + 1 < n ? profile.timeDeltas[i + 1]! : 0;
      ticks++;
      visit(profile.samples[i]!, Math.max(0, dt));
    }
    return ticks;
  }
  const hits = profile.nodes.reduce((s, node) => s + (node.hitCount ?? 0), 0);
  const interval = hits ? (profile.endTime - profile.startTime) / hits : 0;
  for (const node of profile.nodes) if (node.hitCount) visit(node.id, node.hitCount * interval), (ticks += node.hitCount);
  return ticks;
}

/** V8's own entries ("(garbage collector)", "(program)") and functions without a script (builtins, C++ bindings). */
export const V8_OWNER = 'V8: GC, builtins, native';

/**
 * Whose code a function of a profile summary is, from its `name (file:line)` label (`label`):
 * `gateway/src`, `core/src`, `bin`, a node_modules package (`aedes`, `mqtt-packet`,
 * `@scope/name`), `node internals` (node:*), or `V8_OWNER`.
 */
export function ownerOf(fn: string): string {
  const open = fn.lastIndexOf(' (');
  if (open < 0 || !fn.endsWith(')')) return V8_OWNER;
  const file = fn.slice(open + 2, -1).replace(/:\d+$/, '');
  if (file.startsWith('node:')) return 'node internals';
  const parts = file.split('/');
  if (parts[0] === 'node_modules') return parts[1]?.startsWith('@') ? `${parts[1]}/${parts[2]}` : (parts[1] ?? file);
  if (parts.length > 2 && parts[1] === 'src') return `${parts[0]}/src`;
  return parts.length > 1 ? parts[0]! : file;
}

/**
 * The main thread's profile in `dir`. Node writes one per thread, `CPU.<date>.<time>.<pid>.<thread id>.<n>.cpuprofile`;
 * tsx's module loader runs on a worker thread of its own (thread id ≠ 0), idle after start-up.
 */
export async function mainThreadProfile(dir: string): Promise<CpuProfile | undefined> {
  try {
    const f = (await readdir(dir)).find((name) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(name));
    return f ? (JSON.parse(await readFile(join(dir, f), 'utf8')) as CpuProfile) : undefined;
  } catch {
    return undefined;
  }
}
