/**
 * M&V analyses spread over worker processes through a Redis-backed job queue (BullMQ;
 * docs/SCALING.md, "Analytics workers"). Loaded through the subpath `@wattproof/analytics/queue`
 * so that only processes configured with ANALYTICS_QUEUE_REDIS_URL load BullMQ.
 *
 * - Producer (`createMvJobQueue`): the scheduler enqueues one job per meter, its newest stored
 *   definition, with the id `scheduled/<site>/<building>/<meter>/<tick start ms>`. BullMQ adds a job
 *   whose id already exists as a no-op, so any number of API processes scheduling the same tick
 *   make one job per meter. Finished jobs (and so their ids) are kept for `keepFinishedS`.
 * - Worker (`createMvWorker`): runs `jobs.run(definition)`, which persists the result and its exact
 *   inputs in the registry as before. A worker holds a lock on each active job and renews it every
 *   half `lockDurationMs`; when a worker dies its lock expires and the stalled check of any live
 *   worker moves the job back to waiting, where another worker takes it. Failures that may pass
 *   (a store unreachable) are retried with exponential back-off; the others fail the job at once.
 * - Delivery is at least once. A job is answered by any result of the same definition computed
 *   after the job was enqueued, so a job re-run after its worker died *after* persisting the result
 *   returns that result instead of appending a second one.
 */
import { hostname } from 'node:os';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { createErrorFactory, meterKey, silentLogger, type Logger, type RegistryStore, type StoredRecord } from '@wattproof/core';
import { connectRedis as connect } from '@wattproof/core/redis';
import { MV_ERRORS } from './errors.js';
import { analysisDefinitionSchema, RECORD_KINDS, type AnalysisDefinition, type MvJobs } from './jobs.js';
import { canonicalJson } from './lineage.js';

const mvError = createErrorFactory(MV_ERRORS);

/** An ioredis connection (the type through core, which owns the ioredis dependency). */
export type Redis = Awaited<ReturnType<typeof connect>>;

/** BullMQ job name of an M&V analysis. */
export const MV_JOB_NAME = 'mv.run';

/** Options of the producer side; callers pass `Partial<MvQueueOptions>`. */
export interface MvQueueOptions {
  /** BullMQ queue name (Redis keys `bull:<name>:…`); producers and workers of one deployment share it. */
  readonly queueName: string;
  /** Runs a job may take in all, the first included (failures that may pass only). */
  readonly attempts: number;
  /** First retry delay, ms; doubled on each further retry. */
  readonly backoffMs: number;
  /** How long completed and failed jobs are kept, seconds: the window in which a job id is not added again. */
  readonly keepFinishedS: number;
}

/** Options of the worker side; callers pass `Partial<MvWorkerOptions>`. */
export interface MvWorkerOptions {
  readonly queueName: string;
  /** Recorded on every job it processes (`processedBy`); unique per running worker. */
  readonly workerName: string;
  /** Jobs this worker runs at once. */
  readonly concurrency: number;
  /** Lock on an active job, ms; renewed every half of it. Also the interval of the stalled-job check. */
  readonly lockDurationMs: number;
  /** Times a job may be recovered from a dead worker before it fails. */
  readonly maxStalledCount: number;
}

export const DEFAULT_MV_QUEUE_NAME = 'wattproof-mv';
export const DEFAULT_MV_QUEUE_OPTIONS: MvQueueOptions = Object.freeze({ queueName: DEFAULT_MV_QUEUE_NAME, attempts: 3, backoffMs: 30_000, keepFinishedS: 7 * 86_400 });
export const DEFAULT_MV_WORKER_OPTIONS: MvWorkerOptions = Object.freeze({ queueName: DEFAULT_MV_QUEUE_NAME, workerName: `${hostname()}-${process.pid}`, concurrency: 1, lockDurationMs: 30_000, maxStalledCount: 2 });

/** What a job carries: the definition as it was when the job was enqueued. */
export interface MvJobData {
  readonly definition: AnalysisDefinition;
  /** `site/building/meter`. */
  readonly meter: string;
  /** Id of the `mv.definition` record, for scheduled jobs. */
  readonly definitionRecord?: string;
}

/** What a completed job returns (kept with the job in Redis). */
export interface MvJobResult {
  /** Id of the `mv.result` record. */
  readonly resultId: string;
  readonly status: string;
  readonly lineageDigest: string;
  /** True when a result computed after the job was enqueued answered it (nothing was run). */
  readonly reused: boolean;
}

/** Job counts of the queue (all producers and workers). */
export interface MvQueueStats {
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly completed: number;
  readonly failed: number;
}

/** Counts of one worker since it started. */
export interface MvWorkerStats {
  readonly completed: number;
  readonly reused: number;
  readonly failed: number;
  readonly stalled: number;
  readonly active: number;
}

