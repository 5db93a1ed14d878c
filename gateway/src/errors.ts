/** Error catalogue of the gateway (rendered in docs/errors.md). */
import { createErrorFactory, type ErrorCatalogue } from '@wattproof/core';

export const GATEWAY_ERRORS = {
  GATEWAY_AUTH_FAILED: {
    statusCode: 401,
    retriable: false,
    meaning: 'CONNECT refused (return code 4): unknown username, wrong secret, or a disabled principal.',
    fix: 'Use the username `site/building/meter` and the secret printed once by `wattproof device add`; rotate with `wattproof device add --rotate`.',
  },
  GATEWAY_ANONYMOUS_REFUSED: {
    statusCode: 401,
    retriable: false,
    meaning: 'CONNECT without username refused (return code 5); anonymous access is off by default.',
    fix: 'Connect with device or service credentials, or set GATEWAY_ALLOW_ANONYMOUS=true for local testing only.',
  },
  GATEWAY_AUTH_RATE_LIMITED: {
    statusCode: 429,
    retriable: true,
    meaning: 'CONNECT refused (return code 5) before the secret was checked: too many failed logins from this client address (GATEWAY_AUTH_FAILURES_PER_ADDRESS) or with this username (GATEWAY_AUTH_FAILURES_PER_USERNAME) within GATEWAY_AUTH_FAILURE_WINDOW_S.',
    fix: 'Fix the credentials and wait: one attempt comes back every window/limit seconds. A device whose secret last logged in successfully is let through despite the username limit.',
  },
  GATEWAY_CLIENT_ID_REJECTED: {
    statusCode: 400,
    retriable: false,
    meaning: 'CONNECT refused (return code 2): an empty client id with a persistent session [MQTT-3.1.3-8], or a client id already bound to another principal.',
    fix: 'Give each device its own non-empty client id (e.g. its username) or connect with clean session.',
  },
  GATEWAY_PUBLISH_FORBIDDEN: {
    statusCode: 403,
    retriable: false,
    meaning: 'A client published to a topic outside its ACL (a device may publish only under its own `wattproof/v1/<site>/<building>/<meter>/`). The message is acknowledged, not forwarded, and kept as a dead letter.',
    fix: 'Publish to the device\'s own topic; check the device\'s username matches the meter it reports for.',
  },
  GATEWAY_SUBSCRIBE_FORBIDDEN: {
    statusCode: 403,
    retriable: false,
    meaning: 'A client subscribed to a filter outside its ACL; the subscription is refused with return code 0x80.',
    fix: 'Devices may subscribe only under their own meter prefix; services and operators use their own credentials.',
  },
  GATEWAY_PAYLOAD_TOO_LARGE: {
    statusCode: 413,
    retriable: false,
    meaning: 'A PUBLISH payload exceeded GATEWAY_MAX_PAYLOAD_BYTES. The message is acknowledged, not forwarded, and its first 64 KiB kept as a dead letter.',
    fix: 'Split readings over several messages (at most 1,000 readings each).',
  },
  GATEWAY_STATUS_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'A status publish was not `{"state":"online"|"offline"}` (contract v1). It is acknowledged, not forwarded or retained, and kept as a dead letter.',
    fix: 'Publish the status (and the Last Will) as `{"state":"online"}` / `{"state":"offline"}`, retained, QoS 1.',
  },
  GATEWAY_DEAD_LETTER_FAILED: {
    statusCode: 503,
    retriable: true,
    meaning: 'A rejected message could not be written to the dead-letter store; the client is disconnected so that it retransmits later instead of the evidence being lost.',
    fix: 'Check the registry store (PostgreSQL or the data directory) is reachable and writable.',
  },
  GATEWAY_BACKLOG_FULL: {
    statusCode: 503,
    retriable: true,
    meaning: 'A QoS 1/2 PUBLISH was refused without acknowledgement: a persistent subscriber session it would be queued for (normally the ingest) already holds GATEWAY_MAX_QUEUED_MESSAGES messages, or would hold more than GATEWAY_MAX_QUEUED_BYTES payload bytes with this one. MQTT 3.1.1 has no negative PUBACK, so the gateway disconnects the client; a device keeps the un-acknowledged message and resends it after reconnecting. The gateway\'s /ready answers 503 meanwhile.',
    fix: 'Bring the subscriber back (the ingest and its reading store): once it drains below the bound, resent messages are accepted. If the session belongs to a subscriber that is gone for good, end it by connecting once with its client id and clean session. Raise GATEWAY_MAX_QUEUED_MESSAGES or GATEWAY_MAX_QUEUED_BYTES only if the gateway has the disk (or memory) for it.',
  },
  GATEWAY_OVERLOADED: {
    statusCode: 503,
    retriable: true,
    meaning: 'GATEWAY_MAX_PUBLISHES_IN_FLIGHT deliveries were in progress (subscribers, normally the ingest, read slower than devices publish), so a device\'s QoS 0 PUBLISH was dropped: QoS 0 is at most once and it had not been acknowledged. QoS 1/2 publishes are not dropped; they wait, with their PUBACK, and the gateway stops reading from those devices meanwhile. Logged at most once a second, counted in wattproof_gateway_shed_publishes_total.',
    fix: 'Publish readings at QoS 1 (contract v1), so that overload slows devices down instead of dropping; find why the subscriber is slow (the ingest\'s store, its CPU) or add gateway nodes and ingest workers (docs/SCALING.md).',
  },
  GATEWAY_SESSION_STORE_FAILED: {
    statusCode: 503,
    retriable: true,
    meaning: 'An accepted QoS 1 PUBLISH could not be written to the session store (GATEWAY_PERSISTENCE_DIR), so it was not acknowledged; the client is disconnected and resends it.',
    fix: 'Check the disk of GATEWAY_PERSISTENCE_DIR (full, read-only, I/O errors) and the gateway log for the cause.',
  },
  GATEWAY_SESSION_STORE_UNAVAILABLE: {
    statusCode: 503,
    retriable: false,
    meaning: 'The gateway could not open its on-disk session store at start: GATEWAY_PERSISTENCE_DIR is locked by another gateway process, not writable, or not a LevelDB database.',
    fix: 'Give every gateway process its own GATEWAY_PERSISTENCE_DIR and stop the other process using it; check the directory\'s permissions. A corrupt store can be moved aside (its queued messages are then lost; devices resend only what was never acknowledged).',
  },
  GATEWAY_CLUSTER_CONFIG_INVALID: {
    statusCode: 500,
    retriable: false,
    meaning: 'GATEWAY_REDIS_URL (cluster mode: sessions in Redis, shared by every node) and GATEWAY_PERSISTENCE_DIR (sessions on this node\'s disk) are both set; a node keeps its sessions in one place.',
    fix: 'Unset GATEWAY_PERSISTENCE_DIR on cluster nodes (set it empty under `wattproof start`), or unset GATEWAY_REDIS_URL for a stand-alone gateway.',
  },
  GATEWAY_REDIS_UNAVAILABLE: {
    statusCode: 503,
    retriable: true,
    meaning: 'At start the gateway could not reach the Redis of GATEWAY_REDIS_URL or GATEWAY_STREAM_REDIS_URL (refused, timed out, wrong password or database), so it did not start listening.',
    fix: 'Check the URL, that Redis is running and reachable from the gateway, and its password (`redis://:password@host:port/db`); then start the gateway again.',
  },
  GATEWAY_STREAM_SHARDS_MISMATCH: {
    statusCode: 500,
    retriable: false,
    meaning: 'GATEWAY_STREAM_SHARDS differs from the shard count recorded in Redis (`wattproof:readings:meta`) by the gateways already writing there; with two counts a meter would land on two shards and lose its order.',
    fix: 'Use the recorded count on every gateway. To change it: stop the gateways, let the ingest workers drain every shard (lag 0), delete `wattproof:readings:meta`, start the gateways with the new count (docs/SCALING.md).',
  },
  GATEWAY_STREAM_APPEND_FAILED: {
    statusCode: 503,
    retriable: true,
    meaning: 'A readings PUBLISH passed every check but Redis did not confirm its append to the readings stream (GATEWAY_STREAM_REDIS_URL) within GATEWAY_STREAM_TIMEOUT_MS, or refused it; it was not acknowledged, the client is disconnected and resends it.',
    fix: 'Bring Redis back (see the gateway log for the cause: connection refused, timeout, out of memory, read-only replica). Devices resend what was not acknowledged; an append Redis performed late is stored once.',
  },
  GATEWAY_STREAM_FULL: {
    statusCode: 503,
    retriable: true,
    meaning: 'A readings PUBLISH was refused without acknowledgement: the stream shard of its meter holds GATEWAY_STREAM_MAX_ENTRIES_PER_SHARD entries the ingest workers have not yet acknowledged and trimmed. The client is disconnected and resends it later.',
    fix: 'Bring the ingest workers (and their reading store) back or add workers; the shard drains as they acknowledge. Raise the bound only if Redis has the memory for it (docs/SCALING.md).',
  },
  DEVICE_ID_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'Provisioning (`wattproof device add` / `add-aggregator` / `add-service`) got a meter key that is not `site/building/meter` with ids of `[A-Za-z0-9_.-]` (starting with a letter or digit, at most 64 characters), or a site, aggregator name or service name that is not one such id.',
    fix: 'Pass the meter key as one argument, e.g. `wattproof device add yz/b01/elec`; ids are case-sensitive and hold no spaces.',
  },
  DEVICE_EXISTS: {
    statusCode: 409,
    retriable: false,
    meaning: '`wattproof device add` (or `add-aggregator`) was run for a device (or aggregator) that already has credentials; its secret was left unchanged.',
    fix: 'Add `--rotate` to issue a new secret (the old one stops working at once), or check the meter key.',
  },
} as const satisfies ErrorCatalogue;

export const gatewayError = createErrorFactory(GATEWAY_ERRORS);
