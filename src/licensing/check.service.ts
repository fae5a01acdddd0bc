import type { RequestContext } from '../common/context';
import { badInput, notFound } from '../common/errors';
import { toDecimalString } from '../common/decimal';
import type { Db } from '../db/db';
import { assertAccountVisible } from '../auth/scope';
import { isUuid } from '../common/ids';
import type { MonetizationModel } from '../catalog/catalog.enums';
import { CONSUMABLE_MODELS, periodLateral, phaseSql, policySql } from './licensing.sql';
import { compareDecisions, decide, type CheckRow } from './licensing.rules';
import { CheckCode, type CheckResult } from './licensing.types';

export interface CheckParams {
  accountId: string;
  feature: string;
  quantity?: number | null;
  deviceFingerprint?: string | null;
  user?: string | null;
}

/**
 * The hot path, one statement: every entitlement of the account granting the feature
 * (entitlement_feature's (account_id, feature_key) index), joined to its entitlement, with
 * LATERAL sub-selects that only run for the model they concern: the device's activation,
 * the user's seat, the live leases, the current period's balance. Decimal comparisons are
 * made here in `numeric`, never in floats.
 * $1 account, $2 feature, $3 quantity, $4 device fingerprint, $5 user, $6 time zone.
 */
interface CheckSqlParams {
  quantity: string;
  fingerprint: string;
  user: string;
  tz: string;
}

/** The check query over any source of (account, feature, quantity, device, user): see below. */
function checkSql(p: CheckSqlParams, from: string, where: string, select = ''): string {
  return `
SELECT ${select}e.id, e.model, e.quantity::text AS quantity, ${phaseSql('e', 'now()')} AS phase, ${policySql('e')} AS policy,
       trim_scale(ef.limit_total)::text AS limit_total,
       coalesce(d.n, s.n, l.n) AS holdings,
       coalesce(d.mine, s.mine, l.mine, false) AS holds,
       CASE WHEN ef.limit_total IS NULL OR e.model NOT IN ${CONSUMABLE_MODELS} THEN NULL
            ELSE trim_scale(greatest(0, ef.limit_total - coalesce(b.used, 0)))::text END AS balance_remaining,
       CASE WHEN ef.limit_total IS NULL THEN false
            WHEN e.model IN ${CONSUMABLE_MODELS} THEN
              CASE WHEN ${p.quantity} IS NULL THEN coalesce(b.used, 0) >= ef.limit_total ELSE coalesce(b.used, 0) + ${p.quantity} > ef.limit_total END
            ELSE coalesce(${p.quantity} > ef.limit_total, false) END AS over,
       coalesce(e.grace_ends_at, e.ends_at) AS expires_at
  FROM ${from}
  JOIN entitlement e ON e.id = ef.entitlement_id
 CROSS JOIN ${periodLateral('e', 'now()', p.tz)} p
  LEFT JOIN LATERAL (
    SELECT count(*)::int AS n, coalesce(bool_or(a.fingerprint = ${p.fingerprint}), false) AS mine
      FROM activation a WHERE e.model = 'DEVICE_LOCKED' AND a.entitlement_id = e.id AND a.deactivated_at IS NULL
  ) d ON e.model = 'DEVICE_LOCKED'
  LEFT JOIN LATERAL (
    SELECT count(*)::int AS n, coalesce(bool_or(st.email = lower(${p.user})), false) AS mine
      FROM seat st WHERE e.model = 'NAMED_USER' AND st.entitlement_id = e.id AND st.released_at IS NULL
  ) s ON e.model = 'NAMED_USER'
  LEFT JOIN LATERAL (
    SELECT count(*)::int AS n, coalesce(bool_or(ls.holder = ${p.user} OR ls.holder = ${p.fingerprint}), false) AS mine
      FROM lease ls WHERE e.model = 'CONCURRENT' AND ls.entitlement_id = e.id AND ls.checked_in_at IS NULL AND ls.expires_at > now()
  ) l ON e.model = 'CONCURRENT'
  LEFT JOIN LATERAL (
    SELECT cb.used FROM consumption_balance cb
     WHERE e.model IN ${CONSUMABLE_MODELS} AND cb.entitlement_id = e.id AND cb.feature_id = ef.feature_id AND cb.period_start = p.period_start
  ) b ON true
 WHERE ${where}`;
}

/** One check: $1 account, $2 feature, $3 quantity, $4 device fingerprint, $5 user, $6 time zone. */
const CHECK_SQL = checkSql(
  { quantity: '$3::numeric', fingerprint: '$4::text', user: '$5::text', tz: '$6::text' },
  'entitlement_feature ef',
  'ef.account_id = $1 AND ef.feature_key = $2',
);

/**
 * Many checks in one statement (those that arrived in the same event-loop turn): the same
 * query over an unnest of the requests, $1–$5 being arrays; `idx` (1-based) says which
 * request a row answers. Under load this saves a round trip and a statement per check.
 */
