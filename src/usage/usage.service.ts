import type { EntityManager } from 'typeorm';
import type { Config } from '../config';
import type { RequestContext } from '../common/context';
import { badInput, conflict, notFound } from '../common/errors';
import type { Db } from '../db/db';
import { isUuid } from '../common/ids';
import { assertAccountVisible } from '../auth/scope';
import type { UsageEventInput } from './usage.types';
import {
  DEFAULT_SOURCE,
  MAX_GRAPHQL_EVENTS,
  UsageRejectionCode,
  chooseEntitlement,
  isRejection,
  meterFigures,
  parseUsageEvent,
  reject,
  type MeterRule,
  type ParseLimits,
  type ParsedUsageEvent,
  type UsageCandidate,
  type UsageEventDraft,
  type UsageRejection,
} from './usage.rules';
import type { UsageStream } from './usage.stream';
import { CANDIDATES_SQL, INGEST_SQL, LOOKUP_SQL, RECOMPUTE_SQL, STORED_HASHES_SQL } from './usage.sql';

/** The answer to a batch: every event is accepted, a duplicate, or listed in `rejected` (conflicts included). */
export interface UsageBatchAnswer {
  accepted: number;
  duplicates: number;
  conflicts: number;
  rejected: UsageRejection[];
  /** Events handed to the durable stream (EHUB_USAGE_STREAM) to be written after the answer; absent when written in the request. */
  queued?: number;
}

interface MeterRow extends MeterRule {
  id: string;
  featureKey: string | null;
}

/** An event ready for the insert statement (short keys, absent when null or default: see INGEST_SQL). */
interface Row {
  i: number;
  a: string;
  s?: string;
  e: string;
  k: number;
  q: string;
  v?: string;
  u?: string;
  t: string;
  d: string;
  usr?: string;
  dev?: string;
  p?: Record<string, unknown>;
  h: string;
  /** The entitlement it draws on (chooseEntitlement), absent: none. */
  n?: string;
}

/** Bound of the known-accounts cache (ids; cleared when full). */
const MAX_KNOWN_ACCOUNTS = 200_000;

const refKey = (system: string, object: string, externalId: string) => `${system}\u0000${object}\u0000${externalId}`;

/** Usage ingestion (recordUsage, POST /v1/usage): exactly once, attributed, rolled up. */
export class UsageService {
  /**
   * Account ids known to exist. Accounts are never deleted (only archived), so a positive
   * answer stays true; batches then skip looking up the accounts they name again and again.
   */
  private readonly knownAccounts = new Set<string>();

  /** Set at start-up with EHUB_USAGE_STREAM: batches then go through NATS JetStream (ADR 0049). */
  stream?: UsageStream;

  constructor(
    readonly db: Db,
    readonly config: Config,
  ) {}

  /** The checks an event can pass without the database, with the configured limits. */
  parseLimits(now = Date.now()): ParseLimits {
    return {
      now,
      maxSkewSeconds: this.config.EHUB_USAGE_MAX_SKEW_SECONDS,
      maxPropertiesBytes: this.config.EHUB_USAGE_MAX_PROPERTIES_BYTES,
      retentionMonths: this.config.EHUB_USAGE_RETENTION_MONTHS,
    };
  }

  /** recordUsage: GraphQL inputs through the same checks as NDJSON lines. */
  async recordUsage(ctx: RequestContext, events: UsageEventInput[]): Promise<UsageBatchAnswer> {
    if (events.length > MAX_GRAPHQL_EVENTS) {
      throw badInput(
        'USAGE_BATCH_TOO_LARGE',
        `recordUsage takes at most ${MAX_GRAPHQL_EVENTS} events per call (got ${events.length}); split the batch, or send up to 10,000 per POST /v1/usage`,
        [{ path: 'events', message: `at most ${MAX_GRAPHQL_EVENTS} events` }],
      );
    }
    const limits = this.parseLimits();
    const parsed = events.map((e, i) =>
      parseUsageEvent(
        {
          ...e,
          accountRef: e.accountRef ? { ...e.accountRef } : e.accountRef,
          occurredAt: e.occurredAt instanceof Date ? e.occurredAt.toISOString() : e.occurredAt,
        },
        i,
        limits,
      ),
    );
    return this.submit(ctx, parsed);
  }

