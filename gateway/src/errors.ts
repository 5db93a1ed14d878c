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
