/** Node processes a benchmark starts and stops: the ingest as `wattproof ingest` runs it, and peers such as Node-RED. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INGEST_NODE_ARGS } from '@wattproof/ingest';
import { monotonicMs } from './payload.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export interface IngestProcess {
  readonly child: ChildProcess;
  /** The last 8,000 characters it wrote on stdout and stderr. */
  output(): string;
  /** Lines it wrote that contained the error marker (Node-RED's `[error]`), counted as they arrive. */
  errorLines(): number;
  /** The first few distinct such lines (digits replaced by N, at most 200 characters each). */
  errorSamples(): string[];
  /** Resolves when stdout or stderr shows `text`. @throws Error when it exits first or after `timeoutMs`. */
  waitForOutput(text: string, timeoutMs: number): Promise<void>;
  /** SIGTERM (it drains and exits 0), SIGKILL after 30 s; resolves on exit. */
  stop(): Promise<void>;
}

/** Starts `node <args>` in `cwd` with `env` added, keeping the tail of its output. */
export function startNodeProcess(label: string, args: readonly string[], env: Record<string, string>, cwd: string, errorMarker?: string): IngestProcess {
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let errors = 0;
  const samples = new Set<string>();
  const keep = (d: Buffer) => {
    const text = d.toString();
    if (errorMarker) {
      for (let i = text.indexOf(errorMarker); i >= 0; i = text.indexOf(errorMarker, i + errorMarker.length)) {
        errors++;
        if (samples.size < 5) samples.add(text.slice(i, (text.indexOf('\n', i) + 1 || text.length + 1) - 1).replace(/\d+/g, 'N').slice(0, 200));
      }
    }
    out = (out + text).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    output: () => out,
    errorLines: () => errors,
    errorSamples: () => [...samples],
    async waitForOutput(text, timeoutMs) {
      const deadline = monotonicMs() + timeoutMs;
      while (!out.includes(text)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${label} exited (${child.exitCode ?? child.signalCode}) before printing "${text}":\n${out}`);
        if (monotonicMs() > deadline) throw new Error(`${label} did not print "${text}" within ${timeoutMs} ms:\n${out}`);
        await sleep(50);
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * Starts the ingest as `wattproof ingest` does, with INGEST_NODE_ARGS and then `nodeArgs` before
 * the script (a later flag wins where they repeat one): `--cpu-prof` and V8 flags such as the
 * pretenuring one are refused by Node 20 in NODE_OPTIONS ("not allowed"), so they go on the command line.
 */
export function startIngestProcess(env: Record<string, string>, nodeArgs: readonly string[]): IngestProcess {
  return startNodeProcess('wattproof ingest', [...INGEST_NODE_ARGS, ...nodeArgs, join(REPO_ROOT, 'bin/wattproof.js'), 'ingest'], env, REPO_ROOT);
}

