import { useMemo, useState } from 'preact/hooks';
import { ADOPTION, ADOPTION_PRODUCTS, type AdoptionProduct, type FeatureAdoptionRow } from '../operations-adoption';
import type { Viewer } from '../operations';
import { Chart, type ChartOption } from '../chart';
import { date, percent } from '../format';
import { ErrorBox, GraphiQLLink, Link, Loading, Scroll, Section, UtilBar, useQuery } from '../ui';

const DEPLOYMENTS = ['CLOUD', 'SAAS', 'ON_PREM', 'EMBEDDED', 'DEVICE'] as const;

/** The window: the last `days` days up to the start of tomorrow (UTC), so today's usage counts. */
function windowOf(days: number, now = new Date()): { from: string; to: string } {
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
  const from = new Date(to.getTime() - days * 86_400_000);
  return { from: from.toISOString(), to: to.toISOString() };
}

function shareChart(features: FeatureAdoptionRow[]): ChartOption {
  return {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 140, right: 24, top: 32, bottom: 32 },
    xAxis: { type: 'value', name: '% of entitled accounts', max: 100 },
    yAxis: { type: 'category', data: features.map((f) => f.featureKey), inverse: true },
    series: [
      { name: 'previous window', type: 'bar', data: features.map((f) => f.previous.sharePercent ?? 0), itemStyle: { color: '#9db3d6' } },
      { name: 'this window', type: 'bar', data: features.map((f) => f.sharePercent ?? 0), itemStyle: { color: '#1f4e9c' } },
    ],
  };
}

function deploymentChart(features: FeatureAdoptionRow[]): ChartOption {
  const totals = new Map<string, number>();
  for (const f of features) for (const d of f.deployments) totals.set(d.deployment, (totals.get(d.deployment) ?? 0) + d.events);
  return {
    tooltip: { trigger: 'item' },
    legend: { bottom: 0 },
    series: [{ type: 'pie', radius: ['40%', '70%'], data: DEPLOYMENTS.filter((d) => totals.has(d)).map((d) => ({ name: d, value: totals.get(d)! })) }],
  };
}

/**
 * Adoption (ADMIN, OPERATIONS, FINANCE, ANALYST): per product, each feature's adoption (the share
 * of entitled accounts that used it) in the window against the previous window of the same
 * length, active users, events and the deployment mix (`adoption`); and the shelfware across the
 * book: entitlements used below 10 % over the window (`unusedEntitlements`). Two requests: the
 * products, then the chosen product's figures.
 */
export function Adoption(_: { viewer: Viewer }) {
  const products = useQuery(ADOPTION_PRODUCTS, {}, []);
  const list = products.data?.products.edges.map((e) => e.node) ?? [];
  const wanted = new URLSearchParams(location.search).get('product');
  const [chosen, setChosen] = useState<string | null>(null);
  const [days, setDays] = useState(90);
  const product = list.find((p) => p.id === chosen) ?? list.find((p) => p.sku === wanted) ?? list[0] ?? null;
  return (
    <>
      <h1>Adoption</h1>
      {products.loading && <Loading what="products" />}
      {products.error && <ErrorBox error={products.error} what="products" />}
      {products.data && list.length === 0 && <p>No active products yet.</p>}
      {product && (
        <form class="filters" aria-label="Choose the product and window" onSubmit={(ev) => ev.preventDefault()}>
          <label>
            Product
            <select name="product" value={product.id} onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}>
              {list.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name} ({p.sku})
                </option>
              ))}
            </select>
          </label>
          <label>
            Window
            <select name="days" value={String(days)} onChange={(e) => setDays(Number((e.target as HTMLSelectElement).value))}>
              {[30, 90, 180, 365].map((d) => (
                <option key={d} value={String(d)}>
                  last {d} days
                </option>
              ))}
            </select>
          </label>
        </form>
      )}
      {product && <ProductAdoption product={product} days={days} />}
    </>
  );
}

