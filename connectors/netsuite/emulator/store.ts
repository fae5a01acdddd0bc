/**
 * The emulator's one store: an SQLite database (sql.js, SQLite compiled to WebAssembly) whose
 * tables are shaped like NetSuite's SuiteQL schema. The record service writes it, SuiteQL
 * reads it with a real SQL engine, and the seeding API inserts into it directly.
 */
import initSqlJs, { type Database, type SqlJsStatic, type SqlValue } from 'sql.js';
import { rewriteSuiteQl } from './sql-lexer';
import { decimalAdd, decimalMul, encDate, encDatetime, parseByFormat, renderValue, toChar, DATE_PREFIX, DATETIME_PREFIX } from './values';

let sqlJs: Promise<SqlJsStatic> | null = null;
function loadSqlJs(): Promise<SqlJsStatic> {
  sqlJs ??= initSqlJs();
  return sqlJs;
}

/** The tables and their built-in columns (custom `cust*` columns are added on first write). */
export const TABLES: Record<string, string[]> = {
  currency: ['id INTEGER PRIMARY KEY', 'symbol TEXT', 'name TEXT'],
  subsidiary: ['id INTEGER PRIMARY KEY', 'name TEXT', 'currency INTEGER'],
  account: ['id INTEGER PRIMARY KEY', 'acctnumber TEXT', 'acctname TEXT', 'accttype TEXT'],
  customer: [
    'id INTEGER PRIMARY KEY', 'entityid TEXT', 'companyname TEXT', 'email TEXT', 'phone TEXT', 'url TEXT', 'externalid TEXT UNIQUE',
    'subsidiary INTEGER', 'currency INTEGER', 'isinactive TEXT DEFAULT \'F\'', 'datecreated TEXT', 'lastmodifieddate TEXT',
    'custentity_ehub_crm_id TEXT',
  ],
  contact: [
    'id INTEGER PRIMARY KEY', 'entityid TEXT', 'firstname TEXT', 'lastname TEXT', 'email TEXT', 'company INTEGER', 'externalid TEXT UNIQUE',
    'isinactive TEXT DEFAULT \'F\'', 'datecreated TEXT', 'lastmodifieddate TEXT',
  ],
  item: [
    'id INTEGER PRIMARY KEY', 'itemid TEXT', 'displayname TEXT', 'externalid TEXT UNIQUE', 'itemtype TEXT', 'isinactive TEXT DEFAULT \'F\'',
    'datecreated TEXT', 'lastmodifieddate TEXT',
  ],
  transaction: [
    'id INTEGER PRIMARY KEY', 'type TEXT NOT NULL', 'tranid TEXT', 'entity INTEGER', 'trandate TEXT', 'duedate TEXT', 'status TEXT', 'currency INTEGER',
    'foreigntotal TEXT', 'foreignamountremaining TEXT', 'foreignamountunpaid TEXT', 'foreignpaymentamountunused TEXT', 'subsidiary INTEGER',
    'externalid TEXT', 'memo TEXT', 'postingperiod TEXT', 'datecreated TEXT', 'lastmodifieddate TEXT', 'custbody_ehub_crm_deal_id TEXT',
  ],
  transactionline: [
    'uniquekey INTEGER PRIMARY KEY', 'transaction INTEGER NOT NULL', 'id INTEGER NOT NULL', 'linesequencenumber INTEGER', 'item INTEGER',
    'quantity TEXT', 'rate TEXT', 'foreignamount TEXT', 'mainline TEXT DEFAULT \'F\'', 'taxline TEXT DEFAULT \'F\'', 'memo TEXT', 'account INTEGER',
    'debitforeignamount TEXT', 'creditforeignamount TEXT', 'entity INTEGER', 'subscriptionline INTEGER',
    'custcol_ehub_start_date TEXT', 'custcol_ehub_end_date TEXT',
  ],
  subscription: ['id INTEGER PRIMARY KEY', 'name TEXT', 'customer INTEGER', 'externalid TEXT UNIQUE', 'startdate TEXT', 'enddate TEXT', 'status TEXT', 'datecreated TEXT', 'lastmodifieddate TEXT'],
  usage: [
    'id INTEGER PRIMARY KEY', 'externalid TEXT UNIQUE', 'customer INTEGER', 'item INTEGER', 'subscription INTEGER', 'subscriptionline INTEGER', 'usagedate TEXT',
    'usagequantity TEXT', 'memo TEXT', 'datecreated TEXT', 'lastmodifieddate TEXT',
  ],
  deletedrecord: ['id INTEGER PRIMARY KEY', 'recordtype TEXT', 'recordid INTEGER', 'externalid TEXT', 'deleteddate TEXT'],
};

