import type { Connector, PushObject, PushResult } from '../../connectors/types';
import { ConnectorError } from '../../connectors/types';
import { groupBy } from '../common/collections';
import type { RequestContext } from '../common/context';
import type { Config } from '../config';
import type { Db } from '../db/db';
import type { SyncConnection, SyncRun, SyncTrigger } from './sync.entities';
import { SyncRunKind } from './sync.entities';
import { payloadsFor } from './sync-payloads';
import { RevenueExports } from '../revenue/exports';
import { RunRecorder } from './sync-runs';
import { backoffMs } from '../common/backoff';
import { contentHash } from '../common/stable-json';

/** An item claimed for delivery. */
interface Claimed {
  id: string;
  object: PushObject;
  record_key: string;
  attempts: number;
  payload_hash: string | null;
}

/** A SUBMITTED item claimed to read its job's outcome: the values as sent, and the job. */
interface ClaimedSubmitted extends Claimed {
  payload: unknown;
  push_handle: string;
}

/** How one item ended in this run. */
interface Finished {
  id: string;
  ok: boolean;
  hash?: string | null;
  payload?: unknown;
  targetId?: string | null;
  errorCode?: string | null;
  error?: string | null;
  /** Failure: false = dead-letter now. */
  retryable?: boolean;
  /** Failure: count as an attempt (a spent API budget is not the item's fault). */
  countAttempt?: boolean;
  /** Failure: wait at least this long. */
  retryAfterMs?: number;
}

export interface PushProgress {
  delivered: number;
  failed: number;
  unchanged: number;
}

export interface PushOptions {
  trigger: SyncTrigger;
  signal?: AbortSignal;
  onProgress?: (p: PushProgress) => void;
}

/** A claim older than this is taken over (its instance died mid-delivery). */
const CLAIM_TTL = '15 minutes';

/**
 * Delivers the outbox of one connection. Items are claimed (PENDING/FAILED and due, or
 * IN_FLIGHT with an expired claim) with a conditional update, so concurrent runs never send
 * one item twice; their payloads are computed now (the latest values win) and compared with
 * what the target last acknowledged (unchanged: closed without an API call); the rest go to
 * the connector in one batch per object — it picks sObject Collections or Bulk API 2.0 — and
 * every item's result is written back: DONE (or PENDING again if it changed meanwhile),
 * FAILED with backoff and jitter, or DEAD after the connection's max attempts or a
 * permanent error. No database transaction is open while the connector calls out.
 *
 * A batch the connector hands over as a job the target finishes on its own (a Salesforce Bulk
 * API 2.0 job) is recorded before the job starts: its items become SUBMITTED with the job's
 * handle and the values sent. If anything fails after that (a poll, reading the results, the
 * process itself), the next push reads that job's outcome (`resumePush`) instead of sending
 * the batch again; only what the job never processed is sent again.
 */
export class SyncPusher {
  constructor(
    private readonly db: Db,
    private readonly config: Config,
  ) {}

  async push(ctx: RequestContext, conn: SyncConnection, connector: Connector, opts: PushOptions): Promise<SyncRun | null> {
    const deadline = Date.now() + this.config.EHUB_SYNC_RUN_BUDGET_MS;
    let run: RunRecorder | null = null;
    const log = ctx.log.child({ connection: conn.name, job: 'sync-push' });
    try {
      // First the outcomes of jobs handed over earlier (a failed poll, a restart): their items
      // are never sent again as new writes, and those a job did not process become due below.
      while (Date.now() < deadline && !opts.signal?.aborted) {
        const submitted = await this.claimSubmitted(conn.id, this.config.EHUB_SYNC_PUSH_BATCH);
        if (submitted.length === 0) break;
        run ??= await RunRecorder.start(this.db, { connectionId: conn.id, kind: SyncRunKind.PUSH, object: 'outbox', trigger: opts.trigger }, connector);
        const stop = await this.resume(conn, connector, submitted, run, log);
        if (stop) return await run.finish(stop);
      }
      while (Date.now() < deadline && !opts.signal?.aborted) {
        const claimed = await this.claim(conn.id, this.config.EHUB_SYNC_PUSH_BATCH);
        if (claimed.length === 0) break;
        run ??= await RunRecorder.start(this.db, { connectionId: conn.id, kind: SyncRunKind.PUSH, object: 'outbox', trigger: opts.trigger }, connector);
        const stop = await this.deliver(conn, connector, claimed, run, log);
        opts.onProgress?.({ delivered: run.counts.created + run.counts.updated, failed: run.counts.failed, unchanged: run.counts.unchanged });
        if (stop) return await run.finish(stop);
      }
      if (!run) return null; // nothing was due: no run recorded
      return await run.finish();
    } catch (err) {
      log.error({ err }, 'sync push failed');
      if (!run) run = await RunRecorder.start(this.db, { connectionId: conn.id, kind: SyncRunKind.PUSH, object: 'outbox', trigger: opts.trigger }, connector);
      return run.finish(err);
    }
  }

