import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configWith } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService, type Gateway } from '@wattproof/gateway';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createIngest, createMemoryReadingStore, ingestConfigSchema, type Ingest } from '@wattproof/ingest';
import { buildingProfile, createSimulator, electricKw, createRng, outdoorTemperatureC } from '@wattproof/simulators';
import { waitFor } from '../support/mqtt.js';

describe('building model', () => {
  it('is deterministic and physically plausible', () => {
    const p = buildingProfile(0);
    expect(buildingProfile(0)).toEqual(p);
    const jan = Date.parse('2026-01-15T06:00:00Z');
    const jul = Date.parse('2026-07-25T06:00:00Z');
    expect(outdoorTemperatureC(jan)).toBeLessThan(12);
    expect(outdoorTemperatureC(jul)).toBeGreaterThan(28);
    // Occupied summer afternoon (14:00 local, a Wednesday) uses more than a winter night.
    const summerDay = electricKw(p, Date.parse('2026-07-22T06:00:00Z'), createRng(1));
    const winterNight = electricKw(p, Date.parse('2026-01-14T18:00:00Z'), createRng(1));
    expect(summerDay).toBeGreaterThan(winterNight * 2);
    expect(winterNight).toBeGreaterThan(0);
  });
});

describe('simulator through the gateway', () => {
  const registry = createMemoryRegistryStore();
  const readings = createMemoryReadingStore();
  let gateway: Gateway;
  let ingest: Ingest;
  let url: string;
  const now = Date.parse('2026-11-30T08:00:30+08:00');

  beforeAll(async () => {
    const svc = await provisionService(registry, 'wattproof-ingest', 'service');
    gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0 }));
    url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
    ingest = createIngest({ readings, registry, clock: () => now }, configWith(ingestConfigSchema, { INGEST_MQTT_URL: url, INGEST_MQTT_PASSWORD: svc.secret, INGEST_FLUSH_INTERVAL_MS: 20 }));
    await ingest.start();
  });
  afterAll(async () => {
    await ingest.close();
    await gateway.close();
  });

  it('backfills every meter of every building with its own credentials', async () => {
    const sim = createSimulator(
      { provision: (ref) => provisionDevice(registry, ref, { rotate: true }), clock: () => now },
      { url, site: 'sim', buildings: 2, intervalS: 900, backfillHours: 6, ratePerS: 1000, readingsPerMessage: 8 },
    );
    await sim.start();
    await sim.close();
    expect(sim.stats()).toMatchObject({ devices: 6, readings: 6 * 24 });
    await waitFor(() => ingest.pipeline.pending() === 0);
    const from = now - 7 * 3_600_000;
    for (const b of ['b01', 'b02']) {
      const elec = await readings.query({ site: 'sim', building: b, meter: 'elec-main', from, to: now });
      expect(elec).toHaveLength(24);
      expect(elec.every((r) => r.kind === 'interval' && r.intervalS === 900 && r.value > 0)).toBe(true);
      const gas = await readings.query({ site: 'sim', building: b, meter: 'gas-main', kind: 'interval', from, to: now });
      expect(gas).toHaveLength(23); // 24 register readings give 23 intervals
      const temp = await readings.query({ site: 'sim', building: b, meter: 'outdoor-temp', from, to: now });
      expect(temp).toHaveLength(24);
    }
    expect(await registry.countDeadLetters()).toBe(0);
    expect((await registry.listPrincipals()).filter((p) => p.role === 'device')).toHaveLength(6);
  });
});

describe('simulator in accelerated mode', () => {
  it('publishes one reading per interval, paced by the speed-up, then turns to real time', async () => {
    const registry = createMemoryRegistryStore();
    const readings = createMemoryReadingStore();
    const svc = await provisionService(registry, 'wattproof-ingest', 'service');
    const gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0 }));
    const url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
    const ingest = createIngest({ readings, registry }, configWith(ingestConfigSchema, { INGEST_MQTT_URL: url, INGEST_MQTT_PASSWORD: svc.secret, INGEST_FLUSH_INTERVAL_MS: 20 }));
    await ingest.start();
    // 1 simulated hour of 60-s intervals at 3600x takes about one real second.
    const sim = createSimulator({ provision: (ref) => provisionDevice(registry, ref, { rotate: true }) }, { url, site: 'acc', buildings: 1, intervalS: 60, backfillHours: 1, ratePerS: 1000, readingsPerMessage: 60, speedup: 3600 });
    try {
      await sim.start();
      const s = sim.stats();
      expect(s.messages).toBe(s.readings); // one reading per message in accelerated mode
      expect(s.readings).toBeGreaterThanOrEqual(3 * 59);
      await waitFor(() => ingest.pipeline.pending() === 0);
      const elec = await readings.query({ site: 'acc', building: 'b01', meter: 'elec-main', from: Date.now() - 2 * 3_600_000, to: Date.now() });
      expect(elec.length).toBeGreaterThanOrEqual(59);
      expect(elec.every((r) => r.ts + 60_000 <= Date.now())).toBe(true);
    } finally {
      await sim.close();
      await ingest.close();
      await gateway.close();
    }
  }, 30_000);
});
