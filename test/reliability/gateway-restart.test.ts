/**
 * The gateway restarted. Its sessions are in memory (aedes' default persistence), so a restart
 * forgets the ingest's subscription and whatever it queued for the ingest; see
 * docs/RELIABILITY.md for what that loses and how persistence closes the gap. What holds today
 * and is asserted here: nothing the ingest acknowledged is lost, the ingest reconnects and
 * subscribes again by itself, and a device that keeps its un-acknowledged QoS 1 messages (MQTT.js
 * keeps them in its outgoing store) sends them again once it is back: each stored exactly once.
 */
import { readingsTopic } from '@wattproof/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startInfluxDb, type TestInfluxDb } from '../support/influxdb.js';
import { freePort } from '../support/net.js';
import { createRig, publishRange, waitFor, type Rig } from './harness.js';

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

/** Subscriptions matching `topic` in the broker's persistence (aedes' typings omit `persistence`). */
async function subscribers(r: Rig, topic: string): Promise<number> {
  const persistence = (r.gateway.broker() as unknown as { persistence: { subscriptionsByTopic(t: string): Promise<unknown[]> } }).persistence;
  return (await persistence.subscriptionsByTopic(topic)).length;
}

describe('gateway restart with in-memory sessions', () => {
  it('keeps what was stored and stores the readings devices resend after the restart, exactly once', async () => {
    rig = await createRig({ influxUrl: influx.url, database: influx.database, site: 'gwrestart', gatewayPort: await freePort() });
    const device = await rig.device();
    await publishRange(device, rig.ref, 0, 100);
    await rig.expectExactly(100);

    await rig.stopGateway();
    await waitFor(() => !rig!.ingest.connected() && !device.connected, 5_000, 'clients to see the gateway go');
    // Published while the gateway is down: the device keeps them until a PUBACK comes.
    const resent = publishRange(device, rig.ref, 100, 200);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(Object.keys(device.outgoing).length).toBe(100);

    await rig.startGateway();
    // The ingest reconnects on its own (sessionPresent false: the old session is gone) and subscribes again.
    const topic = readingsTopic(rig.ref);
    await waitFor(async () => rig!.ingest.connected() && (await subscribers(rig!, topic)) > 0, 15_000, 'ingest subscribed again');
    // MQTT.js' reconnect() without arguments starts with empty stores, dropping what it kept: pass them on.
    device.reconnect({ incomingStore: device.incomingStore, outgoingStore: device.outgoingStore });
    await resent;
    await rig.expectExactly(200);
  }, 120_000);
});
