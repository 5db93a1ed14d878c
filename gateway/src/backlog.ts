/**
 * The gateway's backlog and its bounds (GATEWAY_MAX_QUEUED_MESSAGES, GATEWAY_MAX_QUEUED_BYTES).
 *
 * The backlog of a persistent subscriber session (the ingest) is what aedes queued for it in the
 * session store and it has not acknowledged yet, in-flight messages included. It is counted in
 * O(1) per message by wrapping the persistence's queue operations: `outgoingEnqueueCombi` /
 * `outgoingEnqueue` (aedes queues a QoS > 0 message for every persistent session whose
 * subscription matches, online or not) add one per session, `outgoingClearMessageId` removes one
 * when it removed a queued message (PUBACK/PUBCOMP of the subscriber, or the queue of a session
 * that reconnected with clean session being emptied). The count starts from what the store held
 * when it was opened. Payload bytes are counted alongside (the removed message is what
 * `outgoingClearMessageId` resolves with), because a count alone did not bound memory: in the first
 * full-year backfill (docs/PERFORMANCE.md) messages of ~1,000 readings each queued ~3.4 GB for the
 * ingest in the in-memory store, well below 500,000 messages.
 *
 * Admission: before a QoS > 0 PUBLISH is handed off, every session it would be queued for is
 * looked up (the same subscription index aedes uses) and the PUBLISH is refused when one of them
 * holds `limit` messages, or would hold more than `limitBytes` payload bytes with this one, counting
 * the publishes admitted and not yet queued. So a session never holds more than `limit` messages
 * nor more than `limitBytes` bytes (QoS 1; a QoS 2 PUBLISH is queued by aedes after admission, so
 * with QoS 2 publishers a queue can exceed the bounds by the QoS 2 messages in flight). A session
 * with nothing queued or held admits one message of any size, so no message can be refused forever.
 *
 * While all sessions together hold fewer than `limit` messages and, with this one, at most
 * `limitBytes` bytes, slots held included, no session can be at a bound whichever sessions a
 * message goes to, so admission holds a slot without looking them up (see `admit`).
 */
import type { QueuePersistence } from './session-store.js';

export type Admission =
  | { readonly ok: true; release(): void }
  | { readonly ok: false; readonly clientId: string; readonly queued: number; readonly queuedBytes: number };

export interface SessionQueue {
  readonly clientId: string;
  /** Messages queued. */
  readonly queued: number;
  /** Their payload bytes. */
  readonly queuedBytes: number;
}

export interface Backlog {
  /** GATEWAY_MAX_QUEUED_MESSAGES. */
  readonly limit: number;
  /** GATEWAY_MAX_QUEUED_BYTES. */
  readonly limitBytes: number;
  /**
   * Whether a QoS > 0 message of `bytes` payload bytes to `topic` may be accepted now; when it may,
   * it holds one slot (and its bytes) in each session it is going to be queued for until `release()`
   * (call it once it is queued or failed). Synchronous unless the sessions had to be looked up.
   */
  admit(topic: string, bytes: number): Admission | Promise<Admission>;
  /** Messages queued for `clientId` now. */
  queued(clientId: string): number;
  /** Payload bytes queued for `clientId` now. */
  queuedBytes(clientId: string): number;
  /** Messages queued for all sessions. */
  total(): number;
  /** Payload bytes queued for all sessions. */
  totalBytes(): number;
  /** The session with the most queued messages, if any has one. */
  largest(): SessionQueue | undefined;
  /** Sessions at a bound: `limit` messages, or `limitBytes` bytes (publishes to them are refused). */
  full(): SessionQueue[];
}

export interface BacklogOptions {
  readonly limit: number;
  /** Payload bytes one session may have queued; unbounded when omitted. */
  readonly limitBytes?: number;
  /** Queued messages per client id when the store was opened. */
  readonly initial?: ReadonlyMap<string, number>;
  /** Their bytes per client id (the stored records' sizes: a little above the payloads). */
  readonly initialBytes?: ReadonlyMap<string, number>;
  /** Called when a session reaches a bound. */
  onFull?(session: SessionQueue): void;
  /** Called when a session that was at a bound drops below both. */
  onBelow?(session: SessionQueue): void;
}

/** Payload bytes of a packet as aedes and the persistences hand it around (a Buffer, or absent). */
function payloadBytes(packet: unknown): number {
  return (packet as { payload?: { length?: number } } | undefined)?.payload?.length ?? 0;
}

/** One session's queue, or the slots held for it: messages and their payload bytes. */
interface Count {
  n: number;
  bytes: number;
}

/** Client ids of `subs`, each once (a session with two matching filters is queued the message under one key). */
function clientIds(subs: ReadonlyArray<{ clientId: string }>): string[] {
  if (subs.length === 1) return [subs[0]!.clientId];
  return [...new Set(subs.map((s) => s.clientId))];
}

