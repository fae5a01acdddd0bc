import { ConnectorError, type Connector } from '../../connectors/types';
import type { Db } from '../db/db';
import type { SyncRunKind, SyncTrigger } from './sync.entities';
import { SyncRun, SyncRunStatus } from './sync.entities';

/** Per-record errors kept on a run (the counts keep going past it). */
const MAX_ERRORS = 100;

export interface RunCounts {
  read: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  failed: number;
  apiCalls: number;
}

/**
 * One sync run as it happens: inserted RUNNING when it starts (so `syncRuns` shows it),
 * counted in memory, and written once when it ends. Runs are bookkeeping, written outside
 * the transactions that apply records.
 */
export class RunRecorder {
  readonly counts: RunCounts = { read: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, failed: 0, apiCalls: 0 };
  readonly errors: { record: string | null; code: string; message: string; row?: number | null; column?: string | null }[] = [];
  cursorTo: string | null = null;
  private started = Date.now();

  private readonly apiCallsBefore: number;

  private constructor(
    private readonly db: Db,
    readonly id: string,
    /** The connector whose API calls the run counts (from start to finish). */
    private readonly connector?: Pick<Connector, 'stats'>,
  ) {
    this.apiCallsBefore = connector?.stats().apiCalls ?? 0;
  }

  static async start(
    db: Db,
    run: { connectionId: string; kind: SyncRunKind; object: string; trigger: SyncTrigger; cursorFrom?: string | null },
    connector?: Pick<Connector, 'stats'>,
  ): Promise<RunRecorder> {
    const [row] = await db.manager.query(
      `INSERT INTO sync_run (connection_id, kind, object, trigger, status, cursor_from) VALUES ($1, $2, $3, $4, 'RUNNING', $5) RETURNING id`,
      [run.connectionId, run.kind, run.object, run.trigger, run.cursorFrom ?? null],
    );
    return new RunRecorder(db, row.id, connector);
  }

  /** Records an error about one record; `count` false adds detail to a failure already counted. */
  error(record: string | null, code: string, message: string, count = true, where?: { row?: number | null; column?: string | null }): void {
    if (count) this.counts.failed++;
    if (this.errors.length < MAX_ERRORS) this.errors.push({ record, code, message: message.slice(0, 1000), ...(where ? { row: where.row ?? null, column: where.column ?? null } : {}) });
  }

  /**
   * Writes the counts so far to the RUNNING run (after each page of a pull), so `syncRuns`
   * shows how far a long import is. Bookkeeping only: the run's outcome is written by `finish`.
   */
  async progress(): Promise<void> {
    const c = this.counts;
    await this.db.manager.query(
      `UPDATE sync_run SET read = $2, created = $3, updated = $4, unchanged = $5, deleted = $6, failed = $7, cursor_to = $8, errors = $9::jsonb
        WHERE id = $1 AND status = 'RUNNING'`,
      [this.id, c.read, c.created, c.updated, c.unchanged, c.deleted, c.failed, this.cursorTo, JSON.stringify(this.errors)],
    );
  }

  /** Writes the outcome: FAILED when `fatal` is given, PARTIAL when records failed, else SUCCEEDED. */
  async finish(fatal?: unknown): Promise<SyncRun> {
    const status = fatal ? SyncRunStatus.FAILED : this.counts.failed > 0 ? SyncRunStatus.PARTIAL : SyncRunStatus.SUCCEEDED;
    const error = fatal instanceof ConnectorError ? `${fatal.code}: ${fatal.message}` : fatal instanceof Error ? fatal.message : fatal ? String(fatal) : null;
    const c = this.counts;
    if (this.connector) c.apiCalls = this.connector.stats().apiCalls - this.apiCallsBefore;
    await this.db.manager.query(
      `UPDATE sync_run SET status = $2, finished_at = now(), duration_ms = $3, read = $4, created = $5, updated = $6, unchanged = $7,
              deleted = $8, failed = $9, api_calls = $10, cursor_to = $11, error = $12, errors = $13::jsonb
        WHERE id = $1`,
      [this.id, status, Date.now() - this.started, c.read, c.created, c.updated, c.unchanged, c.deleted, c.failed, c.apiCalls, this.cursorTo, error?.slice(0, 2000) ?? null, JSON.stringify(this.errors)],
    );
    return this.db.manager.findOneOrFail(SyncRun, { where: { id: this.id } });
  }
}
