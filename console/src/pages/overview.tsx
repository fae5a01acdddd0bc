import { useMemo } from 'preact/hooks';
import { OVERVIEW, SYNC_ROLES, type OverviewData, type Viewer } from '../operations';
import { Chart, type ChartOption } from '../chart';
import { date, dateTime, money, moneyList, toMajor } from '../format';
import { Band, Scroll, fieldError, Link, PageHead, QueryState, Section, UtilBar, useQuery } from '../ui';

const BAND_COLOURS: Record<string, string> = { GREEN: '#1b7a3a', YELLOW: '#b58100', RED: '#b3261e' };

function arrChart(o: OverviewData['portfolioOverview']): ChartOption | null {
  // The book's main currency (the largest total) is charted; other currencies are in the table.
  const main = o.arr.slice().sort((a, b) => Number(BigInt(b.amountMinor) - BigInt(a.amountMinor)))[0]?.currency;
  if (!main) return null;
  const rows = o.arrByProduct.map((p) => ({ label: `${p.sku} · ${p.model}`, v: toMajor(p.arr.find((m) => m.currency === main) ?? { amountMinor: '0', currency: main }) }));
  return {
    tooltip: { trigger: 'axis' },
    grid: { left: 160, right: 24, top: 16, bottom: 32 },
    xAxis: { type: 'value', name: main },
    yAxis: { type: 'category', data: rows.map((r) => r.label).reverse() },
    series: [{ type: 'bar', name: `ARR (${main})`, data: rows.map((r) => r.v).reverse(), itemStyle: { color: '#2456a6' } }],
  } as ChartOption;
}

function healthChart(o: OverviewData['portfolioOverview']): ChartOption {
  const data = [...o.health.map((h) => ({ name: h.band, value: h.accounts, itemStyle: { color: BAND_COLOURS[h.band] } })), { name: 'not scored', value: o.unscored, itemStyle: { color: '#6b6b6b' } }].filter((d) => d.value > 0);
  return {
    tooltip: { trigger: 'item' },
    legend: { bottom: 0 },
    series: [{ type: 'pie', radius: ['40%', '70%'], data, label: { formatter: '{b}: {c}' } }],
  } as ChartOption;
}