function ProductAdoption({ product, days }: { product: AdoptionProduct; days: number }) {
  const win = useMemo(() => windowOf(days), [days]);
  const variables = { productId: product.id, from: win.from, to: win.to, days };
  const q = useQuery(ADOPTION, variables, [product.id, days]);
  const a = q.data?.adoption;
  const features = a?.features ?? [];
  const byShare = useMemo(() => [...features].sort((x, y) => (y.sharePercent ?? -1) - (x.sharePercent ?? -1)), [features]);
  return (
    <>
      <p>
        <GraphiQLLink d={ADOPTION} variables={variables} />
      </p>
      {q.loading && <Loading what="adoption" />}
      {q.error && <ErrorBox error={q.error} what="adoption" />}
      {a && q.data && !q.loading && (
        <div class="grid" data-loaded="adoption">
          <Section title={`Features of ${product.sku}`} id="features" wide>
            <p class="muted">
              {date(a.from)} – {date(a.to)}, against {date(a.previousFrom)} – {date(a.from)}. Adoption: accounts entitled to the feature that used it.
            </p>
            {features.length === 0 ? (
              <p>The product grants no feature.</p>
            ) : (
              <>
                <Chart option={shareChart(byShare)} label={`Adoption of ${product.sku}'s features, this window against the previous`} height={Math.max(160, 40 + byShare.length * 36)} />
                <Scroll>
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Feature</th>
                        <th scope="col">Entitled accounts</th>
                        <th scope="col">Using</th>
                        <th scope="col">Adoption</th>
                        <th scope="col">Change (points)</th>
                        <th scope="col">Active users</th>
                        <th scope="col">Events</th>
                        <th scope="col">Deployments</th>
                      </tr>
                    </thead>
                    <tbody>
                      {byShare.map((f) => (
                        <tr key={f.featureKey} data-feature={f.featureKey}>
                          <td>
                            {f.featureKey}
                            {f.meters.length === 0 && <span class="muted"> (no meter: use cannot be seen)</span>}
                          </td>
                          <td>{f.entitledAccounts}</td>
                          <td data-using>{f.usingAccounts}</td>
                          <td data-share>{f.sharePercent === null ? '–' : <UtilBar value={f.sharePercent} label={`${f.featureKey} adoption`} />}</td>
                          <td data-delta>{f.shareDelta === null ? '–' : `${f.shareDelta > 0 ? '+' : ''}${f.shareDelta.toFixed(1)}`}</td>
                          <td>{f.activeUsers}</td>
                          <td>{f.events.toLocaleString('en')}</td>
                          <td>{f.deployments.map((d) => `${d.deployment} ${d.sharePercent.toFixed(0)} %`).join(', ') || '–'}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </Scroll>
              </>
            )}
          </Section>
          <Section title="Deployment mix" id="deployments">
            {features.some((f) => f.deployments.length) ? <Chart option={deploymentChart(features)} label={`Usage events of ${product.sku} by deployment`} /> : <p>No usage in the window.</p>}
          </Section>
          <Section title="Shelfware: entitlements used below 10 %" id="shelfware">
            <p role="status">
              {q.data.unusedEntitlements.totalCount} {q.data.unusedEntitlements.totalCount === 1 ? 'entitlement' : 'entitlements'} over the last {days} days{q.data.unusedEntitlements.totalCount > 25 ? ' (the 25 least used first)' : ''}.
            </p>
            <Scroll>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Account</th>
                    <th scope="col">Product</th>
                    <th scope="col">Used / entitled</th>
                    <th scope="col">Utilisation</th>
                    <th scope="col">Last used</th>
                    <th scope="col">Renewal in</th>
                  </tr>
                </thead>
                <tbody>
                  {q.data.unusedEntitlements.edges.map(({ node: u }) => (
                    <tr key={u.id} data-shelfware={u.id}>
                      <td>
                        <Link href={`/console/customers/${u.account.id}`}>{u.account.name}</Link>
                      </td>
                      <td>
                        {u.product.sku}
                        {u.featureKey && <span class="muted"> · {u.featureKey}</span>}
                      </td>
                      <td>
                        {u.used ?? '–'} / {u.entitled ?? 'unlimited'}
                      </td>
                      <td>{percent(u.utilizationPercent)}</td>
                      <td>{u.lastUsedAt ? date(u.lastUsedAt) : 'never'}</td>
                      <td>{u.daysToRenewal === null ? 'perpetual' : `${u.daysToRenewal} days`}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Scroll>
          </Section>
        </div>
      )}
    </>
  );
}
