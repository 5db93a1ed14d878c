/**
 * The brokers under test as child processes of the benchmark, each on a free 127.0.0.1 port
 * with its own temp files: the Wattproof gateway (`node bin/wattproof.js gateway`, embedded
 * JSON-lines registry) and Mosquitto (generated config, password file and ACL), both with the
 * same devices and credentials and the same per-device topic rights.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ALL_READINGS_FILTER, ALL_STATUS_FILTER, issueSecret, meterKey, readingsTopic, TOPIC_ROOT, type MeterRef } from '@wattproof/core';
import { GATEWAY_NODE_ARGS, provisionService } from '@wattproof/gateway';
import { createJsonlRegistryStore, REGISTRY_DATA_SUBDIR } from '@wattproof/gateway/registry';

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';
export const MOSQUITTO_PASSWD_BIN = '/usr/bin/mosquitto_passwd';
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * `aedes` is stock aedes with no authentication, ACL or hooks (bench/lib/stock-aedes.mjs): not a
 * broker users would deploy, but the floor under the gateway, which is aedes plus Wattproof's checks.
 */
export type BrokerName = 'gateway' | 'mosquitto' | 'aedes' | 'baseline';
/** The brokers a benchmark runs when none are named: the issue's comparison. */
export const BROKERS: readonly BrokerName[] = ['gateway', 'mosquitto'];
/**
 * Every broker a benchmark can start. `baseline` is the gateway of another checkout (`--baseline DIR`,
 * e.g. `git worktree add DIR <commit>` with node_modules linked), for A/B runs side by side.
 */
export const BROKER_NAMES: readonly BrokerName[] = ['gateway', 'mosquitto', 'aedes', 'baseline'];

/** The meter of bench device `i`: site `bench`, 100 meters per building. */
export function benchDevice(i: number): MeterRef {
  return { site: 'bench', building: `b${String(Math.floor(i / 100)).padStart(4, '0')}`, meter: `m${String(i % 100).padStart(2, '0')}` };
}

/** What a load generator needs to log device `i` in and publish its readings. */
export function benchDeviceLogin(i: number): { username: string; topic: string } {
  const ref = benchDevice(i);
  return { username: meterKey(ref), topic: readingsTopic(ref) };
}

/** The subscriber's login: a `service` principal, as the ingest's `wattproof-ingest`. */
export const SUBSCRIBER_USERNAME = 'bench-subscriber';

export interface BenchCredentials {
  readonly dir: string;
  readonly devices: number;
  /** Every bench device's secret: generated as `wattproof device add` generates one, stored as it stores one (core/src/credentials.ts); PBKDF2 for Mosquitto. */
  readonly devicePassword: string;
  readonly subscriberPassword: string;
}

/**
 * Provisions `devices` devices and the subscriber for both brokers under `dir`: the gateway's
 * embedded registry (`dir/data/registry`) and Mosquitto's password file and ACL (`dir/mosquitto`).
 * Devices share one secret so that the load generator needs only one (each is still a principal
 * with its own username and topic rights; the gateway still verifies the secret at each one's
 * first CONNECT, its auth cache being per username). The subscriber's secret is supplied, as the
 * ingest's is in docker-compose (`--secret-env`), so the gateway keeps it as scrypt.
 */
