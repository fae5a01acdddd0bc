import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import type { ConnectorConfig, OptionProblem } from '../types';

/** A Salesforce API name: `Name`, `Ehub_ARR__c`, `ns__Field__c`. */
const apiName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be a Salesforce API name, e.g. Ehub_ARR__c')
  .max(100);

/** The canonical account fields the hub pushes, and the Salesforce fields they go to by default (schema.md). */
export const DEFAULT_ACCOUNT_FIELDS = {
  entitlementStatus: 'Ehub_Entitlement_Status__c',
  nextRenewalDate: 'Ehub_Next_Renewal_Date__c',
  arr: 'Ehub_ARR__c',
  utilizationPercent: 'Ehub_Utilization__c',
  activeUsers: 'Ehub_Active_Users__c',
  lastUsageAt: 'Ehub_Last_Usage__c',
  overuse: 'Ehub_Overuse__c',
  estimatedLeakage: 'Ehub_Estimated_Leakage__c',
  healthScore: 'Ehub_Health_Score__c',
  churnRisk: 'Ehub_Churn_Risk__c',
  modelFit: 'Ehub_Model_Fit__c',
  churnProbability: 'Ehub_Churn_Probability__c',
  forecastArr: 'Ehub_Forecast_Arr__c',
  supportLevel: 'Ehub_Support_Level__c',
  supportEnd: 'Ehub_Support_End__c',
  updatesHeldBack: 'Ehub_Updates_Held_Back__c',
  maintenanceRenewal: 'Ehub_Maintenance_Renewal__c',
  syncedAt: 'Ehub_Synced_At__c',
} as const;

/** Canonical account field names (AccountFields keys except `currency`, plus `syncedAt`). */
export type AccountFieldKey = keyof typeof DEFAULT_ACCOUNT_FIELDS;
export const ACCOUNT_FIELD_KEYS = Object.keys(DEFAULT_ACCOUNT_FIELDS) as AccountFieldKey[];

/** The entitlement summary's parts and their default fields on Ehub_Entitlement__c. */
export const DEFAULT_ENTITLEMENT_FIELDS = {
  name: 'Name',
  account: 'Account__c',
  sku: 'Sku__c',
  model: 'Model__c',
  status: 'Status__c',
  startDate: 'Start_Date__c',
  endDate: 'End_Date__c',
  quantity: 'Quantity__c',
  used: 'Used__c',
  remaining: 'Remaining__c',
} as const;
export type EntitlementFieldKey = keyof typeof DEFAULT_ENTITLEMENT_FIELDS;

const accountFieldsSchema = z.strictObject(
  Object.fromEntries(ACCOUNT_FIELD_KEYS.map((k) => [k, apiName.nullable().optional()])) as Record<
    AccountFieldKey,
    z.ZodOptional<z.ZodNullable<typeof apiName>>
  >,
);

const entitlementFieldsSchema = z.strictObject(
  Object.fromEntries(Object.keys(DEFAULT_ENTITLEMENT_FIELDS).map((k) => [k, apiName.optional()])) as Record<
    EntitlementFieldKey,
    z.ZodOptional<typeof apiName>
  >,
);

