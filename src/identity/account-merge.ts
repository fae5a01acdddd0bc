import type { EntityManager } from 'typeorm';
import { AppError, conflict, notFound } from '../common/errors';
import type { Tx } from '../db/db';
import type { MovedRows, RemovedRow } from './identity.entities';

/**
 * Merging and unmerging accounts, generically over the catalog (ADR 0028): every column that
 * points at an account — every `account_id` column and every foreign key to `account(id)` —
 * is found in the database catalog at merge time, so a table added later is moved too; each
 * must be named in MERGE_POLICY (a test fails on one that is not), so someone decides.
 */

/** What a merge does with a column that points at an account. */
export type MergePolicy =
  /** Rows move to the survivor (recorded by primary key so an unmerge moves exactly them back). */
  | 'MOVE'
  /** The column records identity resolution itself (or the merge link); the merge leaves it alone. */
  | 'IDENTITY';

/**
 * Every `table.column` pointing at an account, with what a merge does with it. A column the
 * catalog shows that is missing here makes merges fail (`MERGE_UNHANDLED_COLUMN`) and the
 * catalog test fail, instead of leaving rows on the merged account unnoticed.
 */
export const MERGE_POLICY: Readonly<Record<string, MergePolicy>> = {
  'api_key.account_id': 'MOVE',
  'contact.account_id': 'MOVE',
  'sales_order.account_id': 'MOVE',
  'order_revision.account_id': 'MOVE',
  'order_line.account_id': 'MOVE',
  'entitlement.account_id': 'MOVE',
  'entitlement_feature.account_id': 'MOVE',
  'entitlement_event.account_id': 'MOVE',
  'activation.account_id': 'MOVE',
  'seat.account_id': 'MOVE',
  'lease.account_id': 'MOVE',
  'consumption.account_id': 'MOVE',
  'consumption_balance.account_id': 'MOVE',
  'entitlement_terms.account_id': 'MOVE',
  'support_case.account_id': 'MOVE',
  'usage_event.account_id': 'MOVE',
  'usage_event_key.account_id': 'MOVE',
  'usage_rollup.account_id': 'MOVE',
  'usage_unique.account_id': 'MOVE',
  'compliance_finding.account_id': 'MOVE',
  'notification.account_id': 'MOVE',
  'webhook_endpoint.account_id': 'MOVE',
  'webhook_event.account_id': 'MOVE',
  'webhook_delivery.account_id': 'MOVE',
  'download_log.account_id': 'MOVE',
  // Device update reports follow their devices (activations move).
  'device_update_report.account_id': 'MOVE',
  'revenue_obligation.account_id': 'MOVE',
  'revenue_entry.account_id': 'MOVE',
  'revenue_invoice.account_id': 'MOVE',
  'revenue_modification.account_id': 'MOVE',
  'sync_outbox.account_id': 'MOVE',
  'receivable.account_id': 'MOVE',
  // Scores are recomputed by the health job; on a collision the survivor's stays (ADR 0028).
  'account_health.account_id': 'MOVE',
  'account_health_history.account_id': 'MOVE',
  'account_health_override.account_id': 'MOVE',
  // Forecast snapshots follow their order lines (which move); history, not recomputed.
  'arr_forecast_item.account_id': 'MOVE',
  // The model-fit summary is recomputed by its job; on a collision the survivor's stays.
  'account_model_fit.account_id': 'MOVE',
  // The delivery renewal signal is recomputed by its job; on a collision the survivor's stays.
  'account_delivery_renewal.account_id': 'MOVE',
  'account.merged_into': 'IDENTITY',
  'account_merge.survivor_id': 'IDENTITY',
  'account_merge.merged_id': 'IDENTITY',
  'identity_match.account_a': 'IDENTITY',
  'identity_match.account_b': 'IDENTITY',
};

