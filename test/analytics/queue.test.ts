/**
 * M&V analyses through the Redis job queue (BullMQ; docs/SCALING.md, "Analytics workers"),
 * against a real Redis, real stores and real `wattproof analytics-worker` processes:
 *
 * - definitions enqueued run exactly once across two workers, each result stored once;
 * - two schedulers enqueuing the same tick make one job per meter (deterministic job ids); the
 *   next tick enqueues again;
 * - a result persisted by a worker that died before completing its job answers the job;
 * - invalid input fails at once, a store outage is retried with back-off until it passes;
 * - a worker process SIGKILLed in the middle of a job: another worker takes the job over once the
 *   lock expires and each meter has exactly one result;
 * - a worker process stopped with SIGTERM finishes the job it is running, then exits 0;
 * - without ANALYTICS_QUEUE_REDIS_URL the schedule runs in the process, as before.
 *
 * "Mid-job" is made deterministic without timing: the readings' InfluxDB is frozen (SIGSTOP) before
 * the job is enqueued, so the worker that takes it waits inside its readings query until the
 * server is resumed; nothing can have been stored for it then.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMvJobs, RECORD_KINDS, type AnalysisDefinition, type MvJobs } from '@wattproof/analytics';
import { connectMvQueueRedis, createMvJobQueue, createMvWorker, type MvJobQueue, type MvWorker, type Redis } from '@wattproof/analytics/queue';
import { loadConfig, meterKey, silentLogger, type MeterRef, type ReadingStore, type RegistryStore, type StoredReading } from '@wattproof/core';
import { createMemoryRegistryStore, createRegistryStore, registryConfigSchema } from '@wattproof/gateway/registry';
import { createMemoryReadingStore, createReadingStore, readingStoreConfigSchema } from '@wattproof/ingest';
import { openAnalysisScheduler, runtimeConfigSchema } from '../../bin/runtime.js';
import { startInfluxDb, type TestInfluxDb } from '../support/influxdb.js';
import { runCli, startService, type Service } from '../support/processes.js';
import { startRedis, type TestRedis } from '../support/redis.js';

const H = 3_600_000;
const START = Date.parse('2025-01-01T00:00:00+08:00');
const SWITCH = Date.parse('2026-01-01T00:00:00+08:00');
const END = Date.parse('2026-07-01T00:00:00+08:00');
const THERMO: MeterRef = { site: 'yz', building: 'weather', meter: 'outdoor' };
const meterRef = (i: number): MeterRef => ({ site: 'yz', building: `b${i}`, meter: 'main' });

/** Hourly Chongqing-like temperatures (once) and, per meter, a building that uses 10 % less from 2026. */
function synthetic(meters: number, withTemperature = true): StoredReading[] {
  const out: StoredReading[] = [];
  for (let t = START; t < END; t += H) {
    const day = (t - START) / (24 * H);
    const temp = 18.5 - 10.5 * Math.cos((2 * Math.PI * (day - 15)) / 365) + 3 * Math.cos((2 * Math.PI * (((t / H + 8) % 24) - 15)) / 24);
    if (withTemperature) out.push({ ...THERMO, quantity: 'outdoor_temperature', kind: 'instant', unit: '°C', ts: t, value: Math.round(temp * 100) / 100 });
    for (let i = 0; i < meters; i++) {
      const base = 40 + 10 * i + 2.5 * Math.max(0, temp - 24) + 1.5 * Math.max(0, 15 - temp) + ((t / H) % 7) * 0.3;
      out.push({ ...meterRef(i), quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, intervalS: 3600, value: Math.round(base * (t >= SWITCH ? 0.9 : 1) * 1000) / 1000 });
    }
  }
  return out;
}

