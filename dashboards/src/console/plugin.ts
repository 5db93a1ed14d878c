/**
 * The web console as a fastify plugin: `/` serves the single-page console (bundled in memory at
 * start, assets under /console/ with hashed names), plus the aggregated data endpoints its pages
 * read (`/api/v1/portfolio/summary`, `/api/v1/buildings/:site/:building/{overview,timeseries,savings}`,
 * `/api/v1/quality/coverage`, each also as CSV with `format=csv`) and the live stream
 * `/api/v1/stream` (server-sent events).
 *
 * The page and its bundle are open routes: they hold no data, and the console asks for an API key
 * before its first data request. Every data endpoint needs a key (docs/access.md): a building's
 * data the keys that may read the building, the portfolio, coverage and the stream only the
 * buildings the key may read. The stream filters each event for its client, and checks the key
 * again every heartbeat: a revoked key's stream ends within one heartbeat.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Logger, ReadingStore, RegistryStore } from '@wattproof/core';
import type { AlertEngine, MvJobs } from '@wattproof/analytics';
import { buildingListRead, buildingRead } from '../api/access.js';
import { alertBuilding } from '../api/alerts.js';
import { errorBody } from '../api/schemas.js';
import { buildingScopeOf } from '../auth/scope.js';
import { consoleBundle, type ConsoleBundle } from './bundle.js';
import { DEFAULT_CONSOLE_CONFIG, type ConsoleConfig } from './config.js';
import { isoOrNull, toCsv } from './csv.js';
import { createConsoleData } from './data.js';
import { CONSOLE_ERRORS } from './errors.js';
import { buildingParams, coverageOut, coverageQuery, overviewOut, overviewQuery, portfolioOut, portfolioQuery, savingsOut, savingsQuery, streamQuery, timeseriesOut, timeseriesQuery } from './schemas.js';
import { createLiveStream, type StreamEvent, type StreamFilter, type StreamReading } from './stream.js';
import { whoamiRoute } from './whoami.js';

export interface ConsoleDeps {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  readonly clock?: () => number;
  /** M&V jobs, when this process runs them: the building page shows their latest results. */
  readonly jobs?: MvJobs;
  /** Where the stream logs failed polls; fastify's logger by default. */
  readonly logger?: Logger;
  /** The alert engine, when this process runs one: the live stream pushes its alerts. */
  readonly alerts?: Pick<AlertEngine, 'list'>;
}

export interface ConsolePluginOptions extends ConsoleDeps {
  readonly config?: Partial<ConsoleConfig>;
}

/** Where the alert service answers (another plugin); the console uses it only when the route exists. */
export const ALERTS_ROUTE = '/api/v1/alerts';
/** Routes of other plugins the finance views use when they exist (finance service; pack signer). */
export const FINANCE_LOANS_ROUTE = '/api/v1/finance/loans';
export const PACKS_ROUTE = '/api/v1/packs/buildings/:site/:building';

const ASSET_CACHE = 'public, max-age=31536000, immutable';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function indexHtml(bundle: ConsoleBundle, settings: Record<string, unknown>): string {
  // `<` escaped so the JSON can never close the script element.
  const json = JSON.stringify(settings).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>Wattproof</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/${escapeHtml(bundle.style.name)}">
</head>
<body>
<div id="app"></div>
<noscript><p>Wattproof 控制台需要 JavaScript。The Wattproof console needs JavaScript; the API is at <a href="/api">/api</a> and <a href="/docs">/docs</a>.</p></noscript>
<script id="wattproof-settings" type="application/json">${json}</script>
<script type="module" src="/console/${escapeHtml(bundle.script.name)}"></script>
</body>
</html>
`;
}

function sendCsv(reply: FastifyReply, filename: string, csv: string) {
  return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${filename}"`).send(csv);
}

