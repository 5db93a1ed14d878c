/**
 * Live updates from GET /api/v1/stream (server-sent events) with the signed-in API key in the
 * Authorization header — read with fetch (sse.ts), since EventSource cannot send headers and a
 * key in the URL would end up in logs. One connection per key and filter, shared by the components
 * that listen to it and closed with the last of them; it reconnects when the connection drops,
 * and stops (status `lost`) when the key is refused.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { keyHeaders, useApiKey, type Alert, type Reading } from './api.js';
import { openEventStream } from './sse.js';

export type LiveStatus = 'connecting' | 'open' | 'lost';

export interface LiveListener {
  /** Readings of the snapshot (on every (re)connect) and every change after it. */
  onReadings?(readings: Reading[], snapshot: boolean): void;
  /** Alerts when the alert service answers (null in a snapshot when there is none). */
  onAlerts?(alerts: Alert[] | null): void;
}

interface Channel {
  source: { close(): void };
  readonly listeners: Set<LiveListener>;
  readonly statusListeners: Set<(s: LiveStatus) => void>;
  status: LiveStatus;
  /** What the stream said so far, replayed to listeners that join later. */
  readonly latest: Map<string, Reading>;
  alerts: Alert[] | null | undefined;
}

const seriesKey = (r: Reading) => `${r.site}/${r.building}/${r.meter}|${r.quantity}|${r.kind}`;

const channels = new Map<string, Channel>();

function streamUrl(filter: { site?: string | undefined; building?: string | undefined }): string {
  const q = new URLSearchParams({ ...(filter.site ? { site: filter.site } : {}), ...(filter.building ? { building: filter.building } : {}) }).toString();
  return `/api/v1/stream${q ? `?${q}` : ''}`;
}

function open(id: string, url: string, key: string | null): Channel {
  const existing = channels.get(id);
  if (existing) return existing;
  const ch: Channel = { source: { close: () => undefined }, listeners: new Set(), statusListeners: new Set(), status: 'connecting', latest: new Map(), alerts: undefined };
  const setStatus = (s: LiveStatus) => {
    ch.status = s;
    for (const l of ch.statusListeners) l(s);
  };
  const handlers: Record<string, (data: string) => void> = {
    snapshot: (text) => {
      const data = JSON.parse(text) as { readings: Reading[]; alerts: Alert[] | null };
      for (const r of data.readings) ch.latest.set(seriesKey(r), r);
      ch.alerts = data.alerts;
      for (const l of ch.listeners) {
        l.onReadings?.(data.readings, true);
        l.onAlerts?.(data.alerts);
      }
    },
    readings: (text) => {
      const data = JSON.parse(text) as { readings: Reading[] };
      for (const r of data.readings) ch.latest.set(seriesKey(r), r);
      for (const l of ch.listeners) l.onReadings?.(data.readings, false);
    },
    alerts: (text) => {
      const data = JSON.parse(text) as { alerts: Alert[] };
      ch.alerts = data.alerts;
      for (const l of ch.listeners) l.onAlerts?.(data.alerts);
    },
  };
  ch.source = openEventStream(url, keyHeaders(key), {
    onOpen: () => setStatus('open'),
    onEvent: (e) => handlers[e.event]?.(e.data),
    onError: (_err, fatal) => setStatus(fatal ? 'lost' : 'connecting'),
  });
  channels.set(id, ch);
  return ch;
}

function release(id: string, ch: Channel): void {
  if (ch.listeners.size === 0 && ch.statusListeners.size === 0) {
    ch.source.close();
    channels.delete(id);
  }
}

/** Subscribes `listener` (kept current through a ref) to the stream of a filter; returns the connection status. */
export function useLive(filter: { site?: string | undefined; building?: string | undefined }, listener: LiveListener): LiveStatus {
  const ref = useRef(listener);
  ref.current = listener;
  const key = useApiKey();
  const url = streamUrl(filter);
  // A channel per key: signing in with another key must not inherit what the first one saw.
  const id = `${key ?? ''}\n${url}`;
  const [status, setStatus] = useState<LiveStatus>('connecting');
  useEffect(() => {
    const ch = open(id, url, key);
    const proxy: LiveListener = {
      onReadings: (r, s) => ref.current.onReadings?.(r, s),
      onAlerts: (a) => ref.current.onAlerts?.(a),
    };
    ch.listeners.add(proxy);
    ch.statusListeners.add(setStatus);
    setStatus(ch.status);
    if (ch.latest.size) proxy.onReadings?.([...ch.latest.values()], true);
    if (ch.alerts !== undefined) proxy.onAlerts?.(ch.alerts);
    return () => {
      ch.listeners.delete(proxy);
      ch.statusListeners.delete(setStatus);
      release(id, ch);
    };
  }, [id]);
  return status;
}

/** Closes every stream before the page goes away, so no reconnect attempt races the unload. */
addEventListener('pagehide', () => {
  for (const [id, ch] of channels) {
    ch.source.close();
    channels.delete(id);
  }
});
