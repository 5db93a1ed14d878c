/** Portfolio: every site with a schematic site plan and its buildings as tiles, live kW updated from the stream. */
import { useEffect, useState } from 'preact/hooks';
import { readingKw, useResource, type Alert, type BuildingSummary, type Portfolio, type SiteSummary } from '../api.js';
import { downloadCsv, iso } from '../csv.js';
import { BuildingKpis, EUI_STATUS_KEY, euiStatus } from '../components/building-kpis.js';
import { LoadError, Loading } from '../components/status.js';
import { useI18n, type I18n } from '../i18n.js';
import { useLive } from '../live.js';
import { href } from '../router.js';

/** Live kW per main meter, keyed `site/building/meter`, with the end of its interval. */
export type LiveKw = ReadonlyMap<string, { kw: number; at: number }>;

const STATUS_KEY = EUI_STATUS_KEY;
const STATUS_FILL = { guide: '#047857', constraint: '#a16207', above: '#b91c1c', none: '#6b7280' } as const;

/** Live kW of a building: the stream's latest of every main meter when it has them all, else the summary's. */
export function liveKwOf(b: BuildingSummary, live: LiveKw): { kw: number | null; at: number | null } {
  const parts = b.mainMeters.map((m) => live.get(`${b.site}/${b.id}/${m}`));
  if (parts.length && parts.every((p) => p !== undefined)) {
    return { kw: parts.reduce((a, p) => a + p!.kw, 0), at: Math.min(...parts.map((p) => p!.at)) };
  }
  return { kw: b.liveKw, at: b.liveAt };
}

/** Collects live kW of electricity interval readings from the stream (all sites or one). */
export function useLiveKw(filter: { site?: string; building?: string }): LiveKw {
  const [live, setLive] = useState<LiveKw>(new Map());
  useLive(filter, {
    onReadings(readings) {
      const fresh = readings.filter((r) => r.quantity === 'electricity' && r.kind === 'interval' && readingKw(r) !== null);
      if (!fresh.length) return;
      setLive((prev) => {
        const next = new Map(prev);
        for (const r of fresh) {
          const key = `${r.site}/${r.building}/${r.meter}`;
          const at = r.ts + (r.intervalS ?? 0) * 1000;
          const old = next.get(key);
          if (!old || old.at <= at) next.set(key, { kw: readingKw(r)!, at });
        }
        return next;
      });
    },
  });
  return live;
}

function SitePlan(props: { site: SiteSummary }) {
  const i18n = useI18n();
  const { buildings } = props.site;
  const maxArea = Math.max(1, ...buildings.map((b) => b.floorAreaM2 ?? 0));
  const width = 640;
  const gap = 16;
  let x = gap;
  let y = gap;
  let rowH = 0;
  const boxes = buildings.map((b) => {
    const side = b.floorAreaM2 ? Math.max(56, Math.sqrt(b.floorAreaM2 / maxArea) * 130) : 56;
    if (x + side > width - gap) {
      x = gap;
      y += rowH + gap + 18;
      rowH = 0;
    }
    const box = { b, x, y, side };
    x += side + gap;
    rowH = Math.max(rowH, side);
    return box;
  });
  const height = y + rowH + gap + 18;
  return (
    <svg class="site-plan" viewBox={`0 0 ${width} ${height}`} role="group" aria-label={i18n.t('portfolio.sitePlan', { site: props.site.name ?? props.site.id })}>
      <desc>{i18n.t('portfolio.sitePlanDesc')}</desc>
      <rect x="1" y="1" width={width - 2} height={height - 2} rx="12" class="site-ground" />
      {boxes.map(({ b, x: bx, y: by, side }) => {
        const status = euiStatus(b);
        const name = b.name ?? b.id;
        return (
          <a href={href({ page: 'building', site: b.site, building: b.id })} class="plan-building" aria-label={`${name}: ${i18n.t(STATUS_KEY[status])}`}>
            <rect x={bx} y={by} width={side} height={side} rx="6" fill={STATUS_FILL[status]} />
            <text x={bx + side / 2} y={by + side / 2} text-anchor="middle" dominant-baseline="middle" class="plan-kw">
              {b.eui ? i18n.num(b.eui.value, 0) : i18n.t('none')}
            </text>
            <text x={bx + side / 2} y={by + side + 14} text-anchor="middle" class="plan-label">
              {b.id}
            </text>
          </a>
        );
      })}
    </svg>
  );
}

