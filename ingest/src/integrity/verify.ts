/**
 * Verification of the reading seals (docs/integrity.md), used by `wattproof verify readings` and
 * the tests: recomputes every sealed day's Merkle root from the reading store and checks the
 * seal records themselves. A difference names the series and the day with the sealed and the
 * stored reading count and root.
 *
 * Checks, per series:
 * - `chain`: seals in arrival order have seq 1, 2, … with `prev` = the previous seal's hash and a
 *   hash that matches their fields; per day, versions 1, 2, …; one time zone; `throughMs` never
 *   goes back;
 * - `amendment`: a day sealed again (version > 1, or a first seal of a day inside the range the
 *   chain had already sealed) has at least one amendment record of that day taken in by it;
 * - `root`: the newest seal of each day matches the store's readings of that day;
 * - `unsealed`: no stored reading inside the sealed range lies in a day without a seal.
 * A day amended after its newest seal is `pending` (not a failure) when the store holds each
 * amended value; the next sealing run seals it again.
 */
import { EMPTY_ROOT, isValidId, type MeterRef, type ReadingStore, type RegistryStore } from '@wattproof/core';
import { ingestError } from '../errors.js';
import {
  allRecords,
  AMENDMENT_RECORD_KIND,
  filterKeyPrefix,
  idAfter,
  matchesFilter,
  parseAmendment,
  parseSeal,
  readSeriesDays,
  SEAL_RECORD_KIND,
  sealHash,
  seriesName,
  type DayDigest,
  type ReadingAmendment,
  type ReadingSeal,
} from './records.js';

export type ReadingSealCheck = 'root' | 'unsealed' | 'chain' | 'amendment' | 'record';

/** Readings and root of a day, as sealed or as stored. */
export interface DayFigures {
  readonly readings: number;
  readonly root: string;
}

export interface ReadingSealProblem {
  readonly check: ReadingSealCheck;
  /** `site/building/meter/quantity/kind` (the record key for an unreadable record). */
  readonly series: string;
  readonly day?: string;
  readonly recordId?: string;
  readonly message: string;
  readonly sealed?: DayFigures;
  readonly stored?: DayFigures;
}

/** A day amended after its newest seal, not sealed again yet. */
export interface PendingDay {
  readonly series: string;
  readonly day: string;
  readonly amendments: number;
  readonly sealed?: DayFigures;
  readonly stored: DayFigures;
}

/** The newest seal of a series: keep its hash elsewhere to detect a cut-off chain end. */
export interface SeriesHead {
  readonly series: string;
  readonly recordId: string;
  readonly seq: number;
  readonly hash: string;
  readonly day: string;
  readonly throughMs: number;
}

export interface ReadingSealReport {
  readonly ok: boolean;
  readonly checkedAtMs: number;
  readonly filter: Partial<MeterRef>;
  /** Series with seals. */
  readonly series: number;
  readonly seals: number;
  /** Sealed days (newest version of each) compared with the store. */
  readonly days: number;
  /** Stored readings inside the sealed ranges. */
  readonly readings: number;
  readonly amendments: number;
  readonly problems: ReadingSealProblem[];
  readonly pending: PendingDay[];
  readonly heads: SeriesHead[];
  /** Series of the store without any seal yet (not a failure: they are sealed once a day of theirs is closed). */
  readonly unsealedSeries: string[];
}

export interface VerifyReadingSealsDeps {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  readonly clock?: () => number;
}

interface Stored<T> {
  readonly id: string;
  readonly value: T;
}

const figures = (d: { readings: number; root: string } | undefined): DayFigures => (d ? { readings: d.readings, root: d.root } : { readings: 0, root: EMPTY_ROOT });

/**
 * Verifies the seals of every series (or of a site, building or meter) against the store.
 * @throws WattproofError INGEST_SEAL_INPUT_INVALID for an invalid id in the filter
 */
