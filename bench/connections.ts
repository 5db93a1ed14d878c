/**
 * `npm run bench -- connections [options]`: how many idle authenticated device connections one
 * broker process holds, how fast they log in, and what each costs in memory — the gateway
 * (`node bin/wattproof.js gateway`) and Mosquitto as the reference, same devices and credentials
 * (bench/lib/brokers.ts), one after the other.
 *
 * Per broker: start it, let it settle, sample its RSS; open `--count` device connections from
 * load generator processes (bench/lib/mqtt-load.ts, at most `--per-process` connections each, as
 * a process may hold only so many descriptors) with `--concurrency` CONNECTs in flight; the
 * connect rate is connections / time to the last CONNACK. After `--settle` seconds, RSS again;
 * memory per connection = the difference / connections. Then `--idle` seconds of the broker's CPU
 * with every connection open and keeping alive.
 *
 * The gateway verifies each device's secret at its first CONNECT: a salted SHA-256 for the
 * generated secrets the bench provisions, as `wattproof device add` stores them (until
 * 2026-12-01 scrypt, ~16 ms of CPU each on libuv's thread pool, which bounded the connect rate at
 * about 50/s); Mosquitto checks PBKDF2 hashes. The gateway runs with GATEWAY_MAX_CONNECTIONS above `--count` (its default, 10,000,
 * would refuse the rest with CONNACK 3). A process may have at most the hard `ulimit -n` open
 * files, which bounds connections per broker process: the harness reports it and does not try
 * to raise it.
 *
 * Options: `npm run bench -- connections --help` (CLI below).
 */
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { BROKER_NAMES, BROKERS, provisionBench, startBroker, type BrokerName } from './lib/brokers.js';
import { forkChild, type BenchChild } from './lib/child.js';
import { BenchUsageError, defineBench, parseBenchArgs, showBenchHelp } from './lib/cli.js';
import { describeMachine, machineInfo, sourceState } from './lib/machine.js';
import type { LoadConnected, LoadIn, LoadOut } from './lib/mqtt-load.js';
import { loadAverage, sampleProcess } from './lib/proc.js';
import { median } from './lib/stats.js';
import { formatTable } from './lib/table.js';

export interface ConnectionsResult {
  readonly broker: BrokerName;
  readonly requested: number;
  readonly connected: number;
  readonly failed: number;
  readonly errors: Record<string, number>;
  /** First CONNECT to last CONNACK, s. */
  readonly connectS: number;
  readonly connectsPerS: number;
  /** Connect to CONNACK per connection, ms: median of the generators' p50, worst of their p99. */
  readonly connackP50Ms: number;
  readonly connackP99Ms: number;
  /** Broker CPU while connecting, ms per connection. */
  readonly cpuMsPerConnect: number;
  readonly rssBeforeMiB: number;
  readonly rssAfterMiB: number;
  readonly peakRssMiB: number;
  readonly kibPerConnection: number;
  /** Broker CPU with every connection open and idle. */
  readonly idleCpuPct: number;
  /** Connections still open after the idle period (a broker may drop some). */
  readonly stillConnected: number;
  readonly brokerExited: unknown;
  readonly outputTail?: string;
  readonly loadAverage1m: number;
}

const MiB = 2 ** 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const CLI = defineBench({
  name: 'connections',
  summary: `How many idle authenticated device connections one broker process holds, how fast they log in and
what each costs in memory and idle CPU: the gateway and Mosquitto, one after the other, same devices.`,
  options: {
    count: { type: 'string', placeholder: 'N', default: '20000', description: 'device connections opened per broker' },
    brokers: { type: 'string', placeholder: 'B,B', default: BROKERS.join(','), description: 'brokers in the run: gateway, mosquitto and/or aedes (stock, without authentication)' },
    concurrency: { type: 'string', placeholder: 'N', default: '200', description: 'CONNECTs in flight over all generator processes' },
    // A process may hold only so many descriptors.
    'per-process': { type: 'string', placeholder: 'N', default: '10000', description: 'connections per load generator process' },
    'source-addresses': { type: 'string', placeholder: 'N', description: 'spread the connections over 127.0.0.1 .. 127.0.0.N (default: one address per 25,000 connections)' },
    keepalive: { type: 'string', placeholder: 'S', default: '120', description: 'MQTT keep-alive of the devices, seconds' },
    settle: { type: 'string', placeholder: 'S', default: '5', description: 'seconds waited before each RSS sample' },
    idle: { type: 'string', placeholder: 'S', default: '10', description: "seconds of the broker's CPU measured with every connection open and idle" },
    // To see what a broker does when descriptors run out.
    nofile: { type: 'string', placeholder: 'N', description: "the broker's open-file limit (prlimit; lowering only)" },
    json: { type: 'string', placeholder: 'FILE', description: 'also write the results as JSON' },
  },
});

