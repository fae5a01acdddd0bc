import type { EntityManager } from 'typeorm';
import type { DomainEventSubscriber } from '../db/events';

/**
 * The producer side of the sync outbox: domains publish facts on the transaction that changes
 * what an external system shows (an order fulfilled, usage recorded, a seat
 * taken, a finding opened). It marks one outbox row per target record dirty — the row is
 * created, or its dirty_version bumped and re-opened — for every enabled push connection
 * the account is linked to. The push job computes the values when it delivers, so many
 * changes to one record coalesce into one write holding the latest values.
 *
 * Hot paths (usage ingest, licensing writes) pay nothing while no push connection exists:
 * that fact is cached per process for a few seconds (and reset when this process changes a
 * connection), so a connection created on another instance is seen within PUSH_CACHE_MS.
 */
const PUSH_CACHE_MS = 5_000;
let pushConnections: { known: boolean; until: number } = { known: true, until: 0 };

/** Forget the cached "is there a push connection" answer (after this process changes one). */
export function resetSyncPushCache(): void {
  pushConnections = { known: true, until: 0 };
}

async function anyPushConnection(manager: EntityManager): Promise<boolean> {
  if (Date.now() < pushConnections.until) return pushConnections.known;
  const [row] = await manager.query(`SELECT EXISTS (SELECT 1 FROM sync_connection WHERE push_enabled) AS any`);
  pushConnections = { known: Boolean(row?.any), until: Date.now() + PUSH_CACHE_MS };
  return pushConnections.known;
}

export interface DirtyRecords {
  /** Accounts whose synced fields may have changed. */
  accountIds?: readonly string[];
  /** Entitlements whose summary (status, dates, quantity, used) may have changed. */
  entitlementIds?: readonly string[];
  /** Orders just fulfilled or revised: every entitlement their lines shaped. */
  orderIds?: readonly string[];
  /** Accounts just linked to an external system: their fields and every entitlement of theirs. */
  linkedAccountIds?: readonly string[];
  /**
   * For frequent, low-stakes changes (usage): a record delivered less than this long ago is
   * sent again only when this much time has passed since, so a stream of usage costs one
   * write per record per interval. Other changes (0, the default) are due at once, and also
   * bring a deferred record forward.
   */
  minIntervalMs?: number;
}

/**
 * Marks the outbox rows of these records dirty, in the caller's transaction. Accounts not
 * linked to a connection's system get no row (nothing to write to); a DONE or DEAD row is
 * re-opened with its attempts reset (a new value deserves fresh attempts); a FAILED row keeps
 * its backoff; an IN_FLIGHT or SUBMITTED row is delivered again after the delivery in progress.
 */
