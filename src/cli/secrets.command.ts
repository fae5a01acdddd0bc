import type { Command } from 'commander';
import { loadConfig } from '../config';
import { SecretBox } from '../common/secret-box';
import { withDatabase } from './cli-context';
import { load } from './lazy';

/** `ehub secrets rotate` (docs/operations.md#rotating-ehub_secret_key). */
export function registerSecretsCommands(program: Command): void {
  const secrets = program.command('secrets').description('Stored secrets (connector credentials, webhook signing secrets).');
  secrets
    .command('rotate')
    .description('Re-encrypt every stored secret under EHUB_SECRET_KEY, reading old ones with EHUB_SECRET_KEY_PREVIOUS. Safe while hubs run; safe to run again.')
    .option('--batch <n>', 'rows read per query', '100')
    .action(async (opts: { batch: string }) => {
      const config = loadConfig({ LOG_LEVEL: 'warn', ...process.env });
      if (!config.EHUB_SECRET_KEY) throw new Error('Set EHUB_SECRET_KEY to the new key (and EHUB_SECRET_KEY_PREVIOUS to the old one) to rotate.');
      const batch = Number(opts.batch);
      if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch must be a positive whole number, not "${opts.batch}"`);
      await withDatabase({ poolSize: 2, config }, async (db, log) => {
        const r = await load.secretRotation().rotateSecrets(db.ds, new SecretBox(config), log, batch);
        const total = Object.values(r.rotated).reduce((a, b) => a + b, 0);
        console.log(`Re-encrypted ${total} stored secret(s) under EHUB_SECRET_KEY (${Object.entries(r.rotated).map(([k, n]) => `${k}: ${n}`).join(', ')}).`);
        if (r.raced) console.log(`${r.raced} changed while rotating (the hub wrote them under the new key).`);
        if (r.failures.length) {
          console.error(`${r.failures.length} could not be opened with either key and were left as they are:\n  ${r.failures.join('\n  ')}`);
          process.exitCode = 1;
        } else {
          console.log('Every stored secret now opens with EHUB_SECRET_KEY alone: EHUB_SECRET_KEY_PREVIOUS can be removed.');
        }
      });
    });
}
