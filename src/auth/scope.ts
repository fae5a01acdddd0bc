import type { RequestContext } from '../common/context';
import { forbidden, notFound } from '../common/errors';

/**
 * Account scope: a key scoped to an account sees only that account. Another account's
 * data is NOT_FOUND (not FORBIDDEN), so a scoped key cannot even learn that it exists.
 */
export function assertAccountVisible(ctx: RequestContext, accountId: string, entity = 'Account'): void {
  const scope = ctx.principal?.accountId;
  if (scope && scope !== accountId) throw notFound(entity, accountId);
}

/** The account a scoped key is limited to, or null for an unscoped key. */
export function accountScope(ctx: RequestContext): string | null {
  return ctx.principal?.accountId ?? null;
}

/** Hub-wide changes (catalog, new accounts) are not for account-scoped keys. */
export function assertUnscoped(ctx: RequestContext, what: string): void {
  if (ctx.principal?.accountId) throw forbidden('AUTH_ACCOUNT_SCOPED_KEY', `An account-scoped key cannot ${what}`);
}

/**
 * For a record owned by an account (order, entitlement...): a scoped key asking for another
 * account's record gets NOT_FOUND naming the record it asked for, never the owner.
 */
export function assertRecordVisible(ctx: RequestContext, ownerAccountId: string, entity: string, id: string): void {
  const scope = ctx.principal?.accountId;
  if (scope && scope !== ownerAccountId) throw notFound(entity, id);
}
