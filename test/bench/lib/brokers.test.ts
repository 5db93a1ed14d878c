/** bench/lib/brokers.ts: stock aedes as a reference broker, a real process over real TCP. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerProcess } from '../../../bench/lib/brokers.js';
import { connectClient, waitFor } from '../../support/mqtt.js';

describe('stock aedes (bench/lib/stock-aedes.mjs)', () => {
  let dir: string;
  let broker: BrokerProcess;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wattproof-stock-aedes-'));
    broker = await startBroker('aedes', { dir, devices: 0, devicePassword: '', subscriberPassword: '' });
  });
  afterAll(async () => {
    await broker?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts any login and relays a QoS 1 publish to a subscriber over TCP', async () => {
    expect(broker.name).toBe('aedes');
    expect(broker.command).toContain('stock-aedes.mjs');
    const url = `mqtt://${broker.host}:${broker.port}`;
    const sub = await connectClient(url, { clientId: 'sub', username: 'anyone', password: 'anything' });
    const pub = await connectClient(url, { clientId: 'pub', username: 'site/building/meter', password: 'x' });
    try {
      const got: string[] = [];
      sub.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`));
      await sub.subscribeAsync('wattproof/v1/+/+/+/readings', { qos: 1 });
      await pub.publishAsync('wattproof/v1/s/b/m/readings', '{"v":1}', { qos: 1 });
      await waitFor(() => got.length === 1, 10_000, 'the relayed message');
      expect(got).toEqual(['wattproof/v1/s/b/m/readings {"v":1}']);
    } finally {
      await Promise.all([sub.endAsync(), pub.endAsync()]);
    }
  });

  it('exits on SIGTERM', async () => {
    await broker.stop();
    expect(broker.exit()).toBeDefined();
  });
});
