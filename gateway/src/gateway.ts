/**
 * The MQTT gateway: an aedes broker with per-device credentials (hashed secrets in the
 * registry, core/src/credentials.ts), topic ACLs, payload limits and dead letters for what it refuses.
 *
 * Delivery (docs/RELIABILITY.md): sessions live in the session store (session-store.ts; on disk
 * with GATEWAY_PERSISTENCE_DIR); a QoS 1 PUBACK goes out only after the message is queued there
 * for every persistent subscriber session (hand-off.ts); and a session's queue is bounded by
 * GATEWAY_MAX_QUEUED_MESSAGES and GATEWAY_MAX_QUEUED_BYTES, past which publishes are refused
 * without PUBACK (backlog.ts).
 *
 * Listeners: TCP always; TLS and WebSocket when configured. TCP_NODELAY is set on every socket
 * (neither aedes nor MQTT.js sets it; without it p99 latency was 30-40 ms instead of 2-4 ms here).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import { Registry } from 'prom-client';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { encodeDeadLetterPayload, parseStatusMessage, printable, silentLogger, verifySecret, type Logger, type RegistryStore, type TopicChannel } from '@wattproof/core';
import { canSubscribe, createPublishRights, type Identity, type PublishRights } from './acl.js';
import type { GatewayConfig } from './config.js';
import { gatewayError, type GATEWAY_ERRORS } from './errors.js';
import { createGatewayMetrics } from './metrics.js';
import { createAuthLimiter } from './auth-limiter.js';
import { createBacklog, type Admission, type Backlog, type SessionQueue } from './backlog.js';
import { createHandOff, type HandOff } from './hand-off.js';
import { openSessionStore, type QueuePersistence, type SessionStore } from './session-store.js';
import { openClusterStore } from './cluster.js';
import { openStreamSink, type StreamSink, type StreamSinkStats } from './stream-sink.js';
import { coalesceWrites } from './write-coalescing.js';
import { cacheMatcherMatches, mqMatcher, type TopicMatchCache } from './match-cache.js';

export interface GatewayDeps {
  readonly registry: RegistryStore;
  readonly logger?: Logger;
  /** Epoch-ms clock (tests). */
  readonly clock?: () => number;
  /** Prometheus registry to register metrics on; a private one by default. */
  readonly metrics?: Registry;
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface GatewayAddresses {
  readonly mqtt: ListenAddress;
  readonly mqtts?: ListenAddress;
  readonly ws?: ListenAddress & { readonly path: string };
}

export interface Gateway {
  /** Starts the broker and its listeners; resolves with the bound addresses. */
  start(): Promise<GatewayAddresses>;
  /** Stops accepting, disconnects clients, closes the broker. */
  close(): Promise<void>;
  /** The running broker (after start). */
  broker(): Aedes;
  /** Counts for /health. */
  stats(): GatewayStats;
  /** The backlog of the persistent subscriber sessions (after start). */
  backlog(): BacklogStatus;
  /**
   * Readiness: listening, and no persistent subscriber session at GATEWAY_MAX_QUEUED_MESSAGES or GATEWAY_MAX_QUEUED_BYTES
   * (publishes to it are being refused). Each failed check is named in `reasons`.
   */
  ready(): { ready: boolean; reasons: string[] };
}

export interface GatewayStats {
  readonly connectedClients: number;
  readonly startedAtMs: number | null;
  /** Where sessions live: `memory` (lost on restart) or `disk` (GATEWAY_PERSISTENCE_DIR). */
  readonly sessionStore: 'memory' | 'disk' | 'redis';
  /** The readings streams (GATEWAY_STREAM_REDIS_URL), when the gateway hands readings off through them. */
  readonly stream?: StreamSinkStats;
  /** Messages queued for all persistent subscriber sessions. */
  readonly queuedMessages: number;
  /** Publishes being delivered now (at most GATEWAY_MAX_PUBLISHES_IN_FLIGHT). */
  readonly publishesInFlight: number;
  /** Publishes waiting for a delivery slot (overload: their PUBACKs wait too). */
  readonly publishesWaiting: number;
}