  /**
   * What the ingest endpoints call with a parsed batch: without EHUB_USAGE_STREAM it is
   * written now (ingest); with it, its valid events are published to JetStream and the
   * answer comes on JetStream's ack (the stream's consumers then call ingest).
   */
  submit(ctx: RequestContext, events: ParsedUsageEvent[]): Promise<UsageBatchAnswer> {
    return this.stream ? this.stream.publish(ctx, events) : this.ingest(ctx, events);
  }

  /**
   * Ingests a batch of parsed events in one transaction: resolves meters and accounts,
   * rejects what does not fit (per event; the rest goes on), inserts the others exactly once
   * with their rollups, and answers only once that is committed.
   */
  async ingest(ctx: RequestContext, events: ParsedUsageEvent[]): Promise<UsageBatchAnswer> {
    const initial: UsageRejection[] = [];
    const drafts: UsageEventDraft[] = [];
    for (const e of events) {
      if (isRejection(e)) initial.push(e);
      else drafts.push(e);
    }
    const scope = ctx.principal?.accountId ?? null;

    const answer = await this.db.tx(ctx, async (tx) => {
      const rejected = [...initial];
      let accepted = 0;
      let duplicates = 0;
      let conflicts = 0;
      if (drafts.length > 0) {
        const { meters, meterList, accountOf } = await this.lookup(tx.manager, drafts);
        // Within the batch the first occurrence of a key counts; later ones are duplicates or conflicts.
        const firstByKey = new Map<string, Row>();
        const rows: Row[] = [];
        for (const d of drafts) {
          const accountId = accountOf(d);
          if (!accountId || (scope && accountId !== scope)) {
            const named = d.accountRef ? `accountRef ${d.accountRef.system}/${d.accountRef.object}/${d.accountRef.externalId}` : `accountId ${d.accountId}`;
            rejected.push(reject(d.index, d.id, UsageRejectionCode.UNKNOWN_ACCOUNT, `${named}: no such account`));
            continue;
          }
          const meter = meters.get(d.meter);
          if (!meter) {
            rejected.push(reject(d.index, d.id, UsageRejectionCode.UNKNOWN_METER, `meter: no meter has the key "${d.meter}"`));
            continue;
          }
          const figures = meterFigures(meter, d);
          if ('code' in figures) {
            rejected.push(figures);
            continue;
          }
          const row: Row = {
            i: d.index,
            a: accountId,
            s: d.source === DEFAULT_SOURCE ? undefined : d.source,
            e: d.id,
            k: meter.position,
            q: d.quantity,
            v: figures.value === d.quantity ? undefined : figures.value,
            u: figures.uniqueValue ?? undefined,
            t: d.occurredAt,
            d: d.deployment,
            usr: d.user ?? undefined,
            dev: d.device ?? undefined,
            p: d.properties ?? undefined,
            h: d.hash,
          };
          const key = `${accountId}\u0000${d.source}\u0000${d.id}`;
          const first = firstByKey.get(key);
          if (first) {
            if (first.h === row.h) duplicates++;
            else {
              conflicts++;
              rejected.push(conflictOf(d.index, d.id));
            }
            continue;
          }
          firstByKey.set(key, row);
          rows.push(row);
        }

        if (rows.length > 0) {
          await this.attribute(tx.manager, rows, meterList);
          const notInserted: { i: number; h: string | null }[] = await tx.manager.query(INGEST_SQL, [
            JSON.stringify(rows),
            meterList.map((mt) => mt.id),
            meterList.map((mt) => mt.featureKey),
          ]);
          accepted = rows.length - notInserted.length;
          // Last usage, active users and utilisation shown in the CRM follow the usage.
          if (accepted > 0) tx.publish({ kind: 'usage.recorded', accountIds: rows.map((r) => r.a) });
          if (notInserted.length > 0) {
            const byIndex = new Map(rows.map((r) => [r.i, r]));
            const storedHash = new Map(notInserted.map(({ i, h }) => [i, h]));
            const unseen = notInserted.filter(({ h }) => h === null);
            if (unseen.length > 0) {
              const asked = unseen.map(({ i }) => {
                const r = byIndex.get(i)!;
                return { i, a: r.a, s: r.s ?? DEFAULT_SOURCE, e: r.e };
              });
              const stored: { i: number; content_hash: string }[] = await tx.manager.query(STORED_HASHES_SQL, [JSON.stringify(asked)]);
              for (const x of stored) storedHash.set(x.i, x.content_hash);
            }
            for (const { i } of notInserted) {
              const r = byIndex.get(i)!;
              if (storedHash.get(i) === r.h) duplicates++;
              else {
                conflicts++;
                rejected.push(conflictOf(i, r.e));
              }
            }
          }
        }
      }
      rejected.sort((a, b) => a.index - b.index);
      const result: UsageBatchAnswer = { accepted, duplicates, conflicts, rejected };
      tx.audit({
        entity: 'UsageBatch',
        entityId: null,
        action: 'INGEST',
        after: { events: events.length, accepted, duplicates, conflicts, rejected: rejected.length, scope },
      });
      return result;
    });
    if (answer.accepted > 0 || answer.rejected.length > 0) {
      ctx.log.debug({ accepted: answer.accepted, duplicates: answer.duplicates, conflicts: answer.conflicts, rejected: answer.rejected.length }, 'usage batch');
    }
    return answer;
  }

