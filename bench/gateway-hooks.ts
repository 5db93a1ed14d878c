/**
 * `npm run bench -- gateway-hooks [options]`: CPU per PUBLISH of what the gateway adds to aedes,
 * in one process without sockets (issue 8, requirement 4: the profile-driven work on the gateway).
 *
 * Each PUBLISH goes through aedes' `authorizePublish` hook and then `broker.publish`, as aedes'
 * `enqueuePublish` calls them for a device's packet: at QoS 0 at once, at QoS 1 after the PUBACK's
 * write callback (a `setImmediate` in aedes' lib/write.js; there is no socket here). Every publish
 * matches one offline persistent QoS 1 subscription to all readings, the ingest's session, so QoS 1
 * stores each packet for it (the gateway's backlog bound is set far above what a run queues, as
 * for an ingest that keeps up). Two brokers take turns, alternating order round by round:
 *
 * - `aedes`: stock aedes (`concurrency: 0`, in-memory persistence) with its default hooks, which
 *   allow everything: the floor, aedes' own cost for the same two calls;
 * - `gateway`: `createGateway` on a memory registry: authentication (the client logged in through
 *   the gateway's `authenticate` hook first), per-device topic rights, the payload contract check,
 *   rate limits, the subscriber backlog bound and the in-order hand-off.
 *
 * The difference is what Wattproof's checks cost per message on top of aedes; the network, the
 * MQTT parser and the kernel, which dominate `npm run bench -- broker`, are not in it.
 *
 * Options: `npm run bench -- gateway-hooks --help` (CLI below).
 */
import { Aedes, type Client, type PublishPacket } from 'aedes';
import { Registry } from 'prom-client';
import { ALL_READINGS_FILTER, configWith, meterKey, readingsTopic, type MeterRef } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { BenchUsageError, defineBench, parseBenchArgs, showBenchHelp } from './lib/cli.js';
import { describeMachine, machineInfo, sourceState } from './lib/machine.js';
import { readingsBatchPayload } from './lib/payload.js';
import { median } from './lib/stats.js';
import { formatTable } from './lib/table.js';

type Qos = 0 | 1;
/**
 * What the benchmark calls of aedes beyond its typings: the persistence (promise API in aedes 1.x),
 * and `publish` with the publishing client, the form aedes' own `enqueuePublish` uses.
 */
interface AedesInternals {
  readonly persistence: { addSubscriptions(client: { id: string }, subs: Array<{ topic: string; qos: 0 | 1 | 2 }>): Promise<void> };
  publish(packet: PublishPacket, client: Client, done: (err?: Error | null) => void): void;
  authorizePublish: Aedes['authorizePublish'];
}
interface Device {
  readonly client: Client;
  readonly topic: string;
}
/** One broker under test: aedes' two calls for a device's PUBLISH, and how to stop it. */
interface Subject {
  readonly name: 'aedes' | 'gateway';
  readonly broker: AedesInternals;
  readonly devices: readonly Device[];
  close(): Promise<void>;
}

export interface HooksBenchOptions {
  readonly publishes: number;
  readonly rounds: number;
  readonly devices: number;
  readonly inFlight: number;
  readonly readings: number;
}

export const CLI = defineBench({
  name: 'gateway-hooks',
  summary: `CPU per PUBLISH of what the gateway adds to aedes (authentication, topic rights, the payload contract,
rate limits, the backlog bound), in one process without sockets: stock aedes against the gateway, QoS 0 and 1.`,
  options: {
    publishes: { type: 'string', placeholder: 'N', default: '30000', description: 'PUBLISHes per round and broker' },
    rounds: { type: 'string', placeholder: 'N', default: '7', description: 'measured rounds, after one unmeasured warm-up round of --publishes / 5' },
    devices: { type: 'string', placeholder: 'N', default: '100', description: 'device clients the publishes rotate over' },
    'in-flight': { type: 'string', placeholder: 'N', default: '50', description: 'PUBLISHes in progress at once' },
    readings: { type: 'string', placeholder: 'N', default: '1', description: 'readings per message' },
  },
});

export function parseHooksBenchArgs(argv: string[]): HooksBenchOptions {
  const values = parseBenchArgs(CLI, argv);
  const int = (name: string, s: string) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n <= 0) throw new BenchUsageError(`--${name} must be a positive integer, not ${s}`);
    return n;
  };
  return {
    publishes: int('publishes', values.publishes),
    rounds: int('rounds', values.rounds),
    devices: int('devices', values.devices),
    inFlight: int('in-flight', values['in-flight']),
    readings: int('readings', values.readings),
  };
}

const SECRET = 'bench-hooks-secret-0123456789abcdef0123';
const INGEST_SESSION = { id: 'wattproof-ingest' };

function refs(n: number): MeterRef[] {
  return Array.from({ length: n }, (_, i) => ({ site: 'bench', building: `b${i}`, meter: 'm0' }));
}

/** A client object as aedes hands one to its hooks (what the gateway's code reads of it). */
function fakeClient(id: string): Client {
  return { id, clean: true, conn: { remoteAddress: '127.0.0.1' } } as unknown as Client;
}

function internals(broker: Aedes): AedesInternals {
  return broker as unknown as AedesInternals;
}

/** The ingest's persistent session, offline: every readings PUBLISH matches it. */
async function addIngestSession(broker: Aedes): Promise<void> {
  await internals(broker).persistence.addSubscriptions(INGEST_SESSION, [{ topic: ALL_READINGS_FILTER, qos: 1 }]);
}

