import type { ExternalAccount, ExternalOrder, ExternalReceivable, ExternalUsage, ReceivableKind } from '../types';
import { REQUIRED_COLUMNS, USAGE_DEPLOYMENTS, type AccountColumn, type CsvObject, type OrderColumn, type ReceivableColumn, type UsageColumn } from './options';

/** One refused row (or a whole file: row 1, the header): where, which column, and why. */
export interface RowProblem {
  row: number;
  column: string | null;
  code: string;
  message: string;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DECIMAL = /^\d+(\.\d+)?$/;
const CURRENCY = /^[A-Za-z]{3}$/;

function validDate(v: string): boolean {
  const m = ISO_DATE.exec(v);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

/** Where each canonical column sits in a file, from its header row. */
export class ColumnIndex<C extends string> {
  private readonly at = new Map<C, number>();
  /** Required columns the header lacks (the file is refused). */
  readonly missing: string[] = [];

  constructor(
    readonly header: string[],
    readonly mapping: Record<C, string>,
    required: readonly C[],
  ) {
    const positions = new Map(header.map((h, i) => [h.trim(), i] as const));
    for (const [canonical, h] of Object.entries(mapping) as [C, string][]) {
      const i = positions.get(h);
      if (i !== undefined) this.at.set(canonical, i);
      else if (required.includes(canonical)) this.missing.push(h);
    }
  }

  /** The trimmed value, or null when the column is absent or the cell empty. */
  get(record: string[], column: C): string | null {
    const i = this.at.get(column);
    if (i === undefined) return null;
    const v = record[i]?.trim();
    return v ? v : null;
  }

  /** The header a canonical column is read from (for messages). */
  name(column: C): string {
    return this.mapping[column];
  }
}

export function columnIndex(object: CsvObject, header: string[], mapping: Record<string, string>): ColumnIndex<string> {
  return new ColumnIndex<string>(header, mapping, REQUIRED_COLUMNS[object] as readonly string[]);
}

/** A row with the wrong number of cells is refused whole: its values cannot be trusted to be in their columns. */
export function columnCountProblem(row: number, record: string[], header: string[]): RowProblem | null {
  if (record.length === header.length) return null;
  return { row, column: null, code: 'ROW_COLUMN_COUNT', message: `row ${row} has ${record.length} cells; the header has ${header.length}` };
}

/** An account row, or its problems. */
export function accountFromRow(cols: ColumnIndex<AccountColumn>, row: number, record: string[], fileModifiedAt: string, crmSystem = 'salesforce'): ExternalAccount | RowProblem[] {
  const problems: RowProblem[] = [];
  const need = (c: AccountColumn): string | null => {
    const v = cols.get(record, c);
    if (v === null) problems.push({ row, column: cols.name(c), code: 'MISSING_VALUE', message: `row ${row}: column "${cols.name(c)}" is empty` });
    return v;
  };
  const externalId = need('externalId');
  const name = need('name');
  const currency = cols.get(record, 'currency');
  if (currency !== null && !CURRENCY.test(currency)) problems.push({ row, column: cols.name('currency'), code: 'INVALID_CURRENCY', message: `row ${row}: "${currency}" is not an ISO 4217 currency code` });
  const modifiedAt = timestamp(cols, record, row, problems) ?? fileModifiedAt;
  if (problems.length) return problems;
  const crmId = cols.get(record, 'crmAccountId');
  return {
    externalId: externalId!,
    name: name!,
    domain: cols.get(record, 'domain'),
    currency: currency?.toUpperCase() ?? null,
    modifiedAt,
    deleted: false,
    ...(crmId ? { links: [{ system: crmSystem, object: 'Account', externalId: crmId }] } : {}),
  };
}

const KINDS: Record<string, ReceivableKind> = {
  invoice: 'INVOICE',
  inv: 'INVOICE',
  credit_memo: 'CREDIT_MEMO',
  'credit memo': 'CREDIT_MEMO',
  creditmemo: 'CREDIT_MEMO',
  credit: 'CREDIT_MEMO',
  payment: 'PAYMENT',
  pmt: 'PAYMENT',
};

/**
 * A receivable row (one document: an invoice, credit memo or payment), or its problems.
 * Amounts are positive decimals in major units; the open amount is at most the amount.
 */
export function receivableFromRow(cols: ColumnIndex<ReceivableColumn>, row: number, record: string[], fileModifiedAt: string): ExternalReceivable | RowProblem[] {
  const problems: RowProblem[] = [];
  const need = (c: ReceivableColumn): string | null => {
    const v = cols.get(record, c);
    if (v === null) problems.push({ row, column: cols.name(c), code: 'MISSING_VALUE', message: `row ${row}: column "${cols.name(c)}" is empty` });
    return v;
  };
  const documentId = need('documentId');
  const kindText = need('kind');
  const accountId = need('accountId');
  const date = need('date');
  const amount = need('amount');
  const openAmount = need('openAmount');
  const kind = kindText === null ? null : (KINDS[kindText.toLowerCase().replace(/-/g, '_')] ?? KINDS[kindText.toLowerCase()] ?? null);
  if (kindText !== null && kind === null) {
    problems.push({ row, column: cols.name('kind'), code: 'INVALID_KIND', message: `row ${row}: kind "${kindText}" is not invoice, credit memo or payment` });
  }
  if (date !== null && !validDate(date)) problems.push({ row, column: cols.name('date'), code: 'INVALID_DATE', message: `row ${row}: "${date}" is not a date (YYYY-MM-DD)` });
  const dueDate = cols.get(record, 'dueDate');
  if (dueDate !== null && !validDate(dueDate)) problems.push({ row, column: cols.name('dueDate'), code: 'INVALID_DATE', message: `row ${row}: "${dueDate}" is not a date (YYYY-MM-DD)` });
  for (const [c, v] of [['amount', amount], ['openAmount', openAmount]] as const) {
    if (v !== null && !DECIMAL.test(v)) problems.push({ row, column: cols.name(c), code: 'INVALID_AMOUNT', message: `row ${row}: "${v}" in column "${cols.name(c)}" must be a decimal amount ≥ 0 such as 1200.50` });
  }
  if (amount !== null && openAmount !== null && DECIMAL.test(amount) && DECIMAL.test(openAmount) && Number(openAmount) > Number(amount)) {
    problems.push({ row, column: cols.name('openAmount'), code: 'OPEN_EXCEEDS_AMOUNT', message: `row ${row}: open amount ${openAmount} is more than the amount ${amount}` });
  }
  const currency = cols.get(record, 'currency');
  if (currency !== null && !CURRENCY.test(currency)) problems.push({ row, column: cols.name('currency'), code: 'INVALID_CURRENCY', message: `row ${row}: "${currency}" is not an ISO 4217 currency code` });
  const modifiedAt = timestamp(cols, record, row, problems) ?? fileModifiedAt;
  if (problems.length) return problems;
  return {
    kind: kind!,
    externalId: documentId!,
    accountExternalId: accountId!,
    number: cols.get(record, 'number'),
    date: date!,
    dueDate,
    currency: currency?.toUpperCase() ?? null,
    amount: amount!,
    openAmount: openAmount!,
    status: cols.get(record, 'status'),
    modifiedAt,
    deleted: false,
  };
}

function timestamp<C extends string>(cols: ColumnIndex<C>, record: string[], row: number, problems: RowProblem[]): string | null {
  const v = cols.get(record, 'modifiedAt' as C);
  if (v === null) return null;
  const t = Date.parse(v);
  if (Number.isNaN(t)) {
    problems.push({ row, column: cols.name('modifiedAt' as C), code: 'INVALID_TIMESTAMP', message: `row ${row}: "${v}" is not an ISO 8601 instant` });
    return null;
  }
  return new Date(t).toISOString();
}

/** An instant with a date, a time and an offset (`Z` or `±hh:mm`): usage is placed in hourly buckets, so a bare date or a local time would be a guess. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;
const DEPLOYMENTS = new Set<string>(USAGE_DEPLOYMENTS);
/** The usage ingest keeps ids and user/device names up to 255 characters. */
const MAX_ID = 255;

/**
 * A usage row (one observation), or its problems. Every bad value of the row is reported;
 * a row with any is not applied (the others are).
 */
export function usageFromRow(cols: ColumnIndex<UsageColumn>, row: number, record: string[], fileModifiedAt: string, defaultDeployment: string): ExternalUsage | RowProblem[] {
  const problems: RowProblem[] = [];
  const at = (c: UsageColumn) => cols.name(c);
  const need = (c: UsageColumn): string | null => {
    const v = cols.get(record, c);
    if (v === null) problems.push({ row, column: at(c), code: 'MISSING_VALUE', message: `row ${row}: column "${at(c)}" is empty` });
    return v;
  };
  const eventId = need('eventId');
  const accountId = need('accountId');
  const metric = need('metric');
  const quantity = need('quantity');
  const occurredAt = need('occurredAt');
  for (const c of ['eventId', 'userId', 'deviceId', 'metric', 'sku'] as const) {
    const v = cols.get(record, c);
    if (v !== null && v.length > MAX_ID) problems.push({ row, column: at(c), code: 'VALUE_TOO_LONG', message: `row ${row}: column "${at(c)}" has ${v.length} characters, at most ${MAX_ID}` });
  }
  if (quantity !== null && !DECIMAL.test(quantity)) {
    problems.push({ row, column: at('quantity'), code: 'INVALID_QUANTITY', message: `row ${row}: quantity "${quantity}" must be a decimal number ≥ 0, e.g. 12 or 0.5` });
  }
  if (occurredAt !== null && (!INSTANT.test(occurredAt) || Number.isNaN(Date.parse(occurredAt)) || !validDate(occurredAt.slice(0, 10)))) {
    problems.push({ row, column: at('occurredAt'), code: 'INVALID_TIMESTAMP', message: `row ${row}: "${occurredAt}" is not an ISO 8601 instant with a time and an offset, e.g. 2026-11-01T12:00:00Z` });
  }
  const deployment = (cols.get(record, 'deployment') ?? defaultDeployment).toUpperCase();
  if (!DEPLOYMENTS.has(deployment)) {
    problems.push({ row, column: at('deployment'), code: 'INVALID_DEPLOYMENT', message: `row ${row}: deployment "${deployment}" must be one of ${USAGE_DEPLOYMENTS.join(', ')}` });
  }
  const modifiedAt = timestamp(cols, record, row, problems) ?? fileModifiedAt;
  if (problems.length) return problems;
  return {
    externalId: eventId!,
    accountExternalId: accountId,
    sku: cols.get(record, 'sku'),
    metric: metric!,
    quantity: quantity!,
    occurredAt: new Date(Date.parse(occurredAt!)).toISOString(),
    userId: cols.get(record, 'userId'),
    deviceId: cols.get(record, 'deviceId'),
    deployment,
    modifiedAt,
  };
}

/** The order-level columns every row of one order must agree on. */
const HEADER_COLUMNS = ['accountId', 'orderDate', 'currency', 'name', 'crmDealId'] as const;

interface OrderRow {
  row: number;
  values: Record<OrderColumn, string | null>;
  modifiedAt: string | null;
}

interface Group {
  orderId: string;
  firstRow: number;
  firstIndex: number;
  rows: OrderRow[];
  problems: RowProblem[];
}

/**
 * Groups the rows of an orders file (one row per order line) into orders. An order's rows
 * must be contiguous and agree on the order's own columns (customer, date, currency, name);
 * an order with any bad row is refused whole — every bad row reported — so no order is
 * ever half applied. Feed rows in file order; `flush` at the end of the file.
 */
export class OrderAssembler {
  private current: Group | null = null;
  /** Orders already closed in this file: a later row with the same id is not contiguous. */
  private readonly closed = new Set<string>();

  constructor(
    private readonly cols: ColumnIndex<OrderColumn>,
    private readonly fileModifiedAt: string,
    /** The CRM system the `crm_deal_id` column names deals of. */
    private readonly crmSystem = 'salesforce',
  ) {}

  /** Adds one row; returns the order it closed (or the problems of a refused one), if any. */
  add(index: number, row: number, record: string[], countProblem: RowProblem | null): { orders: ExternalOrder[]; problems: RowProblem[] } {
    const out = { orders: [] as ExternalOrder[], problems: [] as RowProblem[] };
    const cols = this.cols;
    const orderId = cols.get(record, 'orderId');
    if (orderId === null) {
      // A row without its order id belongs to no order; it is refused alone.
      out.problems.push(countProblem ?? { row, column: cols.name('orderId'), code: 'MISSING_VALUE', message: `row ${row}: column "${cols.name('orderId')}" is empty` });
      return out;
    }
    if (this.current && this.current.orderId !== orderId) this.close(out);
    if (!this.current) {
      this.current = { orderId, firstRow: row, firstIndex: index, rows: [], problems: [] };
      if (this.closed.has(orderId)) {
        this.current.problems.push({
          row,
          column: cols.name('orderId'),
          code: 'ORDER_NOT_CONTIGUOUS',
          message: `row ${row}: order ${orderId} appeared earlier in the file; the rows of an order must be next to each other`,
        });
      }
    }
    const g = this.current;
    if (countProblem) {
      // Its cells cannot be trusted to sit in their columns: the row (and so its order) is refused.
      g.problems.push(countProblem);
      return out;
    }
    const problems: RowProblem[] = [];
    const values = Object.fromEntries((Object.keys(cols.mapping) as OrderColumn[]).map((c) => [c, cols.get(record, c)])) as Record<OrderColumn, string | null>;
    const at = (c: OrderColumn) => cols.name(c);
    for (const c of ['accountId', 'orderDate', 'sku', 'quantity', 'unitPrice'] as const) {
      if (values[c] === null) problems.push({ row, column: at(c), code: 'MISSING_VALUE', message: `row ${row}: column "${at(c)}" is empty` });
    }
    if (values.orderDate !== null && !validDate(values.orderDate)) problems.push({ row, column: at('orderDate'), code: 'INVALID_DATE', message: `row ${row}: "${values.orderDate}" is not a date (YYYY-MM-DD)` });
    for (const c of ['startDate', 'endDate'] as const) {
      if (values[c] !== null && !validDate(values[c]!)) problems.push({ row, column: at(c), code: 'INVALID_DATE', message: `row ${row}: "${values[c]}" is not a date (YYYY-MM-DD)` });
    }
    const start = values.startDate ?? values.orderDate;
    if (values.endDate && start && validDate(values.endDate) && validDate(start) && values.endDate < start) {
      problems.push({ row, column: at('endDate'), code: 'INVALID_DATES', message: `row ${row}: end date ${values.endDate} is before the start date ${start}` });
    }
    if (values.quantity !== null && (!DECIMAL.test(values.quantity) || Number(values.quantity) <= 0)) {
      problems.push({ row, column: at('quantity'), code: 'INVALID_QUANTITY', message: `row ${row}: quantity "${values.quantity}" must be a number greater than 0` });
    }
    if (values.unitPrice !== null && !DECIMAL.test(values.unitPrice)) {
      problems.push({ row, column: at('unitPrice'), code: 'INVALID_AMOUNT', message: `row ${row}: unit price "${values.unitPrice}" must be a decimal amount such as 1200.50` });
    }
    if (values.currency !== null && !CURRENCY.test(values.currency)) problems.push({ row, column: at('currency'), code: 'INVALID_CURRENCY', message: `row ${row}: "${values.currency}" is not an ISO 4217 currency code` });
    const modifiedAt = timestamp(cols, record, row, problems);
    const first = g.rows[0];
    if (first) {
      for (const c of HEADER_COLUMNS) {
        if ((values[c] ?? '') !== (first.values[c] ?? '')) {
          problems.push({
            row,
            column: at(c),
            code: 'ORDER_HEADER_MISMATCH',
            message: `row ${row}: order ${orderId} has "${values[c] ?? ''}" in column "${at(c)}" but "${first.values[c] ?? ''}" on row ${first.row}`,
          });
        }
      }
    }
    if (values.lineId !== null && g.rows.some((r) => r.values.lineId === values.lineId)) {
      problems.push({ row, column: at('lineId'), code: 'DUPLICATE_LINE_ID', message: `row ${row}: line id "${values.lineId}" appears twice in order ${orderId}` });
    }
    g.problems.push(...problems);
    g.rows.push({ row, values, modifiedAt });
    return out;
  }

  /** Closes the last order at the end of the file. */
  flush(): { orders: ExternalOrder[]; problems: RowProblem[] } {
    const out = { orders: [] as ExternalOrder[], problems: [] as RowProblem[] };
    this.close(out);
    return out;
  }

  /** The index of the first record of the order still open (the cursor may stop there), or null. */
  get openSince(): number | null {
    return this.current?.firstIndex ?? null;
  }

  /** Resuming: the open order was handled by an earlier pull; forget it without output. */
  discardOpen(): void {
    if (this.current) this.closed.add(this.current.orderId);
    this.current = null;
  }

  private close(out: { orders: ExternalOrder[]; problems: RowProblem[] }): void {
    const g = this.current;
    if (!g) return;
    this.current = null;
    this.closed.add(g.orderId);
    if (g.problems.length) {
      const last = g.rows[g.rows.length - 1]?.row ?? g.firstRow;
      const span = last === g.firstRow ? `row ${g.firstRow}` : `rows ${g.firstRow}–${last}`;
      out.problems.push(...g.problems.map((p) => ({ ...p, message: `${p.message}; order ${g.orderId} (${span}) is not applied` })));
      return;
    }
    const first = g.rows[0]!.values;
    const modifiedAt = g.rows.reduce((m, r) => (r.modifiedAt && r.modifiedAt > m ? r.modifiedAt : m), g.rows.some((r) => r.modifiedAt) ? '' : this.fileModifiedAt);
    out.orders.push({
      externalId: g.orderId,
      accountExternalId: first.accountId,
      name: first.name ?? g.orderId,
      orderDate: first.orderDate!,
      currency: first.currency?.toUpperCase() ?? null,
      won: true,
      deleted: false,
      modifiedAt,
      ...(first.crmDealId ? { links: [{ system: this.crmSystem, object: 'Opportunity', externalId: first.crmDealId }] } : {}),
      lines: g.rows.map((r, i) => ({
        // Without a line id column, a line is keyed by its place in the order: the same file
        // gives the same keys, so importing it again changes nothing.
        externalLineId: r.values.lineId ?? `${g.orderId}/${String(i + 1).padStart(4, '0')}`,
        sku: r.values.sku,
        quantity: r.values.quantity!,
        unitPrice: r.values.unitPrice!,
        startDate: r.values.startDate,
        endDate: r.values.endDate,
        modifiedAt: r.modifiedAt ?? modifiedAt,
      })),
    });
  }
}
