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

/**
 * The device's place in a release's rollout: 0–9999, from a hash of the activation and the
 * release, so membership never flips and each release samples another slice of the fleet.
 * Stages are cumulative: a device admitted at 10 % is admitted at 50 % too.
 */
export const BUCKET_SQL = (activation: string, release: string) => `(abs(hashtextextended(${activation}::text || ':' || ${release}::text, 0)) % 10000)`;

export async function rolloutAdmits(m: EntityManager, releaseId: string, activationId: string): Promise<RolloutAdmission> {
  const rows: { status: string; pct: number; groups: string[]; bucket: string; device_group: string | null }[] = await m.query(
    `SELECT r.status, r.stages[r.stage + 1] AS pct, r.groups, ${BUCKET_SQL('$2::uuid', '$1::uuid')} AS bucket,
            (SELECT device_group FROM activation WHERE id = $2::uuid) AS device_group
       FROM release_rollout r WHERE r.release_id = $1::uuid`,
    [releaseId, activationId],
  );
  const r = rows[0];
  const reason = rolloutRefusal(r ? { status: r.status, pct: r.pct, groups: r.groups } : null, Number(r?.bucket ?? 0), r?.device_group ?? null);
  return { admitted: reason === null, reason, rolloutId: r ? releaseId : null };
}

/** A rollout's state as the rule reads it: ACTIVE or HALTED, the current stage's percentage, the device groups offered it first. */
export interface RolloutState {
  status: string;
  pct: number;
  groups?: readonly string[] | null;
}

/**
 * The rule of a rollout for one device, given the rollout's state (null: none), the
 * device's place (BUCKET_SQL) and its device group: null when admitted, else ROLLOUT_HALTED
 * or ROLLOUT_NOT_YET. A device of one of the rollout's groups is admitted from the first
 * stage on (a stage of 0 % offers the release to those groups only); any other device when
 * its bucket is inside the stage's percentage. A halted rollout offers the release to
 * nobody, in a group or not, until resumed.
 */
export function rolloutRefusal(rollout: RolloutState | null, bucket: number, deviceGroup: string | null = null): 'ROLLOUT_HALTED' | 'ROLLOUT_NOT_YET' | null {
  if (!rollout) return null;
  if (rollout.status === 'HALTED') return 'ROLLOUT_HALTED';
  if (deviceGroup !== null && rollout.groups?.includes(deviceGroup)) return null;
  return bucket < rollout.pct * 100 ? null : 'ROLLOUT_NOT_YET';
}

/**
 * Judges the rollout of the report's release on every install outcome (in the transaction
 * that stores the report, under the rollout's row lock, so concurrent reports are judged one
 * after another on everything committed before). Counts each device's latest outcome
 * (INSTALLED or FAILED) since the rollout started or was last resumed. Once `min_reports` devices have reported:
 * - failed / reported ≥ threshold → HALTED, with the figures as the reason;
 * - otherwise, with auto-advance, when `min_reports` devices reported since the current stage
 *   began → the next stage.
 * Answers what it did (ADVANCED: more devices are offered the release; the caller tells them
 * after commit), or null.
 */
export async function onUpdateReport(m: EntityManager, report: DeviceUpdateReport): Promise<'ADVANCED' | 'HALTED' | null> {
  if (report.status !== 'INSTALLED' && report.status !== 'FAILED') return null;
  const [r]: { stages: number[]; stage: number; failure_threshold: string; min_reports: number; auto_advance: boolean; status: string; stage_started_at: Date; judged_from: Date }[] = await m.query(
    `SELECT stages, stage, failure_threshold, min_reports, auto_advance, status, stage_started_at, judged_from FROM release_rollout WHERE release_id = $1 FOR UPDATE`,
    [report.releaseId],
  );
  if (!r || r.status !== 'ACTIVE') return null;
  const [c]: { installed: number; failed: number; since_stage: number }[] = await m.query(
    `SELECT count(*) FILTER (WHERE status = 'INSTALLED')::int AS installed, count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
            count(*) FILTER (WHERE reported_at >= $2)::int AS since_stage
       FROM (SELECT DISTINCT ON (activation_id) status, reported_at FROM device_update_report
              WHERE release_id = $1 AND status IN ('INSTALLED', 'FAILED') AND reported_at >= $3
              ORDER BY activation_id, reported_at DESC, id DESC) latest`,
    [report.releaseId, r.stage_started_at, r.judged_from],
  );
  const reported = c!.installed + c!.failed;
  const threshold = Number(r.failure_threshold);
  if (reported >= r.min_reports && c!.failed / reported >= threshold) {
    const reason = `${c!.failed} of ${reported} devices reported a failed install (${pct(c!.failed / reported)}), at or above the threshold of ${pct(threshold)}`;
    await m.query(
      `UPDATE release_rollout SET status = 'HALTED', halted_reason = $2, halted_at = now(), installed = $3, failed = $4, updated_at = now() WHERE release_id = $1`,
      [report.releaseId, reason, c!.installed, c!.failed],
    );
    return 'HALTED';
  }
  const advance = r.auto_advance && r.stage < r.stages.length - 1 && reported >= r.min_reports && c!.since_stage >= r.min_reports;
  await m.query(
    `UPDATE release_rollout SET installed = $2, failed = $3, updated_at = now()${advance ? ', stage = stage + 1, stage_started_at = now()' : ''} WHERE release_id = $1`,
    [report.releaseId, c!.installed, c!.failed],
  );
  return advance ? 'ADVANCED' : null;
}

const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;
