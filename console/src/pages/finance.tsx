import { useMemo, useState } from 'preact/hooks';
import { failureText, gql, session } from '../api';
import { CLOSE_PERIOD, FINANCE, FINANCE_ROLES, type FinanceData, type Viewer } from '../operations';
import { Chart, type ChartOption } from '../chart';
import { dateTime, money, toMajor, type Money } from '../format';
import { PageHead, QueryState, Scroll, Section, useQuery } from '../ui';

/** YYYY-MM of the current month shifted by `delta` months (UTC). */
function month(delta: number, now = new Date()): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + delta, 1));
  return d.toISOString().slice(0, 7);
}

export interface WaterfallRow {
  month: string;
  /** Recognised in the month, per currency (minor units). */
  amounts: Map<string, bigint>;
}

/** The waterfall: every obligation's monthly lines summed per month and currency. */
export function waterfall(s: FinanceData['revenueSchedule']): WaterfallRow[] {
  const byMonth = new Map<string, Map<string, bigint>>();
  for (const o of s.obligations)
    for (const l of o.lines) {
      const m = byMonth.get(l.month) ?? new Map<string, bigint>();
      m.set(l.amount.currency, (m.get(l.amount.currency) ?? 0n) + BigInt(l.amount.amountMinor));
      byMonth.set(l.month, m);
    }
  return [...byMonth.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([month, amounts]) => ({ month, amounts }));
}

const asMoney = (currency: string, v: bigint): Money => ({ currency, amountMinor: v.toString() });

function waterfallChart(rows: WaterfallRow[], currency: string, closed: string | null, current: string): ChartOption {
  return {
    tooltip: { trigger: 'axis' },
    grid: { left: 72, right: 24, top: 24, bottom: 48 },
    xAxis: { type: 'category', data: rows.map((r) => r.month) },
    yAxis: { type: 'value', name: currency },
    series: [
      {
        type: 'bar',
        name: `Recognised (${currency})`,
        data: rows.map((r) => ({
          value: toMajor(asMoney(currency, r.amounts.get(currency) ?? 0n)),
          // Closed months dark, open past months blue, the future (scheduled) light.
          itemStyle: { color: closed && r.month <= closed ? '#1f2f4d' : r.month <= current ? '#2456a6' : '#8fb0e0' },
        })),
      },
    ],
  } as ChartOption;
}

