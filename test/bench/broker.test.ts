/** bench/broker.ts: who owns the functions of a gateway CPU profile, and the --cpu-prof options. */
import { describe, expect, it } from 'vitest';
import { formatSummary, parseBrokerBenchArgs, type SummaryRow } from '../../bench/broker.js';
import { ownerOf, V8_OWNER } from '../../bench/lib/cpu-profile.js';

describe('bench broker --cpu-prof', () => {
  it('names the owner of a profiled function from its label', () => {
    expect(ownerOf('authorizePublish (gateway/src/gateway.ts)')).toBe('gateway/src');
    expect(ownerOf('parseTopic (core/src/contract/topics.ts)')).toBe('core/src');
    expect(ownerOf('nextBatch (node_modules/aedes/lib/client.js:66)')).toBe('aedes');
    expect(ownerOf('x (node_modules/@scope/pkg/index.js:1)')).toBe('@scope/pkg');
    expect(ownerOf('emit (node:events:471)')).toBe('node internals');
    expect(ownerOf('writev')).toBe(V8_OWNER);
    expect(ownerOf('(garbage collector)')).toBe(V8_OWNER);
  });
  it('profiles fresh gateways only', () => {
    expect(parseBrokerBenchArgs(['--cpu-prof']).cpuProf).toBe(true);
    expect(parseBrokerBenchArgs([]).cpuProf).toBe(false);
    expect(() => parseBrokerBenchArgs(['--cpu-prof', '--reuse-brokers'])).toThrow(/--reuse-brokers/);
    expect(() => parseBrokerBenchArgs(['--cpu-prof-dir', '/tmp/x'])).toThrow(/--cpu-prof/);
  });
});

