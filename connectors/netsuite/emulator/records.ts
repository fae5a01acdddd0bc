/**
 * The record service (`/services/rest/record/v1/<type>`) over the store: list, get (sublists
 * as links unless `expandSubResources=true`), create, update, upsert by `eid:` and delete.
 */
import type { SqlValue } from 'sql.js';
import { isBooleanColumn, SqlError, type Row, type Store } from './store';
import { decimalAdd, decimalEquals, decimalMul, encodeRestValue, restValue } from './values';

/** A refused write or read, rendered in NetSuite's error shape by the server. */
export class RecordError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly path?: string,
  ) {
    super(detail);
  }
}

interface TypeDef {
  table: string;
  tranType?: string;
  itemType?: string;
  sublist?: 'item' | 'line';
}

export const RECORD_TYPES: Record<string, TypeDef> = {
  customer: { table: 'customer' },
  contact: { table: 'contact' },
  salesOrder: { table: 'transaction', tranType: 'SalesOrd', sublist: 'item' },
  invoice: { table: 'transaction', tranType: 'CustInvc', sublist: 'item' },
  creditMemo: { table: 'transaction', tranType: 'CustCred', sublist: 'item' },
  customerPayment: { table: 'transaction', tranType: 'CustPymt' },
  journalEntry: { table: 'transaction', tranType: 'Journal', sublist: 'line' },
  inventoryItem: { table: 'item', itemType: 'InvtPart' },
  nonInventorySaleItem: { table: 'item', itemType: 'NonInvtPart' },
  serviceSaleItem: { table: 'item', itemType: 'Service' },
  subscription: { table: 'subscription' },
  usage: { table: 'usage' },
};

/** REST field names that are not their column's name in lower case. */
const ALIASES: Record<string, Record<string, string>> = {
  transaction: {
    customer: 'entity',
    orderStatus: 'status',
    total: 'foreigntotal',
    payment: 'foreigntotal',
    amountRemaining: 'foreignamountremaining',
    unapplied: 'foreignpaymentamountunused',
  },
};

/** Column names rendered back in camelCase (the rest render as stored). */
const CAMEL: Record<string, string> = {
  entityid: 'entityId', companyname: 'companyName', externalid: 'externalId', isinactive: 'isInactive', datecreated: 'dateCreated',
  lastmodifieddate: 'lastModifiedDate', firstname: 'firstName', lastname: 'lastName', itemid: 'itemId', displayname: 'displayName',
  tranid: 'tranId', trandate: 'tranDate', duedate: 'dueDate', foreigntotal: 'total', foreignamountremaining: 'amountRemaining',
  foreignamountunpaid: 'amountUnpaid', foreignpaymentamountunused: 'unapplied', postingperiod: 'postingPeriod', usagedate: 'usageDate',
  usagequantity: 'usageQuantity', subscriptionline: 'subscriptionLine', startdate: 'startDate', enddate: 'endDate',
};
const REF_COLUMNS = new Set(['entity', 'company', 'customer', 'subsidiary', 'currency', 'item', 'account', 'subscription', 'subscriptionline']);
const READ_ONLY = new Set(['id', 'lastmodifieddate', 'datecreated', 'type', 'links', 'refname']);

export type RecordRejector = (ctx: { type: string; id: number | null; externalId: string | null; body: Record<string, unknown> }) => {
  code: string;
  detail: string;
  path?: string;
} | null;

export class RecordService {
  readonly rejectors: RecordRejector[] = [];

  constructor(
    private readonly store: Store,
    private readonly baseUrl: () => string,
  ) {}

  def(type: string): TypeDef {
    const d = RECORD_TYPES[type];
    if (!d) throw new RecordError(404, 'INVALID_RCRD_TYPE', `Record type '${type}' does not exist.`);
    return d;
  }

  private scope(d: TypeDef): { sql: string; params: SqlValue[] } {
    if (d.tranType) return { sql: 'type = ?', params: [d.tranType] };
    if (d.itemType) return { sql: 'itemtype = ?', params: [d.itemType] };
    return { sql: '1 = 1', params: [] };
  }

  url(type: string, id: number | string): string {
    return `${this.baseUrl()}/services/rest/record/v1/${type}/${id}`;
  }

