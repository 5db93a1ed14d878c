/**
 * The end-to-end scenario every store adapter must pass: a real aedes gateway on TCP, the
 * ingest over real MQTT, 50 real MQTT.js devices with their own credentials publishing 10,000
 * readings, of which 500 are exact duplicates and 500 arrive out of order, plus 20 malformed
 * messages mixed in. Exactly the 9,500 distinct valid readings must be stored, each once, with
 * their exact values, and the 20 malformed messages must be in the dead letters with reasons.
 */
import { expect } from 'vitest';
import type { MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { configWith, readingsTopic, type ReadingStore, type RegistryStore } from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService } from '@wattproof/gateway';
import { createIngest, ingestConfigSchema } from '@wattproof/ingest';
import { connectClient, waitFor } from '../support/mqtt.js';

export const DEVICES = 50;
const UNIQUE_PER_DEVICE = 190;
const DUPLICATES_PER_DEVICE = 10;
const READINGS_PER_MESSAGE = 10;
const STEP_MS = 900_000;
const T0 = Date.parse('2026-10-01T00:00:00+08:00');
const NOW = Date.parse('2026-11-01T00:00:00+08:00');

/** Value of reading i of device d: distinct and not a round number, to catch any mix-up. */
const valueOf = (d: number, i: number) => Math.round((d * 1000 + i + 0.123456) * 1e6) / 1e6;

interface Malformed {
  readonly payload: string;
  readonly code: string;
  readonly reasonIncludes: string;
}

function malformedMessages(): Malformed[] {
  const ok = { ts: T0, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value: 1 };
  const cases: Malformed[] = [
    { payload: '{"seq":1,"readings":[', code: 'CONTRACT_PAYLOAD_NOT_JSON', reasonIncludes: 'not UTF-8 JSON' },
    { payload: 'hello', code: 'CONTRACT_PAYLOAD_NOT_JSON', reasonIncludes: 'JSON' },
    { payload: JSON.stringify({ readings: [ok] }), code: 'CONTRACT_SCHEMA_INVALID', reasonIncludes: 'seq' },
    { payload: JSON.stringify({ seq: 1, readings: [] }), code: 'CONTRACT_SCHEMA_INVALID', reasonIncludes: 'readings' },
    { payload: JSON.stringify({ seq: 1, readings: [{ ...ok, value: 'NaN' }] }), code: 'CONTRACT_SCHEMA_INVALID', reasonIncludes: 'readings[0].value' },
    { payload: JSON.stringify({ seq: 1, readings: [{ ...ok, unit: 'kW' }] }), code: 'CONTRACT_UNIT_INVALID', reasonIncludes: 'readings[0].unit' },
    { payload: JSON.stringify({ seq: 1, readings: [{ ...ok, quantity: 'outdoor_temperature' }] }), code: 'CONTRACT_UNIT_INVALID', reasonIncludes: 'readings[0].unit' },
    { payload: JSON.stringify({ seq: 1, readings: [{ ...ok, ts: '2026-10-01 00:00' }] }), code: 'CONTRACT_TIMESTAMP_INVALID', reasonIncludes: 'readings[0].ts' },
    { payload: JSON.stringify({ seq: 1, readings: [{ ...ok, ts: NOW + 86_400_000 }] }), code: 'CONTRACT_TIMESTAMP_INVALID', reasonIncludes: 'future' },
    { payload: JSON.stringify({ seq: 1, readings: [{ ...ok, ts: 1_700_000_000 }] }), code: 'CONTRACT_TIMESTAMP_INVALID', reasonIncludes: 'epoch seconds' },
    { payload: JSON.stringify({ seq: 1, readings: [{ ...ok, intervalS: undefined }] }), code: 'CONTRACT_SCHEMA_INVALID', reasonIncludes: 'intervalS' },
    { payload: JSON.stringify({ seq: 1, readings: [{ ...ok, extra: true }] }), code: 'CONTRACT_SCHEMA_INVALID', reasonIncludes: 'readings[0]' },
    { payload: JSON.stringify({ seq: -1, readings: [ok] }), code: 'CONTRACT_SCHEMA_INVALID', reasonIncludes: 'seq' },
    { payload: JSON.stringify({ seq: 1, readings: Array.from({ length: 1001 }, () => ok) }), code: 'CONTRACT_TOO_MANY_READINGS', reasonIncludes: 'readings' },
    { payload: JSON.stringify({ seq: 1, readings: [{ ...ok, kind: 'cumulative' }] }), code: 'CONTRACT_SCHEMA_INVALID', reasonIncludes: 'readings[0].kind' },
    { payload: JSON.stringify({ seq: 1, readings: [{ ...ok, value: 1e300 }] }), code: 'CONTRACT_SCHEMA_INVALID', reasonIncludes: 'readings[0].value' },
    { payload: JSON.stringify([{ seq: 1 }]), code: 'CONTRACT_SCHEMA_INVALID', reasonIncludes: 'object' },
    { payload: JSON.stringify({ seq: 1, readings: [{ ...ok, quantity: 'gas', kind: 'register', unit: 'm3', value: -5, intervalS: undefined }] }), code: 'CONTRACT_SCHEMA_INVALID', reasonIncludes: 'negative' },
    { payload: '\u0000\u0001binary\uFFFF', code: 'CONTRACT_PAYLOAD_NOT_JSON', reasonIncludes: 'JSON' },
    { payload: JSON.stringify({ seq: 1, readings: [{ ...ok, ts: '2026-13-45T99:00:00+08:00' }] }), code: 'CONTRACT_TIMESTAMP_INVALID', reasonIncludes: 'readings[0].ts' },
  ];
  expect(cases).toHaveLength(20);
  return cases;
}

