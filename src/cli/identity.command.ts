import type { Command } from 'commander';
import { loadConfig } from '../config';
import { systemContext } from '../common/context';
import { Db } from '../db/db';
import { IdentityService } from '../identity/identity.service';
import { createLogger, openDatabase, runMigrations } from '../server/hub';

/** `ehub identity match` (docs/identity.md). */
export function registerIdentityCommands(program: Command): void {
  const identity = program.command('identity').description('Identity resolution: find the same customer across systems.');
  identity
    .command('match')
    .description('Run identity matching now: merge pairs at or above EHUB_IDENTITY_AUTO_MERGE_THRESHOLD, queue those above EHUB_IDENTITY_REVIEW_THRESHOLD for review.')
    .action(async () => {
      const config = loadConfig({ LOG_LEVEL: 'warn', ...process.env });
      const log = createLogger(config, { stderr: true });
      const db = await openDatabase(config, log, { poolSize: 1, stopAttached: false });
      try {
        await runMigrations(db.ds, log);
        const r = await new IdentityService(new Db(db.ds), config).runMatching(systemContext(log, 'cli:identity match'));
        console.log(`${r.accounts} accounts, ${r.candidates} candidate pairs: ${r.autoMerged} merged automatically, ${r.queued} in the review queue, ${r.skipped} already decided or skipped.`);
      } finally {
        await db.close();
      }
    });
}