  list(type: string, limit: number, offset: number): Record<string, unknown> {
    const d = this.def(type);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new RecordError(400, 'INVALID_PARAMETER', 'The limit must be between 1 and 1000.', 'limit');
    if (!Number.isInteger(offset) || offset < 0 || offset % limit !== 0) {
      throw new RecordError(400, 'INVALID_PARAMETER', 'The offset must be a non-negative multiple of the limit.', 'offset');
    }
    const s = this.scope(d);
    const total = Number(this.store.scalar(`SELECT COUNT(*) FROM "${d.table}" WHERE ${s.sql}`, s.params));
    const rows = this.store.all(`SELECT id FROM "${d.table}" WHERE ${s.sql} ORDER BY id LIMIT ? OFFSET ?`, [...s.params, limit, offset]);
    const self = `${this.baseUrl()}/services/rest/record/v1/${type}`;
    const links = [{ rel: 'self', href: `${self}?limit=${limit}&offset=${offset}` }];
    if (offset > 0) links.push({ rel: 'previous', href: `${self}?limit=${limit}&offset=${Math.max(0, offset - limit)}` });
    if (offset + rows.length < total) links.push({ rel: 'next', href: `${self}?limit=${limit}&offset=${offset + limit}` });
    return {
      links,
      count: rows.length,
      hasMore: offset + rows.length < total,
      items: rows.map((r) => ({ links: [{ rel: 'self', href: this.url(type, String(r.id)) }], id: String(r.id) })),
      offset,
      totalResults: total,
    };
  }

  private find(type: string, key: string): { d: TypeDef; row: Row | null; id: number | null; eid: string | null } {
    const d = this.def(type);
    const s = this.scope(d);
    if (key.startsWith('eid:')) {
      const eid = decodeURIComponent(key.slice(4));
      const row = this.store.one(`SELECT * FROM "${d.table}" WHERE externalid = ? AND ${s.sql}`, [eid, ...s.params]);
      return { d, row, id: row ? Number(row.id) : null, eid };
    }
    if (!/^\d+$/.test(key)) throw new RecordError(400, 'INVALID_ID', `The record instance ID '${key}' is not valid.`);
    const row = this.store.one(`SELECT * FROM "${d.table}" WHERE id = ? AND ${s.sql}`, [Number(key), ...s.params]);
    return { d, row, id: Number(key), eid: null };
  }

  private notFound(type: string, key: string): RecordError {
    return new RecordError(404, 'NONEXISTENT_ID', `The record instance does not exist. Provide a valid record instance ID (${type} ${key}).`);
  }

  get(type: string, key: string, expand: boolean): Record<string, unknown> {
    const { d, row } = this.find(type, key);
    if (!row) throw this.notFound(type, key);
    const id = Number(row.id);
    const out: Record<string, unknown> = { links: [{ rel: 'self', href: this.url(type, id) }] };
    for (const [col, v] of Object.entries(row)) {
      if (v === null || col === 'type' || col === 'itemtype') continue;
      const name = CAMEL[col] ?? col;
      if (REF_COLUMNS.has(col)) out[name === 'entity' && d.tranType === 'CustPymt' ? 'customer' : name] = { id: String(v) };
      else out[name] = restValue(v, isBooleanColumn(col));
    }
    out.id = String(id);
    if (d.sublist) {
      const href = `${this.url(type, id)}/${d.sublist}`;
      if (!expand) {
        out[d.sublist] = { links: [{ rel: 'self', href }] };
      } else {
        const lines = this.store.all('SELECT * FROM transactionline WHERE "transaction" = ? AND mainline = \'F\' ORDER BY linesequencenumber', [id]);
        out[d.sublist] = {
          links: [{ rel: 'self', href }],
          items: lines.map((l) => {
            const item: Record<string, unknown> = { links: [] };
            for (const [col, v] of Object.entries(l)) {
              if (v === null || col === 'transaction' || col === 'uniquekey' || col === 'mainline' || col === 'taxline') continue;
              if (col === 'debitforeignamount') item.debit = Number(v);
              else if (col === 'creditforeignamount') item.credit = Number(v);
              else if (col === 'foreignamount') item.amount = Number(v);
              else if (col === 'quantity' || col === 'rate') item[col] = Number(v);
              else if (col === 'id') item.line = Number(v);
              else if (REF_COLUMNS.has(col)) item[col] = { id: String(v) };
              else item[CAMEL[col] ?? col] = restValue(v, false);
            }
            return item;
          }),
          totalResults: lines.length,
          count: lines.length,
          hasMore: false,
          offset: 0,
        };
      }
    }
    return out;
  }

