import type { Config } from '../config';
import type { Db } from '../db/db';
import { ApiKeyService } from '../auth/api-key.service';
import { AuditService } from '../audit/audit.service';
import { CatalogService } from '../catalog/catalog.service';
import { AccountService } from '../accounts/account.service';

/** The hub's services, built once per process and shared by resolvers, the CLI and jobs. */
export interface Services {
  db: Db;
  config: Config;
  apiKeys: ApiKeyService;
  audit: AuditService;
  catalog: CatalogService;
  accounts: AccountService;
}

export function createServices(db: Db, config: Config): Services {
  return {
    db,
    config,
    apiKeys: new ApiKeyService(db),
    audit: new AuditService(db),
    catalog: new CatalogService(db),
    accounts: new AccountService(db),
  };
}
