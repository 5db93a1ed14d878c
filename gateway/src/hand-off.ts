/**
 * Durable hand-off of QoS 1 publishes: the PUBACK to a device goes out only after the message is
 * in the session store for every persistent subscriber session.
 *
 * aedes 1.2 acknowledges first: `enqueuePublish` (lib/handlers/publish.js, case 1) writes the
 * PUBACK and only then calls `broker.publish()`, which stores a retained message, queues the
 * message for every persistent session with a matching QoS > 0 subscription
 * (`enqueueOffline` → `persistence.outgoingEnqueueCombi`, online sessions included) and then
 * emits it to the connected subscribers (`deliverQoS`: `outgoingUpdate`, write to the socket).
 * So a gateway that stopped between the PUBACK and that write lost a message the device had been
 * told was safe. (QoS 2 is stored and published before the PUBREC already.)
 *
 * The gateway reorders that from `authorizePublish`, the last hook before the PUBACK: it calls
 * `broker.publish()` itself and calls back only when that completed — queued in the session store
 * (and written to connected subscribers' sockets). aedes' own `broker.publish()` of the same
 * packet object after the PUBACK is then skipped. If the publish fails, the error goes to the
 * callback and aedes disconnects the client without a PUBACK, so the device resends it.
 *
 * A socket read holding several PUBLISH packets is authorized concurrently; `inOrder` calls back
 * in arrival order so that the PUBACKs keep the order of the PUBLISH packets [MQTT-4.6.0-2], and
 * a refusal (which disconnects) only after the PUBACKs before it were written. An outcome known
 * at once (a QoS 0 PUBLISH that passed the checks) with nothing of its client still waiting is
 * called back at once, as aedes' own hooks do.
 *
 * Overload. Every `broker.publish()` goes through here, so here is also where the deliveries in
 * progress are bounded (`maxInFlight`, GATEWAY_MAX_PUBLISHES_IN_FLIGHT). A delivery stays in
 * progress until it is stored and written to every subscriber's socket; when the subscriber (the
 * ingest) reads slower than devices publish, its socket stops draining and deliveries pile up.
 * aedes bounds them with mqemitter's `concurrency` (100) and an *unbounded* queue behind it, and
 * mqemitter releases that queue recursively on one stack: measured in bench/broker.ts, 20k msg/s
 * at QoS 0 crashed the gateway in 2 of 2 turns with `RangeError: Maximum call stack size exceeded`
 * (`released → _do → parallel → released`, mcollina/mqemitter#204). So the gateway runs aedes
 * with `concurrency: 0` (mqemitter queues nothing) and this module is the queue instead: past
 * the bound a device's QoS 0 publish is dropped (`onShed`: at most once, and it was never
 * acknowledged) and anything else waits its turn in arrival order. A waiting publish holds back
 * its PUBACK and aedes reads nothing more from that device's socket until it is published, so
 * the devices are slowed by TCP back-pressure instead of the gateway's memory growing. Waiters
 * are started from a loop, never from inside the callback of the publish that made room, so a
 * long queue cannot recurse either.
 */
import type { Aedes, Client, PublishPacket } from 'aedes';

export interface HandOff {
  /**
   * Publishes `packet` through the broker now; calls `done` with null when `broker.publish()`
   * completed, or with its error. aedes' later publish of the same packet is skipped.
   */
  publish(client: Client, packet: PublishPacket, done: (error: Error | null) => void): void;
  /**
   * Calls `callback` with `outcome` once the outcomes of every earlier call for this client have
   * been called back: synchronously when `outcome` is null and no earlier one is waiting. A
   * promised `outcome` must not reject.
   */
  inOrder(client: Client, outcome: Error | null | Promise<Error | null>, callback: (error: Error | null) => void): void;
  /**
   * Takes the client's next place in the order of `inOrder` and `take` for an outcome known later:
   * `callback` runs once `settle` was called on the place and every earlier place of the client was
   * called back. What `inOrder` does with a promise, without one.
   */
  take(client: Client, callback: (error: Error | null) => void): Place;
  /** Deliveries in progress and publishes waiting for one of the `maxInFlight` slots. */
  stats(): { inFlight: number; waiting: number };
}

/** A client's place in the order of callbacks (`HandOff.take`). */
export interface Place {
  /** The outcome of this place; called once. */
  settle(error: Error | null): void;
}

export interface HandOffOptions {
  /** Deliveries in progress at most (GATEWAY_MAX_PUBLISHES_IN_FLIGHT). */
  readonly maxInFlight: number;
  /** A device's QoS 0 publish dropped because `maxInFlight` deliveries were in progress. */
  readonly onShed?: (client: Client, packet: PublishPacket) => void;
}

/** Nested publish starts on one stack before the next waits for setImmediate (see `start`). */
const MAX_DEPTH = 32;

type Done = (error?: Error | null) => void;
type PublishFn = (packet: PublishPacket, client: Client | null | Done, done?: Done) => void;

/**
 * Installs the hand-off on `broker` (its `publish` is wrapped on the instance). The broker must
 * run with `concurrency: 0`, so that the bound here is the only queue.
 */
