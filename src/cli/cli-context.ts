import type { Logger } from 'pino';
import { loadConfig, type Config } from '../config';
import type { OpenDatabase } from '../db/open-database';
import type { Services } from '../server/services';
import { load } from './lazy';

/**
 * Opens the database for a one-shot CLI command (embedded or DATABASE_URL), migrated unless
 * `migrate` is false, and closes it afterwards. CLI logs go to stderr at warn unless LOG_LEVEL
 * says otherwise. The hub's modules load here, when a command needs them (./lazy.ts).
 */
export async function withDatabase<T>(
  opts: { poolSize: number; migrate?: boolean; config?: Config },
  fn: (db: OpenDatabase, log: Logger, config: Config) => Promise<T>,
): Promise<T> {
  const config = opts.config ?? loadConfig({ LOG_LEVEL: 'warn', ...process.env });
  const { openDatabase, runMigrations } = load.database();
  const log = load.logger().createLogger(config, { stderr: true });
  const db = await openDatabase(config, log, { poolSize: opts.poolSize, stopAttached: false });
  try {
    if (opts.migrate !== false) await runMigrations(db.ds, log);
    return await fn(db, log, config);
  } finally {
    await db.close();
  }
}

/** withDatabase (migrated, four connections) with the hub's services, as a running hub has them. */
export async function withServices<T>(fn: (services: Services, log: Logger, config: Config) => Promise<T>): Promise<T> {
  return withDatabase({ poolSize: 4 }, async (db, log, config) => {
    const services = load.services().createServices(new (load.db().Db)(db.ds), config);
    try {
      return await fn(services, log, config);
    } finally {
      // Background work the command set off finishes before the database closes, as when the
      // server stops: MQTT update notices (a release published by `demo`: every send, however
      // long — nothing else would tell those devices; a broker gone away ends it, ADR 0066),
      // identity matching.
      await services.updateNotices.close(null).catch((err: unknown) => log.warn({ err }, 'update notices not finished'));
      await services.identity.stop().catch((err: unknown) => log.warn({ err }, 'identity matching not finished'));
    }
  });
}
