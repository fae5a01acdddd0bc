import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { ApiError, gql, graphiqlHref, type GqlError, type TypedDocument } from './api';
import { onLinkClick } from './router';

export interface Load<T> {
  loading: boolean;
  data: T | null;
  errors: GqlError[];
  error: ApiError | null;
  reload: () => void;
}

/** One GraphQL request per page load (a bounded number per page). */
export function useQuery<T, V>(d: TypedDocument<T, V>, variables: V, deps: unknown[]): Load<T> {
  const [n, setN] = useState(0);
  const [state, setState] = useState<Omit<Load<T>, 'reload'>>({ loading: true, data: null, errors: [], error: null });
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    gql(d, variables).then(
      (r) => live && setState({ loading: false, data: r.data, errors: r.errors, error: null }),
      (e: unknown) => live && setState({ loading: false, data: null, errors: [], error: e instanceof ApiError ? e : new ApiError(String(e), 'CLIENT') }),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function ErrorBox({ error, what }: { error: ApiError; what: string }) {
  const text =
    error.code === 'NOT_FOUND'
      ? `Not found: this ${what} does not exist or is outside your key's account.`
      : error.code === 'FORBIDDEN'
        ? `Your key's role may not read the ${what}.`
        : `The ${what} could not be loaded: ${error.message}`;
  return (
    <div class="error" role="alert" data-error-code={error.code}>
      <p>{text}</p>
      <p class="muted">Code: {error.code}</p>
    </div>
  );
}

export function GraphiQLLink<V>({ d, variables, what = 'this query' }: { d: TypedDocument<unknown, V>; variables: V; what?: string }) {
  return (
    <a class="graphiql" href={graphiqlHref(d, variables)} target="_blank" rel="noopener" data-graphiql={d.name}>
      Open {what} in GraphiQL
    </a>
  );
}

const SectionTitle = createContext('');

export function Section({ title, children, id, wide }: { title: string; children: ComponentChildren; id?: string; wide?: boolean }) {
  const hid = `h-${id ?? title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section class={wide ? 'card wide' : 'card'} aria-labelledby={hid} data-section={id ?? title}>
      <h2 id={hid}>{title}</h2>
      <SectionTitle.Provider value={title}>{children}</SectionTitle.Provider>
    </section>
  );
}

/** A table that may scroll sideways on a narrow screen: a labelled region reachable by keyboard. */
export function Scroll({ children }: { children: ComponentChildren }) {
  const title = useContext(SectionTitle);
  return (
    <div class="scroll" tabIndex={0} role="region" aria-label={`${title || 'Table'} (table)`}>
      {children}
    </div>
  );
}

export function Band({ band }: { band: string | null | undefined }) {
  if (!band) return <span class="muted">–</span>;
  return <span class={`band band-${band.toLowerCase()}`}>{band}</span>;
}

export function Link({ href, children, ...rest }: { href: string; children: ComponentChildren; class?: string }) {
  return (
    <a href={href} onClick={onLinkClick} {...rest}>
      {children}
    </a>
  );
}

/** A utilisation bar (a real <meter>, so assistive technology reads the value). */
export function UtilBar({ value, label }: { value: number | null; label: string }) {
  if (value === null) return <span class="muted">no capacity</span>;
  return (
    <span class="util">
      <meter min={0} max={100} low={50} high={100} optimum={80} value={Math.min(value, 100)} aria-label={label} />
      <span>{value.toFixed(1)} %</span>
    </span>
  );
}

export function fieldError(errors: GqlError[], field: string): GqlError | undefined {
  return errors.find((e) => e.path?.[0] === field);
}

/** Previous / next page buttons for a cursor-paged list (the page keeps the stack of cursors). */
export function Pager({ label, hasPrevious, hasNext, onPrevious, onNext }: { label: string; hasPrevious: boolean; hasNext: boolean; onPrevious: () => void; onNext: () => void }) {
  if (!hasPrevious && !hasNext) return null;
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" data-page="previous" disabled={!hasPrevious} onClick={onPrevious}>
        Previous page
      </button>
      <button type="button" data-page="next" disabled={!hasNext} onClick={onNext}>
        Next page
      </button>
    </nav>
  );
}

/** A page's heading with its "Open this query in GraphiQL" link (every page has both). */
export function PageHead<V>({ title, d, variables }: { title: ComponentChildren; d: TypedDocument<unknown, V>; variables: V }) {
  return (
    <div class="page-head">
      <h1>{title}</h1>
      <GraphiQLLink d={d} variables={variables} />
    </div>
  );
}

/**
 * A page query's loading and error states. `keepData`: no loading line while earlier data is
 * on screen (a reload after an action keeps the page still).
 */
export function QueryState<T>({ q, loading, error, keepData }: { q: Load<T>; loading: string; error: string; keepData?: boolean }) {
  return (
    <>
      {q.loading && !(keepData && q.data) && <Loading what={loading} />}
      {q.error && <ErrorBox error={q.error} what={error} />}
    </>
  );
}
