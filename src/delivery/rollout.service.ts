import type { EntityManager } from 'typeorm';
import { assertUnscoped } from '../auth/scope';
import type { RequestContext } from '../common/context';
import { badInput, conflict, notFound, type FieldError } from '../common/errors';
import { isUuid } from '../common/ids';
import type { Db } from '../db/db';
import { BUCKET_SQL } from './rollout';
import { DEVICE_GROUP, DEVICE_GROUP_RULE } from './device-groups';
import type { Rollout, StartRolloutInput } from './rollout.types';

interface RolloutRow {
  release_id: string;
  stages: number[];
  stage: number;
  failure_threshold: string;
  min_reports: number;
  auto_advance: boolean;
  status: string;
  groups: string[];
  halted_reason: string | null;
  halted_at: Date | null;
  installed: number;
  failed: number;
  started_at: Date;
  judged_from: Date;
  stage_started_at: Date;
  devices_admitted: number;
  devices_total: number;
}

const SELECT = `
SELECT r.*, d.admitted AS devices_admitted, d.total AS devices_total
  FROM release_rollout r JOIN release rel ON rel.id = r.release_id
  LEFT JOIN LATERAL (
    SELECT count(*)::int AS total, count(*) FILTER (WHERE ${BUCKET_SQL('a.id', 'r.release_id')} < r.stages[r.stage + 1] * 100 OR a.device_group = ANY(r.groups))::int AS admitted
      FROM activation a JOIN entitlement e ON e.id = a.entitlement_id
     WHERE e.product_id = rel.product_id AND a.deactivated_at IS NULL
  ) d ON true
 WHERE r.release_id = $1`;

/** Staged rollouts of releases to devices (docs/delivery.md#staged-rollouts, ADR 0040). */
export class RolloutService {
  constructor(
    private readonly db: Db,
    private readonly notices?: { releaseAvailable(releaseId: string, opts?: { again?: boolean }): void },
  ) {}

  async get(ctx: RequestContext, releaseId: string): Promise<Rollout | null> {
    await this.release(this.db.manager, releaseId);
    const [row] = await this.db.manager.query(SELECT, [releaseId]);
    return row ? toRollout(row) : null;
  }

