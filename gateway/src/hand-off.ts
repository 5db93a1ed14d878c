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
 * a refusal (which disconnects) only after the PUBACKs before it were written.
 */
import type { Aedes, Client, PublishPacket } from 'aedes';

export interface HandOff {
  /**
   * Publishes `packet` through the broker now; resolves with null when `broker.publish()`
   * completed, or with its error (never rejects). aedes' later publish of the same packet is skipped.
   */
  publish(client: Client, packet: PublishPacket): Promise<Error | null>;
  /**
   * Calls `callback` with `outcome` once the outcomes of every earlier call for this client have
   * been called back. `outcome` must not reject.
   */
  inOrder(client: Client, outcome: Promise<Error | null>, callback: (error: Error | null) => void): void;
}

type PublishFn = (packet: PublishPacket, client: Client | null, done?: (error?: Error | null) => void) => void;

/** Installs the hand-off on `broker` (its `publish` is wrapped on the instance). */
export function createHandOff(broker: Aedes): HandOff {
  const handedOff = new WeakSet<PublishPacket>();
  const tails = new WeakMap<Client, Promise<Error | null>>();
  const target = broker as unknown as { publish: PublishFn };
  const publish = target.publish.bind(broker);
  target.publish = (packet, client, done) => {
    // The packet aedes publishes after the PUBACK is the very object authorizePublish got.
    if (handedOff.delete(packet)) return done?.(null);
    publish(packet, client, done);
  };

  return {
    publish(client, packet) {
      return new Promise((resolve) => {
        handedOff.add(packet);
        publish(packet, client, (error) => {
          if (error) handedOff.delete(packet);
          resolve(error ?? null);
        });
      });
    },
    inOrder(client, outcome, callback) {
      const previous = tails.get(client);
      const mine = (previous ? previous.then(() => outcome) : outcome).then((error) =>
        // An error makes aedes destroy the connection at once. mqtt-packet corks the socket until the
        // next tick, so the PUBACKs of the messages accepted just before would be discarded with it:
        // give them one turn of the event loop to reach the socket first.
        error ? new Promise<Error>((resolve) => setImmediate(resolve, error)) : null,
      );
      tails.set(client, mine);
      void mine.then(callback);
    },
  };
}
