import type { Command } from 'commander';
import { loadConfig } from '../config';
import { createLogger, openDatabase, runMigrations } from '../server/hub';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('Apply pending database migrations (serve also does this at start-up).')
    .option('--revert', 'revert the last applied migration instead')
    .action(async (opts: { revert?: boolean }) => {
      const config = loadConfig();
      const log = createLogger(config, { stderr: true });
      const db = await openDatabase(config, log, { poolSize: 2, stopAttached: false });
      try {
        if (opts.revert) {
          await db.ds.undoLastMigration({ transaction: 'each' });
          console.log('Reverted the last migration.');
        } else {
          const n = await runMigrations(db.ds, log);
          console.log(n === 0 ? 'Database is up to date.' : `Applied ${n} migration(s).`);
        }
      } finally {
        await db.close();
      }
    });
}
