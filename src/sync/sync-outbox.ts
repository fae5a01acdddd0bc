import type { EntityManager } from 'typeorm';
import { connectorFactories } from '../../connectors';
import { currencyExponent } from '../common/money';
import type { PushObject } from '../../connectors/types';
import type { DomainEventSubscriber } from '../db/events';

/**
 * What each connector type writes (its factory's `pushes`), as two parallel arrays for an
 * `unnest` join: a connection gets outbox rows only for objects its connector declares (a
 * Salesforce connection never gets usage records). Read from the registry once per process.
 */
let pushPairs: { types: string[]; objects: string[] } | null = null;
function declaredPushes(): { types: string[]; objects: string[] } {
  if (!pushPairs) {
    const pairs = Object.values(connectorFactories).flatMap((f) => f.pushes.map((o) => [f.type, o] as const));
    pushPairs = { types: pairs.map((p) => p[0]), objects: pairs.map((p) => p[1]) };
  }
  return pushPairs;
}

/** The connector types that push `object`. */
export function typesPushing(object: PushObject): string[] {
  const { types, objects } = declaredPushes();
  return types.filter((_, i) => objects[i] === object);
}

/** How a re-marked row is re-opened (shared by every mark below). */
const REOPEN = `
       dirty_version = o.dirty_version + 1,
       status = CASE WHEN o.status IN ('DONE','DEAD') THEN 'PENDING' ELSE o.status END,
       attempts = CASE WHEN o.status IN ('DONE','DEAD') THEN 0 ELSE o.attempts END,
       next_attempt_at = CASE WHEN o.status IN ('DONE','DEAD') THEN now() WHEN o.status = 'PENDING' THEN least(o.next_attempt_at, now()) ELSE o.next_attempt_at END,
       dead_at = NULL,
       updated_at = now()`;

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
       -- Only the objects the connection's connector writes (ConnectorFactory.pushes).
       JOIN unnest($6::text[], $7::text[]) AS cp(type, object) ON cp.type = c.type AND cp.object = w.object
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
    [accountIds, entitlementIds, orderIds, Math.max(0, Math.round(dirty.minIntervalMs ?? 0)), linked, declaredPushes().types, declaredPushes().objects],
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
    const findingIds: string[] = [];
    const supportEntitlementIds: string[] = [];
    const supportAccountIds: string[] = [];
    let minIntervalMs = Number.POSITIVE_INFINITY;
    for (const e of events) {
      switch (e.kind) {
        case 'order.fulfilled':
          accountIds.push(e.accountId);
          orderIds.push(e.orderId);
          // A renewal moves a support end that follows the term: the account's support entitlements are re-sent.
          supportAccountIds.push(e.accountId);
          minIntervalMs = 0;
          break;
        case 'entitlements.changed':
          accountIds.push(...e.accountIds);
          entitlementIds.push(...e.entitlementIds);
          minIntervalMs = 0;
          break;
        case 'findings.changed':
          accountIds.push(e.accountId);
          findingIds.push(...(e.findingIds ?? []));
          minIntervalMs = 0;
          break;
        case 'health.changed':
        case 'delivery.changed':
        case 'modelfit.changed':
        case 'churn.changed':
          accountIds.push(...e.accountIds);
          minIntervalMs = 0;
          break;
        case 'account.linked':
          linkedAccountIds.push(e.accountId);
          minIntervalMs = 0;
          break;
        case 'support.changed':
          accountIds.push(...e.accountIds);
          // Terms written or cases recorded name their entitlements; a tier changed names accounts only.
          if (e.entitlementIds.length) supportEntitlementIds.push(...e.entitlementIds);
          else supportAccountIds.push(...e.accountIds);
          minIntervalMs = 0;
          break;
        case 'usage.recorded':
          accountIds.push(...e.accountIds);
          minIntervalMs = Math.min(minIntervalMs, usageIntervalMs);
          break;
        case 'revenue.period.closed':
          await markJournalEntries(manager, e.month);
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
    if (findingIds.length || linkedAccountIds.length) await markTrueupOpportunities(manager, { findingIds, accountIds: linkedAccountIds });
    const wholeAccounts = [...linkedAccountIds, ...supportAccountIds];
    if (supportEntitlementIds.length || wholeAccounts.length) await markSupportEntitlements(manager, { entitlementIds: supportEntitlementIds, accountIds: wholeAccounts });
  };
}

