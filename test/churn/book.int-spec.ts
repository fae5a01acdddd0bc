import { systemContext } from '../../src/common/context';
import { AppError } from '../../src/common/errors';
import { generateBook, planBook, type BookSummary } from '../../src/churn/book-generator';
import { startTestHub, type TestHub } from '../support/test-hub';
import pino from 'pino';

/**
 * The book generator (`ehub demo --book`): renewals are real RENEWAL orders that extend the
 * entitlement, the outcome follows the utilisation trend, and a seed gives the same book.
 */
const AS_OF = '2026-06-30';
const ctxOf = () => systemContext(pino({ level: 'silent' }), 'test:book');

/** What a book holds, independent of the generated ids. */
async function digest(hub: TestHub, source: string): Promise<string> {
  const [r] = await hub.ds.query(
    `WITH a AS (SELECT entity_id AS id, external_id AS no FROM external_ref WHERE system = $1)
     SELECT (SELECT md5(string_agg(a.no || ':' || r.bucket::date || ':' || r.sum, ',' ORDER BY a.no, r.bucket, r.sum)) FROM usage_rollup r JOIN a ON a.id = r.account_id) AS usage,
            (SELECT md5(string_agg(a.no || ':' || s.email || ':' || s.assigned_at::date || ':' || coalesce(s.released_at::date::text, '-'), ',' ORDER BY a.no, s.email, s.assigned_at)) FROM seat s JOIN a ON a.id = s.account_id) AS seats,
            (SELECT md5(string_agg(a.no || ':' || l.sku || ':' || l.action || ':' || l.start_date || ':' || l.end_date || ':' || l.quantity, ',' ORDER BY a.no, l.start_date, l.sku)) FROM order_line l JOIN a ON a.id = l.account_id) AS lines`,
    [source],
  );
  return JSON.stringify(r);
}

