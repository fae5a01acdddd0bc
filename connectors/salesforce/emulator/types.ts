/**
 * Public types of the Salesforce emulator: its start options, the handle tests and the demo
 * hold, and the fault switches. The emulator follows Salesforce's documented REST API
 * (OAuth 2.0 token endpoint, REST sObjects, SOQL query, sObject Collections, Bulk API 2.0
 * ingest) closely enough for a jsforce-based connector to run against it unchanged.
 */

/** A field value as stored: strings for text/date/datetime/id, numbers, booleans or null. */
export type FieldValue = string | number | boolean | null;

/** One stored record, keyed by field API name (Id, SystemModstamp, ... included). */
export type SfRecord = Record<string, FieldValue>;

/** A connected app the token endpoint accepts. */
export interface EmulatorClient {
  clientId: string;
  clientSecret: string;
  /** For client_credentials: the "run as" user (default: the first user, else `integration@example.com`). */
  username?: string;
  /** PEM (SPKI) public key that verifies RS256 assertions of the JWT bearer flow. */
  jwtPublicKeyPem?: string;
}

/** A user for the password and JWT bearer grants. */
export interface EmulatorUser {
  username: string;
  password: string;
}

export interface SalesforceEmulatorOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; default 0 (a free one). */
  port?: number;
  /** Query page size (records per query response); default 2000. `Sforce-Query-Options: batchSize=N` lowers it per query. */
  pageSize?: number;
  /** Connected apps; default one app `emulator-client` / `emulator-secret`. */
  clients?: EmulatorClient[];
  /** Users; default one user `integration@example.com` / `password`. */
  users?: EmulatorUser[];
  /** The org's DailyApiRequests limit; default 1,000,000. */
  dailyApiLimit?: number;
  /** Seed of the PRNG behind random faults (repeatable tests); default 1. */
  seed?: number;
  /** How long a bulk job stays InProgress after UploadComplete; default a random 0–50 ms. */
  bulkProcessingDelayMs?: number;
  /**
   * When a line item changes, does its opportunity's SystemModstamp move? `false` (default):
   * always, through the Amount roll-up. `true`: only when a rolled-up value (Amount, whether it
   * has lines) actually changes — Salesforce documents no more than that, so a ServiceDate-only
   * edit or two lines swapping quantities leave the parent's stamps as they were.
   */
  strictRollupStamps?: boolean;
}

/** The emulator's clock. Real time by default; `set` freezes it, `release` returns to real time. */
export interface EmulatorClock {
  now(): Date;
  /** Freezes the clock at this instant. */
  set(iso: string | Date): void;
  /** Moves the clock forward (frozen or not). */
  advance(ms: number): void;
  /** Back to real time (keeps no offset). */
  release(): void;
}

/** A whole-request fault the next data API calls can be made to fail with. */
export type RequestFaultKind = 'EXPIRE_SESSION' | 'HTTP_503' | 'REQUEST_LIMIT_EXCEEDED' | 'HTTP_500' | 'APPLY_THEN_503';

/** Random fault settings (see `EmulatorFaults.set`). */
export interface FaultSettings {
  /** Fraction 0..1 of data API calls that fail as a whole. */
  rate?: number;
  /** Kinds chosen at random among for those failures; default all four. */
  kinds?: RequestFaultKind[];
  /** Fraction 0..1 of records in collection and bulk writes that fail individually. */
  recordErrorRate?: number;
  /** Codes chosen at random for those record failures; default ['UNABLE_TO_LOCK_ROW']. */
  recordErrorCodes?: string[];
  /** The next N bulk ingest jobs end in state Failed. */
  failBulkJobs?: number;
  /** Those failing jobs first process this many rows (default 0: they fail before any row). */
  failBulkJobsAfterRows?: number;
  /** Every data API call waits this long before it is answered (a Salesforce that hangs). */
  latencyMs?: number;
}

/** A permanent per-record error returned by a `rejectRecord` predicate. */
export interface RecordRejection {
  errorCode: string;
  message: string;
  fields?: string[];
}

/** Decides whether a write of `fields` (the merged record after the write) to `sobject` is rejected. */
export type RecordRejector = (sobject: string, fields: SfRecord) => RecordRejection | null;

