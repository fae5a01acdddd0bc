import { useEffect, useRef, useState } from 'preact/hooks';
import { failureText, gql, session } from './api';
import { FINANCE_ROLES, ME, READ_ROLES, type Viewer } from './operations';
import { Link, Loading } from './ui';
import { useRoute, type Route } from './router';
import { Overview } from './pages/overview';
import { Customers } from './pages/customers';
import { Customer } from './pages/customer';
import { Compliance } from './pages/compliance';
import { Finance } from './pages/finance';
import { Adoption } from './pages/adoption';
import { Integrations } from './pages/integrations';
import { Delivery } from './pages/delivery';

function SignIn({ onSignedIn, message }: { onSignedIn: (v: Viewer) => void; message: string | null }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(message);
  const [busy, setBusy] = useState(false);
  async function submit(ev: Event) {
    ev.preventDefault();
    const k = key.trim().replace(/^Bearer\s+/i, '');
    if (!k) return setError('Paste an API key.');
    setBusy(true);
    try {
      const r = await gql(ME, {}, k);
      session.set(k);
      onSignedIn(r.data.me);
    } catch (e) {
      setError(failureText(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <main id="main" class="signin">
      <h1>Entitlement Hub console</h1>
      <form onSubmit={submit} aria-describedby="signin-help">
        <label for="api-key">API key</label>
        <input id="api-key" name="key" type="password" autocomplete="off" placeholder="ehub_…" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p id="signin-help" class="muted">
        The key is kept for this browser session only (sessionStorage) and sent to this hub alone. The first <code>npm start</code> wrote an admin key to{' '}
        <code>.ehub/admin.key</code>; others: <code>npx ehub keys create --name me --role analyst</code>.
      </p>
      {error && (
        <p role="alert" class="error" data-signin-error>
          {error}
        </p>
      )}
    </main>
  );
}

function Page({ route, viewer }: { route: Route; viewer: Viewer }) {
  const read = READ_ROLES.includes(viewer.role);
  switch (route.page) {
    case 'overview':
      return read ? <Overview viewer={viewer} /> : <Customers viewer={viewer} />;
    case 'customers':
      return <Customers viewer={viewer} />;
    case 'customer':
      return <Customer viewer={viewer} id={route.id} />;
    case 'compliance':
      return <Compliance viewer={viewer} />;
    case 'adoption':
      return <Adoption viewer={viewer} />;
    case 'finance':
      return <Finance viewer={viewer} />;
    case 'integrations':
      return <Integrations viewer={viewer} />;
    case 'delivery':
      return <Delivery viewer={viewer} />;
    default:
      return (
        <>
          <h1>Page not found</h1>
          <p>
            <Link href="/console/">Back to the overview</Link>
          </p>
        </>
      );
  }
}

export function App() {
  const route = useRoute();
  const [viewer, setViewer] = useState<Viewer | null>(null);
  const [checking, setChecking] = useState(() => session.key() !== null);
  const [message, setMessage] = useState<string | null>(null);

  useEffect(() => {
    if (!session.key()) return;
    gql(ME, {}).then(
      (r) => {
        setViewer(r.data.me);
        setChecking(false);
      },
      (e: unknown) => {
        session.clear();
        setMessage(failureText(e));
        setChecking(false);
      },
    );
  }, []);

  // After a client-side navigation, focus moves to the new page's content (not on the first load).
  const firstRoute = useRef(true);
  useEffect(() => {
    const titles: Record<Route['page'], string> = { customer: 'Customer', customers: 'Customers', overview: 'Overview', compliance: 'Compliance', finance: 'Finance', integrations: 'Integrations', delivery: 'Delivery', adoption: 'Adoption', notfound: 'Not found' };
    const title = titles[route.page];
    document.title = `${title} · Entitlement Hub console`;
    if (firstRoute.current) firstRoute.current = false;
    else document.getElementById('main')?.focus();
  }, [route]);

  if (checking)
    return (
      <main id="main">
        <Loading what="your key" />
      </main>
    );
  if (!viewer) return <SignIn onSignedIn={setViewer} message={message} />;

  const read = READ_ROLES.includes(viewer.role);
  const finance = FINANCE_ROLES.includes(viewer.role);
  const current = (p: Route['page']) => (route.page === p || (p === 'customers' && route.page === 'customer') ? 'page' : undefined);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Entitlement Hub</span>
        <nav aria-label="Console pages">
          <ul>
            {read && (
              <li>
                <Link href="/console/" aria-current={current('overview')}>
                  Overview
                </Link>
              </li>
            )}
            <li>
              <Link href="/console/customers" aria-current={current('customers')}>
                Customers
              </Link>
            </li>
            {read && (
              <li>
                <Link href="/console/adoption" aria-current={current('adoption')}>
                  Adoption
                </Link>
              </li>
            )}
            {read && (
              <li>
                <Link href="/console/compliance" aria-current={current('compliance')}>
                  Compliance
                </Link>
              </li>
            )}
            {finance && (
              <li>
                <Link href="/console/finance" aria-current={current('finance')}>
                  Finance
                </Link>
              </li>
            )}
            {!viewer.accountId && (
              <li>
                <Link href="/console/integrations" aria-current={current('integrations')}>
                  Integrations
                </Link>
              </li>
            )}
            {!viewer.accountId && (
              <li>
                <Link href="/console/delivery" aria-current={current('delivery')}>
                  Delivery
                </Link>
              </li>
            )}
            <li>
              <a href="/graphql">GraphiQL</a>
            </li>
          </ul>
        </nav>
        <span class="who" data-viewer-role={viewer.role}>
          {viewer.name} · {viewer.role}
          {viewer.accountId ? ' · one account' : ''}
        </span>
        <button
          type="button"
          class="signout"
          onClick={() => {
            session.clear();
            setViewer(null);
            setMessage('Signed out.');
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} viewer={viewer} />
      </main>
    </>
  );
}
