import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { configMarkdown, describeConfig } from '@wattproof/core';
import { gatewayConfigSchema } from '@wattproof/gateway';
import { registryConfigSchema } from '@wattproof/gateway/registry';
import { ingestConfigSchema } from '@wattproof/ingest';
import { readingStoreConfigSchema } from '@wattproof/ingest/stores';
import { alertsConfigSchema } from '@wattproof/analytics';
import { apiSecurityConfigSchema, authConfigSchema } from '@wattproof/dashboards';
import { reportConfigSchema } from '@wattproof/dashboards';
import { packConfigSchema } from '@wattproof/dashboards';
import { runtimeConfigSchema, type Env } from '../runtime.js';

const HELP = `Usage: wattproof config [--markdown] [--write FILE]

Lists every configuration key (environment variable) with its default and meaning,
generated from the validated config schemas. --markdown prints the README table;
--write FILE replaces the table between <!-- config:start --> and <!-- config:end --> in FILE.
`;

export const CONFIG_SECTIONS: Array<{ title: string; schema: z.ZodObject<z.ZodRawShape> }> = [
  { title: 'Runtime (logging, HTTP)', schema: runtimeConfigSchema },
  { title: 'Gateway', schema: gatewayConfigSchema },
  { title: 'Ingest', schema: ingestConfigSchema },
  { title: 'Reading store (embedded DuckDB or InfluxDB)', schema: readingStoreConfigSchema },
  { title: 'Registry (embedded files or PostgreSQL)', schema: registryConfigSchema },
  { title: 'Operator alerts', schema: alertsConfigSchema },
  { title: 'API keys and audit log', schema: authConfigSchema },
  { title: 'API security (rate limits, HTTPS)', schema: apiSecurityConfigSchema },
  { title: 'Monthly reports', schema: reportConfigSchema },
  { title: 'Report packs (signing)', schema: packConfigSchema },
];

/** The README's config section: one table per service, from the schemas. */
export function configSection(): string {
  return configMarkdown(CONFIG_SECTIONS);
}

export function replaceBetweenMarkers(text: string, content: string): string {
  const start = '<!-- config:start -->';
  const end = '<!-- config:end -->';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`markers ${start} ... ${end} not found`);
  return `${text.slice(0, i + start.length)}\n${content}\n${text.slice(j)}`;
}

export async function runConfig(argv: string[], _env: Env): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, markdown: { type: 'boolean' }, write: { type: 'string' } } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.write) {
    writeFileSync(values.write, replaceBetweenMarkers(readFileSync(values.write, 'utf8'), configSection()));
    process.stdout.write(`updated ${values.write}\n`);
    return 0;
  }
  if (values.markdown) {
    process.stdout.write(configSection());
    return 0;
  }
  for (const { title, schema } of CONFIG_SECTIONS) {
    process.stdout.write(`\n${title}\n`);
    for (const d of describeConfig(schema)) process.stdout.write(`  ${d.key}=${d.defaultValue ? JSON.parse(d.defaultValue) : ''}\n      ${d.description}\n`);
  }
  return 0;
}
