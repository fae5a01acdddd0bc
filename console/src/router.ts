import { useEffect, useState } from 'preact/hooks';

/** Client routes under /console (the hub answers index.html for each). */
export const BASE = '/console';

export type Route = { page: 'overview' } | { page: 'customers' } | { page: 'compliance' } | { page: 'finance' } | { page: 'integrations' } | { page: 'delivery' } | { page: 'adoption' } | { page: 'customer'; id: string } | { page: 'notfound' };

export function parse(pathname: string): Route {
  const p = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = p.split('/').filter(Boolean);
  if (parts.length === 0) return { page: 'overview' };
  if (parts[0] === 'customers' && parts.length === 1) return { page: 'customers' };
  if (parts[0] === 'compliance' && parts.length === 1) return { page: 'compliance' };
  if (parts[0] === 'finance' && parts.length === 1) return { page: 'finance' };
  if (parts[0] === 'integrations' && parts.length === 1) return { page: 'integrations' };
  if (parts[0] === 'delivery' && parts.length === 1) return { page: 'delivery' };
  if (parts[0] === 'adoption' && parts.length === 1) return { page: 'adoption' };
  if (parts[0] === 'customers' && parts.length === 2) return { page: 'customer', id: decodeURIComponent(parts[1]!) };
  return { page: 'notfound' };
}

export function navigate(href: string): void {
  history.pushState(null, '', href);
  dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.pathname));
  useEffect(() => {
    const on = () => setRoute(parse(location.pathname));
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);
  return route;
}

/** A link handled by the client router (modifier clicks open a tab as usual). */
export function onLinkClick(ev: MouseEvent): void {
  const a = ev.currentTarget as HTMLAnchorElement;
  if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  navigate(a.getAttribute('href')!);
}
