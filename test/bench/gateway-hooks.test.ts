/** bench/gateway-hooks.ts: a small real run of both brokers in this process, and its options. */
import { describe, expect, it } from 'vitest';
import { main, parseHooksBenchArgs } from '../../bench/gateway-hooks.js';
import { captureStdout } from '../support/stdout.js';

describe('bench gateway-hooks', () => {
  it('parses its options and refuses nonsense', () => {
    expect(parseHooksBenchArgs([])).toEqual({ publishes: 30_000, rounds: 7, devices: 100, inFlight: 50, readings: 1 });
    expect(parseHooksBenchArgs(['--publishes', '10', '--in-flight', '2']).inFlight).toBe(2);
    expect(() => parseHooksBenchArgs(['--rounds', '0'])).toThrow(/--rounds/);
    expect(() => parseHooksBenchArgs(['--devices', '1.5'])).toThrow(/--devices/);
  });

  it('measures stock aedes and the gateway at QoS 0 and 1 and prints the table', async () => {
    const out = await captureStdout(() => main(['--publishes', '300', '--rounds', '2', '--devices', '3', '--in-flight', '5', '--readings', '10']));
    const rows = out.split('\n').filter((l) => /^\| [01] /.test(l));
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      const [aedes, gateway] = r.split('|').slice(2, 4).map((c) => Number(c.trim()));
      expect(aedes).toBeGreaterThan(0);
      expect(gateway).toBeGreaterThan(0);
    }
    expect(out).toContain('10 reading(s) per message');
  }, 60_000);
});