  /** Claims up to `limit` due items, oldest due first (grouped by object for batching). */
  private async claim(connectionId: string, limit: number): Promise<Claimed[]> {
    const [rows]: [Claimed[], number] = await this.db.manager.query(
      `WITH due AS (
         SELECT id FROM sync_outbox
          WHERE connection_id = $1
            AND ((status IN ('PENDING','FAILED') AND next_attempt_at <= now()) OR (status = 'IN_FLIGHT' AND claimed_until < now()))
          ORDER BY next_attempt_at, id
          LIMIT $2
          FOR UPDATE SKIP LOCKED
       )
       UPDATE sync_outbox o SET status = 'IN_FLIGHT', claimed_version = o.dirty_version, claimed_until = now() + interval '${CLAIM_TTL}', updated_at = now()
         FROM due WHERE o.id = due.id
       RETURNING o.id, o.object, o.record_key, o.attempts, o.payload_hash`,
      [connectionId, limit],
    );
    return rows;
  }

  /**
   * Claims SUBMITTED items that are due to have their job read (none is read by two pushes at
   * once: the same conditional claim as for delivery).
   */
  private async claimSubmitted(connectionId: string, limit: number): Promise<ClaimedSubmitted[]> {
    const [rows]: [ClaimedSubmitted[], number] = await this.db.manager.query(
      `WITH due AS (
         SELECT id FROM sync_outbox
          WHERE connection_id = $1 AND status = 'SUBMITTED' AND next_attempt_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
          ORDER BY next_attempt_at, id
          LIMIT $2
          FOR UPDATE SKIP LOCKED
       )
       UPDATE sync_outbox o SET claimed_until = now() + interval '${CLAIM_TTL}', updated_at = now()
         FROM due WHERE o.id = due.id
       RETURNING o.id, o.object, o.record_key, o.attempts, o.payload_hash, o.payload, o.push_handle`,
      [connectionId, limit],
    );
    return rows;
  }

  /**
   * Reads the outcome of each job that claimed items were handed over in (`resumePush`), and
   * writes it back as a delivery would: DONE, FAILED (what the job refused or never processed,
   * sent again later as a new write) or DEAD. A job that cannot be read yet keeps its items
   * SUBMITTED, to be read again after a backoff. Returns the error that should stop the run.
   */
  private async resume(conn: SyncConnection, connector: Connector, claimed: ClaimedSubmitted[], run: RunRecorder, log: RequestContext['log']): Promise<Error | null> {
    const byJob = groupBy(claimed, (c) => `${c.object}\u0000${c.push_handle}`);
    for (const items of byJob.values()) {
      const { object, push_handle: handle } = items[0]!;
      run.counts.read += items.length;
      let results: PushResult[];
      try {
        if (!connector.resumePush) throw new ConnectorError('INVALID', 'RESUME_UNSUPPORTED', `the ${connector.type} connector cannot read submitted work`);
        results = await connector.resumePush({ log }, { object, items: items.map((i) => ({ key: i.id, payload: i.payload as never })) }, handle);
      } catch (err) {
        const e = err instanceof ConnectorError ? err : new ConnectorError('UNAVAILABLE', 'CONNECTOR_ERROR', err instanceof Error ? err.message : String(err));
        if (e.code === 'RESUME_UNSUPPORTED' || e.code === 'INVALID_HANDLE') {
          // Nothing can ever read this job: send the items again (every write is idempotent).
          await this.finish(conn, items, items.map((i) => ({ id: i.id, ok: false, errorCode: e.code, error: e.message, retryable: true, countAttempt: false, payload: i.payload })));
        } else {
          await this.stillSubmitted(items, e);
        }
        run.error(handle, e.code, `reading the outcome of ${handle}: ${e.message}`, false);
        log.warn({ err: e, handle, items: items.length }, 'sync push: the outcome of a submitted job could not be read yet; read again later');
        if (e.kind === 'RATE_LIMITED' || e.kind === 'AUTH') return e;
        continue;
      }
      await this.finish(conn, items, this.outcomes(items.map((i) => ({ item: i, payload: i.payload, hash: contentHash(i.payload) })), results, run));
    }
    return null;
  }

