/**
 * Turns a push batch into Salesforce writes: one write per target record (items for the same
 * record merged, later items winning), field names mapped, values checked. Items that cannot be
 * written at all are answered here, before any call.
 */
import type { AccountFields, PushBatch, PushItem, PushObject, PushPayloads, PushResult } from '../types';
import { ACCOUNT_FIELD_KEYS, type AccountFieldKey, type SalesforceOptions } from './options';
import { id18, isDecimalString, truncate } from './values';

/** A decimal string sent digit for digit (JSON number / CSV cell). */
export class Decimal {
  constructor(readonly text: string) {}
}

/** A field value on its way to Salesforce; null clears the field. */
export type SfValue = string | number | boolean | null | Decimal;

export interface Write {
  /** The Id (update) or external-id value (upsert). */
  key: string;
  /** Fields other than the key field. */
  record: Record<string, SfValue>;
  /** The push items this write answers. */
  itemKeys: string[];
}

export interface WritePlan {
  sobject: string;
  operation: 'update' | 'upsert';
  /** `Id` for updates, the external-id field for upserts. */
  keyField: string;
  writes: Write[];
  /** Items refused before sending. */
  refused: PushResult[];
  /** Fields to leave out of writes to records that already exist (the renewal's stage). */
  createOnlyFields: string[];
  /** The canonical field stamped with the write time, if mapped (account `syncedAt`). */
  stampField: string | null;
}

const SF_ID = /^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const refuse = (code: string, message: string): never => {
  throw new Refusal(code, message);
};

function salesforceId(v: unknown, what: string): string {
  if (typeof v !== 'string' || !SF_ID.test(v)) refuse('MALFORMED_ID', `${what} is not a Salesforce id: ${String(v)}`);
  return v as string;
}

function decimal(v: unknown, what: string): Decimal {
  if (typeof v !== 'string' || !isDecimalString(v)) refuse('INVALID_VALUE', `${what} must be a decimal string, got ${JSON.stringify(v)}`);
  return new Decimal(v as string);
}

function date(v: unknown, what: string): string {
  if (typeof v !== 'string' || !DATE.test(v)) refuse('INVALID_VALUE', `${what} must be YYYY-MM-DD, got ${JSON.stringify(v)}`);
  return v as string;
}

function finiteNumber(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) refuse('INVALID_VALUE', `${what} must be a finite number, got ${JSON.stringify(v)}`);
  return v as number;
}

function text(v: unknown, what: string): string {
  if (typeof v !== 'string') refuse('INVALID_VALUE', `${what} must be a string, got ${JSON.stringify(v)}`);
  return v as string;
}

/** One canonical account field → its Salesforce value (null clears; a checkbox cannot be null). */
function accountValue(key: Exclude<AccountFieldKey, 'syncedAt'>, v: unknown): SfValue {
  switch (key) {
    case 'arr':
    case 'estimatedLeakage':
      return v === null ? null : decimal(v, key);
    case 'forecastArr':
    case 'maintenanceRenewal':
      return v === null ? null : decimal(v, key);
    case 'utilizationPercent':
    case 'activeUsers':
    case 'healthScore':
    case 'churnProbability':
    case 'updatesHeldBack':
      return v === null ? null : finiteNumber(v, key);
    case 'overuse':
      return v === null ? false : typeof v === 'boolean' ? v : refuse('INVALID_VALUE', `overuse must be a boolean, got ${JSON.stringify(v)}`);
    case 'nextRenewalDate':
    case 'supportEnd':
      return v === null ? null : date(v, key);
    case 'lastUsageAt':
      if (v === null) return null;
      if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) refuse('INVALID_VALUE', `lastUsageAt must be an ISO instant, got ${JSON.stringify(v)}`);
      return new Date(v as string).toISOString();
    case 'entitlementStatus':
    case 'churnRisk':
    case 'modelFit':
    case 'supportLevel':
      return v === null ? null : text(v, key);
  }
}

function checkCurrency(options: SalesforceOptions, currency: string | null | undefined, what: string): void {
  if (!options.multiCurrency && currency && currency !== options.defaultCurrency) {
    refuse(
      'CURRENCY_MISMATCH',
      `${what} is in ${currency} but the org is single-currency ${options.defaultCurrency} (set multiCurrency or defaultCurrency)`,
    );
  }
}

