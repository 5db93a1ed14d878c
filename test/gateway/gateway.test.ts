import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnection } from 'node:net';
import type { MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { configWith, generateSecret, hashSecret, readingsTopic } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService, type Gateway } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { connectClient, waitFor } from '../support/mqtt.js';

const registry = createMemoryRegistryStore();
let gateway: Gateway;
let url: string;
let a: { username: string; secret: string };
let b: { username: string; secret: string };
let svc: { username: string; secret: string };
const clients: MqttClient[] = [];
const track = (c: MqttClient) => (clients.push(c), c);

beforeAll(async () => {
  await registry.init();
  a = await provisionDevice(registry, 'yz/b01/elec');
  b = await provisionDevice(registry, 'yz/b02/elec');
  svc = await provisionService(registry, 'wattproof-ingest', 'service');
  gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0, GATEWAY_MAX_PAYLOAD_BYTES: 4096 }));
  const addr = await gateway.start();
  url = `mqtt://127.0.0.1:${addr.mqtt.port}`;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  await gateway.close();
});

describe('gateway authentication', () => {
  it('accepts a device with its secret', async () => {
    const c = track(await connectClient(url, { username: a.username, password: a.secret, clientId: 'dev-a' }));
    expect(c.connected).toBe(true);
  });
  it('refuses a wrong password with return code 4', async () => {
    await expect(connectClient(url, { username: a.username, password: 'wrong', clientId: 'dev-a2' })).rejects.toMatchObject({ code: 4 });
  });
  it('refuses an unknown user with return code 4', async () => {
    await expect(connectClient(url, { username: 'yz/b09/elec', password: a.secret })).rejects.toMatchObject({ code: 4 });
  });
  it('refuses anonymous clients by default with return code 5', async () => {
    await expect(connectClient(url, {})).rejects.toMatchObject({ code: 5 });
  });
  it('refuses an empty client id with a persistent session [MQTT-3.1.3-8]', async () => {
    // MQTT.js will not send this CONNECT, so write it with mqtt-packet on a raw socket.
    const port = Number(new URL(url).port);
    const returnCode = await new Promise<number>((resolve, reject) => {
      const socket = createConnection(port, '127.0.0.1');
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (p) => {
        socket.destroy();
        if (p.cmd === 'connack') resolve(p.returnCode ?? -1);
        else reject(new Error(`unexpected ${p.cmd}`));
      });
      socket.on('data', (d) => parser.parse(d));
      socket.on('error', reject);
      // mqtt-packet refuses to encode it too: encode with clean session, then clear that flag bit.
      const packet = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: '', keepalive: 30, username: a.username, password: Buffer.from(a.secret) });
      expect(packet.subarray(4, 8).toString()).toBe('MQTT');
      packet[9] = packet[9]! & ~0x02;
      socket.write(packet);
    });
    expect(returnCode).toBe(2);
  });
  it('refuses a client id whose session belongs to another device', async () => {
    await expect(connectClient(url, { username: b.username, password: b.secret, clientId: 'dev-a' })).rejects.toMatchObject({ code: 2 });
  });
  it('stores a generated secret as a salted SHA-256 and a supplied one as scrypt (core/src/credentials.ts)', async () => {
    expect((await registry.getPrincipal(a.username))?.secretHash).toMatch(/^sha256\$/);
    const supplied = await provisionService(registry, 'svc-supplied', 'service', { secret: 'operator-chosen-secret-1' });
    expect((await registry.getPrincipal(supplied.username))?.secretHash).toMatch(/^scrypt\$16384\$8\$1\$/);
    const c = track(await connectClient(url, { username: supplied.username, password: 'operator-chosen-secret-1', clientId: 'svc-supplied' }));
    expect(c.connected).toBe(true);
    await expect(connectClient(url, { username: supplied.username, password: 'operator-chosen-secret-2', clientId: 'svc-supplied-2' })).rejects.toMatchObject({ code: 4 });
  });
  it('accepts a device whose secret an earlier version stored as scrypt, and refuses a wrong one', async () => {
    const meter = { site: 'yz', building: 'b04', meter: 'elec' };
    const secret = generateSecret();
    await registry.putPrincipal({ username: 'yz/b04/elec', role: 'device', meter, secretHash: await hashSecret(secret), createdAtMs: Date.now() });
    const c = track(await connectClient(url, { username: 'yz/b04/elec', password: secret, clientId: 'dev-legacy' }));
    expect(c.connected).toBe(true);
    await expect(connectClient(url, { username: 'yz/b04/elec', password: generateSecret(), clientId: 'dev-legacy-2' })).rejects.toMatchObject({ code: 4 });
  });
  it('refuses a disabled device', async () => {
    const d = await provisionDevice(registry, 'yz/b03/elec');
    await registry.disablePrincipal(d.username, Date.now());
    await expect(connectClient(url, { username: d.username, password: d.secret })).rejects.toMatchObject({ code: 4 });
  });
});

