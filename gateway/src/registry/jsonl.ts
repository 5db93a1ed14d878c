/**
 * Embedded registry store for the no-server default run: append-only JSON-lines files in one
 * directory, read into in-memory indexes.
 *
 * Files (one JSON object per line, `{"v":1,"at":<epoch ms written>,"op":...,"value":...}`):
 * - `registry.jsonl`: `site`, `building`, `meter`, `principal` records (the whole entity; the
 *   last record of a key wins) and `principal.disable` (`{username, atMs}`). A `building` or
 *   `meter` record creates its missing site/building with defaults when replayed, so the
 *   defaults never overwrite a site another process wrote meanwhile.
 * - `dead-letters.jsonl`: `dead-letter` records, the whole `DeadLetter` with its id.
 * - `register-events.jsonl`: `register-event` records; the last of an identity wins.
 * - `records.jsonl`: `record` lines, the whole `StoredRecord` (append-only analysis results,
 *   adjustments, definitions) with its id.
 * - `finance.jsonl`: `finance` lines, one stored version of a finance entity each
 *   (`{entity, key, slot, version, recordedAtMs, source?, value}`, see finance.ts); held whole in
 *   memory. Versions are numbered in file order per key: should two processes write the same
 *   version of one key at once, both lines are kept and the later one is read as the next version.
 *
 * Every write is one `write(2)` of complete lines on an `O_APPEND` descriptor followed by
 * `fdatasync`, so concurrent writers (the gateway and a `wattproof device add` CLI process) never
 * interleave within a line and a resolved promise means the lines are on disk. Before each read
 * the store checks the file sizes and loads new complete lines written by other processes; an
 * incomplete last line is left for the next read (it may be mid-write). A line that cannot be
 * parsed (a torn write after a crash) is skipped with a warning; the next append starts on a new
 * line so it does not glue onto the fragment.
 *
 * Memory: sites, buildings, meters, principals and register events are held whole. Dead letters
 * are indexed by id, code, source, topic and file position only, the newest
 * `maxIndexedDeadLetters` (default 100,000, about 20 MB) of them; payloads are read from the file
 * when listed. Older dead letters stay in the file but are no longer listed or counted.
 * Records are not capped: every record is indexed by id, kind, key and file position (about
 * 200 bytes plus its key per record, so a million records take a few hundred MB) and its body is
 * read from the file when it is listed or fetched, one positioned read per record.
 * Dead-letter and record ids are `<epoch ms, 13 digits>-<counter, 6 digits>-<instance tag>`, from
 * one generator per instance that never goes below an id already in either file, so they sort by
 * arrival as strings and stay unique between processes.
 * The files are never compacted; do not edit them while a process uses the directory.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger, type DeadLetter, type FinanceStore, type Logger, type NewDeadLetter, type RegistryStore, type StoredRecord } from '@wattproof/core';
import { registryError } from './errors.js';
import { canonicalJson, createFinanceState, createStateFinanceStore, FINANCE_ENTITIES, type FinanceEntry } from './finance.js';
import {
  checkNewRecords,
  checkRecordQuery,
  clampLimit,
  createRegistryState,
  deadLetterMatches,
  DEFAULT_DEAD_LETTER_LIMIT,
  DEFAULT_RECORD_LIMIT,
  jsonClone,
  MAX_DEAD_LETTER_LIMIT,
  MAX_RECORD_LIMIT,
  normalise,
  recordMatches,
} from './memory.js';

/** File names inside the store's directory. */
export const JSONL_FILES = {
  registry: 'registry.jsonl',
  deadLetters: 'dead-letters.jsonl',
  registerEvents: 'register-events.jsonl',
  records: 'records.jsonl',
  finance: 'finance.jsonl',
} as const;

/** Record format version written; lines with a higher `v` stop the store (REGISTRY_CORRUPT). */
export const JSONL_FORMAT_VERSION = 1;

/** Dead letters kept in the in-memory index (newest by id). */
export const DEFAULT_MAX_INDEXED_DEAD_LETTERS = 100_000;

