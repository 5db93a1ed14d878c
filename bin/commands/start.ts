import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { configWith, generateSecret, loadConfig } from '@wattproof/core';
import { apiSecurityConfigSchema, authConfigSchema, consoleSignInUrl, createAccessControl, createApiServer, ensureLocalAdminKey, loadSigner, LOCAL_ADMIN_KEY_FILE, packConfigSchema, PRIVATE_KEY_FILE, reportConfigSchema, writeKeyPair } from '@wattproof/dashboards';
import { createGateway, gatewayConfigSchema, provisionDevice, provisionService } from '@wattproof/gateway';
import { createIngest, ingestConfigSchema } from '@wattproof/ingest';
import { createSimulator, DEFAULT_SIMULATOR_CONFIG } from '@wattproof/simulators';
import { alertsConfigSchema, createAlertEngine, createFinanceService, createMvJobs, isFinanceRegistry } from '@wattproof/analytics';
import { createDemoPark, DEMO_RETROFIT_METER } from './demo-park.js';
import { createLogger, createMetricsRegistry, openStores, runtimeConfigSchema, openAnalysisScheduler, untilSignal, type Env } from '../runtime.js';

const HELP = `Usage: wattproof start [options]

Runs the whole pipeline in one process: MQTT gateway, ingest, HTTP API and a simulator.
By default the simulator drives a small Yuzhong (Chongqing) demo park — an office, a mall, a
hotel with a chiller retrofit 14 months ago, a school with PV, a government office, and a
weather station: it backfills their hourly history (resuming where the last run stopped),
verifies the hotel's savings (CalTRACK daily, stored with lineage; the true savings are in
./data/ground-truth/) and then publishes every 15 minutes. With --buildings N it runs the
minimal simulator instead. With no configuration it uses the embedded stores under
./data (DuckDB for readings, append-only files for the registry, LevelDB for the MQTT
gateway's sessions and what it queued for the ingest); set INFLUX_URL and/or
REGISTRY_POSTGRES_URL to use servers instead ('wattproof config' lists every key).

Options:
  --buildings N        minimal simulator with N buildings instead of the demo park (0 = no simulator)
  --interval-s S       minimal simulator: reading interval, seconds (default ${DEFAULT_SIMULATOR_CONFIG.intervalS})
  --backfill-hours H   minimal simulator: history published at start (default ${DEFAULT_SIMULATOR_CONFIG.backfillHours})
  --quiet              no status line every 15 s
`;

