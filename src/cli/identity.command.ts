import type { Command } from 'commander';
import { systemContext } from '../common/context';
import { withDatabase } from './cli-context';
import { load } from './lazy';

/** `ehub identity match` (docs/identity.md). */
export function registerIdentityCommands(program: Command): void {
  const identity = program.command('identity').description('Identity resolution: find the same customer across systems.');
  identity
    .command('match')
    .description('Run identity matching now: merge pairs at or above EHUB_IDENTITY_AUTO_MERGE_THRESHOLD, queue those above EHUB_IDENTITY_REVIEW_THRESHOLD for review.')
    .action(async () => {
      await withDatabase({ poolSize: 1 }, async (db, log, config) => {
        const identityService = new (load.identity().IdentityService)(new (load.db().Db)(db.ds), config);
        const r = await identityService.runMatching(systemContext(log, 'cli:identity match'));
        console.log(`${r.accounts} accounts, ${r.candidates} candidate pairs: ${r.autoMerged} merged automatically, ${r.queued} in the review queue, ${r.skipped} already decided or skipped.`);
      });
    });
}
