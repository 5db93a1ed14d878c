import { describe, expect, it } from 'vitest';
import { filterCovers, parseReadingsMessage, parseTopic, readingsTopic, toCanonical, CONTRACT_LIMITS } from '@wattproof/core';

const NOW = Date.parse('2026-11-30T08:00:00+08:00');
const opts = { nowMs: NOW, maxFutureMs: 15 * 60_000 };
const good = {
  seq: 7,
  readings: [
    { ts: '2026-11-30T07:00:00+08:00', quantity: 'electricity', unit: 'kWh', kind: 'interval', value: 12.5, intervalS: 900 },
    { ts: NOW - 3_600_000, quantity: 'outdoor_temperature', unit: '°C', kind: 'instant', value: 8.2 },
  ],
};

describe('topics', () => {
  it('round-trips a readings topic', () => {
    const t = readingsTopic({ site: 'yuzhong', building: 'b-01', meter: 'main.elec' });
    expect(t).toBe('wattproof/v1/yuzhong/b-01/main.elec/readings');
    expect(parseTopic(t)).toEqual({ site: 'yuzhong', building: 'b-01', meter: 'main.elec', channel: 'readings' });
  });
  it.each([
    'wattproof/v1/a/b/readings',
    'wattproof/v2/a/b/c/readings',
    'wattproof/v1/a/b/c/commands',
    'wattproof/v1/a/+/c/readings',
    'wattproof/v1/a/b c/c/readings',
    'wattproof/v1/_a/b/c/readings',
    `wattproof/v1/${'x'.repeat(65)}/b/c/readings`,
  ])('rejects %s', (t) => expect(parseTopic(t)).toBeUndefined());
  it('matches filters as MQTT does', () => {
    expect(filterCovers('wattproof/v1/+/+/+/readings', 'wattproof/v1/a/b/c/readings')).toBe(true);
    expect(filterCovers('wattproof/v1/a/b/c/#', 'wattproof/v1/a/b/c/status')).toBe(true);
    expect(filterCovers('wattproof/v1/a/b/c/#', 'wattproof/v1/a/b/d/status')).toBe(false);
    expect(filterCovers('wattproof/v1/a/b/c/#', 'wattproof/v1/#')).toBe(false);
    expect(filterCovers('wattproof/v1/+/+/+/readings', 'wattproof/v1/#')).toBe(false);
    expect(filterCovers('wattproof/v1/+/+/+/readings', 'wattproof/v1/+/+/#/readings')).toBe(false);
  });
});

