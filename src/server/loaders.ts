import type { Services } from './services';
import { createCatalogLoaders, type CatalogLoaders } from '../catalog/catalog.loaders';
import { createAccountLoaders, type AccountLoaders } from '../accounts/account.loaders';
import { createLicensingLoaders, type LicensingLoaders } from '../licensing/licensing.loaders';
import { createEntitlementLoaders, type EntitlementLoaders } from '../entitlements/entitlement.loaders';
import { createWebhookLoaders, type WebhookLoaders } from '../webhooks/webhook.loaders';

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
}

export function createLoaders(services: Services): Loaders {
  return {
    catalog: createCatalogLoaders(services.db),
    accounts: createAccountLoaders(services.db),
    licensing: createLicensingLoaders(services.licensing),
    entitlements: createEntitlementLoaders(services.db, services.entitlements, services.orders),
    webhooks: createWebhookLoaders(services.webhooks),
  };
}
