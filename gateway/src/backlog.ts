/**
 * The gateway's backlog and its bound (GATEWAY_MAX_QUEUED_MESSAGES).
 *
 * The backlog of a persistent subscriber session (the ingest) is what aedes queued for it in the
 * session store and it has not acknowledged yet, in-flight messages included. It is counted in
 * O(1) per message by wrapping the persistence's queue operations: `outgoingEnqueueCombi` /
 * `outgoingEnqueue` (aedes queues a QoS > 0 message for every persistent session whose
 * subscription matches, online or not) add one per session, `outgoingClearMessageId` removes one
 * when it removed a queued message (PUBACK/PUBCOMP of the subscriber, or the queue of a session
 * that reconnected with clean session being emptied). The count starts from what the store held
 * when it was opened.
 *
 * Admission: before a QoS > 0 PUBLISH is handed off, every session it would be queued for is
 * looked up (the same subscription index aedes uses) and the PUBLISH is refused when one of them
 * holds `limit` messages, counting the publishes admitted and not yet queued. So a session never
 * holds more than `limit` messages (QoS 1; a QoS 2 PUBLISH is queued by aedes after admission,
 * so with QoS 2 publishers a queue can exceed the bound by the QoS 2 messages in flight).
 *
 * While all sessions together hold fewer than `limit` messages, slots held included, no session
 * can be at the bound whichever sessions a message goes to, so admission holds a slot without
 * looking them up (see `admit`).
 */
import type { QueuePersistence } from './session-store.js';

export type Admission =
  | { readonly ok: true; release(): void }
  | { readonly ok: false; readonly clientId: string; readonly queued: number };

export interface SessionQueue {
  readonly clientId: string;
  readonly queued: number;
}

export interface Backlog {
  /** GATEWAY_MAX_QUEUED_MESSAGES. */
  readonly limit: number;
  /**
   * Whether a QoS > 0 message to `topic` may be accepted now; when it may, it holds one slot in
   * each session it is going to be queued for until `release()` (call it once it is queued or failed).
   * Synchronous unless the sessions had to be looked up.
   */
  admit(topic: string): Admission | Promise<Admission>;
  /** Messages queued for `clientId` now. */
  queued(clientId: string): number;
  /** Messages queued for all sessions. */
  total(): number;
  /** The session with the most queued messages, if any has one. */
  largest(): SessionQueue | undefined;
  /** Sessions at the bound (publishes to them are refused). */
  full(): SessionQueue[];
}

export interface BacklogOptions {
  readonly limit: number;
  /** Queued messages per client id when the store was opened. */
  readonly initial?: ReadonlyMap<string, number>;
  /** Called when a session reaches the bound. */
  onFull?(session: SessionQueue): void;
  /** Called when a session that was at the bound drops below it. */
  onBelow?(session: SessionQueue): void;
}

/** Client ids of `subs`, each once (a session with two matching filters is queued the message under one key). */
function clientIds(subs: ReadonlyArray<{ clientId: string }>): string[] {
  if (subs.length === 1) return [subs[0]!.clientId];
  return [...new Set(subs.map((s) => s.clientId))];
}

/** Wraps `persistence` (its queue operations are replaced on the instance) and returns the counts. */
export function createBacklog(persistence: QueuePersistence, options: BacklogOptions): Backlog {
  const limit = options.limit;
  // Only sessions with a non-zero count are kept, so largest() and full() scan the few that lag.
  const counts = new Map<string, number>();
  // Slots held by admitted publishes not queued yet: per session when admit looked the sessions
  // up (`reserved`), else `unassigned` (they may be for any session); `held` counts both.
  const reserved = new Map<string, number>();
  let unassigned = 0;
  let held = 0;
  let total = 0;
  for (const [clientId, n] of options.initial ?? []) {
    if (n > 0) counts.set(clientId, n);
    total += n;
  }

  const add = (clientId: string) => {
    const n = (counts.get(clientId) ?? 0) + 1;
    counts.set(clientId, n);
    total++;
    if (n === limit) options.onFull?.({ clientId, queued: n });
  };
  const remove = (clientId: string) => {
    const n = counts.get(clientId);
    if (n === undefined) return;
    total--;
    if (n <= 1) counts.delete(clientId);
    else counts.set(clientId, n - 1);
    if (n === limit) options.onBelow?.({ clientId, queued: n - 1 });
  };
  const bump = (map: Map<string, number>, key: string, delta: number) => {
    const n = (map.get(key) ?? 0) + delta;
    if (n <= 0) map.delete(key);
    else map.set(key, n);
  };

  const enqueueCombi = persistence.outgoingEnqueueCombi.bind(persistence);
  const enqueue = persistence.outgoingEnqueue.bind(persistence);
  const clear = persistence.outgoingClearMessageId.bind(persistence);
  persistence.outgoingEnqueueCombi = async (subs, packet) => {
    const result = await enqueueCombi(subs, packet);
    if (subs && subs.length > 0) for (const id of clientIds(subs)) add(id);
    return result;
  };
  persistence.outgoingEnqueue = async (sub, packet) => {
    const result = await enqueue(sub, packet);
    add(sub.clientId);
    return result;
  };
  persistence.outgoingClearMessageId = async (client, packet) => {
    const removed = await clear(client, packet);
    if (removed) remove(client.id);
    return removed;
  };

  /** Looks up the sessions `topic` is queued for and holds a slot in each, unless one is at the limit. */
  async function admitLookingUp(topic: string): Promise<Admission> {
    const ids = clientIds(await persistence.subscriptionsByTopic(topic));
    for (const clientId of ids) {
      const queued = counts.get(clientId) ?? 0;
      // An unassigned slot may be for this session: counted against each, so the bound holds.
      if (queued + (reserved.get(clientId) ?? 0) + unassigned >= limit) return { ok: false, clientId, queued };
    }
    for (const clientId of ids) bump(reserved, clientId, 1);
    held += ids.length;
    let released = false;
    return {
      ok: true,
      release() {
        if (released) return;
        released = true;
        for (const clientId of ids) bump(reserved, clientId, -1);
        held -= ids.length;
      },
    };
  }

  return {
    limit,
    admit(topic) {
      // Any session's queued + slots held ≤ total + held: below the limit, the message may go to any
      // session, so one unassigned slot is held without looking the sessions up. The lookup (the
      // subscription index, which aedes then walks again to queue the message) and its promise were
      // 1.3 % self and 2 % with what it calls of the gateway's profiled time at 10k msg/s QoS 1
      // (`npm run bench -- broker --cpu-prof`); in process (hook and broker.publish, no sockets,
      // medians of 7) a QoS 1 PUBLISH went from 8.87 to 5.91 µs without it.
      if (total + held >= limit) return admitLookingUp(topic);
      unassigned++;
      held++;
      let released = false;
      return {
        ok: true,
        release() {
          if (released) return;
          released = true;
          unassigned--;
          held--;
        },
      };
    },
    queued: (clientId) => counts.get(clientId) ?? 0,
    total: () => total,
    largest() {
      let top: SessionQueue | undefined;
      for (const [clientId, queued] of counts) if (!top || queued > top.queued) top = { clientId, queued };
      return top;
    },
    full() {
      const out: SessionQueue[] = [];
      for (const [clientId, queued] of counts) if (queued >= limit) out.push({ clientId, queued });
      return out;
    },
  };
}
