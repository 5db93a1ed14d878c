/** Gateway configuration: keys are environment variable names, units in the names. */
import { z } from 'zod';
import { CONTRACT_LIMITS, envBool, envInt, envOptionalString, envPort } from '@wattproof/core';

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
  GATEWAY_AUTH_CACHE_TTL_S: envInt(300, 0, 86_400).describe('How long a verified secret is remembered, so reconnect storms do not re-run scrypt'),
  GATEWAY_AUTH_FAILURES_PER_ADDRESS: envInt(20, 0, 1_000_000).describe(
    'Failed CONNECTs (wrong secret, unknown or disabled username, anonymous) one client address may make per GATEWAY_AUTH_FAILURE_WINDOW_S (a token bucket); more are refused with return code 5 without checking the secret. 0 = no limit',
  ),
  GATEWAY_AUTH_FAILURES_PER_USERNAME: envInt(10, 0, 1_000_000).describe(
    'Failed CONNECTs with one username per GATEWAY_AUTH_FAILURE_WINDOW_S, from any address; more are refused with return code 5 unless they carry the secret that last logged in. 0 = no limit',
  ),
  GATEWAY_AUTH_FAILURE_WINDOW_S: envInt(300, 1, 86_400).describe('Window of the failed-CONNECT limits: an exhausted bucket gets one attempt back every window/limit seconds'),
  GATEWAY_CONNECT_TIMEOUT_MS: envInt(30_000, 1000, 600_000).describe('Time a new connection has to send CONNECT'),
  GATEWAY_MAX_CONNECTIONS: envInt(10_000, 1, 1_000_000).describe('Connections accepted at once; more are refused with CONNACK return code 3 (server unavailable)'),
});

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
