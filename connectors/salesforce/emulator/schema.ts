/**
 * The objects and fields the emulator knows (see /tmp/sf/schema.md in the brief, mirrored in
 * README.md): standard Account, Contact, Product2, Opportunity, OpportunityLineItem with the
 * Entitlement Hub custom fields, and the custom object Ehub_Entitlement__c. Describe calls,
 * SOQL validation and write validation all read these definitions.
 */

/** Salesforce field types (describe `type`) the emulator uses. */
export type SfFieldType =
  | 'id'
  | 'reference'
  | 'string'
  | 'textarea'
  | 'url'
  | 'email'
  | 'phone'
  | 'picklist'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'double'
  | 'int'
  | 'currency'
  | 'percent';

export interface FieldDef {
  name: string;
  type: SfFieldType;
  label: string;
  /** Text length (0 for non-text). */
  length: number;
  /** Total digits and decimals for numbers. */
  precision: number;
  scale: number;
  externalId: boolean;
  unique: boolean;
  nillable: boolean;
  createable: boolean;
  updateable: boolean;
  /** Computed by the platform (formula / roll-up / derived); never writable. */
  calculated: boolean;
  /** Required on create (not nillable, createable, no default). */
  required: boolean;
  /** A default the platform sets on create when the field is absent. */
  defaultValue?: string | boolean;
  referenceTo?: string[];
  /** Relationship name used in SOQL paths (AccountId → Account, Account__c → Account__r). */
  relationshipName?: string;
  custom: boolean;
  picklistValues?: string[];
}

export interface ChildRelationship {
  childSObject: string;
  field: string;
  relationshipName: string;
  /** Deleting the parent soft-deletes these children. */
  cascadeDelete: boolean;
}

export interface SObjectDef {
  name: string;
  label: string;
  labelPlural: string;
  keyPrefix: string;
  custom: boolean;
  fields: FieldDef[];
  /** Lower-cased field name → definition (SOQL and JSON field names are case-insensitive). */
  byLowerName: Map<string, FieldDef>;
  /** Lower-cased relationship name → the reference field carrying it. */
  byRelationship: Map<string, FieldDef>;
  childRelationships: ChildRelationship[];
}

type FieldSpec = Partial<FieldDef> & { name: string; type: SfFieldType };

const STAGES = [
  'Prospecting',
  'Qualification',
  'Needs Analysis',
  'Value Proposition',
  'Id. Decision Makers',
  'Perception Analysis',
  'Proposal/Price Quote',
  'Negotiation/Review',
  'Closed Won',
  'Closed Lost',
];
/** Currencies the emulated org has enabled (multi-currency org). */
export const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'CAD', 'AUD', 'CHF', 'SEK', 'INR', 'BRL'];

function labelOf(name: string): string {
  const base = name.replace(/__c$/, '').replace(/^Ehub_/, 'Ehub ').replace(/_/g, ' ');
  return base.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/ Id$/, ' ID');
}

function field(spec: FieldSpec): FieldDef {
  const calculated = spec.calculated ?? false;
  const createable = calculated ? false : (spec.createable ?? true);
  const updateable = calculated ? false : (spec.updateable ?? createable);
  const nillable = spec.nillable ?? true;
  const isText = ['string', 'textarea', 'url', 'email', 'phone', 'picklist', 'id', 'reference'].includes(spec.type);
  return {
    label: labelOf(spec.name),
    length: isText ? (spec.length ?? (spec.type === 'id' || spec.type === 'reference' ? 18 : 255)) : 0,
    precision: spec.precision ?? (spec.type === 'int' ? 9 : spec.type === 'double' || spec.type === 'currency' || spec.type === 'percent' ? 18 : 0),
    scale: spec.scale ?? (spec.type === 'currency' ? 2 : 0),
    externalId: false,
    unique: false,
    custom: spec.name.endsWith('__c'),
    ...spec,
    calculated,
    createable,
    updateable,
    nillable,
    required: spec.required ?? (!nillable && createable && spec.defaultValue === undefined),
  };
}

/** Fields every object has (Id and the audit fields). */
function systemFields(): FieldDef[] {
  return [
    field({ name: 'Id', type: 'id', label: 'Record ID', createable: false, updateable: false, nillable: false }),
    field({ name: 'IsDeleted', type: 'boolean', label: 'Deleted', createable: false, updateable: false, nillable: false }),
    field({ name: 'CreatedDate', type: 'datetime', label: 'Created Date', createable: false, updateable: false, nillable: false }),
    field({ name: 'CreatedById', type: 'reference', label: 'Created By ID', createable: false, updateable: false, nillable: false, referenceTo: ['User'], relationshipName: 'CreatedBy' }),
    field({ name: 'LastModifiedDate', type: 'datetime', label: 'Last Modified Date', createable: false, updateable: false, nillable: false }),
    field({ name: 'LastModifiedById', type: 'reference', label: 'Last Modified By ID', createable: false, updateable: false, nillable: false, referenceTo: ['User'], relationshipName: 'LastModifiedBy' }),
    field({ name: 'SystemModstamp', type: 'datetime', label: 'System Modstamp', createable: false, updateable: false, nillable: false }),
  ];
}

