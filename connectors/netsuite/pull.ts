/**
 * Incremental pulls through SuiteQL, in (lastmodifieddate, id) order strictly after the
 * cursor, one keyset query per page of up to 1,000 rows (see NetSuiteClient.keysetPages).
 * Every value is parsed explicitly: `TO_CHAR` gives dates and instants in a fixed format
 * whatever the user's date preference, booleans are 'T'/'F', decimals stay strings.
 */
import {
  ConnectorError,
  type ConnectorCallContext,
  type ExternalAccount,
  type ExternalContact,
  type ExternalOrder,
  type ExternalOrderLine,
  type ExternalReceivable,
  type PullObject,
  type PullPage,
  type PullProblem,
  type PulledRecords,
  type ReceivableKind,
} from '../types';
import type { KeysetPosition, NetSuiteClient } from './client';
import type { NetSuiteOptions } from './options';
import { absDecimal, parseBool, parseDecimal, parseIsoDate, parseTimestamp, sqlString } from './values';

type Row = Record<string, string>;

/**
 * The cursor: the last (lastmodifieddate, id) applied, and `del` the last (deleteddate,
 * recordid) of the object's `deletedrecord` rows applied. Opaque to the engine; a cursor
 * without `del` (written before deletions were pulled) reads deletions from the beginning.
 */
export interface PullPosition {
  live: KeysetPosition | null;
  del: KeysetPosition | null;
}

export function encodeCursor(p: KeysetPosition | null, del: KeysetPosition | null = null): string | null {
  if (!p && !del) return null;
  return JSON.stringify({ v: 1, lmd: p?.lmd ?? null, id: p?.id ?? null, ...(del ? { del: { lmd: del.lmd, id: del.id } } : {}) });
}

function position(lmd: unknown, id: unknown): KeysetPosition | null | undefined {
  if (lmd === null && id === null) return null;
  if (typeof lmd === 'string' && parseTimestamp(lmd) && typeof id === 'string' && /^\d+$/.test(id)) return { lmd, id };
  return undefined;
}

export function decodeCursor(c: string | null): PullPosition {
  if (!c) return { live: null, del: null };
  try {
    const v = JSON.parse(c) as { v?: number; lmd?: unknown; id?: unknown; del?: { lmd?: unknown; id?: unknown } };
    const live = v.v === 1 ? position(v.lmd ?? null, v.id ?? null) : undefined;
    const del = v.del === undefined ? null : position(v.del?.lmd, v.del?.id);
    if (live !== undefined && del !== undefined && (live || del)) return { live, del };
  } catch {
    /* fall through */
  }
  throw new ConnectorError('INVALID', 'INVALID_CURSOR', `Not a NetSuite cursor: ${c.slice(0, 100)}`);
}

const LMD = (alias: string): string => `TO_CHAR(${alias}.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lmd`;

/** `AND (lmd > p OR (lmd = p AND id > n))` for the alias, or '' from the beginning. */
export function keysetCondition(alias: string, after: KeysetPosition | null, columns: { stamp: string; id: string } = { stamp: 'lastmodifieddate', id: 'id' }): string {
  if (!after) return '';
  const ts = `TO_TIMESTAMP(${sqlString(after.lmd)}, 'YYYY-MM-DD HH24:MI:SS')`;
  const [t, i] = [`${alias}.${columns.stamp}`, `${alias}.${columns.id}`];
  return ` AND (${t} > ${ts} OR (${t} = ${ts} AND ${i} > ${Number(after.id)}))`;
}

/**
 * The object's deleted records after the position: SuiteQL's `deletedrecord` table (the
 * record type as the REST record service names it, the deleted record's internal id, when),
 * in (deleteddate, recordid) order; `lmd` and `id` as `keysetPages` wants them.
 */
export function deletedQuery(types: readonly string[], after: KeysetPosition | null): string {
  return (
    `SELECT d.recordid AS id, d.recordtype, TO_CHAR(d.deleteddate, 'YYYY-MM-DD HH24:MI:SS') AS lmd FROM deletedrecord d ` +
    `WHERE d.recordtype IN (${types.map(sqlString).join(', ')})${keysetCondition('d', after, { stamp: 'deleteddate', id: 'recordid' })} ORDER BY d.deleteddate, d.recordid`
  );
}

function modifiedAt(r: Row): string {
  const t = parseTimestamp(r.lmd);
  if (!t) throw new ConnectorError('INVALID', 'BAD_TIMESTAMP', `NetSuite answered an unreadable lastmodifieddate ${r.lmd}`);
  return t;
}

