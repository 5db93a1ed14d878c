/** Ingest configuration: keys are environment variable names, units in the names. */
import { z } from 'zod';
import { envInt, envOptionalString } from '@wattproof/core';

export const ingestConfigSchema = z.object({
  INGEST_MQTT_URL: z.string().default('mqtt://127.0.0.1:1883').describe('Broker URL (mqtt://, mqtts://, ws://)'),
  INGEST_MQTT_USERNAME: z.string().default('wattproof-ingest').describe('Service principal the ingest logs in as'),
  INGEST_MQTT_PASSWORD: envOptionalString().describe('Its secret (from `wattproof device add-service`); `wattproof start` provisions one itself'),
  INGEST_MQTT_CLIENT_ID: z.string().default('wattproof-ingest').describe('Client id of the persistent session (QoS 1, clean session off)'),
  INGEST_BATCH_MAX_READINGS: envInt(5000, 1, 100_000).describe('Readings per store write'),
  INGEST_FLUSH_INTERVAL_MS: envInt(200, 1, 60_000).describe('Longest time a reading waits for its batch to fill'),
  INGEST_MAX_PENDING_MESSAGES: envInt(20_000, 1, 1_000_000).describe('Unacknowledged messages held before the ingest stops reading from the broker (back-pressure)'),
  INGEST_MAX_FUTURE_S: envInt(900, 0, 86_400 * 7).describe('How far ahead of the ingest clock a timestamp may be (device clock skew)'),
  INGEST_LATE_AFTER_S: envInt(3600, 1, 86_400 * 365).describe('A reading older than this when received counts as late (it is stored all the same)'),
  INGEST_RETRY_MAX_DELAY_MS: envInt(30_000, 100, 600_000).describe('Longest back-off between retries of a failed store write'),
  INGEST_REGISTER_LOOKBACK_S: envInt(35 * 86_400, 3600, 400 * 86_400).describe('Register history kept per meter to turn cumulative registers into intervals (late readings older than this reload it from the store)'),
  INGEST_DEDUPE_CACHE_SIZE: envInt(200_000, 0, 10_000_000).describe('Recent reading keys remembered to drop exact duplicates'),
  INGEST_CLOSE_TIMEOUT_MS: envInt(10_000, 0, 600_000).describe('On shutdown, how long to wait for pending messages to become durable before disconnecting without acknowledging them'),
  INGEST_MAX_PAYLOAD_BYTES: envInt(256 * 1024, 1024, 16 * 1024 * 1024).describe('Payload limit the contract check applies (keep equal to the gateway\'s)'),
});

export type IngestConfig = z.output<typeof ingestConfigSchema>;