export async function runStart(argv: string[], env: Env): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      buildings: { type: 'string' },
      'interval-s': { type: 'string' },
      'backfill-hours': { type: 'string' },
      quiet: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const park = values.buildings === undefined;
  const buildings = park ? 0 : Number(values.buildings);
  const intervalS = values['interval-s'] === undefined ? DEFAULT_SIMULATOR_CONFIG.intervalS : Number(values['interval-s']);
  const backfillHours = values['backfill-hours'] === undefined ? DEFAULT_SIMULATOR_CONFIG.backfillHours : Number(values['backfill-hours']);
  for (const [name, v, min] of [['buildings', buildings, 0], ['interval-s', intervalS, 1], ['backfill-hours', backfillHours, 0]] as const) {
    if (!Number.isInteger(v) || v < min) {
      process.stderr.write(`--${name} must be an integer >= ${min}\n`);
      return 2;
    }
  }

  // The all-in-one run logs warnings only unless LOG_LEVEL says otherwise; it prints its own status.
  const rt = loadConfig(runtimeConfigSchema, { LOG_LEVEL: 'warn', ...env });
  const logger = createLogger(rt.LOG_LEVEL, 'wattproof');
  // Durable gateway sessions by default: what the gateway acknowledged survives a restart
  // (GATEWAY_PERSISTENCE_DIR= keeps them in memory; cluster mode keeps them in Redis).
  const sessionsDir = env.GATEWAY_REDIS_URL ? {} : { GATEWAY_PERSISTENCE_DIR: join(resolve(env.WATTPROOF_DATA_DIR ?? './data'), 'gateway-sessions') };
  const gatewayConfig = loadConfig(gatewayConfigSchema, { ...sessionsDir, ...env });
  const alertsConfig = loadConfig(alertsConfigSchema, env);
  const stores = await openStores(env, logger);
  const metrics = createMetricsRegistry();
  const jobs = createMvJobs({ ...stores, logger: logger.child({ service: 'analytics' }) });
  // With ANALYTICS_QUEUE_REDIS_URL the schedule enqueues for `wattproof analytics-worker` processes instead.
  const schedule = await openAnalysisScheduler({ jobs, registry: stores.registry, logger, metrics }, rt).catch(async (err: unknown) => {
    await stores.readings.close();
    await stores.registry.close();
    throw err;
  });

  const gateway = createGateway({ registry: stores.registry, logger: logger.child({ service: 'gateway' }), metrics }, gatewayConfig);
  const addresses = await gateway.start();
  const mqttUrl = `mqtt://${addresses.mqtt.host}:${addresses.mqtt.port}`;

  // The in-process ingest logs in with a fresh secret each start (rotated in the registry).
  const ingestSecret = generateSecret();
  const ingestBase = loadConfig(ingestConfigSchema, env);
  await provisionService(stores.registry, ingestBase.INGEST_MQTT_USERNAME, 'service', { secret: ingestSecret });
  const ingestConfig = configWith(ingestConfigSchema, { ...ingestBase, INGEST_MQTT_URL: mqttUrl, INGEST_MQTT_PASSWORD: ingestSecret });
  const ingest = createIngest({ ...stores, logger: logger.child({ service: 'ingest' }), metrics }, ingestConfig);
  await ingest.start();

  const finance = isFinanceRegistry(stores.registry) ? createFinanceService({ readings: stores.readings, registry: stores.registry, jobs, logger: logger.child({ service: 'finance' }) }) : undefined;
  const alerts = createAlertEngine({ ...stores, logger: logger.child({ service: 'alerts' }) }, alertsConfig);
  await alerts.start();
  // The local admin key lives in a 0600 file of the data directory; the terminal shows it only in
  // the console's sign-in address (URL fragment: never sent to the server, removed by the console).
  const authConfig = loadConfig(authConfigSchema, env);
  const security = loadConfig(apiSecurityConfigSchema, env);
  const access = createAccessControl({ registry: stores.registry, logger: logger.child({ service: 'auth' }) }, authConfig);
  // Report packs are signed with REPORT_SIGNING_KEY_FILE, or with a key pair made once in the data directory.
  const signingKeyFile = loadConfig(packConfigSchema, env).REPORT_SIGNING_KEY_FILE ?? join(resolve(env.WATTPROOF_DATA_DIR ?? './data'), 'keys', PRIVATE_KEY_FILE);
  if (!existsSync(signingKeyFile)) await writeKeyPair(dirname(signingKeyFile));
  const packSigner = await loadSigner(signingKeyFile);
  const adminKey = await ensureLocalAdminKey(access, resolve(authConfig.API_AUTH_ADMIN_KEY_FILE ?? join(env.WATTPROOF_DATA_DIR ?? './data', LOCAL_ADMIN_KEY_FILE)));
  const app = await createApiServer({
    ...stores,
    access,
    packSigner,
    metrics,
    jobs,
    alerts,
    ...(finance ? { finance } : {}),
    components: () => ({
      // Not ok while a subscriber session is at GATEWAY_MAX_QUEUED_MESSAGES (device publishes are refused).
      gateway: { ok: gateway.ready().ready, reasons: gateway.ready().reasons, ...gateway.stats() },
      ingest: { ok: ingest.connected(), pending: ingest.pipeline.pending() },
    }),
  }, { report: loadConfig(reportConfigSchema, env), security });
  await app.listen({ host: rt.API_HOST, port: rt.API_PORT });
  const http = `${security.API_TLS_CERT_FILE && security.API_TLS_KEY_FILE ? 'https' : 'http'}://${rt.API_HOST}:${rt.API_PORT}`;

  const sim =
    buildings > 0
      ? createSimulator(
          { provision: (ref) => provisionDevice(stores.registry, ref, { rotate: true }), logger: logger.child({ service: 'simulator' }) },
          { ...DEFAULT_SIMULATOR_CONFIG, url: mqttUrl, buildings, intervalS, backfillHours },
        )
      : undefined;

  const dataDir = resolve(env.WATTPROOF_DATA_DIR ?? './data');
  const demo = park
    ? createDemoPark({
        url: mqttUrl,
        ...stores,
        jobs,
        ...(finance ? { finance } : {}),
        logger: logger.child({ service: 'simulator' }),
        dataDir,
        print: (line) => process.stdout.write(`${line}\n`),
        afterHistory: () => alerts.evaluate(),
      })
    : undefined;
  process.stdout.write(
    [
      '',
      'Wattproof is running.',
      `  MQTT gateway   ${mqttUrl}${addresses.mqtts ? `  mqtts://${addresses.mqtts.host}:${addresses.mqtts.port}` : ''}${addresses.ws ? `  ws://${addresses.ws.host}:${addresses.ws.port}/mqtt` : ''}`,
      `  Ingest         -> ${stores.describe}${stores.readings.name.includes('duckdb') || stores.registry.name.includes('jsonl') ? ` (data in ${dataDir})` : ''}`,
      `  Web console    ${consoleSignInUrl(http, adminKey.key)}`,
      `                 (signs the browser in with the local admin key: keep this address private)`,
      `  HTTP API       ${http}/api   OpenAPI docs ${http}/docs`,
      `  Health         ${http}/health   metrics ${http}/metrics (admin key)`,
      `  API admin key  ${adminKey.path} (${adminKey.created ? 'new' : 'kept'}, mode 0600): curl -H "Authorization: Bearer $(cat ${adminKey.path})" ${http}/api/v1/audit`,
      `  Report packs   signed with ${signingKeyFile} (fingerprint ${packSigner.fingerprint}); verify with: node bin/wattproof.js verify <pack.json>`,
      demo
        ? `  Simulator      Yuzhong demo park: ${demo.buildings} buildings with sub-meters and PV, a weather station; baseline from ${demo.timeline.baselineFrom}, hotel chiller retrofit on ${demo.timeline.retrofitFrom}; live every 15 min`
        : sim
          ? `  Simulator      ${buildings} buildings x 3 meters on site ${DEFAULT_SIMULATOR_CONFIG.site}: ${backfillHours} h backfill, then a reading every ${intervalS} s`
          : '  Simulator      off',
      '',
      `Try:  curl -H "Authorization: Bearer $(cat ${adminKey.path})" ${http}/api/v1/latest`,
      demo
        ? `      curl -H "Authorization: Bearer $(cat ${adminKey.path})" '${http}/api/v1/meters/${DEMO_RETROFIT_METER.site}/${DEMO_RETROFIT_METER.building}/${DEMO_RETROFIT_METER.meter}/readings?bucket=1d&from=${demo.timeline.baselineFrom}T00:00:00%2B08:00'`
        : `      curl -H "Authorization: Bearer $(cat ${adminKey.path})" '${http}/api/v1/meters/${DEFAULT_SIMULATOR_CONFIG.site}/b01/elec-main/readings?bucket=1h'`,
      `Add a real meter:  node bin/wattproof.js device add <site>/<building>/<meter>`,
      'Stop with Ctrl+C.',
      '',
    ].join('\n'),
  );

  const simRun = (demo ?? sim)?.start().catch((err: unknown) => logger.error({ err }, 'simulator stopped'));
  const written = () => {
    const m = metrics.getSingleMetric('wattproof_ingest_readings_written_total') as unknown as { hashMap?: Record<string, { value: number }> } | undefined;
    return Object.values(m?.hashMap ?? {}).reduce((a, v) => a + v.value, 0);
  };
  const status = values.quiet
    ? undefined
    : setInterval(() => {
        void (async () => {
          const [series, dead] = await Promise.all([stores.readings.listSeries(), stores.registry.countDeadLetters()]);
          const s = (demo ?? sim)?.stats();
          process.stdout.write(
            `[${new Date().toISOString().slice(11, 19)}] stored ${written()} readings this run · ${series.length} series · ${dead} dead letters · ${gateway.stats().connectedClients} MQTT clients${s ? ` · simulator published ${s.readings} readings` : ''}\n`,
          );
        })().catch(() => undefined);
      }, 15_000);

  await untilSignal(async () => {
    if (status) clearInterval(status);
    await schedule.stop();
    await alerts.close();
    await (demo ?? sim)?.close();
    await simRun;
    await ingest.close();
    await gateway.close();
    await app.close();
    await stores.readings.close();
    await stores.registry.close();
    process.stdout.write('Wattproof stopped.\n');
  }, logger);
  return 0;
}
