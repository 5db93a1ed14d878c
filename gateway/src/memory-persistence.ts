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
 * and the array is compacted once the holes are half of it (amortized O(1)). Everything else is
 * kept as aedes-persistence does it, in the same order: the search of `outgoingUpdate` and
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
}

/** Compaction happens past this many holes at the front, and only when they are half the array. */
const COMPACT_MIN = 1024;

export class SessionQueueMemoryPersistence extends MemoryPersistence {
  readonly #queues = new Map<string, Queue>();

  #queue(clientId: string): Queue {
    let q = this.#queues.get(clientId);
    if (!q) this.#queues.set(clientId, (q = { items: [], head: 0 }));
    return q;
  }

  #enqueue(clientId: string, packet: unknown): void {
    const q = this.#queue(clientId);
    q.items.push(new MemoryPersistence.Packet(packet) as Packet);
  }

  override async outgoingEnqueue(sub: { clientId: string }, packet: unknown): Promise<void> {
    this.#enqueue(sub.clientId, packet);
  }

  override async outgoingEnqueueCombi(subs: ReadonlyArray<{ clientId: string }>, packet: unknown): Promise<void> {
    for (let i = 0; i < subs.length; i++) this.#enqueue(subs[i]!.clientId, packet);
  }

  override async outgoingUpdate(client: { id: string }, packet: Packet): Promise<void> {
    const q = this.#queue(client.id);
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
        q.items[i] = packet;
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
      q.items[i] = undefined;
      while (q.head < q.items.length && q.items[q.head] === undefined) q.head++;
      if (q.head === q.items.length) {
        q.items = [];
        q.head = 0;
      } else if (q.head >= COMPACT_MIN && q.head * 2 >= q.items.length) {
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
