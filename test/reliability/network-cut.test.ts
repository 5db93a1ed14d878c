/**
 * The network between the ingest and the broker cut and restored: a TCP proxy (node:net, here)
 * carries the ingest's connection; cutting it destroys the connection and refuses new ones while
 * the device goes on publishing. The ingest's persistent session (clean session off) keeps its
 * subscription in the gateway, which queues the readings meanwhile; acknowledgements held back
 * when the connection dropped are discarded and those messages come again. Exactly once after.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startInfluxDb, type TestInfluxDb } from '../support/influxdb.js';
import { createRig, publishRange, recordIngestAcks, waitFor, type Rig } from './harness.js';

let influx: TestInfluxDb;
let rig: Rig | undefined;
let proxy: Server | undefined;

beforeAll(async () => {
  influx = await startInfluxDb();
});
afterEach(async () => {
  await rig?.close();
  rig = undefined;
  await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
  proxy = undefined;
});
afterAll(async () => {
  await influx?.stop();
});

/** A TCP proxy to `port` that can be cut (all connections destroyed, new ones refused) and restored. */
async function startCuttableProxy(port: number) {
  const sockets = new Set<Socket>();
  let cut = false;
  let connections = 0;
  proxy = createServer((inbound) => {
    if (cut) return void inbound.destroy();
    connections++;
    const outbound = connect(port, '127.0.0.1');
    for (const [a, b] of [[inbound, outbound], [outbound, inbound]] as const) {
      sockets.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
      a.pipe(b);
    }
  });
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
  return {
    url: `mqtt://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    connections: () => connections,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      cut = false;
    },
  };
}

describe('network cut between ingest and broker', () => {
  it('stores every reading exactly once after the connection comes back', async () => {
    let link!: Awaited<ReturnType<typeof startCuttableProxy>>;
    rig = await createRig({
      influxUrl: influx.url,
      database: influx.database,
      site: 'netcut',
      // A slow flush so that acknowledgements are still held when the link is cut.
      ingest: { INGEST_FLUSH_INTERVAL_MS: 300 },
      ingestUrl: async (port) => {
        link = await startCuttableProxy(port);
        return link.url;
      },
    });
    const acks = recordIngestAcks(rig.gateway, 'ingest-netcut');
    const device = await rig.device();
    await publishRange(device, rig.ref, 0, 100);
    await rig.expectExactly(100);

    // Cut while a batch is pending, publish more during the cut, restore.
    await publishRange(device, rig.ref, 100, 200);
    link.cut();
    await waitFor(() => !rig!.ingest.connected(), 5_000, 'ingest to notice the cut');
    await publishRange(device, rig.ref, 200, 400);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(rig.ingest.connected()).toBe(false);
    expect((await rig.ingest.ready()).reasons).toContain('not connected to the broker');
    link.restore();
    await waitFor(() => rig!.ingest.connected(), 10_000, 'ingest to reconnect');
    await rig.expectExactly(400);
    await waitFor(() => acks.size === 400, 20_000, 'every message acknowledged by the ingest');
    expect(link.connections()).toBeGreaterThanOrEqual(2);
    const reconnects = (await rig.metrics.getSingleMetric('wattproof_ingest_broker_reconnects_total')!.get()).values[0]?.value;
    expect(reconnects).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