  /** Maps a REST body to columns; throws RecordError for an unknown field or a bad reference. */
  private columnsOf(d: TypeDef, body: Record<string, unknown>): { row: Row; sublist: Record<string, unknown>[] | null } {
    const row: Row = {};
    let sublist: Record<string, unknown>[] | null = null;
    for (const [name, value] of Object.entries(body)) {
      if (d.sublist && name === d.sublist) {
        const items = (value as { items?: unknown })?.items;
        if (!Array.isArray(items)) throw new RecordError(400, 'INVALID_CONTENT', `The sublist ${name} must have an items array.`, name);
        sublist = items as Record<string, unknown>[];
        continue;
      }
      const col = ALIASES[d.table]?.[name] ?? name.toLowerCase();
      if (READ_ONLY.has(col)) continue;
      if (!this.store.hasColumn(d.table, col) && !/^cust(entity|body|col|record|item)[a-z0-9_]*$/.test(col)) {
        throw new RecordError(400, 'INVALID_CONTENT', `Invalid field name ${name}: the field does not exist on ${d.tranType ?? d.table}.`, name);
      }
      row[col] = this.refOrValue(col, value, name);
    }
    return { row, sublist };
  }

  private refOrValue(col: string, value: unknown, path: string): SqlValue {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const id = (value as { id?: unknown }).id;
      if (id === undefined || id === null || !/^\d+$/.test(String(id))) throw new RecordError(400, 'INVALID_KEY_OR_REF', `Invalid reference for ${path}.`, path);
      this.checkRef(col, Number(id), path);
      return Number(id);
    }
    if (REF_COLUMNS.has(col) && value !== null && value !== undefined) {
      if (!/^\d+$/.test(String(value))) throw new RecordError(400, 'INVALID_KEY_OR_REF', `Invalid reference for ${path}.`, path);
      this.checkRef(col, Number(value), path);
      return Number(value);
    }
    return encodeRestValue(value);
  }

  private checkRef(col: string, id: number, path: string): void {
    const table = { entity: 'customer', company: 'customer', customer: 'customer', item: 'item', account: 'account', currency: 'currency', subsidiary: 'subsidiary', subscription: 'subscription' }[col];
    if (!table) return;
    if (this.store.scalar(`SELECT id FROM "${table}" WHERE id = ?`, [id]) === null) {
      throw new RecordError(400, 'USER_ERROR', `Invalid Field Value ${id} for the following field: ${path}`, path);
    }
  }

  /**
   * Creates (id null) or updates a record; `eid` is set as the external id of a created
   * record. Returns the id. All or nothing: a refused write changes nothing.
   */
  write(type: string, key: string | null, body: Record<string, unknown>, mode: 'create' | 'update' | 'upsert'): number {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new RecordError(400, 'INVALID_CONTENT', 'The request body must be a JSON object.');
    const found = key === null ? { d: this.def(type), row: null, id: null, eid: null } : this.find(type, key);
    const { d } = found;
    if (mode === 'update' && !found.row) throw this.notFound(type, key ?? '');
    const externalId = found.eid ?? (typeof body.externalId === 'string' ? body.externalId : found.row ? ((found.row.externalid as string) ?? null) : null);
    for (const rej of this.rejectors) {
      const r = rej({ type, id: found.row ? Number(found.row.id) : null, externalId, body });
      if (r) throw new RecordError(400, r.code, r.detail, r.path);
    }
    const { row, sublist } = this.columnsOf(d, body);
    if (found.eid !== null) row.externalid = found.eid;
    if (row.externalid !== undefined && row.externalid !== null) {
      const s = this.scope(d);
      const other = this.store.scalar(`SELECT id FROM "${d.table}" WHERE externalid = ? AND ${s.sql}`, [row.externalid, ...s.params]);
      if (other !== null && Number(other) !== (found.row ? Number(found.row.id) : -1)) {
        throw new RecordError(400, 'DUP_RCRD', `A record with external ID ${String(row.externalid)} already exists.`, 'externalId');
      }
    }
    const stamp = this.store.nowStamp();
    try {
      return this.store.transaction(() => {
        let id: number;
        if (found.row) {
          id = Number(found.row.id);
          this.store.update(d.table, [{ column: 'id', value: id }], { ...row, lastmodifieddate: stamp });
        } else {
          const extra: Row = { datecreated: stamp, lastmodifieddate: stamp };
          if (d.tranType) extra.type = d.tranType;
          if (d.itemType) extra.itemtype = d.itemType;
          if (d.table === 'customer' || d.table === 'contact' || d.table === 'item') extra.isinactive = row.isinactive ?? 'F';
          if (d.table === 'customer' && row.currency === undefined) extra.currency = 1;
          if (d.table === 'customer' && row.subsidiary === undefined) extra.subsidiary = 1;
          if (d.tranType === 'SalesOrd' && row.status === undefined) extra.status = 'B';
          if (d.tranType === 'CustInvc' && row.status === undefined) extra.status = 'A';
          if (d.tranType && row.currency === undefined) extra.currency = 1;
          if (d.tranType && row.subsidiary === undefined) extra.subsidiary = 1;
          if (d.tranType && row.tranid === undefined) extra.tranid = null;
          id = this.store.insert(d.table, { ...extra, ...row });
          if (d.tranType && row.tranid === undefined) this.store.update(d.table, [{ column: 'id', value: id }], { tranid: `${d.tranType.toUpperCase()}${id}` });
        }
        if (d.tranType) this.writeLines(d, id, sublist, row);
        return id;
      });
    } catch (err) {
      if (err instanceof SqlError) throw new RecordError(400, 'INVALID_CONTENT', err.message);
      throw err;
    }
  }

  private writeLines(d: TypeDef, id: number, sublist: Record<string, unknown>[] | null, header: Row): void {
    if (sublist) {
      this.store.db.run('DELETE FROM transactionline WHERE "transaction" = ?', [id]);
      let debits = '0';
      let credits = '0';
      let total = '0';
      sublist.forEach((l, i) => {
        const path = `${d.sublist}.items[${i}]`;
        const line: Row = { transaction: id, id: i + 1, linesequencenumber: i + 1, mainline: 'F' };
        for (const [name, value] of Object.entries(l)) {
          const col = { debit: 'debitforeignamount', credit: 'creditforeignamount', amount: 'foreignamount' }[name] ?? name.toLowerCase();
          if (col === 'line' || col === 'links') continue;
          if (!this.store.hasColumn('transactionline', col) && !/^custcol[a-z0-9_]*$/.test(col)) {
            throw new RecordError(400, 'INVALID_CONTENT', `Invalid field name ${name} on sublist ${d.sublist}.`, `${path}.${name}`);
          }
          line[col] = this.refOrValue(col, value, `${path}.${name}`);
        }
        if (d.sublist === 'item') {
          if (line.item === undefined || line.item === null) throw new RecordError(400, 'USER_ERROR', 'Please enter value(s) for: Item', `${path}.item`);
          if (line.quantity !== undefined && line.rate !== undefined && line.foreignamount === undefined) {
            line.foreignamount = decimalMul(String(line.quantity), String(line.rate));
          }
          total = decimalAdd(total, String(line.foreignamount ?? '0'));
        } else {
          if (line.account === undefined || line.account === null) throw new RecordError(400, 'USER_ERROR', 'Please enter value(s) for: Account', `${path}.account`);
          debits = decimalAdd(debits, String(line.debitforeignamount ?? '0'));
          credits = decimalAdd(credits, String(line.creditforeignamount ?? '0'));
        }
        this.store.insert('transactionline', line);
      });
      if (d.sublist === 'line') {
        if (!decimalEquals(debits, credits)) {
          throw new RecordError(400, 'USER_ERROR', `The total of debit entries (${debits}) must equal the total of credit entries (${credits}).`, 'line');
        }
        total = debits;
      }
      const upd: Row = {};
      if (header.foreigntotal === undefined) upd.foreigntotal = total;
      if (d.tranType === 'CustInvc' && header.foreignamountremaining === undefined) upd.foreignamountremaining = header.foreigntotal ?? total;
      this.store.update('transaction', [{ column: 'id', value: id }], upd);
    }
    this.store.db.run('DELETE FROM transactionline WHERE "transaction" = ? AND mainline = \'T\'', [id]);
    const t = this.store.one('SELECT foreigntotal, entity FROM "transaction" WHERE id = ?', [id]);
    this.store.insert('transactionline', { transaction: id, id: 0, linesequencenumber: 0, mainline: 'T', foreignamount: t?.foreigntotal ?? null, entity: t?.entity ?? null });
  }

  delete(type: string, key: string): void {
    const { d, row } = this.find(type, key);
    if (!row) throw this.notFound(type, key);
    const id = Number(row.id);
    this.store.transaction(() => {
      this.store.db.run(`DELETE FROM "${d.table}" WHERE id = ?`, [id]);
      if (d.tranType) this.store.db.run('DELETE FROM transactionline WHERE "transaction" = ?', [id]);
      this.store.insert('deletedrecord', { recordtype: type, recordid: id, externalid: (row.externalid as string) ?? null, deleteddate: this.store.nowStamp() });
    });
  }
}