function definition(i: number, reportingEnd = '2026-07-01'): AnalysisDefinition {
  return {
    meter: meterRef(i),
    temperatureMeter: THERMO,
    model: 'caltrack-daily',
    fuel: 'electricity',
    baseline: { start: '2025-01-01', end: '2026-01-01' },
    reporting: { start: '2026-01-01', end: reportingEnd },
    timeZone: 'Asia/Shanghai',
    emission: { region: 'CN', basis: 'location' },
    normalize: false,
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function resultsOf(registry: RegistryStore, i: number) {
  return registry.listRecords({ kind: RECORD_KINDS.result, key: meterKey(meterRef(i)), limit: 1000 });
}

let redis: TestRedis;
const connections: Redis[] = [];
const closers: Array<() => Promise<unknown>> = [];

/** A connection to the test Redis, closed after the suite. */
async function connection(worker: boolean): Promise<Redis> {
  const c = await connectMvQueueRedis(redis.url, `test-${connections.length}`, silentLogger, worker);
  connections.push(c);
  return c;
}

async function openQueue(registry: RegistryStore, queueName: string, options: Parameters<typeof createMvJobQueue>[1] = {}, clock?: () => number): Promise<MvJobQueue> {
  const q = createMvJobQueue({ registry, redis: await connection(false), ...(clock ? { clock } : {}) }, { queueName, ...options });
  closers.push(() => q.close());
  return q;
}

async function openWorker(jobs: MvJobs, queueName: string, workerName: string, options: Parameters<typeof createMvWorker>[1] = {}): Promise<MvWorker> {
  const w = createMvWorker({ jobs, redis: await connection(true) }, { queueName, workerName, ...options });
  closers.push(() => w.close());
  await w.waitUntilReady();
  return w;
}

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  for (const c of connections) c.disconnect();
  await redis?.stop();
});

