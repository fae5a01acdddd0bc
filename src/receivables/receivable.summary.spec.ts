import { summaryOf } from './receivable.service';

const row = (over: Partial<Parameters<typeof summaryOf>[0]> = {}) => ({
  account_id: 'a',
  currency: 'USD',
  open_invoices: '0',
  unapplied: '0',
  overdue: '0',
  max_days: null,
  weighted_num: null,
  last_payment_date: null,
  last_payment: null,
  invoices: 0,
  open_invoice_count: 0,
  overdue_count: 0,
  credit_memos: 0,
  payments: 0,
  ...over,
});

describe('receivables summary arithmetic', () => {
  it('open balance is open invoices minus unapplied credits and payments, and may be negative', () => {
    expect(summaryOf(row({ open_invoices: '150000', unapplied: '20000' }), '2026-06-30').openBalance).toEqual({ amountMinor: '130000', currency: 'USD' });
    expect(summaryOf(row({ open_invoices: '100', unapplied: '250' }), '2026-06-30').openBalance.amountMinor).toBe('-150');
  });

  it('weights overdue days by open amount, to one decimal rounded half up, exactly beyond 2^53', () => {
    // 100 open 10 days + 300 open 45 days: (1000 + 13500) / 400 = 36.25 → 36.3
    expect(summaryOf(row({ overdue: '400', weighted_num: '14500', max_days: 45 }), '2026-06-30')).toMatchObject({ weightedOverdueDays: 36.3, maxOverdueDays: 45 });
    // 1/3 day → 0.3; 2/3 → 0.7
    expect(summaryOf(row({ overdue: '3', weighted_num: '1' }), 'x').weightedOverdueDays).toBe(0.3);
    expect(summaryOf(row({ overdue: '3', weighted_num: '2' }), 'x').weightedOverdueDays).toBe(0.7);
    const big = 10n ** 20n;
    expect(summaryOf(row({ overdue: String(big), weighted_num: String(big * 12n + big / 20n) }), 'x').weightedOverdueDays).toBe(12.1);
    expect(summaryOf(row(), 'x')).toMatchObject({ weightedOverdueDays: 0, maxOverdueDays: 0, lastPayment: null });
  });
});
