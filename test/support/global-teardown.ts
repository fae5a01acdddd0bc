import fs from 'node:fs/promises';
import { Client } from 'pg';
import type { EmbeddedDatabase } from '../../src/db/embedded-postgres';

export default async function globalTeardown(): Promise<void> {
  const g = globalThis as { __EHUB_PG__?: EmbeddedDatabase; __EHUB_PG_DIR__?: string };
  if (g.__EHUB_PG__) {
    await g.__EHUB_PG__.stop();
    if (g.__EHUB_PG_DIR__) await fs.rm(g.__EHUB_PG_DIR__, { recursive: true, force: true });
    return;
  }
  // External server: drop what this run created.
  const admin = new Client({ connectionString: process.env.EHUB_TEST_ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${process.env.EHUB_TEST_TEMPLATE} WITH (FORCE)`);
  await admin.end();
}