/** Wraps `persistence` (its queue operations are replaced on the instance) and returns the counts. */
export function createBacklog(persistence: QueuePersistence, options: BacklogOptions): Backlog {
  const limit = options.limit;
  const limitBytes = options.limitBytes ?? Number.POSITIVE_INFINITY;
  // Only sessions with something queued are kept, so largest() and full() scan the few that lag.
  const queues = new Map<string, Count>();
  // Slots held by admitted publishes not queued yet: per session when admit looked the sessions
  // up (`reserved`), else `unassigned` (they may be for any session); `held` sums both.
  const reserved = new Map<string, Count>();
  const unassigned: Count = { n: 0, bytes: 0 };
  // The fast path's slots, one array for every admission (it runs for each QoS 1 PUBLISH).
  const unassignedOnly: readonly Count[] = [unassigned];
  const held: Count = { n: 0, bytes: 0 };
  const total: Count = { n: 0, bytes: 0 };
  for (const clientId of new Set([...(options.initial?.keys() ?? []), ...(options.initialBytes?.keys() ?? [])])) {
    const q = { n: options.initial?.get(clientId) ?? 0, bytes: options.initialBytes?.get(clientId) ?? 0 };
    if (q.n > 0) queues.set(clientId, q);
    total.n += q.n;
    total.bytes += q.n > 0 ? q.bytes : 0;
  }

  const isFull = (q: Count) => q.n >= limit || q.bytes >= limitBytes;
  const view = (clientId: string, q: Count): SessionQueue => ({ clientId, queued: q.n, queuedBytes: q.bytes });
  const add = (clientId: string, bytes: number) => {
    let q = queues.get(clientId);
    if (!q) queues.set(clientId, (q = { n: 0, bytes: 0 }));
    const was = isFull(q);
    q.n++;
    q.bytes += bytes;
    total.n++;
    total.bytes += bytes;
    if (!was && isFull(q)) options.onFull?.(view(clientId, q));
  };
  const remove = (clientId: string, bytes: number) => {
    const q = queues.get(clientId);
    if (q === undefined) return;
    const was = isFull(q);
    // Never below zero: messages found at open were counted at their stored size, not their payload's.
    const b = Math.min(bytes, q.bytes);
    q.n--;
    q.bytes -= b;
    total.n--;
    total.bytes -= b;
    if (q.n <= 0) {
      total.bytes -= q.bytes;
      queues.delete(clientId);
    }
    if (was && !isFull(q)) options.onBelow?.(view(clientId, q));
  };
  const hold = (c: Count, n: number, bytes: number) => {
    c.n += n;
    c.bytes += bytes;
  };

  const enqueueCombi = persistence.outgoingEnqueueCombi.bind(persistence);
  const enqueue = persistence.outgoingEnqueue.bind(persistence);
  const clear = persistence.outgoingClearMessageId.bind(persistence);
  persistence.outgoingEnqueueCombi = async (subs, packet) => {
    const result = await enqueueCombi(subs, packet);
    if (subs && subs.length > 0) for (const id of clientIds(subs)) add(id, payloadBytes(packet));
    return result;
  };
  persistence.outgoingEnqueue = async (sub, packet) => {
    const result = await enqueue(sub, packet);
    add(sub.clientId, payloadBytes(packet));
    return result;
  };
  persistence.outgoingClearMessageId = async (client, packet) => {
    const removed = await clear(client, packet);
    if (removed) remove(client.id, payloadBytes(removed));
    return removed;
  };

  /** Holds one message of `bytes` in each of `counts` until the returned function is called (once; later calls do nothing). */
  function holding(counts: readonly Count[], bytes: number): () => void {
    for (const x of counts) hold(x, 1, bytes);
    hold(held, counts.length, counts.length * bytes);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const x of counts) hold(x, -1, -bytes);
      hold(held, -counts.length, -counts.length * bytes);
    };
  }

  /** Looks up the sessions `topic` is queued for and holds a slot in each, unless one is at a bound. */
  async function admitLookingUp(topic: string, bytes: number): Promise<Admission> {
    const ids = clientIds(await persistence.subscriptionsByTopic(topic));
    for (const clientId of ids) {
      const q = queues.get(clientId);
      const r = reserved.get(clientId);
      // An unassigned slot may be for this session: counted against each, so the bounds hold.
      const n = (q?.n ?? 0) + (r?.n ?? 0) + unassigned.n;
      const b = (q?.bytes ?? 0) + (r?.bytes ?? 0) + unassigned.bytes;
      if (n >= limit || (n > 0 && b + bytes > limitBytes)) return { ok: false, clientId, queued: q?.n ?? 0, queuedBytes: q?.bytes ?? 0 };
    }
    const slots = ids.map((clientId) => {
      let r = reserved.get(clientId);
      if (!r) reserved.set(clientId, (r = { n: 0, bytes: 0 }));
      return r;
    });
    const release = holding(slots, bytes);
    return {
      ok: true,
      release() {
        release();
        for (const clientId of ids) if (reserved.get(clientId)?.n === 0) reserved.delete(clientId);
      },
    };
  }

  return {
    limit,
    limitBytes,
    admit(topic, bytes) {
      // Any session's queued + slots held ≤ total + held: below the bounds, the message may go to
      // any session, so one unassigned slot is held without looking the sessions up. The lookup (the
      // subscription index, which aedes then walks again to queue the message) and its promise were
      // 1.3 % self and 2 % with what it calls of the gateway's profiled time at 10k msg/s QoS 1
      // (`npm run bench -- broker --cpu-prof`); in process (hook and broker.publish, no sockets,
      // medians of 7) a QoS 1 PUBLISH went from 8.87 to 5.91 µs without it.
      if (total.n + held.n >= limit || total.bytes + held.bytes + bytes > limitBytes) return admitLookingUp(topic, bytes);
      return { ok: true, release: holding(unassignedOnly, bytes) };
    },
    queued: (clientId) => queues.get(clientId)?.n ?? 0,
    queuedBytes: (clientId) => queues.get(clientId)?.bytes ?? 0,
    total: () => total.n,
    totalBytes: () => total.bytes,
    largest() {
      let top: SessionQueue | undefined;
      for (const [clientId, q] of queues) if (!top || q.n > top.queued) top = view(clientId, q);
      return top;
    },
    full() {
      const out: SessionQueue[] = [];
      for (const [clientId, q] of queues) if (isFull(q)) out.push(view(clientId, q));
      return out;
    },
  };
}
