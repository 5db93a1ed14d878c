/**
 * `npm run bench -- ingest-stages [options]`: CPU per reading of each stage of the ingest's hot
 * path, in this process, no network: contract validation (JSON + zod), normalization, the
 * duplicate cache (as the pipeline drives it, on its own), line
 * protocol (Wattproof's encoder side by side with the official client's `Point`, the reference
 * it replaced), and the whole pipeline (`createIngestPipeline`: validation, normalization,
 * duplicate keys, batching) writing to a store that encodes line protocol and discards it.
 * The profile-driven optimizations of issue 8 (requirement 4) were chosen and are justified with
 * this table; `npm run bench -- ingest` measures the same code end to end with InfluxDB.
 *
 * Options: `npm run bench -- ingest-stages --help` (CLI below).
 */
import { configWith, parseReadingsMessage, readingsTopic, type ReadingStore, type StoredReading } from '@wattproof/core';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createIngestPipeline, createMemoryReadingStore, createNormalizer, ingestConfigSchema } from '@wattproof/ingest';
import { createRecentReadings, NO_ENTRY, seriesKey, type EntryHandle } from '../ingest/src/recent-readings.js';
import { DEFAULT_INFLUX_BATCH_POINTS } from '../ingest/src/stores/influxdb.js';
import { encodeLineProtocol, referenceLineProtocol } from '../ingest/src/stores/line-protocol.js';
import { BenchUsageError, defineBench, parseBenchArgs, showBenchHelp } from './lib/cli.js';
import { describeMachine, machineInfo, sourceState } from './lib/machine.js';
import { median } from './lib/stats.js';
import { formatTable } from './lib/table.js';

const DAY = 86_400_000;

const METERS = 100;
const meterOf = (m: number) => ({ site: 'bench', building: 'stages', meter: `m${String(m % METERS).padStart(3, '0')}` });

/**
 * `count` messages of `perMessage` 15-minute interval readings each, spread over METERS meters,
 * every reading a new one (no duplicates), ending now: with many readings per message most are
 * days old, as in a backfill or a gateway's batch, and take the ingest's late-data path.
 */
function payloads(count: number, perMessage: number, nowMs: number): Buffer[] {
  const out: Buffer[] = [];
  const perMeter = Math.ceil(count / METERS) * perMessage;
  const start = Math.floor(nowMs / 900_000) * 900_000 - perMeter * 900_000;
  for (let m = 0; m < count; m++) {
    const rs: string[] = [];
    for (let i = 0; i < perMessage; i++) {
      const ts = start + (Math.floor(m / METERS) * perMessage + i) * 900_000;
      rs.push(`{"ts":${ts},"quantity":"electricity","unit":"kWh","kind":"interval","value":${((m * 31 + i) % 997) / 10},"intervalS":900}`);
    }
    out.push(Buffer.from(`{"v":1,"seq":${m + 1},"readings":[${rs.join(',')}]}`));
  }
  return out;
}

const pointLine = referenceLineProtocol;
const utf8 = new TextEncoder();

/** Bytes of the request bodies the InfluxDB store makes of `readings`: chunks of its default batch. */
function requestBodyBytes(readings: readonly StoredReading[]): number {
  let bytes = 0;
  for (let i = 0; i < readings.length; i += DEFAULT_INFLUX_BATCH_POINTS) bytes += encodeLineProtocol(readings, i, Math.min(readings.length, i + DEFAULT_INFLUX_BATCH_POINTS)).length;
  return bytes;
}

/** A reading store that encodes every write as line protocol and keeps nothing (what the InfluxDB adapter does before its HTTP request). */
function encodingStore(): ReadingStore & { lines(): number } {
  const inner = createMemoryReadingStore();
  let lines = 0;
  return {
    ...inner,
    name: 'line-protocol (discarded)',
    async write(readings) {
      if (requestBodyBytes(readings) > 0) lines += readings.length;
    },
    lines: () => lines,
  };
}

interface StageTimes {
  parse: number;
  normalize: number;
  dedupe: number;
  line: number;
  point: number;
  pipeline: number;
}

