/**
 * `wattproof <command>`: the only place that reads the environment, opens sockets, installs
 * signal handlers and sets up logging. Every command takes `--help`.
 */
import { configureReferenceData } from '@wattproof/analytics';
import { loadConfig, WattproofError } from '@wattproof/core';
import { runAnalyze } from './commands/analyze.js';
import { runApi } from './commands/api.js';
import { runConfig } from './commands/config.js';
import { runDevice } from './commands/device.js';
import { runDocs } from './commands/docs.js';
import { runFinance } from './commands/finance.js';
import { runGateway } from './commands/gateway.js';
import { runIngest } from './commands/ingest.js';
import { runMv } from './commands/mv.js';
import { runSimulate } from './commands/simulate.js';
import { runStart } from './commands/start.js';
import { runtimeConfigSchema, type Env } from './runtime.js';

export type Command = (argv: string[], env: Env) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  start: { run: runStart, summary: 'Run everything in one process on embedded defaults: gateway, ingest, API, simulator' },
  gateway: { run: runGateway, summary: 'Run the MQTT gateway (aedes) with device credentials and ACLs' },
  ingest: { run: runIngest, summary: 'Run the ingest: MQTT -> validate -> normalize -> store' },
  api: { run: runApi, summary: 'Run the HTTP API (OpenAPI at /docs)' },
  simulate: { run: runSimulate, summary: 'Publish simulated buildings through a gateway' },
  analyze: { run: runAnalyze, summary: 'M&V on live data from the stores, persisted with lineage; re-derive a past result' },
  'analytics-worker': { run: async (argv, env) => (await import('./commands/analytics-worker.js')).runAnalyticsWorker(argv, env), summary: 'Run scheduled M&V analyses from the Redis job queue (ANALYTICS_QUEUE_REDIS_URL; docs/SCALING.md)' },
  mv: { run: runMv, summary: 'Offline M&V on CSV files: CalTRACK baseline, avoided energy, uncertainty (docs/mv.md)' },
  report: { run: async (argv, env) => (await import('./commands/report.js')).runReport(argv, env), summary: 'Write a report from the stores: monthly operator report of a building (HTML, PDF, JSON)' },
  verify: { run: async (argv, env) => (await import('./commands/verify.js')).runVerify(argv, env), summary: 'Verify a report pack (docs/packs.md), or with "readings" the seals of the stored readings (docs/integrity.md)' },
  seal: { run: async (argv, env) => (await import('./commands/seal.js')).runSeal(argv, env), summary: 'Seal the closed days of the stored readings now: Merkle root per series and day, chained (docs/integrity.md)' },
  finance: { run: runFinance, summary: 'Load parties, building profiles, loans, covenants and policies from YAML/JSON; list them as of a time' },
  covenant: { run: async (argv, env) => (await import('./commands/covenant.js')).runCovenant(argv, env), summary: 'Test a loan\'s covenants on the stored data (now or as of a past instant), stored with lineage; list past tests' },
  policy: { run: async (argv, env) => (await import('./commands/policy.js')).runPolicy(argv, env), summary: 'Settle an energy-savings policy period from verified savings; price a guarantee' },
  portfolio: { run: async (argv, env) => (await import('./commands/portfolio.js')).runPortfolio(argv, env), summary: 'Lender portfolio (PCAF financed emissions, JR/T 0227 rows) or insurer portfolio' },
  device: { run: runDevice, summary: 'Add, rotate, list and disable device and service credentials' },
  apikey: { run: async (argv, env) => (await import('./commands/apikey.js')).runApikey(argv, env), summary: 'Add, list and revoke HTTP API keys (roles lender, insurer, verifier, operator, admin)' },
  config: { run: runConfig, summary: 'Print every configuration key with its default' },
  docs: { run: runDocs, summary: 'Regenerate docs/errors.md and the README config table (--check: fail when stale)' },
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
    if (referenceDir) configureReferenceData(referenceDir);
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