/** `ehub-support:<entitlement id>`: one support entitlement per entitlement with a support level. */
export const SUPPORT_KEY_PREFIX = 'ehub-support';

/**
 * Support terms in the CRM (ADR 0037): marks a `support-entitlement` row, key
 * `ehub-support:<entitlement id>`, for each entitlement among `entitlementIds` (terms just
 * written, cases recorded) — and every entitlement of `accountIds` (accounts just linked, a
 * tier renamed) — that has a support level, for every push connection whose connector writes
 * support entitlements and whose system the account is linked to.
 */
export async function markSupportEntitlements(manager: EntityManager, wanted: { entitlementIds?: readonly string[]; accountIds?: readonly string[] }): Promise<number> {
  const types = typesPushing('support-entitlement');
  const entitlementIds = [...new Set(wanted.entitlementIds ?? [])];
  const accountIds = [...new Set(wanted.accountIds ?? [])];
  if (!types.length || (!entitlementIds.length && !accountIds.length) || !(await anyPushConnection(manager))) return 0;
  const rows: unknown[] = await manager.query(
    `INSERT INTO sync_outbox AS o (connection_id, object, record_key, account_id)
     SELECT c.id, 'support-entitlement', '${SUPPORT_KEY_PREFIX}:' || t.entitlement_id, t.account_id
       FROM entitlement_terms t
       JOIN sync_connection c ON c.push_enabled AND c.type = ANY($3::text[])
      WHERE (t.entitlement_id = ANY($1::uuid[]) OR t.account_id = ANY($2::uuid[])) AND t.support_tier_id IS NOT NULL
        AND EXISTS (SELECT 1 FROM external_ref r WHERE r.entity_type = 'ACCOUNT' AND r.entity_id = t.account_id AND r.system = c.ref_system AND r.object = 'Account')
      ORDER BY 1, 3
     ON CONFLICT (connection_id, object, record_key) DO UPDATE SET ${REOPEN}
     RETURNING o.id`,
    [entitlementIds, accountIds, types],
  );
  return rows.length;
}

/** `ehub-journal:<YYYY-MM>:<subsidiary or ->:<currency>`: one journal entry per closed period, subsidiary and currency. */
export const JOURNAL_KEY_PREFIX = 'ehub-journal';
/** `ehub-usage:<entitlement id>:<YYYY-MM>`: one usage record per entitlement and billing period. */
export const USAGE_KEY_PREFIX = 'ehub-usage';
/** The key part standing for "no subsidiary" (a single legal entity). */
export const NO_SUBSIDIARY = '-';
/** `ehub-trueup:<finding id>`: one true-up opportunity per compliance finding. */
export const TRUEUP_KEY_PREFIX = 'ehub-trueup';
/**
 * The leakage (major units of the finding's currency) a finding must reach to become a
 * true-up opportunity, when the connection's options do not say (`trueup.minLeakage`).
 */
export const TRUEUP_MIN_LEAKAGE_DEFAULT = 1000;

/**
 * Revenue recovery (ADR 0034): marks a `trueup-opportunity` row, key `ehub-trueup:<finding
 * id>`, for each open (not resolved) OVERUSE or UNENTITLED_USE finding among `findingIds`
 * (findings just opened, re-measured or reopened) — and among every finding of `accountIds`
 * (accounts just linked) — whose estimated leakage reaches the connection's threshold, for
 * every push connection whose connector writes true-ups and whose system the account is
 * linked to. The threshold is the connection option `trueup.minLeakage` (major units of the
 * finding's currency, default TRUEUP_MIN_LEAKAGE_DEFAULT); `trueup: null` turns true-ups off
 * for that connection. A row is re-opened when its finding changes again (the deal is
 * upserted with the new amount and evidence); nothing marks a row when a finding is resolved
 * or falls below the threshold, so the CRM's deal is left to its users.
 */
