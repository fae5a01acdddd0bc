import { useMemo, useState } from 'preact/hooks';
import { failureText, gql } from '../api';
import { ACT_ROLES, CUSTOMER360, RECOMPUTE_HEALTH, type Customer360Data, type Viewer } from '../operations';
import { Chart, type ChartOption } from '../chart';
import { date, dateTime, money, moneyList, percent } from '../format';
import { Band, ErrorBox, Scroll, GraphiQLLink, Link, Loading, Section, UtilBar, useQuery } from '../ui';
import { findingsHref } from './compliance';

function usageChart(t: Customer360Data['customer360']['usageTrend']): ChartOption | null {
  if (t.meters.length === 0) return null;
  // Events per meter: comparable across meters whatever their aggregation (the values are in the table).
  const labels = t.meters.map((m) => m.meterName);
  return {
    tooltip: { trigger: 'axis' },
    legend: { bottom: 0 },
    grid: { left: 56, right: 16, top: 16, bottom: 56 },
    xAxis: { type: 'category', data: labels },
    yAxis: { type: 'value', name: 'events' },
    series: [
      { type: 'bar', name: 'Previous 90 days', data: t.meters.map((m) => m.previousEvents), itemStyle: { color: '#8a8a8a' } },
      { type: 'bar', name: 'Last 90 days', data: t.meters.map((m) => m.currentEvents), itemStyle: { color: '#2456a6' } },
    ],
  } as ChartOption;
}

