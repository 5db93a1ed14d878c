/**
 * The integrity ledger end to end on each reading store (memory, embedded DuckDB, a real
 * InfluxDB 1.x): readings of two meters over three days go through the real ingest pipeline,
 * the sealer seals the closed days, `verifyReadingSeals` checks them; then one stored reading is
 * altered / deleted directly in the store (bypassing the ingest) and verification names exactly
 * that series and day; a late reading and a correction through the pipeline into sealed days
 * are recorded as amendments, the days sealed again as version 2, and everything verifies.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configWith, readingsTopic, type MeterRef, type ReadingStore, type StoredReading } from '@wattproof/core';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import {
  AMENDMENT_RECORD_KIND,
  createIngestPipeline,
  createReadingSealer,
  createSealIndex,
  digestDays,
  ingestConfigSchema,
  parseAmendment,
  parseSeal,
  SEAL_PAGE_READINGS,
  SEAL_RECORD_KIND,
  verifyReadingSeals,
  type IngestPipeline,
  type ReadingSealer,
} from '@wattproof/ingest';
import { createDuckDbReadingStore, createInfluxReadingStore, createMemoryReadingStore } from '@wattproof/ingest/stores';
import { startInfluxDb, type TestInfluxDb } from '../../support/influxdb.js';

const H = 3_600_000;
const at = (local: string) => Date.parse(`${local}+08:00`);
const DAYS = ['2025-03-01', '2025-03-02', '2025-03-03'];
const M1: MeterRef = { site: 'yz', building: 'tower', meter: 'm1' };
const M2: MeterRef = { site: 'yz', building: 'tower', meter: 'm2' };
const S1 = 'yz/tower/m1/electricity/interval';
const S2 = 'yz/tower/m2/electricity/interval';
const valueOf = (meter: MeterRef, ts: number) => Math.round((meter === M1 ? 10 : 20) * (1 + Math.sin(ts / H)) * 1000) / 1000 + 0.125;

/** A reading store whose adapter can be swapped (reopened, or rebuilt without a reading). */
function delegating(initial: ReadingStore) {
  let current = initial;
  const store: ReadingStore = {
    get name() {
      return current.name;
    },
    init: () => current.init(),
    write: (r) => current.write(r),
    query: (q) => current.query(q),
    aggregate: (q) => current.aggregate(q),
    latest: (f) => current.latest(f),
    listSeries: (f) => current.listSeries(f),
    ping: () => current.ping(),
    close: () => current.close(),
  };
  return {
    store,
    current: () => current,
    swap(next: ReadingStore) {
      current = next;
    },
  };
}

/** Alters and deletes stored readings behind the ingest's back, the way each store allows. */
interface Tamper {
  alter(r: StoredReading, value: number): Promise<void>;
  remove(r: StoredReading): Promise<void>;
}

interface StoreCase {
  readonly name: string;
  open(): Promise<{ store: ReadingStore; tamper: Tamper; close(): Promise<void> }>;
}

let influx: TestInfluxDb | undefined;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'wattproof-seal-'));
});