/** A column pointing at accounts, as the catalog shows it, with its table's primary key and unique keys. */
export interface AccountColumn {
  table: string;
  column: string;
  primaryKey: string[];
  /** Unique indexes of the table that include `column` (their columns), the primary key among them. */
  uniqueKeys: string[][];
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Every column of the public schema that points at an account: named `account_id`, or a foreign key to account(id). */
export async function accountColumns(manager: EntityManager): Promise<AccountColumn[]> {
  const rows: { table: string; column: string; pk: string[] | null; uniques: string[][] | null }[] = await manager.query(`
    WITH cols AS (
      SELECT k.oid AS rel, k.relname::text AS "table", a.attname::text AS "column", a.attnum
        FROM pg_attribute a JOIN pg_class k ON k.oid = a.attrelid
       WHERE k.relnamespace = 'public'::regnamespace AND k.relkind IN ('r','p') AND NOT k.relispartition
         AND a.attname = 'account_id' AND a.attnum > 0 AND NOT a.attisdropped
      UNION
      SELECT co.conrelid, k.relname::text, a.attname::text, a.attnum
        FROM pg_constraint co JOIN pg_class k ON k.oid = co.conrelid
        JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = ANY (co.conkey)
       WHERE co.contype = 'f' AND co.confrelid = 'public.account'::regclass AND k.relnamespace = 'public'::regnamespace
    )
    SELECT c."table", c."column",
           (SELECT array_agg(pa.attname::text ORDER BY array_position(i.indkey::int2[], pa.attnum))
              FROM pg_index i JOIN pg_attribute pa ON pa.attrelid = i.indrelid AND pa.attnum = ANY (i.indkey)
             WHERE i.indrelid = c.rel AND i.indisprimary) AS pk,
           (SELECT json_agg(u.cols) FROM (
              SELECT (SELECT array_agg(ua.attname::text ORDER BY array_position(i.indkey::int2[], ua.attnum))
                        FROM pg_attribute ua WHERE ua.attrelid = i.indrelid AND ua.attnum = ANY (i.indkey)) AS cols
                FROM pg_index i
               WHERE i.indrelid = c.rel AND i.indisunique AND i.indexprs IS NULL AND c.attnum = ANY (i.indkey::int2[])) u) AS uniques
      FROM cols c
     ORDER BY 1, 2`);
  return rows.map((r) => ({
    table: r.table,
    column: r.column,
    primaryKey: r.pk ?? [],
    uniqueKeys: [...(r.uniques ?? []), ...(LOGICAL_UNIQUE_KEYS[`${r.table}.${r.column}`] ?? [])],
  }));
}

/**
 * Unique keys a table keeps without a unique index: partitioned usage_event cannot have
 * (account_id, source, event_id) as one (ADR 0053; usage_event_key enforces it), yet a merge
 * must treat it as one, so the merged account's event colliding with the survivor's goes
 * with its key row.
 */
const LOGICAL_UNIQUE_KEYS: Readonly<Record<string, string[][]>> = {
  'usage_event.account_id': [['account_id', 'source', 'event_id']],
};

/** The catalog's columns with their policy; throws (INTERNAL) when one has none, or a MOVE table has no primary key. */
export async function movableColumns(manager: EntityManager): Promise<AccountColumn[]> {
  const cols = await accountColumns(manager);
  const unhandled = cols.filter((c) => MERGE_POLICY[`${c.table}.${c.column}`] === undefined);
  if (unhandled.length > 0) {
    throw new AppError('INTERNAL', 'MERGE_UNHANDLED_COLUMN', `Merging accounts does not know what to do with ${unhandled.map((c) => `${c.table}.${c.column}`).join(', ')}; add it to MERGE_POLICY (src/identity/account-merge.ts)`);
  }
  const moving = cols.filter((c) => MERGE_POLICY[`${c.table}.${c.column}`] === 'MOVE');
  const noKey = moving.filter((c) => c.primaryKey.length === 0);
  if (noKey.length > 0) throw new AppError('INTERNAL', 'MERGE_TABLE_WITHOUT_KEY', `Tables without a primary key cannot be merged exactly: ${noKey.map((c) => c.table).join(', ')}`);
  return moving;
}

interface LockedAccount {
  id: string;
  merged_into: string | null;
}

/** Locks accounts (in id order, so two merges cannot deadlock) and returns them; NOT_FOUND for a missing one. */
export async function lockAccounts(manager: EntityManager, ids: readonly string[]): Promise<Map<string, LockedAccount>> {
  const rows: LockedAccount[] = await manager.query(
    `SELECT id, merged_into FROM account WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
    [[...new Set(ids)]],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const id of ids) if (!byId.has(id)) throw notFound('Account', id);
  return byId;
}

export interface MergeOutcome {
  moved: MovedRows[];
  removed: RemovedRow[];
  movedCount: number;
  entitlementIds: string[];
}

/**
 * Moves every row of `mergedId` to `survivorId` in the caller's transaction (the accounts
 * are locked and checked by the caller). Collision rule (ADR 0028): where the survivor
 * already holds a row with the same unique key (the same contact e-mail, the same usage
 * rollup bucket, the same idempotency key), the survivor's row stays and the merged
 * account's row is removed, its full content kept in the merge record so an unmerge
 * restores it exactly; references to a removed contact are pointed at the survivor's
 * contact of the same e-mail.
 */
export async function moveAccountRows(tx: Tx, survivorId: string, mergedId: string): Promise<MergeOutcome> {
  const m = tx.manager;
  const moved: MovedRows[] = [];
  const removed: RemovedRow[] = [];
  let movedCount = 0;
  let entitlementIds: string[] = [];
  const cols = await movableColumns(m);

  // Contacts first: references to a contact the survivor also has (same e-mail) follow it.
  const contactRefs: { id: string; from: string }[] = await rowsOf(
    m.query(
      `UPDATE external_ref r SET entity_id = s.id
         FROM contact mc JOIN contact s ON s.account_id = $1 AND s.email = mc.email
        WHERE mc.account_id = $2 AND r.entity_type = 'CONTACT' AND r.entity_id = mc.id
        RETURNING r.id, mc.id AS "from"`,
      [survivorId, mergedId],
    ),
  );
  const byFrom = new Map<string, { id: string }[]>();
  for (const r of contactRefs) byFrom.set(r.from, [...(byFrom.get(r.from) ?? []), { id: r.id }]);
  for (const [from, keys] of byFrom) {
    moved.push({ table: 'external_ref', column: 'entity_id', from, keys });
    movedCount += keys.length;
  }

  for (const c of cols) {
    const t = ident(c.table);
    const col = ident(c.column);
    const collisions = c.uniqueKeys
      .map((key) => key.filter((k) => k !== c.column))
      .map((others) => `EXISTS (SELECT 1 FROM ${t} s WHERE ${[`s.${col} = $1::uuid`, ...others.map((o) => `s.${ident(o)} IS NOT DISTINCT FROM m.${ident(o)}`)].join(' AND ')})`);
    if (collisions.length > 0) {
      const gone: { row: Record<string, unknown> }[] = await rowsOf(
        m.query(`DELETE FROM ${t} m WHERE m.${col} = $2::uuid AND (${collisions.join(' OR ')}) RETURNING to_jsonb(m.*) AS row`, [survivorId, mergedId]),
      );
      for (const g of gone) removed.push({ table: c.table, row: g.row });
    }
    const pk = c.primaryKey.map(ident).join(', ');
    const keys: Record<string, unknown>[] = await rowsOf(m.query(`UPDATE ${t} SET ${col} = $1::uuid WHERE ${col} = $2::uuid RETURNING ${pk}`, [survivorId, mergedId]));
    if (keys.length > 0) {
      moved.push({ table: c.table, column: c.column, keys });
      movedCount += keys.length;
      if (c.table === 'entitlement') entitlementIds = keys.map((k) => String(k.id));
    }
  }

  // The account's own references in other systems: no unique key involves the account.
  const refs: { id: string }[] = await rowsOf(
    m.query(`UPDATE external_ref SET entity_id = $1 WHERE entity_type = 'ACCOUNT' AND entity_id = $2 RETURNING id`, [survivorId, mergedId]),
  );
  if (refs.length > 0) {
    moved.push({ table: 'external_ref', column: 'entity_id', keys: refs });
    movedCount += refs.length;
  }
  await m.query(`UPDATE account SET merged_into = $1 WHERE id = $2`, [survivorId, mergedId]);
  return { moved, removed, movedCount, entitlementIds };
}

/**
 * Puts back exactly what a merge moved: the removed rows are inserted as they were, then
 * every moved row still present goes back to the merged account (rows the survivor gained
 * after the merge stay with it).
 */
export async function restoreAccountRows(tx: Tx, survivorId: string, mergedId: string, moved: readonly MovedRows[], removed: readonly RemovedRow[]): Promise<string[]> {
  const m = tx.manager;
  const pks = new Map((await accountColumns(m)).map((c) => [c.table, c.primaryKey]));
  pks.set('external_ref', ['id']);
  for (const r of removed) {
    const t = ident(r.table);
    await m.query(`INSERT INTO ${t} SELECT * FROM jsonb_populate_record(NULL::${t}, $1::jsonb)`, [JSON.stringify(r.row)]);
  }
  let entitlementIds: string[] = [];
  for (const entry of [...moved].reverse()) {
    const t = ident(entry.table);
    const col = ident(entry.column);
    const pk = pks.get(entry.table);
    if (!pk || pk.length === 0) throw new AppError('INTERNAL', 'MERGE_TABLE_WITHOUT_KEY', `Table ${entry.table} has no primary key any more`);
    const back = entry.from ?? mergedId;
    const current = entry.table === 'external_ref' ? (entry.from ? 'CONTACT' : 'ACCOUNT') : null;
    const where = pk.map((k) => `x.${ident(k)} = k.${ident(k)}`).join(' AND ');
    await m.query(
      `UPDATE ${t} x SET ${col} = $1
         FROM jsonb_populate_recordset(NULL::${t}, $2::jsonb) k
        WHERE ${where}${current ? ` AND x.entity_type = '${current}'` : ''}`,
      [back, JSON.stringify(entry.keys)],
    );
    if (entry.table === 'entitlement') entitlementIds = entry.keys.map((k) => String(k.id));
  }
  await m.query(`UPDATE account SET merged_into = NULL WHERE id = $1 AND merged_into = $2`, [mergedId, survivorId]);
  return entitlementIds;
}

/** TypeORM returns `[rows, count]` for UPDATE/DELETE … RETURNING and plain rows for SELECT. */
async function rowsOf<T>(result: Promise<unknown>): Promise<T[]> {
  const r = (await result) as unknown;
  if (Array.isArray(r) && r.length === 2 && Array.isArray(r[0]) && typeof r[1] === 'number') return r[0] as T[];
  return r as T[];
}

/** CONFLICT helpers, one place for the codes docs/identity.md lists. */
export const mergeErrors = {
  intoItself: (id: string) => new AppError('BAD_USER_INPUT', 'MERGE_INTO_ITSELF', `An account cannot be merged into itself (${id})`),
  alreadyMerged: (id: string, into: string) =>
    conflict('ACCOUNT_ALREADY_MERGED', `Account ${id} was merged into ${into}; merge or unmerge that account instead`, { accountId: id, mergedInto: into }),
};
