import type { DataSource, MigrationInterface } from 'typeorm';

/** Runs one migration's `up` or `down` in a transaction of its own, as the migration runner would (`transaction: 'each'`). */
export async function migrateOne(ds: DataSource, migration: MigrationInterface, direction: 'up' | 'down'): Promise<void> {
  const runner = ds.createQueryRunner();
  try {
    await runner.startTransaction();
    await migration[direction](runner);
    await runner.commitTransaction();
  } catch (err) {
    await runner.rollbackTransaction();
    throw err;
  } finally {
    await runner.release();
  }
}

/** `relkind` of a relation (r table, p partitioned table, v view…), undefined when there is none by that name. */
export async function relkind(ds: DataSource, name: string): Promise<string | undefined> {
  return ((await ds.query(`SELECT relkind FROM pg_class WHERE oid = to_regclass($1)`, [name])) as { relkind: string }[])[0]?.relkind;
}

/** The partitions of a partitioned table, by name. */
export async function partitionsOf(ds: DataSource, parent: string): Promise<string[]> {
  return ((await ds.query(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`, [parent])) as { relname: string }[]).map(
    (r) => r.relname,
  );
}