/** One repetition: µs per reading of each stage (wall time of one thread; CPU time of the whole pipeline). */
async function repetition(messages: Buffer[], perMessage: number, nowMs: number, overrides: { INGEST_DEDUPE_CACHE_SIZE?: number }): Promise<StageTimes> {
  const total = messages.length * perMessage;
  const normalizer = createNormalizer({ loadRegisters: async () => [], clock: () => nowMs }, { registerLookbackMs: 7 * DAY, maxFutureMs: 300_000 });
  const parsed = [];
  let t = performance.now();
  for (const p of messages) {
    const r = parseReadingsMessage(p, { nowMs, maxFutureMs: 300_000 });
    if (!r.ok) throw new Error(`bench payload invalid: ${r.error.reason}`);
    parsed.push(r.value);
  }
  const parse = performance.now() - t;
  const normalized: StoredReading[][] = [];
  t = performance.now();
  for (const [i, m] of parsed.entries()) normalized.push((await normalizer.normalize(meterOf(i), m)).readings);
  const normalize = performance.now() - t;
  // The duplicate cache as the pipeline drives it (pipeline.ts, collect): one series lookup per
  // run of a quantity and kind, a find and a remember per reading, the entries marked durable
  // when the write confirms them, here one message later.
  const cache = createRecentReadings(configWith(ingestConfigSchema, overrides).INGEST_DEDUPE_CACHE_SIZE);
  let pending: EntryHandle[] = [];
  let duplicates = 0;
  t = performance.now();
  for (const [i, rs] of normalized.entries()) {
    const remembered: EntryHandle[] = [];
    const { site, building, meter: name } = meterOf(i);
    const meter = `${site}/${building}/${name}`;
    let series = -1;
    let quantity = '';
    let kind = '';
    for (const r of rs) {
      if (r.quantity !== quantity || r.kind !== kind) {
        ({ quantity, kind } = r);
        series = cache.seriesId(seriesKey(meter, quantity, kind));
      }
      const seen = cache.find(series, r.ts);
      if (seen !== NO_ENTRY && cache.value(seen) === r.value) duplicates++;
      else remembered.push(cache.remember(series, r.ts, r.value));
    }
    for (const e of pending) cache.markDurable(e);
    pending = remembered;
  }
  const dedupe = performance.now() - t;
  if (duplicates !== 0) throw new Error(`the duplicate cache found ${duplicates} duplicates in readings that have none`);
  // Request bodies as the InfluxDB store makes them: chunks of its default batch, as UTF-8 bytes
  // (for Point, its lines joined and encoded, as fetch encoded the string body the store sent before).
  const all = normalized.flat();
  t = performance.now();
  let bytes = requestBodyBytes(all);
  const line = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < all.length; i += DEFAULT_INFLUX_BATCH_POINTS) bytes -= utf8.encode(all.slice(i, i + DEFAULT_INFLUX_BATCH_POINTS).map(pointLine).join('\n')).length;
  const point = performance.now() - t;
  if (bytes !== 0) throw new Error('the encoders disagree');

  const store = encodingStore();
  const registry = createMemoryRegistryStore();
  await registry.init();
  const pipeline = createIngestPipeline({ readings: store, registry, clock: () => nowMs }, configWith(ingestConfigSchema, overrides));
  const topics = Array.from({ length: METERS }, (_, i) => readingsTopic(meterOf(i)));
  // The first message of each meter, untimed: it registers the meter, which a running ingest does
  // once per meter, and while that waits every later message would queue behind it on the
  // normalizing chain. Timed, as in a running ingest, is the path of known meters.
  await Promise.all(messages.slice(0, METERS).map((payload, i) => pipeline.accept({ topic: topics[i]!, payload })));
  await pipeline.drain();
  // CPU time, not wall time: the pipeline waits for its flush timer between batches.
  const cpu = process.cpuUsage();
  await Promise.all(messages.slice(METERS).map((payload, i) => pipeline.accept({ topic: topics[i % METERS]!, payload })));
  await pipeline.drain();
  const used = process.cpuUsage(cpu);
  const pipelineMs = (used.user + used.system) / 1000;
  const timed = (messages.length - METERS) * perMessage;
  await pipeline.close();
  await registry.close();
  if (store.lines() !== total) throw new Error(`pipeline stored ${store.lines()} of ${total} readings`);
  const us = (ms: number) => (ms * 1000) / total;
  return { parse: us(parse), normalize: us(normalize), dedupe: us(dedupe), line: us(line), point: us(point), pipeline: (pipelineMs * 1000) / timed };
}

