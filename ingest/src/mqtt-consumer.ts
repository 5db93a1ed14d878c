/**
 * The ingest's MQTT side: a persistent session (clean session off, QoS 1) whose PUBACKs are sent
 * only after the message is durable, in the order the messages arrived [MQTT-4.6.0-2].
 *
 * MQTT.js sends the PUBACK as soon as `handleMessage`'s callback runs and does not read the next
 * packet before that, which would allow one message per store write. So the callback runs at
 * once (reading goes on, up to INGEST_MAX_PENDING_MESSAGES unacknowledged messages, then it
 * waits: back-pressure on the TCP stream), and the PUBACK packet itself is held back here
 * until the message is durable. Held PUBACKs of a connection that dropped are discarded: the
 * broker redelivers those messages on the new connection and they are written again
 * (idempotently).
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
  done: boolean;
  send?: () => void;
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
    unacked: new Gauge({ name: 'wattproof_ingest_unacknowledged_messages', help: 'QoS 1 messages received and not yet acknowledged to the broker (or dropped with their connection)', registers: [registry] }),
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
  // Acks in arrival order; the head is released when done.
  const order: HeldAck[] = [];
  const byMessageId = new Map<number, HeldAck>();
  const waitingForRoom: Array<() => void> = [];
  let closing = false;

  function release(): void {
    while (order.length && order[0]!.done) {
      const head = order.shift()!;
      if (head.generation === generation) head.send?.();
    }
    metrics.unacked.set(order.length);
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
        if (packet.cmd === 'puback' && typeof packet.messageId === 'number') {
          const held = byMessageId.get(packet.messageId);
          if (held && !held.send) {
            byMessageId.delete(packet.messageId);
            held.send = () => originalSend(packet, undefined, cbStorePut, noStore);
            cb?.();
            release();
            return;
          }
        }
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
        metrics.unacked.set(order.length);
        byMessageId.set(packet.messageId, held);
        deps.accept(msg).then(
          () => {
            held.done = true;
            releaseBytes();
            release();
            onRoom();
          },
          (err: unknown) => {
            // Not durable: never acknowledge; the broker redelivers after a reconnect.
            logger.error({ ...messageLogFields(msg), err }, 'message not durable; it will be redelivered');
            byMessageId.forEach((v, k) => v === held && byMessageId.delete(k));
            const i = order.indexOf(held);
            if (i >= 0) order.splice(i, 1);
            releaseBytes();
            release();
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
        byMessageId.clear();
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
