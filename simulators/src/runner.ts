/**
 * The simulation runner: drives a portfolio (or a replayed CSV) through a real MQTT broker with
 * the credentials a real installer would issue (`provisionDevice` / `provisionAggregator`).
 *
 * Modes:
 * - `backfill`: a historical range as fast as the pipeline accepts it: QoS 1, at most `inflight`
 *   publishes awaiting their PUBACK, up to `readingsPerMessage` (≤ 1000) readings per message, an
 *   optional rate limit, and a progress bar (cli-progress, on stderr when it is a TTY or when asked).
 * - `realtime`: each interval is published as it completes, by the wall clock.
 * - `accelerated`: simulated time runs `speedup` times faster than the wall clock from `fromMs`
 *   and the timestamps are simulated ones. The ingest refuses timestamps more than
 *   INGEST_MAX_FUTURE_S ahead of its clock, so the run must end by the present (`toMs` ≤ now,
 *   the default): start it `duration / speedup` in the past, e.g. a simulated year at 52,560x
 *   takes 10 minutes and starts a year ago. A later `toMs` needs `allowFuture` and an ingest
 *   with a larger INGEST_MAX_FUTURE_S.
 * - `replay`: a wide CSV (a timestamp column and one column per building, e.g.
 *   test/fixtures/dev/electricity.csv), each column an interval meter; empty cells are not sent
 *   (gaps stay gaps) and the values are sent as they are (defects stay defects).
 *
 * Connections: `device` strategy = one connection per meter with its own credentials;
 * `aggregator` = one connection per site (or `site.aggregators` of them) publishing for all its
 * meters. With more publishers than `connections`, devices take turns: each wave connects,
 * publishes and disconnects, as duty-cycled (e.g. NB-IoT) meters do.
 *
 * Registers count from the start of the run (`fromMs`; realtime without it: the start of the
 * current hour) at their `initialIndex`: give the same `fromMs` to continue an earlier run.
 *
 * Faults (faults.ts) are injected along the way; `stats()` and `faultReport()` say exactly what
 * was sent, so a test can compare it with what the pipeline stored and dead-lettered.
 */
import { readFile } from 'node:fs/promises';
import { SingleBar } from 'cli-progress';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import {
  CONTRACT_LIMITS,
  createErrorFactory,
  isValidId,
  meterKey,
  readingsTopic,
  silentLogger,
  statusTopic,
  type ErrorCatalogue,
  type Logger,
  type MeterRef,
  type Quantity,
  type RegistryStore,
  type Unit,
} from '@wattproof/core';
import { createFaultInjector, type FaultReport, type FaultsConfig } from './faults.js';
import { createHourSignals, createMeter, HOUR_MS, type BuildingModelFactory, type Frame, type FrameSource, type HourSignals, type SimReading } from './meters.js';
import { buildingSpecOf, portfolioMeters, portfolioSummary, type ConnectionStrategy, type Portfolio, type PortfolioSite } from './portfolio.js';
import type { WeatherSeries } from './types.js';

/** Error catalogue of simulation runs. */
export const SIMULATION_ERRORS = {
  SIM_RUN_CONFIG_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'A simulation run was configured inconsistently (e.g. backfill without a range, a portfolio mode without a building model).',
    fix: 'Follow the message; `wattproof simulate --help` lists the options of each mode.',
  },
  SIM_FUTURE_TIMESTAMPS: {
    statusCode: 400,
    retriable: false,
    meaning: 'An accelerated run would publish timestamps ahead of the present; the ingest refuses those beyond INGEST_MAX_FUTURE_S.',
    fix: 'Start the run further in the past (`--from`), lower `--speedup`, or raise INGEST_MAX_FUTURE_S on the ingest and allow it explicitly.',
  },
  SIM_REPLAY_CSV_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'The CSV to replay is not a timestamp column followed by numeric columns, or a timestamp has no offset.',
    fix: 'Use ISO 8601 timestamps with an offset (e.g. 2018-01-01T00:00:00Z) in the first column and numbers or empty cells in the others.',
  },
  SIM_CONNECT_FAILED: {
    statusCode: 502,
    retriable: true,
    meaning: 'A simulated device or aggregator could not connect to the broker with its own credentials.',
    fix: 'Check the broker URL and that the registry the gateway reads is the one the simulator provisions into.',
  },
} as const satisfies ErrorCatalogue;
const simError = createErrorFactory(SIMULATION_ERRORS);

export const SIMULATION_MODES = ['realtime', 'accelerated', 'backfill', 'replay'] as const;
export type SimulationMode = (typeof SIMULATION_MODES)[number];

/** What provisioning returns: the username and its secret (shown once). */
export interface Credentials {
  readonly username: string;
  readonly secret: string;
}

export interface SimulationDeps {
  /** Issues (or rotates) a meter's device credentials, as `wattproof device add` does. */
  provisionDevice(ref: MeterRef): Promise<Credentials>;
  /** Issues (or rotates) a site's aggregator credentials, as `wattproof device add-aggregator` does. */
  provisionAggregator(site: string, name?: string): Promise<Credentials>;
  /** The building model (simulators/src/building.ts); needed for every mode but replay. */
  readonly buildingModel?: BuildingModelFactory;
  /** The weather series of a site; needed with `buildingModel`. */
  weather?(site: PortfolioSite): WeatherSeries;
  /** When given, sites, buildings and meters are registered (names, time zones, coordinates, floor areas, end uses) before publishing. */
  readonly registry?: Pick<RegistryStore, 'upsertSite' | 'upsertBuilding' | 'upsertMeter'>;
  /** Epoch-ms wall clock. */
  readonly clock?: () => number;
  readonly logger?: Logger;
  /** Where the progress bar goes; process.stderr by default. */
  readonly progressStream?: NodeJS.WriteStream;
}

