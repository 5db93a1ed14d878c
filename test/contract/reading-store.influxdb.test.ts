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

  it('gives up on a write with no answer after timeoutMs: a retriable STORE_UNAVAILABLE that says it timed out', async () => {
    // Reads the request and never answers.
    const silent = createServer((req) => req.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const store = createInfluxReadingStore({ url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, apiVersion: 'v1', createDatabase: false, timeoutMs: 300 });
      const reading = { site: 'silent', building: 'b', meter: 'm', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: 0, value: 1, intervalS: 900 } as const;
      await expect(store.write([reading])).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true, details: { timedOut: true }, message: expect.stringContaining('no answer within 300 ms') });
      await store.close();
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('reports a write answered 503 as a retriable STORE_WRITE_FAILED with the status, the body and Retry-After', async () => {
    const bodies: string[] = [];
    const busy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(503, { 'retry-after': '7', 'content-type': 'application/json' }).end('{"error":"overloaded"}');
      });
    });
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const store = createInfluxReadingStore({ url: `http://127.0.0.1:${(busy.address() as AddressInfo).port}`, apiVersion: 'v1', createDatabase: false, timeoutMs: 2_000 });
      const reading = { site: 'busy', building: 'b', meter: 'm', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: 0, value: 1, intervalS: 900 } as const;
      await expect(store.write([reading])).rejects.toMatchObject({
        code: 'STORE_WRITE_FAILED',
        retriable: true,
        details: { status: 503, retryAfter: '7' },
        message: expect.stringContaining('HTTP 503'),
      });
      // The body that reached the server is the line protocol of the reading.
      expect(bodies).toEqual(['reading,building=b,kind=interval,meter=m,quantity=electricity,site=busy,unit=kWh interval_s=900i,value=1 0']);
      await store.close();
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it('rejects a bad INFLUX_URL with STORE_CONFIG_INVALID', () => {
    expect(() => createInfluxReadingStore({ url: 'not a url' })).toThrow(expect.objectContaining({ code: 'STORE_CONFIG_INVALID' }));
  });
});
