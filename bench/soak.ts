/**
 * `npm run bench -- soak [options]`: the reliability soak (issue 7, req. 7; not run in CI).
 *
 * The deployment as in production, each part its own process on loopback: a real InfluxDB
 * (Debian `influxd`), a PostgreSQL registry, `wattproof gateway` (with on-disk sessions in
 * GATEWAY_PERSISTENCE_DIR) and `wattproof ingest`. The simulator publishes a generated portfolio
 * in accelerated time with its fault preset (malformed, duplicate, out-of-order and late
 * messages, wrong credentials, …) while this harness injects process faults at random:
 *
 *   ingest-kill     SIGKILL the ingest, restart it 1–10 s later
 *   store-pause     SIGSTOP InfluxDB for 5–60 s (writes hang, then time out and retry)
 *   store-kill      SIGKILL InfluxDB, restart it 2–20 s later (same data directory)
 *   gateway-kill    SIGKILL the gateway, restart it 1–10 s later (sessions on disk)
 *   gateway-term    SIGTERM the gateway (graceful), restart it 1–10 s later
 *
 * At the end it waits for the pipeline to drain and prints: readings published, acknowledged by
 * the gateway, expected (distinct valid readings), stored (distinct, read back from InfluxDB),
 * dead-lettered messages, lost (expected − stored; must be 0) and the memory (RSS) of every
 * process over time. Exit code 1 when anything was lost.
 *
 * Options: `npm run bench -- soak --help` (CLI below).
 *
 * Needs `influxd` (apt-get install influxdb) and PostgreSQL (apt-get install postgresql).
 */
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { provisionAggregator, provisionDevice, provisionService } from '@wattproof/gateway';
import { startInfluxDb, type TestInfluxDb } from '../test/support/influxdb.js';
import { freePort } from '../test/support/net.js';
import { startPostgres, type TestPostgres } from '../test/support/postgres.js';
import { startService, type Service } from '../test/support/processes.js';
import { FAULT_PRESETS, createRng, createSimulationRun, generatePortfolio, portfolioSummary } from '@wattproof/simulators';
import { createBuildingModel } from '../simulators/src/building.js';
import { chongqingTypicalYear } from '../simulators/src/weather.js';
import { openStores } from '../bin/runtime.js';
import { BenchUsageError, defineBench, parseBenchArgs, showBenchHelp } from './lib/cli.js';

type FaultKind = 'ingest-kill' | 'store-pause' | 'store-kill' | 'gateway-kill' | 'gateway-term';
const FAULT_KINDS: readonly FaultKind[] = ['ingest-kill', 'store-pause', 'store-kill', 'gateway-kill', 'gateway-term'];

interface MemorySample {
  readonly atS: number;
  readonly rssMb: Record<string, number | null>;
}

