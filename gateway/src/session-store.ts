/**
 * The gateway's session store, aedes' "persistence": persistent sessions, their subscriptions,
 * the messages queued for them, retained messages and wills. In memory (aedes-persistence with
 * O(1) removal from the queues, memory-persistence.ts; lost on restart) unless GATEWAY_PERSISTENCE_DIR is set; then LevelDB on local disk
 * (aedes-persistence-level 9 over classic-level 3), one directory per gateway process (LevelDB
 * locks it).
 *
 * Durability of a write (GATEWAY_PERSISTENCE_SYNC): LevelDB appends every write to its log with
 * write(2) before it completes, so a completed write survives a crash or SIGKILL of the process;
 * only with `sync` is the log fsynced before the write completes, which also survives a power loss
 * or a kernel crash. aedes-persistence-level passes no write options, so `sync` is added here to
 * the writes that must survive (see DURABLE_OPERATIONS), not to the delivery bookkeeping.
 */
import { ClassicLevel } from 'classic-level';
import createLevelPersistence from 'aedes-persistence-level';
import { gatewayError } from './errors.js';
import { SessionQueueMemoryPersistence } from './memory-persistence.js';
import { cacheSubscriptionsByTopic, type TopicMatchCache } from './match-cache.js';

/** The part of the aedes persistence API (aedes-persistence 11, promise form) the gateway calls itself. */
export interface QueuePersistence {
  subscriptionsByTopic(topic: string): Promise<ReadonlyArray<{ clientId: string; topic: string; qos?: number }>>;
  outgoingEnqueue(sub: { clientId: string }, packet: unknown): Promise<unknown>;
  outgoingEnqueueCombi(subs: ReadonlyArray<{ clientId: string }>, packet: unknown): Promise<unknown>;
  /** Records the message id a queued packet was sent with, before aedes writes it to the subscriber. */
  outgoingUpdate(client: { id: string }, packet: unknown): Promise<unknown>;
  /** Resolves with the queued packet it removed, or undefined when there was none. */
  outgoingClearMessageId(client: { id: string }, packet: unknown): Promise<unknown>;
}

/** Which principal owns which client id, so that no principal can take over another's session [MQTT-3.1.4-2]. */
export interface SessionOwners {
  get(clientId: string): string | undefined;
  /**
   * Records the owner; on disk with the sessions when they are on disk, unless `durable` is false
   * (a clean session leaves nothing behind to take over, so its client id need not be kept).
   */
  set(clientId: string, username: string, durable?: boolean): Promise<void>;
}

export interface SessionStore {
  /** `redis`: shared by the nodes of a cluster (cluster.ts, GATEWAY_REDIS_URL). */
  readonly kind: 'memory' | 'disk' | 'redis';
  /** The directory, for `disk`. */
  readonly dir?: string;
  /** The persistence to hand to aedes. */
  readonly persistence: QueuePersistence;
  /** The cache of `persistence.subscriptionsByTopic` (match-cache.ts); none for `redis`, whose subscriptions other nodes change. */
  readonly subscriptionsCache?: TopicMatchCache<unknown>;
  /** The pub/sub to hand to aedes (`redis`: mqemitter-redis); undefined = aedes' in-process default. */
  readonly mq?: unknown;
  /** Messages queued per client id found in the store when it was opened (empty in memory). */
  readonly queuedAtOpen: ReadonlyMap<string, number>;
  /** Their stored size per client id (the encoded records: the payload plus a few hundred bytes of packet). */
  readonly queuedBytesAtOpen?: ReadonlyMap<string, number>;
  readonly owners: SessionOwners;
  /** Writes fsynced so far by GATEWAY_PERSISTENCE_SYNC (the on-disk store; tests and diagnostics). */
  syncedWrites?(): number;
  /** Closes the database (after the broker is closed). */
  close(): Promise<void>;
}

export interface SessionStoreOptions {
  /** GATEWAY_PERSISTENCE_DIR; undefined = in memory. */
  readonly dir: string | undefined;
  /** GATEWAY_PERSISTENCE_SYNC. */
  readonly sync: boolean;
}