describe('book generator', () => {
  let hub: TestHub;
  let book: BookSummary;

  beforeAll(async () => {
    hub = await startTestHub();
    book = await generateBook(hub.services, ctxOf(), { accounts: 300, years: 3, seed: 7, asOf: AS_OF });
  }, 180_000);

  afterAll(async () => {
    await hub?.close();
  });

  it('writes a book of accounts, orders and renewals through the order service, with usage, seats, devices and leases', async () => {
    // For the record (docs/churn.md): how long a 300-account book takes here.
    console.log(`book of 300 accounts: ${JSON.stringify(book)}`);
    expect(book.accounts).toBe(300);
    expect(book.endedTerms).toBeGreaterThan(300);
    expect(book.notRenewed).toBeGreaterThan(30);
    expect(book.usageRollups).toBeGreaterThan(10_000);
    expect(book.seats).toBeGreaterThan(0);
    expect(book.activations).toBeGreaterThan(0);
    expect(book.leases).toBeGreaterThan(0);
    const [counts] = await hub.ds.query(
      `SELECT count(*) FILTER (WHERE l.action = 'RENEWAL')::int AS renewals, count(*) FILTER (WHERE l.action = 'NEW')::int AS new,
              count(DISTINCT o.account_id)::int AS accounts
         FROM order_line l JOIN sales_order o ON o.id = l.order_id WHERE o.source = $1`,
      [book.source],
    );
    expect(counts).toEqual({ renewals: book.renewals, new: book.lines, accounts: 300 });
    // Each renewal extended its entitlement: the entitlement ends when its last term ends.
    const wrong: unknown[] = await hub.ds.query(
      `SELECT e.id FROM entitlement e JOIN sales_order o ON o.id = e.order_id
        WHERE o.source = $1
          AND e.end_date <> (SELECT max(l.end_date) FROM entitlement_event ev JOIN order_line l ON l.id = ev.order_line_id WHERE ev.entitlement_id = e.id)`,
      [book.source],
    );
    expect(wrong).toEqual([]);
    const [renewed] = await hub.ds.query(`SELECT count(*)::int AS n FROM entitlement_event WHERE kind = 'RENEWED'`);
    expect(renewed.n).toBe(book.renewals);
    // Nothing after the book's day.
    const [late] = await hub.ds.query(`SELECT count(*)::int AS n FROM usage_rollup WHERE bucket >= $1::date`, [AS_OF]);
    expect(late.n).toBe(0);
  });

  it('writes the ERP side: monthly invoices, each open from its date and closed from its payment day in the receivable history', async () => {
    expect(book.receivables).toBeGreaterThan(1_000);
    const [docs] = await hub.ds.query(
      `SELECT count(*) FILTER (WHERE r.kind = 'INVOICE')::int AS invoices, count(*) FILTER (WHERE r.kind = 'PAYMENT')::int AS payments,
              count(*) FILTER (WHERE r.kind = 'INVOICE' AND r.open_minor = 0)::int AS paid,
              count(*) FILTER (WHERE r.kind = 'INVOICE' AND r.open_minor > 0 AND r.due_date < $2::date)::int AS overdue
         FROM receivable r JOIN sync_connection c ON c.id = r.connection_id WHERE c.name = $1`,
      [`${book.source}-erp`, AS_OF],
    );
    expect(docs.invoices + docs.payments).toBe(book.receivables);
    expect(docs.paid).toBe(docs.payments);
    // Slow payers leave invoices overdue on the book's last day; the others have paid nearly everything due.
    expect(docs.overdue).toBeGreaterThan(0);
    // Every paid invoice: open for its amount from its date, 0 from the day it was paid; every open one: one row.
    const wrong: unknown[] = await hub.ds.query(
      `SELECT r.id FROM receivable r JOIN sync_connection c ON c.id = r.connection_id
        WHERE c.name = $1 AND r.kind = 'INVOICE'
          AND (SELECT array_agg(h.open_minor::text || '@' || (h.valid_from AT TIME ZONE 'UTC')::date ORDER BY h.valid_from) FROM receivable_history h WHERE h.receivable_id = r.id)
              IS DISTINCT FROM CASE WHEN r.open_minor = 0
                                    THEN ARRAY[r.amount_minor::text || '@' || r.doc_date, '0@' || (r.modified_at AT TIME ZONE 'UTC')::date]
                                    ELSE ARRAY[r.amount_minor::text || '@' || r.doc_date] END`,
      [`${book.source}-erp`],
    );
    expect(wrong).toEqual([]);
    // The connection of the book's ERP side is disabled: nothing pulls or pushes it.
    const [conn] = await hub.ds.query(`SELECT enabled, pull_enabled, push_enabled FROM sync_connection WHERE name = $1`, [`${book.source}-erp`]);
    expect(conn).toEqual({ enabled: false, pull_enabled: false, push_enabled: false });
  });

  it('renews less often when the account pays late', () => {
    const lines = planBook({ accounts: 2000, years: 3, seed: 11, asOf: AS_OF });
    const rate = (slow: boolean) => {
      const ts = lines.filter((l) => l.slowPayer === slow).flatMap((l) => l.terms).filter((t) => t.renewed !== null);
      return ts.filter((t) => t.renewed).length / ts.length;
    };
    const share = new Set(lines.filter((l) => l.slowPayer).map((l) => l.account)).size / 2000;
    expect(share).toBeGreaterThan(0.15);
    expect(share).toBeLessThan(0.25);
    expect(rate(true)).toBeLessThan(rate(false) - 0.1);
  });

  it('renews more often when utilisation rises than when it falls', () => {
    const terms = planBook({ accounts: 2000, years: 3, seed: 11, asOf: AS_OF }).flatMap((l) => l.terms).filter((t) => t.renewed !== null);
    const rate = (ts: typeof terms) => ts.filter((t) => t.renewed).length / ts.length;
    const rising = terms.filter((t) => t.u1 - t.u0 > 0.15);
    const falling = terms.filter((t) => t.u1 - t.u0 < -0.15);
    expect(rate(rising)).toBeGreaterThan(rate(falling) + 0.25);
    // Noise: neither side is certain.
    expect(rate(rising)).toBeLessThan(0.99);
    expect(rate(falling)).toBeGreaterThan(0.1);
  });

  it('gives the same book for the same seed (contents, not ids), another for another seed, and refuses to generate one twice', async () => {
    expect(planBook({ accounts: 50, years: 3, seed: 5, asOf: AS_OF })).toEqual(planBook({ accounts: 50, years: 3, seed: 5, asOf: AS_OF }));
    expect(planBook({ accounts: 50, years: 3, seed: 6, asOf: AS_OF })).not.toEqual(planBook({ accounts: 50, years: 3, seed: 5, asOf: AS_OF }));
    const other = await startTestHub();
    try {
      await generateBook(hub.services, ctxOf(), { accounts: 15, years: 2, seed: 99, asOf: AS_OF });
      await generateBook(other.services, ctxOf(), { accounts: 15, years: 2, seed: 99, asOf: AS_OF });
      expect(await digest(other, 'book-99')).toEqual(await digest(hub, 'book-99'));
      await expect(generateBook(hub.services, ctxOf(), { accounts: 15, years: 2, seed: 99, asOf: AS_OF })).rejects.toMatchObject({ subCode: 'BOOK_EXISTS' });
      await expect(generateBook(hub.services, ctxOf(), { accounts: 15, years: 2, seed: 99, asOf: AS_OF })).rejects.toBeInstanceOf(AppError);
    } finally {
      await other.close();
    }
  }, 120_000);
});
