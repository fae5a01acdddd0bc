import crypto from 'node:crypto';
import os from 'node:os';
import cron, { type ScheduledTask } from 'node-cron';
import { SpanKind } from '@opentelemetry/api';
import { inSpan } from '../telemetry/tracing';
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';

/** A scheduled job (Vendure-style): an id, a cron expression, and the work. */
export interface Job {
  id: string;
  /** node-cron expression (seconds field optional), e.g. every five minutes. */
  schedule: string;
  execute(signal: AbortSignal): Promise<unknown>;
}

/**
 * Runs jobs on their schedules, once per tick across hub instances sharing a database:
 * - a tick is claimed in `job_tick` by its scheduled instant (the instance that moves the
 *   job's last_tick_at forward runs it; the others, firing the same tick, skip it), and
 * - the run holds a PostgreSQL advisory lock named after the job, so a tick that overruns is
 *   not overlapped by the next one, here or on another instance (`running` covers this one).
 */
export class Scheduler {
  private tasks: ScheduledTask[] = [];
  private running = new Map<string, Promise<void>>();
  private abort = new AbortController();

  /** Who ran a tick, in job_tick (host and process; several instances may share a host). */
  readonly instance = `${os.hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;

  constructor(
    private readonly ds: DataSource,
    private readonly log: Logger,
  ) {}

  register(job: Job): void {
    if (!cron.validate(job.schedule)) throw new Error(`Job ${job.id}: invalid cron expression "${job.schedule}"`);
    const task = cron.createTask(job.schedule, (c) => this.tick(job, wholeSecond(c.date)).then(() => undefined), { name: job.id, noOverlap: false });
    this.tasks.push(task);
  }

  start(): void {
    for (const t of this.tasks) t.start();
  }

  /**
   * Runs one tick (what the cron trigger calls, with the tick's scheduled instant; by hand,
   * `at` defaults to now). Returns false if it was skipped: already run (by this or another
   * instance), or the previous tick still running.
   */
  async tick(job: Job, at: Date = new Date()): Promise<boolean> {
    if (this.running.has(job.id) || this.abort.signal.aborted) return false;
    let release!: () => void;
    this.running.set(job.id, new Promise<void>((r) => (release = r)));
    const runner = this.ds.createQueryRunner();
    try {
      await runner.connect();
      const [{ locked }] = await runner.query(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [`ehub:job:${job.id}`]);
      if (!locked) return false;
      const started = Date.now();
      try {
        const claimed: unknown[] = await runner.query(
          `INSERT INTO job_tick AS t (job_id, last_tick_at, runs, last_instance, last_started_at) VALUES ($1, $2, 1, $3, now())
           ON CONFLICT (job_id) DO UPDATE SET last_tick_at = $2, runs = t.runs + 1, last_instance = $3, last_started_at = now()
            WHERE t.last_tick_at < $2
           RETURNING job_id`,
          [job.id, at, this.instance],
        );
        if (claimed.length === 0) return false;
        // One trace per scheduled job run (ADR 0044); a no-op without OpenTelemetry.
        await inSpan('job.run', { 'ehub.job': job.id, 'ehub.job.tick': at.toISOString() }, () => job.execute(this.abort.signal), SpanKind.INTERNAL, true);
        this.log.debug({ job: job.id, ms: Date.now() - started }, 'job done');
        await runner.query(`UPDATE job_tick SET last_finished_at = now() WHERE job_id = $1`, [job.id]);
      } catch (err) {
        this.log.error({ err, job: job.id }, 'job failed');
      } finally {
        await runner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [`ehub:job:${job.id}`]);
      }
      return true;
    } finally {
      await runner.release();
      this.running.delete(job.id);
      release();
    }
  }

  /** Stops the triggers and waits for running ticks (they see the abort signal). */
  async stop(): Promise<void> {
    for (const t of this.tasks) await t.stop();
    this.abort.abort();
    await Promise.all(this.running.values());
  }
}

/** Cron ticks are named by their scheduled second: every instance firing the tick agrees on it. */
function wholeSecond(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}