describe('bench broker with stock aedes', () => {
  const row = (broker: SummaryRow['broker'], cpuUsPerMsg: number, sysUsPerMsg = cpuUsPerMsg / 2): SummaryRow => ({
    broker,
    qos: 0,
    rate: 10_000,
    turns: 1,
    crashed: 0,
    sentPerS: 10_000,
    deliveredPerS: 10_000,
    loss: 0,
    p50Ms: 1,
    p99Ms: 2,
    p999Ms: 3,
    cpuUsPerMsg,
    sysUsPerMsg,
    writesPerMsg: 0.5,
    readsPerMsg: 0.25,
    cpuPct: 50,
    rssMiB: 100,
    generatorCpuPct: 30,
    subscriberCpuPct: 20,
    blockedShare: 0,
    laggedShare: 0,
    pubackP99Ms: Number.NaN,
    runQueueMsPerS: 1.5,
  });
  it('accepts aedes as a broker, and runs the issue pair by default', () => {
    expect(parseBrokerBenchArgs(['--brokers', 'aedes,gateway,mosquitto']).brokers).toEqual(['aedes', 'gateway', 'mosquitto']);
    expect(parseBrokerBenchArgs([]).brokers).toEqual(['gateway', 'mosquitto']);
    expect(() => parseBrokerBenchArgs(['--brokers', 'emqx'])).toThrow(/gateway, mosquitto, aedes/);
  });
  it('prints the ratio of each pair run side by side', () => {
    const out = formatSummary([row('gateway', 45), row('mosquitto', 30), row('aedes', 40)]);
    expect(out).toContain('gateway / mosquitto (medians)');
    expect(out).toContain('aedes / mosquitto (medians)');
    expect(out).toContain('gateway / aedes (medians)');
    // CPU per message: 45 / 30, 40 / 30, 45 / 40.
    expect(out).toContain('1.50×');
    expect(out).toContain('1.33×');
    expect(out).toContain('1.13×');
    // System calls per message, for how the brokers batch their socket writes and reads.
    expect(out).toMatch(/writes\/msg.*reads\/msg/);
    expect(out).toMatch(/gateway .* 0\.50 .* 0\.25 /);
    expect(formatSummary([row('gateway', 45), row('mosquitto', 30)])).not.toContain('aedes /');
  });
  it('splits the CPU per message into user space and kernel, and prints both ratios', () => {
    // gateway 45 µs of which 25 in the kernel (20 user), Mosquitto 30 of which 25 (5 user).
    const out = formatSummary([row('gateway', 45, 25), row('mosquitto', 30, 25)]);
    expect(out).toMatch(/broker CPU µs\/msg \| of which kernel/);
    expect(out).toMatch(/gateway .* 45\.0 \| +25\.0 \|/);
    expect(out).toMatch(/CPU\/msg \| +user \| +kernel/);
    expect(out).toMatch(/1\.50× \| +4\.00× \| +1\.00×/);
  });
  it('runs the gateway of another checkout as the baseline, or with other Node arguments, for A/B runs in one run', () => {
    const o = parseBrokerBenchArgs(['--brokers', 'baseline,gateway', '--baseline', '/tmp/checkout']);
    expect(o.brokers).toEqual(['baseline', 'gateway']);
    expect(o.baselineRoot).toBe('/tmp/checkout');
    expect(() => parseBrokerBenchArgs(['--brokers', 'baseline,gateway'])).toThrow(/--baseline DIR/);
    expect(() => parseBrokerBenchArgs(['--baseline', '/tmp/checkout'])).toThrow(/--baseline DIR/);
    const c = parseBrokerBenchArgs(['--brokers', 'baseline,gateway', '--baseline-commit', 'HEAD~1']);
    expect(c.baselineCommit).toBe('HEAD~1');
    expect(c.baselineRoot).toBeUndefined();
    expect(() => parseBrokerBenchArgs(['--baseline-commit', 'HEAD~1'])).toThrow(/--baseline-commit REV/);
    expect(() => parseBrokerBenchArgs(['--brokers', 'baseline', '--baseline', '/tmp/checkout', '--baseline-commit', 'HEAD~1'])).toThrow(/give one/);
    expect(parseBrokerBenchArgs(['--gateway-node-args=--max-semi-space-size=64  --single-threaded-gc']).gatewayNodeArgs).toEqual(['--max-semi-space-size=64', '--single-threaded-gc']);
    expect(parseBrokerBenchArgs([]).gatewayNodeArgs).toEqual([]);
    // A stalled subscriber, to see whether a broker recovers from a lagging ingest before the window.
    expect(parseBrokerBenchArgs([]).stallSubscriberMs).toBe(0);
    expect(parseBrokerBenchArgs(['--warmup', '5', '--stall-subscriber-ms', '2000']).stallSubscriberMs).toBe(2000);
    expect(() => parseBrokerBenchArgs(['--warmup', '3', '--stall-subscriber-ms', '2500'])).toThrow(/inside the warm-up/);
    expect(() => parseBrokerBenchArgs(['--stall-subscriber-ms=-1'])).toThrow(/0 or more/);
    const out = formatSummary([row('gateway', 45), row('baseline', 60)]);
    expect(out).toContain('gateway / baseline (medians)');
    expect(out).toContain('0.75×');
  });
  it('prints the Node brokers\' stalls against the slowest messages when run with --stalls', () => {
    expect(parseBrokerBenchArgs([]).stalls).toBe(false);
    expect(parseBrokerBenchArgs(['--stalls']).stalls).toBe(true);
    // The main thread's wait for a core is measured for every broker, Mosquitto included.
    expect(formatSummary([row('gateway', 45), row('mosquitto', 30)])).toMatch(/main thread waiting for a core ms\/s/);
    expect(formatSummary([row('gateway', 45), row('mosquitto', 30)])).not.toContain('Event-loop stalls');
    const stalls = { thresholdMs: 3, stallsPerS: 4.5, stalledMsPerS: 22, onCpuMsPerS: 12, runQueueMsPerS: 6, blockedMsPerS: 4, slowInStallShare: 0.61 };
    const out = formatSummary([{ ...row('gateway', 45), stalls }, row('mosquitto', 30)]);
    expect(out).toContain('Event-loop stalls of the Node brokers in the window (--stalls; a stall: the main thread ran nothing else for over 3 ms');
    expect(out).toMatch(/gateway +\| +2\.00 \| +4\.5 \| +22\.0 \| +12\.0 \| +6\.0 \| +4\.0 \| +61 % \|/);
  });
});
