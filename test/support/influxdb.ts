/**
 * Starts a real InfluxDB 1.x (`influxd` from Debian's `influxdb` package) for contract and
 * end-to-end tests: loopback only, fresh temp directory, no auth, no reporting, no extra listeners.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './net.js';

/** A running test InfluxDB. */
export interface TestInfluxDb {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** A database name for the test (not created: the store's `init()` creates it). */
  readonly database: string;
  /** Kills the server (SIGTERM, then SIGKILL after 5 s) and removes its directory. */
  stop(): Promise<void>;
  /**
   * Fault injection: kills the server with `signal` (default SIGKILL: no flush, as a crash) and
   * keeps its directory, so `restart()` brings the same data back on the same port.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again after `kill()` (same ports, same data); resolves when `/ping` answers 204. */
  restart(): Promise<void>;
  /** Fault injection: freezes the server (SIGSTOP): connections are accepted by the kernel but never answered. */
  pause(): void;
  /** Undoes `pause()` (SIGCONT). */
  resume(): void;
  /** Process id of the running server (for memory sampling); undefined after `kill()`/`stop()`. */
  pid(): number | undefined;
}

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

function findInfluxd(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), '/usr/bin', '/usr/local/bin'];
  return dirs.map((d) => join(d, 'influxd')).find((p) => existsSync(p));
}

async function tail(file: string, lines = 40): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
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
 * Starts `influxd -config <file>` on two free loopback ports and waits until `GET /ping` answers 204.
 * @throws Error when influxd is not installed (install it with `apt-get install influxdb`) or does not
 * come up within 30 s (the message carries the end of its log).
 */
export async function startInfluxDb(): Promise<TestInfluxDb> {
  const influxd = findInfluxd();
  if (!influxd) {
    throw new Error('influxd is not installed: the InfluxDB contract tests need a real InfluxDB 1.x. Install it with `sudo apt-get install influxdb` (Debian/Ubuntu).');
  }
  const dir = await mkdtemp(join(tmpdir(), 'wattproof-influxdb-'));
  const [rpcPort, httpPort] = [await freePort(), await freePort()];
  const config = `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  auth-enabled = false
  pprof-enabled = false
  log-enabled = true

[logging]
  level = "info"
  suppress-logo = true

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false
`;
  const configFile = join(dir, 'influxdb.conf');
  const logFile = join(dir, 'influxd.log');
  await writeFile(configFile, config);
  const url = `http://127.0.0.1:${httpPort}`;
  let child!: ChildProcess;
  let exited = false;

  const spawnInfluxd = (): void => {
    const logFd = openSync(logFile, 'a');
    try {
      child = spawn(influxd, ['-config', configFile], { stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    exited = false;
    child.once('exit', () => {
      exited = true;
    });
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (exited) return;
    child.kill('SIGCONT');
    child.kill(signal);
    if (!(await waitForExit(child, STOP_GRACE_MS))) {
      child.kill('SIGKILL');
      await waitForExit(child, STOP_GRACE_MS);
    }
  };

  const stop = async (): Promise<void> => {
    await kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  };

  const waitUntilUp = async (): Promise<void> => {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited) {
        const log = await tail(logFile);
        await stop();
        throw new Error(`influxd exited during start (code ${child.exitCode}, signal ${child.signalCode}); log tail:\n${log}`);
      }
      try {
        const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1_000) });
        if (res.status === 204) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) {
        const log = await tail(logFile);
        await stop();
        throw new Error(`influxd did not answer GET ${url}/ping with 204 within ${START_TIMEOUT_MS} ms; log tail:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  spawnInfluxd();
  await waitUntilUp();
  return {
    url,
    database: 'wattproof_test',
    stop,
    kill,
    async restart() {
      if (!exited) throw new Error('influxd is still running: kill() it first');
      spawnInfluxd();
      await waitUntilUp();
    },
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    pid: () => (exited ? undefined : child.pid),
  };
}
