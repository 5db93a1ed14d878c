/**
 * CPU time and memory of another process from Linux procfs (proc(5)): `/proc/<pid>/stat` fields
 * 14 utime and 15 stime (clock ticks), `/proc/<pid>/status` VmRSS / VmHWM (kB) and the read and
 * write system calls so far from `/proc/<pid>/io` (syscr, syscw; socket reads and writes count).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second (`getconf CLK_TCK`); 100 on every Linux this runs on, asked once. */
export const CLK_TCK: number = (() => {
  try {
    const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(v) && v > 0 ? v : 100;
  } catch {
    return 100;
  }
})();

export interface ProcStat {
  /** Process state letter (R, S, Z, ...). */
  readonly state: string;
  readonly utimeTicks: number;
  readonly stimeTicks: number;
}

/**
 * Parses the one line of `/proc/<pid>/stat`. The command name (field 2) is in parentheses and
 * may itself contain spaces and parentheses, so fields are counted from the last `)`.
 * @throws Error when the line is not a stat line.
 */
export function parseProcStat(line: string): ProcStat {
  const close = line.lastIndexOf(')');
  if (close < 0) throw new Error('not a /proc/<pid>/stat line');
  // After ") ": field 3 (state) is index 0, so field k is index k - 3.
  const f = line.slice(close + 2).trim().split(/\s+/);
  const utime = Number(f[14 - 3]);
  const stime = Number(f[15 - 3]);
  if (!f[0] || !Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('not a /proc/<pid>/stat line');
  return { state: f[0], utimeTicks: utime, stimeTicks: stime };
}

/** A counter of `/proc/<pid>/io` (e.g. syscw); undefined when absent or not readable. */
export function parseProcIo(text: string, field: string): number | undefined {
  const m = new RegExp(`^${field}:\\s+(\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** A `kB` field of `/proc/<pid>/status` (e.g. VmRSS) in bytes; undefined when absent (a zombie has none). */
export function parseProcStatusBytes(text: string, field: string): number | undefined {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

export interface ProcessSample {
  /** user + system CPU seconds since the process started. */
  readonly cpuS: number;
  /** Of `cpuS`, the time in the kernel (stime): system calls such as socket writes, and the
   * loopback TCP receive work the kernel does in the sender's call. */
  readonly systemS: number;
  readonly rssBytes: number;
  /** Peak RSS so far. */
  readonly hwmBytes: number;
  /** Read and write system calls since the process started (/proc/<pid>/io: needs the same user or root). */
  readonly readSyscalls?: number;
  readonly writeSyscalls?: number;
  /** Seconds the main thread (the task whose id is the pid) spent runnable but waiting for a core (/proc/<pid>/schedstat). */
  readonly mainRunQueueS?: number;
  /** Monotonic time of the sample, ms (performance.now()). */
  readonly atMs: number;
}

/** /proc/<pid>/schedstat: ns on a core, ns waiting on a run queue, time slices (Documentation/scheduler/sched-stats.rst). */
export function parseSchedstat(text: string): { onCpuNs: number; runQueueNs: number; slices: number } | undefined {
  const [onCpu, runQueue, slices] = text.trim().split(/\s+/).map(Number);
  return Number.isFinite(onCpu) && Number.isFinite(runQueue) && Number.isFinite(slices) ? { onCpuNs: onCpu!, runQueueNs: runQueue!, slices: slices! } : undefined;
}

function readRunQueue(pid: number): { mainRunQueueS?: number } {
  try {
    const s = parseSchedstat(readFileSync(`/proc/${pid}/schedstat`, 'utf8'));
    return s ? { mainRunQueueS: s.runQueueNs / 1e9 } : {};
  } catch {
    return {};
  }
}

function readIo(pid: number): { readSyscalls?: number; writeSyscalls?: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const r = parseProcIo(io, 'syscr');
    const w = parseProcIo(io, 'syscw');
    return { ...(r !== undefined ? { readSyscalls: r } : {}), ...(w !== undefined ? { writeSyscalls: w } : {}) };
  } catch {
    return {};
  }
}

/** Reads one sample of `pid`; undefined when the process is gone. */
export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return {
      cpuS: (stat.utimeTicks + stat.stimeTicks) / CLK_TCK,
      systemS: stat.stimeTicks / CLK_TCK,
      rssBytes: parseProcStatusBytes(status, 'VmRSS') ?? 0,
      hwmBytes: parseProcStatusBytes(status, 'VmHWM') ?? 0,
      ...readIo(pid),
      ...readRunQueue(pid),
      atMs: performance.now(),
    };
  } catch {
    return undefined;
  }
}

/** The 1-, 5- and 15-minute load averages (`/proc/loadavg`). */
export function loadAverage(): [number, number, number] {
  const [a = 'NaN', b = 'NaN', c = 'NaN'] = readFileSync('/proc/loadavg', 'utf8').split(' ');
  return [Number(a), Number(b), Number(c)];
}