export function Overview({ viewer }: { viewer: Viewer }) {
  const variables = { days: 90, sync: SYNC_ROLES.includes(viewer.role) };
  const q = useQuery(OVERVIEW, variables, []);
  const o = q.data?.portfolioOverview;
  const arr = useMemo(() => (o ? arrChart(o) : null), [o]);
  const health = useMemo(() => (o ? healthChart(o) : null), [o]);
  return (
    <>
      <PageHead title="Overview" d={OVERVIEW} variables={variables} />
      <QueryState q={q} loading="the overview" error="overview" keepData />
      {o && (
        <div class="grid" data-loaded="overview">
          <Section title="Key figures" id="figures">
            <dl class="figures">
              <div>
                <dt>Accounts</dt>
                <dd data-figure="accounts">{o.accounts}</dd>
              </div>
              <div>
                <dt>ARR</dt>
                <dd data-figure="arr">{moneyList(o.arr)}</dd>
              </div>
              <div>
                <dt>Renewing in {o.renewalDays} days</dt>
                <dd data-figure="renewing">{moneyList(o.renewingArr)}</dd>
              </div>
              <div>
                <dt>Open leakage</dt>
                <dd data-figure="leakage">{moneyList(o.leakage)}</dd>
              </div>
            </dl>
          </Section>
          <Section title="ARR by product and model" id="arr" wide>
            {arr ? <Chart option={arr} label="ARR by product and model, bar chart" height={Math.max(160, 40 * o.arrByProduct.length + 60)} /> : <p>No live ARR.</p>}
            <Scroll>
            <table>
              <caption class="sr-only">ARR by product and model</caption>
              <thead>
                <tr>
                  <th scope="col">Product</th>
                  <th scope="col">Model</th>
                  <th scope="col">Accounts</th>
                  <th scope="col">Live</th>
                  <th scope="col">ARR</th>
                  <th scope="col">Utilisation</th>
                </tr>
              </thead>
              <tbody>
                {o.arrByProduct.map((p) => (
                  <tr key={`${p.sku}/${p.model}`} data-arr-row={p.sku}>
                    <td>
                      {p.productName} <span class="muted">({p.sku})</span>
                    </td>
                    <td>{p.model}</td>
                    <td>{p.accounts}</td>
                    <td>{p.live}</td>
                    <td>{moneyList(p.arr)}</td>
                    <td>
                      <UtilBar value={p.utilizationPercent} label={`Utilisation of ${p.sku}`} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            </Scroll>
          </Section>
          <Section title="Health distribution" id="health">
            {health && <Chart option={health} label="Accounts per health band, donut chart" />}
            <ul class="inline">
              {o.health.map((h) => (
                <li key={h.band} data-health={h.band}>
                  <Band band={h.band} /> {h.accounts}
                </li>
              ))}
              <li data-health="UNSCORED">not scored {o.unscored}</li>
            </ul>
          </Section>
          <Section title={`Renewals in the next ${o.renewalDays} days`} id="renewals" wide>
            {o.renewals.length === 0 ? (
              <p>No renewals due.</p>
            ) : (
              <Scroll>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Ends</th>
                    <th scope="col">Account</th>
                    <th scope="col">Products</th>
                    <th scope="col">ARR</th>
                    <th scope="col">Risk</th>
                  </tr>
                </thead>
                <tbody>
                  {o.renewals.map((r) => {
                    const atRisk = r.account.churnRisk?.band === 'HIGH' || r.account.health?.effectiveBand === 'RED';
                    return (
                      <tr key={`${r.orderId}/${r.endDate}`} class={atRisk ? 'at-risk' : ''} data-renewal={r.accountId}>
                        <td>
                          {date(r.endDate)} <span class="muted">({r.daysLeft} d)</span>
                        </td>
                        <td>
                          <Link href={`/console/customers/${r.accountId}`}>{r.account.name}</Link>
                        </td>
                        <td>{r.skus.join(', ')}</td>
                        <td>{money(r.arr)}</td>
                        <td>
                          {atRisk ? <strong class="risk">At risk</strong> : <span class="muted">–</span>}{' '}
                          {r.account.churnRisk && <span class="muted">churn {r.account.churnRisk.band}</span>} <Band band={r.account.health?.effectiveBand} />
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
              </Scroll>
            )}
          </Section>
          <Section title="Leakage and overuse" id="findings">
            {o.findings.length === 0 ? (
              <p>No open findings.</p>
            ) : (
              <Scroll>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Kind</th>
                    <th scope="col">Open</th>
                    <th scope="col">Leakage</th>
                  </tr>
                </thead>
                <tbody>
                  {o.findings.map((f) => (
                    <tr key={f.kind} data-finding={f.kind}>
                      <td>{f.kind}</td>
                      <td>{f.open}</td>
                      <td>{moneyList(f.leakage)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              </Scroll>
            )}
          </Section>
          <Section title="Sync status" id="sync">
            {!variables.sync ? (
              <p class="muted">Sync connections and runs are shown to ADMIN and OPERATIONS keys.</p>
            ) : fieldError(q.errors, 'syncConnections') ? (
              <p role="alert">{fieldError(q.errors, 'syncConnections')!.message}</p>
            ) : (
              <>
                <ul>
                  {(q.data?.syncConnections?.edges ?? []).map(({ node: c }) => (
                    <li key={c.id} data-connection={c.name}>
                      {c.name} <span class="muted">({c.type})</span> {c.enabled ? 'enabled' : 'disabled'}
                    </li>
                  ))}
                  {(q.data?.syncConnections?.edges.length ?? 0) === 0 && <li>No connections.</li>}
                </ul>
                {(q.data?.syncRuns?.edges.length ?? 0) > 0 && (
                  <Scroll>
                  <table>
                    <caption>Latest runs</caption>
                    <thead>
                      <tr>
                        <th scope="col">Started</th>
                        <th scope="col">Object</th>
                        <th scope="col">Kind</th>
                        <th scope="col">Status</th>
                        <th scope="col">Failed</th>
                      </tr>
                    </thead>
                    <tbody>
                      {q.data!.syncRuns!.edges.map(({ node: r }) => (
                        <tr key={r.id}>
                          <td>{dateTime(r.startedAt)}</td>
                          <td>{r.object}</td>
                          <td>{r.kind}</td>
                          <td>{r.status}</td>
                          <td>{r.failed}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                  </Scroll>
                )}
              </>
            )}
          </Section>
          <p class="muted">As of {o.asOf}.</p>
        </div>
      )}
    </>
  );
}