export async function provisionBench(dir: string, devices: number): Promise<BenchCredentials> {
  const { secret: devicePassword, secretHash } = issueSecret();
  const subscriberPassword = 'bench-subscriber-secret-0123456789abcdef';
  const registry = createJsonlRegistryStore({ dir: join(dir, 'data', REGISTRY_DATA_SUBDIR) });
  await registry.init();
  try {
    const createdAtMs = Date.now();
    // Concurrent puts: the store serializes the appends, concurrency only overlaps the fdatasyncs.
    const chunk = 500;
    for (let i = 0; i < devices; i += chunk) {
      await Promise.all(
        Array.from({ length: Math.min(chunk, devices - i) }, (_, k) => {
          const meter = benchDevice(i + k);
          return registry.putPrincipal({ username: meterKey(meter), role: 'device', meter, secretHash, createdAtMs });
        }),
      );
    }
    await provisionService(registry, SUBSCRIBER_USERNAME, 'service', { secret: subscriberPassword });
  } finally {
    await registry.close();
  }

  const mdir = join(dir, 'mosquitto');
  await mkdir(mdir, { recursive: true });
  const lines = [`${SUBSCRIBER_USERNAME}:${subscriberPassword}`];
  for (let i = 0; i < devices; i++) lines.push(`${benchDeviceLogin(i).username}:${devicePassword}`);
  await writeFile(join(mdir, 'passwd'), `${lines.join('\n')}\n`, { mode: 0o600 });
  // -U hashes a file of user:password lines in place (PBKDF2-SHA512 in Mosquitto 2.0).
  await promisify(execFile)(MOSQUITTO_PASSWD_BIN, ['-U', join(mdir, 'passwd')]);
  // The gateway's rights (gateway/src/acl.ts): a device publishes its own readings and status and
  // subscribes under its own meter; a service subscribes to every meter and publishes nothing.
  // %u is the username, which for a device is site/building/meter.
  const acl = [
    `user ${SUBSCRIBER_USERNAME}`,
    `topic read ${ALL_READINGS_FILTER}`,
    `topic read ${ALL_STATUS_FILTER}`,
    '',
    `pattern write ${TOPIC_ROOT}/%u/readings`,
    `pattern readwrite ${TOPIC_ROOT}/%u/status`,
    `pattern read ${TOPIC_ROOT}/%u/#`,
    '',
  ];
  await writeFile(join(mdir, 'acl'), acl.join('\n'), { mode: 0o600 });
  return { dir, devices, devicePassword, subscriberPassword };
}

/** A free TCP port on 127.0.0.1 (the OS picks it; closed again before use). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface BrokerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly atMs: number;
}

export interface BrokerProcess {
  readonly name: BrokerName;
  readonly pid: number;
  readonly host: string;
  readonly port: number;
  /** The command line, for the report. */
  readonly command: string;
  /** Set once the process has exited. */
  exit(): BrokerExit | undefined;
  /** The last lines the process wrote on stdout and stderr (a crash's stack trace). */
  outputTail(): string;
  /** SIGTERM, then SIGKILL after 5 s (StartOptions.stopTimeoutMs); resolves when it has exited. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Pin the broker to these CPUs with taskset (e.g. "0"). */
  readonly cpus?: string;
  /** Open-file limit of the broker (prlimit; only lowering works without CAP_SYS_RESOURCE). */
  readonly nofile?: number;
  /** Extra environment of a Node broker (gateway, baseline, stock aedes) — e.g. GATEWAY_MAX_CONNECTIONS. */
  readonly env?: Record<string, string>;
  /** Time allowed to start listening, ms (default 30,000). */
  readonly startTimeoutMs?: number;
  /**
   * Node arguments before the gateway's script, e.g. `--cpu-prof` (Node 20 refuses it in
   * NODE_OPTIONS). Mosquitto ignores them.
   */
  readonly nodeArgs?: readonly string[];
  /** Time `stop()` allows after SIGTERM before SIGKILL, ms (default 5,000; longer when a CPU profile is written at exit). */
  readonly stopTimeoutMs?: number;
  /** The checkout whose gateway runs as `baseline` (its bin/wattproof.js). */
  readonly baselineRoot?: string;
}

function track(name: BrokerName, child: ChildProcess, port: number, command: string, logFile: string, stopTimeoutMs = 5000): BrokerProcess {
  let exited: BrokerExit | undefined;
  let tail = '';
  const log = createWriteStream(logFile, { flags: 'a' });
  const keep = (chunk: Buffer) => {
    log.write(chunk);
    tail = (tail + chunk.toString('utf8')).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const done = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal, atMs: Date.now() };
      log.end();
      resolve();
    }),
  );
  return {
    name,
    pid: child.pid ?? -1,
    host: '127.0.0.1',
    port,
    command,
    exit: () => exited,
    outputTail: () => tail,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
      await done;
      clearTimeout(timer);
    },
  };
}

async function untilListening(b: BrokerProcess, timeoutMs: number): Promise<BrokerProcess> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (b.exit()) throw new Error(`${b.name} exited while starting (${JSON.stringify(b.exit())}):\n${b.outputTail()}`);
    if (await canConnect(b.port)) return b;
    await new Promise((r) => setTimeout(r, 100));
  }
  await b.stop();
  throw new Error(`${b.name} did not listen on ${b.port} within ${timeoutMs} ms:\n${b.outputTail()}`);
}

