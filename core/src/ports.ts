/**
 * Storage ports. Each adapter (memory, DuckDB, InfluxDB; JSONL, PostgreSQL) passes the one
 * contract suite of its port under test/contract/.
 */
import type { Building, DeadLetter, Meter, MeterRef, NewDeadLetter, NewRecord, Principal, RegisterEvent, Site, StoredReading, StoredRecord } from './domain.js';
import type { Quantity, ReadingKind, Unit } from './contract/units.js';

/** Aggregation buckets. `1d` and `1mo` are local days and months in the query's time zone. */
export const BUCKETS = ['15m', '1h', '1d', '1mo'] as const;
export type Bucket = (typeof BUCKETS)[number];

export interface SeriesRef extends MeterRef {
  readonly quantity: Quantity;
  readonly kind: ReadingKind;
}

export interface SeriesInfo extends SeriesRef {
  readonly unit: Unit;
}

export interface ReadingQuery extends MeterRef {
  readonly quantity?: Quantity;
  readonly kind?: ReadingKind;
  /** Inclusive start, epoch ms. */
  readonly from: number;
  /** Exclusive end, epoch ms. */
  readonly to: number;
  /** At most this many rows (earliest first). */
  readonly limit?: number;
}

export interface AggregateQuery extends SeriesRef {
  readonly from: number;
  readonly to: number;
  readonly bucket: Bucket;
  /** IANA time zone for local buckets; the adapters must honour DST. */
  readonly tz: string;
}

/**
 * One bucket of an aggregate. A reading falls in the bucket of its `ts` (interval start).
 * For `interval` series: `sum` of values, `coveredS` = Σ intervalS, `coverage` = coveredS / bucket length.
 * For `instant` series: `mean`/`min`/`max`; `sum` is the plain sum; `coveredS`/`coverage` are null.
 * Buckets without readings are not returned.
 */
export interface AggregateRow {
  readonly start: number;
  readonly end: number;
  readonly count: number;
  readonly sum: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  readonly coveredS: number | null;
  readonly coverage: number | null;
}

/** Where readings live. Writes are idempotent: the key is (site, building, meter, quantity, kind, ts); the last write wins. */
export interface ReadingStore {
  /** Human name of the adapter, for logs and /health. */
  readonly name: string;
  /** Creates database/tables if missing. Idempotent. */
  init(): Promise<void>;
  /** Writes a batch durably; resolves only when the store confirmed it. Rejects with retriable errors when the store is unreachable. */
  write(readings: readonly StoredReading[]): Promise<void>;
  /** Raw readings of one meter in [from, to), earliest first. */
  query(q: ReadingQuery): Promise<StoredReading[]>;
  /** Aggregated readings of one series in [from, to). */
  aggregate(q: AggregateQuery): Promise<AggregateRow[]>;
  /** Latest reading of every series (optionally of one site/building/meter). */
  latest(filter?: Partial<MeterRef>): Promise<StoredReading[]>;
  /** Every series that has readings. */
  listSeries(filter?: Partial<MeterRef>): Promise<SeriesInfo[]>;
  /** Reachability check for /health. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export interface DeadLetterQuery {
  /** Newest first; at most this many (default 100, max 1000). */
  readonly limit?: number;
  /** Only ids older than this one (cursor from the previous page). */
  readonly before?: string;
  readonly code?: string;
  readonly source?: DeadLetter['source'];
  /** Only for this topic prefix, e.g. `wattproof/v1/site-a/`. */
  readonly topicPrefix?: string;
}

/** Selects records of one kind, newest (largest id) first. */
export interface RecordQuery {
  /** Required: RECORD_KIND_PATTERN. */
  readonly kind: string;
  /** Only this exact key. */
  readonly key?: string;
  /** Only keys starting with this (plain characters, no wildcards), e.g. `site/building/`. */
  readonly keyPrefix?: string;
  /** At most this many (default 100, max 1000; larger values are clamped). */
  readonly limit?: number;
  /** Only ids older than this one (cursor: the last id of the previous page). */
  readonly before?: string;
}

/** Sites, buildings, meters, principals with hashed credentials, dead letters, register events, append-only records. */
export interface RegistryStore {
  readonly name: string;
  /** Applies versioned migrations. Idempotent. */
  init(): Promise<void>;

  upsertSite(site: Site): Promise<void>;
  upsertBuilding(building: Building): Promise<void>;
  /** Upserts a meter, creating its site and building with defaults if they do not exist. */
  upsertMeter(meter: Meter): Promise<void>;
  listSites(): Promise<Site[]>;
  listBuildings(site?: string): Promise<Building[]>;
  listMeters(filter?: { site?: string; building?: string }): Promise<Meter[]>;
  getMeter(ref: MeterRef): Promise<Meter | undefined>;

  /** Creates or replaces (rotates) a principal. */
  putPrincipal(principal: Principal): Promise<void>;
  getPrincipal(username: string): Promise<Principal | undefined>;
  listPrincipals(): Promise<Principal[]>;
  /** Disables a principal; it can no longer connect. */
  disablePrincipal(username: string, atMs: number): Promise<boolean>;

  /** Appends dead letters; returns them with ids assigned (ids sort by arrival). */
  addDeadLetters(letters: readonly NewDeadLetter[]): Promise<DeadLetter[]>;
  listDeadLetters(q?: DeadLetterQuery): Promise<DeadLetter[]>;
  countDeadLetters(q?: Omit<DeadLetterQuery, 'limit' | 'before'>): Promise<number>;

  addRegisterEvents(events: readonly RegisterEvent[]): Promise<void>;
  listRegisterEvents(filter?: Partial<MeterRef> & { limit?: number }): Promise<RegisterEvent[]>;

  /**
   * Appends records durably, all or none; returns them with ids assigned (increasing within the
   * batch) and bodies as they will be read back. Rejects with REGISTRY_INPUT_INVALID, storing
   * nothing, when a kind, key, recordedAtMs or body is invalid (see StoredRecord).
   */
  appendRecords(records: readonly NewRecord[]): Promise<StoredRecord[]>;
  /** Records of one kind, newest first (by id, i.e. arrival, not recordedAtMs). */
  listRecords(q: RecordQuery): Promise<StoredRecord[]>;
  /** The record with this id; undefined when there is none (including ids this store never makes). */
  getRecord(id: string): Promise<StoredRecord | undefined>;

  ping(): Promise<boolean>;
  close(): Promise<void>;
}