function domainOf(url: string | undefined): string | null {
  if (!url) return null;
  const host = url.trim().toLowerCase().replace(/^[a-z]+:\/\//, '').replace(/^www\./, '').split(/[/?#:]/)[0];
  return /^[a-z0-9.-]+\.[a-z]{2,}$/.test(host) ? host : null;
}

/** How an object's deletions are read: its record types and the deleted record each row stands for. */
interface Deletions<T> {
  types: readonly string[];
  map: (row: Row, at: string) => T;
}

/**
 * The object's changed records (keyset pages), then its deletions since the cursor's
 * deletion position (keyset pages of `deletedrecord`), each page with the cursor holding both
 * positions.
 */
async function* keyset<T extends PulledRecords[PullObject]>(
  client: NetSuiteClient,
  ctx: ConnectorCallContext,
  opts: NetSuiteOptions,
  cursor: string | null,
  build: (after: KeysetPosition | null) => string,
  map: (rows: Row[]) => Promise<{ records: T[]; problems: PullProblem[] }>,
  deletions: Deletions<T>,
): AsyncGenerator<PullPage & { records: T[] }> {
  const start = decodeCursor(cursor);
  let live = start.live;
  const del = start.del;
  let yielded = false;
  for await (const page of client.keysetPages(build, live, { pageSize: opts.pageSize, signal: ctx.signal })) {
    if (page.rows.length === 0 && yielded) break;
    const { records, problems } = await map(page.rows);
    live = page.position;
    yielded = true;
    yield { records, cursor: encodeCursor(live, del), ...(problems.length ? { problems } : {}) };
  }
  for await (const page of client.keysetPages((after) => deletedQuery(deletions.types, after), del, { pageSize: opts.pageSize, signal: ctx.signal })) {
    if (page.rows.length === 0) break;
    yield { records: page.rows.map((r) => deletions.map(r, modifiedAt(r))), cursor: encodeCursor(live, page.position) };
  }
}

export function pullPages(client: NetSuiteClient, ctx: ConnectorCallContext, opts: NetSuiteOptions, object: PullObject, cursor: string | null): AsyncIterable<PullPage> {
  switch (object) {
    case 'accounts':
      return pullAccounts(client, ctx, opts, cursor);
    case 'contacts':
      return pullContacts(client, ctx, opts, cursor);
    case 'orders':
      return pullOrders(client, ctx, opts, cursor);
    case 'receivables':
      return pullReceivables(client, ctx, opts, cursor);
    default:
      throw new ConnectorError('INVALID', 'UNSUPPORTED_OBJECT', `The NetSuite connector does not pull ${object}`);
  }
}

function pullAccounts(client: NetSuiteClient, ctx: ConnectorCallContext, opts: NetSuiteOptions, cursor: string | null): AsyncIterable<PullPage> {
  const crm = opts.crmIdField ? `, c.${opts.crmIdField} AS crmid` : '';
  return keyset<ExternalAccount>(
    client,
    ctx,
    opts,
    cursor,
    (after) =>
      `SELECT c.id, c.companyname, c.entityid, c.url, c.subsidiary, cur.symbol AS currency${crm}, ${LMD('c')} ` +
      `FROM customer c LEFT JOIN currency cur ON cur.id = c.currency WHERE 1 = 1${keysetCondition('c', after)} ORDER BY c.lastmodifieddate, c.id`,
    async (rows) => ({
      problems: [],
      records: rows.map((r) => ({
        externalId: r.id,
        name: r.companyname || r.entityid || `Customer ${r.id}`,
        domain: domainOf(r.url),
        currency: r.currency ?? null,
        modifiedAt: modifiedAt(r),
        deleted: false,
        subsidiary: r.subsidiary ?? null,
        links: r.crmid ? [{ system: opts.crmSystem, object: 'Account', externalId: r.crmid }] : [],
      })),
    }),
    // A deleted customer: the engine keeps its hub account (it may hold entitlements and usage).
    { types: ['customer'], map: (r, at) => ({ externalId: r.id, name: '', domain: null, currency: null, modifiedAt: at, deleted: true }) },
  );
}

function pullContacts(client: NetSuiteClient, ctx: ConnectorCallContext, opts: NetSuiteOptions, cursor: string | null): AsyncIterable<PullPage> {
  return keyset<ExternalContact>(
    client,
    ctx,
    opts,
    cursor,
    (after) =>
      `SELECT ct.id, ct.firstname, ct.lastname, ct.entityid, ct.email, ct.company, ${LMD('ct')} FROM contact ct WHERE 1 = 1${keysetCondition('ct', after)} ORDER BY ct.lastmodifieddate, ct.id`,
    async (rows) => ({
      problems: [],
      records: rows.map((r) => ({
        externalId: r.id,
        accountExternalId: r.company ?? null,
        email: r.email ? r.email.toLowerCase() : null,
        name: [r.firstname, r.lastname].filter(Boolean).join(' ') || r.entityid || `Contact ${r.id}`,
        modifiedAt: modifiedAt(r),
        deleted: false,
      })),
    }),
    { types: ['contact'], map: (r, at) => ({ externalId: r.id, accountExternalId: null, email: null, name: '', modifiedAt: at, deleted: true }) },
  );
}

/** Lines of these sales orders, by order id (chunks of 200 orders; offset paging within each). */
async function linesOf(client: NetSuiteClient, ctx: ConnectorCallContext, opts: NetSuiteOptions, ids: string[]): Promise<Map<string, Row[]>> {
  const out = new Map<string, Row[]>();
  const start = opts.lineStartDateField ? `, TO_CHAR(tl.${opts.lineStartDateField}, 'YYYY-MM-DD') AS startdate` : '';
  const end = opts.lineEndDateField ? `, TO_CHAR(tl.${opts.lineEndDateField}, 'YYYY-MM-DD') AS enddate` : '';
  for (let i = 0; i < ids.length; i += 200) {
    const chunk = ids.slice(i, i + 200).map(Number);
    const q =
      `SELECT tl.transaction AS tx, tl.id AS line, tl.linesequencenumber AS seq, tl.quantity, tl.rate, i.itemid, i.externalid AS itemexternalid${start}${end} ` +
      `FROM transactionline tl LEFT JOIN item i ON i.id = tl.item ` +
      `WHERE tl.transaction IN (${chunk.join(', ')}) AND tl.mainline = 'F' AND NVL(tl.taxline, 'F') = 'F' AND tl.item IS NOT NULL ` +
      `ORDER BY tl.transaction, tl.linesequencenumber, tl.id`;
    for await (const rows of client.suiteqlAll(q, { pageSize: opts.pageSize, signal: ctx.signal })) {
      for (const r of rows) {
        const list = out.get(r.tx) ?? [];
        list.push(r);
        out.set(r.tx, list);
      }
    }
  }
  return out;
}

function pullOrders(client: NetSuiteClient, ctx: ConnectorCallContext, opts: NetSuiteOptions, cursor: string | null): AsyncIterable<PullPage> {
  const deal = opts.crmDealField ? `, t.${opts.crmDealField} AS crmdeal` : '';
  const won = new Set(opts.wonStatuses);
  return keyset<ExternalOrder>(
    client,
    ctx,
    opts,
    cursor,
    (after) =>
      `SELECT t.id, t.tranid, t.entity, TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, t.status, cur.symbol AS currency${deal}, ${LMD('t')} ` +
      `FROM transaction t LEFT JOIN currency cur ON cur.id = t.currency WHERE t.type = 'SalesOrd'${keysetCondition('t', after)} ORDER BY t.lastmodifieddate, t.id`,
    async (rows) => {
      const problems: PullProblem[] = [];
      const wonRows = rows.filter((r) => won.has(r.status ?? ''));
      const lines = wonRows.length ? await linesOf(client, ctx, opts, wonRows.map((r) => r.id)) : new Map<string, Row[]>();
      const records: ExternalOrder[] = [];
      for (const r of rows) {
        const at = modifiedAt(r);
        const orderDate = parseIsoDate(r.trandate);
        if (!orderDate) {
          problems.push({ record: `salesOrder ${r.id}`, code: 'INVALID_DATE', message: `trandate ${r.trandate ?? '(none)'} is not a date` });
          continue;
        }
        const isWon = won.has(r.status ?? '');
        const out: ExternalOrderLine[] = [];
        let bad: PullProblem | null = null;
        for (const l of isWon ? (lines.get(r.id) ?? []) : []) {
          const q = parseDecimal(l.quantity);
          const rate = parseDecimal(l.rate ?? '0');
          if (q === null || rate === null) {
            bad = { record: `salesOrder ${r.id} line ${l.line}`, code: q === null ? 'INVALID_QUANTITY' : 'INVALID_PRICE', message: `quantity ${l.quantity}, rate ${l.rate}` };
            break;
          }
          out.push({
            externalLineId: `${r.id}-${l.line}`,
            sku: (opts.skuSource === 'itemid' ? l.itemid : l.itemexternalid) ?? null,
            quantity: absDecimal(q),
            unitPrice: rate,
            startDate: parseIsoDate(l.startdate),
            endDate: parseIsoDate(l.enddate),
            modifiedAt: at,
          });
        }
        if (bad) {
          problems.push(bad);
          continue;
        }
        records.push({
          externalId: r.id,
          accountExternalId: r.entity ?? null,
          name: r.tranid ?? `Sales order ${r.id}`,
          orderDate,
          currency: r.currency ?? null,
          won: isWon,
          deleted: false,
          modifiedAt: at,
          lines: out,
          links: r.crmdeal ? [{ system: opts.crmSystem, object: 'Opportunity', externalId: r.crmdeal }] : [],
        });
      }
      return { records, problems };
    },
    // A deleted sales order withdraws what the hub granted from it (a revision without lines), as a deleted Opportunity does.
    { types: ['salesOrder'], map: (r, at) => ({ externalId: r.id, accountExternalId: null, name: '', orderDate: at.slice(0, 10), currency: null, won: false, deleted: true, modifiedAt: at, lines: [] }) },
  );
}

const KIND: Record<string, ReceivableKind> = { CustInvc: 'INVOICE', CustCred: 'CREDIT_MEMO', CustPymt: 'PAYMENT' };
/** `deletedrecord.recordtype` (the REST record type) of each receivable kind. */
const DELETED_KIND: Record<string, ReceivableKind> = { invoice: 'INVOICE', creditMemo: 'CREDIT_MEMO', customerPayment: 'PAYMENT' };
const STATUS: Record<string, Record<string, string>> = {
  CustInvc: { A: 'Open', B: 'Paid In Full' },
  CustCred: { A: 'Open', B: 'Fully Applied' },
  CustPymt: { A: 'Unapproved Payment', B: 'Not Deposited', C: 'Deposited' },
};

function pullReceivables(client: NetSuiteClient, ctx: ConnectorCallContext, opts: NetSuiteOptions, cursor: string | null): AsyncIterable<PullPage> {
  return keyset<ExternalReceivable>(
    client,
    ctx,
    opts,
    cursor,
    (after) =>
      `SELECT t.id, t.type, t.tranid, t.entity, TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, TO_CHAR(t.duedate, 'YYYY-MM-DD') AS duedate, t.status, ` +
      `cur.symbol AS currency, t.foreigntotal, t.foreignamountremaining, t.foreignpaymentamountunused, ${LMD('t')} ` +
      `FROM transaction t LEFT JOIN currency cur ON cur.id = t.currency WHERE t.type IN ('CustInvc', 'CustCred', 'CustPymt')${keysetCondition('t', after)} ` +
      `ORDER BY t.lastmodifieddate, t.id`,
    async (rows) => {
      const problems: PullProblem[] = [];
      const records: ExternalReceivable[] = [];
      for (const r of rows) {
        const kind = KIND[r.type];
        const date = parseIsoDate(r.trandate);
        const amount = parseDecimal(r.foreigntotal ?? '0');
        const open = parseDecimal((kind === 'INVOICE' ? r.foreignamountremaining : r.foreignpaymentamountunused) ?? '0');
        if (!kind || !date || amount === null || open === null) {
          problems.push({ record: `transaction ${r.id}`, code: !date ? 'INVALID_DATE' : 'INVALID_AMOUNT', message: `type ${r.type}, date ${r.trandate}, total ${r.foreigntotal}` });
          continue;
        }
        records.push({
          kind,
          externalId: r.id,
          accountExternalId: r.entity ?? null,
          number: r.tranid ?? null,
          date,
          dueDate: kind === 'INVOICE' ? parseIsoDate(r.duedate) : null,
          currency: r.currency ?? null,
          amount: absDecimal(amount),
          openAmount: absDecimal(open),
          status: r.status ? (STATUS[r.type]?.[r.status] ?? r.status) : null,
          modifiedAt: modifiedAt(r),
          deleted: false,
        });
      }
      return { records, problems };
    },
    {
      types: Object.keys(DELETED_KIND),
      map: (r, at) => ({
        kind: DELETED_KIND[r.recordtype] ?? 'INVOICE',
        externalId: r.id,
        accountExternalId: null,
        number: null,
        date: at.slice(0, 10),
        dueDate: null,
        currency: null,
        amount: '0',
        openAmount: '0',
        status: null,
        modifiedAt: at,
        deleted: true,
      }),
    },
  );
}

export { parseBool };
