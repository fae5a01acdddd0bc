import type { EntityManager } from 'typeorm';
import type { Config } from '../config';
import type { RequestContext } from '../common/context';
import { badInput, notFound } from '../common/errors';
import { paginate, type Connection } from '../common/pagination';
import type { Db, Tx } from '../db/db';
import { accountScope, assertAccountVisible, assertRecordVisible } from '../auth/scope';
import { isUuid } from '../common/ids';
import { ComplianceFinding, Notification } from './compliance.entities';
import { FindingKind, FindingStatus, NotificationType } from './compliance.enums';
import {
  capOveruseSql,
  concurrentOveruseSql,
  consumableOveruseSql,
  consumablePeriodsSql,
  consumptionThresholdsSql,
  deviceOverLimitSql,
  expiryThresholdsSql,
  isoSql,
  namedUserOveruseSql,
  overageNotificationsSql,
  underuseSql,
  unentitledUseSql,
} from './compliance.sql';
import type { ComplianceFindingListArgs, ComplianceFindingPage, ComplianceRunSummary, NotificationListArgs, NotificationsRaised } from './compliance.types';

/** Advisory-lock class of compliance runs (the second key is a hash of the account id). */
const RUN_LOCK_CLASS = 0x436f6d70; // "Comp"
const DAY_MS = 86_400_000;
/**
 * Consumption thresholds are raised for the current period and for periods that ended at
 * most this long ago (late events can still push last month over 100 %); older periods
 * are too late to act on, and a first run after an upgrade must not replay a year of them.
 */
const THRESHOLD_LATE_DAYS = 35;

/** A finding as a rule query proposes it (decimals and minor units as text). */
interface Candidate {
  kind: FindingKind;
  entitlement_id: string | null;
  feature_key: string | null;
  meter_id: string | null;
  meter_key: string | null;
  period_start: Date;
  period_end: Date | null;
  unit: string;
  entitled: string | null;
  used: string;
  over: string;
  utilization: string | null;
  leakage_minor: string | null;
  currency: string | null;
  pricing: Record<string, unknown> | null;
}

/** A period of a METERED / USAGE / OUTCOME feature with its use (see consumablePeriodsSql). */
interface PeriodUsage {
  accountId: string;
  entitlementId: string;
  featureKey: string;
  periodStart: Date;
  periodEnd: Date | null;
  entitled: string | null;
  used: string;
}

/** A notification row just inserted, to hand to the webhooks. */
interface RaisedRow {
  id: string;
  type: string;
  key: string;
  accountId: string;
  superseded: boolean;
  payload: Record<string, unknown>;
}

/** Options of a run; `now` lets tests and back-fills evaluate at another instant. */
export interface RunOptions {
  now?: Date;
}

const keyOf = (c: Pick<Candidate, 'kind' | 'entitlement_id' | 'feature_key' | 'meter_id' | 'period_start'>) =>
  [c.kind, c.entitlement_id ?? '', c.feature_key ?? '', c.meter_id ?? '', new Date(c.period_start).toISOString()].join('|');

/**
 * Compliance findings (overuse, shelfware, unentitled and expired use, devices over the
 * limit) with estimated revenue leakage, and the notifications of thresholds, expiry,
 * overage and new findings, handed to the webhooks in the same transaction.
 *
 * A run is per account, in one transaction under an advisory lock on the account (the
 * nightly job and `runCompliance` never interleave): every rule is one set-based statement
 * over the account's rows; the findings are upserted on their deduplication key (kind,
 * account, entitlement, feature, meter, period), so a re-run updates quantities instead of
 * adding rows; findings the run no longer finds are resolved (and reopened if they return).
 */
export class ComplianceService {
  constructor(
    readonly db: Db,
    readonly config: Config,
  ) {}

  // ------------------------------------------------------------------ runs

