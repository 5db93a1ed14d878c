/**
 * Where each series' seal chain stands: its newest `reading-seal` (the chain head) read from the
 * registry, cached. The ingest asks it whether a late reading falls into a sealed day; the
 * sealer reads every head afresh (another process may have sealed) and notes what it appends.
 */
import { type RegistryStore, type SeriesRef } from '@wattproof/core';
import { ingestError } from '../errors.js';
import { allRecords, parseSeal, sameSeries, SEAL_RECORD_KIND, seriesName, seriesRecordKey, type ReadingSeal } from './records.js';

/**
 * The newest seal of a series (of one day with `day`), or undefined when there is none.
 * `strict`: a record under the series' key that is no valid seal throws INGEST_SEAL_RECORD_INVALID
 * (the sealer must not extend a chain it cannot read); otherwise such records are skipped.
 * @throws WattproofError INGEST_SEAL_RECORD_INVALID (strict only)
 */
export async function latestSeal(registry: RegistryStore, series: SeriesRef, options: { strict: boolean; day?: string }): Promise<ReadingSeal | undefined> {
  for await (const record of allRecords(registry, { kind: SEAL_RECORD_KIND, key: seriesRecordKey(series) }, 1)) {
    const seal = parseSeal(record.body);
    if (!seal) {
      if (options.strict) {
        throw ingestError('INGEST_SEAL_RECORD_INVALID', `record ${record.id} (${SEAL_RECORD_KIND} ${record.key}) is not a valid seal; the chain of ${seriesName(series)} is not extended`, { details: { id: record.id, key: record.key } });
      }
      continue;
    }
    if (sameSeries(seal.series, series) && (options.day === undefined || seal.day === options.day)) return seal;
  }
  return undefined;
}

/** Cached chain heads, keyed by series name. */
export function createSealIndex(registry: RegistryStore) {
  const heads = new Map<string, ReadingSeal>();
  const note = (seal: ReadingSeal): void => {
    const key = seriesName(seal.series);
    const known = heads.get(key);
    if (!known || seal.seq > known.seq) heads.set(key, seal);
  };
  return {
    /** The head last read or noted; may be older than the registry's (seals only ever advance it). */
    cached: (series: SeriesRef): ReadingSeal | undefined => heads.get(seriesName(series)),
    /** Reads the head from the registry (skipping unreadable records) and caches it. */
    async refresh(series: SeriesRef): Promise<ReadingSeal | undefined> {
      const head = await latestSeal(registry, series, { strict: false });
      if (head) note(head);
      return head === undefined ? undefined : heads.get(seriesName(series));
    },
    /** Records a seal just appended. */
    note,
  };
}

export type SealIndex = ReturnType<typeof createSealIndex>;
