/**
 * Amendments: a reading the ingest writes into a local day that is already sealed is recorded as
 * a `reading-amendment` (docs/integrity.md), after the store confirmed the write and before the
 * message is acknowledged. The pipeline only hands over readings older than INGEST_SEAL_AFTER_S
 * (no day younger than that is ever sealed), so the usual message costs nothing here.
 */
import type { NewRecord, RegistryStore, StoredReading } from '@wattproof/core';
import { AMENDMENT_FORMAT, AMENDMENT_RECORD_KIND, localDayOf, seriesName, seriesRecordKey, type ReadingAmendment } from './records.js';
import type { SealIndex } from './seal-index.js';

/** A reading written after its day may have been sealed. */
export interface LateWrite {
  readonly reading: StoredReading;
  /** The value it replaced, when the dedupe cache knew it (a correction). */
  readonly previousValue?: number;
  readonly topic?: string;
  readonly clientId?: string;
  readonly receivedAtMs: number;
}

export interface AmendmentRecorderDeps {
  readonly registry: RegistryStore;
  readonly index: SealIndex;
  readonly clock: () => number;
}

export function createAmendmentRecorder(deps: AmendmentRecorderDeps) {
  return {
    /**
     * Appends one amendment for each write whose day is sealed, all in one registry append.
     * Call it after the readings are durable: a seal that raced with the write then either
     * contains the reading or is seen here (the chain head is read again unless the cached head
     * already covers every write). Safe to retry. Resolves to the number of amendments appended.
     */
    async record(writes: readonly LateWrite[]): Promise<number> {
      const bySeries = new Map<string, LateWrite[]>();
      for (const w of writes) {
        const key = seriesName(w.reading);
        const list = bySeries.get(key);
        if (list) list.push(w);
        else bySeries.set(key, [w]);
      }
      const perSeries = await Promise.all(
        [...bySeries.values()].map(async (list) => {
          const records: NewRecord[] = [];
          const series = list[0]!.reading;
          let head = deps.index.cached(series);
          if (!head || list.some((w) => w.reading.ts >= head!.throughMs)) head = await deps.index.refresh(series);
          if (!head) return records;
          for (const w of list) {
            const r = w.reading;
            if (r.ts >= head.throughMs) continue;
            const body: ReadingAmendment = {
              format: AMENDMENT_FORMAT,
              series: { site: r.site, building: r.building, meter: r.meter, quantity: r.quantity, kind: r.kind },
              unit: r.unit,
              ts: r.ts,
              value: r.value,
              ...(r.intervalS !== undefined ? { intervalS: r.intervalS } : {}),
              ...(w.previousValue !== undefined ? { previousValue: w.previousValue } : {}),
              reason: w.previousValue !== undefined ? 'correction' : 'late',
              day: localDayOf(r.ts, head.timeZone).day,
              timeZone: head.timeZone,
              source: 'ingest',
              ...(w.topic !== undefined ? { topic: w.topic } : {}),
              ...(w.clientId !== undefined ? { clientId: w.clientId } : {}),
              receivedAtMs: w.receivedAtMs,
            };
            records.push({ kind: AMENDMENT_RECORD_KIND, key: seriesRecordKey(r), recordedAtMs: deps.clock(), body });
          }
          return records;
        }),
      );
      const records = perSeries.flat();
      if (records.length) await deps.registry.appendRecords(records);
      return records.length;
    },
  };
}

export type AmendmentRecorder = ReturnType<typeof createAmendmentRecorder>;
