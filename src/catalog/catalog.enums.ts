import { registerEnumType } from 'type-graphql';

/** What kind of thing a product is; drives nothing by itself, but reports and fit analysis group by it. */
export enum ProductKind {
  SOFTWARE = 'SOFTWARE',
  HARDWARE = 'HARDWARE',
  IOT_DEVICE = 'IOT_DEVICE',
  SAAS = 'SAAS',
  SERVICE = 'SERVICE',
  SUPPORT = 'SUPPORT',
}

/**
 * How a right to use is sold and enforced. Defined here (the catalog names a product's
 * default model); orders and entitlements import it.
 */
export enum MonetizationModel {
  PERPETUAL = 'PERPETUAL',
  SUBSCRIPTION = 'SUBSCRIPTION',
  DEVICE_LOCKED = 'DEVICE_LOCKED',
  NAMED_USER = 'NAMED_USER',
  CONCURRENT = 'CONCURRENT',
  USAGE = 'USAGE',
  METERED = 'METERED',
  OUTCOME = 'OUTCOME',
}

/** How a meter turns usage events into one figure per period. */
export enum MeterAggregation {
  SUM = 'SUM',
  COUNT = 'COUNT',
  MAX = 'MAX',
  UNIQUE_COUNT = 'UNIQUE_COUNT',
  LATEST = 'LATEST',
}

/** Catalog items are archived, not deleted, once something refers to them. */
export enum CatalogStatus {
  ACTIVE = 'ACTIVE',
  ARCHIVED = 'ARCHIVED',
}

registerEnumType(ProductKind, {
  name: 'ProductKind',
  description: 'What kind of thing a product is.',
  valuesConfig: {
    SOFTWARE: { description: 'Installed software (on premises, desktop, embedded).' },
    HARDWARE: { description: 'A physical product.' },
    IOT_DEVICE: { description: 'A connected device that checks its rights and reports usage.' },
    SAAS: { description: 'Software run by the vendor as a service.' },
    SERVICE: { description: 'Professional services (installation, training, consulting).' },
    SUPPORT: { description: 'Support and maintenance.' },
  },
});

registerEnumType(MonetizationModel, {
  name: 'MonetizationModel',
  description: 'How a right to use is sold and enforced.',
  valuesConfig: {
    PERPETUAL: { description: 'Bought once, usable for ever.' },
    SUBSCRIPTION: { description: 'Usable for a term, renewed.' },
    DEVICE_LOCKED: { description: 'Node-locked to up to N devices.' },
    NAMED_USER: { description: 'Up to N named users (seats).' },
    CONCURRENT: { description: 'Up to N users at once (floating leases).' },
    USAGE: { description: 'Pay per use, billed in arrears.' },
    METERED: { description: 'A quantity per reset period, with an overage policy.' },
    OUTCOME: { description: 'Billed per outcome event.' },
  },
});

registerEnumType(MeterAggregation, {
  name: 'MeterAggregation',
  description: 'How a meter aggregates usage events over a period.',
  valuesConfig: {
    SUM: { description: 'The sum of the values.' },
    COUNT: { description: 'The number of events.' },
    MAX: { description: 'The largest value (peak).' },
    UNIQUE_COUNT: { description: 'The number of distinct values of `valueProperty` (e.g. distinct users).' },
    LATEST: { description: 'The most recent value (a gauge, e.g. storage in use).' },
  },
});

registerEnumType(CatalogStatus, {
  name: 'CatalogStatus',
  description: 'Whether a catalog item is offered. Archived items stay for the records that refer to them.',
  valuesConfig: {
    ACTIVE: { description: 'Offered; may be added to bundles, orders and grants.' },
    ARCHIVED: { description: 'No longer offered; kept because something refers to it.' },
  },
});
