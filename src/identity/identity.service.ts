import pino from 'pino';
import type { EntityManager } from 'typeorm';
import type { Config } from '../config';
import type { RequestContext } from '../common/context';
import { systemContext } from '../common/context';
import { AppError, badInput, conflict, notFound } from '../common/errors';
import { isUuid } from '../common/ids';
import { paginate, type Connection, type PageArgs } from '../common/pagination';
import type { Db, Tx } from '../db/db';
import type { DomainEvent } from '../db/events';
import { assertUnscoped } from '../auth/scope';
import { AccountMerge, IdentityMatch, MatchStatus, MergeStatus, type MergeTableCount } from './identity.entities';
import { lockAccounts, mergeErrors, moveAccountRows, restoreAccountRows } from './account-merge';
import { decide, nameTokens, normalizeCompanyName, registrableDomain, scorePair, type MatchSubject } from './identity.rules';

/** What one matching run did. */
export interface MatchRunResult {
  accounts: number;
  candidates: number;
  queued: number;
  autoMerged: number;
  /** Pairs skipped because they were already decided (rejected, confirmed) or an account was merged meanwhile. */
  skipped: number;
}

/** A blocking key shared by more accounts than this is too common to say anything (e.g. a name word like "global"). */
const MAX_BLOCK = 200;

interface SubjectRow {
  id: string;
  name: string;
  domain: string | null;
  country: string | null;
  created_at: Date;
  ext: string[];
}

/**
 * Identity resolution (issue 13, ADR 0028, docs/identity.md): finds accounts that are the
 * same customer, queues the uncertain ones for review, and merges (and unmerges) accounts.
 */
