import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../common/context';
import { conflict } from '../common/errors';
import type { Tx } from '../db/db';
import { accountScope } from '../auth/scope';
import { ExternalRef, type ExternalRefEntityType } from './external-ref.entity';

/**
 * External references, the generic part: every domain whose records are known in other
 * systems (accounts, contacts, and later orders or products synced from the CRM and ERP)
 * links and resolves them through these functions, so one rule holds hub-wide:
 * `(system, object, externalId)` names at most one hub record.
 *
 * Writers must call `lockExternalRefs` before they resolve-then-link (upserts do), so two
 * requests carrying the same new reference are serialized instead of racing to create two
 * records; `linkExternalRefs` takes the lock itself as well (advisory locks are re-entrant).
 */

/** A reference as given by a client or a connector. */
export interface ExternalRefKey {
  system: string;
  object: string;
  externalId: string;
}

/** `system/object/externalId`, for messages and lock keys. */
export function formatExternalRef(ref: ExternalRefKey): string {
  return `${ref.system}/${ref.object}/${ref.externalId}`;
}

/**
 * Trims the parts, lowercases `system` and drops duplicates. Inputs are validated by their
 * GraphQL input class (non-blank, at most 255 characters) before they get here.
 */
export function normalizeExternalRefs(refs: readonly ExternalRefKey[] | null | undefined): ExternalRefKey[] {
  const out = new Map<string, ExternalRefKey>();
  for (const r of refs ?? []) {
    const ref = { system: r.system.trim().toLowerCase(), object: r.object.trim(), externalId: r.externalId.trim() };
    out.set(formatExternalRef(ref), ref);
  }
  return [...out.values()];
}

function sameRef(a: ExternalRefKey, b: ExternalRefKey): boolean {
  return a.system === b.system && a.object === b.object && a.externalId === b.externalId;
}

/**
 * Serializes writers of these references until the transaction ends: a transaction-level
 * advisory lock per reference, taken in a fixed (sorted) order so two writers cannot
 * deadlock. The first key names the lock space, so it never collides with job locks.
 */
export async function lockExternalRefs(manager: EntityManager, refs: readonly ExternalRefKey[]): Promise<void> {
  if (refs.length === 0) return;
  await manager.query(
    `SELECT pg_advisory_xact_lock(hashtext('ehub.external_ref'), h)
       FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($1::text[]) AS k ORDER BY h) AS keys`,
    [refs.map(formatExternalRef)],
  );
}

/** The hub record a reference points at, or null. */
export async function resolveExternalRef(manager: EntityManager, system: string, object: string, externalId: string): Promise<ExternalRef | null> {
  const [ref] = normalizeExternalRefs([{ system, object, externalId }]);
  return manager.findOne(ExternalRef, { where: { system: ref!.system, object: ref!.object, externalId: ref!.externalId } });
}

/** The stored rows of those of `refs` that exist, in one query. */
export async function resolveExternalRefs(manager: EntityManager, refs: readonly ExternalRefKey[]): Promise<ExternalRef[]> {
  if (refs.length === 0) return [];
  return manager
    .createQueryBuilder(ExternalRef, 'r')
    .where(
      '(r.system, r.object, r.externalId) IN (SELECT * FROM unnest(CAST(:systems AS text[]), CAST(:objects AS text[]), CAST(:ids AS text[])))',
      { systems: refs.map((r) => r.system), objects: refs.map((r) => r.object), ids: refs.map((r) => r.externalId) },
    )
    .getMany();
}

/** References of many records of one kind, in one query, oldest first (for DataLoaders). */
export async function externalRefsOf(
  manager: EntityManager,
  entityType: ExternalRefEntityType,
  entityIds: readonly string[],
): Promise<Map<string, ExternalRef[]>> {
  const byId = new Map<string, ExternalRef[]>(entityIds.map((id) => [id, []]));
  if (entityIds.length === 0) return byId;
  const rows = await manager
    .createQueryBuilder(ExternalRef, 'r')
    .where('r.entityType = :entityType AND r.entityId = ANY(:ids)', { entityType, ids: [...new Set(entityIds)] })
    .orderBy('r.createdAt', 'ASC')
    .addOrderBy('r.id', 'ASC')
    .getMany();
  for (const row of rows) byId.get(row.entityId)?.push(row);
  return byId;
}

