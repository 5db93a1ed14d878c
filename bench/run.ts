/**
 * `npm run bench -- <name> [options]`: runs one benchmark and prints its table.
 * Benchmarks: analytics (model fits per meter-year), simulate (backfill through a real gateway and ingest),
 * console (the web console's requests with a year of hourly data), soak (30 minutes with faults, bench/soak.ts),
 * broker (the gateway against Mosquitto under one load generator), gateway-hooks (CPU per PUBLISH the gateway adds to
 * stock aedes, in one process without sockets), connections (idle authenticated connections per broker),
 * generator (the load generator's own cost per message, MQTT.js against the raw client),
 * ingest (Wattproof end to end against the raw InfluxDB write ceiling, and the embedded DuckDB store),
 * ingest-stages (CPU per reading of each stage of the ingest's hot path, no network),
 * session-queue (the in-memory session store's cost per message while a backlog drains, aedes-persistence against the gateway's).
 */
const [name = 'analytics', ...rest] = process.argv.slice(2);
const benches: Record<string, () => Promise<{ main(argv: string[]): Promise<void> }>> = {
  analytics: () => import('./analytics.js'),
  simulate: () => import('./simulate.js'),
  console: () => import('./console.js'),
  broker: () => import('./broker.js'),
  'gateway-hooks': () => import('./gateway-hooks.js'),
  connections: () => import('./connections.js'),
  generator: () => import('./generator.js'),
  soak: () => import('./soak.js'),
  ingest: () => import('./ingest.js'),
  'ingest-stages': () => import('./ingest-stages.js'),
  'session-queue': () => import('./session-queue.js'),
};
const load = benches[name];
if (!load) {
  process.stderr.write(`unknown benchmark "${name}"; one of: ${Object.keys(benches).join(', ')}\n`);
  process.exit(2);
}
await (await load()).main(rest);
