/**
 * Lending (`#/finance/lender`): the signed-in bank's loans — borrower, outstanding amount,
 * buildings, margin — and each covenant's latest test with its evidence, the KPI's history
 * against the threshold, "Run test now", the signed pack of the tested window; the bank's PCAF
 * summary and its JR/T 0227 export. Everything comes from the finance API with the user's key.
 */
import { useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { Figure } from '../components/figure.js';
import { Loading, LoadError } from '../components/status.js';
import { timeAxis, tzDate, UPlot, valueAxis } from '../components/uplot.js';
import { useI18n, type I18n } from '../i18n.js';
import { authFetch, authJson, downloadResponse, useAuthResource, type Covenant, type CovenantTest, type LenderPortfolio, type Loan, type LoanBalance, type Version, type Whoami } from '../finance/api.js';
import { SignInPrompt, useAuth } from '../auth.js';
import { ActionStatus, bp, cnyLarge, errorText, Figures, Findings, isFraction, kpiValue, operatorText, PackButtons, StatusBadge, type ActionMessage } from '../finance/common.js';

const TZ = 'Asia/Shanghai';
const dayMs = (d: string): number => Date.parse(`${d}T00:00:00+08:00`);

/** Which loans a key reads: a bank's (lender), every loan (admin), or its loan grants (verifier). */
function loansPath(who: Whoami): string | null {
  if (who.role === 'lender' && who.party) return `/api/v1/finance/loans?lender=${encodeURIComponent(who.party)}`;
  if (who.role === 'admin') return '/api/v1/finance/loans';
  return null;
}

export function LenderPage(props: { packs: boolean }) {
  const i18n = useI18n();
  const auth = useAuth();
  const who = auth.identity;
  return (
    <>
      <h1>{i18n.t('lender.title')}</h1>
      <p class="lead">{i18n.t('lender.intro')}</p>
      {auth.checking ? <Loading /> : !who || !auth.key ? <SignInPrompt what={i18n.t('lender.title')} /> : <LenderBody who={who} apiKey={auth.key} packs={props.packs} />}
    </>
  );
}

function NotPermitted(props: { who: Whoami; what: string }) {
  const i18n = useI18n();
  return (
    <div class="notice not-permitted" data-not-permitted>
      <h2>{i18n.t('finance.notPermitted')}</h2>
      <p>{i18n.t('finance.notPermittedBody', { role: i18n.label('apiRole', props.who.role), what: props.what })}</p>
    </div>
  );
}

function LenderBody(props: { who: Whoami; apiKey: string; packs: boolean }) {
  const i18n = useI18n();
  const { who, apiKey } = props;
  const loanGrants = who.role === 'verifier' ? who.grants.filter((g) => g.kind === 'loan' && g.id).map((g) => g.id!) : [];
  const path = loansPath(who);
  const list = useAuthResource<{ loans: Version<Loan>[] }>(apiKey, path);
  if (!path && loanGrants.length === 0) return <NotPermitted who={who} what={i18n.t('lender.what')} />;
  return (
    <>
      {who.role === 'lender' && who.party && <PcafPanel apiKey={apiKey} party={who.party} />}
      <section aria-labelledby="loans-h">
        <h2 id="loans-h">{i18n.t('lender.loans')}</h2>
        {path ? (
          list.error ? (
            <LoadError what={i18n.t('lender.loans')} error={list.error} retry={list.reload} />
          ) : !list.data ? (
            <Loading />
          ) : list.data.loans.length === 0 ? (
            <p class="notice" data-empty>
              {i18n.t('lender.none')}
            </p>
          ) : (
            list.data.loans.map((l) => <LoanPanel key={l.value.id} apiKey={apiKey} loan={l.value} packs={props.packs} />)
          )
        ) : (
          loanGrants.map((id) => <GrantedLoan key={id} apiKey={apiKey} id={id} packs={props.packs} />)
        )}
      </section>
    </>
  );
}

function GrantedLoan(props: { apiKey: string; id: string; packs: boolean }) {
  const r = useAuthResource<{ loan: Version<Loan> }>(props.apiKey, `/api/v1/finance/loans/${encodeURIComponent(props.id)}`);
  if (r.error) return <LoadError what={props.id} error={r.error} retry={r.reload} />;
  if (!r.data) return <Loading />;
  return <LoanPanel apiKey={props.apiKey} loan={r.data.loan.value} packs={props.packs} />;
}

/** PCAF financed emissions of the bank's building loans, and the JR/T 0227 export. */
function PcafPanel(props: { apiKey: string; party: string }) {
  const i18n = useI18n();
  const r = useAuthResource<LenderPortfolio>(props.apiKey, `/api/v1/finance/portfolio/lender/${encodeURIComponent(props.party)}`);
  const [message, setMessage] = useState<ActionMessage | null>(null);
  const [busy, setBusy] = useState(false);
  const csv = async (year: number) => {
    setBusy(true);
    setMessage(null);
    try {
      const res = await authFetch(props.apiKey, `/api/v1/finance/portfolio/lender/${encodeURIComponent(props.party)}/jrt0227?year=${year}&format=csv`, { accept: 'text/csv' });
      const name = await downloadResponse(res, `jrt0227-${props.party}-${year}.csv`);
      setMessage({ tone: 'ok', text: i18n.t('pack.saved', { name }) });
    } catch (err) {
      setMessage({ tone: 'bad', text: errorText(i18n, err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="panel" aria-labelledby="pcaf-h" data-pcaf>
      <div class="section-head">
        <h2 id="pcaf-h">{r.data ? i18n.t('pcaf.title', { name: r.data.lender.name, year: r.data.year }) : i18n.t('pcaf.titleShort')}</h2>
      </div>
      {r.error ? (
        <LoadError what={i18n.t('pcaf.titleShort')} error={r.error} retry={r.reload} />
      ) : !r.data ? (
        <Loading />
      ) : (
        <>
          <Figures
            items={[
              { label: i18n.t('pcaf.loans'), value: i18n.num(r.data.report.totals.loans, 0) },
              { label: i18n.t('pcaf.outstanding'), value: cnyLarge(i18n, r.data.report.totals.outstandingCny) },
              { label: i18n.t('pcaf.financed'), value: `${i18n.num(r.data.report.totals.financedEmissionsTco2e, 1)} tCO₂e`, attr: 'financed-emissions' },
              { label: i18n.t('pcaf.intensityMoney'), value: `${i18n.num(r.data.report.totals.intensityTco2ePerMillionCny, 2)}`, note: i18n.t('pcaf.intensityMoneyUnit') },
              { label: i18n.t('pcaf.intensityArea'), value: `${i18n.num(r.data.report.totals.intensityKgco2ePerM2, 1)}`, note: 'kgCO₂e/m²' },
              { label: i18n.t('pcaf.score'), value: i18n.num(r.data.report.totals.weightedScore, 1), note: i18n.t('pcaf.scoreNote'), attr: 'dq-score' },
            ]}
          />
          <Findings title={i18n.t('finance.warnings')} findings={r.data.warnings} tone="warn" />
          <div class="button-row top-gap">
            <button type="button" class="button secondary" disabled={busy} onClick={() => csv(r.data!.year)} data-jrt0227>
              {i18n.t('pcaf.jrt0227', { year: r.data.year })}
            </button>
          </div>
          <ActionStatus message={message} />
        </>
      )}
    </section>
  );
}

function LoanPanel(props: { apiKey: string; loan: Loan; packs: boolean }) {
  const i18n = useI18n();
  const { loan, apiKey } = props;
  const base = `/api/v1/finance/loans/${encodeURIComponent(loan.id)}`;
  const balances = useAuthResource<{ inForce: Version<LoanBalance> | null }>(apiKey, `${base}/balances`);
  const tests = useAuthResource<{ tests: CovenantTest[] }>(apiKey, `${base}/covenant-tests?limit=500`);
  const [running, setRunning] = useState(false);
  const [message, setMessage] = useState<ActionMessage | null>(null);

  const run = async () => {
    setRunning(true);
    setMessage(null);
    try {
      const out = await authJson<{ tests: CovenantTest[]; skipped: Array<{ covenantId: string; reason: string }> }>(apiKey, `${base}/covenant-tests`, { method: 'POST', body: {} });
      setMessage({ tone: 'ok', text: i18n.t('covenant.ran', { n: out.tests.length, statuses: out.tests.map((t) => `${t.covenantId}: ${i18n.label('covenant.status', t.status)}`).join(', ') }) });
      tests.reload();
    } catch (err) {
      setMessage({ tone: 'bad', text: errorText(i18n, err) });
    } finally {
      setRunning(false);
    }
  };

  const outstanding = balances.data?.inForce?.value.outstandingCny;
  const stepSum = useMemo(() => {
    if (!tests.data) return null;
    let sum = 0;
    for (const c of loan.covenants) sum += tests.data.tests.find((t) => t.covenantId === c.id)?.marginStepBp ?? 0;
    return sum;
  }, [tests.data, loan]);

  return (
    <article class="panel loan" data-loan={loan.id} aria-labelledby={`loan-${loan.id}`}>
      <div class="section-head">
        <h3 class="h2" id={`loan-${loan.id}`}>
          {loan.id}
        </h3>
        <span class="muted">{i18n.label('loanKind', loan.kind)}</span>
      </div>
      <Figures
        items={[
          { label: i18n.t('loan.borrower'), value: loan.borrower, attr: 'borrower' },
          { label: i18n.t('loan.outstanding'), value: balances.error ? i18n.t('none') : outstanding === undefined ? i18n.t('loading') : cnyLarge(i18n, outstanding), note: balances.data?.inForce ? i18n.t('loan.since', { date: balances.data.inForce.value.effectiveFrom }) : undefined, attr: 'outstanding' },
          { label: i18n.t('loan.buildings'), value: loan.buildings.map((b) => `${b.site}/${b.building}`).join(', ') },
          { label: i18n.t('loan.margin'), value: i18n.t('loan.marginValue', { bp: bp(i18n, loan.baseMarginBp) }), note: stepSum !== null ? i18n.t('loan.marginSteps', { bp: bp(i18n, stepSum) }) : undefined, attr: 'margin' },
          { label: i18n.t('loan.term'), value: `${loan.originationDate} – ${loan.maturityDate}` },
        ]}
      />
      <div class="button-row top-gap">
        <button type="button" class="button" onClick={run} disabled={running || loan.covenants.length === 0} data-run-test>
          {running ? i18n.t('covenant.running') : i18n.t('covenant.run')}
        </button>
        <span class="note">{i18n.t('covenant.runNote')}</span>
      </div>
      <ActionStatus message={message} />
      <h4 class="sub-head">{i18n.t('covenant.title', { n: loan.covenants.length })}</h4>
      {tests.error ? (
        <LoadError what={i18n.t('covenant.tests')} error={tests.error} retry={tests.reload} />
      ) : !tests.data ? (
        <Loading />
      ) : loan.covenants.length === 0 ? (
        <p class="note">{i18n.t('covenant.none')}</p>
      ) : (
        <ul class="covenants">
          {loan.covenants.map((c) => (
            <CovenantCard key={c.id} apiKey={apiKey} loan={loan} covenant={c} tests={tests.data!.tests.filter((t) => t.covenantId === c.id)} packs={props.packs} />
          ))}
        </ul>
      )}
    </article>
  );
}

function CovenantCard(props: { apiKey: string; loan: Loan; covenant: Covenant; tests: CovenantTest[]; packs: boolean }) {
  const i18n = useI18n();
  const { covenant: c } = props;
  const latest = props.tests[0];
  const e = latest?.record.evaluation;
  const kpi = c.kpi;
  const interval = e?.interval && e.interval.low !== e.interval.high ? i18n.t('covenant.interval', { conf: i18n.pct(e.interval.confidence, 0), low: kpiValue(i18n, kpi, e.interval.low), high: kpiValue(i18n, kpi, e.interval.high) }) : undefined;
  const pFail = e?.projection.probabilityOfFailing;
  return (
    <li class="covenant" data-covenant={c.id} data-status={latest?.status ?? 'none'}>
      <div class="covenant-head">
        <h5>
          {c.id} <span class="muted">· {i18n.label('kpi', kpi)}</span>
        </h5>
        {latest ? <StatusBadge status={latest.status} prefix="covenant.status" /> : <span class="badge none">{i18n.t('covenant.neverTested')}</span>}
      </div>
      <Figures
        items={[
          { label: i18n.t('covenant.value'), value: kpiValue(i18n, kpi, latest?.kpiValue), note: interval, attr: 'kpi-value' },
          { label: i18n.t('covenant.threshold'), value: `${operatorText(c.operator)} ${kpiValue(i18n, kpi, c.threshold)}`, note: i18n.t('covenant.frequency', { f: i18n.t(`covenant.freq.${c.schedule.frequency}`) }) },
          { label: i18n.t('covenant.marginStep'), value: latest ? bp(i18n, latest.marginStepBp) : i18n.t('none'), note: i18n.t('covenant.ratchet', { pass: bp(i18n, c.ratchet.bpOnPass), fail: bp(i18n, c.ratchet.bpOnFail) }) },
          { label: i18n.t('covenant.pFail'), value: pFail === null || pFail === undefined ? i18n.t('none') : i18n.pct(pFail, 1), note: e ? i18n.t('covenant.pFailNote', { date: e.projection.testDate }) : undefined, attr: 'p-fail' },
          { label: i18n.t('covenant.nextTest'), value: e?.projection.testDate ?? c.schedule.firstTestDate },
          { label: i18n.t('covenant.tested'), value: latest?.testDate ?? i18n.t('none'), note: latest ? i18n.t('covenant.asOf', { time: i18n.dateTime(latest.asOfMs, TZ) }) : undefined },
        ]}
      />
      {latest && e && (
        <>
          <Findings title={i18n.t('finance.disqualifications')} findings={e.disqualifications} tone="bad" />
          <Findings title={i18n.t('finance.warnings')} findings={e.warnings} tone="warn" />
          <Evidence test={latest} />
          <KpiChart covenant={c} tests={props.tests} />
          <PackButtons apiKey={props.apiKey} subject={{ kind: 'loan', id: props.loan.id }} from={e.evidence.window.start} to={e.evidence.window.end} asOf={new Date(latest.recordedAtMs).toISOString()} available={props.packs} context={`${props.loan.id} · ${c.id}`} />
        </>
      )}
    </li>
  );
}

function Evidence(props: { test: CovenantTest }) {
  const i18n = useI18n();
  const t = props.test;
  const e = t.record.evaluation;
  const o = e.evidence.observation;
  return (
    <details class="evidence" data-evidence>
      <summary>{i18n.t('evidence.title')}</summary>
      <div class="evidence-body">
        <dl class="facts">
          <dt>{i18n.t('evidence.window')}</dt>
          <dd>
            {e.evidence.window.start} – {e.evidence.window.end}
          </dd>
          <dt>{i18n.t('evidence.status')}</dt>
          <dd data-evidence-status>{o ? i18n.label('status', o.status) : i18n.t('evidence.noObservation')}</dd>
          <dt>{i18n.t('evidence.coverage')}</dt>
          <dd>{o?.dataCoverage === null || o?.dataCoverage === undefined ? i18n.t('none') : i18n.pct(o.dataCoverage, 1)}</dd>
          <dt>{i18n.t('evidence.passProbability')}</dt>
          <dd>{e.passProbability === null ? i18n.t('none') : i18n.pct(e.passProbability, 1)}</dd>
          <dt>{i18n.t('evidence.headroom')}</dt>
          <dd>{e.headroom ? `${kpiValue(i18n, t.kpi, e.headroom.value)}${e.headroom.standardErrors !== null ? ` (${i18n.num(e.headroom.standardErrors, 1)} σ)` : ''}` : i18n.t('none')}</dd>
          <dt>{i18n.t('evidence.grace')}</dt>
          <dd>{i18n.t('evidence.graceValue', { days: e.grace.days, ends: e.grace.ends })}</dd>
          <dt>{i18n.t('evidence.cure')}</dt>
          <dd>{i18n.t('evidence.cureValue', { failures: e.cure.consecutiveFailures, periods: e.cure.curePeriods })}</dd>
          <dt>{i18n.t('evidence.lineage')}</dt>
          <dd>
            <code>{t.lineageDigest.slice(0, 16)}…</code>
          </dd>
        </dl>
        <div class="table-scroll" tabIndex={0} role="region" aria-label={i18n.t('evidence.records')}>
          <table>
            <caption class="caption">{i18n.t('evidence.records')}</caption>
            <thead>
              <tr>
                <th scope="col">{i18n.t('evidence.kind')}</th>
                <th scope="col">{i18n.t('evidence.id')}</th>
                <th scope="col">{i18n.t('evidence.digest')}</th>
                <th scope="col">{i18n.t('evidence.recorded')}</th>
              </tr>
            </thead>
            <tbody>
              {t.record.evidence.records.map((r) => (
                <tr data-source={r.kind}>
                  <th scope="row">
                    <code>{r.kind}</code>
                  </th>
                  <td>
                    <code>{r.id}</code>
                  </td>
                  <td>
                    <code title={r.digest}>{r.digest.slice(0, 12)}…</code>
                  </td>
                  <td>{i18n.dateTime(r.recordedAtMs, TZ)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </details>
  );
}

/** The KPI over its monthly windows (the trend the projection uses), the stored tests, and the threshold. */
function KpiChart(props: { covenant: Covenant; tests: CovenantTest[] }) {
  const i18n = useI18n();
  const c = props.covenant;
  const latest = props.tests[0];
  const scale = isFraction(c.kpi) ? 100 : 1;
  const unit = isFraction(c.kpi) ? '%' : c.kpi === 'label_maintained' ? i18n.t('unit.rank') : i18n.t(c.kpi === 'eui_kwh_per_m2' ? 'unit.euI' : 'unit.kgco2ePerM2a');
  const rows = useMemo(() => {
    const byDate = new Map<string, { trend: number | null; test: number | null }>();
    for (const p of latest?.record.evaluation.projection.series ?? []) byDate.set(p.end, { trend: p.value, test: null });
    for (const t of props.tests) {
      if (t.kpiValue === null) continue;
      const row = byDate.get(t.testDate) ?? { trend: null, test: null };
      if (row.test === null) row.test = t.kpiValue;
      byDate.set(t.testDate, row);
    }
    return [...byDate.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }, [props.tests]);
  if (rows.length === 0) return null;
  const data: uPlot.AlignedData = [rows.map(([d]) => dayMs(d)), rows.map(([, r]) => (r.trend === null ? null : r.trend * scale)), rows.map(([, r]) => (r.test === null ? null : r.test * scale)), rows.map(() => c.threshold * scale)];
  const title = i18n.t('chart.kpiTitle', { id: c.id });
  return (
    <Figure
      name={`kpi-${c.id}`}
      title={title}
      description={i18n.t('chart.kpiDesc', { kpi: i18n.label('kpi', c.kpi), n: rows.length, threshold: kpiValue(i18n, c.kpi, c.threshold) })}
      points={rows.length}
      csv={{
        filename: `covenant-${c.id}-kpi.csv`,
        header: ['window_end', `kpi_trailing_window`, `kpi_tested`, `threshold`],
        rows: rows.map(([d, r]) => [d, r.trend, r.test, c.threshold]),
      }}
      table={{ header: [i18n.t('chart.windowEnd'), i18n.t('chart.trend'), i18n.t('chart.tested'), i18n.t('covenant.threshold')], rows: rows.map(([d, r]) => [d, kpiValue(i18n, c.kpi, r.trend), kpiValue(i18n, c.kpi, r.test), kpiValue(i18n, c.kpi, c.threshold)]) }}
    >
      <UPlot
        height={220}
        optionsKey={`${i18n.lang}|${c.id}`}
        data={data}
        options={() => kpiOptions(i18n, unit, c.kpi === 'label_maintained' ? [-1, 3] : null)}
      />
    </Figure>
  );
}

const MONTH_MS = 31 * 86_400_000;

function kpiOptions(i18n: I18n, unit: string, yRange: [number, number] | null): Omit<uPlot.Options, 'width' | 'height'> {
  return {
    ms: 1,
    tzDate: tzDate(TZ),
    scales: {
      // One test alone: a month either side, so the point and the threshold show.
      x: { time: true, range: (_u, min, max) => (min === max ? [min - MONTH_MS, max + MONTH_MS] : [min, max]) },
      ...(yRange ? { y: { range: yRange } } : {}),
    },
    axes: [{ ...timeAxis(i18n, TZ), values: (_u, splits) => splits.map((v) => i18n.date(v, TZ)) }, valueAxis(i18n, unit)],
    series: [
      { label: i18n.t('chart.windowEnd'), value: (_u, v) => (v === null ? '' : i18n.date(v, TZ)) },
      { label: i18n.t('chart.trend'), stroke: '#1d4ed8', width: 2, points: { show: true, size: 5 }, value: (_u, v) => (v === null ? '—' : `${i18n.num(v, 2)} ${unit}`) },
      { label: i18n.t('chart.tested'), stroke: '#047857', width: 0, points: { show: true, size: 11, fill: '#047857', stroke: '#065f46' }, value: (_u, v) => (v === null ? '—' : `${i18n.num(v, 2)} ${unit}`) },
      { label: i18n.t('covenant.threshold'), stroke: '#b91c1c', width: 2, dash: [6, 4], points: { show: false }, value: (_u, v) => (v === null ? '—' : `${i18n.num(v, 2)} ${unit}`) },
    ],
  };
}
