/**
 * The reading sealer (docs/integrity.md): for every series of the reading store, each closed
 * local day (its end at least INGEST_SEAL_AFTER_S past) gets a `reading-seal` record with the
 * Merkle root of the day's stored readings, chained to the series' previous seal. A day that
 * received amendments since its last seal is sealed again as the next version.
 *
 * Per series and run: two indexed registry reads (chain head, newest amendment id), one store
 * query over the days not sealed yet (pages of SEAL_PAGE_READINGS readings, cut on day
 * boundaries), one query per amended day, one registry append. A run with nothing new appends
 * nothing.
 *
 * Inside the ingest every series is sealed in the pipeline's write slot (`exclusive`), so no
 * write lands between the query and the append. Without that slot (`wattproof seal` in its own
 * process) the sealer re-reads what it sealed after appending; a reading written meanwhile by a
 * running ingest that did not yet see the new seal is recorded as a `concurrent` amendment and
 * its day sealed again.
 */
import { Counter, type Registry } from 'prom-client';
import {
  EMPTY_ROOT,
  isValidId,
  silentLogger,
  type Logger,
  type MeterRef,
  type NewRecord,
  type ReadingStore,
  type RegistryStore,
  type SeriesInfo,
  type SeriesRef,
} from '@wattproof/core';
import type { IngestConfig } from '../config.js';
import { ingestError } from '../errors.js';
import {
  allRecords,
  AMENDMENT_FORMAT,
  AMENDMENT_RECORD_KIND,
  digestDays,
  idAfter,
  localDateStart,
  localDayOf,
  parseAmendment,
  readSeriesDays,
  sameSeries,
  SEAL_FORMAT,
  SEAL_RECORD_KIND,
  sealHash,
  seriesName,
  seriesRecordKey,
  type DayDigest,
  type ReadingAmendment,
  type ReadingSeal,
  type SealFields,
} from './records.js';
import { createSealIndex, latestSeal, type SealIndex } from './seal-index.js';

/** Re-seal rounds of one series when readings keep changing under an out-of-process sealer. */
const MAX_CONCURRENT_ROUNDS = 3;

export type ReadingSealerConfig = Pick<IngestConfig, 'INGEST_SEAL_INTERVAL_S' | 'INGEST_SEAL_AFTER_S' | 'INGEST_SEAL_TIME_ZONE'>;

export interface ReadingSealerDeps {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  readonly clock?: () => number;
  readonly logger?: Logger;
  /** Chain heads shared with the ingest pipeline (created when absent). */
  readonly index?: SealIndex;
  /**
   * Runs a function in the ingest pipeline's write slot (no store write meanwhile). Absent: the
   * sealer runs alongside writers and re-reads what it sealed (see the module comment).
   */
  readonly exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
  readonly metrics?: Registry;
  /** Readings per store query (default SEAL_PAGE_READINGS). */
  readonly pageReadings?: number;
}

/** Which series to seal, and up to which local date. */
export interface SealOptions extends Partial<MeterRef> {
  /** Seal no new day on or after this local date `YYYY-MM-DD` (amended days are re-sealed all the same). */
  readonly until?: string;
}

/** One seal appended by a run. */
export interface AppendedSeal {
  readonly id: string;
  readonly series: string;
  readonly day: string;
  readonly version: number;
  readonly seq: number;
  readonly readings: number;
  readonly root: string;
}

