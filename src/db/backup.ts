import { once } from 'node:events';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import type { PoolClient } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { DataSource, MigrationExecutor, type QueryRunner } from 'typeorm';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import { migrations as allMigrations } from '../../migrations';
import { AppError } from '../common/errors';
import { VERSION } from '../version';
import { createDataSource } from './data-source';

/**
 * The backup format (docs/adr/0018-backup-format.md): a gzip'd stream of lines.
 *   1. a JSON header: format, hub version, the applied migrations (the schema level);
 *   2. per table, in foreign-key order: a JSON line `{ table, columns }`, the table's rows
 *      in PostgreSQL's COPY text format (one row a line), and the line `\.`;
 *   3. a JSON trailer: every sequence's position and every table's row count.
 * All of it is read in one REPEATABLE READ READ ONLY transaction: one consistent snapshot.
 */
export const BACKUP_FORMAT = 'ehub-backup';
export const BACKUP_FORMAT_VERSION = 1;
const END_OF_TABLE = '\\.';
/** Schema bookkeeping the restore rebuilds by running migrations, never copied as data. */
const SKIPPED_TABLES = new Set(['public.migrations', 'public.typeorm_metadata']);

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  formatVersion: number;
  hubVersion: string;
  createdAt: string;
  /** Applied migrations, in the order they ran; the last one is the schema level. */
  migrations: string[];
}

interface TableHeader {
  table: string;
  columns: string[];
}

interface Trailer {
  end: true;
  rows: Record<string, number>;
  sequences: { name: string; lastValue: string; isCalled: boolean }[];
}

export interface BackupSummary {
  tables: number;
  rows: number;
  migration: string | null;
}

