/**
 * Config helpers: one zod object schema per service whose keys are the environment variable
 * names (units in the names), each `.describe()`d with a default. Parsed once in `main`, frozen;
 * an invalid config fails at start with every problem listed.
 */
import { z } from 'zod';
import { WattproofError } from './errors.js';
import { formatPath } from './contract/message.js';

/** A boolean env var: true/false/1/0/yes/no (z.coerce.boolean would take "false" as true). */
export function envBool(defaultValue: boolean) {
  return z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])])
    .transform((v) => (typeof v === 'boolean' ? v : ['true', '1', 'yes', 'on'].includes(v)))
    .default(defaultValue);
}

/** An integer env var within [min, max]. */
export function envInt(defaultValue: number, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return z.coerce.number().int().min(min).max(max).default(defaultValue);
}

/** A TCP port; 0 picks a free one. */
export function envPort(defaultValue: number) {
  return envInt(defaultValue, 0, 65535);
}

/** An optional string env var (empty string counts as unset). */
export function envOptionalString() {
  return z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === '' ? undefined : v));
}

type ObjectSchema = z.ZodObject<z.ZodRawShape>;

/**
 * Parses config from an env-like record (only the schema's keys are read) and freezes it.
 * @throws WattproofError CONFIG_INVALID listing every invalid key.
 */
export function loadConfig<S extends ObjectSchema>(schema: S, env: Record<string, string | undefined>): Readonly<z.output<S>> {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
    throw new WattproofError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, {
      statusCode: 500,
      details: { problems },
    });
  }
  return Object.freeze(parsed.data);
}

/** Config with some keys overridden by typed values (tests, in-process composition). */
export function configWith<S extends ObjectSchema>(schema: S, overrides: Partial<z.input<S>> = {}): Readonly<z.output<S>> {
  const parsed = schema.safeParse(overrides);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
    throw new WattproofError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, { statusCode: 500, details: { problems } });
  }
  return Object.freeze(parsed.data);
}

export interface ConfigKeyDoc {
  readonly key: string;
  readonly defaultValue: string;
  readonly description: string;
}

/** Lists a schema's keys with their defaults and descriptions, for the README table. */
export function describeConfig(schema: ObjectSchema): ConfigKeyDoc[] {
  return Object.entries(schema.shape).map(([key, field]) => {
    const description = (field as z.ZodType).description ?? '';
    let defaultValue = '';
    try {
      const out = (field as z.ZodType).safeParse(undefined);
      if (out.success && out.data !== undefined) defaultValue = JSON.stringify(out.data);
    } catch {
      defaultValue = '';
    }
    return { key, defaultValue, description };
  });
}

/** Renders config docs as a markdown table. */
export function configMarkdown(sections: ReadonlyArray<{ title: string; schema: ObjectSchema }>): string {
  const lines: string[] = [];
  // A key shared by several services (e.g. the data directory) is listed once, under the first.
  const seen = new Set<string>();
  for (const { title, schema } of sections) {
    lines.push(`#### ${title}`, '', '| key | default | meaning |', '| --- | --- | --- |');
    for (const d of describeConfig(schema)) {
      if (seen.has(d.key)) continue;
      seen.add(d.key);
      const def = d.defaultValue === '' ? '(unset)' : `\`${d.defaultValue.replace(/\|/g, '\\|')}\``;
      lines.push(`| \`${d.key}\` | ${def} | ${d.description.replace(/\|/g, '\\|')} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
