import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import type { Command } from 'commander';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import { loadConfig } from '../config';
import { AppError } from '../common/errors';
import { restoreBackup, writeBackup } from '../db/backup';
import { createLogger, openDatabase } from '../server/hub';

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
      const config = loadConfig({ LOG_LEVEL: 'warn', ...process.env });
      const log = createLogger(config, { stderr: true });
      const db = await openDatabase(config, log, { poolSize: 2, stopAttached: false });
      // Written aside and renamed when complete: a file named <file> is always a whole backup.
      const partial = file === '-' ? null : `${file}.partial`;
      try {
        const out = partial ? createWriteStream(partial, { mode: 0o600 }) : process.stdout;
        const s = await writeBackup(db.ds, out);
        if (partial) await fs.rename(partial, file);
        console.error(`Backed up ${s.rows} rows of ${s.tables} tables (schema ${s.migration ?? 'empty'})${partial ? ` to ${file}` : ''}.`);
      } catch (err) {
        if (partial) await fs.rm(partial, { force: true });
        throw err;
      } finally {
        await db.close();
      }
    });

  program
    .command('restore')
    .description('Load a backup made by `ehub backup` into an empty database (refuses one with data, and a backup from a newer hub).')
    .argument('<file>', 'the backup file (`-` for stdin)')
    .action(async (file: string) => {
      const config = loadConfig({ LOG_LEVEL: 'warn', ...process.env });
      const log = createLogger(config, { stderr: true });
      if (file !== '-') await fs.access(file).catch(() => Promise.reject(new Error(`No backup file at ${file}`)));
      const db = await openDatabase(config, log, { poolSize: 1, stopAttached: false });
      try {
        const url = (db.ds.options as PostgresDataSourceOptions).url!;
        const s = await restoreBackup(url, file === '-' ? process.stdin : createReadStream(file));
        console.error(
          `Restored ${s.rows} rows of ${s.tables} tables (schema ${s.migration ?? 'empty'})` +
            (s.migratedForward ? `, then applied ${s.migratedForward} newer migration(s).` : '.'),
        );
      } catch (err) {
        // Refusals read like the API's messages, without a stack.
        if (err instanceof AppError) throw new Error(`${err.message} (${err.subCode})`);
        throw err;
      } finally {
        await db.close();
      }
    });
}
