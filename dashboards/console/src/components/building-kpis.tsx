/** The KPI tiles of a building (live kW, today's kWh, 12-month EUI against its quota, coverage, alerts): on the portfolio and on the building page. */
import type { BuildingSummary } from '../api.js';
import { useI18n } from '../i18n.js';

/** Where the 12-month EUI stands against the GB/T 51161 quota of the building's type. */
export function euiStatus(b: BuildingSummary): 'guide' | 'constraint' | 'above' | 'none' {
  const q = b.eui?.quota;
  if (!b.eui || !q) return 'none';
  return q.meetsGuide ? 'guide' : q.meetsConstraint ? 'constraint' : 'above';
}

export const EUI_STATUS_KEY = { guide: 'eui.withinGuide', constraint: 'eui.withinConstraint', above: 'eui.aboveConstraint', none: 'eui.noQuota' } as const;

export function BuildingKpis(props: {
  building: BuildingSummary;
  live: { kw: number | null; at: number | null };
  /** How the live reading's time is shown (a time of day on the portfolio, date and time on the building page). */
  liveTime: (ms: number) => string;
  alerts: number | null;
  class?: string;
}) {
  const i18n = useI18n();
  const b = props.building;
  const status = euiStatus(b);
  const q = b.eui?.quota;
  return (
    <dl class={props.class ?? 'kpis'}>
      <div>
        <dt>{i18n.t('kpi.live')}</dt>
        <dd data-live-kw={props.live.kw ?? ''}>
          <strong>{i18n.num(props.live.kw, 1)}</strong> {i18n.t('unit.kW')}
          {props.live.at !== null && <small class="muted block">{i18n.t('kpi.asOf', { time: props.liveTime(props.live.at) })}</small>}
        </dd>
      </div>
      <div>
        <dt>{i18n.t('kpi.today')}</dt>
        <dd>
          <strong>{i18n.num(b.todayKwh, 0)}</strong> {i18n.t('unit.kWh')}
        </dd>
      </div>
      <div>
        <dt>{i18n.t('kpi.eui')}</dt>
        <dd>
          <strong>{i18n.num(b.eui?.value, 1)}</strong> {i18n.t('unit.euI')}
          <span class={`badge eui-${status}`}>{i18n.t(EUI_STATUS_KEY[status])}</span>
          {q && <small class="muted block">{i18n.t('kpi.quota', { constraint: q.constraint, guide: q.guide })}</small>}
          {b.eui && b.eui.windowDays < 360 && <small class="muted block">{i18n.t('kpi.annualised', { days: i18n.num(b.eui.windowDays, 1) })}</small>}
        </dd>
      </div>
      <div>
        <dt>{i18n.t('kpi.coverage')}</dt>
        <dd>
          <strong>{i18n.pct(b.coverage30d, 1)}</strong>
        </dd>
      </div>
      <div>
        <dt>{i18n.t('kpi.alerts')}</dt>
        <dd>
          <strong>{props.alerts === null ? i18n.t('none') : i18n.num(props.alerts, 0)}</strong>
        </dd>
      </div>
    </dl>
  );
}
