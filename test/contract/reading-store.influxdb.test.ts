import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInfluxReadingStore } from '@wattproof/ingest/stores';
import { startInfluxDb, type TestInfluxDb } from '../support/influxdb.js';
import { freePort } from '../support/net.js';
import { describeReadingStore } from './reading-store.js';

let influx: TestInfluxDb;

beforeAll(async () => {
  influx = await startInfluxDb();
});

afterAll(async () => {
  await influx?.stop();
});

describeReadingStore('influxdb 1.x (auto-detected)', () => createInfluxReadingStore({ url: influx.url, database: influx.database }));
// Small chunks: the 20,000-reading batch goes out as 20 requests, 4 in flight.
describeReadingStore('influxdb 1.x (v1, 1,000 points per request)', () =>
  createInfluxReadingStore({ url: `${influx.url}/`, apiVersion: 'v1', database: `${influx.database}_v1`, batchPoints: 1_000 }),
);

describe('influxdb reading store errors', () => {
  it('rejects writes to an unreachable server with a retriable STORE_UNAVAILABLE and pings false', async () => {
    const store = createInfluxReadingStore({ url: `http://127.0.0.1:${await freePort()}`, apiVersion: 'v1', timeoutMs: 2_000 });
    const reading = { site: 's', building: 'b', meter: 'm', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: 0, value: 1, intervalS: 900 } as const;
    await expect(store.write([reading])).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
    expect(await store.ping()).toBe(false);
    await store.close();
  });

  it('reports a refused write (database missing, no CREATE) as STORE_WRITE_FAILED, not retriable', async () => {
    const store = createInfluxReadingStore({ url: influx.url, database: 'does_not_exist', createDatabase: false });
    await store.init();
    const reading = { site: 's', building: 'b', meter: 'm', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: 0, value: 1, intervalS: 900 } as const;
    await expect(store.write([reading])).rejects.toMatchObject({ code: 'STORE_WRITE_FAILED', retriable: false });
    expect(await store.query({ site: 's', building: 'b', meter: 'm', from: 0, to: 1_000 })).toEqual([]);
    await store.close();
  });

  it('does not follow a redirect of a write: STORE_UNAVAILABLE naming it, nothing sent to where it points', async () => {
    // A server that answers every request with a redirect to the real InfluxDB.
    let redirected = 0;
    const proxy = createServer((req, res) => {
      redirected++;
      req.resume();
      res.writeHead(307, { location: `${influx.url}${req.url ?? '/'}` }).end();
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const store = createInfluxReadingStore({ url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, apiVersion: 'v1', database: `${influx.database}_redirect`, createDatabase: false, timeoutMs: 2_000 });
      const reading = { site: 'redirect', building: 'b', meter: 'm', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: 0, value: 1, intervalS: 900 } as const;
      await expect(store.write([reading])).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/unreachable \(write\): unexpected redirect/) });
      expect(redirected).toBe(1);
      await store.close();
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('rejects a bad INFLUX_URL with STORE_CONFIG_INVALID', () => {
    expect(() => createInfluxReadingStore({ url: 'not a url' })).toThrow(expect.objectContaining({ code: 'STORE_CONFIG_INVALID' }));
  });
});
