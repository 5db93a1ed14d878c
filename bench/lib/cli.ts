/**
 * The command line of one benchmark: its options as `node:util` parseArgs takes them, each with a
 * one-line description, so `npm run bench -- <name> --help` is written from the same spec that
 * parses the arguments and cannot leave an option out.
 */
import { parseArgs } from 'node:util';

interface OptionText {
  /** One line: what the option sets, with its unit. The default is appended from `default`. */
  readonly description: string;
  readonly short?: string;
}
/** One option: parseArgs' `type`, `default`, `short` and `multiple`, plus its text in the usage. */
export type BenchOption =
  | (OptionText & { readonly type: 'string'; /** The value in the usage: N, S, FILE, R,R,... */ readonly placeholder: string; readonly default?: string | string[]; readonly multiple?: boolean })
  | (OptionText & { readonly type: 'boolean'; readonly default?: boolean; readonly multiple?: boolean });
export type BenchOptions = Readonly<Record<string, BenchOption>>;

export interface BenchCli<T extends BenchOptions = BenchOptions> {
  /** The name `npm run bench -- <name>` takes (bench/run.ts). */
  readonly name: string;
  /** What the benchmark measures and prints, a line or three. */
  readonly summary: string;
  readonly options: T;
}

/** Declares a benchmark's command line; `const` keeps the literal types parseArgs needs to type the values. */
export function defineBench<const T extends BenchOptions>(cli: BenchCli<T>): BenchCli<T> {
  return cli;
}

/** The values parseArgs (strict, no positionals) returns for these options: a string or boolean each, present when it has a default. */
export type BenchValues<T extends BenchOptions> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>>['values'];

/** A benchmark's arguments are wrong: bench/run.ts prints the message and exits 2, with no stack trace. */
export class BenchUsageError extends Error {
  readonly code = 'BENCH_USAGE';
  override readonly name = 'BenchUsageError';
}

const HELP = { type: 'boolean', short: 'h' } as const;

/** The text of `--help`: usage, summary, then every option with its value, description and default, aligned. */
export function benchUsage(cli: BenchCli): string {
  const rows = Object.entries(cli.options).map(([name, o]): [string, string] => {
    const shown = o.default === undefined || o.default === false || o.default === '' ? '' : ` (default ${String(o.default)})`;
    return [`${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.placeholder}` : ''}`, `${o.description}${shown}${o.multiple ? ' (repeatable)' : ''}`];
  });
  rows.push(['-h, --help', 'print this text and run nothing']);
  const width = Math.max(...rows.map(([left]) => left.length));
  return `Usage: npm run bench -- ${cli.name} [options]

${cli.summary}

Options:
${rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`).join('\n')}

How it measures, and why: the header comment of bench/${cli.name}.ts.
`;
}

/**
 * When argv asks for --help (or -h), prints the usage to stdout and returns true: the benchmark
 * then runs nothing. Looked for before the strict parse, so `--help` wins over a wrong option
 * next to it; a value that happens to be "-h" (`--baseline=-h`) is not a request for help. Apart
 * from parseBenchArgs so that a bench's exported parse function (parseBrokerBenchArgs, ...) keeps
 * returning its options: main asks this first and returns when it is true.
 */
export function showBenchHelp(cli: BenchCli, argv: readonly string[]): boolean {
  const { tokens } = parseArgs({ args: [...argv], options: { ...cli.options, help: HELP }, strict: false, allowPositionals: true, tokens: true });
  if (!tokens.some((t) => t.kind === 'option' && t.name === 'help')) return false;
  process.stdout.write(benchUsage(cli));
  return true;
}

/**
 * Parses argv strictly against the benchmark's options. parseArgs' own errors (an unknown option,
 * a missing value, a positional) are thrown as BenchUsageErrors.
 */
export function parseBenchArgs<const T extends BenchOptions>(cli: BenchCli<T>, argv: readonly string[]): BenchValues<T> {
  try {
    return parseArgs({ args: [...argv], options: cli.options, strict: true, allowPositionals: false }).values as BenchValues<T>;
  } catch (err) {
    throw asBenchUsageError(err) ?? err;
  }
}

/**
 * err as a usage error: itself, or node:util parseArgs' own (a TypeError with an ERR_PARSE_ARGS_*
 * code), its message on one line; undefined for any other error.
 */
export function asBenchUsageError(err: unknown): BenchUsageError | undefined {
  if (err instanceof BenchUsageError) return err;
  if (err instanceof TypeError && String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_')) return new BenchUsageError(err.message.replace(/\s*\n\s*/g, ' '), { cause: err });
  return undefined;
}
