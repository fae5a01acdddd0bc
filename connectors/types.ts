/**
 * The connector contract: what every external system (Salesforce now, an ERP and CSV files
 * next) implements so the hub's sync engine (`src/sync/`) can drive it.
 *
 * A connector knows its vendor's API and field names, and nothing of the hub: it imports no
 * module from `src/`, only these plain types. It speaks in *canonical records* — accounts,
 * contacts and orders coming in; account fields, renewal opportunities and entitlement
 * summaries going out — so the engine applies every connector's data the same way.
 *
 * Rules every connector keeps:
 * - Never hold state the engine cannot see: the cursor it returns is the whole position.
 * - Pulls are read-only and may be repeated from any earlier cursor.
 * - Pushes are idempotent per `PushItem.key` (update by id, upsert by external id), so the
 *   engine may resend an item after a failure without creating a second record.
 * - A failure of the whole call throws a `ConnectorError` (the engine retries the batch with
 *   backoff); a failure of one record is reported in its `PushResult` (the others stand).
 * - Work the target goes on doing after a call fails (a closed bulk job) is reported through
 *   `ConnectorCallContext.onSubmitted` and finished with `resumePush`, never sent twice.
 */

// ─────────────────────────────────────────────────────────────── infrastructure

/** The logging the engine lends a connector (a pino logger fits). */
export interface ConnectorLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Passed to every call. `signal` aborts long work (the hub is shutting down). */
export interface ConnectorCallContext {
  log: ConnectorLogger;
  signal?: AbortSignal;
  /**
   * Pushes only. A connector that hands a batch to the target as work the target finishes on
   * its own (a Bulk API 2.0 ingest job) calls this, and awaits it, *before* the call after
   * which the target may start applying the data (closing the job). `handle` is the
   * connector's own description of that work (opaque text, e.g. `{"jobId":"750…"}`);
   * `itemKeys` are the items it carries. The engine stores both durably. From then on it never
   * sends those items again as a new write: whatever happens to this call (a failed poll, a
   * crash, a restart), it later asks `resumePush` with the same handle and items for their
   * outcome, until every one has one.
   */
  onSubmitted?(handle: string, itemKeys: string[]): Promise<void>;
}

/** How a whole call failed; the engine decides retries from `kind`. */
export type ConnectorErrorKind =
  /** Credentials refused even after one refresh: fix the connection, retrying will not help. */
  | 'AUTH'
  /** The target is down or answered 5xx / timed out: retry later. */
  | 'UNAVAILABLE'
  /** The API budget is spent (e.g. REQUEST_LIMIT_EXCEEDED): retry after `retryAfterMs`. */
  | 'RATE_LIMITED'
  /** The request itself was wrong (bad option, unknown field): retrying will not help. */
  | 'INVALID';

