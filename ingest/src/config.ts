/** Ingest configuration: keys are environment variable names, units in the names. */
import { z } from 'zod';
import { envInt, envOptionalString } from '@wattproof/core';

/** True when `tz` is an IANA time zone this Node (full ICU) knows. */
function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Default lateness allowance before a local day is sealed: 2 days. Device store-and-forward and
 * the broker's session backlog cover outages of hours (docs/RELIABILITY.md); two days also cover a
 * weekend-long site outage noticed on Monday. Readings later than that are still stored, as
 * amendments (docs/integrity.md): rare, so the per-day cost stays small.
 */
export const DEFAULT_SEAL_AFTER_S = 2 * 86_400;

export const ingestConfigSchema = z.object({
  INGEST_MQTT_URL: z.string().default('mqtt://127.0.0.1:1883').describe('Broker URL (mqtt://, mqtts://, ws://)'),
  INGEST_MQTT_USERNAME: z.string().default('wattproof-ingest').describe('Service principal the ingest logs in as'),
  INGEST_MQTT_PASSWORD: envOptionalString().describe('Its secret (from `wattproof device add-service`); `wattproof start` provisions one itself'),
  INGEST_MQTT_CLIENT_ID: z.string().default('wattproof-ingest').describe('Client id of the persistent session (QoS 1, clean session off)'),
  INGEST_BATCH_MAX_READINGS: envInt(5000, 1, 100_000).describe('Readings that make a batch due at once, without waiting for INGEST_FLUSH_INTERVAL_MS'),
  INGEST_FLUSH_INTERVAL_MS: envInt(200, 1, 60_000).describe('Longest time a reading waits for its batch to fill'),
  INGEST_WRITE_MAX_READINGS: envInt(20_000, 1, 1_000_000).describe(
    'Most readings one store write takes (at least INGEST_BATCH_MAX_READINGS): writes are serial, and the next one takes what arrived during the one before, up to this many (InfluxDB: requests of INFLUX_BATCH_POINTS lines, INFLUX_WRITE_CONCURRENCY at a time)',
  ),
  INGEST_MAX_PENDING_MESSAGES: envInt(20_000, 1, 1_000_000).describe('Unacknowledged messages held before the ingest stops reading from the broker (back-pressure)'),
  INGEST_MAX_PENDING_BYTES: envInt(32 * 1024 * 1024, 64 * 1024, 4 * 1024 * 1024 * 1024).describe(
    'Payload bytes of unacknowledged messages held before the ingest stops reading from the broker or the readings streams (back-pressure that bounds memory when messages carry many readings; one larger message still goes in alone)',
  ),
  INGEST_MAX_FUTURE_S: envInt(900, 0, 86_400 * 7).describe('How far ahead of the ingest clock a timestamp may be (device clock skew)'),
  INGEST_LATE_AFTER_S: envInt(3600, 1, 86_400 * 365).describe('A reading older than this when received counts as late (it is stored all the same)'),
  INGEST_RETRY_MAX_DELAY_MS: envInt(30_000, 100, 600_000).describe('Longest back-off between retries of a failed store write'),
  INGEST_REGISTER_LOOKBACK_S: envInt(35 * 86_400, 3600, 400 * 86_400).describe('Register history kept per meter to turn cumulative registers into intervals (late readings older than this reload it from the store)'),
  INGEST_DEDUPE_CACHE_SIZE: envInt(200_000, 0, 10_000_000).describe('Recent readings remembered to drop exact duplicates (two generations; 40-75 bytes each, allocated at start)'),
  INGEST_CLOSE_TIMEOUT_MS: envInt(10_000, 0, 600_000).describe('On shutdown, how long to wait for pending messages to become durable before disconnecting without acknowledging them'),
  INGEST_SEAL_INTERVAL_S: envInt(3600, 0, 7 * 86_400).describe('How often the ingest seals closed local days of stored readings (Merkle root per series and day, chained per series; docs/integrity.md); 0 = off (then seal with `wattproof seal`). Stream workers (INGEST_STREAM_REDIS_URL) never seal: run one `wattproof seal` on a timer'),
  INGEST_SEAL_AFTER_S: envInt(DEFAULT_SEAL_AFTER_S, 3600, 400 * 86_400).describe('Lateness allowance: a local day is sealed once its end is this long past; a reading written into a sealed day is recorded as an amendment and the day sealed again'),
  INGEST_SEAL_TIME_ZONE: z.string().refine(isTimeZone, 'an IANA time zone such as Asia/Shanghai').default('Asia/Shanghai').describe('IANA time zone of the sealed local days of a series that has no seal yet (a series keeps the zone of its first seal)'),
  INGEST_MAX_PAYLOAD_BYTES: envInt(256 * 1024, 1024, 16 * 1024 * 1024).describe('Payload limit the contract check applies (keep equal to the gateway\'s)'),
  INGEST_STREAM_REDIS_URL: envOptionalString().describe(
    'Scale-out (docs/SCALING.md): Redis URL of the readings streams the gateways write (GATEWAY_STREAM_REDIS_URL). When set, the ingest runs as one of several workers that lease the stream shards among themselves and consume them with a consumer group, instead of subscribing over MQTT; an entry is acknowledged (XACK) only once its readings are durable. INGEST_MAX_PENDING_MESSAGES bounds the entries in flight',
  ),
  INGEST_STREAM_WORKER_ID: envOptionalString().describe('Name of this worker: its consumer name and the owner of its shard leases. Unique per running worker; default `<hostname>-<pid>`'),
  INGEST_STREAM_LEASE_MS: envInt(10_000, 500, 600_000).describe(
    'Lease of a shard (and liveness of a worker): renewed every third of it; a worker that stops renewing loses its shards after this long and the others take them over, first re-processing the entries it had not acknowledged',
  ),
  INGEST_STREAM_READ_ENTRIES: envInt(500, 1, 100_000).describe('Entries asked for per shard and read (XREADGROUP COUNT / XAUTOCLAIM COUNT)'),
});

export type IngestConfig = z.output<typeof ingestConfigSchema>;