afterAll(async () => {
  await influx?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const CASES: StoreCase[] = [
  {
    name: 'memory',
    async open() {
      const d = delegating(createMemoryReadingStore());
      return {
        store: d.store,
        tamper: {
          // Straight into the adapter, no ingest: a plain overwrite.
          alter: (r, value) => d.current().write([{ ...r, value }]),
          // The memory adapter has no delete: rebuild it with every reading but this one.
          async remove(r) {
            const next = createMemoryReadingStore();
            for (const s of await d.current().listSeries()) {
              const rows = await d.current().query({ ...s, from: 0, to: Number.MAX_SAFE_INTEGER });
              await next.write(rows.filter((x) => !(x.meter === r.meter && x.ts === r.ts && x.quantity === r.quantity && x.kind === r.kind)));
            }
            await d.current().close();
            d.swap(next);
          },
        },
        close: () => d.store.close(),
      };
    },
  },
  {
    name: 'duckdb (embedded)',
    async open() {
      const path = join(tmp, 'readings.duckdb');
      const d = delegating(createDuckDbReadingStore({ path }));
      // The adapter holds the file's write lock: close it, edit the file with DuckDB itself, reopen.
      const sql = async (statement: string, values: Record<string, string | number>) => {
        await d.current().close();
        const instance = await DuckDBInstance.create(path);
        const conn = await instance.connect();
        await conn.run(`SET TimeZone = 'UTC'`);
        const result = await conn.runAndReadAll(`${statement} RETURNING 1`, values);
        expect(result.getRows().length).toBe(1);
        conn.closeSync();
        instance.closeSync();
        const reopened = createDuckDbReadingStore({ path });
        await reopened.init();
        d.swap(reopened);
      };
      const key = `series = (SELECT id FROM series WHERE site = $site AND building = $building AND meter = $meter AND quantity = $quantity AND kind = $kind) AND ts = make_timestamptz(CAST($ts AS BIGINT) * 1000)`;
      const params = (r: StoredReading) => ({ site: r.site, building: r.building, meter: r.meter, quantity: r.quantity, kind: r.kind, ts: r.ts });
      return {
        store: d.store,
        tamper: {
          alter: (r, value) => sql(`UPDATE readings SET value = $value WHERE ${key}`, { ...params(r), value }),
          remove: (r) => sql(`DELETE FROM readings WHERE ${key}`, params(r)),
        },
        close: () => d.store.close(),
      };
    },
  },
  {
    name: 'influxdb 1.x',
    async open() {
      influx ??= await startInfluxDb();
      const { url, database } = influx;
      const store = createInfluxReadingStore({ url, database, apiVersion: 'v1' });
      const tags = (r: StoredReading) => `reading,building=${r.building},kind=${r.kind},meter=${r.meter},quantity=${r.quantity},site=${r.site},unit=${r.unit}`;
      return {
        store,
        tamper: {
          // Same measurement, tags and timestamp, another value: InfluxDB overwrites the point.
          async alter(r, value) {
            const res = await fetch(`${url}/write?db=${database}&precision=ms`, { method: 'POST', body: `${tags(r)} value=${value},interval_s=${r.intervalS}i ${r.ts}` });
            expect(res.status).toBe(204);
          },
          // InfluxDB answers a statement's failure with HTTP 200 and an error in the body. One CI run
          // (2026-12-01) verified the store as intact right after a DELETE answered 200; the body was
          // not read then, so why is not known (not reproduced in 5 runs, 4 of them beside two
          // CPU burners). So the error is checked and the DELETE repeated until a query no longer
          // finds the point: the tests below then start from a removal that took effect.
          async remove(r) {
            const where = `"site" = '${r.site}' AND "building" = '${r.building}' AND "meter" = '${r.meter}' AND time = ${r.ts}ms`;
            const statement = async (q: string) => {
              const res = await fetch(`${url}/query?db=${database}`, { method: 'POST', body: new URLSearchParams({ q }) });
              expect(res.status).toBe(200);
              const body = (await res.json()) as { results?: Array<{ error?: string; series?: Array<{ values?: unknown[][] }> }> };
              expect(body.results?.[0]?.error, q).toBeUndefined();
              return body.results?.[0];
            };
            for (let attempt = 1; ; attempt++) {
              await statement(`DELETE FROM "reading" WHERE ${where}`);
              const left = await statement(`SELECT count("value") FROM "reading" WHERE ${where}`);
              if (!left?.series?.[0]?.values?.length || left.series[0].values[0]![1] === 0) return;
              if (attempt === 20) throw new Error(`the point at ${r.ts} is still stored after ${attempt} DELETEs`);
              await new Promise((resolve) => setTimeout(resolve, 100));
            }
          },
        },
        close: () => store.close(),
      };
    },
  },
];

describe.each(CASES)('sealing stored readings: $name', (storeCase) => {
  let store: ReadingStore;
  let tamper: Tamper;
  let closeStore: () => Promise<void>;
  let registry: ReturnType<typeof createMemoryRegistryStore>;
  let pipeline: IngestPipeline;
  let sealer: ReadingSealer;
  let now = at('2025-03-04T01:00:00');
  const config = configWith(ingestConfigSchema, { INGEST_FLUSH_INTERVAL_MS: 5 });
  const reading = (meter: MeterRef, ts: number, value = valueOf(meter, ts)): StoredReading => ({ ...meter, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts, value, intervalS: 3600 });
  let seq = 0;
  const send = (meter: MeterRef, readings: Array<{ ts: number; value: number; intervalS?: number }>) =>
    pipeline.accept({
      topic: readingsTopic(meter),
      clientId: `${meter.meter}-device`,
      payload: Buffer.from(JSON.stringify({ seq: ++seq, readings: readings.map((r) => ({ ts: r.ts, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: r.intervalS ?? 3600, value: r.value })) })),
    });
  const verify = () => verifyReadingSeals({ readings: store, registry });
  const records = async (kind: string) => registry.listRecords({ kind, limit: 1000 });

  beforeAll(async () => {
    ({ store, tamper, close: closeStore } = await storeCase.open());
    await store.init();
    registry = createMemoryRegistryStore();
    await registry.init();
    // The pipeline has its own seal index, as an ingest process separate from the sealer would.
    pipeline = createIngestPipeline({ readings: store, registry, clock: () => now }, config);
    const seals = createSealIndex(registry);
    sealer = createReadingSealer({ readings: store, registry, clock: () => now, index: seals, exclusive: pipeline.exclusive }, config);
    const outcomes = await Promise.all(
      [M1, M2].flatMap((m) => DAYS.map((day) => send(m, Array.from({ length: 24 }, (_, h) => ({ ts: at(`${day}T00:00:00`) + h * H, value: valueOf(m, at(`${day}T00:00:00`) + h * H) }))))),
    );
    expect(outcomes).toEqual(Array(6).fill('stored'));
  });

  afterAll(async () => {
    await pipeline?.close();
    await closeStore?.();
    await registry?.close();
  });

  it('stores no amendment while nothing is sealed, even for readings older than the lateness allowance', async () => {
    expect(await records(AMENDMENT_RECORD_KIND)).toEqual([]);
  });

  it('seals each closed local day of each series once, chained per series, and verifies', async () => {
    now = at('2025-03-07T00:00:00');
    const run = await sealer.seal();
    expect(run.failures).toEqual([]);
    expect(run.series).toBe(2);
    expect(run.sealed.map((s) => `${s.series} ${s.day} v${s.version} #${s.seq} ${s.readings}`)).toEqual([
      ...DAYS.map((d, i) => `${S1} ${d} v1 #${i + 1} 24`),
      ...DAYS.map((d, i) => `${S2} ${d} v1 #${i + 1} 24`),
    ]);
    const bodies = (await records(SEAL_RECORD_KIND)).reverse().map((r) => parseSeal(r.body)!);
    expect(bodies[0]).toMatchObject({ day: '2025-03-01', fromMs: at('2025-03-01T00:00:00'), toMs: at('2025-03-02T00:00:00'), timeZone: 'Asia/Shanghai', prev: null, seq: 1, amendmentsThrough: null, sealAfterS: 172_800 });
    expect(bodies[1]!.prev).toBe(bodies[0]!.hash);
    expect(bodies[2]).toMatchObject({ prev: bodies[1]!.hash, throughMs: at('2025-03-04T00:00:00') });
    // The documented encoding, recomputed here by hand (docs/integrity.md, docs/packs.md).
    const sha = (...parts: Array<Buffer | string>) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();
    let level = Array.from({ length: 24 }, (_, h) => at('2025-03-01T00:00:00') + h * H).map((ts) => sha(Buffer.from([0]), `yz,tower,m1,electricity,interval,kWh,${ts},${valueOf(M1, ts)},3600`));
    while (level.length > 1) level = Array.from({ length: Math.ceil(level.length / 2) }, (_, i) => (level[2 * i + 1] ? sha(Buffer.from([1]), level[2 * i]!, level[2 * i + 1]!) : level[2 * i]!));
    const b0 = bodies[0]!;
    expect(b0.root).toBe(level[0]!.toString('hex'));
    const fields = [b0.format, 'yz', 'tower', 'm1', 'electricity', 'interval', 'Asia/Shanghai', '2025-03-01', b0.fromMs, b0.toMs, 24, b0.root, 1, 1, null, b0.throughMs, null, 0, 172_800, b0.sealedAtMs];
    expect(b0.hash).toBe(createHash('sha256').update(JSON.stringify(fields)).digest('hex'));

    const report = await verify();
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ ok: true, series: 2, seals: 6, days: 6, readings: 144, pending: [], unsealedSeries: [] });
    expect(report.heads.map((h) => [h.series, h.seq, h.day])).toEqual([
      [S1, 3, '2025-03-03'],
      [S2, 3, '2025-03-03'],
    ]);
  });

  it('seals nothing new when run again', async () => {
    now += 6 * H;
    const run = await sealer.seal();
    expect(run.sealed).toEqual([]);
    expect(await records(SEAL_RECORD_KIND)).toHaveLength(6);
  });

  it('names exactly the series and day of one reading altered in the store', async () => {
    const original = reading(M1, at('2025-03-02T10:00:00'));
    await tamper.alter(original, original.value + 0.5);
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({ check: 'root', series: S1, day: '2025-03-02', sealed: { readings: 24 }, stored: { readings: 24 } });
    expect(report.problems[0]!.sealed!.root).not.toBe(report.problems[0]!.stored!.root);
    expect(report.problems[0]!.message).toContain('a reading differs from the sealed one');

    await tamper.alter(original, original.value);
    expect((await verify()).problems).toEqual([]);
  });

  it('names exactly the series and day of one reading deleted from the store', async () => {
    const victim = reading(M2, at('2025-03-03T05:00:00'));
    await tamper.remove(victim);
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({ check: 'root', series: S2, day: '2025-03-03', sealed: expect.objectContaining({ readings: 24 }), stored: expect.objectContaining({ readings: 23 }) }),
    ]);
    expect(report.problems[0]!.message).toContain('fewer readings than sealed');

    await store.write([victim]);
    expect((await verify()).ok).toBe(true);
  });

  it('records a late reading into a sealed day as an amendment and seals the day again as version 2', async () => {
    now = at('2025-03-07T08:00:00');
    const ts = at('2025-03-02T10:30:00');
    expect(await send(M1, [{ ts, value: 1.5, intervalS: 1800 }])).toBe('stored');
    const amendments = (await records(AMENDMENT_RECORD_KIND)).map((r) => ({ key: r.key, body: parseAmendment(r.body) }));
    expect(amendments).toEqual([
      {
        key: S1,
        body: expect.objectContaining({ reason: 'late', ts, value: 1.5, intervalS: 1800, unit: 'kWh', day: '2025-03-02', source: 'ingest', topic: readingsTopic(M1), clientId: 'm1-device', receivedAtMs: now }),
      },
    ]);
    expect(amendments[0]!.body).not.toHaveProperty('previousValue');

    // Amended but not sealed again yet: pending, not a failure.
    const before = await verify();
    expect(before.problems).toEqual([]);
    expect(before.pending).toEqual([expect.objectContaining({ series: S1, day: '2025-03-02', amendments: 1, stored: expect.objectContaining({ readings: 25 }) })]);

    const run = await sealer.seal();
    expect(run.sealed.map((s) => `${s.series} ${s.day} v${s.version} #${s.seq} ${s.readings}`)).toEqual([`${S1} 2025-03-02 v2 #4 25`]);
    const v2 = parseSeal((await registry.listRecords({ kind: SEAL_RECORD_KIND, limit: 1 }))[0]!.body)!;
    expect(v2).toMatchObject({ version: 2, amendments: 1, throughMs: at('2025-03-04T00:00:00') });

    const after = await verify();
    expect(after.problems).toEqual([]);
    expect(after.pending).toEqual([]);
    expect(after.seals).toBe(7);
    expect((await sealer.seal()).sealed).toEqual([]);
  });

  it('records a correction with the value it replaced, and seals that day again', async () => {
    const ts = at('2025-03-01T03:00:00');
    const old = valueOf(M2, ts);
    expect(await send(M2, [{ ts, value: old + 7 }])).toBe('stored');
    const [newest] = await registry.listRecords({ kind: AMENDMENT_RECORD_KIND, limit: 1 });
    expect(parseAmendment(newest!.body)).toMatchObject({ reason: 'correction', ts, value: old + 7, previousValue: old, day: '2025-03-01' });
    // An exact duplicate of a durable reading is dropped: no second amendment.
    expect(await send(M2, [{ ts, value: old + 7 }])).toBe('ignored');
    expect(await records(AMENDMENT_RECORD_KIND)).toHaveLength(2);

    const run = await sealer.seal();
    expect(run.sealed.map((s) => `${s.series} ${s.day} v${s.version}`)).toEqual([`${S2} 2025-03-01 v2`]);
    const report = await verify();
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ ok: true, seals: 8, amendments: 2, pending: [] });
  });

  it('still detects an alteration of an amended day after its re-seal', async () => {
    const r = reading(M1, at('2025-03-02T11:00:00'));
    await tamper.alter(r, r.value * 2);
    const report = await verify();
    expect(report.problems).toEqual([expect.objectContaining({ check: 'root', series: S1, day: '2025-03-02', sealed: expect.objectContaining({ readings: 25 }) })]);
    await tamper.alter(r, r.value);
    expect((await verify()).ok).toBe(true);
  });
});