/** Thrown by connectors for a failure of a whole call (never for one record of a batch). */
export class ConnectorError extends Error {
  override readonly name = 'ConnectorError';
  constructor(
    readonly kind: ConnectorErrorKind,
    /** The vendor's error code, e.g. `INVALID_SESSION_ID`, `REQUEST_LIMIT_EXCEEDED`, `HTTP_503`. */
    readonly code: string,
    message: string,
    /** A hint for RATE_LIMITED / UNAVAILABLE: wait at least this long. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  get retryable(): boolean {
    return this.kind === 'UNAVAILABLE' || this.kind === 'RATE_LIMITED';
  }
}

/** The target's API budget as last reported (Salesforce: the `Sforce-Limit-Info` header). */
export interface ApiUsage {
  used: number;
  limit: number;
}

/** Counters a connector keeps since it was created; the engine records them on each run. */
export interface ConnectorStats {
  /** HTTP requests sent to the target, token requests included. */
  apiCalls: number;
  /** The last budget reading, if the target reports one. */
  apiUsage: ApiUsage | null;
}

/** `validateOptions` result: the problems found, each with the option's path. */
export interface OptionProblem {
  path: string;
  message: string;
}

/** The health check's answer. */
export interface HealthReport {
  ok: boolean;
  /** A sentence for operators, e.g. "Authenticated to https://x.my.salesforce.com (API v62.0)". */
  message: string;
  apiUsage: ApiUsage | null;
}

// ─────────────────────────────────────────────────────────────── pulls (in)

/**
 * The objects a connector can pull, in the order the engine pulls them (accounts first, so
 * what follows can be linked to them): customers, their people, their deals, what they owe
 * (invoices, credit memos and payments from an ERP) and usage reported by a file or system.
 */
export type PullObject = 'accounts' | 'contacts' | 'orders' | 'receivables' | 'usage';

/**
 * A reference one system holds of another's record for the same thing: a NetSuite customer
 * holding its Salesforce Account Id, a NetSuite sales order holding the Opportunity it was
 * booked from. The engine links by it instead of creating a second hub record.
 */
export interface ExternalLink {
  /** The other system as the hub names it: `salesforce`, `netsuite`, or a CSV connection's reference system. */
  system: string;
  /** Its object, e.g. `Account`, `Opportunity`. */
  object: string;
  externalId: string;
}

export interface PullRequest {
  object: PullObject;
  /** Where the last pull stopped (opaque to the engine); null = from the beginning. */
  cursor: string | null;
}

/** A customer in the source system. */
export interface ExternalAccount {
  /** The source's id (Salesforce Account Id). */
  externalId: string;
  name: string;
  /** Web domain, lowercase, no scheme (`acme.com`), if known. */
  domain: string | null;
  /** ISO 4217, if the source knows it (multi-currency orgs). */
  currency: string | null;
  /** The source's last-modified instant, ISO 8601. */
  modifiedAt: string;
  /** True when the record was deleted in the source. */
  deleted: boolean;
  /** The same customer's ids in other systems, as this source holds them (ERP → CRM id). */
  links?: ExternalLink[];
  /** ERP only: the subsidiary (legal entity) the customer belongs to, by the ERP's id. */
  subsidiary?: string | null;
}

/** A person at a customer. */
export interface ExternalContact {
  externalId: string;
  accountExternalId: string | null;
  email: string | null;
  name: string;
  /** Job title (Salesforce Contact.Title); left out by a source that has none. */
  title?: string | null;
  /** Department (Salesforce Contact.Department); left out by a source that has none. */
  department?: string | null;
  modifiedAt: string;
  deleted: boolean;
}

/** One line of a deal. */
export interface ExternalOrderLine {
  /** The source's line id (Salesforce OpportunityLineItem Id). */
  externalLineId: string;
  /** The hub sku (Salesforce: the line's ProductCode); null when the source has none. */
  sku: string | null;
  /** Decimal string, e.g. "10" or "2.5". */
  quantity: string;
  /** Unit price in major units of the order currency as a decimal string, e.g. "1200.50". */
  unitPrice: string;
  /** First day of service, YYYY-MM-DD (Salesforce: ServiceDate), null = the order date. */
  startDate: string | null;
  /** Last day of service, inclusive, YYYY-MM-DD; null = perpetual. */
  endDate: string | null;
  modifiedAt: string;
}

/**
 * A deal. `won` = it should be fulfilled (Salesforce: IsWon). A deal that is deleted, or no
 * longer won (reopened), withdraws whatever the hub fulfilled from it.
 */
export interface ExternalOrder {
  externalId: string;
  accountExternalId: string | null;
  name: string;
  /** The deal's date, YYYY-MM-DD (Salesforce: CloseDate). */
  orderDate: string;
  /** ISO 4217, null = the connection's default currency. */
  currency: string | null;
  won: boolean;
  deleted: boolean;
  /** Newest of the deal's and its lines' modification instants, ISO 8601. */
  modifiedAt: string;
  /** All current lines of a won deal (not only changed ones); empty when it is not won or deleted (nothing to fulfil). */
  lines: ExternalOrderLine[];
  /**
   * The same deal in other systems, as this source holds it (a NetSuite sales order booked
   * from a Salesforce Opportunity). A deal may be fulfilled from one source only: the engine
   * grants it from the connection configured as the deal's source and records a
   * `DUPLICATE_SOURCE` finding when both would grant.
   */
  links?: ExternalLink[];
}

/** The kinds of receivable document an ERP holds for a customer. */
export type ReceivableKind = 'INVOICE' | 'CREDIT_MEMO' | 'PAYMENT';

/**
 * One document of what a customer owes or paid: an invoice (raises the balance), a credit
 * memo or a payment (lower it). Amounts are decimal strings in major units of `currency`,
 * always positive; `openAmount` is what is still unapplied (an invoice's amount remaining, a
 * payment's or credit memo's unapplied part).
 */
export interface ExternalReceivable {
  kind: ReceivableKind;
  /** The source's id (NetSuite internal id, a CSV file's document number). */
  externalId: string;
  accountExternalId: string | null;
  /** The number people quote (NetSuite `tranid`, e.g. INV-1042). */
  number: string | null;
  /** The document date, YYYY-MM-DD. */
  date: string;
  /** Invoices: when payment is due, YYYY-MM-DD; null for others or when unknown. */
  dueDate: string | null;
  /** ISO 4217, null = the connection's default currency. */
  currency: string | null;
  /** The document's total, major units, positive. */
  amount: string;
  /** What is still open (invoice) or unapplied (payment, credit memo), major units, ≥ 0. */
  openAmount: string;
  /** The source's status text, for people (e.g. `Open`, `Paid In Full`). */
  status: string | null;
  modifiedAt: string;
  deleted: boolean;
}

/**
 * One usage observation from a file or a system that meters on the hub's behalf, applied
 * through the hub's usage ingest (idempotent by `externalId`).
 */
export interface ExternalUsage {
  /** Unique per observation in the source (a row key): the ingest's idempotency key. */
  externalId: string;
  accountExternalId: string | null;
  /** The hub sku the usage is of. */
  sku: string | null;
  /** The feature or meter, as the hub's catalog names it. */
  metric: string;
  /** Decimal string, ≥ 0. */
  quantity: string;
  /** ISO 8601 instant. */
  occurredAt: string;
  userId?: string | null;
  deviceId?: string | null;
  /** Where it ran, e.g. CLOUD, ON_PREM, DEVICE. */
  deployment?: string | null;
  modifiedAt: string;
}

export interface PulledRecords {
  accounts: ExternalAccount;
  contacts: ExternalContact;
  orders: ExternalOrder;
  receivables: ExternalReceivable;
  usage: ExternalUsage;
}

/**
 * One page of a pull. The engine applies `records` and then stores `cursor`, so a pull that
 * stops half way resumes after the last page it finished. Records within a pull come in the
 * source's modification order.
 */
export interface PullPage<O extends PullObject = PullObject> {
  records: PulledRecords[O][];
  /** The position after this page; pass it back to continue. */
  cursor: string | null;
  /**
   * Source records the connector could not turn into canonical ones (a malformed file row);
   * the engine records each on the run as a failed record. The others on the page stand.
   */
  problems?: PullProblem[];
}

/** One source record a connector refused while reading, e.g. a CSV row with a bad value. */
export interface PullProblem {
  /** What holds it, e.g. a file name (`orders/3fa9….csv`) or a record id. */
  record: string | null;
  /** A code, e.g. `INVALID_QUANTITY`, `MISSING_VALUE`, `ORDER_NOT_CONTIGUOUS`. */
  code: string;
  message: string;
  /** The file row (line) number, for file sources; the header is row 1. */
  row?: number | null;
  /** The column (its header in the file) that is wrong, when one is. */
  column?: string | null;
}

// ─────────────────────────────────────────────────────────────── pushes (out)

/**
 * The kinds of record the hub writes to a target: CRM and ERP fields of an account, renewal
 * deals, true-up deals from compliance findings and entitlements (CRM), rated usage for
 * billing and revenue journal entries (ERP).
 */
export type PushObject = 'account-fields' | 'renewal-opportunity' | 'trueup-opportunity' | 'entitlement' | 'support-entitlement' | 'usage-record' | 'journal-entry';

/**
 * The synced fields of one account, in canonical names (the connector maps them to its
 * configured field names). A null value clears the field; an absent one leaves it alone.
 */
export interface AccountFields {
  /** ACTIVE | SUSPENDED | NOT_STARTED | EXPIRED | CANCELLED | NONE: the best status over the account's entitlements. */
  entitlementStatus?: string | null;
  /** YYYY-MM-DD: the earliest end date of an active term entitlement. */
  nextRenewalDate?: string | null;
  /** Annual recurring revenue in major units (decimal string) of `currency`. */
  arr?: string | null;
  currency?: string | null;
  /** 0–100+, one decimal: used ÷ entitled over countable entitlements. */
  utilizationPercent?: number | null;
  /** Distinct users seen in usage over the last 30 days. */
  activeUsers?: number | null;
  /** ISO 8601 instant of the newest usage event. */
  lastUsageAt?: string | null;
  /** An open overuse, unentitled-use or device-over-limit finding exists. */
  overuse?: boolean | null;
  /** Estimated revenue leakage of open findings, major units (decimal string). */
  estimatedLeakage?: string | null;
  /** 0–100, higher is healthier (when the hub computes health). */
  healthScore?: number | null;
  /** LOW | MEDIUM | HIGH: the churn model's band when a model is trained, else the health score's (when the hub computes health). */
  churnRisk?: string | null;
  /** Monetization-model fit (docs/model-fit.md): `KEEP`, or `<MODEL> for <sku>: <amount> <currency> a year less`; at most 255 characters. */
  modelFit?: string | null;
  /** 0–1, three decimals: the churn model's P(churn) of the account; null when no model scores it. */
  churnProbability?: number | null;
  /** Expected renewing ARR over the next 12 months (Σ ARR × P(renew), the hub's latest forecast), major units (decimal string) of `currency`. */
  forecastArr?: string | null;
  /** The name of the support level the account is owed now (the covering term with the latest support end); null when none covers now (ADR 0037). Absent when the account never had a support level. */
  supportLevel?: string | null;
  /** YYYY-MM-DD: the last day of that support (or of the latest lapsed one); null = no end. Absent when the account never had a support level. */
  supportEnd?: string | null;
  /** Active devices held back from their product's newest stable release by lapsed maintenance or warranty (ADR 0048). Absent when the account never had a device. */
  updatesHeldBack?: number | null;
  /** What renewing the maintenance of those devices' entitlements is worth for a year, major units (decimal string) of `currency`; '0' when none. Absent when the account never had a device. */
  maintenanceRenewal?: string | null;
}

/** A renewal deal the hub asks the CRM to hold, upserted by `renewalKey`. */
export interface RenewalOpportunity {
  /** Deterministic and unique (the external-id value), e.g. `ehub-renewal:<order>:<endDate>`. */
  renewalKey: string;
  accountExternalId: string;
  name: string;
  /** The renewing ARR, major units (decimal string). */
  amount: string;
  currency: string;
  /** YYYY-MM-DD: the end date of what renews. */
  closeDate: string;
  /** Hub entitlement ids renewing, for reference. */
  entitlementIds: string[];
}

/**
 * A true-up deal the hub asks the CRM to hold for an open compliance finding (overuse or
 * unentitled use) whose estimated leakage passes the connection's threshold, upserted by
 * `trueupKey`. The hub only creates and updates it (amount, evidence); closing it is for the
 * CRM's users: a resolved finding writes nothing.
 */
export interface TrueupOpportunity {
  /** Deterministic and unique (the external-id value): `ehub-trueup:<finding id>`. */
  trueupKey: string;
  accountExternalId: string;
  /** The hub's finding id, for reference. */
  findingId: string;
  /** OVERUSE | UNENTITLED_USE. */
  kind: string;
  name: string;
  /** The estimated leakage, major units (decimal string). */
  amount: string;
  currency: string;
  /** YYYY-MM-DD: a suggested close date (the finding's first day seen + 30 days); set on create only when the connector preserves people's edits. */
  closeDate: string;
  /** The evidence, as plain text for the deal's description: kind, product and feature, period, entitled / used / over, the leakage and how it was estimated. */
  description: string;
}

/**
 * One support term as the CRM's support entitlement (Salesforce's standard Entitlement),
 * upserted by `supportKey` = `ehub-support:<entitlement id>` (ADR 0037).
 */
export interface SupportEntitlementRecord {
  supportKey: string;
  accountExternalId: string;
  entitlementId: string;
  /** `<support level name> – <product name> (<sku>)`, at most 255 characters. */
  name: string;
  /** The support level key and name. */
  levelKey: string;
  levelName: string;
  /** YYYY-MM-DD: the entitlement's first day. */
  startDate: string;
  /** YYYY-MM-DD: the last day of support; null = no end. */
  endDate: string | null;
  /** Cases allowed; null = unlimited (not per incident). */
  casesAllowed: number | null;
  /** Cases left; null = unlimited. */
  casesRemaining: number | null;
}

/** One entitlement as CRM users see it, upserted by `entitlementId`. */
export interface EntitlementSummary {
  entitlementId: string;
  accountExternalId: string;
  sku: string;
  productName: string;
  model: string;
  status: string;
  startDate: string;
  endDate: string | null;
  /** Decimal strings. `remaining` = quantity − used, never below 0. */
  quantity: string;
  used: string;
  remaining: string;
}

/**
 * The rated quantity of one subscription line over one billing period, for the ERP's billing
 * (NetSuite SuiteBilling `usage`), upserted by `usageKey` so a resend never doubles a bill.
 */
export interface UsageRecord {
  /** Deterministic and unique (the external-id value), e.g. `ehub-usage:<entitlement>:<YYYY-MM>`. */
  usageKey: string;
  accountExternalId: string;
  /** The ERP's id of the order line (subscription line) the usage bills against, when the order came from that ERP. */
  subscriptionLineExternalId: string | null;
  /** The ERP's id of the order (sales order / subscription), when known. */
  orderExternalId: string | null;
  sku: string;
  /** The billing period, YYYY-MM-DD inclusive both ends. */
  periodStart: string;
  periodEnd: string;
  /** The usage date the ERP records (the period's last day), YYYY-MM-DD. */
  usageDate: string;
  /** Decimal string, ≥ 0: the rated quantity of the period. */
  quantity: string;
  /** The meter or feature summed. */
  metric: string;
}

/** One line of a journal entry: exactly one of debit and credit is non-zero (decimal strings, major units). */
export interface JournalLine {
  /** The general-ledger account code (the hub's journal export codes). */
  account: string;
  debit: string;
  credit: string;
  memo: string | null;
  /** The customer the line concerns, in the target's ids, when it names one. */
  accountExternalId?: string | null;
}

/**
 * The revenue journal of one closed period for one subsidiary and currency, upserted by
 * `entryKey` (external id), so finance does not re-key what the hub's period close produced.
 * Debits equal credits.
 */
export interface JournalEntry {
  /** Deterministic and unique, e.g. `ehub-journal:2026-03:<subsidiary>:<currency>`. */
  entryKey: string;
  /** The closed month, YYYY-MM. */
  period: string;
  /** The ERP subsidiary id, or null when the ERP has none (single legal entity). */
  subsidiary: string | null;
  currency: string;
  /** YYYY-MM-DD: the period's last day. */
  tranDate: string;
  memo: string;
  lines: JournalLine[];
}

export interface PushPayloads {
  'account-fields': AccountFields & { accountExternalId: string };
  'renewal-opportunity': RenewalOpportunity;
  'trueup-opportunity': TrueupOpportunity;
  entitlement: EntitlementSummary;
  'support-entitlement': SupportEntitlementRecord;
  'usage-record': UsageRecord;
  'journal-entry': JournalEntry;
}

/** One record to write. `key` is the engine's (the outbox item's), echoed in the result. */
export interface PushItem<O extends PushObject = PushObject> {
  key: string;
  payload: PushPayloads[O];
}

export interface PushBatch<O extends PushObject = PushObject> {
  object: O;
  items: PushItem<O>[];
}

/** The outcome of one item. */
export interface PushResult {
  key: string;
  ok: boolean;
  /** The target's id of the written record (Salesforce record Id), when ok. */
  targetId?: string | null;
  /** When not ok: the vendor's code (`DUPLICATE_VALUE`, `FIELD_CUSTOM_VALIDATION_EXCEPTION`, ...). */
  errorCode?: string;
  errorMessage?: string;
  /** When not ok: may the same item succeed later unchanged? (false: dead-letter it now). */
  retryable?: boolean;
}

// ─────────────────────────────────────────────────────────────── the connector

/** Non-secret settings (stored and shown) and secrets (encrypted at rest, never shown). */
export interface ConnectorConfig {
  options: Record<string, unknown>;
  credentials: Record<string, string>;
}

export interface Connector {
  /** The connector type, e.g. `salesforce`. */
  readonly type: string;
  /** Checks the credentials and reachability; never throws for an unreachable target. */
  healthCheck(ctx: ConnectorCallContext): Promise<HealthReport>;
  /** Pulls changes after `cursor`, page by page, oldest first. */
  pull<O extends PullObject>(ctx: ConnectorCallContext, request: PullRequest & { object: O }): AsyncIterable<PullPage<O>>;
  /** Writes a batch; one result per item, in any order. Throws ConnectorError when the whole call failed. */
  push<O extends PushObject>(ctx: ConnectorCallContext, batch: PushBatch<O>): Promise<PushResult[]>;
  /**
   * Reads the outcome of work a push reported through `onSubmitted`, without writing the
   * batch again: `batch` holds the items (keys and payloads) exactly as they were sent. One
   * result per item: what the target applied or refused, and `NOT_PROCESSED` (retryable) for
   * items the target says it never processed (its job failed or was aborted before reaching
   * them) — only those are sent again, in a new push. Throws ConnectorError while the outcome
   * cannot be read yet (still running, the target unavailable); the engine asks again later.
   * Required of connectors that call `onSubmitted`.
   */
  resumePush?<O extends PushObject>(ctx: ConnectorCallContext, batch: PushBatch<O>, handle: string): Promise<PushResult[]>;
  /** Counters since creation. */
  stats(): ConnectorStats;
  /** Releases sockets and timers. */
  close(): Promise<void>;
}

/** What a connector module exports: a factory plus its option and credential checks. */
export interface ConnectorFactory {
  readonly type: string;
  /** A sentence shown in listings. */
  readonly description: string;
  /** The objects it can pull and push. */
  readonly pulls: readonly PullObject[];
  readonly pushes: readonly PushObject[];
  /** Problems with `options` (non-secret) and `credentials` (secret); empty = valid. */
  validate(config: ConnectorConfig): OptionProblem[];
  create(config: ConnectorConfig): Connector;
}
