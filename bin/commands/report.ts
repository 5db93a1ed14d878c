/**
 * `wattproof report <kind>`: reports written to files from the configured stores. Each kind is a
 * subcommand with its own options and help (`monthly` now; finance report packs can sit beside it).
 */
import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '@wattproof/core';
import { createMonthlyReport, createPdfRenderer, renderMonthlyReportHtml, REPORT_LANGS, reportConfigSchema, type ReportLang } from '@wattproof/dashboards';
import { runKeygen, runPack } from './pack.js';
import { openStores, type Env } from '../runtime.js';

type Subcommand = { run: (argv: string[], env: Env) => Promise<number>; summary: string };

const MONTHLY_HELP = `Usage: wattproof report monthly --site S --building B --month YYYY-MM --out FILE
                                [--lang zh-CN|en] [--format html|pdf|json]

Writes the printable monthly operator report of one building: energy by meter and end use
against the previous month and the same month last year, the daily profile, peak demand, EUI
over the last 12 months against the GB/T 51161 quota, verified savings with their uncertainty
from the latest M&V result, carbon, and data quality (coverage, gaps, dead letters, register
events). Months are local calendar months in the site's time zone.

  --lang     zh-CN (default) or en
  --format   html (a self-contained document with print styles), pdf (printed by headless
             Chromium at REPORT_CHROMIUM_PATH, default /usr/bin/chromium) or json (the data
             model); default: from the extension of --out, else html
  --out      the file to write ('-' writes html or json to stdout)

Reads the stores of the configuration ('wattproof config'); the embedded stores belong to one
process, so stop 'wattproof start' first or use InfluxDB and PostgreSQL.
`;

async function runMonthly(argv: string[], env: Env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      site: { type: 'string' },
      building: { type: 'string' },
      month: { type: 'string' },
      lang: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string', short: 'o' },
    },
  });
  if (values.help) {
    process.stdout.write(MONTHLY_HELP);
    return 0;
  }
  const problems: string[] = [];
  if (positionals.length) problems.push(`unexpected argument: ${positionals.join(' ')}`);
  for (const key of ['site', 'building', 'month', 'out'] as const) if (!values[key]) problems.push(`--${key} is required`);
  if (values.month && !/^\d{4}-(0[1-9]|1[0-2])$/.test(values.month)) problems.push(`--month must be YYYY-MM, got ${values.month}`);
  if (values.lang && !(REPORT_LANGS as readonly string[]).includes(values.lang)) problems.push(`--lang must be one of ${REPORT_LANGS.join(', ')}`);
  const format = values.format ?? ({ '.pdf': 'pdf', '.json': 'json' } as Record<string, string>)[extname(values.out ?? '').toLowerCase()] ?? 'html';
  if (!['html', 'pdf', 'json'].includes(format)) problems.push('--format must be html, pdf or json');
  if (format === 'pdf' && values.out === '-') problems.push('a PDF cannot go to stdout; give --out FILE.pdf');
  if (problems.length) {
    process.stderr.write(`${problems.join('\n')}\n\n${MONTHLY_HELP}`);
    return 2;
  }
  const reportConfig = loadConfig(reportConfigSchema, env);
  const stores = await openStores(env);
  let output: string | Buffer;
  try {
    const model = await createMonthlyReport(stores, { site: values.site!, building: values.building!, month: values.month!, lang: (values.lang ?? 'zh-CN') as ReportLang });
    output = format === 'json' ? `${JSON.stringify(model, null, 2)}\n` : renderMonthlyReportHtml(model);
  } finally {
    await stores.readings.close();
    await stores.registry.close();
  }
  if (format === 'pdf') {
    const renderer = createPdfRenderer(reportConfig);
    try {
      output = await renderer.render(output as string);
    } finally {
      await renderer.close();
    }
  }
  if (values.out === '-') process.stdout.write(output);
  else {
    await writeFile(values.out!, output);
    process.stdout.write(`wrote ${values.out} (${format}, ${output.length.toLocaleString('en-US')} bytes)\n`);
  }
  return 0;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  monthly: { run: runMonthly, summary: 'Monthly operator report of one building (HTML, PDF or JSON)' },
  pack: { run: runPack, summary: 'Signed, verifiable report pack of a building and period (JSON, HTML, PDF, CSV, Parquet)' },
  keygen: { run: runKeygen, summary: 'Create the Ed25519 key pair that signs report packs' },
};

const HELP = `Usage: wattproof report <kind> [options]

Kinds:
${Object.entries(SUBCOMMANDS)
  .map(([name, s]) => `  ${name.padEnd(10)} ${s.summary}`)
  .join('\n')}

Run 'wattproof report <kind> --help' for its options.
`;

export async function runReport(argv: string[], env: Env): Promise<number> {
  const [kind, ...rest] = argv;
  if (!kind || kind === '--help' || kind === '-h' || kind === 'help') {
    process.stdout.write(HELP);
    return kind ? 0 : 2;
  }
  const sub = SUBCOMMANDS[kind];
  if (!sub) {
    process.stderr.write(`wattproof report: unknown report "${kind}"\n\n${HELP}`);
    return 2;
  }
  return sub.run(rest, env);
}