export async function markTrueupOpportunities(manager: EntityManager, wanted: { findingIds?: readonly string[]; accountIds?: readonly string[] }): Promise<number> {
  const types = typesPushing('trueup-opportunity');
  const findingIds = [...new Set(wanted.findingIds ?? [])];
  const accountIds = [...new Set(wanted.accountIds ?? [])];
  if (!types.length || (!findingIds.length && !accountIds.length) || !(await anyPushConnection(manager))) return 0;
  const candidates: { connection_id: string; finding_id: string; account_id: string; leakage_minor: string; currency: string; trueup: unknown; has_trueup: boolean }[] =
    await manager.query(
      `SELECT c.id AS connection_id, f.id AS finding_id, f.account_id, f.leakage_minor::text AS leakage_minor, f.currency,
              c.options->'trueup' AS trueup, c.options ? 'trueup' AS has_trueup
         FROM compliance_finding f
         JOIN sync_connection c ON c.push_enabled AND c.type = ANY($3::text[])
        WHERE (f.id = ANY($1::uuid[]) OR f.account_id = ANY($2::uuid[]))
          AND f.kind IN ('OVERUSE','UNENTITLED_USE') AND f.status <> 'RESOLVED' AND f.leakage_minor > 0 AND f.currency IS NOT NULL
          AND EXISTS (SELECT 1 FROM external_ref r WHERE r.entity_type = 'ACCOUNT' AND r.entity_id = f.account_id AND r.system = c.ref_system AND r.object = 'Account')`,
      [findingIds, accountIds, types],
    );
  const due = candidates.filter((c) => {
    if (c.has_trueup && (c.trueup === null || typeof c.trueup !== 'object')) return false; // trueup: null — off for this connection
    const configured = (c.trueup as { minLeakage?: unknown } | null)?.minLeakage;
    const min = typeof configured === 'number' && Number.isFinite(configured) && configured >= 0 ? configured : TRUEUP_MIN_LEAKAGE_DEFAULT;
    return BigInt(c.leakage_minor) >= thresholdMinor(min, c.currency);
  });
  if (!due.length) return 0;
  const rows: unknown[] = await manager.query(
    `INSERT INTO sync_outbox AS o (connection_id, object, record_key, account_id)
     SELECT x.c, 'trueup-opportunity', '${TRUEUP_KEY_PREFIX}:' || x.f, x.a
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS x(c, f, a)
      ORDER BY 1, 3
     ON CONFLICT (connection_id, object, record_key) DO UPDATE SET ${REOPEN}
     RETURNING o.id`,
    [due.map((d) => d.connection_id), due.map((d) => d.finding_id), due.map((d) => d.account_id)],
  );
  return rows.length;
}

/** A threshold in major units → minor units of `currency`, rounded up (a leakage must reach it). */
function thresholdMinor(major: number, currency: string): bigint {
  return BigInt(Math.ceil(major * 10 ** currencyExponent(currency) - 1e-9));
}

/**
 * A revenue period was closed: one `journal-entry` row per (period, subsidiary, currency) that
 * has postings in the month, for every push connection whose connector writes journal entries.
 * The subsidiary of an account is the one its ERP reference carries for that connection's
 * system, else the connection's `defaultSubsidiary` option, else none. Closing is rare: this
 * reads the month's revenue rows directly.
 */
