/**
 * Readiness of the HTTP API (`app.inject()`, memory stores): 200 when the stores and the
 * in-process services are up, 503 naming what is not. The ingest's readiness against real
 * faults is checked in store-outage, network-cut and sigterm tests.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { createApiServer } from '@wattproof/dashboards';
import { createMemoryReadingStore } from '@wattproof/ingest';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';

const apps: FastifyInstance[] = [];
afterAll(async () => {
  for (const a of apps) await a.close();
});

describe('API /ready', () => {
  it('is 200 when everything is up and 503 with reasons when a store or a component is down', async () => {
    const readings = createMemoryReadingStore();
    const registry = createMemoryRegistryStore();
    await readings.init();
    await registry.init();
    let ingestConnected = true;
    const app = await createApiServer({ readings, registry, metrics: new Registry(), components: () => ({ ingest: { ok: ingestConnected } }) });
    apps.push(app);
    const up = await app.inject({ method: 'GET', url: '/ready' });
    expect(up.statusCode).toBe(200);
    expect(up.json()).toEqual({ status: 'ready', reasons: [] });

    ingestConnected = false;
    const noIngest = await app.inject({ method: 'GET', url: '/ready' });
    expect(noIngest.statusCode).toBe(503);
    expect(noIngest.json()).toEqual({ status: 'not_ready', reasons: ['ingest not ok'] });

    const down = await createApiServer({ readings: { ...readings, ping: async () => false }, registry, metrics: new Registry() });
    apps.push(down);
    const r = await down.inject({ method: 'GET', url: '/ready' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({ status: 'not_ready', reasons: ['readingStore not ok'] });
  });
});
