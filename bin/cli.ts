/**
 * `wattproof <command>`: the only place that reads the environment, opens sockets, installs
 * signal handlers and sets up logging. Every command takes `--help`.
 */
import { loadConfig, WattproofError } from '@wattproof/core';
import { runtimeConfigSchema, type Env } from './runtime.js';

export type Command = (argv: string[], env: Env) => Promise<number>;

// Each command's module is imported when it runs, not all of them at start: `wattproof gateway`
// importing every command (the API, analytics, DuckDB, ...) held 44 MB of JS heap and 251 MB RSS
// before it did anything, against 22 MB and 148 MB with its own module alone (node --expose-gc,
// heapUsed after a GC, bench broker's gateway process on this machine). A smaller live heap is also
// less for every major GC to mark while the gateway runs.
const COMMANDS: Record<string, { run: Command; summary: string }> = {
  start: { run: async (argv, env) => (await import('./commands/start.js')).runStart(argv, env), summary: 'Run everything in one process on embedded defaults: gateway, ingest, API, simulator' },
  gateway: { run: async (argv, env) => (await import('./commands/gateway.js')).runGateway(argv, env), summary: 'Run the MQTT gateway (aedes) with device credentials and ACLs' },
  ingest: { run: async (argv, env) => (await import('./commands/ingest.js')).runIngest(argv, env), summary: 'Run the ingest: MQTT -> validate -> normalize -> store' },
  api: { run: async (argv, env) => (await import('./commands/api.js')).runApi(argv, env), summary: 'Run the HTTP API (OpenAPI at /docs)' },
  simulate: { run: async (argv, env) => (await import('./commands/simulate.js')).runSimulate(argv, env), summary: 'Publish simulated buildings through a gateway' },
  analyze: { run: async (argv, env) => (await import('./commands/analyze.js')).runAnalyze(argv, env), summary: 'M&V on live data from the stores, persisted with lineage; re-derive a past result' },
  'analytics-worker': { run: async (argv, env) => (await import('./commands/analytics-worker.js')).runAnalyticsWorker(argv, env), summary: 'Run scheduled M&V analyses from the Redis job queue (ANALYTICS_QUEUE_REDIS_URL; docs/SCALING.md)' },
  mv: { run: async (argv, env) => (await import('./commands/mv.js')).runMv(argv, env), summary: 'Offline M&V on CSV files: CalTRACK baseline, avoided energy, uncertainty (docs/mv.md)' },
  report: { run: async (argv, env) => (await import('./commands/report.js')).runReport(argv, env), summary: 'Write a report from the stores: monthly operator report of a building (HTML, PDF, JSON)' },
  verify: { run: async (argv, env) => (await import('./commands/verify.js')).runVerify(argv, env), summary: 'Verify a report pack (docs/packs.md), or with "readings" the seals of the stored readings (docs/integrity.md)' },
  seal: { run: async (argv, env) => (await import('./commands/seal.js')).runSeal(argv, env), summary: 'Seal the closed days of the stored readings now: Merkle root per series and day, chained (docs/integrity.md)' },
  finance: { run: async (argv, env) => (await import('./commands/finance.js')).runFinance(argv, env), summary: 'Load parties, building profiles, loans, covenants and policies from YAML/JSON; list them as of a time' },
  covenant: { run: async (argv, env) => (await import('./commands/covenant.js')).runCovenant(argv, env), summary: 'Test a loan\'s covenants on the stored data (now or as of a past instant), stored with lineage; list past tests' },
  policy: { run: async (argv, env) => (await import('./commands/policy.js')).runPolicy(argv, env), summary: 'Settle an energy-savings policy period from verified savings; price a guarantee' },
  portfolio: { run: async (argv, env) => (await import('./commands/portfolio.js')).runPortfolio(argv, env), summary: 'Lender portfolio (PCAF financed emissions, JR/T 0227 rows) or insurer portfolio' },
  device: { run: async (argv, env) => (await import('./commands/device.js')).runDevice(argv, env), summary: 'Add, rotate, list and disable device and service credentials' },
  apikey: { run: async (argv, env) => (await import('./commands/apikey.js')).runApikey(argv, env), summary: 'Add, list and revoke HTTP API keys (roles lender, insurer, verifier, operator, admin)' },
  config: { run: async (argv, env) => (await import('./commands/config.js')).runConfig(argv, env), summary: 'Print every configuration key with its default' },
  docs: { run: async (argv, env) => (await import('./commands/docs.js')).runDocs(argv, env), summary: 'Regenerate docs/errors.md and the README config table (--check: fail when stale)' },
};

export const USAGE = `Usage: wattproof <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c], _, all) => `  ${name.padEnd(Math.max(...all.map(([n]) => n.length)))} ${c.summary}`)
  .join('\n')}

Run 'wattproof <command> --help' for a command's options. Configuration comes from
environment variables; 'wattproof config' lists them all.
`;

export async function main(argv: string[], env: Env): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 1;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`wattproof: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    // Reference data is process-wide: point it at the deployment's own copy before any command runs.
    const referenceDir = loadConfig(runtimeConfigSchema, env).ANALYTICS_REFERENCE_DIR;
    if (referenceDir) (await import('@wattproof/analytics')).configureReferenceData(referenceDir);
    return await cmd.run(rest, env);
  } catch (err) {
    if (err instanceof WattproofError) {
      process.stderr.write(`wattproof ${name}: ${err.code}: ${err.message}\n`);
      return 1;
    }
    if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`wattproof ${name}: ${err.message}\nRun 'wattproof ${name} --help'.\n`);
      return 2;
    }
    throw err;
  }
}
