/**
 * Bad input, contained (issue 7, requirement 3): generated malformed messages of every category
 * (test/fuzz/arbitraries.ts) mixed with valid ones.
 *
 * - In process, thousands of cases: `parseReadingsMessage` never throws and answers ok (exactly the
 *   readings sent) or a rejection with the category's stable code; the pipeline dead-letters what
 *   the gateway would not even see (topics with line-protocol specials); the normalizer never
 *   throws nor produces a non-finite or negative derived interval.
 * - Over TCP MQTT, a real gateway + ingest + real MQTT.js devices with their own credentials, on
 *   the memory, the DuckDB and a real InfluxDB store: every valid reading stored with its exact
 *   value, every invalid message dead-lettered with a non-empty reason and its stable code, no
 *   crash, no hang, heap bounded, no unhandled rejection, services still answering.
 *
 * Reproducible: fixed seed FUZZ_SEED; size with FUZZ_RUNS (see docs/fuzzing.md).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configWith,
  CONTRACT_LIMITS,
  encodeDeadLetterPayload,
  parseReadingsMessage,
  parseTopic,
  printable,
  readingsTopic,
  type DeadLetter,
  type MeterRef,
  type ReadingStore,
  type RegistryStore,
  type StoredReading,
} from '@wattproof/core';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService } from '@wattproof/gateway';
import { createMemoryRegistryStore, createJsonlRegistryStore } from '@wattproof/gateway/registry';
import { createIngest, createIngestPipeline, createNormalizer, ingestConfigSchema } from '@wattproof/ingest';
import { createDuckDbReadingStore, createInfluxReadingStore, createMemoryReadingStore } from '@wattproof/ingest/stores';
import { connectClient, waitFor } from '../support/mqtt.js';
import { startInfluxDb, type TestInfluxDb } from '../support/influxdb.js';
import { FUZZ_RUNS, FUZZ_SEED, malformedCase, MAX_FUTURE_S, mixedCase, NOW, validMessage, type ExpectedReading, type FuzzCase } from './arbitraries.js';

const PARSE_OPTS = { nowMs: NOW, maxFutureMs: MAX_FUTURE_S * 1000 };
const CODE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/;
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u001f\u007f]/;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => void process.on('unhandledRejection', onUnhandled));
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

/** A full GC when the runtime lets us have one (V8 exposes `gc` to new contexts once the flag is set). */
function gcFunction(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

function sameReading(actual: Pick<StoredReading, 'ts' | 'value' | 'unit' | 'quantity' | 'kind'> & { intervalS?: number }, expected: ExpectedReading): void {
  expect({ ts: actual.ts, quantity: actual.quantity, kind: actual.kind, unit: actual.unit, value: actual.value + 0, intervalS: actual.intervalS }).toEqual({
    ts: expected.ts,
    quantity: expected.quantity,
    kind: expected.kind,
    unit: expected.unit,
    // -0 and 0 are the same reading; InfluxDB (like JSON) has no -0 (e.g. -1e-320 Wh in kWh).
    value: expected.value + 0,
    intervalS: expected.intervalS,
  });
}

describe('regressions found by the fuzzer', () => {
  it('an epoch timestamp beyond what a Date holds is a timestamp rejection, not a RangeError', () => {
    for (const ts of [8.64e15 + 1, 1e20, Number.MAX_SAFE_INTEGER, -8.64e15 - 1]) {
      const res = parseReadingsMessage(JSON.stringify({ seq: 1, readings: [{ ts, quantity: 'water', unit: 'm3', kind: 'register', value: 0 }] }), PARSE_OPTS);
      expect(res.ok).toBe(false);
      if (!res.ok) expect(res.error).toMatchObject({ code: 'CONTRACT_TIMESTAMP_INVALID', reason: expect.stringContaining('readings[0].ts') });
    }
  });
});

describe('in process: contract and normalizer', () => {
  it(`parseReadingsMessage never throws; valid messages come back exactly, each bad category gets its code (${FUZZ_RUNS * 5} cases)`, () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(mixedCase, (c) => {
        seen.set(c.category, (seen.get(c.category) ?? 0) + 1);
        const res = parseReadingsMessage(c.payload, PARSE_OPTS);
        if (c.category === 'valid' || c.category === 'injection-topic') {
          // An injection topic carries a valid payload: the topic grammar refuses it (next test).
          expect(res.ok, res.ok ? '' : res.error.reason).toBe(true);
          if (!res.ok || !('readings' in c)) return;
          expect(res.value.readings).toHaveLength(c.readings.length);
          return;
        }
        expect(res.ok).toBe(false);
        if (res.ok || !('codes' in c)) return;
        expect(c.codes).toContain(res.error.code);
        expect(res.error.reason.length).toBeGreaterThan(0);
        expect(res.error.reason).not.toMatch(RAW_CONTROL);
        expect(res.error.issues.length).toBeGreaterThan(0);
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS * 5 },
    );
    // Every category was exercised.
    expect([...seen.keys()].sort()).toEqual(expect.arrayContaining(['valid', 'invalid-json', 'invalid-utf8', 'wrong-type', 'huge-number', 'bad-timestamp', 'bad-unit', 'unicode', 'injection-topic', 'deep-nesting']));
  });

  it('parseReadingsMessage never throws on arbitrary bytes, strings and JSON values', () => {
    const anyPayload = fc.oneof(
      fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
      fc.string({ unit: 'binary', maxLength: 512 }),
      fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v) ?? ''),
      fc.anything({ maxDepth: 4, withNullPrototype: true, withObjectString: true }).map((v) => {
        try {
          return JSON.stringify({ seq: 1, readings: [v] }) ?? '';
        } catch {
          return '';
        }
      }),
    );
    fc.assert(
      fc.property(anyPayload, fc.integer({ min: 0, max: 7 * 86_400 }), (payload, futureS) => {
        const res = parseReadingsMessage(payload, { nowMs: NOW, maxFutureMs: futureS * 1000, maxPayloadBytes: 1024 });
        if (!res.ok) {
          expect(res.error.code).toMatch(/^CONTRACT_/);
          expect(res.error.reason).not.toBe('');
        } else {
          for (const r of res.value.readings) {
            expect(Number.isFinite(r.value) && Math.abs(r.value) <= CONTRACT_LIMITS.maxAbsValue).toBe(true);
            expect(Number.isSafeInteger(r.tsMs)).toBe(true);
          }
        }
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS * 5 },
    );
  });

  it('valid readings parse to exactly the timestamps and values sent', () => {
    fc.assert(
      fc.property(validMessage, (m) => {
        const res = parseReadingsMessage(JSON.stringify(m.raw), PARSE_OPTS);
        expect(res.ok).toBe(true);
        if (!res.ok) return;
        res.value.readings.forEach((r, i) => {
          const e = m.readings[i]!;
          expect(r.tsMs).toBe(e.ts);
          expect(r.quantity).toBe(e.quantity);
          expect(r.kind).toBe(e.kind);
        });
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS * 5 },
    );
  });

  it('the ingest pipeline dead-letters every malformed message with its code, topics with line-protocol specials included', async () => {
    const readings = createMemoryReadingStore();
    const registry = createMemoryRegistryStore();
    await readings.init();
    await registry.init();
    const pipeline = createIngestPipeline({ readings, registry, clock: () => NOW }, configWith(ingestConfigSchema, { INGEST_FLUSH_INTERVAL_MS: 1 }));
    const cases = fc.sample(malformedCase, { seed: FUZZ_SEED, numRuns: FUZZ_RUNS });
    for (const c of cases) {
      if (!('codes' in c)) continue;
      const topic = `wattproof/v1/${(c.topicIds ?? ['fz', 'b0', 'm0']).join('/')}/readings`;
      const payload = typeof c.payload === 'string' ? Buffer.from(c.payload) : c.payload;
      expect(await pipeline.accept({ topic, payload, clientId: 'fuzz' }), c.category).toBe('dead_lettered');
      const [letter] = await registry.listDeadLetters({ limit: 1 });
      expect(c.codes).toContain(letter!.code);
      expect(letter!.reason).not.toBe('');
      if (c.topicIds) expect(letter!.code).toBe('CONTRACT_TOPIC_INVALID');
    }
    expect(await registry.countDeadLetters()).toBe(cases.length);
    expect(await readings.listSeries()).toEqual([]);
    await pipeline.close();
  });

  it('ids with line-protocol specials are refused by the topic grammar', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(',', '=', ' ', '"', '\\', '\n', 'a'), minLength: 1, maxLength: 10 }).filter((s) => /[^a]/.test(s)), (bad) => {
        expect(parseTopic(`wattproof/v1/${bad}/b/m/readings`)).toBeUndefined();
        expect(parseTopic(`wattproof/v1/s/${bad}/m/readings`)).toBeUndefined();
        expect(parseTopic(`wattproof/v1/s/b/${bad}/readings`)).toBeUndefined();
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
    );
  });

  it('the normalizer never throws and derives only finite, non-negative intervals from random registers', async () => {
    const register = fc.record({
      ts: fc.integer({ min: CONTRACT_LIMITS.minTimestampMs, max: NOW }),
      value: fc.double({ min: 0, max: CONTRACT_LIMITS.maxAbsValue, noNaN: true }),
      rollover: fc.option(fc.double({ min: Number.MIN_VALUE, max: 1e15, noNaN: true }), { nil: undefined }),
      unit: fc.constantFrom('m3' as const, 'L' as const, 'GJ' as const, 'therm' as const),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(register, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }), fc.option(fc.string({ maxLength: 3 }), { nil: undefined }), async (messages, serial) => {
        const stored: Array<{ ts: number; value: number }> = [];
        const normalizer = createNormalizer({ clock: () => NOW, loadRegisters: async () => stored }, { registerLookbackMs: 35 * 86_400_000, maxFutureMs: MAX_FUTURE_S * 1000 });
        const ref: MeterRef = { site: 'fz', building: 'b0', meter: 'g' };
        for (const [n, msg] of messages.entries()) {
          const readings = msg.map((r) => ({ tsMs: r.ts, quantity: 'gas' as const, kind: 'register' as const, unit: r.unit, value: r.rollover !== undefined ? Math.min(r.value, r.rollover * 0.999) : r.value, ...(r.rollover !== undefined ? { rollover: r.rollover } : {}) }));
          const out = await normalizer.normalize(ref, { seq: n, ...(serial !== undefined && n % 2 ? { meterSerial: serial } : {}), readings });
          for (const r of out.readings) {
            expect(Number.isFinite(r.value)).toBe(true);
            if (r.kind === 'interval') {
              expect(r.value).toBeGreaterThanOrEqual(0);
              expect(Number.isInteger(r.intervalS) && r.intervalS! >= 1).toBe(true);
            }
          }
          for (const e of out.events) expect(['rollover', 'reset', 'replacement', 'out_of_order']).toContain(e.type);
        }
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Over TCP MQTT: real gateway, real ingest, real MQTT.js devices.

const DEVICES = 4;
const SITE = 'fz';

interface RunStores {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
}

async function allDeadLetters(registry: RegistryStore): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await registry.listDeadLetters({ limit: 1000, ...(before ? { before } : {}) });
    out.push(...page);
    if (page.length < 1000) return out;
    before = page[page.length - 1]!.id;
  }
}

async function fuzzOverMqtt(stores: RunStores, runs: number, label: string): Promise<void> {
  const { readings, registry } = stores;
  const svc = await provisionService(registry, `ingest-${label}`, 'service');
  const gateway = createGateway({ registry }, configWith(gatewayConfigSchema, { GATEWAY_MQTT_PORT: 0 }));
  const url = `mqtt://127.0.0.1:${(await gateway.start()).mqtt.port}`;
  const ingest = createIngest(
    { readings, registry, clock: () => NOW },
    configWith(ingestConfigSchema, { INGEST_MQTT_URL: url, INGEST_MQTT_USERNAME: svc.username, INGEST_MQTT_PASSWORD: svc.secret, INGEST_MQTT_CLIENT_ID: `ingest-${label}`, INGEST_FLUSH_INTERVAL_MS: 20, INGEST_MAX_FUTURE_S: MAX_FUTURE_S }),
  );
  const clients: MqttClient[] = [];
  const gc = gcFunction();
  try {
    await ingest.start();
    const refs: MeterRef[] = Array.from({ length: DEVICES }, (_, d) => ({ site: SITE, building: 'b0', meter: `m${d}` }));
    const creds = await Promise.all(refs.map((ref) => provisionDevice(registry, ref)));
    clients.push(...(await Promise.all(creds.map((c) => connectClient(url, { username: c.username, password: c.secret, clientId: c.username, protocolVersion: 4 })))));

    const cases = fc.sample(mixedCase, { seed: FUZZ_SEED, numRuns: runs });
    const perDevice: FuzzCase[][] = refs.map(() => []);
    cases.forEach((c, i) => perDevice[i % DEVICES]!.push(c));

    gc?.();
    const heapBefore = process.memoryUsage();
    await Promise.all(
      refs.map(async (ref, d) => {
        for (const c of perDevice[d]!) {
          const topic = 'topicIds' in c && c.topicIds ? `wattproof/v1/${c.topicIds.join('/')}/readings` : readingsTopic(ref);
          await clients[d]!.publishAsync(topic, typeof c.payload === 'string' ? c.payload : c.payload, { qos: 1 });
        }
      }),
    );
    const invalid = cases.filter((c): c is Extract<FuzzCase, { codes: readonly string[] }> => 'codes' in c);
    await waitFor(async () => (await registry.countDeadLetters()) >= invalid.length && ingest.pipeline.pending() === 0, 120_000, `${invalid.length} dead letters`);
    await ingest.drain();

    // Every invalid message is in the dead letters, once, with its code and a reason.
    const letters = await allDeadLetters(registry);
    expect(letters).toHaveLength(invalid.length);
    const unmatched = new Map<string, Array<Extract<FuzzCase, { codes: readonly string[] }>>>();
    const keyOf = (p: { payload: string; payloadEncoding: string; payloadBytes: number }) => `${p.payloadEncoding}:${p.payloadBytes}:${p.payload}`;
    for (const c of invalid) {
      const k = keyOf(encodeDeadLetterPayload(c.payload));
      unmatched.set(k, [...(unmatched.get(k) ?? []), c]);
    }
    for (const letter of letters) {
      const candidates = unmatched.get(keyOf(letter)) ?? [];
      const i = candidates.findIndex((c) => c.codes.includes(letter.code));
      expect(i, `dead letter ${letter.code} (${letter.reason.slice(0, 120)}) matches a generated message`).toBeGreaterThanOrEqual(0);
      const c = candidates.splice(i, 1)[0]!;
      expect(letter.code).toMatch(CODE);
      expect(letter.reason.trim()).not.toBe('');
      if (c.topicIds) expect(letter.topic).toBe(printable(`wattproof/v1/${c.topicIds.join('/')}/readings`));
    }

    // Every valid reading is stored with its exact value; the last one sent of a key wins.
    for (const [d, ref] of refs.entries()) {
      const expected = new Map<string, ExpectedReading>();
      for (const c of perDevice[d]!) if ('readings' in c) for (const r of c.readings) expected.set(`${r.quantity}|${r.kind}|${r.ts}`, r);
      const rows = await readings.query({ ...ref, from: CONTRACT_LIMITS.minTimestampMs, to: NOW + MAX_FUTURE_S * 1000 + 1 });
      // Intervals of water and gas are derived from their registers (checked by the normalizer tests), not sent.
      const sent = rows.filter((r) => !(r.kind === 'interval' && (r.quantity === 'water' || r.quantity === 'gas')));
      expect(sent.length, `readings of ${ref.meter}`).toBe(expected.size);
      for (const row of sent) {
        const e = expected.get(`${row.quantity}|${row.kind}|${row.ts}`);
        expect(e, `stored reading ${row.quantity}|${row.kind}|${row.ts} was sent`).toBeDefined();
        sameReading(row, e!);
      }
    }

    // Still healthy: every device connected, the ingest consuming, a fresh reading goes through.
    expect(gateway.stats().connectedClients).toBe(DEVICES + 1);
    expect(ingest.connected()).toBe(true);
    const sentinel = { ts: NOW, quantity: 'electricity', unit: 'kW', kind: 'instant', value: 123.456 };
    await clients[0]!.publishAsync(readingsTopic(refs[0]!), JSON.stringify({ seq: 1, readings: [sentinel] }), { qos: 1 });
    await waitFor(async () => (await readings.query({ ...refs[0]!, quantity: 'electricity', kind: 'instant', from: NOW, to: NOW + 1 }))[0]?.value === 123.456, 20_000, 'sentinel reading');

    // Memory bounded: what is left after a full GC is what the stores keep, not the traffic.
    gc?.();
    const after = process.memoryUsage();
    if (gc) expect(after.heapUsed - heapBefore.heapUsed, 'heap growth (bytes)').toBeLessThan(96 * 1024 * 1024);
    else expect(after.rss - heapBefore.rss, 'RSS growth (bytes)').toBeLessThan(512 * 1024 * 1024);
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await ingest.close();
    await gateway.close();
  }
}

describe('over TCP MQTT: gateway + ingest', () => {
  it(`memory stores: ${FUZZ_RUNS} mixed messages`, async () => {
    const readings = createMemoryReadingStore();
    const registry = createMemoryRegistryStore();
    await readings.init();
    await registry.init();
    await fuzzOverMqtt({ readings, registry }, FUZZ_RUNS, 'memory');
    await readings.close();
    await registry.close();
  }, 300_000);

  it(`embedded stores (DuckDB + JSON lines): ${FUZZ_RUNS} mixed messages`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wattproof-fuzz-'));
    const readings = createDuckDbReadingStore({ path: join(dir, 'readings.duckdb') });
    const registry = createJsonlRegistryStore({ dir: join(dir, 'registry') });
    try {
      await readings.init();
      await registry.init();
      await fuzzOverMqtt({ readings, registry }, FUZZ_RUNS, 'duckdb');
    } finally {
      await readings.close();
      await registry.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('over TCP MQTT into a real InfluxDB: no line-protocol injection', () => {
  let influx: TestInfluxDb;
  beforeAll(async () => {
    influx = await startInfluxDb();
  });
  afterAll(async () => {
    await influx?.stop();
  });

  it(`${Math.ceil(FUZZ_RUNS / 2)} mixed messages; stored points are exactly the valid readings`, async () => {
    const readings = createInfluxReadingStore({ url: influx.url, database: influx.database });
    const registry = createMemoryRegistryStore();
    await readings.init();
    await registry.init();
    try {
      await fuzzOverMqtt({ readings, registry }, Math.ceil(FUZZ_RUNS / 2), 'influx');
      // No point of any other meter, site or quantity appeared (an injected tag or line would make one).
      const series = await readings.listSeries();
      for (const s of series) expect(`${s.site}/${s.building}`).toBe(`${SITE}/b0`);
      expect(new Set(series.map((s) => s.meter))).toEqual(new Set(Array.from({ length: DEVICES }, (_, d) => `m${d}`)));
    } finally {
      await readings.close();
      await registry.close();
    }
  }, 300_000);
});
