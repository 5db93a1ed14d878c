import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../bin/wattproof.js', import.meta.url));

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `wattproof <args>` to completion. */
export function runCli(args: string[], env: Record<string, string | undefined>, timeoutMs = 60_000): Promise<RunResult> {
  return runNode([CLI, ...args], env, timeoutMs);
}

/**
 * The environment for `wattproof` on the embedded defaults in `dataDir`: every variable that would
 * pick another store or service (`READINGS_STORE`, `REGISTRY_*`, `INFLUX_*`, `GATEWAY_*`,
 * `INGEST_*`, `API_*`) unset, whatever the test process itself was started with.
 */
export function embeddedCliEnv(dataDir: string, extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) if (/^(READINGS_STORE|REGISTRY_|INFLUX_|GATEWAY_|INGEST_|API_)/.test(key)) env[key] = undefined;
  return { ...env, WATTPROOF_DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...extra };
}

/**
 * Runs `node <nodeArgs>` from the repository's root to completion (killed after `timeoutMs`), in
 * the test's environment with `env` over it; a variable set to `undefined` there is removed.
 */
export function runNode(nodeArgs: string[], env: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<RunResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[key];
    else childEnv[key] = value;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    // Decoded as a stream: a character split between two chunks stays whole (the CLI prints Chinese).
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${nodeArgs.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running `wattproof <service>` child process. */
export interface Service {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves when stdout contains `text`. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM (graceful) or SIGKILL; resolves on exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `node <nodeArgs> bin/wattproof.js <args>` with the test's environment and `env` over it. */
export function startService(args: string[], env: Record<string, string>, nodeArgs: readonly string[] = []): Service {
  const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    output: () => out,
    async waitForOutput(text, timeoutMs = 30_000) {
      const start = Date.now();
      while (!out.includes(text)) {
        if (child.exitCode !== null) throw new Error(`wattproof ${args[0]} exited (${child.exitCode}) before printing "${text}":\n${out}`);
        if (Date.now() - start > timeoutMs) throw new Error(`wattproof ${args[0]} did not print "${text}" in time:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}
