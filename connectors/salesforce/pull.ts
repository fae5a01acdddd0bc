import {
  ConnectorError,
  type ConnectorCallContext,
  type ExternalAccount,
  type ExternalContact,
  type ExternalOrder,
  type ExternalOrderLine,
  type PullObject,
  type PullPage,
  type PulledRecords,
} from '../types';
import type { SalesforceSession } from './session';
import { afterCursorClause, decodeCursor, decodeOrdersCursor, encodeCursor, encodeOrdersCursor, inLists, toIsoInstant, websiteDomain, type PullCursor } from './values';

/** A record as the REST query resource returns it (decimal fields as exact strings). */
type SfRow = Record<string, unknown> & { Id: string; SystemModstamp?: string };

interface QueryResponse {
  done: boolean;
  nextRecordsUrl?: string;
  records: SfRow[];
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * Runs a SOQL query (queryAll when `all`, so deleted rows come back with IsDeleted = true) and
 * yields each API page as it arrives, following nextRecordsUrl. The page size is asked for
 * with `Sforce-Query-Options: batchSize=N`.
 */
export async function* queryPages(
  session: SalesforceSession,
  ctx: ConnectorCallContext,
  soql: string,
  opts: { all: boolean; guard: boolean },
): AsyncGenerator<SfRow[]> {
  const headers = { 'Sforce-Query-Options': `batchSize=${session.options.pageSize}` };
  let url: string | null = `${session.basePath}/${opts.all ? 'queryAll' : 'query'}?q=${encodeURIComponent(soql)}`;
  while (url) {
    if (opts.guard) session.guardBudget();
    session.checkUsable(ctx);
    const res: QueryResponse = await session.getJson<QueryResponse>(ctx, url, headers);
    url = !res.done && res.nextRecordsUrl ? res.nextRecordsUrl : null;
    if (res.records.length > 0) yield res.records;
  }
}

function positionOf(rows: SfRow[]): PullCursor {
  const last = rows[rows.length - 1];
  return { ts: toIsoInstant(String(last.SystemModstamp)), id: last.Id };
}

function incrementalSoql(fields: string[], sobject: string, after: PullCursor | null): string {
  return `SELECT ${fields.join(', ')} FROM ${sobject}${afterCursorClause(after)} ORDER BY SystemModstamp ASC, Id ASC`;
}

function toAccount(r: SfRow, multiCurrency: boolean): ExternalAccount {
  return {
    externalId: r.Id,
    name: str(r.Name) ?? '',
    domain: websiteDomain(str(r.Website)),
    currency: multiCurrency ? str(r.CurrencyIsoCode) : null,
    modifiedAt: toIsoInstant(String(r.SystemModstamp)),
    deleted: r.IsDeleted === true,
  };
}

function toContact(r: SfRow): ExternalContact {
  const name = str(r.Name) ?? [str(r.FirstName), str(r.LastName)].filter(Boolean).join(' ');
  return {
    externalId: r.Id,
    accountExternalId: str(r.AccountId),
    email: str(r.Email),
    name,
    title: str(r.Title),
    department: str(r.Department),
    modifiedAt: toIsoInstant(String(r.SystemModstamp)),
    deleted: r.IsDeleted === true,
  };
}

const decimalText = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '0');

/** The lines of these opportunities, grouped by opportunity (current lines only: `query`, not `queryAll`). */
async function linesOf(
  session: SalesforceSession,
  ctx: ConnectorCallContext,
  opportunityIds: string[],
): Promise<Map<string, SfRow[]>> {
  const endField = session.options.lineEndDateField;
  const fields = ['Id', 'OpportunityId', 'ProductCode', 'Quantity', 'UnitPrice', 'ServiceDate', ...(endField ? [endField] : []), 'SystemModstamp'];
  const byOpp = new Map<string, SfRow[]>();
  // IN lists keep the GET URL far below Salesforce's 16,384-byte limit.
  for (const ids of inLists(opportunityIds)) {
    const soql = `SELECT ${fields.join(', ')} FROM OpportunityLineItem WHERE OpportunityId IN (${ids}) ORDER BY OpportunityId ASC, Id ASC`;
    for await (const rows of queryPages(session, ctx, soql, { all: false, guard: false })) {
      for (const r of rows) {
        const opp = String(r.OpportunityId);
        const list = byOpp.get(opp) ?? [];
        list.push(r);
        byOpp.set(opp, list);
      }
    }
  }
  return byOpp;
}