describe('M&V job queue, in-process workers on shared memory stores', () => {
  const METERS = 6;
  const readings = createMemoryReadingStore();
  const registry = createMemoryRegistryStore();
  const jobs = createMvJobs({ readings, registry });

  beforeAll(async () => {
    await readings.init();
    await registry.init();
    await readings.write(synthetic(METERS));
  });

  it('runs every enqueued definition exactly once across two workers', async () => {
    const queue = await openQueue(registry, 'mv-a');
    const ids: string[] = [];
    for (let i = 0; i < METERS; i++) ids.push(await queue.enqueue(definition(i)));
    expect(new Set(ids).size).toBe(METERS);
    const [w1, w2] = await Promise.all([openWorker(jobs, 'mv-a', 'w1', { concurrency: 2 }), openWorker(jobs, 'mv-a', 'w2', { concurrency: 2 })]);
    await until('all jobs completed', async () => (await queue.stats()).completed === METERS);

    const stats = await queue.stats();
    expect(stats).toEqual({ waiting: 0, active: 0, delayed: 0, completed: METERS, failed: 0 });
    for (let i = 0; i < METERS; i++) {
      const results = await resultsOf(registry, i);
      expect(results, `meter ${i}`).toHaveLength(1);
      const job = (await queue.job(ids[i]!))!;
      expect(job.state).toBe('completed');
      expect(['w1', 'w2']).toContain(job.processedBy);
      expect(job.attemptsStarted).toBe(1);
      expect(job.result).toMatchObject({ resultId: results[0]!.id, reused: false, lineageDigest: (results[0]!.body as { result: { lineage: { digest: string } } }).result.lineage.digest });
    }
    expect(w1.stats().completed + w2.stats().completed).toBe(METERS);
    expect(w1.stats().failed + w2.stats().failed).toBe(0);
  });

  it('two schedulers enqueuing the same tick make one job per meter; the next tick enqueues again', async () => {
    const store = createMemoryRegistryStore();
    await store.init();
    const own = createMvJobs({ readings, registry: store });
    // Two definitions of meter 0: the newer one (reporting to June) is the one scheduled.
    await own.define(definition(0, '2026-05-01'));
    for (let i = 0; i < 3; i++) await own.define(definition(i));
    const tick = 3600;
    let now = Date.parse('2026-07-02T10:20:00Z');
    const clock = () => now;
    const [a, b] = await Promise.all([openQueue(store, 'mv-b', {}, clock), openQueue(store, 'mv-b', {}, clock)]);
    const [ea, eb] = await Promise.all([a.enqueueScheduled(tick), b.enqueueScheduled(tick)]);
    expect(ea.tickStartMs).toBe(Date.parse('2026-07-02T10:00:00Z'));
    expect(eb.jobIds.sort()).toEqual(ea.jobIds.sort());
    expect(ea.jobIds).toHaveLength(3);
    expect(ea.jobIds).toContain(`scheduled/yz/b0/main/${ea.tickStartMs}`);
    // Later in the same tick, a third scheduling adds nothing either.
    now += 1_000_000;
    await b.enqueueScheduled(tick);
    expect(await a.stats()).toMatchObject({ waiting: 3, active: 0, completed: 0 });

    await openWorker(own, 'mv-b', 'wb');
    await until('first tick completed', async () => (await a.stats()).completed === 3);
    for (let i = 0; i < 3; i++) expect(await resultsOf(store, i), `meter ${i}`).toHaveLength(1);
    const [r0] = await resultsOf(store, 0);
    expect((r0!.body as { definition: AnalysisDefinition }).definition.reporting.end).toBe('2026-07-01');

    now += 3_600_000;
    const next = await a.enqueueScheduled(tick);
    expect(next.tickStartMs).toBe(ea.tickStartMs + 3_600_000);
    await until('second tick completed', async () => (await a.stats()).completed === 6);
    for (let i = 0; i < 3; i++) expect(await resultsOf(store, i), `meter ${i}`).toHaveLength(2);
  });

  it('answers a job with a result of the same definition stored after it was enqueued (a worker died after persisting)', async () => {
    const store = createMemoryRegistryStore();
    await store.init();
    const own = createMvJobs({ readings, registry: store });
    const queue = await openQueue(store, 'mv-c');
    const id = await queue.enqueue(definition(1));
    // What a worker that died between persisting and completing the job leaves behind.
    const persisted = await own.run(definition(1));
    const worker = await openWorker(own, 'mv-c', 'wc');
    const job = await until('job completed', async () => {
      const j = await queue.job(id);
      return j?.state === 'completed' ? j : undefined;
    });
    expect(job.result).toMatchObject({ resultId: persisted.id, reused: true });
    expect(await resultsOf(store, 1)).toHaveLength(1);
    expect(worker.stats()).toMatchObject({ reused: 1, completed: 0 });

    // A result stored before the job was enqueued does not answer it: the job runs.
    const again = await queue.enqueue(definition(1));
    await until('second job completed', async () => (await queue.job(again))?.state === 'completed');
    expect((await queue.job(again))!.result).toMatchObject({ reused: false });
    expect(await resultsOf(store, 1)).toHaveLength(2);
  });

  it('fails a job at once when it cannot succeed (no data), with the error code', async () => {
    const queue = await openQueue(registry, 'mv-d', { attempts: 5, backoffMs: 100 });
    await openWorker(jobs, 'mv-d', 'wd');
    const id = await queue.enqueue({ ...definition(0), meter: { site: 'yz', building: 'nowhere', meter: 'main' } });
    const job = await until('job failed', async () => {
      const j = await queue.job(id);
      return j?.state === 'failed' ? j : undefined;
    });
    expect(job.attemptsStarted).toBe(1);
    expect(job.failedReason).toMatch(/^MV_NO_DATA: /);
  });
});