  /** `runCompliance(accountId)`: one account, now. */
  async runCompliance(ctx: RequestContext, accountId: string, opts: RunOptions = {}): Promise<ComplianceRunSummary> {
    if (!isUuid(accountId)) throw notFound('Account', accountId);
    assertAccountVisible(ctx, accountId);
    return this.runForAccount(ctx, accountId, opts);
  }

  /** The nightly job: every account, one transaction each, stopping between accounts when aborted. */
  async runAll(ctx: RequestContext, signal?: AbortSignal, opts: RunOptions = {}): Promise<{ accounts: number; opened: number; resolved: number; notificationsRaised: number }> {
    const ids: { id: string }[] = await this.db.manager.query(`SELECT id FROM account ORDER BY id`);
    const total = { accounts: 0, opened: 0, resolved: 0, notificationsRaised: 0 };
    for (const { id } of ids) {
      if (signal?.aborted) break;
      const s = await this.runForAccount(ctx, id, opts);
      total.accounts++;
      total.opened += s.opened;
      total.resolved += s.resolved;
      total.notificationsRaised += s.notificationsRaised;
    }
    return total;
  }

  private async runForAccount(ctx: RequestContext, accountId: string, opts: RunOptions): Promise<ComplianceRunSummary> {
    const now = opts.now ?? new Date();
    const tz = this.config.EHUB_TIME_ZONE;
    const lookback = new Date(now.getTime() - this.config.EHUB_COMPLIANCE_LOOKBACK_DAYS * DAY_MS);
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      await m.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [RUN_LOCK_CLASS, accountId]);
      const [account] = await m.query('SELECT 1 FROM account WHERE id = $1', [accountId]);
      if (!account) throw notFound('Account', accountId);

      const periods: PeriodUsage[] = await m.query(consumablePeriodsSql('lookback'), [accountId, tz, now, lookback]);
      const byAccount = [accountId, tz, lookback];
      const underuse: (Candidate & { underused: boolean })[] = await m.query(underuseSql, [
        accountId,
        now,
        this.config.EHUB_UNDERUSE_DAYS,
        this.config.EHUB_UNDERUSE_THRESHOLD,
      ]);
      const candidates: Candidate[] = dedupe([
        ...(periods.length ? await m.query(consumableOveruseSql, [JSON.stringify(periods)]) : []),
        ...(await m.query(capOveruseSql, byAccount)),
        ...(await m.query(namedUserOveruseSql, byAccount)),
        ...(await m.query(concurrentOveruseSql, byAccount)),
        ...(await m.query(deviceOverLimitSql, [accountId, tz, now])),
        ...(await m.query(unentitledUseSql, byAccount)),
        ...underuse.filter((u) => u.underused).map(({ underused: _, ...c }) => c),
      ]);

      const upserted = await this.upsertFindings(m, accountId, candidates, now);
      const resolved = await this.resolveMissing(m, accountId, candidates, underuse, now, lookback);
      const opened = upserted.filter((u) => u.inserted).map((u) => u.id);
      const raised = [
        ...(await this.findingNotifications(m, opened)),
        ...(await this.raiseThresholds(m, { accountId, now, periods })),
      ];
      this.deliver(tx, raised);
      // The overuse flag and leakage estimate in the CRM follow the findings.
      // A re-measured or reopened finding may also be a true-up deal to update (findingIds).
      const touched = upserted.filter((u) => u.inserted || u.changed || u.reopened).map((u) => u.id);
      if (touched.length + resolved.length > 0) tx.publish({ kind: 'findings.changed', accountId, findingIds: touched });

