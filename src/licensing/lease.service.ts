import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../common/context';
import { AppError, badInput, conflict, notFound } from '../common/errors';
import type { Db } from '../db/db';
import { MonetizationModel } from '../catalog/catalog.enums';
import { Entitlement } from '../entitlements/entitlement.entity';
import { effectivePhase } from '../entitlements/effective-status';
import { isUuid } from '../common/ids';
import { Lease } from './lease.entity';
import { assertVisible, limitExceeded, lockEntitlement, text } from './licensing.guards';
import { isUsable, phaseReason } from './licensing.rules';
import { groupBy } from '../common/collections';

/** Bounds of a lease's time to live: long enough for a heartbeat to get through, short enough that a dead client frees its slot today. */
export const LEASE_TTL_SECONDS = { min: 10, max: 86_400, default: 300 } as const;

function ttl(value: number, path: string): number {
  if (!Number.isInteger(value) || value < LEASE_TTL_SECONDS.min || value > LEASE_TTL_SECONDS.max) {
    const message = `must be a whole number of seconds from ${LEASE_TTL_SECONDS.min} to ${LEASE_TTL_SECONDS.max}`;
    throw badInput('LEASE_TTL_OUT_OF_RANGE', `${path} ${message}`, [{ path, message }]);
  }
  return value;
}

/**
 * CONCURRENT entitlements: at most `quantity` live leases. A lease is live while it is not
 * checked in and `expires_at > now()`, so a client that dies frees its slot when its lease
 * lapses, with no job involved.
 */
export class LeaseService {
  constructor(private readonly db: Db) {}

  /**
   * Checks out a floating licence for `holder`, or refreshes (extends) the live lease the
   * holder already has. Under the entitlement's row lock, so concurrent checkouts never
   * exceed the limit.
   */
  async checkout(ctx: RequestContext, entitlementId: string, holderArg: string, ttlSeconds: number): Promise<Lease> {
    const holder = text(holderArg, 'holder', 'LEASE_HOLDER_INVALID');
    const seconds = ttl(ttlSeconds, 'ttlSeconds');
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const e = await lockEntitlement(ctx, m, entitlementId, MonetizationModel.CONCURRENT, { requireUsable: true });
      const [held] = await m.query(
        `SELECT id FROM lease WHERE entitlement_id = $1 AND holder = $2 AND checked_in_at IS NULL AND expires_at > now()
          ORDER BY expires_at DESC LIMIT 1`,
        [e.id, holder],
      );
      if (held) {
        const before = await m.findOneOrFail(Lease, { where: { id: held.id } });
        const after = await this.extend(m, held.id, seconds);
        tx.audit({ entity: 'Lease', entityId: held.id, action: 'REFRESH', before, after });
        return after;
      }
      const [{ n: live }] = await m.query(
        `SELECT count(*)::int AS n FROM lease WHERE entitlement_id = $1 AND checked_in_at IS NULL AND expires_at > now()`,
        [e.id],
      );
      if (live >= Math.floor(e.quantity)) throw limitExceeded('ENTITLEMENT_LEASE_LIMIT_EXCEEDED', 'floating licences', e, live);
      const [row] = await m.query(
        `INSERT INTO lease (entitlement_id, account_id, holder, ttl_seconds, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $4::int)) RETURNING id`,
        [e.id, e.accountId, holder, seconds],
      );
      const created = await m.findOneOrFail(Lease, { where: { id: row.id } });
      tx.audit({ entity: 'Lease', entityId: created.id, action: 'CREATE', after: created });
      return created;
    });
  }

  /**
   * Extends a live lease by `ttlSeconds` (default: its own ttl) from now. A lease that has
   * lapsed or was checked in is CONFLICT `LEASE_EXPIRED`: its slot may be someone else's by
   * now, so the client must check out again. Refused too when the entitlement can no longer
   * be used (suspended, expired...), so clients stop at their next heartbeat.
   */
  async heartbeat(ctx: RequestContext, leaseId: string, ttlSeconds: number | null | undefined): Promise<Lease> {
    const seconds = ttlSeconds === undefined || ttlSeconds === null ? null : ttl(ttlSeconds, 'ttlSeconds');
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const lease = await this.lockLease(ctx, m, leaseId);
      const [state] = await m.query(`SELECT (expires_at > now()) AS live FROM lease WHERE id = $1`, [lease.id]);
      if (lease.checkedInAt || !state.live) {
        throw conflict(
          'LEASE_EXPIRED',
          `Lease ${leaseId} ${lease.checkedInAt ? 'was checked in' : 'has expired'}; check out a new one with checkoutLease`,
          { leaseId, expiresAt: lease.expiresAt.toISOString(), checkedInAt: lease.checkedInAt?.toISOString() ?? null },
        );
      }
      const e = await m.findOneOrFail(Entitlement, { where: { id: lease.entitlementId } });
      const phase = effectivePhase(e);
      if (!isUsable(phase)) {
        throw new AppError('BAD_USER_INPUT', 'ENTITLEMENT_NOT_ACTIVE', `${phaseReason(e.id, phase)}; the lease cannot be extended`, {
          entitlementId: e.id,
          status: phase,
        });
      }
      const after = await this.extend(m, lease.id, seconds ?? lease.ttlSeconds);
      tx.audit({ entity: 'Lease', entityId: lease.id, action: 'HEARTBEAT', before: lease, after });
      return after;
    });
  }

  /** Returns the licence to the pool. Checking in a lease already checked in (or lapsed and checked in) changes nothing. */
  async checkin(ctx: RequestContext, leaseId: string): Promise<Lease> {
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const lease = await this.lockLease(ctx, m, leaseId);
      if (lease.checkedInAt) return lease;
      await m.query('UPDATE lease SET checked_in_at = now() WHERE id = $1', [lease.id]);
      const after = await m.findOneOrFail(Lease, { where: { id: lease.id } });
      tx.audit({ entity: 'Lease', entityId: lease.id, action: 'CHECKIN', before: lease, after });
      return after;
    });
  }

  /** Live leases of each entitlement, oldest first (for `Entitlement.leases`). */
  async liveOf(ids: readonly string[]): Promise<Map<string, Lease[]>> {
    const rows = ids.length
      ? await this.db.manager
          .createQueryBuilder(Lease, 'l')
          .where('l.entitlementId = ANY(:ids)', { ids })
          .andWhere('l.checkedInAt IS NULL AND l.expiresAt > now()')
          .orderBy('l.checkedOutAt')
          .addOrderBy('l.id')
          .getMany()
      : [];
    return groupBy(rows, (r) => r.entitlementId);
  }

  private async lockLease(ctx: RequestContext, m: EntityManager, leaseId: string): Promise<Lease> {
    if (!isUuid(leaseId)) throw notFound('Lease', leaseId);
    const lease = await m.findOne(Lease, { where: { id: leaseId }, lock: { mode: 'pessimistic_write' } });
    if (!lease) throw notFound('Lease', leaseId);
    assertVisible(ctx, lease.accountId, 'Lease', leaseId);
    return lease;
  }

  private async extend(m: EntityManager, id: string, seconds: number): Promise<Lease> {
    await m.query(`UPDATE lease SET ttl_seconds = $2, expires_at = now() + make_interval(secs => $2::int) WHERE id = $1`, [id, seconds]);
    return m.findOneOrFail(Lease, { where: { id } });
  }
}
