/** Operator alerts: rules over readings, M&V results, EUI and dead letters, with webhooks. */
export * from './config.js';
export * from './errors.js';
export * from './types.js';
export * from './engine.js';
export { alertId, DEFAULT_ALERT_TIME_ZONE } from './context.js';
export { createWebhookDispatcher, signWebhook, verifyWebhookSignature, MAX_WEBHOOK_BACKOFF_MS, WEBHOOK_DELIVERY_HEADER, WEBHOOK_EVENT_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER, type WebhookDispatcher, type WebhookOptions, type WebhookPayload } from './webhooks.js';
