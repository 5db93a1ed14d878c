/**
 * Registry store on PostgreSQL (`pg` Pool). `init()` applies the versioned migrations of
 * migrations.ts in one transaction under a transaction-level advisory lock, so several processes
 * may start against the same database at once. Every statement is parameterised.
 *
 * Dead-letter and record ids are the `bigserial` zero-padded to 16 digits, so they sort by
 * arrival as strings too; `before` must be such an id. (Ids are taken when a write starts, so a
 * write that commits after a later one shows up behind it: a reader paging at that moment may
 * not see it on the page it belongs to.)
 *
 * Record bodies are `jsonb`: numbers are kept as `numeric` with every digit, so a JS number comes
 * back as the same double; object keys come back in jsonb's order (deep-equal, not the same
 * text). U+0000 and unpaired surrogates cannot be stored, so every adapter refuses them.
 */
import pg from 'pg';
import {
  silentLogger,
  type Building,
  type DeadLetter,
  type DeadLetterQuery,
  type FinanceStore,
  type Logger,
  type Meter,
  type MeterRef,
  type NewDeadLetter,
  type NewRecord,
  type Principal,
  type RecordQuery,
  type RegisterEvent,
  type RegistryStore,
  type Site,
  type StoredRecord,
} from '@wattproof/core';
import { registryError } from './errors.js';
import {
  checkNewRecords,
  checkRecordQuery,
  clampLimit,
  compact,
  DEAD_LETTER_SEQUENCE_DIGITS,
  DEFAULT_DEAD_LETTER_LIMIT,
  DEFAULT_SITE_TIMEZONE,
  MAX_DEAD_LETTER_LIMIT,
  DEFAULT_REGISTER_EVENT_LIMIT,
  MAX_REGISTER_EVENT_LIMIT,
  DEFAULT_RECORD_LIMIT,
  MAX_RECORD_LIMIT,
  normalise,
  registerEventKey,
} from './memory.js';
import { REGISTRY_MIGRATIONS } from './migrations.js';
import { createPostgresFinanceStore } from './finance-postgres.js';

/** Connections in the pool. */
export const DEFAULT_POSTGRES_POOL_SIZE = 5;
/** Time to wait for a connection before REGISTRY_UNAVAILABLE, in ms. */
export const DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS = 10_000;
/** Server-side limit of one statement, in ms. */
export const DEFAULT_POSTGRES_STATEMENT_TIMEOUT_MS = 30_000;
/** Key of the advisory lock that serialises migrations ('wattproo' in ASCII). */
export const MIGRATION_LOCK_KEY = 0x77617474_70726f6fn;

export interface PostgresRegistryStoreOptions {
  /** `postgresql://user:password@host:5432/db`. */
  readonly connectionString: string;
  /** Default DEFAULT_POSTGRES_POOL_SIZE. */
  readonly poolSize?: number;
  /** Default DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS. */
  readonly connectTimeoutMs?: number;
  /** Default DEFAULT_POSTGRES_STATEMENT_TIMEOUT_MS. */
  readonly statementTimeoutMs?: number;
  /** Receives pool errors (a dropped idle connection). Default: silent. */
  readonly logger?: Logger;
}

const CURSOR_PATTERN = /^\d{1,19}$/;
/** Largest bigserial value: ids above it are not ids of this store. */
const MAX_BIGINT = 9_223_372_036_854_775_807n;
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** True when the failure is about reaching the server rather than the statement. */
function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    // 08: connection exception; 57P0x: shutdown/cannot connect now; 53300: too many connections; 28: auth; 3D000: no such database.
    if (code.startsWith('08') || code.startsWith('57P') || code === '53300' || code.startsWith('28') || code === '3D000') return true;
    if (UNAVAILABLE_NODE_CODES.has(code)) return true;
  }
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED|Client has encountered a connection error/i.test(message);
}