describe('M&V workers as processes on shared stores (InfluxDB, embedded registry directory)', () => {
  const METERS = 2;
  let influx: TestInfluxDb;
  let dataDir: string;
  let env: Record<string, string>;
  let readings: ReadingStore;
  let registry: RegistryStore;
  let jobs: MvJobs;
  let queue: MvJobQueue;
  const services: Service[] = [];

  beforeAll(async () => {
    influx = await startInfluxDb();
    dataDir = await mkdtemp(join(tmpdir(), 'wattproof-mv-queue-'));
    env = {
      LOG_LEVEL: 'info',
      READINGS_STORE: 'influxdb',
      INFLUX_URL: influx.url,
      INFLUX_DATABASE: influx.database,
      // A frozen InfluxDB must hold a query until it is resumed, not time it out.
      INFLUX_TIMEOUT_MS: '600000',
      REGISTRY_STORE: 'embedded',
      WATTPROOF_DATA_DIR: dataDir,
      ANALYTICS_QUEUE_REDIS_URL: redis.url,
      ANALYTICS_QUEUE_NAME: 'mv-proc',
      // Short, so that a killed worker's job is recovered within seconds; long enough that an analysis
      // blocking a loaded machine's event loop never lets a live worker's lock lapse.
      ANALYTICS_WORKER_LOCK_DURATION_MS: '5000',
      ANALYTICS_WORKER_HTTP_PORT: '0',
    };
    readings = createReadingStore(loadConfig(readingStoreConfigSchema, env));
    await readings.init();
    registry = createRegistryStore(loadConfig(registryConfigSchema, env));
    await registry.init();
    await readings.write(synthetic(METERS));
    jobs = createMvJobs({ readings, registry });
    queue = await openQueue(registry, 'mv-proc');
  });

  afterAll(async () => {
    influx?.resume();
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await readings?.close();
    await registry?.close();
    await influx?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function startWorker(name: string): Promise<Service> {
    const s = startService(['analytics-worker'], { ...env, ANALYTICS_WORKER_NAME: name });
    services.push(s);
    await s.waitForOutput(`Wattproof analytics worker ${name}: queue mv-proc`, 60_000);
    return s;
  }

  it('a job of a worker SIGKILLed mid-job is run by another worker; one result per meter', async () => {
    const doomed = await startWorker('doomed');
    influx.pause();
    const ids = [await queue.enqueue(definition(0), { jobId: 'kill-0' }), await queue.enqueue(definition(1), { jobId: 'kill-1' })];
    // The worker takes the first job and waits inside its readings query (the server is frozen).
    const taken = await until('a job active on the doomed worker', async () => {
      for (const id of ids) {
        const j = await queue.job(id);
        if (j?.state === 'active') return j;
      }
      return undefined;
    });
    expect(taken.processedBy).toBe('doomed');
    expect((await queue.stats()).active).toBe(1);
    await doomed.stop('SIGKILL');
    expect(doomed.child.signalCode).toBe('SIGKILL');
    influx.resume();

    const survivor = await openWorker(jobs, 'mv-proc', 'survivor', { lockDurationMs: 5000 });
    await until('both jobs completed', async () => (await queue.stats()).completed === 2, 90_000);
    const recovered = (await queue.job(taken.id))!;
    expect(recovered).toMatchObject({ state: 'completed', processedBy: 'survivor', stalledCounter: 1, attemptsStarted: 2 });
    expect(survivor.stats()).toMatchObject({ completed: 2, stalled: 1, failed: 0 });
    for (let i = 0; i < METERS; i++) {
      const results = await resultsOf(registry, i);
      expect(results, `meter ${i}`).toHaveLength(1);
      expect((await queue.job(ids[i]!))!.result?.resultId).toBe(results[0]!.id);
    }
    await survivor.close();
  });

  it('a worker stopped with SIGTERM finishes the job it runs, then exits 0', async () => {
    const worker = await startWorker('graceful');
    influx.pause();
    const id = await queue.enqueue(definition(0), { jobId: 'term-0' });
    await until('the job active on the worker', async () => (await queue.job(id))?.state === 'active');
    const stopped = worker.stop('SIGTERM');
    // The worker has the signal (it logs "stopping") while its job is still waiting for the store.
    await until('the worker stopping', async () => worker.output().includes('"msg":"stopping"'));
    expect((await queue.job(id))!.state).toBe('active');
    influx.resume();
    await stopped;
    expect(worker.child.exitCode, worker.output()).toBe(0);
    expect(worker.output()).toContain('Wattproof analytics worker graceful stopped');
    expect(await queue.job(id)).toMatchObject({ state: 'completed', processedBy: 'graceful', stalledCounter: 0, attemptsStarted: 1 });
    expect(await resultsOf(registry, 0)).toHaveLength(2);
  });

  it('retries a job with back-off while the store is down, until it passes', async () => {
    const retrying = await openQueue(registry, 'mv-retry', { attempts: 20, backoffMs: 200 });
    const store = createReadingStore(loadConfig(readingStoreConfigSchema, { ...env, INFLUX_TIMEOUT_MS: '2000' }));
    await store.init();
    closers.push(() => store.close());
    const worker = await openWorker(createMvJobs({ readings: store, registry }), 'mv-retry', 'w-retry');
    await influx.kill();
    const id = await retrying.enqueue(definition(1));
    // At least one failed attempt (STORE_UNAVAILABLE, retriable) while InfluxDB is down.
    await until('a failed attempt', async () => {
      const j = await retrying.job(id);
      return j !== undefined && j.state !== 'active' && j.attemptsStarted >= 1 && j.failedReason !== undefined;
    });
    await influx.restart();
    const job = await until('job completed', async () => {
      const j = await retrying.job(id);
      return j?.state === 'completed' ? j : undefined;
    }, 90_000);
    expect(job.attemptsStarted).toBeGreaterThan(1);
    expect(worker.stats()).toMatchObject({ completed: 1, failed: 0 });
    expect(await resultsOf(registry, 1)).toHaveLength(2);
  });

  it('analytics-worker refuses to start without ANALYTICS_QUEUE_REDIS_URL', async () => {
    const r = await runCli(['analytics-worker'], { ...env, ANALYTICS_QUEUE_REDIS_URL: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CONFIG_INVALID');
    expect(r.stderr).toContain('ANALYTICS_QUEUE_REDIS_URL');
  });
});

describe('the schedule of wattproof api and wattproof start', () => {
  const readings = createMemoryReadingStore();
  const registry = createMemoryRegistryStore();
  const jobs = createMvJobs({ readings, registry });
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    await readings.init();
    await registry.init();
    await readings.write(synthetic(1));
    await jobs.define(definition(0));
  });

  it('without ANALYTICS_QUEUE_REDIS_URL runs the analyses in the process, as before', async () => {
    const rt = loadConfig(runtimeConfigSchema, { ANALYTICS_SCHEDULE_INTERVAL_S: '1' });
    const schedule = await openAnalysisScheduler({ jobs, registry, logger }, rt);
    try {
      expect(schedule.mode).toBe('inline');
      expect(schedule.queue).toBeUndefined();
      await until('a result from the in-process schedule', async () => (await resultsOf(registry, 0)).length > 0, 30_000);
    } finally {
      await schedule.stop();
    }
    // Nothing went through Redis: no queue was made.
    const c = redis.client();
    try {
      expect(await c.keys('bull:wattproof-mv:*')).toEqual([]);
    } finally {
      c.disconnect();
    }
  });

  it('with ANALYTICS_QUEUE_REDIS_URL enqueues for the workers instead', async () => {
    const before = (await resultsOf(registry, 0)).length;
    const rt = loadConfig(runtimeConfigSchema, { ANALYTICS_SCHEDULE_INTERVAL_S: '1', ANALYTICS_QUEUE_REDIS_URL: redis.url, ANALYTICS_QUEUE_NAME: 'mv-sched' });
    const schedule = await openAnalysisScheduler({ jobs, registry, logger }, rt);
    try {
      expect(schedule.mode).toBe('queue');
      const queue = schedule.queue!;
      await until('a scheduled job waiting', async () => (await queue.stats()).waiting > 0, 30_000);
      expect(await resultsOf(registry, 0)).toHaveLength(before);
      await openWorker(jobs, 'mv-sched', 'w-sched');
      await until('the scheduled job run by the worker', async () => (await resultsOf(registry, 0)).length > before, 30_000);
    } finally {
      await schedule.stop();
    }
  });
});