  /**
   * Sets each row's entitlement (`n`): the candidates of the batch's (account, feature) pairs
   * in one statement, then chooseEntitlement per event (ADR 0060). In the batch's transaction,
   * before its insert: what a concurrent grant commits after this read is not drawn on, as it
   * was not by an insert whose snapshot predates it.
   */
  private async attribute(m: EntityManager, rows: Row[], meterList: readonly MeterRow[]): Promise<void> {
    // Each row's (account, feature) key, once: the pairs to read, then the candidates to choose from.
    const pairOf = new Map<Row, string>();
    const pairs = new Map<string, [string, string]>();
    for (const r of rows) {
      const f = meterList[r.k - 1]!.featureKey;
      if (f === null) continue;
      const key = `${r.a}\u0000${f}`;
      pairOf.set(r, key);
      pairs.set(key, [r.a, f]);
    }
    if (pairs.size === 0) return;
    const list = [...pairs.values()];
    const found = (await m.query(CANDIDATES_SQL, [list.map((p) => p[0]), list.map((p) => p[1])])) as {
      a: string;
      f: string;
      id: string;
      suspended: boolean;
      start: string;
      term_end: string | null;
      use_end: string | null;
    }[];
    const candidates = new Map<string, UsageCandidate[]>();
    for (const c of found) {
      const key = `${c.a}\u0000${c.f}`;
      const list = candidates.get(key) ?? [];
      list.push({ id: c.id, suspended: c.suspended, start: Number(c.start), termEnd: c.term_end === null ? null : Number(c.term_end), useEnd: c.use_end === null ? null : Number(c.use_end) });
      candidates.set(key, list);
    }
    for (const [r, key] of pairOf) {
      const n = chooseEntitlement(candidates.get(key), Date.parse(r.t) * 1000);
      if (n !== null) r.n = n;
    }
  }

