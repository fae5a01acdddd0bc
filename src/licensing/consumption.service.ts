import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../common/context';
import { badInput, conflict, notFound } from '../common/errors';
import { toDecimalString } from '../common/decimal';
import type { Db } from '../db/db';
import { assertAccountVisible } from '../auth/scope';
import { isUuid } from '../common/ids';
import { CONSUMABLE_MODELS, periodLateral, phaseSql, policySql } from './licensing.sql';
import { compareDecisions, isUsable, phaseCode, phaseReason, type Phase } from './licensing.rules';
import { CheckCode, type ConsumeInput, type ConsumeResult, type FeatureBalance } from './licensing.types';
import { text } from './licensing.guards';
import { groupBy } from '../common/collections';

/** Advisory-lock class of consume() idempotency keys (the second key is a hash of account and key). */
const CONSUME_LOCK_CLASS = 0x436f6e73; // "Cons"

/** An entitlement that could pay for a consumption, with its current reset period. */
interface Candidate {
  id: string;
  model: string;
  feature_id: string;
  limit_total: string | null;
  policy: 'BLOCK' | 'ALLOW' | 'ALLOW_AND_NOTIFY';
  phase: Phase;
  period_start: Date;
  period_start_key: string;
  period_end: Date | null;
  expires_at: Date | null;
}

interface Drawn {
  used: string;
  remaining: string | null;
  overage: string;
}

type Answer = Omit<ConsumeResult, 'replayed'>;

const positive = (decimal: string) => Number(decimal) > 0;

/**
 * consume(): draws a quantity of a feature down from the account's METERED, USAGE or OUTCOME
 * entitlements, atomically, exactly once per idempotency key.
 */
export class ConsumptionService {
  constructor(
    private readonly db: Db,
    private readonly timeZone: string,
  ) {}

  /**
   * One transaction: an advisory lock on (account, key) makes concurrent requests with one
   * key wait for the first; a stored answer under the key is returned as it was (nothing is
   * drawn again; another request under the same key is CONFLICT `IDEMPOTENCY_KEY_REUSED`).
   * Otherwise the usable entitlements granting the feature are tried soonest-ending first:
   * the first whose balance has room takes it (a conditional UPDATE, so concurrent draws
   * never pass the limit); failing that, the soonest-ending one whose policy allows overage
   * takes it as overage; failing that, the answer is LIMIT_EXCEEDED. Every answer, refusals
   * included, is stored under the key.
   */
  async consume(ctx: RequestContext, input: ConsumeInput): Promise<ConsumeResult> {
    const feature = text(input.feature, 'input.feature', 'CONSUME_FEATURE_INVALID', 100);
    const quantity = Number.isFinite(input.quantity) && input.quantity > 0 ? toDecimalString(input.quantity) : '0';
    if (!positive(quantity)) {
      throw badInput('CONSUME_QUANTITY_INVALID', 'quantity must be a positive number', [{ path: 'input.quantity', message: 'must be a positive number' }]);
    }
    const key = input.idempotencyKey;
    if (!isUuid(input.accountId)) throw notFound('Account', input.accountId);
    assertAccountVisible(ctx, input.accountId);
    const requestHash = createHash('sha256').update(JSON.stringify({ feature, quantity })).digest('hex');

    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      await m.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [CONSUME_LOCK_CLASS, `${input.accountId}:${key}`]);
      const [prior] = await m.query('SELECT request_hash, result FROM consumption WHERE account_id = $1 AND idempotency_key = $2', [input.accountId, key]);
      if (prior) {
        if (prior.request_hash !== requestHash) {
          throw conflict('IDEMPOTENCY_KEY_REUSED', `Idempotency key "${key}" was already used for another consumption; use a new key`, { idempotencyKey: key });
        }
        return { ...reviveAnswer(prior.result), replayed: true };
      }
      const [account] = await m.query('SELECT 1 FROM account WHERE id = $1', [input.accountId]);
      if (!account) throw notFound('Account', input.accountId);

