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
import { afterCursorClause, decodeCursor, encodeCursor, inLists, toIsoInstant, websiteDomain } from './values';

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

function lastPosition(rows: SfRow[]): string {
  const last = rows[rows.length - 1];
  return encodeCursor({ ts: toIsoInstant(String(last.SystemModstamp)), id: last.Id });
}

function incrementalSoql(fields: string[], sobject: string, cursor: string | null): string {
  return `SELECT ${fields.join(', ')} FROM ${sobject}${afterCursorClause(decodeCursor(cursor))} ORDER BY SystemModstamp ASC, Id ASC`;
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

function toOrder(r: SfRow, lines: SfRow[], session: SalesforceSession): ExternalOrder {
  const { multiCurrency, defaultCurrency, lineEndDateField } = session.options;
  const deleted = r.IsDeleted === true;
  const mapped = deleted ? [] : lines.map((l) => toLine(l, lineEndDateField));
  // ISO instants of one format compare correctly as strings
  const modifiedAt = mapped.reduce((max, l) => (l.modifiedAt > max ? l.modifiedAt : max), toIsoInstant(String(r.SystemModstamp)));
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

/**
 * A pull: one PullPage per API page of the main query, oldest change first, each page's
 * cursor the (SystemModstamp, Id) of its last record. Orders fetch the current lines of the
 * page's opportunities before the page is yielded.
 */
export async function* pullPages<O extends PullObject>(
  session: SalesforceSession,
  ctx: ConnectorCallContext,
  object: O,
  cursor: string | null,
): AsyncGenerator<PullPage<O>> {
  const { multiCurrency } = session.options;
  const currency = multiCurrency ? ['CurrencyIsoCode'] : [];
  let soql: string;
  switch (object) {
    case 'accounts':
      soql = incrementalSoql(['Id', 'Name', 'Website', ...currency, 'IsDeleted', 'SystemModstamp'], 'Account', cursor);
      break;
    case 'contacts':
      soql = incrementalSoql(['Id', 'AccountId', 'Email', 'Name', 'FirstName', 'LastName', 'IsDeleted', 'SystemModstamp'], 'Contact', cursor);
      break;
    case 'orders':
      soql = incrementalSoql(
        ['Id', 'AccountId', 'Name', 'StageName', 'IsWon', 'CloseDate', ...currency, 'IsDeleted', 'SystemModstamp'],
        'Opportunity',
        cursor,
      );
      break;
    default:
      throw new ConnectorError('INVALID', 'UNKNOWN_OBJECT', `Salesforce cannot pull ${String(object)}`);
  }
  for await (const rows of queryPages(session, ctx, soql, { all: true, guard: true })) {
    let records: PulledRecords[PullObject][];
    if (object === 'accounts') records = rows.map((r) => toAccount(r, multiCurrency));
    else if (object === 'contacts') records = rows.map(toContact);
    else {
      // Lines matter only for deals to fulfil: an open, lost or deleted deal is withdrawn or ignored.
      const live = rows.filter((r) => r.IsDeleted !== true && r.IsWon === true).map((r) => r.Id);
      const lines = live.length > 0 ? await linesOf(session, ctx, live) : new Map<string, SfRow[]>();
      records = rows.map((r) => toOrder(r, lines.get(r.Id) ?? [], session));
    }
    yield { records: records as PulledRecords[O][], cursor: lastPosition(rows) };
  }
}
