/**
 * A minimal MQTT 3.1.1 client over `net` for the load generators: CONNECT, PUBLISH QoS 0/1
 * with in-flight accounting, SUBSCRIBE, PUBACK on receipt, PINGREQ. PUBLISH and PUBACK are
 * encoded by hand (a handful of bytes); everything received is decoded by mqtt-packet, the
 * parser MQTT.js uses. Thousands of these fit in one process, where MQTT.js clients each carry
 * a store, timers and reconnect logic the benchmark does not want to measure.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { generate, parser as createParser, type IPublishPacket, type Packet } from 'mqtt-packet';

export interface RawClientOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  /** Clean session (default true). */
  readonly clean?: boolean;
  /** Keep-alive in seconds (default 60); a PINGREQ goes out every half of it. */
  readonly keepaliveS?: number;
  /** Source address, e.g. 127.0.0.2, when the ephemeral ports of one address run out. */
  readonly localAddress?: string;
  /** Time allowed for TCP connect + CONNACK, ms (default 60,000). */
  readonly connectTimeoutMs?: number;
}

export interface RawClientHandlers {
  /** A QoS 1 PUBLISH of ours was acknowledged; `sentAtMs` is what `publish` was given. */
  onPuback?(sentAtMs: number): void;
  /** A PUBLISH arrived (already PUBACKed when QoS 1). */
  onPublish?(packet: IPublishPacket): void;
  /** The connection closed after CONNACK (broker gone, kicked, or `close()`). */
  onClose?(error: Error | undefined): void;
}

export interface RawClient {
  readonly socket: Socket;
  /** QoS 1 PUBLISHes not yet acknowledged. */
  inflight(): number;
  /** True when the socket has taken everything written so far or less than `highWaterBytes` is queued. */
  writable(highWaterBytes?: number): boolean;
  /** Writes a PUBLISH; `sentAtMs` is handed back to onPuback for QoS 1. */
  publish(topic: Buffer, payload: Buffer | string, qos: 0 | 1, sentAtMs?: number): void;
  subscribe(filter: string, qos: 0 | 1): Promise<number[]>;
  /** DISCONNECT and close; resolves when the socket is closed. */
  close(): Promise<void>;
  readonly closed: boolean;
}

/** Error of a refused CONNECT, with the CONNACK return code (4 bad credentials, 5 not authorized, 3 unavailable). */
export class ConnackError extends Error {
  constructor(readonly returnCode: number) {
    super(`CONNACK return code ${returnCode}`);
  }
}

/** Bytes of the MQTT variable-length "remaining length" (MQTT 3.1.1 §2.2.3). */
function remainingLengthBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** Encodes a PUBLISH (MQTT 3.1.1 §3.3): fixed header, topic, message id when QoS 1, payload (a string is written as UTF-8). */
export function encodePublish(topic: Buffer, payload: Buffer | string, qos: 0 | 1, messageId = 0): Buffer {
  const payloadBytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const remaining = 2 + topic.length + (qos ? 2 : 0) + payloadBytes;
  const buf = Buffer.allocUnsafe(1 + remainingLengthBytes(remaining) + remaining);
  let o = 0;
  buf[o++] = 0x30 | (qos << 1);
  let r = remaining;
  do {
    let byte = r % 128;
    r = Math.floor(r / 128);
    if (r > 0) byte |= 0x80;
    buf[o++] = byte;
  } while (r > 0);
  buf.writeUInt16BE(topic.length, o);
  o += 2;
  o += topic.copy(buf, o);
  if (qos) {
    buf.writeUInt16BE(messageId, o);
    o += 2;
  }
  if (typeof payload === 'string') buf.write(payload, o);
  else payload.copy(buf, o);
  return buf;
}

/** PUBACK (§3.4) for `messageId`. */
export function encodePuback(messageId: number): Buffer {
  return Buffer.from([0x40, 0x02, messageId >> 8, messageId & 0xff]);
}

const PINGREQ = Buffer.from([0xc0, 0x00]);
const DISCONNECT = Buffer.from([0xe0, 0x00]);

/**
 * Opens a TCP connection, sends CONNECT and resolves on CONNACK 0.
 * @throws ConnackError when the broker refuses; Error on timeout or socket error.
 */