export const CLI = defineBench({
  name: 'ingest-stages',
  summary: `CPU per reading of each stage of the ingest's hot path, in this process, no network: contract validation,
normalization, the duplicate cache, line protocol (ours against the official client's Point) and the whole pipeline.`,
  options: {
    messages: { type: 'string', placeholder: 'N', default: '200', description: 'messages per repetition, or N x 100 / readings per message when that is more' },
    readings: { type: 'string', placeholder: 'R,R,...', default: '1000,10,1', description: 'readings per message, one row each' },
    reps: { type: 'string', placeholder: 'N', default: '5', description: 'repetitions after one warm-up; the table shows medians' },
    // What the duplicate cache costs: 0 remembers nothing.
    'dedupe-cache-size': { type: 'string', placeholder: 'N', description: "the pipeline's INGEST_DEDUPE_CACHE_SIZE (default: the ingest's default)" },
  },
});

export async function main(argv: string[]): Promise<void> {
  if (showBenchHelp(CLI, argv)) return;
  const values = parseBenchArgs(CLI, argv);
  const count = Number(values.messages);
  const perMessages = values.readings.split(',').map(Number);
  const reps = Number(values.reps);
  const cacheSize = values['dedupe-cache-size'];
  if (cacheSize !== undefined && !/^\d+$/.test(cacheSize)) throw new BenchUsageError(`--dedupe-cache-size takes a whole number, not ${cacheSize}`);
  const overrides = cacheSize === undefined ? {} : { INGEST_DEDUPE_CACHE_SIZE: Number(cacheSize) };
  const src = sourceState(['ingest', 'core']);
  process.stdout.write(`npm run bench -- ingest-stages ${argv.join(' ')}\n${describeMachine(machineInfo())}\nsource ${src.head}${src.modified.length ? ` + ${src.modified.length} modified files` : ''}\n\n`);
  const rows: string[][] = [];
  for (const perMessage of perMessages) {
    const nowMs = Date.now();
    // Fewer messages when each is small, so every row times a comparable number of readings; and
    // one more per meter, the pipeline's untimed first message of each meter.
    const messages = payloads(METERS + Math.max(count, Math.round((count * 1000) / perMessage / 10)), perMessage, nowMs);
    await repetition(messages, perMessage, nowMs, overrides);
    const runs: StageTimes[] = [];
    for (let i = 0; i < reps; i++) runs.push(await repetition(messages, perMessage, nowMs, overrides));
    const m = (k: keyof StageTimes) => median(runs.map((r) => r[k]));
    rows.push([
      String(perMessage),
      String((messages.length - METERS) * perMessage),
      m('parse').toFixed(2),
      m('normalize').toFixed(2),
      m('dedupe').toFixed(2),
      m('line').toFixed(2),
      m('point').toFixed(2),
      (m('point') / m('line')).toFixed(1) + '×',
      m('pipeline').toFixed(2),
      Math.round(1e6 / m('pipeline')).toLocaleString('en-US'),
    ]);
  }
  process.stdout.write(
    formatTable(
      [
        { header: 'readings/msg', align: 'right' },
        { header: 'readings', align: 'right' },
        { header: 'validate µs', align: 'right' },
        { header: 'normalize µs', align: 'right' },
        { header: 'duplicate cache µs', align: 'right' },
        { header: 'line protocol µs', align: 'right' },
        { header: 'Point µs (reference)', align: 'right' },
        { header: 'Point ÷ ours', align: 'right' },
        { header: 'whole pipeline µs', align: 'right' },
        { header: 'pipeline readings/s (one core)', align: 'right' },
      ],
      rows,
    ) + '\n\nµs of CPU per reading, medians of the repetitions; "line protocol" and "Point" make UTF-8 request bodies of the default batch size of the InfluxDB store (for Point, its lines joined and encoded); "whole pipeline" includes validation, normalization, duplicate keys, batching and line protocol, not HTTP, for meters the pipeline knows (the first message of each meter, which registers it, is not timed).\n',
  );
}
