/**
 * On-CPU flame graphs with Linux `perf` (issue 8: the profile that says why a target is missed).
 *
 * V8's own profiler (`--cpu-prof`, bench/lib/flame-graph.ts) sees one JavaScript thread and
 * attributes a system call's time to the JavaScript function that made it; it cannot profile
 * Mosquitto at all. `perf record -g` samples every thread of any process on the CPU, kernel
 * included, so the gateway and Mosquitto can be drawn the same way, side by side. Node has to run
 * with `--perf-basic-prof` (a `/tmp/perf-<pid>.map` of its JIT code, which `perf script` reads)
 * and `--interpreted-frames-native-stack` (interpreted functions get frames of their own).
 *
 * `foldPerfScript` turns `perf script` output into the collapsed format of flame-graph.ts:
 * the thread's name is the root frame, JavaScript frames are labelled as in a V8 profile
 * (`name (file:line)`), native frames as `symbol [library]` and kernel frames as `symbol [kernel]`.
 */
import { execFile } from 'node:child_process';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { flameGroupOf, type FlameGroup } from './flame-graph.js';

const execFileAsync = promisify(execFile);

/** The node arguments `perf` needs to name JavaScript frames. */
export const PERF_NODE_ARGS: readonly string[] = ['--perf-basic-prof', '--interpreted-frames-native-stack'];

export interface PerfFoldOptions {
  /** Files under it are shown relative to it (the repository root). */
  readonly root?: string;
  /** The recorded Node process: its JIT map is compacted first (`compactPerfMap`). */
  readonly pid?: number;
}

// `perf script`'s default header: comm, pid or pid/tid, optional [cpu], time, period, event.
const HEADER = /^(.+?)\s+\d+(?:\/\d+)?\s+(?:\[\d+\]\s+)?\d+\.\d+:\s+(\d+)\s+\S+:/;
// A stack line: address, symbol (+offset), (dso). Symbols may hold spaces and parentheses.
const FRAME = /^\s*[0-9a-f]+\s+(.*)\s+\((.*)\)\s*$/;
// `--perf-basic-prof` names: `JS:<tier>name file:line:column` (`Eval:` for a script's top level),
// the tier one of ~ ^ + * (or none).
const JS_SYMBOL = /^(?:JS|Eval):[~^+*]?(\S*)\s+(.*?)(?::(\d+))?(?::\d+)?$/;

function jsLabel(symbol: string, root: string): string {
  const m = JS_SYMBOL.exec(symbol);
  if (!m) return `${symbol} [JIT]`;
  const name = m[1] || '(anonymous)';
  let file = m[2]!.replace(/^file:\/\//, '');
  if (!file) return name;
  if (root && file.startsWith(root)) file = file.slice(root.length);
  file = file.replace(/^.*node_modules\//, 'node_modules/');
  return m[3] ? `${name} (${file}:${m[3]})` : `${name} (${file})`;
}

function frameLabel(symbol: string, dso: string, root: string): string {
  const sym = symbol.replace(/\+0x[0-9a-f]+$/, '');
  if (dso === '[kernel.kallsyms]' || dso.startsWith('[kernel')) return `${sym} [kernel]`;
  if (/\/perf-\d+\.map$/.test(dso)) return jsLabel(sym, root);
  return `${sym} [${basename(dso)}]`;
}

/**
 * Time (µs, from each sample's period in ns) per call stack, root first, the thread's name as the
 * root frame. A `;` inside a frame becomes `,`.
 */
export function foldPerfScript(text: string, options: PerfFoldOptions = {}): Map<string, number> {
  const root = options.root ?? '';
  const folded = new Map<string, number>();
  let thread: string | undefined;
  let periodNs = 0;
  let frames: string[] = [];
  const flush = () => {
    if (thread !== undefined && periodNs > 0) {
      const stack = [`thread: ${thread}`, ...frames.reverse()].map((f) => f.replaceAll(';', ',')).join(';');
      folded.set(stack, (folded.get(stack) ?? 0) + periodNs / 1000);
    }
    thread = undefined;
    periodNs = 0;
    frames = [];
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      flush();
      continue;
    }
    if (!/^\s/.test(line)) {
      flush();
      const h = HEADER.exec(line);
      if (h) {
        thread = h[1]!.trim();
        periodNs = Number(h[2]);
      }
      continue;
    }
    if (thread === undefined) continue;
    const f = FRAME.exec(line);
    if (!f) continue;
    const label = frameLabel(f[1]!.trim(), f[2]!, root);
    // A stack perf could not walk is a chain of unknown frames (126 deep in Mosquitto's): one says it.
    if (label.startsWith('[unknown] ') && frames.at(-1) === label) continue;
    frames.push(label);
  }
  flush();
  return folded;
}

/** Colour group of a frame of `foldPerfScript`: the kernel, native code, or as in a V8 profile. */
export function perfFrameGroup(frame: string): FlameGroup {
  if (frame.endsWith(' [kernel]')) return 'kernel';
  if (frame.startsWith('thread: ') || / \[[^\]]+\]$/.test(frame)) return 'V8 / native';
  return flameGroupOf(frame);
}

