/**
 * `wattproof covenant`: tests a loan's covenants on the stored data (now, or as of a past
 * instant) and stores each result with its lineage; lists the stored tests. Shares with
 * `wattproof policy` and `wattproof portfolio` the way the finance service is opened on the stores.
 */
import { parseArgs } from 'node:util';
import { createFinanceService, createMvJobs, isFinanceRegistry, type CovenantTestRecord, type FinanceService } from '@wattproof/analytics';
import { resolveTimestamp, WattproofError } from '@wattproof/core';
import { openStores, type Env } from '../runtime.js';

const HELP = `Usage:
  wattproof covenant test --loan <id> [--test-date YYYY-MM-DD] [--covenant <id>]
                          [--as-of <time>] [--refresh] [--json]
      Tests the loan's covenants on their latest test date (or --test-date; covenants
      without that test date are skipped) and stores each result (finance.covenant_test)
      with its lineage. Without --as-of the run is live: it first records the readings
      snapshots it needs (and with --refresh re-runs the meter's stored M&V definition over
      each savings test window), then evaluates as of the instant after; the output names
      that instant. --as-of <ISO 8601 with offset | epoch ms> re-runs on what the registry
      had recorded by then: the same figures, whatever was corrected since.
  wattproof covenant list --loan <id> [--covenant <id>] [--json]
      The stored covenant tests of the loan, newest first.

Stores: the readings and registry of 'wattproof config' (REGISTRY_POSTGRES_URL, INFLUX_URL,
else the embedded stores in WATTPROOF_DATA_DIR). --json prints the stored records.
`;

/** Parses `--as-of`: ISO 8601 with an offset, or epoch milliseconds. @throws a usage error (exit 2). */
export function parseAsOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const r = resolveTimestamp(/^\d+$/.test(value) ? Number(value) : value);
  if (!r.ok) throw new UsageError(`--as-of: ${r.message}`);
  return r.ms;
}

/** A command-line mistake: printed with the help hint, exit code 2. */
export class UsageError extends Error {}

/** Opens the stores and the finance service for one command, and closes them after. */
export async function withFinance<T>(env: Env, run: (finance: FinanceService) => Promise<T>): Promise<T> {
  const stores = await openStores(env);
  try {
    const registry = stores.registry;
    if (!isFinanceRegistry(registry)) throw new WattproofError('CONFIG_INVALID', `the ${registry.name} registry does not keep the finance registry`, { statusCode: 500 });
    const jobs = createMvJobs({ readings: stores.readings, registry });
    return await run(createFinanceService({ readings: stores.readings, registry, jobs }));
  } finally {
    await stores.readings.close();
    await stores.registry.close();
  }
}

/** Runs a finance subcommand, turning usage errors into exit code 2. */
export async function runFinanceCommand(name: string, help: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`wattproof ${name}: ${err.message}\n\n${help}`);
      return 2;
    }
    throw err;
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const num = (x: number | null) => (x === null ? '—' : Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(3) : x.toFixed(4));

/** One line per stored covenant test. */
export function describeCovenantTest(r: CovenantTestRecord): string {
  const b = r.body;
  const e = b.evaluation;
  const cells = [
    b.covenantId.padEnd(16),
    `${e.kpi} ${e.operator} ${e.threshold}`.padEnd(44),
    `test ${b.testDate}`,
    e.status.toUpperCase().padEnd(10),
    `value ${num(e.kpiValue)}${e.passProbability !== null ? ` (P(pass) ${pct(e.passProbability)})` : ''}`.padEnd(34),
    `margin ${e.marginStepBp > 0 ? '+' : ''}${e.marginStepBp} bp`.padEnd(14),
    `record ${r.id}`,
  ];
  const extra = [...e.disqualifications, ...e.warnings].map((f) => `      ${f.code}: ${f.message}`);
  return [`  ${cells.join('  ')}`, ...extra].join('\n');
}

export async function runCovenant(argv: string[], env: Env): Promise<number> {
  return runFinanceCommand('covenant', HELP, async () => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        loan: { type: 'string' },
        covenant: { type: 'string' },
        'test-date': { type: 'string' },
        'as-of': { type: 'string' },
        refresh: { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const [action, ...extra] = positionals;
    if ((action !== 'test' && action !== 'list') || extra.length > 0) throw new UsageError(action ? `unknown action "${action}"` : 'an action is needed: test or list');
    if (!values.loan) throw new UsageError('--loan is required');
    const loan = values.loan;
    const out = (s: string) => void process.stdout.write(`${s}\n`);

    if (action === 'list') {
      if (values['test-date'] || values['as-of'] || values.refresh) throw new UsageError('list takes --loan, --covenant and --json only');
      const records = await withFinance(env, (f) => f.listCovenantTests(loan, values.covenant ? { covenantId: values.covenant } : {}));
      if (values.json) out(JSON.stringify(records, null, 2));
      else {
        out(`Loan ${loan}: ${records.length} stored covenant test${records.length === 1 ? '' : 's'}, newest first`);
        for (const r of records) out(`${describeCovenantTest(r)}\n      as of ${new Date(r.body.asOfMs).toISOString()} (asOfMs ${r.body.asOfMs})`);
      }
      return 0;
    }

    const asOfMs = parseAsOf(values['as-of']);
    const run = await withFinance(env, (f) =>
      f.testCovenants(loan, {
        ...(values['test-date'] ? { testDate: values['test-date'] } : {}),
        ...(values.covenant ? { covenantId: values.covenant } : {}),
        ...(asOfMs !== undefined ? { asOfMs } : {}),
        refresh: values.refresh ?? false,
      }),
    );
    if (values.json) {
      out(JSON.stringify({ loanId: run.loanId, asOfMs: run.asOfMs, tests: run.tests.map((t) => t.record), skipped: run.skipped }, null, 2));
      return 0;
    }
    out(`Loan ${run.loanId}: covenant tests as of ${new Date(run.asOfMs).toISOString()} (re-run the same figures with --as-of ${run.asOfMs})`);
    for (const t of run.tests) out(describeCovenantTest(t.record));
    for (const s of run.skipped) out(`  ${s.covenantId.padEnd(16)}  skipped: ${s.reason}`);
    return 0;
  });
}
