import type { Command } from 'commander';
import { systemContext } from '../common/context';
import type { UpsertAccountInput, UpsertContactInput } from '../accounts/account.types';
import type { UpsertFeatureInput, UpsertMeterInput, UpsertProductInput } from '../catalog/catalog.types';
import { withServices } from './cli-context';
import { DEMO_ACCOUNTS, DEMO_FEATURES, DEMO_METERS, DEMO_PRODUCTS } from './demo-data';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Load a realistic sample catalog and a few accounts, so a newcomer sees data at once (safe to run again).')
    .action(async () => {
      await withServices(async (s, log) => {
        const ctx = systemContext(log, 'cli:demo');
        for (const f of DEMO_FEATURES) await s.catalog.upsertFeature(ctx, f as UpsertFeatureInput);
        for (const m of DEMO_METERS) await s.catalog.upsertMeter(ctx, m as UpsertMeterInput);
        // Components first: bundles refer to them.
        const ordered = [...DEMO_PRODUCTS].sort((a, b) => Number(Boolean(a.components)) - Number(Boolean(b.components)));
        for (const p of ordered) await s.catalog.upsertProduct(ctx, p as UpsertProductInput);
        for (const { contacts, ...a } of DEMO_ACCOUNTS) {
          const account = await s.accounts.upsert(ctx, a as UpsertAccountInput);
          for (const c of contacts) await s.accounts.contacts.upsert(ctx, { ...c, accountId: account.id } as UpsertContactInput);
        }
        console.log(
          `Demo data loaded: ${DEMO_FEATURES.length} features, ${DEMO_METERS.length} meters, ${DEMO_PRODUCTS.length} products ` +
            `(one bundle), ${DEMO_ACCOUNTS.length} accounts with contacts. Try: { products { edges { node { sku name effectiveFeatures { feature { key } limit } } } } }`,
        );
      });
    });
}