function toLine(r: SfRow, endField: string | null): ExternalOrderLine {
  return {
    externalLineId: r.Id,
    sku: str(r.ProductCode),
    quantity: decimalText(r.Quantity),
    unitPrice: decimalText(r.UnitPrice),
    startDate: str(r.ServiceDate),
    endDate: endField ? str(r[endField]) : null,
    modifiedAt: toIsoInstant(String(r.SystemModstamp)),
  };
}

/** `changedAt`: the newest stamp of the deal's changed lines, deleted ones included (they are not in `lines`). */
function toOrder(r: SfRow, lines: SfRow[], session: SalesforceSession, changedAt?: string): ExternalOrder {
  const { multiCurrency, defaultCurrency, lineEndDateField } = session.options;
  const deleted = r.IsDeleted === true;
  const mapped = deleted ? [] : lines.map((l) => toLine(l, lineEndDateField));
  // ISO instants of one format compare correctly as strings
  const own = toIsoInstant(String(r.SystemModstamp));
  const modifiedAt = mapped.reduce((max, l) => (l.modifiedAt > max ? l.modifiedAt : max), changedAt && changedAt > own ? changedAt : own);
  return {
    externalId: r.Id,
    accountExternalId: str(r.AccountId),
    name: str(r.Name) ?? '',
    orderDate: str(r.CloseDate) ?? '',
    currency: multiCurrency ? (str(r.CurrencyIsoCode) ?? defaultCurrency) : defaultCurrency,
    won: r.IsWon === true && !deleted,
    deleted,
    modifiedAt,
    lines: mapped,
  };
}

const OPPORTUNITY_FIELDS = (currency: string[]): string[] => ['Id', 'AccountId', 'Name', 'StageName', 'IsWon', 'CloseDate', ...currency, 'IsDeleted', 'SystemModstamp'];

/**
 * A pull: one PullPage per API page of the main query, oldest change first, each page's
 * cursor the (SystemModstamp, Id) of its last record. Orders fetch the current lines of the
 * page's opportunities before the page is yielded, and then follow the line items' own
 * changes (see `pullOrders`).
 */
export async function* pullPages<O extends PullObject>(
  session: SalesforceSession,
  ctx: ConnectorCallContext,
  object: O,
  cursor: string | null,
): AsyncGenerator<PullPage<O>> {
  const { multiCurrency } = session.options;
  const currency = multiCurrency ? ['CurrencyIsoCode'] : [];
  if (object === 'orders') {
    yield* pullOrders(session, ctx, cursor) as AsyncGenerator<PullPage<O>>;
    return;
  }
  let soql: string;
  switch (object) {
    case 'accounts':
      soql = incrementalSoql(['Id', 'Name', 'Website', ...currency, 'IsDeleted', 'SystemModstamp'], 'Account', decodeCursor(cursor));
      break;
    case 'contacts':
      soql = incrementalSoql(['Id', 'AccountId', 'Email', 'Name', 'FirstName', 'LastName', 'Title', 'Department', 'IsDeleted', 'SystemModstamp'], 'Contact', decodeCursor(cursor));
      break;
    default:
      throw new ConnectorError('INVALID', 'UNKNOWN_OBJECT', `Salesforce cannot pull ${String(object)}`);
  }
  for await (const rows of queryPages(session, ctx, soql, { all: true, guard: true })) {
    const records = object === 'accounts' ? rows.map((r) => toAccount(r, multiCurrency)) : rows.map(toContact);
    yield { records: records as PulledRecords[O][], cursor: encodeCursor(positionOf(rows)) };
  }
}

