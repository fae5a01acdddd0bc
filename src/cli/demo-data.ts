import { MeterAggregation, MonetizationModel, ProductKind } from '../catalog/catalog.enums';

/**
 * A small but realistic catalog for `ehub demo`: a software vendor with desktop, SaaS and
 * IoT lines, a suite bundle, support and services, and usage meters. Prices in USD cents.
 */
export const DEMO_FEATURES = [
  { key: 'designer.core', name: 'Designer: core modelling' },
  { key: 'designer.render', name: 'Designer: photoreal rendering' },
  { key: 'designer.simulation', name: 'Designer: physics simulation' },
  { key: 'analytics.dashboards', name: 'Analytics: dashboards' },
  { key: 'analytics.export', name: 'Analytics: data export' },
  { key: 'api.access', name: 'Public API access' },
  { key: 'sensor.telemetry', name: 'Sensor gateway: telemetry upload' },
  { key: 'sensor.ota', name: 'Sensor gateway: over-the-air updates' },
  { key: 'support.premium', name: 'Premium support (24/7, 1 h response)' },
];

export const DEMO_METERS = [
  { key: 'api.calls', name: 'API calls', aggregation: MeterAggregation.COUNT, unit: 'calls', featureKey: 'api.access' },
  { key: 'storage.gb', name: 'Storage used', aggregation: MeterAggregation.MAX, unit: 'GB', valueProperty: 'gb', featureKey: 'analytics.export' },
  { key: 'render.minutes', name: 'Render minutes', aggregation: MeterAggregation.SUM, unit: 'minutes', valueProperty: 'minutes', featureKey: 'designer.render' },
  { key: 'active.users', name: 'Active users', aggregation: MeterAggregation.UNIQUE_COUNT, unit: 'users', valueProperty: 'user', featureKey: 'analytics.dashboards' },
];

const usd = (amountMinor: number) => ({ amountMinor: String(amountMinor), currency: 'USD' });

export const DEMO_PRODUCTS = [
  {
    sku: 'DSN-STD',
    name: 'Designer Standard (node-locked)',
    kind: ProductKind.SOFTWARE,
    listPrice: usd(120_000),
    ssp: usd(110_000),
    defaultModel: MonetizationModel.DEVICE_LOCKED,
    features: [{ key: 'designer.core', limit: 1 }],
  },
  {
    sku: 'DSN-PRO',
    name: 'Designer Pro (floating)',
    kind: ProductKind.SOFTWARE,
    listPrice: usd(360_000),
    ssp: usd(330_000),
    defaultModel: MonetizationModel.CONCURRENT,
    features: [
      { key: 'designer.core', limit: 1 },
      { key: 'designer.render', limit: 1 },
      { key: 'designer.simulation', limit: 1 },
    ],
  },
  {
    sku: 'ANL-CLOUD',
    name: 'Analytics Cloud (per named user, annual)',
    kind: ProductKind.SAAS,
    listPrice: usd(60_000),
    ssp: usd(54_000),
    defaultModel: MonetizationModel.NAMED_USER,
    features: [
      { key: 'analytics.dashboards', limit: 1 },
      { key: 'analytics.export', limit: null },
    ],
  },
  {
    sku: 'API-10M',
    name: 'API calls, 10 million a month',
    kind: ProductKind.SAAS,
    listPrice: usd(250_000),
    ssp: usd(250_000),
    defaultModel: MonetizationModel.METERED,
    features: [{ key: 'api.access', limit: 10_000_000 }],
  },
  {
    sku: 'RENDER-PAYG',
    name: 'Cloud rendering, pay as you go (per minute)',
    kind: ProductKind.SAAS,
    listPrice: usd(12),
    ssp: usd(12),
    defaultModel: MonetizationModel.USAGE,
    features: [{ key: 'designer.render', limit: null }],
  },
  {
    sku: 'GW-100',
    name: 'Sensor Gateway 100 (device)',
    kind: ProductKind.IOT_DEVICE,
    listPrice: usd(45_000),
    ssp: usd(40_000),
    defaultModel: MonetizationModel.DEVICE_LOCKED,
    features: [
      { key: 'sensor.telemetry', limit: 1 },
      { key: 'sensor.ota', limit: 1 },
    ],
  },
  {
    sku: 'SUP-PREM',
    name: 'Premium Support, annual',
    kind: ProductKind.SUPPORT,
    listPrice: usd(80_000),
    ssp: usd(72_000),
    defaultModel: MonetizationModel.SUBSCRIPTION,
    features: [{ key: 'support.premium', limit: null }],
  },
  {
    sku: 'SVC-ONBOARD',
    name: 'Onboarding and training (5 days)',
    kind: ProductKind.SERVICE,
    listPrice: usd(900_000),
    ssp: usd(750_000),
    defaultModel: MonetizationModel.OUTCOME,
    features: [],
  },
  {
    sku: 'SUITE-ENT',
    name: 'Enterprise Design Suite (bundle)',
    kind: ProductKind.SOFTWARE,
    listPrice: usd(1_200_000),
    ssp: usd(1_000_000),
    defaultModel: MonetizationModel.SUBSCRIPTION,
    features: [],
    components: [
      { sku: 'DSN-PRO', quantity: 5 },
      { sku: 'ANL-CLOUD', quantity: 25 },
      { sku: 'SUP-PREM', quantity: 1 },
    ],
  },
];