      const summary: ComplianceRunSummary = {
        accountId,
        ranAt: now,
        opened: opened.length,
        updated: upserted.filter((u) => !u.inserted && u.changed).length,
        unchanged: upserted.filter((u) => !u.inserted && !u.changed && !u.reopened).length,
        reopened: upserted.filter((u) => u.reopened).length,
        resolved: resolved.length,
        notificationsRaised: raised.filter((r) => !r.superseded).length,
        findings: [],
      };
      if (summary.opened + summary.updated + summary.reopened + summary.resolved + raised.length > 0) {
        tx.audit({
          entity: 'ComplianceRun',
          entityId: accountId,
          action: 'RUN',
          after: {
            ...summary,
            findings: undefined,
            openedIds: opened,
            updatedIds: upserted.filter((u) => !u.inserted && (u.changed || u.reopened)).map((u) => u.id),
            resolvedIds: resolved,
            notificationKeys: raised.map((r) => r.key),
          },
        });
      }
      const ids = upserted.map((u) => u.id);
      summary.findings = ids.length
        ? await m.createQueryBuilder(ComplianceFinding, 'f').where('f.id = ANY(:ids)', { ids }).orderBy('f.kind').addOrderBy('f.periodStart').addOrderBy('f.id').getMany()
        : [];
      return summary;
    });
  }

  /**
   * Upserts candidates on the deduplication key. New rows are OPEN; existing ones get the
   * new quantities and `last_seen_at` but keep a person's status; one the run itself had
   * resolved is reopened. `changed` compares the quantities before the statement.
   */
  private async upsertFindings(
    m: EntityManager,
    accountId: string,
    candidates: Candidate[],
    now: Date,
  ): Promise<{ id: string; inserted: boolean; changed: boolean; reopened: boolean }[]> {
    if (candidates.length === 0) return [];
    const measured = `(f.period_end, f.unit, f.entitled, f.used, f.over, f.utilization, f.leakage_minor, f.currency)`;
    const reopen = `(f.status = 'RESOLVED' AND f.auto_resolved)`;
    return m.query(
      `WITH c AS (
         SELECT * FROM jsonb_to_recordset($2::jsonb) AS c(kind text, entitlement_id uuid, feature_key text, meter_id uuid, meter_key text,
           period_start timestamptz, period_end timestamptz, unit text, entitled numeric, used numeric, over numeric, utilization numeric,
           leakage_minor bigint, currency text, pricing jsonb)
       ),
       old AS (
         SELECT f.id, ${reopen} AS reopened,
                ${measured} IS DISTINCT FROM (c.period_end, c.unit, c.entitled, c.used, c.over, c.utilization, c.leakage_minor, c.currency) AS changed
           FROM c JOIN compliance_finding f
             ON f.account_id = $1 AND f.kind = c.kind AND f.entitlement_id IS NOT DISTINCT FROM c.entitlement_id
            AND f.feature_key IS NOT DISTINCT FROM c.feature_key AND f.meter_id IS NOT DISTINCT FROM c.meter_id AND f.period_start = c.period_start
       ),
       up AS (
         INSERT INTO compliance_finding AS f (kind, account_id, entitlement_id, feature_key, meter_id, meter_key, period_start, period_end, unit,
                entitled, used, over, utilization, leakage_minor, currency, pricing, first_seen_at, last_seen_at, created_at, updated_at)
         SELECT c.kind, $1, c.entitlement_id, c.feature_key, c.meter_id, c.meter_key, c.period_start, c.period_end, c.unit,
                c.entitled, c.used, c.over, c.utilization, c.leakage_minor, c.currency, c.pricing, $3, $3, $3, $3
           FROM c
         ON CONFLICT ON CONSTRAINT compliance_finding_dedup DO UPDATE SET
           period_end = EXCLUDED.period_end, meter_key = EXCLUDED.meter_key, unit = EXCLUDED.unit, entitled = EXCLUDED.entitled,
           used = EXCLUDED.used, over = EXCLUDED.over, utilization = EXCLUDED.utilization, leakage_minor = EXCLUDED.leakage_minor,
           currency = EXCLUDED.currency, pricing = EXCLUDED.pricing, last_seen_at = EXCLUDED.last_seen_at,
           updated_at = CASE WHEN ${measured} IS DISTINCT FROM (EXCLUDED.period_end, EXCLUDED.unit, EXCLUDED.entitled, EXCLUDED.used, EXCLUDED.over,
                                   EXCLUDED.utilization, EXCLUDED.leakage_minor, EXCLUDED.currency) OR ${reopen}
                             THEN EXCLUDED.updated_at ELSE f.updated_at END,
           status = CASE WHEN ${reopen} THEN 'OPEN' ELSE f.status END,
           status_note = CASE WHEN ${reopen} THEN 'Reopened by the compliance run: the condition is back' ELSE f.status_note END,
           status_changed_at = CASE WHEN ${reopen} THEN EXCLUDED.updated_at ELSE f.status_changed_at END,
           status_changed_by_key_id = CASE WHEN ${reopen} THEN NULL ELSE f.status_changed_by_key_id END,
           auto_resolved = false
         RETURNING f.id, (f.xmax = 0) AS inserted
       )
       SELECT up.id, up.inserted, coalesce(old.changed, false) AS changed, coalesce(old.reopened, false) AS reopened
         FROM up LEFT JOIN old ON old.id = up.id`,
      [accountId, JSON.stringify(candidates), now],
    );
  }

  /**
   * Resolves open findings the run evaluated but no longer found: OVERUSE, UNENTITLED_USE
   * and EXPIRED_USE of months from the lookback on, UNDERUSE of the windows judged this run,
   * DEVICE_OVER_LIMIT of entitlements now within their limit.
   */
  private async resolveMissing(
    m: EntityManager,
    accountId: string,
    candidates: Candidate[],
    judgedWindows: Candidate[],
    now: Date,
    lookback: Date,
  ): Promise<string[]> {
    const rows: { id: string }[] = await m.query(
      `WITH c AS (
         SELECT * FROM jsonb_to_recordset($2::jsonb) AS c(kind text, entitlement_id uuid, feature_key text, meter_id uuid, period_start timestamptz)
       ),
       judged AS (SELECT * FROM jsonb_to_recordset($3::jsonb) AS j(entitlement_id uuid, period_start timestamptz))
       UPDATE compliance_finding f
          SET status = 'RESOLVED', auto_resolved = true, status_changed_at = $4, status_changed_by_key_id = NULL,
              status_note = 'Resolved by the compliance run: the condition no longer holds', updated_at = $4
        WHERE f.account_id = $1 AND f.status <> 'RESOLVED'
          AND ((f.kind IN ('OVERUSE','UNENTITLED_USE','EXPIRED_USE')
                AND f.period_start >= date_trunc('month', $5::timestamptz AT TIME ZONE $6::text) AT TIME ZONE $6::text
                AND NOT EXISTS (SELECT 1 FROM c WHERE c.kind = f.kind AND c.entitlement_id IS NOT DISTINCT FROM f.entitlement_id
                                  AND c.feature_key IS NOT DISTINCT FROM f.feature_key AND c.meter_id IS NOT DISTINCT FROM f.meter_id
                                  AND c.period_start = f.period_start))
            OR (f.kind = 'UNDERUSE'
                AND EXISTS (SELECT 1 FROM judged j WHERE j.entitlement_id = f.entitlement_id AND j.period_start = f.period_start)
                AND NOT EXISTS (SELECT 1 FROM c WHERE c.kind = 'UNDERUSE' AND c.entitlement_id = f.entitlement_id
                                  AND c.feature_key IS NOT DISTINCT FROM f.feature_key AND c.period_start = f.period_start))
            OR (f.kind = 'DEVICE_OVER_LIMIT'
                AND NOT EXISTS (SELECT 1 FROM c WHERE c.kind = 'DEVICE_OVER_LIMIT' AND c.entitlement_id = f.entitlement_id)))
        RETURNING f.id`,
      [
        accountId,
        JSON.stringify(candidates.map((c) => ({ kind: c.kind, entitlement_id: c.entitlement_id, feature_key: c.feature_key, meter_id: c.meter_id, period_start: c.period_start }))),
        JSON.stringify(judgedWindows.map((j) => ({ entitlement_id: j.entitlement_id, period_start: j.period_start }))),
        now,
        lookback,
        this.config.EHUB_TIME_ZONE,
      ],
    );
    // TypeORM answers an UPDATE ... RETURNING with [rows, affectedCount].
    const list = Array.isArray(rows[0]) ? (rows[0] as unknown as { id: string }[]) : rows;
    return list.map((r) => r.id);
  }

  // ------------------------------------------------------------------ notifications

  /**
   * The threshold job: consumption thresholds of current periods, expiry thresholds and
   * overage not yet notified, for one account or all, in one transaction.
   */
  /**
   * Records that one deal came from two sources (DUPLICATE_SOURCE): opened once per deal —
   * `dealKey` names the pair of copies the same way whichever arrived first — and left as it
   * is when it already exists (a rerun opens nothing). Leakage 0: the hub granted the deal
   * once. Returns whether a finding was opened.
   */
  async recordDuplicateSource(
    ctx: RequestContext,
    f: { accountId: string; dealKey: string; orderDate: string; currency: string; details: Record<string, unknown> },
  ): Promise<boolean> {
    return this.db.tx(ctx, async (tx) => {
      // Two pulls meeting the same deal at once open it once.
      await tx.manager.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [RUN_LOCK_CLASS, f.dealKey]);
      const [existing] = await tx.manager.query(`SELECT id FROM compliance_finding WHERE kind = 'DUPLICATE_SOURCE' AND feature_key = $1`, [f.dealKey]);
      if (existing) return false;
      await tx.manager.query(
        `INSERT INTO compliance_finding (kind, account_id, feature_key, period_start, unit, used, over, leakage_minor, currency, details, status)
         VALUES ('DUPLICATE_SOURCE', $1, $2, $3::date, 'orders', 2, 1, 0, $4, $5::jsonb, 'OPEN')
         ON CONFLICT ON CONSTRAINT compliance_finding_dedup DO NOTHING`,
        [f.accountId, f.dealKey, f.orderDate, f.currency, JSON.stringify(f.details)],
      );
      tx.publish({ kind: 'findings.changed', accountId: f.accountId });
      return true;
    });
  }

  async raiseNotifications(ctx: RequestContext, opts: { accountId?: string | null; now?: Date } = {}): Promise<NotificationsRaised> {
    const now = opts.now ?? new Date();
    const accountId = opts.accountId ?? null;
    return this.db.tx(ctx, async (tx) => {
      const periods: PeriodUsage[] = await tx.manager.query(consumablePeriodsSql('current'), [accountId, this.config.EHUB_TIME_ZONE, now]);
      const raised = await this.raiseThresholds(tx.manager, { accountId, now, periods });
      this.deliver(tx, raised);
      auditRaised(tx, raised);
      return countRaised(raised);
    });
  }

  /** Consumption thresholds of the given period rows, then expiry and overage. */
  private async raiseThresholds(m: EntityManager, opts: { accountId: string | null; now: Date; periods: PeriodUsage[] }): Promise<RaisedRow[]> {
    const lookback = new Date(opts.now.getTime() - this.config.EHUB_COMPLIANCE_LOOKBACK_DAYS * DAY_MS);
    const lateLimit = opts.now.getTime() - THRESHOLD_LATE_DAYS * DAY_MS;
    const withLimit = opts.periods.filter(
      (p) => p.entitled !== null && Number(p.entitled) > 0 && (p.periodEnd === null || new Date(p.periodEnd).getTime() > lateLimit),
    );
    return [
      ...(withLimit.length ? await m.query(consumptionThresholdsSql, [JSON.stringify(withLimit), this.config.EHUB_CONSUMPTION_THRESHOLDS]) : []),
      ...(await m.query(expiryThresholdsSql, [opts.accountId, this.config.EHUB_EXPIRY_THRESHOLDS_DAYS, opts.now])),
      ...(await m.query(overageNotificationsSql, [opts.accountId, lookback])),
    ];
  }

  /** One `compliance.finding` notification per new finding. */
  private async findingNotifications(m: EntityManager, ids: string[]): Promise<RaisedRow[]> {
    if (ids.length === 0) return [];
    return m.query(
      `INSERT INTO notification (account_id, type, key, entitlement_id, feature_key, period_start, period_end, payload)
       SELECT f.account_id, 'compliance.finding', 'compliance.finding:' || f.id, f.entitlement_id, f.feature_key, f.period_start, f.period_end,
              jsonb_build_object('findingId', f.id, 'accountId', f.account_id, 'kind', f.kind, 'entitlementId', f.entitlement_id,
                'feature', f.feature_key, 'meter', f.meter_key, 'periodStart', ${isoSql('f.period_start')}, 'periodEnd', ${isoSql('f.period_end')}, 'unit', f.unit,
                'entitled', trim_scale(f.entitled)::text, 'used', trim_scale(f.used)::text, 'over', trim_scale(f.over)::text,
                'utilization', trim_scale(f.utilization)::text,
                'leakage', CASE WHEN f.leakage_minor IS NULL THEN NULL
                                ELSE jsonb_build_object('amountMinor', f.leakage_minor::text, 'currency', f.currency) END,
                'status', f.status)
         FROM compliance_finding f WHERE f.id = ANY($1::uuid[])
        ORDER BY f.kind, f.period_start, f.id
       ON CONFLICT (key) DO NOTHING
       RETURNING id, type, key, account_id AS "accountId", superseded, payload`,
      [ids],
    );
  }

  /** Publishes every notification that is not superseded, for the webhooks to deliver (in the caller's transaction). */
  private deliver(tx: Tx, raised: RaisedRow[]): void {
    for (const r of raised) {
      if (r.superseded) continue;
      tx.publish({ kind: 'notification.raised', notificationId: r.id, eventType: r.type, key: r.key, accountId: r.accountId, payload: r.payload });
    }
  }

  // ------------------------------------------------------------------ queries and status

  async listFindings(ctx: RequestContext, args: ComplianceFindingListArgs): Promise<ComplianceFindingPage> {
    const f = args.filter ?? {};
    if (f.from && f.to && f.from.getTime() >= f.to.getTime()) {
      throw badInput('COMPLIANCE_RANGE_INVALID', '`from` must be before `to`', [{ path: 'filter.to', message: 'must be after filter.from' }]);
    }
    const qb = this.db.manager.createQueryBuilder(ComplianceFinding, 'f');
    const scope = accountScope(ctx);
    if (scope) {
      if (f.accountId && f.accountId !== scope) throw notFound('Account', f.accountId);
      qb.andWhere('f.accountId = :scope', { scope });
    }
    if (f.accountId) qb.andWhere('f.accountId = :accountId', { accountId: f.accountId });
    if (f.entitlementId) qb.andWhere('f.entitlementId = :entitlementId', { entitlementId: f.entitlementId });
    if (f.kind) qb.andWhere('f.kind = :kind', { kind: f.kind });
    if (f.status) qb.andWhere('f.status = :status', { status: f.status });
    if (f.featureKey) qb.andWhere('f.featureKey = :featureKey', { featureKey: f.featureKey });
    // A period overlapping [from, to).
    if (f.from) qb.andWhere('(f.periodEnd IS NULL OR f.periodEnd > :from)', { from: f.from });
    if (f.to) qb.andWhere('f.periodStart < :to', { to: f.to });
    const totals: { currency: string; amount: string }[] = await qb
      .clone()
      .select('f.currency', 'currency')
      .addSelect('sum(f.leakageMinor)::text', 'amount')
      .andWhere('f.currency IS NOT NULL')
      .groupBy('f.currency')
      .orderBy('f.currency')
      .getRawMany();
    const page = await paginate(qb, 'f', args);
    return { ...page, leakageTotals: totals.map((t) => ({ amountMinor: t.amount, currency: t.currency })) };
  }

  /** `setComplianceFindingStatus`: idempotent (the same status and note change nothing), audited. */
  async setStatus(ctx: RequestContext, id: string, status: FindingStatus, note?: string | null): Promise<ComplianceFinding> {
    const text = note?.trim() || null;
    if (text && text.length > 2000) throw badInput('COMPLIANCE_NOTE_TOO_LONG', 'The note is limited to 2000 characters', [{ path: 'note', message: 'at most 2000 characters' }]);
    if (!isUuid(id)) throw notFound('ComplianceFinding', id);
    return this.db.tx(ctx, async (tx) => {
      const row = await tx.manager.createQueryBuilder(ComplianceFinding, 'f').setLock('pessimistic_write').where('f.id = :id', { id }).getOne();
      if (!row) throw notFound('ComplianceFinding', id);
      assertRecordVisible(ctx, row.accountId, 'ComplianceFinding', id);
      if (row.status === status && row.statusNote === text) return row;
      const before = { ...row };
      const at = new Date();
      Object.assign(row, {
        status,
        statusNote: text,
        statusChangedAt: at,
        statusChangedByKeyId: ctx.principal?.keyId ?? null,
        autoResolved: false,
        updatedAt: at,
      });
      await tx.manager.update(
        ComplianceFinding,
        { id },
        { status, statusNote: text, statusChangedAt: at, statusChangedByKeyId: row.statusChangedByKeyId, autoResolved: false, updatedAt: at },
      );
      tx.audit({ entity: 'ComplianceFinding', entityId: id, action: 'STATUS', before, after: row });
      // The CRM's overuse flag and leakage follow open findings; a reopened one may be a true-up deal again.
      if (row.status !== before.status) tx.publish({ kind: 'findings.changed', accountId: row.accountId, findingIds: [id] });
      return row;
    });
  }

  async listNotifications(ctx: RequestContext, args: NotificationListArgs): Promise<Connection<Notification>> {
    const qb = this.db.manager.createQueryBuilder(Notification, 'n');
    const scope = accountScope(ctx);
    if (scope) {
      if (args.accountId && args.accountId !== scope) throw notFound('Account', args.accountId);
      qb.andWhere('n.accountId = :scope', { scope });
    }
    if (args.accountId) qb.andWhere('n.accountId = :accountId', { accountId: args.accountId });
    if (args.type) qb.andWhere('n.type = :type', { type: args.type });
    if (args.entitlementId) qb.andWhere('n.entitlementId = :entitlementId', { entitlementId: args.entitlementId });
    return paginate(qb, 'n', args);
  }
}

/** The same key twice in one batch would make the upsert touch a row twice: keep the first. */
function dedupe(candidates: Candidate[]): Candidate[] {
  const seen = new Set<string>();
  return candidates.filter((c) => {
    const k = keyOf(c);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function countRaised(raised: RaisedRow[]): NotificationsRaised {
  const sent = raised.filter((r) => !r.superseded);
  return {
    raised: sent.length,
    superseded: raised.length - sent.length,
    usageThresholds: sent.filter((r) => r.type === NotificationType.USAGE_THRESHOLD).length,
    expiring: sent.filter((r) => r.type === NotificationType.ENTITLEMENT_EXPIRING).length,
    overages: sent.filter((r) => r.type === NotificationType.CONSUMPTION_OVERAGE).length,
  };
}

function auditRaised(tx: Tx, raised: RaisedRow[]): void {
  if (raised.length === 0) return;
  tx.audit({ entity: 'Notification', action: 'RAISE', after: { ...countRaised(raised), keys: raised.map((r) => r.key) } });
}
