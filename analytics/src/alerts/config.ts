/**
 * Config of the operator alerts: one zod schema whose keys are environment variable names (units
 * in the names), each `.describe()`d with its default. Parsed once by `wattproof start`/`api`.
 */
import { z } from 'zod';
import { envInt, envOptionalString } from '@wattproof/core';

/** A fraction env var in (min, max]. */
function envFraction(defaultValue: number, min = 0, max = 1) {
  return z.coerce.number().gt(min).max(max).default(defaultValue);
}

/** Comma-separated http(s) URLs; empty = none. */
const webhookUrls = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const urls = v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    for (const [i, u] of urls.entries()) {
      let ok = false;
      try {
        const parsed = new URL(u);
        ok = parsed.protocol === 'http:' || parsed.protocol === 'https:';
      } catch {
        ok = false;
      }
      // Never echo the URL: a webhook URL often carries its own token.
      if (!ok) ctx.addIssue({ code: 'custom', message: `URL number ${i + 1} is not an http(s) URL` });
    }
    return urls;
  });

export const alertsConfigSchema = z.object({
  ALERT_EVALUATE_INTERVAL_S: envInt(300, 0, 86_400).describe('How often the API process evaluates the alert rules, seconds (0 = only on demand, POST /api/v1/alerts/evaluate)'),
  ALERT_SILENT_INTERVALS: envInt(4, 1, 10_000).describe('meter_silent: a meter is silent when its newest reading is older than this many of its usual intervals (its interval_s, else the median spacing of its readings)'),
  ALERT_SILENT_DEFAULT_INTERVAL_S: envInt(900, 1, 86_400).describe('meter_silent: usual interval of a meter whose readings carry no interval and are too few for a median spacing, seconds'),
  ALERT_SILENT_CRITICAL_H: envInt(24, 1, 8_760).describe('meter_silent: a meter silent for this many hours is critical, not a warning'),
  ALERT_ABOVE_BASELINE_HOURS: envInt(3, 1, 168).describe('above_baseline (hourly model): consecutive hours above the baseline model\'s upper band before an alert'),
  ALERT_ABOVE_BASELINE_DAYS: envInt(2, 1, 31).describe('above_baseline (daily or billing model): consecutive complete local days above the upper band before an alert'),
  ALERT_ABOVE_BASELINE_LOOKBACK_H: envInt(48, 1, 720).describe('above_baseline (hourly model): recent complete hours compared with the baseline model'),
  ALERT_ABOVE_BASELINE_CONFIDENCE: envFraction(0.95, 0.5, 0.999).describe('above_baseline: one-sided confidence of the upper band, prediction + t(confidence, n - p) x baseline RMSE'),
  ALERT_EUI_MIN_MONTHS: envInt(12, 1, 12).describe('eui_above_quota: complete local months (of the last 12) with data on every main energy meter needed before EUI is judged'),
  ALERT_COVERAGE_MIN_FRACTION: envFraction(0.9).describe('low_coverage: least share of a meter\'s expected intervals received in the current month so far (0..1)'),
  ALERT_COVERAGE_MIN_ELAPSED_H: envInt(24, 1, 744).describe('low_coverage: before this many hours of the current month have passed, the last complete month is checked instead'),
  ALERT_DEAD_LETTER_WINDOW_S: envInt(900, 60, 86_400).describe('dead_letter_surge: window of recent dead letters counted per site, seconds'),
  ALERT_DEAD_LETTER_MAX_COUNT: envInt(50, 1, 10_000_000).describe('dead_letter_surge: more dead letters than this in one window always raise an alert'),
  ALERT_DEAD_LETTER_SURGE_FACTOR: z.coerce.number().min(1).max(1000).default(5).describe('dead_letter_surge: also raise when the window holds more than this many times the trailing baseline rate'),
  ALERT_DEAD_LETTER_MIN_COUNT: envInt(10, 1, 10_000_000).describe('dead_letter_surge: fewer dead letters than this in the window never raise on the surge factor'),
  ALERT_DEAD_LETTER_BASELINE_S: envInt(86_400, 600, 30 * 86_400).describe('dead_letter_surge: trailing period before the window that sets the baseline rate, seconds'),
  ALERT_WEBHOOK_URLS: webhookUrls.describe('Comma-separated http(s) URLs each alert raise and resolve is POSTed to as JSON (none when unset); URLs are never logged, only their origin'),
  ALERT_WEBHOOK_SECRET: envOptionalString().describe('When set, each webhook carries `x-wattproof-signature: sha256=<hex>`, the HMAC-SHA256 of `<x-wattproof-timestamp>.<body>` with this secret'),
  ALERT_WEBHOOK_TIMEOUT_MS: envInt(5000, 100, 120_000).describe('Webhook: time one POST may take before it counts as failed, milliseconds'),
  ALERT_WEBHOOK_MAX_ATTEMPTS: envInt(5, 1, 20).describe('Webhook: attempts per delivery (network errors, timeouts, 408, 429 and 5xx are retried; other 4xx are not)'),
  ALERT_WEBHOOK_BACKOFF_MS: envInt(1000, 0, 600_000).describe('Webhook: wait before the first retry, milliseconds; doubles on each further retry (at most 10 min)'),
});

export type AlertsConfig = z.output<typeof alertsConfigSchema>;
export type AlertsConfigInput = z.input<typeof alertsConfigSchema>;