export function connectRaw(options: RawClientOptions, handlers: RawClientHandlers = {}): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: options.host, port: options.port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    socket.setNoDelay(true);
    const parser = createParser();
    // message id -> sentAtMs of our QoS 1 PUBLISHes awaiting PUBACK.
    const pending = new Map<number, number>();
    let nextId = 1;
    let connected = false;
    let closed = false;
    let pingTimer: NodeJS.Timeout | undefined;
    let subscribeWaiter: ((granted: number[]) => void) | undefined;
    const keepaliveS = options.keepaliveS ?? 60;
    let corked = false;
    const uncork = () => {
      corked = false;
      socket.uncork();
    };
    const timeout = setTimeout(() => fail(new Error(`no CONNACK within ${options.connectTimeoutMs ?? 60_000} ms`)), options.connectTimeoutMs ?? 60_000);

    function fail(err: Error): void {
      if (connected) return;
      clearTimeout(timeout);
      closed = true;
      socket.destroy();
      reject(err);
    }

    const client: RawClient = {
      socket,
      inflight: () => pending.size,
      writable: (highWaterBytes = 64 * 1024) => !closed && socket.writableLength < highWaterBytes,
      publish(topic, payload, qos, sentAtMs = 0) {
        // Everything published to this connection in one tick goes out in one write (as MQTT.js
        // does through mqtt-packet writeToStream: cork, uncork on the next tick).
        if (!corked) {
          corked = true;
          socket.cork();
          process.nextTick(uncork);
        }
        if (qos === 0) {
          socket.write(encodePublish(topic, payload, 0));
          return;
        }
        // Ids 1..65535 [MQTT-2.3.1-1]; skip any still in flight.
        while (pending.has(nextId)) nextId = nextId === 65_535 ? 1 : nextId + 1;
        const id = nextId;
        nextId = nextId === 65_535 ? 1 : nextId + 1;
        pending.set(id, sentAtMs);
        socket.write(encodePublish(topic, payload, 1, id));
      },
      subscribe(filter, qos) {
        return new Promise((res) => {
          subscribeWaiter = res;
          socket.write(generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] }));
        });
      },
      close() {
        return new Promise((res) => {
          if (closed) return res();
          socket.once('close', () => res());
          socket.end(DISCONNECT);
        });
      },
      get closed() {
        return closed;
      },
    };

    function onPubackId(id: number): void {
      const sentAt = pending.get(id);
      if (sentAt !== undefined) {
        pending.delete(id);
        handlers.onPuback?.(sentAt);
      }
    }

    parser.on('packet', (packet: Packet) => {
      switch (packet.cmd) {
        case 'publish':
          if (packet.qos > 0 && packet.messageId !== undefined) socket.write(encodePuback(packet.messageId));
          handlers.onPublish?.(packet);
          break;
        case 'puback':
          onPubackId(packet.messageId ?? 0);
          break;
        case 'connack':
          if (packet.returnCode !== 0) return fail(new ConnackError(packet.returnCode ?? -1));
          connected = true;
          clearTimeout(timeout);
          if (keepaliveS > 0) {
            pingTimer = setInterval(() => socket.write(PINGREQ), (keepaliveS * 1000) / 2);
            pingTimer.unref();
          }
          resolve(client);
          break;
        case 'suback':
          subscribeWaiter?.((packet.granted as Array<number | { qos: number }>).map((g) => (typeof g === 'number' ? g : g.qos)));
          subscribeWaiter = undefined;
          break;
        default:
          break;
      }
    });
    parser.on('error', (err: Error) => socket.destroy(err));
    let buffered = 0;
    socket.on('data', (chunk: Buffer) => {
      // Fast path for what a publisher mostly receives, whole PUBACKs (0x40 0x02 id id), when the
      // parser holds no partial packet: no packet object, no event.
      let o = 0;
      if (buffered === 0) {
        while (o + 4 <= chunk.length && chunk[o] === 0x40 && chunk[o + 1] === 0x02) {
          onPubackId((chunk[o + 2]! << 8) | chunk[o + 3]!);
          o += 4;
        }
        if (o === chunk.length) return;
      }
      // One write for all the PUBACKs a chunk of PUBLISHes produces.
      socket.cork();
      buffered = parser.parse(o ? chunk.subarray(o) : chunk);
      socket.uncork();
    });
    socket.on('error', (err) => fail(err));
    socket.on('close', () => {
      if (pingTimer) clearInterval(pingTimer);
      const wasConnected = connected;
      if (!connected) fail(new Error('connection closed before CONNACK'));
      closed = true;
      if (wasConnected) handlers.onClose?.(undefined);
    });
    socket.write(
      generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: options.clientId,
        clean: options.clean ?? true,
        keepalive: keepaliveS,
        ...(options.username !== undefined ? { username: options.username } : {}),
        ...(options.password !== undefined ? { password: Buffer.from(options.password) } : {}),
      }),
    );
  });
}