describe('readings message v1', () => {
  it('accepts a valid message and resolves timestamps to epoch ms', () => {
    const r = parseReadingsMessage(JSON.stringify(good), opts);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.seq).toBe(7);
    expect(r.value.readings[0]!.tsMs).toBe(Date.parse('2026-11-29T23:00:00Z'));
    expect(r.value.readings[1]!.tsMs).toBe(NOW - 3_600_000);
  });

  const cases: Array<[string, unknown, string, string]> = [
    ['not JSON', '{"seq":1,', 'CONTRACT_PAYLOAD_NOT_JSON', ''],
    ['missing seq', { readings: good.readings }, 'CONTRACT_SCHEMA_INVALID', 'seq'],
    ['unknown field', { ...good, extra: 1 }, 'CONTRACT_SCHEMA_INVALID', ''],
    ['typo in a reading', { seq: 1, readings: [{ ...good.readings[0], vaule: 1 }] }, 'CONTRACT_SCHEMA_INVALID', 'readings[0]'],
    ['string value', { seq: 1, readings: [{ ...good.readings[0], value: '12' }] }, 'CONTRACT_SCHEMA_INVALID', 'readings[0].value'],
    ['unknown unit', { seq: 1, readings: [{ ...good.readings[0], unit: 'kwh' }] }, 'CONTRACT_SCHEMA_INVALID', 'readings[0].unit'],
    ['unit of the wrong dimension', { seq: 1, readings: [good.readings[0], { ...good.readings[1], unit: 'kWh' }] }, 'CONTRACT_UNIT_INVALID', 'readings[1].unit'],
    ['power unit on an interval', { seq: 1, readings: [{ ...good.readings[0], unit: 'kW' }] }, 'CONTRACT_UNIT_INVALID', 'readings[0].unit'],
    ['interval without intervalS', { seq: 1, readings: [{ ...good.readings[0], intervalS: undefined }] }, 'CONTRACT_SCHEMA_INVALID', 'readings[0].intervalS'],
    ['timestamp without offset', { seq: 1, readings: [{ ...good.readings[0], ts: '2026-11-30T07:00:00' }] }, 'CONTRACT_TIMESTAMP_INVALID', 'readings[0].ts'],
    ['epoch seconds', { seq: 1, readings: [{ ...good.readings[0], ts: 1764460800 }] }, 'CONTRACT_TIMESTAMP_INVALID', 'readings[0].ts'],
    ['timestamp in the future', { seq: 1, readings: [{ ...good.readings[0], ts: NOW + 3_600_000 }] }, 'CONTRACT_TIMESTAMP_INVALID', 'readings[0].ts'],
    ['empty readings', { seq: 1, readings: [] }, 'CONTRACT_SCHEMA_INVALID', 'readings'],
    ['too many readings', { seq: 1, readings: Array.from({ length: 1001 }, () => good.readings[1]) }, 'CONTRACT_TOO_MANY_READINGS', 'readings'],
    ['negative register', { seq: 1, readings: [{ ts: NOW, quantity: 'gas', unit: 'm3', kind: 'register', value: -1 }] }, 'CONTRACT_SCHEMA_INVALID', 'readings[0].value'],
    ['huge value', { seq: 1, readings: [{ ...good.readings[0], value: 1e300 }] }, 'CONTRACT_SCHEMA_INVALID', 'readings[0].value'],
    ['array payload', [good], 'CONTRACT_SCHEMA_INVALID', ''],
  ];
  it.each(cases)('rejects %s with a code and the field', (_name, payload, code, path) => {
    const r = parseReadingsMessage(typeof payload === 'string' ? payload : JSON.stringify(payload), opts);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(code);
    expect(r.error.reason.length).toBeGreaterThan(5);
    if (path) expect(r.error.issues.map((i) => i.path).join(' ')).toContain(path);
    if (path) expect(r.error.reason).toContain(path);
  });

  it('rejects NaN/Infinity smuggled as JSON numbers', () => {
    const r = parseReadingsMessage('{"seq":1,"readings":[{"ts":1764460800000,"quantity":"electricity","unit":"kWh","kind":"interval","value":1e999,"intervalS":900}]}', opts);
    expect(r.ok).toBe(false);
  });

  it('rejects oversized payloads before parsing', () => {
    const big = 'x'.repeat(CONTRACT_LIMITS.maxPayloadBytes + 1);
    const r = parseReadingsMessage(big, opts);
    expect(r.ok || r.error.code).toBe('CONTRACT_PAYLOAD_TOO_LARGE');
  });

  it('rejects invalid UTF-8', () => {
    const r = parseReadingsMessage(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), opts);
    expect(r.ok || r.error.code).toBe('CONTRACT_PAYLOAD_NOT_JSON');
  });

  it('survives deeply nested JSON', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const r = parseReadingsMessage(deep, { ...opts, maxPayloadBytes: 1_000_000 });
    expect(r.ok).toBe(false);
  });
});

describe('units', () => {
  it.each([
    [1500, 'Wh', 1.5, 'kWh'],
    [2, 'MWh', 2000, 'kWh'],
    [3.6, 'GJ', 1000, 'kWh'],
    [36, 'MJ', 10, 'kWh'],
    [250, 'L', 0.25, 'm3'],
    [212, '°F', 100, '°C'],
    [273.15, 'K', 0, '°C'],
    [1500, 'W', 1.5, 'kW'],
  ] as const)('%s %s = %s %s', (v, u, cv, cu) => {
    const c = toCanonical(v, u);
    expect(c.unit).toBe(cu);
    expect(c.value).toBeCloseTo(cv, 10);
  });
});

describe('timestamps', () => {
  it.each(['2026-02-30T08:00:00+08:00', '2026-04-31T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T10:60:00+08:00'])('rejects the impossible date-time %s', (ts) => {
    const r = parseReadingsMessage(JSON.stringify({ seq: 1, readings: [{ ts, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value: 1 }] }), opts);
    expect(r.ok || r.error.code).toBe('CONTRACT_TIMESTAMP_INVALID');
  });
  it('accepts a leap day and negative offsets', () => {
    const r = parseReadingsMessage(JSON.stringify({ seq: 1, readings: [{ ts: '2024-02-29T23:30:00-05:00', quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value: 1 }] }), opts);
    expect(r.ok && r.value.readings[0]!.tsMs).toBe(Date.parse('2024-03-01T04:30:00Z'));
  });
});
