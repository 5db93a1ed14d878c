import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, WattproofError } from '@wattproof/core';
import { provisionAggregator, provisionDevice } from '@wattproof/gateway';
import {
  createSimulationRun,
  createSimulator,
  DEFAULT_SIMULATOR_CONFIG,
  FAULT_PRESETS,
  faultsConfigSchema,
  formatFaultReport,
  generatePortfolio,
  buildingSpecOf,
  loadPortfolio,
  portfolioFromSpecs,
  portfolioSummary,
  resolveLocalTime,
  SIMULATION_MODES,
  type FaultsConfig,
  type Portfolio,
  type PortfolioSite,
  type SimulationMode,
  type SimulationStats,
} from '@wattproof/simulators';
import { createLogger, openRegistry, runtimeConfigSchema, untilSignal, type Env } from '../runtime.js';
import type * as BuildingModule from '../../simulators/src/building.js';
import type * as GroundTruthModule from '../../simulators/src/ground-truth.js';
import type * as ParkModule from '../../simulators/src/park.js';
import type * as WeatherModule from '../../simulators/src/weather.js';
import type { WeatherSeries } from '../../simulators/src/types.js';

const HELP = `Usage: wattproof simulate [options]

Minimal mode (the default; 'npm start --buildings N' uses it too): simulated buildings on one site, each with
an interval electricity meter (kWh), a cumulative gas register (m3) and an outdoor
thermometer (°C), each a device with its own credentials (issued, or rotated, in the
registry at start). Backfills the last --backfill-hours as fast as --rate allows, then
publishes each interval as it completes.

Options:
  --url URL             broker (default mqtt://127.0.0.1:1883)
  --buildings N         buildings (default ${DEFAULT_SIMULATOR_CONFIG.buildings})
  --site ID             site id (default ${DEFAULT_SIMULATOR_CONFIG.site}; in replay mode the site of the CSV's buildings)
  --interval-s S        reading interval in seconds (default ${DEFAULT_SIMULATOR_CONFIG.intervalS})
  --backfill-hours H    history to publish at start (default ${DEFAULT_SIMULATOR_CONFIG.backfillHours})
  --rate N              messages per second at most (minimal default ${DEFAULT_SIMULATOR_CONFIG.ratePerS}; full simulator: unlimited)
  --batch N             readings per message (minimal default ${DEFAULT_SIMULATOR_CONFIG.readingsPerMessage}; full simulator: 1000)
  --speedup X           simulated seconds per real second (accelerated)

Full simulator (any of --portfolio, --generate, --replay, --mode): a portfolio of sites,
buildings (the physical building model) and meters (interval, register with rollover and
replacement, instant, weather station; clock drift), with fault injection:
  --portfolio FILE      portfolio file (JSON or YAML, see simulators/src/portfolio.ts), or
                        "demo" for the Chongqing demo park
  --generate N          a generated portfolio of N buildings (100 per site)
  --meters-per-building M   meters per generated building (default 10)
  --mode MODE           ${SIMULATION_MODES.join(' | ')} (default: backfill with --from/--to,
                        replay with --replay, else realtime)
  --from T --to T       range: ISO 8601 with offset or YYYY-MM-DD (local midnight of the first
                        site), or "now"; backfill needs both, accelerated needs --from and
                        ends now at the latest (the ingest refuses timestamps more than
                        INGEST_MAX_FUTURE_S ahead of its clock)
  --replay CSV          replay a wide CSV (timestamp column + one column per building) as
                        interval meters; empty cells are not sent
  --columns A,B         replay only these columns
  --faults F            faults: a preset (${Object.keys(FAULT_PRESETS).join(', ')}), inline JSON, or @file.json
  --seed N              seed of the fault decisions (default: the portfolio's)
  --strategy S          device (one connection per meter) | aggregator (one per site)
  --connections N       connections open at once, at most (more meters take turns)
  --inflight N          QoS 1 publishes awaiting their PUBACK at once (default 512)
  --progress            progress bar on stderr even when it is not a terminal
  --ground-truth DIR    write the ground truth (counterfactual and actual energy per building
                        and month) of the simulated range to DIR
  --max-future-s S      the ingest's INGEST_MAX_FUTURE_S (default 900); with --allow-future an
                        accelerated run may go that far past now

The fault report is printed at the end.
`;

function positiveInt(name: string, v: string | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw argError(`--${name} must be an integer >= ${min}`);
  return n;
}

