import { registerEnumType } from 'type-graphql';

/** What an order line does to the account's entitlements. */
export enum OrderLineAction {
  NEW = 'NEW',
  RENEWAL = 'RENEWAL',
  AMENDMENT = 'AMENDMENT',
  CANCELLATION = 'CANCELLATION',
  UPGRADE = 'UPGRADE',
}

/** The stored lifecycle state of an entitlement (see `Entitlement.status` for the effective one). */
export enum EntitlementStatus {
  ACTIVE = 'ACTIVE',
  SUSPENDED = 'SUSPENDED',
  EXPIRED = 'EXPIRED',
  CANCELLED = 'CANCELLED',
}

/** What happens when metered consumption would exceed the period's entitlement. */
export enum OveragePolicy {
  BLOCK = 'BLOCK',
  ALLOW = 'ALLOW',
  ALLOW_AND_NOTIFY = 'ALLOW_AND_NOTIFY',
}

/** When a metered balance starts again from zero. */
export enum ResetPeriod {
  DAILY = 'DAILY',
  MONTHLY = 'MONTHLY',
  ANNUAL = 'ANNUAL',
  TERM = 'TERM',
}

/** Where software runs or usage comes from. */
export enum Deployment {
  CLOUD = 'CLOUD',
  ON_PREM = 'ON_PREM',
  SAAS = 'SAAS',
  EMBEDDED = 'EMBEDDED',
  DEVICE = 'DEVICE',
}

registerEnumType(OrderLineAction, {
  name: 'OrderLineAction',
  description: 'What an order line does to entitlements.',
  valuesConfig: {
    NEW: { description: 'Grants a new entitlement.' },
    RENEWAL: { description: 'Extends the term of the entitlement of `renewsLineRef` (one history, not a new grant).' },
    AMENDMENT: { description: 'Changes the entitlement of `amendsLineRef` (quantity = the new total, dates, limits, terms).' },
    CANCELLATION: { description: 'Ends the entitlement of `amendsLineRef`: its last day is `endDate`, or the day before `startDate`.' },
    UPGRADE: { description: 'Ends the entitlement of `amendsLineRef` the day before `startDate` and grants this line\'s product from `startDate`.' },
  },
});

registerEnumType(EntitlementStatus, {
  name: 'EntitlementStatus',
  description: 'The lifecycle state of an entitlement.',
  valuesConfig: {
    ACTIVE: { description: 'In force (possibly not started yet, or in its grace period after the end date).' },
    SUSPENDED: { description: 'On hold (collections, compliance); checks are refused until resumed.' },
    EXPIRED: { description: 'Past its end date and grace period.' },
    CANCELLED: { description: 'Ended early by a cancellation, an upgrade, or a removed order line.' },
  },
});

registerEnumType(OveragePolicy, {
  name: 'OveragePolicy',
  description: 'What happens when consumption would exceed the period\'s entitlement.',
  valuesConfig: {
    BLOCK: { description: 'Refuse the consumption (LIMIT_EXCEEDED).' },
    ALLOW: { description: 'Allow it and record the overage for billing.' },
    ALLOW_AND_NOTIFY: { description: 'Allow it, record the overage, and notify.' },
  },
});

registerEnumType(ResetPeriod, {
  name: 'ResetPeriod',
  description: 'When a metered balance starts again from zero (periods are in the contract time zone).',
  valuesConfig: {
    DAILY: { description: 'Every calendar day.' },
    MONTHLY: { description: 'Every calendar month.' },
    ANNUAL: { description: 'Every year from the entitlement start date (anniversary).' },
    TERM: { description: 'Never: one balance for the whole term.' },
  },
});

registerEnumType(Deployment, {
  name: 'Deployment',
  description: 'Where software runs or usage comes from.',
  valuesConfig: {
    CLOUD: { description: 'A public or private cloud the customer runs.' },
    ON_PREM: { description: 'The customer\'s own data centre.' },
    SAAS: { description: 'The vendor\'s hosted service.' },
    EMBEDDED: { description: 'Embedded in another product.' },
    DEVICE: { description: 'A device or appliance in the field.' },
  },
});
