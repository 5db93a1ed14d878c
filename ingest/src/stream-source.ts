/**
 * The ingest as one of several workers on the readings streams (INGEST_STREAM_REDIS_URL,
 * docs/SCALING.md), in place of the MQTT subscription (mqtt-consumer.ts).
 *
 * The gateways append every accepted readings PUBLISH to the stream of its meter's shard
 * (`wattproof:readings:<n>`). The workers lease the shards among themselves (shard-leases.ts) and
 * read the shards they own with one consumer group, `wattproof-ingest` (consumer = worker id):
 *
 * - On taking a shard the worker first drops the register history it may hold for the shard's
 *   meters (another worker may have written their readings since: it is reloaded from the store),
 *   then claims every entry still pending in the group — delivered to a previous owner that died
 *   or lost its lease before acknowledging (XAUTOCLAIM from 0) — and processes those before any
 *   new entry, so a meter's messages keep their order.
 * - Then it reads new entries (XREADGROUP `>`), one blocking read over all the shards it owns.
 * - Every entry goes through the same `accept()` as an MQTT message; it is acknowledged (XACK)
 *   only once `accept()` resolved, i.e. its readings are in the reading store or it is in the dead
 *   letters; acknowledgements go out in the order of each shard. An entry whose worker died before
 *   that is claimed and processed again by the next owner; the writes are idempotent (same point
 *   key), so it is stored once.
 * - At most INGEST_MAX_PENDING_MESSAGES entries and INGEST_MAX_PENDING_BYTES of payload are in
 *   flight (read, not yet durable); at a bound the worker stops reading and the entries wait in
 *   Redis. Entries are read in batches sized from the average payload seen so far (one entry
 *   before any was seen), so a read takes at most one entry per shard past the byte bound.
 * - The owner trims its shards below what every consumer group has acknowledged (XTRIM MINID
 *   below the oldest pending entry and the last delivered one), never an unacknowledged entry.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { Counter, Gauge, Registry } from 'prom-client';
import { READINGS_STREAM_FIELDS as F, READINGS_STREAM_GROUP, READINGS_STREAM_META_KEY, readingsShardOf, readingsStreamKey, silentLogger, type Logger } from '@wattproof/core';
import { messageLogFields, type AcceptOutcome, type IncomingMessage } from './pipeline.js';
import { connectRedis, redactRedisUrl } from './redis.js';
import { createShardLeases, type ShardLeases } from './shard-leases.js';

export interface StreamSourceDeps {
  /** Handles one message; resolves when it is durable. */
  accept(msg: IncomingMessage): Promise<AcceptOutcome>;
  /** Drops the register history of the meters `match` selects, in turn with accepted messages (pipeline.forgetRegisters). */
  forgetRegisters?(match: (meterKey: string) => boolean): Promise<unknown>;
  readonly logger?: Logger;
  /** Prometheus registry for the source's metrics; a private one by default. */
  readonly metrics?: Registry;
}

export interface StreamSourceConfig {
  /** INGEST_STREAM_REDIS_URL. */
  readonly url: string;
  /** INGEST_STREAM_WORKER_ID; `<hostname>-<pid>` by default. */
  readonly workerId?: string;
  /** INGEST_STREAM_LEASE_MS. */
  readonly leaseMs: number;
  /** INGEST_STREAM_READ_ENTRIES. */
  readonly readEntries: number;
  /** INGEST_MAX_PENDING_MESSAGES: entries in flight at most. */
  readonly maxPending: number;
  /** INGEST_MAX_PENDING_BYTES: payload bytes in flight at most; unbounded when omitted. */
  readonly maxPendingBytes?: number;
}

export interface StreamSourceStats {
  readonly workerId: string;
  /** Shards this worker holds the lease of. */
  readonly shards: number[];
  /** Entries read and not yet durable. */
  readonly inFlight: number;
  /** Their payload bytes. */
  readonly inFlightBytes: number;
  /** Entries of the owned shards not yet delivered to the group, at the last maintenance round. */
  readonly lag: number;
  /** Entries of the owned shards delivered and not yet acknowledged, at the last maintenance round. */
  readonly pendingInGroup: number;
  readonly acked: number;
  readonly claimed: number;
}

interface InFlight {
  readonly id: string;
  done: boolean;
}

interface ShardState {
  readonly shard: number;
  readonly key: string;
  phase: 'claiming' | 'reading' | 'stopping';
  /** Entries taken, in stream order, until acknowledged. */
  readonly inflight: InFlight[];
  readonly ids: Set<string>;
  /** Durable entries whose XACK failed (Redis unreachable): sent again next round. */
  readonly unacked: string[];
  /** New entries that arrived while the pending ones were being claimed: taken after them. */
  deferred: Array<[string, Buffer[]]>;
  /** The XACKs sent so far (a release waits for them). */
  acking: Promise<void>;
  /** Resolves a release once nothing is in flight. */
  idle?: () => void;
}

