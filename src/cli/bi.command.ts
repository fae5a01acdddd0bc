import type { Command } from 'commander';
import { grantBiRole, revokeBiRole } from '../bi/bi.grant';
import { withDatabase } from './cli-context';

/** `ehub bi grant <role>` and `ehub bi revoke <role>` (docs/bi.md). */
export function registerBiCommands(program: Command): void {
  const bi = program.command('bi').description('Read-only database roles for BI tools (Metabase, Power BI, Tableau) over the documented `bi` views.');
  bi.command('grant')
    .argument('<role>', 'the PostgreSQL role to create or update, e.g. metabase')
    .description('Create a role that can read the `bi` views and nothing else (read-only, no right on the hub tables). Prints its password once. Safe to run again.')
    .option('--password <password>', 'the password to set (default: a generated one for a new role; an existing role keeps its password)')
    .option('--no-login', 'create a group role without LOGIN (grant it to your own login roles)')
    .action(async (role: string, opts: { password?: string; login: boolean }) => {
      await withDatabase({ poolSize: 1 }, async (db) => {
        const g = await grantBiRole(db.ds, role, { password: opts.password ?? null, login: opts.login });
        console.log(`${g.created ? 'Created' : 'Updated'} role ${g.role} on database ${g.database}: SELECT on bi.${g.views.join(', bi.')}; nothing else.`);
        if (g.password && !opts.password) console.log(`Password (shown once, stored nowhere): ${g.password}`);
        if (db.embedded) {
          console.log(`The embedded PostgreSQL listens on 127.0.0.1 only (${db.embedded.url(g.database).replace(/\/\/[^@]*@/, '//')}); run the BI tool on this host or point the hub at your own PostgreSQL with DATABASE_URL.`);
        }
      });
    });
  bi.command('revoke')
    .argument('<role>', 'a role made by `ehub bi grant`')
    .description('Take back what `ehub bi grant` gave and drop the role.')
    .action(async (role: string) => {
      await withDatabase({ poolSize: 1, migrate: false }, async (db) => {
        const dropped = await revokeBiRole(db.ds, role);
        console.log(dropped ? `Dropped role ${role}.` : `No role ${role}; nothing to do.`);
      });
    });
}
