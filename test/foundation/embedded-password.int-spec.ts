import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import { openDatabase } from '../../src/db/open-database';

/*
 * The embedded cluster's password lives in EHUB_DATA_DIR/pg-password. A cluster that refuses it
 * (the file replaced or restored from elsewhere) stops the start with a message saying so, and
 * the start leaves no PostgreSQL server running behind it.
 */
let dataDir: string;
let placement: string;
beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-pw-'));
  placement = path.join(os.tmpdir(), `ehub-pw-pg-${process.pid}`);
});
afterAll(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(placement, { recursive: true, force: true });
});

it('a cluster that refuses EHUB_DATA_DIR/pg-password stops the start with a clear error and leaves no server running', async () => {
  const config = loadConfig({ NODE_ENV: 'test', EHUB_DATA_DIR: dataDir, EHUB_EMBEDDED_PG_DIR: placement });
  const log = pino({ level: 'silent' });
  const first = await openDatabase(config, log);
  await first.close();
  const pgDir = fs.realpathSync(path.join(dataDir, 'pg'));
  expect(fs.existsSync(path.join(pgDir, 'PG_VERSION'))).toBe(true);

  fs.writeFileSync(path.join(dataDir, 'pg-password'), 'not-the-password\n');
  await expect(openDatabase(config, log)).rejects.toThrow(/the cluster refuses the password in .*pg-password \(it was created with another one\)/);
  expect(fs.existsSync(path.join(pgDir, 'postmaster.pid'))).toBe(false); // stopped, not left running
}, 120_000);