export async function consolePlugin(fastify: FastifyInstance, options: ConsolePluginOptions): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const config: ConsoleConfig = Object.freeze({ ...DEFAULT_CONSOLE_CONFIG, ...options.config });
  const logger: Logger = options.logger ?? fastify.log;
  const data = createConsoleData(options);
  const errors = { 400: errorBody, 404: errorBody, 500: errorBody, 503: errorBody };
  const hasAlerts = () => fastify.hasRoute({ method: 'GET', url: ALERTS_ROUTE });
  const hasFinance = () => fastify.hasRoute({ method: 'GET', url: FINANCE_LOANS_ROUTE });
  const hasPacks = () => fastify.hasRoute({ method: 'GET', url: PACKS_ROUTE });
  await fastify.register(whoamiRoute);

  // Bundle now, so the first page view does not wait; a failure is logged and answered per request.
  const bundle = () => consoleBundle({ minify: config.minify, sourcemap: config.sourcemap });
  bundle().catch((err: unknown) => logger.error({ err }, 'console: bundling the front end failed'));

  const alertEngine = options.alerts;
  const stream = createLiveStream(
    {
      readings: options.readings,
      logger,
      // Every alert of the filter; each client gets the ones it may see (below).
      ...(alertEngine ? { alerts: (filter: StreamFilter) => alertEngine.list({ ...(filter.site ? { site: filter.site } : {}), ...(filter.building ? { building: filter.building } : {}) }) } : {}),
    },
    { pollIntervalMs: config.streamPollIntervalMs, maxClients: config.streamMaxClients },
  );
  const open = new Set<ServerResponse>();
  fastify.addHook('preClose', async () => {
    for (const res of open) res.end();
    open.clear();
  });
  fastify.addHook('onClose', async () => stream.close());

  async function bundleOrFail(reply: FastifyReply): Promise<ConsoleBundle | undefined> {
    try {
      return await bundle();
    } catch {
      await reply.code(500).send({ error: { code: 'CONSOLE_BUNDLE_FAILED', message: 'the console could not be bundled; see the server log (the API under /api works)' } });
      return undefined;
    }
  }

  app.get('/', { schema: { hide: true } }, async (_req, reply) => {
    const b = await bundleOrFail(reply);
    if (!b) return reply;
    const settings = { alerts: hasAlerts(), mv: options.jobs !== undefined, finance: hasFinance(), packs: hasPacks(), streamPollIntervalMs: config.streamPollIntervalMs };
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(indexHtml(b, settings));
  });

  app.get('/console/:file', { schema: { hide: true, params: z.object({ file: z.string().max(200) }) } }, async (req, reply) => {
    const b = await bundleOrFail(reply);
    if (!b) return reply;
    const asset = b.files.get(req.params.file);
    if (!asset) return reply.code(404).send({ error: { code: 'API_NOT_FOUND', message: `no console asset ${req.params.file}` } });
    reply.header('etag', asset.etag).header('cache-control', ASSET_CACHE);
    if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.type(asset.contentType).send(asset.body);
  });

  app.get(
    '/api/v1/portfolio/summary',
    { config: { access: buildingListRead }, schema: { tags: ['portfolio'], summary: "Sites and buildings this key may read, with live kW, today's kWh, 30-day coverage and rolling 12-month EUI against the GB/T 51161 quota", querystring: portfolioQuery, response: { 200: portfolioOut, ...errors } } },
    async (req, reply) => {
      const p = await data.portfolio(req.query.site ? { site: req.query.site } : {}, buildingScopeOf(req));
      if (req.query.format !== 'csv') return p;
      const rows = p.sites.flatMap((s) =>
        s.buildings.map((b) => [s.id, b.id, b.name, b.type, b.floorAreaM2, b.meters, b.liveKw, isoOrNull(b.liveAt), b.todayKwh, b.coverage30d, b.eui?.value ?? null, b.eui?.windowDays ?? null, b.eui?.quota?.constraint ?? null, b.eui?.quota?.guide ?? null]),
      );
      return sendCsv(
        reply,
        'portfolio.csv',
        toCsv(['site', 'building', 'name', 'type', 'floor_area (m2)', 'meters', 'live_power (kW)', 'live_at', 'today_energy (kWh)', 'coverage_30d (ratio)', 'eui_12mo (kWh/m2/a)', 'eui_window (days)', 'quota_constraint (kWh/m2/a)', 'quota_guide (kWh/m2/a)'], rows),
      );
    },
  );

  app.get(
    '/api/v1/buildings/:site/:building/overview',
    { config: { access: buildingRead }, schema: { tags: ['portfolio'], summary: 'A building: summary, meters by role (main, sub-meters by end use, generation, weather) with their latest readings', params: buildingParams, querystring: overviewQuery, response: { 200: overviewOut, ...errors } } },
    async (req, reply) => {
      const o = await data.overview(req.params.site, req.params.building);
      if (req.query.format !== 'csv') return o;
      const rows = o.meters.flatMap((m) => (m.latest.length ? m.latest : [null]).map((r) => [m.meter, m.role, m.endUse, m.parent, r?.quantity ?? m.quantity, r?.kind ?? null, isoOrNull(r?.ts), r?.value ?? null, r?.unit ?? null, r?.intervalS ?? null]));
      return sendCsv(reply, `${req.params.site}-${req.params.building}-meters.csv`, toCsv(['meter', 'role', 'end_use', 'parent', 'quantity', 'kind', 'latest_time', 'latest_value', 'unit', 'interval (s)'], rows));
    },
  );

  app.get(
    '/api/v1/buildings/:site/:building/timeseries',
    {
      config: { access: buildingRead },
      schema: {
        tags: ['readings'],
        summary: "A building's series bucketed (15m, 1h, local 1d or 1mo) in columnar form: one time axis, one array of values per series",
        description: 'Interval series give the sum per bucket, instant series the mean; register series appear only without a derived interval series. A year of hourly data is 8,760 numbers per series.',
        params: buildingParams,
        querystring: timeseriesQuery,
        response: { 200: timeseriesOut, ...errors },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const t = await data.timeseries({ ...req.params, bucket: q.bucket, ...(q.from !== undefined ? { from: q.from } : {}), ...(q.to !== undefined ? { to: q.to } : {}), ...(q.meters ? { meters: q.meters } : {}), ...(q.tz ? { tz: q.tz } : {}) });
      if (q.format !== 'csv') return t;
      const header = ['time', ...t.series.map((s) => `${s.meter} ${s.quantity}${s.kind === 'instant' ? ' mean' : ''} (${s.unit})`)];
      const rows = t.time.map((time, i) => [new Date(time).toISOString(), ...t.series.map((s) => s.values[i])]);
      return sendCsv(reply, `${t.site}-${t.building}-${t.bucket}.csv`, toCsv(header, rows));
    },
  );

  app.get(
    '/api/v1/buildings/:site/:building/savings',
    {
      config: { access: buildingRead },
      schema: {
        tags: ['m&v'],
        summary: "The latest M&V result of each of the building's meters in compact form: status, fit, findings, monthly baseline vs observed with the 90 % uncertainty, cumulative savings",
        params: buildingParams,
        querystring: savingsQuery,
        response: { 200: savingsOut, ...errors },
      },
    },
    async (req, reply) => {
      const s = await data.savings(req.params.site, req.params.building, req.query.meter);
      if (req.query.format !== 'csv') return s;
      const rows = s.results.flatMap((r) =>
        r.monthly.period.map((period, i) => {
          const c = r.cumulative.period.indexOf(period);
          return [r.meter, period, r.monthly.counterfactual[i], r.monthly.observed[i], r.monthly.avoided[i], r.monthly.uncertainty90[i], c >= 0 ? r.cumulative.avoided[c] : null, c >= 0 ? r.cumulative.uncertainty90[c] : null, r.status, r.resultId];
        }),
      );
      return sendCsv(
        reply,
        `${req.params.site}-${req.params.building}-savings.csv`,
        toCsv(['meter', 'month', 'baseline (kWh)', 'observed (kWh)', 'avoided (kWh)', 'avoided_uncertainty_90 (kWh)', 'cumulative_avoided (kWh)', 'cumulative_uncertainty_90 (kWh)', 'status', 'result_id'], rows),
      );
    },
  );

  app.get(
    '/api/v1/quality/coverage',
    {
      config: { access: buildingListRead },
      schema: {
        tags: ['data quality'],
        summary: 'Coverage of every series (of the buildings this key may read) per local day or month, readings per bucket, latest reading and the gaps (runs of buckets under 50 % coverage)',
        querystring: coverageQuery,
        response: { 200: coverageOut, ...errors },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const c = await data.coverage({ bucket: q.bucket, ...(q.site ? { site: q.site } : {}), ...(q.building ? { building: q.building } : {}), ...(q.from !== undefined ? { from: q.from } : {}), ...(q.to !== undefined ? { to: q.to } : {}), ...(q.tz ? { tz: q.tz } : {}) }, buildingScopeOf(req));
      if (q.format !== 'csv') return c;
      const rows = c.series.flatMap((s) => c.time.map((t, i) => [s.site, s.building, s.meter, s.quantity, s.kind, new Date(t).toISOString(), s.coverage[i], s.count[i]]));
      return sendCsv(reply, `coverage-${c.bucket}.csv`, toCsv(['site', 'building', 'meter', 'quantity', 'kind', 'bucket_start', 'coverage (ratio)', 'readings (count)'], rows));
    },
  );

  app.get(
    '/api/v1/stream',
    {
      config: { access: buildingListRead },
      schema: {
        tags: ['readings'],
        summary: 'Live updates as server-sent events: `snapshot` (latest reading of every series, and alerts when an alert service runs), then `readings` with the series whose latest reading changed, and `alerts` when they change',
        description: `Only the buildings this key may read (site-wide alerts for admin keys only). The key goes in the Authorization header, so browsers read the stream with fetch, not EventSource. The server polls the reading store every ${config.streamPollIntervalMs} ms per filter (one poller shared by all clients of a filter) and sends a comment line as heartbeat every ${config.streamHeartbeatIntervalMs} ms, after checking the key again: the stream of a revoked or expired key ends then. At most ${config.streamMaxClients} clients at once; more get 503 CONSOLE_STREAM_FULL.`,
        querystring: streamQuery,
        response: { 503: errorBody, 400: errorBody },
      },
    },
    async (req, reply) => {
      const filter: StreamFilter = { ...(req.query.site ? { site: req.query.site } : {}), ...(req.query.building ? { building: req.query.building } : {}) };
      const scope = buildingScopeOf(req);
      const res = reply.raw;
      // One queue per client: filtering is asynchronous (the access matrix may ask the registry),
      // and events must still leave in the order the poller found them.
      let queue: Promise<void> = Promise.resolve();
      const enqueue = (step: () => Promise<void>) => {
        queue = queue.then(step).catch((err: unknown) => {
          logger.warn({ err }, 'live stream: filtering an event for its client failed; the stream ends');
          res.end();
        });
      };
      const send = (event: string, data: unknown) => {
        if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      let lastAlerts = '';
      const visibleAlerts = async (alerts: unknown[]) => {
        const mine = await scope.filter(alerts as Array<{ site: string; building?: string }>, alertBuilding);
        const digest = JSON.stringify(mine);
        const changed = digest !== lastAlerts;
        lastAlerts = digest;
        return { mine, changed };
      };
      let ready = false;
      const write = (e: StreamEvent) => {
        if (!ready) return;
        enqueue(async () => {
          if (e.event === 'readings') {
            const readings = await scope.filter((e.data as { readings: StreamReading[] }).readings, (r) => r);
            if (readings.length) send('readings', { readings });
          } else {
            // Only a change this client can see is news to it.
            const { mine, changed } = await visibleAlerts((e.data as { alerts: unknown[] }).alerts);
            if (changed) send('alerts', { alerts: mine });
          }
        });
      };
      const sub = await stream.subscribe(filter, write);
      if (!sub) {
        const retryS = Math.max(1, Math.round(config.streamPollIntervalMs / 1000) * 5);
        return reply.code(CONSOLE_ERRORS.CONSOLE_STREAM_FULL.statusCode).header('retry-after', String(retryS)).send({ error: { code: 'CONSOLE_STREAM_FULL', message: `the live stream serves ${config.streamMaxClients} clients already; retry in ${retryS} s` } });
      }
      reply.hijack();
      if (res.destroyed) {
        // The client left while the first poll ran.
        sub.close();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(`retry: ${Math.max(1000, config.streamPollIntervalMs)}\n\n`);
      // The snapshot goes first in the queue: every change found after it follows it in order.
      const { snapshot, alerts } = sub;
      ready = true;
      enqueue(async () => {
        const readings = await scope.filter(snapshot, (r) => r);
        send('snapshot', { readings, alerts: alerts ? (await visibleAlerts(alerts)).mine : null });
      });
      open.add(res);
      const heartbeat = setInterval(() => {
        enqueue(async () => {
          // The key may have been revoked or expired since the stream opened; ownership may have changed.
          if (!(await scope.revalidate())) {
            res.end();
            return;
          }
          if (!res.writableEnded) res.write(`: heartbeat ${new Date().toISOString()}\n\n`);
        });
      }, config.streamHeartbeatIntervalMs);
      heartbeat.unref();
      const cleanup = () => {
        clearInterval(heartbeat);
        sub.close();
        open.delete(res);
      };
      req.raw.once('close', cleanup);
      res.once('close', cleanup);
    },
  );
}