export async function main(argv: string[]): Promise<void> {
  if (showBenchHelp(CLI, argv)) return;
  const values = parseBenchArgs(CLI, argv);
  const count = Number(values.count);
  const concurrency = Number(values.concurrency);
  const perProcess = Number(values['per-process']);
  const sourceAddresses = Number(values['source-addresses'] ?? Math.ceil(count / 25_000));
  const keepaliveS = Number(values.keepalive);
  const settleMs = Number(values.settle) * 1000;
  const idleMs = Number(values.idle) * 1000;
  const brokers = values.brokers.split(',') as BrokerName[];
  for (const b of brokers) if (!(BROKER_NAMES as readonly string[]).includes(b)) throw new BenchUsageError(`--brokers takes ${BROKER_NAMES.join(', ')}`);
  if (![count, concurrency, perProcess, sourceAddresses].every((x) => Number.isInteger(x) && x > 0)) throw new BenchUsageError('--count, --concurrency, --per-process and --source-addresses must be positive integers');

  const command = `npm run bench -- connections ${argv.join(' ')}`.trim();
  const machine = machineInfo();
  const source = sourceState();
  process.stdout.write(`${command}\n${describeMachine(machine)}\nsource ${source.head}${source.modified.length ? ` + ${source.modified.length} modified files under gateway/, core/, bin/` : ''}\n`);
  const hardNofile = Number(machine.nofile.split('/')[1]);
  if (Number.isFinite(hardNofile) && count > hardNofile - 50) {
    process.stdout.write(`note: a broker process may open at most ${hardNofile} files here (hard limit; raising it needs CAP_SYS_RESOURCE), so it cannot hold ${count} connections\n`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'wattproof-bench-connections-'));
  const results: ConnectionsResult[] = [];
  try {
    let t = performance.now();
    const creds = await provisionBench(dir, count);
    process.stderr.write(`provisioned ${count} devices for both brokers in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
    for (const name of brokers) {
      const broker = await startBroker(name, creds, { env: { GATEWAY_MAX_CONNECTIONS: String(count + 1000) }, ...(values.nofile ? { nofile: Number(values.nofile) } : {}) });
      const gens: Array<BenchChild<LoadIn, LoadOut>> = [];
      try {
        await sleep(settleMs);
        const before = sampleProcess(broker.pid);
        const processes = Math.ceil(count / perProcess);
        const progress = new Map<number, number>();
        const bar = new SingleBar({
          stream: process.stderr,
          noTTYOutput: !process.stderr.isTTY,
          notTTYSchedule: 5000,
          format: `${name} {bar} {value}/{total} connections | {rate}/s | ETA {eta_formatted}`,
          hideCursor: Boolean(process.stderr.isTTY),
        });
        bar.start(count, 0, { rate: 0 });
        t = performance.now();
        const done: Array<Promise<LoadConnected>> = [];
        for (let p = 0; p < processes; p++) {
          const first = p * perProcess;
          const n = Math.min(perProcess, count - first);
          const gen = forkChild<LoadIn, LoadOut>(new URL('./lib/mqtt-load.ts', import.meta.url));
          gens.push(gen);
          gen.onMessage((m) => {
            if (m.type !== 'progress' && m.type !== 'connected') return;
            progress.set(p, m.connected + m.failed);
            const sum = [...progress.values()].reduce((a, b) => a + b, 0);
            bar.update(sum, { rate: Math.round(sum / ((performance.now() - t) / 1000)) });
          });
          gen.send({ type: 'connect', host: broker.host, port: broker.port, first, count: n, password: creds.devicePassword, concurrency: Math.max(1, Math.round((concurrency * n) / count)), keepaliveS, sourceAddresses });
          done.push(gen.next('connected', 3_600_000));
        }
        const connected = await Promise.all(done);
        bar.stop();
        const connectS = Math.max(...connected.map((c) => c.ms)) / 1000;
        const afterConnect = sampleProcess(broker.pid);
        await sleep(settleMs);
        const after = sampleProcess(broker.pid);
        await sleep(idleMs);
        const idleEnd = sampleProcess(broker.pid);
        const ok = connected.reduce((a, c) => a + c.connected, 0);
        const errors: Record<string, number> = {};
        for (const c of connected) for (const [k, v] of Object.entries(c.errors)) errors[k] = (errors[k] ?? 0) + v;
        for (const g of gens) g.send({ type: 'status' });
        const status = await Promise.all(gens.map((g) => g.next('status', 30_000)));
        const r: ConnectionsResult = {
          broker: name,
          requested: count,
          connected: ok,
          failed: connected.reduce((a, c) => a + c.failed, 0),
          errors,
          connectS,
          connectsPerS: ok / connectS,
          connackP50Ms: median(connected.map((c) => c.connackMs.p50)),
          connackP99Ms: Math.max(...connected.map((c) => c.connackMs.p99)),
          cpuMsPerConnect: before && afterConnect && ok ? ((afterConnect.cpuS - before.cpuS) * 1000) / ok : Number.NaN,
          rssBeforeMiB: (before?.rssBytes ?? Number.NaN) / MiB,
          rssAfterMiB: (after?.rssBytes ?? Number.NaN) / MiB,
          peakRssMiB: (idleEnd?.hwmBytes ?? after?.hwmBytes ?? Number.NaN) / MiB,
          kibPerConnection: before && after && ok ? (after.rssBytes - before.rssBytes) / 1024 / ok : Number.NaN,
          idleCpuPct: after && idleEnd ? ((idleEnd.cpuS - after.cpuS) / ((idleEnd.atMs - after.atMs) / 1000)) * 100 : Number.NaN,
          stillConnected: status.reduce((a, st) => a + st.open, 0),
          brokerExited: broker.exit() ?? null,
          ...(broker.exit() ? { outputTail: broker.outputTail() } : {}),
          loadAverage1m: loadAverage()[0],
        };
        results.push(r);
        process.stderr.write(`${name}: ${ok} connected, ${r.failed} failed ${JSON.stringify(errors)} in ${connectS.toFixed(1)} s; RSS ${r.rssBeforeMiB.toFixed(0)} → ${r.rssAfterMiB.toFixed(0)} MiB${broker.exit() ? `; EXITED ${JSON.stringify(broker.exit())}\n${broker.outputTail()}` : ''}\n`);
      } finally {
        for (const g of gens) g.send({ type: 'close' });
        await Promise.all(gens.map((g) => g.next('closed', 60_000).catch(() => undefined)));
        await Promise.all(gens.map((g) => g.stop()));
        await broker.stop();
      }
    }
    const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '–');
    process.stdout.write(
      `\n${formatTable(
        [
          'broker',
          ...['connected', 'open at end', 'failed', 'connect s', 'connects/s', 'CONNACK p50 ms', 'CONNACK p99 ms', 'CPU ms/connect', 'RSS before MiB', 'RSS after MiB', 'KiB/connection', 'idle CPU'].map((h) => ({ header: h, align: 'right' as const })),
        ],
        results.map((r) => [
          r.broker + (r.brokerExited ? ' (exited)' : ''),
          f(r.connected),
          f(r.stillConnected),
          f(r.failed),
          f(r.connectS, 1),
          f(r.connectsPerS),
          f(r.connackP50Ms, 1),
          f(r.connackP99Ms, 1),
          f(r.cpuMsPerConnect, 2),
          f(r.rssBeforeMiB),
          f(r.rssAfterMiB),
          f(r.kibPerConnection, 1),
          `${f(r.idleCpuPct, 1)} %`,
        ]),
      )}load average at end ${loadAverage().join(' ')}\n`,
    );
    const errs = results.filter((r) => r.failed > 0);
    for (const r of errs) process.stdout.write(`${r.broker} refusals/errors: ${JSON.stringify(r.errors)}\n`);
    if (values.json) {
      await writeFile(values.json, `${JSON.stringify({ command, machine, source, results }, null, 2)}\n`);
      process.stdout.write(`JSON written to ${values.json}\n`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
