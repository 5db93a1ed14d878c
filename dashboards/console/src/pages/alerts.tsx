/** Alerts from the alert service (GET /api/v1/alerts), or a plain notice when this process has none. */
import { useResource, type Alert } from '../api.js';
import { LoadError, Loading } from '../components/status.js';
import { useI18n } from '../i18n.js';
import { href } from '../router.js';

export function AlertsPage(props: { available: boolean; state?: string | undefined; live: Alert[] | null }) {
  const i18n = useI18n();
  const state = props.state === 'resolved' || props.state === 'all' ? props.state : 'active';
  const res = useResource<{ alerts: Alert[] }>(props.available ? `/api/v1/alerts${state === 'all' ? '' : `?state=${state}`}` : null);
  const noService = !props.available || (res.error && 'status' in res.error && (res.error as { status: number }).status === 404);
  // The stream's copy is newer than the page load when it has one.
  const alerts = (props.live ?? res.data?.alerts ?? []).filter((a) => state === 'all' || a.state === state);
  return (
    <>
      <h1>{i18n.t('alerts.title')}</h1>
      {noService ? (
        <p class="notice" role="status" data-no-alert-service>
          {i18n.t('alerts.noService')}
        </p>
      ) : (
        <>
          <nav class="tabs" aria-label={i18n.t('alerts.state')}>
            {(['active', 'resolved', 'all'] as const).map((s) => (
              <a href={href({ page: 'alerts', state: s })} aria-current={s === state ? 'page' : undefined}>
                {i18n.t(`alerts.${s}`)}
              </a>
            ))}
          </nav>
          {res.error && <LoadError what={i18n.t('alerts.title')} error={res.error} retry={res.reload} />}
          {!res.data && !res.error && <Loading />}
          {res.data && alerts.length === 0 && <p>{i18n.t('alerts.none')}</p>}
          {res.data && alerts.length > 0 && (
            <div class="table-scroll" tabIndex={0} role="region" aria-label={i18n.t('alerts.title')}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">{i18n.t('col.title')}</th>
                    <th scope="col">{i18n.t('col.severity')}</th>
                    <th scope="col">{i18n.t('col.state')}</th>
                    <th scope="col">{i18n.t('col.where')}</th>
                    <th scope="col">{i18n.t('col.since')}</th>
                  </tr>
                </thead>
                <tbody>
                  {alerts.map((a) => (
                    <tr>
                      <th scope="row">
                        {a.title}
                        <small class="muted block">{a.message}</small>
                      </th>
                      <td>
                        <span class={`badge ${a.severity === 'critical' ? 'bad' : 'warn'}`}>{i18n.t(a.severity === 'critical' ? 'alerts.critical' : 'alerts.warning')}</span>
                      </td>
                      <td>{i18n.t(a.state === 'active' ? 'alerts.active' : 'alerts.resolved')}</td>
                      <td>{a.building ? <a href={href({ page: 'building', site: a.site, building: a.building })}>{[a.site, a.building, a.meter].filter(Boolean).join('/')}</a> : a.site}</td>
                      <td>{i18n.dateTime(Date.parse(a.since), 'Asia/Shanghai')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </>
  );
}
