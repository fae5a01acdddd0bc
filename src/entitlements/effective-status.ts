import type { Entitlement } from './entitlement.entity';
import { EntitlementStatus } from './entitlement.enums';

/** What an entitlement means at an instant, computed from its stored state and its instants. */
export type EffectivePhase = 'SUSPENDED' | 'CANCELLED' | 'NOT_STARTED' | 'ACTIVE' | 'IN_GRACE' | 'EXPIRED';

type Term = Pick<Entitlement, 'status' | 'startsAt' | 'endsAt' | 'graceEndsAt' | 'endedReason'>;

/**
 * The phase at `at`, never relying on the lifecycle job having run: stored SUSPENDED and
 * CANCELLED win; otherwise the instants decide. An entitlement ended early (cancellation,
 * upgrade) reads CANCELLED once its end has passed.
 */
export function effectivePhase(e: Term, at: Date = new Date()): EffectivePhase {
  if (e.status === EntitlementStatus.SUSPENDED) return 'SUSPENDED';
  if (e.status === EntitlementStatus.CANCELLED) return 'CANCELLED';
  const t = at.getTime();
  if (t < e.startsAt.getTime()) return 'NOT_STARTED';
  if (e.endsAt && t >= e.endsAt.getTime()) {
    if (e.endedReason) return 'CANCELLED';
    if (!e.graceEndsAt || t >= e.graceEndsAt.getTime()) return 'EXPIRED';
    return 'IN_GRACE';
  }
  if (e.status === EntitlementStatus.EXPIRED) return 'EXPIRED';
  return 'ACTIVE';
}

/** The effective status (the four states of the API) at `at`. */
export function effectiveStatus(e: Term, at: Date = new Date()): EntitlementStatus {
  switch (effectivePhase(e, at)) {
    case 'SUSPENDED':
      return EntitlementStatus.SUSPENDED;
    case 'CANCELLED':
      return EntitlementStatus.CANCELLED;
    case 'EXPIRED':
      return EntitlementStatus.EXPIRED;
    default:
      return EntitlementStatus.ACTIVE;
  }
}