export interface JsonlRegistryStoreOptions {
  /** Directory of the files; created (with parents) by `init()`. */
  readonly dir: string;
  /** Receives warnings about skipped lines. Default: silent. */
  readonly logger?: Logger;
  /** Newest dead letters indexed for list/count. Default DEFAULT_MAX_INDEXED_DEAD_LETTERS. */
  readonly maxIndexedDeadLetters?: number;
  /** Clock (epoch ms) for line times and dead-letter and record ids. Default Date.now. */
  readonly now?: () => number;
}

interface LogFile {
  readonly name: string;
  readonly path: string;
  handle: FileHandle | undefined;
  /** Bytes consumed: the end of the last complete line read. */
  offset: number;
}

interface DeadLetterEntry {
  readonly id: string;
  readonly code: string;
  readonly source: DeadLetter['source'];
  readonly topic: string;
  readonly offset: number;
  readonly length: number;
}

/** Where a record's line is; the body is read from the file when needed. */
interface RecordEntry {
  readonly id: string;
  readonly kind: string;
  readonly key: string;
  readonly offset: number;
  readonly length: number;
}

interface LogRecord {
  readonly v: number;
  readonly at: number;
  readonly op: string;
  readonly value: unknown;
}

const READ_CHUNK_BYTES = 1 << 20;
const NEWLINE = 0x0a;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Minimal shape checks: a line that passes JSON.parse but not these is treated like a torn one. */
const VALID: Record<string, (v: Record<string, unknown>) => boolean> = {
  site: (v) => isStr(v.id) && isStr(v.timezone),
  building: (v) => isStr(v.site) && isStr(v.id),
  meter: (v) => isStr(v.site) && isStr(v.building) && isStr(v.meter),
  principal: (v) => isStr(v.username) && isStr(v.role) && isStr(v.secretHash) && isNum(v.createdAtMs),
  'principal.disable': (v) => isStr(v.username) && isNum(v.atMs),
  'dead-letter': (v) => isStr(v.id) && isStr(v.code) && isStr(v.source) && isStr(v.topic) && isStr(v.payload),
  'register-event': (v) => isStr(v.site) && isStr(v.building) && isStr(v.meter) && isStr(v.quantity) && isNum(v.ts) && isStr(v.type),
  record: (v) => isStr(v.id) && isStr(v.kind) && isStr(v.key) && isNum(v.recordedAtMs) && 'body' in v,
  finance: (v) => isStr(v.entity) && isStr(v.key) && isStr(v.slot) && isNum(v.version) && isNum(v.recordedAtMs) && isObj(v.value),
};

/** Index of the first entry whose id is not below `id` in an array sorted by id. */
function lowerBound(entries: readonly { readonly id: string }[], id: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid]!.id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts into an array sorted by id (usually at the end); false when the id is already there. */
function insertById<T extends { readonly id: string }>(entries: T[], entry: T): boolean {
  const last = entries[entries.length - 1];
  if (!last || last.id < entry.id) {
    entries.push(entry);
    return true;
  }
  const at = lowerBound(entries, entry.id);
  if (entries[at]?.id === entry.id) return false;
  entries.splice(at, 0, entry);
  return true;
}

/**
 * Creates the embedded JSON-lines registry store on `dir`. `init()` creates the directory; any
 * other call initialises the store first if needed.
 */
