/**
 * A slow store: an HTTP proxy (node:http, here) in front of InfluxDB holds every write for
 * seconds before forwarding it. Everything is stored exactly once, and the gateway receives no
 * PUBACK from the ingest for a reading before a proxied write containing it has returned.
 * Second case: writes slower than the store client's timeout, so the ingest gives up on writes
 * InfluxDB then performs anyway, and retries them: idempotent, still exactly once.
 */
import { createServer, type Server } from 'node:http';
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
  proxy?.closeAllConnections();
  await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
  proxy = undefined;
});
afterAll(async () => {
  await influx?.stop();
});

interface ProxiedWrite {
  readonly timestamps: number[];
  readonly status: number;
  readonly returnedAtMs: number;
}

/** Forwards everything to InfluxDB; `/write` requests wait `delayMs(n)` first (n = 0, 1, ...). */
async function startSlowProxy(target: string, delayMs: (n: number) => number): Promise<{ url: string; writes: ProxiedWrite[] }> {
  const writes: ProxiedWrite[] = [];
  let n = 0;
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const isWrite = req.url!.startsWith('/write');
      const wait = isWrite ? delayMs(n++) : 0;
      setTimeout(() => {
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection', 'accept-encoding'].includes(k))) as Record<string, string>;
        fetch(`${target}${req.url}`, { method: req.method, headers, ...(body.length ? { body } : {}) }).then(
          async (upstream) => {
            const text = await upstream.text();
            if (isWrite) {
              const timestamps = body.toString('utf8').split('\n').filter(Boolean).map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
              writes.push({ timestamps, status: upstream.status, returnedAtMs: Date.now() });
            }
            // fetch decoded the body: drop the headers that described the encoded one.
            const out = Object.fromEntries([...upstream.headers].filter(([k]) => !['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(k)));
            res.writeHead(upstream.status, out).end(text);
          },
          () => res.writeHead(502).end(),
        );
      }, wait);
    });
  });
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, writes };
}

describe('slow InfluxDB writes', () => {
  it('stores everything exactly once and acknowledges only after the write returned', async () => {
    const slow = await startSlowProxy(influx.url, () => 1_500);
    rig = await createRig({ influxUrl: slow.url, database: influx.database, site: 'slow', storeTimeoutMs: 10_000 });
    const acks = recordIngestAcks(rig.gateway, 'ingest-slow');
    const device = await rig.device();
    const started = Date.now();
    await publishRange(device, rig.ref, 0, 300);
    await rig.expectExactly(300);
    await waitFor(() => acks.size === 300, 20_000, 'ingest acks');
    // Writes are serial: 300 readings arriving over a few ms take at least one slow write.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    for (const [ts, ackedAt] of acks) {
      const confirmed = slow.writes.find((w) => w.status === 204 && w.timestamps.includes(ts) && w.returnedAtMs <= ackedAt);
      expect(confirmed, `a confirmed write of ${new Date(ts).toISOString()} before its PUBACK`).toBeDefined();
    }
  }, 120_000);

  it('retries writes that outlast the client timeout without storing anything twice', async () => {
    // The first three writes take 3 s against a 1 s timeout: InfluxDB performs them after the ingest gave up.
    const slow = await startSlowProxy(influx.url, (n) => (n < 3 ? 3_000 : 0));
    rig = await createRig({ influxUrl: slow.url, database: influx.database, site: 'timeout', storeTimeoutMs: 1_000 });
    const acks = recordIngestAcks(rig.gateway, 'ingest-timeout');
    const device = await rig.device();
    await publishRange(device, rig.ref, 0, 200);
    await rig.expectExactly(200);
    await waitFor(() => acks.size === 200, 20_000, 'ingest acks');
    const failures = (await rig.metrics.getSingleMetric('wattproof_ingest_store_write_failures_total')!.get()).values[0]?.value ?? 0;
    expect(failures).toBeGreaterThanOrEqual(1);
    // Let the abandoned writes land, then check again: still exactly once.
    await new Promise((r) => setTimeout(r, 3_500));
    await rig.expectExactly(200);
  }, 120_000);
});
