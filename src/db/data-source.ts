import { DataSource, type EntityManager } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { replicaDownMessage } from './database-tls';
import { entities } from './entities';
import { migrations } from '../../migrations';

/**
 * The one TypeORM DataSource factory used by the server, the CLI and the tests.
 * The schema comes only from migrations (never `synchronize`).
 */
export function createDataSource(url: string, opts: { poolSize?: number; applicationName?: string; readOnly?: boolean } = {}): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities,
    migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: {
      max: opts.poolSize ?? 10,
      application_name: opts.applicationName ?? 'ehub',
      // Fail fast rather than hang when the pool is exhausted or the server is gone.
      connectionTimeoutMillis: 10_000,
      // A replica's pool (DATABASE_READ_URL): every transaction read-only, so a write sent there by mistake fails loudly.
      ...(opts.readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
    },
  });
}

/**
 * The read replica's DataSource (DATABASE_READ_URL, ADR 0051), initialised; null without
 * one. It runs no migrations: the replica follows the primary's schema. Connecting at start
 * is not required — a replica that is down only sends analytics to the primary.
 */
export async function openReadDataSource(url: string | undefined, poolSize: number, log?: { warn(obj: object, msg: string): void }): Promise<DataSource | null> {
  if (!url) return null;
  const ds = createDataSource(url, { poolSize, applicationName: 'ehub-read', readOnly: true });
  try {
    await ds.initialize();
  } catch (err) {
    // Db.readQuery tries again every 30 s and reads the primary meanwhile.
    log?.warn({ err }, replicaDownMessage(err, url));
  }
  return ds;
}

/** Pool figures for /metrics (pg.Pool behind TypeORM's driver). */
export function poolStats(ds: DataSource): { total: number; idle: number; waiting: number } {
  const pool = (ds.driver as PostgresDriver).master as
    | { totalCount: number; idleCount: number; waitingCount: number }
    | undefined;
  return { total: pool?.totalCount ?? 0, idle: pool?.idleCount ?? 0, waiting: pool?.waitingCount ?? 0 };
}

const SERIALIZATION_FAILURE = '40001';
const DEADLOCK = '40P01';

/**
 * Runs `fn` in one transaction; rolls back on any throw and retries serialization failures
 * and deadlocks (they are safe to retry: nothing was committed).
 */
export async function transaction<T>(ds: DataSource, fn: (m: EntityManager) => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await ds.transaction(fn);
    } catch (err) {
      const code = (err as { code?: string; driverError?: { code?: string } }).driverError?.code ?? (err as { code?: string }).code;
      if (i < attempts && (code === SERIALIZATION_FAILURE || code === DEADLOCK)) {
        await new Promise((r) => setTimeout(r, 5 * i + Math.random() * 10));
        continue;
      }
      throw err;
    }
  }
}

export async function pendingMigrations(ds: DataSource): Promise<boolean> {
  return ds.showMigrations();
}
