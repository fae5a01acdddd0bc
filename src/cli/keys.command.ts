import type { Command } from 'commander';
import { systemContext } from '../common/context';
import { Role } from '../auth/role.enum';
import { withServices } from './cli-context';

const DURATION_MS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * `--expires`: a duration from now (`12h`, `90d`, `2w`), a date (`2027-01-31`, midnight UTC)
 * or an ISO 8601 date-time with its offset. Whether it lies in the future is the service's
 * check, the same as for `createApiKey`.
 */
export function parseExpires(value: string, now: Date = new Date()): Date {
  const v = value.trim();
  const duration = /^(\d{1,6})\s*([hdw])$/i.exec(v);
  if (duration) return new Date(now.getTime() + Number(duration[1]) * DURATION_MS[duration[2]!.toLowerCase()]!);
  const ymd = DATE_ONLY.exec(v) ?? DATE_TIME.exec(v);
  if (ymd) {
    const at = new Date(DATE_ONLY.test(v) ? `${v}T00:00:00Z` : v);
    // Date accepts 2027-02-30 as 2 March: check the calendar day survived the trip (in UTC for dates).
    const [y, m, d] = [Number(ymd[1]), Number(ymd[2]), Number(ymd[3])];
    const day = new Date(Date.UTC(y, m - 1, d));
    if (!Number.isNaN(at.getTime()) && day.getUTCMonth() === m - 1 && day.getUTCDate() === d) return at;
  } else if (/^\d{4}-\d{2}-\d{2}T[^Z+-]*$/i.test(v)) {
    throw new Error(`--expires ${value}: give the date-time an offset (Z or +hh:mm), or use a date or a duration`);
  }
  throw new Error(`--expires ${value}: expected a duration such as 12h, 90d or 2w, a date (2027-01-31) or an ISO 8601 date-time (2027-01-31T12:00:00Z)`);
}

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('Manage API keys.');

  keys
    .command('create')
    .description('Create an API key and print it (shown once).')
    .requiredOption('-n, --name <name>', 'who or what will use the key')
    .option('-r, --role <role>', `one of ${Object.values(Role).join(', ')}`, 'READONLY')
    .option('-a, --account <accountId>', 'scope the key to one account')
    .option('-e, --expires <when>', 'expire the key: a duration from now (12h, 90d, 2w), a date (2027-01-31, UTC) or an ISO date-time; default never')
    .action(async (opts: { name: string; role: string; account?: string; expires?: string }) => {
      const role = opts.role.toUpperCase();
      if (!(Object.values(Role) as string[]).includes(role)) {
        throw new Error(`Unknown role "${opts.role}"; use one of ${Object.values(Role).join(', ')}`);
      }
      const expiresAt = opts.expires === undefined ? null : parseExpires(opts.expires);
      await withServices(async (s, log) => {
        const created = await s.apiKeys.create(systemContext(log, 'cli:keys create'), {
          name: opts.name,
          role: role as Role,
          accountId: opts.account ?? null,
          expiresAt,
        });
        console.log(created.key);
        const expiry = created.apiKey.expiresAt ? `, expiring at ${created.apiKey.expiresAt.toISOString()}` : '';
        console.error(`Created ${created.apiKey.role} key ${created.apiKey.prefix} (${created.apiKey.id})${expiry}. Store it now: it is not shown again.`);
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
        const now = Date.now();
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
              expires: k.expiresAt ? `${k.expiresAt.toISOString()}${k.expiresAt.getTime() <= now ? ' (expired)' : ''}` : 'never',
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
