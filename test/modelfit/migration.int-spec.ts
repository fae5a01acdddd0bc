import { startTestHub, type TestHub } from '../support/test-hub';
import { ModelFit1764302800000 } from '../../migrations/1764302800000-ModelFit';

/** The model-fit migration's down undoes its up, and up runs again cleanly after it. */
let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => hub?.close());

const TABLES = ['account_model_fit', 'product_model_price'];
const present = async (q: { query: (sql: string) => Promise<{ relname: string }[]> }): Promise<string[]> =>
  (await q.query(`SELECT relname FROM pg_class WHERE relname IN ('account_model_fit','product_model_price') AND relkind = 'r' ORDER BY 1`)).map((r) => r.relname);

it('down drops both tables; up recreates them', async () => {
  expect(await present(hub.ds)).toEqual(TABLES);
  const runner = hub.ds.createQueryRunner();
  try {
    await runner.startTransaction();
    await new ModelFit1764302800000().down(runner);
    expect(await present(runner)).toEqual([]);
    await new ModelFit1764302800000().up(runner);
    await runner.commitTransaction();
  } finally {
    await runner.release();
  }
  expect(await present(hub.ds)).toEqual(TABLES);
});