function argError(message: string): Error {
  return Object.assign(new TypeError(message), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' });
}

const SIM_SRC = new URL('../../simulators/src/', import.meta.url);

/** Loads a module of the building model by file, so a missing one is a clear runtime error. */
async function modelModule<T>(name: string, what: string): Promise<T> {
  const url = new URL(`${name}.ts`, SIM_SRC);
  if (!existsSync(url)) throw new WattproofError('SIM_RUN_CONFIG_INVALID', `${what} needs simulators/src/${name}.ts`, { statusCode: 400 });
  return (await import(url.href)) as T;
}

function parseTime(name: string, v: string | undefined, tz: string): number | undefined {
  if (v === undefined) return undefined;
  if (v === 'now') return Date.now();
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(v) ? resolveLocalTime(v, tz) : Date.parse(v);
  if (!Number.isFinite(ms) || !/^\d{4}-\d{2}-\d{2}($|T.*(Z|[+-]\d{2}:\d{2})$)/.test(v)) throw argError(`--${name} must be ISO 8601 with an offset, YYYY-MM-DD or "now"`);
  return ms;
}

async function parseFaults(v: string | undefined): Promise<FaultsConfig | undefined> {
  if (v === undefined) return undefined;
  if (v in FAULT_PRESETS) return FAULT_PRESETS[v as keyof typeof FAULT_PRESETS];
  const text = v.startsWith('@') ? await readFile(v.slice(1), 'utf8') : v;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw argError(`--faults must be a preset (${Object.keys(FAULT_PRESETS).join(', ')}), JSON or @file.json`);
  }
  const parsed = faultsConfigSchema.safeParse(json);
  if (!parsed.success) throw argError(`--faults: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

function summary(s: SimulationStats): string {
  return (
    `${s.mode} (${s.strategy}): ${s.meters} meters over ${s.publishers} connections; ` +
    `${s.messages.published} messages, ${s.readings.published} readings (${s.readings.valid} valid, ${s.readings.duplicates} duplicate, ${s.readings.broken} in broken messages) ` +
    `in ${(s.elapsedMs / 1000).toFixed(1)} s = ${Math.round(s.readingsPerS)} readings/s; ` +
    `connections opened ${s.connections.opened}, refused ${s.connections.refused}; errors ${s.errors}${s.lastError ? ` (last: ${s.lastError})` : ''}\n`
  );
}

export async function runSimulate(argv: string[], env: Env): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      url: { type: 'string' },
      buildings: { type: 'string' },
      site: { type: 'string' },
      'interval-s': { type: 'string' },
      'backfill-hours': { type: 'string' },
      rate: { type: 'string' },
      batch: { type: 'string' },
      speedup: { type: 'string' },
      portfolio: { type: 'string' },
      generate: { type: 'string' },
      'meters-per-building': { type: 'string' },
      mode: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      replay: { type: 'string' },
      columns: { type: 'string' },
      faults: { type: 'string' },
      seed: { type: 'string' },
      strategy: { type: 'string' },
      connections: { type: 'string' },
      inflight: { type: 'string' },
      progress: { type: 'boolean' },
      'ground-truth': { type: 'string' },
      'max-future-s': { type: 'string' },
      'allow-future': { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const full = values.portfolio !== undefined || values.generate !== undefined || values.replay !== undefined || values.mode !== undefined;
  return full ? runFull(values, env) : runMinimal(values, env);
}

type Values = Record<string, string | boolean | undefined>;
const str = (v: Values, k: string) => v[k] as string | undefined;

async function runMinimal(values: Values, env: Env): Promise<number> {
  const logger = createLogger(loadConfig(runtimeConfigSchema, env).LOG_LEVEL, 'simulate');
  const config = {
    url: str(values, 'url') ?? 'mqtt://127.0.0.1:1883',
    site: str(values, 'site') ?? DEFAULT_SIMULATOR_CONFIG.site,
    buildings: positiveInt('buildings', str(values, 'buildings'), DEFAULT_SIMULATOR_CONFIG.buildings),
    intervalS: positiveInt('interval-s', str(values, 'interval-s'), DEFAULT_SIMULATOR_CONFIG.intervalS),
    backfillHours: positiveInt('backfill-hours', str(values, 'backfill-hours'), DEFAULT_SIMULATOR_CONFIG.backfillHours, 0),
    ratePerS: positiveInt('rate', str(values, 'rate'), DEFAULT_SIMULATOR_CONFIG.ratePerS),
    readingsPerMessage: Math.min(1000, positiveInt('batch', str(values, 'batch'), DEFAULT_SIMULATOR_CONFIG.readingsPerMessage)),
    ...(str(values, 'speedup') !== undefined ? { speedup: positiveInt('speedup', str(values, 'speedup'), 1) } : {}),
  };
  const registry = await openRegistry(env);
  const sim = createSimulator({ provision: (ref) => provisionDevice(registry, ref, { rotate: true }), logger }, config);
  process.stdout.write(`Simulating ${config.buildings} buildings x 3 meters on site ${config.site} -> ${config.url}\n`);
  const running = sim.start();
  const status = setInterval(() => {
    const s = sim.stats();
    process.stdout.write(`published ${s.messages} messages, ${s.readings} readings from ${s.devices} devices\n`);
  }, 10_000);
  await untilSignal(async () => {
    clearInterval(status);
    await sim.close();
    await registry.close();
  }, logger);
  await running.catch(() => undefined);
  return 0;
}

async function runFull(values: Values, env: Env): Promise<number> {
  const logger = createLogger(loadConfig(runtimeConfigSchema, env).LOG_LEVEL, 'simulate');
  const modeArg = str(values, 'mode');
  if (modeArg !== undefined && !(SIMULATION_MODES as readonly string[]).includes(modeArg)) throw argError(`--mode must be one of ${SIMULATION_MODES.join(', ')}`);
  const strategy = str(values, 'strategy');
  if (strategy !== undefined && strategy !== 'device' && strategy !== 'aggregator') throw argError('--strategy must be device or aggregator');
  const replayPath = str(values, 'replay');

  // The portfolio: a file, the demo park, or a generated one.
  let portfolio: Portfolio | undefined;
  const portfolioArg = str(values, 'portfolio');
  if (portfolioArg === 'demo') {
    const park = await modelModule<typeof ParkModule>('park', 'the demo park');
    const site = park.YUZHONG_DEMO_SITE;
    portfolio = portfolioFromSpecs({ id: site.id, name: site.name, timezone: site.timeZone, latitude: site.latitudeDeg, longitude: site.longitudeDeg }, park.chongqingDemoPark(Date.now()));
  } else if (portfolioArg !== undefined) {
    portfolio = await loadPortfolio(portfolioArg);
  } else if (str(values, 'generate') !== undefined) {
    portfolio = generatePortfolio({
      buildings: positiveInt('generate', str(values, 'generate'), 1),
      metersPerBuilding: positiveInt('meters-per-building', str(values, 'meters-per-building'), 10),
      ...(str(values, 'seed') !== undefined ? { seed: positiveInt('seed', str(values, 'seed'), 0, 0) } : {}),
    });
  }
  const mode: SimulationMode = (modeArg as SimulationMode | undefined) ?? (replayPath ? 'replay' : str(values, 'from') && str(values, 'to') ? 'backfill' : 'realtime');
  if (mode === 'replay' && !replayPath) throw argError('--mode replay needs --replay <csv>');
  if (mode !== 'replay' && !portfolio) throw argError(`--mode ${mode} needs --portfolio or --generate`);
  const tz = portfolio?.sites[0]?.timezone ?? 'UTC';
  const fromMs = parseTime('from', str(values, 'from'), tz);
  const toMs = parseTime('to', str(values, 'to'), tz);

  // The building model and weather (simulators/src/building.ts, weather.ts), per site.
  let buildingModel: ((...args: Parameters<typeof BuildingModule.createBuildingModel>) => ReturnType<typeof BuildingModule.createBuildingModel>) | undefined;
  let weatherOf: ((site: PortfolioSite) => WeatherSeries) | undefined;
  if (mode !== 'replay') {
    const building = await modelModule<typeof BuildingModule>('building', 'the building model');
    const weather = await modelModule<typeof WeatherModule>('weather', 'the building model');
    const cache = new Map<string, WeatherSeries>();
    buildingModel = (spec, w) => building.createBuildingModel(spec, w);
    weatherOf = (site) => {
      const id = site.weather ?? 'chongqing-typical';
      let w = cache.get(id);
      if (!w) {
        if (id === 'chongqing-typical') w = weather.chongqingTypicalYear();
        else if (id.startsWith('synthetic')) w = weather.syntheticWeather(Number(id.split(':')[1] ?? 1));
        else w = weather.weatherFromCsv(id);
        cache.set(id, w);
      }
      return w;
    };
  }

  const url = str(values, 'url') ?? 'mqtt://127.0.0.1:1883';
  const registry = await openRegistry(env);
  try {
    const groundTruthDir = str(values, 'ground-truth');
    if (groundTruthDir !== undefined) {
      if (!portfolio || !weatherOf) throw argError('--ground-truth needs a portfolio (--portfolio or --generate)');
      const from = fromMs;
      const to = toMs ?? (mode === 'accelerated' ? Date.now() : undefined);
      if (from === undefined || to === undefined) throw argError('--ground-truth needs --from and --to (the simulated range)');
      if (!existsSync(new URL('ground-truth.ts', SIM_SRC))) throw new WattproofError('SIM_RUN_CONFIG_INVALID', 'ground truth needs simulators/src/ground-truth.ts', { statusCode: 400 });
      const gt = await modelModule<typeof GroundTruthModule>('ground-truth', 'ground truth');
      const perSite = portfolio.sites.length > 1;
      for (const site of portfolio.sites) {
        const specs = portfolio.buildings.filter((b) => b.site === site.id).map((b) => buildingSpecOf(b, site));
        if (!specs.length) continue;
        const dir = perSite ? join(groundTruthDir, site.id) : groundTruthDir;
        await mkdir(dir, { recursive: true });
        const files = gt.writeGroundTruth(dir, gt.groundTruth(specs, weatherOf(site), { from, to }));
        process.stdout.write(`ground truth of ${specs.length} buildings: ${files.json}, ${files.csv}\n`);
      }
    }

    const faults = await parseFaults(str(values, 'faults'));
    const rate = str(values, 'rate');
    const batch = str(values, 'batch');
    const connections = str(values, 'connections');
    const inflight = str(values, 'inflight');
    const seed = str(values, 'seed');
    const speedup = str(values, 'speedup');
    const maxFutureS = str(values, 'max-future-s');
    const sim = createSimulationRun(
      {
        provisionDevice: (ref) => provisionDevice(registry, ref, { rotate: true }),
        provisionAggregator: (site, name) => provisionAggregator(registry, site, { rotate: true, ...(name !== undefined ? { name } : {}) }),
        ...(buildingModel ? { buildingModel } : {}),
        ...(weatherOf ? { weather: weatherOf } : {}),
        registry,
        logger,
      },
      {
        url,
        mode,
        ...(portfolio ? { portfolio } : {}),
        ...(fromMs !== undefined ? { fromMs } : {}),
        ...(toMs !== undefined ? { toMs } : {}),
        ...(speedup !== undefined ? { speedup: Number(speedup) } : {}),
        ...(replayPath
          ? {
              replay: {
                path: replayPath,
                site: str(values, 'site') ?? 'replay',
                ...(str(values, 'columns') ? { columns: str(values, 'columns')!.split(',').map((c) => c.trim()) } : {}),
              },
            }
          : {}),
        ...(faults ? { faults } : {}),
        ...(seed !== undefined ? { seed: positiveInt('seed', seed, 0, 0) } : {}),
        ...(strategy ? { strategy: strategy as 'device' | 'aggregator' } : {}),
        ...(connections !== undefined ? { connections: positiveInt('connections', connections, 1) } : {}),
        ...(rate !== undefined ? { ratePerS: positiveInt('rate', rate, 1) } : {}),
        ...(batch !== undefined ? { readingsPerMessage: Math.min(1000, positiveInt('batch', batch, 1)) } : {}),
        ...(inflight !== undefined ? { inflight: positiveInt('inflight', inflight, 1) } : {}),
        ...(maxFutureS !== undefined ? { maxFutureS: positiveInt('max-future-s', maxFutureS, 0, 0) } : {}),
        ...(values['allow-future'] ? { allowFuture: true } : {}),
        ...(values.progress ? { progress: true } : {}),
      },
    );
    const what = portfolio ? `${portfolioSummary(portfolio).buildings} buildings, ${portfolioSummary(portfolio).meters} meters` : `replay of ${replayPath}`;
    process.stdout.write(`Simulating ${what} (${mode}) -> ${url}\n`);
    const running = sim.start();
    if (mode === 'realtime') {
      const status = setInterval(() => process.stdout.write(summary(sim.stats())), 10_000);
      await Promise.race([untilSignal(() => sim.close(), logger), running]);
      clearInterval(status);
      await sim.close();
    } else {
      void untilSignal(() => sim.close(), logger);
      await running;
    }
    const stats = sim.stats();
    process.stdout.write(summary(stats));
    process.stdout.write(formatFaultReport(stats.faults));
    return stats.errors > 0 ? 1 : 0;
  } finally {
    await registry.close();
  }
}
