import type { EntityManager } from 'typeorm';

/**
 * Staged rollouts (issue 14 part 3): the contract between device update polling and
 * rollouts. Polling asks `rolloutAdmits` after `releaseAccess` allowed a release (a rollout
 * only ever narrows what a device is entitled to); an install report goes through
 * `onUpdateReport`, which advances or halts the rollout. Until rollouts exist a release
 * without a rollout is offered to every entitled device.
 */
export interface RolloutAdmission {
  admitted: boolean;
  /** Why not: ROLLOUT_NOT_YET (outside the current stage), ROLLOUT_HALTED. */
  reason: string | null;
  /** The rollout and stage that admitted or refused it, when there is one. */
  rolloutId: string | null;
}

export interface DeviceUpdateReport {
  activationId: string;
  accountId: string;
  releaseId: string;
  /** DOWNLOADING, INSTALLED or FAILED. */
  status: string;
  reason: string | null;
  reportedAt: Date;
}

export async function rolloutAdmits(_m: EntityManager, _releaseId: string, _activationId: string): Promise<RolloutAdmission> {
  return { admitted: true, reason: null, rolloutId: null };
}

/** Called in the transaction that stores an install report. */
export async function onUpdateReport(_m: EntityManager, _report: DeviceUpdateReport): Promise<void> {}
