import { isAbsolute } from 'node:path';
import { z } from 'zod';
import type { ConnectorConfig, OptionProblem } from '../types';

/** The objects a CSV connection imports, each from its own sub-folder of `inboxDir`. */
export const CSV_OBJECTS = ['accounts', 'orders', 'receivables', 'usage'] as const;
export type CsvObject = (typeof CSV_OBJECTS)[number];

/**
 * Canonical column → the header the ERP's file uses, by default. `required` columns must be in
 * a file's header (else the whole file is refused); the others are read when present.
 */
export const DEFAULT_COLUMNS = {
  accounts: { externalId: 'customer_id', name: 'name', domain: 'domain', currency: 'currency', modifiedAt: 'modified_at', crmAccountId: 'crm_account_id' },
  orders: {
    orderId: 'order_id',
    accountId: 'customer_id',
    orderDate: 'order_date',
    currency: 'currency',
    name: 'order_name',
    lineId: 'line_id',
    sku: 'sku',
    quantity: 'quantity',
    unitPrice: 'unit_price',
    startDate: 'start_date',
    endDate: 'end_date',
    modifiedAt: 'modified_at',
    crmDealId: 'crm_deal_id',
  },
  receivables: {
    documentId: 'document_id',
    kind: 'kind',
    accountId: 'customer_id',
    number: 'number',
    date: 'date',
    dueDate: 'due_date',
    currency: 'currency',
    amount: 'amount',
    openAmount: 'open_amount',
    status: 'status',
    modifiedAt: 'modified_at',
  },
  usage: {
    eventId: 'event_id',
    accountId: 'customer_id',
    sku: 'sku',
    metric: 'metric',
    quantity: 'quantity',
    occurredAt: 'occurred_at',
    userId: 'user_id',
    deviceId: 'device_id',
    deployment: 'deployment',
    modifiedAt: 'modified_at',
  },
} as const;

export const REQUIRED_COLUMNS: { [O in CsvObject]: readonly (keyof (typeof DEFAULT_COLUMNS)[O])[] } = {
  accounts: ['externalId', 'name'],
  orders: ['orderId', 'accountId', 'orderDate', 'sku', 'quantity', 'unitPrice'],
  usage: ['eventId', 'accountId', 'metric', 'quantity', 'occurredAt'],
  receivables: ['documentId', 'kind', 'accountId', 'date', 'amount', 'openAmount'],
};

export type AccountColumn = keyof typeof DEFAULT_COLUMNS.accounts;
export type OrderColumn = keyof typeof DEFAULT_COLUMNS.orders;
export type UsageColumn = keyof typeof DEFAULT_COLUMNS.usage;

/** Where usage ran, as the hub's usage ingest names it. */
export const USAGE_DEPLOYMENTS = ['CLOUD', 'ON_PREM', 'SAAS', 'EMBEDDED', 'DEVICE'] as const;
export type ReceivableColumn = keyof typeof DEFAULT_COLUMNS.receivables;

const header = z.string().min(1, 'must be a column header').max(200);
const mappingOf = <K extends string>(keys: readonly K[]) =>
  z.strictObject(Object.fromEntries(keys.map((k) => [k, header.optional()])) as Record<K, z.ZodOptional<typeof header>>);

const absoluteDir = z
  .string()
  .min(1)
  .refine((p) => isAbsolute(p), 'must be an absolute path to a folder on the hub host');

const optionsSchema = z.strictObject({
  inboxDir: absoluteDir,
  outboxDir: absoluteDir.nullable().default(null),
  delimiter: z
    .string()
    .length(1, 'must be one character, e.g. "," or ";"')
    .refine((d) => !['"', '\n', '\r'].includes(d), 'may not be a quote or a line break')
    .default(','),
  defaultCurrency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code, e.g. USD')
    .default('USD'),
  columns: z
    .strictObject({
      accounts: mappingOf(Object.keys(DEFAULT_COLUMNS.accounts) as AccountColumn[]).default({}),
      orders: mappingOf(Object.keys(DEFAULT_COLUMNS.orders) as OrderColumn[]).default({}),
      usage: mappingOf(Object.keys(DEFAULT_COLUMNS.usage) as UsageColumn[]).default({}),
      receivables: mappingOf(Object.keys(DEFAULT_COLUMNS.receivables) as ReceivableColumn[]).default({}),
    })
    .default({ accounts: {}, orders: {}, usage: {}, receivables: {} }),
  /** Usage rows without a deployment column or value: where the usage ran (CLOUD, ON_PREM, SAAS, EMBEDDED, DEVICE). */
  defaultDeployment: z.enum(USAGE_DEPLOYMENTS).default('CLOUD'),
  /**
   * The CRM's system name as the hub knows it (its connection's reference system): the
   * `crm_account_id` and `crm_deal_id` columns link rows to that system's Account and Opportunity.
   */
  crmSystem: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'must be a reference system name, e.g. salesforce')
    .default('salesforce'),
  /** The ERP subsidiary of journal entries for accounts that carry none (null: a single legal entity). */
  defaultSubsidiary: z.string().trim().min(1).max(100).nullable().default(null),
  /**
   * Orders (or accounts, usage or receivable rows) per page handed to the engine: the cursor and
   * the run's counts move per page. Default 500, and 20,000 for usage rows (a page of usage goes
   * to the usage ingest in a few set-based batches: larger pages, fewer round trips).
   */
  pageSize: z.number().int().min(1).max(20000).optional(),
});

