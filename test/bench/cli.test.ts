/**
 * bench/lib/cli.ts and bench/run.ts: every benchmark's --help, written from the option spec that
 * parses its arguments, and usage errors as one line and exit code 2 instead of a stack trace.
 * The child-process tests only ask for help or give wrong arguments: no benchmark runs.
 */
import { readdir } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { asBenchUsageError, benchUsage, BenchUsageError, defineBench, parseBenchArgs, showBenchHelp, type BenchCli } from '../../bench/lib/cli.js';
import { runNode, type RunResult } from '../support/processes.js';
import { captureStdout } from '../support/stdout.js';

/** `npm run bench -- ...args` as npm runs it, minus npm: bench/run.ts under tsx's loader. */
function bench(...args: string[]): Promise<RunResult> {
  return runNode(['--import', 'tsx', 'bench/run.ts', ...args], {}, 120_000);
}

const sample = defineBench({
  name: 'sample',
  summary: 'A sample benchmark.',
  options: {
    rates: { type: 'string', placeholder: 'R,R,...', default: '5000,10000', description: 'target messages/s' },
    json: { type: 'string', placeholder: 'FILE', description: 'also write JSON' },
    pin: { type: 'boolean', default: false, description: 'pin to CPUs' },
    peer: { type: 'string', placeholder: 'P', multiple: true, description: 'adds a peer' },
    verbose: { type: 'boolean', short: 'v', description: 'say more' },
  },
});

describe('bench/lib/cli.ts', () => {
  it('writes the usage from the spec: every option with its value, description and default, aligned', () => {
    const usage = benchUsage(sample);
    expect(usage).toMatch(/^Usage: npm run bench -- sample \[options\]\n\nA sample benchmark\.\n/);
    const lines = usage.split('\n');
    const line = (option: string) => lines.find((l) => l.includes(` ${option}`)) ?? '';
    expect(line('--rates')).toMatch(/--rates R,R,\.\.\. +target messages\/s \(default 5000,10000\)$/);
    expect(line('--json')).toMatch(/--json FILE +also write JSON$/);
    // A boolean off by default has no "(default false)" to show.
    expect(line('--pin')).toMatch(/--pin +pin to CPUs$/);
    expect(line('--peer')).toMatch(/--peer P +adds a peer \(repeatable\)$/);
    expect(line('--verbose')).toMatch(/^ {2}-v, --verbose +say more$/);
    expect(line('--help')).toMatch(/^ {2}-h, --help +print this text and run nothing$/);
    // Every description starts in the same column.
    const columns = ['--rates', '--json', '--pin', '--peer', '--verbose', '--help'].map((o) => /^ *\S.*?\S {2,}(?=\S)/.exec(line(o))![0].length);
    expect(new Set(columns).size).toBe(1);
  });

  it('prints the usage for --help or -h and says so; a value that is "-h" is not a request for help', async () => {
    for (const argv of [['--help'], ['-h'], ['--rates', '1', '-h'], ['--nope', '--help']]) {
      let shown = false;
      const out = await captureStdout(async () => void (shown = showBenchHelp(sample, argv)));
      expect(shown).toBe(true);
      expect(out).toBe(benchUsage(sample));
    }
    for (const argv of [[], ['--json', 'x'], ['--json=-h'], ['--nope']]) {
      let shown = true;
      const out = await captureStdout(async () => void (shown = showBenchHelp(sample, argv)));
      expect(shown).toBe(false);
      expect(out).toBe('');
    }
  });

  it('returns the values typed and defaulted as parseArgs does', () => {
    const v = parseBenchArgs(sample, ['--json', 'out.json', '--peer', 'a', '--peer', 'b', '-v']);
    expect(v).toEqual({ rates: '5000,10000', json: 'out.json', pin: false, peer: ['a', 'b'], verbose: true });
    const none = parseBenchArgs(sample, []);
    expect(none).toEqual({ rates: '5000,10000', pin: false });
    // The types parseArgs gives: a default makes the value always present.
    const rates: string = none.rates;
    const json: string | undefined = none.json;
    const peers: string[] | undefined = none.peer;
    expect([rates, json, peers]).toEqual(['5000,10000', undefined, undefined]);
  });

  it('throws a BenchUsageError, on one line, for what parseArgs refuses', () => {
    const refused = (argv: string[]) => {
      try {
        parseBenchArgs(sample, argv);
      } catch (err) {
        return err;
      }
      throw new Error(`accepted ${argv.join(' ')}`);
    };
    for (const [argv, message] of [
      [['--nope'], "Unknown option '--nope'"],
      [['--json'], "Option '--json <value>' argument missing"],
      [['positional'], /Unexpected argument 'positional'/],
      [['--rates', '-5'], /^Option '--rates' argument is ambiguous\. .*'--rates=-XYZ'\.$/],
      [['--help'], "Unknown option '--help'"],
    ] as const) {
      const err = refused([...argv]);
      expect(err).toBeInstanceOf(BenchUsageError);
      expect((err as BenchUsageError).code).toBe('BENCH_USAGE');
      expect((err as BenchUsageError).message).toMatch(message);
      expect((err as BenchUsageError).message).not.toContain('\n');
    }
  });

  it('takes only usage errors as usage errors', () => {
    const own = new BenchUsageError('--x must be positive');
    expect(asBenchUsageError(own)).toBe(own);
    expect(asBenchUsageError(new TypeError('x is not a function'))).toBeUndefined();
    expect(asBenchUsageError(new Error('--x must be positive'))).toBeUndefined();
    expect(asBenchUsageError('text')).toBeUndefined();
  });
});

