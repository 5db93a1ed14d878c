/**
 * A building: live power (stream), daily energy by end use (stacked), the hourly load profile of
 * a year as a heat map, and M&V — actual vs baseline with the uncertainty band, cumulative
 * savings, status and findings — and its meters with their latest readings.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { enc, getJson, readingKw, useApiKey, useResource, type Alert, type MvSummary, type Overview, type Timeseries } from '../api.js';
import { iso } from '../csv.js';
import { Figure } from '../components/figure.js';
import { Matrix, ScaleLegend, viridis } from '../components/matrix.js';
import { LoadError, Loading } from '../components/status.js';
import { END_USE_COLORS, monthAxis, PALETTE, timeAxis, tzDate, UPlot, valueAxis } from '../components/uplot.js';
import { useI18n, type I18n } from '../i18n.js';
import { useLive } from '../live.js';
import { href } from '../router.js';
import { liveKwOf, useLiveKw } from './portfolio.js';
import { BuildingKpis } from '../components/building-kpis.js';

const HOUR_MS = 3_600_000;
const LIVE_WINDOW_MS = 6 * HOUR_MS;

export function BuildingPage(props: { site: string; building: string; alerts: Alert[] | null }) {
  const i18n = useI18n();
  const base = `/api/v1/buildings/${enc(props.site)}/${enc(props.building)}`;
  const overview = useResource<Overview>(`${base}/overview`);
  const live = useLiveKw({ site: props.site, building: props.building });
  const o = overview.data;
  useEffect(() => {
    const t = setInterval(overview.reload, 60_000);
    return () => clearInterval(t);
  }, [overview.reload]);

  if (overview.error) return <LoadError what={`${props.site}/${props.building}`} error={overview.error} retry={overview.reload} />;
  if (!o) return <Loading />;
  const b = o.building;
  const tz = o.site.timezone;
  const liveNow = liveKwOf(b, live);
  const activeAlerts = props.alerts === null ? null : props.alerts.filter((a) => a.state === 'active' && a.site === b.site && a.building === b.id).length;

  return (
    <>
      <nav aria-label="breadcrumb" class="breadcrumb">
        <a href={href({ page: 'portfolio' })}>{i18n.t('building.back')}</a> <span aria-hidden="true">›</span> <span>{o.site.name ?? o.site.id}</span>
      </nav>
      <h1>{b.name ?? b.id}</h1>
      <p class="muted">
        {[b.type ? i18n.label('type', b.type) : null, b.floorAreaM2 ? `${i18n.num(b.floorAreaM2, 0)} ${i18n.t('unit.m2')}` : null, `${b.site}/${b.id}`].filter(Boolean).join(' · ')}
      </p>
      <BuildingKpis class="kpis kpi-row" building={b} live={liveNow} liveTime={(ms) => i18n.dateTime(ms, tz)} alerts={activeAlerts} />

      {b.mainMeters[0] && <LivePower site={b.site} building={b.id} meter={b.mainMeters[0]} tz={tz} />}
      <EnergyCharts base={base} overview={o} tz={tz} />
      <MvSection base={base} overview={o} />
      <MetersTable overview={o} tz={tz} />
    </>
  );
}

function LivePower(props: { site: string; building: string; meter: string; tz: string }) {
  const i18n = useI18n();
  const [points, setPoints] = useState<{ t: number[]; kw: number[] } | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const key = useApiKey();
  useEffect(() => {
    const ctl = new AbortController();
    const from = Date.now() - LIVE_WINDOW_MS;
    getJson<{ readings: Array<{ ts: number; value: number; intervalS?: number; quantity: string; kind: string; unit: string }> }>(`/api/v1/meters/${enc(props.site)}/${enc(props.building)}/${enc(props.meter)}/readings?quantity=electricity&kind=interval&from=${from}`, key, ctl.signal)
      .then((body) => {
        const rows = body.readings.map((r) => [r.ts, readingKw(r)] as const).filter((r): r is readonly [number, number] => r[1] !== null);
        setPoints((prev) => merge({ t: rows.map((r) => r[0]), kw: rows.map((r) => r[1]) }, prev));
      })
      .catch((err: unknown) => {
        if (!ctl.signal.aborted) setError(err instanceof Error ? err : new Error(String(err)));
      });
    return () => ctl.abort();
  }, [props.site, props.building, props.meter, key]);
  useLive(
    { site: props.site, building: props.building },
    {
      onReadings(readings) {
        const mine = readings.filter((r) => r.meter === props.meter && r.quantity === 'electricity' && r.kind === 'interval');
        if (!mine.length) return;
        setPoints((prev) => merge({ t: mine.map((r) => r.ts), kw: mine.map((r) => readingKw(r) ?? 0) }, prev));
      },
    },
  );
  const data = useMemo<uPlot.AlignedData>(() => [points?.t ?? [], points?.kw ?? []], [points]);
  if (error) return <LoadError what={i18n.t('building.liveChart')} error={error} />;
  const title = `${i18n.t('building.liveChart')} (${props.meter})`;
  return (
    <section class="panel" aria-label={title}>
      <Figure
        name="live"
        title={title}
        description={i18n.t('building.liveChartDesc')}
        points={data[0].length}
        csv={{ filename: `${props.site}-${props.building}-${props.meter}-live.csv`, header: ['time', `${props.meter} power (kW)`], rows: (points?.t ?? []).map((t, i) => [iso(t), points!.kw[i]!]) }}
        table={{ header: [i18n.t('col.time'), `${i18n.t('series.power')} (kW)`], rows: (points?.t ?? []).map((t, i) => [i18n.dateTime(t, props.tz), i18n.num(points!.kw[i], 2)]).reverse() }}
      >
        <UPlot
          optionsKey={`live|${i18n.lang}|${props.tz}`}
          options={() => ({
            ms: 1,
            padding: [12, 28, 0, 0],
            tzDate: tzDate(props.tz),
            scales: { x: { time: true } },
            series: [{ label: i18n.t('col.time'), value: (_u, v) => (v === null ? '' : i18n.dateTime(v, props.tz)) }, { label: `${props.meter} (kW)`, stroke: PALETTE[0], width: 2, fill: 'rgba(29,78,216,0.08)', value: (_u, v) => i18n.num(v, 2) }],
            axes: [timeAxis(i18n, props.tz), valueAxis(i18n, 'kW')],
          })}
          data={data}
          height={220}
        />
      </Figure>
    </section>
  );
}

/** Merges points into a sorted, de-duplicated series (a later value of the same time wins), keeping the live window. */
function merge(add: { t: number[]; kw: number[] }, prev: { t: number[]; kw: number[] } | null): { t: number[]; kw: number[] } {
  const m = new Map<number, number>();
  prev?.t.forEach((t, i) => m.set(t, prev.kw[i]!));
  add.t.forEach((t, i) => m.set(t, add.kw[i]!));
  const cutoff = Date.now() - LIVE_WINDOW_MS * 2;
  const t = [...m.keys()].filter((x) => x >= cutoff).sort((a, b) => a - b);
  return { t, kw: t.map((x) => m.get(x)!) };
}