export async function markSyncDirty(manager: EntityManager, dirty: DirtyRecords): Promise<void> {
  const accountIds = [...new Set(dirty.accountIds ?? [])];
  const entitlementIds = [...new Set(dirty.entitlementIds ?? [])];
  const orderIds = [...new Set(dirty.orderIds ?? [])];
  const linked = [...new Set(dirty.linkedAccountIds ?? [])];
  accountIds.push(...linked.filter((id) => !accountIds.includes(id)));
  if (accountIds.length === 0 && entitlementIds.length === 0 && orderIds.length === 0) return;
  if (!(await anyPushConnection(manager))) return;
  // Sorted keys: concurrent writers lock outbox rows in one order, so they cannot deadlock.
  await manager.query(
    `WITH wanted AS (
       SELECT 'account-fields'::text AS object, a.id::text AS record_key, a.id AS account_id
         FROM unnest($1::uuid[]) AS a(id)
       UNION ALL
       SELECT 'entitlement', e.id::text, e.account_id FROM entitlement e WHERE e.id = ANY($2::uuid[])
       UNION
       SELECT 'entitlement', ev.entitlement_id::text, ev.account_id
         FROM entitlement_event ev JOIN order_line l ON l.id = ev.order_line_id
        WHERE l.order_id = ANY($3::uuid[])
       UNION
       SELECT 'entitlement', e.id::text, e.account_id FROM entitlement e WHERE e.account_id = ANY($5::uuid[])
     )
     INSERT INTO sync_outbox AS o (connection_id, object, record_key, account_id)
     SELECT c.id, w.object, w.record_key, w.account_id
       FROM wanted w
       -- Disabled connections too: their schedules are off, but a push by hand or after
       -- re-enabling must still carry what changed meanwhile (pushEnabled false stops marks).
       JOIN sync_connection c ON c.push_enabled
       JOIN external_ref r ON r.entity_type = 'ACCOUNT' AND r.entity_id = w.account_id AND r.system = c.ref_system AND r.object = 'Account'
      ORDER BY 1, 2, 3
     ON CONFLICT (connection_id, object, record_key) DO UPDATE SET
       dirty_version = o.dirty_version + 1,
       status = CASE WHEN o.status IN ('DONE','DEAD') THEN 'PENDING' ELSE o.status END,
       attempts = CASE WHEN o.status IN ('DONE','DEAD') THEN 0 ELSE o.attempts END,
       next_attempt_at = CASE
         WHEN o.status IN ('DONE','DEAD') THEN greatest(now(), coalesce(o.delivered_at, now()) + $4 * interval '1 millisecond')
         WHEN o.status = 'PENDING' THEN least(o.next_attempt_at, greatest(now(), coalesce(o.delivered_at, now()) + $4 * interval '1 millisecond'))
         ELSE o.next_attempt_at END,
       dead_at = NULL,
       updated_at = now()`,
    [accountIds, entitlementIds, orderIds, Math.max(0, Math.round(dirty.minIntervalMs ?? 0)), linked],
  );
}

/**
 * The sync engine's subscriber to the facts transactions publish: one `markSyncDirty` per
 * transaction, just before its commit (so the outbox rows, shared by every change of an
 * account, are locked only for the last moment). Usage and consumption alone re-send an
 * account at most once per `usageIntervalMs`; any other fact is due at once (the merged
 * interval is the smallest asked for).
 */
export function syncOutboxSubscriber(usageIntervalMs: number): DomainEventSubscriber {
  return async (manager, events) => {
    const accountIds: string[] = [];
    const entitlementIds: string[] = [];
    const orderIds: string[] = [];
    const linkedAccountIds: string[] = [];
    let minIntervalMs = Number.POSITIVE_INFINITY;
    for (const e of events) {
      switch (e.kind) {
        case 'order.fulfilled':
          accountIds.push(e.accountId);
          orderIds.push(e.orderId);
          minIntervalMs = 0;
          break;
        case 'entitlements.changed':
          accountIds.push(...e.accountIds);
          entitlementIds.push(...e.entitlementIds);
          minIntervalMs = 0;
          break;
        case 'findings.changed':
          accountIds.push(e.accountId);
          minIntervalMs = 0;
          break;
        case 'health.changed':
          accountIds.push(...e.accountIds);
          minIntervalMs = 0;
          break;
        case 'account.linked':
          linkedAccountIds.push(e.accountId);
          minIntervalMs = 0;
          break;
        case 'usage.recorded':
          accountIds.push(...e.accountIds);
          minIntervalMs = Math.min(minIntervalMs, usageIntervalMs);
          break;
        case 'consumption.drawn':
          accountIds.push(e.accountId);
          entitlementIds.push(e.entitlementId);
          minIntervalMs = Math.min(minIntervalMs, usageIntervalMs);
          break;
        default:
          break; // not shown by any external system
      }
    }
    if (!Number.isFinite(minIntervalMs)) return; // nothing relevant happened
    await markSyncDirty(manager, { accountIds, entitlementIds, orderIds, linkedAccountIds, minIntervalMs });
  };
}
