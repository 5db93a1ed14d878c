import { describe, expect, it, vi } from 'vitest';
import { ALL_READINGS_FILTER } from '@wattproof/core';
import { benchDevice, benchDeviceLogin } from '../../../bench/lib/brokers.js';
import { readingLine } from '../../../bench/lib/influx.js';
import { convertFunctionBody, FLATTEN_FUNCTION_BODY, NODE_RED_IDS, nodeRedFlow, nodeRedSettings, type NodeRedFlowOptions, type NodeRedVariant } from '../../../bench/lib/node-red.js';
import { readingsBatchPayload } from '../../../bench/lib/payload.js';

type Node = Record<string, unknown> & { id: string; type: string; wires?: string[][] };

const options = (variant: NodeRedVariant): NodeRedFlowOptions => ({
  variant,
  mqtt: { host: '127.0.0.1', port: 41883, clientId: 'bench-node-red', username: 'bench-node-red', password: 's3cret-password', topic: ALL_READINGS_FILTER },
  influx: { host: '127.0.0.1', port: 48086, database: 'wp_step_7' },
});

/** Runs a function node's body as Node-RED's sandbox would: `msg` and `node` in scope, the return value is what it sends. */
function runFunction(body: string, msg: Record<string, unknown>, node = { warn: vi.fn() }): Record<string, unknown> | null {
  return new Function('msg', 'node', body)(msg, node) as Record<string, unknown> | null;
}

/** The chain of node types from the MQTT node along the (single) wires. */
function chain(nodes: readonly Node[]): string[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const out: string[] = [];
  let n = nodes.find((x) => x.type === 'mqtt in');
  while (n) {
    out.push(n.type);
    const next: string | undefined = n.wires?.[0]?.[0];
    n = next === undefined ? undefined : byId.get(next);
  }
  return out;
}

/**
 * A point the way node-red-contrib-influxdb's InfluxDB 1.x client (`influx`, no schema) writes
 * it: tags and fields sorted by key, numbers as `String(value)` (floats), ms timestamp.
 */
function influxLibLine(p: { measurement: string; tags: Record<string, string>; fields: Record<string, number>; timestamp: number }): string {
  const tags = Object.keys(p.tags).sort().map((k) => `,${k}=${p.tags[k]}`).join('');
  const fields = Object.keys(p.fields).sort().map((k) => `${k}=${String(p.fields[k])}`).join(',');
  return `${p.measurement}${tags} ${fields} ${p.timestamp}`;
}