/**
 * Opens a Redis connection for the queue or a worker.
 * @param forWorker - workers block on Redis and must not give up on a command (`maxRetriesPerRequest: null`, as BullMQ requires).
 * @throws WattproofError MV_QUEUE_UNAVAILABLE when Redis is not ready within REDIS_CONNECT_TIMEOUT_MS.
 */
export function connectMvQueueRedis(url: string, name: string, logger: Logger, forWorker: boolean): Promise<Redis> {
  return connect(url, name, logger, (message, cause) => mvError('MV_QUEUE_UNAVAILABLE', message, { cause }), forWorker ? { maxRetriesPerRequest: null } : {});
}

export interface MvJobQueueDeps {
  /** Where the stored definitions are (the scheduler reads them). */
  readonly registry: RegistryStore;
  /** A connection the caller opened (`connectMvQueueRedis`) and closes after `close()`. */
  readonly redis: Redis;
  readonly logger?: Logger;
  readonly clock?: () => number;
}

/** The newest stored definition of every meter (the same choice as `MvJobs.runScheduled`). */
async function newestDefinitions(registry: RegistryStore): Promise<StoredRecord[]> {
  const defs = await registry.listRecords({ kind: RECORD_KINDS.definition, limit: 1000 });
  const newest = new Map<string, StoredRecord>();
  for (const d of defs) if (!newest.has(d.key)) newest.set(d.key, d);
  return [...newest.values()];
}

/** Job id of the scheduled run of `meter` in the tick starting at `tickStartMs`. */
export function scheduledJobId(meter: string, tickStartMs: number): string {
  return `scheduled/${meter}/${tickStartMs}`;
}

/** Producer side: enqueues analyses for the workers. */
export function createMvJobQueue(deps: MvJobQueueDeps, options: Partial<MvQueueOptions> = {}) {
  const o: MvQueueOptions = { ...DEFAULT_MV_QUEUE_OPTIONS, ...options };
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? Date.now;
  const queue = new Queue<MvJobData, MvJobResult>(o.queueName, {
    connection: deps.redis,
    defaultJobOptions: {
      attempts: o.attempts,
      backoff: { type: 'exponential', delay: o.backoffMs },
      removeOnComplete: { age: o.keepFinishedS },
      removeOnFail: { age: o.keepFinishedS },
    },
  });
  queue.on('error', (err: Error) => logger.warn({ err: err.message, queue: o.queueName }, 'M&V job queue error'));

  async function add(definition: AnalysisDefinition, jobId: string | undefined, definitionRecord?: string): Promise<string> {
    const data: MvJobData = { definition, meter: meterKey(definition.meter), ...(definitionRecord ? { definitionRecord } : {}) };
    const job = await queue.add(MV_JOB_NAME, data, jobId ? { jobId } : {});
    return job.id!;
  }

  return {
    name: o.queueName,

    /**
     * Enqueues the newest definition of every meter for the schedule tick that contains now: ticks
     * are `intervalS` long, counted from the Unix epoch, so every scheduler computes the same job
     * ids within a tick and a job id already in the queue is not added again.
     * @throws RangeError when intervalS is not positive.
     */
    async enqueueScheduled(intervalS: number): Promise<{ tickStartMs: number; jobIds: string[] }> {
      if (!(intervalS > 0)) throw new RangeError(`intervalS must be positive, got ${intervalS}`);
      const tickMs = intervalS * 1000;
      const tickStartMs = Math.floor(clock() / tickMs) * tickMs;
      const jobIds: string[] = [];
      for (const d of await newestDefinitions(deps.registry)) {
        const parsed = analysisDefinitionSchema.safeParse(d.body);
        if (!parsed.success) {
          logger.error({ meter: d.key, definitionRecord: d.id, problems: parsed.error.issues.map((i) => i.message) }, 'stored M&V definition is invalid: not enqueued');
          continue;
        }
        jobIds.push(await add(parsed.data, scheduledJobId(d.key, tickStartMs), d.id));
      }
      logger.debug({ tickStartMs, jobs: jobIds.length }, 'scheduled M&V analyses enqueued');
      return { tickStartMs, jobIds };
    },

    /**
     * Enqueues one analysis; with `jobId`, not again while a job of that id is kept.
     * @throws ZodError when the definition is invalid.
     */
    enqueue(definitionInput: unknown, opts: { jobId?: string } = {}): Promise<string> {
      return add(analysisDefinitionSchema.parse(definitionInput), opts.jobId);
    },

    /** The state of a job and what it returned or why it failed; undefined once it is no longer kept. */
    async job(id: string): Promise<{ id: string; state: string; meter: string; attemptsStarted: number; stalledCounter: number; processedBy?: string; result?: MvJobResult; failedReason?: string } | undefined> {
      // The state first: the job's fields read after it are at least as new (a finished job's are final).
      const state = await queue.getJobState(id);
      const job = await queue.getJob(id);
      if (!job || state === 'unknown') return undefined;
      return {
        id,
        state,
        meter: job.data.meter,
        attemptsStarted: job.attemptsStarted,
        stalledCounter: job.stalledCounter,
        ...(job.processedBy ? { processedBy: job.processedBy } : {}),
        ...(job.returnvalue ? { result: job.returnvalue } : {}),
        ...(job.failedReason ? { failedReason: job.failedReason } : {}),
      };
    },

    /** Job counts of the whole queue. */
    async stats(): Promise<MvQueueStats> {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
      return { waiting: c.waiting ?? 0, active: c.active ?? 0, delayed: c.delayed ?? 0, completed: c.completed ?? 0, failed: c.failed ?? 0 };
    },

    /** Closes the queue (not the Redis connection, which the caller owns). */
    close(): Promise<void> {
      return queue.close();
    },
  };
}

