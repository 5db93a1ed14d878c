/**
 * `wattproof finance`: loads parties, building profiles, loans (with covenants), loan balances
 * and insurance policies from a YAML or JSON file into the finance registry, and lists what the
 * registry holds — now or as of a past time.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  buildingProfileSchema,
  FINANCE_MAX_TEXT_LENGTH,
  financeIssues,
  loanBalanceSchema,
  loanSchema,
  loadConfig,
  partySchema,
  policySchema,
  type FinanceIssue,
  type FinanceWriteResult,
} from '@wattproof/core';
import { createRegistryStore, registryConfigSchema, type RegistryAndFinanceStore } from '@wattproof/gateway/registry';
import type { Env } from '../runtime.js';

const HELP = `Usage:
  wattproof finance load <file.yaml|file.json> [--dry-run]
      Validates the whole file, then stores its entries in this order: parties,
      buildingProfiles, loans, loanBalances, policies. An entry equal to what the registry
      holds stores nothing; a changed one becomes a new version (nothing is overwritten).
      --dry-run validates only. Example: docs/examples/finance.yaml; fields:
      docs/finance-registry.md.
  wattproof finance list [--as-of <ISO 8601 time>]
      Prints the current parties, building profiles, loans, balances and policies, or what
      the registry knew at that time.

The registry is REGISTRY_POSTGRES_URL when set, else the embedded files in
WATTPROOF_DATA_DIR (default ./data).
`;

/** The sections of a finance file, in the order they are stored (later ones refer to earlier ones). */
export const FINANCE_FILE_SECTIONS = ['parties', 'buildingProfiles', 'loans', 'loanBalances', 'policies'] as const;
type Section = (typeof FINANCE_FILE_SECTIONS)[number];

const SECTION_SCHEMAS: Record<Section, z.ZodType> = {
  parties: partySchema,
  buildingProfiles: buildingProfileSchema,
  loans: loanSchema,
  loanBalances: loanBalanceSchema,
  policies: policySchema,
};

const fileSchema = z.strictObject(Object.fromEntries(FINANCE_FILE_SECTIONS.map((s) => [s, z.array(z.unknown()).optional()])) as Record<Section, z.ZodOptional<z.ZodArray<z.ZodUnknown>>>);

export type FinanceFile = Partial<Record<Section, unknown[]>>;

/** Parses a finance file's text (YAML, which includes JSON) and validates every entry; all problems are listed with their paths. */
export function parseFinanceFile(text: string): { ok: true; file: FinanceFile } | { ok: false; issues: FinanceIssue[] } {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    return { ok: false, issues: [{ path: '', message: `not YAML or JSON: ${(err as Error).message.split('\n')[0]}` }] };
  }
  const top = fileSchema.safeParse(raw ?? {});
  if (!top.success) return { ok: false, issues: financeIssues(top.error) };
  const issues: FinanceIssue[] = [];
  for (const section of FINANCE_FILE_SECTIONS) {
    (top.data[section] ?? []).forEach((entry, i) => {
      const parsed = SECTION_SCHEMAS[section].safeParse(entry);
      if (!parsed.success) {
        for (const issue of financeIssues(parsed.error)) issues.push({ path: `${section}[${i}]${issue.path === '' ? '' : issue.path.startsWith('[') ? issue.path : `.${issue.path}`}`, message: issue.message });
      }
    });
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, file: top.data };
}

function describeWrite(what: string, r: FinanceWriteResult<unknown>): string {
  return `  ${what}: version ${r.version}${r.created ? ' (new)' : ' (unchanged)'}`;
}

async function load(registry: RegistryAndFinanceStore, file: FinanceFile, source: string, print: (line: string) => void): Promise<{ created: number; unchanged: number }> {
  const options = () => ({ recordedAtMs: Date.now(), source });
  let created = 0;
  let unchanged = 0;
  const count = (r: FinanceWriteResult<unknown>) => (r.created ? (created += 1) : (unchanged += 1));
  for (const p of file.parties ?? []) {
    const r = await registry.putParty(p as never, options());
    count(r);
    print(describeWrite(`party ${r.value.id}`, r));
  }
  for (const p of file.buildingProfiles ?? []) {
    const r = await registry.putBuildingProfile(p as never, options());
    count(r);
    print(describeWrite(`building profile ${r.value.site}/${r.value.building} from ${r.value.effectiveFrom}`, r));
  }
  for (const l of file.loans ?? []) {
    const r = await registry.putLoan(l as never, options());
    count(r);
    print(describeWrite(`loan ${r.value.id} (${r.value.covenants.length} covenant${r.value.covenants.length === 1 ? '' : 's'})`, r));
  }
  for (const b of file.loanBalances ?? []) {
    const r = await registry.putLoanBalance(b as never, options());
    count(r);
    print(describeWrite(`balance of ${r.value.loanId} from ${r.value.effectiveFrom}`, r));
  }
  for (const p of file.policies ?? []) {
    const r = await registry.putPolicy(p as never, options());
    count(r);
    print(describeWrite(`policy ${r.value.id} (${r.value.periods.length} period${r.value.periods.length === 1 ? '' : 's'})`, r));
  }
  return { created, unchanged };
}

