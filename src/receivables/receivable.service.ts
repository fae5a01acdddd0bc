import type { EntityManager } from 'typeorm';
import { badInput } from '../common/errors';
import { isUuid } from '../common/ids';
import { minorToMajor, money } from '../common/money';
import { decodeCursor, encodeCursor, type Connection } from '../common/pagination';
import type { Db } from '../db/db';
import { Receivable, ReceivableKind, ReceivablesSummary, type ReceivableListArgs } from './receivable.types';

/** A document as the sync engine hands it over: validated, amounts in minor units. */
export interface ReceivableWrite {
  connectionId: string;
  externalId: string;
  accountId: string;
  kind: ReceivableKind;
  number: string | null;
  date: string;
  dueDate: string | null;
  currency: string;
  amountMinor: string;
  openMinor: string;
  status: string | null;
  modifiedAt: Date;
  deleted: boolean;
}

export type ReceivableOutcome = 'created' | 'updated' | 'unchanged' | 'deleted';

interface SummaryRow {
  account_id: string;
  currency: string;
  open_invoices: string;
  unapplied: string;
  overdue: string;
  max_days: number | null;
  weighted_num: string | null;
  last_payment_date: string | null;
  last_payment: string | null;
  invoices: number;
  open_invoice_count: number;
  overdue_count: number;
  credit_memos: number;
  payments: number;
}

/**
 * Arithmetic of one summary row (exported for unit tests): the open balance, and the weighted
 * overdue days rounded to one decimal. Amounts stay integers (bigint) throughout.
 */
export function summaryOf(row: SummaryRow, asOf: string): ReceivablesSummary {
  const openInvoices = BigInt(row.open_invoices);
  const unapplied = BigInt(row.unapplied);
  const overdue = BigInt(row.overdue);
  // sum(open × days) ÷ sum(open), to one decimal, rounded half up, in integers.
  const num = BigInt(row.weighted_num ?? '0');
  const weightedTenths = overdue > 0n ? (num * 20n + overdue) / (overdue * 2n) : 0n;
  return {
    currency: row.currency,
    openBalance: money(openInvoices - unapplied, row.currency)!,
    openInvoices: money(openInvoices, row.currency)!,
    unapplied: money(unapplied, row.currency)!,
    overdue: money(overdue, row.currency)!,
    maxOverdueDays: row.max_days ?? 0,
    weightedOverdueDays: Number(weightedTenths) / 10,
    lastPaymentDate: row.last_payment_date,
    lastPayment: row.last_payment === null ? null : money(row.last_payment, row.currency),
    invoiceCount: row.invoices,
    openInvoiceCount: row.open_invoice_count,
    overdueInvoiceCount: row.overdue_count,
    creditMemoCount: row.credit_memos,
    paymentCount: row.payments,
    asOf,
  };
}

interface DocRow {
  id: string;
  account_id: string;
  connection_id: string;
  kind: ReceivableKind;
  external_id: string;
  number: string | null;
  doc_date: string;
  due_date: string | null;
  currency: string;
  amount_minor: string;
  open_minor: string;
  status: string | null;
  modified_at: Date;
  created_at: Date;
}

function docOf(r: DocRow): Receivable {
  return Object.assign(new Receivable(), {
    id: r.id,
    accountId: r.account_id,
    connectionId: r.connection_id,
    kind: r.kind,
    externalId: r.external_id,
    number: r.number,
    date: r.doc_date,
    dueDate: r.due_date,
    amount: money(r.amount_minor, r.currency)!,
    openAmount: money(r.open_minor, r.currency)!,
    status: r.status,
    modifiedAt: r.modified_at,
    createdAt: r.created_at,
  });
}

/** Keyset cursor of a document: newest document date first, then id. */
const cursorOf = (r: DocRow) => encodeCursor(new Date(`${r.doc_date}T00:00:00.000Z`), r.id);

/**
 * Receivables: the invoices, credit memos and payments an ERP holds per account, mirrored by
 * the sync engine (the ERP stays their system of record, so they are not audited here), and
 * each account's summary computed in SQL over all of its documents.
 */
export class ReceivableService {
  constructor(private readonly db: Db) {}

  /**
   * Creates or updates one document by (connection, external id); the same document again —
   * or an older copy of it — changes nothing. A deleted document is kept, marked deleted, and
   * left out of summaries and lists.
   */
  async upsertFromSource(w: ReceivableWrite, manager: EntityManager = this.db.manager): Promise<ReceivableOutcome> {
    return (await this.upsertManyFromSource([w], manager)).get(w.externalId) ?? 'unchanged';
  }