// aedes-persistence-level 9 keys (asyncPersistence.js): `outgoing:<encodeURIComponent(clientId)>:<brokerId>:<counter>`
// holds one queued message of one session; `outgoing-id:` sorts before `outgoing:` ('-' < ':'), so the range holds
// nothing else. test/reliability/gateway-restart.test.ts checks the count after a restart.
const OUTGOING_PREFIX = 'outgoing:';
const OUTGOING_RANGE = { gte: OUTGOING_PREFIX, lt: 'outgoing;' } as const;
// A sublevel's keys start with '!', below every prefix aedes-persistence-level uses, so its ranges never see them.
const OWNERS_SUBLEVEL = 'wattproof-session-owners';

function memoryOwners(): SessionOwners {
  const owners = new Map<string, string>();
  return {
    get: (clientId) => owners.get(clientId),
    async set(clientId, username) {
      owners.set(clientId, username);
    },
  };
}

type WriteOptions = Record<string, unknown> | undefined;
type Writable = {
  put(key: unknown, value: unknown, options?: WriteOptions): Promise<void>;
  batch(operations?: unknown, options?: WriteOptions): unknown;
};
type Method = (...args: unknown[]) => unknown;

/**
 * The persistence operations whose writes must be on disk before the PUBACK or SUBACK: queueing a
 * message for a session, storing a subscription or a retained message. Writes of the other
 * operations (message ids assigned on delivery, acknowledgements, deletions) are not fsynced: if a
 * power loss undoes them, the message is only delivered again, which the ingest absorbs.
 */
const DURABLE_OPERATIONS = ['outgoingEnqueueCombi', 'outgoingEnqueue', 'addSubscriptions', 'storeRetained'] as const;

/**
 * fsyncs the database writes of DURABLE_OPERATIONS. aedes-persistence-level 9 issues each write
 * synchronously within the operation's call (async functions run to their first `await`), so a
 * flag set during that call marks exactly those writes; test/gateway/session-store.test.ts checks it.
 * Returns the number of fsynced writes so far.
 */
function syncDurableWrites(db: ClassicLevel, persistence: Record<string, unknown>): () => number {
  let depth = 0;
  let synced = 0;
  const target = db as unknown as Writable;
  const put = target.put.bind(db);
  const batch = target.batch.bind(db);
  target.put = (key, value, options) => {
    if (depth === 0) return put(key, value, options);
    synced++;
    return put(key, value, { ...options, sync: true });
  };
  target.batch = (operations, options) => {
    // abstract-level tells a chained batch (no arguments) from an array batch by arguments.length.
    if (operations === undefined) return batch();
    if (depth === 0) return batch(operations, options);
    synced++;
    return batch(operations, { ...options, sync: true });
  };
  for (const name of DURABLE_OPERATIONS) {
    const operation = (persistence[name] as Method).bind(persistence);
    persistence[name] = (...args: unknown[]) => {
      depth++;
      try {
        return operation(...args);
      } finally {
        depth--;
      }
    };
  }
  return () => synced;
}

/**
 * Makes the persistence complete its `outgoingEnqueueCombi` calls, and its `outgoingUpdate` calls,
 * in the order they were made (the writes themselves still run concurrently, so concurrent
 * publishes share an fsync).
 *
 * aedes emits a QoS > 0 message to the connected subscribers once it is queued, and each
 * subscriber drops a message whose brokerCounter is lower than one it already got (`dedupe` in
 * aedes lib/client.js, meant for clusters). LevelDB writes complete out of order (libuv thread
 * pool), so without ordering the enqueues a message queued after a later one was silently not
 * delivered to a connected persistent subscriber (it stayed queued until that subscriber
 * reconnected). And aedes writes each delivery to the subscriber's socket when its
 * `outgoingUpdate` (the message id it was given) is stored: without ordering those, one device's
 * messages reached a connected subscriber out of order [MQTT-4.6.0-6] (2,000 concurrent QoS 1
 * publishes in `test/gateway/hand-off.test.ts`).
 */