/** Runs a command to completion, its stdout as text; rejects with its stderr on failure. */
async function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<string> {
  try {
    // `perf script` of a 10 s turn prints tens of MB.
    return (await execFileAsync(cmd, args, { encoding: 'utf8', maxBuffer: 2 ** 30, timeout: timeoutMs, killSignal: 'SIGKILL' })).stdout;
  } catch (err) {
    const e = err as Error & { code?: number | string; signal?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} exited with ${e.code ?? e.signal}: ${(e.stderr ?? e.message).trim().slice(-500)}`, { cause: err });
  }
}

/**
 * How `perf record` walks a sample's stack: `fp` follows frame pointers, which V8's JIT code
 * keeps (and `dwarf` cannot unwind: JIT code has no unwind tables); `dwarf` copies the top of
 * the stack and unwinds it afterwards, for native programs built without frame pointers, such as
 * Debian's Mosquitto, whose frame-pointer stacks are chains of `[unknown]`.
 */
export type PerfCallGraph = 'fp' | 'dwarf';

/**
 * `perf record` of process `pid` (every thread) for `seconds` at `hz` samples per second, with
 * call stacks, into `file`. Resolves when the recording has ended.
 */
export function perfRecord(pid: number, seconds: number, file: string, options: { readonly hz?: number; readonly callGraph?: PerfCallGraph } = {}): Promise<void> {
  // 16 KB of stack per sample in dwarf mode: 29 MB for 3 s of Mosquitto at 10k msg/s.
  const callGraph = options.callGraph === 'dwarf' ? 'dwarf,16384' : 'fp';
  return run('perf', ['record', '-q', '-F', String(options.hz ?? 999), '--call-graph', callGraph, '-p', String(pid), '-o', file, '--', 'sleep', String(seconds)], (seconds + 60) * 1000).then(() => undefined);
}

/**
 * A `--perf-basic-prof` JIT map with only the code that still lives at each address: of entries
 * whose address ranges overlap, the one written last. V8 appends a line for every code object it
 * creates and never says when one is collected, so a gateway's map (19,000 lines after a 10 s
 * turn, 4,500 of them overlapping an earlier one) names the start-up code once at an address a hot
 * function took over later, and `perf script` picks either. Without this, 57 % of the gateway's
 * samples sat under the top-level code of a module loaded at start-up (ioredis's
 * SubscriptionSet.js), which ran once.
 */
export function compactPerfMap(text: string): string {
  const entries = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const m = /^([0-9a-fA-F]+) ([0-9a-fA-F]+) (.*)$/.exec(line);
      return m ? { start: parseInt(m[1]!, 16), end: parseInt(m[1]!, 16) + parseInt(m[2]!, 16), line } : undefined;
    })
    .filter((e) => e !== undefined);
  // Latest first; an entry stays if it overlaps none that stayed. `kept` is sorted by start and
  // its ranges are disjoint, so only the neighbours of the insertion point can overlap.
  const kept: { start: number; end: number; line: string }[] = [];
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!;
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (kept[mid]!.start < e.start) lo = mid + 1;
      else hi = mid;
    }
    const before = kept[lo - 1];
    const after = kept[lo];
    if ((before && before.end > e.start) || (after && after.start < e.end)) continue;
    kept.splice(lo, 0, e);
  }
  return kept.map((e) => `${e.line}\n`).join('');
}

/**
 * The folded stacks of a `perf record` file (`perf script`, which reads the JIT maps in /tmp).
 * With `pid`, that process's map is compacted first, in place (a new file renamed over it: the
 * process, if still running, appends to the old one).
 */
export async function perfFold(file: string, options: PerfFoldOptions = {}): Promise<Map<string, number>> {
  if (options.pid !== undefined) {
    const map = `/tmp/perf-${options.pid}.map`;
    const text = await readFile(map, 'utf8').catch(() => undefined);
    if (text !== undefined) {
      await writeFile(`${map}.compact`, compactPerfMap(text));
      await rename(`${map}.compact`, map);
    }
  }
  return foldPerfScript(await run('perf', ['script', '-i', file], 300_000), options);
}

/** Whether `perf` can record here (installed, and perf events allowed to this user). */
export async function perfWorks(): Promise<boolean> {
  try {
    await run('perf', ['record', '-q', '-o', '/dev/null', '--', 'true'], 30_000);
    return true;
  } catch {
    return false;
  }
}