  /** SUBMITTED items whose job could not be read: released, read again after a backoff (never dead-lettered: the job holds them). */
  private async stillSubmitted(items: Claimed[], e: ConnectorError): Promise<void> {
    const rows = items.map((i) => ({
      id: i.id,
      attempts: i.attempts + 1,
      wait: Math.max(backoffMs(i.attempts + 1, this.config.EHUB_SYNC_BACKOFF_BASE_MS, this.config.EHUB_SYNC_BACKOFF_MAX_MS), e.retryAfterMs ?? 0),
    }));
    await this.db.manager.query(
      `UPDATE sync_outbox o SET attempts = r.attempts, next_attempt_at = now() + r.wait * interval '1 millisecond',
              last_error_code = $2, last_error = $3, claimed_until = NULL, updated_at = now()
         FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, attempts int, wait bigint)
        WHERE o.id = r.id AND o.status = 'SUBMITTED'`,
      [JSON.stringify(rows), e.code, `${e.message} (the job's outcome is read again; the items are not sent again)`],
    );
  }

  /**
   * Items the connector handed over as one job (`onSubmitted`): SUBMITTED with the job's
   * handle and the values sent, claimed by this push while it waits for the outcome.
   */
  private async submit(handle: string, keys: string[], payloads: Map<string, unknown>): Promise<void> {
    const rows = keys.map((id) => ({ id, payload: payloads.get(id) ?? null }));
    await this.db.manager.query(
      `UPDATE sync_outbox o SET status = 'SUBMITTED', push_handle = $2, payload = r.payload, claimed_until = now() + interval '${CLAIM_TTL}', updated_at = now()
         FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, payload jsonb)
        WHERE o.id = r.id AND o.status IN ('IN_FLIGHT','SUBMITTED')`,
      [JSON.stringify(rows), handle],
    );
  }

  /** Delivers one claimed batch; returns the error that should stop the run, if any. */
  private async deliver(conn: SyncConnection, connector: Connector, claimed: Claimed[], run: RunRecorder, log: RequestContext['log']): Promise<Error | null> {
    const byObject = groupBy(claimed, (c) => c.object) as Map<PushObject, Claimed[]>;
    const remaining = new Set(claimed.map((c) => c.id));
    for (const [object, items] of byObject) {
      run.counts.read += items.length;
      const payloads = await payloadsFor(this.db.manager, object, items.map((i) => i.record_key), { id: conn.id, refSystem: conn.refSystem, options: conn.options ?? {} }, new RevenueExports(this.db, this.config));
      const finished: Finished[] = [];
      const toSend: { item: Claimed; payload: unknown; hash: string }[] = [];
      for (const item of items) {
        const payload = payloads.get(item.record_key) ?? null;
        const hash = payload === null ? null : contentHash(payload);
        // Nothing to write, or the target already holds exactly this: no API call.
        if (payload === null || hash === null || hash === item.payload_hash) {
          run.counts.unchanged++;
          finished.push({ id: item.id, ok: true, hash: item.payload_hash, payload: undefined });
        } else toSend.push({ item, payload, hash });
      }
      if (toSend.length) {
        let results: PushResult[];
        const submitted = new Set<string>();
        const payloadOf = new Map(toSend.map((s) => [s.item.id, s.payload]));
        const onSubmitted = async (handle: string, keys: string[]): Promise<void> => {
          await this.submit(handle, keys, payloadOf);
          for (const k of keys) submitted.add(k);
        };
        try {
          results = await connector.push({ log, onSubmitted }, { object, items: toSend.map((s) => ({ key: s.item.id, payload: s.payload as never })) });
        } catch (err) {
          const e = err instanceof ConnectorError ? err : new ConnectorError('UNAVAILABLE', 'CONNECTOR_ERROR', err instanceof Error ? err.message : String(err));
          // Items already in a job the target goes on with: read from that job later, never sent again.
          const waiting = items.filter((i) => submitted.has(i.id));
          if (waiting.length) {
            await this.stillSubmitted(waiting, e);
            run.error(null, e.code, `${waiting.length} item(s) handed to the target in a job whose outcome could not be read: ${e.message}; read again later`, false);
          }
          for (const s of toSend) {
            if (submitted.has(s.item.id)) continue;
            finished.push({
              id: s.item.id,
              ok: false,
              errorCode: e.code,
              error: e.message,
              retryable: true, // the call failed, not the record: never dead-lettered on the first try
              countAttempt: e.kind !== 'RATE_LIMITED',
              retryAfterMs: e.retryAfterMs,
            });
            run.error(s.item.record_key, e.code, e.message, false);
          }
          run.counts.failed += toSend.length - waiting.length;
          await this.finish(conn, items.filter((i) => !submitted.has(i.id)), finished);
          for (const i of items) remaining.delete(i.id);
          await this.release([...remaining]);
          log.warn({ err: e, items: toSend.length }, 'sync push call failed; items retried with backoff');
          return e;
        }
        finished.push(...this.outcomes(toSend, results, run));
      }
      await this.finish(conn, items, finished);
      for (const i of items) remaining.delete(i.id);
    }
    return null;
  }