function SitesMap(props: { sites: SiteSummary[] }) {
  const i18n = useI18n();
  const located = props.sites.filter((s) => s.latitude !== null && s.longitude !== null);
  if (located.length < 2) return null;
  const lats = located.map((s) => s.latitude!);
  const lons = located.map((s) => s.longitude!);
  const [minLat, maxLat, minLon, maxLon] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  const w = 640;
  const h = 280;
  const px = (lon: number) => 40 + ((lon - minLon) / Math.max(1e-6, maxLon - minLon)) * (w - 80);
  const py = (lat: number) => h - 40 - ((lat - minLat) / Math.max(1e-6, maxLat - minLat)) * (h - 80);
  return (
    <svg class="site-plan" viewBox={`0 0 ${w} ${h}`} role="group" aria-label={i18n.t('portfolio.sitesMap')}>
      <rect x="1" y="1" width={w - 2} height={h - 2} rx="12" class="site-ground" />
      {located.map((s) => (
        <a href={`#site-${s.id}`} aria-label={s.name ?? s.id}>
          <circle cx={px(s.longitude!)} cy={py(s.latitude!)} r="8" fill="#1d4ed8" />
          <text x={px(s.longitude!) + 12} y={py(s.latitude!) + 4} class="plan-label">
            {s.name ?? s.id}
          </text>
        </a>
      ))}
    </svg>
  );
}

function Tile(props: { b: BuildingSummary; live: LiveKw; alerts: number | null; tz: string }) {
  const i18n = useI18n();
  const { b } = props;
  const live = liveKwOf(b, props.live);
  return (
    <li class="tile" data-building={b.id}>
      <h3>
        <a href={href({ page: 'building', site: b.site, building: b.id })} class="building-link">
          {b.name ?? b.id}
        </a>
      </h3>
      <p class="muted">
        {[b.type ? i18n.label('type', b.type) : null, b.floorAreaM2 ? `${i18n.num(b.floorAreaM2, 0)} ${i18n.t('unit.m2')}` : null, b.id].filter(Boolean).join(' · ')}
      </p>
      {b.mainMeters.length === 0 ? (
        <p class="muted">{i18n.t('kpi.noElectricity')}</p>
      ) : (
        <BuildingKpis building={b} live={live} liveTime={(ms) => i18n.time(ms, props.tz)} alerts={props.alerts} />
      )}
    </li>
  );
}

function portfolioCsv(i18n: I18n, sites: SiteSummary[], live: LiveKw) {
  return {
    filename: 'portfolio.csv',
    header: ['site', 'building', 'name', 'type', 'floor_area (m2)', 'live_power (kW)', 'live_at', 'today_energy (kWh)', 'eui_12mo (kWh/m2/a)', 'quota_constraint (kWh/m2/a)', 'quota_guide (kWh/m2/a)', 'coverage_30d (ratio)'],
    rows: sites.flatMap((s) =>
      s.buildings.map((b) => {
        const l = liveKwOf(b, live);
        return [s.id, b.id, b.name, b.type ? i18n.label('type', b.type) : null, b.floorAreaM2, l.kw, l.at === null ? null : iso(l.at), b.todayKwh, b.eui?.value ?? null, b.eui?.quota?.constraint ?? null, b.eui?.quota?.guide ?? null, b.coverage30d];
      }),
    ),
  };
}

