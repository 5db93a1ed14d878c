import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createMvJobs } from '@wattproof/analytics';
import { loadConfig } from '@wattproof/core';
import { report } from './mv.js';
import { createLogger, openStores, runtimeConfigSchema, type Env } from '../runtime.js';

const HELP = `Usage: wattproof analyze --definition <json file> [--json]
       wattproof analyze --rederive <result id>
       wattproof analyze --scheduled

Runs a CalTRACK M&V analysis on a meter's data in the stores (the same code as 'wattproof mv')
and persists the result with its lineage and exact inputs. The definition is JSON:
  { "meter": {"site","building","meter"}, "temperatureMeter": {...}, "model": "caltrack-daily",
    "fuel": "electricity", "baseline": {"start":"2025-01-01","end":"2026-01-01"},
    "reporting": {"start":"2026-01-01","end":"2026-11-01"}, "timeZone": "Asia/Shanghai",
    "building": {"floorAreaM2": 12000, "type": "office_b"} }
--rederive re-runs a stored result on its stored inputs and says whether every number matches.
--scheduled runs the newest stored definition of every meter once.
`;

export async function runAnalyze(argv: string[], env: Env): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, definition: { type: 'string' }, rederive: { type: 'string' }, scheduled: { type: 'boolean' }, json: { type: 'boolean' } } });
  if (values.help || (!values.definition && !values.rederive && !values.scheduled)) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  const logger = createLogger(loadConfig(runtimeConfigSchema, { LOG_LEVEL: 'warn', ...env }).LOG_LEVEL, 'analyze');
  const stores = await openStores(env, logger);
  try {
    const jobs = createMvJobs({ ...stores, logger });
    if (values.rederive) {
      const r = await jobs.rederive(values.rederive);
      if (!r) {
        process.stderr.write(`no M&V result ${values.rederive}\n`);
        return 1;
      }
      process.stdout.write(r.identical ? `identical: result ${values.rederive} re-derived to the same numbers (lineage ${r.rederived.lineage.digest})\n` : `DIFFERENT: result ${values.rederive} does not re-derive to the same numbers\n`);
      return r.identical ? 0 : 1;
    }
    if (values.scheduled) {
      process.stdout.write(`ran ${await jobs.runScheduled()} analyses\n`);
      return 0;
    }
    const record = await jobs.run(JSON.parse(readFileSync(values.definition!, 'utf8')));
    process.stdout.write(values.json ? `${JSON.stringify(record, null, 2)}\n` : `result ${record.id}\n${report(record.body.result)}`);
    return 0;
  } finally {
    await stores.readings.close();
    await stores.registry.close();
  }
}
