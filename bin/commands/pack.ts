/**
 * `wattproof report pack` and `wattproof report keygen`: signed, verifiable report packs
 * (docs/packs.md) written to a directory from the configured stores, and their signing key.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '@wattproof/core';
import {
  assembleBuildingPack,
  assembleLoanPack,
  assemblePolicyPack,
  createPdfRenderer,
  loadSigner,
  PACK_FILE_FORMATS,
  packConfigSchema,
  packError,
  REPORT_LANGS,
  reportConfigSchema,
  writeKeyPair,
  writePackFiles,
  type PackFileFormat,
  type ReportLang,
} from '@wattproof/dashboards';
import { openStores, type Env } from '../runtime.js';

const PACK_HELP = `Usage: wattproof report pack --building SITE/BUILDING --from YYYY-MM-DD --to YYYY-MM-DD --out DIR
       wattproof report pack --loan LOAN --from YYYY-MM-DD --to YYYY-MM-DD --out DIR
       wattproof report pack --policy POLICY (--period ID | --from YYYY-MM-DD --to YYYY-MM-DD) --out DIR
                             [--as-of ISO] [--format json,html,pdf,csv,parquet] [--lang zh-CN|en] [--key FILE]

Writes a signed, verifiable report pack of one building over a period (docs/packs.md): the
newest M&V result of each of its meters recorded by the as-of time whose reporting period
overlaps [from, to), with every figure, method and reference-data version, the data-quality
statement, the non-routine adjustments, the Merkle roots of the readings used and the ids of the
records used, signed with Ed25519; the printable report of it; and the readings as CSV (the
exact lines the Merkle leaves hash) and Parquet. Check it with 'wattproof verify'.

  --building   site/building
  --loan       a loan: its stored covenant tests with a test date in (from, to], each with its
               KPI observations, M&V results, readings snapshots and building profiles
  --policy     a policy: the stored settlement of --period, or of each period inside [from, to),
               with the M&V results it rests on
  --from --to  local dates in the site's time zone; --to is exclusive
  --as-of      ISO 8601 instant: use only records stored by then (default now)
  --format     comma-separated, default json,html,csv; pdf needs Chromium (REPORT_CHROMIUM_PATH)
  --lang       language of the HTML/PDF: zh-CN (default) or en
  --key        Ed25519 private key (PEM); default REPORT_SIGNING_KEY_FILE
  --out        directory: pack.json, pack.html, pack.pdf, series/*.csv, series/*.parquet
`;

const KEYGEN_HELP = `Usage: wattproof report keygen --out DIR [--force]

Creates an Ed25519 key pair for signing report packs: DIR/pack-signing-key.pem (PKCS#8,
mode 0600; set REPORT_SIGNING_KEY_FILE to it) and DIR/pack-signing-key.pub.pem (give it to
verifiers: 'wattproof verify --public-key'). Prints the key fingerprint (sha256 of the public
key), which packs embed. --force replaces an existing key.
`;

export async function runKeygen(argv: string[], _env: Env): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' }, out: { type: 'string', short: 'o' }, force: { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write(KEYGEN_HELP);
    return 0;
  }
  if (!values.out || positionals.length) {
    process.stderr.write(`${positionals.length ? `unexpected argument: ${positionals.join(' ')}` : '--out is required'}\n\n${KEYGEN_HELP}`);
    return 2;
  }
  let written;
  try {
    written = await writeKeyPair(values.out, { force: values.force ?? false });
  } catch (err) {
    if ((err as { code?: string }).code === 'EEXIST') {
      process.stderr.write(`wattproof report keygen: a signing key already exists in ${values.out}; use --force to replace it (packs signed with it will still verify with its public key)\n`);
      return 1;
    }
    throw err;
  }
  process.stdout.write(`private key: ${written.privateKeyPath} (mode 0600; set REPORT_SIGNING_KEY_FILE to it)\npublic key:  ${written.publicKeyPath}\nfingerprint: ${written.fingerprint}\n`);
  return 0;
}

export async function runPack(argv: string[], env: Env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      building: { type: 'string' },
      loan: { type: 'string' },
      policy: { type: 'string' },
      period: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'as-of': { type: 'string' },
      format: { type: 'string' },
      lang: { type: 'string' },
      key: { type: 'string' },
      out: { type: 'string', short: 'o' },
    },
  });
  if (values.help) {
    process.stdout.write(PACK_HELP);
    return 0;
  }
  const problems: string[] = [];
  if (positionals.length) problems.push(`unexpected argument: ${positionals.join(' ')}`);
  const subjects = [values.building, values.loan, values.policy].filter((x) => x !== undefined).length;
  const ref = values.building?.split('/');
  if (subjects !== 1) problems.push('give exactly one of --building SITE/BUILDING, --loan LOAN, --policy POLICY');
  else if (values.building !== undefined && (ref?.length !== 2 || !ref[0] || !ref[1])) problems.push(`--building must be SITE/BUILDING, got ${values.building}`);
  if (values.period !== undefined && values.policy === undefined) problems.push('--period goes with --policy');
  const byPeriod = values.policy !== undefined && values.period !== undefined;
  if (byPeriod && (values.from !== undefined || values.to !== undefined)) problems.push('give --period or --from/--to, not both');
  for (const k of byPeriod ? (['out'] as const) : (['from', 'to', 'out'] as const)) if (!values[k]) problems.push(`--${k} is required`);
  for (const k of ['from', 'to'] as const) if (values[k] && !/^\d{4}-\d{2}-\d{2}$/.test(values[k])) problems.push(`--${k} must be YYYY-MM-DD, got ${values[k]}`);
  const asOfMs = values['as-of'] === undefined ? undefined : Date.parse(values['as-of']);
  if (asOfMs !== undefined && Number.isNaN(asOfMs)) problems.push(`--as-of must be an ISO 8601 instant, got ${values['as-of']}`);
  const formats = (values.format ?? 'json,html,csv').split(',').map((f) => f.trim()).filter(Boolean);
  const unknown = formats.filter((f) => !(PACK_FILE_FORMATS as readonly string[]).includes(f));
  if (unknown.length) problems.push(`--format: unknown ${unknown.join(', ')} (json, html, pdf, csv, parquet)`);
  if (values.lang && !(REPORT_LANGS as readonly string[]).includes(values.lang)) problems.push(`--lang must be one of ${REPORT_LANGS.join(', ')}`);
  if (problems.length) {
    process.stderr.write(`${problems.join('\n')}\n\n${PACK_HELP}`);
    return 2;
  }
  const keyFile = values.key ?? loadConfig(packConfigSchema, env).REPORT_SIGNING_KEY_FILE;
  if (!keyFile) throw packError('PACK_SIGNING_KEY_MISSING', 'no signing key: set REPORT_SIGNING_KEY_FILE or pass --key (create one with `wattproof report keygen --out DIR`)');
  const signer = await loadSigner(keyFile);
  const stores = await openStores(env);
  let assembled;
  try {
    const asOf = asOfMs !== undefined ? { asOfMs } : {};
    if (values.loan !== undefined) assembled = await assembleLoanPack(stores, { loanId: values.loan, from: values.from!, to: values.to!, ...asOf });
    else if (values.policy !== undefined) assembled = await assemblePolicyPack(stores, { policyId: values.policy, ...(byPeriod ? { periodId: values.period! } : { from: values.from!, to: values.to! }), ...asOf });
    else assembled = await assembleBuildingPack(stores, { site: ref![0]!, building: ref![1]!, from: values.from!, to: values.to!, ...asOf });
  } finally {
    await stores.readings.close();
    await stores.registry.close();
  }
  const renderer = formats.includes('pdf') ? createPdfRenderer(loadConfig(reportConfigSchema, env)) : undefined;
  try {
    const { pack, files } = await writePackFiles(values.out!, assembled, signer, { formats: formats as PackFileFormat[], lang: (values.lang ?? 'zh-CN') as ReportLang, ...(renderer ? { pdf: renderer } : {}) });
    process.stdout.write(
      `wrote ${files.length} files to ${values.out}: ${files.length > 6 ? `${files.slice(0, 5).join(', ')}, ...` : files.join(', ')}\n` +
        `${pack.covenants.length ? `${pack.covenants.length} covenant test(s): ${pack.covenants.map((c) => `${c.covenantId} ${c.evaluation.status}`).join(', ')}\n` : ''}` +
        `${pack.settlements.map((x) => `settlement ${x.periodId}: verified ${x.claim.figures.verifiedKwh} kWh, shortfall ${x.claim.figures.shortfallKwh} kWh, payout ${x.claim.figures.payoutCny} CNY\n`).join('')}` +
        `${pack.mv.length} M&V result(s), ${pack.inputs.length} series, ${pack.inputs.reduce((a, s) => a + s.readings, 0)} readings\n` +
        `digest ${pack.signature.digest}\nsigned by ${pack.signer.fingerprint}\n` +
        pack.warnings.map((w) => `warning: ${w.code}: ${w.message}\n`).join(''),
    );
  } finally {
    await renderer?.close();
  }
  return 0;
}