/** The benchmarks `npm run bench -- --help` lists. */
function listed(usage: string): string[] {
  const rows = /\nBenchmarks:\n((?: {2}.+\n)+)/.exec(usage)?.[1]?.trimEnd().split('\n') ?? [];
  for (const row of rows) expect(row).toMatch(/^ {2}[a-z-]+ {2,}\S/);
  return rows.map((row) => row.trim().split(/\s+/)[0]!);
}

describe('npm run bench -- ... --help', () => {
  let names: string[] = [];
  beforeAll(async () => {
    names = listed((await bench('--help')).stdout);
  });

  it('lists every benchmark in bench/ with a summary, and how to see its options', async () => {
    const r = await bench('-h');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain("Run 'npm run bench -- <name> --help'");
    expect(listed(r.stdout)).toEqual(names);
    // Every bench/*.ts but the dispatcher is registered.
    const files = (await readdir(new URL('../../bench/', import.meta.url))).filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.slice(0, -3));
    expect([...names].sort()).toEqual(files.sort());
  });

  it('refuses an unknown benchmark with the list and exit code 2', async () => {
    const r = await bench('nope');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^bench: unknown benchmark "nope"\n/);
    expect(r.stderr).toContain('\n  session-queue ');
  });

  it("prints each benchmark's usage, naming every option of its spec with its description, and runs nothing", async () => {
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) {
      const { CLI } = (await import(`../../bench/${name}.ts`)) as { CLI: BenchCli };
      expect(CLI.name).toBe(name);
      const r = await bench(name, '--help');
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toBe('');
      // Exactly the usage: a benchmark that had started would have printed its command line first.
      expect(r.stdout).toBe(benchUsage(CLI));
      expect(Object.keys(CLI.options).length).toBeGreaterThan(0);
      for (const [option, spec] of Object.entries(CLI.options)) {
        expect(typeof spec.description === 'string' && /^\S[^\n]*$/.test(spec.description), `${name} --${option} has a one-line description`).toBe(true);
        const line = r.stdout.split('\n').find((l) => new RegExp(`^ {2}(?:-\\w, | {4})--${option}(?: |$)`).test(l)) ?? '';
        expect(line, `${name} --${option}`).toContain(spec.description);
        if (spec.type === 'string') expect(line).toContain(`--${option} ${spec.placeholder} `);
        if (typeof spec.default === 'string' && spec.default !== '') expect(line).toContain(`(default ${spec.default})`);
      }
    }
  }, 180_000);

  it('ends a wrong option or value with one line and exit code 2, not a stack trace', async () => {
    for (const [args, message] of [
      [['--rates', '-5'], "bench broker: Option '--rates' argument is ambiguous. Did you forget to specify the option argument for '--rates'? To specify an option argument starting with a dash use '--rates=-XYZ'."],
      [['--rates=-5'], 'bench broker: --rates must be a positive number, not -5'],
      [['--nope'], "bench broker: Unknown option '--nope'"],
      [['--brokers', 'emqx'], 'bench broker: --brokers takes gateway, mosquitto, aedes, baseline'],
    ] as const) {
      const r = await bench('broker', ...args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(`${message}\nRun 'npm run bench -- broker --help'.\n`);
      expect(r.stderr).not.toContain('    at ');
      expect(r.stdout).toBe('');
    }
  }, 60_000);
});

describe('npm run bench -- ingest --count-by and --ingest-env', () => {
  it('counts InfluxDB steps by points written unless told to SELECT count() per poll, and refuses anything else', async () => {
    const { parseIngestBenchArgs } = await import('../../bench/ingest.js');
    expect(parseIngestBenchArgs([]).countBy).toBe('points-written');
    expect(parseIngestBenchArgs(['--count-by', 'select-count']).countBy).toBe('select-count');
    expect(() => parseIngestBenchArgs(['--count-by', 'rows'])).toThrow(new BenchUsageError('--count-by takes points-written or select-count, not rows'));
  });
  it('takes the ingest environment as NAME=VALUE pairs, the last of a name winning, and refuses anything else', async () => {
    const { parseIngestBenchArgs } = await import('../../bench/ingest.js');
    expect(parseIngestBenchArgs([]).ingestEnv).toEqual({});
    expect(parseIngestBenchArgs(['--ingest-env', 'INGEST_BATCH_MAX_READINGS=20000', '--ingest-env', 'LOG_LEVEL=a=b', '--ingest-env', 'INGEST_BATCH_MAX_READINGS=1']).ingestEnv).toEqual({
      INGEST_BATCH_MAX_READINGS: '1',
      LOG_LEVEL: 'a=b',
    });
    expect(() => parseIngestBenchArgs(['--ingest-env', '=1'])).toThrow(new BenchUsageError('--ingest-env takes NAME=VALUE, not =1'));
    expect(() => parseIngestBenchArgs(['--ingest-env', 'NOVALUE'])).toThrow(new BenchUsageError('--ingest-env takes NAME=VALUE, not NOVALUE'));
  });
});
