import { useState } from 'preact/hooks';
import { READ_ROLES, type ChurnBand, type HealthBand, type Viewer } from '../operations';
import { CUSTOMER_LIST, type CustomerListFilter } from '../operations-polish';
import { moneyList } from '../format';
import { Band, Link, PageHead, Pager, QueryState, Scroll, UtilBar, useQuery } from '../ui';

const PAGE = 50;

/** "1200.5" in a currency's major units → minor units as a string, or null when not an amount. */
function toMinor(text: string, currency: string): string | null {
  const t = text.trim();
  if (!/^\d+(\.\d+)?$/.test(t)) return null;
  const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  const [int, frac = ''] = t.split('.');
  return BigInt(int! + frac.slice(0, digits).padEnd(digits, '0')).toString();
}

/** Customers: customerList filtered on the server (text, health band, churn risk, ARR, utilisation), 50 a page. */
export function Customers({ viewer }: { viewer: Viewer }) {
  const scores = READ_ROLES.includes(viewer.role);
  const [text, setText] = useState('');
  const [band, setBand] = useState('');
  const [risk, setRisk] = useState('');
  const [currency, setCurrency] = useState('USD');
  const [arrMin, setArrMin] = useState('');
  const [arrMax, setArrMax] = useState('');
  const [useMin, setUseMin] = useState('');
  const [useMax, setUseMax] = useState('');
  const [typed, setTyped] = useState<CustomerListFilter>({});
  const [formError, setFormError] = useState<string | null>(null);
  // Cursors of the pages before this one (a stack), and this page's.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1]!;

  const filter: CustomerListFilter = { ...typed };
  if (scores && band === 'UNSCORED') filter.unscored = true;
  else if (scores && band) filter.healthBand = band as HealthBand;
  if (scores && risk) filter.churnBand = risk as ChurnBand;
  const variables = { filter, first: PAGE, after, scores };
  const q = useQuery(CUSTOMER_LIST, variables, [JSON.stringify(filter), after]);

  function apply(ev: Event) {
    ev.preventDefault();
    const f: CustomerListFilter = {};
    if (text.trim()) f.search = text.trim();
    const cur = currency.trim().toUpperCase();
    const problems: string[] = [];
    if (scores) {
      if (arrMin.trim() || arrMax.trim()) {
        if (!/^[A-Z]{3}$/.test(cur)) problems.push('ARR currency: three letters such as USD');
        else {
          f.arrCurrency = cur;
          for (const [v, k] of [[arrMin, 'arrMin'], [arrMax, 'arrMax']] as const) {
            if (!v.trim()) continue;
            const m = toMinor(v, cur);
            if (m === null) problems.push(`${k === 'arrMin' ? 'ARR from' : 'ARR to'}: an amount such as 50000`);
            else f[k] = m;
          }
        }
      }
      for (const [v, k] of [[useMin, 'utilizationMin'], [useMax, 'utilizationMax']] as const) {
        if (!v.trim()) continue;
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) problems.push(`${k === 'utilizationMin' ? 'Utilisation from' : 'Utilisation to'}: a percentage of at least 0`);
        else f[k] = n;
      }
    }
    setFormError(problems.length ? problems.join('; ') : null);
    if (problems.length) return;
    setTyped(f);
    setCursors([null]);
  }
  const select = (set: (v: string) => void) => (e: Event) => {
    set((e.target as HTMLSelectElement).value);
    setCursors([null]);
  };
  const input = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value);

  const c = q.data?.customerList;
  const rows = (c?.edges ?? []).map((e) => e.node);
  const first = (cursors.length - 1) * PAGE;
  return (
    <>
      <PageHead title="Customers" d={CUSTOMER_LIST} variables={variables} />
      <form class="filters" role="search" onSubmit={apply}>
        <label>
          Search name, domain or external id
          <input type="search" name="search" value={text} onInput={input(setText)} />
        </label>
        {scores && (
          <>
            <label>
              Health band
              <select name="band" value={band} onChange={select(setBand)}>
                <option value="">Any</option>
                <option value="GREEN">Green</option>
                <option value="YELLOW">Yellow</option>
                <option value="RED">Red</option>
                <option value="UNSCORED">Not scored</option>
              </select>
            </label>
            <label>
              Churn risk
              <select name="risk" value={risk} onChange={select(setRisk)}>
                <option value="">Any</option>
                <option value="HIGH">High</option>
                <option value="MEDIUM">Medium</option>
                <option value="LOW">Low</option>
              </select>
            </label>
            <label>
              ARR currency
              <input name="arrCurrency" size={4} maxLength={3} value={currency} onInput={input(setCurrency)} />
            </label>
            <label>
              ARR from
              <input name="arrMin" inputMode="decimal" size={10} value={arrMin} onInput={input(setArrMin)} />
            </label>
            <label>
              ARR to
              <input name="arrMax" inputMode="decimal" size={10} value={arrMax} onInput={input(setArrMax)} />
            </label>
            <label>
              Utilisation from (%)
              <input name="utilizationMin" inputMode="decimal" size={5} value={useMin} onInput={input(setUseMin)} />
            </label>
            <label>
              Utilisation to (%)
              <input name="utilizationMax" inputMode="decimal" size={5} value={useMax} onInput={input(setUseMax)} />
            </label>
          </>
        )}
        <button type="submit">Search</button>
      </form>
      {formError && (
        <p role="alert" class="error" data-form-error>
          {formError}
        </p>
      )}
      <QueryState q={q} loading="customers" error="customer list" />
      {c && !q.loading && (
        <div data-loaded="customers">
          <p role="status" data-total={c.totalCount}>
            {c.totalCount === 0 ? 'No account matches.' : `Accounts ${first + 1}–${first + rows.length} of ${c.totalCount}`}
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
                  {scores && <th scope="col">ARR</th>}
                  {scores && <th scope="col">Utilisation</th>}
                  {scores && <th scope="col">Health</th>}
                  {scores && <th scope="col">Churn risk</th>}
                </tr>
              </thead>
              <tbody>
                {rows.map((a) => (
                  <tr key={a.id} data-customer={a.id}>
                    <td>{scores ? <Link href={`/console/customers/${a.id}`}>{a.name}</Link> : a.name}</td>
                    <td>{a.domain ?? '–'}</td>
                    <td>{a.country ?? '–'}</td>
                    <td>{a.segment ?? '–'}</td>
                    <td>{a.status}</td>
                    {scores && <td data-arr>{moneyList(a.arr)}</td>}
                    {scores && (
                      <td data-utilization={a.utilizationPercent ?? ''}>
                        <UtilBar value={a.utilizationPercent ?? null} label={`Utilisation of ${a.name}`} />
                      </td>
                    )}
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
          <Pager
            label="Customer pages"
            hasPrevious={cursors.length > 1}
            hasNext={c.pageInfo.hasNextPage}
            onPrevious={() => setCursors(cursors.slice(0, -1))}
            onNext={() => setCursors([...cursors, c.pageInfo.endCursor])}
          />
        </div>
      )}
    </>
  );
}
