/**
 * Benchmark helpers that run in their own Node process (load generators, subscriber), so that
 * their CPU is not the broker's: forked with the tsx loader, driven by IPC messages.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface ChildMessage {
  readonly type: string;
}

export interface BenchChild<In extends ChildMessage, Out extends ChildMessage> {
  readonly pid: number;
  send(message: In): void;
  /** The next message of `type` (messages of other types that arrive first are dropped). @throws Error on timeout or exit. */
  next<T extends Out['type']>(type: T, timeoutMs: number): Promise<Extract<Out, { type: T }>>;
  /** Every message as it arrives (progress reports). */
  onMessage(listener: (message: Out) => void): void;
  /** Resolves when the process has exited (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

/** True in the module that Node was started with (the child's entry point). */
export function isMain(importMetaUrl: string): boolean {
  return process.argv[1] !== undefined && importMetaUrl === pathToFileURL(process.argv[1]).href;
}

/** Pins every thread of `pid` (and those it starts later, which inherit it) to `cpus`, e.g. "1" (taskset -a). */
export function pinProcess(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** Forks `module` (a URL next to the caller, e.g. `new URL('./mqtt-load.ts', import.meta.url)`) under tsx. */
export function forkChild<In extends ChildMessage, Out extends ChildMessage>(module: URL, options: { cpus?: string } = {}): BenchChild<In, Out> {
  const child: ChildProcess = fork(fileURLToPath(module), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (options.cpus !== undefined && child.pid !== undefined) pinProcess(child.pid, options.cpus);
  const waiters: Array<{ type: string; resolve: (m: Out) => void }> = [];
  const listeners: Array<(m: Out) => void> = [];
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  child.on('message', (m: Out) => {
    for (const l of listeners) l(m);
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
  });
  return {
    pid: child.pid ?? -1,
    send: (m) => {
      if (!exited && child.connected) child.send(m);
    },
    next(type, timeoutMs) {
      return new Promise((resolve, reject) => {
        if (exited) return reject(new Error(`child ${child.pid} has exited`));
        const timer = setTimeout(() => reject(new Error(`no "${type}" from child ${child.pid} within ${timeoutMs} ms`)), timeoutMs);
        const waiter = {
          type,
          resolve: (m: Out) => {
            clearTimeout(timer);
            resolve(m as Extract<Out, { type: typeof type }>);
          },
        };
        waiters.push(waiter);
        void exit.then(() => {
          clearTimeout(timer);
          reject(new Error(`child ${child.pid} exited before sending "${type}"`));
        });
      });
    },
    onMessage: (l) => listeners.push(l),
    async stop(graceMs = 5000) {
      if (exited) return;
      // The child may have closed the channel itself already (disconnect() would throw then).
      if (child.connected) child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