function currencyField(): FieldDef {
  return field({ name: 'CurrencyIsoCode', type: 'picklist', label: 'Currency ISO Code', length: 3, nillable: false, defaultValue: 'USD', picklistValues: CURRENCIES });
}

function ownerField(): FieldDef {
  return field({ name: 'OwnerId', type: 'reference', label: 'Owner ID', nillable: false, defaultValue: true, referenceTo: ['User'], relationshipName: 'Owner' });
}

function sobject(
  name: string,
  keyPrefix: string,
  label: string,
  labelPlural: string,
  fields: FieldDef[],
  childRelationships: ChildRelationship[] = [],
): SObjectDef {
  const all = [...systemFields(), ...fields];
  const byLowerName = new Map(all.map((f) => [f.name.toLowerCase(), f]));
  const byRelationship = new Map<string, FieldDef>();
  for (const f of all) if (f.relationshipName) byRelationship.set(f.relationshipName.toLowerCase(), f);
  return { name, label, labelPlural, keyPrefix, custom: name.endsWith('__c'), fields: all, byLowerName, byRelationship, childRelationships };
}

const ACCOUNT = sobject(
  'Account',
  '001',
  'Account',
  'Accounts',
  [
    field({ name: 'Name', type: 'string', label: 'Account Name', length: 255, nillable: false }),
    field({ name: 'Type', type: 'picklist', label: 'Account Type', length: 255, picklistValues: ['Prospect', 'Customer - Direct', 'Customer - Channel', 'Partner', 'Other'] }),
    field({ name: 'Industry', type: 'picklist', length: 255 }),
    field({ name: 'Website', type: 'url', length: 255 }),
    field({ name: 'Phone', type: 'phone', length: 40 }),
    field({ name: 'BillingCity', type: 'string', length: 40 }),
    field({ name: 'BillingCountry', type: 'string', length: 80 }),
    field({ name: 'Description', type: 'textarea', length: 32000 }),
    ownerField(),
    currencyField(),
    field({ name: 'Ehub_Entitlement_Status__c', type: 'string', length: 40 }),
    field({ name: 'Ehub_Next_Renewal_Date__c', type: 'date' }),
    field({ name: 'Ehub_ARR__c', type: 'currency', precision: 16, scale: 2, label: 'Ehub ARR' }),
    field({ name: 'Ehub_Utilization__c', type: 'percent', precision: 5, scale: 1 }),
    field({ name: 'Ehub_Active_Users__c', type: 'double', precision: 9, scale: 0 }),
    field({ name: 'Ehub_Last_Usage__c', type: 'datetime' }),
    field({ name: 'Ehub_Overuse__c', type: 'boolean', nillable: false, defaultValue: false }),
    field({ name: 'Ehub_Estimated_Leakage__c', type: 'currency', precision: 16, scale: 2 }),
    field({ name: 'Ehub_Health_Score__c', type: 'double', precision: 3, scale: 0 }),
    field({ name: 'Ehub_Churn_Risk__c', type: 'string', length: 10 }),
    field({ name: 'Ehub_Model_Fit__c', type: 'string', length: 255 }),
    field({ name: 'Ehub_Churn_Probability__c', type: 'double', precision: 4, scale: 3 }),
    field({ name: 'Ehub_Forecast_Arr__c', type: 'currency', precision: 16, scale: 2, label: 'Ehub Forecast ARR' }),
    field({ name: 'Ehub_Support_Level__c', type: 'string', length: 80 }),
    field({ name: 'Ehub_Support_End__c', type: 'date' }),
    field({ name: 'Ehub_Updates_Held_Back__c', type: 'double', precision: 9, scale: 0 }),
    field({ name: 'Ehub_Maintenance_Renewal__c', type: 'currency', precision: 16, scale: 2, label: 'Ehub Maintenance Renewal' }),
    field({ name: 'Ehub_Synced_At__c', type: 'datetime' }),
  ],
  [
    { childSObject: 'Contact', field: 'AccountId', relationshipName: 'Contacts', cascadeDelete: true },
    { childSObject: 'Opportunity', field: 'AccountId', relationshipName: 'Opportunities', cascadeDelete: true },
    { childSObject: 'Ehub_Entitlement__c', field: 'Account__c', relationshipName: 'Ehub_Entitlements__r', cascadeDelete: false },
    { childSObject: 'Entitlement', field: 'AccountId', relationshipName: 'Entitlements', cascadeDelete: true },
  ],
);