function EnergyCharts(props: { base: string; overview: Overview; tz: string }) {
  const i18n = useI18n();
  const mains = props.overview.building.mainMeters;
  const daily = useResource<Timeseries>(`${props.base}/timeseries?bucket=1d`);
  const hourly = useResource<Timeseries>(mains.length ? `${props.base}/timeseries?bucket=1h&meters=${mains.map(enc).join(',')}` : null);
  return (
    <>
      <section class="panel" aria-label={i18n.t('building.endUse')}>
        {daily.error && <LoadError what={i18n.t('building.endUse')} error={daily.error} retry={daily.reload} />}
        {!daily.data && !daily.error && <Loading />}
        {daily.data && <EndUseChart ts={daily.data} tz={props.tz} />}
      </section>
      {mains.length > 0 && (
        <section class="panel" aria-label={i18n.t('building.heatmap')}>
          {hourly.error && <LoadError what={i18n.t('building.heatmap')} error={hourly.error} retry={hourly.reload} />}
          {!hourly.data && !hourly.error && <Loading />}
          {hourly.data && <LoadProfile ts={hourly.data} tz={props.tz} />}
        </section>
      )}
    </>
  );
}

function EndUseChart(props: { ts: Timeseries; tz: string }) {
  const i18n = useI18n();
  const { ts } = props;
  const elec = ts.series.filter((s) => s.quantity === 'electricity' && s.kind === 'interval');
  const subs = elec.filter((s) => s.role === 'sub');
  // Sub-meters of the same end use add up to one layer; without sub-meters the main meters are the one layer.
  const layers = useMemo(() => {
    const groups = new Map<string, { key: string; label: string; color: string; values: (number | null)[] }>();
    const source = subs.length ? subs : elec.filter((s) => s.role === 'main');
    source.forEach((s, i) => {
      const key = subs.length ? (s.endUse ?? s.meter) : 'main';
      const g = groups.get(key) ?? { key, label: subs.length ? (s.endUse ? i18n.label('endUse', s.endUse) : s.meter) : i18n.label('role', 'main'), color: (s.endUse && END_USE_COLORS[s.endUse]) || PALETTE[i % PALETTE.length]!, values: new Array<number | null>(ts.time.length).fill(null) };
      s.values.forEach((v, j) => {
        if (v !== null) g.values[j] = (g.values[j] ?? 0) + v;
      });
      groups.set(key, g);
    });
    return [...groups.values()];
  }, [ts, i18n.lang]);
  const stacked = useMemo(() => {
    const sums: number[][] = [];
    layers.forEach((l, k) => sums.push(l.values.map((v, j) => (v ?? 0) + (k > 0 ? sums[k - 1]![j]! : 0))));
    return sums;
  }, [layers]);
  // Drawn top layer first, each filled down to zero, so each band shows between its neighbours.
  const data = useMemo<uPlot.AlignedData>(() => [ts.time, ...stacked.slice().reverse()], [ts, stacked]);
  const title = i18n.t(subs.length ? 'building.endUse' : 'building.mainOnly');
  if (!layers.length || !ts.time.length) {
    return (
      <>
        <h2 class="h3">{title}</h2>
        <p>{i18n.t('building.noData')}</p>
      </>
    );
  }
  const reversed = layers.slice().reverse();
  return (
    <Figure
      name="end-use"
      title={title}
      description={i18n.t(subs.length ? 'building.endUseDesc' : 'building.mainOnlyDesc')}
      points={ts.time.length}
      csv={{ filename: `${ts.site}-${ts.building}-daily-end-use.csv`, header: ['time', ...layers.map((l) => `${l.key} electricity (kWh)`)], rows: ts.time.map((t, j) => [iso(t), ...layers.map((l) => l.values[j] ?? null)]) }}
      table={{ header: [i18n.t('col.time'), ...layers.map((l) => `${l.label} (kWh)`)], rows: ts.time.map((t, j) => [i18n.date(t, props.tz), ...layers.map((l) => i18n.num(l.values[j], 1))]).reverse() }}
    >
      <UPlot
        optionsKey={`enduse|${i18n.lang}|${layers.map((l) => l.key).join(',')}`}
        options={() => ({
          ms: 1,
          padding: [12, 28, 0, 0],
          tzDate: tzDate(props.tz),
          scales: { x: { time: true } },
          series: [
            { label: i18n.t('col.time'), value: (_u, v) => (v === null ? '' : i18n.date(v, props.tz)) },
            ...reversed.map((l) => ({ label: l.label, stroke: l.color, fill: l.color, width: 1, points: { show: false }, value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) => (idx === null ? '' : i18n.num(l.values[idx], 0)) })),
          ],
          axes: [timeAxis(i18n, props.tz), valueAxis(i18n, 'kWh')],
        })}
        data={data}
        height={280}
      />
    </Figure>
  );
}