describe('the sealer on its own (memory stores)', () => {
  const config = configWith(ingestConfigSchema, {});
  const hourly = (meter: MeterRef, from: string, days: number): StoredReading[] =>
    Array.from({ length: days * 24 }, (_, h) => ({ ...meter, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: at(`${from}T00:00:00`) + h * H, value: valueOf(meter, h * H), intervalS: 3600 }));

  async function stores() {
    const readings = createMemoryReadingStore();
    const registry = createMemoryRegistryStore();
    await registry.init();
    return { readings, registry };
  }

  it('out of the write slot, records readings written while it sealed as concurrent amendments and seals their days again', async () => {
    const { readings, registry } = await stores();
    // 1 and 3 March have readings; 2 March is empty when the sealer reads.
    await readings.write([...hourly(M1, '2025-03-01', 1), ...hourly(M1, '2025-03-03', 1)]);
    const intoSealedDay = { ...hourly(M1, '2025-03-03', 1)[5]!, ts: at('2025-03-03T05:30:00'), value: 3.25, intervalS: 1800 };
    const intoEmptyDay = { ...hourly(M1, '2025-03-02', 1)[7]! };
    let injected = false;
    // A writer (an ingest that has not seen the new seals) lands right after the sealer's first query.
    const racing: ReadingStore = {
      ...readings,
      async query(q) {
        const rows = await readings.query(q);
        if (!injected) {
          injected = true;
          await readings.write([intoSealedDay, intoEmptyDay]);
        }
        return rows;
      },
    };
    const run = await createReadingSealer({ readings: racing, registry, clock: () => at('2025-03-09T00:00:00') }, config).seal();
    expect(run.failures).toEqual([]);
    expect(run.amendments).toBe(2);
    expect(run.sealed.map((s) => `${s.day} v${s.version} ${s.readings}`)).toEqual(['2025-03-01 v1 24', '2025-03-03 v1 24', '2025-03-02 v1 1', '2025-03-03 v2 25']);
    const amendments = (await registry.listRecords({ kind: AMENDMENT_RECORD_KIND })).map((r) => parseAmendment(r.body));
    expect(amendments).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: 'concurrent', source: 'sealer', ts: intoSealedDay.ts, value: 3.25, day: '2025-03-03' }),
        expect.objectContaining({ reason: 'concurrent', source: 'sealer', ts: intoEmptyDay.ts, day: '2025-03-02' }),
      ]),
    );
    const report = await verifyReadingSeals({ readings, registry });
    expect(report.problems).toEqual([]);
    expect(report.pending).toEqual([]);
  });

  it('seals no new day on or after --until, and refuses a malformed date', async () => {
    const { readings, registry } = await stores();
    await readings.write([...hourly(M1, '2025-03-01', 4), ...hourly(M2, '2025-03-01', 4)]);
    const sealer = createReadingSealer({ readings, registry, clock: () => at('2025-03-09T00:00:00') }, config);
    const first = await sealer.seal({ ...M1, until: '2025-03-03' });
    expect(first.sealed.map((s) => `${s.series} ${s.day}`)).toEqual([`${S1} 2025-03-01`, `${S1} 2025-03-02`]);
    const rest = await sealer.seal();
    expect(rest.sealed.map((s) => `${s.series} ${s.day} #${s.seq}`)).toEqual([`${S1} 2025-03-03 #3`, `${S1} 2025-03-04 #4`, ...['01', '02', '03', '04'].map((d, i) => `${S2} 2025-03-${d} #${i + 1}`)]);
    expect((await verifyReadingSeals({ readings, registry })).ok).toBe(true);
    await expect(sealer.seal({ until: '2025-3-1' })).rejects.toMatchObject({ code: 'INGEST_SEAL_INPUT_INVALID' });
  });

  it('seals a day only once its end is INGEST_SEAL_AFTER_S past, in the series\' time zone', async () => {
    const { readings, registry } = await stores();
    await readings.write(hourly(M1, '2025-03-01', 3));
    let now = at('2025-03-03T00:00:00');
    const sealer = createReadingSealer({ readings, registry, clock: () => now }, configWith(ingestConfigSchema, { INGEST_SEAL_AFTER_S: 86_400 }));
    expect((await sealer.seal()).sealed.map((s) => s.day)).toEqual(['2025-03-01']);
    now = at('2025-03-03T23:59:59');
    expect((await sealer.seal()).sealed).toEqual([]);
    now = at('2025-03-04T00:00:00');
    expect((await sealer.seal()).sealed.map((s) => s.day)).toEqual(['2025-03-02']);
  });

  it('reads a long history in pages cut on day boundaries (a day larger than a page on its own) and seals the same roots', async () => {
    const { readings, registry } = await stores();
    // 30 days: hourly, but every 5th day one reading a minute (1,440: more than a page).
    const rows: StoredReading[] = [];
    for (let d = 0; d < 30; d++) {
      const step = d % 5 === 4 ? 60_000 : H;
      for (let t = 0; t < 24 * H; t += step) rows.push({ ...M1, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: at('2025-01-01T00:00:00') + d * 24 * H + t, value: (t / step) % 13 / 8, intervalS: step / 1000 });
    }
    const queries: number[] = [];
    const counting: ReadingStore = { ...readings, query: async (q) => (queries.push(q.limit ?? -1), readings.query(q)) };
    await readings.write(rows);
    const run = await createReadingSealer({ readings: counting, registry, clock: () => at('2025-03-01T00:00:00'), pageReadings: 1_000 }, config).seal();
    expect(run.sealed).toHaveLength(30);
    const expected = digestDays(rows, 'Asia/Shanghai');
    expect(run.sealed.map((s) => [s.day, s.readings, s.root])).toEqual(expected.map((d) => [d.day, d.readings, d.root]));
    expect(queries.length).toBeGreaterThan(6);
    expect(queries).toContain(-1);
    expect(SEAL_PAGE_READINGS).toBe(100_000);
  });

  it('does not extend a chain whose head it cannot read, and seals the other series', async () => {
    const { readings, registry } = await stores();
    await readings.write([...hourly(M1, '2025-03-01', 1), ...hourly(M2, '2025-03-01', 1)]);
    await registry.appendRecords([{ kind: SEAL_RECORD_KIND, key: S1, recordedAtMs: 1, body: { format: 'wattproof.reading-seal/1', day: 'yesterday' } }]);
    const run = await createReadingSealer({ readings, registry, clock: () => at('2025-03-09T00:00:00') }, config).seal();
    expect(run.failures).toEqual([expect.objectContaining({ series: S1, code: 'INGEST_SEAL_RECORD_INVALID' })]);
    expect(run.sealed.map((s) => s.series)).toEqual([S2]);
  });

  it('runs every INGEST_SEAL_INTERVAL_S once started, and stops on close', async () => {
    const { readings, registry } = await stores();
    await readings.write(hourly(M1, '2025-03-01', 1));
    const sealer = createReadingSealer({ readings, registry, clock: () => at('2025-03-09T00:00:00') }, configWith(ingestConfigSchema, { INGEST_SEAL_INTERVAL_S: 1 }));
    sealer.start();
    await expect.poll(async () => (await registry.listRecords({ kind: SEAL_RECORD_KIND })).length, { timeout: 5_000, interval: 100 }).toBe(1);
    await sealer.close();
    await readings.write(hourly(M2, '2025-03-01', 1));
    await new Promise((r) => setTimeout(r, 1_300));
    expect(await registry.listRecords({ kind: SEAL_RECORD_KIND })).toHaveLength(1);
  });
});
