/**
 * The ingest's MQTT side: a persistent session (clean session off, QoS 1) whose PUBACKs are sent
 * only after the message is durable, in the order the messages arrived [MQTT-4.6.0-2].
 *
 * MQTT.js sends the PUBACK as soon as `handleMessage`'s callback runs and does not read the next
 * packet before that, which would allow one message per store write. So the callback runs at
 * once (reading goes on, up to INGEST_MAX_PENDING_MESSAGES unacknowledged messages, then it
 * waits: back-pressure on the TCP stream), and MQTT.js's PUBACK is swallowed: this module writes
 * the PUBACKs itself, once a message is durable and every message that arrived before it is
 * settled. Held PUBACKs of a connection that dropped are discarded: the broker redelivers those
 * messages on the new connection and they are written again (idempotently).
 *
 * Before, MQTT.js's own PUBACK packet was held and sent on release. At the pending bound, where
 * the callback waits for room, a message could settle before MQTT.js asked to send its PUBACK:
 * a durable message then never got one, and a failed one got one (an acknowledged reading
 * lost). test/ingest/mqtt-consumer.test.ts holds both cases.
 */
import { connect, type IClientOptions, type MqttClient, type IPublishPacket, type Packet } from 'mqtt';
import { Counter, Gauge, Registry } from 'prom-client';
import { ALL_READINGS_FILTER, silentLogger, type Logger } from '@wattproof/core';
import { messageLogFields, type AcceptOutcome, type IncomingMessage } from './pipeline.js';

export interface ConsumerDeps {
  /** Handles one message; resolves when it is durable. */
  accept(msg: IncomingMessage): Promise<AcceptOutcome>;
  /** Messages accepted and not yet durable. */
  pending(): number;
  readonly logger?: Logger;
  /** MQTT.js connect (tests may wrap it). */
  readonly connect?: typeof connect;
  /** Prometheus registry for the consumer's metrics; a private one by default. */
  readonly metrics?: Registry;
}

export interface ConsumerConfig {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  readonly clientId: string;
  readonly maxPending: number;
  /**
   * Payload bytes of messages received and not yet durable before reading stops (unset: no byte
   * bound). With 1,000-reading messages a bound in messages alone let 20 million readings into the
   * heap (5.3 GB RSS, the event loop blocked for over 10 s in garbage collection in a backfill of a
   * year of data, docs/PERFORMANCE.md); payload bytes follow what the parsed messages will hold.
   */
  readonly maxPendingBytes?: number;
  readonly topic?: string;
}

interface HeldAck {
  readonly generation: number;
  /** The PUBLISH's topic and packet id (for logs). */
  readonly topic: string;
  readonly messageId: number;
  /** Durable: its PUBACK goes out once every message before it is settled. */
  done: boolean;
}

/**
 * PUBACKs (MQTT 3.1.1 §3.4: 0x40, remaining length 2, the packet id big-endian) for
 * `messageIds`, one after another in one buffer: a batch that became durable goes to the
 * socket in one write. Through MQTT.js each PUBACK was its own `writeToStream` (a packet object,
 * two buffers, a cork and a `process.nextTick`); that path was 5.7 % of the ingest's sampled CPU
 * at 10 readings per message and 40,000 readings/s (`npm run bench -- ingest --cpu-prof`,
 * 2026-12-02, docs/PERFORMANCE.md).
 */
export function encodePubacks(messageIds: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(messageIds.length * 4);
  for (let i = 0, o = 0; i < messageIds.length; i++, o += 4) {
    const id = messageIds[i]!;
    buf[o] = 0x40;
    buf[o + 1] = 0x02;
    buf[o + 2] = id >>> 8;
    buf[o + 3] = id & 0xff;
  }
  return buf;
}

/** Messages named in the "connection closed" log line at most (all are counted). */
const REDELIVERED_LOG_MAX_MESSAGES = 50;

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, cbStorePut?: () => void, noStore?: boolean) => void;

