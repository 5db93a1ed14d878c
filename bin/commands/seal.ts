/**
 * `wattproof seal`: seals the closed local days of the stored readings now (what the ingest does
 * every INGEST_SEAL_INTERVAL_S): per series and day a Merkle root, chained per series, appended
 * to the registry (docs/integrity.md). Exit 0: done (nothing new is fine); 1: a series failed.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '@wattproof/core';
import { createReadingSealer, ingestConfigSchema } from '@wattproof/ingest';
import { createLogger, openStores, runtimeConfigSchema, type Env } from '../runtime.js';

const HELP = `Usage: wattproof seal [--site ID] [--building ID] [--meter ID] [--until YYYY-MM-DD] [--json]

Seals the stored readings (docs/integrity.md): for every series, each local day whose end is
at least INGEST_SEAL_AFTER_S past gets a seal record in the registry with the Merkle root of the
day's readings, chained to the series' previous seal; a day amended since its last seal (a late
reading or a correction written by the ingest) is sealed again as its next version. Running it
again seals nothing new unless readings arrived. The ingest does the same every
INGEST_SEAL_INTERVAL_S; this command is for INGEST_SEAL_INTERVAL_S=0 or to seal at once.
Check the seals with 'wattproof verify readings'.

  --site, --building, --meter   only the series of this site / building / meter
  --until YYYY-MM-DD            seal no new day on or after this local date (amended days are
                                sealed again all the same)
  --json                        print the run report as JSON
`;

export async function runSeal(argv: string[], env: Env): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      site: { type: 'string' },
      building: { type: 'string' },
      meter: { type: 'string' },
      until: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if ((values.building !== undefined && values.site === undefined) || (values.meter !== undefined && values.building === undefined)) {
    process.stderr.write(`--building needs --site, --meter needs --building\n\n${HELP}`);
    return 2;
  }
  const rt = loadConfig(runtimeConfigSchema, env);
  const config = loadConfig(ingestConfigSchema, env);
  const stores = await openStores(env);
  try {
    const sealer = createReadingSealer({ readings: stores.readings, registry: stores.registry, logger: createLogger(rt.LOG_LEVEL, 'seal') }, config);
    const report = await sealer.seal({
      ...(values.site !== undefined ? { site: values.site } : {}),
      ...(values.building !== undefined ? { building: values.building } : {}),
      ...(values.meter !== undefined ? { meter: values.meter } : {}),
      ...(values.until !== undefined ? { until: values.until } : {}),
    });
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const lines = [`Sealed ${report.sealed.length} day(s) of ${report.series} series (${stores.describe}).`];
      for (const s of report.sealed) lines.push(`  ${s.series} ${s.day} v${s.version}: ${s.readings} readings, root ${s.root}`);
      if (report.amendments) lines.push(`  ${report.amendments} reading(s) written while sealing, recorded as amendments and sealed again`);
      for (const f of report.failures) lines.push(`  FAILED ${f.series}: ${f.code ? `${f.code}: ` : ''}${f.message}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return report.failures.length ? 1 : 0;
  } finally {
    await stores.readings.close();
    await stores.registry.close();
  }
}
