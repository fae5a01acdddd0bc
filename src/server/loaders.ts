import DataLoader from 'dataloader';
import type { Services } from './services';
import type { AccountHealthView } from '../health/health.service';
import { createCatalogLoaders, type CatalogLoaders } from '../catalog/catalog.loaders';
import { createAccountLoaders, type AccountLoaders } from '../accounts/account.loaders';
import { createLicensingLoaders, type LicensingLoaders } from '../licensing/licensing.loaders';
import { createEntitlementLoaders, type EntitlementLoaders } from '../entitlements/entitlement.loaders';
import { createWebhookLoaders, type WebhookLoaders } from '../webhooks/webhook.loaders';
import { createReceivableLoaders, type ReceivableLoaders } from '../receivables/receivable.loaders';
import { createCustomer360Loaders, type Customer360Loaders } from '../customer360/customer360.loaders';
import type { AccountModelFit } from '../modelfit/modelfit.types';
import type { Entitlement } from '../entitlements/entitlement.entity';
import type { ContractTerms } from '../support/support.types';
import type { DeliveryRenewalView } from '../delivery/delivery-renewals.service';
import type { SyncRun } from '../sync/sync.entities';

/**
 * Per-request DataLoaders: every field resolver that reads the database goes through one,
 * so a list of N items costs a fixed number of queries, not N.
 */
export interface Loaders {
  catalog: CatalogLoaders;
  accounts: AccountLoaders;
  licensing: LicensingLoaders;
  entitlements: EntitlementLoaders;
  webhooks: WebhookLoaders;
  /** `Account.health`: one statement per batch of accounts. */
  health: DataLoader<string, AccountHealthView | null>;
  receivables: ReceivableLoaders;
  customer360: Customer360Loaders;
  /** `Account.modelFit` and `customer360.modelFit`: a fixed number of statements per batch of accounts. */
  modelFit: DataLoader<string, AccountModelFit>;
  /** `customer360.modelFit`: the stored analysis of the last 36 hours, else live. */
  modelFitStored: DataLoader<string, AccountModelFit>;
  /** `Account.deliveryRenewal`: one statement per batch of accounts. */
  deliveryRenewal: DataLoader<string, DeliveryRenewalView | null>;
  /** `Entitlement.terms`: one statement per batch of entitlements. */
  support: { terms: DataLoader<Entitlement, ContractTerms | null, string> };
  /** `SyncConnection.deadLetters`: one statement per batch of connections. */
  syncDeadLetters: DataLoader<string, number>;
  /** `SyncConnection.lastRun`: one statement per batch of connections. */
  syncLastRun: DataLoader<string, SyncRun | null>;
}

export function createLoaders(services: Services): Loaders {
  return {
    catalog: createCatalogLoaders(services.db),
    accounts: createAccountLoaders(services.db),
    licensing: createLicensingLoaders(services.licensing),
    entitlements: createEntitlementLoaders(services.db, services.entitlements, services.orders),
    webhooks: createWebhookLoaders(services.webhooks),
    health: new DataLoader(async (ids) => {
      const found = await services.health.healthOf(ids);
      return ids.map((id) => found.get(id) ?? null);
    }),
    receivables: createReceivableLoaders(services.receivables),
    customer360: createCustomer360Loaders(services.customer360),
    modelFit: new DataLoader(async (ids) => {
      const found = await services.modelFit.fitMany(ids);
      return ids.map((id) => found.get(id)!);
    }),
    modelFitStored: new DataLoader(async (ids) => {
      const found = await services.modelFit.storedOrLive(ids);
      return ids.map((id) => found.get(id)!);
    }),
    deliveryRenewal: new DataLoader(async (ids) => {
      const found = await services.deliveryRenewals.of(ids);
      return ids.map((id) => found.get(id) ?? null);
    }),
    support: {
      terms: new DataLoader(
        async (es: readonly Entitlement[]) => {
          const found = await services.support.termsOf(services.db.manager, es);
          return es.map((e) => found.get(e.id) ?? null);
        },
        { cacheKeyFn: (e) => e.id },
      ),
    },
    syncDeadLetters: new DataLoader(async (ids) => {
      const found = await services.sync.deadLetterCounts(ids);
      return ids.map((id) => found.get(id) ?? 0);
    }),
    syncLastRun: new DataLoader(async (ids) => {
      const found = await services.sync.lastRuns(ids);
      return ids.map((id) => found.get(id) ?? null);
    }),
  };
}