export interface BacklogStatus {
  /** GATEWAY_MAX_QUEUED_MESSAGES. */
  readonly limit: number;
  /** GATEWAY_MAX_QUEUED_BYTES. */
  readonly limitBytes: number;
  /** Messages queued for all persistent subscriber sessions. */
  readonly queuedMessages: number;
  /** Their payload bytes. */
  readonly queuedBytes: number;
  /** The session with the most queued messages, if any has one. */
  readonly largest: SessionQueue | undefined;
  /** Sessions at the limit: publishes that would be queued for them are refused. */
  readonly full: SessionQueue[];
}

/** The topic a refused PUBLISH is moved to so it is acknowledged but reaches no subscriber ($-topics never match `#`, [MQTT-4.7.2-1]). */
export const QUARANTINE_TOPIC_PREFIX = '$wattproof/rejected/';

type GatewayCode = keyof typeof GATEWAY_ERRORS;

function authError(message: string, returnCode: 2 | 3 | 4 | 5): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/** The remote address of a client: the socket's, or for WebSocket the HTTP request's. */
function clientAddress(client: Client): string {
  const socket = client.req?.socket ?? (client.conn as Partial<Socket>);
  return socket?.remoteAddress ?? 'unknown';
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64url');
}

/** `authorizePublish`'s answer for a QoS 1 PUBLISH that passed the checks: hand it off (`handOffQos1`). */
const HAND_OFF = Symbol('hand off');

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** An authenticated connection: who it is, and its rights on the topics it publishes to. */
interface Connection {
  readonly identity: Identity;
  readonly publishRights: (topic: string) => PublishRights;
}