/** Resident set size of a process in MB from /proc (null when it is not running). */
async function rssMb(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? null : Math.round(Number(kb) / 102.4) / 10;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const CLI = defineBench({
  name: 'soak',
  summary: `The reliability soak: the deployment as in production (InfluxDB, PostgreSQL registry, gateway, ingest),
a simulated portfolio publishing with faults while process faults are injected at random; prints what was
published, stored and lost (must be 0) and every process's memory over time. Exit code 1 when anything was
lost. Needs influxd and PostgreSQL (apt-get install influxdb postgresql).`,
  options: {
    minutes: { type: 'string', placeholder: 'N', default: '30', description: 'wall-clock minutes of the publishing phase' },
    buildings: { type: 'string', placeholder: 'N', default: '100', description: 'generated buildings, 100 per site' },
    meters: { type: 'string', placeholder: 'N', default: '5', description: 'meters per building' },
    // 120: a meter's 15-minute readings every 7.5 s.
    speedup: { type: 'string', placeholder: 'N', default: '120', description: 'simulated seconds per wall-clock second' },
    faults: { type: 'string', placeholder: 'PRESET', default: 'realistic', description: `the simulator's fault preset: ${Object.keys(FAULT_PRESETS).join(' | ')}` },
    'fault-every': { type: 'string', placeholder: 'S', default: '120', description: 'mean seconds between injected process faults; 0 = none' },
    'fault-kinds': { type: 'string', placeholder: 'K,K', description: `process faults to inject, of ${FAULT_KINDS.join(', ')} (default all)` },
    seed: { type: 'string', placeholder: 'N', default: '1', description: 'seed of the fault schedule' },
    json: { type: 'string', placeholder: 'FILE', description: 'also write the report as JSON' },
  },
});

export async function main(argv: string[]): Promise<void> {
  if (showBenchHelp(CLI, argv)) return;
  const values = parseBenchArgs(CLI, argv);
  const minutes = Number(values.minutes);
  const speedup = Number(values.speedup);
  const faultEveryS = Number(values['fault-every']);
  const presetName = values.faults as keyof typeof FAULT_PRESETS;
  const preset = FAULT_PRESETS[presetName];
  if (!preset) throw new BenchUsageError(`unknown fault preset ${presetName}; one of ${Object.keys(FAULT_PRESETS).join(', ')}`);
  const kinds = values['fault-kinds'] === undefined ? FAULT_KINDS : (values['fault-kinds'].split(',') as FaultKind[]);
  const unknownKind = kinds.find((k) => !FAULT_KINDS.includes(k));
  if (unknownKind !== undefined) throw new BenchUsageError(`unknown fault kind ${unknownKind}; one of ${FAULT_KINDS.join(', ')}`);
  // Seeded: the fault schedule of a seed is the same on every run.
  const random = createRng(Number(values.seed));
  const log = (msg: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

  const work = await mkdtemp(join(tmpdir(), 'wattproof-soak-'));
  let influx: TestInfluxDb | undefined;
  let pg: TestPostgres | undefined;
  let gateway: Service | undefined;
  let ingest: Service | undefined;
  const memory: MemorySample[] = [];
  const faultsDone: Array<{ atS: number; kind: FaultKind; downS: number }> = [];
  try {
    [influx, pg] = await Promise.all([startInfluxDb(), startPostgres()]);
    const [mqttPort, gwHttp, ingestHttp] = await Promise.all([freePort(), freePort(), freePort()]);
    const env: Record<string, string> = {
      INFLUX_URL: influx.url,
      INFLUX_DATABASE: influx.database,
      REGISTRY_POSTGRES_URL: await pg.createDatabase('soak'),
      GATEWAY_MQTT_PORT: String(mqttPort),
      GATEWAY_HTTP_PORT: String(gwHttp),
      GATEWAY_PERSISTENCE_DIR: join(work, 'gateway-sessions'),
      GATEWAY_MAX_CONNECTIONS: '100000',
      INGEST_HTTP_PORT: String(ingestHttp),
      INGEST_MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`,
      INGEST_MQTT_PASSWORD: 'a-soak-ingest-secret-of-enough-length',
      LOG_LEVEL: 'warn',
    };
    const stores = await openStores(env);
    await provisionService(stores.registry, 'wattproof-ingest', 'service', { secret: env.INGEST_MQTT_PASSWORD! });

    const startGateway = async () => {
      gateway = startService(['gateway'], env);
      await gateway.waitForOutput('Wattproof gateway: mqtt://', 60_000);
    };
    const startIngest = async () => {
      ingest = startService(['ingest'], env);
      await ingest.waitForOutput('Wattproof ingest:', 60_000);
    };
    await startGateway();
    await startIngest();

    const weather = chongqingTypicalYear();
    const portfolio = generatePortfolio({ buildings: Number(values.buildings), metersPerBuilding: Number(values.meters), seed: 1, strategy: 'device' });
    const summary = portfolioSummary(portfolio);
    const durationMs = minutes * 60_000;
    // Accelerated runs must end by the present (the ingest refuses the future): start in the past.
    const toMs = Date.now() + durationMs - 60_000;
    const fromMs = toMs - durationMs * speedup;
    const sim = createSimulationRun(
      {
        provisionDevice: (ref) => provisionDevice(stores.registry, ref, { rotate: true }),
        provisionAggregator: (site, name) => provisionAggregator(stores.registry, site, { rotate: true, ...(name !== undefined ? { name } : {}) }),
        buildingModel: createBuildingModel,
        weather: () => weather,
        registry: stores.registry,
      },
      { url: `mqtt://127.0.0.1:${mqttPort}`, mode: 'accelerated', portfolio, fromMs, toMs, speedup, faults: preset, exactAccounting: true, status: false, allowFuture: true },
    );
    log(`${summary.meters} meters in ${summary.buildings} buildings, ${minutes} min at ${speedup}x, faults ${presetName}, a process fault every ~${faultEveryS} s`);

    const t0 = Date.now();
    let publishing = true;
    const sampler = (async () => {
      while (publishing || memory.length === 0) {
        memory.push({
          atS: Math.round((Date.now() - t0) / 1000),
          rssMb: {
            gateway: await rssMb(gateway?.child.pid),
            ingest: await rssMb(ingest?.child.pid),
            influxd: await rssMb(influx?.pid()),
            simulator: Math.round(process.memoryUsage().rss / 104_857.6) / 10,
          },
        });
        await sleep(30_000);
      }
    })();
    const injector = (async () => {
      if (!(faultEveryS > 0)) return;
      while (publishing) {
        await sleep(-Math.log(1 - random()) * faultEveryS * 1000);
        if (!publishing || Date.now() - t0 > durationMs - 60_000) break;
        const kind = kinds[Math.floor(random() * kinds.length)]!;
        const atS = Math.round((Date.now() - t0) / 1000);
        const started = Date.now();
        log(`fault: ${kind}`);
        switch (kind) {
          case 'ingest-kill':
            await ingest!.stop('SIGKILL');
            await sleep(1000 + random() * 9000);
            await startIngest();
            break;
          case 'store-pause':
            influx!.pause();
            await sleep(5000 + random() * 55_000);
            influx!.resume();
            break;
          case 'store-kill':
            await influx!.kill('SIGKILL');
            await sleep(2000 + random() * 18_000);
            await influx!.restart();
            break;
          case 'gateway-kill':
          case 'gateway-term':
            await gateway!.stop(kind === 'gateway-kill' ? 'SIGKILL' : 'SIGTERM');
            await sleep(1000 + random() * 9000);
            await startGateway();
            break;
        }
        faultsDone.push({ atS, kind, downS: Math.round((Date.now() - started) / 100) / 10 });
      }
    })();

    await sim.start();
    publishing = false;
    await injector;
    await sampler;
    const stats = sim.stats();
    log(`published ${stats.readings.published} readings in ${stats.messages.published} messages; draining`);

    // Drain: until the stored count reaches the expected one or has not moved for 2 minutes.
    const expected = stats.readings.distinctValid ?? stats.readings.valid;
    const storedKeys = async () => {
      const keys = new Set<string>();
      for (const s of await stores.readings.listSeries()) {
        for (const r of await stores.readings.query({ ...s, from: fromMs - 86_400_000 * 30, to: toMs + 86_400_000 })) {
          keys.add(`${r.site}/${r.building}/${r.meter}|${r.quantity}|${r.kind}|${r.ts}`);
        }
      }
      return keys;
    };
    const expectedKeys = sim.validKeys() ?? new Set<string>();
    let keys = await storedKeys();
    let lastChange = Date.now();
    while (keys.size < expected && Date.now() - lastChange < 120_000) {
      await sleep(5000);
      const next = await storedKeys();
      if (next.size !== keys.size) lastChange = Date.now();
      keys = next;
    }
    const stored = keys.size;
    const lostKeys = [...expectedKeys].filter((k) => !keys.has(k)).sort();
    const extraKeys = [...keys].filter((k) => !expectedKeys.has(k)).sort();
    const deadLetters = await stores.registry.countDeadLetters();
    memory.push({ atS: Math.round((Date.now() - t0) / 1000), rssMb: { gateway: await rssMb(gateway?.child.pid), ingest: await rssMb(ingest?.child.pid), influxd: await rssMb(influx?.pid()), simulator: Math.round(process.memoryUsage().rss / 104_857.6) / 10 } });

    const report = {
      command: `npm run bench -- soak ${argv.join(' ')}`.trim(),
      meters: summary.meters,
      minutes,
      speedup,
      faultPreset: presetName,
      faultKinds: kinds,
      processFaults: faultsDone,
      readings: {
        generated: stats.readings.generated,
        published: stats.readings.published,
        acknowledgedMessages: stats.messages.acked,
        publishedMessages: stats.messages.published,
        brokenMessages: stats.messages.broken,
        duplicateReadings: stats.readings.duplicates,
        expected,
        stored,
        deadLettered: deadLetters,
        lost: lostKeys.length,
        unexpected: extraKeys.length,
      },
      lostKeys: lostKeys.slice(0, 1000),
      unexpectedKeys: extraKeys.slice(0, 1000),
      simulatorErrors: stats.errors,
      memory,
    };
    const rows: Array<[string, string]> = [
      ['meters', `${summary.meters} (${summary.buildings} buildings), ${minutes} min at ${speedup}x, fault preset ${presetName}`],
      ['process faults', faultsDone.length === 0 ? 'none' : faultsDone.map((f) => `${f.kind}@${f.atS}s(${f.downS}s)`).join(', ')],
      ['messages published', `${stats.messages.published} (${stats.messages.acked} PUBACKed, ${stats.messages.broken} broken on purpose, ${stats.messages.duplicates} extra copies)`],
      ['readings published', String(stats.readings.published)],
      ['readings expected', `${expected} (distinct valid)`],
      ['readings stored', String(stored)],
      ['dead letters', String(deadLetters)],
      ['LOST', `${lostKeys.length}${lostKeys.length ? ` e.g. ${lostKeys.slice(0, 5).join(', ')}` : ''}`],
      ['stored, not sent', `${extraKeys.length}${extraKeys.length ? ` e.g. ${extraKeys.slice(0, 5).join(', ')}` : ''}`],
    ];
    process.stdout.write('\n');
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(20)} ${v}\n`);
    process.stdout.write(`\nmemory (RSS, MB)\n${'t (s)'.padStart(7)} ${'gateway'.padStart(9)} ${'ingest'.padStart(9)} ${'influxd'.padStart(9)} ${'simulator'.padStart(10)}\n`);
    for (const m of memory) {
      const f = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(1));
      process.stdout.write(`${String(m.atS).padStart(7)} ${f(m.rssMb.gateway).padStart(9)} ${f(m.rssMb.ingest).padStart(9)} ${f(m.rssMb.influxd).padStart(9)} ${f(m.rssMb.simulator).padStart(10)}\n`);
    }
    if (values.json) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
    await stores.readings.close();
    await stores.registry.close();
    if (lostKeys.length > 0) process.exitCode = 1;
  } finally {
    await ingest?.stop();
    await gateway?.stop();
    await influx?.stop();
    await pg?.stop();
    await rm(work, { recursive: true, force: true });
  }
}