  /**
   * Many documents at once (a pulled page of up to 1,000): at most two statements, one upsert
   * of the live documents and one update of the deleted ones, whatever their number. The same
   * rules as one by one: a document older than the stored copy changes nothing, nor does one
   * equal to it. A document given twice counts once (its newest copy). Returns each external
   * id's outcome (per connection: ids are unique within one).
   */
  async upsertManyFromSource(writes: readonly ReceivableWrite[], manager: EntityManager = this.db.manager): Promise<Map<string, ReceivableOutcome>> {
    const newest = new Map<string, ReceivableWrite>();
    for (const w of writes) {
      const key = `${w.connectionId}\u0000${w.externalId}`;
      const seen = newest.get(key);
      if (!seen || seen.modifiedAt.getTime() <= w.modifiedAt.getTime()) newest.set(key, w);
    }
    const all = [...newest.values()].sort((a, b) => (a.connectionId === b.connectionId ? (a.externalId < b.externalId ? -1 : 1) : a.connectionId < b.connectionId ? -1 : 1));
    const out = new Map<string, ReceivableOutcome>(all.map((w) => [w.externalId, 'unchanged']));
    const deleted = all.filter((w) => w.deleted);
    const live = all.filter((w) => !w.deleted);
    if (deleted.length) {
      const [rows]: [{ external_id: string }[], number] = await manager.query(
        `UPDATE receivable r SET deleted = true, modified_at = x.modified_at, updated_at = now()
           FROM jsonb_to_recordset($1::jsonb) AS x(connection_id uuid, external_id text, modified_at timestamptz)
          WHERE r.connection_id = x.connection_id AND r.external_id = x.external_id AND NOT r.deleted AND r.modified_at <= x.modified_at
          RETURNING r.external_id`,
        [JSON.stringify(deleted.map((w) => ({ connection_id: w.connectionId, external_id: w.externalId, modified_at: w.modifiedAt.toISOString() })))],
      );
      for (const r of rows) out.set(r.external_id, 'deleted');
    }
    if (live.length) {
      // Sorted by key: concurrent pulls lock the rows in one order.
      const rows: { external_id: string; inserted: boolean }[] = await manager.query(
        `INSERT INTO receivable AS r (connection_id, external_id, account_id, kind, number, doc_date, due_date, currency, amount_minor, open_minor, status, modified_at, deleted)
         SELECT x.connection_id, x.external_id, x.account_id, x.kind, x.number, x.doc_date, x.due_date, x.currency, x.amount_minor, x.open_minor, x.status, x.modified_at, false
           FROM jsonb_to_recordset($1::jsonb) AS x(connection_id uuid, external_id text, account_id uuid, kind text, number text, doc_date date, due_date date,
                                                  currency text, amount_minor bigint, open_minor bigint, status text, modified_at timestamptz)
          ORDER BY x.connection_id, x.external_id
         ON CONFLICT (connection_id, external_id) DO UPDATE SET
           account_id = EXCLUDED.account_id, kind = EXCLUDED.kind, number = EXCLUDED.number, doc_date = EXCLUDED.doc_date,
           due_date = EXCLUDED.due_date, currency = EXCLUDED.currency, amount_minor = EXCLUDED.amount_minor,
           open_minor = EXCLUDED.open_minor, status = EXCLUDED.status, modified_at = EXCLUDED.modified_at, deleted = false, updated_at = now()
         WHERE r.modified_at <= EXCLUDED.modified_at
           AND (r.account_id, r.kind, r.number, r.doc_date, r.due_date, r.currency, r.amount_minor, r.open_minor, r.status, r.deleted)
               IS DISTINCT FROM (EXCLUDED.account_id, EXCLUDED.kind, EXCLUDED.number, EXCLUDED.doc_date, EXCLUDED.due_date, EXCLUDED.currency,
                                 EXCLUDED.amount_minor, EXCLUDED.open_minor, EXCLUDED.status, false)
         RETURNING r.external_id, (xmax = 0) AS inserted`,
        [
          JSON.stringify(
            live.map((w) => ({
              connection_id: w.connectionId,
              external_id: w.externalId,
              account_id: w.accountId,
              kind: w.kind,
              number: w.number,
              doc_date: w.date,
              due_date: w.dueDate,
              currency: w.currency,
              amount_minor: w.amountMinor,
              open_minor: w.openMinor,
              status: w.status,
              modified_at: w.modifiedAt.toISOString(),
            })),
          ),
        ],
      );
      for (const r of rows) out.set(r.external_id, r.inserted ? 'created' : 'updated');
    }
    return out;
  }