export const DEMO_ACCOUNTS = [
  {
    name: 'Acme Robotics',
    domain: 'acme-robotics.example',
    currency: 'USD',
    country: 'US',
    segment: 'ENTERPRISE',
    externalRefs: [{ system: 'salesforce', object: 'Account', externalId: '001DEMO0000000001' }],
    contacts: [
      { email: 'ana.lopez@acme-robotics.example', name: 'Ana López' },
      { email: 'ben.okafor@acme-robotics.example', name: 'Ben Okafor' },
      { email: 'chen.wei@acme-robotics.example', name: 'Chen Wei' },
    ],
  },
  {
    name: 'Nordlicht Energie GmbH',
    domain: 'nordlicht.example',
    currency: 'EUR',
    country: 'DE',
    segment: 'MID_MARKET',
    externalRefs: [
      { system: 'salesforce', object: 'Account', externalId: '001DEMO0000000002' },
      { system: 'netsuite', object: 'customer', externalId: '4711' },
    ],
    contacts: [{ email: 'j.schmidt@nordlicht.example', name: 'Jana Schmidt' }],
  },
  {
    name: 'Kite Health',
    domain: 'kitehealth.example',
    currency: 'USD',
    country: 'US',
    segment: 'SMB',
    externalRefs: [{ system: 'salesforce', object: 'Account', externalId: '001DEMO0000000003' }],
    contacts: [{ email: 'ops@kitehealth.example', name: 'Kite Ops' }],
  },
];

/** A product line of a sample Salesforce deal: ProductCode is the hub sku (or, once, not). */
export interface DemoSalesforceLine {
  productCode: string;
  productName: string;
  quantity: number;
  /** Sales price in the deal's currency (major units, as Salesforce stores it). */
  unitPrice: number;
}

/**
 * A sample Opportunity. Its service term is placed relative to the first day of the current
 * month (not today), so two demo runs in the same month seed identical deals: the term's
 * last day is that day + `endMonths` months + `endDays` days − 1, and it lasts `termMonths`.
 */
export interface DemoSalesforceDeal {
  name: string;
  stageName: 'Closed Won' | 'Negotiation/Review';
  endMonths: number;
  endDays?: number;
  termMonths: number;
  lines: DemoSalesforceLine[];
}

export interface DemoSalesforceAccount {
  name: string;
  website: string;
  country: string;
  contacts: { firstName: string; lastName: string; email: string; title: string }[];
  deals: DemoSalesforceDeal[];
}

const sfLine = (sku: string, quantity: number, unitPrice: number): DemoSalesforceLine => ({
  productCode: sku,
  productName: DEMO_PRODUCTS.find((p) => p.sku === sku)?.name ?? sku,
  quantity,
  unitPrice,
});

/**
 * The CRM side of `ehub demo --salesforce`: customers and their deals, seeded into the
 * Salesforce emulator in this order (the emulator numbers records in creation order, so the
 * same list gives the same Salesforce ids on every run). Two terms end within 90 days
 * (renewal opportunities), one deal carries a product code the catalog lacks (UNKNOWN_SKU),
 * one is still being negotiated (not won: nothing granted).
 */
