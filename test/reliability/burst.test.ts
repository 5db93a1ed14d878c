/**
 * A burst: one device's store-and-forward backlog arriving at once after days offline — 7 days
 * of 15-min intervals for four quantities (2,688 messages of one reading each), published
 * without waiting. Everything is stored exactly once, and the ingest never holds more than
 * INGEST_MAX_PENDING_MESSAGES unacknowledged messages (the rest waits in the gateway).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readingsTopic } from '@wattproof/core';
import { startInfluxDb, type TestInfluxDb } from '../support/influxdb.js';
import { createRig, readingMessage, type Rig } from './harness.js';

const DAYS = 7;
const PER_DAY = 96;
const QUANTITIES = ['electricity', 'heat', 'water', 'gas'] as const;
const MAX_PENDING = 200;

let influx: TestInfluxDb;
let rig: Rig | undefined;

beforeAll(async () => {
  influx = await startInfluxDb();
});
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});
afterAll(async () => {
  await influx?.stop();
});

describe('store-and-forward burst', () => {
  it(`stores a ${DAYS}-day backlog of ${QUANTITIES.length} quantities exactly once with bounded pending messages`, async () => {
    rig = await createRig({ influxUrl: influx.url, database: influx.database, site: 'burst', ingest: { INGEST_MAX_PENDING_MESSAGES: MAX_PENDING, INGEST_BATCH_MAX_READINGS: 500 } });
    const device = await rig.device();
    let maxPending = 0;
    const sampler = setInterval(() => (maxPending = Math.max(maxPending, rig!.ingest.pipeline.pending())), 5);
    try {
      const n = DAYS * PER_DAY;
      const acks: Array<Promise<unknown>> = [];
      let seq = 0;
      for (let i = 0; i < n; i++) {
        for (const q of QUANTITIES) acks.push(device.publishAsync(readingsTopic(rig.ref), readingMessage(++seq, [i], q), { qos: 1 }));
      }
      await Promise.all(acks);
      for (const q of QUANTITIES) await rig.expectExactly(n, q);
      expect(maxPending).toBeGreaterThan(0);
      expect(maxPending).toBeLessThanOrEqual(MAX_PENDING);
      const written = (await rig.metrics.getSingleMetric('wattproof_ingest_readings_written_total')!.get()).values[0]?.value;
      expect(written).toBe(n * QUANTITIES.length);
    } finally {
      clearInterval(sampler);
    }
  }, 180_000);
});