  /**
   * The receivables summary of many accounts, one per account and currency, in ONE
   * statement (the `Account.receivables` DataLoader). `asOf` (YYYY-MM-DD) is the day overdue
   * is judged by: an open invoice is overdue when its due date is before it.
   */
  async summaries(accountIds: readonly string[], asOf: string): Promise<Map<string, ReceivablesSummary[]>> {
    const rows: SummaryRow[] = await this.db.manager.query(
      `WITH docs AS (
         SELECT r.*, ((r.kind = 'INVOICE' AND r.open_minor > 0 AND r.due_date < $2::date)) AS is_overdue,
                max(r.doc_date) FILTER (WHERE r.kind = 'PAYMENT') OVER (PARTITION BY r.account_id, r.currency) AS last_pay
           FROM receivable r
          WHERE r.account_id = ANY($1::uuid[]) AND NOT r.deleted)
       SELECT account_id, currency,
              coalesce(sum(open_minor) FILTER (WHERE kind = 'INVOICE'), 0)::text AS open_invoices,
              coalesce(sum(open_minor) FILTER (WHERE kind <> 'INVOICE'), 0)::text AS unapplied,
              coalesce(sum(open_minor) FILTER (WHERE is_overdue), 0)::text AS overdue,
              max($2::date - due_date) FILTER (WHERE is_overdue) AS max_days,
              sum(open_minor::numeric * ($2::date - due_date)) FILTER (WHERE is_overdue)::text AS weighted_num,
              to_char(max(last_pay), 'YYYY-MM-DD') AS last_payment_date,
              sum(amount_minor) FILTER (WHERE kind = 'PAYMENT' AND doc_date = last_pay)::text AS last_payment,
              count(*) FILTER (WHERE kind = 'INVOICE')::int AS invoices,
              count(*) FILTER (WHERE kind = 'INVOICE' AND open_minor > 0)::int AS open_invoice_count,
              count(*) FILTER (WHERE is_overdue)::int AS overdue_count,
              count(*) FILTER (WHERE kind = 'CREDIT_MEMO')::int AS credit_memos,
              count(*) FILTER (WHERE kind = 'PAYMENT')::int AS payments
         FROM docs GROUP BY account_id, currency ORDER BY account_id, currency`,
      [[...new Set(accountIds)], asOf],
    );
    const out = new Map<string, ReceivablesSummary[]>(accountIds.map((id) => [id, []]));
    for (const r of rows) out.get(r.account_id)?.push(summaryOf(r, asOf));
    return out;
  }

  /**
   * For the health score: per account with receivables, how many days its oldest open
   * invoice is overdue (0 when nothing is) and the overdue amount in the currency owing the
   * most. Accounts without any receivable document are absent (no data).
   */
  async overdueForHealth(accountIds: readonly string[], asOf: string): Promise<Map<string, { days: number; amount: string | null; currency: string | null }>> {
    const all = await this.summaries(accountIds, asOf);
    const out = new Map<string, { days: number; amount: string | null; currency: string | null }>();
    for (const [id, sums] of all) {
      if (sums.length === 0) continue;
      const worst = [...sums].sort((a, b) => (BigInt(b.overdue.amountMinor) > BigInt(a.overdue.amountMinor) ? 1 : -1))[0]!;
      const days = Math.max(...sums.map((s) => s.maxOverdueDays));
      out.set(id, { days, amount: days > 0 ? minorToMajor(worst.overdue.amountMinor, worst.currency) : null, currency: days > 0 ? worst.currency : null });
    }
    return out;
  }

  /**
   * One page of documents for each of many accounts, in ONE statement (the
   * `Account.receivableDocuments` DataLoader), newest document date first; deleted ones left out.
   */
  async pages(accountIds: readonly string[], args: ReceivableListArgs): Promise<Map<string, Connection<Receivable>>> {
    const params: unknown[] = [[...new Set(accountIds)]];
    let where = 'r.account_id = ANY($1::uuid[]) AND NOT r.deleted';
    if (args.kind) {
      params.push(args.kind);
      where += ` AND r.kind = $${params.length}`;
    }
    if (args.openOnly) where += ' AND r.open_minor > 0';
    let after = 'true';
    if (args.after) {
      const c = decodeCursor(args.after);
      if (!isUuid(c.id)) throw badInput('INVALID_CURSOR', 'The cursor is not one this API returned', [{ path: 'after', message: 'invalid cursor' }]);
      params.push(c.createdAt.slice(0, 10), c.id);
      after = `(m.doc_date, m.id) < ($${params.length - 1}::date, $${params.length}::uuid)`;
    }
    params.push(args.first + 1);
    const rows: (DocRow & { page_account_id: string; total: string })[] = await this.db.manager.query(
      `WITH matched AS (SELECT r.* FROM receivable r WHERE ${where}),
            totals AS (SELECT account_id, count(*) AS total FROM matched GROUP BY account_id),
            page AS (SELECT m.*, row_number() OVER (PARTITION BY m.account_id ORDER BY m.doc_date DESC, m.id DESC) AS rn FROM matched m WHERE ${after})
       SELECT t.account_id AS page_account_id, t.total, p.id, p.account_id, p.connection_id, p.kind, p.external_id, p.number,
              to_char(p.doc_date, 'YYYY-MM-DD') AS doc_date, to_char(p.due_date, 'YYYY-MM-DD') AS due_date, p.currency,
              p.amount_minor::text AS amount_minor, p.open_minor::text AS open_minor, p.status, p.modified_at, p.created_at
         FROM totals t LEFT JOIN page p ON p.account_id = t.account_id AND p.rn <= $${params.length}
        ORDER BY t.account_id, p.doc_date DESC, p.id DESC`,
      params,
    );
    const out = new Map<string, Connection<Receivable>>();
    for (const id of accountIds) out.set(id, { edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 });
    for (const row of rows) {
      const page = out.get(row.page_account_id)!;
      page.totalCount = Number(row.total);
      if (!row.id) continue;
      if (page.edges.length === args.first) {
        page.pageInfo.hasNextPage = true;
        continue;
      }
      const cursor = cursorOf(row);
      page.edges.push({ cursor, node: docOf(row) });
      page.pageInfo.endCursor = cursor;
    }
    return out;
  }
}