export interface ScenarioStores {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
}

export async function runPipelineScenario(stores: ScenarioStores, site: string): Promise<void> {
  const { readings, registry } = stores;
  const metrics = new Registry();
  const svc = await provisionService(registry, `ingest-${site}`, 'service');
  const gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0 }));
  const url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
  const ingest = createIngest(
    { readings, registry, metrics, clock: () => NOW },
    configWith(ingestConfigSchema, { INGEST_MQTT_URL: url, INGEST_MQTT_USERNAME: svc.username, INGEST_MQTT_PASSWORD: svc.secret, INGEST_MQTT_CLIENT_ID: `ingest-${site}`, INGEST_BATCH_MAX_READINGS: 2000, INGEST_FLUSH_INTERVAL_MS: 50 }),
  );
  const clients: MqttClient[] = [];
  try {
    await ingest.start();
    const refs = Array.from({ length: DEVICES }, (_, d) => ({ site, building: `b${Math.floor(d / 5)}`, meter: `m${d}` }));
    const creds = await Promise.all(refs.map((ref) => provisionDevice(registry, ref)));
    clients.push(...(await Promise.all(creds.map((c) => connectClient(url, { username: c.username, password: c.secret, clientId: c.username })))));

    // Per device: 19 messages of 10 readings in time order, except the second message, which is
    // held back and sent last (10 out-of-order readings), and the last message, sent twice
    // (10 exact duplicates). 200 readings published per device; 190 distinct.
    const malformed = malformedMessages();
    let published = 0;
    await Promise.all(
      refs.map(async (ref, d) => {
        const client = clients[d]!;
        const messages: number[][] = [];
        for (let i = 0; i < UNIQUE_PER_DEVICE; i += READINGS_PER_MESSAGE) messages.push(Array.from({ length: READINGS_PER_MESSAGE }, (_, k) => i + k));
        const order = [0, ...messages.slice(2).map((_, k) => k + 2), messages.length - 1, 1];
        let seq = 0;
        for (const [n, m] of order.entries()) {
          const payload = JSON.stringify({
            seq: ++seq,
            readings: messages[m]!.map((i) => ({ ts: new Date(T0 + i * STEP_MS).toISOString().replace('Z', '+00:00'), quantity: 'electricity', unit: 'Wh', kind: 'interval', intervalS: 900, value: valueOf(d, i) * 1000 })),
          });
          await client.publishAsync(readingsTopic(ref), payload, { qos: 1 });
          published += messages[m]!.length;
          // Malformed messages go out in the middle of the good ones, from the first 20 devices.
          if (n === 5 && d < malformed.length) await client.publishAsync(readingsTopic(ref), malformed[d]!.payload, { qos: 1 });
        }
      }),
    );
    expect(published).toBe(DEVICES * (UNIQUE_PER_DEVICE + DUPLICATES_PER_DEVICE));

    const total = async () => {
      let n = 0;
      for (const ref of refs) n += (await readings.query({ ...ref, from: T0, to: NOW })).length;
      return n;
    };
    await waitFor(async () => ingest.pipeline.pending() === 0 && (await registry.countDeadLetters({ source: 'ingest' })) === 20 && (await total()) === DEVICES * UNIQUE_PER_DEVICE, 60_000, 'all readings stored');

    for (const [d, ref] of refs.entries()) {
      const rows = await readings.query({ ...ref, from: T0, to: NOW });
      expect(rows.map((r) => r.ts)).toEqual(Array.from({ length: UNIQUE_PER_DEVICE }, (_, i) => T0 + i * STEP_MS));
      rows.forEach((r, i) => {
        expect(r).toMatchObject({ quantity: 'electricity', kind: 'interval', unit: 'kWh', intervalS: 900 });
        expect(r.value).toBeCloseTo(valueOf(d, i), 9);
      });
    }
    const letters = await registry.listDeadLetters({ source: 'ingest', limit: 100 });
    expect(letters).toHaveLength(20);
    for (const [d, m] of malformed.entries()) {
      const letter = letters.find((l) => l.topic === readingsTopic(refs[d]!));
      expect(letter, `dead letter of device ${d}`).toBeDefined();
      expect(letter!.code).toBe(m.code);
      expect(letter!.reason).toContain(m.reasonIncludes);
      expect(letter!.payloadBytes).toBe(Buffer.byteLength(m.payload));
    }
    const duplicates = (await metrics.getSingleMetric('wattproof_ingest_duplicates_total')!.get()).values[0]?.value;
    expect(duplicates).toBe(DEVICES * DUPLICATES_PER_DEVICE);
    expect(await registry.listMeters({ site })).toHaveLength(DEVICES);
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await ingest.close();
    await gateway.close();
  }
}
