/**
 * `npm run bench -- session-queue [options]`: what one message costs the in-memory session store
 * while a persistent subscriber (the ingest) drains a backlog, for aedes-persistence 11's memory
 * persistence (aedes' default) against the gateway's (gateway/src/memory-persistence.ts), which
 * differ only in how a session's queue removes an acknowledged message.
 *
 * For each queue depth, a session holds that many queued messages; each cycle delivers the message
 * `--window` places behind the oldest (`outgoingUpdate`, as aedes does when it writes it to the
 * subscriber), acknowledges the oldest (`outgoingClearMessageId`, the subscriber's PUBACK) and
 * queues a new one (`outgoingEnqueueCombi`, a device's next PUBLISH), so the depth stays the same.
 * Cycles run for `--ms` per turn after a warm-up; turns alternate between the two persistences.
 *
 * Options: `npm run bench -- session-queue --help` (CLI below).
 */
import MemoryPersistence from 'aedes-persistence/asyncPersistence.js';
import { SessionQueueMemoryPersistence } from '@wattproof/gateway';
import { BenchUsageError, defineBench, parseBenchArgs, showBenchHelp } from './lib/cli.js';
import { describeMachine, machineInfo, sourceState } from './lib/machine.js';
import { median } from './lib/stats.js';
import { formatTable } from './lib/table.js';

type Persistence = InstanceType<typeof MemoryPersistence>;
const IMPLEMENTATIONS: Record<string, () => Persistence> = {
  'aedes-persistence': () => new MemoryPersistence(),
  gateway: () => new SessionQueueMemoryPersistence(),
};

const SUB = [{ clientId: 'ingest' }];
const CLIENT = { id: 'ingest' };
const payload = Buffer.from(JSON.stringify({ seq: 1, readings: [{ ts: 1_700_000_000_000, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value: 12.5 }] }));
const packet = (n: number) => ({ cmd: 'publish', topic: 'wattproof/v1/yz/b1/m1/readings', payload, qos: 1, retain: false, dup: false, brokerId: 'bench', brokerCounter: n });
/** Packet identifiers rotate below 65,536. */
const messageId = (n: number) => (n % 65_535) + 1;

/** µs per cycle (deliver, acknowledge, queue) for `ms` of cycles on a queue of `depth`. */
export async function measure(make: () => Persistence, depth: number, window: number, ms: number): Promise<{ usPerCycle: number; cycles: number }> {
  const p = make();
  for (let n = 0; n < depth; n++) await p.outgoingEnqueueCombi(SUB, packet(n));
  // The first `window` messages are delivered and in flight.
  for (let n = 0; n < window; n++) await p.outgoingUpdate(CLIENT, { ...packet(n), messageId: messageId(n) });
  let oldest = 0;
  let next = depth;
  const cycle = async () => {
    await p.outgoingUpdate(CLIENT, { ...packet(oldest + window), messageId: messageId(oldest + window) });
    await p.outgoingClearMessageId(CLIENT, { messageId: messageId(oldest) });
    await p.outgoingEnqueueCombi(SUB, packet(next++));
    oldest++;
  };
  const warmupEnd = performance.now() + Math.min(200, ms / 5);
  while (performance.now() < warmupEnd) await cycle();
  let cycles = 0;
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    for (let k = 0; k < 10; k++) await cycle();
    cycles += 10;
  }
  return { usPerCycle: ((performance.now() - start) * 1000) / cycles, cycles };
}

export const CLI = defineBench({
  name: 'session-queue',
  summary: `What one message costs the in-memory session store while a persistent subscriber (the ingest) drains a
backlog of constant depth: aedes-persistence's memory persistence against the gateway's.`,
  options: {
    // 500,000 is the gateway's bound on a session's queue.
    depths: { type: 'string', placeholder: 'N,N,...', default: '1000,100000,500000', description: 'queued messages in the session, one row each' },
    window: { type: 'string', placeholder: 'N', default: '100', description: 'messages delivered and not yet acknowledged ahead of the oldest' },
    ms: { type: 'string', placeholder: 'MS', default: '1000', description: 'milliseconds measured per turn' },
    reps: { type: 'string', placeholder: 'N', default: '3', description: 'turns per persistence and depth' },
  },
});

export async function main(argv: string[]): Promise<void> {
  if (showBenchHelp(CLI, argv)) return;
  const values = parseBenchArgs(CLI, argv);
  const depths = values.depths.split(',').map(Number);
  const window = Number(values.window);
  const ms = Number(values.ms);
  const reps = Number(values.reps);
  if (depths.some((d) => !Number.isInteger(d) || d <= window) || !(window > 0) || !(ms > 0) || !(reps > 0)) throw new BenchUsageError('--depths must be integers above --window; --window, --ms and --reps positive');
  const source = sourceState();
  process.stdout.write(`npm run bench -- session-queue ${argv.join(' ')}\n${describeMachine(machineInfo())}\nsource ${source.head}${source.modified.length ? ` + ${source.modified.length} modified files under gateway/, core/, bin/` : ''}\n\n`);
  const rows: string[][] = [];
  for (const depth of depths) {
    const results: Record<string, number[]> = {};
    for (let rep = 0; rep < reps; rep++) {
      for (const [name, make] of Object.entries(IMPLEMENTATIONS)) {
        const r = await measure(make, depth, window, ms);
        (results[name] ??= []).push(r.usPerCycle);
        process.stdout.write(`depth ${depth} rep ${rep + 1} ${name}: ${r.usPerCycle.toFixed(2)} µs/message (${r.cycles} messages)\n`);
      }
    }
    const stock = median(results['aedes-persistence']!);
    const ours = median(results.gateway!);
    rows.push([depth.toLocaleString('en-US'), stock.toFixed(2), Math.round(1e6 / stock).toLocaleString('en-US'), ours.toFixed(2), Math.round(1e6 / ours).toLocaleString('en-US'), `${(stock / ours).toFixed(1)}×`]);
  }
  process.stdout.write(
    `\n${formatTable(
      [
        { header: 'queued messages', align: 'right' },
        { header: 'aedes-persistence µs/msg', align: 'right' },
        { header: 'its messages/s', align: 'right' },
        { header: 'gateway µs/msg', align: 'right' },
        { header: 'its messages/s', align: 'right' },
        { header: 'speed-up', align: 'right' },
      ],
      rows,
    )}\n\nOne message: delivered (outgoingUpdate), acknowledged (outgoingClearMessageId) and a new one queued (outgoingEnqueueCombi); medians of ${reps} turns of ${ms} ms, ${window} in flight.\n`,
  );
}
