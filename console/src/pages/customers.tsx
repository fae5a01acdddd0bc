import { useState } from 'preact/hooks';
import { CUSTOMERS, READ_ROLES, type Viewer } from '../operations';
import { Band, ErrorBox, Scroll, GraphiQLLink, Link, Loading, useQuery } from '../ui';

/** Customers: a server-side search (accounts.search), then filters on health band and churn risk. */
export function Customers({ viewer }: { viewer: Viewer }) {
  const scores = READ_ROLES.includes(viewer.role);
  const [text, setText] = useState('');
  const [search, setSearch] = useState<string | null>(null);
  const [band, setBand] = useState('');
  const [risk, setRisk] = useState('');
  const variables = { search, first: 200, scores };
  const q = useQuery(CUSTOMERS, variables, [search]);
  const rows = (q.data?.accounts.edges ?? [])
    .map((e) => e.node)
    .filter((a) => !band || (band === 'UNSCORED' ? !a.health : a.health?.effectiveBand === band))
    .filter((a) => !risk || a.churnRisk?.band === risk);
  return (
    <>
      <div class="page-head">
        <h1>Customers</h1>
        <GraphiQLLink d={CUSTOMERS} variables={variables} />
      </div>
      <form
        class="filters"
        role="search"
        onSubmit={(ev) => {
          ev.preventDefault();
          setSearch(text.trim() || null);
        }}
      >
        <label>
          Search name, domain or external id
          <input type="search" name="search" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Search</button>
        {scores && (
          <>
            <label>
              Health band
              <select name="band" value={band} onChange={(e) => setBand((e.target as HTMLSelectElement).value)}>
                <option value="">Any</option>
                <option value="GREEN">Green</option>
                <option value="YELLOW">Yellow</option>
                <option value="RED">Red</option>
                <option value="UNSCORED">Not scored</option>
              </select>
            </label>
            <label>
              Churn risk
              <select name="risk" value={risk} onChange={(e) => setRisk((e.target as HTMLSelectElement).value)}>
                <option value="">Any</option>
                <option value="HIGH">High</option>
                <option value="MEDIUM">Medium</option>
                <option value="LOW">Low</option>
              </select>
            </label>
          </>
        )}
      </form>
      {q.loading && <Loading what="customers" />}
      {q.error && <ErrorBox error={q.error} what="customer list" />}
      {q.data && !q.loading && (
        <div data-loaded="customers">
          <p role="status">
            {rows.length} of {q.data.accounts.totalCount} accounts{q.data.accounts.totalCount > 200 ? ' (the first 200; search to narrow)' : ''}
          </p>
          <Scroll>
          <table>
            <thead>
              <tr>
                <th scope="col">Account</th>
                <th scope="col">Domain</th>
                <th scope="col">Country</th>
                <th scope="col">Segment</th>
                <th scope="col">Status</th>
                {scores && <th scope="col">Health</th>}
                {scores && <th scope="col">Churn risk</th>}
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <tr key={a.id} data-customer={a.id}>
                  <td>
                    {scores ? <Link href={`/console/customers/${a.id}`}>{a.name}</Link> : a.name}
                  </td>
                  <td>{a.domain ?? '–'}</td>
                  <td>{a.country ?? '–'}</td>
                  <td>{a.segment ?? '–'}</td>
                  <td>{a.status}</td>
                  {scores && (
                    <td>
                      {a.health ? (
                        <>
                          <Band band={a.health.effectiveBand} /> {a.health.effectiveScore.toFixed(0)}
                        </>
                      ) : (
                        <span class="muted">not scored</span>
                      )}
                    </td>
                  )}
                  {scores && <td>{a.churnRisk ? `${a.churnRisk.band} (${(a.churnRisk.probability * 100).toFixed(0)} %)` : '–'}</td>}
                </tr>
              ))}
            </tbody>
          </table>
          </Scroll>
        </div>
      )}
    </>
  );
}
