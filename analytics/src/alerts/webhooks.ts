/**
 * Webhook delivery of alert events: each raise and resolve is POSTed as JSON to every configured
 * URL, in the background (evaluation never waits for it), with a timeout per attempt and retries
 * with exponential back-off on network errors, timeouts, 408, 429 and 5xx. Every attempt is kept
 * as an append-only `alert.delivery` record. URLs may carry tokens: logs and records name a URL
 * only by its position and origin; the secret is never logged.
 *
 * Signature (when a secret is set): `x-wattproof-signature: sha256=<hex>`, the HMAC-SHA256 of
 * `<x-wattproof-timestamp>.<raw body>` — see {@link verifyWebhookSignature}.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { silentLogger, type Logger, type RegistryStore, type StoredRecord } from '@wattproof/core';
import { ALERT_RECORD_KINDS, type Alert, type AlertDeliveryBody, type AlertEventBody } from './types.js';

/** Longest wait between two attempts, ms. */
export const MAX_WEBHOOK_BACKOFF_MS = 600_000;
export const WEBHOOK_SIGNATURE_HEADER = 'x-wattproof-signature';
export const WEBHOOK_TIMESTAMP_HEADER = 'x-wattproof-timestamp';
export const WEBHOOK_DELIVERY_HEADER = 'x-wattproof-delivery';
export const WEBHOOK_EVENT_HEADER = 'x-wattproof-event';

/** The JSON a receiver gets. */
export interface WebhookPayload {
  /** `alert.raised`, `alert.updated` or `alert.resolved`. */
  readonly type: string;
  readonly deliveryId: string;
  /** Id of the `alert.event` record (the same in every retry). */
  readonly eventId: string;
  readonly occurredAt: string;
  readonly alert: Alert;
}

export interface WebhookOptions {
  readonly urls: readonly string[];
  readonly secret?: string;
  /** Per attempt, ms. */
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  /** Before the first retry, ms; doubles each retry up to MAX_WEBHOOK_BACKOFF_MS. */
  readonly backoffMs: number;
}

export interface WebhookDeps {
  readonly registry: RegistryStore;
  readonly clock?: () => number;
  readonly logger?: Logger;
}

/** HMAC-SHA256 signature header value of a body sent at `timestamp` (epoch seconds as sent). */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * For receivers: true when `signature` is the HMAC of `<timestamp>.<body>` with `secret` and the
 * timestamp is within `toleranceS` of `nowMs` (replay protection). Compares in constant time.
 */
export function verifyWebhookSignature(secret: string, timestamp: string, body: string, signature: string, options: { toleranceS?: number; nowMs?: number } = {}): boolean {
  const ts = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || Math.abs((options.nowMs ?? Date.now()) / 1000 - ts) > (options.toleranceS ?? 300)) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** A URL as it may be logged: its origin only. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid)';
  }
}

export function createWebhookDispatcher(deps: WebhookDeps, options: WebhookOptions) {
  const clock = deps.clock ?? Date.now;
  const logger = deps.logger ?? silentLogger;
  const pending = new Set<Promise<void>>();
  const timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  const closing = new AbortController();

  function wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      entry.timer.unref?.();
      timers.add(entry);
    });
  }

  async function record(alertId: string, body: AlertDeliveryBody): Promise<void> {
    try {
      await deps.registry.appendRecords([{ kind: ALERT_RECORD_KINDS.delivery, key: alertId, recordedAtMs: body.atMs, body }]);
    } catch (err) {
      logger.warn({ err: (err as Error).message, alertId, target: body.target }, 'webhook delivery attempt not recorded');
    }
  }

  async function deliver(event: StoredRecord & { body: AlertEventBody }, url: string, target: number): Promise<void> {
    const deliveryId = randomUUID();
    const origin = originOf(url);
    const payload: WebhookPayload = { type: `alert.${event.body.type}`, deliveryId, eventId: event.id, occurredAt: new Date(event.body.atMs).toISOString(), alert: event.body.alert };
    const body = JSON.stringify(payload);
    for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
      if (closing.signal.aborted) return;
      const atMs = clock();
      const started = performance.now();
      const timestamp = String(Math.floor(atMs / 1000));
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'wattproof-alerts',
        [WEBHOOK_EVENT_HEADER]: payload.type,
        [WEBHOOK_DELIVERY_HEADER]: deliveryId,
        [WEBHOOK_TIMESTAMP_HEADER]: timestamp,
      };
      if (options.secret) headers[WEBHOOK_SIGNATURE_HEADER] = signWebhook(options.secret, timestamp, body);
      let status: number | null = null;
      let retryAfterMs = 0;
      let error: string | undefined;
      try {
        const res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.any([AbortSignal.timeout(options.timeoutMs), closing.signal]) });
        status = res.status;
        const ra = Number(res.headers.get('retry-after'));
        if (Number.isFinite(ra) && ra > 0) retryAfterMs = ra * 1000;
        await res.body?.cancel().catch(() => undefined);
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        // Never the URL: only what went wrong.
        error = e.name === 'TimeoutError' ? `timed out after ${options.timeoutMs} ms` : e.name === 'AbortError' ? 'aborted: the alert engine is closing' : `${e.cause?.code ?? e.name}: request failed`;
      }
      const durationMs = Math.round(performance.now() - started);
      const ok = status !== null && status >= 200 && status < 300;
      const retriable = !ok && (status === null || status === 408 || status === 429 || status >= 500);
      const code = ok ? undefined : retriable ? 'ALERT_WEBHOOK_FAILED' : 'ALERT_WEBHOOK_REJECTED';
      if (!error && !ok) error = `answered ${status}`;
      const last = ok || !retriable || attempt === options.maxAttempts || closing.signal.aborted;
      const delay = Math.min(MAX_WEBHOOK_BACKOFF_MS, Math.max(retryAfterMs, options.backoffMs * 2 ** (attempt - 1)));
      await record(event.body.alert.id, {
        deliveryId,
        eventId: event.id,
        eventType: event.body.type,
        target,
        origin,
        attempt,
        atMs,
        durationMs,
        ok,
        status,
        ...(code ? { code } : {}),
        ...(error ? { error } : {}),
        ...(last ? {} : { retryAtMs: clock() + delay }),
      });
      if (ok) {
        logger.info({ alertId: event.body.alert.id, event: payload.type, target, origin, attempt }, 'alert webhook delivered');
        return;
      }
      logger.warn({ alertId: event.body.alert.id, event: payload.type, target, origin, attempt, status, error, willRetry: !last }, 'alert webhook attempt failed');
      if (last) return;
      await wait(delay);
    }
  }

  return {
    /** Starts delivering one alert event to every URL; returns at once. */
    send(event: StoredRecord & { body: AlertEventBody }): void {
      if (closing.signal.aborted) return;
      options.urls.forEach((url, i) => {
        const p: Promise<void> = deliver(event, url, i + 1)
          .catch((err: unknown) => logger.error({ err: (err as Error).message, target: i + 1 }, 'alert webhook delivery crashed'))
          .finally(() => pending.delete(p));
        pending.add(p);
      });
    },
    /** Resolves when every delivery started so far has finished (delivered, rejected or out of attempts). */
    async idle(): Promise<void> {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    /** Abandons waiting retries, aborts attempts in flight and waits for them to be recorded. */
    async close(): Promise<void> {
      closing.abort();
      for (const t of timers) {
        clearTimeout(t.timer);
        t.resolve();
      }
      timers.clear();
      await this.idle();
    },
  };
}

export type WebhookDispatcher = ReturnType<typeof createWebhookDispatcher>;