/** The command line with `taskset` (CPU pinning) and `prlimit` (open-file limit) in front when asked. */
function wrap(cmd: string, args: string[], options: StartOptions): [string, string[]] {
  let c: [string, string[]] = [cmd, args];
  if (options.cpus !== undefined) c = ['taskset', ['-c', options.cpus, c[0], ...c[1]]];
  if (options.nofile !== undefined) c = ['prlimit', [`--nofile=${options.nofile}:${options.nofile}`, '--', c[0], ...c[1]]];
  return c;
}

/**
 * Starts `node bin/wattproof.js gateway` on a free port with the registry in `creds.dir/data`
 * (authentication, topic ACLs and the gateway's payload checks on, as in production; logs at warn;
 * GATEWAY_NODE_ARGS, then `options.nodeArgs`, which win where they repeat a flag).
 */
export async function startGateway(creds: Pick<BenchCredentials, 'dir'>, options: StartOptions = {}, root = REPO_ROOT, name: BrokerName = 'gateway'): Promise<BrokerProcess> {
  const port = await freePort();
  const httpPort = await freePort();
  const env: Record<string, string> = {
    REGISTRY_STORE: 'embedded',
    WATTPROOF_DATA_DIR: join(creds.dir, 'data'),
    GATEWAY_MQTT_HOST: '127.0.0.1',
    GATEWAY_MQTT_PORT: String(port),
    GATEWAY_HTTP_PORT: String(httpPort),
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  const [cmd, args] = wrap(process.execPath, [...GATEWAY_NODE_ARGS, ...(options.nodeArgs ?? []), join(root, 'bin/wattproof.js'), 'gateway'], options);
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const command = `${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')} ${cmd} ${args.join(' ')}`;
  return untilListening(track(name, child, port, command, join(creds.dir, `${name}-${port}.log`), options.stopTimeoutMs), options.startTimeoutMs ?? 30_000);
}

/** Mosquitto's config: one listener, the password file and ACL, persistence off, logs of warnings and errors. */
export function mosquittoConfig(dir: string, port: number, extra: readonly string[] = []): string {
  return [
    'per_listener_settings false',
    `listener ${port} 127.0.0.1`,
    'allow_anonymous false',
    `password_file ${join(dir, 'mosquitto', 'passwd')}`,
    `acl_file ${join(dir, 'mosquitto', 'acl')}`,
    'persistence false',
    // Started as root it would switch to user "mosquitto", who cannot read the temp dir.
    'user root',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    ...extra,
    '',
  ].join('\n');
}

/** Starts Mosquitto on a free port with the config of `mosquittoConfig` plus `extra` lines. */
export async function startMosquitto(creds: BenchCredentials, options: StartOptions & { extraConfig?: readonly string[] } = {}): Promise<BrokerProcess> {
  const port = await freePort();
  const conf = join(creds.dir, 'mosquitto', `mosquitto-${port}.conf`);
  await writeFile(conf, mosquittoConfig(creds.dir, port, options.extraConfig));
  const [cmd, args] = wrap(MOSQUITTO_BIN, ['-c', conf], options);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return untilListening(track('mosquitto', child, port, `${cmd} ${args.join(' ')}`, join(creds.dir, `mosquitto-${port}.log`)), options.startTimeoutMs ?? 30_000);
}

/**
 * Starts stock aedes (bench/lib/stock-aedes.mjs) on a free port: it accepts any login and any topic,
 * so the same load generator and subscriber run against it unchanged.
 */
export async function startStockAedes(creds: Pick<BenchCredentials, 'dir'>, options: StartOptions = {}): Promise<BrokerProcess> {
  const port = await freePort();
  const [cmd, args] = wrap(process.execPath, [...(options.nodeArgs ?? []), join(REPO_ROOT, 'bench/lib/stock-aedes.mjs'), String(port)], options);
  const child = spawn(cmd, args, { cwd: REPO_ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return untilListening(track('aedes', child, port, `${cmd} ${args.join(' ')}`, join(creds.dir, `aedes-${port}.log`), options.stopTimeoutMs), options.startTimeoutMs ?? 30_000);
}

export function startBroker(name: BrokerName, creds: BenchCredentials, options: StartOptions & { extraConfig?: readonly string[] } = {}): Promise<BrokerProcess> {
  if (name === 'gateway') return startGateway(creds, options);
  if (name === 'aedes') return startStockAedes(creds, options);
  if (name === 'baseline') {
    if (!options.baselineRoot) throw new Error('the baseline broker needs --baseline DIR (a checkout of the commit to compare with)');
    return startGateway(creds, options, options.baselineRoot, 'baseline');
  }
  return startMosquitto(creds, options);
}