/** A table or sequence name, quoted for SQL: `schema.name`. */
const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const qualified = (schema: string, name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;
const splitQualified = (q: string): [string, string] => {
  const dot = q.indexOf('.');
  return [q.slice(0, dot), q.slice(dot + 1)];
};

/** User schemas: everything but PostgreSQL's own. */
const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;

/** Every table holding rows (plain and partitioned parents, not partitions), `schema.name`. */
async function listTables(q: (sql: string) => Promise<{ rows: Record<string, unknown>[] }>): Promise<string[]> {
  const { rows } = await q(
    `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND ${USER_SCHEMAS} ORDER BY 1`,
  );
  return rows.map((r) => String(r.name)).filter((t) => !SKIPPED_TABLES.has(t));
}

/**
 * Orders tables so each comes after the tables its foreign keys point to (self-references
 * are fine: a COPY checks its own rows at the end of the statement). Ties by name, so the
 * order is stable.
 */
async function dependencyOrder(client: PoolClient, tables: string[]): Promise<string[]> {
  const { rows } = await client.query<{ child: string; parent: string }>(
    `SELECT cn.nspname || '.' || c.relname AS child, pn.nspname || '.' || p.relname AS parent
       FROM pg_constraint k
       JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
       JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
      WHERE k.contype = 'f' AND k.conrelid <> k.confrelid`,
  );
  const deps = new Map(tables.map((t) => [t, new Set<string>()]));
  for (const r of rows) if (deps.has(r.child) && deps.has(r.parent)) deps.get(r.child)!.add(r.parent);
  const ordered: string[] = [];
  const done = new Set<string>();
  while (ordered.length < tables.length) {
    const ready = tables.filter((t) => !done.has(t) && [...deps.get(t)!].every((d) => done.has(d)));
    if (ready.length === 0) {
      const stuck = tables.filter((t) => !done.has(t));
      throw new Error(`Foreign keys form a cycle between ${stuck.join(', ')}; the backup cannot order them`);
    }
    for (const t of ready) {
      ordered.push(t);
      done.add(t);
    }
  }
  return ordered;
}

/** Columns a COPY can write (generated columns are computed again), in table order. */
async function copyableColumns(client: PoolClient, table: string): Promise<string[]> {
  const [schema, name] = splitQualified(table);
  const { rows } = await client.query<{ attname: string }>(
    `SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      ORDER BY a.attnum`,
    [schema, name],
  );
  return rows.map((r) => r.attname);
}

async function appliedMigrations(client: PoolClient): Promise<string[]> {
  const exists = await client.query(`SELECT to_regclass('public.migrations') IS NOT NULL AS ok`);
  if (!exists.rows[0].ok) return [];
  const { rows } = await client.query<{ name: string }>('SELECT name FROM public.migrations ORDER BY id');
  return rows.map((r) => r.name);
}

async function write(out: Writable, chunk: string | Buffer): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

/** Counts newline bytes, i.e. COPY text rows. */
function countLines(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
  return n;
}

/**
 * Writes a backup of the whole database to `out` (gzip'd; see BACKUP_FORMAT) and ends it.
 * Streams table by table: memory stays flat however large a table is.
 */
export async function writeBackup(ds: DataSource, out: Writable, onTable?: (table: string, rows: number) => void): Promise<BackupSummary> {
  const runner = ds.createQueryRunner();
  const client = (await runner.connect()) as PoolClient;
  const gzip = createGzip();
  gzip.pipe(out);
  const finished = once(out, 'finish');
  // Either stream failing (a full disk) must fail the backup, not leave it waiting.
  const failed = new Promise<never>((_, reject) => {
    gzip.once('error', reject);
    out.once('error', reject);
  });
  failed.catch(() => undefined);
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const migrations = await appliedMigrations(client);
    const header: BackupHeader = { format: BACKUP_FORMAT, formatVersion: BACKUP_FORMAT_VERSION, hubVersion: VERSION, createdAt: new Date().toISOString(), migrations };
    await write(gzip, JSON.stringify(header) + '\n');
    const tables = await dependencyOrder(client, await listTables((sql) => client.query(sql)));
    const counts: Record<string, number> = {};
    let total = 0;
    for (const table of tables) {
      const columns = await copyableColumns(client, table);
      await write(gzip, JSON.stringify({ table, columns } satisfies TableHeader) + '\n');
      const [schema, name] = splitQualified(table);
      // COPY (SELECT …): a partitioned table (usage_event, ADR 0053) cannot be COPied TO by name; the rows and the format are the same.
      const copy = client.query(copyTo(`COPY (SELECT ${columns.map(quoteIdent).join(', ')} FROM ${qualified(schema, name)}) TO STDOUT`));
      let rows = 0;
      for await (const chunk of copy as AsyncIterable<Buffer>) {
        rows += countLines(chunk);
        if (!gzip.write(chunk)) await Promise.race([once(gzip, 'drain'), failed]);
      }
      await write(gzip, END_OF_TABLE + '\n');
      counts[table] = rows;
      total += rows;
      onTable?.(table, rows);
    }
    // Read last, inside the snapshot's lifetime: a sequence is never behind the rows above.
    const seqs = await client.query<{ name: string; last_value: string; is_called: boolean }>(
      `SELECT s.schemaname || '.' || s.sequencename AS name, COALESCE(s.last_value, s.start_value)::text AS last_value, s.last_value IS NOT NULL AS is_called
         FROM pg_sequences s WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    );
    const trailer: Trailer = { end: true, rows: counts, sequences: seqs.rows.map((s) => ({ name: s.name, lastValue: s.last_value, isCalled: s.is_called })) };
    await write(gzip, JSON.stringify(trailer) + '\n');
    await client.query('COMMIT');
    gzip.end();
    await Promise.race([finished, failed]);
    return { tables: tables.length, rows: total, migration: migrations.at(-1) ?? null };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    gzip.destroy();
    throw err;
  } finally {
    await runner.release();
  }
}

/** Reads a backup's header (e.g. for `ehub restore --check`), without loading anything. */
export function parseHeader(line: string | undefined): BackupHeader {
  let header: Partial<BackupHeader> | null = null;
  try {
    header = line ? (JSON.parse(line) as Partial<BackupHeader>) : null;
  } catch {
    header = null;
  }
  if (!header || header.format !== BACKUP_FORMAT || !Array.isArray(header.migrations)) {
    throw new AppError('BAD_USER_INPUT', 'RESTORE_NOT_A_BACKUP', 'This file is not an Entitlement Hub backup (made by `ehub backup`)');
  }
  if (header.formatVersion !== BACKUP_FORMAT_VERSION) {
    throw new AppError(
      'BAD_USER_INPUT',
      'RESTORE_FORMAT_UNSUPPORTED',
      `The backup has format version ${String(header.formatVersion)}; this hub (${VERSION}) reads version ${BACKUP_FORMAT_VERSION}. Restore it with the hub version that made it (${String(header.hubVersion)}) or newer.`,
    );
  }
  return header as BackupHeader;
}

/**
 * The migrations this code knows that the backup's schema level consists of; refuses a
 * backup made by newer code (a migration this code has never heard of).
 */
function migrationsFor(header: BackupHeader): typeof allMigrations {
  const known = new Map(allMigrations.map((m) => [migrationName(m), m]));
  const unknown = header.migrations.filter((n) => !known.has(n));
  if (unknown.length) {
    throw new AppError(
      'BAD_USER_INPUT',
      'RESTORE_SCHEMA_NEWER',
      `The backup was made by a newer hub (${header.hubVersion}): its schema has migrations this hub (${VERSION}) does not know (${unknown.join(', ')}). Restore it with that version or newer.`,
      { unknownMigrations: unknown },
    );
  }
  const wanted = new Set(header.migrations);
  return allMigrations.filter((m) => wanted.has(migrationName(m)));
}

function migrationName(m: (typeof allMigrations)[number]): string {
  return (new m() as { name?: string }).name ?? m.name;
}

export interface RestoreSummary {
  tables: number;
  rows: number;
  migration: string | null;
  /** Migrations newer than the backup, applied after the load. */
  migratedForward: number;
}

/**
 * Loads a backup into an empty database at `url`, in one transaction: migrates it to the
 * backup's schema level, COPYs every table in the file's (foreign-key) order, sets every
 * sequence, checks the row counts against the trailer; then applies this code's newer
 * migrations. Refuses a database holding any row, a file that is not a whole backup, and a
 * backup from a newer schema; a refused or failed restore changes nothing.
 */
export async function restoreBackup(url: string, input: Readable, onTable?: (table: string, rows: number) => void): Promise<RestoreSummary> {
  const gunzip = createGunzip();
  input.once('error', (err) => gunzip.destroy(err));
  const lines = readline.createInterface({ input: input.pipe(gunzip), crlfDelay: Infinity })[Symbol.asyncIterator]();
  const next = async (): Promise<string | undefined> => {
    const r = await lines.next();
    return r.done ? undefined : (r.value as string);
  };
  let first: string | undefined;
  try {
    first = await next();
  } catch {
    first = undefined; // not gzip at all
  }
  const header = parseHeader(first);
  const wanted = migrationsFor(header);

  const ds = new DataSource({ ...(createDataSource(url, { poolSize: 1 }).options as PostgresDataSourceOptions), migrations: wanted });
  await ds.initialize();
  let summary: Omit<RestoreSummary, 'migratedForward'>;
  try {
    const runner = ds.createQueryRunner();
    const client = (await runner.connect()) as PoolClient;
    try {
      await runner.startTransaction();
      await assertEmpty(client, header);
      const executor = new MigrationExecutor(ds, runner);
      executor.transaction = 'all'; // inside our transaction: it neither begins nor commits
      await executor.executePendingMigrations();
      summary = await loadTables(client, runner, next, onTable);
      summary.migration = header.migrations.at(-1) ?? null;
      await runner.commitTransaction();
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  } finally {
    await ds.destroy();
    input.destroy();
  }
  // Newer code than the backup: bring the restored data up to this code's schema.
  const current = createDataSource(url, { poolSize: 1 });
  await current.initialize();
  try {
    const applied = await current.runMigrations({ transaction: 'each' });
    return { ...summary, migratedForward: applied.length };
  } finally {
    await current.destroy();
  }
}

/** "Empty": no row in any table, and no migration the backup lacks. */
async function assertEmpty(client: PoolClient, header: BackupHeader): Promise<void> {
  const applied = await appliedMigrations(client);
  const extra = applied.filter((n) => !header.migrations.includes(n));
  if (extra.length) {
    throw new AppError(
      'CONFLICT',
      'RESTORE_DATABASE_NEWER',
      `The database is already migrated past the backup's schema (${extra.join(', ')}); restore into an empty database (no tables).`,
    );
  }
  for (const table of await listTables((sql) => client.query(sql))) {
    const [schema, name] = splitQualified(table);
    const { rows } = await client.query(`SELECT EXISTS (SELECT 1 FROM ${qualified(schema, name)}) AS any`);
    if (rows[0].any) {
      throw new AppError('CONFLICT', 'RESTORE_DATABASE_NOT_EMPTY', `The database is not empty (table ${table} has rows); restore only into an empty database.`, {
        table,
      });
    }
  }
}

