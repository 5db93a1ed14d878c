/**
 * `wattproof portfolio`: a bank's building loans under PCAF (financed emissions, intensity,
 * weighted data-quality score, green share, trend; JR/T 0227 rows as CSV or JSON) and an
 * insurer's policies (settled, due and open periods, paid claims, pricing of the open ones).
 */
import { parseArgs } from 'node:util';
import { jrt0227Csv } from '@wattproof/analytics';
import type { Env } from '../runtime.js';
import { parseAsOf, runFinanceCommand, UsageError, withFinance } from './covenant.js';

const HELP = `Usage:
  wattproof portfolio lender --party <bank> [--year YYYY] [--as-of <time>] [--json]
  wattproof portfolio lender --party <bank> [--year YYYY] [--as-of <time>] --jrt0227 csv|json
      Financed emissions of the bank's loans in the reporting year (default: last year):
      per loan and in total, tCO2e per million CNY and per m², the PCAF data-quality score
      weighted by outstanding, the green-loan share, and the trend of the last years.
      Metered energy: each building's main meter over the local calendar year. --jrt0227
      prints the rows of the annual JR/T 0227-2021 disclosure instead.
  wattproof portfolio insurer --party <insurer> [--as-of <time>] [--json]
      The insurer's policies: each period settled, due, open or future; paid claims, loss
      ratio; the pricing of each policy's open period.
`;

const fmt = (n: number | null, digits = 1) => (n === null ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: digits }));

export async function runPortfolio(argv: string[], env: Env): Promise<number> {
  return runFinanceCommand('portfolio', HELP, async () => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, party: { type: 'string' }, year: { type: 'string' }, 'as-of': { type: 'string' }, json: { type: 'boolean' }, jrt0227: { type: 'string' } },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const [action, ...extra] = positionals;
    if ((action !== 'lender' && action !== 'insurer') || extra.length > 0) throw new UsageError(action ? `unknown portfolio "${action}"` : 'say which portfolio: lender or insurer');
    if (!values.party) throw new UsageError('--party is required');
    const party = values.party;
    const asOfMs = parseAsOf(values['as-of']);
    const asOf = asOfMs !== undefined ? { asOfMs } : {};
    const out = (s: string) => void process.stdout.write(`${s}\n`);

    if (action === 'lender') {
      const year = values.year === undefined ? new Date(Date.now() + 8 * 3_600_000).getUTCFullYear() - 1 : Number(values.year);
      if (!Number.isInteger(year) || year < 1900 || year > 2999) throw new UsageError(`--year must be a calendar year, got ${values.year}`);
      if (values.jrt0227 !== undefined) {
        if (values.jrt0227 !== 'csv' && values.jrt0227 !== 'json') throw new UsageError('--jrt0227 takes csv or json');
        const rows = await withFinance(env, (f) => f.jrt0227Export(party, year, asOf));
        process.stdout.write(values.jrt0227 === 'csv' ? jrt0227Csv(rows.rows) : `${JSON.stringify(rows, null, 2)}\n`);
        return 0;
      }
      const p = await withFinance(env, (f) => f.lenderPortfolio(party, { year, ...asOf }));
      if (values.json) {
        out(JSON.stringify(p, null, 2));
        return 0;
      }
      const t = p.report.totals;
      out(`${p.lender.name} (${p.lender.id}): building loans in ${p.year}, as of ${new Date(p.asOfMs).toISOString()} (asOfMs ${p.asOfMs})`);
      out(`  ${t.loans} loans, outstanding CNY ${fmt(t.outstandingCny, 0)}; financed emissions ${fmt(t.financedEmissionsTco2e, 2)} tCO2e`);
      out(`  intensity ${fmt(t.intensityTco2ePerMillionCny, 3)} tCO2e per million CNY, ${fmt(t.intensityKgco2ePerM2, 2)} kgCO2e/m²; PCAF score (weighted) ${fmt(t.weightedScore, 2)}`);
      const g = p.report.greenLoans;
      out(`  green loans ${g.share === null ? '—' : `${(g.share * 100).toFixed(1)} %`} of outstanding${g.target ? ` (target ${(g.target.share * 100).toFixed(0)} %, ${g.target.id}${g.target.confirmed ? '' : ', unconfirmed'})` : ''}`);
      for (const l of p.report.loans) out(`  ${l.loanId.padEnd(24)} ${l.kind.padEnd(28)} attribution ${l.attribution.toFixed(3)}  FE ${fmt(l.financedEmissionsTco2e, 2)} tCO2e  score ${l.score}`);
      out(`  trend: ${p.trend.map((r) => `${r.year} ${fmt(r.intensityTco2ePerMillionCny, 3)}`).join(' · ')} (tCO2e per million CNY)`);
      for (const w of [...p.report.warnings, ...p.warnings]) out(`  ${w.code}: ${w.message}`);
      return 0;
    }

    if (values.year !== undefined || values.jrt0227 !== undefined) throw new UsageError('insurer takes --party, --as-of and --json only');
    const p = await withFinance(env, (f) => f.insurerPortfolio(party, asOf));
    if (values.json) {
      out(JSON.stringify(p, null, 2));
      return 0;
    }
    out(`${p.insurer.name} (${p.insurer.id}): ${p.totals.policies} policies as of ${new Date(p.asOfMs).toISOString()} (asOfMs ${p.asOfMs})`);
    out(`  premiums CNY ${fmt(p.totals.premiumCny, 0)}; paid CNY ${fmt(p.totals.paidCny, 0)} on ${p.totals.settledPeriods} settled periods; loss ratio ${p.totals.lossRatio === null ? '—' : `${(p.totals.lossRatio * 100).toFixed(1)} %`}; open limits CNY ${fmt(p.totals.openLimitCny, 0)}`);
    for (const pol of p.policies) {
      out(`  ${pol.id} (insured ${pol.insured})`);
      for (const x of pol.periods) out(`    ${x.periodId.padEnd(10)} [${x.from}, ${x.to})  ${x.state.padEnd(8)}${x.payoutCny !== null ? `  verified ${fmt(x.verifiedKwh, 0)} kWh, payout CNY ${fmt(x.payoutCny, 0)}` : ''}`);
    }
    if (p.pricing) out(`  open periods priced: expected loss CNY ${fmt(p.pricing.expectedLossCny, 0)}, aggregate loss p90 CNY ${fmt(p.pricing.aggregateLoss.p90, 0)}, indicative premium CNY ${fmt(p.pricing.indicativePremiumCny, 0)}`);
    for (const w of p.warnings) out(`  ${w.code}: ${w.message}`);
    return 0;
  });
}
