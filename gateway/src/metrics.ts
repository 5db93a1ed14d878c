/** Prometheus metrics of the gateway, registered on the registry the caller passes. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { MATCH_CACHE_MAX_TOPICS } from './match-cache.js';

/** What the backlog gauges read when scraped. */
export interface BacklogGauges {
  /** Messages queued for all persistent subscriber sessions. */
  total(): number;
  /** Messages queued for the session that has the most. */
  largest(): number;
  /** GATEWAY_MAX_QUEUED_MESSAGES. */
  limit(): number;
  /** Payload bytes queued for all persistent subscriber sessions. */
  totalBytes(): number;
  /** GATEWAY_MAX_QUEUED_BYTES. */
  limitBytes(): number;
}

export function createGatewayMetrics(
  registry: Registry,
  connectedClients: () => number,
  backlog?: BacklogGauges,
  deliveries?: () => { inFlight: number; waiting: number },
  matchCaches?: () => Partial<Record<'sessions' | 'subscribers', { topics: number; hits: number; misses: number }>>,
) {
  // Lookups of the topic-match caches (match-cache.ts) counted so far, per cache and result, for the counters' deltas.
  const matchLookupsSeen = new Map<string, number>();
  // Accepted publishes and their bytes are counted in plain numbers and added to their counters
  // when these are read (a scrape): prom-client's `inc({ result })` hashes and validates the labels
  // on every call, and a pre-bound `labels('accepted')` child does the same. The two `inc`s of
  // every accepted publish were 1-2 % of the gateway's profiled time at 10k msg/s
  // (`npm run bench -- broker --cpu-prof`); in process (hook and broker.publish, no sockets,
  // medians of 7) a PUBLISH went from 1.71 to 1.23 µs at QoS 0 and from 9.28 to 8.31 µs at QoS 1.
  let acceptedPublishes = 0;
  let acceptedBytes = 0;
  return {
    /** Counts one accepted PUBLISH of `bytes` payload bytes (wattproof_gateway_publishes_total{result="accepted"}, wattproof_gateway_received_payload_bytes_total). */
    accepted(bytes: number): void {
      acceptedPublishes++;
      acceptedBytes += bytes;
    },
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
      collect() {
        if (acceptedPublishes === 0) return;
        this.inc({ result: 'accepted' }, acceptedPublishes);
        acceptedPublishes = 0;
      },
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
    queuedMessages: new Gauge({
      name: 'wattproof_gateway_queued_messages',
      help: 'Messages queued in the session store for persistent subscriber sessions (the ingest): enqueued for a QoS 1/2 subscription and not yet acknowledged by the subscriber, in-flight ones included; all sessions together',
      registers: [registry],
      collect() {
        this.set(backlog?.total() ?? 0);
      },
    }),
    largestSessionQueue: new Gauge({
      name: 'wattproof_gateway_largest_session_queue_messages',
      help: 'Messages queued for the persistent subscriber session that has the most; publishes to it are refused at wattproof_gateway_queued_messages_limit',
      registers: [registry],
      collect() {
        this.set(backlog?.largest() ?? 0);
      },
    }),
    queueLimit: new Gauge({
      name: 'wattproof_gateway_queued_messages_limit',
      help: 'GATEWAY_MAX_QUEUED_MESSAGES: messages one persistent subscriber session may have queued',
      registers: [registry],
      collect() {
        this.set(backlog?.limit() ?? 0);
      },
    }),
    queuedBytes: new Gauge({
      name: 'wattproof_gateway_queued_bytes',
      help: 'Payload bytes of the messages counted by wattproof_gateway_queued_messages (in the gateway\'s memory unless the session store is on disk)',
      registers: [registry],
      collect() {
        this.set(backlog?.totalBytes() ?? 0);
      },
    }),
    queueBytesLimit: new Gauge({
      name: 'wattproof_gateway_queued_bytes_limit',
      help: 'GATEWAY_MAX_QUEUED_BYTES: payload bytes one persistent subscriber session may have queued',
      registers: [registry],
      collect() {
        this.set(backlog?.limitBytes() ?? 0);
      },
    }),
    backlogRefusals: new Counter({
      name: 'wattproof_gateway_backlog_refused_publishes_total',
      help: 'QoS 1/2 PUBLISH packets refused without acknowledgement because a session they would be queued for was at GATEWAY_MAX_QUEUED_MESSAGES or GATEWAY_MAX_QUEUED_BYTES (the client is disconnected and resends them)',
      registers: [registry],
    }),
    handOffSeconds: new Histogram({
      name: 'wattproof_gateway_publish_handoff_seconds',
      help: 'Time from an accepted QoS 1 PUBLISH to its hand-off (queued in the session store for every persistent subscriber session and written to connected subscribers), after which the PUBACK is sent',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    publishesInFlight: new Gauge({
      name: 'wattproof_gateway_publishes_in_flight',
      help: 'Publishes being delivered now (stored for persistent sessions, written to subscribers); at most GATEWAY_MAX_PUBLISHES_IN_FLIGHT',
      registers: [registry],
      collect() {
        this.set(deliveries?.().inFlight ?? 0);
      },
    }),
    publishesWaiting: new Gauge({
      name: 'wattproof_gateway_publishes_waiting',
      help: 'Publishes waiting for a delivery slot (GATEWAY_MAX_PUBLISHES_IN_FLIGHT reached); their PUBACKs wait too, and the gateway reads nothing more from their devices meanwhile',
      registers: [registry],
      collect() {
        this.set(deliveries?.().waiting ?? 0);
      },
    }),
    shedPublishes: new Counter({
      name: 'wattproof_gateway_shed_publishes_total',
      help: 'QoS 0 PUBLISH packets dropped because GATEWAY_MAX_PUBLISHES_IN_FLIGHT deliveries were in progress (overload; QoS 1 waits instead)',
      registers: [registry],
    }),
    matchCacheLookups: new Counter({
      name: 'wattproof_gateway_topic_match_cache_lookups_total',
      help: 'Lookups of the topic-match caches by cache (sessions: persistent sessions a QoS > 0 message is queued for; subscribers: live subscriptions) and result (hit, or miss = a walk of the subscription trie). Many misses: subscriptions change often, or more distinct topics than the cache holds',
      labelNames: ['cache', 'result'] as const,
      registers: [registry],
      collect() {
        const caches = matchCaches?.() ?? {};
        for (const cache of ['sessions', 'subscribers'] as const) {
          const stats = caches[cache];
          if (!stats) continue;
          for (const result of ['hit', 'miss'] as const) {
            const key = `${cache}:${result}`;
            const total = result === 'hit' ? stats.hits : stats.misses;
            const delta = total - (matchLookupsSeen.get(key) ?? 0);
            matchLookupsSeen.set(key, total);
            if (delta > 0) this.inc({ cache, result }, delta);
          }
        }
      },
    }),
    matchCacheTopics: new Gauge({
      name: 'wattproof_gateway_topic_match_cache_topics',
      help: `Topics whose matching subscriptions are cached now, by cache (emptied when subscriptions change or it holds ${MATCH_CACHE_MAX_TOPICS.toLocaleString('en-US')})`,
      labelNames: ['cache'] as const,
      registers: [registry],
      collect() {
        const caches = matchCaches?.() ?? {};
        for (const cache of ['sessions', 'subscribers'] as const) {
          const stats = caches[cache];
          if (stats) this.set({ cache }, stats.topics);
        }
      },
    }),
    receivedBytes: new Counter({
      name: 'wattproof_gateway_received_payload_bytes_total',
      help: 'Payload bytes of accepted PUBLISH packets',
      registers: [registry],
      collect() {
        if (acceptedBytes === 0) return;
        this.inc(acceptedBytes);
        acceptedBytes = 0;
      },
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
