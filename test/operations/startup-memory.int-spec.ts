import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnServe, type ServedHub } from '../support/serve-process';
import { startTestHub, type TestHub } from '../support/test-hub';
import { seedWorkedExample } from '../revenue/exports-seed';

/*
 * `ehub serve` as a process (ADR 0062): start-up hands back its memory (a full collection once
 * the database is open and once listening, logged at debug), and a finance export runs in
 * its worker thread there too (from the sources, the worker is compiled on the fly).
 */
let hub: TestHub;
let served: ServedHub | undefined;
let dataDir: string;
beforeAll(async () => {
  hub = await startTestHub();
  await seedWorkedExample(hub.ds);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-startup-memory-'));
}, 60_000);
afterAll(async () => {
  if (served && served.proc.exitCode === null) {
    served.proc.kill('SIGTERM');
    await served.exited;
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  await hub?.close();
});

it('ehub serve releases start-up memory twice, then serves an export from its worker thread', async () => {
  const { EHUB_ADMIN_KEY: _a, ...rest } = process.env;
  served = await spawnServe({ ...rest, DATABASE_URL: hub.databaseUrl, EHUB_DATA_DIR: dataDir, LOG_LEVEL: 'debug', NODE_ENV: 'test', NODE_OPTIONS: '', EHUB_JOBS_ENABLED: 'false' });
  const released = served
    .output()
    .split('\n')
    .filter((l) => l.includes('start-up memory released'))
    .map((l) => JSON.parse(l) as { phase: string; rssBeforeMb: number; rssAfterMb: number });
  expect(released.map((r) => r.phase)).toEqual(['database open', 'listening']);
  for (const r of released) {
    expect(r.rssBeforeMb).toBeGreaterThan(0);
    expect(r.rssAfterMb).toBeLessThanOrEqual(r.rssBeforeMb);
  }

  const res = await fetch(`${served.url}/v1/exports/revenue-waterfall.csv?from=2027-01&to=2027-05`, { headers: { authorization: `Bearer ${hub.adminKey}` } });
  expect(res.status).toBe(200);
  const lines = (await res.text()).split('\r\n');
  expect(lines[0]).toBe('month,account_id,account_name,order_id,order_source,order_external_id,line_no,product_sku,bundle_sku,obligation_id,pattern,status,currency,allocated_minor,recognised_minor,cumulative_minor,deferred_minor');
  // The worked example's subscription recognises 17,000, 28,000, 31,000 and 14,000, and nothing in May (docs/finance.md).
  const subscription = lines.filter((l) => l.includes(',SAAS-SUB,')).map((l) => l.split(',').at(-3));
  expect(subscription).toEqual(['17000', '28000', '31000', '14000']);
}, 120_000);

it('with EHUB_RELEASE_STARTUP_MEMORY=false it keeps what start-up grew (no collection)', async () => {
  const { EHUB_ADMIN_KEY: _a, ...rest } = process.env;
  const kept = await spawnServe({ ...rest, DATABASE_URL: hub.databaseUrl, EHUB_DATA_DIR: dataDir, LOG_LEVEL: 'debug', NODE_ENV: 'test', NODE_OPTIONS: '', EHUB_JOBS_ENABLED: 'false', EHUB_RELEASE_STARTUP_MEMORY: 'false' });
  try {
    expect(kept.output()).toContain('Entitlement Hub is listening');
    expect(kept.output()).not.toContain('start-up memory released');
  } finally {
    kept.proc.kill('SIGTERM');
    await kept.exited;
  }
}, 120_000);
