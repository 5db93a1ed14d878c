/** Gateway configuration: keys are environment variable names, units in the names. */
import { z } from 'zod';
import { CONTRACT_LIMITS, MAX_READINGS_STREAM_SHARDS, envBool, envInt, envOptionalString, envPort } from '@wattproof/core';

/** Messages a persistent subscriber session may have queued at the gateway by default: ~12 h of 10,000 meters at 4 messages/h. */
export const DEFAULT_MAX_QUEUED_MESSAGES = 500_000;

/** Payload bytes a persistent subscriber session may have queued at the gateway by default (in memory unless GATEWAY_PERSISTENCE_DIR). */
export const DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024 * 1024;

/** Shards of the readings streams by default: up to 16 ingest workers share the load. */
export const DEFAULT_STREAM_SHARDS = 16;

/** Entries one readings stream shard may hold by default: with 16 shards ~4M messages, ~10 h of 100,000 meters at 4 messages/h (docs/SCALING.md). */
export const DEFAULT_STREAM_MAX_ENTRIES_PER_SHARD = 250_000;

/** Whether the session-store writes a PUBACK depends on are fsynced by default (see GATEWAY_PERSISTENCE_SYNC). */
export const DEFAULT_PERSISTENCE_SYNC = true;

/** Deliveries in progress by default: about 1 s of 10k msg/s, some 10-20 MB of messages (QoS 0 was shed at 10k msg/s with 1,000, bench/broker.ts). */
export const DEFAULT_MAX_PUBLISHES_IN_FLIGHT = 10_000;

/**
 * A subscriber connection's write buffer by default (write-coalescing.ts): room for a turn of
 * deliveries at 20,000 msg/s. 1 MiB took the same CPU and let an overloaded gateway's deliveries
 * queue three times as long (p50 177 against 58 ms at 20,000/s offered, `bench broker`, 2026-12-02).
 */
export const DEFAULT_SUBSCRIBER_WRITE_BUFFER_BYTES = 64 * 1024;

