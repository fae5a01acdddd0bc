import type { TestHub } from '../support/test-hub';
import { createAccount, day } from '../support/orders';

/** Shared with every suite (test/support/orders.ts). */
export { createAccount, day };

/** Catalog of the revenue engine tests (SSP per unit in minor units; USD). */
export async function seedRevenueCatalog(hub: TestHub): Promise<void> {
  await hub.ok('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key: 'r.api', name: 'r.api' } });
  const products = [
    { sku: 'R-LIC', kind: 'SOFTWARE', model: 'PERPETUAL', list: 100000, ssp: 100000 },
    { sku: 'R-SUP', kind: 'SUPPORT', model: 'SUBSCRIPTION', list: 20000, ssp: 20000 },
    { sku: 'R-SVC', kind: 'SERVICE', model: 'PERPETUAL', list: 30000, ssp: 30000 },
    { sku: 'R-SUB', kind: 'SAAS', model: 'SUBSCRIPTION', list: 36500, ssp: 36500 },
    { sku: 'R-SUB2', kind: 'SAAS', model: 'SUBSCRIPTION', list: 73000, ssp: 73000 },
    { sku: 'R-NOSSP', kind: 'SOFTWARE', model: 'PERPETUAL', list: 5000, ssp: null },
    { sku: 'R-API', kind: 'SOFTWARE', model: 'USAGE', list: 5, ssp: null, features: [{ key: 'r.api', limit: null }] },
  ];
  for (const p of products) {
    await hub.ok('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
      i: {
        sku: p.sku,
        name: p.sku,
        kind: p.kind,
        listPrice: { amountMinor: p.list, currency: 'USD' },
        ssp: p.ssp === null ? null : { amountMinor: p.ssp, currency: 'USD' },
        defaultModel: p.model,
        features: p.features ?? [],
      },
    });
  }
  await hub.ok('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', {
    i: { key: 'r.calls', name: 'API calls', aggregation: 'SUM', unit: 'call', valueProperty: null, featureKey: 'r.api' },
  });
}


export interface Line {
  lineNo: number;
  sku: string;
  quantity?: number;
  unitPrice: number;
  startDate: string;
  endDate?: string | null;
  [k: string]: unknown;
}

export async function submit(hub: TestHub, accountId: string, externalId: string, orderDate: string, lines: Line[], extra: Record<string, unknown> = {}): Promise<string> {
  const input = { source: 'test', externalId, accountId, orderDate, currency: 'USD', ...extra, lines: lines.map((l) => ({ quantity: 1, ...l })) };
  return (await hub.ok<{ submitOrder: { id: string } }>('mutation($i: OrderInput!) { submitOrder(input: $i) { id } }', { i: input })).submitOrder.id;
}

export interface ScheduleOut {
  revenueSchedule: {
    hasErrors: boolean;
    totals: { currency: string; allocated: { amountMinor: string }; recognised: { amountMinor: string }; deferred: { amountMinor: string } }[];
    obligations: {
      id: string;
      lineNo: number;
      sku: string;
      bundleSku: string | null;
      pattern: string;
      status: string;
      startDate: string;
      endDate: string | null;
      list: { amountMinor: string };
      ssp: { amountMinor: string } | null;
      allocated: { amountMinor: string };
      error: string | null;
      modifications: { effectiveDate: string; firstOpenMonth: string; reason: string; before: Record<string, unknown>; after: Record<string, unknown> }[];
      lines: { month: string; amount: { amountMinor: string }; cumulative: { amountMinor: string }; deferred: { amountMinor: string } }[];
    }[];
  };
}

export const SCHEDULE = `query($f: RevenueScheduleFilter) { revenueSchedule(filter: $f) {
  hasErrors totals { currency allocated { amountMinor } recognised { amountMinor } deferred { amountMinor } }
  obligations { id lineNo sku bundleSku pattern status startDate endDate list { amountMinor } ssp { amountMinor } allocated { amountMinor } error
    modifications { effectiveDate firstOpenMonth reason before after }
    lines { month amount { amountMinor } cumulative { amountMinor } deferred { amountMinor } } } } }`;

export async function schedule(hub: TestHub, filter: Record<string, unknown>, key?: string) {
  return (await hub.ok<ScheduleOut>(SCHEDULE, { f: filter }, key)).revenueSchedule;
}

/** [month, amount] pairs of an obligation (months with a non-zero amount). */
export const months = (o: ScheduleOut['revenueSchedule']['obligations'][number]) => o.lines.filter((l) => l.amount.amountMinor !== '0').map((l) => [l.month, Number(l.amount.amountMinor)]);

/** Every obligation's schedule sums to its allocation, and its last deferred balance is 0. */
export function expectSumsToAllocation(s: ScheduleOut['revenueSchedule']): void {
  for (const o of s.obligations) {
    const total = o.lines.reduce((a, l) => a + BigInt(l.amount.amountMinor), 0n);
    expect({ sku: o.sku, total: total.toString() }).toEqual({ sku: o.sku, total: o.allocated.amountMinor });
    if (o.lines.length) expect(o.lines[o.lines.length - 1]!.deferred.amountMinor).toBe('0');
  }
}

export async function invoices(hub: TestHub, orderId: string): Promise<[string, number][]> {
  const rows = await hub.ds.query(`SELECT to_char(invoice_date, 'YYYY-MM-DD') AS d, amount_minor::int AS a FROM revenue_invoice WHERE order_id = $1 ORDER BY created_at, invoice_date`, [orderId]);
  return rows.map((r: { d: string; a: number }) => [r.d, r.a]);
}