const CONTACT = sobject('Contact', '003', 'Contact', 'Contacts', [
  field({ name: 'AccountId', type: 'reference', label: 'Account ID', referenceTo: ['Account'], relationshipName: 'Account' }),
  field({ name: 'FirstName', type: 'string', length: 40 }),
  field({ name: 'LastName', type: 'string', length: 80, nillable: false }),
  field({ name: 'Name', type: 'string', label: 'Full Name', length: 121, calculated: true, nillable: false }),
  field({ name: 'Email', type: 'email', length: 80 }),
  field({ name: 'Phone', type: 'phone', length: 40 }),
  field({ name: 'Title', type: 'string', length: 128 }),
  field({ name: 'Department', type: 'string', length: 80 }),
  ownerField(),
  currencyField(),
]);

const PRODUCT = sobject(
  'Product2',
  '01t',
  'Product',
  'Products',
  [
    field({ name: 'Name', type: 'string', label: 'Product Name', length: 255, nillable: false }),
    field({ name: 'ProductCode', type: 'string', length: 255 }),
    // Standard Product2.ExternalId: an external id that is NOT unique (several records may match).
    field({ name: 'ExternalId', type: 'string', label: 'External ID', length: 255, externalId: true }),
    field({ name: 'Description', type: 'textarea', length: 4000 }),
    field({ name: 'Family', type: 'picklist', length: 255 }),
    field({ name: 'IsActive', type: 'boolean', label: 'Active', nillable: false, defaultValue: false }),
    currencyField(),
  ],
  [{ childSObject: 'OpportunityLineItem', field: 'Product2Id', relationshipName: 'OpportunityLineItems', cascadeDelete: false }],
);

const OPPORTUNITY = sobject(
  'Opportunity',
  '006',
  'Opportunity',
  'Opportunities',
  [
    field({ name: 'AccountId', type: 'reference', label: 'Account ID', referenceTo: ['Account'], relationshipName: 'Account' }),
    field({ name: 'Name', type: 'string', length: 120, nillable: false }),
    field({ name: 'StageName', type: 'picklist', label: 'Stage', length: 255, nillable: false, picklistValues: STAGES }),
    field({ name: 'CloseDate', type: 'date', nillable: false }),
    field({ name: 'Amount', type: 'currency', precision: 18, scale: 2 }),
    field({ name: 'Type', type: 'picklist', label: 'Opportunity Type', length: 255, picklistValues: ['Existing Customer - Upgrade', 'Existing Customer - Replacement', 'Existing Customer - Downgrade', 'New Customer'] }),
    field({ name: 'Description', type: 'textarea', length: 32000 }),
    field({ name: 'IsWon', type: 'boolean', label: 'Won', calculated: true, nillable: false }),
    field({ name: 'IsClosed', type: 'boolean', label: 'Closed', calculated: true, nillable: false }),
    field({ name: 'HasOpportunityLineItem', type: 'boolean', label: 'Has Line Item', calculated: true, nillable: false }),
    ownerField(),
    currencyField(),
    field({ name: 'Ehub_Renewal_Key__c', type: 'string', length: 255, externalId: true, unique: true }),
    field({ name: 'Ehub_Trueup_Key__c', type: 'string', length: 255, externalId: true, unique: true }),
  ],
  [{ childSObject: 'OpportunityLineItem', field: 'OpportunityId', relationshipName: 'OpportunityLineItems', cascadeDelete: true }],
);

const LINE = sobject('OpportunityLineItem', '00k', 'Opportunity Product', 'Opportunity Product', [
  field({ name: 'OpportunityId', type: 'reference', label: 'Opportunity ID', nillable: false, updateable: false, referenceTo: ['Opportunity'], relationshipName: 'Opportunity' }),
  field({ name: 'Product2Id', type: 'reference', label: 'Product ID', updateable: false, nillable: false, referenceTo: ['Product2'], relationshipName: 'Product2' }),
  field({ name: 'ProductCode', type: 'string', label: 'Product Code', length: 255, calculated: true }),
  field({ name: 'Name', type: 'string', label: 'Opportunity Product Name', length: 376, calculated: true }),
  field({ name: 'Quantity', type: 'double', precision: 12, scale: 2, nillable: false }),
  field({ name: 'UnitPrice', type: 'currency', label: 'Sales Price', precision: 18, scale: 2, nillable: false }),
  field({ name: 'TotalPrice', type: 'currency', label: 'Total Price', precision: 18, scale: 2, calculated: true }),
  field({ name: 'ServiceDate', type: 'date', label: 'Date' }),
  field({ name: 'SortOrder', type: 'int', label: 'Sort Order', precision: 9 }),
  field({ name: 'Description', type: 'string', label: 'Line Description', length: 255 }),
  field({ name: 'CurrencyIsoCode', type: 'picklist', label: 'Currency ISO Code', length: 3, calculated: true, picklistValues: CURRENCIES }),
  field({ name: 'Ehub_End_Date__c', type: 'date' }),
]);