async function stockAedes(devices: number): Promise<Subject> {
  const broker = await Aedes.createBroker({ concurrency: 0 });
  await addIngestSession(broker);
  return {
    name: 'aedes',
    broker: internals(broker),
    devices: refs(devices).map((ref) => ({ client: fakeClient(meterKey(ref)), topic: readingsTopic(ref) })),
    close: () => new Promise<void>((resolve) => broker.close(() => resolve())),
  };
}

async function gateway(devices: number): Promise<Subject> {
  const registry = createMemoryRegistryStore();
  await registry.init();
  const list = refs(devices);
  for (const ref of list) await provisionDevice(registry, ref, { secret: SECRET });
  const gw = createGateway({ registry, metrics: new Registry() }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0, GATEWAY_MAX_QUEUED_MESSAGES: 100_000_000 }));
  await gw.start();
  const broker = gw.broker() as Aedes;
  await addIngestSession(broker);
  const out: Device[] = [];
  for (const ref of list) {
    const client = fakeClient(meterKey(ref));
    // Logged in through the gateway's own hook, as a device connection is.
    await new Promise<void>((resolve, reject) =>
      broker.authenticate(client, meterKey(ref), Buffer.from(SECRET), (err, ok) => (ok ? resolve() : reject(err ?? new Error(`login of ${client.id} refused`)))),
    );
    out.push({ client, topic: readingsTopic(ref) });
  }
  return {
    name: 'gateway',
    broker: internals(broker),
    devices: out,
    close: async () => {
      await gw.close();
      await registry.close?.();
    },
  };
}

/** CPU µs (user + system of this process) per PUBLISH over `n` publishes, `inFlight` at a time. */
export function round(s: Subject, qos: Qos, n: number, inFlight: number, payload: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    let started = 0;
    let done = 0;
    let messageId = 0;
    let failed = false;
    const cpu = process.cpuUsage();
    const fail = (err: Error) => {
      if (!failed) reject(err);
      failed = true;
    };
    const finish = (err?: Error | null) => {
      if (err) return fail(err);
      done++;
      if (done === n) {
        const used = process.cpuUsage(cpu);
        resolve((used.user + used.system) / n);
      } else if (started < n) pump();
    };
    const one = () => {
      const d = s.devices[started++ % s.devices.length]!;
      messageId = (messageId % 65_535) + 1;
      const packet = { cmd: 'publish', topic: d.topic, payload, qos, retain: false, dup: false, messageId } as PublishPacket;
      s.broker.authorizePublish(d.client, packet, (err?: Error | null) => {
        if (err) return fail(err);
        if (qos === 0) s.broker.publish(packet, d.client, finish);
        else setImmediate(() => s.broker.publish(packet, d.client, finish));
      });
    };
    // A trampoline: stock aedes calls back synchronously (no hook waits, no live subscriber), which
    // would otherwise start the next publish inside the previous one's callback until the stack overflows.
    let pumping = false;
    let owed = 0;
    const pump = () => {
      owed++;
      if (pumping) return;
      pumping = true;
      while (owed > 0 && started < n && !failed) {
        owed--;
        one();
      }
      pumping = false;
    };
    for (let i = 0; i < Math.min(inFlight, n); i++) pump();
  });
}

export async function main(argv: string[]): Promise<void> {
  if (showBenchHelp(CLI, argv)) return;
  const o = parseHooksBenchArgs(argv);
  const command = `npm run bench -- gateway-hooks ${argv.join(' ')}`.trim();
  const source = sourceState();
  process.stdout.write(`${command}\n${describeMachine(machineInfo())}\nsource ${source.head}${source.modified.length ? ` + ${source.modified.length} modified files under gateway/, core/, bin/` : ''}\n\n`);
  // Timestamps of the last hour, so the gateway's contract check accepts them.
  const payload = Buffer.from(readingsBatchPayload(1, Date.now() - 3_600_000, 1, o.readings, 1.25));
  const subjects = [await stockAedes(o.devices), await gateway(o.devices)];
  const rows: string[][] = [];
  try {
    for (const qos of [0, 1] as const) {
      const us = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
      for (const s of subjects) await round(s, qos, Math.max(1, Math.floor(o.publishes / 5)), o.inFlight, payload);
      for (let r = 0; r < o.rounds; r++) {
        for (const s of r % 2 ? [...subjects].reverse() : subjects) us.get(s.name)!.push(await round(s, qos, o.publishes, o.inFlight, payload));
      }
      const a = median(us.get('aedes')!);
      const g = median(us.get('gateway')!);
      const spread = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
      rows.push([String(qos), a.toFixed(2), g.toFixed(2), (g - a).toFixed(2), `${(g / a).toFixed(2)}×`, spread(us.get('aedes')!), spread(us.get('gateway')!)]);
    }
  } finally {
    for (const s of subjects) await s.close();
  }
  process.stdout.write(
    `CPU µs per PUBLISH through authorizePublish + broker.publish, ${o.readings} reading(s) per message (${payload.length} bytes), ` +
      `${o.devices} devices, ${o.inFlight} in flight; medians of ${o.rounds} rounds of ${o.publishes.toLocaleString('en-US')}:\n\n`,
  );
  process.stdout.write(
    formatTable(
      ['QoS', ...['stock aedes µs', 'gateway µs', 'added µs', 'gateway / aedes', 'aedes range', 'gateway range'].map((h) => ({ header: h, align: 'right' as const }))],
      rows,
    ),
  );
}