export const DEMO_SALESFORCE_ACCOUNTS: DemoSalesforceAccount[] = [
  {
    name: 'Bluefin Logistics',
    website: 'https://www.bluefin-logistics.example',
    country: 'United States',
    contacts: [
      { firstName: 'Maya', lastName: 'Ortiz', email: 'maya.ortiz@bluefin-logistics.example', title: 'Head of Engineering' },
      { firstName: 'Tom', lastName: 'Becker', email: 'tom.becker@bluefin-logistics.example', title: 'IT Procurement' },
    ],
    deals: [
      {
        name: 'Bluefin: Designer Pro for the design team',
        stageName: 'Closed Won',
        endMonths: 2, // ends in 30–60 days: a renewal opportunity
        termMonths: 12,
        lines: [sfLine('DSN-PRO', 10, 3600), sfLine('SUP-PREM', 1, 800)],
      },
      {
        name: 'Bluefin: Analytics for operations',
        stageName: 'Negotiation/Review',
        endMonths: 12,
        termMonths: 12,
        lines: [sfLine('ANL-CLOUD', 20, 600)],
      },
    ],
  },
  {
    name: 'Cedar Ridge Clinics',
    website: 'https://cedar-ridge-clinics.example',
    country: 'United States',
    contacts: [{ firstName: 'Priya', lastName: 'Nair', email: 'priya.nair@cedar-ridge-clinics.example', title: 'CIO' }],
    deals: [
      {
        name: 'Cedar Ridge: Analytics Cloud and API',
        stageName: 'Closed Won',
        endMonths: 10,
        termMonths: 12,
        lines: [sfLine('ANL-CLOUD', 40, 540), sfLine('API-10M', 1, 2500)],
      },
    ],
  },
  {
    name: 'Helios Solar Systems',
    website: 'https://www.helios-solar.example',
    country: 'Spain',
    contacts: [{ firstName: 'Lucía', lastName: 'Romero', email: 'lucia.romero@helios-solar.example', title: 'Fleet Operations' }],
    deals: [
      {
        name: 'Helios: gateway fleet, year 1',
        stageName: 'Closed Won',
        endMonths: 1,
        endDays: 15, // ends in 15–45 days: a renewal opportunity
        termMonths: 12,
        lines: [sfLine('GW-100', 150, 400), sfLine('SUP-PREM', 1, 800)],
      },
    ],
  },
  {
    name: 'Orbital Print Works',
    website: 'https://orbital-print.example',
    country: 'United Kingdom',
    contacts: [{ firstName: 'Owen', lastName: 'Hughes', email: 'owen.hughes@orbital-print.example', title: 'Studio Manager' }],
    deals: [
      {
        name: 'Orbital: Designer seats and a plotter',
        stageName: 'Closed Won',
        endMonths: 12,
        termMonths: 12,
        // PLOTTER-X1 is sold in the CRM but is no product of the hub: the deal is reported (UNKNOWN_SKU).
        lines: [sfLine('DSN-STD', 3, 1200), { productCode: 'PLOTTER-X1', productName: 'Large-format plotter X1', quantity: 1, unitPrice: 9500 }],
      },
    ],
  },
];

/** An item line of a sample NetSuite sales order or invoice: the item's `itemid` is the hub sku. */
export interface DemoNetSuiteLine {
  item: string;
  quantity: number;
  /** Rate in the customer's currency (major units, as NetSuite stores it). */
  rate: number;
}

/**
 * A sample NetSuite sales order, its term placed like a Salesforce demo deal's (see
 * DemoSalesforceDeal): it ends `endMonths` after the first day of the current month and lasts
 * `termMonths`. `copyOfSalesforceDeal` names a Salesforce demo deal this order was booked from
 * (held in `custbody_ehub_crm_deal_id`): the hub grants it once, from the CRM, and links the copy.
 */
export interface DemoNetSuiteOrder {
  memo: string;
  endMonths: number;
  termMonths: number;
  lines: DemoNetSuiteLine[];
  /** C = Cancelled (not won: nothing granted); default B = Pending Fulfillment. */
  status?: 'B' | 'C';
  copyOfSalesforceDeal?: string;
}

/**
 * A receivable document. Dates are days from the first day of the current month, so two demo
 * runs in the same month seed identical documents: a due date before it is always overdue,
 * one two months after it never is.
 */
export interface DemoNetSuiteDocument {
  type: 'CustInvc' | 'CustCred' | 'CustPymt';
  memo: string;
  dateDays: number;
  dueDays?: number;
  /** The total (major units, decimal text). */
  total: string;
  /** Invoices: the amount still open; payments and credit memos: the part not applied. */
  open: string;
}

export interface DemoNetSuiteCustomer {
  companyName: string;
  url: string;
  email: string;
  /** The Salesforce demo account this customer is (its Account Id goes into `custentity_ehub_crm_id`). */
  salesforceAccount?: string;
  contacts: { firstName: string; lastName: string; email: string }[];
  orders: DemoNetSuiteOrder[];
  documents: DemoNetSuiteDocument[];
}

/** The items of `ehub demo --netsuite`: their `itemid` equals a hub sku. */
export const DEMO_NETSUITE_ITEMS = ['GW-100', 'SUP-PREM', 'DSN-STD', 'SVC-ONBOARD', 'ANL-CLOUD', 'API-10M'];