/** A plain row: column → value (numbers or text; dates in the stored encoding). */
export type Row = Record<string, SqlValue>;

/** Columns whose values are 'T'/'F' booleans. */
const BOOLEAN_COLUMNS = new Set(['isinactive', 'mainline', 'taxline']);

export function isBooleanColumn(c: string): boolean {
  return BOOLEAN_COLUMNS.has(c);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export class SqlError extends Error {}

export class Store {
  private constructor(
    readonly db: Database,
    private readonly now: () => number,
  ) {}

  static async open(now: () => number): Promise<Store> {
    const SQL = await loadSqlJs();
    const store = new Store(new SQL.Database(), now);
    store.init();
    return store;
  }

  private readonly columns = new Map<string, Set<string>>();

  private init(): void {
    const db = this.db;
    for (const [t, cols] of Object.entries(TABLES)) {
      const defs = cols.map((c) => {
        const [name, ...rest] = c.split(' ');
        return `${quoteIdent(name)} ${rest.join(' ')}`;
      });
      db.run(`CREATE TABLE ${quoteIdent(t)} (${defs.join(', ')})`);
      this.columns.set(t, new Set(cols.map((c) => c.split(' ')[0])));
    }
    db.run('CREATE UNIQUE INDEX transaction_eid ON "transaction" (type, externalid)');
    db.run('CREATE INDEX transaction_lmd ON "transaction" (lastmodifieddate, id)');
    db.run('CREATE INDEX transaction_type_lmd ON "transaction" (type, lastmodifieddate, id)');
    db.run('CREATE INDEX customer_lmd ON customer (lastmodifieddate, id)');
    db.run('CREATE INDEX contact_lmd ON contact (lastmodifieddate, id)');
    db.run('CREATE INDEX tl_tx ON transactionline ("transaction", linesequencenumber)');
    db.run('CREATE INDEX item_itemid ON item (itemid)');
    db.create_function('TO_DATE', (s: SqlValue, f: SqlValue) => this.toInstant(s, f, 'date'));
    db.create_function('TO_TIMESTAMP', (s: SqlValue, f: SqlValue) => this.toInstant(s, f, 'datetime'));
    db.create_function('TO_CHAR', (v: SqlValue, f: SqlValue) => toChar(v, f));
    db.create_function('NVL', (a: SqlValue, b: SqlValue) => (a === null ? b : a));
    db.create_function('BUILTIN_DF', (v: SqlValue) => v);
    db.create_function('BUILTIN_CURRENCY', (v: SqlValue) => v);
    for (const [id, symbol, name] of [
      [1, 'USD', 'US Dollar'],
      [2, 'EUR', 'Euro'],
      [3, 'GBP', 'British pound'],
      [4, 'CAD', 'Canadian Dollar'],
    ] as const) {
      db.run('INSERT INTO currency (id, symbol, name) VALUES (?, ?, ?)', [id, symbol, name]);
    }
    db.run("INSERT INTO subsidiary (id, name, currency) VALUES (1, 'Parent Company', 1)");
  }

  private toInstant(s: SqlValue, f: SqlValue, kind: 'date' | 'datetime'): string | null {
    if (s === null) return null;
    const text = String(s);
    const ms = parseByFormat(text, f === null ? (kind === 'date' ? 'YYYY-MM-DD' : 'YYYY-MM-DD HH24:MI:SS') : String(f));
    if (ms === null) throw new SqlError(`${kind === 'date' ? 'TO_DATE' : 'TO_TIMESTAMP'}: '${text}' does not match the format`);
    return kind === 'date' ? encDate(new Date(ms).toISOString().slice(0, 10)) : encDatetime(ms);
  }

  nowStamp(): string {
    return encDatetime(this.now());
  }

  hasColumn(table: string, column: string): boolean {
    return this.columns.get(table)?.has(column) ?? false;
  }

  /** Adds a custom field column (`custentity…`, `custbody…`, `custcol…`, `custrecord…`). */
  ensureColumn(table: string, column: string): void {
    if (this.hasColumn(table, column)) return;
    if (!/^cust(entity|body|col|record|item)[a-z0-9_]*$/.test(column)) throw new SqlError(`unknown field ${column}`);
    this.db.run(`ALTER TABLE ${quoteIdent(table)} ADD COLUMN ${quoteIdent(column)} TEXT`);
    this.columns.get(table)!.add(column);
  }

  insert(table: string, row: Row): number {
    const cols = Object.keys(row).filter((c) => row[c] !== undefined);
    for (const c of cols) this.ensureColumn(table, c);
    this.db.run(
      `INSERT INTO ${quoteIdent(table)} (${cols.map(quoteIdent).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
      cols.map((c) => row[c]),
    );
    return Number(this.scalar('SELECT last_insert_rowid()'));
  }

  update(table: string, where: { column: string; value: SqlValue }[], row: Row): void {
    const cols = Object.keys(row).filter((c) => row[c] !== undefined);
    if (cols.length === 0) return;
    for (const c of cols) this.ensureColumn(table, c);
    this.db.run(
      `UPDATE ${quoteIdent(table)} SET ${cols.map((c) => `${quoteIdent(c)} = ?`).join(', ')} WHERE ${where.map((w) => `${quoteIdent(w.column)} = ?`).join(' AND ')}`,
      [...cols.map((c) => row[c]), ...where.map((w) => w.value)],
    );
  }

  all(sql: string, params: SqlValue[] = []): Row[] {
    const stmt = this.db.prepare(sql);
    try {
      stmt.bind(params);
      const rows: Row[] = [];
      while (stmt.step()) rows.push(stmt.getAsObject() as Row);
      return rows;
    } finally {
      stmt.free();
    }
  }

  one(sql: string, params: SqlValue[] = []): Row | null {
    return this.all(sql, params)[0] ?? null;
  }

  scalar(sql: string, params: SqlValue[] = []): SqlValue {
    const r = this.db.exec(sql, params);
    return r[0]?.values[0]?.[0] ?? null;
  }

  /** Runs fn in one SQLite transaction (seeding thousands of rows fast). */
  transaction<T>(fn: () => T): T {
    this.db.run('BEGIN');
    try {
      const r = fn();
      this.db.run('COMMIT');
      return r;
    } catch (err) {
      this.db.run('ROLLBACK');
      throw err;
    }
  }

  /**
   * Runs a SuiteQL query and returns one page: the total row count, and rows
   * [offset, min(offset + limit, maxRows)) rendered as SuiteQL answers them (lower-case column names, text values, nulls left out).
   */
  suiteql(q: string, limit: number, offset: number, maxRows: number): { total: number; items: Record<string, string>[] } {
    // constant TO_DATE('…','…') / TO_TIMESTAMP('…','…') calls are evaluated once, before the
    // query runs (SQLite would call the JavaScript function for every row)
    const sql = rewriteSuiteQl(q.trim().replace(/;\s*$/, ''), (fn, args) => {
      if (fn === 'to_date' || fn === 'to_timestamp') return this.toInstant(args[0], args[1] ?? null, fn === 'to_date' ? 'date' : 'datetime');
      return null;
    });
    const total = Number(this.scalar(`SELECT COUNT(*) FROM (${sql})`));
    const take = Math.max(0, Math.min(limit, maxRows - offset));
    const stmt = this.db.prepare(`SELECT * FROM (${sql}) LIMIT ? OFFSET ?`);
    const items: Record<string, string>[] = [];
    try {
      stmt.bind([take, offset]);
      const cols = stmt.getColumnNames().map((c) => c.toLowerCase());
      while (stmt.step()) {
        const vals = stmt.get();
        const item: Record<string, string> = {};
        for (let i = 0; i < cols.length; i++) {
          const v = renderValue(vals[i]);
          if (v !== null) item[cols[i]] = v;
        }
        items.push(item);
      }
    } finally {
      stmt.free();
    }
    return { total, items };
  }

  // ───────────────────────────────────────────── seeding (direct insertion)

  currencyId(symbol: string | null | undefined): number | null {
    if (!symbol) return null;
    const r = this.scalar('SELECT id FROM currency WHERE symbol = ?', [symbol]);
    if (r !== null) return Number(r);
    return this.insert('currency', { symbol, name: symbol });
  }

  /** Sums quantity × rate of item lines, exactly. */
  static linesTotal(lines: { quantity: string; rate: string }[]): string {
    return lines.reduce((sum, l) => decimalAdd(sum, decimalMul(l.quantity, l.rate)), '0');
  }
}

export { DATE_PREFIX, DATETIME_PREFIX };
