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

/** The cursor: the last (lastmodifieddate, id) applied. Opaque to the engine. */
export function encodeCursor(p: KeysetPosition | null): string | null {
  return p ? JSON.stringify({ v: 1, lmd: p.lmd, id: p.id }) : null;
}

export function decodeCursor(c: string | null): KeysetPosition | null {
  if (!c) return null;
  try {
    const v = JSON.parse(c) as { v?: number; lmd?: unknown; id?: unknown };
    if (v.v === 1 && typeof v.lmd === 'string' && parseTimestamp(v.lmd) && typeof v.id === 'string' && /^\d+$/.test(v.id)) return { lmd: v.lmd, id: v.id };
  } catch {
    /* fall through */
  }
  throw new ConnectorError('INVALID', 'INVALID_CURSOR', `Not a NetSuite cursor: ${c.slice(0, 100)}`);
}

const LMD = (alias: string): string => `TO_CHAR(${alias}.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lmd`;

/** `AND (lmd > p OR (lmd = p AND id > n))` for the alias, or '' from the beginning. */
export function keysetCondition(alias: string, after: KeysetPosition | null): string {
  if (!after) return '';
  const ts = `TO_TIMESTAMP(${sqlString(after.lmd)}, 'YYYY-MM-DD HH24:MI:SS')`;
  return ` AND (${alias}.lastmodifieddate > ${ts} OR (${alias}.lastmodifieddate = ${ts} AND ${alias}.id > ${Number(after.id)}))`;
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

async function* keyset<T extends PulledRecords[PullObject]>(
  client: NetSuiteClient,
  ctx: ConnectorCallContext,
  opts: NetSuiteOptions,
  cursor: string | null,
  build: (after: KeysetPosition | null) => string,
  map: (rows: Row[]) => Promise<{ records: T[]; problems: PullProblem[] }>,
): AsyncGenerator<PullPage & { records: T[] }> {
  const start = decodeCursor(cursor);
  let yielded = false;
  for await (const page of client.keysetPages(build, start, { pageSize: opts.pageSize, signal: ctx.signal })) {
    if (page.rows.length === 0 && yielded) break;
    const { records, problems } = await map(page.rows);
    yielded = true;
    yield { records, cursor: encodeCursor(page.position), ...(problems.length ? { problems } : {}) };
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
  );
}

const KIND: Record<string, ReceivableKind> = { CustInvc: 'INVOICE', CustCred: 'CREDIT_MEMO', CustPymt: 'PAYMENT' };
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
  );
}

export { parseBool };
