import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AppError } from '../common/errors';
import { JOURNAL_COLUMNS, WATERFALL_COLUMNS, type CsvExport, type ExportKind, type ExportRange, type FetchObserver, type GlCodes } from './export-csv';
import type { ExportJob, HubMessage, WorkerMessage } from './export-worker';

/** Chunks (~8 KB of CSV each) the worker may send before the reply has taken the earlier ones. */
const CREDIT = 4;
/**
 * The worker's heap (ADR 0062): a small young generation, so the export's short-lived strings
 * are collected young instead of growing a large one; the old generation only bounds a
 * runaway (an export keeps one FETCH batch and one contract's position alive).
 */
export const EXPORT_WORKER_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 } as const;

/**
 * The worker's code: the compiled `export-worker.js` beside this file in the build; from the
 * TypeScript sources (tests, `npm run ehub`), the `.ts` file through the same on-the-fly
 * compiler the process uses (@swc-node/register, a development dependency). Looked up once.
 */
let script: { code: string; eval: boolean } | undefined;
function spawn(job: ExportJob): Worker {
  const compiled = path.join(__dirname, 'export-worker.js');
  script ??= existsSync(compiled)
    ? { code: compiled, eval: false }
    : { code: `require(${JSON.stringify(require.resolve('@swc-node/register'))}); require(${JSON.stringify(path.join(__dirname, 'export-worker.ts'))});`, eval: true };
  return new Worker(script.code, { workerData: job, resourceLimits: EXPORT_WORKER_LIMITS, name: `ehub-export-${job.kind}`, eval: script.eval });
}

/**
 * Runs the finance exports of the HTTP routes in worker threads (ADR 0062), at most `limit` at
 * once: each export a thread and a database connection of its own (outside the pool, so a
 * long export takes no connection from requests). One more is refused with LIMIT_EXCEEDED
 * (EXPORTS_BUSY, HTTP 429) rather than queued behind a file of a million rows.
 */
export class ExportThreads {
  private running = 0;

  constructor(
    private readonly url: string,
    private readonly gl: GlCodes,
    readonly limit: number,
    private readonly onFetch: FetchObserver = () => undefined,
  ) {}

  /** Exports running now. */
  get active(): number {
    return this.running;
  }

  /**
   * The export's CSV records as UTF-8 bytes, made in a worker thread. Leaving early (return())
   * ends the thread, whose connection closes and whose transaction PostgreSQL rolls back.
   */
  start(kind: ExportKind, range: ExportRange): CsvExport<Uint8Array> {
    if (this.running >= this.limit) {
      throw new AppError('LIMIT_EXCEEDED', 'EXPORTS_BUSY', `${this.running} exports are running, the most this hub runs at once (EHUB_EXPORT_CONCURRENCY); retry when one has finished`, {
        limit: this.limit,
        retryAfterSeconds: 5,
      });
    }
    this.running++;
    const progress = { rows: 0 };
    const worker = spawn({ kind, range, url: this.url, gl: this.gl });
    const queue: Uint8Array[] = [];
    let failure: Error | null = null;
    let waiting: (() => void) | null = null;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      this.running--;
      void worker.terminate();
    };
    const wakeUp = () => {
      waiting?.();
      waiting = null;
    };
    worker.on('message', (m: WorkerMessage) => {
      if (m.t === 'chunk') queue.push(m.bytes);
      else if (m.t === 'fetch') {
        progress.rows += m.rows;
        this.onFetch(kind, m.rows);
      } else if (m.t === 'end') {
        finish();
      } else {
        failure = Object.assign(new Error(`The ${kind} export failed: ${m.message}`), m.code ? { code: m.code } : {});
        finish();
      }
      wakeUp();
    });
    worker.on('error', (err) => {
      // Out of memory (ERR_WORKER_OUT_OF_MEMORY) or a bug: the export cannot go on.
      failure ??= Object.assign(new Error(`The ${kind} export's worker failed: ${err.message}`), { cause: err });
      finish();
      wakeUp();
    });
    worker.on('exit', () => {
      if (!failure && !finished) failure = new Error(`The ${kind} export's worker stopped before the end`);
      finish();
      wakeUp();
    });
    const credit = (n: number) => {
      if (!finished) worker.postMessage({ t: 'credit', n } satisfies HubMessage);
    };
    credit(CREDIT);

    const chunks: AsyncGenerator<Uint8Array> = {
      async next(): Promise<IteratorResult<Uint8Array>> {
        for (;;) {
          const bytes = queue.shift();
          if (bytes) {
            credit(1);
            return { value: bytes, done: false };
          }
          if (failure) throw failure;
          if (finished) return { value: undefined, done: true };
          await new Promise<void>((resolve) => (waiting = resolve));
        }
      },
      async return(): Promise<IteratorResult<Uint8Array>> {
        queue.length = 0;
        finish();
        return { value: undefined, done: true };
      },
      async throw(err: unknown): Promise<IteratorResult<Uint8Array>> {
        queue.length = 0;
        finish();
        throw err;
      },
      [Symbol.asyncIterator]() {
        return this;
      },
      async [Symbol.asyncDispose]() {
        finish();
      },
    };
    return { header: kind === 'waterfall' ? WATERFALL_COLUMNS : JOURNAL_COLUMNS, chunks, progress };
  }
}
