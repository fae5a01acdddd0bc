import { In, IsNull } from 'typeorm';
import { isEmail } from 'class-validator';
import type { RequestContext } from '../common/context';
import { badInput, notFound } from '../common/errors';
import type { Db } from '../db/db';
import { MonetizationModel } from '../catalog/catalog.enums';
import { limitExceeded, lockEntitlement } from './licensing.guards';
import { Seat } from './seat.entity';
import { groupBy } from '../common/collections';

/** A seat's email: trimmed and lowercased (seats are unique per entitlement by email, case-insensitively). */
export function normalizeEmail(email: string): string {
  const v = email.trim().toLowerCase();
  if (!isEmail(v) || v.length > 320) throw badInput('SEAT_EMAIL_INVALID', `"${email}" is not an email address`, [{ path: 'email', message: 'must be an email address' }]);
  return v;
}

/** NAMED_USER entitlements: at most `quantity` seats assigned at once. */
export class SeatService {
  constructor(private readonly db: Db) {}

  /**
   * Assigns a seat to a user, or returns the seat they already have. Links the account's
   * contact with that email, if any. Under the entitlement's row lock, so concurrent
   * assignments never exceed the limit.
   */
  async assign(ctx: RequestContext, entitlementId: string, emailArg: string): Promise<Seat> {
    const email = normalizeEmail(emailArg);
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const e = await lockEntitlement(ctx, m, entitlementId, MonetizationModel.NAMED_USER, { requireUsable: true });
      const existing = await m.findOne(Seat, { where: { entitlementId: e.id, email, releasedAt: IsNull() } });
      if (existing) return existing;
      const assigned = await m.count(Seat, { where: { entitlementId: e.id, releasedAt: IsNull() } });
      if (assigned >= Math.floor(e.quantity)) throw limitExceeded('ENTITLEMENT_SEAT_LIMIT_EXCEEDED', 'seats', e, assigned);
      const [row] = await m.query(
        `INSERT INTO seat (entitlement_id, account_id, email, contact_id)
         VALUES ($1, $2, $3, (SELECT id FROM contact WHERE account_id = $2 AND email = $3))
         RETURNING id`,
        [e.id, e.accountId, email],
      );
      const created = await m.findOneOrFail(Seat, { where: { id: row.id } });
      tx.audit({ entity: 'Seat', entityId: created.id, action: 'CREATE', after: created });
      tx.publish({ kind: 'entitlements.changed', accountIds: [e.accountId], entitlementIds: [e.id] });
      return created;
    });
  }

  /**
   * Releases a user's seat. Releasing a seat already released returns its latest
   * assignment unchanged (a replay); a user never assigned is NOT_FOUND.
   */
  async release(ctx: RequestContext, entitlementId: string, emailArg: string): Promise<Seat> {
    const email = normalizeEmail(emailArg);
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const e = await lockEntitlement(ctx, m, entitlementId, MonetizationModel.NAMED_USER, { requireUsable: false });
      const active = await m.findOne(Seat, { where: { entitlementId: e.id, email, releasedAt: IsNull() } });
      if (!active) {
        const latest = await m.findOne(Seat, { where: { entitlementId: e.id, email }, order: { releasedAt: 'DESC', id: 'ASC' } });
        if (!latest) throw notFound('Seat', email);
        return latest;
      }
      await m.query('UPDATE seat SET released_at = now() WHERE id = $1', [active.id]);
      const after = await m.findOneOrFail(Seat, { where: { id: active.id } });
      tx.audit({ entity: 'Seat', entityId: after.id, action: 'RELEASE', before: active, after });
      tx.publish({ kind: 'entitlements.changed', accountIds: [e.accountId], entitlementIds: [e.id] });
      return after;
    });
  }

  /** Assigned seats of each entitlement, oldest first (for `Entitlement.seats`). */
  async activeOf(ids: readonly string[]): Promise<Map<string, Seat[]>> {
    const rows = ids.length
      ? await this.db.manager.find(Seat, { where: { entitlementId: In([...ids]), releasedAt: IsNull() }, order: { assignedAt: 'ASC', id: 'ASC' } })
      : [];
    return groupBy(rows, (r) => r.entitlementId);
  }
}
