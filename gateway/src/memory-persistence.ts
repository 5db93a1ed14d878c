/**
 * The in-memory session store (GATEWAY_PERSISTENCE_DIR unset): aedes-persistence 11's memory
 * persistence with the queues of messages for each session replaced.
 *
 * aedes-persistence keeps a session's queue in one array and removes an acknowledged message with
 * `splice(i, 1)`, which moves every message behind it: O(queue length) per PUBACK of the
 * subscriber. With the ingest draining a backlog that is the gateway's whole cost per message —
 * `node`, splice(0, 1) + push on an array of n objects: 1.6 µs at n = 1,000, 200 µs at 100,000 and
 * 809 µs at 500,000 (GATEWAY_MAX_QUEUED_MESSAGES' default), so a drain of 500,000 queued messages
 * could not exceed ~1,200 acknowledgements/s (`npm run bench -- session-queue` measures both).
 *
 * Here a removed message leaves a hole, the start of the queue moves past the holes at its front,
 * and the array is compacted once the holes are half of it (amortized O(1)).
 *
 * `outgoingUpdate` finds its message through an index by broker counter (O(1)). aedes-persistence
 * searches from the front, but aedes updates the message it is about to write to the subscriber:
 * with the subscriber online that is the newest one, behind every message delivered to it and not
 * yet acknowledged. So the search cost grew with the messages in flight to the ingest, about 8 ns
 * each: 1.5 µs per message at 100 in flight, 41 µs at 5,000, 79 µs at 10,000 — a lagging ingest
 * made every message cost the gateway more just when it fell behind. With the index: 2.8 µs per
 * message (deliver, acknowledge, queue) at 5,000 in flight as at 100 (`npm run bench --
 * session-queue --window 5000`; docs/PERFORMANCE.md, "The session queue's search for the message
 * being delivered"). The index answers what the search from the front answers, the first queued
 * message with the packet's broker id and counter; while the queue holds messages of another
 * broker id (a message id of one could match too) or the index has no entry, the search runs as
 * before. It costs about 29
 * bytes of heap per queued message: 14 MiB more at GATEWAY_MAX_QUEUED_MESSAGES' 500,000 (64.3
 * against 50.3 MiB for the queue with 10-byte payloads, node --expose-gc, heap after gc()).
 *
 * Everything else is kept as aedes-persistence does it, in the same order: the search of
 * `outgoingClearMessageId` for the first matching message from the front (a subscriber
 * acknowledges mostly in order, so it stops near the front), the error for an update of an
 * unknown message, a snapshot for `outgoingStream`. test/gateway/memory-persistence.test.ts runs
 * aedes-persistence's own test suite (abstract.js) against it.
 */
import { Readable } from 'node:stream';
import MemoryPersistence from 'aedes-persistence/asyncPersistence.js';

type Packet = { brokerId?: string; brokerCounter?: number; messageId?: number } & Record<string, unknown>;

/** One session's queue: `items[head..]` with holes (undefined) where messages were removed. */
interface Queue {
  items: Array<Packet | undefined>;
  head: number;
  /** Messages removed from the front of `items` by compaction so far: `base + i` is the position of `items[i]` for good. */
  base: number;
  /** Queued messages per broker id: while there is one id, a broker counter alone finds a message. */
  readonly brokers: Map<unknown, number>;
  /** Per broker id, the position (`base + i`) of the first queued message with each broker counter. */
  readonly positions: Map<string, Map<number, number>>;
}

/** Compaction happens past this many holes at the front, and only when they are half the array. */
const COMPACT_MIN = 1024;

export class SessionQueueMemoryPersistence extends MemoryPersistence {
  readonly #queues = new Map<string, Queue>();