const truncated = () =>
  new AppError(
    'BAD_USER_INPUT',
    'RESTORE_BACKUP_TRUNCATED',
    'The backup is incomplete or damaged (it does not end with its trailer, or its row counts differ): it was cut short while written or copied. Nothing was restored.',
  );

function parseRecord(line: string): TableHeader | Trailer {
  try {
    return JSON.parse(line) as TableHeader | Trailer;
  } catch {
    throw truncated();
  }
}

async function loadTables(
  client: PoolClient,
  runner: QueryRunner,
  next: () => Promise<string | undefined>,
  onTable?: (table: string, rows: number) => void,
): Promise<Omit<RestoreSummary, 'migratedForward'>> {
  const loaded: Record<string, number> = {};
  let total = 0;
  for (;;) {
    const line = await next();
    if (line === undefined) throw truncated();
    const record = parseRecord(line);
    if ('end' in record) {
      for (const [table, rows] of Object.entries(record.rows)) {
        if ((loaded[table] ?? -1) !== rows) throw truncated();
      }
      for (const s of record.sequences) {
        await runner.query('SELECT setval($1::regclass, $2::bigint, $3)', [qualifiedText(s.name), s.lastValue, s.isCalled]);
      }
      return { tables: Object.keys(loaded).length, rows: total, migration: null };
    }
    const [schema, name] = splitQualified(record.table);
    const target = qualified(schema, name);
    // Only the rows as they were: no user trigger may add or change anything while loading.
    await client.query(`ALTER TABLE ${target} DISABLE TRIGGER USER`);
    const copy = client.query(copyFrom(`COPY ${target} (${record.columns.map(quoteIdent).join(', ')}) FROM STDIN`));
    const done = new Promise<void>((resolve, reject) => {
      copy.once('finish', resolve);
      copy.once('error', reject);
    });
    let rows = 0;
    let line2: string | undefined;
    try {
      while ((line2 = await next()) !== END_OF_TABLE) {
        if (line2 === undefined) {
          copy.destroy(truncated());
          break;
        }
        rows++;
        if (!copy.write(line2 + '\n')) await Promise.race([once(copy, 'drain'), done]);
      }
      copy.end();
      await done;
    } catch (err) {
      if (line2 === undefined) throw truncated();
      throw err;
    }
    await client.query(`ALTER TABLE ${target} ENABLE TRIGGER USER`);
    loaded[record.table] = rows;
    total += rows;
    onTable?.(record.table, rows);
  }
}

/** `schema.name` as a regclass literal. */
function qualifiedText(name: string): string {
  const [schema, rel] = splitQualified(name);
  return qualified(schema, rel);
}