export async function markJournalEntries(manager: EntityManager, month: string): Promise<void> {
  const types = typesPushing('journal-entry');
  if (!types.length || !(await anyPushConnection(manager))) return;
  await manager.query(
    `WITH ev AS (
       SELECT i.account_id, i.currency FROM revenue_invoice i
        WHERE i.invoice_date >= $1::date AND i.invoice_date < ($1::date + interval '1 month')
       UNION
       SELECT e.account_id, o.currency FROM revenue_entry e JOIN revenue_obligation o ON o.id = e.obligation_id
        WHERE e.month = $1::date
     ), wanted AS (
       SELECT DISTINCT c.id AS connection_id,
              '${JOURNAL_KEY_PREFIX}:' || $2 || ':' || coalesce(r.subsidiary, nullif(c.options->>'defaultSubsidiary', ''), '${NO_SUBSIDIARY}') || ':' || ev.currency AS record_key
         FROM ev
         JOIN sync_connection c ON c.push_enabled AND c.type = ANY($3::text[])
         LEFT JOIN LATERAL (
           SELECT x.subsidiary FROM external_ref x
            WHERE x.entity_type = 'ACCOUNT' AND x.entity_id = ev.account_id AND x.system = c.ref_system AND x.object = 'Account'
            ORDER BY x.created_at, x.id LIMIT 1
         ) r ON true
     )
     INSERT INTO sync_outbox AS o (connection_id, object, record_key)
     SELECT connection_id, 'journal-entry', record_key FROM wanted ORDER BY 1, 3
     ON CONFLICT (connection_id, object, record_key) DO UPDATE SET ${REOPEN}`,
    [`${month}-01`, month, types],
  );
}

/**
 * Marks the usage records of one closed billing period (calendar month, UTC, `YYYY-MM`): one
 * `usage-record` row per entitlement of a usage-billed model (USAGE, METERED) with usage in
 * the month, per push connection whose connector writes usage records and whose system the
 * account is linked to. A row already there is marked again only when the month's rollups
 * changed after the row was last touched (late usage), so running this every hour costs no
 * writes to the ERP: the upsert by `usageKey` then replaces the quantity, never adds to it.
 * Returns the rows created or re-marked.
 */
export async function markUsagePeriod(manager: EntityManager, month: string): Promise<number> {
  const types = typesPushing('usage-record');
  if (!types.length) return 0;
  const rows: unknown[] = await manager.query(
    `WITH used AS (
       SELECT u.entitlement_id, max(u.updated_at) AS changed_at
         FROM usage_rollup u JOIN meter mt ON mt.id = u.meter_id AND mt.aggregation = 'SUM'
        WHERE u.granularity = 'D' AND u.entitlement_id <> '00000000-0000-0000-0000-000000000000'::uuid
          AND u.bucket >= ($1::date::timestamp AT TIME ZONE 'UTC') AND u.bucket < (($1::date + interval '1 month')::timestamp AT TIME ZONE 'UTC')
        GROUP BY u.entitlement_id
     ), wanted AS (
       SELECT c.id AS connection_id, '${USAGE_KEY_PREFIX}:' || e.id || ':' || $2 AS record_key, e.account_id, used.changed_at
         FROM used
         JOIN entitlement e ON e.id = used.entitlement_id AND e.model IN ('USAGE','METERED')
         JOIN sync_connection c ON c.push_enabled AND c.type = ANY($3::text[])
        WHERE EXISTS (SELECT 1 FROM external_ref r WHERE r.entity_type = 'ACCOUNT' AND r.entity_id = e.account_id AND r.system = c.ref_system AND r.object = 'Account')
     )
     INSERT INTO sync_outbox AS o (connection_id, object, record_key, account_id)
     SELECT w.connection_id, 'usage-record', w.record_key, w.account_id
       FROM wanted w
       LEFT JOIN sync_outbox x ON x.connection_id = w.connection_id AND x.object = 'usage-record' AND x.record_key = w.record_key
      WHERE x.id IS NULL OR x.updated_at < w.changed_at
      ORDER BY 1, 3
     ON CONFLICT (connection_id, object, record_key) DO UPDATE SET ${REOPEN}
     RETURNING o.id`,
    [`${month}-01`, month, types],
  );
  return rows.length;
}
