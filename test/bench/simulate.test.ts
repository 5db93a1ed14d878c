/**
 * bench/simulate.ts --processes: a small backfill through a real `wattproof gateway` and
 * `wattproof ingest` process into a real InfluxDB, and its report.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../bench/simulate.js';
import { captureStdout } from '../support/stdout.js';

describe('bench simulate --processes', () => {
  it('refuses what the process mode cannot do', async () => {
    await expect(main(['--processes'])).rejects.toThrow(/--store influxdb/);
    await expect(main(['--ingest-cpu-prof', '/tmp/x'])).rejects.toThrow(/--processes/);
  });

  it('backfills through separate gateway and ingest processes into InfluxDB and reports each process', async () => {
    const out = await captureStdout(() => main(['--buildings', '2', '--meters', '3', '--days', '1', '--store', 'influxdb', '--processes', '--stub']));
    const line = (key: string) => out.split('\n').find((l) => l.startsWith(key)) ?? '';
    expect(line('errors')).toMatch(/ 0$/);
    const written = /readings written\s+([\d,]+) by the ingest, ([\d,]+) in InfluxDB \(valid published ([\d,]+)/.exec(out);
    expect(written, out).not.toBeNull();
    const [byIngest, inInflux, valid] = written!.slice(1, 4).map((s) => Number(s.replace(/,/g, '')));
    expect(valid).toBeGreaterThan(100);
    // Every valid reading is in InfluxDB (plus the intervals the ingest derives from registers).
    expect(inInflux).toBe(byIngest);
    expect(inInflux).toBeGreaterThanOrEqual(valid!);
    for (const p of ['generator', 'gateway', 'ingest', 'influxd']) expect(line(`${p} CPU`)).toMatch(/µs per reading$/);
    expect(line('processes')).toMatch(/gateway \d+, ingest \d+, influxd \d+/);
  }, 180_000);
});
