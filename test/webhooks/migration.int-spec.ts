import { startTestHub, type TestHub } from '../support/test-hub';
import { Webhooks1764300700000 } from '../../migrations/1764300700000-Webhooks';

/** The webhooks migration's down undoes its up, and up runs again cleanly after it. */
let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => hub?.close());

const RELATIONS = ['webhook_attempt', 'webhook_attempt_id_seq', 'webhook_delivery', 'webhook_delivery_queue_seq', 'webhook_endpoint', 'webhook_event'];
const present = async (): Promise<string[]> =>
  (await hub.ds.query(`SELECT relname FROM pg_class WHERE relname LIKE 'webhook_%' AND relkind IN ('r','S') ORDER BY 1`)).map((r: { relname: string }) => r.relname);

it('down drops every table and the sequence; up recreates them', async () => {
  expect(await present()).toEqual(RELATIONS);
  const runner = hub.ds.createQueryRunner();
  try {
    await runner.startTransaction();
    await new Webhooks1764300700000().down(runner);
    expect(await runner.query(`SELECT relname FROM pg_class WHERE relname LIKE 'webhook_%' AND relkind IN ('r','S')`)).toEqual([]);
    await new Webhooks1764300700000().up(runner);
    await runner.commitTransaction();
  } finally {
    await runner.release();
  }
  expect(await present()).toEqual(RELATIONS);
});
