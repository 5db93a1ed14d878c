/**
 * `wattproof verify <pack.json>`: checks a report pack's signature, recomputes the Merkle roots
 * of its readings from the stores or from an export directory alone, re-derives every figure and
 * lists exactly what differs. Exit 0: verified; 1: something differs or the signature is bad.
 *
 * `wattproof verify readings`: checks the store-wide seals of the stored readings
 * (docs/integrity.md) against the reading store. Same exit codes.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { formatVerifyReport, parsePack, verifyPack, type VerifyReport } from '@wattproof/dashboards';
import { formatReadingSealReport, verifyReadingSeals } from '@wattproof/ingest';
import { openStores, type Env } from '../runtime.js';

const READINGS_HELP = `Usage: wattproof verify readings [--site ID] [--building ID] [--meter ID] [--json]

Verifies the seals of the stored readings (docs/integrity.md; made by the ingest every
INGEST_SEAL_INTERVAL_S or by 'wattproof seal'): recomputes the Merkle root of every sealed local
day from the reading store and compares it with the day's newest seal; checks that each series'
seal chain is unbroken (seq, prev hash, each seal's own hash, day versions) and that every day
sealed again is backed by amendment records of that day; reports stored readings inside the
sealed range that lie in a day without a seal. A day amended after its last seal (a late
reading or a correction not sealed again yet) is listed as pending, not as a failure. Prints
each difference with the series, the day, and the sealed and stored reading count and root.
Exit code 0 when everything matches, 1 otherwise.

  --site, --building, --meter   only the series of this site / building / meter
  --json                        print the verification report as JSON (with each chain's head
                                hash: keep it elsewhere to detect a cut-off chain end)
`;

async function runVerifyReadings(argv: string[], env: Env): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' }, site: { type: 'string' }, building: { type: 'string' }, meter: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(READINGS_HELP);
    return 0;
  }
  if ((values.building !== undefined && values.site === undefined) || (values.meter !== undefined && values.building === undefined)) {
    process.stderr.write(`--building needs --site, --meter needs --building\n\n${READINGS_HELP}`);
    return 2;
  }
  const stores = await openStores(env);
  try {
    const report = await verifyReadingSeals(
      { readings: stores.readings, registry: stores.registry },
      {
        ...(values.site !== undefined ? { site: values.site } : {}),
        ...(values.building !== undefined ? { building: values.building } : {}),
        ...(values.meter !== undefined ? { meter: values.meter } : {}),
      },
    );
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReadingSealReport(report));
    return report.ok ? 0 : 1;
  } finally {
    await stores.readings.close();
    await stores.registry.close();
  }
}

const HELP = `Usage: wattproof verify <pack.json> [--data DIR] [--public-key FILE] [--json]
       wattproof verify readings [--site ID] [--building ID] [--meter ID] [--json]

Verifies a report pack (docs/packs.md): the Ed25519 signature over its canonical JSON (with
--public-key: that it was signed with that key), the Merkle root of every series and every local
day of readings, the data-quality statements, and every M&V figure re-derived with the same
analytics from the readings; for loan and policy packs also every covenant test (re-evaluated
from its KPI observations, which are re-derived from the M&V results, readings snapshots and
building profiles; each snapshot against the daily sums of the readings) and every settlement
(verified savings, shortfall and payout re-derived from the M&V results). Prints what differs: the path in the pack, the value in the pack
and the value re-derived. Exit code 0 when everything matches, 1 otherwise.

  --data DIR         verify from the export directory alone (series/*.csv) instead of the
                     configured stores
  --public-key FILE  the signer's public key (PEM) you trust; without it the key embedded in
                     the pack is used, which proves integrity but not who signed
  --json             print the verification report as JSON

'wattproof verify readings' checks the seals of the stored readings instead (its own --help;
a pack file named "readings" is verified as ./readings).
`;

export async function runVerify(argv: string[], env: Env): Promise<number> {
  if (argv[0] === 'readings') return runVerifyReadings(argv.slice(1), env);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, data: { type: 'string' }, 'public-key': { type: 'string' }, json: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    process.stderr.write(`${positionals.length ? `one pack file expected, got ${positionals.length}` : 'the pack file is required'}\n\n${HELP}`);
    return 2;
  }
  const pack = parsePack(await readFile(positionals[0]!, 'utf8'));
  const publicKeyPem = values['public-key'] === undefined ? undefined : await readFile(values['public-key'], 'utf8');
  const options = publicKeyPem === undefined ? {} : { publicKeyPem };
  let report: VerifyReport;
  if (values.data !== undefined) {
    report = await verifyPack(pack, { kind: 'export', dir: values.data }, options);
  } else {
    const stores = await openStores(env);
    try {
      report = await verifyPack(pack, { kind: 'stores', readings: stores.readings, registry: stores.registry }, options);
    } finally {
      await stores.readings.close();
      await stores.registry.close();
    }
  }
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatVerifyReport(report, pack));
  return report.ok ? 0 : 1;
}
