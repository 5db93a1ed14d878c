/**
 * Insurance (`#/finance/insurer`): the signed-in insurer's book — totals, loss ratio and the
 * priced open periods — each policy's periods with guaranteed vs verified savings (90 % band),
 * shortfall, payout and state, "Settle period", the signed pack of a period; and a pricing form
 * that quotes a guarantee on a meter (P50/P90, probability of shortfall, expected loss,
 * indicative premium) with the quantiles of the simulated savings.
 */
import { useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { Figure } from '../components/figure.js';
import { Loading, LoadError } from '../components/status.js';
import { UPlot, valueAxis } from '../components/uplot.js';
import { useI18n, type I18n, type MessageKey } from '../i18n.js';
import { authJson, useAuthResource, type InsurerPeriodRow, type InsurerPortfolio, type MeterRef, type Policy, type PricingQuote, type Settlement, type Version, type Whoami } from '../finance/api.js';
import { SignInPrompt, useAuth } from '../auth.js';
import { ActionStatus, cny, errorText, Figures, Findings, PackButtons, StatusBadge, type ActionMessage } from '../finance/common.js';

const kwh = (i18n: I18n, v: number | null | undefined) => (v === null || v === undefined ? i18n.t('none') : `${i18n.num(v, 0)} kWh`);

export function InsurerPage(props: { packs: boolean }) {
  const i18n = useI18n();
  const auth = useAuth();
  const who = auth.identity;
  return (
    <>
      <h1>{i18n.t('insurer.title')}</h1>
      <p class="lead">{i18n.t('insurer.intro')}</p>
      {auth.checking ? <Loading /> : !who || !auth.key ? <SignInPrompt what={i18n.t('insurer.title')} /> : <InsurerBody who={who} apiKey={auth.key} packs={props.packs} />}
    </>
  );
}

function InsurerBody(props: { who: Whoami; apiKey: string; packs: boolean }) {
  const i18n = useI18n();
  const { who, apiKey } = props;
  const insurer = who.role === 'insurer' ? who.party : null;
  const policiesPath = insurer ? `/api/v1/finance/policies?insurer=${encodeURIComponent(insurer)}` : who.role === 'admin' ? '/api/v1/finance/policies' : null;
  const policies = useAuthResource<{ policies: Version<Policy>[] }>(apiKey, policiesPath);
  const book = useAuthResource<InsurerPortfolio>(apiKey, insurer ? `/api/v1/finance/portfolio/insurer/${encodeURIComponent(insurer)}` : null);
  if (!policiesPath) {
    return (
      <div class="notice not-permitted" data-not-permitted>
        <h2>{i18n.t('finance.notPermitted')}</h2>
        <p>{i18n.t('finance.notPermittedBody', { role: i18n.label('apiRole', who.role), what: i18n.t('insurer.what') })}</p>
      </div>
    );
  }
  const rowsOf = (id: string): InsurerPeriodRow[] | undefined => book.data?.policies.find((p) => p.id === id)?.periods;
  return (
    <>
      {insurer && <BookPanel book={book.data} error={book.error} retry={book.reload} />}
      <section aria-labelledby="policies-h">
        <h2 id="policies-h">{i18n.t('insurer.policies')}</h2>
        {policies.error ? (
          <LoadError what={i18n.t('insurer.policies')} error={policies.error} retry={policies.reload} />
        ) : !policies.data ? (
          <Loading />
        ) : policies.data.policies.length === 0 ? (
          <p class="notice" data-empty>
            {i18n.t('insurer.none')}
          </p>
        ) : (
          policies.data.policies.map((p) => <PolicyPanel key={p.value.id} apiKey={apiKey} policy={p.value} rows={rowsOf(p.value.id)} packs={props.packs} onSettled={book.reload} />)
        )}
      </section>
      {policies.data && <PricingForm apiKey={apiKey} policies={policies.data.policies.map((p) => p.value)} />}
    </>
  );
}

function BookPanel(props: { book: InsurerPortfolio | undefined; error: Error | undefined; retry: () => void }) {
  const i18n = useI18n();
  const b = props.book;
  return (
    <section class="panel" aria-labelledby="book-h" data-book>
      <h2 id="book-h">{b ? i18n.t('book.title', { name: b.insurer.name }) : i18n.t('book.titleShort')}</h2>
      {props.error ? (
        <LoadError what={i18n.t('book.titleShort')} error={props.error} retry={props.retry} />
      ) : !b ? (
        <Loading />
      ) : (
        <>
          <Figures
            items={[
              { label: i18n.t('book.policies'), value: i18n.num(b.totals.policies, 0) },
              { label: i18n.t('book.premium'), value: cny(i18n, b.totals.premiumCny) },
              { label: i18n.t('book.paid'), value: cny(i18n, b.totals.paidCny), note: i18n.t('book.settledPeriods', { n: b.totals.settledPeriods }) },
              { label: i18n.t('book.lossRatio'), value: b.totals.lossRatio === null ? i18n.t('none') : i18n.pct(b.totals.lossRatio, 0), attr: 'loss-ratio' },
              { label: i18n.t('book.openLimit'), value: cny(i18n, b.totals.openLimitCny) },
              ...(b.pricing
                ? [
                    { label: i18n.t('book.expectedLoss'), value: cny(i18n, b.pricing.expectedLossCny), note: i18n.t('book.expectedLossNote', { p90: cny(i18n, b.pricing.aggregateLoss.p90) }) },
                    { label: i18n.t('book.indicativePremium'), value: cny(i18n, b.pricing.indicativePremiumCny), note: i18n.t('book.pricedPeriods', { n: b.pricing.policies }) },
                  ]
                : []),
            ]}
          />
          <Findings title={i18n.t('finance.warnings')} findings={b.warnings} tone="warn" />
        </>
      )}
    </section>
  );
}

function PolicyPanel(props: { apiKey: string; policy: Policy; rows: InsurerPeriodRow[] | undefined; packs: boolean; onSettled: () => void }) {
  const i18n = useI18n();
  const p = props.policy;
  const base = `/api/v1/finance/policies/${encodeURIComponent(p.id)}`;
  const settlements = useAuthResource<{ settlements: Settlement[] }>(props.apiKey, `${base}/settlements?limit=200`);
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<ActionMessage | null>(null);
  const latest = (period: string) => settlements.data?.settlements.find((s) => s.periodId === period);
  const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);

  const settle = async (period: string) => {
    setBusy(period);
    setMessage(null);
    try {
      const s = await authJson<Settlement>(props.apiKey, `${base}/periods/${encodeURIComponent(period)}/settlement`, { method: 'POST', body: {} });
      setMessage({ tone: 'ok', text: i18n.t('settle.done', { period, verified: kwh(i18n, s.verifiedKwh), payout: cny(i18n, s.payoutCny) }) });
      settlements.reload();
      props.onSettled();
    } catch (err) {
      setMessage({ tone: 'bad', text: errorText(i18n, err) });
    } finally {
      setBusy(null);
    }
  };

  return (
    <article class="panel policy" data-policy={p.id} aria-labelledby={`policy-${p.id}`}>
      <div class="section-head">
        <h3 class="h2" id={`policy-${p.id}`}>
          {p.id}
        </h3>
        <span class="muted">{i18n.t('policy.term', { from: p.effectiveFrom, to: p.effectiveTo })}</span>
      </div>
      <Figures
        items={[
          { label: i18n.t('policy.insured'), value: p.insured },
          { label: i18n.t('policy.meters'), value: p.meters.map((m) => `${m.site}/${m.building}/${m.meter}`).join(', ') },
          { label: i18n.t('policy.price'), value: `¥${i18n.num(p.contractPriceCnyPerKwh, 3)}/kWh` },
          { label: i18n.t('policy.deductible'), value: cny(i18n, p.deductibleCny) },
          { label: i18n.t('policy.limit'), value: cny(i18n, p.limitCny) },
          { label: i18n.t('policy.premium'), value: cny(i18n, p.premiumCny) },
        ]}
      />
      <div class="table-scroll top-gap" tabIndex={0} role="region" aria-label={i18n.t('policy.periods', { id: p.id })}>
        <table class="periods">
          <caption class="caption">{i18n.t('policy.periods', { id: p.id })}</caption>
          <thead>
            <tr>
              <th scope="col">{i18n.t('period.period')}</th>
              <th scope="col">{i18n.t('period.dates')}</th>
              <th scope="col" class="num">{i18n.t('period.guaranteed')}</th>
              <th scope="col" class="num">{i18n.t('period.verified')}</th>
              <th scope="col">{i18n.t('period.band')}</th>
              <th scope="col" class="num">{i18n.t('period.shortfall')}</th>
              <th scope="col" class="num">{i18n.t('period.payout')}</th>
              <th scope="col">{i18n.t('period.status')}</th>
              <th scope="col">{i18n.t('period.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {p.periods.map((period) => {
              const row = props.rows?.find((r) => r.periodId === period.id);
              const s = latest(period.id);
              const state = row?.state ?? (s ? 'settled' : period.to <= today ? 'due' : period.from <= today ? 'open' : 'future');
              const ended = period.to <= today;
              const band = s?.record.claim.uncertainty.band90Kwh;
              return (
                <tr data-period={period.id} data-state={state}>
                  <th scope="row">{period.id}</th>
                  <td class="nowrap">
                    {period.from} – {period.to}
                  </td>
                  <td class="num">{kwh(i18n, period.guaranteedSavingsKwh)}</td>
                  <td class="num" data-verified>
                    {kwh(i18n, s?.verifiedKwh ?? row?.verifiedKwh)}
                  </td>
                  <td class="nowrap">{band ? `${i18n.num(band.low, 0)} – ${i18n.num(band.high, 0)}` : i18n.t('none')}</td>
                  <td class="num">{kwh(i18n, s?.shortfallKwh ?? row?.shortfallKwh)}</td>
                  <td class="num" data-payout>
                    {cny(i18n, s?.payoutCny ?? row?.payoutCny)}
                  </td>
                  <td>
                    <StatusBadge status={state} prefix="period.state" />
                    {s && !s.settleable && <span class="badge bad">{i18n.t('period.notSettleable')}</span>}
                  </td>
                  <td>
                    <button type="button" class="button small" disabled={!ended || busy !== null} onClick={() => settle(period.id)} data-settle={period.id} aria-label={i18n.t('settle.labelOf', { period: period.id, policy: p.id })} title={ended ? undefined : i18n.t('settle.notEnded')}>
                      {busy === period.id ? i18n.t('settle.running') : s ? i18n.t('settle.again') : i18n.t('settle.button')}
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <ActionStatus message={message} />
      {settlements.error && <LoadError what={i18n.t('period.settlements')} error={settlements.error} retry={settlements.reload} />}
      <PeriodPacks apiKey={props.apiKey} policy={p} settlements={settlements.data?.settlements ?? []} packs={props.packs} />
    </article>
  );
}

/** The signed pack of a settled period's building, as of the settlement. */
function PeriodPacks(props: { apiKey: string; policy: Policy; settlements: Settlement[]; packs: boolean }) {
  const i18n = useI18n();
  const settled = props.policy.periods.filter((pp) => props.settlements.some((s) => s.periodId === pp.id));
  const [chosen, setChosen] = useState<string>('');
  const period = settled.find((pp) => pp.id === chosen) ?? settled[0];
  const building = props.policy.buildings[0];
  if (!period || !building) return null;
  const s = props.settlements.find((x) => x.periodId === period.id)!;
  return (
    <div class="period-pack">
      <h4 class="sub-head">{i18n.t('policy.pack')}</h4>
      {settled.length > 1 && (
        <label class="inline-field">
          {i18n.t('period.period')}
          <select value={period.id} onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}>
            {settled.map((pp) => (
              <option value={pp.id}>{pp.id}</option>
            ))}
          </select>
        </label>
      )}
      <PackButtons apiKey={props.apiKey} subject={{ kind: 'policy', id: props.policy.id, period: period.id }} from={period.from} to={period.to} asOf={new Date(s.recordedAtMs).toISOString()} available={props.packs} context={`${props.policy.id} · ${period.id}`} />
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Pricing

interface PricingFields {
  meter: string;
  guaranteed: string;
  price: string;
  deductible: string;
  limit: string;
  loading: string;
}
type FieldName = keyof PricingFields;

const METER_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const meterText = (m: MeterRef) => `${m.site}/${m.building}/${m.meter}`;

function initialFields(policies: Policy[]): PricingFields {
  const p = policies[0];
  const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
  const next = p?.periods.find((x) => x.to > today) ?? p?.periods[0];
  return {
    meter: p?.meters[0] ? meterText(p.meters[0]) : '',
    guaranteed: next ? String(next.guaranteedSavingsKwh) : '',
    price: p ? String(p.contractPriceCnyPerKwh) : '',
    deductible: p ? String(p.deductibleCny) : '',
    limit: p ? String(p.limitCny) : '',
    loading: '0.3',
  };
}

function validate(f: PricingFields): Partial<Record<FieldName, MessageKey>> {
  const errors: Partial<Record<FieldName, MessageKey>> = {};
  if (!METER_RE.test(f.meter.trim())) errors.meter = 'pricing.error.meter';
  for (const k of ['guaranteed', 'price', 'deductible', 'limit'] as const) {
    const v = Number(f[k]);
    if (f[k].trim() === '' || !Number.isFinite(v) || v < 0) errors[k] = 'pricing.error.nonNegative';
  }
  const l = Number(f.loading);
  if (f.loading.trim() === '' || !Number.isFinite(l) || l < 0 || l > 10) errors.loading = 'pricing.error.loading';
  return errors;
}

function PricingForm(props: { apiKey: string; policies: Policy[] }) {
  const i18n = useI18n();
  const [fields, setFields] = useState<PricingFields>(() => initialFields(props.policies));
  const [errors, setErrors] = useState<Partial<Record<FieldName, MessageKey>>>({});
  const [busy, setBusy] = useState(false);
  const [quote, setQuote] = useState<PricingQuote | null>(null);
  const [message, setMessage] = useState<ActionMessage | null>(null);
  const meters = useMemo(() => [...new Set(props.policies.flatMap((p) => p.meters.map(meterText)))], [props.policies]);

  const submit = async (e: Event) => {
    e.preventDefault();
    const errs = validate(fields);
    setErrors(errs);
    const first = (Object.keys(errs) as FieldName[])[0];
    if (first) {
      setMessage({ tone: 'bad', text: i18n.t('pricing.error.summary', { n: Object.keys(errs).length }) });
      document.getElementById(`pricing-${first}`)?.focus();
      return;
    }
    const [site, building, meter] = fields.meter.trim().split('/') as [string, string, string];
    setBusy(true);
    setMessage(null);
    try {
      const q = await authJson<PricingQuote>(props.apiKey, '/api/v1/finance/pricing', {
        method: 'POST',
        body: { site, building, meter, guaranteedSavingsKwh: Number(fields.guaranteed), contractPriceCnyPerKwh: Number(fields.price), deductibleCny: Number(fields.deductible), limitCny: Number(fields.limit), loading: Number(fields.loading) },
      });
      setQuote(q);
      setMessage({ tone: 'ok', text: i18n.t('pricing.done', { p50: kwh(i18n, q.pricing.savings.P50), p90: kwh(i18n, q.pricing.savings.P90), premium: cny(i18n, q.pricing.indicativePremiumCny) }) });
    } catch (err) {
      setQuote(null);
      setMessage({ tone: 'bad', text: errorText(i18n, err) });
    } finally {
      setBusy(false);
    }
  };

  const field = (name: FieldName, label: string, opts: { unit?: string; step?: string; list?: string; inputMode?: 'decimal' | 'text' } = {}) => {
    const err = errors[name];
    const id = `pricing-${name}`;
    return (
      <div class="field">
        <label for={id}>
          {label}
          {opts.unit && <span class="unit"> ({opts.unit})</span>}
        </label>
        <input
          id={id}
          name={name}
          type={opts.inputMode === 'text' ? 'text' : 'number'}
          inputMode={opts.inputMode ?? 'decimal'}
          min={opts.inputMode === 'text' ? undefined : '0'}
          step={opts.step}
          list={opts.list}
          value={fields[name]}
          required
          aria-invalid={err ? 'true' : undefined}
          aria-describedby={err ? `${id}-e` : undefined}
          onInput={(e) => setFields({ ...fields, [name]: (e.target as HTMLInputElement).value })}
        />
        {err && (
          <span id={`${id}-e`} class="field-error">
            {i18n.t(err)}
          </span>
        )}
      </div>
    );
  };

  return (
    <section class="panel" aria-labelledby="pricing-h" data-pricing>
      <h2 id="pricing-h">{i18n.t('pricing.title')}</h2>
      <p class="note">{i18n.t('pricing.intro')}</p>
      <form class="pricing-form" onSubmit={submit} noValidate>
        {field('meter', i18n.t('pricing.meter'), { inputMode: 'text', list: 'pricing-meters' })}
        <datalist id="pricing-meters">
          {meters.map((m) => (
            <option value={m} />
          ))}
        </datalist>
        {field('guaranteed', i18n.t('pricing.guaranteed'), { unit: 'kWh', step: 'any' })}
        {field('price', i18n.t('pricing.price'), { unit: 'CNY/kWh', step: 'any' })}
        {field('deductible', i18n.t('pricing.deductible'), { unit: 'CNY', step: 'any' })}
        {field('limit', i18n.t('pricing.limit'), { unit: 'CNY', step: 'any' })}
        {field('loading', i18n.t('pricing.loading'), { step: '0.05' })}
        <div class="field submit">
          <button type="submit" class="button" disabled={busy} data-price>
            {busy ? i18n.t('pricing.running') : i18n.t('pricing.submit')}
          </button>
        </div>
      </form>
      <ActionStatus message={message} />
      {quote && <QuoteView quote={quote} />}
    </section>
  );
}

function QuoteView(props: { quote: PricingQuote }) {
  const i18n = useI18n();
  const q = props.quote.pricing;
  const b = props.quote.basis;
  const s = q.savings;
  // Percentiles of the simulated verified savings: P(savings ≤ value).
  const pts: Array<[number, number]> = [
    [0, s.min],
    [10, s.p10],
    [50, s.p50],
    [90, s.p90],
    [100, s.max],
  ];
  const data: uPlot.AlignedData = [pts.map((p) => p[0]), pts.map((p) => p[1]), pts.map(() => q.terms.guaranteedSavingsKwh)];
  return (
    <div class="quote" data-quote>
      <Figures
        items={[
          { label: 'P50', value: kwh(i18n, s.P50), note: i18n.t('pricing.p50Note'), attr: 'p50' },
          { label: 'P90', value: kwh(i18n, s.P90), note: i18n.t('pricing.p90Note'), attr: 'p90' },
          { label: i18n.t('pricing.pShortfall'), value: i18n.pct(q.probabilityOfShortfall, 1), note: i18n.t('pricing.expectedShortfall', { v: kwh(i18n, q.expectedShortfallKwh) }), attr: 'p-shortfall' },
          { label: i18n.t('pricing.expectedLoss'), value: cny(i18n, q.expectedLossCny), note: i18n.t('pricing.pPayout', { p: i18n.pct(q.payout.probabilityOfPayout, 1) }), attr: 'expected-loss' },
          { label: i18n.t('pricing.premium'), value: cny(i18n, q.indicativePremiumCny), note: i18n.t('pricing.premiumNote', { loading: i18n.pct(q.loading, 0) }), attr: 'premium' },
        ]}
      />
      <p class="note">
        {i18n.t('pricing.basis', { fraction: i18n.pct(b.expectedSavingsFraction, 1), source: b.expectedSavingsFractionSource, years: q.weatherYears.length, weather: b.weatherYearsSource, draws: i18n.num(q.simulation.draws, 0), seed: q.simulation.seed })}{' '}
        <code>{b.resultId}</code>
      </p>
      <Figure
        name="pricing-quantiles"
        title={i18n.t('pricing.chart')}
        description={i18n.t('pricing.chartDesc', { p10: kwh(i18n, s.p10), p50: kwh(i18n, s.p50), p90: kwh(i18n, s.p90), g: kwh(i18n, q.terms.guaranteedSavingsKwh) })}
        points={pts.length}
        csv={{ filename: 'pricing-savings-quantiles.csv', header: ['percentile', 'verified_savings_kwh', 'guaranteed_kwh'], rows: pts.map(([p, v]) => [p, v, q.terms.guaranteedSavingsKwh]) }}
        table={{ header: [i18n.t('pricing.percentile'), i18n.t('pricing.savings'), i18n.t('pricing.guaranteed')], rows: pts.map(([p, v]) => [`${p} %`, kwh(i18n, v), kwh(i18n, q.terms.guaranteedSavingsKwh)]) }}
      >
        <UPlot height={240} optionsKey={i18n.lang} data={data} options={() => quantileOptions(i18n)} />
      </Figure>
    </div>
  );
}

function quantileOptions(i18n: I18n): Omit<uPlot.Options, 'width' | 'height'> {
  return {
    scales: { x: { time: false, range: [0, 100] } },
    axes: [
      { stroke: '#374151', grid: { stroke: '#e5e7eb' }, ticks: { stroke: '#d1d5db' }, label: i18n.t('pricing.percentile'), labelSize: 18, values: (_u, splits) => splits.map((v) => `${v} %`) },
      valueAxis(i18n, 'kWh'),
    ],
    series: [
      { label: i18n.t('pricing.percentile'), value: (_u, v) => (v === null ? '' : `${v} %`) },
      { label: i18n.t('pricing.savings'), stroke: '#1d4ed8', width: 2, fill: 'rgba(29,78,216,0.08)', points: { show: true, size: 7 }, value: (_u, v) => (v === null ? '—' : `${i18n.num(v, 0)} kWh`) },
      { label: i18n.t('pricing.guaranteed'), stroke: '#b91c1c', width: 2, dash: [6, 4], points: { show: false }, value: (_u, v) => (v === null ? '—' : `${i18n.num(v, 0)} kWh`) },
    ],
  };
}
