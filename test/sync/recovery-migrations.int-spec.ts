import { startTestHub, type TestHub } from '../support/test-hub';
import { BiAccountsMergedInto1764302900000 } from '../../migrations/1764302900000-BiAccountsMergedInto';
import { TrueupOpportunities1764302950000 } from '../../migrations/1764302950000-TrueupOpportunities';

/** The down of each ADR 0034 migration undoes its up, and up runs again cleanly after it. */
let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => hub?.close());

type Q = { query: (sql: string) => Promise<Record<string, unknown>[]> };
const lastColumn = async (q: Q) =>
  (await q.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'bi' AND table_name = 'accounts' ORDER BY ordinal_position DESC LIMIT 1`))[0]!.column_name;
const version = async (q: Q) => (await q.query(`SELECT major, minor FROM bi.schema_version`))[0];
const objects = async (q: Q) => String((await q.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'sync_outbox_object_check'`))[0]!.def);

it('bi.accounts: down removes merged_into (schema 1.0), up appends it again (1.1)', async () => {
  expect(await lastColumn(hub.ds)).toBe('merged_into');
  const runner = hub.ds.createQueryRunner();
  try {
    await runner.startTransaction();
    await new BiAccountsMergedInto1764302900000().down(runner);
    expect({ last: await lastColumn(runner), version: await version(runner) }).toEqual({ last: 'last_usage_at', version: { major: 1, minor: 0 } });
    await new BiAccountsMergedInto1764302900000().up(runner);
    await runner.commitTransaction();
  } finally {
    await runner.release();
  }
  expect({ last: await lastColumn(hub.ds), version: await version(hub.ds) }).toEqual({ last: 'merged_into', version: { major: 1, minor: 1 } });
});

it('sync_outbox: down forbids trueup-opportunity items again, up allows them', async () => {
  expect(await objects(hub.ds)).toContain('trueup-opportunity');
  const runner = hub.ds.createQueryRunner();
  try {
    await runner.startTransaction();
    await new TrueupOpportunities1764302950000().down(runner);
    const def = await objects(runner);
    expect(def).not.toContain('trueup-opportunity');
    expect(def).toContain('journal-entry');
    await new TrueupOpportunities1764302950000().up(runner);
    await runner.commitTransaction();
  } finally {
    await runner.release();
  }
  expect(await objects(hub.ds)).toContain('trueup-opportunity');
});