  /** Meters by key and accounts by id or reference for the batch, in one statement (which also takes the shared rollup lock). */
  private async lookup(m: EntityManager, drafts: UsageEventDraft[]) {
    const meterKeys = new Set<string>();
    const ids = new Set<string>();
    /** Accounts of this batch known to exist (held here: another batch may clear the shared cache meanwhile). */
    const found = new Set<string>();
    const refs = new Map<string, [string, string, string]>();
    for (const d of drafts) {
      meterKeys.add(d.meter);
      if (d.accountId !== null) {
        const id = d.accountId.toLowerCase();
        if (this.knownAccounts.has(id)) found.add(id);
        else if (isUuid(id)) ids.add(id);
      } else if (d.accountRef) {
        const r = d.accountRef;
        refs.set(refKey(r.system, r.object, r.externalId), [r.system, r.object, r.externalId]);
      }
    }
    const refList = [...refs.values()];
    const [row] = (await m.query(LOOKUP_SQL, [
      [...meterKeys],
      [...ids],
      refList.map((r) => r[0]),
      refList.map((r) => r[1]),
      refList.map((r) => r[2]),
    ])) as { meters: MeterRow[]; accounts: string[]; refs: { system: string; object: string; externalId: string; accountId: string }[] }[];
    // Events name their meter by its 1-based position in the arrays sent beside them.
    const meterList = row!.meters.map((mt, i) => ({ ...mt, position: i + 1 }));
    const meters = new Map(meterList.map((mt) => [mt.key, mt]));
    if (this.knownAccounts.size + row!.accounts.length > MAX_KNOWN_ACCOUNTS) this.knownAccounts.clear();
    for (const id of row!.accounts) {
      this.knownAccounts.add(id);
      found.add(id);
    }
    const byRef = new Map(row!.refs.map((r) => [refKey(r.system, r.object, r.externalId), r.accountId]));
    const accountOf = (d: UsageEventDraft): string | null => {
      if (d.accountId !== null) {
        const id = d.accountId.toLowerCase();
        return found.has(id) ? id : null;
      }
      const r = d.accountRef!;
      return byRef.get(refKey(r.system, r.object, r.externalId)) ?? null;
    };
    return { meters, meterList, accountOf };
  }

  /**
   * Rebuilds the hourly and daily rollups and distinct values of the accounts (all when
   * omitted) from usage_event, in the caller's transaction. Takes the rollup lock
   * exclusively: ingestion waits until the caller commits.
   */
  async recomputeRollups(manager: EntityManager, accountIds?: string[] | null): Promise<{ rollupRows: number; uniqueValues: number }> {
    const ids = accountIds ?? null;
    await manager.query(RECOMPUTE_SQL.lock);
    // Months whose raw events retention dropped cannot be rebuilt: refuse rather than erase their rollups.
    const [dropped] = (await manager.query(RECOMPUTE_SQL.droppedRollups, [ids])) as { kept_from: Date; bucket: Date | null }[];
    if (dropped?.bucket) {
      throw conflict(
        'USAGE_EVENTS_DROPPED',
        `Usage rollups before ${dropped.kept_from.toISOString()} cannot be rebuilt: their raw events were dropped by retention (EHUB_USAGE_RETENTION_MONTHS); the rollups are the record of those months`,
        { keptFrom: dropped.kept_from.toISOString() },
      );
    }
    await manager.query(RECOMPUTE_SQL.deleteRollups, [ids]);
    await manager.query(RECOMPUTE_SQL.deleteUnique, [ids]);
    const [rollups] = (await manager.query(RECOMPUTE_SQL.insertRollups, [ids])) as { n: number }[];
    const [unique] = (await manager.query(RECOMPUTE_SQL.insertUnique, [ids])) as { n: number }[];
    return { rollupRows: rollups!.n, uniqueValues: unique!.n };
  }

  /** rebuildUsageRollups: an operator's repair of one account's rollups, audited. */
  async rebuildRollups(ctx: RequestContext, accountId: string): Promise<{ accountId: string; events: number; rollupRows: number; uniqueValues: number }> {
    if (!isUuid(accountId)) throw notFound('Account', accountId);
    assertAccountVisible(ctx, accountId);
    return this.db.tx(ctx, async (tx) => {
      const [account] = await tx.manager.query('SELECT 1 FROM account WHERE id = $1', [accountId]);
      if (!account) throw notFound('Account', accountId);
      const rebuilt = await this.recomputeRollups(tx.manager, [accountId]);
      const [{ n }] = await tx.manager.query('SELECT count(*)::int AS n FROM usage_event WHERE account_id = $1', [accountId]);
      const result = { accountId, events: n as number, ...rebuilt };
      tx.audit({ entity: 'Account', entityId: accountId, action: 'REBUILD_USAGE_ROLLUPS', after: result });
      return result;
    });
  }
}

const conflictOf = (index: number, id: string): UsageRejection =>
  reject(index, id, UsageRejectionCode.CONFLICT, `id "${id}" was already used for an event with different content (same account and source); it was not counted`);
