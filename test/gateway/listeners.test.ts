/**
 * The gateway's TLS and WebSocket listeners with real MQTT.js clients and a self-signed
 * certificate made by the `openssl` CLI; anonymous mode; and the refusal of `$share/...`
 * subscriptions (aedes has no shared subscriptions, so the ACL must not let one through as a
 * plain filter).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { configWith, readingsTopic, statusTopic } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService, type Gateway, type GatewayAddresses } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { connectClient, gatewayConnection, waitFor } from '../support/mqtt.js';

const run = promisify(execFile);
const meter = { site: 'yz', building: 'b01', meter: 'elec' };

let dir: string;
let ca: Buffer;
const clients: MqttClient[] = [];
const gateways: Gateway[] = [];
const track = (c: MqttClient) => (clients.push(c), c);

/** Collects the messages a client receives as `topic payload`. */
function inbox(client: MqttClient): string[] {
  const got: string[] = [];
  client.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`));
  return got;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wattproof-tls-'));
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ]);
  ca = await readFile(join(dir, 'cert.pem'));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  await Promise.all(gateways.map((g) => g.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('TLS and WebSocket listeners', () => {
  const registry = createMemoryRegistryStore();
  let addresses: GatewayAddresses;
  let device: { username: string; secret: string };
  let service: { username: string; secret: string };

  beforeAll(async () => {
    await registry.init();
    device = await provisionDevice(registry, meter);
    service = await provisionService(registry, 'wattproof-ingest', 'service');
    const gateway = createGateway(
      { registry },
      configWith(gatewayConfigSchema, {
        GATEWAY_MQTT_PORT: 0,
        GATEWAY_MQTTS_PORT: 0,
        GATEWAY_TLS_CERT_FILE: join(dir, 'cert.pem'),
        GATEWAY_TLS_KEY_FILE: join(dir, 'key.pem'),
        GATEWAY_WS_PORT: 0,
      }),
    );
    gateways.push(gateway);
    addresses = await gateway.start();
  });

  it('binds every listener to loopback on its own port', () => {
    expect(addresses.mqtt.host).toBe('127.0.0.1');
    expect(addresses.mqtts?.host).toBe('127.0.0.1');
    expect(addresses.ws?.host).toBe('127.0.0.1');
    expect(addresses.ws?.path).toBe('/mqtt');
    const ports = [addresses.mqtt.port, addresses.mqtts?.port, addresses.ws?.port];
    expect(ports.every((p) => typeof p === 'number' && p > 0)).toBe(true);
    expect(new Set(ports).size).toBe(3);
  });

  it('delivers a QoS 1 publish from a device over mqtts:// to a service subscriber', async () => {
    const svc = track(await connectClient(`mqtt://127.0.0.1:${addresses.mqtt.port}`, { username: service.username, password: service.secret, clientId: 'svc-tls' }));
    const got = inbox(svc);
    const granted = await svc.subscribeAsync('wattproof/v1/+/+/+/readings', { qos: 1 });
    expect(granted[0]?.qos).toBe(1);

    const dev = track(
      await connectClient(`mqtts://127.0.0.1:${addresses.mqtts!.port}`, { ca, username: device.username, password: device.secret, clientId: 'dev-tls' }),
    );
    const ack = await dev.publishAsync(readingsTopic(meter), '{"via":"tls"}', { qos: 1 });
    // MQTT.js resolves a QoS 1 publish with its packet once the PUBACK arrived.
    expect(ack).toMatchObject({ cmd: 'publish', qos: 1 });
    await waitFor(() => got.length >= 1, 10_000, 'the TLS publish');
    expect(got).toEqual(['wattproof/v1/yz/b01/elec/readings {"via":"tls"}']);
  });

  it('refuses a TLS client that does not trust the certificate', async () => {
    await expect(
      connectClient(`mqtts://127.0.0.1:${addresses.mqtts!.port}`, { username: device.username, password: device.secret, clientId: 'dev-tls-untrusted' }),
    ).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('delivers a QoS 1 publish from a device over ws://.../mqtt to a service subscriber', async () => {
    const svc = track(await connectClient(`mqtt://127.0.0.1:${addresses.mqtt.port}`, { username: service.username, password: service.secret, clientId: 'svc-ws' }));
    const got = inbox(svc);
    await svc.subscribeAsync('wattproof/v1/yz/+/+/readings', { qos: 1 });

    const dev = track(await connectClient(`ws://127.0.0.1:${addresses.ws!.port}/mqtt`, { username: device.username, password: device.secret, clientId: 'dev-ws' }));
    const ack = await dev.publishAsync(readingsTopic(meter), '{"via":"ws"}', { qos: 1 });
    // MQTT.js resolves a QoS 1 publish with its packet once the PUBACK arrived.
    expect(ack).toMatchObject({ cmd: 'publish', qos: 1 });
    await waitFor(() => got.length >= 1, 10_000, 'the WebSocket publish');
    expect(got).toEqual(['wattproof/v1/yz/b01/elec/readings {"via":"ws"}']);
  });

  it('applies authentication on the WebSocket listener too', async () => {
    await expect(
      connectClient(`ws://127.0.0.1:${addresses.ws!.port}/mqtt`, { username: device.username, password: 'not-the-secret', clientId: 'dev-ws-bad' }),
    ).rejects.toMatchObject({ code: 4 });
  });

  // A subscriber's writes are coalesced per turn (gateway/src/write-coalescing.ts) whatever its
  // transport: the TLS socket and the WebSocket stream are other Duplex streams than plain TCP.
  for (const via of ['mqtts', 'ws'] as const) {
    it(`delivers a burst of QoS 1 publishes in order to a service subscriber connected over ${via}://`, async () => {
      const url = via === 'mqtts' ? `mqtts://127.0.0.1:${addresses.mqtts!.port}` : `ws://127.0.0.1:${addresses.ws!.port}/mqtt`;
      const svc = track(await connectClient(url, { ...(via === 'mqtts' ? { ca } : {}), username: service.username, password: service.secret, clientId: `svc-burst-${via}` }));
      const got = inbox(svc);
      await svc.subscribeAsync('wattproof/v1/yz/+/+/readings', { qos: 1 });
      expect(gatewayConnection(gateways[0]!, `svc-burst-${via}`).writableHighWaterMark).toBe(64 * 1024);
      const dev = track(await connectClient(`mqtt://127.0.0.1:${addresses.mqtt.port}`, { username: device.username, password: device.secret, clientId: `dev-burst-${via}` }));
      const count = 300;
      await Promise.all(Array.from({ length: count }, (_, k) => dev.publishAsync(readingsTopic(meter), `{"burst":"${via}","n":${k}}`, { qos: 1 })));
      const mine = () => got.filter((m) => m.includes(`"burst":"${via}"`));
      await waitFor(() => mine().length >= count, 10_000, `the ${via} subscriber's burst`);
      expect(mine()).toEqual(Array.from({ length: count }, (_, k) => `wattproof/v1/yz/b01/elec/readings {"burst":"${via}","n":${k}}`));
    });
  }

  it('answers plain HTTP on the WebSocket port with 426', async () => {
    const res = await fetch(`http://127.0.0.1:${addresses.ws!.port}/`);
    expect(res.status).toBe(426);
    expect(await res.text()).toBe('MQTT over WebSocket: connect to /mqtt\n');
  });

  it('refuses a $share/... subscription of a service (aedes has no shared subscriptions)', async () => {
    const svc = track(await connectClient(`mqtt://127.0.0.1:${addresses.mqtt.port}`, { username: service.username, password: service.secret, clientId: 'svc-share' }));
    const got = inbox(svc);
    // MQTT.js turns a 0x80 SUBACK into an error.
    await expect(svc.subscribeAsync('$share/ingest/wattproof/v1/+/+/+/readings', { qos: 1 })).rejects.toThrow(/Subscribe error/);
    const granted = await svc.subscribeAsync(statusTopic(meter), { qos: 1 });
    expect(granted[0]?.qos).toBe(1);

    // The device's readings come before its status on one connection, so if the refused
    // filter had been registered the readings would arrive first.
    const dev = track(await connectClient(`mqtt://127.0.0.1:${addresses.mqtt.port}`, { username: device.username, password: device.secret, clientId: 'dev-share' }));
    await dev.publishAsync(readingsTopic(meter), '{"seq":1}', { qos: 1 });
    await dev.publishAsync(statusTopic(meter), '{"state":"online"}', { qos: 1 });
    await waitFor(() => got.length >= 1, 10_000, 'the status message');
    expect(got).toEqual(['wattproof/v1/yz/b01/elec/status {"state":"online"}']);
  });
});