const cny = (n: number) => `CNY ${n.toLocaleString('en-US')}`;

async function list(registry: RegistryAndFinanceStore, asOfMs: number | undefined, print: (line: string) => void): Promise<void> {
  const q = asOfMs === undefined ? {} : { asOfMs };
  print(asOfMs === undefined ? 'Finance registry (current):' : `Finance registry as of ${new Date(asOfMs).toISOString()}:`);
  const parties = await registry.listParties(q);
  print(`parties (${parties.length}):`);
  for (const { value: p, version } of parties) print(`  ${p.id}  ${p.name}${p.nameZh ? ` (${p.nameZh})` : ''}  [${p.roles.join(', ')}]  v${version}`);
  const profiles = await registry.listBuildingProfiles(q);
  print(`building profiles (${profiles.length}):`);
  for (const { value: b, version } of profiles) {
    print(`  ${b.site}/${b.building} from ${b.effectiveFrom}  ${b.type}, ${b.floorAreaM2.toLocaleString('en-US')} m²${b.label ? `, ${b.label.level} ${b.label.kind} label until ${b.label.validTo}` : ''}  v${version}`);
  }
  const loans = await registry.listLoans(q);
  print(`loans (${loans.length}):`);
  for (const { value: l, version } of loans) {
    print(`  ${l.id}  ${l.kind} from ${l.lender} to ${l.borrower}, ${l.originationDate} to ${l.maturityDate}, margin ${l.baseMarginBp} bp  v${version}`);
    for (const c of l.covenants) print(`    covenant ${c.id}: ${c.kpi} ${c.operator} ${c.threshold}, ${c.schedule.frequency} from ${c.schedule.firstTestDate}`);
    for (const { value: b } of await registry.loanBalances(l.id, q)) print(`    outstanding from ${b.effectiveFrom}: ${cny(b.outstandingCny)}`);
  }
  const policies = await registry.listPolicies(q);
  print(`policies (${policies.length}):`);
  for (const { value: p, version } of policies) {
    print(`  ${p.id}  ${p.insurer} insures ${p.insured}, ${p.effectiveFrom} to ${p.effectiveTo}, ${p.periods.length} periods at ${p.contractPriceCnyPerKwh} CNY/kWh, limit ${cny(p.limitCny)}  v${version}`);
  }
}

export async function runFinance(argv: string[], env: Env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, 'dry-run': { type: 'boolean' }, 'as-of': { type: 'string' } },
  });
  const [action, target, ...extra] = positionals;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (extra.length > 0 || (action !== 'load' && action !== 'list') || (action === 'load' && !target) || (action === 'list' && target)) {
    process.stderr.write(HELP);
    return 2;
  }
  const print = (line: string) => void process.stdout.write(`${line}\n`);

  if (action === 'list') {
    let asOfMs: number | undefined;
    if (values['as-of'] !== undefined) {
      asOfMs = Date.parse(values['as-of']);
      if (!Number.isSafeInteger(asOfMs)) {
        process.stderr.write(`--as-of must be an ISO 8601 time, e.g. 2026-09-30T23:59:59+08:00 (got ${values['as-of']})\n`);
        return 2;
      }
    }
    const registry = createRegistryStore(loadConfig(registryConfigSchema, env));
    try {
      await registry.init();
      await list(registry, asOfMs, print);
      return 0;
    } finally {
      await registry.close();
    }
  }

  const path = target!;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    process.stderr.write(`cannot read ${path}: ${(err as Error).message}\n`);
    return 1;
  }
  const parsed = parseFinanceFile(text);
  if (!parsed.ok) {
    process.stderr.write(`REGISTRY_FINANCE_INVALID: ${path} has ${parsed.issues.length} problem${parsed.issues.length === 1 ? '' : 's'}; nothing was stored:\n`);
    for (const i of parsed.issues) process.stderr.write(`  ${i.path || '(file)'}: ${i.message}\n`);
    return 1;
  }
  const entries = FINANCE_FILE_SECTIONS.reduce((n, s) => n + (parsed.file[s]?.length ?? 0), 0);
  if (values['dry-run']) {
    print(`${path}: ${entries} entries valid (dry run: nothing stored)`);
    return 0;
  }
  const registry = createRegistryStore(loadConfig(registryConfigSchema, env));
  try {
    await registry.init();
    print(`Loading ${path} into the ${registry.name} registry:`);
    const source = `finance load ${path}`.slice(0, FINANCE_MAX_TEXT_LENGTH);
    const { created, unchanged } = await load(registry, parsed.file, source, print);
    print(`Done: ${created} new version${created === 1 ? '' : 's'}, ${unchanged} unchanged.`);
    return 0;
  } finally {
    await registry.close();
  }
}
