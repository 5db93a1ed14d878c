/** bench/broker.ts: who owns the functions of a gateway CPU profile, and the --cpu-prof options. */
import { describe, expect, it } from 'vitest';
import { ownerOf, parseBrokerBenchArgs, V8_OWNER } from '../../bench/broker.js';

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