const optionsSchema = z.strictObject({
  loginUrl: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
    .default('https://login.salesforce.com'),
  /** The org's URL for links to records in the hub's customer 360 view; default: loginUrl when it is a My Domain URL. */
  instanceUrl: z
    .string()
    .url()
    .refine((u) => /^https:\/\//.test(u), 'must be an https URL')
    .optional(),
  apiVersion: z
    .string()
    .regex(/^\d{2,3}\.0$/, 'must look like 62.0')
    .refine((v) => Number(v) >= 46, 'must be 46.0 or later (sObject Collections upsert)')
    .default('62.0'),
  auth: z.enum(['client_credentials', 'jwt_bearer', 'password']),
  clientId: z.string().min(1),
  username: z.string().min(1).optional(),
  /** JWT `aud`; default derived from loginUrl (login/test.salesforce.com for My Domain URLs). */
  jwtAudience: z.string().url().optional(),
  defaultCurrency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code, e.g. USD')
    .default('USD'),
  multiCurrency: z.boolean().default(false),
  lineEndDateField: apiName.nullable().default('Ehub_End_Date__c'),
  accountFields: accountFieldsSchema.default({}),
  renewal: z
    .strictObject({
      externalIdField: apiName.default('Ehub_Renewal_Key__c'),
      stageName: z.string().min(1).max(255).default('Prospecting'),
      type: z.string().min(1).max(255).nullable().default(null),
      preserveStage: z.boolean().default(true),
    })
    .default({ externalIdField: 'Ehub_Renewal_Key__c', stageName: 'Prospecting', type: null, preserveStage: true }),
  /**
   * True-up opportunities from compliance findings (docs/salesforce-setup.md); null = none
   * are written. `minLeakage` is read by the hub when it queues them: a finding's estimated
   * leakage (major units of its currency) must reach it.
   */
  trueup: z
    .strictObject({
      externalIdField: apiName.default('Ehub_Trueup_Key__c'),
      stageName: z.string().min(1).max(255).default('Prospecting'),
      type: z.string().min(1).max(255).nullable().default(null),
      preserveStage: z.boolean().default(true),
      minLeakage: z.number().min(0).default(1000),
    })
    .nullable()
    .default({ externalIdField: 'Ehub_Trueup_Key__c', stageName: 'Prospecting', type: null, preserveStage: true, minLeakage: 1000 }),
  /**
   * Support terms as the standard Entitlement object (Service Cloud entitlement management,
   * docs/salesforce-setup.md), upserted by `externalIdField` = `ehub-support:<entitlement id>`;
   * `type` fills the Type picklist when set; null = none are written.
   */
  supportEntitlement: z
    .strictObject({
      externalIdField: apiName.default('Ehub_Support_Key__c'),
      type: z.string().min(1).max(255).nullable().default(null),
    })
    .nullable()
    .default({ externalIdField: 'Ehub_Support_Key__c', type: null }),
  entitlementObject: z
    .strictObject({
      name: apiName.default('Ehub_Entitlement__c'),
      externalIdField: apiName.default('Ehub_Entitlement_Id__c'),
      fields: entitlementFieldsSchema.default({}),
    })
    .nullable()
    .default({ name: 'Ehub_Entitlement__c', externalIdField: 'Ehub_Entitlement_Id__c', fields: {} }),
  bulkThreshold: z.number().int().min(1).default(2000),
  pageSize: z.number().int().min(200).max(2000).default(2000),
  maxApiUsagePercent: z.number().gt(0).max(100).default(90),
  rateLimitBackoffMs: z.number().int().min(0).default(15 * 60_000),
  requestTimeoutMs: z.number().int().min(1).default(60_000),
  bulkPollIntervalMs: z.number().int().min(1).default(1_000),
  bulkTimeoutMs: z.number().int().min(1).default(10 * 60_000),
});

const credentialsSchema = z.strictObject({
  clientSecret: z.string().min(1).optional(),
  privateKey: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  securityToken: z.string().optional(),
});

type RawOptions = z.output<typeof optionsSchema>;

/** Options after defaults, with the maps filled in. */
export interface SalesforceOptions extends Omit<RawOptions, 'accountFields' | 'entitlementObject' | 'jwtAudience'> {
  /** Canonical name → Salesforce field; null = not written. */
  accountFields: Record<AccountFieldKey, string | null>;
  entitlementObject: { name: string; externalIdField: string; fields: Record<EntitlementFieldKey, string> } | null;
  jwtAudience: string;
}

export type SalesforceCredentials = z.output<typeof credentialsSchema>;

export interface ParsedConfig {
  options: SalesforceOptions;
  credentials: SalesforceCredentials;
}

function issuePath(prefix: string, path: readonly PropertyKey[]): string {
  return [prefix, ...path.map(String)].join('.');
}

/** `https://acme.my.salesforce.com` cannot be a JWT audience; Salesforce wants login/test.salesforce.com there. */
function defaultAudience(loginUrl: string): string {
  const host = new URL(loginUrl).hostname;
  if (/\.sandbox\.my\.salesforce\.com$/.test(host) || host === 'test.salesforce.com') return 'https://test.salesforce.com';
  if (/\.my\.salesforce\.com$/.test(host) || host === 'login.salesforce.com') return 'https://login.salesforce.com';
  return new URL(loginUrl).origin;
}

/**
 * Parses options and credentials. Returns the problems (paths like `options.accountFields.arr`,
 * `credentials.clientSecret`) or the parsed config with defaults applied.
 */
export function parseConfig(config: ConnectorConfig): { problems: OptionProblem[]; parsed: ParsedConfig | null } {
  const problems: OptionProblem[] = [];
  const o = optionsSchema.safeParse(config.options ?? {});
  if (!o.success) for (const i of o.error.issues) problems.push({ path: issuePath('options', i.path), message: i.message });
  const c = credentialsSchema.safeParse(config.credentials ?? {});
  if (!c.success) for (const i of c.error.issues) problems.push({ path: issuePath('credentials', i.path), message: i.message });
  if (!o.success || !c.success) return { problems, parsed: null };

  const opts = o.data;
  const creds = c.data;
  const need = (ok: boolean, path: string, message: string): void => {
    if (!ok) problems.push({ path, message });
  };
  const grant = opts.auth;
  need(grant === 'client_credentials' || !!opts.username, 'options.username', `is required for auth ${grant}`);
  need(grant === 'jwt_bearer' || !!creds.clientSecret, 'credentials.clientSecret', `is required for auth ${grant}`);
  need(grant !== 'jwt_bearer' || !!creds.privateKey, 'credentials.privateKey', 'is required for auth jwt_bearer (PEM private key)');
  need(grant !== 'password' || !!creds.password, 'credentials.password', 'is required for auth password');
  if (grant === 'jwt_bearer' && creds.privateKey) {
    try {
      const key = createPrivateKey(creds.privateKey);
      need(key.asymmetricKeyType === 'rsa', 'credentials.privateKey', 'must be an RSA key (RS256)');
    } catch {
      problems.push({ path: 'credentials.privateKey', message: 'is not a readable PEM private key' });
    }
  }
  if (grant === 'client_credentials' && /^(login|test)\.salesforce\.com$/.test(new URL(opts.loginUrl).hostname)) {
    // Salesforce serves the client credentials flow on My Domain URLs only
    problems.push({ path: 'options.loginUrl', message: 'must be your My Domain URL (https://<domain>.my.salesforce.com) for auth client_credentials' });
  }
  if (opts.renewal.externalIdField === 'Id') problems.push({ path: 'options.renewal.externalIdField', message: 'must be an External ID field, not Id' });
  if (opts.supportEntitlement?.externalIdField === 'Id') problems.push({ path: 'options.supportEntitlement.externalIdField', message: 'must be an External ID field, not Id' });
  if (opts.trueup?.externalIdField === 'Id') problems.push({ path: 'options.trueup.externalIdField', message: 'must be an External ID field, not Id' });
  if (problems.length > 0) return { problems, parsed: null };

  const accountFields = { ...DEFAULT_ACCOUNT_FIELDS } as Record<AccountFieldKey, string | null>;
  for (const k of ACCOUNT_FIELD_KEYS) {
    const v = opts.accountFields[k];
    if (v !== undefined) accountFields[k] = v;
  }
  const ent = opts.entitlementObject;
  const entitlementObject = ent && {
    name: ent.name,
    externalIdField: ent.externalIdField,
    fields: { ...DEFAULT_ENTITLEMENT_FIELDS, ...Object.fromEntries(Object.entries(ent.fields).filter(([, v]) => v !== undefined)) } as Record<
      EntitlementFieldKey,
      string
    >,
  };
  return {
    problems,
    parsed: {
      options: { ...opts, accountFields, entitlementObject, jwtAudience: opts.jwtAudience ?? defaultAudience(opts.loginUrl) },
      credentials: creds,
    },
  };
}