export function createMqttConsumer(deps: ConsumerDeps, config: ConsumerConfig) {
  const logger = deps.logger ?? silentLogger;
  const registry = deps.metrics ?? new Registry();
  const metrics = {
    // Counted when the connection drops, not from the DUP flag: aedes does not set DUP on redelivery.
    redeliveries: new Counter({ name: 'wattproof_ingest_redeliveries_total', help: 'QoS 1 messages whose PUBACK was still held when the broker connection dropped; the broker delivers them again', registers: [registry] }),
    unacked: new Gauge({
      name: 'wattproof_ingest_unacknowledged_messages',
      help: 'QoS 1 messages received and not yet acknowledged to the broker (or dropped with their connection)',
      registers: [registry],
      collect() {
        this.set(order.length);
      },
    }),
    connected: new Gauge({ name: 'wattproof_ingest_broker_connected', help: '1 while connected to the broker', registers: [registry] }),
    reconnects: new Counter({ name: 'wattproof_ingest_broker_reconnects_total', help: 'Connections to the broker after the first one', registers: [registry] }),
    // Read at scrape time, not set per message (the per-message path stays free of metric updates).
    pendingBytes: new Gauge({
      name: 'wattproof_ingest_pending_bytes',
      help: 'Payload bytes of messages received and not yet durable (bounded by INGEST_MAX_PENDING_BYTES)',
      registers: [registry],
      collect() {
        this.set(pendingBytes);
      },
    }),
  };
  const maxPendingBytes = config.maxPendingBytes ?? Number.POSITIVE_INFINITY;
  let pendingBytes = 0;
  let connects = 0;
  let client: MqttClient | undefined;
  let generation = 0;
  // Acks in arrival order; the heads are released when done.
  const order: HeldAck[] = [];
  const ackIds: number[] = [];
  let releaseQueued = false;
  const waitingForRoom: Array<() => void> = [];
  let closing = false;

  /**
   * Writes the PUBACKs of the settled messages at the head of `order`, of this connection, in one
   * write. Queued as a microtask, so that the messages of a batch that became durable together
   * (their promises settle in one go) are acknowledged together.
   */
  function release(): void {
    releaseQueued = false;
    let n = 0;
    while (n < order.length && order[n]!.done) n++;
    if (n === 0) return;
    ackIds.length = 0;
    for (let i = 0; i < n; i++) if (order[i]!.generation === generation) ackIds.push(order[i]!.messageId);
    order.splice(0, n);
    const stream = client?.stream;
    if (ackIds.length && client?.connected && stream && !stream.destroyed) stream.write(encodePubacks(ackIds));
  }

  function queueRelease(): void {
    if (releaseQueued) return;
    releaseQueued = true;
    queueMicrotask(release);
  }

  /** Room for one more message: below both bounds (a message larger than the byte bound still goes in alone). */
  function hasRoom(): boolean {
    return deps.pending() < config.maxPending && pendingBytes < maxPendingBytes;
  }

  function onRoom(): void {
    while (waitingForRoom.length && hasRoom()) waitingForRoom.shift()!();
  }

  /** Counts a message's payload until it is settled (durable, dead-lettered or failed). */
  function holdBytes(size: number): () => void {
    pendingBytes += size;
    return () => {
      pendingBytes -= size;
    };
  }

  return {
    /** Connects and subscribes; resolves on the first CONNACK + SUBACK. */
    async start(): Promise<void> {
      const options: IClientOptions = {
        clientId: config.clientId,
        clean: false,
        protocolVersion: 4,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
        resubscribe: false,
        ...(config.username ? { username: config.username } : {}),
        ...(config.password ? { password: config.password } : {}),
      };
      const c = (deps.connect ?? connect)(config.url, options);
      client = c;
      const originalSend = (c as unknown as { _sendPacket: SendPacket })._sendPacket.bind(c);
      (c as unknown as { _sendPacket: SendPacket })._sendPacket = (packet, cb, cbStorePut, noStore) => {
        // Every PUBACK MQTT.js would send answers a QoS 1 PUBLISH that went through handleMessage
        // below (MQTT 3.1.1: no reason codes), and `release` writes those: MQTT.js's is dropped,
        // and its callback (which lets MQTT.js read the next packet) runs now.
        if (packet.cmd === 'puback') return cb?.();
        originalSend(packet, cb, cbStorePut, noStore);
      };
      c.handleMessage = (packet: IPublishPacket, callback: (err?: Error) => void) => {
        const msg: IncomingMessage = {
          topic: packet.topic,
          payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
          clientId: config.clientId,
          ...(packet.messageId !== undefined ? { messageId: String(packet.messageId) } : {}),
        };
        const releaseBytes = holdBytes(msg.payload.length);
        if (packet.qos === 0 || packet.messageId === undefined) {
          void deps
            .accept(msg)
            .catch((err: unknown) => logger.error({ ...messageLogFields(msg), err }, 'QoS 0 message failed; lost'))
            .finally(() => {
              releaseBytes();
              onRoom();
            });
          return callback();
        }
        const held: HeldAck = { generation, topic: packet.topic, messageId: packet.messageId, done: false };
        order.push(held);
        deps.accept(msg).then(
          () => {
            held.done = true;
            releaseBytes();
            queueRelease();
            onRoom();
          },
          (err: unknown) => {
            // Not durable: never acknowledge; the broker redelivers after a reconnect.
            logger.error({ ...messageLogFields(msg), err }, 'message not durable; it will be redelivered');
            const i = order.indexOf(held);
            if (i >= 0) order.splice(i, 1);
            releaseBytes();
            queueRelease();
            onRoom();
          },
        );
        if (hasRoom()) callback();
        else waitingForRoom.push(() => callback());
      };
      c.on('close', () => {
        // Acks still held belong to the old connection: its messages come again.
        const held = order.filter((h) => h.generation === generation);
        metrics.redeliveries.inc(held.length);
        generation++;
        metrics.connected.set(0);
        if (!closing) {
          const messages = held.slice(0, REDELIVERED_LOG_MAX_MESSAGES).map((h) => ({ topic: h.topic, messageId: String(h.messageId) }));
          logger.warn({ redelivered: held.length, ...(messages.length ? { messages } : {}) }, 'broker connection closed; unacknowledged messages will be redelivered; reconnecting');
        }
      });
      c.on('error', (err) => logger.warn({ err: err.message }, 'mqtt error'));
      c.on('connect', (connack) => {
        // MQTT.js does not set TCP_NODELAY; without it acknowledgements wait on Nagle's algorithm.
        (c.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
        metrics.connected.set(1);
        if (connects++ > 0) metrics.reconnects.inc();
        logger.info({ sessionPresent: connack.sessionPresent }, 'connected to broker');
        c.subscribe(config.topic ?? ALL_READINGS_FILTER, { qos: 1 }, (err, granted) => {
          if (err || granted?.some((g) => g.qos === 128)) logger.error({ err, granted }, 'subscription refused');
        });
      });
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => {
          if (!c.connected) {
            c.removeListener('connect', onConnect);
            reject(err);
          }
        };
        const onConnect = () => {
          c.removeListener('error', onError);
          c.subscribe(config.topic ?? ALL_READINGS_FILTER, { qos: 1 }, (err) => (err ? reject(err) : resolve()));
        };
        c.once('connect', onConnect);
        c.once('error', onError);
      });
    },
    connected(): boolean {
      return client?.connected ?? false;
    },
    /** Disconnects; messages not yet acknowledged are redelivered to the next session. */
    async close(force = false): Promise<void> {
      closing = true;
      if (force) generation++;
      waitingForRoom.splice(0).forEach((w) => w());
      if (client) {
        const c = client;
        await new Promise<void>((resolve) => c.end(force, {}, () => resolve()));
      }
    },
  };
}
