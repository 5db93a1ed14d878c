import { describe, expect, it } from 'vitest';
import { Point } from '@influxdata/influxdb-client';
import { countOf, linesIn, rawBodies, readingLine } from '../../../bench/lib/influx.js';

const ref = { site: 'bench', building: 'b0001', meter: 'm07' };

describe('raw InfluxDB writer helpers (bench/lib/influx.ts)', () => {
  it('write a reading as the Wattproof adapter does (its encoder is the client library Point)', () => {
    // As ingest/src/stores/influxdb.ts toLine() builds it.
    const adapter = new Point('reading')
      .tag('site', ref.site)
      .tag('building', ref.building)
      .tag('meter', ref.meter)
      .tag('quantity', 'electricity')
      .tag('kind', 'interval')
      .tag('unit', 'kWh')
      .floatField('value', 0.523)
      .timestamp(1_764_460_800_000)
      .intField('interval_s', 900)
      .toLineProtocol({ convertTime: (t) => (t === undefined ? undefined : String(t)) });
    expect(readingLine(ref, 1_764_460_800_000, 0.523, 900)).toBe(adapter);
  });
  it('pre-generate distinct points round-robin over the meters, in bodies of batchPoints lines', () => {
    const meter = (i: number) => ({ site: 'bench', building: 'b0000', meter: `m${String(i).padStart(2, '0')}` });
    const bodies = rawBodies({ points: 25, batchPoints: 10, meters: 3, meter, firstTsMs: 1_000_000, intervalS: 60 });
    expect(bodies.map(linesIn)).toEqual([10, 10, 5]);
    const lines = bodies.flatMap((b) => b.toString().split('\n'));
    expect(lines).toHaveLength(25);
    const keys = lines.map((l) => `${/meter=(\w+)/.exec(l)![1]} ${l.split(' ').at(-1)}`);
    expect(new Set(keys).size).toBe(25);
    expect(lines[0]).toContain('meter=m00');
    expect(lines[1]).toContain('meter=m01');
    expect(lines[3]!.endsWith(' 1060000')).toBe(true);
  });
  it('read the count of a SELECT count() answer, 0 without series', () => {
    expect(countOf([{ name: 'reading', columns: ['time', 'count'], values: [[0, 12345]] }])).toBe(12345);
    expect(countOf([])).toBe(0);
  });
});