describe('gateway ACL and limits', () => {
  it('forwards a device\'s own readings, not another device\'s topic, and dead-letters the attempt', async () => {
    const ingest = track(await connectClient(url, { username: svc.username, password: svc.secret, clientId: 'ing-test' }));
    const got: string[] = [];
    ingest.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`));
    await ingest.subscribeAsync('wattproof/v1/+/+/+/readings', { qos: 1 });
    const dev = track(await connectClient(url, { username: b.username, password: b.secret, clientId: 'dev-b' }));
    await dev.publishAsync(readingsTopic({ site: 'yz', building: 'b01', meter: 'elec' }), '{"forged":true}', { qos: 1 });
    await dev.publishAsync(readingsTopic({ site: 'yz', building: 'b02', meter: 'elec' }), '{"own":true}', { qos: 1 });
    await waitFor(() => got.length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual(['wattproof/v1/yz/b02/elec/readings {"own":true}']);
    const letters = await registry.listDeadLetters({ code: 'GATEWAY_PUBLISH_FORBIDDEN' });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ source: 'gateway', topic: 'wattproof/v1/yz/b01/elec/readings', username: b.username, payload: '{"forged":true}' });
    expect(letters[0]!.reason).toContain('may publish only under wattproof/v1/yz/b02/elec/');
    expect(dev.connected).toBe(true);
  });

  it('refuses a device subscription to another device\'s topics with 0x80', async () => {
    const dev = track(await connectClient(url, { username: a.username, password: a.secret, clientId: 'dev-a-sub' }));
    // MQTT.js turns a 0x80 SUBACK into an error.
    await expect(dev.subscribeAsync('wattproof/v1/yz/b02/elec/#', { qos: 1 })).rejects.toThrow(/Subscribe error/);
    const own = await dev.subscribeAsync('wattproof/v1/yz/b01/elec/#', { qos: 1 });
    expect(own[0]!.qos).toBe(1);
  });

  it('acknowledges but drops an oversized payload and keeps it as a dead letter', async () => {
    const dev = track(await connectClient(url, { username: a.username, password: a.secret, clientId: 'dev-a-big' }));
    await dev.publishAsync(readingsTopic({ site: 'yz', building: 'b01', meter: 'elec' }), 'x'.repeat(5000), { qos: 1 });
    const letters = await registry.listDeadLetters({ code: 'GATEWAY_PAYLOAD_TOO_LARGE' });
    expect(letters).toHaveLength(1);
    expect(letters[0]!.payloadBytes).toBe(5000);
    expect(letters[0]!.reason).toContain('limit is 4096');
  });
});

describe('gateway status topic', () => {
  it('forwards a valid retained status and dead-letters an invalid one', async () => {
    const dev = track(await connectClient(url, { username: a.username, password: a.secret, clientId: 'dev-a-status' }));
    await dev.publishAsync('wattproof/v1/yz/b01/elec/status', '{"state":"online"}', { qos: 1, retain: true });
    await dev.publishAsync('wattproof/v1/yz/b01/elec/status', 'up', { qos: 1, retain: true });
    const letters = await registry.listDeadLetters({ code: 'GATEWAY_STATUS_INVALID' });
    expect(letters).toHaveLength(1);
    expect(letters[0]!.payload).toBe('up');
    // A new subscriber gets the retained valid status, not the refused one.
    const ops = track(await connectClient(url, { username: svc.username, password: svc.secret, clientId: 'ops-status' }));
    const got: string[] = [];
    ops.on('message', (_t, p) => got.push(p.toString()));
    await ops.subscribeAsync('wattproof/v1/+/+/+/status', { qos: 1 });
    await waitFor(() => got.length > 0);
    expect(got).toEqual(['{"state":"online"}']);
  });
});