export function createHandOff(broker: Aedes, options: HandOffOptions): HandOff {
  const handedOff = new WeakSet<PublishPacket>();
  // Each client's places still to be called back. A client's Line is made once and kept: setting
  // a WeakMap entry per message (the promise chain's tail, before) cost ~250 ns against ~20 ns for
  // a get (node micro-benchmark, V8 11.3).
  const lines = new WeakMap<Client, Line>();
  function lineOf(client: Client): Line {
    let line = lines.get(client);
    if (line === undefined) {
      line = new Line();
      lines.set(client, line);
    }
    return line;
  }
  const target = broker as unknown as { publish: PublishFn };
  const publish = target.publish.bind(broker);
  const max = Math.max(1, options.maxInFlight);
  let inFlight = 0;
  // FIFO of publishes waiting for a slot; `head` avoids Array#shift's O(n) on a long queue.
  let waiting: Array<() => void> = [];
  let head = 0;
  let pumping = false;
  // A publish can complete on the stack that started it (QoS 0 to a socket with room), and its
  // completion makes aedes read and publish the device's next packet: past MAX_DEPTH nested
  // starts the next one waits for setImmediate instead, so that chain cannot overflow the stack.
  let depth = 0;
  let pumpScheduled = false;

  function start(packet: PublishPacket, client: Client | null, done: (error?: Error | null) => void): void {
    inFlight++;
    depth++;
    try {
      publish(packet, client, (error) => {
        inFlight--;
        done(error);
        pump();
      });
    } finally {
      depth--;
    }
  }
  function schedulePump(): void {
    if (pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(() => {
      pumpScheduled = false;
      pump();
    });
  }
  /** Starts waiters while there is room; re-entrant calls (a publish that completed synchronously) return at once. */
  function pump(): void {
    if (pumping) return;
    pumping = true;
    try {
      while (inFlight < max && head < waiting.length) {
        if (depth >= MAX_DEPTH) return schedulePump();
        const next = waiting[head]!;
        waiting[head++] = undefined as unknown as () => void;
        next();
      }
      if (head === waiting.length) {
        waiting = [];
        head = 0;
      }
    } finally {
      pumping = false;
    }
  }
  function admit(packet: PublishPacket, client: Client | null, done: (error?: Error | null) => void): void {
    if (inFlight < max && head === waiting.length && depth < MAX_DEPTH) return start(packet, client, done);
    waiting.push(() => start(packet, client, done));
    if (inFlight < max) schedulePump();
  }

  target.publish = (packet, clientOrDone, maybeDone) => {
    // aedes' own $SYS publishes call publish(packet, done), as its signature allows.
    const client = typeof clientOrDone === 'function' ? null : clientOrDone;
    const done = (typeof clientOrDone === 'function' ? clientOrDone : maybeDone) ?? (() => undefined);
    // The packet aedes publishes after the PUBACK is the very object authorizePublish got.
    if (handedOff.delete(packet)) return done(null);
    // A device's QoS 0 publish past the bound is dropped: QoS 0 is at most once and nothing acknowledged it.
    if (client && packet.qos === 0 && inFlight + (waiting.length - head) >= max) {
      options.onShed?.(client, packet);
      return done(null);
    }
    admit(packet, client, done);
  };

  return {
    publish(client, packet, done) {
      handedOff.add(packet);
      admit(packet, client, (error) => {
        if (error) handedOff.delete(packet);
        done(error ?? null);
      });
    },
    stats: () => ({ inFlight, waiting: waiting.length - head }),
    take: (client, callback) => lineOf(client).take(callback),
    inOrder(client, outcome, callback) {
      const line = lineOf(client);
      // Nothing to wait for: called back at once. Chaining every QoS 0 publish through four
      // promises (with authorizePublish's own) was 2-3 % of the gateway's profiled time at 10k
      // msg/s QoS 0 (`runMicrotasks` and the chain's closures, `npm run bench -- broker --cpu-prof`);
      // in process (hook and broker.publish, no sockets, medians of 7) a QoS 0 PUBLISH went from
      // 1.23 to 0.96 µs.
      if (outcome === null && line.head === undefined) return callback(null);
      const place = line.take(callback);
      if (outcome instanceof Promise) void outcome.then((error) => place.settle(error));
      else place.settle(outcome);
    },
  };
}

/**
 * The places of one client still to be called back, oldest first. A linked list of plain objects
 * instead of a chain of promises: QoS 1 took five promises and their closures per message through
 * `inOrder` (measured in docs/PERFORMANCE.md, "The QoS 1 hand-off without promises").
 */
class Line {
  head: Slot | undefined = undefined;
  tail: Slot | undefined = undefined;
  /** A refusal at the head waits for its turn of the event loop (see `flush`). */
  holding = false;

  take(callback: (error: Error | null) => void): Slot {
    const slot = new Slot(this, callback);
    if (this.tail === undefined) this.head = slot;
    else this.tail.next = slot;
    this.tail = slot;
    return slot;
  }

  /** Calls back the settled places at the head, in order. Re-entrant: a callback may settle later places. */
  flush(): void {
    while (!this.holding) {
      const slot = this.head;
      if (slot === undefined || !slot.settled) return;
      if (slot.error !== null) {
        // An error makes aedes destroy the connection at once. mqtt-packet corks the socket until
        // the next tick, so the PUBACKs of the messages accepted just before would be discarded
        // with it: give them one turn of the event loop to reach the socket first.
        this.holding = true;
        setImmediate(() => {
          this.holding = false;
          this.pop(slot);
          slot.callback(slot.error);
          this.flush();
        });
        return;
      }
      this.pop(slot);
      slot.callback(null);
    }
  }

  private pop(slot: Slot): void {
    this.head = slot.next;
    if (this.head === undefined) this.tail = undefined;
  }
}

class Slot implements Place {
  next: Slot | undefined = undefined;
  settled = false;
  error: Error | null = null;
  constructor(
    private readonly line: Line,
    readonly callback: (error: Error | null) => void,
  ) {}

  settle(error: Error | null): void {
    if (this.settled) return;
    this.settled = true;
    this.error = error;
    this.line.flush();
  }
}
