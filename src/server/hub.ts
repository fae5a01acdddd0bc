import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { systemContext } from '../common/context';
import { openReadDataSource } from '../db/data-source';
import { openDatabase, runMigrations } from '../db/open-database';
import { Db } from '../db/db';
import { Scheduler } from '../jobs/scheduler';
import { complianceJobs } from '../compliance/compliance.jobs';
import { webhookJobs } from '../webhooks/webhook.jobs';
import { revenueJobs } from '../revenue/revenue.jobs';
import { deliveryJobs } from '../delivery/delivery.jobs';
import { healthJobs } from '../health/health.jobs';
import { modelFitJobs } from '../modelfit/modelfit.jobs';
import { syncJobs } from '../sync/sync.jobs';
import { retentionJobs } from '../jobs/retention';
import { usagePartitionJobs } from '../jobs/usage-partitions';
import { Role } from '../auth/role';
import { buildApp } from './app';
import { releaseMemory } from './memory';
import { replicaDownMessage } from '../db/database-tls';
import { createLogger } from './logger';
import { buildHubSchema } from './schema';
import { createServices, type Services } from './services';
import { UsageStream } from '../usage/usage.stream';

/**
 * Makes sure somebody can log in: EHUB_ADMIN_KEY if given; otherwise, on a hub with no keys
 * at all, a generated admin key written to EHUB_DATA_DIR/admin.key (shown once, there).
 */
export async function bootstrapAdmin(services: Services, log: Logger): Promise<void> {
  const ctx = systemContext(log, 'bootstrap');
  if (services.config.EHUB_ADMIN_KEY) {
    const key = await services.apiKeys.ensureBootstrapAdmin(ctx, services.config.EHUB_ADMIN_KEY);
    log.info({ prefix: key.prefix }, 'admin key from EHUB_ADMIN_KEY is ready');
    return;
  }
  if ((await services.apiKeys.count()) > 0) return;
  const created = await services.apiKeys.create(ctx, { name: 'generated admin', role: Role.ADMIN });
  const file = path.join(services.config.dataDir, 'admin.key');
  await fs.mkdir(services.config.dataDir, { recursive: true });
  await fs.writeFile(file, created.key + '\n', { mode: 0o600 });
  log.warn({ file, prefix: created.apiKey.prefix }, `no API keys existed: an admin key was generated into ${file}`);
}

/** The hub's scheduled jobs (each tick runs once across instances: advisory locks). */
export function registerJobs(scheduler: Scheduler, services: Services, log: Logger): void {
  scheduler.register({
    id: 'entitlement-lifecycle',
    schedule: services.config.EHUB_LIFECYCLE_CRON,
    execute: async () => {
      const moved = await services.entitlements.runLifecycle(systemContext(log, 'job:entitlement-lifecycle'));
      if (moved.expired || moved.cancelled) log.info(moved, 'entitlement lifecycle: statuses moved');
    },
  });
  scheduler.register({
    id: 'churn',
    schedule: services.config.EHUB_CHURN_CRON,
    execute: () => services.churn.runScheduled(systemContext(log, 'job:churn')),
  });
  for (const job of [...complianceJobs(services, log), ...webhookJobs(services, log), ...revenueJobs(services, log), ...syncJobs(services, log), ...retentionJobs(services.retention, services.config.EHUB_RETENTION_CRON, log), ...usagePartitionJobs(services.usagePartitions, services.config.EHUB_USAGE_PARTITIONS_CRON, log), ...healthJobs(services, log), ...modelFitJobs(services, log), ...deliveryJobs(services, log)]) {
    scheduler.register(job);
  }
}

export interface Hub {
  app: FastifyInstance;
  services: Services;
  scheduler: Scheduler;
  url: string;
  stop(): Promise<void>;
}

/** How `startHub` runs. */
export interface StartOptions {
  /**
   * Hand back the memory start-up used (src/server/memory.ts, ADR 0062): a full collection once
   * the database is open and again once listening. `ehub serve` does unless
   * EHUB_RELEASE_STARTUP_MEMORY=false; a hub inside another program (the tests) need not.
   */
  releaseStartupMemory?: boolean;
}

/** Starts everything `ehub serve` runs: database, migrations, admin key, server, jobs. */
export async function startHub(config: Config, log: Logger = createLogger(config), opts: StartOptions = {}): Promise<Hub> {
  const release = (phase: string) => {
    if (!opts.releaseStartupMemory) return;
    const r = releaseMemory();
    if (r) log.debug({ phase, rssBeforeMb: Math.round(r.before / 2 ** 20), rssAfterMb: Math.round(r.after / 2 ** 20) }, 'start-up memory released');
  };
  const db = await openDatabase(config, log);
  release('database open');
  const readDs = await openReadDataSource(config.DATABASE_READ_URL, config.EHUB_DB_READ_POOL_SIZE, log);
  let app: FastifyInstance | undefined;
  let scheduler: Scheduler | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  let services: Services | undefined;
  const stop = async () => {
    const deadline = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.EHUB_SHUTDOWN_TIMEOUT_MS);
    deadline.unref();
    try {
      await app?.close(); // stop accepting, drain in-flight requests
      log.debug('http server closed');
      // The batch being written commits and is acked; the rest pulled goes back to the stream.
      await services?.usage.stream?.stop();
      await scheduler?.stop();
      log.debug('jobs stopped');
      if (flushTimer) clearInterval(flushTimer);
      await services?.identity.stop();
      await services?.updateNotices.close();
      await services?.apiKeys.flushLastUsed().catch((err) => log.warn({ err }, 'could not record key use'));
    } finally {
      if (readDs?.isInitialized) await readDs.destroy().catch(() => undefined);
      await db.close(); // close the pool, stop embedded PostgreSQL
      log.debug('database closed');
      clearTimeout(deadline);
    }
  };
  try {
    await runMigrations(db.ds, log);
    services = createServices(new Db(db.ds, readDs, (err) => log.warn({ err }, replicaDownMessage(err, config.DATABASE_READ_URL!))), config);
    await bootstrapAdmin(services, log);
    await services.certificates.ensureSigningKey(systemContext(log, 'startup:signing-key'));
    await services.sync.ensureEnvConnection(log);
    if (config.EHUB_USAGE_STREAM) {
      const stream = new UsageStream(config, log);
      services.usage.stream = stream;
      await stream.start(services.usage);
    }
    const schema = await buildHubSchema();
    app = await buildApp({ services, schema, log });
    scheduler = new Scheduler(db.ds, log);
    registerJobs(scheduler, services, log);
    const s = services;
    flushTimer = setInterval(() => void s.apiKeys.flushLastUsed().catch((err) => log.warn({ err }, 'could not record key use')), 30_000);
    flushTimer.unref();
    if (config.EHUB_JOBS_ENABLED) scheduler.start();
    const address = await app.listen({ port: config.PORT, host: config.HOST });
    release('listening');
    log.info({ address, graphiql: `${address}/graphql`, console: `${address}/console`, embeddedDatabase: Boolean(db.embedded) }, 'Entitlement Hub is listening');
    return { app, services, scheduler, url: address, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
