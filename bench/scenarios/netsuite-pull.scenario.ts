for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) delete process.env[k];
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { startNetSuiteEmulator } from '../../connectors/netsuite/emulator';
import { systemContext } from '../../src/common/context';
import { OrderLineAction } from '../../src/entitlements/entitlement.enums';
import { SyncTrigger } from '../../src/sync/sync.entities';
import { eachConcurrently } from '../../src/sync/sync-pull';
import type { Scenario } from '../support/types';
import { oneRunFigures } from '../support/batch';
import { fmt } from '../support/report';

const ORDERS = Number(process.env.BENCH_NS_ORDERS ?? 10_000);
const LINES = 3;
const CUSTOMERS = Math.max(1, Math.round(ORDERS / 5));
const SKUS = ['BENCH-NS-A', 'BENCH-NS-B', 'BENCH-NS-C'];
const TERM = { start: '2026-11-01', end: '2027-10-31' };

/** The emulator's calls as `endpoint n, …`, largest first. */
const endpoints = (byEndpoint: Record<string, number>) =>
  Object.entries(byEndpoint)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${fmt(n)}`)
    .join(', ');

/**
 * The initial load of a NetSuite account (issue 12): 10,000 sales orders (BENCH_NS_ORDERS) of
 * 3 item lines over 2,000 customers, seeded in the NetSuite emulator (a real HTTP server, M2M
 * OAuth 2.0 with an ES256 JWT, the concurrency limit of 5) and pulled by one `runSync`:
 * customers, then sales orders through SuiteQL (keyset pages of 1,000, lines in IN lists of
 * 200 orders) → `submitOrder` with source `netsuite`, EHUB_SYNC_PULL_CONCURRENCY orders at a
 * time. API calls are the emulator's own count. Baseline in the same run: the same orders
 * submitted straight to `OrderService.submit` with the same concurrency on the same
 * accounts — the hub's fulfilment cost, so the ratio is what the sync adds (HTTP, SuiteQL,
 * paging, state, hashing).
 */
export const netsuitePull: Scenario = {
  name: 'netsuite-pull',
  description: `initial pull of ${fmt(ORDERS)} NetSuite sales orders × ${LINES} lines from the NetSuite emulator into orders and entitlements, vs submitOrder directly`,
  async run(ctx) {
    const { services } = ctx.hub;
    const sys = systemContext(pino({ level: 'warn' }), 'bench:netsuite-pull');
    const emu = await startNetSuiteEmulator();
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
      const s0 = performance.now();
      const customers = emu.seed.customers(Array.from({ length: CUSTOMERS }, (_, i) => ({ companyName: `NetSuite bench ${i}` })));
      const items = emu.seed.items(SKUS.map((itemId) => ({ itemId })));
      const quantity = (o: number, l: number) => 1 + ((o + l) % 7);
      const rate = (l: number) => `${100 + l}.00`;
      emu.seed.transactions(
        Array.from({ length: ORDERS }, (_, o) => ({
          type: 'SalesOrd' as const,
          entity: customers[o % CUSTOMERS]!,
          tranDate: TERM.start,
          lines: SKUS.map((_, l) => ({ item: items[l]!, quantity: String(quantity(o, l)), rate: rate(l), startDate: TERM.start, endDate: TERM.end })),
        })),
      );
      const seeded = (performance.now() - s0) / 1000;
      const m2m = emu.credentials.m2m!;
      const conn = await services.sync.createConnection(sys, {
        name: 'bench-netsuite',
        type: 'netsuite',
        options: { accountId: emu.accountId, baseUrl: emu.url, authMode: 'm2m' },
        credentials: { clientId: m2m.clientId, certificateId: m2m.certificateId, privateKey: m2m.privateKeyPem },
        enabled: false,
        pullEnabled: true,
        pushEnabled: false,
        renewalDays: 90,
        maxAttempts: 8,
      });

      emu.resetStats();
      const elu = performance.eventLoopUtilization();
      const started = performance.now();
      const runs = await services.sync.runSync(sys, conn.id, { push: false, objects: ['accounts', 'orders'], trigger: SyncTrigger.MANUAL });
      const seconds = (performance.now() - started) / 1000;
      const busy = performance.eventLoopUtilization(elu);
      const accounts = runs.find((r) => r.object === 'accounts')!;
      const orders = runs.find((r) => r.object === 'orders')!;
      const stats = emu.stats;
      const [{ n }] = await services.db.ds.query(`SELECT count(*)::int AS n FROM entitlement WHERE sku = ANY($1)`, [SKUS]);
      console.error(
        `  seeded ${fmt(CUSTOMERS)} customers and ${fmt(ORDERS)} orders in the emulator in ${seeded.toFixed(1)} s\n` +
          `  sync: ${fmt(accounts.read)} customers (${accounts.durationMs} ms, ${accounts.apiCalls} API calls) + ${fmt(orders.read)} sales orders (${((orders.durationMs ?? 0) / 1000).toFixed(1)} s, ${orders.apiCalls} API calls) ` +
          `in ${seconds.toFixed(1)} s; ${fmt(n)} entitlements; event loop busy ${(busy.utilization * 100).toFixed(0)} %\n` +
          `  emulator: ${fmt(stats.requests)} data requests + ${stats.tokenRequests} token requests (${endpoints(stats.byEndpoint)}); at most ${stats.maxConcurrency} in flight, ${stats.throttled} answered 429`,
      );
      if (accounts.created !== CUSTOMERS || orders.created !== ORDERS || orders.failed !== 0 || n !== ORDERS * LINES) {
        throw new Error(`expected ${CUSTOMERS} accounts, ${ORDERS} orders and ${ORDERS * LINES} entitlements, got ${accounts.created}, ${orders.created} (${orders.failed} failed) and ${n}`);
      }

      // Baseline: the same orders straight into OrderService, on the accounts the pull created.
      const hubAccounts = new Map<string, string>(
        (
          (await services.db.ds.query(`SELECT external_id, entity_id FROM external_ref WHERE system = $1 AND object = 'Account' AND entity_type = 'ACCOUNT'`, [conn.refSystem])) as {
            external_id: string;
            entity_id: string;
          }[]
        ).map((r) => [r.external_id, r.entity_id]),
      );
      const concurrency = services.config.EHUB_SYNC_PULL_CONCURRENCY;
      const b0 = performance.now();
      await eachConcurrently(
        Array.from({ length: ORDERS }, (_, o) => o),
        concurrency,
        async (o) => {
          await services.orders.submit(sys, {
            source: 'bench-ns-direct',
            externalId: `direct-${o}`,
            revision: 1,
            accountId: hubAccounts.get(String(customers[o % CUSTOMERS]))!,
            orderDate: TERM.start,
            currency: 'USD',
            lines: SKUS.map((sku, l) => ({
              lineNo: l + 1,
              externalLineId: `direct-${o}-${l}`,
              sku,
              quantity: quantity(o, l),
              unitPrice: String((100 + l) * 100),
              startDate: TERM.start,
              endDate: TERM.end,
              action: OrderLineAction.NEW,
            })),
          });
        },
      );
      const direct = (performance.now() - b0) / 1000;
      const ordersSeconds = (orders.durationMs ?? seconds * 1000) / 1000;
      console.error(
        `  baseline (submitOrder directly, ${concurrency} at a time): ${fmt(ORDERS)} orders in ${direct.toFixed(1)} s = ${fmt(Math.round(ORDERS / direct))} orders/s; ` +
          `sales-order pull / direct = ${(ordersSeconds / direct).toFixed(2)}× the time (whole sync incl. customers ${(seconds / direct).toFixed(2)}×)`,
      );

      return oneRunFigures(ORDERS, seconds, busy.utilization, {
        value: Math.round(ORDERS / ordersSeconds),
        unit:
          `sales orders/s pulled (${fmt(ORDERS * LINES)} lines; ${orders.apiCalls} API calls for orders, ${accounts.apiCalls} for ${fmt(CUSTOMERS)} customers); ` +
          `submitOrder directly ${fmt(Math.round(ORDERS / direct))} orders/s (pull/direct ${(ordersSeconds / direct).toFixed(2)}× the time)`,
      });
    } finally {
      await emu.close();
    }
  },
};
