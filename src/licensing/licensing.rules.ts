import type { EffectivePhase } from '../entitlements/effective-status';
import { CheckCode } from './licensing.types';

/** The phases of src/entitlements/effective-status.ts (computed in SQL by phaseSql). */
export type Phase = EffectivePhase;

/** Phases in which an entitlement may be used (and its devices, seats, leases and balances drawn). */
export const USABLE_PHASES: readonly Phase[] = ['ACTIVE', 'IN_GRACE'];

export const isUsable = (phase: Phase) => USABLE_PHASES.includes(phase);

/** What the check query returns per entitlement granting the feature. Decimals are strings. */
export interface CheckRow {
  id: string;
  model: string;
  quantity: string;
  phase: Phase;
  policy: string;
  limit_total: string | null;
  /** Active activations (DEVICE_LOCKED), active seats (NAMED_USER), live leases (CONCURRENT); null for other models. */
  holdings: number | null;
  /** Whether the device / user / holder given holds one of them. */
  holds: boolean | null;
  /** METERED/USAGE/OUTCOME: left in the current period (never below 0); null = unlimited. */
  balance_remaining: string | null;
  /** Whether the quantity asked for (or, without one, any more use) is beyond the limit. */
  over: boolean;
  expires_at: Date | null;
}

export interface Decision {
  allowed: boolean;
  code: CheckCode;
  reason: string;
  remaining: string | null;
}

/** The code of an entitlement that cannot be used in its phase. */
export function phaseCode(phase: Phase): CheckCode {
  switch (phase) {
    case 'SUSPENDED':
      return CheckCode.SUSPENDED;
    case 'CANCELLED':
      return CheckCode.CANCELLED;
    case 'NOT_STARTED':
      return CheckCode.NOT_STARTED;
    case 'EXPIRED':
      return CheckCode.EXPIRED;
    default:
      return CheckCode.VALID;
  }
}

const PHASE_WORDS: Record<Phase, string> = {
  SUSPENDED: 'is suspended',
  CANCELLED: 'was cancelled (ended early)',
  NOT_STARTED: 'has not started yet',
  EXPIRED: 'has expired',
  ACTIVE: 'is active',
  IN_GRACE: 'has ended and is in its grace period',
};

export const phaseReason = (id: string, phase: Phase) => `Entitlement ${id} ${PHASE_WORDS[phase]}`;

/** The whole units of an entitlement's quantity: 5 devices, 10 seats, 3 floating licences. */
export const slots = (quantity: string | number) => Math.max(0, Math.floor(Number(quantity)));

const CONSUMABLE = new Set(['METERED', 'USAGE', 'OUTCOME']);

/** The answer for one entitlement, given what the check query found. */
export function decide(row: CheckRow, given: { fingerprint: string | null; user: string | null }): Decision {
  if (!isUsable(row.phase)) return { allowed: false, code: phaseCode(row.phase), reason: phaseReason(row.id, row.phase), remaining: null };
  const grace = row.phase === 'IN_GRACE';
  const ok = (reason: string, remaining: string | null): Decision =>
    grace
      ? { allowed: true, code: CheckCode.IN_GRACE, reason: `${reason}; ${phaseReason(row.id, row.phase)}`, remaining }
      : { allowed: true, code: CheckCode.VALID, reason, remaining };
  const limitReached = (reason: string, remaining: string | null): Decision => ({ allowed: false, code: CheckCode.LIMIT_EXCEEDED, reason, remaining });

  if (CONSUMABLE.has(row.model)) {
    const remaining = row.balance_remaining;
    if (!row.over) return ok(remaining === null ? 'Unlimited' : `${remaining} left in the current period`, remaining);
    if (row.policy === 'BLOCK') return limitReached(`The period's limit of ${row.limit_total} is reached (${remaining} left)`, remaining);
    return {
      allowed: true,
      code: CheckCode.OVERAGE,
      reason: `Beyond the entitled ${row.limit_total} for the period; the overage is billed${grace ? `; ${phaseReason(row.id, row.phase)}` : ''}`,
      remaining,
    };
  }

  const staticOver = (remaining: string | null): Decision | null =>
    row.over ? limitReached(`The quantity asked for is beyond the feature limit of ${row.limit_total}`, remaining) : null;
  const total = slots(row.quantity);
  const free = String(Math.max(0, total - (row.holdings ?? 0)));
  switch (row.model) {
    case 'DEVICE_LOCKED':
      if (!given.fingerprint) return { allowed: false, code: CheckCode.DEVICE_NOT_ACTIVATED, reason: 'No device fingerprint was given; DEVICE_LOCKED needs one', remaining: free };
      if (!row.holds) {
        return {
          allowed: false,
          code: CheckCode.DEVICE_NOT_ACTIVATED,
          reason: `Device ${given.fingerprint} is not activated on entitlement ${row.id} (${row.holdings} of ${total} devices in use); call activateDevice`,
          remaining: free,
        };
      }
      return staticOver(free) ?? ok(`Device activated (${row.holdings} of ${total} devices in use)`, free);
    case 'NAMED_USER':
      if (!given.user) return { allowed: false, code: CheckCode.USER_NOT_ASSIGNED, reason: 'No user was given; NAMED_USER needs one', remaining: free };
      if (!row.holds) {
        return {
          allowed: false,
          code: CheckCode.USER_NOT_ASSIGNED,
          reason: `User ${given.user} has no seat on entitlement ${row.id} (${row.holdings} of ${total} seats assigned); call assignSeat`,
          remaining: free,
        };
      }
      return staticOver(free) ?? ok(`Seat assigned (${row.holdings} of ${total} seats assigned)`, free);
    case 'CONCURRENT':
      if (!row.holds && (row.holdings ?? 0) >= total) {
        return limitReached(`All ${total} floating licences are checked out`, free);
      }
      return staticOver(free) ?? ok(row.holds ? 'The holder has a live lease' : `${free} of ${total} floating licences free`, free);
    default:
      return staticOver(row.limit_total) ?? ok('Entitled', row.limit_total);
  }
}

/** Lower is better: allowed answers first, then refusals of an entitlement in force, then by phase. */
const TIER: Record<CheckCode, number> = {
  [CheckCode.VALID]: 0,
  [CheckCode.IN_GRACE]: 1,
  [CheckCode.OVERAGE]: 2,
  [CheckCode.LIMIT_EXCEEDED]: 3,
  [CheckCode.DEVICE_NOT_ACTIVATED]: 3,
  [CheckCode.USER_NOT_ASSIGNED]: 3,
  [CheckCode.SUSPENDED]: 4,
  [CheckCode.NOT_STARTED]: 5,
  [CheckCode.EXPIRED]: 6,
  [CheckCode.CANCELLED]: 7,
  [CheckCode.NOT_ENTITLED]: 8,
};

const orInfinity = (v: string | Date | null) => (v === null ? Infinity : v instanceof Date ? v.getTime() : Number(v));

/**
 * The best of several answers: allowed before refused (VALID, IN_GRACE, OVERAGE), then the
 * most remaining (null = unlimited), then the latest end (null = never), then by id so the
 * answer is stable.
 */
export function compareDecisions<T extends { decision: Decision; id: string; expiresAt: Date | null }>(a: T, b: T): number {
  return (
    TIER[a.decision.code] - TIER[b.decision.code] ||
    orInfinity(b.decision.remaining) - orInfinity(a.decision.remaining) ||
    orInfinity(b.expiresAt) - orInfinity(a.expiresAt) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}
