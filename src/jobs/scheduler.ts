import cron, { type ScheduledTask } from 'node-cron';
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
 * Runs jobs on their schedules. Each tick takes a PostgreSQL advisory lock named after the
 * job, so with several hub instances on one database a tick runs once; a tick that is still
 * running when the next one fires is not started twice (the lock and `running` both say so).
 */
export class Scheduler {
  private tasks: ScheduledTask[] = [];
  private running = new Map<string, Promise<void>>();
  private abort = new AbortController();

  constructor(
    private readonly ds: DataSource,
    private readonly log: Logger,
  ) {}

  register(job: Job): void {
    if (!cron.validate(job.schedule)) throw new Error(`Job ${job.id}: invalid cron expression "${job.schedule}"`);
    const task = cron.createTask(job.schedule, () => this.tick(job).then(() => undefined), { name: job.id, noOverlap: false });
    this.tasks.push(task);
  }

  start(): void {
    for (const t of this.tasks) t.start();
  }

  /** Runs one tick now (also what the cron trigger calls). Returns false if it was skipped. */
  async tick(job: Job): Promise<boolean> {
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
        await job.execute(this.abort.signal);
        this.log.debug({ job: job.id, ms: Date.now() - started }, 'job done');
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