/** 22: data exception (e.g. NUL in text); 23: integrity constraint. */
function isInvalidInput(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const str = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
const formatId = (id: unknown) => String(id).padStart(DEAD_LETTER_SEQUENCE_DIGITS, '0');

type Row = Record<string, unknown>;

const toSite = (r: Row): Site => compact({ id: String(r.id), name: str(r.name), timezone: String(r.timezone), latitude: num(r.latitude), longitude: num(r.longitude) });
const toBuilding = (r: Row): Building => compact({ site: String(r.site), id: String(r.id), name: str(r.name), type: str(r.type), floorAreaM2: num(r.floor_area_m2) });
const toMeter = (r: Row): Meter =>
  compact({
    site: String(r.site),
    building: String(r.building),
    meter: String(r.id),
    name: str(r.name),
    quantity: str(r.quantity) as Meter['quantity'],
    endUse: str(r.end_use),
    parent: str(r.parent),
  });
const toPrincipal = (r: Row): Principal =>
  compact({
    username: String(r.username),
    role: String(r.role) as Principal['role'],
    meter: r.meter_site === null ? undefined : { site: String(r.meter_site), building: String(r.meter_building), meter: String(r.meter_id) },
    site: str(r.site),
    secretHash: String(r.secret_hash),
    createdAtMs: Number(r.created_at_ms),
    disabledAtMs: num(r.disabled_at_ms),
  });
const toDeadLetter = (r: Row): DeadLetter =>
  compact({
    id: formatId(r.id),
    receivedAtMs: Number(r.received_at_ms),
    source: String(r.source) as DeadLetter['source'],
    topic: String(r.topic),
    clientId: str(r.client_id),
    username: str(r.username),
    code: String(r.code),
    reason: String(r.reason),
    details: r.details === null ? undefined : r.details,
    payload: String(r.payload),
    payloadEncoding: String(r.payload_encoding) as DeadLetter['payloadEncoding'],
    payloadBytes: Number(r.payload_bytes),
    truncated: Boolean(r.truncated),
  });
const toRegisterEvent = (r: Row): RegisterEvent =>
  compact({
    site: String(r.site),
    building: String(r.building),
    meter: String(r.meter),
    quantity: String(r.quantity) as RegisterEvent['quantity'],
    ts: Number(r.ts),
    type: String(r.type) as RegisterEvent['type'],
    previousValue: Number(r.previous_value),
    value: Number(r.value),
    detectedAtMs: Number(r.detected_at_ms),
    note: str(r.note),
  });

const toRecord = (r: Row): StoredRecord => ({
  id: formatId(r.id),
  kind: String(r.kind),
  key: String(r.key),
  recordedAtMs: Number(r.recorded_at_ms),
  // pg parses jsonb with JSON.parse, so numbers come back as the doubles that were written.
  body: r.body,
});

const RECORD_COLUMNS = 'id, kind, key, recorded_at_ms, body';

const DEAD_LETTER_COLUMNS = 'id, received_at_ms, source, topic, client_id, username, code, reason, details, payload, payload_encoding, payload_bytes, truncated';

/** Creates a site with defaults unless it exists (for upsertBuilding/upsertMeter). */
const ENSURE_SITE_SQL = `INSERT INTO sites (id, timezone) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`;

/**
 * Creates a registry store on PostgreSQL. The pool connects lazily; call `init()` before use to
 * apply migrations.
 */
export function createPostgresRegistryStore(options: PostgresRegistryStoreOptions): RegistryStore & FinanceStore {
  const logger = options.logger ?? silentLogger;
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? DEFAULT_POSTGRES_POOL_SIZE,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS,
    statement_timeout: options.statementTimeoutMs ?? DEFAULT_POSTGRES_STATEMENT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    application_name: 'wattproof-registry',
  });
  // Without a listener a dropped idle connection would crash the process.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'PostgreSQL registry connection lost'));
  let closed = false;

  function fail(kind: 'read' | 'write', what: string, err: unknown): Error {
    if (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' && String((err as { code: string }).code).startsWith('REGISTRY_')) {
      return err as Error;
    }
    if (closed) return registryError('REGISTRY_CLOSED', 'the PostgreSQL registry store is closed', { cause: err });
    const message = err instanceof Error ? err.message : String(err);
    if (isUnavailable(err)) return registryError('REGISTRY_UNAVAILABLE', `PostgreSQL registry unreachable while trying to ${what}: ${message}`, { cause: err });
    if (isInvalidInput(err)) return registryError('REGISTRY_INPUT_INVALID', `PostgreSQL refused to ${what}: ${message}`, { cause: err });
    return registryError(kind === 'write' ? 'REGISTRY_WRITE_FAILED' : 'REGISTRY_READ_FAILED', `could not ${what}: ${message}`, { cause: err });
  }

  async function run<T>(kind: 'read' | 'write', what: string, fn: () => Promise<T>): Promise<T> {
    if (closed) throw registryError('REGISTRY_CLOSED', 'the PostgreSQL registry store is closed');
    try {
      return await fn();
    } catch (err) {
      throw fail(kind, what, err);
    }
  }

  const query = (sql: string, params: unknown[] = []) => pool.query(sql, params);

  async function migrate(): Promise<void> {
    const client = await pool.connect();
    let version = 0;
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY.toString()]);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      const known = REGISTRY_MIGRATIONS.map((m) => m.version);
      const unknown = [...applied].filter((v) => !known.includes(v));
      if (unknown.length > 0) {
        throw registryError('REGISTRY_SCHEMA_TOO_NEW', `the registry database has migrations ${unknown.join(', ')} that this version does not know`, {
          details: { applied: [...applied].sort((a, b) => a - b), known },
        });
      }
      for (const m of REGISTRY_MIGRATIONS) {
        if (applied.has(m.version)) continue;
        version = m.version;
        try {
          await client.query(m.sql);
        } catch (cause) {
          if (isUnavailable(cause)) throw cause;
          throw registryError('REGISTRY_MIGRATION_FAILED', `registry migration ${m.version} (${m.name}) failed: ${(cause as Error).message}`, { cause, details: { version: m.version } });
        }
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    if (version > 0) logger.info({ version }, 'registry migrations applied');
  }

  async function transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  function deadLetterWhere(q: DeadLetterQuery, params: unknown[]): string {
    const where: string[] = [];
    if (q.before !== undefined) {
      params.push(cursorOf(q.before, 'dead-letter'));
      where.push(`id < $${params.length}::bigint`);
    }
    if (q.code !== undefined) {
      params.push(q.code);
      where.push(`code = $${params.length}`);
    }
    if (q.source !== undefined) {
      params.push(q.source);
      where.push(`source = $${params.length}`);
    }
    if (q.topicPrefix !== undefined) {
      params.push(q.topicPrefix);
      where.push(`starts_with(topic, $${params.length})`);
    }
    return where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
  }

  function cursorOf(before: string, what: string): string {
    if (!CURSOR_PATTERN.test(before)) {
      throw registryError('REGISTRY_INPUT_INVALID', `${what} cursor ${JSON.stringify(before)} is not an id of this store`, { details: { before } });
    }
    return before;
  }

  return {
    ...createPostgresFinanceStore({ run, query, transaction }),
    name: 'postgres',
    init: () => run('write', 'apply registry migrations', migrate),

    upsertSite: (site) =>
      run('write', `upsert site ${site.id}`, async () => {
        await query(
          `INSERT INTO sites (id, name, timezone, latitude, longitude) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, timezone = EXCLUDED.timezone,
             latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude, updated_at = now()`,
          [site.id, site.name ?? null, site.timezone, site.latitude ?? null, site.longitude ?? null],
        );
      }),
    upsertBuilding: (b) =>
      run('write', `upsert building ${b.site}/${b.id}`, async () => {
        await transaction(async (c) => {
          await c.query(ENSURE_SITE_SQL, [b.site, DEFAULT_SITE_TIMEZONE]);
          await c.query(
            `INSERT INTO buildings (site, id, name, type, floor_area_m2) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (site, id) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type,
               floor_area_m2 = EXCLUDED.floor_area_m2, updated_at = now()`,
            [b.site, b.id, b.name ?? null, b.type ?? null, b.floorAreaM2 ?? null],
          );
        });
      }),
    upsertMeter: (m) =>
      run('write', `upsert meter ${m.site}/${m.building}/${m.meter}`, async () => {
        await transaction(async (c) => {
          await c.query(ENSURE_SITE_SQL, [m.site, DEFAULT_SITE_TIMEZONE]);
          await c.query('INSERT INTO buildings (site, id) VALUES ($1, $2) ON CONFLICT (site, id) DO NOTHING', [m.site, m.building]);
          await c.query(
            `INSERT INTO meters (site, building, id, name, quantity, end_use, parent) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (site, building, id) DO UPDATE SET name = EXCLUDED.name, quantity = EXCLUDED.quantity,
               end_use = EXCLUDED.end_use, parent = EXCLUDED.parent, updated_at = now()`,
            [m.site, m.building, m.meter, m.name ?? null, m.quantity ?? null, m.endUse ?? null, m.parent ?? null],
          );
        });
      }),
    listSites: () => run('read', 'list sites', async () => (await query('SELECT * FROM sites ORDER BY id')).rows.map(toSite)),
    listBuildings: (site) =>
      run('read', 'list buildings', async () => {
        const res = site === undefined ? await query('SELECT * FROM buildings ORDER BY site, id') : await query('SELECT * FROM buildings WHERE site = $1 ORDER BY id', [site]);
        return res.rows.map(toBuilding);
      }),
    listMeters: (filter = {}) =>
      run('read', 'list meters', async () => {
        const params: unknown[] = [];
        const where: string[] = [];
        if (filter.site !== undefined) {
          params.push(filter.site);
          where.push(`site = $${params.length}`);
        }
        if (filter.building !== undefined) {
          params.push(filter.building);
          where.push(`building = $${params.length}`);
        }
        const sql = `SELECT * FROM meters ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY site, building, id`;
        return (await query(sql, params)).rows.map(toMeter);
      }),
    getMeter: (ref: MeterRef) =>
      run('read', 'get meter', async () => {
        const res = await query('SELECT * FROM meters WHERE site = $1 AND building = $2 AND id = $3', [ref.site, ref.building, ref.meter]);
        return res.rows[0] ? toMeter(res.rows[0]) : undefined;
      }),

    putPrincipal: (p) =>
      run('write', `put principal ${p.username}`, async () => {
        await query(
          `INSERT INTO principals (username, role, meter_site, meter_building, meter_id, site, secret_hash, created_at_ms, disabled_at_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (username) DO UPDATE SET role = EXCLUDED.role, meter_site = EXCLUDED.meter_site,
             meter_building = EXCLUDED.meter_building, meter_id = EXCLUDED.meter_id, site = EXCLUDED.site, secret_hash = EXCLUDED.secret_hash,
             created_at_ms = EXCLUDED.created_at_ms, disabled_at_ms = EXCLUDED.disabled_at_ms, updated_at = now()`,
          [p.username, p.role, p.meter?.site ?? null, p.meter?.building ?? null, p.meter?.meter ?? null, p.site ?? null, p.secretHash, p.createdAtMs, p.disabledAtMs ?? null],
        );
      }),
    getPrincipal: (username) =>
      run('read', 'get principal', async () => {
        const res = await query('SELECT * FROM principals WHERE username = $1', [username]);
        return res.rows[0] ? toPrincipal(res.rows[0]) : undefined;
      }),
    listPrincipals: () => run('read', 'list principals', async () => (await query('SELECT * FROM principals ORDER BY username')).rows.map(toPrincipal)),
    disablePrincipal: (username, atMs) =>
      run('write', `disable principal ${username}`, async () => {
        // Disabling twice keeps the first time.
        const res = await query('UPDATE principals SET disabled_at_ms = COALESCE(disabled_at_ms, $2), updated_at = now() WHERE username = $1', [username, atMs]);
        return (res.rowCount ?? 0) > 0;
      }),

    addDeadLetters: (letters: readonly NewDeadLetter[]) =>
      run('write', `store ${letters.length} dead letters`, async () => {
        if (letters.length === 0) return [];
        // Ids are taken first so the returned letters match the rows whatever order RETURNING yields.
        const idRows = await query(`SELECT nextval(pg_get_serial_sequence('dead_letters', 'id'))::text AS id FROM generate_series(1, $1)`, [letters.length]);
        const ids = idRows.rows.map((r) => BigInt(r.id as string)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const cols: unknown[][] = Array.from({ length: 13 }, () => []);
        letters.forEach((l, i) => {
          const values = [
            ids[i]!.toString(),
            l.receivedAtMs,
            l.source,
            l.topic,
            l.clientId ?? null,
            l.username ?? null,
            l.code,
            l.reason,
            l.details === undefined ? null : JSON.stringify(l.details),
            l.payload,
            l.payloadEncoding,
            l.payloadBytes,
            l.truncated,
          ];
          values.forEach((v, c) => cols[c]!.push(v));
        });
        await query(
          `INSERT INTO dead_letters (${DEAD_LETTER_COLUMNS})
           SELECT id, received_at_ms, source, topic, client_id, username, code, reason, details::jsonb, payload, payload_encoding, payload_bytes, truncated
           FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::integer[], $13::boolean[])
             AS t(id, received_at_ms, source, topic, client_id, username, code, reason, details, payload, payload_encoding, payload_bytes, truncated)`,
          cols,
        );
        return letters.map((l, i) => normalise.deadLetter(formatId(ids[i]), l));
      }),
    listDeadLetters: (q = {}) =>
      run('read', 'list dead letters', async () => {
        const params: unknown[] = [];
        const where = deadLetterWhere(q, params);
        params.push(clampLimit(q.limit, DEFAULT_DEAD_LETTER_LIMIT, MAX_DEAD_LETTER_LIMIT));
        const res = await query(`SELECT ${DEAD_LETTER_COLUMNS} FROM dead_letters ${where} ORDER BY id DESC LIMIT $${params.length}`, params);
        return res.rows.map(toDeadLetter);
      }),
    countDeadLetters: (q = {}) =>
      run('read', 'count dead letters', async () => {
        const params: unknown[] = [];
        const where = deadLetterWhere({ code: q.code, source: q.source, topicPrefix: q.topicPrefix }, params);
        const res = await query(`SELECT count(*)::bigint AS n FROM dead_letters ${where}`, params);
        return Number(res.rows[0]?.n ?? 0);
      }),

    addRegisterEvents: (events) =>
      run('write', `store ${events.length} register events`, async () => {
        // One INSERT cannot update the same row twice: keep the last of each identity, in its position.
        const unique = new Map<string, RegisterEvent>();
        for (const e of events) {
          const key = registerEventKey(e);
          unique.delete(key);
          unique.set(key, e);
        }
        if (unique.size === 0) return;
        const cols: unknown[][] = Array.from({ length: 10 }, () => []);
        for (const e of unique.values()) {
          [e.site, e.building, e.meter, e.quantity, e.ts, e.type, e.previousValue, e.value, e.detectedAtMs, e.note ?? null].forEach((v, c) => cols[c]!.push(v));
        }
        await query(
          `INSERT INTO register_events (site, building, meter, quantity, ts, type, previous_value, value, detected_at_ms, note)
           SELECT site, building, meter, quantity, ts, type, previous_value, value, detected_at_ms, note
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::float8[], $8::float8[], $9::bigint[], $10::text[])
             WITH ORDINALITY AS t(site, building, meter, quantity, ts, type, previous_value, value, detected_at_ms, note, ord)
           ORDER BY ord
           ON CONFLICT (site, building, meter, quantity, ts, type) DO UPDATE SET previous_value = EXCLUDED.previous_value,
             value = EXCLUDED.value, detected_at_ms = EXCLUDED.detected_at_ms, note = EXCLUDED.note, seq = EXCLUDED.seq`,
          cols,
        );
      }),
    listRegisterEvents: (filter = {}) =>
      run('read', 'list register events', async () => {
        const params: unknown[] = [];
        const where: string[] = [];
        for (const key of ['site', 'building', 'meter'] as const) {
          const v = filter[key];
          if (v === undefined) continue;
          params.push(v);
          where.push(`${key} = $${params.length}`);
        }
        params.push(clampLimit(filter.limit, DEFAULT_REGISTER_EVENT_LIMIT, MAX_REGISTER_EVENT_LIMIT));
        const sql = `SELECT * FROM register_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ts DESC, seq DESC LIMIT $${params.length}`;
        return (await query(sql, params)).rows.map(toRegisterEvent);
      }),

    appendRecords: (batch: readonly NewRecord[]) =>
      run('write', `store ${batch.length} records`, async () => {
        checkNewRecords(batch);
        if (batch.length === 0) return [];
        // Ids are taken first so the returned records match the rows whatever order RETURNING yields.
        const idRows = await query(`SELECT nextval(pg_get_serial_sequence('records', 'id'))::text AS id FROM generate_series(1, $1)`, [batch.length]);
        const ids = idRows.rows.map((r) => BigInt(r.id as string)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const added = batch.map((r, i) => normalise.record(formatId(ids[i]), r));
        await query(
          `INSERT INTO records (${RECORD_COLUMNS})
           SELECT id, kind, key, recorded_at_ms, body::jsonb
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[]) AS t(id, kind, key, recorded_at_ms, body)`,
          [
            ids.map(String),
            added.map((r) => r.kind),
            added.map((r) => r.key),
            added.map((r) => r.recordedAtMs),
            added.map((r) => JSON.stringify(r.body)),
          ],
        );
        return added;
      }),
    listRecords: (q: RecordQuery) =>
      run('read', 'list records', async () => {
        checkRecordQuery(q);
        const params: unknown[] = [q.kind];
        const where = ['kind = $1'];
        if (q.key !== undefined) {
          params.push(q.key);
          where.push(`key = $${params.length}`);
        }
        if (q.keyPrefix !== undefined && q.keyPrefix !== '') {
          params.push(q.keyPrefix);
          where.push(`starts_with(key, $${params.length})`);
        }
        if (q.before !== undefined) {
          params.push(cursorOf(q.before, 'record'));
          where.push(`id < $${params.length}::bigint`);
        }
        params.push(clampLimit(q.limit, DEFAULT_RECORD_LIMIT, MAX_RECORD_LIMIT));
        const res = await query(`SELECT ${RECORD_COLUMNS} FROM records WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.length}`, params);
        return res.rows.map(toRecord);
      }),
    getRecord: (id: string) =>
      run('read', 'get record', async () => {
        // Anything but a bigserial value is no id of this store.
        if (typeof id !== 'string' || !CURSOR_PATTERN.test(id) || BigInt(id) > MAX_BIGINT) return undefined;
        const res = await query(`SELECT ${RECORD_COLUMNS} FROM records WHERE id = $1::bigint`, [id]);
        return res.rows[0] ? toRecord(res.rows[0]) : undefined;
      }),

    async ping() {
      if (closed) return false;
      try {
        await pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
