/**
 * Live updates for the console as server-sent events. The stream does not listen to the ingest:
 * it polls `readings.latest()` of the reading store, so it works the same in the all-in-one
 * process and in an API process apart from the ingest. One poller per filter (site, building) is
 * shared by all its clients and stops with the last of them; only series whose latest reading
 * changed are pushed. Alert changes are pushed too when an alert source is given.
 */
import { meterKey, silentLogger, type Logger, type MeterRef, type ReadingStore, type StoredReading } from '@wattproof/core';

/** What a client subscribes to: everything, one site, or one building of a site. */
export interface StreamFilter {
  readonly site?: string;
  readonly building?: string;
}

/** A reading as pushed: the stored reading with its time as ISO 8601. */
export type StreamReading = StoredReading & { readonly time: string };

/** An event for one client: its SSE name and JSON data. */
export interface StreamEvent {
  readonly event: 'readings' | 'alerts';
  readonly data: unknown;
}

export interface LiveStreamDeps {
  readonly readings: Pick<ReadingStore, 'latest'>;
  /** Active and recent alerts of a filter; undefined when no alert service exists. */
  readonly alerts?: (filter: StreamFilter) => Promise<unknown[] | undefined>;
  readonly logger?: Logger;
}

export interface LiveStreamConfig {
  /** Poll period of each filter's poller, ms. */
  readonly pollIntervalMs: number;
  /** Most clients at once. */
  readonly maxClients: number;
}

export interface Subscription {
  /** The latest reading of every series of the filter (the first poll's result when it had to wait for one). */
  readonly snapshot: StreamReading[];
  readonly alerts: unknown[] | undefined;
  close(): void;
}

interface Poller {
  readonly filter: StreamFilter;
  readonly clients: Set<(e: StreamEvent) => void>;
  readonly last: Map<string, string>;
  latest: StreamReading[];
  alerts: unknown[] | undefined;
  alertsDigest: string;
  /** False until the first poll: its readings are the snapshot, not changes. */
  primed: boolean;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  first: Promise<void>;
}

const seriesKey = (r: MeterRef & { quantity: string; kind: string }) => `${meterKey(r)}|${r.quantity}|${r.kind}`;
const withTime = (r: StoredReading): StreamReading => ({ ...r, time: new Date(r.ts).toISOString() });

/** Creates the live stream; `subscribe` returns undefined when `maxClients` are connected. */
export function createLiveStream(deps: LiveStreamDeps, config: LiveStreamConfig) {
  const logger = deps.logger ?? silentLogger;
  const pollers = new Map<string, Poller>();
  let clients = 0;
  let polls = 0;

  async function poll(p: Poller): Promise<void> {
    polls++;
    try {
      const latest = await deps.readings.latest({ ...(p.filter.site ? { site: p.filter.site } : {}), ...(p.filter.building ? { building: p.filter.building } : {}) });
      const changed: StreamReading[] = [];
      for (const r of latest) {
        const k = seriesKey(r);
        const v = `${r.ts}|${r.value}`;
        if (p.last.get(k) !== v) {
          p.last.set(k, v);
          changed.push(withTime(r));
        }
      }
      p.latest = latest.map(withTime);
      if (changed.length && p.primed) for (const send of p.clients) send({ event: 'readings', data: { readings: changed } });
    } catch (err) {
      logger.warn({ err }, 'live stream: reading the latest readings failed');
    }
    if (deps.alerts) {
      try {
        const alerts = await deps.alerts(p.filter);
        const digest = JSON.stringify(alerts ?? null);
        if (digest !== p.alertsDigest) {
          const before = p.alertsDigest;
          p.alertsDigest = digest;
          p.alerts = alerts;
          // The first answer is part of the snapshot; only later changes are events.
          if (before !== '' && alerts) for (const send of p.clients) send({ event: 'alerts', data: { alerts } });
        }
      } catch (err) {
        logger.warn({ err }, 'live stream: reading the alerts failed');
      }
    }
    p.primed = true;
  }

  function pollerFor(filter: StreamFilter): Poller {
    const key = `${filter.site ?? ''}/${filter.building ?? ''}`;
    let p = pollers.get(key);
    if (p) return p;
    const created: Poller = { filter, clients: new Set(), last: new Map(), latest: [], alerts: undefined, alertsDigest: '', primed: false, timer: undefined, running: undefined, first: Promise.resolve() };
    created.first = poll(created);
    created.timer = setInterval(() => {
      // A slow store never gets a second poll of the same filter on top of the first.
      if (created.running) return;
      created.running = poll(created).finally(() => (created.running = undefined));
    }, config.pollIntervalMs);
    created.timer.unref();
    pollers.set(key, created);
    return created;
  }

  function release(filter: StreamFilter, send: (e: StreamEvent) => void): void {
    const key = `${filter.site ?? ''}/${filter.building ?? ''}`;
    const p = pollers.get(key);
    if (!p || !p.clients.delete(send)) return;
    clients--;
    if (p.clients.size === 0) {
      clearInterval(p.timer);
      pollers.delete(key);
    }
  }

  return {
    /**
     * Adds a client. Resolves with the current snapshot once the filter's poller has read it;
     * `send` then gets each change. Undefined when the stream is full.
     */
    async subscribe(filter: StreamFilter, send: (e: StreamEvent) => void): Promise<Subscription | undefined> {
      if (clients >= config.maxClients) return undefined;
      clients++;
      const p = pollerFor(filter);
      p.clients.add(send);
      await p.first;
      let closed = false;
      return {
        snapshot: p.latest,
        alerts: p.alerts,
        close: () => {
          if (closed) return;
          closed = true;
          release(filter, send);
        },
      };
    },
    /** Clients and pollers right now, and polls so far (for tests and /health). */
    stats: () => ({ clients, pollers: pollers.size, polls }),
    /** Stops every poller; clients must be ended by their owner. */
    close(): void {
      for (const p of pollers.values()) clearInterval(p.timer);
      pollers.clear();
      clients = 0;
    },
  };
}

export type LiveStream = ReturnType<typeof createLiveStream>;