/** Binary-reply forms ioredis 5 has at run time (`<command>Buffer`) but does not declare for these two. */
type BufferCommands = Redis & {
  xautoclaimBuffer(...args: Array<string | number>): Promise<unknown>;
  xreadgroupBuffer(...args: Array<string | number>): Promise<unknown>;
};

/** A stream entry id as two numbers (ms, seq), for comparisons. */
function parseId(id: string): [bigint, bigint] {
  const [ms, seq] = id.split('-');
  return [BigInt(ms ?? '0'), BigInt(seq ?? '0')];
}

function idBefore(a: string, b: string): boolean {
  const [am, as] = parseId(a);
  const [bm, bs] = parseId(b);
  return am < bm || (am === bm && as < bs);
}

/** XINFO GROUPS' flat [name, value, ...] rows as objects. */
function rows(reply: unknown): Array<Record<string, unknown>> {
  return (reply as unknown[][]).map((flat) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) o[String(flat[i])] = flat[i + 1];
    return o;
  });
}

function messageOf(id: string, fields: Buffer[]): IncomingMessage {
  const map = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!.toString(), fields[i + 1]!);
  const client = map.get(F.client)?.toString();
  // A malformed entry still goes through accept(): it is dead-lettered with its reason, never dropped.
  return { topic: map.get(F.topic)?.toString() ?? '', payload: map.get(F.payload) ?? Buffer.alloc(0), ...(client ? { clientId: client } : {}), messageId: id };
}

// Drops consumers of dead workers that hold nothing (atomically: none can be handed entries in between).
const DROP_IDLE_CONSUMERS = `
local dropped = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1] elseif c[i] == 'pending' then pending = c[i + 1] elseif c[i] == 'idle' then idle = c[i + 1] end
  end
  if name ~= ARGV[2] and pending == 0 and idle > tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    dropped = dropped + 1
  end
end
return dropped`;

