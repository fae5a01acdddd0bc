import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, seedRevenueCatalog, submit } from './engine-support';
import { parseCsv } from './exports-seed';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  await seedRevenueCatalog(hub);
});
afterAll(async () => hub?.close());

async function csv(path: string) {
  const res = await fetch(`${hub.url}${path}`, { headers: { authorization: `Bearer ${hub.adminKey}` } });
  expect(res.status).toBe(200);
  return parseCsv(await res.text());
}

describe('exports end to end: submitOrder → revenue engine → CSV', () => {
  it('a licence with support and services: the waterfall ends at the allocation, the journal balances and clears', async () => {
    const accountId = await createAccount(hub, 'E2E Exports Inc');
    // A 10 % discount on each line, spread by relative SSP; support runs a year from mid-month.
    const orderId = await submit(hub, accountId, 'E2E-1', '2028-01-15', [
      { lineNo: 1, sku: 'R-LIC', unitPrice: 90000, startDate: '2028-01-15' },
      { lineNo: 2, sku: 'R-SUP', unitPrice: 18000, startDate: '2028-01-15', endDate: '2029-01-14' },
      { lineNo: 3, sku: 'R-SVC', unitPrice: 27000, startDate: '2028-02-01' },
    ]);

    const waterfall = await csv(`/v1/exports/revenue-waterfall.csv?from=2028-01&to=2029-12&accountId=${accountId}`);
    expect(new Set(waterfall.map((r) => r.order_id))).toEqual(new Set([orderId]));
    const byLine = (n: string) => waterfall.filter((r) => r.line_no === n);
    expect(byLine('1').map((r) => r.month)).toEqual(['2028-01']);
    expect(byLine('3').map((r) => r.month)).toEqual(['2028-02']);
    expect(byLine('2').map((r) => r.month)).toHaveLength(13); // Jan 2028 … Jan 2029
    let allocatedTotal = 0n;
    for (const n of ['1', '2', '3']) {
      const rows = byLine(n);
      const allocated = BigInt(rows[0]!.allocated_minor!);
      allocatedTotal += allocated;
      // Every row: cumulative = running sum; deferred = allocated − cumulative; the last row clears.
      let running = 0n;
      for (const r of rows) {
        running += BigInt(r.recognised_minor!);
        expect(BigInt(r.cumulative_minor!)).toBe(running);
        expect(BigInt(r.deferred_minor!)).toBe(allocated - running);
      }
      expect(running).toBe(allocated);
    }
    expect(allocatedTotal).toBe(135000n); // the transaction price

    const journal = await csv(`/v1/exports/journal-entries.csv?from=2028-01&to=2029-12&accountId=${accountId}`);
    const net = (gl: string) => journal.filter((r) => r.gl_account === gl).reduce((s, r) => s + BigInt(r.debit_minor!) - BigInt(r.credit_minor!), 0n);
    expect(journal.reduce((s, r) => s + BigInt(r.debit_minor!) - BigInt(r.credit_minor!), 0n)).toBe(0n);
    // Invoiced on the order date in full: receivable = price, revenue = price, nothing left over.
    expect([net('RECEIVABLE'), net('REVENUE'), net('CONTRACT_LIABILITY'), net('CONTRACT_ASSET')]).toEqual([135000n, -135000n, 0n, 0n]);
    expect(journal[0]).toMatchObject({ date: '2028-01-15', entry_type: 'INVOICE', gl_account: 'RECEIVABLE', debit_minor: '135000' });

    // The waterfall and the journal agree month by month on revenue.
    const revenueByMonth = new Map<string, bigint>();
    for (const r of journal.filter((j) => j.gl_account === 'REVENUE')) {
      revenueByMonth.set(r.date!.slice(0, 7), (revenueByMonth.get(r.date!.slice(0, 7)) ?? 0n) + BigInt(r.credit_minor!) - BigInt(r.debit_minor!));
    }
    for (const [month, amount] of revenueByMonth) {
      expect(waterfall.filter((r) => r.month === month).reduce((s, r) => s + BigInt(r.recognised_minor!), 0n)).toBe(amount);
    }
  });
});
