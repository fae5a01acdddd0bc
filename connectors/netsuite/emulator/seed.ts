/**
 * The seeding API: direct insertion into the emulator's store (no HTTP, no governance), fast
 * enough for 120,000 transactions in a few seconds. Dates are `YYYY-MM-DD`, instants ISO 8601,
 * amounts decimal strings. `lastModified` defaults to the emulator clock.
 */
import type { SqlValue } from 'sql.js';
import { Store, type Row } from './store';
import { encDate, encDatetime } from './values';

export interface SeedCustomer {
  companyName: string;
  entityId?: string;
  email?: string | null;
  url?: string | null;
  externalId?: string | null;
  subsidiary?: number;
  /** ISO 4217 symbol; default USD. */
  currency?: string;
  /** The Salesforce Account Id held in `custentity_ehub_crm_id`. */
  crmId?: string | null;
  isInactive?: boolean;
  /** Other custom fields, column → text. */
  custom?: Record<string, string | null>;
  lastModified?: string;
}

export interface SeedContact {
  company: number;
  firstName?: string;
  lastName: string;
  email?: string | null;
  externalId?: string | null;
  lastModified?: string;
}

export interface SeedItem {
  itemId: string;
  externalId?: string | null;
  displayName?: string;
  /** SuiteQL item type: NonInvtPart (default), InvtPart, Service. */
  itemType?: string;
  lastModified?: string;
}

export interface SeedOrderLine {
  item: number;
  quantity: string;
  rate: string;
  /** custcol_ehub_start_date / custcol_ehub_end_date. */
  startDate?: string | null;
  endDate?: string | null;
  memo?: string | null;
}

/** Transaction type codes as SuiteQL's `transaction.type` holds them. */
export type TranType = 'SalesOrd' | 'CustInvc' | 'CustCred' | 'CustPymt' | 'Journal';

export interface SeedTransaction {
  type: TranType;
  entity: number | null;
  tranId?: string;
  tranDate: string;
  dueDate?: string | null;
  /** Status code letter (SalesOrd B = Pending Fulfillment, C = Cancelled, H = Closed; CustInvc A = Open, B = Paid In Full). */
  status?: string;
  currency?: string;
  subsidiary?: number;
  externalId?: string | null;
  memo?: string | null;
  /** The Opportunity Id held in `custbody_ehub_crm_deal_id`. */
  crmDealId?: string | null;
  custom?: Record<string, string | null>;
  /** Item lines (sales orders, invoices, credit memos); the total is their sum unless `total` is given. */
  lines?: SeedOrderLine[];
  total?: string;
  /** Invoices: amount remaining (default: the total). */
  amountRemaining?: string;
  /** Payments and credit memos: the unapplied part (default: the total). */
  unapplied?: string;
  lastModified?: string;
}

export class Seeder {
  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  private stamp(iso?: string): string {
    return encDatetime(iso ? Date.parse(iso) : this.now());
  }

  customers(rows: SeedCustomer[]): number[] {
    return this.store.transaction(() =>
      rows.map((c) => {
        const stamp = this.stamp(c.lastModified);
        const row: Row = {
          entityid: c.entityId ?? c.companyName,
          companyname: c.companyName,
          email: c.email ?? null,
          url: c.url ?? null,
          externalid: c.externalId ?? null,
          subsidiary: c.subsidiary ?? 1,
          currency: this.store.currencyId(c.currency ?? 'USD'),
          isinactive: c.isInactive ? 'T' : 'F',
          custentity_ehub_crm_id: c.crmId ?? null,
          datecreated: stamp,
          lastmodifieddate: stamp,
          ...(c.custom ?? {}),
        };
        return this.store.insert('customer', row);
      }),
    );
  }

  contacts(rows: SeedContact[]): number[] {
    return this.store.transaction(() =>
      rows.map((c) => {
        const stamp = this.stamp(c.lastModified);
        return this.store.insert('contact', {
          entityid: [c.firstName, c.lastName].filter(Boolean).join(' '),
          firstname: c.firstName ?? null,
          lastname: c.lastName,
          email: c.email ?? null,
          company: c.company,
          externalid: c.externalId ?? null,
          datecreated: stamp,
          lastmodifieddate: stamp,
        });
      }),
    );
  }

  items(rows: SeedItem[]): number[] {
    return this.store.transaction(() =>
      rows.map((i) => {
        const stamp = this.stamp(i.lastModified);
        return this.store.insert('item', {
          itemid: i.itemId,
          displayname: i.displayName ?? i.itemId,
          externalid: i.externalId ?? null,
          itemtype: i.itemType ?? 'NonInvtPart',
          datecreated: stamp,
          lastmodifieddate: stamp,
        });
      }),
    );
  }