export async function verifyReadingSeals(deps: VerifyReadingSealsDeps, filter: Partial<MeterRef> = {}): Promise<ReadingSealReport> {
  for (const [k, v] of Object.entries(filter)) {
    if (v !== undefined && !isValidId(v)) throw ingestError('INGEST_SEAL_INPUT_INVALID', `${k} ${JSON.stringify(v)} is not a valid id`, { details: { [k]: v } });
  }
  const checkedAtMs = (deps.clock ?? Date.now)();
  const prefix = filterKeyPrefix(filter);
  const problems: ReadingSealProblem[] = [];
  const pending: PendingDay[] = [];
  const heads: SeriesHead[] = [];

  const sealsBySeries = new Map<string, Array<Stored<ReadingSeal>>>();
  for await (const record of allRecords(deps.registry, { kind: SEAL_RECORD_KIND, ...(prefix !== undefined ? { keyPrefix: prefix } : {}) })) {
    const seal = parseSeal(record.body);
    if (!seal) {
      problems.push({ check: 'record', series: record.key, recordId: record.id, message: `record ${record.id} (${SEAL_RECORD_KIND}) is not a valid seal` });
      continue;
    }
    if (!matchesFilter(seal.series, filter)) continue;
    const name = seriesName(seal.series);
    const list = sealsBySeries.get(name) ?? [];
    list.push({ id: record.id, value: seal });
    sealsBySeries.set(name, list);
  }
  // series -> day -> amendments, oldest first
  const amendmentsByDay = new Map<string, Map<string, Array<Stored<ReadingAmendment>>>>();
  let amendmentCount = 0;
  for await (const record of allRecords(deps.registry, { kind: AMENDMENT_RECORD_KIND, ...(prefix !== undefined ? { keyPrefix: prefix } : {}) })) {
    const a = parseAmendment(record.body);
    if (!a) {
      problems.push({ check: 'record', series: record.key, recordId: record.id, message: `record ${record.id} (${AMENDMENT_RECORD_KIND}) is not a valid amendment` });
      continue;
    }
    if (!matchesFilter(a.series, filter)) continue;
    amendmentCount++;
    const name = seriesName(a.series);
    const days = amendmentsByDay.get(name) ?? new Map<string, Array<Stored<ReadingAmendment>>>();
    const list = days.get(a.day) ?? [];
    list.unshift({ id: record.id, value: a });
    days.set(a.day, list);
    amendmentsByDay.set(name, days);
  }
  const amendmentsOf = (series: string, day: string, after: string | null, upTo: string | null | undefined) =>
    (amendmentsByDay.get(series)?.get(day) ?? []).filter((a) => idAfter(a.id, after) && (upTo === undefined || (upTo !== null && !idAfter(a.id, upTo))));

  let sealCount = 0;
  let dayCount = 0;
  let readingCount = 0;
  for (const [name, newestFirst] of [...sealsBySeries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const seals = [...newestFirst].reverse();
    sealCount += seals.length;
    const tz = seals[0]!.value.timeZone;
    const newestOfDay = new Map<string, ReadingSeal>();
    let prev: ReadingSeal | undefined;
    for (const { id, value: s } of seals) {
      const at = { series: name, day: s.day, recordId: id };
      if (sealHash(s) !== s.hash) problems.push({ check: 'chain', ...at, message: `seal ${id} (seq ${s.seq}): its hash does not match its fields (the record was changed)` });
      const expectedSeq = (prev?.seq ?? 0) + 1;
      const expectedPrev = prev?.hash ?? null;
      if (s.seq !== expectedSeq || s.prev !== expectedPrev) {
        problems.push({
          check: 'chain',
          ...at,
          message: `seal ${id}: seq ${s.seq} with prev ${s.prev ?? 'null'} follows seq ${prev?.seq ?? 'none'} with hash ${expectedPrev ?? 'null'} (expected seq ${expectedSeq}): a seal record is missing or was changed`,
        });
      }
      if (s.timeZone !== tz) problems.push({ check: 'chain', ...at, message: `seal ${id}: time zone ${s.timeZone} differs from the chain's ${tz}` });
      if (s.throughMs < s.toMs || (prev && s.throughMs < prev.throughMs)) problems.push({ check: 'chain', ...at, message: `seal ${id}: throughMs ${s.throughMs} goes back` });
      const before = newestOfDay.get(s.day);
      if (s.version !== (before?.version ?? 0) + 1) {
        problems.push({ check: 'chain', ...at, message: `day ${s.day}: version ${s.version} follows version ${before?.version ?? 'none'}: a seal record is missing` });
      }
      const reopened = before !== undefined || (prev !== undefined && s.fromMs < prev.throughMs);
      if (reopened) {
        const after = before !== undefined ? before.amendmentsThrough : (prev?.amendmentsThrough ?? null);
        if (amendmentsOf(name, s.day, after, s.amendmentsThrough).length === 0) {
          problems.push({ check: 'amendment', ...at, message: `day ${s.day}: sealed again (version ${s.version}) without an amendment record of that day` });
        }
      }
      newestOfDay.set(s.day, s);
      prev = s;
    }
    const head = seals[seals.length - 1]!;
    heads.push({ series: name, recordId: head.id, seq: head.value.seq, hash: head.value.hash, day: head.value.day, throughMs: head.value.throughMs });

    // Every stored reading from the series' first instant to the end of the sealed range.
    const series = head.value.series;
    const stored = new Map<string, DayDigest>();
    for (const d of await readSeriesDays(deps.readings, series, 0, head.value.throughMs, tz)) {
      stored.set(d.day, d);
      readingCount += d.readings;
    }
    const amendedSince = (day: string, after: string | null) => amendmentsOf(name, day, after, undefined);
    /** True when the store holds the newest amended value of every amended instant. */
    const holdsAmendments = (digest: DayDigest | undefined, amendments: Array<Stored<ReadingAmendment>>) => {
      const newest = new Map<number, number>();
      for (const a of amendments) newest.set(a.value.ts, a.value.value);
      const rows = new Map((digest?.rows ?? []).map((r) => [r.ts, r.value]));
      return [...newest].every(([ts, v]) => rows.get(ts) === v);
    };
    for (const [day, seal] of [...newestOfDay].sort(([a], [b]) => (a < b ? -1 : 1))) {
      dayCount++;
      const now = stored.get(day);
      const sealed = figures(seal);
      const actual = figures(now);
      if (sealed.readings === actual.readings && sealed.root === actual.root) continue;
      const since = amendedSince(day, seal.amendmentsThrough);
      if (since.length && holdsAmendments(now, since)) {
        pending.push({ series: name, day, amendments: since.length, sealed, stored: actual });
        continue;
      }
      const what = sealed.readings !== actual.readings ? `${actual.readings - sealed.readings > 0 ? 'more' : 'fewer'} readings than sealed` : 'a reading differs from the sealed one';
      problems.push({
        check: 'root',
        series: name,
        day,
        message: `day ${day}: ${what} (sealed ${sealed.readings} readings, root ${sealed.root}; stored ${actual.readings} readings, root ${actual.root})`,
        sealed,
        stored: actual,
      });
    }
    for (const [day, d] of [...stored].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (newestOfDay.has(day)) continue;
      const since = amendedSince(day, head.value.amendmentsThrough);
      if (since.length && holdsAmendments(d, since)) {
        pending.push({ series: name, day, amendments: since.length, stored: figures(d) });
        continue;
      }
      problems.push({
        check: 'unsealed',
        series: name,
        day,
        message: `day ${day}: ${d.readings} readings stored inside the sealed range (before ${new Date(head.value.throughMs).toISOString()}) in a day without a seal or an amendment`,
        stored: figures(d),
      });
    }
  }

  const unsealedSeries = (await deps.readings.listSeries(filter)).map(seriesName).filter((n) => !sealsBySeries.has(n));
  return {
    ok: problems.length === 0,
    checkedAtMs,
    filter,
    series: sealsBySeries.size,
    seals: sealCount,
    days: dayCount,
    readings: readingCount,
    amendments: amendmentCount,
    problems,
    pending,
    heads,
    unsealedSeries,
  };
}

/** The report as text: one line per difference, then `Result: OK` or `Result: FAILED`. */
export function formatReadingSealReport(report: ReadingSealReport): string {
  const lines = [
    'Integrity of stored readings (docs/integrity.md)',
    `  ${report.series} series with seals, ${report.seals} seals, ${report.days} sealed days, ${report.readings} stored readings checked, ${report.amendments} amendments`,
  ];
  if (report.unsealedSeries.length) lines.push(`  not sealed yet: ${report.unsealedSeries.join(', ')}`);
  for (const p of report.pending) {
    lines.push(`  pending: ${p.series} ${p.day}: ${p.amendments} amendment(s) since its last seal (stored ${p.stored.readings} readings); sealed again by the next run`);
  }
  for (const p of report.problems) lines.push(`  [${p.check}] ${p.series}: ${p.message}`);
  lines.push(report.ok ? 'Result: OK' : `Result: FAILED (${report.problems.length} difference${report.problems.length === 1 ? '' : 's'})`);
  return `${lines.join('\n')}\n`;
}
