import type { Logger } from 'pino';
import { loadConfig, type Config } from '../config';
import { Db } from '../db/db';
import { createLogger, openDatabase, runMigrations } from '../server/hub';
import { createServices, type Services } from '../server/services';

/**
 * Opens the database for a one-shot CLI command (embedded or DATABASE_URL), migrated, and
 * closes it afterwards. CLI logs go to stderr at warn unless LOG_LEVEL says otherwise.
 */
export async function withServices<T>(fn: (services: Services, log: Logger, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig({ LOG_LEVEL: 'warn', ...process.env });
  const log = createLogger(config, { stderr: true });
  const db = await openDatabase(config, log, { poolSize: 4, stopAttached: false });
  let services: Services | null = null;
  try {
    await runMigrations(db.ds, log);
    services = createServices(new Db(db.ds), config);
    return await fn(services, log, config);
  } finally {
    // Background work the command set off finishes before the database closes, as when the
    // server stops: MQTT update notices (a release published by `demo`: every send, however
    // long — nothing else would tell those devices; a broker gone away ends it, ADR 0066),
    // identity matching.
    await services?.updateNotices.close(null).catch((err: unknown) => log.warn({ err }, 'update notices not finished'));
    await services?.identity.stop().catch((err: unknown) => log.warn({ err }, 'identity matching not finished'));
    await db.close();
  }
}