const CHECK_BATCH_SQL = checkSql(
  { quantity: 'r.quantity', fingerprint: 'r.fingerprint', user: 'r.usr', tz: '$6::text' },
  `unnest($1::uuid[], $2::text[], $3::numeric[], $4::text[], $5::text[]) WITH ORDINALITY AS r(account_id, feature, quantity, fingerprint, usr, idx)
  JOIN entitlement_feature ef ON ef.account_id = r.account_id AND ef.feature_key = r.feature`,
  'true',
  'r.idx::int AS idx, ',
);

type Row = CheckRow & { model: MonetizationModel };
/** account, feature, quantity, fingerprint, user. */
type CheckKey = [string, string, string | null, string | null, string | null];
/** At most this many checks share one statement. */
const MAX_BATCH = 256;
/**
 * At most this many check statements in flight: checks arriving meanwhile wait for one to
 * come back and then go together (ADR 0054). Under load this turns many small statements
 * (each a socket write and a round trip) into a few larger ones; a lone check still goes at
 * once. Two keep PostgreSQL busy while the hub reads the previous answer.
 */
const MAX_IN_FLIGHT = 2;

/** check(): may the account use the feature now? Reads only; one SQL statement. */
export class CheckService {
  /** Checks waiting for the end of this event-loop turn, to be answered by one statement. */
  private pending: { params: CheckKey; resolve: (rows: Row[]) => void; reject: (err: unknown) => void }[] = [];
  /** Check statements sent and not yet answered. */
  private inFlight = 0;
  /** A flush is scheduled (setImmediate) and has not run yet. */
  private scheduled = false;

  constructor(
    private readonly db: Db,
    private readonly timeZone: string,
  ) {}

  /**
   * The rows for one check. Checks that arrive in the same event-loop turn (concurrent
   * clients) share one statement; a lone check uses the single-check statement. Either way
   * each check is answered from one consistent snapshot, and nothing is written.
   */
  private rowsFor(params: CheckKey): Promise<Row[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ params, resolve, reject });
      this.schedule();
    });
  }

  /** Flushes at the end of this event-loop turn, unless the statements in flight are at their limit (their return flushes). */
  private schedule(): void {
    if (this.scheduled || this.inFlight >= MAX_IN_FLIGHT || !this.pending.length) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.inFlight >= MAX_IN_FLIGHT || !this.pending.length) return;
    const batch = this.pending.splice(0, MAX_BATCH);
    this.inFlight++;
    this.schedule();
    try {
      if (batch.length === 1) {
        batch[0]!.resolve(await this.db.preparedQuery<Row>('ehub_check_v1', CHECK_SQL, [...batch[0]!.params, this.timeZone]));
        return;
      }
      const column = (i: number) => batch.map((b) => b.params[i]);
      const rows = await this.db.preparedQuery<Row & { idx: number }>('ehub_check_batch_v1', CHECK_BATCH_SQL, [
        column(0),
        column(1),
        column(2),
        column(3),
        column(4),
        this.timeZone,
      ]);
      const byRequest = batch.map((): Row[] => []);
      for (const r of rows) byRequest[r.idx - 1]!.push(r);
      batch.forEach((b, i) => b.resolve(byRequest[i]!));
    } catch (err) {
      for (const b of batch) b.reject(err);
    } finally {
      this.inFlight--;
      this.schedule();
    }
  }

  async check(ctx: RequestContext, p: CheckParams): Promise<CheckResult> {
    // Scope and shape are settled before any query: another account's check is NOT_FOUND.
    if (!isUuid(p.accountId)) throw notFound('Account', p.accountId);
    assertAccountVisible(ctx, p.accountId);
    const feature = p.feature.trim();
    if (p.quantity !== undefined && p.quantity !== null && !(Number.isFinite(p.quantity) && p.quantity >= 0)) {
      throw badInput('CHECK_QUANTITY_INVALID', 'quantity must be a number ≥ 0', [{ path: 'quantity', message: 'must be a number ≥ 0' }]);
    }
    const quantity = p.quantity === undefined || p.quantity === null ? null : toDecimalString(p.quantity);
    const fingerprint = p.deviceFingerprint?.trim() || null;
    const user = p.user?.trim() || null;

    const rows = await this.rowsFor([p.accountId, feature, quantity, fingerprint, user]);
    if (rows.length === 0) {
      return {
        allowed: false,
        code: CheckCode.NOT_ENTITLED,
        reason: `The account has no entitlement granting "${feature}"`,
        remaining: null,
        entitlementId: null,
        model: null,
        expiresAt: null,
      };
    }
    const [best] = rows
      .map((r) => ({ row: r, id: r.id, expiresAt: r.expires_at, decision: decide(r, { fingerprint, user }) }))
      .sort(compareDecisions);
    const { row, decision } = best!;
    return { ...decision, entitlementId: row.id, model: row.model, expiresAt: row.expires_at };
  }
}