/** Customer 360: one customer360 request (plus one recomputeHealth when asked). */
export function Customer({ viewer, id }: { viewer: Viewer; id: string }) {
  const variables = { id };
  const q = useQuery(CUSTOMER360, variables, [id]);
  const c = q.data?.customer360;
  const chart = useMemo(() => (c ? usageChart(c.usageTrend) : null), [c]);
  const [busy, setBusy] = useState(false);
  const [actionMsg, setActionMsg] = useState<string | null>(null);
  const canAct = ACT_ROLES.includes(viewer.role);

  async function recompute() {
    setBusy(true);
    setActionMsg(null);
    try {
      const r = await gql(RECOMPUTE_HEALTH, { id });
      setActionMsg(`Health recomputed: ${r.data.recomputeHealth.effectiveScore.toFixed(0)} (${r.data.recomputeHealth.effectiveBand}).`);
      q.reload();
    } catch (e) {
      setActionMsg(`Not recomputed: ${failureText(e)}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <div class="page-head">
        <h1>{c ? c.account.name : 'Customer'}</h1>
        <GraphiQLLink d={CUSTOMER360} variables={variables} />
      </div>
      {q.loading && !q.data && <Loading what="the customer" />}
      {q.error && <ErrorBox error={q.error} what="customer" />}
      {c && (
        <div class="grid" data-loaded="customer">
          <Section title="Account" id="account">
            <dl class="figures">
              <div>
                <dt>ARR</dt>
                <dd data-figure="arr">{moneyList(c.arr)}</dd>
              </div>
              <div>
                <dt>Utilisation</dt>
                <dd data-figure="utilization">{percent(c.utilizationPercent)}</dd>
              </div>
              <div>
                <dt>Health</dt>
                <dd data-figure="health">
                  {c.health ? (
                    <>
                      {c.health.effectiveScore.toFixed(0)} <Band band={c.health.effectiveBand} />
                    </>
                  ) : (
                    'not scored'
                  )}
                </dd>
              </div>
              <div>
                <dt>Churn risk</dt>
                <dd data-figure="churn">{c.churnRisk ? `${c.churnRisk.band} (${(c.churnRisk.probability * 100).toFixed(0)} %)` : '–'}</dd>
              </div>
            </dl>
            <p class="muted">
              {[c.account.domain, c.account.country, c.account.segment, c.account.status, c.account.currency].filter(Boolean).join(' · ')}
            </p>
            {canAct && (
              <p>
                <button type="button" data-action="recompute-health" disabled={busy} onClick={recompute}>
                  {busy ? 'Recomputing…' : 'Recompute health score'}
                </button>
              </p>
            )}
            {actionMsg && <p role="status">{actionMsg}</p>}
          </Section>
          <Section title="Entitlements" id="entitlements" wide>
            {c.entitlementGroups.length === 0 ? (
              <p>No entitlements.</p>
            ) : (
              <Scroll>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Product</th>
                    <th scope="col">Model</th>
                    <th scope="col">Live</th>
                    <th scope="col">Used / capacity</th>
                    <th scope="col">Utilisation</th>
                    <th scope="col">ARR</th>
                    <th scope="col">Next end</th>
                  </tr>
                </thead>
                <tbody>
                  {c.entitlementGroups.map((g) => (
                    <tr key={`${g.sku}/${g.model}`} data-entitlement={g.sku}>
                      <td>
                        {g.productName} <span class="muted">({g.sku})</span>
                      </td>
                      <td>{g.model}</td>
                      <td>
                        {g.live} <span class="muted">(qty {g.liveQuantity})</span>
                      </td>
                      <td>{g.capacity === null ? '–' : `${g.used} / ${g.capacity}`}</td>
                      <td>
                        <UtilBar value={g.utilizationPercent} label={`Utilisation of ${g.sku} ${g.model}`} />
                      </td>
                      <td>{moneyList(g.arr)}</td>
                      <td>{date(g.nextEndDate)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              </Scroll>
            )}
            <p>
              In use now: {c.licensesInUse.devicesActive} devices, {c.licensesInUse.seatsAssigned} seats, {c.licensesInUse.leasesLive} floating leases.
            </p>
          </Section>
          <Section title="Usage trend" id="usage">
            {chart ? (
              <>
                <Chart option={chart} label="Usage events of the last 90 days against the 90 before, per meter, bar chart" />
                <Scroll>
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Meter</th>
                        <th scope="col">Last 90 days</th>
                        <th scope="col">90 days before</th>
                        <th scope="col">Events (last / before)</th>
                      </tr>
                    </thead>
                    <tbody>
                      {c.usageTrend.meters.map((m) => (
                        <tr key={m.meterKey} data-meter={m.meterKey}>
                          <td>{m.meterName}</td>
                          <td>
                            {m.current} {m.unit}
                          </td>
                          <td>
                            {m.previous} {m.unit}
                          </td>
                          <td>
                            {m.currentEvents} / {m.previousEvents}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </Scroll>
              </>
            ) : (
              <p>No usage in the last 180 days.</p>
            )}
            <p class="muted">
              {c.usageTrend.currentFrom} to {c.usageTrend.currentTo}
              {c.usageTrend.ratio !== null && `: ×${c.usageTrend.ratio.toFixed(2)} the events of the 90 days before`}
            </p>
          </Section>
          <Section title="Health explanation" id="health">
            {c.health ? (
              <ul>
                {c.health.measures.map((m) => (
                  <li key={m.key}>
                    <Band band={m.band} /> <strong>{m.key}</strong>: {m.explanation}
                  </li>
                ))}
              </ul>
            ) : (
              <p>Not scored yet.</p>
            )}
          </Section>
          <Section title="Renewals" id="renewals">
            {c.upcomingRenewals.renewals.length === 0 ? (
              <p>None within {c.upcomingRenewals.withinDays} days.</p>
            ) : (
              <ul>
                {c.upcomingRenewals.renewals.map((r) => (
                  <li key={`${r.orderId}/${r.endDate}`}>
                    {date(r.endDate)} ({r.daysLeft} d): {r.skus.join(', ')}, {money(r.arr)}
                  </li>
                ))}
              </ul>
            )}
          </Section>
          <Section title="Findings" id="findings">
            <p>
              {c.openFindings.count} open, leakage {moneyList(c.openFindings.leakage)} ·{' '}
              <Link href={findingsHref({ status: '', account: id })}>every finding of this customer</Link>
            </p>
            {c.openFindings.items.length > 0 && (
              <ul>
                {c.openFindings.items.map((f) => (
                  <li key={f.id}>
                    {f.kind} {f.featureKey ?? f.meterKey ?? ''}: over by {f.over} {f.unit} ({f.status}) {f.leakage && money(f.leakage)}
                  </li>
                ))}
              </ul>
            )}
          </Section>
          <Section title="Revenue and receivables" id="money">
            {c.revenue.length === 0 && c.receivables.length === 0 && <p>No revenue schedules or receivables.</p>}
            {c.revenue.map((r) => (
              <p key={`rev-${r.currency}`}>
                Revenue ({r.currency}): allocated {money(r.allocated)}, recognised {money(r.recognised)}, deferred {money(r.deferred)}
              </p>
            ))}
            {c.receivables.map((r) => (
              <p key={`ar-${r.currency}`}>
                Receivables ({r.currency}): open {money(r.openBalance)}, overdue {money(r.overdue)} (up to {r.maxOverdueDays} days)
              </p>
            ))}
          </Section>
          <Section title="Linked records and sync" id="links">
            {c.linkedRecords.length === 0 ? (
              <p>Not linked to any other system.</p>
            ) : (
              <ul>
                {c.linkedRecords.map((l) => (
                  <li key={`${l.system}/${l.object}/${l.externalId}`}>
                    {l.system} {l.object}:{' '}
                    {l.url ? (
                      <a href={l.url} target="_blank" rel="noopener">
                        {l.externalId}
                      </a>
                    ) : (
                      l.externalId
                    )}
                  </li>
                ))}
              </ul>
            )}
            {c.syncStatus.map((s) => (
              <p key={s.system}>
                {s.connectionName ?? s.system}: last pull {dateTime(s.lastPullAt)} {s.lastPullStatus ?? ''}; outbox {s.outboxPending} pending, {s.outboxDead} dead
              </p>
            ))}
          </Section>
          <Section title="Model fit" id="modelfit">
            {c.modelFit.summary && <p>{c.modelFit.summary}</p>}
            <ul>
              {c.modelFit.products.map((p) => (
                <li key={p.sku}>
                  {p.sku} ({p.currentModel}): {p.recommendation}. <span class="muted">{p.reason}</span>
                </li>
              ))}
            </ul>
          </Section>
          <Section title="Timeline" id="timeline">
            <ol class="timeline">
              {c.timeline.map((t, i) => (
                <li key={i}>
                  <time dateTime={t.at}>{dateTime(t.at)}</time> <span class="muted">{t.kind}</span> {t.summary}
                </li>
              ))}
            </ol>
          </Section>
        </div>
      )}
    </>
  );
}
