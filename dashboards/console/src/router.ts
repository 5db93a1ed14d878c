/** Client-side routes on the URL hash (`#/…`), so every page is a deep link that survives a reload. */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'portfolio' }
  | { page: 'building'; site: string; building: string }
  | { page: 'quality'; site?: string; building?: string }
  | { page: 'alerts'; state?: string }
  | { page: 'lender' }
  | { page: 'insurer' }
  | { page: 'notFound'; path: string };

/** Parses a hash such as `#/buildings/yuzhong/yz-hotel` or `#/quality?site=yuzhong`. */
export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/';
  const [path = '/', query = ''] = raw.split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  if (parts.length === 0) return { page: 'portfolio' };
  if (parts[0] === 'buildings' && parts.length === 3) return { page: 'building', site: parts[1]!, building: parts[2]! };
  if (parts[0] === 'quality' && parts.length === 1) {
    const site = params.get('site');
    const building = params.get('building');
    return { page: 'quality', ...(site ? { site } : {}), ...(building ? { building } : {}) };
  }
  if (parts[0] === 'alerts' && parts.length === 1) {
    const state = params.get('state');
    return { page: 'alerts', ...(state ? { state } : {}) };
  }
  if ((parts[0] === 'finance' && parts[1] === 'lender' && parts.length === 2) || (parts[0] === 'loans' && parts.length === 1)) return { page: 'lender' };
  if ((parts[0] === 'finance' && parts[1] === 'insurer' && parts.length === 2) || (parts[0] === 'policies' && parts.length === 1)) return { page: 'insurer' };
  return { page: 'notFound', path };
}

/** The href of a route. */
export function href(route: Route): string {
  const e = encodeURIComponent;
  switch (route.page) {
    case 'portfolio':
      return '#/';
    case 'building':
      return `#/buildings/${e(route.site)}/${e(route.building)}`;
    case 'quality': {
      const q = new URLSearchParams({ ...(route.site ? { site: route.site } : {}), ...(route.building ? { building: route.building } : {}) }).toString();
      return `#/quality${q ? `?${q}` : ''}`;
    }
    case 'alerts':
      return `#/alerts${route.state ? `?state=${e(route.state)}` : ''}`;
    case 'lender':
      return '#/finance/lender';
    case 'insurer':
      return '#/finance/insurer';
    case 'notFound':
      return `#${route.path}`;
  }
}

/** Only hashes that start with `#/` are routes; others (like a skip link's `#main`) leave the page as it is. */
export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => {
      if (location.hash === '' || location.hash.startsWith('#/')) setRoute(parseRoute(location.hash));
    };
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
