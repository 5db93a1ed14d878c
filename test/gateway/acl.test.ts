import { describe, expect, it } from 'vitest';
import { canPublish, canSubscribe, type Identity } from '@wattproof/gateway';

const device: Identity = {
  kind: 'principal',
  principal: { username: 'yz/b01/elec', role: 'device', meter: { site: 'yz', building: 'b01', meter: 'elec' }, secretHash: 'x', createdAtMs: 0 },
};
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
});