  #queue(clientId: string): Queue {
    let q = this.#queues.get(clientId);
    if (!q) this.#queues.set(clientId, (q = { items: [], head: 0, base: 0, brokers: new Map(), positions: new Map() }));
    return q;
  }

  /** Puts `item` at `items[i]` (a new message at the end, or one replacing another) and indexes it. */
  #place(q: Queue, i: number, item: Packet): void {
    q.items[i] = item;
    q.brokers.set(item.brokerId, (q.brokers.get(item.brokerId) ?? 0) + 1);
    if (typeof item.brokerId !== 'string' || typeof item.brokerCounter !== 'number') return;
    let byCounter = q.positions.get(item.brokerId);
    if (!byCounter) q.positions.set(item.brokerId, (byCounter = new Map()));
    const first = byCounter.get(item.brokerCounter);
    if (first === undefined || first > q.base + i) byCounter.set(item.brokerCounter, q.base + i);
  }

  /** Removes `items[i]` from the counts and the index (the caller overwrites it). */
  #unindex(q: Queue, i: number, item: Packet): void {
    const n = (q.brokers.get(item.brokerId) ?? 0) - 1;
    if (n > 0) q.brokers.set(item.brokerId, n);
    else q.brokers.delete(item.brokerId);
    if (typeof item.brokerId !== 'string' || typeof item.brokerCounter !== 'number') return;
    const byCounter = q.positions.get(item.brokerId);
    // A second copy of the message further back (two matching subscriptions) is not indexed: found by the search.
    if (byCounter?.get(item.brokerCounter) === q.base + i) {
      byCounter.delete(item.brokerCounter);
      if (byCounter.size === 0) q.positions.delete(item.brokerId);
    }
  }

  #enqueue(clientId: string, packet: unknown): void {
    const q = this.#queue(clientId);
    this.#place(q, q.items.length, new MemoryPersistence.Packet(packet) as Packet);
  }

  override async outgoingEnqueue(sub: { clientId: string }, packet: unknown): Promise<void> {
    this.#enqueue(sub.clientId, packet);
  }

  override async outgoingEnqueueCombi(subs: ReadonlyArray<{ clientId: string }>, packet: unknown): Promise<void> {
    for (let i = 0; i < subs.length; i++) this.#enqueue(subs[i]!.clientId, packet);
  }

  override async outgoingUpdate(client: { id: string }, packet: Packet): Promise<void> {
    const q = this.#queue(client.id);
    if (q.brokers.size === 1 && typeof packet.brokerId === 'string' && typeof packet.brokerCounter === 'number' && q.brokers.has(packet.brokerId)) {
      const at = q.positions.get(packet.brokerId)?.get(packet.brokerCounter);
      const item = at === undefined ? undefined : q.items[at - q.base];
      if (item !== undefined && item.brokerCounter === packet.brokerCounter && item.brokerId === packet.brokerId) {
        item.messageId = packet.messageId;
        return;
      }
    }
    for (let i = q.head; i < q.items.length; i++) {
      const item = q.items[i];
      if (item === undefined) continue;
      if (item.brokerId === packet.brokerId) {
        if (item.brokerCounter === packet.brokerCounter) {
          item.messageId = packet.messageId;
          return;
        }
        // Packet identifiers rotate at 65,535: the broker counter tells same-id messages of one broker apart.
      } else if (item.messageId === packet.messageId) {
        this.#unindex(q, i, item);
        this.#place(q, i, packet);
        return;
      }
    }
    throw new Error('no such packet');
  }

  override async outgoingClearMessageId(client: { id: string }, packet: { messageId?: number }): Promise<Packet | undefined> {
    const q = this.#queues.get(client.id);
    if (!q) return undefined;
    for (let i = q.head; i < q.items.length; i++) {
      const item = q.items[i];
      if (item === undefined || item.messageId !== packet.messageId) continue;
      this.#unindex(q, i, item);
      q.items[i] = undefined;
      while (q.head < q.items.length && q.items[q.head] === undefined) q.head++;
      if (q.head === q.items.length) {
        q.base += q.items.length;
        q.items = [];
        q.head = 0;
      } else if (q.head >= COMPACT_MIN && q.head * 2 >= q.items.length) {
        q.base += q.head;
        q.items = q.items.slice(q.head);
        q.head = 0;
      }
      return item;
    }
    return undefined;
  }

  override outgoingStream(client: { id: string }): Readable {
    const q = this.#queues.get(client.id);
    // A copy, as aedes-persistence's: messages queued or removed while the stream is read do not change it.
    const snapshot: Packet[] = [];
    if (q) for (let i = q.head; i < q.items.length; i++) if (q.items[i] !== undefined) snapshot.push(q.items[i]!);
    return Readable.from(snapshot);
  }
}
