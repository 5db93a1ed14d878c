/**
 * The gateway's log lines (pino JSON, as `wattproof gateway` writes them) name the client by
 * client id and username (the device id) as structured fields, and never contain a password:
 * not for a failed login with a wrong password, an unknown user, nor a successful login.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configWith, readingsTopic } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, type Gateway } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { connectClient, waitFor } from '../support/mqtt.js';

const WRONG_PASSWORD = 'wrong-but-known-Pa55word-7f3c9e';
const registry = createMemoryRegistryStore();
let gateway: Gateway;
let url: string;
let dev: { username: string; secret: string };
let output = '';
const lines = () =>
  output
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const clients: MqttClient[] = [];

beforeAll(async () => {
  await registry.init();
  dev = await provisionDevice(registry, 'logs/b1/m1');
  const sink = new Writable({
    write(chunk, _enc, done) {
      output += String(chunk);
      done();
    },
  });
  // The most verbose level: nothing may leak at any level.
  const logger = pino({ level: 'trace' }, sink);
  gateway = createGateway({ registry, logger }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0 }));
  url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await gateway.close();
  await registry.close();
});

describe('gateway logs', () => {
  it('log a failed login with client id, username and address, and not the password', async () => {
    await expect(connectClient(url, { username: dev.username, password: WRONG_PASSWORD, clientId: 'logs-dev-bad' })).rejects.toMatchObject({ code: 4 });
    await expect(connectClient(url, { username: 'logs/b1/unknown', password: WRONG_PASSWORD, clientId: 'logs-unknown' })).rejects.toMatchObject({ code: 4 });
    await waitFor(() => lines().filter((l) => l.msg === 'authentication failed').length === 2, 5_000, 'two failed-login lines');
    const failed = lines().filter((l) => l.msg === 'authentication failed');
    expect(failed[0]).toMatchObject({ level: 40, clientId: 'logs-dev-bad', username: dev.username, address: expect.stringContaining('127.0.0.1') });
    expect(failed[1]).toMatchObject({ clientId: 'logs-unknown', username: 'logs/b1/unknown' });
    expect(output).not.toContain(WRONG_PASSWORD);
    expect(output).not.toContain(Buffer.from(WRONG_PASSWORD).toString('base64'));
    expect(output).not.toContain(dev.secret);
  });

  it('log connect, refused publish and disconnect with client id and username, and not the secret', async () => {
    const device = await connectClient(url, { username: dev.username, password: dev.secret, clientId: 'logs-dev' });
    clients.push(device);
    // Another meter's topic: refused (ACL), acknowledged and dead-lettered.
    await device.publishAsync(readingsTopic({ site: 'logs', building: 'b1', meter: 'other' }), '{}', { qos: 1 });
    await device.endAsync();
    await waitFor(() => lines().some((l) => l.msg === 'client disconnected' && l.clientId === 'logs-dev'), 5_000, 'the disconnect line');
    expect(lines().find((l) => l.msg === 'client connected' && l.clientId === 'logs-dev')).toMatchObject({ level: 30, username: dev.username, clean: true });
    expect(lines().find((l) => l.msg === 'publish refused' && l.clientId === 'logs-dev')).toMatchObject({ level: 40, username: dev.username, code: 'GATEWAY_PUBLISH_FORBIDDEN' });
    expect(lines().find((l) => l.msg === 'client disconnected' && l.clientId === 'logs-dev')).toMatchObject({ username: dev.username });
    expect(output).not.toContain(dev.secret);
    expect(output).not.toContain(WRONG_PASSWORD);
  });
});