  /**
   * Inserts transactions with their lines using prepared statements in one SQLite transaction:
   * the path for large seeds (120,000 rows in seconds).
   */
  transactions(rows: SeedTransaction[]): number[] {
    const db = this.store.db;
    const customCols = new Set<string>();
    for (const r of rows) for (const k of Object.keys(r.custom ?? {})) customCols.add(k);
    for (const c of customCols) this.store.ensureColumn('transaction', c);
    const custom = [...customCols];
    const cols = [
      'type', 'tranid', 'entity', 'trandate', 'duedate', 'status', 'currency', 'foreigntotal', 'foreignamountremaining', 'foreignamountunpaid',
      'foreignpaymentamountunused', 'subsidiary', 'externalid', 'memo', 'custbody_ehub_crm_deal_id', 'datecreated', 'lastmodifieddate', ...custom,
    ];
    const txStmt = db.prepare(`INSERT INTO "transaction" (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
    const lineStmt = db.prepare(
      'INSERT INTO transactionline ("transaction", id, linesequencenumber, item, quantity, rate, foreignamount, mainline, memo, custcol_ehub_start_date, custcol_ehub_end_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const currencies = new Map<string, number | null>();
    const cur = (s: string): number | null => {
      if (!currencies.has(s)) currencies.set(s, this.store.currencyId(s));
      return currencies.get(s)!;
    };
    try {
      return this.store.transaction(() => {
        const ids: number[] = [];
        const nextId = Number(this.store.scalar('SELECT COALESCE(MAX(id), 0) FROM "transaction"')) + 1;
        rows.forEach((t, n) => {
          const id = nextId + n;
          const stamp = this.stamp(t.lastModified);
          const lines = t.lines ?? [];
          const total = t.total ?? Store.linesTotal(lines);
          const isInvoice = t.type === 'CustInvc';
          const isCredit = t.type === 'CustPymt' || t.type === 'CustCred';
          const values: SqlValue[] = [
            t.type,
            t.tranId ?? `${t.type === 'SalesOrd' ? 'SO' : t.type === 'CustInvc' ? 'INV' : t.type === 'CustCred' ? 'CM' : t.type === 'CustPymt' ? 'PYMT' : 'JE'}${id}`,
            t.entity,
            encDate(t.tranDate),
            t.dueDate ? encDate(t.dueDate) : null,
            t.status ?? (t.type === 'SalesOrd' ? 'B' : t.type === 'CustInvc' ? 'A' : null),
            cur(t.currency ?? 'USD'),
            total,
            isInvoice ? (t.amountRemaining ?? total) : null,
            isInvoice ? (t.amountRemaining ?? total) : null,
            isCredit ? (t.unapplied ?? total) : null,
            t.subsidiary ?? 1,
            t.externalId ?? null,
            t.memo ?? null,
            t.crmDealId ?? null,
            stamp,
            stamp,
            ...custom.map((c) => t.custom?.[c] ?? null),
          ];
          txStmt.run(values);
          lineStmt.run([id, 0, 0, null, null, null, total, 'T', null, null, null]);
          lines.forEach((l, i) => {
            lineStmt.run([
              id, i + 1, i + 1, l.item, l.quantity, l.rate, decimalMulSafe(l.quantity, l.rate), 'F', l.memo ?? null,
              l.startDate ? encDate(l.startDate) : null, l.endDate ? encDate(l.endDate) : null,
            ]);
          });
          ids.push(id);
        });
        return ids;
      });
    } finally {
      txStmt.free();
      lineStmt.free();
    }
  }

  /**
   * A generated data set: `customers` customers, `items` items (SKU-0001…), `salesOrders` sales
   * orders with `linesPerOrder` lines each, and `invoices` invoices. Orders are spread over the
   * customers round-robin; `lastModified` steps by `stepMs` from `start` (several rows share a
   * second when stepMs < 1000, as in NetSuite).
   */
  generate(opts: {
    customers?: number;
    items?: number;
    salesOrders?: number;
    linesPerOrder?: number;
    invoices?: number;
    start?: string;
    stepMs?: number;
  }): { customerIds: number[]; itemIds: number[]; salesOrderIds: number[]; invoiceIds: number[] } {
    const start = Date.parse(opts.start ?? '2026-01-01T00:00:00Z');
    const step = opts.stepMs ?? 250;
    let tick = 0;
    const at = (): string => new Date(start + step * tick++).toISOString();
    const customerIds = this.customers(
      Array.from({ length: opts.customers ?? 0 }, (_, i) => ({ companyName: `Customer ${i + 1}`, email: `ap@customer${i + 1}.example`, lastModified: at() })),
    );
    const itemIds = this.items(
      Array.from({ length: opts.items ?? 0 }, (_, i) => ({ itemId: `SKU-${String(i + 1).padStart(4, '0')}`, lastModified: at() })),
    );
    const pick = <T>(xs: T[], i: number): T | null => (xs.length ? xs[i % xs.length] : null);
    const salesOrderIds = this.transactions(
      Array.from({ length: opts.salesOrders ?? 0 }, (_, i) => ({
        type: 'SalesOrd' as const,
        entity: pick(customerIds, i),
        tranDate: '2026-01-15',
        lastModified: at(),
        lines: Array.from({ length: opts.linesPerOrder ?? 0 }, (_, j) => ({
          item: pick(itemIds, i + j)!,
          quantity: String(1 + ((i + j) % 9)),
          rate: `${100 + (i % 50)}.${String(j % 100).padStart(2, '0')}`,
          startDate: '2026-02-01',
          endDate: '2027-01-31',
        })),
      })),
    );
    const invoiceIds = this.transactions(
      Array.from({ length: opts.invoices ?? 0 }, (_, i) => ({
        type: 'CustInvc' as const,
        entity: pick(customerIds, i),
        tranDate: '2026-02-01',
        dueDate: '2026-03-03',
        total: `${1000 + i}.10`,
        lastModified: at(),
      })),
    );
    return { customerIds, itemIds, salesOrderIds, invoiceIds };
  }
}

function decimalMulSafe(a: string, b: string): string | null {
  try {
    return Store.linesTotal([{ quantity: a, rate: b }]);
  } catch {
    return null;
  }
}
