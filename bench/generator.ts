/**
 * `npm run bench -- generator [options]`: what one published message costs the load generator
 * itself, MQTT.js against the raw client of bench/lib/mqtt-raw.ts, so the broker benchmark can
 * show its generator is not the limit. Mosquitto (bench/lib/brokers.ts, same credentials as the
 * broker benchmark) receives; this process publishes in bursts of `--burst` messages round-robin
 * over `--connections` connections, awaiting each burst (QoS 1: every PUBACK), and reports its
 * own CPU time (process.cpuUsage) per message, median over `--reps`.
 *
 * Options: `npm run bench -- generator --help` (CLI below).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { benchDeviceLogin, provisionBench, startMosquitto } from './lib/brokers.js';
import { defineBench, parseBenchArgs, showBenchHelp } from './lib/cli.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { connectRaw, type RawClient } from './lib/mqtt-raw.js';
import { monotonicMs, monotonicUs, readingsPayload } from './lib/payload.js';
import { median } from './lib/stats.js';
import { formatTable } from './lib/table.js';

type Publish = (device: number, qos: 0 | 1) => Promise<void> | undefined;

async function measure(publish: Publish, qos: 0 | 1, connections: number, messages: number, burst: number): Promise<{ usPerMsg: number; perS: number }> {
  const cpu = process.cpuUsage();
  const t0 = monotonicMs();
  const pending: Array<Promise<void>> = [];
  for (let k = 0; k < messages; k++) {
    const p = publish(k % connections, qos);
    if (p) pending.push(p);
    if (k % burst === burst - 1) {
      await Promise.all(pending.splice(0));
      await new Promise((r) => setImmediate(r));
    }
  }
  await Promise.all(pending);
  const used = process.cpuUsage(cpu);
  return { usPerMsg: (used.user + used.system) / messages, perS: messages / ((monotonicMs() - t0) / 1000) };
}

export const CLI = defineBench({
  name: 'generator',
  summary: `What one published message costs the load generator itself, MQTT.js against the raw client of
bench/lib/mqtt-raw.ts, publishing to Mosquitto at QoS 0 and 1: shows the broker benchmark's generator is not the limit.`,
  options: {
    connections: { type: 'string', placeholder: 'N', default: '100', description: 'device connections the messages are published over, round-robin' },
    messages: { type: 'string', placeholder: 'N', default: '60000', description: 'messages per run (one client, one QoS)' },
    burst: { type: 'string', placeholder: 'N', default: '200', description: 'messages per burst; each burst is awaited (at QoS 1, every PUBACK) before the next' },
    reps: { type: 'string', placeholder: 'N', default: '3', description: 'repetitions; the table shows medians' },
  },
});

export async function main(argv: string[]): Promise<void> {
  if (showBenchHelp(CLI, argv)) return;
  const values = parseBenchArgs(CLI, argv);
  const connections = Number(values.connections);
  const messages = Number(values.messages);
  const burst = Number(values.burst);
  const reps = Number(values.reps);
  process.stdout.write(`npm run bench -- generator ${argv.join(' ')}\n${describeMachine(machineInfo())}\n`);
  const dir = await mkdtemp(join(tmpdir(), 'wattproof-bench-generator-'));
  const creds = await provisionBench(dir, connections);
  const broker = await startMosquitto(creds, { extraConfig: ['max_inflight_messages 0', 'max_queued_messages 0'] });
  const logins = Array.from({ length: connections }, (_, i) => benchDeviceLogin(i));
  const js = await Promise.all(logins.map((l) => mqtt.connectAsync(`mqtt://${broker.host}:${broker.port}`, { clientId: `js-${l.username}`, username: l.username, password: creds.devicePassword, reconnectPeriod: 0 })));
  const waiters: Array<Array<() => void>> = logins.map(() => []);
  const raw: RawClient[] = [];
  for (const [i, l] of logins.entries()) raw.push(await connectRaw({ host: broker.host, port: broker.port, clientId: `raw-${l.username}`, username: l.username, password: creds.devicePassword }, { onPuback: () => waiters[i]!.shift()?.() }));
  const topics = logins.map((l) => Buffer.from(l.topic));
  const clients: Record<'MQTT.js 5' | 'raw (bench/lib/mqtt-raw.ts)', Publish> = {
    'MQTT.js 5': (i, qos) => js[i]!.publishAsync(logins[i]!.topic, readingsPayload(monotonicUs(), Date.now(), 1), { qos }).then(() => undefined),
    'raw (bench/lib/mqtt-raw.ts)': (i, qos) => {
      raw[i]!.publish(topics[i]!, readingsPayload(monotonicUs(), Date.now(), 1), qos);
      return qos ? new Promise<void>((r) => waiters[i]!.push(r)) : undefined;
    },
  };
  const results = new Map<string, Array<{ usPerMsg: number; perS: number }>>();
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const [name, publish] of Object.entries(clients)) {
        for (const qos of [0, 1] as const) {
          const r = await measure(publish, qos, connections, messages, burst);
          const key = `${name}|${qos}`;
          results.set(key, [...(results.get(key) ?? []), r]);
        }
      }
    }
  } finally {
    for (const c of js) c.end(true);
    await Promise.all(raw.map((c) => c.close()));
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(
    `\n${formatTable(
      ['client', 'QoS', { header: 'generator CPU µs/msg (median)', align: 'right' }, { header: 'min', align: 'right' }, { header: 'msg/s (median)', align: 'right' }],
      [...results.entries()].map(([key, rs]) => {
        const [name, qos] = key.split('|') as [string, string];
        return [name, qos, median(rs.map((r) => r.usPerMsg)).toFixed(1), Math.min(...rs.map((r) => r.usPerMsg)).toFixed(1), Math.round(median(rs.map((r) => r.perS))).toLocaleString('en-US')];
      }),
    )}`,
  );
}
