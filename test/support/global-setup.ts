import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { Client } from 'pg';
import 'reflect-metadata';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded-postgres';
import { createDataSource } from '../../src/db/data-source';

/**
 * Starts one real PostgreSQL for the whole run (embedded, or TEST_DATABASE_URL when set)
 * and builds a template database from the migrations; each test file then clones it
 * (CREATE DATABASE ... TEMPLATE), which takes milliseconds.
 */
export default async function globalSetup(): Promise<void> {
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ehub-test-'));
    const embedded = await startEmbeddedPostgres({ dataDir, persistent: false });
    (globalThis as { __EHUB_PG__?: EmbeddedDatabase; __EHUB_PG_DIR__?: string }).__EHUB_PG__ = embedded;
    (globalThis as { __EHUB_PG_DIR__?: string }).__EHUB_PG_DIR__ = dataDir;
    adminUrl = embedded.url('postgres');
  }
  const template = `ehub_template_${process.pid}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${template}`);
  await admin.end();

  const url = new URL(adminUrl);
  url.pathname = `/${template}`;
  const ds = createDataSource(url.toString(), { poolSize: 1 });
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  await ds.destroy();

  process.env.EHUB_TEST_ADMIN_URL = adminUrl;
  process.env.EHUB_TEST_TEMPLATE = template;
}
