/** What a benchmark ran on, for its report: CPUs, memory, Node, Mosquitto, load average. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { loadAverage } from './proc.js';
import { MOSQUITTO_BIN } from './brokers.js';

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memGiB: number;
  readonly node: string;
  readonly mosquitto: string;
  /** File descriptors a process may open (soft/hard), which caps connections per process. */
  readonly nofile: string;
  readonly loadAverage: [number, number, number];
}

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]!.trim();
  } catch (err) {
    // mosquitto -h exits non-zero after printing its version.
    const out = (err as { stdout?: string }).stdout ?? '';
    return out.split('\n')[0]!.trim() || 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const nofile = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  return {
    cpus: availableParallelism(),
    cpuModel: model.trim(),
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    mosquitto: firstLine(MOSQUITTO_BIN, ['-h']),
    nofile: nofile ? `${nofile[1]}/${nofile[2]}` : 'unknown',
    loadAverage: loadAverage(),
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.cpus} vCPU (${m.cpuModel}), ${m.memGiB} GiB, Node ${m.node}, ${m.mosquitto}, open files ${m.nofile}, load average ${m.loadAverage.join(' ')}`;
}

/** The commit the benchmark ran from and the files under `paths` that differed from it (a working tree in flux). */
export function sourceState(paths: readonly string[] = ['gateway', 'core', 'bin']): { head: string; modified: string[] } {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--short', '--', ...paths], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { head, modified: status.split('\n').filter(Boolean).map((l) => l.slice(3)) };
  } catch {
    return { head: 'unknown', modified: [] };
  }
}
