import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import type { Command } from 'commander';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import { AppError } from '../common/errors';
import { withDatabase } from './cli-context';
import { load } from './lazy';

/**
 * `ehub backup <file>` and `ehub restore <file>` (docs/operations.md). Both work against
 * the embedded PostgreSQL (which ships no pg_dump) and DATABASE_URL alike.
 */
export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .description('Write a consistent snapshot of the whole database to <file> (gzip; `-` for stdout). Safe while the hub runs.')
    .argument('<file>', 'where to write the backup, e.g. ehub-2026-01-31.backup.gz')
    .action(async (file: string) => {
      // Written aside and renamed when complete: a file named <file> is always a whole backup.
      const partial = file === '-' ? null : `${file}.partial`;
      await withDatabase({ poolSize: 2, migrate: false }, async (db) => {
        try {
          const out = partial ? createWriteStream(partial, { mode: 0o600 }) : process.stdout;
          const s = await load.backup().writeBackup(db.ds, out);
          if (partial) await fs.rename(partial, file);
          console.error(`Backed up ${s.rows} rows of ${s.tables} tables (schema ${s.migration ?? 'empty'})${partial ? ` to ${file}` : ''}.`);
        } catch (err) {
          if (partial) await fs.rm(partial, { force: true });
          throw err;
        }
      });
    });

  program
    .command('restore')
    .description('Load a backup made by `ehub backup` into an empty database (refuses one with data, and a backup from a newer hub).')
    .argument('<file>', 'the backup file (`-` for stdin)')
    .action(async (file: string) => {
      if (file !== '-') await fs.access(file).catch(() => Promise.reject(new Error(`No backup file at ${file}`)));
      await withDatabase({ poolSize: 1, migrate: false }, async (db) => {
        try {
          const url = (db.ds.options as PostgresDataSourceOptions).url!;
          const s = await load.backup().restoreBackup(url, file === '-' ? process.stdin : createReadStream(file));
          console.error(
            `Restored ${s.rows} rows of ${s.tables} tables (schema ${s.migration ?? 'empty'})` +
              (s.migratedForward ? `, then applied ${s.migratedForward} newer migration(s).` : '.'),
          );
        } catch (err) {
          // Refusals read like the API's messages, without a stack.
          if (err instanceof AppError) throw new Error(`${err.message} (${err.subCode})`);
          throw err;
        }
      });
    });
}
