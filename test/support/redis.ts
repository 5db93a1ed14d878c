/**
 * Starts a real, throwaway Redis (`redis-server` from Debian's `redis-server` package) for the
 * scale-out tests: loopback only, protected mode, a fresh temp directory, no RDB snapshots and the
 * append-only file fsynced on every write (`appendfsync always`: what an acknowledged reading
 * relies on, docs/SCALING.md). `stop()` removes the directory; `kill()` + `restart()` bring the
 * same data back on the same port (fault injection).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './net.js';

export interface TestRedis {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Kills the server (SIGTERM, SIGKILL after 5 s) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
  /** Fault injection: kills the server with `signal` (default SIGKILL) and keeps its directory. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again after `kill()` (same port, same data from the AOF); resolves when it answers PING. */
  restart(): Promise<void>;
  /** A new client connection that reconnects after `restart()` (the caller disconnects it). */
  client(): Redis;
}

const START_TIMEOUT_MS = 20_000;

function findRedisServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), '/usr/bin', '/usr/local/bin', '/usr/sbin'];
  return dirs.map((d) => join(d, 'redis-server')).find((p) => existsSync(p));
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts `redis-server` on a free loopback port and waits until it answers PING.
 * @throws Error when redis-server is not installed (`apt-get install redis-server`) or does not come up within 20 s.
 */
export async function startRedis(): Promise<TestRedis> {
  const bin = findRedisServer();
  if (!bin) throw new Error('redis-server is not installed: the scale-out tests need a real Redis. Install it with `sudo apt-get install redis-server` (Debian/Ubuntu).');
  const dir = await mkdtemp(join(tmpdir(), 'wattproof-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const logFile = join(dir, 'redis.log');
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--protected-mode', 'yes',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'yes',
    '--appendfsync', 'always',
    '--daemonize', 'no',
    '--logfile', logFile,
  ];
  let child: ChildProcess | undefined;

  const launch = async () => {
    const c = spawn(bin, args, { cwd: dir, stdio: 'ignore' });
    child = c;
    const started = Date.now();
    for (;;) {
      if (c.exitCode !== null) throw new Error(`redis-server exited with ${c.exitCode}:\n${await readFile(logFile, 'utf8').catch(() => '(no log)')}`);
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') return;
      } catch {
        // not up yet
      } finally {
        probe.disconnect();
      }
      if (Date.now() - started > START_TIMEOUT_MS) {
        c.kill('SIGKILL');
        throw new Error(`redis-server did not answer PING within ${START_TIMEOUT_MS} ms:\n${await readFile(logFile, 'utf8').catch(() => '(no log)')}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const c = child;
    if (!c) return;
    child = undefined;
    c.kill(signal);
    if (!(await waitForExit(c, 5000))) {
      c.kill('SIGKILL');
      await waitForExit(c, 5000);
    }
  };

  try {
    await launch();
  } catch (err) {
    await kill();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    url,
    port,
    kill,
    restart: launch,
    client() {
      const c = new Redis(url);
      // Reconnect errors while the server is killed on purpose are expected; without a listener they are uncaught.
      c.on('error', () => undefined);
      return c;
    },
    async stop() {
      await kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
