/** Data quality: coverage per series per day or month (canvas matrix), gaps, register events and the dead letters, paginated. */
import { useMemo, useState } from 'preact/hooks';
import { useResource, type Coverage, type DeadLetter, type Portfolio, type RegisterEvent } from '../api.js';
import { iso } from '../csv.js';
import { Figure } from '../components/figure.js';
import { Matrix } from '../components/matrix.js';
import { LoadError, Loading } from '../components/status.js';
import { useI18n } from '../i18n.js';
import { useAuth } from '../auth.js';
import { href } from '../router.js';

const DEAD_LETTERS_PAGE = 20;

function coverageColor(c: number, count: number): string {
  if (count === 0) return '#b91c1c';
  // White-ish to dark blue by coverage.
  const t = Math.min(1, Math.max(0, c));
  const mix = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${mix(219, 30)},${mix(234, 64)},${mix(254, 175)})`;
}

export function QualityPage(props: { site?: string | undefined; building?: string | undefined }) {
  const i18n = useI18n();
  const admin = useAuth().identity?.role === 'admin';
  const [bucket, setBucket] = useState<'1d' | '1mo'>('1d');
  const portfolio = useResource<Portfolio>('/api/v1/portfolio/summary');
  const sites = portfolio.data?.sites ?? [];
  const site = props.site ?? (sites.length === 1 ? sites[0]!.id : undefined);
  const buildings = sites.find((s) => s.id === site)?.buildings ?? [];
  const q = new URLSearchParams({ bucket, ...(site ? { site } : {}), ...(props.building ? { building: props.building } : {}) }).toString();
  const coverage = useResource<Coverage>(`/api/v1/quality/coverage?${q}`);
  const go = (next: { site?: string | undefined; building?: string | undefined }) => {
    location.hash = href({ page: 'quality', ...(next.site ? { site: next.site } : {}), ...(next.building ? { building: next.building } : {}) });
  };
  return (
    <>
      <h1>{i18n.t('quality.title')}</h1>
      <p class="lead">{i18n.t('quality.intro')}</p>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          {i18n.t('quality.site')}
          <select value={site ?? ''} onChange={(e) => go({ site: (e.currentTarget as HTMLSelectElement).value || undefined })}>
            <option value="">{i18n.t('quality.all')}</option>
            {sites.map((s) => (
              <option value={s.id}>{s.name ?? s.id}</option>
            ))}
          </select>
        </label>
        <label>
          {i18n.t('quality.building')}
          <select value={props.building ?? ''} disabled={!site} onChange={(e) => go({ site, building: (e.currentTarget as HTMLSelectElement).value || undefined })}>
            <option value="">{i18n.t('quality.all')}</option>
            {buildings.map((b) => (
              <option value={b.id}>{b.name ?? b.id}</option>
            ))}
          </select>
        </label>
        <label>
          {i18n.t('quality.bucket')}
          <select value={bucket} onChange={(e) => setBucket((e.currentTarget as HTMLSelectElement).value as '1d' | '1mo')}>
            <option value="1d">{i18n.t('quality.days')}</option>
            <option value="1mo">{i18n.t('quality.months')}</option>
          </select>
        </label>
      </form>
      <section class="panel" aria-label={i18n.t('quality.coverage')}>
        {coverage.error && <LoadError what={i18n.t('quality.coverage')} error={coverage.error} retry={coverage.reload} />}
        {!coverage.data && !coverage.error && <Loading />}
        {coverage.data && <CoverageMatrix c={coverage.data} />}
      </section>
      {coverage.data && <Gaps c={coverage.data} />}
      {/* Ingest diagnostics of a whole site or of every site are an admin's; other keys see one building's (docs/access.md). */}
      {admin || (site && props.building) ? (
        <>
          <RegisterEvents site={site} building={props.building} />
          <DeadLetters site={site} building={props.building} />
        </>
      ) : (
        <p class="notice" data-pick-building>
          {i18n.t('quality.pickBuilding')}
        </p>
      )}
    </>
  );
}

const seriesName = (s: { building: string; meter: string; quantity: string; kind: string }) => `${s.building}/${s.meter} ${s.quantity}${s.kind === 'instant' ? '' : ` (${s.kind})`}`;

function CoverageMatrix(props: { c: Coverage }) {
  const i18n = useI18n();
  const { c } = props;
  const fmtCol = (t: number) => (c.bucket === '1d' ? i18n.date(t, c.tz) : i18n.month(new Date(t + 12 * 3_600_000).toISOString().slice(0, 7)));
  const ticks = useMemo(() => {
    const step = c.bucket === '1d' ? 14 : 2;
    return c.time.map((t, col) => ({ col, label: fmtCol(t) })).filter((x) => x.col % step === 0);
  }, [c, i18n.lang]);
  if (!c.series.length) return <p>{i18n.t('building.noData')}</p>;
  const mean = (s: Coverage['series'][number]) => s.coverage.reduce((a, v) => a + v, 0) / Math.max(1, s.coverage.length);
  return (
    <Figure
      name="coverage"
      title={i18n.t('quality.coverage')}
      description={i18n.t('quality.coverageDesc', { bucket: i18n.t(c.bucket === '1d' ? 'quality.bucket.1d' : 'quality.bucket.1mo') })}
      points={c.series.length * c.time.length}
      csv={{ filename: `coverage-${c.bucket}.csv`, header: ['site', 'building', 'meter', 'quantity', 'kind', 'bucket_start', 'coverage (ratio)', 'readings (count)'], rows: c.series.flatMap((s) => c.time.map((t, i) => [s.site, s.building, s.meter, s.quantity, s.kind, iso(t), s.coverage[i] ?? 0, s.count[i] ?? 0])) }}
      table={{
        header: [i18n.t('col.meter'), i18n.t('col.coverage'), i18n.t('col.lastReading'), i18n.t('col.gaps')],
        rows: c.series.map((s) => [seriesName(s), i18n.pct(mean(s), 1), s.lastTs === null ? i18n.t('none') : i18n.dateTime(s.lastTs, c.tz), c.gaps.filter((g) => g.meter === s.meter && g.building === s.building && g.quantity === s.quantity && g.kind === s.kind).length]),
      }}
    >
      <Matrix
        rows={c.series.length}
        cols={c.time.length}
        cellHeight={16}
        labelWidth={Math.min(220, 40 + Math.max(...c.series.map((s) => seriesName(s).length)) * 6)}
        version={`${c.from}|${c.to}|${c.series.length}|${i18n.lang}`}
        color={(row, col) => coverageColor(c.series[row]!.coverage[col] ?? 0, c.series[row]!.count[col] ?? 0)}
        rowLabel={(row) => seriesName(c.series[row]!)}
        colTicks={ticks}
        hint={i18n.t('hm.hover')}
        readout={(row, col) => `${seriesName(c.series[row]!)} · ${fmtCol(c.time[col]!)} — ${i18n.pct(c.series[row]!.coverage[col], 1)} (${c.series[row]!.count[col]})`}
      />
    </Figure>
  );
}

function Gaps(props: { c: Coverage }) {
  const i18n = useI18n();
  const { c } = props;
  return (
    <section class="panel" aria-labelledby="gaps-h">
      <h2 id="gaps-h">{i18n.t('quality.gaps')}</h2>
      {c.gaps.length === 0 ? (
        <p>{i18n.t('quality.noGaps')}</p>
      ) : (
        <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="gaps-h">
          <table>
            <thead>
              <tr>
                <th scope="col">{i18n.t('col.meter')}</th>
                <th scope="col">{i18n.t('col.from')}</th>
                <th scope="col">{i18n.t('col.to')}</th>
                <th scope="col">{i18n.t('col.buckets')}</th>
              </tr>
            </thead>
            <tbody>
              {c.gaps.map((g) => (
                <tr>
                  <th scope="row">{seriesName(g)}</th>
                  <td>{i18n.dateTime(g.from, c.tz)}</td>
                  <td>{i18n.dateTime(g.to, c.tz)}</td>
                  <td>
                    {g.buckets} {i18n.t(c.bucket === '1d' ? 'quality.bucket.1d' : 'quality.bucket.1mo')}
                    {g.empty ? ` · ${i18n.t('quality.empty')}` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function RegisterEvents(props: { site?: string | undefined; building?: string | undefined }) {
  const i18n = useI18n();
  const q = new URLSearchParams({ limit: '100', ...(props.site ? { site: props.site } : {}), ...(props.building ? { building: props.building } : {}) }).toString();
  const res = useResource<{ events: RegisterEvent[] }>(`/api/v1/register-events?${q}`);
  const tz = 'Asia/Shanghai';
  return (
    <section class="panel" aria-labelledby="reg-h">
      <h2 id="reg-h">{i18n.t('quality.registerEvents')}</h2>
      {res.error && <LoadError what={i18n.t('quality.registerEvents')} error={res.error} retry={res.reload} />}
      {!res.data && !res.error && <Loading />}
      {res.data && res.data.events.length === 0 && <p>{i18n.t('quality.noRegisterEvents')}</p>}
      {res.data && res.data.events.length > 0 && (
        <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="reg-h">
          <table>
            <thead>
              <tr>
                <th scope="col">{i18n.t('col.meter')}</th>
                <th scope="col">{i18n.t('col.type')}</th>
                <th scope="col">{i18n.t('col.time')}</th>
                <th scope="col">{i18n.t('col.previous')}</th>
                <th scope="col">{i18n.t('col.value')}</th>
                <th scope="col">{i18n.t('col.received')}</th>
              </tr>
            </thead>
            <tbody>
              {res.data.events.map((e) => (
                <tr>
                  <th scope="row">
                    {e.building}/{e.meter} {e.quantity}
                  </th>
                  <td>{e.type}</td>
                  <td>{i18n.dateTime(e.ts, tz)}</td>
                  <td class="num">{i18n.num(e.previousValue, 2)}</td>
                  <td class="num">{i18n.num(e.value, 2)}</td>
                  <td>{i18n.dateTime(e.detectedAtMs, tz)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function DeadLetters(props: { site?: string | undefined; building?: string | undefined }) {
  const i18n = useI18n();
  const [cursors, setCursors] = useState<string[]>([]);
  const [code, setCode] = useState('');
  const before = cursors[cursors.length - 1];
  const q = new URLSearchParams({ limit: String(DEAD_LETTERS_PAGE), ...(props.site ? { site: props.site } : {}), ...(props.site && props.building ? { building: props.building } : {}), ...(code ? { code } : {}), ...(before ? { before } : {}) }).toString();
  const res = useResource<{ total: number; deadLetters: DeadLetter[]; next?: string }>(`/api/v1/dead-letters?${q}`);
  const tz = 'Asia/Shanghai';
  return (
    <section class="panel" aria-labelledby="dl-h">
      <h2 id="dl-h">{i18n.t('quality.deadLetters')}</h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setCode(((e.currentTarget as HTMLFormElement).elements.namedItem('code') as HTMLInputElement).value.trim());
          setCursors([]);
        }}
      >
        <label>
          {i18n.t('quality.codeFilter')}
          <input name="code" type="text" defaultValue={code} placeholder="CONTRACT_SCHEMA_INVALID" pattern="[A-Za-z0-9_]*" />
        </label>
        <button type="submit" class="button secondary">
          OK
        </button>
      </form>
      {res.error && <LoadError what={i18n.t('quality.deadLetters')} error={res.error} retry={res.reload} />}
      {!res.data && !res.error && <Loading />}
      {res.data && <p role="status">{i18n.t('quality.deadLettersTotal', { total: i18n.num(res.data.total, 0) })}</p>}
      {res.data && res.data.deadLetters.length === 0 && <p>{i18n.t('quality.noDeadLetters')}</p>}
      {res.data && res.data.deadLetters.length > 0 && (
        <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="dl-h">
          <table class="dead-letters">
            <thead>
              <tr>
                <th scope="col">{i18n.t('col.received')}</th>
                <th scope="col">{i18n.t('col.source')}</th>
                <th scope="col">{i18n.t('col.code')}</th>
                <th scope="col">{i18n.t('col.reason')}</th>
                <th scope="col">{i18n.t('col.topic')}</th>
                <th scope="col">{i18n.t('col.payload')}</th>
              </tr>
            </thead>
            <tbody>
              {res.data.deadLetters.map((d) => (
                <tr>
                  <th scope="row">{i18n.dateTime(d.receivedAtMs, tz)}</th>
                  <td>{d.source}</td>
                  <td>
                    <code>{d.code}</code>
                  </td>
                  <td>{d.reason}</td>
                  <td>
                    <code>{d.topic}</code>
                  </td>
                  <td>
                    <details>
                      <summary>
                        {d.payloadBytes} B{d.truncated ? ' …' : ''}
                      </summary>
                      <pre>{d.payloadEncoding === 'utf8' ? d.payload : `base64: ${d.payload}`}</pre>
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label={i18n.t('quality.deadLetters')}>
        <button type="button" class="button secondary" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
          ← {i18n.t('quality.prev')}
        </button>
        <span>{i18n.t('quality.page', { n: cursors.length + 1 })}</span>
        <button type="button" class="button secondary" disabled={!res.data?.next} onClick={() => res.data?.next && setCursors((c) => [...c, res.data!.next!])}>
          {i18n.t('quality.next')} →
        </button>
      </nav>
    </section>
  );
}