/** A wide CSV to replay: `timestamp,<building>,<building>,...`. */
export interface ReplayConfig {
  /** Path of the CSV, or its text in `text`. */
  readonly path?: string;
  readonly text?: string;
  /** Site id of the replayed buildings. */
  readonly site: string;
  /** Meter id of every column. Default `elec`. */
  readonly meter?: string;
  readonly quantity?: Quantity;
  readonly unit?: Unit;
  /** Columns to replay (names as in the header); default all. */
  readonly columns?: readonly string[];
  /** Interval length, s; default the step between the first two rows. */
  readonly intervalS?: number;
  /** Rows to replay from the start of the range, at most. */
  readonly maxRows?: number;
}

export interface SimulationConfig {
  /** Broker URL, e.g. mqtt://127.0.0.1:1883. */
  readonly url: string;
  readonly mode: SimulationMode;
  /** Needed for every mode but replay. */
  readonly portfolio?: Portfolio;
  /** Start of simulated time, epoch ms (backfill, accelerated: required; realtime: default now; replay: default the CSV's first row). */
  readonly fromMs?: number;
  /** End (exclusive), epoch ms (backfill: required; accelerated: default now; realtime: unset = until close; replay: default the CSV's end). */
  readonly toMs?: number;
  /** Simulated seconds per wall-clock second (accelerated). */
  readonly speedup?: number;
  readonly replay?: ReplayConfig;
  /** Faults to inject; default the portfolio's, else none. */
  readonly faults?: FaultsConfig;
  /** Seed of the fault decisions when `faults.seed` is unset; default the portfolio's seed. */
  readonly seed?: number;
  /** Default the portfolio's `connection.strategy`, else `device`. */
  readonly strategy?: ConnectionStrategy;
  /** Connections open at once, at most; more publishers take turns in waves. Default the portfolio's, else 5000. */
  readonly connections?: number;
  /** Messages per second, at most (0 = unlimited). Default the portfolio's, else 0. */
  readonly ratePerS?: number;
  /** QoS 1 publishes awaiting their PUBACK at once, over all connections. Default 512. */
  readonly inflight?: number;
  /** Readings per message (≤ 1000). Default 1000 in backfill and replay; realtime and accelerated send what completed. */
  readonly readingsPerMessage?: number;
  /** The gateway's GATEWAY_MAX_PAYLOAD_BYTES (messages stay below it; oversized faults exceed it). Default 262144. */
  readonly maxPayloadBytes?: number;
  /** The ingest's INGEST_MAX_FUTURE_S, for the accelerated-mode check. Default 900. */
  readonly maxFutureS?: number;
  /** Allow an accelerated run to end after now + maxFutureS (the ingest must accept it). */
  readonly allowFuture?: boolean;
  /** Progress bar on stderr: true = always, false = never, unset = when stderr is a TTY (backfill, replay). */
  readonly progress?: boolean;
  /** Publish a retained online status per meter after connecting and offline before disconnecting. Default true. */
  readonly status?: boolean;
  /** Track every valid reading key to report `readings.distinctValid` exactly (memory grows with the run). Default false. */
  readonly exactAccounting?: boolean;
  /** Connects in progress at once. Default 32. */
  readonly connectConcurrency?: number;
  /** Wall-clock tick of realtime and accelerated runs, ms. Default 1000 (realtime), 200 (accelerated). */
  readonly tickMs?: number;
  /** Simulated time generated per step of a backfill, ms (bounds memory). Default one day. */
  readonly chunkMs?: number;
}

export const DEFAULT_SIMULATION_CONFIG = {
  connections: 5000,
  ratePerS: 0,
  inflight: 512,
  readingsPerMessage: CONTRACT_LIMITS.maxReadingsPerMessage,
  maxPayloadBytes: CONTRACT_LIMITS.maxPayloadBytes,
  maxFutureS: 900,
  connectConcurrency: 32,
  chunkMs: 86_400_000,
} as const;

/** Counters of a run. */
export interface SimulationStats {
  readonly mode: SimulationMode;
  readonly strategy: ConnectionStrategy;
  readonly startedAtMs: number | null;
  readonly elapsedMs: number;
  readonly publishers: number;
  readonly meters: number;
  readonly connections: {
    /** Successful CONNECTs. */
    readonly opened: number;
    /** CONNECTs refused by the broker (CONNACK return code != 0), e.g. injected wrong credentials. */
    readonly refused: number;
    /** Connections open now. */
    readonly open: number;
  };
  readonly messages: {
    /** PUBLISH packets sent (every copy, every broken one; statuses not counted). */
    readonly published: number;
    /** Of which PUBACKed by the broker. */
    readonly acked: number;
    /** Messages the pipeline should accept (first copies only). */
    readonly valid: number;
    /** Broken on purpose (malformed, foreign topic, oversized). */
    readonly broken: number;
    /** Extra copies of valid messages. */
    readonly duplicates: number;
    /** Retained status messages. */
    readonly status: number;
  };
  readonly readings: {
    /** Readings the meters produced (before faults). */
    readonly generated: number;
    /** Readings in every published readings message (copies and broken ones included). */
    readonly published: number;
    /** Readings in valid messages, first copies only: what the pipeline should store. */
    readonly valid: number;
    /** Readings in extra copies of valid messages. */
    readonly duplicates: number;
    /** Readings lost in broken messages. */
    readonly broken: number;
    /** Distinct (meter, quantity, kind, ts) among the valid readings; only with `exactAccounting`. */
    readonly distinctValid?: number;
  };
  /** Readings published per second of the run. */
  readonly readingsPerS: number;
  readonly errors: number;
  readonly lastError?: string;
  readonly faults: FaultReport;
}