export const gatewayConfigSchema = z.object({
  GATEWAY_MQTT_HOST: z.string().default('127.0.0.1').describe('Address the MQTT listeners bind to'),
  GATEWAY_MQTT_PORT: envPort(1883).describe('MQTT over TCP port (0 = pick a free port)'),
  GATEWAY_MQTTS_PORT: z.coerce.number().int().min(0).max(65535).optional().describe('MQTT over TLS port; TLS is off unless this and the cert/key files are set'),
  GATEWAY_TLS_CERT_FILE: envOptionalString().describe('PEM certificate chain for the TLS listener'),
  GATEWAY_TLS_KEY_FILE: envOptionalString().describe('PEM private key for the TLS listener'),
  GATEWAY_WS_PORT: z.coerce.number().int().min(0).max(65535).optional().describe('MQTT over WebSocket port (path /mqtt); off unless set'),
  GATEWAY_HTTP_PORT: envPort(9101).describe('Health and Prometheus metrics port when the gateway runs as its own process'),
  GATEWAY_MAX_PAYLOAD_BYTES: envInt(CONTRACT_LIMITS.maxPayloadBytes, 1024, 16 * 1024 * 1024).describe('Largest PUBLISH payload accepted; larger ones are acknowledged, dropped and dead-lettered'),
  GATEWAY_ALLOW_ANONYMOUS: envBool(false).describe('Allow connections without credentials and with no topic restrictions (local testing with generic MQTT tools only)'),
  GATEWAY_AUTH_CACHE_TTL_S: envInt(300, 0, 86_400).describe('How long a verified secret is remembered, so reconnect storms do not re-verify it (scrypt, for supplied secrets)'),
  GATEWAY_AUTH_FAILURES_PER_ADDRESS: envInt(20, 0, 1_000_000).describe(
    'Failed CONNECTs (wrong secret, unknown or disabled username, anonymous) one client address may make per GATEWAY_AUTH_FAILURE_WINDOW_S (a token bucket); more are refused with return code 5 without checking the secret. 0 = no limit',
  ),
  GATEWAY_AUTH_FAILURES_PER_USERNAME: envInt(10, 0, 1_000_000).describe(
    'Failed CONNECTs with one username per GATEWAY_AUTH_FAILURE_WINDOW_S, from any address; more are refused with return code 5 unless they carry the secret that last logged in. 0 = no limit',
  ),
  GATEWAY_AUTH_FAILURE_WINDOW_S: envInt(300, 1, 86_400).describe('Window of the failed-CONNECT limits: an exhausted bucket gets one attempt back every window/limit seconds'),
  GATEWAY_CONNECT_TIMEOUT_MS: envInt(30_000, 1000, 600_000).describe('Time a new connection has to send CONNECT'),
  GATEWAY_MAX_CONNECTIONS: envInt(10_000, 1, 1_000_000).describe('Connections accepted at once; more are refused with CONNACK return code 3 (server unavailable)'),
  GATEWAY_PERSISTENCE_DIR: envOptionalString().describe(
    'Directory of the on-disk session store (LevelDB, aedes-persistence-level): persistent sessions, their subscriptions and the messages queued for them survive a restart or crash of the gateway, and a QoS 1 PUBACK to a device is sent only once the message is written there for every persistent subscriber session. Unset = in memory, lost on restart (`wattproof start` defaults it to `<WATTPROOF_DATA_DIR>/gateway-sessions`; set it empty there to keep sessions in memory)',
  ),
  GATEWAY_PERSISTENCE_SYNC: envBool(DEFAULT_PERSISTENCE_SYNC).describe(
    'With GATEWAY_PERSISTENCE_DIR: fsync the session-store writes a PUBACK or SUBACK depends on (a message queued for a session, a subscription, a retained message) before sending it, so an acknowledged message also survives a power loss or kernel crash; costs about 1-3 ms per PUBACK (concurrent publishes share an fsync). Off: the write is in the OS page cache when the PUBACK goes out, which survives a crash or SIGKILL of the gateway process but not of the machine',
  ),
  GATEWAY_MAX_QUEUED_MESSAGES: envInt(DEFAULT_MAX_QUEUED_MESSAGES, 1, 100_000_000).describe(
    'Messages one persistent subscriber session (the ingest) may have queued at the gateway (enqueued, not yet acknowledged by it, in-flight ones included). At the bound a QoS 1/2 PUBLISH that would be queued for that session is refused without PUBACK (the device is disconnected and resends it later); /ready answers 503 until the session is below the bound. Keep it well above INGEST_MAX_PENDING_MESSAGES',
  ),
  GATEWAY_MAX_QUEUED_BYTES: envInt(DEFAULT_MAX_QUEUED_BYTES, 1024, 2 ** 50).describe(
    'Payload bytes one persistent subscriber session may have queued at the gateway, as GATEWAY_MAX_QUEUED_MESSAGES counts messages (the in-memory store holds them in the gateway\'s memory): a QoS 1/2 PUBLISH that would take that session past it is refused without PUBACK (the device resends it later); a session with nothing queued takes one message of any size. Messages found in the on-disk store at start count at their stored size',
  ),
  GATEWAY_MAX_PUBLISHES_IN_FLIGHT: envInt(DEFAULT_MAX_PUBLISHES_IN_FLIGHT, 1, 1_000_000).describe(
    'Publishes the gateway delivers at once (stored for persistent subscriber sessions and written to subscribers\' sockets). Past it, overload policy: a device\'s QoS 0 publish is dropped (wattproof_gateway_shed_publishes_total) and a QoS 1/2 publish waits for a slot with its PUBACK, while the gateway reads nothing more from that device (TCP back-pressure). Bounds the memory a slow subscriber can make the gateway hold',
  ),
  GATEWAY_SUBSCRIBER_WRITE_BUFFER_BYTES: envInt(DEFAULT_SUBSCRIBER_WRITE_BUFFER_BYTES, 0, 64 * 1024 * 1024).describe(
    'Connections that subscribed (the ingest): the packets written to one in a turn of the event loop leave in one socket write rather than one each, and up to this many bytes may wait in the gateway for its socket before a delivery waits for the socket to drain (its writable high-water mark). 0 = one write per packet, at Node\'s default mark (16 KiB)',
  ),
  GATEWAY_REDIS_URL: envOptionalString().describe(
    'Cluster mode (docs/SCALING.md): Redis URL (redis://[:password@]host:port[/db]) through which several gateway nodes behind a TCP load balancer share subscriptions, persistent sessions, retained messages and wills (mqemitter-redis + aedes-persistence-redis) and the owner of each client id. Excludes GATEWAY_PERSISTENCE_DIR. Unset = a stand-alone gateway',
  ),
  GATEWAY_STREAM_REDIS_URL: envOptionalString().describe(
    'Durable hand-off to scaled-out ingest workers (docs/SCALING.md): Redis URL of the readings streams. Every accepted readings PUBLISH is appended (XADD) to the stream shard of its meter before the PUBACK; if Redis does not confirm, the publish is refused without PUBACK and the device resends it. May be the same Redis as GATEWAY_REDIS_URL; run it with appendonly yes. Unset = no streams (the ingest subscribes over MQTT)',
  ),
  GATEWAY_STREAM_SHARDS: envInt(DEFAULT_STREAM_SHARDS, 1, MAX_READINGS_STREAM_SHARDS).describe(
    'Shards (streams) readings are spread over by meter; the unit of work the ingest workers lease, so the most workers that can share the load. Recorded in Redis by the first gateway; a gateway configured with another count refuses to start (GATEWAY_STREAM_SHARDS_MISMATCH)',
  ),
  GATEWAY_STREAM_MAX_ENTRIES_PER_SHARD: envInt(DEFAULT_STREAM_MAX_ENTRIES_PER_SHARD, 1000, 1_000_000_000).describe(
    'Bound of one shard stream (entries not yet acknowledged by the ingest workers and trimmed): at the bound, readings publishes of its meters are refused without PUBACK (the device keeps them and resends). Checked against the length read at most a second ago, so it can be exceeded by one second of traffic',
  ),
  GATEWAY_STREAM_TIMEOUT_MS: envInt(5000, 100, 600_000).describe(
    'Longest wait for Redis to confirm an append; after it the publish is refused without PUBACK (the device resends it; an append that Redis performed late is stored once, writes are idempotent)',
  ),
});

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
