import { Client } from 'pg';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { Config } from '../config';
import { createDataSource } from './data-source';
import { explainDatabaseTls } from './database-tls';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres';

/*
 * Opening the database, apart from the server (src/server/hub.ts) so that a CLI command that
 * only needs the database does not load Fastify, Apollo and the schema (ADR 0067).
 */

export interface OpenDatabase {
  ds: DataSource;
  embedded?: EmbeddedDatabase;
  close(): Promise<void>;
}

const EMBEDDED_DB_NAME = 'ehub';

/**
 * Connects to DATABASE_URL, or starts the embedded PostgreSQL (data in EHUB_DATA_DIR/pg)
 * and creates the `ehub` database in it on first use.
 */
export async function openDatabase(
  config: Config,
  log: Logger,
  opts: { poolSize?: number; stopAttached?: boolean } = {},
): Promise<OpenDatabase> {
  let url = config.DATABASE_URL;
  let embedded: EmbeddedDatabase | undefined;
  if (!url) {
    embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      placementDir: config.EHUB_EMBEDDED_PG_DIR,
      log,
      stopAttached: opts.stopAttached ?? true,
    });
    const admin = new Client({ connectionString: embedded.url('postgres') });
    try {
      await admin.connect();
      const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [EMBEDDED_DB_NAME]);
      if (found.rowCount === 0) await admin.query(`CREATE DATABASE ${EMBEDDED_DB_NAME}`);
    } catch (err) {
      // A failed start leaves no server behind.
      await embedded.stop().catch(() => undefined);
      if ((err as { code?: string }).code === '28P01') {
        throw new Error(
          `embedded PostgreSQL: the cluster refuses the password in ${config.dataDir}/pg-password (it was created with another one); restore that file, or move the cluster away to start with a new database`,
          { cause: err },
        );
      }
      throw err;
    } finally {
      await admin.end().catch(() => undefined);
    }
    url = embedded.url(EMBEDDED_DB_NAME);
  }
  const ds = createDataSource(url, { poolSize: opts.poolSize ?? config.EHUB_DB_POOL_SIZE });
  try {
    await ds.initialize();
  } catch (err) {
    await embedded?.stop();
    const explained = embedded ? null : explainDatabaseTls(err, url);
    if (explained) throw new Error(explained, { cause: err });
    throw err;
  }
  return {
    ds,
    embedded,
    close: async () => {
      if (ds.isInitialized) await ds.destroy();
      await embedded?.stop();
    },
  };
}

export async function runMigrations(ds: DataSource, log: Logger): Promise<number> {
  const applied = await ds.runMigrations({ transaction: 'each' });
  for (const m of applied) log.info({ migration: m.name }, 'migration applied');
  return applied.length;
}