/** A readings message as sent (contract v1). */
interface MessageBody {
  readonly seq: number;
  readonly meterSerial?: string;
  readonly readings: SimReading[];
}

interface OutMessage {
  readonly topic: string;
  readonly payload: string;
  readonly readings: number;
  readonly keys?: readonly string[];
}

interface MeterStream {
  readonly ref: MeterRef;
  readonly key: string;
  readonly topic: string;
  readonly foreignTopic: string;
  readonly source: FrameSource;
  seq: number;
  /** Next true time to generate (inclusive). */
  cursor: number;
  buffer: Frame[];
  buffered: number;
  delayed: Array<{ remaining: number; msg: OutMessage; copies: number }>;
}

interface Publisher {
  readonly username: string;
  readonly kind: 'device' | 'aggregator';
  readonly site: string;
  readonly aggregatorName?: string;
  readonly meters: MeterStream[];
  creds?: Credentials;
  client?: MqttClient;
  connects: number;
  inflight: number;
  idle: Array<() => void>;
}

/** A counting semaphore. */
function createWindow(size: number) {
  let used = 0;
  const waiters: Array<() => void> = [];
  return {
    async acquire(): Promise<void> {
      if (used < size) {
        used++;
        return;
      }
      await new Promise<void>((r) => waiters.push(r));
    },
    release(): void {
      const next = waiters.shift();
      if (next) next();
      else used--;
    },
    used: () => used,
  };
}

/** A token bucket of `ratePerS` messages per second (0 = unlimited). */
function createLimiter(ratePerS: number, now: () => number) {
  let nextAt = 0;
  return async (): Promise<void> => {
    if (!(ratePerS > 0)) return;
    const t = now();
    const at = Math.max(nextAt, t);
    nextAt = at + 1000 / ratePerS;
    if (at > t) await new Promise((r) => setTimeout(r, at - t));
  };
}

/** An id from a CSV column name: invalid characters become `-`. */
/** A progress bar's time left: `1h05m`, `2m30s`, `45s`; `--` when unknown (no rate yet). */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.ceil(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

export function columnId(name: string): string {
  let id = name.trim().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64);
  if (!/^[A-Za-z0-9]/.test(id)) id = `c${id}`.slice(0, 64);
  return id;
}

/** A parsed wide CSV: timestamps (epoch ms) and, per column, the value of each row or undefined for an empty cell. */
export interface WideCsv {
  readonly timestamps: readonly number[];
  readonly columns: ReadonlyArray<{ readonly name: string; readonly values: ReadonlyArray<number | undefined> }>;
}

/**
 * Parses a wide CSV (unquoted fields): first column ISO 8601 timestamps with an offset, then one
 * numeric column per series; empty cells are gaps.
 * @throws WattproofError SIM_REPLAY_CSV_INVALID naming the row and column.
 */
export function parseWideCsv(text: string, source = 'csv'): WideCsv {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines[0]?.split(',').map((h) => h.trim());
  if (!header || header.length < 2) throw simError('SIM_REPLAY_CSV_INVALID', `${source}: expected a header "timestamp,<column>,..." with at least one data column`);
  const names = header.slice(1);
  const values: Array<Array<number | undefined>> = names.map(() => []);
  const timestamps: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i]!.split(',');
    const tsText = cells[0]!.trim();
    if (!/(Z|[+-]\d{2}:?\d{2})$/.test(tsText) || !Number.isFinite(Date.parse(tsText))) {
      throw simError('SIM_REPLAY_CSV_INVALID', `${source}: row ${i + 1}: "${tsText}" is not an ISO 8601 timestamp with an offset`);
    }
    timestamps.push(Date.parse(tsText));
    for (let c = 0; c < names.length; c++) {
      const cell = (cells[c + 1] ?? '').trim();
      if (cell === '') {
        values[c]!.push(undefined);
        continue;
      }
      const v = Number(cell);
      if (!Number.isFinite(v)) throw simError('SIM_REPLAY_CSV_INVALID', `${source}: row ${i + 1}, column ${names[c]}: "${cell}" is not a number`);
      values[c]!.push(v);
    }
  }
  return { timestamps, columns: names.map((name, c) => ({ name, values: values[c]! })) };
}

/** One CSV column as a frame source: an interval meter whose empty cells are not sent. */
function csvColumnSource(ref: MeterRef, csv: WideCsv, column: number, intervalS: number, quantity: Quantity, unit: Unit): FrameSource {
  const col = csv.columns[column]!;
  return {
    ref,
    periodS: intervalS,
    readingsPerFrame: 1,
    frames(fromMs, toMs) {
      const out: Frame[] = [];
      // Timestamps are sorted in the fixtures; a binary search keeps big files cheap.
      let lo = 0;
      let hi = csv.timestamps.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (csv.timestamps[mid]! < fromMs) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < csv.timestamps.length && csv.timestamps[i]! < toMs; i++) {
        const v = col.values[i];
        if (v === undefined) continue;
        const ts = csv.timestamps[i]!;
        out.push({ trueTs: ts, ts, readings: [{ ts, quantity, unit, kind: 'interval', value: v, intervalS }] });
      }
      return out;
    },
    completeBefore: (nowMs) => nowMs - intervalS * 1000 + 1,
  };
}

