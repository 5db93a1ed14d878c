/**
 * The console's frame: skip link, header with navigation, account and language switch, the routed
 * page, footer. Every page reads the API, which needs a key: until one is signed in the page is
 * replaced by the sign-in prompt and nothing is requested.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { getJson, readSettings, useApiKey, type Alert } from './api.js';
import { I18nProvider, useI18n } from './i18n.js';
import { useLive } from './live.js';
import { Loading } from './components/status.js';
import { AccountControl, AuthProvider, SignInPrompt, useAuth } from './auth.js';
import { AlertsPage } from './pages/alerts.js';
import { InsurerPage } from './pages/insurer.js';
import { LenderPage } from './pages/lender.js';
import { BuildingPage } from './pages/building.js';
import { PortfolioPage } from './pages/portfolio.js';
import { QualityPage } from './pages/quality.js';
import { href, useRoute, type Route } from './router.js';

const settings = readSettings();

/** Alerts of the alert service, kept current from the stream; rendered only when the service exists. */
function AlertFeed(props: { onAlerts: (alerts: Alert[] | null) => void }) {
  const key = useApiKey();
  useEffect(() => {
    getJson<{ alerts: Alert[] }>('/api/v1/alerts', key).then(
      (r) => props.onAlerts(r.alerts),
      () => props.onAlerts(null),
    );
  }, [key]);
  useLive({}, { onAlerts: (a) => a && props.onAlerts(a) });
  return null;
}

function titleOf(route: Route, t: ReturnType<typeof useI18n>['t']): string {
  switch (route.page) {
    case 'portfolio':
      return t('portfolio.title');
    case 'building':
      return `${route.building} · ${t('building.title')}`;
    case 'quality':
      return t('quality.title');
    case 'alerts':
      return t('alerts.title');
    case 'lender':
      return t('lender.title');
    case 'insurer':
      return t('insurer.title');
    case 'notFound':
      return t('notFound.title');
  }
}

function Shell() {
  const i18n = useI18n();
  const auth = useAuth();
  const signedIn = auth.identity !== null && auth.key !== null;
  const route = useRoute();
  const main = useRef<HTMLElement>(null);
  const [alerts, setAlerts] = useState<Alert[] | null>(null);
  const first = useRef(true);

  useEffect(() => {
    document.title = `${titleOf(route, i18n.t)} · Wattproof`;
  }, [route, i18n.lang]);
  // After a navigation (not the first load), focus moves to the new page for screen readers and keyboards.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
    window.scrollTo(0, 0);
  }, [route.page, route.page === 'building' ? `${route.site}/${route.building}` : '']);

  const active = alerts?.filter((a) => a.state === 'active').length ?? 0;
  const nav: Array<{ route: Route; label: string; current: boolean; badge?: number }> = [
    { route: { page: 'portfolio' }, label: i18n.t('nav.portfolio'), current: route.page === 'portfolio' || route.page === 'building' },
    { route: { page: 'quality' }, label: i18n.t('nav.quality'), current: route.page === 'quality' },
    { route: { page: 'alerts' }, label: i18n.t('nav.alerts'), current: route.page === 'alerts', ...(active ? { badge: active } : {}) },
    ...(settings.finance
      ? [
          { route: { page: 'lender' } as Route, label: i18n.t('nav.lender'), current: route.page === 'lender' },
          { route: { page: 'insurer' } as Route, label: i18n.t('nav.insurer'), current: route.page === 'insurer' },
        ]
      : []),
  ];
  const other = i18n.lang === 'zh-CN' ? 'en' : 'zh-CN';

  return (
    <>
      {settings.alerts && signedIn && <AlertFeed key={auth.key} onAlerts={setAlerts} />}
      <a
        class="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          main.current?.focus();
        }}
      >
        {i18n.t('skip')}
      </a>
      <header class="top">
        <div class="top-inner">
          <a class="brand" href={href({ page: 'portfolio' })}>
            <span class="logo" aria-hidden="true">
              ⚡
            </span>
            <span>
              {i18n.t('app.name')}
              <small>{i18n.t('app.tagline')}</small>
            </span>
          </a>
          <nav aria-label={i18n.t('nav.label')} class="main-nav">
            <ul>
              {nav.map((n) => (
                <li>
                  <a href={href(n.route)} aria-current={n.current ? 'page' : undefined}>
                    {n.label}
                    {n.badge ? <span class="count">{n.badge}</span> : null}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <AccountControl />
          <button type="button" class="lang-switch" lang={other} aria-label={i18n.t('lang.switchLabel')} onClick={() => i18n.setLang(other)} data-lang-switch>
            {i18n.t('lang.switch')}
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {!signedIn && (
          <>
            <h1>{titleOf(route, i18n.t)}</h1>
            {auth.checking ? <Loading /> : <SignInPrompt what={titleOf(route, i18n.t)} />}
          </>
        )}
        {signedIn && <Pages key={auth.identity?.keyId} route={route} alerts={alerts} />}
      </main>
      <footer class="bottom">
        <p>
          <a href="/docs">{i18n.t('footer.docs')}</a> · <a href="/api">{i18n.t('footer.api')}</a> · {i18n.t('footer.license')}
        </p>
      </footer>
    </>
  );
}

/** The routed page (signed in). Keyed by the key id: another key starts from a clean slate. */
function Pages(props: { route: Route; alerts: Alert[] | null }) {
  const i18n = useI18n();
  const { route, alerts } = props;
  return (
    <>
      {route.page === 'portfolio' && <PortfolioPage alerts={settings.alerts ? alerts : null} />}
      {route.page === 'building' && <BuildingPage key={`${route.site}/${route.building}`} site={route.site} building={route.building} alerts={settings.alerts ? alerts : null} />}
      {route.page === 'quality' && <QualityPage site={route.site} building={route.building} />}
      {route.page === 'alerts' && <AlertsPage available={settings.alerts} state={route.state} live={alerts} />}
      {route.page === 'lender' && (settings.finance ? <LenderPage packs={settings.packs} /> : <FinanceOff />)}
      {route.page === 'insurer' && (settings.finance ? <InsurerPage packs={settings.packs} /> : <FinanceOff />)}
      {route.page === 'notFound' && (
        <>
          <h1>{i18n.t('notFound.title')}</h1>
          <p>
            <a href={href({ page: 'portfolio' })}>{i18n.t('notFound.back')}</a>
          </p>
        </>
      )}
    </>
  );
}

/** A finance route on a server without the finance service. */
function FinanceOff() {
  const i18n = useI18n();
  return (
    <>
      <h1>{i18n.t('finance.offTitle')}</h1>
      <p class="notice">{i18n.t('finance.off')}</p>
    </>
  );
}

export function App() {
  return (
    <I18nProvider>
      <AuthProvider>
        <Shell />
      </AuthProvider>
    </I18nProvider>
  );
}
