/**
 * `npm run bench -- <name> [options]`: runs one benchmark and prints its table; with no name,
 * analytics. `npm run bench -- --help` lists them, `npm run bench -- <name> --help` a benchmark's
 * options. A usage error (BenchUsageError, or parseArgs' own) prints one line and exits 2.
 */
import { asBenchUsageError } from './lib/cli.js';

// Each benchmark's module is imported only when it runs: they pull in DuckDB, aedes, MQTT.js, ...
const BENCHES: Record<string, { summary: string; load: () => Promise<{ main(argv: string[]): Promise<void> }> }> = {
  analytics: { summary: 'CalTRACK model fits per meter-year', load: () => import('./analytics.js') },
  simulate: { summary: 'backfill through a real gateway and ingest', load: () => import('./simulate.js') },
  console: { summary: "the web console's requests with a year of hourly data", load: () => import('./console.js') },
  broker: { summary: 'the gateway against Mosquitto under one load generator', load: () => import('./broker.js') },
  'gateway-hooks': { summary: 'CPU per PUBLISH the gateway adds to stock aedes, in one process without sockets', load: () => import('./gateway-hooks.js') },
  connections: { summary: 'idle authenticated connections per broker', load: () => import('./connections.js') },
  generator: { summary: "the load generator's own cost per message, MQTT.js against the raw client", load: () => import('./generator.js') },
  soak: { summary: 'the reliability soak: 30 minutes with process and message faults (docs/RELIABILITY.md)', load: () => import('./soak.js') },
  ingest: { summary: 'Wattproof end to end against the raw InfluxDB write ceiling, and the embedded DuckDB store', load: () => import('./ingest.js') },
  'ingest-stages': { summary: "CPU per reading of each stage of the ingest's hot path, no network", load: () => import('./ingest-stages.js') },
  'store-series': { summary: "the embedded store's lookups by meter and by building with a city's series", load: () => import('./store-series.js') },
  'session-queue': { summary: "the in-memory session store's cost per message while a backlog drains, aedes-persistence against the gateway's", load: () => import('./session-queue.js') },
};

const USAGE = `Usage: npm run bench -- <name> [options]   (no name: analytics)

Benchmarks:
${Object.entries(BENCHES)
  .map(([name, b], _, all) => `  ${name.padEnd(Math.max(...all.map(([n]) => n.length)))}  ${b.summary}`)
  .join('\n')}

Run 'npm run bench -- <name> --help' for a benchmark's options. Results and exact commands: docs/PERFORMANCE.md.
`;

const [name = 'analytics', ...rest] = process.argv.slice(2);
const bench = Object.hasOwn(BENCHES, name) ? BENCHES[name] : undefined;
if (name === '--help' || name === '-h' || name === 'help') {
  process.stdout.write(USAGE);
} else if (!bench) {
  process.stderr.write(`bench: unknown benchmark "${name}"\n\n${USAGE}`);
  process.exitCode = 2;
} else {
  try {
    await (await bench.load()).main(rest);
  } catch (err) {
    // Wrong arguments are the caller's to fix: one line, not a stack trace. Anything else fails loudly.
    const usage = asBenchUsageError(err);
    if (!usage) throw err;
    process.stderr.write(`bench ${name}: ${usage.message}\nRun 'npm run bench -- ${name} --help'.\n`);
    process.exitCode = 2;
  }
}