/** Downloads a CSV export with the key in the Authorization header (a plain link would carry no key). */
async function download(path: string, from: string, to: string): Promise<string> {
  const res = await fetch(`${path}?from=${from}&to=${to}`, { headers: { authorization: `Bearer ${session.key() ?? ''}` } });
  if (!res.ok) {
    let msg = `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { errors?: { message: string; extensions?: { code?: string } }[] };
      const e = body.errors?.[0];
      if (e) msg = `${e.message} (${e.extensions?.code ?? res.status})`;
    } catch {
      /* not JSON */
    }
    throw new Error(msg);
  }
  const blob = await res.blob();
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? path.split('/').pop()!;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return `${name} (${blob.size} bytes)`;
}

/** Finance: the revenue waterfall (revenueSchedule summed per month), the period close state, the CSV exports; FINANCE and ADMIN close a period. */
export function Finance({ viewer }: { viewer: Viewer }) {
  const canAct = FINANCE_ROLES.includes(viewer.role) && !viewer.accountId;
  const current = month(0);
  const variables = { from: month(-11), to: month(12) };
  const q = useQuery(FINANCE, variables, []);
  const [closeMonth, setCloseMonth] = useState(month(-1));
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<string | null>(null);
  const data = q.data;
  const rows = useMemo(() => (data ? waterfall(data.revenueSchedule) : []), [data]);
  const currencies = useMemo(() => (data ? data.revenueSchedule.totals.map((t) => t.currency) : []), [data]);
  const main = data?.revenueSchedule.totals.slice().sort((a, b) => Number(BigInt(b.allocated.amountMinor) - BigInt(a.allocated.amountMinor)))[0]?.currency;
  const closed = data && data.revenuePeriods.length ? data.revenuePeriods[data.revenuePeriods.length - 1]! : null;
  const chart = useMemo(() => (main ? waterfallChart(rows, main, closed?.month ?? null, current) : null), [rows, main, closed?.month]);

  async function close(ev: Event) {
    ev.preventDefault();
    setBusy(true);
    setMsg(null);
    try {
      const r = await gql(CLOSE_PERIOD, { month: closeMonth.trim() });
      setMsg(`Closed up to ${r.data.closePeriod.month}.`);
      q.reload();
    } catch (e) {
      setMsg(`Not closed: ${failureText(e)}`);
    } finally {
      setBusy(false);
    }
  }

  async function exportCsv(path: string) {
    setMsg(null);
    try {
      setMsg(`Downloaded ${await download(path, variables.from, variables.to)}.`);
    } catch (e) {
      setMsg(`Export failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  return (
    <>
      <PageHead title="Finance" d={FINANCE} variables={variables} />
      <QueryState q={q} loading="the revenue schedule" error="revenue schedule" keepData />
      {msg && <p role="status" data-finance-message>{msg}</p>}
      {data && (
        <div class="grid" data-loaded="finance">
          <Section title="Totals" id="totals">
            <p class="muted">
              Obligations active from {variables.from} to {variables.to}.
            </p>
            <Scroll>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Currency</th>
                    <th scope="col">Allocated</th>
                    <th scope="col">Recognised in the months shown</th>
                    <th scope="col">Deferred at {variables.to}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.revenueSchedule.totals.map((t) => (
                    <tr key={t.currency} data-total={t.currency}>
                      <th scope="row">{t.currency}</th>
                      <td>{money(t.allocated)}</td>
                      <td data-recognised>{money(t.recognised)}</td>
                      <td>{money(t.deferred)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Scroll>
            {data.revenueSchedule.hasErrors && <p role="alert">Some obligations are not allocated (a product without SSP); see the revenueSchedule query.</p>}
          </Section>
          <Section title="Period close" id="periods">
            <p data-closed-through={closed?.month ?? ''}>
              {closed ? (
                <>
                  Closed through <strong>{closed.month}</strong> <span class="muted">(at {dateTime(closed.closedAt)})</span>; later months are open.
                </>
              ) : (
                'No month is closed yet.'
              )}
            </p>
            {canAct && (
              <form class="filters" onSubmit={close}>
                <label>
                  Month to close (YYYY-MM)
                  <input name="month" value={closeMonth} pattern="\d{4}-\d{2}" onInput={(e) => setCloseMonth((e.target as HTMLInputElement).value)} />
                </label>
                <button type="submit" data-action="close-period" disabled={busy}>
                  {busy ? 'Closing…' : 'Close period'}
                </button>
              </form>
            )}
            <h3>Exports (CSV)</h3>
            <p>
              <button type="button" data-export="revenue-waterfall" onClick={() => exportCsv('/v1/exports/revenue-waterfall.csv')}>
                Revenue waterfall CSV
              </button>{' '}
              <button type="button" data-export="journal-entries" onClick={() => exportCsv('/v1/exports/journal-entries.csv')}>
                Journal entries CSV
              </button>
            </p>
            <p class="muted">
              {variables.from} to {variables.to}; amounts in minor units.
            </p>
          </Section>
          <Section title="Revenue waterfall" id="waterfall" wide>
            {chart ? <Chart option={chart} label={`Revenue recognised per month in ${main}, bar chart`} /> : <p>No revenue scheduled.</p>}
            <Scroll>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Month</th>
                    {currencies.map((c) => (
                      <th scope="col" key={c}>
                        Recognised ({c})
                      </th>
                    ))}
                    <th scope="col">State</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <tr key={r.month} data-month={r.month}>
                      <th scope="row">{r.month}</th>
                      {currencies.map((c) => (
                        <td key={c} data-amount={c}>
                          {money(asMoney(c, r.amounts.get(c) ?? 0n))}
                        </td>
                      ))}
                      <td>{closed && r.month <= closed.month ? 'closed' : r.month <= current ? 'open' : 'scheduled'}</td>
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