export function PortfolioPage(props: { alerts: Alert[] | null }) {
  const i18n = useI18n();
  const res = useResource<Portfolio>('/api/v1/portfolio/summary');
  const live = useLiveKw({});
  // Today's energy and EUI move slowly: a summary a minute is enough; live kW comes from the stream.
  useEffect(() => {
    const t = setInterval(res.reload, 60_000);
    return () => clearInterval(t);
  }, [res.reload]);
  const alertCount = (b: BuildingSummary) => (props.alerts === null ? null : props.alerts.filter((a) => a.state === 'active' && a.site === b.site && a.building === b.id).length);

  return (
    <>
      <h1>{i18n.t('portfolio.title')}</h1>
      <p class="lead">{i18n.t('portfolio.intro')}</p>
      {res.error && <LoadError what={i18n.t('portfolio.title')} error={res.error} retry={res.reload} />}
      {!res.data && !res.error && <Loading />}
      {res.data && res.data.sites.length === 0 && <p>{i18n.t('portfolio.empty')}</p>}
      {res.data && res.data.sites.length > 0 && (
        <>
          <SitesMap sites={res.data.sites} />
          {res.data.sites.map((s) => (
            <section class="site" id={`site-${s.id}`} aria-labelledby={`site-h-${s.id}`}>
              <div class="section-head">
                <h2 id={`site-h-${s.id}`}>{s.name ?? s.id}</h2>
                <p class="muted">{i18n.t('portfolio.timezone', { tz: s.timezone })}</p>
              </div>
              <div class="plan-wrap">
                <SitePlan site={s} />
                <ul class="legend-list" aria-label={i18n.t('kpi.eui')}>
                  {(['guide', 'constraint', 'above', 'none'] as const).map((k) => (
                    <li>
                      <span class="swatch" style={{ background: STATUS_FILL[k] }} />
                      {i18n.t(STATUS_KEY[k])}
                    </li>
                  ))}
                </ul>
              </div>
              <h3 class="visually-hidden">{i18n.t('portfolio.buildings', { site: s.name ?? s.id })}</h3>
              <ul class="tiles" aria-label={i18n.t('portfolio.buildings', { site: s.name ?? s.id })}>
                {s.buildings.map((b) => (
                  <Tile b={b} live={live} alerts={alertCount(b)} tz={s.timezone} />
                ))}
              </ul>
            </section>
          ))}
          <PortfolioTable sites={res.data.sites} live={live} />
        </>
      )}
    </>
  );
}

function PortfolioTable(props: { sites: SiteSummary[]; live: LiveKw }) {
  const i18n = useI18n();
  const csv = portfolioCsv(i18n, props.sites, props.live);
  return (
    <section aria-labelledby="portfolio-table-h" class="panel">
      <div class="chart-head">
        <h2 id="portfolio-table-h">{i18n.t('portfolio.table')}</h2>
        <button type="button" class="button secondary" onClick={() => downloadCsv(csv)} data-csv="portfolio">
          {i18n.t('csv.download')}
        </button>
      </div>
      <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="portfolio-table-h">
        <table>
          <thead>
            <tr>
              <th scope="col">{i18n.t('col.building')}</th>
              <th scope="col">{i18n.t('col.site')}</th>
              <th scope="col">{i18n.t('kpi.live')} ({i18n.t('unit.kW')})</th>
              <th scope="col">{i18n.t('kpi.today')} ({i18n.t('unit.kWh')})</th>
              <th scope="col">{i18n.t('kpi.eui')} ({i18n.t('unit.euI')})</th>
              <th scope="col">{i18n.t('kpi.coverage')}</th>
            </tr>
          </thead>
          <tbody>
            {props.sites.flatMap((s) =>
              s.buildings.map((b) => (
                <tr>
                  <th scope="row">
                    <a href={href({ page: 'building', site: b.site, building: b.id })}>{b.name ?? b.id}</a>
                  </th>
                  <td>{s.name ?? s.id}</td>
                  <td class="num">{i18n.num(liveKwOf(b, props.live).kw, 1)}</td>
                  <td class="num">{i18n.num(b.todayKwh, 0)}</td>
                  <td class="num">{i18n.num(b.eui?.value, 1)}</td>
                  <td class="num">{i18n.pct(b.coverage30d, 1)}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
