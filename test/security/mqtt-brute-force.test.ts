/**
 * Brute-force protection of the MQTT gateway with real MQTT.js clients over TCP: failed
 * CONNECTs are limited per client address and per username (token buckets); a refused CONNECT
 * gets return code 5 without the principal being looked up or scrypt being run; a device whose
 * secret last logged in is not locked out by someone guessing its username; one attempt comes
 * back every window/limit. Clients speak from distinct loopback addresses (127.0.0.x) so the
 * two limits can be told apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnection } from 'node:net';
import { MqttClient, type IClientOptions } from 'mqtt';
import { Registry } from 'prom-client';
import { configWith, type RegistryStore } from '@wattproof/core';
import { createAuthLimiter, createGateway, gatewayConfigSchema, provisionDevice, type Gateway } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';

const WINDOW_S = 60;
const PER_ADDRESS = 5;
const PER_USERNAME = 3;

let gateway: Gateway;
let port: number;
const clock = { now: Date.parse('2026-03-01T00:00:00Z') };
const metrics = new Registry();
let lookups = 0;
const clients: MqttClient[] = [];

/** An MQTT.js client whose TCP connection leaves from `localAddress`; rejects with the CONNACK error. */
function connectFrom(localAddress: string, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = new MqttClient(() => createConnection({ host: '127.0.0.1', port, localAddress }), {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 30_000,
      keepalive: 30,
      clean: true,
      clientId: `bf-${Math.random().toString(36).slice(2)}`,
      ...options,
    });
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
    client.once('connect', () => {
      clients.push(client);
      resolve(client);
    });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

async function rateLimited(scope: string): Promise<number> {
  const m = await metrics.getSingleMetric('wattproof_gateway_auth_rate_limited_total')!.get();
  return m.values.find((v) => v.labels.scope === scope)?.value ?? 0;
}

let devA: { username: string; secret: string };
let devB: { username: string; secret: string };
let devC: { username: string; secret: string };

beforeAll(async () => {
  const store = createMemoryRegistryStore();
  await store.init();
  devA = await provisionDevice(store, 'yz/b01/elec');
  devB = await provisionDevice(store, 'yz/b02/elec');
  devC = await provisionDevice(store, 'yz/b03/elec');
  // Counts principal look-ups: a rate-limited CONNECT must not reach the registry (nor scrypt).
  const registry = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'getPrincipal') return (username: string) => (lookups++, target.getPrincipal(username));
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as RegistryStore;
  gateway = createGateway(
    { registry, clock: () => clock.now, metrics },
    configWith(gatewayConfigSchema, {
      GATEWAY_MQTT_PORT: 0,
      GATEWAY_AUTH_FAILURES_PER_ADDRESS: PER_ADDRESS,
      GATEWAY_AUTH_FAILURES_PER_USERNAME: PER_USERNAME,
      GATEWAY_AUTH_FAILURE_WINDOW_S: WINDOW_S,
    }),
  );
  port = (await gateway.start()).mqtt.port;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  await gateway?.close();
});

describe('failed MQTT logins per username', () => {
  it('refuses a guessed username with code 5 after the limit, from any address, without a registry look-up', async () => {
    for (let i = 0; i < PER_USERNAME; i++) {
      await expect(connectFrom(`127.0.0.${10 + i}`, { username: devA.username, password: `guess-${i}` })).rejects.toMatchObject({ code: 4 });
    }
    const before = lookups;
    await expect(connectFrom('127.0.0.20', { username: devA.username, password: 'guess-x' })).rejects.toMatchObject({ code: 5 });
    // A device that never logged in is locked out with its right secret too, until a token refills.
    await expect(connectFrom('127.0.0.21', { username: devA.username, password: devA.secret })).rejects.toMatchObject({ code: 5 });
    expect(lookups).toBe(before);
    expect(await rateLimited('username')).toBe(2);
    // Other usernames from those addresses are not affected.
    const other = await connectFrom('127.0.0.10', { username: devC.username, password: devC.secret });
    expect(other.connected).toBe(true);
  });

  it('lets a device whose secret last logged in through while its username is being guessed', async () => {
    const b = await connectFrom('127.0.0.30', { username: devB.username, password: devB.secret, clientId: 'dev-b' });
    await b.endAsync();
    for (let i = 0; i < PER_USERNAME; i++) {
      await expect(connectFrom(`127.0.0.${31 + i}`, { username: devB.username, password: `nope-${i}` })).rejects.toMatchObject({ code: 4 });
    }
    await expect(connectFrom('127.0.0.34', { username: devB.username, password: 'nope-x' })).rejects.toMatchObject({ code: 5 });
    const again = await connectFrom('127.0.0.30', { username: devB.username, password: devB.secret, clientId: 'dev-b' });
    expect(again.connected).toBe(true);
  });
});

describe('failed MQTT logins per address', () => {
  it('refuses an address after the limit whatever username it tries, and gives one attempt back every window/limit', async () => {
    const attacker = '127.0.0.50';
    for (let i = 0; i < PER_ADDRESS; i++) {
      await expect(connectFrom(attacker, { username: `yz/x${i}/elec`, password: 'guess' })).rejects.toMatchObject({ code: 4 });
    }
    const before = lookups;
    const limitedBefore = await rateLimited('address');
    await expect(connectFrom(attacker, { username: devC.username, password: devC.secret })).rejects.toMatchObject({ code: 5 });
    // Anonymous CONNECTs from there are refused by the same bucket.
    await expect(connectFrom(attacker, {})).rejects.toMatchObject({ code: 5 });
    expect(lookups).toBe(before);
    expect(await rateLimited('address')).toBe(limitedBefore + 2);
    // Another address with the same credentials is fine.
    expect((await connectFrom('127.0.0.51', { username: devC.username, password: devC.secret })).connected).toBe(true);

    clock.now += ((WINDOW_S * 1000) / PER_ADDRESS) * 0.9;
    await expect(connectFrom(attacker, { username: devC.username, password: devC.secret })).rejects.toMatchObject({ code: 5 });
    clock.now += ((WINDOW_S * 1000) / PER_ADDRESS) * 0.2;
    expect((await connectFrom(attacker, { username: devC.username, password: devC.secret })).connected).toBe(true);
  });

  it('counts anonymous CONNECTs as failures of the address', async () => {
    const from = '127.0.0.60';
    for (let i = 0; i < PER_ADDRESS; i++) await expect(connectFrom(from, {})).rejects.toMatchObject({ code: 5 });
    const limitedBefore = await rateLimited('address');
    await expect(connectFrom(from, { username: devC.username, password: devC.secret })).rejects.toMatchObject({ code: 5 });
    expect(await rateLimited('address')).toBe(limitedBefore + 1);
  });
});

describe('createAuthLimiter', () => {
  it('refills continuously, keeps at most maxEntries buckets and treats 0 as no limit', () => {
    const t = { now: 0 };
    const limiter = createAuthLimiter({ perAddress: 2, perUsername: 0, windowMs: 1000, maxEntries: 3, clock: () => t.now });
    limiter.fail('a', 'u');
    limiter.fail('a', 'u');
    expect(limiter.check('a', 'u')).toBe('address');
    expect(limiter.check('b', 'u')).toBeUndefined(); // per-username limit 0: off
    t.now += 499;
    expect(limiter.check('a', undefined)).toBe('address');
    t.now += 1;
    expect(limiter.check('a', undefined)).toBeUndefined();
    for (const k of ['b', 'c', 'd', 'e']) limiter.fail(k, undefined);
    expect(limiter.size()).toBeLessThanOrEqual(3);
  });
});