describe('GATEWAY_ALLOW_ANONYMOUS', () => {
  let url: string;

  beforeAll(async () => {
    const registry = createMemoryRegistryStore();
    await registry.init();
    const gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0, GATEWAY_ALLOW_ANONYMOUS: true }));
    gateways.push(gateway);
    url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
  });

  it('lets an anonymous client subscribe to # and publish to any non-$ topic', async () => {
    const sub = track(await connectClient(url, { clientId: 'anon-sub' }));
    const got = inbox(sub);
    const granted = await sub.subscribeAsync('#', { qos: 1 });
    expect(granted[0]?.qos).toBe(1);

    const pub = track(await connectClient(url, { clientId: 'anon-pub' }));
    await pub.publishAsync('lab/bench/anything', 'hello', { qos: 1 });
    await pub.publishAsync(readingsTopic({ site: 'other', building: 'b9', meter: 'm1' }), '{"seq":7}', { qos: 1 });
    await waitFor(() => got.length >= 2, 10_000, 'both anonymous publishes');
    expect(got).toEqual(['lab/bench/anything hello', 'wattproof/v1/other/b9/m1/readings {"seq":7}']);
  });

  it('still refuses an anonymous subscription to $-topics', async () => {
    const sub = track(await connectClient(url, { clientId: 'anon-sys' }));
    await expect(sub.subscribeAsync('$wattproof/rejected/#', { qos: 0 })).rejects.toThrow(/Subscribe error/);
  });
});
