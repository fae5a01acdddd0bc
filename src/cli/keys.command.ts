import type { Command } from 'commander';
import { systemContext } from '../common/context';
import { Role } from '../auth/role';
import { withServices } from './cli-context';

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('Manage API keys.');

  keys
    .command('create')
    .description('Create an API key and print it (shown once).')
    .requiredOption('-n, --name <name>', 'who or what will use the key')
    .option('-r, --role <role>', `one of ${Object.values(Role).join(', ')}`, 'READONLY')
    .option('-a, --account <accountId>', 'scope the key to one account')
    .action(async (opts: { name: string; role: string; account?: string }) => {
      const role = opts.role.toUpperCase();
      if (!(Object.values(Role) as string[]).includes(role)) {
        throw new Error(`Unknown role "${opts.role}"; use one of ${Object.values(Role).join(', ')}`);
      }
      await withServices(async (s, log) => {
        const created = await s.apiKeys.create(systemContext(log, 'cli:keys create'), {
          name: opts.name,
          role: role as Role,
          accountId: opts.account ?? null,
        });
        console.log(created.key);
        console.error(`Created ${created.apiKey.role} key ${created.apiKey.prefix} (${created.apiKey.id}). Store it now: it is not shown again.`);
      });
    });

  keys
    .command('list')
    .description('List API keys (never their secrets).')
    .option('--all', 'include revoked keys')
    .action(async (opts: { all?: boolean }) => {
      await withServices(async (s, log) => {
        const ctx = systemContext(log, 'cli:keys list');
        const rows: Record<string, string>[] = [];
        let after: string | null = null;
        do {
          const page = await s.apiKeys.list(ctx, { first: 500, after }, Boolean(opts.all));
          for (const { node: k } of page.edges) {
            rows.push({
              id: k.id,
              prefix: k.prefix,
              name: k.name,
              role: k.role,
              account: k.accountId ?? '',
              created: k.createdAt.toISOString(),
              lastUsed: k.lastUsedAt?.toISOString() ?? '',
              revoked: k.revokedAt?.toISOString() ?? '',
            });
          }
          after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
        } while (after);
        if (rows.length === 0) console.log('No keys.');
        else console.table(rows);
      });
    });

  keys
    .command('revoke')
    .description('Revoke an API key by id or prefix.')
    .argument('<idOrPrefix>', 'the key id or its 8-character prefix')
    .action(async (idOrPrefix: string) => {
      await withServices(async (s, log) => {
        const key = await s.apiKeys.findByIdOrPrefix(idOrPrefix);
        if (!key) throw new Error(`No key with id or prefix ${idOrPrefix}`);
        await s.apiKeys.revoke(systemContext(log, 'cli:keys revoke'), key.id);
        console.log(`Revoked key ${key.prefix} (${key.id}).`);
      });
    });
}
