/**
 * The gateway restarted while the ingest was away.
 *
 * With GATEWAY_PERSISTENCE_DIR (sessions on disk): the ingest is stopped (its persistent session
 * stays), a device publishes readings and gets every PUBACK, the gateway is restarted — closed and
 * re-created on the same directory, or `wattproof gateway` SIGKILLed right after the last PUBACK —,
 * the ingest comes back and every reading is stored exactly once with its value. Readings the
 * device published while the gateway was down (not acknowledged, so kept by the device) are
 * resent and stored too.
 *
 * With in-memory sessions (no GATEWAY_PERSISTENCE_DIR, `wattproof gateway`'s default) the same
 * restart loses what the gateway acknowledged and had not yet delivered: asserted here as the
 * documented cost of that setting (docs/RELIABILITY.md). What holds there too: nothing the ingest
 * acknowledged is lost, the ingest subscribes again by itself, and what the device still held is
 * resent and stored exactly once.
 */
import { readingsTopic } from '@wattproof/core';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startInfluxDb, type TestInfluxDb } from '../support/influxdb.js';
import { freePort } from '../support/net.js';
import { createRig, publishRange, STEP_MS, T0, valueOf, waitFor, type Rig, type RigOptions } from './harness.js';

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

/** Stored before the ingest goes away. */
const BEFORE = 50;
/** Published and acknowledged by the gateway while the ingest is away. */
const AWAY = 250;
/** Published while the gateway is down. */
const DOWN = 50;
const TOTAL = BEFORE + AWAY + DOWN;
const QUEUED = 'wattproof_gateway_queued_messages';

/** The ingest's subscription is in the (new) gateway's session store. */
async function subscribed(r: Rig): Promise<boolean> {
  const persistence = (r.gateway.broker() as unknown as { persistence: { subscriptionsByTopic(t: string): Promise<Array<{ clientId: string }>> } }).persistence;
  return (await persistence.subscriptionsByTopic(readingsTopic(r.ref))).some((s) => s.clientId === r.ingestClientId);
}

/** Stops the ingest, publishes AWAY readings (all PUBACKed), checks they are queued at the gateway. */
async function publishWhileIngestAway(r: Rig, device: MqttClient): Promise<void> {
  await publishRange(device, r.ref, 0, BEFORE);
  await r.expectExactly(BEFORE);
  await r.stopIngest();
  await publishRange(device, r.ref, BEFORE, BEFORE + AWAY);
  expect(await r.gatewayMetric(QUEUED)).toBe(AWAY);
  expect(await r.gatewayReady()).toEqual({ ready: true, reasons: [] });
}

/** Publishes DOWN readings while the gateway is down: the device keeps them, un-acknowledged; `acked` resolves when they are PUBACKed. */
async function publishWhileGatewayDown(r: Rig, device: MqttClient): Promise<{ acked: Promise<void> }> {
  await waitFor(() => !device.connected, 10_000, 'the device to see the gateway go');
  const acked = publishRange(device, r.ref, BEFORE + AWAY, TOTAL);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(Object.keys(device.outgoing).length).toBe(DOWN);
  return { acked };
}

/** MQTT.js' reconnect() without arguments starts with empty stores, dropping what it kept: pass them on. */
function reconnectKeepingStores(device: MqttClient): void {
  device.reconnect({ incomingStore: device.incomingStore, outgoingStore: device.outgoingStore });
}

describe('gateway restart with sessions on disk (GATEWAY_PERSISTENCE_DIR)', () => {
  const variants: Array<{ name: string; options: Partial<RigOptions>; signal: 'SIGTERM' | 'SIGKILL' }> = [
    { name: 'closed and re-created in process (fsync on)', options: {}, signal: 'SIGTERM' },
    // fsync off: a SIGKILL of the process loses nothing LevelDB wrote to its log (the page cache survives).
    { name: 'wattproof gateway SIGKILLed right after the last PUBACK (fsync off)', options: { gatewayProcess: true, gateway: { GATEWAY_PERSISTENCE_SYNC: false } }, signal: 'SIGKILL' },
  ];
  for (const v of variants) {
    it(`stores every reading the gateway acknowledged while the ingest was away, exactly once: ${v.name}`, async () => {
      rig = await createRig({ influxUrl: influx.url, database: influx.database, site: `gwdisk${v.options.gatewayProcess ? 'kill' : 'close'}`, gatewayPort: await freePort(), sessions: 'disk', ...v.options });
      const device = await rig.device();
      await publishWhileIngestAway(rig, device);

      await rig.stopGateway(v.signal);
      const resent = await publishWhileGatewayDown(rig, device);
      await rig.startGateway();
      // Counted again from the store on disk.
      expect(await rig.gatewayMetric(QUEUED)).toBe(AWAY);

      await rig.startIngest();
      reconnectKeepingStores(device);
      await resent.acked;
      await rig.expectExactly(TOTAL);
      await waitFor(async () => (await rig!.gatewayMetric(QUEUED)) === 0, 20_000, 'the ingest to acknowledge everything');
    }, 180_000);
  }
});

describe('gateway restart with in-memory sessions', () => {
  it('loses what it acknowledged and had not delivered; stores what devices resend, exactly once', async () => {
    rig = await createRig({ influxUrl: influx.url, database: influx.database, site: 'gwmemory', gatewayPort: await freePort() });
    const device = await rig.device();
    await publishWhileIngestAway(rig, device);

    await rig.stopGateway();
    const resent = await publishWhileGatewayDown(rig, device);
    await rig.startGateway();
    expect(await rig.gatewayMetric(QUEUED)).toBe(0);

    await rig.startIngest();
    // The session is gone with the old gateway: the ingest subscribes again on its CONNECT. A
    // message published before that reaches no subscriber, so the device comes back only then.
    await waitFor(() => subscribed(rig!), 15_000, 'the ingest subscribed again');
    reconnectKeepingStores(device);
    await resent.acked;
    const expected = [...Array.from({ length: BEFORE }, (_, i) => i), ...Array.from({ length: DOWN }, (_, i) => BEFORE + AWAY + i)];
    await waitFor(async () => (await rig!.stored()).length >= expected.length && rig!.ingest.pipeline.pending() === 0, 60_000, 'resent readings stored');
    const rows = await rig.stored();
    // Readings BEFORE..BEFORE+AWAY-1 were acknowledged to the device and lost with the gateway's memory.
    expect(rows.map((r) => r.ts)).toEqual(expected.map((i) => T0 + i * STEP_MS));
    expect(rows.map((r) => r.value)).toEqual(expected.map(valueOf));
  }, 120_000);
});
