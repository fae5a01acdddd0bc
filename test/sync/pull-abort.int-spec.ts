import pino from 'pino';
import { startNetSuiteEmulator, type NetSuiteEmulator } from '../../connectors/netsuite/emulator';
import { noProxy } from '../../connectors/netsuite/spec-helpers';
import { createSalesforceConnection, dropProxyEnv, seedSkus, startEmulator } from '../support/salesforce';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { createNetSuiteConnection } from '../support/netsuite';
import { startTestHub, type TestHub } from '../support/test-hub';

noProxy();
dropProxyEnv();

/**
 * A scheduled pull from a CRM or ERP that hangs (the emulator holds every data request for a
 * minute) is abandoned as soon as its job is aborted — what the scheduler does when the hub
 * stops — instead of holding the shutdown for the request timeout (60 s by default) and its
 * retries. The run fails with ABORTED, nothing is half-applied, and the next pull, the system
 * answering again, takes everything from where the cursor was.
 */
const log = pino({ level: 'silent' });
const waitUntil = async (what: () => boolean, why: string) => {
  const until = Date.now() + 20_000;
  while (!what()) {
    if (Date.now() > until) throw new Error(`timed out: ${why}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
describe('a NetSuite pull aborted while NetSuite hangs', () => {
  let hub: TestHub;
  let ns: NetSuiteEmulator;

  beforeAll(async () => {
    hub = await startTestHub();
    ns = await startNetSuiteEmulator();
    await seedSkus(hub, ['NS-ABORT']);
    ns.seed.items([{ itemId: 'NS-ABORT' }]);
    ns.seed.customers([0, 1, 2].map((i) => ({ companyName: `Abort Customer ${i}`, currency: 'USD' })));
    await createNetSuiteConnection(hub, ns);
  }, 120_000);

  afterAll(async () => {
    await ns?.close();
    await hub?.close();
  });

  const accounts = async (): Promise<number> => (await hub.ds.query(`SELECT count(*)::int AS n FROM account WHERE name LIKE 'Abort Customer%'`))[0].n;

  it('ends at once with ABORTED when its job is aborted, applies nothing, and the next pull takes everything', async () => {
    ns.faults.set({ latencyMs: 60_000 });
    const job = new AbortController();
    const pulling = hub.services.sync.pullAll(log, job.signal);
    // The pull is waiting on NetSuite: a data request has arrived and is being held.
    await waitUntil(() => ns.stats.requests > 0, 'no request reached NetSuite');
    await new Promise((r) => setTimeout(r, 200));
    const abortedAt = Date.now();
    job.abort();
    const runs = await pulling;
    expect(Date.now() - abortedAt).toBeLessThan(5_000);
    expect(runs.length).toBeGreaterThan(0);
    expect(runs[0]).toMatchObject({ status: 'FAILED' });
    expect(runs[0]!.error).toMatch(/ABORTED|aborted/);
    expect(await accounts()).toBe(0);

    ns.faults.clear();
    const again = await hub.services.sync.pullAll(log);
    expect(again.find((r) => r.object === 'accounts')).toMatchObject({ status: 'SUCCEEDED', created: 3 });
    expect(await accounts()).toBe(3);
  });
});

describe('a Salesforce pull aborted while Salesforce hangs', () => {
  let hub: TestHub;
  let emu: SalesforceEmulator;

  beforeAll(async () => {
    hub = await startTestHub();
    emu = await startEmulator();
    await seedSkus(hub, ['SF-ABORT']);
    const account = emu.insert('Account', { Name: 'Abort Org' });
    emu.seedDeal({ accountId: account, name: 'Abort Deal', stageName: 'Closed Won', closeDate: '2026-11-01', lines: [{ productCode: 'SF-ABORT', quantity: 2, unitPrice: 100, serviceDate: '2026-11-01', endDate: '2027-10-31' }] });
    await createSalesforceConnection(hub, emu);
  }, 120_000);

  afterAll(async () => {
    await emu?.close();
    await hub?.close();
  });

  const entitlements = async (): Promise<number> => (await hub.ds.query(`SELECT count(*)::int AS n FROM entitlement WHERE sku = 'SF-ABORT'`))[0].n;

  it('ends at once with ABORTED when its job is aborted, applies nothing, and the next pull takes everything', async () => {
    emu.faults.set({ latencyMs: 60_000 });
    const job = new AbortController();
    const calls = emu.stats.apiCalls;
    const pulling = hub.services.sync.pullAll(log, job.signal);
    await waitUntil(() => emu.stats.apiCalls > calls, 'no call reached Salesforce');
    await new Promise((r) => setTimeout(r, 200));
    const abortedAt = Date.now();
    job.abort();
    const runs = await pulling;
    expect(Date.now() - abortedAt).toBeLessThan(5_000);
    expect(runs[0]).toMatchObject({ status: 'FAILED' });
    expect(runs[0]!.error).toMatch(/ABORTED|aborted/);
    expect(await entitlements()).toBe(0);

    emu.faults.clear();
    const again = await hub.services.sync.pullAll(log);
    expect(again.every((r) => r.status === 'SUCCEEDED')).toBe(true);
    expect(await entitlements()).toBe(1);
  });

  it('a runSync request in flight when the server stops answers with its runs ABORTED and closes its keep-alive connection: the server\'s close is not held', async () => {
    const other = await startTestHub({}, { attachTo: hub });
    const [connection] = await hub.ds.query(`SELECT id FROM sync_connection WHERE type = 'salesforce'`);
    emu.faults.set({ latencyMs: 60_000 });
    try {
      const calls = emu.stats.apiCalls;
      const answer = other.gql<{ runSync: { object: string; status: string; error: string | null }[] }>(
        `mutation($c: ID!) { runSync(connectionId: $c, full: true) { object status error } }`,
        { c: connection.id },
      );
      await waitUntil(() => emu.stats.apiCalls > calls, 'no call reached Salesforce');
      await new Promise((r) => setTimeout(r, 200));
      const closing = Date.now();
      await other.app.close();
      expect(Date.now() - closing).toBeLessThan(5_000);
      const res = await answer;
      expect(res.errors).toBeUndefined();
      // fetch keeps connections alive: without this the idle socket held close() for keepAliveTimeout (72 s).
      expect(res.headers.get('connection')).toBe('close');
      expect(res.data!.runSync[0]).toMatchObject({ status: 'FAILED' });
      expect(res.data!.runSync[0]!.error).toMatch(/ABORTED|aborted/);
    } finally {
      emu.faults.clear();
      await other.close();
    }
  });
});
