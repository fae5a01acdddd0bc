import type { EntityManager } from 'typeorm';
import { assertRecordVisible } from '../auth/scope';
import type { RequestContext } from '../common/context';
import { AppError, badInput, notFound, type FieldError } from '../common/errors';
import { Entitlement } from '../entitlements/entitlement.entity';
import { effectivePhase } from '../entitlements/effective-status';
import { isUuid } from '../common/ids';
import { isUsable, phaseReason, slots } from './licensing.rules';

/** A record of another account is NOT_FOUND for a scoped key, with the id the caller sent (nothing of the other account). */
export const assertVisible = assertRecordVisible;

/**
 * Locks an entitlement for the rest of the transaction (FOR NO KEY UPDATE: concurrent
 * activations, seat assignments and checkouts of one entitlement queue here, while inserts
 * referencing it are not blocked), and checks that it has the model asked for and can be
 * used now. Model mismatch: BAD_USER_INPUT ENTITLEMENT_MODEL_MISMATCH; not usable (suspended,
 * cancelled, expired, not started): BAD_USER_INPUT ENTITLEMENT_NOT_ACTIVE with the phase.
 */
export async function lockEntitlement(
  ctx: RequestContext,
  m: EntityManager,
  id: string,
  model: string,
  opts: { requireUsable: boolean },
): Promise<Entitlement> {
  if (!isUuid(id)) throw notFound('Entitlement', id);
  const e = await m.createQueryBuilder(Entitlement, 'e').setLock('for_no_key_update').where('e.id = :id', { id }).getOne();
  if (!e) throw notFound('Entitlement', id);
  assertVisible(ctx, e.accountId, 'Entitlement', id);
  if (e.model !== model) {
    throw new AppError('BAD_USER_INPUT', 'ENTITLEMENT_MODEL_MISMATCH', `Entitlement ${id} is ${e.model}; this operation needs a ${model} entitlement`, {
      entitlementId: id,
      model: e.model,
      expected: model,
      fields: [{ path: 'entitlementId', message: `must be a ${model} entitlement` }],
    });
  }
  if (opts.requireUsable) {
    const phase = effectivePhase(e);
    if (!isUsable(phase)) {
      throw new AppError('BAD_USER_INPUT', 'ENTITLEMENT_NOT_ACTIVE', `${phaseReason(id, phase)}; it cannot be used now`, {
        entitlementId: id,
        status: phase,
      });
    }
  }
  return e;
}

/** LIMIT_EXCEEDED with the limit and how much of it is in use. */
export function limitExceeded(subCode: string, what: string, e: Entitlement, inUse: number): AppError {
  const limit = slots(e.quantity);
  return new AppError('LIMIT_EXCEEDED', subCode, `Entitlement ${e.id} allows ${limit} ${what} and ${inUse} are in use; free one first`, {
    entitlementId: e.id,
    limit,
    inUse,
  });
}

/** A trimmed text argument of bounded length, or BAD_USER_INPUT naming it. */
export function text(value: string, path: string, subCode: string, max = 255): string {
  const v = value.trim();
  if (v.length < 1 || v.length > max) {
    const fields: FieldError[] = [{ path, message: `must be 1 to ${max} characters` }];
    throw badInput(subCode, `${path} must be 1 to ${max} characters`, fields);
  }
  return v;
}

/** An optional trimmed text argument: undefined/null = not given; blank = cleared (null). */
export function optionalText(value: string | null | undefined, path: string, subCode: string, max = 255): string | null | undefined {
  if (value === undefined || value === null) return value;
  const v = value.trim();
  if (v.length > max) throw badInput(subCode, `${path} must be at most ${max} characters`, [{ path, message: `must be at most ${max} characters` }]);
  return v || null;
}
