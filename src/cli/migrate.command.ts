import type { Command } from 'commander';
import { loadConfig } from '../config';
import { withDatabase } from './cli-context';
import { load } from './lazy';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('Apply pending database migrations (serve also does this at start-up).')
    .option('--revert', 'revert the last applied migration instead')
    .action(async (opts: { revert?: boolean }) => {
      // Logs at the configured level (info by default): the migrations applied are worth seeing.
      await withDatabase({ poolSize: 2, migrate: false, config: loadConfig() }, async (db, log) => {
        if (opts.revert) {
          await db.ds.undoLastMigration({ transaction: 'each' });
          console.log('Reverted the last migration.');
        } else {
          const n = await load.database().runMigrations(db.ds, log);
          console.log(n === 0 ? 'Database is up to date.' : `Applied ${n} migration(s).`);
        }
      });
    });
}
