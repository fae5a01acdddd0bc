import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import type { ConnectorConfig, OptionProblem } from '../types';

/** A NetSuite field script id: `custentity_ehub_arr`, `custbody_ehub_crm_deal_id`, `itemid`. */
const fieldId = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, 'must be a NetSuite field id in lower case, e.g. custentity_ehub_arr')
  .max(100);

/** The canonical account fields the hub pushes and their default custom entity fields. */
export const DEFAULT_ACCOUNT_FIELDS = {
  entitlementStatus: 'custentity_ehub_entitlement_status',
  nextRenewalDate: 'custentity_ehub_next_renewal',
  arr: 'custentity_ehub_arr',
  utilizationPercent: 'custentity_ehub_utilization',
  activeUsers: 'custentity_ehub_active_users',
  lastUsageAt: 'custentity_ehub_last_usage',
  overuse: 'custentity_ehub_overuse',
  estimatedLeakage: 'custentity_ehub_leakage',
  healthScore: 'custentity_ehub_health_score',
  churnRisk: 'custentity_ehub_churn_risk',
  modelFit: 'custentity_ehub_model_fit',
  churnProbability: 'custentity_ehub_churn_probability',
  forecastArr: 'custentity_ehub_forecast_arr',
  updatesHeldBack: 'custentity_ehub_updates_held_back',
  maintenanceRenewal: 'custentity_ehub_maint_renewal',
  syncedAt: 'custentity_ehub_synced_at',
} as const;
export type AccountFieldKey = keyof typeof DEFAULT_ACCOUNT_FIELDS;
export const ACCOUNT_FIELD_KEYS = Object.keys(DEFAULT_ACCOUNT_FIELDS) as AccountFieldKey[];

const accountFieldsSchema = z.strictObject(
  Object.fromEntries(ACCOUNT_FIELD_KEYS.map((k) => [k, fieldId.nullable().optional()])) as Record<AccountFieldKey, z.ZodOptional<z.ZodNullable<typeof fieldId>>>,
);

const optionsSchema = z.strictObject({
  /** As NetSuite shows it: `1234567` or `1234567_SB1`. */
  accountId: z.string().regex(/^[A-Za-z0-9]+(_[A-Za-z0-9]+)?$/, 'must be a NetSuite account id, e.g. 1234567 or 1234567_SB1'),
  /** Default https://<accountId>.suitetalk.api.netsuite.com. */
  baseUrl: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
    .optional(),
  authMode: z.enum(['m2m', 'tba']),
  concurrency: z.number().int().min(1).max(50).default(4),
  maxAttempts: z.number().int().min(1).max(20).default(5),
  requestTimeoutMs: z.number().int().min(1).default(60_000),
  /** SuiteQL page size (≤ 1000). */
  pageSize: z.number().int().min(1).max(1000).default(1000),
  /** The customer field holding the Salesforce Account Id; null = none. */
  crmIdField: fieldId.nullable().default('custentity_ehub_crm_id'),
  /** The sales order field holding the Salesforce Opportunity Id; null = none. */
  crmDealField: fieldId.nullable().default('custbody_ehub_crm_deal_id'),
  /** How the linked CRM is named in the hub. */
  crmSystem: z.string().min(1).max(50).default('salesforce'),
  /** Journal entries: the subsidiary (internal id) of customers the pull saw without one (ADR 0027). */
  defaultSubsidiary: z.string().regex(/^\d+$/, 'must be a subsidiary internal id, e.g. "1"').nullable().default(null),
  /** The hub sku is the item's `itemid` (Name/Number) or its `externalid`. */
  skuSource: z.enum(['itemid', 'externalid']).default('itemid'),
  lineStartDateField: fieldId.nullable().default('custcol_ehub_start_date'),
  lineEndDateField: fieldId.nullable().default('custcol_ehub_end_date'),
  /** Sales order status codes that are fulfilled (B Pending Fulfillment … G Billed; not A Pending Approval, C Cancelled, H Closed). */
  wonStatuses: z.array(z.string().regex(/^[A-Z]$/, 'must be a status letter')).min(1).default(['B', 'D', 'E', 'F', 'G']),
  accountFields: accountFieldsSchema.default({}),
  /** Usage records: the usage record type and its fields. */
  usage: z
    .strictObject({
      recordType: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/).default('usage'),
      metricField: fieldId.nullable().default('custrecord_ehub_metric'),
    })
    .default({ recordType: 'usage', metricField: 'custrecord_ehub_metric' }),
});

const credentialsSchema = z.strictObject({
  clientId: z.string().min(1).optional(),
  certificateId: z.string().min(1).optional(),
  privateKey: z.string().min(1).optional(),
  consumerKey: z.string().min(1).optional(),
  consumerSecret: z.string().min(1).optional(),
  tokenId: z.string().min(1).optional(),
  tokenSecret: z.string().min(1).optional(),
});

type RawOptions = z.output<typeof optionsSchema>;
export interface NetSuiteOptions extends Omit<RawOptions, 'accountFields'> {
  accountFields: Record<AccountFieldKey, string | null>;
}
export type NetSuiteCredentials = z.output<typeof credentialsSchema>;

function issuePath(prefix: string, path: readonly PropertyKey[]): string {
  return [prefix, ...path.map(String)].join('.');
}

/** Parses options and credentials: one problem per path, or the config with defaults applied. */
export function parseConfig(config: ConnectorConfig): { problems: OptionProblem[]; parsed: { options: NetSuiteOptions; credentials: NetSuiteCredentials } | null } {
  const problems: OptionProblem[] = [];
  const o = optionsSchema.safeParse(config.options ?? {});
  if (!o.success) for (const i of o.error.issues) problems.push({ path: issuePath('options', i.path), message: i.message });
  const c = credentialsSchema.safeParse(config.credentials ?? {});
  if (!c.success) for (const i of c.error.issues) problems.push({ path: issuePath('credentials', i.path), message: i.message });
  if (!o.success || !c.success) return { problems, parsed: null };
  const opts = o.data;
  const creds = c.data;
  const need = (keys: (keyof NetSuiteCredentials)[]): void => {
    for (const k of keys) if (!creds[k]) problems.push({ path: `credentials.${k}`, message: `is required for authMode ${opts.authMode}` });
  };
  if (opts.authMode === 'm2m') {
    need(['clientId', 'certificateId', 'privateKey']);
    if (creds.privateKey) {
      try {
        const key = createPrivateKey(creds.privateKey);
        const t = key.asymmetricKeyType;
        if (t !== 'rsa' && t !== 'rsa-pss' && !(t === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')) {
          problems.push({ path: 'credentials.privateKey', message: 'must be an RSA key (PS256) or an EC P-256 key (ES256)' });
        }
      } catch {
        problems.push({ path: 'credentials.privateKey', message: 'is not a readable PEM private key' });
      }
    }
  } else {
    need(['consumerKey', 'consumerSecret', 'tokenId', 'tokenSecret']);
  }
  if (problems.length) return { problems, parsed: null };
  const accountFields = { ...DEFAULT_ACCOUNT_FIELDS } as Record<AccountFieldKey, string | null>;
  for (const k of ACCOUNT_FIELD_KEYS) {
    const v = opts.accountFields[k];
    if (v !== undefined) accountFields[k] = v;
  }
  return { problems, parsed: { options: { ...opts, accountFields }, credentials: creds } };
}
