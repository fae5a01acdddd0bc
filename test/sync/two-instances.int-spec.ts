import { dropProxyEnv, createSalesforceConnection, startEmulator } from '../support/salesforce';
dropProxyEnv();
import pino from 'pino';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { Scheduler } from '../../src/jobs/scheduler';
import { syncJobs } from '../../src/sync/sync.jobs';
import { startTestHub, type TestHub } from '../support/test-hub';

describe('two hub instances on one database', () => {
  let a: TestHub;
  let b: TestHub;
  let emu: SalesforceEmulator;

  beforeAll(async () => {
    a = await startTestHub();
    b = await startTestHub({}, { attachTo: a });
    emu = await startEmulator();
    emu.insert('Account', { Name: 'Solo Inc' });
    await createSalesforceConnection(a, emu);
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
    await emu?.close();
  });

  it('runs each sync job once per tick over 10 ticks, whichever instance fires first', async () => {
    const log = pino({ level: 'silent' });
    const schedulers = [new Scheduler(a.ds, log), new Scheduler(b.ds, log)];
    const jobs = [syncJobs(a.services, log), syncJobs(b.services, log)];
    const base = Date.parse('2026-11-28T00:00:00Z');
    const ranBy: Record<string, number[]> = {};
    for (let tick = 0; tick < 10; tick++) {
      const at = new Date(base + tick * 60_000);
      for (let j = 0; j < jobs[0]!.length; j++) {
        const id = jobs[0]![j]!.id;
        // Both instances fire the same tick; the second one a little later (as clocks drift),
        // after the first one may already have finished.
        const first = schedulers[0]!.tick(jobs[0]![j]!, at);
        await new Promise((r) => setTimeout(r, tick % 2 ? 0 : 30));
        const second = schedulers[1]!.tick(jobs[1]![j]!, at);
        const ran = await Promise.all([first, second]);
        (ranBy[id] ??= []).push(ran.filter(Boolean).length);
      }
    }
    for (const id of ['sync-pull', 'sync-push', 'sync-renewals', 'sync-usage-periods']) expect(ranBy[id]).toEqual(Array(10).fill(1));
    const ticks: { job_id: string; runs: string }[] = await a.ds.query(`SELECT job_id, runs::text FROM job_tick WHERE job_id LIKE 'sync-%' ORDER BY job_id`);
    expect(ticks).toEqual([
      { job_id: 'sync-pull', runs: '10' },
      { job_id: 'sync-push', runs: '10' },
      { job_id: 'sync-renewals', runs: '10' },
      { job_id: 'sync-usage-periods', runs: '10' },
    ]);
    // What the jobs did, as recorded: 10 pulls of each object, 10 renewal scans, and one push
    // (the account linked by the first pull had its fields to send; later ticks had nothing due).
    const runs: { kind: string; object: string; n: number }[] = await a.ds.query(
      `SELECT kind, object, count(*)::int AS n FROM sync_run GROUP BY kind, object ORDER BY kind, object`,
    );
    expect(runs).toEqual([
      { kind: 'PULL', object: 'accounts', n: 10 },
      { kind: 'PULL', object: 'contacts', n: 10 },
      { kind: 'PULL', object: 'orders', n: 10 },
      { kind: 'PUSH', object: 'outbox', n: 1 },
      { kind: 'RENEWALS', object: 'renewals', n: 10 },
    ]);
    expect(emu.records('Account')[0]!.Ehub_Entitlement_Status__c).toBe('NONE');
    await Promise.all(schedulers.map((s) => s.stop()));
  }, 120_000);

  it('does not start a tick twice while it is still running (overrun)', async () => {
    const log = pino({ level: 'silent' });
    const s1 = new Scheduler(a.ds, log);
    const s2 = new Scheduler(b.ds, log);
    let release!: () => void;
    let runs = 0;
    const slow = { id: 'test-slow', schedule: '* * * * *', execute: () => new Promise<void>((r) => { runs++; release = r; }) };
    const t0 = new Date('2026-11-28T01:00:00Z');
    const first = s1.tick(slow, t0);
    await new Promise((r) => setTimeout(r, 100));
    // The next tick fires on both instances while the first still runs: neither starts it.
    expect(await s1.tick(slow, new Date(t0.getTime() + 60_000))).toBe(false);
    expect(await s2.tick(slow, new Date(t0.getTime() + 60_000))).toBe(false);
    release();
    expect(await first).toBe(true);
    expect(runs).toBe(1);
    await Promise.all([s1.stop(), s2.stop()]);
  });
});
