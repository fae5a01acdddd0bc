import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { assertAccountVisible } from '../auth/scope';
import type { RequestContext } from '../common/context';
import { AppError, badInput, notFound } from '../common/errors';
import { isUuid } from '../common/ids';
import type { Db } from '../db/db';
import { parseHealthConfig, scoreBand, scoreHealth, type Band, type HealthConfig, type MeasureScore } from './health.rules';
import { readHealthInputs, type OverdueReader } from './health.sql';

/** An account's stored health: the computed score and, beside it, a person's override. */
export interface AccountHealthView {
  accountId: string;
  score: number;
  band: Band;
  coverage: number;
  measures: MeasureScore[];
  computedAt: Date;
  override: HealthOverrideView | null;
  /** The override's score while it lasts, else the computed one: what the CRM is sent. */
  effectiveScore: number;
  effectiveBand: Band;
}

export interface HealthOverrideView {
  score: number;
  reason: string;
  expiresAt: Date;
  setByKeyId: string | null;
  createdAt: Date;
}

export interface HealthHistoryPoint {
  day: string;
  score: number;
  band: Band;
  coverage: number;
  overrideScore: number | null;
}

export interface HealthRunSummary {
  accounts: number;
  scored: number;
  /** Accounts with no data for any measure: no score. */
  noData: number;
  /** Scores whose value or band changed (these re-send the CRM fields). */
  changed: number;
}

const BATCH = 500;
const MAX_OVERRIDE_DAYS = 366;

interface HealthRow {
  account_id: string;
  score: string;
  band: Band;
  coverage: string;
  measures: MeasureScore[];
  computed_at: Date;
  o_score: number | null;
  o_reason: string | null;
  o_expires_at: Date | null;
  o_set_by_key_id: string | null;
  o_created_at: Date | null;
}

/**
 * Computes, stores and explains each account's health score (docs/health.md, ADR 0031).
 * The nightly job scores every account in batches (a fixed number of statements per batch);
 * `recompute` scores one on demand. A day's history row holds the day's last score.
 */
export class HealthService {
  readonly config: HealthConfig;
  private readonly configHash: string;
  private readonly timeZone: string;
  /** Overdue receivables from the ERP connector's receivables, when that domain provides them. */
  private overdue: OverdueReader | null = null;

  constructor(
    private readonly db: Db,
    settings: { EHUB_TIME_ZONE: string; EHUB_HEALTH_CONFIG?: string | undefined },
  ) {
    this.config = parseHealthConfig(settings.EHUB_HEALTH_CONFIG);
    this.configHash = createHash('sha256').update(JSON.stringify(this.config)).digest('hex').slice(0, 16);
    this.timeZone = settings.EHUB_TIME_ZONE;
  }

  /** Lets the receivables domain feed the overdue measure (wired in services.ts). */
  useOverdueReader(reader: OverdueReader): void {
    this.overdue = reader;
  }

  /** Scores one account now; HEALTH_NO_DATA when no measure has data (nothing is stored then). */
  async recompute(ctx: RequestContext, accountId: string, at = new Date()): Promise<AccountHealthView> {
    await this.assertAccount(ctx, accountId);
    const r = await this.scoreBatch(ctx, [accountId], at);
    if (r.scored === 0) {
      throw new AppError('BAD_USER_INPUT', 'HEALTH_NO_DATA', `Account ${accountId} has nothing to score yet: no entitlement, usage, receivable or finding`, { accountId });
    }
    return (await this.healthOf([accountId], at)).get(accountId)!;
  }