export function createStreamSource(deps: StreamSourceDeps, config: StreamSourceConfig) {
  const logger = deps.logger ?? silentLogger;
  const registry = deps.metrics ?? new Registry();
  const workerId = config.workerId ?? `${hostname()}-${process.pid}`;
  const group = READINGS_STREAM_GROUP;
  const states = new Map<number, ShardState>();
  let cmd: Redis | undefined;
  let reader: Redis | undefined;
  let leases: ShardLeases | undefined;
  let shardCount: number | undefined;
  let inFlight = 0;
  let inFlightBytes = 0;
  const maxPendingBytes = config.maxPendingBytes ?? Number.POSITIVE_INFINITY;
  // Entries and payload bytes taken so far, for the size of the next read under the byte bound.
  let takenEntries = 0;
  let takenBytes = 0;
  let lag = 0;
  let pendingInGroup = 0;
  let acked = 0;
  let claimed = 0;
  let closing = false;
  let pipelineClosed = false;
  let readLoop: Promise<void> | undefined;
  let maintenance: NodeJS.Timeout | undefined;
  const roomWaiters: Array<() => void> = [];
  const blockMs = Math.max(50, Math.min(1000, Math.floor(config.leaseMs / 3)));

  const metrics = {
    owned: new Gauge({
      name: 'wattproof_ingest_stream_shards_owned',
      help: 'Readings stream shards whose lease this worker holds',
      registers: [registry],
      collect() {
        this.set(states.size);
      },
    }),
    lag: new Gauge({ name: 'wattproof_ingest_stream_lag_entries', help: 'Entries of the owned shards not yet delivered to the ingest group (XINFO GROUPS lag), at the last maintenance round', registers: [registry] }),
    pending: new Gauge({ name: 'wattproof_ingest_stream_pending_entries', help: 'Entries of the owned shards delivered and not yet acknowledged (XPENDING), at the last maintenance round', registers: [registry] }),
    inFlight: new Gauge({
      name: 'wattproof_ingest_stream_in_flight_entries',
      help: 'Entries read by this worker and not yet durable (bounded by INGEST_MAX_PENDING_MESSAGES)',
      registers: [registry],
      collect() {
        this.set(inFlight);
      },
    }),
    inFlightBytes: new Gauge({
      name: 'wattproof_ingest_stream_in_flight_bytes',
      help: 'Payload bytes of the entries read by this worker and not yet durable (bounded by INGEST_MAX_PENDING_BYTES)',
      registers: [registry],
      collect() {
        this.set(inFlightBytes);
      },
    }),
    acked: new Counter({ name: 'wattproof_ingest_stream_acked_entries_total', help: 'Entries acknowledged (XACK) after their readings became durable', registers: [registry] }),
    claimed: new Counter({ name: 'wattproof_ingest_stream_claimed_entries_total', help: 'Pending entries claimed from a previous owner of a shard and processed again', registers: [registry] }),
    leaseChanges: new Counter({ name: 'wattproof_ingest_stream_lease_changes_total', help: 'Shard leases acquired, released and lost by this worker', labelNames: ['change'] as const, registers: [registry] }),
  };

  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

  const hasRoom = () => inFlight < config.maxPending && inFlightBytes < maxPendingBytes;

  function waitForRoom(): Promise<void> {
    if (hasRoom() || closing) return Promise.resolve();
    return new Promise((r) => roomWaiters.push(r));
  }

  function wakeRoom(): void {
    while (roomWaiters.length && (hasRoom() || closing)) roomWaiters.shift()!();
  }

  /** Entries one read may ask for on each of `streams` streams: within both bounds, at least one. */
  function readCount(streams: number): number {
    const byMessages = Math.floor((config.maxPending - inFlight) / streams);
    // Before any entry was seen its size is unknown: one at a time until one was.
    const byBytes = takenEntries === 0 ? (Number.isFinite(maxPendingBytes) ? 1 : Infinity) : Math.floor((maxPendingBytes - inFlightBytes) / (takenBytes / takenEntries) / streams);
    return Math.max(1, Math.min(config.readEntries, byMessages, byBytes));
  }

  function ack(state: ShardState, ids: string[]): void {
    if (ids.length === 0 || !cmd) return;
    const sent = cmd.xack(state.key, group, ...ids).then(
      () => {
        acked += ids.length;
        metrics.acked.inc(ids.length);
        for (const id of ids) state.ids.delete(id);
      },
      (err: unknown) => {
        logger.warn({ shard: state.shard, entries: ids.length, err: (err as Error).message }, 'XACK failed; retrying (the entries are durable)');
        state.unacked.push(...ids);
      },
    );
    state.acking = state.acking.then(() => sent);
  }

  /** Acknowledges the durable entries at the head of the shard's order. */
  function settle(state: ShardState): void {
    const ids: string[] = [];
    while (state.inflight.length && state.inflight[0]!.done) ids.push(state.inflight.shift()!.id);
    ack(state, ids);
    if (state.phase === 'stopping' && state.inflight.length === 0) state.idle?.();
  }

  function take(state: ShardState, id: string, fields: Buffer[]): void {
    if (state.ids.has(id)) return;
    const item: InFlight = { id, done: false };
    state.inflight.push(item);
    state.ids.add(id);
    inFlight++;
    const msg = messageOf(id, fields);
    const bytes = msg.payload.length;
    inFlightBytes += bytes;
    takenEntries++;
    takenBytes += bytes;
    deps.accept(msg).then(
      () => {
        item.done = true;
        inFlight--;
        inFlightBytes -= bytes;
        settle(state);
        wakeRoom();
      },
      (err: unknown) => {
        // Not durable (the ingest is closing): never acknowledged; it stays pending for the next owner.
        // A pipeline that is closing refuses everything: stop reading entries only to leave them pending.
        if ((err as { code?: unknown }).code === 'INGEST_NOT_STARTED') pipelineClosed = true;
        else if (!closing) logger.error({ ...messageLogFields(msg), shard: state.shard, err }, 'entry not durable; it stays pending and is processed again');
        const i = state.inflight.indexOf(item);
        if (i >= 0) state.inflight.splice(i, 1);
        state.ids.delete(id);
        inFlight--;
        inFlightBytes -= bytes;
        settle(state);
        wakeRoom();
      },
    );
  }

  async function ensureGroup(key: string): Promise<void> {
    try {
      // From 0: entries appended before the group existed are consumed too.
      await cmd!.xgroup('CREATE', key, group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
    }
  }

  /** Claims and takes every entry pending in the group on `state`'s shard, then starts reading it. */
  async function claim(state: ShardState, fresh: boolean): Promise<void> {
    for (let attempt = 0; states.get(state.shard) === state && state.phase === 'claiming' && !closing; attempt++) {
      try {
        await ensureGroup(state.key);
        if (fresh && deps.forgetRegisters && shardCount !== undefined) {
          const shards = shardCount;
          await deps.forgetRegisters((meterKey) => readingsShardOf(meterKey, shards) === state.shard);
          fresh = false;
        }
        let cursor = '0-0';
        let n = 0;
        do {
          await waitForRoom();
          if (states.get(state.shard) !== state || state.phase !== 'claiming' || closing) return;
          const count = readCount(1);
          const [next, entries] = (await (cmd as BufferCommands).xautoclaimBuffer(state.key, group, workerId, 0, cursor, 'COUNT', count)) as [Buffer, Array<[Buffer, Buffer[] | null]>];
          if (states.get(state.shard) !== state || state.phase !== 'claiming') return;
          for (const [id, fields] of entries) {
            if (!fields) continue; // deleted entry (Redis removes it from the pending list)
            take(state, id.toString(), fields);
            n++;
          }
          cursor = next.toString();
        } while (cursor !== '0-0');
        if (n > 0) {
          claimed += n;
          metrics.claimed.inc(n);
          logger.info({ shard: state.shard, entries: n }, 'claimed pending entries of a previous owner');
        }
        state.phase = 'reading';
        for (const [id, fields] of state.deferred) take(state, id, fields);
        state.deferred = [];
        return;
      } catch (err) {
        logger.warn({ shard: state.shard, err: (err as Error).message, attempt }, 'claiming pending entries failed; retrying');
        await sleep(Math.min(5000, 200 * 2 ** Math.min(attempt, 5)));
      }
    }
  }

  function acquired(shard: number): void {
    const state: ShardState = { shard, key: readingsStreamKey(shard), phase: 'claiming', inflight: [], ids: new Set(), unacked: [], deferred: [], acking: Promise.resolve() };
    states.set(shard, state);
    metrics.leaseChanges.inc({ change: 'acquired' });
    void claim(state, true);
  }

  async function release(shard: number): Promise<void> {
    const state = states.get(shard);
    metrics.leaseChanges.inc({ change: 'released' });
    if (!state) return;
    state.phase = 'stopping';
    // A read still blocked on this shard may yet return entries for it: they are processed while
    // the lease is held, else they would sit pending under this worker after the next owner's claim.
    if (current && current.keys.has(state.key)) await current.done;
    await new Promise<void>((resolve) => {
      state.idle = resolve;
      if (state.inflight.length === 0) resolve();
    });
    for (let i = 0; state.unacked.length && i < 5; i++) {
      ack(state, state.unacked.splice(0));
      await state.acking;
    }
    await state.acking;
    if (states.get(shard) === state) states.delete(shard);
  }

  function lost(shard: number): void {
    const state = states.get(shard);
    metrics.leaseChanges.inc({ change: 'lost' });
    if (!state) return;
    // What is in flight is still written and acknowledged; the new owner processes it again.
    state.phase = 'stopping';
    states.delete(shard);
    state.idle?.();
  }

  /** The read in progress: the keys it asked for, and when it returns. */
  let current: { keys: Set<string>; done: Promise<unknown> } | undefined;

  async function read(): Promise<void> {
    let failures = 0;
    while (!closing) {
      const readable = [...states.values()].filter((s) => s.phase === 'reading');
      if (readable.length === 0 || pipelineClosed) {
        await sleep(blockMs);
        continue;
      }
      if (!hasRoom()) {
        await waitForRoom();
        continue;
      }
      const count = readCount(readable.length);
      const keys = readable.map((s) => s.key);
      let reply: Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
      try {
        const call = (reader as BufferCommands).xreadgroupBuffer('GROUP', group, workerId, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', ...keys, ...keys.map(() => '>'));
        current = { keys: new Set(keys), done: call.catch(() => undefined) };
        reply = (await call) as typeof reply;
        failures = 0;
      } catch (err) {
        if (closing) return;
        failures++;
        // A reply lost with its connection leaves entries pending under this worker: claim them again.
        logger.warn({ err: (err as Error).message }, 'reading the streams failed; claiming this worker\'s pending entries again');
        for (const s of readable) {
          if (s.phase === 'reading') {
            s.phase = 'claiming';
            void claim(s, false);
          }
        }
        await sleep(Math.min(5000, 200 * 2 ** Math.min(failures, 5)));
        continue;
      }
      for (const [keyBuf, entries] of reply ?? []) {
        const asked = readable.find((s) => s.key === keyBuf.toString());
        if (!asked) continue;
        // The shard's state now: the same one, or a new one if it was lost and taken again meanwhile.
        // Entries read are in this worker's pending list, so they are processed here in any case
        // (after the claimed ones on a shard being claimed); a lost shard's new owner may have
        // scanned the pending list before this read was served.
        const state = states.get(asked.shard) ?? asked;
        for (const [id, fields] of entries) {
          if (state.phase === 'claiming') state.deferred.push([id.toString(), fields]);
          else take(state, id.toString(), fields);
        }
      }
      current = undefined;
    }
  }

  /** Retries failed XACKs, trims acknowledged entries and reads lag and pending counts. */
  async function maintain(): Promise<void> {
    let lagSum = 0;
    let pendingSum = 0;
    for (const state of [...states.values()]) {
      if (state.unacked.length) ack(state, state.unacked.splice(0));
      if (state.phase !== 'reading') continue;
      try {
        const groups = rows(await cmd!.xinfo('GROUPS', state.key));
        // Entries below every group's oldest pending one and at or below its last delivered one are acknowledged by all.
        let minId: string | undefined;
        for (const g of groups) {
          const pending = Number(g.pending ?? 0);
          let bound = String(g['last-delivered-id'] ?? '0-0');
          if (pending > 0) {
            const summary = (await cmd!.xpending(state.key, String(g.name))) as [number, string | null, string | null, unknown];
            if (summary[1] && idBefore(summary[1], bound)) bound = summary[1];
          }
          if (minId === undefined || idBefore(bound, minId)) minId = bound;
          if (g.name === group) {
            pendingSum += pending;
            if (typeof g.lag === 'number') lagSum += g.lag;
          }
        }
        if (minId && minId !== '0-0') await cmd!.xtrim(state.key, 'MINID', '~', minId);
        await (cmd as Redis & { wattproofDropIdleConsumers(key: string, group: string, me: string, idleMs: number): Promise<number> }).wattproofDropIdleConsumers(state.key, group, workerId, 10 * config.leaseMs);
      } catch (err) {
        logger.debug({ shard: state.shard, err: (err as Error).message }, 'stream maintenance failed; next round');
      }
    }
    lag = lagSum;
    pendingInGroup = pendingSum;
    metrics.lag.set(lag);
    metrics.pending.set(pendingInGroup);
  }

  return {
    workerId,
    /** Connects, joins the workers and starts taking shards; resolves once connected (shards follow within a lease round). */
    async start(): Promise<void> {
      // Non-blocking commands fail fast while Redis is away (the rounds retry); the reader gets its own connection (XREADGROUP BLOCK).
      cmd = await connectRedis(config.url, `wattproof-ingest-${workerId}`, logger, { maxRetriesPerRequest: 1, commandTimeout: 5000 });
      reader = await connectRedis(config.url, `wattproof-ingest-reader-${workerId}`, logger, { maxRetriesPerRequest: 1, autoResendUnfulfilledCommands: false }).catch((err: unknown) => {
        cmd?.disconnect();
        throw err;
      });
      cmd.defineCommand('wattproofDropIdleConsumers', { numberOfKeys: 1, lua: DROP_IDLE_CONSUMERS });
      const c = cmd;
      leases = createShardLeases(c, { acquired, release, lost }, {
        workerId,
        leaseMs: config.leaseMs,
        logger,
        async shards() {
          const v = await c.hget(READINGS_STREAM_META_KEY, 'shards');
          shardCount = v === null ? undefined : Number(v);
          return shardCount;
        },
      });
      leases.start();
      readLoop = read();
      maintenance = setInterval(() => void maintain(), Math.max(100, Math.floor(config.leaseMs / 3)));
      maintenance.unref();
      logger.info({ redis: redactRedisUrl(config.url), workerId }, 'ingest worker consuming the readings streams');
    },
    /** Whether both Redis connections are ready. */
    connected(): boolean {
      return cmd?.status === 'ready' && reader?.status === 'ready';
    },
    stats(): StreamSourceStats {
      return { workerId, shards: [...states.keys()].sort((a, b) => a - b), inFlight, inFlightBytes, lag, pendingInGroup, acked, claimed };
    },
    /** The shard leases (tests, diagnostics). */
    leases: () => leases,
    /**
     * Stops reading. Graceful (`force` false): gives every shard back once what was read from it
     * is acknowledged, so other workers take them over at once. `force`: drops the connections
     * without acknowledging anything more or giving leases back (they expire after
     * INGEST_STREAM_LEASE_MS; the next owners claim what is pending).
     */
    async close(force = false): Promise<void> {
      closing = true;
      clearInterval(maintenance);
      wakeRoom();
      if (force) {
        leases?.abort();
        cmd?.disconnect();
        reader?.disconnect();
        return;
      }
      reader?.disconnect();
      await readLoop;
      await leases?.close();
      await cmd?.quit().catch(() => cmd?.disconnect());
    },
  };
}

export type StreamSource = ReturnType<typeof createStreamSource>;
