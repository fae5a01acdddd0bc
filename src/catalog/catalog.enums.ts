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

/**
 * The models a product can carry a catalog price in, for model-fit analysis (ADR 0033):
 * capacity priced per unit and year, pay per use of a meter, and hybrid (a base fee with
 * included units and an overage price; what a METERED entitlement is sold as).
 */
export enum PricingModel {
  NAMED_USER = 'NAMED_USER',
  CONCURRENT = 'CONCURRENT',
  DEVICE_LOCKED = 'DEVICE_LOCKED',
  USAGE = 'USAGE',
  HYBRID = 'HYBRID',
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

registerEnumType(PricingModel, {
  name: 'PricingModel',
  description: 'A model a product has a catalog price in (for model-fit analysis).',
  valuesConfig: {
    NAMED_USER: { description: 'Per named user (seat) and year.' },
    CONCURRENT: { description: 'Per concurrent user (floating seat) and year.' },
    DEVICE_LOCKED: { description: 'Per device and year.' },
    USAGE: { description: 'Per unit of a meter, pay as used.' },
    HYBRID: { description: 'A yearly base fee including some units of a meter, plus an overage price per unit beyond them (sold as METERED).' },
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