export type MvJobQueue = ReturnType<typeof createMvJobQueue>;

export interface MvWorkerDeps {
  readonly jobs: Pick<MvJobs, 'run' | 'latest'>;
  /** A connection opened with `connectMvQueueRedis(…, true)`; the caller closes it after `close()`. */
  readonly redis: Redis;
  readonly logger?: Logger;
}

/** Whether a failure may pass on a later attempt: the error's own `retriable`; invalid input never; anything else (a bug, a network error) yes. */
function mayPass(err: unknown): boolean {
  if (typeof err === 'object' && err !== null) {
    const r = (err as { retriable?: unknown }).retriable;
    if (typeof r === 'boolean') return r;
    if ((err as { name?: unknown }).name === 'ZodError') return false;
  }
  return true;
}

/** Worker side: takes jobs from the queue and runs them; starts at once. */
export function createMvWorker(deps: MvWorkerDeps, options: Partial<MvWorkerOptions> = {}) {
  const o: MvWorkerOptions = { ...DEFAULT_MV_WORKER_OPTIONS, ...options };
  const logger = deps.logger ?? silentLogger;
  const counts = { completed: 0, reused: 0, failed: 0, stalled: 0 };
  let active = 0;

  async function processJob(job: Job<MvJobData, MvJobResult>): Promise<MvJobResult> {
    active++;
    try {
      const def = analysisDefinitionSchema.parse(job.data.definition);
      // A result of this definition computed after the job was enqueued answers it: typically the
      // run of a worker that died after persisting but before the job was marked completed.
      const latest = await deps.jobs.latest(def.meter);
      if (latest && latest.body.ranAtMs >= job.timestamp && canonicalJson(latest.body.definition) === canonicalJson(def)) {
        counts.reused++;
        return { resultId: latest.id, status: latest.body.result.status, lineageDigest: latest.body.result.lineage.digest, reused: true };
      }
      const stored = await deps.jobs.run(def);
      counts.completed++;
      return { resultId: stored.id, status: stored.body.result.status, lineageDigest: stored.body.result.lineage.digest, reused: false };
    } catch (err) {
      if (mayPass(err)) throw err;
      const code = (err as { code?: unknown }).code;
      throw new UnrecoverableError(`${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}`);
    } finally {
      active--;
    }
  }

  const worker = new Worker<MvJobData, MvJobResult>(o.queueName, processJob, {
    connection: deps.redis,
    name: o.workerName,
    concurrency: o.concurrency,
    lockDuration: o.lockDurationMs,
    stalledInterval: o.lockDurationMs,
    maxStalledCount: o.maxStalledCount,
  });
  worker.on('completed', (job, result) => logger.info({ job: job.id, meter: job.data.meter, result: result.resultId, status: result.status, reused: result.reused }, 'M&V job completed'));
  worker.on('failed', (job, err) => {
    const final = !job || typeof job.finishedOn === 'number';
    if (final) counts.failed++;
    logger.error({ job: job?.id, meter: job?.data.meter, attempt: job?.attemptsMade, final, err: err.message }, final ? 'M&V job failed' : 'M&V job failed, will retry');
  });
  worker.on('stalled', (jobId) => {
    counts.stalled++;
    logger.warn({ job: jobId }, 'M&V job of a dead worker moved back to the queue');
  });
  worker.on('error', (err) => logger.warn({ err: err.message, queue: o.queueName }, 'M&V worker error'));

  return {
    name: o.workerName,
    /** Resolves once the worker is connected and waiting for jobs. */
    waitUntilReady: () => worker.waitUntilReady().then(() => undefined),
    isRunning: () => worker.isRunning(),
    stats: (): MvWorkerStats => ({ ...counts, active }),
    /** Stops taking jobs and resolves once the jobs it is running have finished (the Redis connection stays open). */
    close: () => worker.close(),
  };
}

export type MvWorker = ReturnType<typeof createMvWorker>;