export function createJsonlRegistryStore(options: JsonlRegistryStoreOptions): RegistryStore & FinanceStore {
  const { dir } = options;
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const maxIndexed = Math.max(1, options.maxIndexedDeadLetters ?? DEFAULT_MAX_INDEXED_DEAD_LETTERS);

  const state = createRegistryState();
  let deadLetters: DeadLetterEntry[] = [];
  const files = {
    registry: { name: JSONL_FILES.registry, path: join(dir, JSONL_FILES.registry), handle: undefined, offset: 0 } as LogFile,
    deadLetters: { name: JSONL_FILES.deadLetters, path: join(dir, JSONL_FILES.deadLetters), handle: undefined, offset: 0 } as LogFile,
    registerEvents: { name: JSONL_FILES.registerEvents, path: join(dir, JSONL_FILES.registerEvents), handle: undefined, offset: 0 } as LogFile,
    records: { name: JSONL_FILES.records, path: join(dir, JSONL_FILES.records), handle: undefined, offset: 0 } as LogFile,
    finance: { name: JSONL_FILES.finance, path: join(dir, JSONL_FILES.finance), handle: undefined, offset: 0 } as LogFile,
  };
  const finance = createFinanceState();
  // Records: all of them by id, and per kind and per (kind, key), each sorted by id.
  let records: RecordEntry[] = [];
  let recordsByKind = new Map<string, RecordEntry[]>();
  let recordsByKindKey = new Map<string, RecordEntry[]>();
  let opened = false;
  let closed = false;

  // Ids: <epoch ms, 13 digits>-<counter within the ms, 6 digits>-<random tag of this instance>.
  // The tag keeps two processes apart when they write in the same millisecond.
  const instanceTag = randomBytes(5).toString('hex');
  let lastIdMs = 0;
  let idCounter = 0;
  const nextId = () => {
    const t = Math.max(now(), lastIdMs);
    if (t === lastIdMs) {
      idCounter += 1;
      if (idCounter > 999_999) {
        lastIdMs += 1;
        idCounter = 0;
      }
    } else {
      lastIdMs = t;
      idCounter = 0;
    }
    return `${String(lastIdMs).padStart(13, '0')}-${String(idCounter).padStart(6, '0')}-${instanceTag}`;
  };
  /** Ids of this directory keep increasing even if the clock stepped back since they were written. */
  const observeId = (id: string) => {
    const ms = Number(id.slice(0, 13));
    if (Number.isSafeInteger(ms) && ms > lastIdMs) {
      lastIdMs = ms;
      idCounter = 999_999;
    }
  };

  // One operation at a time per instance: reads move file offsets and indexes.
  let chain: Promise<unknown> = Promise.resolve();
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  }

  async function openFiles(): Promise<void> {
    try {
      await mkdir(dir, { recursive: true });
      for (const f of Object.values(files)) f.handle ??= await open(f.path, 'a+');
    } catch (cause) {
      await closeFiles();
      throw registryError('REGISTRY_UNAVAILABLE', `cannot open the registry files in ${dir}: ${(cause as Error).message}`, { cause, details: { dir } });
    }
    try {
      // The new directory entries must be durable too, or an fsync'd append could vanish with its file.
      const d = await open(dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (cause) {
      logger.warn({ dir, err: (cause as Error).message }, 'could not fsync the registry directory');
    }
    opened = true;
  }

  async function closeFiles(): Promise<void> {
    for (const f of Object.values(files)) {
      const h = f.handle;
      f.handle = undefined;
      if (h) await h.close().catch(() => undefined);
    }
  }

  async function ready(): Promise<void> {
    if (closed) throw registryError('REGISTRY_CLOSED', `the registry store in ${dir} is closed`);
    if (!opened) await openFiles();
  }

  function parseLine(file: LogFile, line: Buffer, offset: number): LogRecord | undefined {
    if (line.length === 0) return undefined;
    let rec: unknown;
    try {
      rec = JSON.parse(line.toString('utf8'));
    } catch {
      rec = undefined;
    }
    if (!isObj(rec) || !isNum(rec.v) || !isStr(rec.op)) {
      logger.warn({ file: file.path, offset, length: line.length }, 'skipping an unreadable registry line (torn write after a crash?)');
      return undefined;
    }
    if (rec.v > JSONL_FORMAT_VERSION || !(rec.op in VALID)) {
      throw registryError('REGISTRY_CORRUPT', `${file.path} holds a record this version cannot read (v ${rec.v}, op ${rec.op}) at byte ${offset}`, {
        details: { file: file.path, offset, v: rec.v, op: rec.op },
      });
    }
    if (!isObj(rec.value) || !VALID[rec.op]!(rec.value)) {
      logger.warn({ file: file.path, offset, op: rec.op }, 'skipping a registry record with missing fields');
      return undefined;
    }
    return rec as unknown as LogRecord;
  }

  /** Reads complete lines in [file.offset, end of file) and hands each to `apply`. */
  async function readNew(file: LogFile, apply: (rec: LogRecord, offset: number, length: number) => void): Promise<void> {
    const handle = file.handle;
    if (!handle) throw registryError('REGISTRY_CLOSED', `the registry store in ${dir} is closed`);
    let size: number;
    try {
      size = (await handle.stat()).size;
    } catch (cause) {
      throw registryError('REGISTRY_READ_FAILED', `cannot stat ${file.path}: ${(cause as Error).message}`, { cause });
    }
    if (size < file.offset) {
      // Truncated or rewritten behind our back: start over rather than read from a wrong offset.
      logger.warn({ file: file.path, size, offset: file.offset }, 'registry file shrank; reloading it');
      reset(file);
    }
    let pos = file.offset;
    let pending: Buffer = Buffer.alloc(0);
    let pendingStart = pos;
    const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    while (pos < size) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(chunk, 0, Math.min(READ_CHUNK_BYTES, size - pos), pos));
      } catch (cause) {
        throw registryError('REGISTRY_READ_FAILED', `cannot read ${file.path}: ${(cause as Error).message}`, { cause });
      }
      if (bytesRead === 0) break;
      const data = pending.length > 0 ? Buffer.concat([pending, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      pos += bytesRead;
      let lineStart = 0;
      for (let nl = data.indexOf(NEWLINE); nl !== -1; nl = data.indexOf(NEWLINE, lineStart)) {
        const lineOffset = pendingStart + lineStart;
        const rec = parseLine(file, data.subarray(lineStart, nl), lineOffset);
        if (rec) apply(rec, lineOffset, nl - lineStart);
        lineStart = nl + 1;
        // Only complete lines count as consumed; a trailing fragment is re-read next time.
        file.offset = pendingStart + lineStart;
      }
      pending = Buffer.from(data.subarray(lineStart));
      pendingStart += lineStart;
    }
  }

  function reset(file: LogFile): void {
    file.offset = 0;
    if (file === files.registry) {
      // Register events live in the same state object but come from their own file: keep them by replaying it too.
      state.clear();
      files.registerEvents.offset = 0;
    } else if (file === files.registerEvents) {
      state.clear();
      files.registry.offset = 0;
    } else if (file === files.records) {
      records = [];
      recordsByKind = new Map();
      recordsByKindKey = new Map();
    } else if (file === files.finance) {
      finance.clear();
    } else {
      deadLetters = [];
    }
  }

  function indexDeadLetter(value: Record<string, unknown>, offset: number, length: number): void {
    const entry: DeadLetterEntry = { id: value.id as string, code: value.code as string, source: value.source as DeadLetter['source'], topic: value.topic as string, offset, length };
    // Another process may have written in the same moment with a smaller id: insertById keeps the index sorted.
    if (!insertById(deadLetters, entry)) return;
    observeId(entry.id);
  }

  function indexRecord(value: Record<string, unknown>, offset: number, length: number): void {
    const entry: RecordEntry = { id: value.id as string, kind: value.kind as string, key: value.key as string, offset, length };
    if (!insertById(records, entry)) return;
    let byKind = recordsByKind.get(entry.kind);
    if (!byKind) recordsByKind.set(entry.kind, (byKind = []));
    insertById(byKind, entry);
    const kindKey = `${entry.kind}\u0000${entry.key}`;
    let byKey = recordsByKindKey.get(kindKey);
    if (!byKey) recordsByKindKey.set(kindKey, (byKey = []));
    insertById(byKey, entry);
    observeId(entry.id);
  }

  async function refreshRegistry(): Promise<void> {
    await readNew(files.registry, (rec) => {
      const v = rec.value as never;
      switch (rec.op) {
        case 'site':
          state.putSite(v);
          break;
        case 'building':
          state.putBuilding(v);
          break;
        case 'meter':
          state.putMeter(v);
          break;
        case 'principal':
          state.putPrincipal(v);
          break;
        case 'principal.disable': {
          const d = rec.value as { username: string; atMs: number };
          state.disablePrincipal(d.username, d.atMs);
          break;
        }
        default:
          logger.warn({ file: files.registry.path, op: rec.op }, 'skipping a record that belongs to another registry file');
      }
    });
  }

  async function refreshRegisterEvents(): Promise<void> {
    await readNew(files.registerEvents, (rec) => {
      if (rec.op === 'register-event') state.putRegisterEvent(rec.value as never);
    });
  }

  async function refreshDeadLetters(): Promise<void> {
    await readNew(files.deadLetters, (rec, offset, length) => {
      if (rec.op !== 'dead-letter') return;
      indexDeadLetter(rec.value as Record<string, unknown>, offset, length);
      // Trim while loading too, so a huge file never holds more than twice the bound in memory.
      if (deadLetters.length >= 2 * maxIndexed) deadLetters.splice(0, deadLetters.length - maxIndexed);
    });
    if (deadLetters.length > maxIndexed) deadLetters.splice(0, deadLetters.length - maxIndexed);
  }

  async function refreshRecords(): Promise<void> {
    await readNew(files.records, (rec, offset, length) => {
      if (rec.op === 'record') indexRecord(rec.value as Record<string, unknown>, offset, length);
    });
  }

  async function refreshFinance(): Promise<void> {
    await readNew(files.finance, (rec, offset) => {
      if (rec.op !== 'finance') return;
      const entry = rec.value as FinanceEntry;
      if (!(FINANCE_ENTITIES as readonly string[]).includes(entry.entity)) {
        throw registryError('REGISTRY_CORRUPT', `${files.finance.path} holds a finance entity this version cannot read (${entry.entity}) at byte ${offset}`, {
          details: { file: files.finance.path, offset, entity: entry.entity },
        });
      }
      const kept = finance.apply(entry);
      if (kept.version !== entry.version) {
        logger.warn({ file: files.finance.path, offset, key: entry.key, written: entry.version, read: kept.version }, 'two processes wrote the same finance version; reading the later one as the next version');
      }
    });
  }

  async function refreshAll(): Promise<void> {
    await refreshRegistry();
    await refreshRegisterEvents();
    await refreshDeadLetters();
    await refreshRecords();
    await refreshFinance();
  }

  const financeStore = createStateFinanceStore({
    read: (fn) =>
      exclusive(async () => {
        await ready();
        await refreshFinance();
        return fn(finance);
      }),
    write: (fn) =>
      exclusive(async () => {
        await ready();
        // Versions and the checks build on every line in the file, including other processes'.
        await refreshFinance();
        return fn(finance, async (entry) => {
          await append(files.finance, [{ op: 'finance', value: entry }]);
          const before = finance.rows(entry.entity, entry.key).length;
          await refreshQuietly(refreshFinance);
          const rows = finance.rows(entry.entity, entry.key);
          // Our line as read back (renumbered if another process wrote the same version meanwhile).
          const text = canonicalJson(entry.value);
          return rows.slice(before).find((r) => r.recordedAtMs === entry.recordedAtMs && r.slot === entry.slot && canonicalJson(r.value) === text) ?? entry;
        });
      }),
  });

  /** Appends complete lines with one write and fdatasync. */
  async function append(file: LogFile, records: readonly { op: string; value: unknown }[]): Promise<void> {
    const handle = file.handle;
    if (!handle) throw registryError('REGISTRY_CLOSED', `the registry store in ${dir} is closed`);
    const at = now();
    let text = '';
    for (const r of records) text += `${JSON.stringify({ v: JSONL_FORMAT_VERSION, at, op: r.op, value: r.value })}\n`;
    try {
      const { size } = await handle.stat();
      if (size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        // A torn last line (crash mid-write): start on a new line so ours stays readable.
        if (last[0] !== NEWLINE) text = `\n${text}`;
      }
      const buf = Buffer.from(text, 'utf8');
      // Not FileHandle.appendFile: it splits large buffers into several writes, which another
      // process's append could then land between.
      let written = 0;
      while (written < buf.length) {
        const { bytesWritten } = await handle.write(buf, written, buf.length - written, null);
        written += bytesWritten;
      }
      await handle.datasync();
    } catch (cause) {
      throw registryError('REGISTRY_WRITE_FAILED', `cannot append to ${file.path}: ${(cause as Error).message}`, { cause, details: { file: file.path } });
    }
  }

  /**
   * Reads new lines around a write without failing it: after our own append the data is durable,
   * and before one, a read problem must not stop dead letters from being stored.
   */
  async function refreshQuietly(refresh: () => Promise<void>): Promise<void> {
    try {
      await refresh();
    } catch (err) {
      logger.warn({ dir, err: (err as Error).message }, 're-reading a registry file around a write failed; the write itself is unaffected');
    }
  }

  async function readDeadLetter(entry: DeadLetterEntry): Promise<DeadLetter> {
    const handle = files.deadLetters.handle;
    if (!handle) throw registryError('REGISTRY_CLOSED', `the registry store in ${dir} is closed`);
    const buf = Buffer.allocUnsafe(entry.length);
    try {
      await handle.read(buf, 0, entry.length, entry.offset);
      return (JSON.parse(buf.toString('utf8')) as LogRecord).value as DeadLetter;
    } catch (cause) {
      throw registryError('REGISTRY_READ_FAILED', `cannot read dead letter ${entry.id} from ${files.deadLetters.path}`, { cause, details: { id: entry.id } });
    }
  }

  async function readRecord(entry: RecordEntry): Promise<StoredRecord> {
    const handle = files.records.handle;
    if (!handle) throw registryError('REGISTRY_CLOSED', `the registry store in ${dir} is closed`);
    const buf = Buffer.allocUnsafe(entry.length);
    let value: StoredRecord | undefined;
    try {
      const { bytesRead } = await handle.read(buf, 0, entry.length, entry.offset);
      value = (JSON.parse(buf.toString('utf8', 0, bytesRead)) as LogRecord).value as StoredRecord;
    } catch (cause) {
      throw registryError('REGISTRY_READ_FAILED', `cannot read record ${entry.id} from ${files.records.path}`, { cause, details: { id: entry.id } });
    }
    if (value?.id !== entry.id) {
      throw registryError('REGISTRY_READ_FAILED', `${files.records.path} changed under record ${entry.id} (rewritten while in use?)`, { details: { id: entry.id, offset: entry.offset } });
    }
    return { id: value.id, kind: value.kind, key: value.key, recordedAtMs: value.recordedAtMs, body: value.body };
  }

  return {
    ...financeStore,
    name: 'jsonl',
    init: () =>
      exclusive(async () => {
        await ready();
        await refreshAll();
      }),

    upsertSite: (site) =>
      exclusive(async () => {
        await ready();
        await append(files.registry, [{ op: 'site', value: normalise.site(site) }]);
        await refreshQuietly(refreshRegistry);
      }),
    upsertBuilding: (building) =>
      exclusive(async () => {
        await ready();
        await append(files.registry, [{ op: 'building', value: normalise.building(building) }]);
        await refreshQuietly(refreshRegistry);
      }),
    upsertMeter: (meter) =>
      exclusive(async () => {
        await ready();
        await append(files.registry, [{ op: 'meter', value: normalise.meter(meter) }]);
        await refreshQuietly(refreshRegistry);
      }),
    listSites: () =>
      exclusive(async () => {
        await ready();
        await refreshRegistry();
        return state.listSites();
      }),
    listBuildings: (site) =>
      exclusive(async () => {
        await ready();
        await refreshRegistry();
        return state.listBuildings(site);
      }),
    listMeters: (filter) =>
      exclusive(async () => {
        await ready();
        await refreshRegistry();
        return state.listMeters(filter);
      }),
    getMeter: (ref) =>
      exclusive(async () => {
        await ready();
        await refreshRegistry();
        return state.getMeter(ref);
      }),

    putPrincipal: (principal) =>
      exclusive(async () => {
        await ready();
        await append(files.registry, [{ op: 'principal', value: normalise.principal(principal) }]);
        await refreshQuietly(refreshRegistry);
      }),
    // A stat per lookup: a CLI process may have added, rotated or disabled the principal.
    getPrincipal: (username) =>
      exclusive(async () => {
        await ready();
        await refreshRegistry();
        return state.getPrincipal(username);
      }),
    listPrincipals: () =>
      exclusive(async () => {
        await ready();
        await refreshRegistry();
        return state.listPrincipals();
      }),
    disablePrincipal: (username, atMs) =>
      exclusive(async () => {
        await ready();
        await refreshRegistry();
        const p = state.getPrincipal(username);
        if (!p) return false;
        if (p.disabledAtMs !== undefined) return true;
        await append(files.registry, [{ op: 'principal.disable', value: { username, atMs } }]);
        await refreshQuietly(refreshRegistry);
        return true;
      }),

    addDeadLetters: (letters: readonly NewDeadLetter[]) =>
      exclusive(async () => {
        await ready();
        if (letters.length === 0) return [];
        // Ids seen in the file (other processes, earlier runs) bound ours from below.
        await refreshQuietly(refreshDeadLetters);
        const added = letters.map((l) => normalise.deadLetter(nextId(), l));
        await append(
          files.deadLetters,
          added.map((value) => ({ op: 'dead-letter', value })),
        );
        await refreshQuietly(refreshDeadLetters);
        return added.map(jsonClone);
      }),
    listDeadLetters: (q = {}) =>
      exclusive(async () => {
        await ready();
        await refreshDeadLetters();
        const limit = clampLimit(q.limit, DEFAULT_DEAD_LETTER_LIMIT, MAX_DEAD_LETTER_LIMIT);
        const i0 = q.before === undefined ? deadLetters.length : lowerBound(deadLetters, q.before);
        let i = i0 - 1;
        const picked: DeadLetterEntry[] = [];
        for (; i >= 0 && picked.length < limit; i--) {
          const e = deadLetters[i]!;
          if (deadLetterMatches(e, q)) picked.push(e);
        }
        const out: DeadLetter[] = [];
        for (const e of picked) out.push(await readDeadLetter(e));
        return out;
      }),
    countDeadLetters: (q = {}) =>
      exclusive(async () => {
        await ready();
        await refreshDeadLetters();
        let n = 0;
        for (const e of deadLetters) if (deadLetterMatches(e, q)) n += 1;
        return n;
      }),

    addRegisterEvents: (events) =>
      exclusive(async () => {
        await ready();
        if (events.length === 0) return;
        await append(
          files.registerEvents,
          events.map((e) => ({ op: 'register-event', value: normalise.registerEvent(e) })),
        );
        await refreshQuietly(refreshRegisterEvents);
      }),
    listRegisterEvents: (filter) =>
      exclusive(async () => {
        await ready();
        await refreshRegisterEvents();
        return state.listRegisterEvents(filter);
      }),

    appendRecords: (batch) =>
      exclusive(async () => {
        await ready();
        checkNewRecords(batch);
        if (batch.length === 0) return [];
        // Ids seen in the file (other processes, earlier runs) bound ours from below.
        await refreshQuietly(refreshRecords);
        const added = batch.map((r) => normalise.record(nextId(), r));
        await append(
          files.records,
          added.map((value) => ({ op: 'record', value })),
        );
        await refreshQuietly(refreshRecords);
        return added.map(jsonClone);
      }),
    listRecords: (q) =>
      exclusive(async () => {
        await ready();
        checkRecordQuery(q);
        await refreshRecords();
        const limit = clampLimit(q.limit, DEFAULT_RECORD_LIMIT, MAX_RECORD_LIMIT);
        // The narrowest list that holds every match: one key, else one kind.
        const candidates = (q.key !== undefined ? recordsByKindKey.get(`${q.kind}\u0000${q.key}`) : recordsByKind.get(q.kind)) ?? [];
        const picked: RecordEntry[] = [];
        for (let i = (q.before === undefined ? candidates.length : lowerBound(candidates, q.before)) - 1; i >= 0 && picked.length < limit; i--) {
          const e = candidates[i]!;
          if (recordMatches(e, q)) picked.push(e);
        }
        const out: StoredRecord[] = [];
        for (const e of picked) out.push(await readRecord(e));
        return out;
      }),
    getRecord: (id) =>
      exclusive(async () => {
        await ready();
        await refreshRecords();
        if (typeof id !== 'string') return undefined;
        const e = records[lowerBound(records, id)];
        return e?.id === id ? readRecord(e) : undefined;
      }),

    async ping() {
      if (closed) return false;
      try {
        await access(dir, fsConstants.R_OK | fsConstants.W_OK);
        return true;
      } catch {
        return false;
      }
    },
    close: () =>
      exclusive(async () => {
        closed = true;
        await closeFiles();
      }),
  };
}