  /** Scores every account (the scheduled job), in batches, stopping between batches when aborted. */
  async recomputeAll(ctx: RequestContext, signal?: AbortSignal, at = new Date()): Promise<HealthRunSummary> {
    const total: HealthRunSummary = { accounts: 0, scored: 0, noData: 0, changed: 0 };
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      if (signal?.aborted) break;
      const ids: { id: string }[] = await this.db.manager.query(`SELECT id FROM account WHERE id > $1 ORDER BY id LIMIT $2`, [after, BATCH]);
      if (ids.length === 0) break;
      after = ids[ids.length - 1]!.id;
      const r = await this.scoreBatch(ctx, ids.map((i) => i.id), at);
      total.accounts += r.accounts;
      total.scored += r.scored;
      total.noData += r.noData;
      total.changed += r.changed;
    }
    return total;
  }

  private async scoreBatch(ctx: RequestContext, accountIds: string[], at: Date): Promise<HealthRunSummary> {
    return this.db.tx(ctx, async (tx) => {
      const inputs = await readHealthInputs(tx.manager, accountIds, at, this.timeZone, this.overdue);
      const scored: { id: string; score: number; band: Band; coverage: number; measures: MeasureScore[] }[] = [];
      for (const id of accountIds) {
        const i = inputs.get(id);
        if (!i) continue;
        const r = scoreHealth(i, this.config);
        if (r.score !== null && r.band !== null) scored.push({ id, score: r.score, band: r.band, coverage: r.coverage, measures: r.measures });
      }
      if (scored.length === 0) return { accounts: accountIds.length, scored: 0, noData: accountIds.length, changed: 0 };
      // The stored scores first, locked (a CTE's FOR UPDATE skips rows the same statement's
      // upsert already changed, so it cannot say what changed); then one upsert.
      const before: { account_id: string; score: string; band: string }[] = await tx.manager.query(
        `SELECT account_id, score::text, band FROM account_health WHERE account_id = ANY($1::uuid[]) ORDER BY account_id FOR UPDATE`,
        [scored.map((x) => x.id)],
      );
      const beforeBy = new Map(before.map((b) => [b.account_id, b]));
      const stored: { account_id: string; score: string; band: string }[] = await tx.manager.query(
        `INSERT INTO account_health AS h (account_id, score, band, coverage, measures, config_hash, computed_at)
         SELECT s.id, s.score, s.band, s.coverage, s.measures, $2, $3
           FROM jsonb_to_recordset($1::jsonb) AS s(id uuid, score numeric, band text, coverage numeric, measures jsonb) ORDER BY s.id
         ON CONFLICT (account_id) DO UPDATE SET score = EXCLUDED.score, band = EXCLUDED.band, coverage = EXCLUDED.coverage,
           measures = EXCLUDED.measures, config_hash = EXCLUDED.config_hash, computed_at = EXCLUDED.computed_at
         RETURNING h.account_id, h.score::text, h.band`,
        [JSON.stringify(scored), this.configHash, at],
      );
      const changed = stored.filter((r) => {
        const b = beforeBy.get(r.account_id);
        return !b || Number(b.score) !== Number(r.score) || b.band !== r.band;
      });
      await tx.manager.query(
        `INSERT INTO account_health_history AS hh (account_id, day, score, band, coverage, override_score, computed_at)
         SELECT h.account_id, ($2::timestamptz AT TIME ZONE $3)::date, h.score, h.band, h.coverage,
                (SELECT o.score FROM account_health_override o WHERE o.account_id = h.account_id AND o.expires_at > $2), h.computed_at
           FROM account_health h WHERE h.account_id = ANY($1::uuid[]) ORDER BY h.account_id
         ON CONFLICT (account_id, day) DO UPDATE SET score = EXCLUDED.score, band = EXCLUDED.band, coverage = EXCLUDED.coverage,
           override_score = EXCLUDED.override_score, computed_at = EXCLUDED.computed_at`,
        [scored.map((s) => s.id), at, this.timeZone],
      );
      if (changed.length) tx.publish({ kind: 'health.changed', accountIds: changed.map((c) => c.account_id) });
      return { accounts: accountIds.length, scored: scored.length, noData: accountIds.length - scored.length, changed: changed.length };
    });
  }

  /** Stored health of these accounts (the loader's batch); missing = never scored. */
  async healthOf(accountIds: readonly string[], at = new Date(), m: EntityManager = this.db.manager): Promise<Map<string, AccountHealthView>> {
    const rows: HealthRow[] = await m.query(
      `SELECT h.account_id, h.score, h.band, h.coverage, h.measures, h.computed_at,
              o.score AS o_score, o.reason AS o_reason, o.expires_at AS o_expires_at, o.set_by_key_id AS o_set_by_key_id, o.created_at AS o_created_at
         FROM account_health h
         LEFT JOIN account_health_override o ON o.account_id = h.account_id AND o.expires_at > $2
        WHERE h.account_id = ANY($1::uuid[])`,
      [[...accountIds], at],
    );
    return new Map(rows.map((r) => [r.account_id, this.view(r)]));
  }

  private view(r: HealthRow): AccountHealthView {
    const score = Number(r.score);
    const override: HealthOverrideView | null =
      r.o_score === null ? null : { score: r.o_score, reason: r.o_reason!, expiresAt: r.o_expires_at!, setByKeyId: r.o_set_by_key_id, createdAt: r.o_created_at! };
    const effectiveScore = override ? override.score : score;
    return {
      accountId: r.account_id,
      score,
      band: r.band,
      coverage: Number(r.coverage),
      measures: r.measures,
      computedAt: r.computed_at,
      override,
      effectiveScore,
      effectiveBand: override ? scoreBand(effectiveScore, this.config) : r.band,
    };
  }

  /** Daily history, oldest first, within [from, to] (YYYY-MM-DD), at most 3 years. */
  async history(ctx: RequestContext, accountId: string, from: string, to: string): Promise<HealthHistoryPoint[]> {
    const errors = [
      ...(/^\d{4}-\d{2}-\d{2}$/.test(from) && !Number.isNaN(Date.parse(from)) ? [] : [{ path: 'from', message: 'must be a date, YYYY-MM-DD' }]),
      ...(/^\d{4}-\d{2}-\d{2}$/.test(to) && !Number.isNaN(Date.parse(to)) ? [] : [{ path: 'to', message: 'must be a date, YYYY-MM-DD' }]),
    ];
    if (errors.length) throw badInput('HEALTH_HISTORY_RANGE', 'from and to must be dates (YYYY-MM-DD)', errors);
    if (from > to) throw badInput('HEALTH_HISTORY_RANGE', 'from must not be after to', [{ path: 'from', message: 'after to' }]);
    if (Date.parse(to) - Date.parse(from) > 1100 * 86_400_000) throw badInput('HEALTH_HISTORY_RANGE', 'At most about three years (1,100 days) at a time', [{ path: 'to', message: 'range too long' }]);
    await this.assertAccount(ctx, accountId);
    const rows: { day: string; score: string; band: Band; coverage: string; override_score: number | null }[] = await this.db.manager.query(
      `SELECT day::text AS day, score, band, coverage, override_score FROM account_health_history
        WHERE account_id = $1 AND day BETWEEN $2::date AND $3::date ORDER BY day`,
      [accountId, from, to],
    );
    return rows.map((r) => ({ day: r.day, score: Number(r.score), band: r.band, coverage: Number(r.coverage), overrideScore: r.override_score }));
  }

  /**
   * A person's score for an account, with a reason and an expiry (at most a year): stored
   * beside the computed score, which goes on being computed. Replaces an earlier override.
   */
  async setOverride(ctx: RequestContext, accountId: string, score: number, reason: string, expiresAt: Date): Promise<AccountHealthView> {
    const text = reason?.trim() ?? '';
    const errors = [
      ...(Number.isInteger(score) && score >= 0 && score <= 100 ? [] : [{ path: 'score', message: 'must be a whole number from 0 to 100' }]),
      ...(text.length >= 1 && text.length <= 1000 ? [] : [{ path: 'reason', message: 'must say why, in 1 to 1000 characters' }]),
      ...(expiresAt instanceof Date && !Number.isNaN(expiresAt.getTime()) && expiresAt.getTime() > Date.now() && expiresAt.getTime() <= Date.now() + MAX_OVERRIDE_DAYS * 86_400_000
        ? []
        : [{ path: 'expiresAt', message: `must be in the future and within ${MAX_OVERRIDE_DAYS} days` }]),
    ];
    if (errors.length) {
      const code = errors[0]!.path === 'score' ? 'HEALTH_OVERRIDE_OUT_OF_RANGE' : errors[0]!.path === 'reason' ? 'HEALTH_OVERRIDE_REASON' : 'HEALTH_OVERRIDE_EXPIRY';
      throw badInput(code, 'The health override is not valid', errors);
    }
    await this.assertAccount(ctx, accountId);
    await this.db.tx(ctx, async (tx) => {
      const [h] = await tx.manager.query(`SELECT 1 FROM account_health WHERE account_id = $1`, [accountId]);
      if (!h) throw new AppError('BAD_USER_INPUT', 'HEALTH_NO_DATA', `Account ${accountId} has no computed health score to override yet; recompute it first`, { accountId });
      const [before] = await tx.manager.query(`SELECT * FROM account_health_override WHERE account_id = $1 FOR UPDATE`, [accountId]);
      const [after] = await tx.manager.query(
        `INSERT INTO account_health_override (account_id, score, reason, expires_at, set_by_key_id, created_at) VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (account_id) DO UPDATE SET score = EXCLUDED.score, reason = EXCLUDED.reason, expires_at = EXCLUDED.expires_at,
           set_by_key_id = EXCLUDED.set_by_key_id, created_at = EXCLUDED.created_at
         RETURNING *`,
        [accountId, score, text, expiresAt, ctx.principal?.keyId ?? null],
      );
      tx.audit({ entity: 'AccountHealthOverride', entityId: accountId, action: before ? 'UPDATE' : 'CREATE', before: before ?? null, after });
      tx.publish({ kind: 'health.changed', accountIds: [accountId] });
    });
    return (await this.healthOf([accountId])).get(accountId)!;
  }

  /** Removes an account's override (the computed score is sent again). Idempotent. */
  async clearOverride(ctx: RequestContext, accountId: string): Promise<AccountHealthView | null> {
    await this.assertAccount(ctx, accountId);
    await this.db.tx(ctx, async (tx) => {
      // DELETE answers [rows, count] through TypeORM.
      const [deleted] = await tx.manager.query(`DELETE FROM account_health_override WHERE account_id = $1 RETURNING *`, [accountId]);
      const before = (deleted as Record<string, unknown>[])[0];
      if (!before) return;
      tx.audit({ entity: 'AccountHealthOverride', entityId: accountId, action: 'DELETE', before, after: null });
      tx.publish({ kind: 'health.changed', accountIds: [accountId] });
    });
    return (await this.healthOf([accountId])).get(accountId) ?? null;
  }

  private async assertAccount(ctx: RequestContext, accountId: string): Promise<void> {
    if (!isUuid(accountId)) throw notFound('Account', accountId);
    assertAccountVisible(ctx, accountId);
    const [row] = await this.db.manager.query(`SELECT 1 FROM account WHERE id = $1`, [accountId]);
    if (!row) throw notFound('Account', accountId);
  }
}
