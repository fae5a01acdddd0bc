import { useState } from 'preact/hooks';
import { CUSTOMERS, READ_ROLES, type Viewer } from '../operations';
import { Band, ErrorBox, Scroll, GraphiQLLink, Link, Loading, UtilBar, useQuery } from '../ui';
import { moneyList, toMajor } from '../format';

/** A number typed in a filter box: null when empty, NaN when not a number. */
const num = (v: string): number | null => (v.trim() === '' ? null : Number(v.replace(/[,\s]/g, '')));

/**
 * Customers: a server-side search (accounts.search), then filters on health band, churn risk,
 * ARR (at least, in major units of any of the account's currencies) and utilisation (a range in
 * %; "not measured" accounts have no entitlement with a capacity).
 */
export function Customers({ viewer }: { viewer: Viewer }) {
  const scores = READ_ROLES.includes(viewer.role);
  const [text, setText] = useState('');
  const [search, setSearch] = useState<string | null>(null);
  const [band, setBand] = useState('');
  const [risk, setRisk] = useState('');
  const [arrMin, setArrMin] = useState('');
  const [utilMin, setUtilMin] = useState('');
  const [utilMax, setUtilMax] = useState('');
  const [unmeasured, setUnmeasured] = useState(false);
  const minArr = num(arrMin);
  const lo = num(utilMin);
  const hi = num(utilMax);
  const invalid = [minArr, lo, hi].some((v) => v !== null && Number.isNaN(v));
  const variables = { search, first: 200, scores };
  const q = useQuery(CUSTOMERS, variables, [search]);
  const rows = (q.data?.accounts.edges ?? [])
    .map((e) => e.node)
    .filter((a) => !band || (band === 'UNSCORED' ? !a.health : a.health?.effectiveBand === band))
    .filter((a) => !risk || a.churnRisk?.band === risk)
    .filter((a) => invalid || minArr === null || (a.arr ?? []).some((m) => toMajor(m) >= minArr))
    .filter((a) => {
      if (invalid) return true;
      if (unmeasured) return a.utilizationPercent === null || a.utilizationPercent === undefined;
      if (lo === null && hi === null) return true;
      const u = a.utilizationPercent;
      return u !== null && u !== undefined && (lo === null || u >= lo) && (hi === null || u <= hi);
    });
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
            <label>
              ARR at least
              <input name="arrMin" inputMode="decimal" size={9} value={arrMin} onInput={(e) => setArrMin((e.target as HTMLInputElement).value)} />
            </label>
            <label>
              Utilisation from %
              <input name="utilMin" inputMode="decimal" size={4} value={utilMin} disabled={unmeasured} onInput={(e) => setUtilMin((e.target as HTMLInputElement).value)} />
            </label>
            <label>
              to %
              <input name="utilMax" inputMode="decimal" size={4} value={utilMax} disabled={unmeasured} onInput={(e) => setUtilMax((e.target as HTMLInputElement).value)} />
            </label>
            <label>
              <input type="checkbox" name="unmeasured" checked={unmeasured} onChange={(e) => setUnmeasured((e.target as HTMLInputElement).checked)} /> Utilisation not measured
            </label>
          </>
        )}
      </form>
      {invalid && (
        <p role="alert" class="error">
          ARR and utilisation filters take numbers (e.g. 50000 or 80); the list is not filtered by them until they do.
        </p>
      )}
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
                {scores && <th scope="col">ARR</th>}
                {scores && <th scope="col">Utilisation</th>}
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
                  {scores && <td data-arr>{moneyList(a.arr)}</td>}
                  {scores && (
                    <td data-util={a.utilizationPercent ?? ''}>
                      {a.utilizationPercent === null || a.utilizationPercent === undefined ? <span class="muted">not measured</span> : <UtilBar value={a.utilizationPercent} label={`${a.name} utilisation`} />}
                    </td>
                  )}
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