  /** Each sent item's outcome from the connector's results (counted on the run). */
  private outcomes(sent: { item: Claimed; payload: unknown; hash: string }[], results: PushResult[], run: RunRecorder): Finished[] {
    const byKey = new Map(results.map((r) => [r.key, r]));
    return sent.map((s) => {
      const r = byKey.get(s.item.id);
      if (r?.ok) {
        if (s.item.payload_hash === null) run.counts.created++;
        else run.counts.updated++;
        return { id: s.item.id, ok: true, hash: s.hash, payload: s.payload, targetId: r.targetId ?? null };
      }
      // A missing result is a failure too: never assume a write happened.
      const code = r?.errorCode ?? 'NO_RESULT';
      const message = r?.errorMessage ?? 'the connector returned no result for this item';
      run.error(s.item.record_key, code, message);
      return { id: s.item.id, ok: false, errorCode: code, error: message, retryable: r?.retryable ?? true, countAttempt: true, payload: s.payload };
    });
  }

  /** Writes the outcome of each item in one statement. */
  private async finish(conn: SyncConnection, items: Claimed[], finished: Finished[]): Promise<void> {
    const attempts = new Map(items.map((i) => [i.id, i.attempts]));
    const rows = finished.map((f) => {
      // A delivered item keeps only the hash of what the target holds; the values are kept
      // on FAILED and DEAD items, where a person needs to see what did not get through.
      if (f.ok) return { id: f.id, status: 'DONE', attempts: 0, wait: 0, hash: f.hash ?? null, sent: f.payload !== undefined, payload: null, target: f.targetId ?? null, code: null, error: null };
      const n = (attempts.get(f.id) ?? 0) + (f.countAttempt === false ? 0 : 1);
      const dead = f.retryable === false || n >= conn.maxAttempts;
      const wait = Math.max(backoffMs(Math.max(1, n), this.config.EHUB_SYNC_BACKOFF_BASE_MS, this.config.EHUB_SYNC_BACKOFF_MAX_MS), f.retryAfterMs ?? 0);
      return { id: f.id, status: dead ? 'DEAD' : 'FAILED', attempts: n, wait, hash: null, sent: false, payload: f.payload ?? null, target: null, code: f.errorCode ?? null, error: f.error ?? null };
    });
    if (!rows.length) return;
    // DONE only if nothing changed since the claim; else PENDING, to send the newer values.
    await this.db.manager.query(
      `UPDATE sync_outbox o SET
         status = CASE WHEN r.status = 'DONE' AND o.dirty_version <> o.claimed_version THEN 'PENDING' ELSE r.status END,
         attempts = r.attempts,
         next_attempt_at = CASE WHEN r.status = 'DONE' THEN now() ELSE now() + r.wait * interval '1 millisecond' END,
         payload_hash = CASE WHEN r.status = 'DONE' THEN coalesce(r.hash, o.payload_hash) ELSE o.payload_hash END,
         payload = CASE WHEN r.status = 'DONE' THEN NULL ELSE coalesce(r.payload, o.payload) END,
         target_id = coalesce(r.target, o.target_id),
         last_error_code = r.code,
         last_error = r.error,
         delivered_at = CASE WHEN r.sent THEN now() ELSE o.delivered_at END,
         dead_at = CASE WHEN r.status = 'DEAD' THEN now() ELSE NULL END,
         push_handle = NULL,
         claimed_until = NULL,
         updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, status text, attempts int, wait bigint, hash text, sent boolean, payload jsonb, target text, code text, error text)
       WHERE o.id = r.id`,
      [JSON.stringify(rows)],
    );
  }

  /** Hands claimed items back untouched (the run stopped before sending them). */
  private async release(ids: string[]): Promise<void> {
    if (!ids.length) return;
    await this.db.manager.query(
      `UPDATE sync_outbox SET status = CASE WHEN attempts > 0 THEN 'FAILED' ELSE 'PENDING' END, claimed_until = NULL, updated_at = now()
        WHERE id = ANY($1::uuid[]) AND status = 'IN_FLIGHT'`,
      [ids],
    );
  }
}
