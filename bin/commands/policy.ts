/**
 * `wattproof policy`: settles an energy-savings policy period from verified savings (stored with
 * its claim file) and prices a guarantee on a meter's M&V baseline.
 */
import { parseArgs } from 'node:util';
import type { PricingRequest, SettlementRecord } from '@wattproof/analytics';
import type { Env } from '../runtime.js';
import { parseAsOf, runFinanceCommand, UsageError, withFinance } from './covenant.js';

const HELP = `Usage:
  wattproof policy settle --policy <id> --period <id> [--as-of <time>] [--refresh] [--json]
      Settles the period from the verified savings of the policy's meters (the newest M&V
      result whose reporting period is exactly the policy period; --refresh re-runs the
      meter's stored M&V definition over it first): shortfall = max(0, guaranteed - verified),
      payout = min(limit, max(0, shortfall x contract price - deductible)). Stores the
      claim file (finance.settlement). --as-of <ISO 8601 | epoch ms>: on what was recorded then.
  wattproof policy price --meter <site/building/meter> --guaranteed-kwh <kWh>
                         --price <CNY/kWh> --deductible <CNY> --limit <CNY>
                         [--loading 0.3] [--expense <CNY>] [--seed <n>] [--simulations <n>]
                         [--weather-years auto|station|typical|both]
                         [--expected-fraction <0..1>] [--as-of <time>] [--json]
      Prices one year's guarantee: the meter's latest M&V result (CalTRACK daily) is the
      baseline; weather years are the complete calendar years of its weather-station meter
      (station), the Chongqing typical year (typical), both, or auto (station years when
      there is one, else the typical year). Seeded Monte Carlo: same input, same numbers.
`;

const cny = (n: number) => `CNY ${n.toLocaleString('en-US', { maximumFractionDigits: 0 })}`;
const kwh = (n: number) => `${n.toLocaleString('en-US', { maximumFractionDigits: 0 })} kWh`;

/** The claim file in a few lines. */
export function describeSettlement(r: SettlementRecord): string[] {
  const b = r.body;
  const f = b.claim.figures;
  return [
    `Policy ${b.policyId}, period ${b.periodId} [${b.claim.period.from}, ${b.claim.period.to}), as of ${new Date(b.asOfMs).toISOString()} (asOfMs ${b.asOfMs})`,
    `  guaranteed ${kwh(f.guaranteedKwh)}, verified ${kwh(f.verifiedKwh)} ± ${kwh(b.claim.uncertainty.standardErrorKwh)} (1 SE)`,
    `  shortfall ${kwh(f.shortfallKwh)} x ${f.contractPriceCnyPerKwh} CNY/kWh = ${cny(f.grossLossCny)}; deductible ${cny(f.deductibleCny)}; limit ${cny(f.limitCny)}${f.limitReached ? ' (reached)' : ''}`,
    `  payout ${cny(f.payoutCny)}${b.claim.settleable ? '' : '  — NOT SETTLEABLE (see disqualifications)'}; P(true savings < guaranteed) ${(b.claim.uncertainty.probabilityTrueShortfall * 100).toFixed(1)} %`,
    ...[...b.claim.disqualifications, ...b.claim.warnings].map((x) => `  ${x.code}: ${x.message}`),
    `  stored as ${r.id}; lineage ${b.lineage.digest}`,
  ];
}

function number(name: string, value: string | undefined, required: boolean): number | undefined {
  if (value === undefined) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${value}`);
  return n;
}

export async function runPolicy(argv: string[], env: Env): Promise<number> {
  return runFinanceCommand('policy', HELP, async () => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        policy: { type: 'string' },
        period: { type: 'string' },
        'as-of': { type: 'string' },
        refresh: { type: 'boolean' },
        json: { type: 'boolean' },
        meter: { type: 'string' },
        'guaranteed-kwh': { type: 'string' },
        price: { type: 'string' },
        deductible: { type: 'string' },
        limit: { type: 'string' },
        loading: { type: 'string' },
        expense: { type: 'string' },
        seed: { type: 'string' },
        simulations: { type: 'string' },
        'weather-years': { type: 'string' },
        'expected-fraction': { type: 'string' },
      },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const [action, ...extra] = positionals;
    if ((action !== 'settle' && action !== 'price') || extra.length > 0) throw new UsageError(action ? `unknown action "${action}"` : 'an action is needed: settle or price');
    const out = (s: string) => void process.stdout.write(`${s}\n`);
    const asOfMs = parseAsOf(values['as-of']);

    if (action === 'settle') {
      if (!values.policy || !values.period) throw new UsageError('--policy and --period are required');
      const { record } = await withFinance(env, (f) => f.settlePolicyPeriod(values.policy!, values.period!, { ...(asOfMs !== undefined ? { asOfMs } : {}), refresh: values.refresh ?? false }));
      out(values.json ? JSON.stringify(record, null, 2) : describeSettlement(record).join('\n'));
      return 0;
    }

    const parts = (values.meter ?? '').split('/');
    if (parts.length !== 3 || parts.some((p) => p === '')) throw new UsageError('--meter <site/building/meter> is required');
    const weatherYears = values['weather-years'] ?? 'auto';
    if (!['auto', 'station', 'typical', 'both'].includes(weatherYears)) throw new UsageError('--weather-years must be auto, station, typical or both');
    const opt = (name: string, key: keyof PricingRequest) => {
      const v = number(name, values[name as keyof typeof values] as string | undefined, false);
      return v === undefined ? {} : { [key]: v };
    };
    const request = {
      site: parts[0]!,
      building: parts[1]!,
      meter: parts[2]!,
      guaranteedSavingsKwh: number('guaranteed-kwh', values['guaranteed-kwh'], true)!,
      contractPriceCnyPerKwh: number('price', values.price, true)!,
      deductibleCny: number('deductible', values.deductible, true)!,
      limitCny: number('limit', values.limit, true)!,
      weatherYears: weatherYears as 'auto',
      ...opt('loading', 'loading'),
      ...opt('expense', 'expenseCny'),
      ...opt('seed', 'seed'),
      ...opt('simulations', 'simulations'),
      ...opt('expected-fraction', 'expectedSavingsFraction'),
    } as PricingRequest;
    const q = await withFinance(env, (f) => f.pricePolicy(request, asOfMs !== undefined ? { asOfMs } : {}));
    if (values.json) {
      out(JSON.stringify(q, null, 2));
      return 0;
    }
    const p = q.pricing;
    out(`Guarantee of ${kwh(p.terms.guaranteedSavingsKwh)} a year on ${request.site}/${request.building}/${request.meter} at ${p.terms.contractPriceCnyPerKwh} CNY/kWh`);
    out(`  baseline: M&V result ${q.basis.resultId}; expected savings ${(q.basis.expectedSavingsFraction * 100).toFixed(1)} % (${q.basis.expectedSavingsFractionSource})`);
    out(`  weather years (${q.basis.weatherYearsSource}): ${p.weatherYears.map((y) => y.id).join(', ')}`);
    out(`  verified savings: P50 ${kwh(p.savings.P50)}, P90 ${kwh(p.savings.P90)}; P(shortfall) ${(p.probabilityOfShortfall * 100).toFixed(1)} %`);
    out(`  expected loss ${cny(p.expectedLossCny)}; indicative premium ${cny(p.indicativePremiumCny)} (loading ${p.loading}, expense ${cny(p.expenseCny)})`);
    out(`  ${p.simulation.draws} draws, seed ${p.simulation.seed}; lineage ${p.lineage.digest}`);
    return 0;
  });
}
