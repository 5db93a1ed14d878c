import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Point } from '@influxdata/influxdb-client';
import { countOf, countReadings, createDatabase, linesIn, pointsWritten, pointsWrittenIn, rawBodies, readingLine, writeBodies } from '../../../bench/lib/influx.js';
import { startInfluxDb, type TestInfluxDb } from '../../support/influxdb.js';

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

describe('points written per database, from InfluxDB statistics (bench/lib/influx.ts)', () => {
  it('sum writePointsOk over the shards of one database only', () => {
    const shard = (database: string, ok: number) => ({ name: 'shard', tags: { database, id: '1' }, values: { writePointsOk: ok, writePointsErr: 3 } });
    const vars = {
      'shard:/a/1': shard('a', 10),
      'shard:/a/2': shard('a', 5),
      'shard:/b/3': shard('b', 100),
      'database:a': { name: 'database', tags: { database: 'a' }, values: { numSeries: 4 } },
      write: { name: 'write', tags: null, values: { pointReq: 115 } },
      memstats: { Alloc: 1 },
    };
    expect(pointsWrittenIn(vars, 'a')).toBe(15);
    expect(pointsWrittenIn(vars, 'b')).toBe(100);
    expect(pointsWrittenIn(vars, 'c')).toBe(0);
    expect(pointsWrittenIn(null, 'a')).toBe(0);
  });

  describe('against a real influxd', () => {
    let influx: TestInfluxDb;
    beforeAll(async () => {
      influx = await startInfluxDb();
    }, 60_000);
    afterAll(async () => {
      await influx?.stop();
    });

    it('equal SELECT count() for distinct points over several shards, and exceed it once a point is written twice', async () => {
      await createDatabase(influx.url, 'counted');
      await createDatabase(influx.url, 'other');
      const meter = (i: number) => ({ site: 'bench', building: 'b0000', meter: `m${i}` });
      // 3 meters × 4,000 points a day apart: 11 years, hundreds of weekly shards.
      const bodies = rawBodies({ points: 12_000, batchPoints: 1000, meters: 3, meter, firstTsMs: Date.UTC(2015, 0, 1), intervalS: 86_400 });
      expect((await writeBodies(influx.url, 'counted', bodies, 2)).pointsAcked).toBe(12_000);
      expect((await writeBodies(influx.url, 'other', bodies.slice(0, 1), 1)).pointsAcked).toBe(1000);
      expect(await pointsWritten(influx.url, 'counted')).toBe(12_000);
      expect(await countReadings(influx.url, 'counted')).toBe(12_000);
      expect(await pointsWritten(influx.url, 'other')).toBe(1000);

      // The same 1,000 points again: stored once, written twice.
      await writeBodies(influx.url, 'counted', bodies.slice(0, 1), 1);
      expect(await countReadings(influx.url, 'counted')).toBe(12_000);
      expect(await pointsWritten(influx.url, 'counted')).toBe(13_000);
    }, 60_000);
  });
});