export function completeQueueWritesInOrder(persistence: QueuePersistence): void {
  const enqueueCombi = persistence.outgoingEnqueueCombi.bind(persistence);
  const inOrderEnqueue = inIssueOrder();
  persistence.outgoingEnqueueCombi = (subs, packet) => inOrderEnqueue(enqueueCombi(subs, packet));
  const update = persistence.outgoingUpdate.bind(persistence);
  const inOrderUpdate = inIssueOrder();
  persistence.outgoingUpdate = (client, packet) => inOrderUpdate(update(client, packet));
}

/** A function that settles each promise it is given only after the ones given before it settled. */
function inIssueOrder(): <T>(written: Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (written) => {
    const done = tail.then(() => written);
    tail = done.catch(() => undefined);
    return done;
  };
}

/**
 * Opens the session store the options ask for.
 * @throws WattproofError GATEWAY_SESSION_STORE_UNAVAILABLE when the directory cannot be opened
 *   (another process holds its lock, it is not writable, or the database is corrupt).
 */
export async function openSessionStore(options: SessionStoreOptions): Promise<SessionStore> {
  if (options.dir === undefined) {
    const persistence = new SessionQueueMemoryPersistence();
    const subscriptionsCache = cacheSubscriptionsByTopic(persistence);
    return { kind: 'memory', persistence, subscriptionsCache, queuedAtOpen: new Map(), owners: memoryOwners(), syncedWrites: () => 0, close: async () => {} };
  }
  const dir = options.dir;
  const db = new ClassicLevel(dir);
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: Error }).cause ?? err;
    throw gatewayError('GATEWAY_SESSION_STORE_UNAVAILABLE', `cannot open the session store in ${dir}: ${(cause as Error).message}`, { cause: err });
  }
  try {
    const persistence = createLevelPersistence(db) as QueuePersistence & Record<string, unknown>;
    const syncedWrites = options.sync ? syncDurableWrites(db, persistence) : () => 0;
    completeQueueWritesInOrder(persistence);
    const subscriptionsCache = cacheSubscriptionsByTopic(persistence);
    const queuedAtOpen = new Map<string, number>();
    const queuedBytesAtOpen = new Map<string, number>();
    // Values too, for GATEWAY_MAX_QUEUED_BYTES: one sequential read of what is queued. The stored
    // size stands for the payload's, so nothing is decoded.
    for await (const [key, value] of db.iterator<string, Uint8Array>({ ...OUTGOING_RANGE, valueEncoding: 'view' })) {
      const end = key.indexOf(':', OUTGOING_PREFIX.length);
      const clientId = decodeURIComponent(key.slice(OUTGOING_PREFIX.length, end));
      queuedAtOpen.set(clientId, (queuedAtOpen.get(clientId) ?? 0) + 1);
      queuedBytesAtOpen.set(clientId, (queuedBytesAtOpen.get(clientId) ?? 0) + value.byteLength);
    }
    const ownersDb = db.sublevel<string, string>(OWNERS_SUBLEVEL, { valueEncoding: 'utf8' });
    const owners = new Map<string, string>();
    for await (const [clientId, username] of ownersDb.iterator()) owners.set(clientId, username);
    const onDisk = new Set(owners.keys());
    return {
      kind: 'disk',
      dir,
      persistence,
      subscriptionsCache,
      queuedAtOpen,
      queuedBytesAtOpen,
      syncedWrites,
      owners: {
        get: (clientId) => owners.get(clientId),
        async set(clientId, username, durable = true) {
          const known = owners.get(clientId);
          owners.set(clientId, username);
          if (!durable || (known === username && onDisk.has(clientId))) return;
          onDisk.add(clientId);
          // A new owner must survive with the session it owns. (classic-level reads `sync` from any
          // write's options; abstract-level's types do not list it.)
          await ownersDb.put(clientId, username, { sync: options.sync } as Parameters<typeof ownersDb.put>[2]);
        },
      },
      close: () => db.close(),
    };
  } catch (err) {
    await db.close().catch(() => undefined);
    throw gatewayError('GATEWAY_SESSION_STORE_UNAVAILABLE', `cannot read the session store in ${dir}: ${(err as Error).message}`, { cause: err });
  }
}