function LoadProfile(props: { ts: Timeseries; tz: string }) {
  const i18n = useI18n();
  const { ts } = props;
  const model = useMemo(() => {
    const total: (number | null)[] = ts.time.map((_, j) => {
      let sum: number | null = null;
      for (const s of ts.series) if (s.quantity === 'electricity' && s.values[j] !== null) sum = (sum ?? 0) + s.values[j]!;
      return sum;
    });
    const parts = new Intl.DateTimeFormat('en-CA', { timeZone: props.tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23', weekday: 'short' });
    const days: string[] = [];
    const dayIndex = new Map<string, number>();
    const cells: Array<{ day: number; hour: number }> = [];
    const byHour = Array.from({ length: 24 }, () => ({ wd: 0, wdn: 0, we: 0, wen: 0 }));
    ts.time.forEach((t, j) => {
      const p: Record<string, string> = {};
      for (const x of parts.formatToParts(t)) p[x.type] = x.value;
      const date = `${p.year}-${p.month}-${p.day}`;
      let d = dayIndex.get(date);
      if (d === undefined) {
        d = days.length;
        days.push(date);
        dayIndex.set(date, d);
      }
      const hour = Number(p.hour);
      cells.push({ day: d, hour });
      const v = total[j];
      if (v !== null && v !== undefined) {
        const h = byHour[hour]!;
        if (p.weekday === 'Sat' || p.weekday === 'Sun') [h.we, h.wen] = [h.we + v, h.wen + 1];
        else [h.wd, h.wdn] = [h.wd + v, h.wdn + 1];
      }
    });
    const grid: (number | null)[][] = Array.from({ length: 24 }, () => new Array<number | null>(days.length).fill(null));
    cells.forEach((c, j) => {
      if (total[j] !== null) grid[c.hour]![c.day] = total[j]!;
    });
    const sorted = total.filter((v): v is number => v !== null).sort((a, b) => a - b);
    const lo = sorted[Math.floor(sorted.length * 0.02)] ?? 0;
    const hi = sorted[Math.floor(sorted.length * 0.98)] ?? 1;
    return { total, days, grid, byHour, lo, hi };
  }, [ts, props.tz]);
  const title = i18n.t('building.heatmap');
  if (!model.days.length) {
    return (
      <>
        <h2 class="h3">{title}</h2>
        <p>{i18n.t('building.noData')}</p>
      </>
    );
  }
  const ticks = model.days.map((d, col) => ({ col, d })).filter((x) => x.d.endsWith('-01') || x.col === 0).map((x) => ({ col: x.col, label: i18n.month(x.d.slice(0, 7)) }));
  const span = Math.max(1e-9, model.hi - model.lo);
  return (
    <Figure
      name="heatmap"
      title={title}
      description={i18n.t('building.heatmapDesc')}
      points={model.total.filter((v) => v !== null).length}
      csv={{ filename: `${ts.site}-${ts.building}-hourly.csv`, header: ['time', 'electricity (kWh)'], rows: ts.time.map((t, j) => [iso(t), model.total[j] ?? null]) }}
      table={{
        caption: i18n.t('building.heatmapTable'),
        header: [i18n.t('building.hourOfDay'), i18n.t('building.weekday'), i18n.t('building.weekend')],
        rows: model.byHour.map((h, hour) => [`${String(hour).padStart(2, '0')}:00`, i18n.num(h.wdn ? h.wd / h.wdn : null, 1), i18n.num(h.wen ? h.we / h.wen : null, 1)]),
      }}
    >
      <Matrix
        rows={24}
        cols={model.days.length}
        cellHeight={10}
        labelWidth={40}
        version={`${ts.time.length}|${ts.to}|${i18n.lang}`}
        color={(row, col) => {
          const v = model.grid[row]![col];
          return v === null || v === undefined ? null : viridis((v - model.lo) / span);
        }}
        rowLabel={(row) => (row % 6 === 0 ? `${String(row).padStart(2, '0')}:00` : '')}
        colTicks={ticks}
        hint={i18n.t('hm.hover')}
        readout={(row, col) => `${model.days[col]} ${String(row).padStart(2, '0')}:00 — ${i18n.num(model.grid[row]![col], 1)} kWh`}
      />
      <ScaleLegend less={i18n.t('hm.less')} more={i18n.t('hm.more')} min={`${i18n.num(model.lo, 0)} kWh`} max={`${i18n.num(model.hi, 0)} kWh`} />
    </Figure>
  );
}

function MvSection(props: { base: string; overview: Overview }) {
  const i18n = useI18n();
  const savings = useResource<{ available: boolean; results: MvSummary[] }>(props.overview.mvAvailable ? `${props.base}/savings` : null);
  return (
    <section class="panel" aria-labelledby="mv-h">
      <h2 id="mv-h">{i18n.t('building.mv')}</h2>
      {!props.overview.mvAvailable && <p>{i18n.t('building.mvOff')}</p>}
      {savings.error && <LoadError what={i18n.t('building.mv')} error={savings.error} retry={savings.reload} />}
      {props.overview.mvAvailable && !savings.data && !savings.error && <Loading />}
      {savings.data && savings.data.results.length === 0 && <p>{i18n.t('building.mvNone')}</p>}
      {savings.data?.results.map((r) => <MvResult r={r} site={props.overview.site.id} building={props.overview.building.id} tz={props.overview.site.timezone} />)}
    </section>
  );
}

const monthMs = (period: string) => {
  const [y, m] = period.split('-').map(Number);
  return Date.UTC(y!, m! - 1, 1);
};

function statusClass(status: string) {
  return status === 'verified' ? 'ok' : status === 'verified_with_override' ? 'warn' : 'bad';
}

function MvResult(props: { r: MvSummary; site: string; building: string; tz: string }) {
  const i18n = useI18n();
  const { r } = props;
  const u = r.totals.uncertainty90;
  const x = useMemo(() => r.monthly.period.map(monthMs), [r]);
  const band = (values: number[], us: (number | null)[], sign: 1 | -1) => values.map((v, i) => (us[i] === null ? null : v + sign * us[i]!));
  const monthlyData = useMemo<uPlot.AlignedData>(() => [x, r.monthly.counterfactual, band(r.monthly.counterfactual, r.monthly.uncertainty90, 1), band(r.monthly.counterfactual, r.monthly.uncertainty90, -1), r.monthly.observed], [r, x]);
  const cx = useMemo(() => r.cumulative.period.map(monthMs), [r]);
  const cumData = useMemo<uPlot.AlignedData>(() => [cx, r.cumulative.avoided, band(r.cumulative.avoided, r.cumulative.uncertainty90, 1), band(r.cumulative.avoided, r.cumulative.uncertainty90, -1)], [r, cx]);
  const fraction = r.totals.fraction === null ? i18n.t('none') : i18n.pct(r.totals.fraction, 1);
  const bandSeries = (label: string) => ({ label, stroke: 'rgba(29,78,216,0.55)', width: 1, dash: [4, 4], points: { show: false }, value: (_u: uPlot, v: number | null) => i18n.num(v, 0) });
  const monthLegend = { label: i18n.t('col.month'), value: (_u: uPlot, v: number | null) => (v === null ? '' : i18n.month(new Date(v).toISOString().slice(0, 7))) };
  return (
    <article class="mv-result" data-mv-meter={r.meter}>
      <h3>{i18n.t('building.mvMeter', { meter: r.meter, kind: r.model.kind, type: r.model.type })}</h3>
      <p>
        <span class={`badge ${statusClass(r.status)}`} data-mv-status={r.status}>
          {i18n.label('status', r.status)}
        </span>{' '}
        <span class={`badge ${r.g14Passed ? 'ok' : 'bad'}`}>{i18n.t(r.g14Passed ? 'building.g14Pass' : 'building.g14Fail')}</span>
      </p>
      <p class="muted">{i18n.t('building.mvRan', { time: i18n.dateTime(r.ranAtMs, props.tz), bStart: r.baseline.start, bEnd: r.baseline.end, rStart: r.reporting.start, rEnd: r.reporting.end })}</p>
      <dl class="kpis kpi-row">
        <div>
          <dt>{i18n.t('building.avoided')}</dt>
          <dd>
            <strong>{i18n.t('building.avoidedValue', { value: i18n.num(r.totals.avoided, 0), u: i18n.num(u, 0), fraction })}</strong>
          </dd>
        </div>
        {r.avoidedTco2 !== null && (
          <div>
            <dt>tCO₂</dt>
            <dd>
              <strong>{i18n.num(r.avoidedTco2, 1)}</strong>
            </dd>
          </div>
        )}
        {r.eui && (
          <div>
            <dt>{i18n.t('kpi.eui')}</dt>
            <dd>
              <strong>{i18n.num(r.eui.value, 1)}</strong> {i18n.t('unit.euI')}
            </dd>
          </div>
        )}
      </dl>
      <p>{i18n.t('building.fit', { r2: i18n.num(r.model.r2Adjusted, 3), cv: i18n.pct(r.model.cvrmse, 1), nmbe: i18n.pct(r.model.nmbe, 2), n: r.model.n })}</p>
      {r.override && <p class="badge warn">{i18n.t('building.override', { by: r.override.by, reason: r.override.reason })}</p>}
      {r.disqualifications.length > 0 && (
        <div class="findings bad-border">
          <h4>{i18n.t('building.disqualifications')}</h4>
          <ul>
            {r.disqualifications.map((f) => (
              <li>
                <code>{f.code}</code> {f.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {r.warnings.length > 0 && (
        <div class="findings warn-border">
          <h4>{i18n.t('building.warnings')}</h4>
          <ul>
            {r.warnings.map((f) => (
              <li>
                <code>{f.code}</code> {f.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      <Figure
        name="actual-vs-baseline"
        title={i18n.t('building.actualVsBaseline')}
        description={i18n.t('building.actualVsBaselineDesc')}
        points={x.length}
        csv={{
          filename: `${props.site}-${props.building}-${r.meter}-actual-vs-baseline.csv`,
          header: ['month', 'baseline (kWh)', 'baseline_upper_90 (kWh)', 'baseline_lower_90 (kWh)', 'observed (kWh)'],
          rows: r.monthly.period.map((p, i) => [p, monthlyData[1]![i] ?? null, monthlyData[2]![i] ?? null, monthlyData[3]![i] ?? null, monthlyData[4]![i] ?? null]),
        }}
        table={{
          header: [i18n.t('col.month'), `${i18n.t('series.baseline')} (kWh)`, `± 90 % (kWh)`, `${i18n.t('series.observed')} (kWh)`],
          rows: r.monthly.period.map((p, i) => [i18n.month(p), i18n.num(r.monthly.counterfactual[i], 0), i18n.num(r.monthly.uncertainty90[i], 0), i18n.num(r.monthly.observed[i], 0)]),
        }}
      >
        <UPlot
          optionsKey={`avb|${i18n.lang}|${r.resultId}`}
          options={() => ({
            ms: 1,
            padding: [12, 28, 0, 0],
            tzDate: tzDate('UTC'),
            scales: { x: { time: true } },
            series: [
              monthLegend,
              { label: i18n.t('series.baseline'), stroke: '#374151', width: 2, dash: [6, 3], value: (_u, v) => i18n.num(v, 0) },
              bandSeries(i18n.t('series.upper')),
              bandSeries(i18n.t('series.lower')),
              { label: i18n.t('series.observed'), stroke: '#c2410c', width: 2, value: (_u, v) => i18n.num(v, 0) },
            ],
            bands: [{ series: [2, 3], fill: 'rgba(29,78,216,0.14)' }],
            axes: [monthAxis(i18n), valueAxis(i18n, 'kWh')],
          })}
          data={monthlyData}
          height={260}
        />
      </Figure>
      <Figure
        name="cumulative-savings"
        title={i18n.t('building.cumulative')}
        description={i18n.t('building.cumulativeDesc')}
        points={cx.length}
        csv={{
          filename: `${props.site}-${props.building}-${r.meter}-cumulative-savings.csv`,
          header: ['month', 'cumulative_avoided (kWh)', 'upper_90 (kWh)', 'lower_90 (kWh)'],
          rows: r.cumulative.period.map((p, i) => [p, cumData[1]![i] ?? null, cumData[2]![i] ?? null, cumData[3]![i] ?? null]),
        }}
        table={{
          header: [i18n.t('col.month'), `${i18n.t('series.cumulative')} (kWh)`, '± 90 % (kWh)'],
          rows: r.cumulative.period.map((p, i) => [i18n.month(p), i18n.num(r.cumulative.avoided[i], 0), i18n.num(r.cumulative.uncertainty90[i], 0)]),
        }}
      >
        <UPlot
          optionsKey={`cum|${i18n.lang}|${r.resultId}`}
          options={() => ({
            ms: 1,
            padding: [12, 28, 0, 0],
            tzDate: tzDate('UTC'),
            scales: { x: { time: true } },
            series: [monthLegend, { label: i18n.t('series.cumulative'), stroke: '#047857', width: 2, value: (_u, v) => i18n.num(v, 0) }, bandSeries(i18n.t('series.upper')), bandSeries(i18n.t('series.lower'))],
            bands: [{ series: [2, 3], fill: 'rgba(4,120,87,0.14)' }],
            axes: [monthAxis(i18n), valueAxis(i18n, 'kWh')],
          })}
          data={cumData}
          height={240}
        />
      </Figure>
    </article>
  );
}

function latestText(i18n: I18n, r: { value: number; unit: string }) {
  return `${i18n.num(r.value, 2)} ${r.unit}`;
}

function MetersTable(props: { overview: Overview; tz: string }) {
  const i18n = useI18n();
  return (
    <section class="panel" aria-labelledby="meters-h">
      <h2 id="meters-h">{i18n.t('building.metersTable')}</h2>
      <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="meters-h">
        <table>
          <thead>
            <tr>
              <th scope="col">{i18n.t('col.meter')}</th>
              <th scope="col">{i18n.t('col.role')}</th>
              <th scope="col">{i18n.t('col.endUse')}</th>
              <th scope="col">{i18n.t('col.quantity')}</th>
              <th scope="col">{i18n.t('col.latest')}</th>
              <th scope="col">{i18n.t('col.at')}</th>
            </tr>
          </thead>
          <tbody>
            {props.overview.meters.map((m) => {
              const r = m.latest.find((x) => x.kind !== 'register') ?? m.latest[0];
              return (
                <tr>
                  <th scope="row">
                    {m.meter}
                    {m.parent && <small class="muted block">↳ {m.parent}</small>}
                  </th>
                  <td>{i18n.label('role', m.role)}</td>
                  <td>{i18n.label('endUse', m.endUse)}</td>
                  <td>{m.quantity ?? i18n.t('none')}</td>
                  <td class="num">{r ? latestText(i18n, r) : i18n.t('none')}</td>
                  <td>{r ? i18n.dateTime(r.ts, props.tz) : i18n.t('none')}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
