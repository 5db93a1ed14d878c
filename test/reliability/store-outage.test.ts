/**
 * The store unreachable: InfluxDB killed (SIGKILL, data kept) or frozen (SIGSTOP) while a device
 * publishes; it stays down for OUTAGE_MS (seconds here; minutes behave the same, only the
 * back-off is capped by INGEST_RETRY_MAX_DELAY_MS), then comes back on the same port with the
 * same data. Every reading is stored exactly once, nothing is acknowledged while the store is
 * down, and the ingest holds at most INGEST_MAX_PENDING_MESSAGES unacknowledged messages.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startInfluxDb, type TestInfluxDb } from '../support/influxdb.js';
import { createRig, publishRange, recordIngestAcks, waitFor, type Rig } from './harness.js';

const OUTAGE_MS = 4_000;
const MAX_PENDING = 50;

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

describe('InfluxDB unreachable while readings arrive', () => {
  for (const mode of ['killed', 'frozen'] as const) {
    it(`stores every reading exactly once after InfluxDB was ${mode}, acknowledging nothing meanwhile`, async () => {
      rig = await createRig({ influxUrl: influx.url, database: influx.database, site: `outage-${mode}`, ingest: { INGEST_MAX_PENDING_MESSAGES: MAX_PENDING } });
      const acks = recordIngestAcks(rig.gateway, `ingest-outage-${mode}`);
      const device = await rig.device();
      await publishRange(device, rig.ref, 0, 100);
      await rig.expectExactly(100);
      await waitFor(() => acks.size === 100, 10_000, 'ingest acks of the first 100');

      if (mode === 'killed') await influx.kill('SIGKILL');
      else influx.pause();
      const downAt = Date.now();
      // 300 more while the store is down: the gateway acknowledges them to the device and keeps them for the ingest.
      await publishRange(device, rig.ref, 100, 400);
      let maxPending = 0;
      const sampler = setInterval(() => (maxPending = Math.max(maxPending, rig!.ingest.pipeline.pending())), 10);
      try {
        await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
        expect(acks.size, 'no PUBACK while the store is down').toBe(100);
        expect(rig.ingest.pipeline.pending()).toBeGreaterThan(0);
        expect(maxPending).toBeLessThanOrEqual(MAX_PENDING);
        const failures = (await rig.metrics.getSingleMetric('wattproof_ingest_store_write_failures_total')!.get()).values[0]?.value ?? 0;
        expect(failures).toBeGreaterThan(0);
        expect((await rig.ingest.ready()).reasons).toContain('reading store unreachable');

        if (mode === 'killed') await influx.restart();
        else influx.resume();
        await rig.expectExactly(400);
        await waitFor(() => acks.size === 400, 20_000, 'ingest acks of all 400');
        expect(maxPending).toBeLessThanOrEqual(MAX_PENDING);
        expect(await rig.ingest.ready()).toMatchObject({ ready: true, reasons: [] });
      } finally {
        clearInterval(sampler);
        influx.resume();
        if (mode === 'killed') await influx.restart().catch(() => undefined);
      }
    }, 120_000);
  }
});
