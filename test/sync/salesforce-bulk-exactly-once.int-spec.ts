import { createSalesforceConnection, dropProxyEnv, runOf, runSync, seedSkus, startEmulator } from '../support/salesforce';
dropProxyEnv();
import { spawn } from 'node:child_process';
import path from 'node:path';
import pino from 'pino';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { systemContext } from '../../src/common/context';
import { OutboxStatus, SyncTrigger } from '../../src/sync/sync.entities';
import { day } from '../support/orders';
import { startTestHub, type TestHub } from '../support/test-hub';
import { scratchDir } from '../support/scratch';

/**
 * Issue 10: a batch handed to Salesforce as a Bulk API 2.0 job is applied once, whatever
 * fails after the job is closed (status poll, successful results, failed results) and even
 * when the hub dies while the job runs: the outcome is read from the same job, never by
 * uploading the batch again.
 */
const silent = pino({ level: 'silent' });
const ACCOUNTS = 60;
const SECRET_KEY = 'bulk-exactly-once-secret-key-0123456789';
const ROOT = path.resolve(__dirname, '../..');

describe('Salesforce push through Bulk API 2.0: exactly once', () => {
  let hub: TestHub;
  let emu: SalesforceEmulator;
  let connectionId: string;
  const sfAccounts: string[] = [];

  beforeAll(async () => {
    hub = await startTestHub({ EHUB_SYNC_BACKOFF_BASE_MS: '1', EHUB_SYNC_BACKOFF_MAX_MS: '5', EHUB_SECRET_KEY: SECRET_KEY });
    emu = await startEmulator();
    await seedSkus(hub, ['SEATS'], 'NAMED_USER');
    // bulkThreshold 50 as in the issue: 60 accounts and 60 entitlements each go as one bulk job.
    connectionId = await createSalesforceConnection(hub, emu, { bulkThreshold: 50, rateLimitBackoffMs: 1, bulkTimeoutMs: 120_000, bulkPollIntervalMs: 20 }, { maxAttempts: 50 });
    for (let a = 0; a < ACCOUNTS; a++) {
      const acc = emu.insert('Account', { Name: `Customer ${a}` });
      emu.seedDeal({ accountId: acc, lines: [{ productCode: 'SEATS', quantity: 1 + (a % 5), unitPrice: 100 + a, serviceDate: day(-100), endDate: day(264) }] });
      sfAccounts.push(acc);
    }
    expect(runOf(await runSync(hub, connectionId), 'orders')).toMatchObject({ created: ACCOUNTS, failed: 0 });
  }, 60_000);
  const killedDataDir = scratchDir('ehub-bulk-');

  afterAll(async () => {
    await emu?.close();
    await hub?.close();
  });

  const open = async () => (await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox WHERE status IN ('PENDING','FAILED','IN_FLIGHT','SUBMITTED')`))[0].n as number;
  const pushUntilQuiet = async (maxRounds = 200) => {
    const conn = await hub.services.sync.connectionByName('salesforce');
    for (let i = 0; i < maxRounds; i++) {
      await hub.services.sync.pushOnce(systemContext(silent, 'test:push'), conn, SyncTrigger.MANUAL);
      if ((await open()) === 0) return i + 1;
      await new Promise((r) => setTimeout(r, 15));
    }
    throw new Error('the outbox did not drain');
  };
  const calls = (k: string) => emu.stats.byEndpoint[k] ?? 0;

  it('faults on the status poll, the successful and the failed results: one job per batch, every record written once', async () => {
    const refused = sfAccounts[5]!;
    emu.faults.rejectRecord((sobject, f) =>
      sobject === 'Ehub_Entitlement__c' && f.Account__c === refused ? { errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'closed account' } : null,
    );
    emu.faults.queueOn('GET jobs/ingest/{id}', 'HTTP_503', 'HTTP_503', 'HTTP_500');
    emu.faults.queueOn('GET jobs/ingest/successfulResults', 'REQUEST_LIMIT_EXCEEDED', 'HTTP_503');
    emu.faults.queueOn('GET jobs/ingest/failedResults', 'HTTP_503', 'EXPIRE_SESSION');
    emu.resetStats();

    const rounds = await pushUntilQuiet();
    expect(rounds).toBeGreaterThan(1);
    // every fault was served (else the test shows nothing)
    expect(calls('GET jobs/ingest/{id}')).toBeGreaterThanOrEqual(4);
    expect(calls('GET jobs/ingest/successfulResults')).toBeGreaterThanOrEqual(4);
    expect(calls('GET jobs/ingest/failedResults')).toBeGreaterThanOrEqual(3);
    // one job and one upload per batch (accounts, entitlements), nothing through Collections
    expect(calls('POST jobs/ingest')).toBe(2);
    expect(calls('PUT jobs/ingest/batches')).toBe(2);
    expect(calls('PATCH composite/sobjects') + calls('PATCH composite/sobjects/{type}/{field}')).toBe(0);

    for (const [a, id] of sfAccounts.entries()) {
      expect(Number(emu.get('Account', id)!.Ehub_ARR__c)).toBe((100 + a) * (1 + (a % 5)));
    }
    const ents = emu.records('Ehub_Entitlement__c');
    expect(ents).toHaveLength(ACCOUNTS - 1);
    expect(ents.some((e) => e.Account__c === refused)).toBe(false);
    const statuses = await hub.ds.query(`SELECT status, last_error_code, push_handle FROM sync_outbox ORDER BY status`);
    expect(statuses.filter((s: { status: string }) => s.status === 'DONE')).toHaveLength(2 * ACCOUNTS - 1);
    expect(statuses.filter((s: { status: string }) => s.status === 'DEAD')).toEqual([{ status: 'DEAD', last_error_code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', push_handle: null }]);
    emu.faults.clear();
  });

  it('a hub killed while its job runs: the next push reads that job instead of uploading the batch again', async () => {
    // every item goes out again (values re-sent), and jobs wait in UploadComplete for now
    await hub.services.sync.replayOutbox(systemContext(silent, 'test'), connectionId, { statuses: [OutboxStatus.DONE] });
    emu.holdBulkJobs(true);
    emu.resetStats();

    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: hub.databaseUrl, EHUB_SECRET_KEY: SECRET_KEY, EHUB_DATA_DIR: killedDataDir, NODE_OPTIONS: '', LOG_LEVEL: 'warn', EHUB_JOBS_ENABLED: 'false' };
    const child = spawn(process.execPath, ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/main.ts'), 'sync', 'salesforce', '--no-pull'], { cwd: ROOT, env, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let submitted: { push_handle: string; n: number }[] = [];
    for (let i = 0; i < 600 && submitted.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      submitted = await hub.ds.query(`SELECT push_handle, count(*)::int AS n FROM sync_outbox WHERE status = 'SUBMITTED' GROUP BY push_handle`);
    }
    expect(submitted).toHaveLength(1);
    // its job is closed and waiting: now the process dies without a word
    for (let i = 0; i < 100 && calls('PATCH jobs/ingest/{id}') === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(calls('PATCH jobs/ingest/{id}')).toBe(1);
    child.kill('SIGKILL');
    await exited;
    const jobId = JSON.parse(submitted[0]!.push_handle).jobId as string;

    // The dead process's claim lapses after 15 minutes; skip the wait.
    await hub.ds.query(`UPDATE sync_outbox SET claimed_until = now() - interval '1 second' WHERE claimed_until IS NOT NULL`);
    emu.holdBulkJobs(false);
    await pushUntilQuiet();

    // The killed process's job was read, not uploaded again: one more job only, for the other batch.
    expect(calls('POST jobs/ingest')).toBe(2);
    expect(calls('PUT jobs/ingest/batches')).toBe(2);
    expect(emu.requests.some((r) => r.method === 'GET' && r.path.endsWith(`/jobs/ingest/${jobId}/successfulResults`))).toBe(true);
    const [{ done }] = await hub.ds.query(`SELECT count(*) FILTER (WHERE status = 'DONE')::int AS done FROM sync_outbox`);
    expect(done).toBe(2 * ACCOUNTS - 1);
    expect(emu.records('Ehub_Entitlement__c')).toHaveLength(ACCOUNTS - 1);
  }, 60_000);
});