describe('Node-RED as the peer ingest (bench/lib/node-red.ts)', () => {
  it('batched flow: MQTT in → contract → points → join of 500 messages (1 s) → flatten → influxdb batch', () => {
    const { flows, credentials } = nodeRedFlow(options('batched'));
    const nodes = flows as Node[];
    expect(chain(nodes)).toEqual(['mqtt in', 'function', 'join', 'function', 'influxdb batch']);
    const join = nodes.find((n) => n.type === 'join')!;
    expect(join).toMatchObject({ mode: 'custom', build: 'array', property: 'payload', count: '500', timeout: '1' });
    expect(nodes.find((n) => n.type === 'influxdb batch')).toMatchObject({ influxdb: NODE_RED_IDS.influx, precision: 'ms' });
    expect(nodeRedFlow({ ...options('batched'), batchMessages: 100, batchTimeoutS: 0.5 }).flows.find((n) => n.type === 'join')).toMatchObject({ count: '100', timeout: '0.5' });
    // The login is in the credentials file only.
    expect(credentials[NODE_RED_IDS.broker]).toEqual({ user: 'bench-node-red', password: 's3cret-password' });
    expect(JSON.stringify(flows)).not.toContain('s3cret-password');
  });

  it('per-message flow: one influxdb out write per message, measurement `reading`, ms precision', () => {
    const nodes = nodeRedFlow(options('per-message')).flows as Node[];
    expect(chain(nodes)).toEqual(['mqtt in', 'function', 'influxdb out']);
    expect(nodes.find((n) => n.type === 'influxdb out')).toMatchObject({ measurement: 'reading', precision: 'ms' });
  });

  it.each(['batched', 'per-message'] as const)('%s: the same broker, topics, QoS 1 persistent session and InfluxDB database as the Wattproof ingest', (variant) => {
    const nodes = nodeRedFlow(options(variant)).flows as Node[];
    const ids = new Set(nodes.map((n) => n.id));
    expect(ids.size).toBe(nodes.length);
    for (const n of nodes) for (const w of n.wires ?? []) for (const target of w) expect(ids.has(target)).toBe(true);
    for (const n of nodes.filter((x) => 'z' in x)) expect(n.z).toBe(NODE_RED_IDS.tab);
    expect(nodes.find((n) => n.type === 'mqtt in')).toMatchObject({ topic: 'wattproof/v1/+/+/+/readings', qos: '1', datatype: 'json', broker: NODE_RED_IDS.broker });
    expect(nodes.find((n) => n.type === 'mqtt-broker')).toMatchObject({ broker: '127.0.0.1', port: '41883', clientid: 'bench-node-red', cleansession: false, protocolVersion: '4' });
    expect(nodes.find((n) => n.type === 'influxdb')).toMatchObject({ hostname: '127.0.0.1', port: '48086', database: 'wp_step_7', influxdbVersion: '1.x' });
    expect(nodeRedFlow({ ...options(variant), mqtt: { ...options(variant).mqtt, cleanSession: true } }).flows.find((n) => n.type === 'mqtt-broker')).toMatchObject({ cleansession: true });
  });

  it('the function node turns a contract message into points with the Wattproof adapter’s measurement, tags and fields', () => {
    const ref = benchDevice(1234);
    const payload = JSON.parse(readingsBatchPayload(99, 1_700_000_000_000, 900, 3, 1.25)) as unknown;
    const out = runFunction(convertFunctionBody('batched'), { topic: benchDeviceLogin(1234).topic, payload });
    const points = out!.payload as Array<Parameters<typeof influxLibLine>[0]>;
    expect(points).toHaveLength(3);
    expect(points[0]).toEqual({
      measurement: 'reading',
      tags: { ...ref, quantity: 'electricity', kind: 'interval', unit: 'kWh' },
      fields: { value: 1.25, interval_s: 900 },
      timestamp: 1_700_000_000_000,
    });
    // Line for line what the adapter writes, but for interval_s: the `influx` library has no integer fields without a schema.
    points.forEach((p, k) => expect(influxLibLine(p)).toBe(readingLine(ref, 1_700_000_000_000 + k * 900_000, 1.25, 900).replace('interval_s=900i', 'interval_s=900')));
  });

  it('per-message form: [fields with time, tags] pairs; ISO timestamps are resolved; other kinds carry no interval_s', () => {
    const payload = { v: 1, seq: 1, readings: [{ ts: '2026-11-30T08:00:00+08:00', quantity: 'electricity', unit: 'kWh', kind: 'register', value: 12345.5 }] };
    const out = runFunction(convertFunctionBody('per-message'), { topic: 'wattproof/v1/s1/b1/m1/readings', payload });
    expect(out!.payload).toEqual([[{ value: 12345.5, time: Date.parse('2026-11-30T00:00:00Z') }, { site: 's1', building: 'b1', meter: 'm1', quantity: 'electricity', kind: 'register', unit: 'kWh' }]]);
  });

  it('drops (with a warning) what is not a readings message', () => {
    for (const msg of [
      { topic: 'wattproof/v1/s1/b1/m1/status', payload: { state: 'online' } },
      { topic: 'other/v1/s1/b1/m1/readings', payload: { seq: 1, readings: [] } },
      { topic: 'wattproof/v1/s1/b1/m1/readings', payload: 'not json' },
    ]) {
      const node = { warn: vi.fn() };
      expect(runFunction(convertFunctionBody('batched'), msg, node)).toBeNull();
      expect(node.warn).toHaveBeenCalledOnce();
    }
  });

  it('flattens the joined arrays of points into one batch', () => {
    expect(runFunction(FLATTEN_FUNCTION_BODY, { payload: [[1, 2], [3], []] })!.payload).toEqual([1, 2, 3]);
  });

  it('settings: headless (no editor, admin API or HTTP nodes), unencrypted credentials, nothing installed at run time', () => {
    const module = { exports: {} as Record<string, unknown> };
    new Function('module', nodeRedSettings({ logLevel: 'warn' }))(module);
    expect(module.exports).toMatchObject({
      flowFile: 'flows.json',
      credentialSecret: false,
      httpAdminRoot: false,
      httpNodeRoot: false,
      functionExternalModules: false,
      logging: { console: { level: 'warn' } },
    });
  });
});
