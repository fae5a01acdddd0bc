import { registerEnumType } from 'type-graphql';
import { Role } from './role.enum';

export { Role };

registerEnumType(Role, {
  name: 'Role',
  description: 'The role of an API key. ADMIN may call every operation; other roles only those that list them.',
  valuesConfig: {
    ADMIN: { description: 'Everything, including API keys and the audit log.' },
    OPERATIONS: { description: 'Catalog, accounts, orders and entitlements: the day-to-day operations team.' },
    FINANCE: { description: 'Revenue schedules, periods and finance exports; reads the rest.' },
    ANALYST: { description: 'Reads everything, including usage analytics; changes nothing.' },
    INTEGRATION: { description: 'Machine clients: licensing checks, usage ingest, order submission.' },
    READONLY: { description: 'Reads catalog, accounts and entitlements; changes nothing.' },
  },
});

/** Role sets used by resolvers, so each operation states plainly who may call it. */
export const Roles = {
  /** Every authenticated key. */
  ANY: [Role.ADMIN, Role.OPERATIONS, Role.FINANCE, Role.ANALYST, Role.INTEGRATION, Role.READONLY],
  ADMIN: [Role.ADMIN],
  /** Changes to the catalog and accounts. */
  OPERATE: [Role.ADMIN, Role.OPERATIONS],
  /** Changes made by operations staff or machine integrations (CRM/ERP sync, provisioning). */
  OPERATE_OR_INTEGRATE: [Role.ADMIN, Role.OPERATIONS, Role.INTEGRATION],
} as const satisfies Record<string, readonly Role[]>;
