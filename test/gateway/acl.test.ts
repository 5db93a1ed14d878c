import { describe, expect, it } from 'vitest';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { aggregatorUsername, canPublish, canSubscribe, createPublishRights, provisionAggregator, type Identity } from '@wattproof/gateway';

const device: Identity = {
  kind: 'principal',
  principal: { username: 'yz/b01/elec', role: 'device', meter: { site: 'yz', building: 'b01', meter: 'elec' }, secretHash: 'x', createdAtMs: 0 },
};
const aggregator: Identity = { kind: 'principal', principal: { username: 'aggregator:yz', role: 'aggregator', site: 'yz', secretHash: 'x', createdAtMs: 0 } };
const ingest: Identity = { kind: 'principal', principal: { username: 'wattproof-ingest', role: 'service', secretHash: 'x', createdAtMs: 0 } };

describe('ACL', () => {
  it('lets a device publish its own readings and status only', () => {
    expect(canPublish(device, 'wattproof/v1/yz/b01/elec/readings').ok).toBe(true);
    expect(canPublish(device, 'wattproof/v1/yz/b01/elec/status').ok).toBe(true);
    expect(canPublish(device, 'wattproof/v1/yz/b01/gas/readings').ok).toBe(false);
    expect(canPublish(device, 'wattproof/v1/yz/b02/elec/readings').ok).toBe(false);
    expect(canPublish(device, 'other/topic').ok).toBe(false);
    expect(canPublish(device, '$SYS/x').ok).toBe(false);
  });
  it('lets a device subscribe under its own prefix only', () => {
    expect(canSubscribe(device, 'wattproof/v1/yz/b01/elec/#').ok).toBe(true);
    expect(canSubscribe(device, 'wattproof/v1/yz/b01/+/readings').ok).toBe(false);
    expect(canSubscribe(device, 'wattproof/v1/#').ok).toBe(false);
    expect(canSubscribe(device, '#').ok).toBe(false);
  });
  it('lets services subscribe to all v1 topics but publish nothing', () => {
    expect(canSubscribe(ingest, 'wattproof/v1/+/+/+/readings').ok).toBe(true);
    expect(canSubscribe(ingest, '$share/g/wattproof/v1/+/+/+/readings').ok).toBe(false);
    expect(canPublish(ingest, 'wattproof/v1/yz/b01/elec/readings').ok).toBe(false);
  });
  it('leaves anonymous clients unrestricted except reserved topics', () => {
    expect(canPublish({ kind: 'anonymous' }, 'anything/at/all').ok).toBe(true);
    expect(canPublish({ kind: 'anonymous' }, '$SYS/x').ok).toBe(false);
  });
  it('lets an aggregator publish readings and status of any meter of its own site, and nothing else', () => {
    expect(canPublish(aggregator, 'wattproof/v1/yz/b01/elec/readings').ok).toBe(true);
    expect(canPublish(aggregator, 'wattproof/v1/yz/b02/gas/readings').ok).toBe(true);
    expect(canPublish(aggregator, 'wattproof/v1/yz/b02/gas/status').ok).toBe(true);
    const foreign = canPublish(aggregator, 'wattproof/v1/other/b01/elec/readings');
    expect(foreign).toEqual({ ok: false, reason: 'aggregator "aggregator:yz" may publish only under wattproof/v1/yz/, not to wattproof/v1/other/b01/elec/readings' });
    expect(canPublish(aggregator, 'wattproof/v1/yz/b01/elec/commands').ok).toBe(false);
    expect(canPublish(aggregator, 'wattproof/v1/yz/b01/readings').ok).toBe(false);
    expect(canPublish(aggregator, 'wattproof/v1/yz/b01/_bad/readings').ok).toBe(false);
    expect(canPublish(aggregator, 'other/topic').ok).toBe(false);
    expect(canPublish(aggregator, '$SYS/x').ok).toBe(false);
  });
  it('lets an aggregator subscribe under its own site only', () => {
    expect(canSubscribe(aggregator, 'wattproof/v1/yz/#').ok).toBe(true);
    expect(canSubscribe(aggregator, 'wattproof/v1/yz/+/+/status').ok).toBe(true);
    expect(canSubscribe(aggregator, 'wattproof/v1/+/+/+/readings').ok).toBe(false);
    expect(canSubscribe(aggregator, 'wattproof/v1/other/#').ok).toBe(false);
    expect(canSubscribe(aggregator, 'wattproof/v1/#').ok).toBe(false);
  });
  it('gives an aggregator without a site, or a device without a meter, nothing', () => {
    const siteless: Identity = { kind: 'principal', principal: { username: 'aggregator:x', role: 'aggregator', secretHash: 'x', createdAtMs: 0 } };
    const meterless: Identity = { kind: 'principal', principal: { username: 'dev', role: 'device', secretHash: 'x', createdAtMs: 0 } };
    for (const who of [siteless, meterless]) {
      expect(canPublish(who, 'wattproof/v1/yz/b01/elec/readings').ok).toBe(false);
      expect(canSubscribe(who, 'wattproof/v1/#').ok).toBe(false);
    }
  });
  it('gives the same publish decisions with the last topic remembered, and the channel of v1 topics', () => {
    const topics = [
      'wattproof/v1/yz/b01/elec/readings',
      'wattproof/v1/yz/b01/elec/readings',
      'wattproof/v1/yz/b01/gas/readings',
      'wattproof/v1/yz/b01/elec/status',
      'wattproof/v1/yz/b01/elec/readings',
      'wattproof/v1/other/b01/elec/readings',
      'wattproof/v1/other/b01/elec/readings',
      'other/topic',
      '$SYS/x',
      'wattproof/v1/yz/b01/elec/status',
    ];
    for (const who of [device, aggregator, ingest, { kind: 'anonymous' } as const]) {
      const rights = createPublishRights(who);
      for (const topic of topics) {
        const { decision, channel } = rights(topic);
        expect(decision).toEqual(canPublish(who, topic));
        expect(channel).toBe(topic.endsWith('/readings') && topic.startsWith('wattproof/v1/') ? 'readings' : topic.endsWith('/status') ? 'status' : undefined);
      }
    }
  });
  it('provisions aggregators through the installer code path, one username per site (and name)', async () => {
    const registry = createMemoryRegistryStore();
    const creds = await provisionAggregator(registry, 'yz', { nowMs: 1 });
    expect(creds.username).toBe('aggregator:yz');
    expect(creds.secret).toHaveLength(43);
    const stored = await registry.getPrincipal('aggregator:yz');
    expect(stored).toMatchObject({ role: 'aggregator', site: 'yz', createdAtMs: 1 });
    expect(stored?.meter).toBeUndefined();
    expect(stored?.secretHash.startsWith('sha256$')).toBe(true); // generated: salted SHA-256 (core/src/credentials.ts)
    expect(await provisionAggregator(registry, 'yz').catch((e: { code: string }) => e.code)).toBe('DEVICE_EXISTS');
    expect((await provisionAggregator(registry, 'yz', { rotate: true })).rotated).toBe(true);
    expect((await provisionAggregator(registry, 'yz', { name: 'north' })).username).toBe(aggregatorUsername('yz', 'north'));
    expect(await provisionAggregator(registry, 'y z').catch((e: { code: string }) => e.code)).toBe('DEVICE_ID_INVALID');
    expect(await provisionAggregator(registry, 'yz', { name: 'a/b' }).catch((e: { code: string }) => e.code)).toBe('DEVICE_ID_INVALID');
  });
});
