/**
 * Live updates from GET /api/v1/stream (server-sent events). One EventSource per filter, shared
 * by the components that listen to it and closed with the last of them; the browser reconnects
 * by itself when the connection drops.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Alert, Reading } from './api.js';

export type LiveStatus = 'connecting' | 'open' | 'lost';

export interface LiveListener {
  /** Readings of the snapshot (on every (re)connect) and every change after it. */
  onReadings?(readings: Reading[], snapshot: boolean): void;
  /** Alerts when the alert service answers (null in a snapshot when there is none). */
  onAlerts?(alerts: Alert[] | null): void;
}

interface Channel {
  readonly source: EventSource;
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

function open(url: string): Channel {
  const existing = channels.get(url);
  if (existing) return existing;
  const source = new EventSource(url);
  const ch: Channel = { source, listeners: new Set(), statusListeners: new Set(), status: 'connecting', latest: new Map(), alerts: undefined };
  const setStatus = (s: LiveStatus) => {
    ch.status = s;
    for (const l of ch.statusListeners) l(s);
  };
  source.addEventListener('open', () => setStatus('open'));
  source.addEventListener('error', () => setStatus(source.readyState === EventSource.CLOSED ? 'lost' : 'connecting'));
  source.addEventListener('snapshot', (e) => {
    const data = JSON.parse((e as MessageEvent<string>).data) as { readings: Reading[]; alerts: Alert[] | null };
    for (const r of data.readings) ch.latest.set(seriesKey(r), r);
    ch.alerts = data.alerts;
    for (const l of ch.listeners) {
      l.onReadings?.(data.readings, true);
      l.onAlerts?.(data.alerts);
    }
  });
  source.addEventListener('readings', (e) => {
    const data = JSON.parse((e as MessageEvent<string>).data) as { readings: Reading[] };
    for (const r of data.readings) ch.latest.set(seriesKey(r), r);
    for (const l of ch.listeners) l.onReadings?.(data.readings, false);
  });
  source.addEventListener('alerts', (e) => {
    const data = JSON.parse((e as MessageEvent<string>).data) as { alerts: Alert[] };
    ch.alerts = data.alerts;
    for (const l of ch.listeners) l.onAlerts?.(data.alerts);
  });
  channels.set(url, ch);
  return ch;
}

function release(url: string, ch: Channel): void {
  if (ch.listeners.size === 0 && ch.statusListeners.size === 0) {
    ch.source.close();
    channels.delete(url);
  }
}

/** Subscribes `listener` (kept current through a ref) to the stream of a filter; returns the connection status. */
export function useLive(filter: { site?: string | undefined; building?: string | undefined }, listener: LiveListener): LiveStatus {
  const ref = useRef(listener);
  ref.current = listener;
  const url = streamUrl(filter);
  const [status, setStatus] = useState<LiveStatus>('connecting');
  useEffect(() => {
    const ch = open(url);
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
      release(url, ch);
    };
  }, [url]);
  return status;
}

/** Closes every stream before the page goes away, so no reconnect attempt races the unload. */
addEventListener('pagehide', () => {
  for (const [url, ch] of channels) {
    ch.source.close();
    channels.delete(url);
  }
});
