import { useMemo, useState } from 'preact/hooks';
import {
  ADOPTION,
  ADOPTION_PRODUCTS,
  PERSONAS,
  type AdoptionProduct,
  type FeatureAdoptionRow,
  type FeatureUseVerdict,
  type PackagingData,
  type PersonaAttribute,
  type PersonasData,
} from '../operations-adoption';
import type { Viewer } from '../operations';
import { Chart, type ChartOption } from '../chart';
import { date, moneyList, percent } from '../format';
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

const VERDICT: Record<FeatureUseVerdict, { text: string; band: string }> = {
  USED: { text: 'used', band: 'green' },
  RARELY_USED: { text: 'rarely used', band: 'yellow' },
  UNUSED: { text: 'unused', band: 'red' },
  NOT_MEASURED: { text: 'not measured', band: 'info' },
};

/** The groupings offered for personas: a property reported with usage, or the contact's title or department. */
const GROUPINGS: { id: string; label: string; groupBy: PersonaAttribute; property: string | null }[] = [
  { id: 'role', label: 'Role reported with usage (role)', groupBy: 'EVENT_PROPERTY', property: 'role' },
  { id: 'title', label: 'Contact title', groupBy: 'CONTACT_TITLE', property: null },
  { id: 'department', label: 'Contact department', groupBy: 'CONTACT_DEPARTMENT', property: null },
];

/** Personas read raw events: at most 92 days, so longer windows show their last 90 days. */
const PERSONA_DAYS = 90;

function personaChart(groups: PersonasData['usagePersonas']['groups']): ChartOption {
  const label = (v: string | null) => v ?? 'unknown';
  return {
    tooltip: { trigger: 'axis' },
    grid: { left: 160, right: 24, top: 16, bottom: 32 },
    xAxis: { type: 'value', name: 'users' },
    yAxis: { type: 'category', data: groups.map((g) => label(g.value)), inverse: true },
    series: [{ name: 'users', type: 'bar', data: groups.map((g) => g.users), itemStyle: { color: '#1f4e9c' } }],
  };
}