      const answer = await this.draw(m, input.accountId, feature, quantity);
      // The row keeps the overage of ALLOW_AND_NOTIFY (and every other) consumption: the
      // threshold notifications read it from here.
      const [row] = await m.query(
        `INSERT INTO consumption (account_id, idempotency_key, request_hash, entitlement_id, feature_key, quantity, allowed, overage, result)
         VALUES ($1, $2, $3, $4, $5, $6::numeric, $7, $8::numeric, $9::jsonb) RETURNING id`,
        [input.accountId, key, requestHash, answer.entitlementId, feature, quantity, answer.allowed, answer.overage, JSON.stringify(answer)],
      );
      tx.audit({ entity: 'Consumption', entityId: row.id, action: 'CREATE', after: { accountId: input.accountId, idempotencyKey: key, ...answer } });
      if (answer.entitlementId) {
        tx.publish({ kind: 'consumption.drawn', accountId: input.accountId, entitlementId: answer.entitlementId });
      }
      return { ...answer, replayed: false };
    });
  }

  /** The current period's balance of every feature of each METERED/USAGE/OUTCOME entitlement (for `Entitlement.balances`). */
  async balancesOf(ids: readonly string[]): Promise<Map<string, FeatureBalance[]>> {
    const rows: (FeatureBalance & { entitlement_id: string })[] = ids.length
      ? await this.db.manager.query(
          `SELECT e.id AS entitlement_id, ef.feature_key AS "featureKey", p.period_start AS "periodStart", p.period_end AS "periodEnd",
                  trim_scale(ef.limit_total)::text AS entitled,
                  trim_scale(coalesce(b.used, 0))::text AS used,
                  CASE WHEN ef.limit_total IS NULL THEN NULL ELSE trim_scale(greatest(0, ef.limit_total - coalesce(b.used, 0)))::text END AS remaining,
                  CASE WHEN ef.limit_total IS NULL THEN '0' ELSE trim_scale(greatest(0, coalesce(b.used, 0) - ef.limit_total))::text END AS overage
             FROM entitlement e
             JOIN entitlement_feature ef ON ef.entitlement_id = e.id
            CROSS JOIN ${periodLateral('e', 'now()', '$2::text')} p
             LEFT JOIN consumption_balance b ON b.entitlement_id = e.id AND b.feature_id = ef.feature_id AND b.period_start = p.period_start
            WHERE e.id = ANY($1::uuid[]) AND e.model IN ${CONSUMABLE_MODELS}
            ORDER BY e.id, ef.feature_key`,
          [ids, this.timeZone],
        )
      : [];
    return groupBy(rows, (r) => r.entitlement_id, [], ({ entitlement_id: _, ...b }): FeatureBalance => b);
  }

  private async draw(m: EntityManager, accountId: string, feature: string, quantity: string): Promise<Answer> {
    const candidates: Candidate[] = await m.query(
      `SELECT e.id, e.model, ef.feature_id, trim_scale(ef.limit_total)::text AS limit_total, ${policySql('e')} AS policy, ${phaseSql('e', 'now()')} AS phase,
              p.period_start, p.period_start::text AS period_start_key, p.period_end, coalesce(e.grace_ends_at, e.ends_at) AS expires_at
         FROM entitlement_feature ef
         JOIN entitlement e ON e.id = ef.entitlement_id
        CROSS JOIN ${periodLateral('e', 'now()', '$3::text')} p
        WHERE ef.account_id = $1 AND ef.feature_key = $2 AND e.model IN ${CONSUMABLE_MODELS}
        ORDER BY e.ends_at ASC NULLS LAST, e.created_at, e.id`,
      [accountId, feature, this.timeZone],
    );
    const base = { feature, quantity };
    const usable = candidates.filter((c) => isUsable(c.phase));
    if (usable.length === 0) {
      if (candidates.length === 0) {
        return {
          ...base,
          allowed: false,
          code: CheckCode.NOT_ENTITLED,
          reason: `The account has no METERED, USAGE or OUTCOME entitlement granting "${feature}"`,
          remaining: null,
          overage: '0',
          consumed: null,
          entitlementId: null,
          periodStart: null,
          periodEnd: null,
        };
      }
      const [best] = candidates
        .map((c) => ({ c, id: c.id, expiresAt: c.expires_at, decision: { allowed: false, code: phaseCode(c.phase), reason: '', remaining: null } }))
        .sort(compareDecisions);
      const c = best!.c;
      return {
        ...base,
        allowed: false,
        code: phaseCode(c.phase),
        reason: `${phaseReason(c.id, c.phase)}; nothing was drawn`,
        remaining: null,
        overage: '0',
        consumed: null,
        entitlementId: c.id,
        periodStart: null,
        periodEnd: null,
      };
    }

    const drawn = (c: Candidate, d: Drawn): Answer => {
      const over = positive(d.overage);
      const code = over ? CheckCode.OVERAGE : c.phase === 'IN_GRACE' ? CheckCode.IN_GRACE : CheckCode.VALID;
      const reason = over
        ? `Drawn, ${d.overage} beyond the period's limit of ${c.limit_total} (overage policy ${c.policy}); the overage is recorded for billing`
        : d.remaining === null
          ? 'Drawn (unlimited)'
          : `Drawn; ${d.remaining} left in the period`;
      return {
        ...base,
        allowed: true,
        code,
        reason: c.phase === 'IN_GRACE' ? `${reason}; ${phaseReason(c.id, c.phase)}` : reason,
        remaining: d.remaining,
        overage: d.overage,
        consumed: d.used,
        entitlementId: c.id,
        periodStart: c.period_start,
        periodEnd: c.period_end,
      };
    };

    for (const c of usable) {
      const d = await this.drawFrom(m, accountId, c, quantity, false);
      if (d) return drawn(c, d);
    }
    const soft = usable.find((c) => c.policy !== 'BLOCK');
    if (soft) {
      const d = await this.drawFrom(m, accountId, soft, quantity, true);
      if (d) return drawn(soft, d);
    }
    const c = usable[0]!;
    const [balance] = await m.query(
      `SELECT trim_scale(used)::text AS used, CASE WHEN $4::numeric IS NULL THEN NULL ELSE trim_scale(greatest(0, $4::numeric - used))::text END AS remaining
         FROM consumption_balance WHERE entitlement_id = $1 AND feature_id = $2 AND period_start = $3::timestamptz`,
      [c.id, c.feature_id, c.period_start_key, c.limit_total],
    );
    return {
      ...base,
      allowed: false,
      code: CheckCode.LIMIT_EXCEEDED,
      reason: `The period's limit of ${c.limit_total} leaves ${balance?.remaining ?? c.limit_total}, less than ${quantity} (overage policy BLOCK); nothing was drawn`,
      remaining: balance?.remaining ?? c.limit_total,
      overage: '0',
      consumed: balance?.used ?? '0',
      entitlementId: c.id,
      periodStart: c.period_start,
      periodEnd: c.period_end,
    };
  }

  /**
   * Draws `quantity` from one entitlement's balance for the current period: creates the row
   * if it is the period's first draw, then one conditional UPDATE. Without `allowOver` the
   * UPDATE only matches while the quantity fits under the limit; the row lock it takes makes
   * concurrent draws queue, and each re-checks the condition against the committed balance.
   * Null when it did not fit.
   */
  private async drawFrom(m: EntityManager, accountId: string, c: Candidate, quantity: string, allowOver: boolean): Promise<Drawn | null> {
    await m.query(
      `INSERT INTO consumption_balance (entitlement_id, feature_id, account_id, period_start, period_end, entitled)
       VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz, $6::numeric) ON CONFLICT DO NOTHING`,
      [c.id, c.feature_id, accountId, c.period_start_key, c.period_end, c.limit_total],
    );
    const [row] = await m.query(
      `WITH u AS (
         UPDATE consumption_balance b
            SET used = b.used + $4::numeric, entitled = $5::numeric, period_end = $7::timestamptz, updated_at = now()
          WHERE b.entitlement_id = $1 AND b.feature_id = $2 AND b.period_start = $3::timestamptz
            AND ($6::boolean OR $5::numeric IS NULL OR b.used + $4::numeric <= $5::numeric)
         RETURNING b.used
       )
       SELECT trim_scale(used)::text AS used,
              CASE WHEN $5::numeric IS NULL THEN NULL ELSE trim_scale(greatest(0, $5::numeric - used))::text END AS remaining,
              CASE WHEN $5::numeric IS NULL THEN '0'
                   ELSE trim_scale(greatest(0, used - $5::numeric) - greatest(0, used - $4::numeric - $5::numeric))::text END AS overage
         FROM u`,
      [c.id, c.feature_id, c.period_start_key, quantity, c.limit_total, allowOver, c.period_end],
    );
    return row ?? null;
  }
}

/** A stored answer as GraphQL returns it (dates were stored as ISO strings). */
function reviveAnswer(stored: Answer & { periodStart: string | null; periodEnd: string | null }): Answer {
  return {
    ...stored,
    periodStart: stored.periodStart ? new Date(stored.periodStart) : null,
    periodEnd: stored.periodEnd ? new Date(stored.periodEnd) : null,
  };
}