/**
 * The ERP side of `ehub demo --netsuite`: customers (three are the Salesforce demo's
 * customers under their legal names, holding their Salesforce Account Ids; two are known to
 * the ERP only), the sales orders booked in the ERP (hardware and services are booked there),
 * and invoices, a credit memo and payments. Seeded in this order: the emulator numbers
 * records in creation order, so every run gives them the same NetSuite ids.
 */
export const DEMO_NETSUITE_CUSTOMERS: DemoNetSuiteCustomer[] = [
  {
    companyName: 'Bluefin Logistics Inc.',
    url: 'https://www.bluefin-logistics.example',
    email: 'ap@bluefin-logistics.example',
    salesforceAccount: 'Bluefin Logistics',
    contacts: [],
    orders: [],
    documents: [
      { type: 'CustInvc', memo: 'Designer Pro and support, year 1', dateDays: -300, dueDays: -270, total: '36800.00', open: '0.00' },
      { type: 'CustPymt', memo: 'Wire transfer', dateDays: -275, total: '36800.00', open: '0.00' },
    ],
  },
  {
    companyName: 'Cedar Ridge Clinics LLC',
    url: 'https://cedar-ridge-clinics.example',
    email: 'accounts.payable@cedar-ridge-clinics.example',
    salesforceAccount: 'Cedar Ridge Clinics',
    contacts: [],
    orders: [
      {
        memo: 'Analytics Cloud and API (booked from the Salesforce opportunity)',
        endMonths: 10,
        termMonths: 12,
        lines: [
          { item: 'ANL-CLOUD', quantity: 40, rate: 540 },
          { item: 'API-10M', quantity: 1, rate: 2500 },
        ],
        copyOfSalesforceDeal: 'Cedar Ridge: Analytics Cloud and API',
      },
    ],
    documents: [{ type: 'CustInvc', memo: 'Analytics Cloud and API, year 1', dateDays: -10, dueDays: 60, total: '24100.00', open: '24100.00' }],
  },
  {
    companyName: 'Helios Solar Systems S.L.',
    url: 'https://www.helios-solar.example',
    email: 'facturas@helios-solar.example',
    salesforceAccount: 'Helios Solar Systems',
    contacts: [],
    orders: [{ memo: 'Gateway fleet expansion', endMonths: 12, termMonths: 12, lines: [{ item: 'GW-100', quantity: 50, rate: 400 }] }],
    documents: [
      { type: 'CustInvc', memo: 'Gateway fleet expansion', dateDays: -50, dueDays: -20, total: '20000.00', open: '20000.00' },
      { type: 'CustCred', memo: 'Two gateways damaged in transit', dateDays: -15, total: '800.00', open: '800.00' },
    ],
  },
  {
    companyName: 'Fjord Marine Instruments AS',
    url: 'https://fjord-marine.example',
    email: 'invoices@fjord-marine.example',
    contacts: [{ firstName: 'Ingrid', lastName: 'Halvorsen', email: 'ingrid.halvorsen@fjord-marine.example' }],
    orders: [
      {
        memo: 'Sensor gateways for the survey fleet',
        endMonths: 9,
        termMonths: 12,
        lines: [
          { item: 'GW-100', quantity: 20, rate: 420 },
          { item: 'SUP-PREM', quantity: 1, rate: 800 },
        ],
      },
      { memo: 'Spare gateways (cancelled)', endMonths: 9, termMonths: 12, status: 'C', lines: [{ item: 'GW-100', quantity: 5, rate: 420 }] },
    ],
    documents: [
      { type: 'CustInvc', memo: 'Sensor gateways for the survey fleet', dateDays: -75, dueDays: -45, total: '9200.00', open: '4200.00' },
      { type: 'CustPymt', memo: 'Partial payment', dateDays: -40, total: '5000.00', open: '0.00' },
    ],
  },
  {
    companyName: 'Quarry Lane Hardware Ltd',
    url: 'https://quarry-lane.example',
    email: 'finance@quarry-lane.example',
    contacts: [{ firstName: 'Declan', lastName: 'Moore', email: 'declan.moore@quarry-lane.example' }],
    orders: [
      {
        memo: 'Designer seats and onboarding',
        endMonths: 11,
        termMonths: 12,
        lines: [
          { item: 'DSN-STD', quantity: 5, rate: 1200 },
          { item: 'SVC-ONBOARD', quantity: 1, rate: 9000 },
        ],
      },
    ],
    documents: [{ type: 'CustInvc', memo: 'Designer seats and onboarding', dateDays: -20, dueDays: 40, total: '15000.00', open: '15000.00' }],
  },
];