/**
 * Adoption (ADMIN, OPERATIONS, FINANCE, ANALYST): per product, each feature's adoption (the share
 * of entitled accounts that used it) in the window against the previous window of the same
 * length, active users, events and the deployment mix (`adoption`); and the shelfware across the
 * book: entitlements used below 10 % over the window (`unusedEntitlements`); the packaging
 * insight (`packagingInsight`: which of a bundle's features its holders use, which almost nobody
 * does, and the add-on candidates); and the personas (`usagePersonas`: the product's users by
 * role, contact title or department). Three requests: the products, the chosen product's
 * figures, its personas.
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
          <Packaging product={product} p={q.data.packagingInsight} />
        </div>
      )}
      <div class="grid after">
        <Personas product={product} days={Math.min(days, PERSONA_DAYS)} />
      </div>
    </>
  );
}

function Packaging({ product, p }: { product: AdoptionProduct; p: PackagingData }) {
  const rare = p.features.filter((f) => f.verdict === 'RARELY_USED' || f.verdict === 'UNUSED');
  return (
    <Section title={`Packaging: ${product.sku}${p.isBundle ? ' (bundle)' : ''}`} id="packaging" wide>
      <p class="muted" role="status">
        {p.holders} {p.holders === 1 ? 'account holds' : 'accounts hold'} {product.sku} in the window.{' '}
        {rare.length ? `${rare.length} of its ${p.features.length} features are used by fewer than ${p.rarelyUsedBelowPercent} % of them, or by none.` : 'Every measured feature is used.'}
      </p>
      <Scroll>
        <table>
          <caption>Which of the package's features its holders use</caption>
          <thead>
            <tr>
              <th scope="col">Feature</th>
              <th scope="col">Verdict</th>
              <th scope="col">Using / entitled</th>
              <th scope="col">Share</th>
              <th scope="col">Over the limit</th>
            </tr>
          </thead>
          <tbody>
            {p.features.map((f) => (
              <tr key={f.featureKey} data-packaged={f.featureKey} data-verdict={f.verdict}>
                <td>{f.featureKey}</td>
                <td>
                  <span class={`band band-${VERDICT[f.verdict].band}`}>{VERDICT[f.verdict].text}</span>
                </td>
                <td>
                  {f.usingAccounts} / {f.entitledAccounts}
                </td>
                <td>{f.verdict === 'NOT_MEASURED' ? <span class="muted">no meter</span> : percent(f.sharePercent)}</td>
                <td>{f.overLimitAccounts ? `${f.overLimitAccounts} ${f.overLimitAccounts === 1 ? 'account' : 'accounts'}` : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Scroll>
      <h3>Add-on candidates: used beyond what was sold</h3>
      {p.addOnCandidates.length === 0 ? (
        <p>No holder used a feature beyond its limit, or one the package does not include, in the window.</p>
      ) : (
        <Scroll>
          <table>
            <thead>
              <tr>
                <th scope="col">Feature</th>
                <th scope="col">Why</th>
                <th scope="col">Holders</th>
                <th scope="col">Used</th>
                <th scope="col">Over</th>
                <th scope="col">Leakage</th>
              </tr>
            </thead>
            <tbody>
              {p.addOnCandidates.map((c) => (
                <tr key={`${c.featureKey}-${c.reason}-${c.unit}`} data-addon={c.featureKey} data-reason={c.reason}>
                  <td>{c.featureKey}</td>
                  <td>{c.reason === 'OVER_LIMIT' ? 'over the package\'s limit' : 'not in the package'}</td>
                  <td data-accounts>
                    {c.accounts} ({c.holdersPercent.toFixed(1)} %)
                  </td>
                  <td>
                    {Number(c.used).toLocaleString('en')} {c.unit}
                  </td>
                  <td>{c.over === null ? '–' : `${Number(c.over).toLocaleString('en')} ${c.unit}`}</td>
                  <td>{c.leakage.length ? moneyList(c.leakage) : '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
    </Section>
  );
}

function Personas({ product, days }: { product: AdoptionProduct; days: number }) {
  const [grouping, setGrouping] = useState(GROUPINGS[0]!.id);
  const g = GROUPINGS.find((x) => x.id === grouping) ?? GROUPINGS[0]!;
  const win = useMemo(() => windowOf(days), [days]);
  const variables = { groupBy: g.groupBy, property: g.property, productId: product.id, from: win.from, to: win.to };
  const q = useQuery(PERSONAS, variables, [product.id, days, grouping]);
  const r = q.data?.usagePersonas;
  return (
    <Section title={`Personas: who uses ${product.sku}`} id="personas" wide>
      <form class="filters" aria-label="Group users by" onSubmit={(ev) => ev.preventDefault()}>
        <label>
          Group users by
          <select name="persona" value={grouping} onChange={(e) => setGrouping((e.target as HTMLSelectElement).value)}>
            {GROUPINGS.map((x) => (
              <option key={x.id} value={x.id}>
                {x.label}
              </option>
            ))}
          </select>
        </label>
        <GraphiQLLink d={PERSONAS} variables={variables} what="the personas query" />
      </form>
      {q.loading && <Loading what="personas" />}
      {q.error && <ErrorBox error={q.error} what="personas" />}
      {r && !q.loading && (
        <div data-loaded="personas">
          <p class="muted" role="status">
            {r.totalUsers} {r.totalUsers === 1 ? 'user' : 'users'} in the last {days} days; the {g.groupBy === 'EVENT_PROPERTY' ? `"${g.property}" property` : g.label.toLowerCase()} is known for {r.attributedUsers}
            {r.totalGroups > r.groups.filter((x) => x.value !== null).length ? ` (the ${r.groups.filter((x) => x.value !== null).length} largest of ${r.totalGroups} groups shown)` : ''}.
          </p>
          {r.groups.length === 0 ? (
            <p>No usage with a named user in the window.</p>
          ) : (
            <>
              <Chart option={personaChart(r.groups)} label={`Users of ${product.sku} by ${g.label.toLowerCase()}`} height={Math.max(140, 40 + r.groups.length * 30)} />
              <Scroll>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">{g.groupBy === 'EVENT_PROPERTY' ? g.property : g.label}</th>
                      <th scope="col">Users</th>
                      <th scope="col">Accounts</th>
                      <th scope="col">Events</th>
                      <th scope="col">Uses most</th>
                    </tr>
                  </thead>
                  <tbody>
                    {r.groups.map((x) => (
                      <tr key={x.value ?? '(unknown)'} data-persona={x.value ?? ''}>
                        <td>{x.value ?? <span class="muted">not known</span>}</td>
                        <td data-users>
                          {x.users} ({x.usersPercent.toFixed(1)} %)
                        </td>
                        <td>{x.accounts}</td>
                        <td>{x.events.toLocaleString('en')}</td>
                        <td>{x.topFeatures.join(', ') || '–'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </Scroll>
            </>
          )}
        </div>
      )}
    </Section>
  );
}