interface Built {
  key: string;
  /** Groups writes to the same record (18-character ids compared case-insensitively). */
  identity: string;
  record: Record<string, SfValue>;
}

function buildAccountFields(options: SalesforceOptions, p: PushPayloads['account-fields']): Built {
  const id = salesforceId(p.accountExternalId, 'accountExternalId');
  const record: Record<string, SfValue> = {};
  const money = [p.arr, p.estimatedLeakage, p.forecastArr, p.maintenanceRenewal].some((v) => v !== undefined && v !== null);
  if (money) checkCurrency(options, p.currency, 'arr/estimatedLeakage/forecastArr/maintenanceRenewal');
  for (const key of ACCOUNT_FIELD_KEYS) {
    if (key === 'syncedAt') continue;
    const field = options.accountFields[key];
    const value = (p as AccountFields)[key];
    if (!field || value === undefined) continue;
    record[field] = accountValue(key, value);
  }
  return { key: id, identity: id18(id).toLowerCase(), record };
}

function buildRenewal(options: SalesforceOptions, p: PushPayloads['renewal-opportunity']): Built {
  const key = text(p.renewalKey, 'renewalKey');
  if (key.length === 0 || key.length > 255) refuse('INVALID_VALUE', 'renewalKey must be 1 to 255 characters');
  checkCurrency(options, p.currency, 'amount');
  const record: Record<string, SfValue> = {
    AccountId: salesforceId(p.accountExternalId, 'accountExternalId'),
    Name: truncate(text(p.name, 'name'), 120),
    Amount: decimal(p.amount, 'amount'),
    CloseDate: date(p.closeDate, 'closeDate'),
    StageName: options.renewal.stageName,
  };
  if (options.renewal.type) record.Type = options.renewal.type;
  if (options.multiCurrency) record.CurrencyIsoCode = text(p.currency, 'currency');
  return { key, identity: key, record };
}

function buildTrueup(options: SalesforceOptions, p: PushPayloads['trueup-opportunity']): Built {
  if (!options.trueup) return refuse('TRUEUP_DISABLED', 'trueup is null in the connection options: true-up opportunities are not written');
  const key = text(p.trueupKey, 'trueupKey');
  if (key.length === 0 || key.length > 255) refuse('INVALID_VALUE', 'trueupKey must be 1 to 255 characters');
  checkCurrency(options, p.currency, 'amount');
  const record: Record<string, SfValue> = {
    AccountId: salesforceId(p.accountExternalId, 'accountExternalId'),
    Name: truncate(text(p.name, 'name'), 120),
    Amount: decimal(p.amount, 'amount'),
    CloseDate: date(p.closeDate, 'closeDate'),
    Description: truncate(text(p.description, 'description'), 32000),
    StageName: options.trueup.stageName,
  };
  if (options.trueup.type) record.Type = options.trueup.type;
  if (options.multiCurrency) record.CurrencyIsoCode = text(p.currency, 'currency');
  return { key, identity: key, record };
}

function buildEntitlement(options: SalesforceOptions, p: PushPayloads['entitlement']): Built {
  const obj = options.entitlementObject;
  if (!obj) return refuse('ENTITLEMENT_OBJECT_DISABLED', 'entitlementObject is null in the connection options: entitlements are not written');
  const key = text(p.entitlementId, 'entitlementId');
  if (key.length === 0) refuse('INVALID_VALUE', 'entitlementId is empty');
  const f = obj.fields;
  const name = text(p.productName, 'productName') || text(p.sku, 'sku');
  const record: Record<string, SfValue> = {
    [f.name]: truncate(name, 80),
    [f.account]: salesforceId(p.accountExternalId, 'accountExternalId'),
    [f.sku]: text(p.sku, 'sku'),
    [f.model]: text(p.model, 'model'),
    [f.status]: text(p.status, 'status'),
    [f.startDate]: date(p.startDate, 'startDate'),
    [f.endDate]: p.endDate === null ? null : date(p.endDate, 'endDate'),
    [f.quantity]: decimal(p.quantity, 'quantity'),
    [f.used]: decimal(p.used, 'used'),
    [f.remaining]: decimal(p.remaining, 'remaining'),
  };
  return { key, identity: key, record };
}