export interface EmulatorFaults {
  /** Every token issued so far becomes invalid; the next data call gets 401 INVALID_SESSION_ID. */
  expireSessions(): void;
  /**
   * The next data calls fail, one fault each, in this order. `APPLY_THEN_503` processes the
   * call in full and then answers 503, as when a response is lost after Salesforce acted.
   */
  queue(...faults: RequestFaultKind[]): void;
  /**
   * The next calls to one endpoint (a `byEndpoint` key of the stats, e.g. `GET jobs/ingest/{id}`
   * or `GET jobs/ingest/successfulResults`) fail, one fault each; taken before `queue`'s.
   */
  queueOn(endpoint: string, ...faults: RequestFaultKind[]): void;
  /** Random faults (replaces the previous settings; omitted keys reset). */
  set(settings: FaultSettings): void;
  /** Clears queued and random faults and record rejectors. */
  clear(): void;
  /** Adds a permanent per-record error for REST, collection and bulk writes. */
  rejectRecord(predicate: RecordRejector): void;
}

export interface EmulatorStats {
  /** Requests to /services/** (faulted ones included), token requests included. */
  apiCalls: number;
  /**
   * Counts per endpoint, keyed `METHOD template`: `POST oauth2/token`, `GET versions`, `GET limits`,
   * `GET sobjects`, `POST sobjects/{type}`, `GET sobjects/{type}/describe`, `PATCH sobjects/{type}/{id}`,
   * `PATCH sobjects/{type}/{field}/{value}`, `GET query`, `GET queryAll`, `GET query/{locator}`,
   * `POST|PATCH|DELETE composite/sobjects`, `PATCH composite/sobjects/{type}/{field}`,
   * `POST|GET jobs/ingest`, `GET|PATCH|DELETE jobs/ingest/{id}`, `PUT jobs/ingest/batches`,
   * `GET jobs/ingest/successfulResults|failedResults|unprocessedrecords`.
   */
  byEndpoint: Record<string, number>;
  /** Requests to the token endpoint. */
  tokenRequests: number;
}

/** One logged request (control-surface requests are not logged). */
export interface EmulatorRequestLog {
  method: string;
  path: string;
  status: number;
}

export interface SeedDealLine {
  productCode: string;
  productName?: string;
  quantity: number;
  unitPrice: number;
  /** YYYY-MM-DD */
  serviceDate?: string;
  /** YYYY-MM-DD, stored in Ehub_End_Date__c */
  endDate?: string;
}

export interface SeedDealInput {
  /** An existing Account; otherwise one is created (named `accountName`). */
  accountId?: string;
  accountName?: string;
  name?: string;
  /** Default 'Closed Won'. */
  stageName?: string;
  /** YYYY-MM-DD; default the clock's date. */
  closeDate?: string;
  /** Default: the account's currency (a new account: 'USD'). */
  currency?: string;
  lines: SeedDealLine[];
}

export interface SeedDealResult {
  accountId: string;
  opportunityId: string;
  lineIds: string[];
}

/** A running emulator. Data helpers bypass HTTP and count no API calls. */
export interface SalesforceEmulator {
  /** Login URL = instance URL, e.g. http://127.0.0.1:PORT */
  readonly url: string;
  readonly clock: EmulatorClock;
  readonly faults: EmulatorFaults;
  /** Live counters (read the properties when needed). */
  readonly stats: EmulatorStats;
  /** Log of requests since start or the last `resetStats`. */
  readonly requests: EmulatorRequestLog[];
  resetStats(): void;
  /** Inserts a record as an API write would (derived fields, stamps); throws on a validation error. */
  insert(sobject: string, fields: SfRecord): string;
  update(sobject: string, id: string, fields: SfRecord): void;
  /** Soft-deletes (IsDeleted=true, visible through queryAll). */
  delete(sobject: string, id: string): void;
  undelete(sobject: string, id: string): void;
  /** A copy of the record (deleted ones included), or undefined. */
  get(sobject: string, id: string): SfRecord | undefined;
  /** Copies of the records in creation order; deleted ones only with includeDeleted. */
  records(sobject: string, opts?: { includeDeleted?: boolean }): SfRecord[];
  /** Creates an opportunity with lines (and the account and products when missing). */
  seedDeal(input: SeedDealInput): SeedDealResult;
  /** While held, closed Bulk API 2.0 jobs stay UploadComplete (queued); releasing starts them. */
  holdBulkJobs(hold: boolean): void;
  /** Changes `strictRollupStamps` (see the options) from now on. */
  setStrictRollupStamps(strict: boolean): void;
  close(): Promise<void>;
}
