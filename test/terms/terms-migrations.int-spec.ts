import { startTestHub, type TestHub } from '../support/test-hub';
import { SupportTerms1764303300000 } from '../../migrations/1764303300000-SupportTerms';
import { SupportEntitlementOutbox1764303350000 } from '../../migrations/1764303350000-SupportEntitlementOutbox';

/** The down of each ADR 0037 migration undoes its up, and up runs again cleanly after it. */
let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => hub?.close());

type Q = { query: (sql: string) => Promise<Record<string, unknown>[]> };
const tables = async (q: Q) =>
  (await q.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('support_tier','entitlement_terms','support_case') ORDER BY 1`)).map((r) => r.table_name);
const columns = async (q: Q) =>
  (
    await q.query(
      `SELECT table_name || '.' || column_name AS c FROM information_schema.columns
        WHERE table_schema = 'public' AND ((table_name = 'activation' AND column_name IN ('serial','shipped_on')) OR (table_name = 'order_line' AND column_name = 'terms')) ORDER BY 1`,
    )
  ).map((r) => r.c);
const objects = async (q: Q) => String((await q.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'sync_outbox_object_check'`))[0]!.def);

it('support terms: down drops the tables and columns, up creates them again', async () => {
  const all = { tables: ['entitlement_terms', 'support_case', 'support_tier'], columns: ['activation.serial', 'activation.shipped_on', 'order_line.terms'] };
  expect({ tables: await tables(hub.ds), columns: await columns(hub.ds) }).toEqual(all);
  const runner = hub.ds.createQueryRunner();
  try {
    await runner.startTransaction();
    await new SupportEntitlementOutbox1764303350000().down(runner);
    await new SupportTerms1764303300000().down(runner);
    expect({ tables: await tables(runner), columns: await columns(runner) }).toEqual({ tables: [], columns: [] });
    expect(await objects(runner)).not.toContain('support-entitlement');
    expect(await objects(runner)).toContain('trueup-opportunity');
    await new SupportTerms1764303300000().up(runner);
    await new SupportEntitlementOutbox1764303350000().up(runner);
    await runner.commitTransaction();
  } finally {
    await runner.release();
  }
  expect({ tables: await tables(hub.ds), columns: await columns(hub.ds) }).toEqual(all);
  expect(await objects(hub.ds)).toContain('support-entitlement');
});