export interface CsvOptions {
  inboxDir: string;
  outboxDir: string | null;
  delimiter: string;
  defaultCurrency: string;
  defaultDeployment: (typeof USAGE_DEPLOYMENTS)[number];
  columns: { accounts: Record<AccountColumn, string>; orders: Record<OrderColumn, string>; usage: Record<UsageColumn, string>; receivables: Record<ReceivableColumn, string> };
  /** Null: DEFAULT_PAGE_SIZE of the object. */
  pageSize: number | null;
  crmSystem: string;
  defaultSubsidiary: string | null;
}

/** Options after defaults; throws on invalid ones (validate first). */
/** Records per page when `pageSize` is not given. */
export const DEFAULT_PAGE_SIZE: Record<CsvObject, number> = { accounts: 500, orders: 500, receivables: 500, usage: 20_000 };

export function parseOptions(options: Record<string, unknown>): CsvOptions {
  const o = optionsSchema.parse(options);
  return {
    ...o,
    pageSize: o.pageSize ?? null,
    columns: {
      accounts: { ...DEFAULT_COLUMNS.accounts, ...stripUndefined(o.columns.accounts) },
      orders: { ...DEFAULT_COLUMNS.orders, ...stripUndefined(o.columns.orders) },
      usage: { ...DEFAULT_COLUMNS.usage, ...stripUndefined(o.columns.usage) },
      receivables: { ...DEFAULT_COLUMNS.receivables, ...stripUndefined(o.columns.receivables) },
    },
  };
}

function stripUndefined<T extends Record<string, string | undefined>>(m: T): Record<string, string> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

/** One problem per invalid field: options by their path, and credentials (the CSV connector takes none). */
export function validateConfig(config: ConnectorConfig): OptionProblem[] {
  const problems: OptionProblem[] = [];
  const parsed = optionsSchema.safeParse(config.options ?? {});
  if (!parsed.success) {
    const seen = new Set<string>();
    for (const issue of parsed.error.issues) {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path.map(String), k]) : [issue.path.map(String)];
      for (const k of keys) {
        const path = ['options', ...k].join('.');
        if (seen.has(path)) continue;
        seen.add(path);
        problems.push({ path, message: issue.code === 'unrecognized_keys' ? 'is not an option of the csv connector' : issue.message });
      }
    }
  } else {
    // Two canonical columns read from one header would silently duplicate values.
    for (const object of CSV_OBJECTS) {
      const merged = { ...DEFAULT_COLUMNS[object], ...stripUndefined(parsed.data.columns[object] as Record<string, string | undefined>) } as Record<string, string>;
      const explicit = parsed.data.columns[object] as Record<string, unknown>;
      const byHeader = new Map<string, string[]>();
      for (const [canonical, h] of Object.entries(merged)) byHeader.set(h, [...(byHeader.get(h) ?? []), canonical]);
      for (const [h, canonicals] of byHeader) {
        if (canonicals.length < 2) continue;
        const mapped = canonicals.filter((c) => explicit[c] !== undefined);
        for (const c of mapped.length ? mapped : canonicals.slice(1)) {
          problems.push({ path: `options.columns.${object}.${c}`, message: `reads the same column "${h}" as ${canonicals.filter((x) => x !== c).join(', ')}` });
        }
      }
    }
  }
  for (const k of Object.keys(config.credentials ?? {})) problems.push({ path: `credentials.${k}`, message: 'the csv connector takes no credentials' });
  return problems;
}