const ENTITLEMENT = sobject('Ehub_Entitlement__c', 'a00', 'Entitlement', 'Entitlements', [
  field({ name: 'Name', type: 'string', label: 'Entitlement Name', length: 80, nillable: false }),
  field({ name: 'Ehub_Entitlement_Id__c', type: 'string', label: 'Ehub Entitlement ID', length: 36, externalId: true, unique: true }),
  field({ name: 'Account__c', type: 'reference', label: 'Account', referenceTo: ['Account'], relationshipName: 'Account__r' }),
  field({ name: 'Sku__c', type: 'string', label: 'SKU', length: 100 }),
  field({ name: 'Model__c', type: 'string', length: 40 }),
  field({ name: 'Status__c', type: 'string', length: 40 }),
  field({ name: 'Start_Date__c', type: 'date' }),
  field({ name: 'End_Date__c', type: 'date' }),
  field({ name: 'Quantity__c', type: 'double', precision: 18, scale: 4 }),
  field({ name: 'Used__c', type: 'double', precision: 18, scale: 4 }),
  field({ name: 'Remaining__c', type: 'double', precision: 18, scale: 4 }),
  ownerField(),
  currencyField(),
]);

/**
 * The standard Entitlement object (Service Cloud entitlement management): the customer support
 * an account is owed. AccountId is set on create only (not updateable); CasesPerEntitlement is
 * read-only through the API, RemainingCases is writable when IsPerIncident. Plus the hub's
 * external id Ehub_Support_Key__c.
 */
const SUPPORT_ENTITLEMENT = sobject('Entitlement', '550', 'Entitlement', 'Entitlements', [
  field({ name: 'Name', type: 'string', label: 'Entitlement Name', length: 255, nillable: false }),
  field({ name: 'AccountId', type: 'reference', label: 'Account ID', nillable: false, updateable: false, referenceTo: ['Account'], relationshipName: 'Account' }),
  field({ name: 'StartDate', type: 'date' }),
  field({ name: 'EndDate', type: 'date' }),
  field({ name: 'Type', type: 'picklist', length: 255, picklistValues: ['Phone Support', 'Web Support', 'Email Support'] }),
  field({ name: 'IsPerIncident', type: 'boolean', label: 'Per Incident', nillable: false, defaultValue: false }),
  field({ name: 'CasesPerEntitlement', type: 'int', label: 'Cases Per Entitlement', createable: false, updateable: false }),
  field({ name: 'RemainingCases', type: 'int', label: 'Remaining Cases' }),
  field({ name: 'Status', type: 'picklist', length: 40, calculated: true, picklistValues: ['Inactive', 'Active', 'Expired'] }),
  field({ name: 'Ehub_Support_Key__c', type: 'string', label: 'Ehub Support Key', length: 255, externalId: true, unique: true }),
]);

/** All objects, in describeGlobal order. */
export const SOBJECTS: readonly SObjectDef[] = [ACCOUNT, CONTACT, SUPPORT_ENTITLEMENT, ENTITLEMENT, OPPORTUNITY, LINE, PRODUCT];

const BY_LOWER = new Map(SOBJECTS.map((o) => [o.name.toLowerCase(), o]));
const BY_PREFIX = new Map(SOBJECTS.map((o) => [o.keyPrefix, o]));

/** The object definition for an API name (case-insensitive), or undefined. */
export function findSObject(name: string): SObjectDef | undefined {
  return BY_LOWER.get(name.toLowerCase());
}

/** The object an id belongs to, from its key prefix. */
export function sobjectForId(id: string): SObjectDef | undefined {
  return BY_PREFIX.get(id.slice(0, 3));
}

/** A field by name (case-insensitive). */
export function findField(obj: SObjectDef, name: string): FieldDef | undefined {
  return obj.byLowerName.get(name.toLowerCase());
}

export function isNumericType(t: SfFieldType): boolean {
  return t === 'double' || t === 'int' || t === 'currency' || t === 'percent';
}

export function isTextType(t: SfFieldType): boolean {
  return t === 'string' || t === 'textarea' || t === 'url' || t === 'email' || t === 'phone' || t === 'picklist' || t === 'id' || t === 'reference';
}