  async start(ctx: RequestContext, input: StartRolloutInput): Promise<Rollout> {
    assertUnscoped(ctx, 'run rollouts');
    const groups = [...new Set(input.groups ?? [])];
    const stages = input.stages ?? (groups.length ? [0, 10, 50, 100] : [10, 50, 100]);
    const threshold = input.failureThreshold ?? 0.1;
    const minReports = input.minReports ?? 20;
    const problems: FieldError[] = [];
    if (stages.length < 1 || stages.length > 20) problems.push({ path: 'input.stages', message: 'give 1 to 20 stages' });
    // A first stage of 0 % offers the release to the device groups only (a pilot).
    const lowest = (i: number) => (i === 0 && groups.length ? 0 : 1);
    if (stages.some((s, i) => !Number.isInteger(s) || s < lowest(i) || s > 100 || (i > 0 && s <= stages[i - 1]!))) {
      problems.push({ path: 'input.stages', message: groups.length ? 'whole percentages from 0 (the groups only) to 100, each above the one before' : 'whole percentages from 1 to 100, each above the one before (0 only with groups)' });
    }
    if (stages[stages.length - 1] !== 100) problems.push({ path: 'input.stages', message: 'the last stage is 100 (every entitled device)' });
    if (groups.length > 20) problems.push({ path: 'input.groups', message: 'at most 20 device groups' });
    for (const g of groups) if (!DEVICE_GROUP.test(g)) problems.push({ path: 'input.groups', message: `"${g}" is not a device group name (${DEVICE_GROUP_RULE})` });
    if (!(threshold > 0 && threshold <= 1)) problems.push({ path: 'input.failureThreshold', message: 'a share above 0 and at most 1 (0.1 = 10 %)' });
    if (!Number.isInteger(minReports) || minReports < 1 || minReports > 100_000) problems.push({ path: 'input.minReports', message: 'a whole number from 1 to 100,000' });
    if (problems.length) throw badInput('ROLLOUT_INVALID', `The rollout is not valid: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, problems);
    await this.db.tx(ctx, async (tx) => {
      const rel = await this.release(tx.manager, input.release);
      if (rel.status === 'YANKED') throw conflict('RELEASE_YANKED', `Release ${rel.version} was yanked: it is not rolled out`, { release: rel.id });
      const inserted: unknown[] = await tx.manager.query(
        `INSERT INTO release_rollout (release_id, stages, failure_threshold, min_reports, auto_advance, groups) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (release_id) DO NOTHING RETURNING release_id`,
        [rel.id, stages, threshold, minReports, input.autoAdvance ?? true, groups],
      );
      if (inserted.length === 0) throw conflict('ROLLOUT_EXISTS', `Release ${rel.version} already has a rollout: advance, halt or resume it`, { release: rel.id });
      tx.audit({ entity: 'Rollout', entityId: rel.id, action: 'CREATE', after: { stages, groups, failureThreshold: threshold, minReports, autoAdvance: input.autoAdvance ?? true } });
    });
    this.notices?.releaseAvailable(input.release);
    return (await this.get(ctx, input.release))!;
  }

  /** The next stage now (an operator's decision); a halted rollout must be resumed first. */
  async advance(ctx: RequestContext, releaseId: string): Promise<Rollout> {
    return this.change(ctx, releaseId, 'ADVANCE', (r) => {
      if (r.status === 'HALTED') throw conflict('ROLLOUT_HALTED', `The rollout is halted (${r.halted_reason}): resume it first`, { release: releaseId });
      if (r.stage >= r.stages.length - 1) throw conflict('ROLLOUT_AT_LAST_STAGE', 'The rollout already reaches every entitled device (its last stage, 100 %)', { release: releaseId });
      return { sql: `stage = stage + 1, stage_started_at = now()`, params: [] };
    });
  }

  async halt(ctx: RequestContext, releaseId: string, reason: string | null): Promise<Rollout> {
    return this.change(ctx, releaseId, 'HALT', (r) => {
      if (r.status === 'HALTED') return null;
      const why = reason?.trim() || 'halted by an operator';
      if (why.length > 500) throw badInput('ROLLOUT_INVALID', 'reason: at most 500 characters', [{ path: 'reason', message: 'at most 500 characters' }]);
      return { sql: `status = 'HALTED', halted_reason = $2, halted_at = now()`, params: [why] };
    });
  }

  /** Active again; outcomes are judged from now on (the failures that halted it no longer count). */
  async resume(ctx: RequestContext, releaseId: string): Promise<Rollout> {
    return this.change(ctx, releaseId, 'RESUME', (r) => {
      if (r.status === 'ACTIVE') return null;
      return { sql: `status = 'ACTIVE', halted_reason = NULL, halted_at = NULL, judged_from = now(), stage_started_at = now(), installed = 0, failed = 0`, params: [] };
    });
  }

  private async change(ctx: RequestContext, releaseId: string, action: string, decide: (r: RolloutRow) => { sql: string; params: unknown[] } | null): Promise<Rollout> {
    assertUnscoped(ctx, 'run rollouts');
    let changed = false;
    await this.db.tx(ctx, async (tx) => {
      await this.release(tx.manager, releaseId);
      const [r]: RolloutRow[] = await tx.manager.query(`SELECT * FROM release_rollout WHERE release_id = $1 FOR UPDATE`, [releaseId]);
      if (!r) throw notFound('Rollout', releaseId);
      const change = decide(r);
      if (!change) return;
      await tx.manager.query(`UPDATE release_rollout SET ${change.sql}, updated_at = now() WHERE release_id = $1`, [releaseId, ...change.params]);
      tx.audit({ entity: 'Rollout', entityId: releaseId, action, before: { status: r.status, stage: r.stage }, after: { params: change.params } });
      changed = true;
    });
    // More devices may be offered the release now: tell them (MQTT, when configured).
    // A resumed rollout tells again the devices told before it was halted: they may go ahead now.
    if (changed && action !== 'HALT') this.notices?.releaseAvailable(releaseId, { again: action === 'RESUME' });
    return (await this.get(ctx, releaseId))!;
  }

  private async release(m: EntityManager, id: string): Promise<{ id: string; version: string; status: string }> {
    if (!isUuid(id)) throw notFound('Release', id);
    const [rel] = await m.query(`SELECT id, version, status FROM release WHERE id = $1`, [id]);
    if (!rel) throw notFound('Release', id);
    return rel;
  }
}

function toRollout(r: RolloutRow): Rollout {
  return {
    releaseId: r.release_id,
    stages: r.stages,
    groups: r.groups ?? [],
    stage: r.stage,
    percent: r.stages[r.stage]!,
    status: r.status as Rollout['status'],
    failureThreshold: Number(r.failure_threshold),
    minReports: r.min_reports,
    autoAdvance: r.auto_advance,
    haltedReason: r.halted_reason,
    haltedAt: r.halted_at,
    installed: r.installed,
    failed: r.failed,
    startedAt: r.started_at,
    stageStartedAt: r.stage_started_at,
    devicesAdmitted: r.devices_admitted ?? 0,
    devicesTotal: r.devices_total ?? 0,
  };
}
