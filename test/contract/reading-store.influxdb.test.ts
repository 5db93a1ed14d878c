import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configWith, type StoredReading } from '@wattproof/core';
import { createInfluxReadingStore, influxOptionsFromConfig, influxStoreConfigSchema } from '@wattproof/ingest/stores';
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

describe('influxdb reading store: requests in flight', () => {
  /** A proxy in front of the real influxd that counts the write requests in flight at once. */
  async function countingProxy() {
    let inFlight = 0;
    let most = 0;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const isWrite = req.url?.startsWith('/write') ?? false;
        if (isWrite) most = Math.max(most, ++inFlight);
        const body = Buffer.concat(chunks);
        // Held a moment, so that requests sent together overlap here.
        const hold = isWrite ? new Promise((r) => setTimeout(r, 20)) : Promise.resolve();
        void hold
          .then(() => fetch(`${influx.url}${req.url ?? '/'}`, { method: req.method, headers: { 'content-type': req.headers['content-type'] ?? 'text/plain' }, ...(body.length ? { body } : {}) }))
          .then(async (answer) => {
            res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' });
            res.end(Buffer.from(await answer.arrayBuffer()));
          })
          .catch(() => res.writeHead(502).end())
          .finally(() => {
            if (isWrite) inFlight--;
          });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, most: () => most, close: () => new Promise((r) => server.close(r)) };
  }

  const readings = (n: number): StoredReading[] =>
    Array.from({ length: n }, (_, i) => ({ site: 'yz', building: 'b01', meter: 'conc', quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: Date.UTC(2026, 0, 1) + i * 900_000, value: i, intervalS: 900 }));

  for (const [concurrency, expected] of [
    [undefined, 4],
    [2, 2],
  ] as const) {
    it(`send a large write as INFLUX_BATCH_POINTS-line requests, ${expected} in flight with INFLUX_WRITE_CONCURRENCY ${concurrency ?? 'unset'}`, async () => {
      const proxy = await countingProxy();
      const database = `${influx.database}_conc_${expected}`;
      const config = configWith(influxStoreConfigSchema, {
        INFLUX_URL: proxy.url,
        INFLUX_API_VERSION: 'v1',
        INFLUX_DATABASE: database,
        INFLUX_BATCH_POINTS: 100,
        ...(concurrency === undefined ? {} : { INFLUX_WRITE_CONCURRENCY: concurrency }),
      });
      const store = createInfluxReadingStore(influxOptionsFromConfig(config));
      try {
        await store.init();
        await store.write(readings(1000));
        expect(proxy.most()).toBe(expected);
        const stored = await store.query({ site: 'yz', building: 'b01', meter: 'conc', quantity: 'electricity', kind: 'interval', from: Date.UTC(2026, 0, 1), to: Date.UTC(2027, 0, 1) });
        expect(stored).toHaveLength(1000);
      } finally {
        await store.close();
        await proxy.close();
      }
    });
  }
});