/**
 * CONFLICT `EXTERNAL_REF_TAKEN`: the reference already names another hub record. The
 * message names the reference; which record holds it is told only to unscoped keys, so an
 * account-scoped key learns nothing about other accounts.
 */
export function externalRefTaken(ctx: RequestContext, ref: ExternalRefKey, holder: ExternalRef, wanted: ExternalRefEntityType): Error {
  const reveal = accountScope(ctx) === null;
  const other = holder.entityType === wanted ? `another ${holder.entityType.toLowerCase()}` : `a ${holder.entityType.toLowerCase()}`;
  return conflict(
    'EXTERNAL_REF_TAKEN',
    `External reference ${formatExternalRef(ref)} is already linked to ${other}${reveal ? ` (${holder.entityId})` : ''}; unlink it there first or match that record instead`,
    {
      ref: { system: ref.system, object: ref.object, externalId: ref.externalId },
      ...(reveal ? { linkedTo: { entityType: holder.entityType, entityId: holder.entityId } } : {}),
    },
  );
}

/**
 * Throws EXTERNAL_REF_TAKEN if any of `refs` names a record other than
 * (entityType, entityId). `existing` are the stored rows for `refs` (resolveExternalRefs).
 */
export function assertRefsFreeFor(
  ctx: RequestContext,
  entityType: ExternalRefEntityType,
  entityId: string | null,
  refs: readonly ExternalRefKey[],
  existing: readonly ExternalRef[],
): void {
  for (const ref of refs) {
    const holder = existing.find((e) => sameRef(e, ref));
    if (holder && (holder.entityType !== entityType || holder.entityId !== entityId)) throw externalRefTaken(ctx, ref, holder, entityType);
  }
}

/**
 * Links `refs` to the record (entityType, entityId): references it already has are kept,
 * new ones are added (and audited as `ExternalRef` CREATE). Raises CONFLICT
 * `EXTERNAL_REF_TAKEN`, before writing anything, when a reference names another record.
 * Returns the references created.
 */
export async function linkExternalRefs(
  ctx: RequestContext,
  tx: Tx,
  entityType: ExternalRefEntityType,
  entityId: string,
  refs: readonly ExternalRefKey[],
): Promise<ExternalRef[]> {
  const wanted = normalizeExternalRefs(refs);
  if (wanted.length === 0) return [];
  await lockExternalRefs(tx.manager, wanted);
  const existing = await resolveExternalRefs(tx.manager, wanted);
  assertRefsFreeFor(ctx, entityType, entityId, wanted, existing);
  const missing = wanted.filter((ref) => !existing.some((e) => sameRef(e, ref)));
  if (missing.length === 0) return [];
  const created = await tx.manager.save(
    missing.map((ref) => tx.manager.create(ExternalRef, { ...ref, entityType, entityId })),
  );
  for (const row of created) tx.audit({ entity: 'ExternalRef', entityId: row.id, action: 'CREATE', after: row });
  // An account newly known in another system has fields (and entitlements) to show there.
  if (entityType === 'ACCOUNT') tx.publish({ kind: 'account.linked', accountId: entityId });
  return created;
}

/** Removes every reference of a record (when the record itself is deleted), audited. */
export async function unlinkAllExternalRefs(tx: Tx, entityType: ExternalRefEntityType, entityId: string): Promise<number> {
  const rows = await tx.manager.find(ExternalRef, { where: { entityType, entityId } });
  if (rows.length === 0) return 0;
  await tx.manager.delete(ExternalRef, rows.map((r) => r.id));
  for (const row of rows) tx.audit({ entity: 'ExternalRef', entityId: row.id, action: 'DELETE', before: row });
  return rows.length;
}