/**
 * Deals, in two passes that share one cursor (`OrdersCursor`):
 * 1. Opportunities changed after the cursor, by their SystemModstamp, each with its current lines.
 * 2. OpportunityLineItems changed after the lines' position, by their own SystemModstamp
 *    (queryAll, so deleted lines count): their deals are read again in full. Salesforce does
 *    not promise that a line edit moves its opportunity's stamps (a ServiceDate change, two
 *    lines swapping quantities leave the Amount roll-up as it was), so the hub never relies on
 *    it. Deals whose changed lines pass 1 already read as they are now are skipped.
 * A pull from the beginning starts the lines' position at the newest line stamp before pass 1
 * (pass 1 reads every line older than that anyway), so an initial load reads each deal once.
 */
async function* pullOrders(session: SalesforceSession, ctx: ConnectorCallContext, cursor: string | null): AsyncGenerator<PullPage<'orders'>> {
  const currency = session.options.multiCurrency ? ['CurrencyIsoCode'] : [];
  const start = decodeOrdersCursor(cursor);
  let opp = start.opp;
  let lines = start.lines;
  if (cursor === null) {
    const soql = 'SELECT Id, SystemModstamp FROM OpportunityLineItem ORDER BY SystemModstamp DESC, Id DESC LIMIT 1';
    for await (const rows of queryPages(session, ctx, soql, { all: true, guard: true })) if (rows.length) lines = positionOf(rows);
  }
  // What pass 1 read: the line stamps of won deals, and deals that were not won (lines do not matter).
  const readLines = new Map<string, Map<string, string>>();
  const notWon = new Set<string>();

  for await (const rows of queryPages(session, ctx, incrementalSoql(OPPORTUNITY_FIELDS(currency), 'Opportunity', opp), { all: true, guard: true })) {
    // Lines matter only for deals to fulfil: an open, lost or deleted deal is withdrawn or ignored.
    const live = rows.filter((r) => r.IsDeleted !== true && r.IsWon === true).map((r) => r.Id);
    const byOpp = live.length > 0 ? await linesOf(session, ctx, live) : new Map<string, SfRow[]>();
    const won = new Set(live);
    for (const r of rows) {
      if (!won.has(r.Id)) notWon.add(r.Id);
      else readLines.set(r.Id, new Map((byOpp.get(r.Id) ?? []).map((l) => [l.Id, toIsoInstant(String(l.SystemModstamp))])));
    }
    opp = positionOf(rows);
    yield { records: rows.map((r) => toOrder(r, byOpp.get(r.Id) ?? [], session)), cursor: encodeOrdersCursor({ opp, lines }) };
  }

  const lineSoql = incrementalSoql(['Id', 'OpportunityId', 'IsDeleted', 'SystemModstamp'], 'OpportunityLineItem', lines);
  for await (const rows of queryPages(session, ctx, lineSoql, { all: true, guard: true })) {
    const changedAt = new Map<string, string>();
    for (const l of rows) {
      const oppId = String(l.OpportunityId);
      const stamp = toIsoInstant(String(l.SystemModstamp));
      const seen = readLines.get(oppId);
      const current = notWon.has(oppId) || (seen && (l.IsDeleted === true ? !seen.has(l.Id) : seen.get(l.Id) === stamp));
      if (current) continue;
      const prev = changedAt.get(oppId);
      if (!prev || stamp > prev) changedAt.set(oppId, stamp);
    }
    lines = positionOf(rows);
    const records: ExternalOrder[] = [];
    if (changedAt.size > 0) {
      const deals: SfRow[] = [];
      for (const ids of inLists([...changedAt.keys()])) {
        const soql = `SELECT ${OPPORTUNITY_FIELDS(currency).join(', ')} FROM Opportunity WHERE Id IN (${ids}) ORDER BY SystemModstamp ASC, Id ASC`;
        for await (const page of queryPages(session, ctx, soql, { all: true, guard: false })) deals.push(...page);
      }
      const live = deals.filter((r) => r.IsDeleted !== true && r.IsWon === true).map((r) => r.Id);
      const byOpp = live.length > 0 ? await linesOf(session, ctx, live) : new Map<string, SfRow[]>();
      for (const r of deals) records.push(toOrder(r, byOpp.get(r.Id) ?? [], session, changedAt.get(r.Id)));
    }
    yield { records, cursor: encodeOrdersCursor({ opp, lines }) };
  }
}