function buildSupportEntitlement(options: SalesforceOptions, p: PushPayloads['support-entitlement']): Built {
  const opts = options.supportEntitlement;
  if (!opts) return refuse('SUPPORT_ENTITLEMENT_DISABLED', 'supportEntitlement is null in the connection options: support entitlements are not written');
  const key = text(p.supportKey, 'supportKey');
  if (key.length === 0 || key.length > 255) refuse('INVALID_VALUE', 'supportKey must be 1 to 255 characters');
  const perIncident = p.casesAllowed !== null;
  const record: Record<string, SfValue> = {
    Name: truncate(text(p.name, 'name'), 255),
    AccountId: salesforceId(p.accountExternalId, 'accountExternalId'),
    StartDate: date(p.startDate, 'startDate'),
    EndDate: p.endDate === null ? null : date(p.endDate, 'endDate'),
    IsPerIncident: perIncident,
    // CasesPerEntitlement is read-only through the API: the cases left carry the count.
    RemainingCases: perIncident ? finiteNumber(p.casesRemaining, 'casesRemaining') : null,
  };
  if (opts.type) record.Type = opts.type;
  return { key, identity: key, record };
}

/** Maps a batch to its writes. Throws nothing for bad items: they come back in `refused`. */
export function planWrites<O extends PushObject>(options: SalesforceOptions, batch: PushBatch<O>): WritePlan {
  let sobject: string;
  let operation: WritePlan['operation'];
  let keyField: string;
  let createOnlyFields: string[] = [];
  let stampField: string | null = null;
  let build: (item: PushItem) => Built;
  switch (batch.object as PushObject) {
    case 'account-fields':
      sobject = 'Account';
      operation = 'update';
      keyField = 'Id';
      stampField = options.accountFields.syncedAt;
      build = (item) => buildAccountFields(options, item.payload as PushPayloads['account-fields']);
      break;
    case 'renewal-opportunity':
      sobject = 'Opportunity';
      operation = 'upsert';
      keyField = options.renewal.externalIdField;
      if (options.renewal.preserveStage) createOnlyFields = ['StageName', ...(options.renewal.type ? ['Type'] : [])];
      build = (item) => buildRenewal(options, item.payload as PushPayloads['renewal-opportunity']);
      break;
    case 'trueup-opportunity':
      sobject = 'Opportunity';
      operation = 'upsert';
      keyField = options.trueup?.externalIdField ?? 'Ehub_Trueup_Key__c';
      // What sales works on (stage, type, close date) is set when the deal is created, then theirs.
      if (options.trueup?.preserveStage) createOnlyFields = ['StageName', 'CloseDate', ...(options.trueup.type ? ['Type'] : [])];
      build = (item) => buildTrueup(options, item.payload as PushPayloads['trueup-opportunity']);
      break;
    case 'support-entitlement':
      sobject = 'Entitlement';
      operation = 'upsert';
      keyField = options.supportEntitlement?.externalIdField ?? 'Ehub_Support_Key__c';
      // Entitlement.AccountId can be set on create only.
      createOnlyFields = ['AccountId'];
      build = (item) => buildSupportEntitlement(options, item.payload as PushPayloads['support-entitlement']);
      break;
    case 'entitlement':
      sobject = options.entitlementObject?.name ?? 'Ehub_Entitlement__c';
      operation = 'upsert';
      keyField = options.entitlementObject?.externalIdField ?? 'Ehub_Entitlement_Id__c';
      build = (item) => buildEntitlement(options, item.payload as PushPayloads['entitlement']);
      break;
    default:
      sobject = '';
      operation = 'update';
      keyField = 'Id';
      build = () => refuse('UNKNOWN_OBJECT', `Salesforce cannot push ${String(batch.object)}`);
  }

  const refused: PushResult[] = [];
  const byIdentity = new Map<string, Write>();
  for (const item of batch.items as PushItem[]) {
    let built: Built;
    try {
      built = build(item);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      refused.push({ key: item.key, ok: false, errorCode: err.code, errorMessage: err.message, retryable: false });
      continue;
    }
    const existing = byIdentity.get(built.identity);
    if (existing) {
      // the later item carries the newer state; for account fields absent keys keep the earlier value
      existing.record = { ...existing.record, ...built.record };
      existing.itemKeys.push(item.key);
    } else {
      byIdentity.set(built.identity, { key: built.key, record: built.record, itemKeys: [item.key] });
    }
  }
  return { sobject, operation, keyField, writes: [...byIdentity.values()], refused, createOnlyFields, stampField };
}