export class IdentityService {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
  ) {}

  get thresholds(): { auto: number; review: number } {
    return { auto: this.config.EHUB_IDENTITY_AUTO_MERGE_THRESHOLD, review: this.config.EHUB_IDENTITY_REVIEW_THRESHOLD };
  }

  /**
   * The after-pull hook: subscribed to the domain events (`account.linked`, published when an
   * account gets a new reference in another system, i.e. by every accounts pull that brings
   * one), it schedules a matching run shortly after the pulling transaction commits. The
   * sync engine knows nothing of this domain.
   */
  onEvents = async (_manager: EntityManager, events: readonly DomainEvent[]): Promise<void> => {
    if (!this.config.EHUB_IDENTITY_MATCH_AFTER_PULL) return;
    if (!events.some((e) => e.kind === 'account.linked')) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.db.ds.isInitialized) return;
      const log = pino({ level: this.config.LOG_LEVEL, name: 'identity' });
      this.running = this.runMatching(systemContext(log, 'identityMatchAfterPull'))
        .then((r) => log.info(r, 'identity matching after a pull'))
        .catch((err: unknown) => log.error({ err }, 'identity matching after a pull failed'));
    }, this.config.EHUB_IDENTITY_MATCH_DELAY_MS);
    this.timer.unref();
  };

  /** Stops a scheduled after-pull run and waits for one under way (shutdown, tests). */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  // ── matching ──

  /**
   * One matching run over every live account: subjects are read in one query, candidate
   * pairs come from blocking keys (registrable domain, external id, name words) so the work
   * is per block, not per pair of accounts; each pair is scored (identity.rules.ts); pairs
   * at or above the auto threshold are merged (older account survives), those between the
   * thresholds are queued (PENDING), the rest dropped. Decided pairs are never proposed again.
   */
  async runMatching(ctx: RequestContext): Promise<MatchRunResult> {
    const rows: SubjectRow[] = await this.db.manager.query(`
      SELECT a.id, a.name, a.domain, a.country, a.created_at,
             coalesce(array_agg(r.system || '/' || r.external_id) FILTER (WHERE r.id IS NOT NULL), '{}') AS ext
        FROM account a LEFT JOIN external_ref r ON r.entity_type = 'ACCOUNT' AND r.entity_id = a.id
       WHERE a.merged_into IS NULL AND a.status = 'ACTIVE'
       GROUP BY a.id`);
    const subjects = new Map<string, MatchSubject & { createdAt: Date }>();
    const blocks = new Map<string, string[]>();
    const block = (key: string, id: string) => {
      const list = blocks.get(key);
      if (list) list.push(id);
      else blocks.set(key, [id]);
    };
    for (const r of rows) {
      subjects.set(r.id, { id: r.id, name: r.name, domain: r.domain, country: r.country, externalIds: r.ext, crossRefs: [], createdAt: new Date(r.created_at) });
      const d = registrableDomain(r.domain);
      if (d) block(`d:${d}`, r.id);
      for (const x of r.ext) block(`x:${x}`, r.id);
      for (const w of nameTokens(normalizeCompanyName(r.name))) block(`n:${w}`, r.id);
    }
    const pairs = new Set<string>();
    for (const ids of blocks.values()) {
      if (ids.length < 2 || ids.length > MAX_BLOCK) continue;
      const sorted = [...ids].sort();
      for (let i = 0; i < sorted.length; i++) for (let j = i + 1; j < sorted.length; j++) pairs.add(`${sorted[i]}|${sorted[j]}`);
    }
    const decided = new Map<string, MatchStatus>(
      (await this.db.manager.query(`SELECT account_a, account_b, status FROM identity_match`)).map((r: { account_a: string; account_b: string; status: MatchStatus }) => [
        `${r.account_a}|${r.account_b}`,
        r.status,
      ]),
    );
    const result: MatchRunResult = { accounts: rows.length, candidates: 0, queued: 0, autoMerged: 0, skipped: 0 };
    const queue: { a: string; b: string; confidence: number; evidence: unknown }[] = [];
    const auto: { a: string; b: string; confidence: number; evidence: unknown }[] = [];
    for (const pair of pairs) {
      const [a, b] = pair.split('|') as [string, string];
      const scored = scorePair(subjects.get(a)!, subjects.get(b)!);
      if (!scored) continue;
      const verdict = decide(scored.confidence, this.thresholds);
      if (verdict === 'NONE') continue;
      result.candidates++;
      const status = decided.get(pair);
      if (status !== undefined && status !== MatchStatus.PENDING) {
        result.skipped++;
        continue;
      }
      (verdict === 'AUTO' ? auto : queue).push({ a, b, confidence: scored.confidence, evidence: scored.evidence });
    }
    if (queue.length > 0) {
      await this.db.tx(ctx, async (tx) => {
        await tx.manager.query(
          `INSERT INTO identity_match (account_a, account_b, status, confidence, evidence)
           SELECT a, b, 'PENDING', c, e FROM unnest($1::uuid[], $2::uuid[], $3::numeric[], $4::jsonb[]) AS t(a, b, c, e)
           ON CONFLICT (account_a, account_b) DO UPDATE SET confidence = EXCLUDED.confidence, evidence = EXCLUDED.evidence, updated_at = now()
             WHERE identity_match.status = 'PENDING'`,
          [queue.map((q) => q.a), queue.map((q) => q.b), queue.map((q) => q.confidence), queue.map((q) => JSON.stringify(q.evidence))],
        );
        tx.audit({ entity: 'IdentityMatch', action: 'QUEUE', after: { pairs: queue.length } });
      });
      result.queued = queue.length;
    }
    // Strongest first; an account merged away by an earlier pair of this run waits for the next run.
    auto.sort((x, y) => y.confidence - x.confidence);
    const gone = new Set<string>();
    for (const p of auto) {
      if (gone.has(p.a) || gone.has(p.b)) {
        result.skipped++;
        continue;
      }
      const [survivor, merged] = [subjects.get(p.a)!, subjects.get(p.b)!].sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime() || x.id.localeCompare(y.id));
      try {
        await this.db.tx(ctx, async (tx) => {
          const [match] = await tx.manager.query(
            `INSERT INTO identity_match (account_a, account_b, status, confidence, evidence)
             VALUES ($1, $2, 'PENDING', $3, $4::jsonb)
             ON CONFLICT (account_a, account_b) DO UPDATE SET confidence = EXCLUDED.confidence, evidence = EXCLUDED.evidence, updated_at = now()
             RETURNING id, status`,
            [p.a, p.b, p.confidence, JSON.stringify(p.evidence)],
          );
          if (match.status !== MatchStatus.PENDING) throw conflict('MATCH_ALREADY_DECIDED', 'decided meanwhile');
          const merge = await this.mergeIn(tx, survivor!.id, merged!.id, `Automatic: confidence ${p.confidence} ≥ ${this.thresholds.auto}`, match.id);
          await this.decideMatch(tx, match.id, MatchStatus.AUTO_MERGED, null, merge.id);
        });
        gone.add(merged!.id);
        result.autoMerged++;
      } catch (err) {
        if (!(err instanceof AppError) || err.code !== 'CONFLICT') throw err;
        result.skipped++;
      }
    }
    return result;
  }

  // ── review queue ──

  async list(ctx: RequestContext, status: MatchStatus, args: PageArgs): Promise<Connection<IdentityMatch>> {
    assertUnscoped(ctx, 'read the identity review queue');
    const qb = this.db.manager.createQueryBuilder(IdentityMatch, 'm').where('m.status = :status', { status });
    return paginate(qb, 'm', args);
  }

  /** Confirms a pending match: merges the two accounts (the older survives) in the same transaction. */
  async confirm(ctx: RequestContext, id: string, reason: string | null): Promise<IdentityMatch> {
    assertUnscoped(ctx, 'decide identity matches');
    return this.db.tx(ctx, async (tx) => {
      const match = await this.lockPending(tx, id);
      const accounts: { id: string; created_at: Date }[] = await tx.manager.query(`SELECT id, created_at FROM account WHERE id = ANY($1::uuid[]) ORDER BY created_at, id`, [
        [match.accountAId, match.accountBId],
      ]);
      const merge = await this.mergeIn(tx, accounts[0]!.id, accounts[1]!.id, reason ?? `Confirmed match ${id}`, id);
      return this.decideMatch(tx, id, MatchStatus.CONFIRMED, reason, merge.id);
    });
  }

  /** Rejects a pending match: the pair is never proposed again. */
  async reject(ctx: RequestContext, id: string, reason: string): Promise<IdentityMatch> {
    assertUnscoped(ctx, 'decide identity matches');
    const why = reason.trim();
    if (why.length === 0) throw badInput('VALIDATION_FAILED', 'reason must not be blank', [{ path: 'reason', message: 'must not be blank' }]);
    return this.db.tx(ctx, async (tx) => {
      await this.lockPending(tx, id);
      return this.decideMatch(tx, id, MatchStatus.REJECTED, why, null);
    });
  }

  private async lockPending(tx: Tx, id: string): Promise<IdentityMatch> {
    if (!isUuid(id)) throw notFound('IdentityMatch', id);
    const match = await tx.manager.findOne(IdentityMatch, { where: { id }, lock: { mode: 'pessimistic_write' } });
    if (!match) throw notFound('IdentityMatch', id);
    if (match.status !== MatchStatus.PENDING) {
      throw conflict('MATCH_ALREADY_DECIDED', `Match ${id} was already decided (${match.status})`, { matchId: id, status: match.status });
    }
    return match;
  }

  private async decideMatch(tx: Tx, id: string, status: MatchStatus, reason: string | null, mergeId: string | null): Promise<IdentityMatch> {
    await tx.manager.query(`UPDATE identity_match SET status = $2, reason = $3, merge_id = $4, decided_at = now(), updated_at = now() WHERE id = $1`, [id, status, reason, mergeId]);
    const after = (await tx.manager.findOneBy(IdentityMatch, { id }))!;
    tx.audit({ entity: 'IdentityMatch', entityId: id, action: status, after });
    return after;
  }

  // ── merge / unmerge ──

  async merge(ctx: RequestContext, survivorId: string, mergedId: string, reason: string): Promise<AccountMerge> {
    assertUnscoped(ctx, 'merge accounts');
    const why = reason.trim();
    if (why.length === 0) throw badInput('VALIDATION_FAILED', 'reason must not be blank', [{ path: 'reason', message: 'must not be blank' }]);
    if (!isUuid(survivorId)) throw notFound('Account', survivorId);
    if (!isUuid(mergedId)) throw notFound('Account', mergedId);
    return this.db.tx(ctx, (tx) => this.mergeIn(tx, survivorId, mergedId, why, null));
  }

  /** The merge itself, in the caller's transaction: checks, moves every row, records what moved, publishes. */
  private async mergeIn(tx: Tx, survivorId: string, mergedId: string, reason: string, matchId: string | null): Promise<AccountMerge> {
    if (survivorId === mergedId) throw mergeErrors.intoItself(survivorId);
    const locked = await lockAccounts(tx.manager, [survivorId, mergedId]);
    for (const id of [survivorId, mergedId]) {
      const into = locked.get(id)!.merged_into;
      if (into) throw mergeErrors.alreadyMerged(id, into);
    }
    const outcome = await moveAccountRows(tx, survivorId, mergedId);
    const [row] = await tx.manager.query(
      `INSERT INTO account_merge (survivor_id, merged_id, reason, moved, removed, moved_count, match_id)
       VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7) RETURNING id`,
      [survivorId, mergedId, reason, JSON.stringify(outcome.moved), JSON.stringify(outcome.removed), outcome.movedCount + outcome.removed.length, matchId],
    );
    const merge = (await tx.manager.findOneBy(AccountMerge, { id: row.id }))!;
    tx.audit({
      entity: 'AccountMerge',
      entityId: merge.id,
      action: 'MERGE',
      after: { survivorId, mergedId, reason, matchId, tables: tableCounts(merge) },
    });
    // The survivor's fields and entitlements changed for the CRM/ERP (re-sent by the outbox).
    tx.publish({ kind: 'account.linked', accountId: survivorId });
    if (outcome.entitlementIds.length > 0) tx.publish({ kind: 'entitlements.changed', accountIds: [survivorId], entitlementIds: outcome.entitlementIds });
    return merge;
  }

  async unmerge(ctx: RequestContext, mergeId: string, reason: string | null): Promise<AccountMerge> {
    assertUnscoped(ctx, 'unmerge accounts');
    if (!isUuid(mergeId)) throw notFound('AccountMerge', mergeId);
    return this.db.tx(ctx, async (tx) => {
      const head = await tx.manager.findOneBy(AccountMerge, { id: mergeId });
      if (!head) throw notFound('AccountMerge', mergeId);
      const locked = await lockAccounts(tx.manager, [head.survivorId, head.mergedId]);
      const merge = (await tx.manager.findOne(AccountMerge, { where: { id: mergeId }, lock: { mode: 'pessimistic_write' } }))!;
      if (merge.status !== MergeStatus.MERGED) throw conflict('MERGE_ALREADY_UNDONE', `Merge ${mergeId} was already undone`, { mergeId });
      const survivorInto = locked.get(merge.survivorId)!.merged_into;
      if (survivorInto) {
        throw conflict('MERGE_SUPERSEDED', `The survivor ${merge.survivorId} was itself merged into ${survivorInto} since; unmerge that merge first`, {
          mergeId,
          survivorMergedInto: survivorInto,
        });
      }
      const entitlementIds = await restoreAccountRows(tx, merge.survivorId, merge.mergedId, merge.moved, merge.removed);
      await tx.manager.query(`UPDATE account_merge SET status = 'UNMERGED', unmerged_at = now(), unmerge_reason = $2 WHERE id = $1`, [mergeId, reason]);
      // Undone by a person: the pair is not proposed (or auto-merged) again.
      await tx.manager.query(
        `UPDATE identity_match SET status = 'REJECTED', reason = coalesce($2, 'unmerged'), decided_at = now(), updated_at = now() WHERE merge_id = $1`,
        [mergeId, reason],
      );
      const after = (await tx.manager.findOneBy(AccountMerge, { id: mergeId }))!;
      tx.audit({ entity: 'AccountMerge', entityId: mergeId, action: 'UNMERGE', after: { survivorId: merge.survivorId, mergedId: merge.mergedId, reason } });
      for (const accountId of [merge.survivorId, merge.mergedId]) tx.publish({ kind: 'account.linked', accountId });
      if (entitlementIds.length > 0) tx.publish({ kind: 'entitlements.changed', accountIds: [merge.survivorId, merge.mergedId], entitlementIds });
      return after;
    });
  }

  async getMerge(ctx: RequestContext, id: string): Promise<AccountMerge> {
    assertUnscoped(ctx, 'read account merges');
    const merge = isUuid(id) ? await this.db.manager.findOneBy(AccountMerge, { id }) : null;
    if (!merge) throw notFound('AccountMerge', id);
    return merge;
  }
}

/** Per table: rows moved and rows removed as duplicates. */
export function tableCounts(merge: Pick<AccountMerge, 'moved' | 'removed'>): MergeTableCount[] {
  const by = new Map<string, MergeTableCount>();
  const get = (table: string) => by.get(table) ?? by.set(table, { table, moved: 0, removed: 0 }).get(table)!;
  for (const m of merge.moved) get(m.table).moved += m.keys.length;
  for (const r of merge.removed) get(r.table).removed++;
  return [...by.values()].sort((a, b) => a.table.localeCompare(b.table));
}
