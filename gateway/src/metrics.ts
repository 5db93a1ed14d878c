/** Prometheus metrics of the gateway, registered on the registry the caller passes. */
import { Counter, Gauge, type Registry } from 'prom-client';

export function createGatewayMetrics(registry: Registry, connectedClients: () => number) {
  return {
    connections: new Counter({
      name: 'wattproof_gateway_connections_total',
      help: 'CONNECT attempts by result',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    connected: new Gauge({
      name: 'wattproof_gateway_connected_clients',
      help: 'Clients connected now',
      registers: [registry],
      collect() {
        this.set(connectedClients());
      },
    }),
    publishes: new Counter({
      name: 'wattproof_gateway_publishes_total',
      help: 'PUBLISH packets from clients by result (accepted = forwarded)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    rejections: new Counter({
      name: 'wattproof_gateway_rejections_total',
      help: 'Rejected connections, publishes and subscriptions by error code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    authRateLimited: new Counter({
      name: 'wattproof_gateway_auth_rate_limited_total',
      help: 'CONNECTs refused by the failed-login limits (auth-limiter.ts), by the bucket that was empty',
      labelNames: ['scope'] as const,
      registers: [registry],
    }),
    receivedBytes: new Counter({
      name: 'wattproof_gateway_received_payload_bytes_total',
      help: 'Payload bytes of accepted PUBLISH packets',
      registers: [registry],
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
