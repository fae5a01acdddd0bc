import { ApiKey } from '../auth/api-key.entity';
import { AuditLog } from '../audit/audit-log.entity';
import { catalogEntities } from '../catalog/catalog.entities';
import { accountEntities } from '../accounts/account.entities';
import { entitlementEntities } from '../entitlements/entitlement.entities';
import { licensingEntities } from '../licensing/licensing.entities';
import { SigningKey } from '../certificates/signing-key.entity';
import { usageEntities } from '../usage/usage.entities';
import { complianceEntities } from '../compliance/compliance.entities';
import { webhookEntities } from '../webhooks/webhook.entities';
import { revenueEntities } from '../revenue/revenue.entities';
import { syncEntities } from '../sync/sync.entities';
import { identityEntities } from '../identity/identity.entities';

/** Every TypeORM entity of the hub (one list, used by the single DataSource). */
export const entities: Function[] = [
  ApiKey,
  AuditLog,
  ...catalogEntities,
  ...accountEntities,
  ...entitlementEntities,
  ...licensingEntities,
  SigningKey,
  ...usageEntities,
  ...complianceEntities,
  ...webhookEntities,
  ...revenueEntities,
  ...syncEntities,
  ...identityEntities,
];