/**
 * Creates a simulation run. Nothing connects until `start()`.
 * @throws WattproofError SIM_RUN_CONFIG_INVALID when the mode's inputs are missing.
 */
export function createSimulationRun(deps: SimulationDeps, config: SimulationConfig) {
  const clock = deps.clock ?? Date.now;
  const logger = deps.logger ?? silentLogger;
  const mode = config.mode;
  const portfolio = config.portfolio;
  const strategy: ConnectionStrategy = config.strategy ?? portfolio?.connection.strategy ?? 'device';
  const maxConnections = config.connections ?? portfolio?.connection.connections ?? DEFAULT_SIMULATION_CONFIG.connections;
  const ratePerS = config.ratePerS ?? portfolio?.connection.ratePerS ?? DEFAULT_SIMULATION_CONFIG.ratePerS;
  const readingsPerMessage = Math.min(CONTRACT_LIMITS.maxReadingsPerMessage, Math.max(1, config.readingsPerMessage ?? DEFAULT_SIMULATION_CONFIG.readingsPerMessage));
  const maxPayloadBytes = config.maxPayloadBytes ?? DEFAULT_SIMULATION_CONFIG.maxPayloadBytes;
  const sendStatus = config.status ?? true;
  const faults = createFaultInjector(config.faults ?? portfolio?.faults ?? {}, { seed: config.seed ?? portfolio?.seed ?? 0, maxPayloadBytes });
  const window = createWindow(config.inflight ?? DEFAULT_SIMULATION_CONFIG.inflight);
  const limit = createLimiter(ratePerS, clock);

  if (mode !== 'replay' && !portfolio) throw simError('SIM_RUN_CONFIG_INVALID', `mode ${mode} needs a portfolio`);
  if (mode !== 'replay' && (!deps.buildingModel || !deps.weather)) throw simError('SIM_RUN_CONFIG_INVALID', `mode ${mode} needs a building model and weather (simulators/src/building.ts)`);
  if (mode === 'replay' && !config.replay) throw simError('SIM_RUN_CONFIG_INVALID', 'mode replay needs a CSV (replay.path or replay.text)');
  if (mode === 'backfill' && (config.fromMs === undefined || config.toMs === undefined || config.toMs <= config.fromMs)) {
    throw simError('SIM_RUN_CONFIG_INVALID', 'backfill needs a range: fromMs < toMs');
  }
  if (mode === 'accelerated') {
    if (config.fromMs === undefined) throw simError('SIM_RUN_CONFIG_INVALID', 'accelerated needs fromMs (the start of simulated time)');
    if (!(config.speedup !== undefined && config.speedup > 0)) throw simError('SIM_RUN_CONFIG_INVALID', 'accelerated needs a speedup > 0');
    const end = config.toMs ?? clock();
    const maxFutureS = config.maxFutureS ?? DEFAULT_SIMULATION_CONFIG.maxFutureS;
    if (!config.allowFuture && end > clock() + maxFutureS * 1000) {
      throw simError(
        'SIM_FUTURE_TIMESTAMPS',
        `an accelerated run to ${new Date(end).toISOString()} would publish timestamps up to ${Math.round((end - clock()) / 1000)} s ahead of now; the ingest accepts ${maxFutureS} s (INGEST_MAX_FUTURE_S). Start earlier, or raise INGEST_MAX_FUTURE_S and allow it.`,
      );
    }
  }

  const publishers: Publisher[] = [];
  let streams: MeterStream[] = [];
  let estimatedReadings = 0;
  let runFrom = config.fromMs ?? 0;
  let runTo = config.toMs ?? Number.POSITIVE_INFINITY;

  const counters = {
    opened: 0,
    refused: 0,
    open: 0,
    published: 0,
    acked: 0,
    validMessages: 0,
    broken: 0,
    duplicateMessages: 0,
    status: 0,
    generated: 0,
    readingsPublished: 0,
    validReadings: 0,
    duplicateReadings: 0,
    brokenReadings: 0,
    errors: 0,
    lastError: undefined as string | undefined,
  };
  const distinct = config.exactAccounting ? new Set<string>() : undefined;
  let startedAtMs: number | null = null;
  let endedAtMs: number | null = null;
  let stopped = false;
  let stopWake: (() => void) | undefined;
  let bar: SingleBar | undefined;

  function fail(err: unknown): void {
    counters.errors++;
    counters.lastError = err instanceof Error ? err.message : String(err);
    logger.warn({ err: counters.lastError }, 'simulation error');
  }

  function otherSite(site: string): string {
    const other = portfolio?.sites.find((s) => s.id !== site)?.id;
    return other ?? (isValidId(`${site}-foreign`) ? `${site}-foreign` : 'foreign');
  }

  /** A topic the publisher of `ref` may not use. */
  function foreignTopicOf(ref: MeterRef): string {
    if (strategy === 'aggregator') return readingsTopic({ ...ref, site: otherSite(ref.site) });
    // A device writing to its neighbour's topic (a wiring or configuration mistake).
    return readingsTopic({ ...ref, meter: ref.meter.length < 60 ? `${ref.meter}-x` : 'x' });
  }

  async function build(): Promise<void> {
    if (mode === 'replay') {
      const rc = config.replay!;
      const text = rc.text ?? (rc.path ? await readFile(rc.path, 'utf8') : undefined);
      if (text === undefined) throw simError('SIM_RUN_CONFIG_INVALID', 'replay needs replay.path or replay.text');
      const csv = parseWideCsv(text, rc.path ?? 'csv');
      const first = csv.timestamps[0];
      if (first === undefined) throw simError('SIM_REPLAY_CSV_INVALID', `${rc.path ?? 'csv'}: no rows`);
      const intervalS = rc.intervalS ?? (csv.timestamps.length > 1 ? Math.round((csv.timestamps[1]! - first) / 1000) : 3600);
      runFrom = config.fromMs ?? first;
      const lastRow = csv.timestamps.findIndex((t) => t >= runFrom);
      const maxEnd = rc.maxRows !== undefined && lastRow >= 0 ? (csv.timestamps[Math.min(csv.timestamps.length - 1, lastRow + rc.maxRows - 1)] ?? first) + 1 : Number.POSITIVE_INFINITY;
      runTo = Math.min(config.toMs ?? csv.timestamps[csv.timestamps.length - 1]! + intervalS * 1000, maxEnd);
      const wanted = rc.columns ? new Set(rc.columns) : undefined;
      if (wanted) for (const w of wanted) if (!csv.columns.some((c) => c.name === w)) throw simError('SIM_REPLAY_CSV_INVALID', `${rc.path ?? 'csv'}: no column "${w}"`);
      const meterId = rc.meter ?? 'elec';
      csv.columns.forEach((col, c) => {
        if (wanted && !wanted.has(col.name)) return;
        const ref = { site: rc.site, building: columnId(col.name), meter: meterId };
        const source = csvColumnSource(ref, csv, c, intervalS, rc.quantity ?? 'electricity', rc.unit ?? 'kWh');
        streams.push(newStream(ref, source));
        csv.timestamps.forEach((t, i) => {
          if (t >= runFrom && t < runTo && col.values[i] !== undefined) estimatedReadings++;
        });
      });
    } else {
      const p = portfolio!;
      const signalsOf = new Map<string, HourSignals>();
      const origin = config.fromMs ?? alignHour(clock());
      runFrom = origin;
      runTo = mode === 'accelerated' ? (config.toMs ?? clock()) : (config.toMs ?? Number.POSITIVE_INFINITY);
      for (const m of portfolioMeters(p)) {
        const key = `${m.site.id}/${m.building?.id ?? ''}`;
        let signals = signalsOf.get(key);
        if (!signals) {
          const weather = deps.weather!(m.site);
          if (m.building) {
            const model = deps.buildingModel!(buildingSpecOf(m.building, m.site), weather);
            signals = createHourSignals(model, weather, m.building.floorAreaM2);
          } else {
            signals = createHourSignals({ hour: () => ({ hourStartMs: 0, endUses: { lighting_sockets: 0, hvac: 0, power: 0, special: 0 }, main: 0, pv: 0, counterfactualMain: 0 }) }, weather, 0);
          }
          signalsOf.set(key, signals);
        }
        const source = createMeter(m.ref, m.definition, signals, origin);
        streams.push(newStream(m.ref, source));
        if (Number.isFinite(runTo)) estimatedReadings += Math.max(0, Math.ceil((runTo - runFrom) / (source.periodS * 1000))) * source.readingsPerFrame;
      }
    }
    for (const s of streams) s.cursor = runFrom;
    // Publishers: one per meter, or per site (split over `aggregators` of a site).
    if (strategy === 'device') {
      for (const s of streams) publishers.push(newPublisher(s.key, 'device', s.ref.site, [s]));
    } else {
      const bySite = new Map<string, MeterStream[]>();
      for (const s of streams) {
        const list = bySite.get(s.ref.site) ?? [];
        list.push(s);
        bySite.set(s.ref.site, list);
      }
      for (const [site, list] of bySite) {
        const n = Math.min(list.length, portfolio?.sites.find((x) => x.id === site)?.aggregators ?? 1);
        for (let a = 0; a < n; a++) {
          const name = a === 0 ? undefined : `a${a + 1}`;
          const mine = list.filter((_, i) => i % n === a);
          publishers.push(newPublisher(name === undefined ? `aggregator:${site}` : `aggregator:${site}:${name}`, 'aggregator', site, mine, name));
        }
      }
    }
  }

  function alignHour(t: number): number {
    return Math.floor(t / HOUR_MS) * HOUR_MS;
  }

  function newStream(ref: MeterRef, source: FrameSource): MeterStream {
    return { ref, key: meterKey(ref), topic: readingsTopic(ref), foreignTopic: foreignTopicOf(ref), source, seq: 0, cursor: 0, buffer: [], buffered: 0, delayed: [] };
  }
  function newPublisher(username: string, kind: 'device' | 'aggregator', site: string, meters: MeterStream[], aggregatorName?: string): Publisher {
    return { username, kind, site, meters, connects: 0, inflight: 0, idle: [], ...(aggregatorName !== undefined ? { aggregatorName } : {}) };
  }

  async function registerPortfolio(): Promise<void> {
    const reg = deps.registry;
    if (!reg) return;
    if (portfolio) {
      for (const s of portfolio.sites) {
        await reg.upsertSite({
          id: s.id,
          timezone: s.timezone,
          ...(s.name !== undefined ? { name: s.name } : {}),
          ...(s.coordinates ? { latitude: s.coordinates.latitude, longitude: s.coordinates.longitude } : {}),
        });
      }
      for (const b of portfolio.buildings) {
        await reg.upsertBuilding({ site: b.site, id: b.id, type: b.archetype, floorAreaM2: b.floorAreaM2, ...(b.name !== undefined ? { name: b.name } : {}) });
      }
      for (const m of portfolioMeters(portfolio)) {
        const def = m.definition;
        const quantity: Quantity = def.source === 'weather' ? 'outdoor_temperature' : def.source === 'pv' ? 'pv' : def.source === 'gas' ? 'gas' : def.source === 'water' ? 'water' : 'electricity';
        const endUse = ['lighting_sockets', 'hvac', 'power', 'special'].includes(def.source) ? def.source : undefined;
        await reg.upsertMeter({ ...m.ref, quantity, ...(m.name !== undefined ? { name: m.name } : {}), ...(endUse ? { endUse } : {}), ...(m.parent !== undefined ? { parent: m.parent } : {}) });
      }
    } else {
      for (const s of streams) await reg.upsertMeter({ ...s.ref, quantity: config.replay?.quantity ?? 'electricity' });
    }
  }

  function connectOnce(options: IClientOptions): Promise<MqttClient> {
    return new Promise((resolve, reject) => {
      const client = connect(config.url, { connectTimeout: 30_000, ...options });
      const onError = (err: Error) => {
        cleanup();
        client.end(true);
        reject(err);
      };
      const onClose = () => {
        cleanup();
        client.end(true);
        reject(new Error('connection closed before CONNACK'));
      };
      const onConnect = () => {
        cleanup();
        resolve(client);
      };
      const cleanup = () => {
        client.off('error', onError);
        client.off('close', onClose);
        client.off('connect', onConnect);
      };
      client.once('error', onError);
      client.once('close', onClose);
      client.once('connect', onConnect);
    });
  }

  async function open(pub: Publisher): Promise<void> {
    if (pub.client || stopped) return;
    pub.connects++;
    const bad = faults.wrongCredentials(pub.username, pub.connects);
    for (let i = 0; i < bad; i++) {
      try {
        const c = await connectOnce({ clientId: pub.username, username: pub.username, password: `wrong-${pub.connects}-${i}`, clean: true, reconnectPeriod: 0 });
        c.end(true);
        fail(new Error(`a wrong password for ${pub.username} was accepted`));
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'number' && code > 0) counters.refused++;
        else fail(err);
      }
    }
    if (!pub.creds) {
      pub.creds = pub.kind === 'device' ? await deps.provisionDevice(pub.meters[0]!.ref) : await deps.provisionAggregator(pub.site, pub.aggregatorName);
    }
    const will =
      pub.kind === 'device' && sendStatus ? { will: { topic: statusTopic(pub.meters[0]!.ref), payload: Buffer.from('{"state":"offline"}'), qos: 1 as const, retain: true } } : {};
    let client: MqttClient;
    try {
      client = await connectOnce({ clientId: pub.username, username: pub.creds.username, password: pub.creds.secret, clean: true, reconnectPeriod: 1000, ...will });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'number' && code > 0) counters.refused++;
      throw simError('SIM_CONNECT_FAILED', `${pub.username} could not connect: ${(err as Error).message}`, { cause: err });
    }
    (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    client.on('error', (err) => fail(err));
    pub.client = client;
    counters.opened++;
    counters.open++;
    if (sendStatus) {
      const online = JSON.stringify({ state: 'online', ts: clock() });
      for (const s of pub.meters) publishRaw(pub, statusTopic(s.ref), online, 0, true);
    }
  }

  async function closePublisher(pub: Publisher): Promise<void> {
    const client = pub.client;
    if (!client) return;
    if (sendStatus && client.connected) {
      const offline = JSON.stringify({ state: 'offline', ts: clock() });
      for (const s of pub.meters) publishRaw(pub, statusTopic(s.ref), offline, 0, true);
    }
    await idle(pub);
    pub.client = undefined;
    counters.open--;
    await client.endAsync().catch(() => undefined);
  }

  function idle(pub: Publisher): Promise<void> {
    return pub.inflight === 0 ? Promise.resolve() : new Promise((r) => pub.idle.push(r));
  }

  /** Publishes with QoS 1 inside the in-flight window; resolves once it is sent (not acknowledged). */
  function publishRaw(pub: Publisher, topic: string, payload: string, readings: number, retain = false): Promise<void> {
    const client = pub.client;
    if (!client) {
      fail(new Error(`${pub.username} is not connected`));
      return Promise.resolve();
    }
    pub.inflight++;
    const started = (async () => {
      await window.acquire();
      if (!retain) await limit();
      if (retain) counters.status++;
      else {
        counters.published++;
        counters.readingsPublished += readings;
      }
      client.publish(topic, payload, { qos: 1, retain }, (err) => {
        window.release();
        if (err) fail(err);
        else if (!retain) {
          counters.acked++;
        }
        if (--pub.inflight === 0) pub.idle.splice(0).forEach((w) => w());
        if (!retain && bar) bar.update(counters.generated, progressPayload());
      });
    })();
    return started;
  }

  async function publishValid(pub: Publisher, msg: OutMessage, copies: number): Promise<void> {
    counters.validMessages++;
    counters.validReadings += msg.readings;
    if (distinct && msg.keys) for (const k of msg.keys) distinct.add(k);
    for (let c = 0; c < copies; c++) {
      if (c > 0) {
        counters.duplicateMessages++;
        counters.duplicateReadings += msg.readings;
      }
      await publishRaw(pub, msg.topic, msg.payload, msg.readings);
    }
  }

  /** Cuts the next message from a meter's buffer (readings of one serial, within the limits). */
  function cut(ms: MeterStream): MessageBody | undefined {
    if (!ms.buffer.length) return undefined;
    const serial = ms.buffer[0]!.serial;
    const readings: SimReading[] = [];
    let n = 0;
    while (n < ms.buffer.length) {
      const f = ms.buffer[n]!;
      if (f.serial !== serial) break;
      if (readings.length && readings.length + f.readings.length > readingsPerMessage) break;
      readings.push(...f.readings);
      n++;
    }
    ms.buffer.splice(0, n);
    ms.buffered -= readings.length;
    ms.seq++;
    return { seq: ms.seq, ...(serial !== undefined ? { meterSerial: serial } : {}), readings };
  }

  async function sendMessage(pub: Publisher, ms: MeterStream, body: MessageBody): Promise<void> {
    const payload = JSON.stringify(body);
    if (Buffer.byteLength(payload) > maxPayloadBytes && body.readings.length > 1) {
      // Too big for the gateway (a lowered GATEWAY_MAX_PAYLOAD_BYTES): two messages, the second with the next seq.
      const half = Math.ceil(body.readings.length / 2);
      ms.seq++;
      const second = { ...body, seq: ms.seq, readings: body.readings.slice(half) };
      await sendMessage(pub, ms, { ...body, readings: body.readings.slice(0, half) });
      await sendMessage(pub, ms, second);
      return;
    }
    const decision = faults.message(ms.key, body.seq, ms.topic, body, ms.foreignTopic);
    if (decision.broken) {
      counters.broken++;
      counters.brokenReadings += body.readings.length;
      await publishRaw(pub, decision.broken.topic, decision.broken.payload, body.readings.length);
    } else {
      const keys = distinct ? body.readings.map((r) => `${ms.key}|${r.quantity}|${r.kind}|${r.ts}`) : undefined;
      const msg: OutMessage = { topic: ms.topic, payload, readings: body.readings.length, ...(keys ? { keys } : {}) };
      if (decision.delay > 0) {
        ms.delayed.push({ remaining: decision.delay, msg, copies: decision.copies });
        return;
      }
      await publishValid(pub, msg, decision.copies);
    }
    // Messages held back go out once the number of later messages they wait for went out.
    for (const d of [...ms.delayed]) {
      if (--d.remaining <= 0) {
        ms.delayed.splice(ms.delayed.indexOf(d), 1);
        await publishValid(pub, d.msg, d.copies);
      }
    }
  }

  /** Generates a meter's frames in [cursor, upTo), applies faults and sends full messages (all when `final`). */
  async function advance(pub: Publisher, ms: MeterStream, upTo: number, final: boolean): Promise<void> {
    if (upTo > ms.cursor) {
      const raw = ms.source.frames(ms.cursor, upTo);
      ms.cursor = upTo;
      for (const f of raw) counters.generated += f.readings.length;
      const frames = faults.frames(ms.key, ms.source.periodS, raw);
      for (const f of frames) {
        ms.buffer.push(f);
        ms.buffered += f.readings.length;
      }
    }
    while (ms.buffered >= readingsPerMessage || (final && ms.buffered > 0)) {
      const body = cut(ms);
      if (!body) break;
      await sendMessage(pub, ms, body);
    }
  }

  /** End of a meter's stream: frames held by late bursts, then messages held back. */
  async function finish(pub: Publisher, ms: MeterStream): Promise<void> {
    for (const f of faults.flush(ms.key)) {
      ms.buffer.push(f);
      ms.buffered += f.readings.length;
    }
    await advance(pub, ms, ms.cursor, true);
    for (const d of ms.delayed.splice(0)) await publishValid(pub, d.msg, d.copies);
  }

  async function mapLimit<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
    let i = 0;
    await Promise.all(
      Array.from({ length: Math.min(n, items.length) }, async () => {
        while (i < items.length && !stopped) await fn(items[i++]!);
      }),
    );
  }

  function waves(): Publisher[][] {
    const size = Math.max(1, maxConnections);
    const out: Publisher[][] = [];
    for (let i = 0; i < publishers.length; i += size) out.push(publishers.slice(i, i + size));
    return out;
  }

  const connectConcurrency = config.connectConcurrency ?? DEFAULT_SIMULATION_CONFIG.connectConcurrency;

  /** Backfill and replay: wave by wave, time chunk by time chunk, every meter of the wave. */
  async function runBackfill(): Promise<void> {
    const chunkMs = config.chunkMs ?? DEFAULT_SIMULATION_CONFIG.chunkMs;
    for (const wave of waves()) {
      if (stopped) break;
      await mapLimit(wave, connectConcurrency, open);
      for (let t = runFrom; t < runTo && !stopped; t = Math.min(runTo, t + chunkMs)) {
        const end = Math.min(runTo, t + chunkMs);
        for (const pub of wave) for (const ms of pub.meters) await advance(pub, ms, end, false);
      }
      for (const pub of wave) for (const ms of pub.meters) await finish(pub, ms);
      await mapLimit(wave, connectConcurrency, closePublisher);
    }
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        stopWake = undefined;
        resolve();
      }, ms);
      stopWake = () => {
        clearTimeout(timer);
        stopWake = undefined;
        resolve();
      };
    });
  }

  /** Realtime and accelerated: every tick, what completed since the last one. */
  async function runClocked(): Promise<void> {
    const speedup = mode === 'accelerated' ? config.speedup! : 1;
    const realStart = clock();
    const simNow = () => (mode === 'accelerated' ? runFrom + (clock() - realStart) * speedup : clock());
    const tickMs = config.tickMs ?? (mode === 'accelerated' ? 200 : 1000);
    const persistent = publishers.length <= maxConnections;
    if (persistent) await mapLimit(publishers, connectConcurrency, open);
    while (!stopped) {
      const now = Math.min(simNow(), runTo);
      const due = (pub: Publisher) => pub.meters.some((ms) => ms.source.completeBefore(now) > ms.cursor);
      const step = async (pub: Publisher) => {
        for (const ms of pub.meters) await advance(pub, ms, Math.min(ms.source.completeBefore(now), runTo), true);
      };
      if (persistent) {
        for (const pub of publishers) if (due(pub)) await step(pub);
      } else {
        for (const wave of waves()) {
          const active = wave.filter(due);
          if (!active.length) continue;
          await mapLimit(active, connectConcurrency, open);
          for (const pub of active) await step(pub);
          await mapLimit(active, connectConcurrency, closePublisher);
        }
      }
      if (now >= runTo) break;
      await sleep(tickMs);
    }
    // What late bursts and delays still hold goes out now (unless the run was stopped while disconnected).
    for (const pub of publishers) {
      if (!pub.client && !stopped && pub.meters.some((ms) => ms.delayed.length || ms.buffered)) await open(pub);
      if (pub.client) for (const ms of pub.meters) await finish(pub, ms);
    }
    await mapLimit(publishers, connectConcurrency, closePublisher);
  }

  function readingsPerS(): number {
    if (startedAtMs === null) return 0;
    const elapsed = ((endedAtMs ?? Date.now()) - startedAtMs) / 1000;
    return elapsed > 0 ? counters.readingsPublished / elapsed : 0;
  }

  /** The progress bar's rate and ETA: readings still to generate at the average rate so far. */
  function progressPayload(): { rate: number; timeLeft: string } {
    const rate = readingsPerS();
    return { rate: Math.round(rate), timeLeft: formatEta(rate > 0 ? Math.max(0, estimatedReadings - counters.generated) / rate : Number.NaN) };
  }

  let running: Promise<void> | undefined;

  return {
    /** Meters and publishers once built (after start). */
    meters: () => streams.map((s) => s.ref),
    publishers: () => publishers.map((p) => ({ username: p.username, kind: p.kind, site: p.site, meters: p.meters.length })),

    /**
     * Provisions, connects and publishes. Backfill, replay and accelerated runs resolve when
     * everything was sent and acknowledged by the broker and the connections are closed;
     * realtime runs when `toMs` is reached or `close()` is called.
     */
    start(): Promise<void> {
      running ??= (async () => {
        startedAtMs = Date.now();
        await build();
        if (portfolio) logger.info({ mode, strategy, ...portfolioSummary(portfolio), publishers: publishers.length }, 'simulation starting');
        await registerPortfolio();
        const stream = deps.progressStream ?? process.stderr;
        const showBar = (mode === 'backfill' || mode === 'replay') && (config.progress ?? Boolean(stream.isTTY));
        if (showBar) {
          bar = new SingleBar({
            stream,
            noTTYOutput: !stream.isTTY,
            notTTYSchedule: 5000,
            // value = readings generated so far (the total is known in advance); rate = readings published per second.
            // The ETA is ours (remaining / average rate; `eta` is cli-progress' own key): cli-progress' printed
            // "LLs" (its "NULL" cut to two characters) when the value stopped moving at the end.
            format: '{bar} {percentage}% | {value}/{total} readings | {rate} readings/s | ETA {timeLeft}',
            hideCursor: stream.isTTY,
          });
          bar.start(Math.max(1, estimatedReadings), 0, { rate: 0, timeLeft: formatEta(Number.NaN) });
        }
        try {
          if (mode === 'backfill' || mode === 'replay') await runBackfill();
          else await runClocked();
        } finally {
          endedAtMs = Date.now();
          if (bar) {
            bar.update(counters.generated, progressPayload());
            bar.stop();
          }
        }
        logger.info({ messages: counters.published, readings: counters.readingsPublished, readingsPerS: Math.round(readingsPerS()) }, 'simulation done');
      })();
      return running;
    },

    /** Stops publishing, sends what is held, disconnects. */
    async close(): Promise<void> {
      stopped = true;
      stopWake?.();
      await running?.catch(() => undefined);
      await Promise.all(publishers.map((p) => closePublisher(p)));
    },

    stats(): SimulationStats {
      return {
        mode,
        strategy,
        startedAtMs,
        elapsedMs: startedAtMs === null ? 0 : (endedAtMs ?? Date.now()) - startedAtMs,
        publishers: publishers.length,
        meters: streams.length,
        connections: { opened: counters.opened, refused: counters.refused, open: counters.open },
        messages: { published: counters.published, acked: counters.acked, valid: counters.validMessages, broken: counters.broken, duplicates: counters.duplicateMessages, status: counters.status },
        readings: {
          generated: counters.generated,
          published: counters.readingsPublished,
          valid: counters.validReadings,
          duplicates: counters.duplicateReadings,
          broken: counters.brokenReadings,
          ...(distinct ? { distinctValid: distinct.size } : {}),
        },
        readingsPerS: readingsPerS(),
        errors: counters.errors,
        ...(counters.lastError !== undefined ? { lastError: counters.lastError } : {}),
        faults: faults.report(),
      };
    },

    faultReport: (): FaultReport => faults.report(),

    /** Keys `site/building/meter|quantity|kind|ts` of every valid reading sent; only with `exactAccounting`. */
    validKeys: (): ReadonlySet<string> | undefined => distinct,
  };
}

export type SimulationRun = ReturnType<typeof createSimulationRun>;
