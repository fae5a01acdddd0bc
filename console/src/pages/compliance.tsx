import { useState } from 'preact/hooks';
import { failureText, gql } from '../api';
import { FINDING_ACT_ROLES, FINDING_KINDS, FINDINGS, SET_FINDING_STATUS, type FindingFilter, type FindingRow, type FindingStatus, type Viewer } from '../operations';
import { date, money, moneyList } from '../format';
import { Link, PageHead, Pager, QueryState, Scroll, Section, useQuery } from '../ui';

const PAGE = 100;

function period(f: FindingRow): string {
  return `${date(f.periodStart)} – ${f.periodEnd ? date(f.periodEnd) : 'open'}`;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const STATUSES: FindingStatus[] = ['OPEN', 'ACKNOWLEDGED', 'RESOLVED'];

/** The filters in the page's address (?status=&kind=&account=&entitlement=&feature=&from=&to=), so a filtered list can be linked to and survives a reload. */
interface Filters {
  status: FindingStatus | '';
  kind: string;
  account: string;
  entitlement: string;
  /** A feature key, exactly. */
  feature: string;
  /** Period overlaps these days (YYYY-MM-DD, inclusive); '' for no bound. */
  from: string;
  to: string;
}

function readFilters(search: string): Filters {
  const q = new URLSearchParams(search);
  const status = q.get('status');
  const day = (v: string | null) => (v && DAY.test(v) ? v : '');
  return {
    // No status in the address: open findings, the page's default; status= (empty): any.
    status: status === null ? 'OPEN' : STATUSES.includes(status as FindingStatus) ? (status as FindingStatus) : '',
    kind: (FINDING_KINDS as readonly string[]).includes(q.get('kind') ?? '') ? q.get('kind')! : '',
    account: q.get('account') ?? '',
    entitlement: q.get('entitlement') ?? '',
    feature: q.get('feature') ?? '',
    from: day(q.get('from')),
    to: day(q.get('to')),
  };
}

/** The address of the findings under these filters (the page's own link, and the customer page's). */
export function findingsHref(f: Partial<Filters>): string {
  const q = new URLSearchParams();
  q.set('status', f.status ?? 'OPEN');
  for (const k of ['kind', 'account', 'entitlement', 'feature', 'from', 'to'] as const) if (f[k]) q.set(k, f[k]!);
  return `/console/compliance?${q.toString()}`;
}

/** The API's filter: the period bounds as instants, the last day included whole. */
function apiFilter(f: Filters): FindingFilter {
  const filter: FindingFilter = {};
  if (f.status) filter.status = f.status;
  if (f.kind) filter.kind = f.kind;
  if (f.account) filter.accountId = f.account;
  if (f.entitlement) filter.entitlementId = f.entitlement;
  if (f.feature.trim()) filter.featureKey = f.feature.trim();
  if (f.from) filter.from = `${f.from}T00:00:00.000Z`;
  if (f.to) filter.to = new Date(Date.parse(`${f.to}T00:00:00.000Z`) + 86_400_000).toISOString();
  return filter;
}

/** Compliance: findings (complianceFindings) filtered by status, kind, account and period, leakage totals; ADMIN and OPERATIONS acknowledge or resolve. */
export function Compliance({ viewer }: { viewer: Viewer }) {
  const canAct = FINDING_ACT_ROLES.includes(viewer.role);
  const [filters, setFilters] = useState<Filters>(() => readFilters(location.search));
  const { status, kind, account, entitlement, feature, from, to } = filters;
  // The feature box asks the API once typing stops (or on Enter), not at every key.
  const [featureText, setFeatureText] = useState(feature);
  const filter = apiFilter(filters);
  // 100 rows keep the request within the hub's cost limit (EHUB_MAX_QUERY_COMPLEXITY); the totals count every match.
  // Cursors of the pages before this one (a stack) and this page's; a filter change starts again at page 1.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  /** Changes filters, starts again at page 1 and keeps the address in step (replaced: the back button leaves the page). */
  function change(next: Partial<Filters>) {
    const merged = { ...filters, ...next };
    setFilters(merged);
    setCursors([null]);
    history.replaceState(history.state, '', findingsHref(merged));
  }
  const after = cursors[cursors.length - 1]!;
  const variables = { filter, first: PAGE, after };
  const q = useQuery(FINDINGS, variables, [status, kind, account, entitlement, feature, from, to, after]);
  const [busy, setBusy] = useState<string | null>(null);
  const [note, setNote] = useState('');
  const [actionMsg, setActionMsg] = useState<string | null>(null);

  async function setFindingStatus(f: FindingRow, to: FindingStatus) {
    setBusy(f.id);
    setActionMsg(null);
    try {
      const r = await gql(SET_FINDING_STATUS, { id: f.id, status: to, note: note.trim() || `Set from the console by ${viewer.name}` });
      setNote('');
      setActionMsg(`Finding ${f.kind} of ${f.account.name}: ${r.data.setComplianceFindingStatus.status}.`);
      q.reload();
    } catch (e) {
      setActionMsg(`Not changed: ${failureText(e)}`);
    } finally {
      setBusy(null);
    }
  }

  const c = q.data?.complianceFindings;
  return (
    <>
      <PageHead title="Compliance" d={FINDINGS} variables={variables} />
      <form class="filters" aria-label="Filter findings" onSubmit={(ev) => (ev.preventDefault(), change({ feature: featureText.trim() }))}>
        <label>
          Status
          <select name="status" value={status} onChange={(e) => change({ status: (e.target as HTMLSelectElement).value as FindingStatus | '' })}>
            <option value="">Any</option>
            <option value="OPEN">Open</option>
            <option value="ACKNOWLEDGED">Acknowledged</option>
            <option value="RESOLVED">Resolved</option>
          </select>
        </label>
        <label>
          Kind
          <select name="kind" value={kind} onChange={(e) => change({ kind: (e.target as HTMLSelectElement).value })}>
            <option value="">Any</option>
            {FINDING_KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label>
          Feature
          <input
            name="feature"
            size={16}
            value={featureText}
            placeholder="any"
            onInput={(e) => setFeatureText((e.target as HTMLInputElement).value)}
            onChange={(e) => change({ feature: (e.target as HTMLInputElement).value.trim() })}
          />
        </label>
        <label>
          Period from
          <input type="date" name="from" value={from} max={to || undefined} onChange={(e) => change({ from: (e.target as HTMLInputElement).value })} />
        </label>
        <label>
          Period to
          <input type="date" name="to" value={to} min={from || undefined} onChange={(e) => change({ to: (e.target as HTMLInputElement).value })} />
        </label>
        {entitlement && (
          <p class="chosen" data-entitlement-filter={entitlement}>
            Entitlement: <strong>{entitlement.slice(0, 8)}</strong>{' '}
            <button type="button" onClick={() => change({ entitlement: '' })}>
              Every entitlement
            </button>
          </p>
        )}
        {account && (
          <p class="chosen" data-account-filter={account}>
            Account: <strong>{q.data?.complianceFindings.edges[0]?.node.account.name ?? account}</strong>{' '}
            <button type="button" onClick={() => change({ account: '' })}>
              Every account
            </button>
          </p>
        )}
        {canAct && (
          <label>
            Note with the next status change
            <input name="note" maxLength={2000} size={40} value={note} placeholder={`Set from the console by ${viewer.name}`} onInput={(e) => setNote((e.target as HTMLInputElement).value)} />
          </label>
        )}
      </form>
      <QueryState q={q} loading="findings" error="compliance findings" />
      {actionMsg && <p role="status">{actionMsg}</p>}
      {c && !q.loading && (
        <div class="grid" data-loaded="compliance">
          <Section title="Totals" id="totals">
            <dl class="figures">
              <div>
                <dt>Findings</dt>
                <dd data-figure="findings">{c.totalCount}</dd>
              </div>
              <div>
                <dt>Estimated leakage</dt>
                <dd data-figure="leakage">{moneyList(c.leakageTotals)}</dd>
              </div>
            </dl>
            {c.totalCount > c.edges.length && (
              <p class="muted" data-showing>
                Showing {(cursors.length - 1) * PAGE + 1}–{(cursors.length - 1) * PAGE + c.edges.length} of {c.totalCount} (page {cursors.length}).
              </p>
            )}
          </Section>
          <Section title="Findings" id="findings" wide>
            {c.edges.length === 0 ? (
              <p>No findings match.</p>
            ) : (
              <Scroll>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Kind</th>
                      <th scope="col">Account</th>
                      <th scope="col">Entitlement / feature</th>
                      <th scope="col">Period</th>
                      <th scope="col">Used / entitled</th>
                      <th scope="col">Over</th>
                      <th scope="col">Leakage</th>
                      <th scope="col">Status</th>
                      {canAct && <th scope="col">Actions</th>}
                    </tr>
                  </thead>
                  <tbody>
                    {c.edges.map(({ node: f }) => (
                      <tr key={f.id} data-finding-id={f.id} data-finding-kind={f.kind} data-status={f.status}>
                        <td>{f.kind}</td>
                        <td>
                          <Link href={`/console/customers/${f.accountId}`}>{f.account.name}</Link>
                          {!account && (
                            <>
                              {' '}
                              <button type="button" class="link" data-filter="account" onClick={() => change({ account: f.accountId })} aria-label={`only these: the findings of ${f.account.name}`}>
                                only these
                              </button>
                            </>
                          )}
                        </td>
                        <td>
                          {f.featureKey ?? f.meterKey ?? 'whole entitlement'}
                          {f.entitlementId && <span class="muted"> ({f.entitlementId.slice(0, 8)})</span>}
                          {f.entitlementId && !entitlement && (
                            <>
                              {' '}
                              <button type="button" class="link" data-filter="entitlement" onClick={() => change({ entitlement: f.entitlementId! })} aria-label={`only these: the findings of entitlement ${f.entitlementId.slice(0, 8)}`}>
                                only these
                              </button>
                            </>
                          )}
                        </td>
                        <td>{period(f)}</td>
                        <td>
                          {f.used} / {f.entitled ?? '–'} {f.unit}
                        </td>
                        <td>
                          {f.over} {f.unit}
                        </td>
                        <td data-leakage>{money(f.leakage)}</td>
                        <td>
                          {f.status}
                          {f.statusNote && <span class="muted"> · {f.statusNote}</span>}
                        </td>
                        {canAct && (
                          <td class="actions">
                            {f.status === 'OPEN' && (
                              <button type="button" data-action="acknowledge" disabled={busy !== null} onClick={() => setFindingStatus(f, 'ACKNOWLEDGED')} aria-label={`Acknowledge ${f.kind} of ${f.account.name}`}>
                                Acknowledge
                              </button>
                            )}
                            {f.status !== 'RESOLVED' && (
                              <button type="button" data-action="resolve" disabled={busy !== null} onClick={() => setFindingStatus(f, 'RESOLVED')} aria-label={`Resolve ${f.kind} of ${f.account.name}`}>
                                Resolve
                              </button>
                            )}
                            {f.status === 'RESOLVED' && (
                              <button type="button" data-action="reopen" disabled={busy !== null} onClick={() => setFindingStatus(f, 'OPEN')} aria-label={`Reopen ${f.kind} of ${f.account.name}`}>
                                Reopen
                              </button>
                            )}
                          </td>
                        )}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </Scroll>
            )}
            <Pager
              label="Finding pages"
              hasPrevious={cursors.length > 1}
              hasNext={c.pageInfo.hasNextPage}
              onPrevious={() => setCursors(cursors.slice(0, -1))}
              onNext={() => setCursors([...cursors, c.pageInfo.endCursor])}
            />
          </Section>
        </div>
      )}
    </>
  );
}