export function createGateway(deps: GatewayDeps, config: GatewayConfig): Gateway {
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? Date.now;
  const registry = deps.registry;
  const promRegistry = deps.metrics ?? new Registry();
  let aedes: Aedes | undefined;
  let store: SessionStore | undefined;
  let backlog: Backlog | undefined;
  let handOff: HandOff | undefined;
  let sink: StreamSink | undefined;
  let subscribersCache: TopicMatchCache<unknown> | undefined;
  const metrics = createGatewayMetrics(
    promRegistry,
    () => aedes?.connectedClients ?? 0,
    {
      total: () => backlog?.total() ?? 0,
      largest: () => backlog?.largest()?.queued ?? 0,
      limit: () => config.GATEWAY_MAX_QUEUED_MESSAGES,
      totalBytes: () => backlog?.totalBytes() ?? 0,
      limitBytes: () => config.GATEWAY_MAX_QUEUED_BYTES,
    },
    () => handOff?.stats() ?? { inFlight: 0, waiting: 0 },
    () => ({ sessions: store?.subscriptionsCache?.stats(), subscribers: subscribersCache?.stats() }),
  );

  const connections = new WeakMap<Client, Connection>();
  // The username a client gave in its CONNECT (also when it was refused), for log lines.
  const usernames = new WeakMap<Client, string>();
  const emptyIdPersistent = new WeakSet<Client>();
  // Backlog refusals are logged at most once per second (plus a count of those not logged):
  // while the ingest is away every device retries, and each retry is refused again.
  let backlogLogAtMs = 0;
  let backlogUnlogged = 0;
  // username -> { digest of the secret that verified, expiry }: avoids re-verifying on every reconnect (scrypt, for a supplied secret, costs tens of ms).
  const authCache = new Map<string, { digest: string; hash: string; expiresAtMs: number }>();
  const limiter = createAuthLimiter({
    perAddress: config.GATEWAY_AUTH_FAILURES_PER_ADDRESS,
    perUsername: config.GATEWAY_AUTH_FAILURES_PER_USERNAME,
    windowMs: config.GATEWAY_AUTH_FAILURE_WINDOW_S * 1000,
    clock,
  });
  const servers: Array<NetServer | TlsServer | HttpServer> = [];
  let wss: WebSocketServer | undefined;
  let startedAtMs: number | null = null;

  async function deadLetter(client: Client, packet: PublishPacket, code: GatewayCode, reason: string): Promise<void> {
    const identity = connections.get(client)?.identity;
    await registry.addDeadLetters([
      {
        receivedAtMs: clock(),
        source: 'gateway',
        topic: printable(packet.topic),
        clientId: printable(client.id),
        ...(identity?.kind === 'principal' ? { username: identity.principal.username } : {}),
        code,
        reason: printable(reason),
        ...encodeDeadLetterPayload(packet.payload ?? Buffer.alloc(0)),
      },
    ]);
  }

  /** Log fields naming a client: its client id and the username (device id) it connected with. Never the password. */
  function who(client: Client): { clientId: string; username: string | undefined } {
    return { clientId: client.id, username: usernames.get(client) };
  }

  /** Dead-letters a refused publish and quarantines it (acknowledged, not forwarded); an error when the dead letter failed. */
  async function refusePublish(client: Client, packet: PublishPacket, code: GatewayCode, reason: string): Promise<Error | null> {
    metrics.publishes.inc({ result: 'rejected' });
    metrics.rejections.inc({ code });
    logger.warn({ ...who(client), topic: packet.topic, code, reason }, 'publish refused');
    try {
      await deadLetter(client, packet, code, reason);
    } catch (err) {
      metrics.rejections.inc({ code: 'GATEWAY_DEAD_LETTER_FAILED' });
      logger.error({ err, ...who(client) }, 'dead letter not stored; disconnecting so the client retransmits');
      return err instanceof Error ? err : new Error(String(err));
    }
    // Acknowledge but do not forward: disconnecting would make a QoS 1 client resend the
    // same message forever; the reason is kept in the dead letters instead.
    packet.topic = `${QUARANTINE_TOPIC_PREFIX}${code}`;
    packet.retain = false;
    return null;
  }

  /** "N messages (limit L) of B payload bytes (limit LB)": what a session holds against both bounds, for refusals and /ready. */
  function queueText(session: SessionQueue): string {
    return `${session.queued} messages (limit ${config.GATEWAY_MAX_QUEUED_MESSAGES}) of ${session.queuedBytes} payload bytes (limit ${config.GATEWAY_MAX_QUEUED_BYTES})`;
  }

  function backlogFields(s: SessionQueue) {
    return { session: s.clientId, queued: s.queued, queuedBytes: s.queuedBytes, limit: config.GATEWAY_MAX_QUEUED_MESSAGES, limitBytes: config.GATEWAY_MAX_QUEUED_BYTES };
  }

  function refuseForBacklog(client: Client, packet: PublishPacket, session: SessionQueue): Error {
    metrics.publishes.inc({ result: 'refused_backlog' });
    metrics.rejections.inc({ code: 'GATEWAY_BACKLOG_FULL' });
    metrics.backlogRefusals.inc();
    const now = clock();
    if (now - backlogLogAtMs >= 1000) {
      logger.warn(
        { ...who(client), topic: packet.topic, code: 'GATEWAY_BACKLOG_FULL', ...backlogFields(session), notLogged: backlogUnlogged },
        'publish refused without PUBACK: backlog full; disconnecting, the device resends it',
      );
      backlogLogAtMs = now;
      backlogUnlogged = 0;
    } else {
      backlogUnlogged++;
    }
    return gatewayError('GATEWAY_BACKLOG_FULL', `session "${session.clientId}" has ${queueText(session)} queued`);
  }

  /**
   * Everything a PUBLISH goes through before aedes acknowledges it: limits, ACL, contract checks,
   * the backlog bound and, for QoS 1, the hand-off to the session store. Null = acknowledge it.
   *
   * The checks are synchronous; what has to wait (a refusal's dead letter, the readings stream,
   * the backlog and the QoS > 0 hand-off) returns a promise. So a QoS 0 PUBLISH that passes them
   * is decided without a promise (`HandOff.inOrder` then calls aedes back at once). `HAND_OFF`:
   * a QoS 1 PUBLISH that passed them and goes to `handOffQos1`, which decides it without a
   * promise either.
   */
  function authorizePublish(client: Client, packet: PublishPacket): Error | null | Promise<Error | null> | typeof HAND_OFF {
    const connection = connections.get(client);
    if (!connection) return new Error('not authenticated');
    const size = packet.payload?.length ?? 0;
    if (size > config.GATEWAY_MAX_PAYLOAD_BYTES) {
      return refusePublish(client, packet, 'GATEWAY_PAYLOAD_TOO_LARGE', `payload is ${size} bytes; the limit is ${config.GATEWAY_MAX_PAYLOAD_BYTES}`);
    }
    const { decision, channel } = connection.publishRights(packet.topic);
    if (!decision.ok) return refusePublish(client, packet, 'GATEWAY_PUBLISH_FORBIDDEN', decision.reason);
    if (channel === 'readings') {
      // Readings are never retained (contract v1); a retained reading would replay to every new subscriber.
      packet.retain = false;
    } else if (channel === 'status' && size > 0) {
      const status = parseStatusMessage(packet.payload);
      if (!status.ok) return refusePublish(client, packet, 'GATEWAY_STATUS_INVALID', status.error.reason);
    }
    // A Will (no `cmd`) is published when its client is gone: nothing to acknowledge, nobody to refuse.
    if (packet.cmd === 'publish') {
      if (sink && channel === 'readings') return handOffPublish(client, packet, channel, size);
      if (packet.qos === 1) return HAND_OFF;
      if (packet.qos > 0) return handOffPublish(client, packet, channel, size);
    }
    metrics.accepted(size);
    return null;
  }

  /**
   * The QoS 1 hand-off without a promise while the backlog admits at once (every queue below its
   * bound): the client's place in the order of PUBACKs is taken now and settled when
   * `broker.publish()` completed (queued in the session store and written to the connected
   * subscribers' sockets, hand-off.ts). Measured in docs/PERFORMANCE.md ("The QoS 1 hand-off
   * without promises").
   */
  function handOffQos1(client: Client, packet: PublishPacket, callback: (error: Error | null) => void): void {
    const size = packet.payload?.length ?? 0;
    const admission = backlog!.admit(packet.topic, size);
    if (admission instanceof Promise || !admission.ok) {
      return handOff!.inOrder(client, handOffPublish(client, packet, undefined, size, admission).catch(toError), callback);
    }
    const place = handOff!.take(client, callback);
    const startedAt = performance.now();
    try {
      handOff!.publish(client, packet, (error) => {
        admission.release();
        place.settle(handedOff(client, packet, size, error, startedAt));
      });
    } catch (err) {
      admission.release();
      place.settle(toError(err));
    }
  }

  /** What a QoS 1 hand-off that completed with `error` answers the device: null = PUBACK. */
  function handedOff(client: Client, packet: PublishPacket, size: number, error: Error | null, startedAt: number): Error | null {
    if (error) {
      metrics.publishes.inc({ result: 'store_failed' });
      metrics.rejections.inc({ code: 'GATEWAY_SESSION_STORE_FAILED' });
      logger.error({ ...who(client), topic: packet.topic, code: 'GATEWAY_SESSION_STORE_FAILED', err: error.message }, 'publish not stored: no PUBACK, disconnecting so the client resends it');
      return gatewayError('GATEWAY_SESSION_STORE_FAILED', `message not queued in the session store: ${error.message}`, { cause: error });
    }
    metrics.handOffSeconds.observe((performance.now() - startedAt) / 1000);
    metrics.accepted(size);
    return null;
  }

  /**
   * The part of `authorizePublish` that waits: the readings stream, the backlog bound and the QoS > 0
   * hand-off. `admitted`: the backlog's answer when `handOffQos1` already asked it.
   */
  async function handOffPublish(
    client: Client,
    packet: PublishPacket,
    channel: TopicChannel | undefined,
    size: number,
    admitted?: Admission | Promise<Admission>,
  ): Promise<Error | null> {
    // Scale-out hand-off (stream-sink.ts): the readings are in their meter's stream before anything acknowledges them.
    if (sink && channel === 'readings') {
      const error = await sink.append(client, packet);
      if (error) {
        metrics.publishes.inc({ result: 'stream_refused' });
        metrics.rejections.inc({ code: error.code });
        return error;
      }
    }
    if (packet.qos > 0) {
      const admission = await (admitted ?? backlog!.admit(packet.topic, size));
      if (!admission.ok) return refuseForBacklog(client, packet, admission);
      if (packet.qos === 1) {
        const startedAt = performance.now();
        const error = await new Promise<Error | null>((resolve) => handOff!.publish(client, packet, resolve));
        admission.release();
        return handedOff(client, packet, size, error, startedAt);
      }
      // QoS 2: aedes stores the PUBLISH and publishes it before its PUBREC; that is after this slot is freed.
      admission.release();
    }
    metrics.accepted(size);
    return null;
  }

  async function authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<Identity> {
    if (username) usernames.set(client, username);
    const address = clientAddress(client);
    // Checked here rather than in preConnect, which cannot answer with a CONNACK.
    if ((aedes?.connectedClients ?? 0) >= config.GATEWAY_MAX_CONNECTIONS) {
      metrics.connections.inc({ result: 'over_limit' });
      logger.warn({ ...who(client), address, limit: config.GATEWAY_MAX_CONNECTIONS }, 'CONNECT refused: connection limit reached');
      throw authError('server busy: connection limit reached', 3);
    }
    if (emptyIdPersistent.has(client)) {
      metrics.connections.inc({ result: 'client_id_rejected' });
      logger.warn({ ...who(client), address }, 'CONNECT refused: empty client id with a persistent session');
      throw authError('empty client id requires a clean session [MQTT-3.1.3-8]', 2);
    }
    const limited = limiter.check(address, username || undefined);
    if (limited) {
      // The username limit must not lock a device out: the secret that last logged in (cached,
      // a SHA-256 compare) still gets through; it is verified in full below.
      const cached = username ? authCache.get(username) : undefined;
      const knownGood = limited === 'username' && password !== undefined && cached !== undefined && cached.expiresAtMs > clock() && cached.digest === sha256(password);
      if (!knownGood) {
        metrics.connections.inc({ result: 'rate_limited' });
        metrics.rejections.inc({ code: 'GATEWAY_AUTH_RATE_LIMITED' });
        metrics.authRateLimited.inc({ scope: limited });
        logger.warn({ clientId: client.id, username, address, scope: limited }, 'CONNECT refused: too many failed logins');
        throw authError(`too many failed logins from this ${limited}; retry later`, 5);
      }
    }
    if (!username) {
      if (config.GATEWAY_ALLOW_ANONYMOUS) return { kind: 'anonymous' };
      limiter.fail(address, undefined);
      metrics.connections.inc({ result: 'anonymous_refused' });
      metrics.rejections.inc({ code: 'GATEWAY_ANONYMOUS_REFUSED' });
      logger.warn({ ...who(client), address }, 'CONNECT refused: anonymous');
      throw authError('anonymous access is disabled', 5);
    }
    const principal = await registry.getPrincipal(username);
    const fail = () => {
      limiter.fail(address, username);
      metrics.connections.inc({ result: 'auth_failed' });
      metrics.rejections.inc({ code: 'GATEWAY_AUTH_FAILED' });
      logger.warn({ clientId: client.id, username, address }, 'authentication failed');
      return authError('bad username or password', 4);
    };
    if (!principal || principal.disabledAtMs !== undefined || !password) throw fail();
    const digest = sha256(password);
    const cached = authCache.get(username);
    const now = clock();
    if (!(cached && cached.digest === digest && cached.hash === principal.secretHash && cached.expiresAtMs > now)) {
      if (!(await verifySecret(password.toString('utf8'), principal.secretHash))) throw fail();
      if (config.GATEWAY_AUTH_CACHE_TTL_S > 0) {
        authCache.set(username, { digest, hash: principal.secretHash, expiresAtMs: now + config.GATEWAY_AUTH_CACHE_TTL_S * 1000 });
      }
    }
    // The owner of a client id is kept with the sessions (on disk when they are), so a session,
    // and what is queued for it, cannot be taken over after a restart either.
    const owners = store!.owners;
    const owner = owners.get(client.id);
    if (owner !== undefined && owner !== username) {
      metrics.connections.inc({ result: 'client_id_rejected' });
      metrics.rejections.inc({ code: 'GATEWAY_CLIENT_ID_REJECTED' });
      logger.warn({ clientId: client.id, username, address, owner }, 'CONNECT refused: client id belongs to another principal');
      throw authError(`client id "${client.id}" belongs to another principal`, 2);
    }
    // aedes sets `clean` from the CONNECT before it authenticates.
    await owners.set(client.id, username, !client.clean);
    return { kind: 'principal', principal };
  }

  function handleSocket(socket: Socket): void {
    socket.setNoDelay(true);
    aedes!.handle(socket);
  }

  function listen(server: NetServer | TlsServer | HttpServer, port: number): Promise<ListenAddress> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, config.GATEWAY_MQTT_HOST, () => {
        server.off('error', reject);
        const addr = server.address() as AddressInfo;
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  return {
    broker() {
      if (!aedes) throw new Error('gateway not started');
      return aedes;
    },

    stats() {
      const deliveries = handOff?.stats() ?? { inFlight: 0, waiting: 0 };
      return {
        connectedClients: aedes?.connectedClients ?? 0,
        startedAtMs,
        sessionStore: store?.kind ?? 'memory',
        queuedMessages: backlog?.total() ?? 0,
        publishesInFlight: deliveries.inFlight,
        publishesWaiting: deliveries.waiting,
        ...(sink ? { stream: sink.stats() } : {}),
      };
    },

    backlog() {
      return {
        limit: config.GATEWAY_MAX_QUEUED_MESSAGES,
        limitBytes: config.GATEWAY_MAX_QUEUED_BYTES,
        queuedMessages: backlog?.total() ?? 0,
        queuedBytes: backlog?.totalBytes() ?? 0,
        largest: backlog?.largest(),
        full: backlog?.full() ?? [],
      };
    },

    ready() {
      const reasons: string[] = [];
      if (startedAtMs === null) reasons.push('not listening');
      for (const s of backlog?.full() ?? []) {
        reasons.push(`session "${s.clientId}" has ${queueText(s)} queued: publishes to it are refused`);
      }
      const stream = sink?.stats();
      if (stream && !stream.connected) reasons.push('readings stream Redis not connected: readings publishes are refused');
      if (stream && stream.fullShards.length > 0) reasons.push(`readings stream shards ${stream.fullShards.join(', ')} at ${config.GATEWAY_STREAM_MAX_ENTRIES_PER_SHARD} entries: their readings are refused`);
      return { ready: reasons.length === 0, reasons };
    },

    async start() {
      store = config.GATEWAY_REDIS_URL
        ? await openClusterStore(config, logger)
        : await openSessionStore({ dir: config.GATEWAY_PERSISTENCE_DIR, sync: config.GATEWAY_PERSISTENCE_SYNC });
      if (config.GATEWAY_STREAM_REDIS_URL) {
        try {
          sink = await openStreamSink({ logger, clock, metrics: promRegistry }, config);
        } catch (err) {
          await store.close();
          throw err;
        }
      }
      aedes = await Aedes.createBroker({
        ...(store.persistence ? { persistence: store.persistence } : {}),
        ...(store.mq ? { mq: store.mq } : {}),
        connectTimeout: config.GATEWAY_CONNECT_TIMEOUT_MS,
        // No queue in mqemitter (its release recursed until the stack overflowed under overload):
        // hand-off.ts bounds the deliveries in progress instead (GATEWAY_MAX_PUBLISHES_IN_FLIGHT).
        // mqemitter-redis (cluster mode) has no concurrency limit of its own.
        concurrency: 0,
        preConnect(client, packet, callback) {
          if (packet.clientId === '' && packet.clean === false) emptyIdPersistent.add(client);
          callback(null, true);
        },
        authenticate(client, username, password, done) {
          authenticate(client, username ?? undefined, password ?? undefined).then(
            (identity) => {
              connections.set(client, { identity, publishRights: createPublishRights(identity) });
              metrics.connections.inc({ result: 'accepted' });
              done(null, true);
            },
            (err: AuthenticateError) => done(err.returnCode ? err : authError(String(err), 3), false),
          );
        },
        authorizePublish(client, packet, callback) {
          // client is null for the Last Will of a client that is gone; it was authorized at its CONNECT.
          if (!client) return callback(null);
          let outcome: Error | null | Promise<Error | null> | typeof HAND_OFF;
          try {
            outcome = authorizePublish(client, packet);
            if (outcome === HAND_OFF) return handOffQos1(client, packet, callback);
          } catch (err) {
            outcome = toError(err);
          }
          if (outcome instanceof Promise) outcome = outcome.catch(toError);
          // Callbacks in arrival order, so PUBACKs keep the order of the PUBLISH packets [MQTT-4.6.0-2].
          handOff!.inOrder(client, outcome, callback);
        },
        authorizeSubscribe(client, sub, callback) {
          const identity = connections.get(client)?.identity;
          if (!identity) return callback(new Error('not authenticated'));
          const acl = canSubscribe(identity, sub.topic);
          if (!acl.ok) {
            metrics.rejections.inc({ code: 'GATEWAY_SUBSCRIBE_FORBIDDEN' });
            logger.warn({ ...who(client), filter: sub.topic, reason: acl.reason }, 'subscription refused');
            return callback(null, null);
          }
          callback(null, sub);
        },
      });
      // The live subscriptions' topic matches, cached per topic (match-cache.ts).
      const matcher = mqMatcher((aedes as unknown as { mq: unknown }).mq);
      if (matcher) subscribersCache = cacheMatcherMatches(matcher);
      else logger.warn("topic matches of live subscriptions not cached: aedes' pub/sub has no qlobber matcher of the expected shape");
      let shedLogAtMs = 0;
      let shedUnlogged = 0;
      handOff = createHandOff(aedes, {
        maxInFlight: config.GATEWAY_MAX_PUBLISHES_IN_FLIGHT,
        onShed(client, packet) {
          metrics.shedPublishes.inc();
          // At most one line per second while shedding: an overloaded gateway should not also flood its log.
          const now = clock();
          if (now - shedLogAtMs >= 1000) {
            logger.warn({ ...who(client), topic: packet.topic, code: 'GATEWAY_OVERLOADED', limit: config.GATEWAY_MAX_PUBLISHES_IN_FLIGHT, notLogged: shedUnlogged }, 'QoS 0 publish dropped: GATEWAY_MAX_PUBLISHES_IN_FLIGHT deliveries in progress');
            shedLogAtMs = now;
            shedUnlogged = 0;
          } else {
            shedUnlogged++;
          }
        },
      });
      // aedes creates its in-memory persistence in createBroker; ours is the one passed in.
      const persistence = (aedes as unknown as { persistence: QueuePersistence }).persistence;
      backlog = createBacklog(persistence, {
        limit: config.GATEWAY_MAX_QUEUED_MESSAGES,
        limitBytes: config.GATEWAY_MAX_QUEUED_BYTES,
        initial: store.queuedAtOpen,
        initialBytes: store.queuedBytesAtOpen,
        onFull: (s) => logger.warn(backlogFields(s), 'session backlog at the limit: refusing publishes queued for it'),
        onBelow: (s) => logger.info(backlogFields(s), 'session backlog below the limit: accepting publishes again'),
      });
      for (const s of backlog.full()) logger.warn(backlogFields(s), 'session backlog at the limit: refusing publishes queued for it');
      aedes.on('client', (client) => logger.info({ ...who(client), address: clientAddress(client), clean: client.clean }, 'client connected'));
      if (config.GATEWAY_SUBSCRIBER_WRITE_BUFFER_BYTES > 0) {
        const highWaterMarkBytes = config.GATEWAY_SUBSCRIBER_WRITE_BUFFER_BYTES;
        aedes.on('subscribe', (_subs, client) => coalesceWrites(client.conn, { highWaterMarkBytes }));
      }
      aedes.on('clientDisconnect', (client) => logger.info(who(client), 'client disconnected'));
      aedes.on('clientError', (client, err) => logger.debug({ ...who(client), err: err.message }, 'client error'));
      aedes.on('connectionError', (client, err) => logger.debug({ clientId: client?.id, err: err.message }, 'connection error'));

      const tcp = createNetServer(handleSocket);
      servers.push(tcp);
      const mqtt = await listen(tcp, config.GATEWAY_MQTT_PORT);
      let mqtts: ListenAddress | undefined;
      if (config.GATEWAY_MQTTS_PORT !== undefined && config.GATEWAY_TLS_CERT_FILE && config.GATEWAY_TLS_KEY_FILE) {
        const tls = createTlsServer(
          { cert: readFileSync(config.GATEWAY_TLS_CERT_FILE), key: readFileSync(config.GATEWAY_TLS_KEY_FILE) },
          handleSocket,
        );
        servers.push(tls);
        mqtts = await listen(tls, config.GATEWAY_MQTTS_PORT);
      }
      let ws: (ListenAddress & { path: string }) | undefined;
      if (config.GATEWAY_WS_PORT !== undefined) {
        const http = createHttpServer((_req, res) => res.writeHead(426).end('MQTT over WebSocket: connect to /mqtt\n'));
        servers.push(http);
        wss = new WebSocketServer({ server: http, path: '/mqtt' });
        wss.on('connection', (socket, req) => {
          const stream = createWebSocketStream(socket);
          stream.on('error', () => socket.terminate());
          aedes!.handle(stream, req);
        });
        ws = { ...(await listen(http, config.GATEWAY_WS_PORT)), path: '/mqtt' };
      }
      startedAtMs = clock();
      logger.info({ mqtt, mqtts, ws, sessionStore: store.kind, ...(store.dir ? { sessionDir: store.dir } : {}), queuedMessages: backlog.total() }, 'gateway listening');
      return { mqtt, ...(mqtts ? { mqtts } : {}), ...(ws ? { ws } : {}) };
    },

    async close() {
      for (const s of servers) s.close();
      if (wss) for (const c of wss.clients) c.terminate();
      wss?.close();
      if (aedes) {
        const broker = aedes;
        await new Promise<void>((resolve) => broker.close(() => resolve()));
      }
      await Promise.all(
        servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))),
      );
      servers.length = 0;
      startedAtMs = null;
      await sink?.close();
      sink = undefined;
      await store?.close();
      store = undefined;
    },
  };
}