/** What a run did. */
export interface SealRunReport {
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
  /** Series looked at. */
  readonly series: number;
  readonly sealed: AppendedSeal[];
  /** `concurrent` amendments the run recorded (only without the pipeline's write slot). */
  readonly amendments: number;
  /** Series that could not be sealed, with the error. */
  readonly failures: Array<{ series: string; code?: string; message: string }>;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Creates the sealer. `seal()` runs once; `start()` runs it every INGEST_SEAL_INTERVAL_S
 * (first run one interval after start; 0 = never).
 */
export function createReadingSealer(deps: ReadingSealerDeps, config: ReadingSealerConfig) {
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? Date.now;
  const index = deps.index ?? createSealIndex(deps.registry);
  const sealAfterMs = config.INGEST_SEAL_AFTER_S * 1000;
  const sealsCounter = deps.metrics
    ? new Counter({ name: 'wattproof_ingest_seals_total', help: 'Day seals appended (re-seals of amended days included)', registers: [deps.metrics] })
    : undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;
  // Rows are kept only to diff a day read again after sealing (out of the write slot).
  const readOptions = { keepRows: deps.exclusive === undefined, ...(deps.pageReadings !== undefined ? { pageReadings: deps.pageReadings } : {}) };

  /** Newest amendment record id under the series' key (any series sharing a cut key counts: harmless). */
  async function amendmentCursor(series: SeriesRef): Promise<string | null> {
    const [newest] = await deps.registry.listRecords({ kind: AMENDMENT_RECORD_KIND, key: seriesRecordKey(series), limit: 1 });
    return newest?.id ?? null;
  }

  async function readDay(series: SeriesRef, day: { day: string; fromMs: number; toMs: number }, tz: string): Promise<DayDigest> {
    const found = await readSeriesDays(deps.readings, series, day.fromMs, day.toMs, tz, readOptions);
    return found[0] ?? { ...day, readings: 0, root: EMPTY_ROOT, rows: [] };
  }

  interface SeriesRun {
    readonly appended: ReadingSeal[];
    readonly ids: string[];
    /** What each appended seal was computed from (same order). */
    readonly digests: DayDigest[];
    /** Start of the range read for new days (the previous head's throughMs), when one was read. */
    readonly freshFrom?: number;
  }

  const NOTHING: SeriesRun = { appended: [], ids: [], digests: [] };

  /** Seals one series' closed days and its amended days; appends nothing when nothing changed. */
  async function sealSeries(series: SeriesRef, nowMs: number, until: string | undefined): Promise<SeriesRun> {
    const head = await latestSeal(deps.registry, series, { strict: true });
    const tz = head?.timeZone ?? config.INGEST_SEAL_TIME_ZONE;
    // Read before the store: an amendment appended after this read has a larger id, and the
    // write it records finished before it was appended (amendments follow durable writes).
    const cursor = await amendmentCursor(series);

    const amended = new Map<string, { day: string; fromMs: number; toMs: number; amendments: number }>();
    if (head && cursor !== null && idAfter(cursor, head.amendmentsThrough)) {
      for await (const record of allRecords(deps.registry, { kind: AMENDMENT_RECORD_KIND, key: seriesRecordKey(series) }, 10)) {
        if (!idAfter(record.id, head.amendmentsThrough)) break;
        if (record.id > cursor) continue;
        const a = parseAmendment(record.body);
        if (!a || !sameSeries(a.series, series) || a.ts >= head.throughMs) continue;
        const d = localDayOf(a.ts, tz);
        const entry = amended.get(d.day) ?? { ...d, amendments: 0 };
        entry.amendments++;
        amended.set(d.day, entry);
      }
    }

    let horizon = localDayOf(nowMs - sealAfterMs, tz).fromMs;
    if (until !== undefined) horizon = Math.min(horizon, localDateStart(until, tz));
    const from = head?.throughMs ?? 0;
    const fresh = from < horizon ? await readSeriesDays(deps.readings, series, from, horizon, tz, readOptions) : [];
    const reopened: Array<{ digest: DayDigest; version: number; amendments: number }> = [];
    for (const day of [...amended.values()].sort((a, b) => a.fromMs - b.fromMs)) {
      const digest = await readDay(series, day, tz);
      const previous = await latestSeal(deps.registry, series, { strict: true, day: day.day });
      reopened.push({ digest, version: (previous?.version ?? 0) + 1, amendments: day.amendments });
    }
    if (!reopened.length && !fresh.length) return NOTHING;

    const sealedAtMs = clock();
    let seq = head?.seq ?? 0;
    let prev = head?.hash ?? null;
    let throughMs = head?.throughMs ?? 0;
    const seals: ReadingSeal[] = [];
    const add = (d: DayDigest, version: number, amendments: number) => {
      throughMs = Math.max(throughMs, d.toMs);
      const fields: SealFields = {
        format: SEAL_FORMAT,
        series: { site: series.site, building: series.building, meter: series.meter, quantity: series.quantity, kind: series.kind },
        timeZone: tz,
        day: d.day,
        fromMs: d.fromMs,
        toMs: d.toMs,
        readings: d.readings,
        root: d.root,
        version,
        seq: ++seq,
        prev,
        throughMs,
        amendmentsThrough: cursor,
        amendments,
        sealAfterS: config.INGEST_SEAL_AFTER_S,
        sealedAtMs,
      };
      const seal: ReadingSeal = { ...fields, hash: sealHash(fields) };
      prev = seal.hash;
      seals.push(seal);
    };
    for (const r of reopened) add(r.digest, r.version, r.amendments);
    for (const d of fresh) add(d, 1, 0);

    const records: NewRecord[] = seals.map((body) => ({ kind: SEAL_RECORD_KIND, key: seriesRecordKey(series), recordedAtMs: sealedAtMs, body }));
    const stored = await deps.registry.appendRecords(records);
    index.note(seals[seals.length - 1]!);
    sealsCounter?.inc(seals.length);
    return { appended: seals, ids: stored.map((r) => r.id), digests: [...reopened.map((r) => r.digest), ...fresh], ...(fresh.length ? { freshFrom: from } : {}) };
  }

  /**
   * Out of the write slot: reads again what the run sealed (each re-opened day; the new range up to
   * the new head in one query) and records every reading that changed since as a `concurrent`
   * amendment (its day is then sealed again).
   */
  async function recordConcurrentWrites(series: SeriesRef, run: SeriesRun): Promise<number> {
    const head = run.appended[run.appended.length - 1]!;
    const tz = head.timeZone;
    const sealed = new Map(run.digests.map((d) => [d.day, d]));
    const again: DayDigest[] = [];
    for (const [i, seal] of run.appended.entries()) {
      // Re-opened days one by one (they lie before the new range).
      if (run.freshFrom === undefined || seal.fromMs < run.freshFrom) again.push(await readDay(series, run.digests[i]!, tz));
    }
    if (run.freshFrom !== undefined) again.push(...(await readSeriesDays(deps.readings, series, run.freshFrom, head.throughMs, tz, readOptions)));
    const records: NewRecord[] = [];
    for (const now of again) {
      const then = sealed.get(now.day);
      if (then && then.readings === now.readings && then.root === now.root) continue;
      const before = new Map((then?.rows ?? []).map((r) => [r.ts, r.value]));
      const present = new Set(now.rows.map((r) => r.ts));
      if ([...before.keys()].some((ts) => !present.has(ts))) {
        logger.warn({ series: seriesName(series), day: now.day }, 'readings disappeared from a day while it was being sealed');
      }
      for (const r of now.rows) {
        const previousValue = before.get(r.ts);
        if (previousValue === r.value) continue;
        const body: ReadingAmendment = {
          format: AMENDMENT_FORMAT,
          series: head.series,
          unit: r.unit,
          ts: r.ts,
          value: r.value,
          ...(r.intervalS !== undefined ? { intervalS: r.intervalS } : {}),
          ...(previousValue !== undefined ? { previousValue } : {}),
          reason: 'concurrent',
          day: now.day,
          timeZone: tz,
          source: 'sealer',
          receivedAtMs: clock(),
        };
        records.push({ kind: AMENDMENT_RECORD_KIND, key: seriesRecordKey(series), recordedAtMs: clock(), body });
      }
    }
    if (records.length) await deps.registry.appendRecords(records);
    return records.length;
  }

  async function sealOne(series: SeriesRef, nowMs: number, until: string | undefined): Promise<{ seals: AppendedSeal[]; amendments: number }> {
    const seals: AppendedSeal[] = [];
    const collect = (run: SeriesRun) => {
      run.appended.forEach((s, i) => seals.push({ id: run.ids[i]!, series: seriesName(series), day: s.day, version: s.version, seq: s.seq, readings: s.readings, root: s.root }));
    };
    if (deps.exclusive) {
      const run = await deps.exclusive(() => (stopped ? Promise.resolve(NOTHING) : sealSeries(series, nowMs, until)));
      collect(run);
      return { seals, amendments: 0 };
    }
    let amendments = 0;
    for (let round = 0; round < MAX_CONCURRENT_ROUNDS; round++) {
      const run = await sealSeries(series, nowMs, until);
      collect(run);
      const changed = run.appended.length ? await recordConcurrentWrites(series, run) : 0;
      amendments += changed;
      if (!changed) break;
    }
    return { seals, amendments };
  }

  /**
   * One run over every series of the store (or of a site, building or meter).
   * @throws WattproofError INGEST_SEAL_INPUT_INVALID for a bad `until` or id
   */
  async function seal(options: SealOptions = {}): Promise<SealRunReport> {
    const { until, ...filter } = options;
    if (until !== undefined && (!DATE.test(until) || Number.isNaN(Date.parse(`${until}T00:00:00Z`)))) {
      throw ingestError('INGEST_SEAL_INPUT_INVALID', `until must be a local date YYYY-MM-DD, got ${JSON.stringify(until)}`, { details: { until } });
    }
    for (const [k, v] of Object.entries(filter)) {
      if (v !== undefined && !isValidId(v)) throw ingestError('INGEST_SEAL_INPUT_INVALID', `${k} ${JSON.stringify(v)} is not a valid id`, { details: { [k]: v } });
    }
    const startedAtMs = clock();
    const series: SeriesInfo[] = await deps.readings.listSeries(filter);
    const sealed: AppendedSeal[] = [];
    const failures: SealRunReport['failures'] = [];
    let amendments = 0;
    for (const s of series) {
      if (stopped) break;
      try {
        const r = await sealOne(s, startedAtMs, until);
        sealed.push(...r.seals);
        amendments += r.amendments;
      } catch (err) {
        const e = err as { code?: string; message?: string };
        failures.push({ series: seriesName(s), ...(e.code !== undefined ? { code: e.code } : {}), message: e.message ?? String(err) });
        logger.error({ err, series: seriesName(s) }, 'sealing failed for a series');
      }
    }
    return { startedAtMs, finishedAtMs: clock(), series: series.length, sealed, amendments, failures };
  }

  function stop(): void {
    stopped = true;
    if (timer) clearInterval(timer);
    timer = undefined;
  }

  return {
    seal,
    /** Starts the periodic runs (INGEST_SEAL_INTERVAL_S; 0: none). A run still going skips the next tick. */
    start(): void {
      if (config.INGEST_SEAL_INTERVAL_S === 0 || timer || stopped) return;
      timer = setInterval(() => {
        if (running) return;
        running = seal()
          .then((r) => {
            if (r.sealed.length || r.failures.length) logger.info({ seals: r.sealed.length, series: r.series, failures: r.failures.length, ms: r.finishedAtMs - r.startedAtMs }, 'sealed stored readings');
          })
          .catch((err: unknown) => logger.error({ err }, 'sealing run failed'))
          .finally(() => (running = undefined));
      }, config.INGEST_SEAL_INTERVAL_S * 1000);
      timer.unref();
    },
    /** Stops the periodic runs; a run in progress ends after its current series. */
    stop,
    /** Stops and waits for a run in progress. */
    async close(): Promise<void> {
      stop();
      await running;
    },
  };
}

export type ReadingSealer = ReturnType<typeof createReadingSealer>;
