for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) delete process.env[k];
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { startSalesforceEmulator } from '../../connectors/salesforce/emulator';
import { systemContext } from '../../src/common/context';
import { OrderLineAction } from '../../src/entitlements/entitlement.enums';
import { SyncTrigger } from '../../src/sync/sync.entities';
import { eachConcurrently } from '../../src/sync/sync-pull';
import type { Scenario } from '../support/types';
import { oneRunFigures } from '../support/batch';
import { fmt } from '../support/report';

const DEALS = Number(process.env.BENCH_SF_DEALS ?? 2_000);
const LINES = 3;
const ACCOUNTS = Math.max(1, Math.round(DEALS / 5));
const CLIENT = { clientId: 'bench-pull', clientSecret: 'bench-pull-secret' };
const SKUS = ['BENCH-PULL-A', 'BENCH-PULL-B', 'BENCH-PULL-C'];

/**
 * The initial load of a Salesforce org: 2,000 closed-won deals (BENCH_SF_DEALS) of 3 lines
 * over 400 accounts, pulled by one `runSync` (accounts, then deals → orders → entitlements,
 * pages of 2,000, EHUB_SYNC_PULL_CONCURRENCY deals at a time). Baseline in the same run:
 * the same 2,000 orders submitted straight to `OrderService.submit` with the same
 * concurrency, on the same accounts — the hub's own fulfilment cost, so the ratio is what
 * the sync adds (queries, paging, state, hashing).
 */
export const salesforcePull: Scenario = {
  name: 'salesforce-pull',
  description: `initial pull of ${fmt(DEALS)} closed-won deals × ${LINES} lines from the Salesforce emulator into orders and entitlements`,
  async run(ctx) {
    const { services } = ctx.hub;
    const log = pino({ level: 'warn' });
    const sys = systemContext(log, 'bench:pull');
    const emu = await startSalesforceEmulator({ clients: [CLIENT] });
    try {
      for (const sku of SKUS) {
        const key = `bench.${sku.toLowerCase()}`;
        await services.catalog.upsertFeature(sys, { key, name: key } as never);
        await services.catalog.upsertProduct(sys, {
          sku,
          name: sku,
          kind: 'SOFTWARE',
          listPrice: { amountMinor: '10000', currency: 'USD' },
          ssp: { amountMinor: '10000', currency: 'USD' },
          defaultModel: 'SUBSCRIPTION',
          features: [{ key, limit: 1 }],
        } as never);
      }
      const accounts: string[] = [];
      for (let a = 0; a < ACCOUNTS; a++) accounts.push(emu.insert('Account', { Name: `Pull bench ${a}` }));
      for (let i = 0; i < DEALS; i++) {
        emu.seedDeal({
          accountId: accounts[i % ACCOUNTS],
          name: `Bench deal ${i}`,
          closeDate: '2026-11-01',
          lines: SKUS.map((sku, j) => ({ productCode: sku, quantity: 1 + ((i + j) % 7), unitPrice: 100 + j, serviceDate: '2026-11-01', endDate: '2027-10-31' })),
        });
      }
      const conn = await services.sync.createConnection(sys, {
        name: 'bench-pull',
        type: 'salesforce',
        options: { auth: 'client_credentials', loginUrl: emu.url, clientId: CLIENT.clientId },
        credentials: { clientSecret: CLIENT.clientSecret },
        enabled: false,
        pullEnabled: true,
        pushEnabled: false,
        renewalDays: 90,
        maxAttempts: 8,
      });

      const elu = performance.eventLoopUtilization();
      const started = performance.now();
      const runs = await services.sync.runSync(sys, conn.id, { push: false, objects: ['accounts', 'orders'], trigger: SyncTrigger.MANUAL });
      const seconds = (performance.now() - started) / 1000;
      const busy = performance.eventLoopUtilization(elu);
      const orders = runs.find((r) => r.object === 'orders')!;
      const [{ n }] = await services.db.ds.query(`SELECT count(*)::int AS n FROM entitlement WHERE sku = ANY($1)`, [SKUS]);
      console.error(`  sync: ${fmt(orders.read)} deals in ${seconds.toFixed(1)} s (${orders.apiCalls} API calls for deals; ${fmt(n)} entitlements); runs ${runs.map((r) => `${r.object} ${r.status} ${r.durationMs} ms`).join(', ')}`);
      if (orders.created !== DEALS || n !== DEALS * LINES) throw new Error(`expected ${DEALS} orders and ${DEALS * LINES} entitlements, got ${orders.created} and ${n}`);

      // Baseline: the same orders straight into OrderService, one after the other.
      const hubAccounts: { id: string }[] = await services.db.ds.query(
        `SELECT r.entity_id AS id FROM external_ref r WHERE r.system = 'salesforce' AND r.object = 'Account' ORDER BY r.external_id`,
      );
      const b0 = performance.now();
      const concurrency = services.config.EHUB_SYNC_PULL_CONCURRENCY;
      await eachConcurrently(Array.from({ length: DEALS }, (_, i) => i), concurrency, async (i) => {
        await services.orders.submit(sys, {
          source: 'bench-direct',
          externalId: `direct-${i}`,
          revision: 1,
          accountId: hubAccounts[i % hubAccounts.length]!.id,
          orderDate: '2026-11-01',
          currency: 'USD',
          lines: SKUS.map((sku, j) => ({
            lineNo: j + 1,
            externalLineId: `direct-${i}-${j}`,
            sku,
            quantity: 1 + ((i + j) % 7),
            unitPrice: String((100 + j) * 100),
            startDate: '2026-11-01',
            endDate: '2027-10-31',
            action: OrderLineAction.NEW,
          })),
        });
      });
      const direct = (performance.now() - b0) / 1000;
      console.error(`  baseline (submitOrder directly, ${concurrency} at a time): ${fmt(DEALS)} orders in ${direct.toFixed(1)} s; sync/direct = ${(seconds / direct).toFixed(2)}×`);

      return oneRunFigures(DEALS, seconds, busy.utilization, {
          value: Math.round(DEALS / seconds),
          unit: `deals/s (${fmt(DEALS * LINES)} lines, ${orders.apiCalls} API calls); submitOrder directly ${Math.round(DEALS / direct)} orders/s (sync/direct ${(seconds / direct).toFixed(2)}× the time)`,
        });
    } finally {
      await emu.close();
    }
  },
};
