import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/** Which copy of one deal grants when it exists in a CRM and an ERP (ADR 0026). */
export enum DealSource {
  CRM = 'CRM',
  ERP = 'ERP',
}

registerEnumType(DealSource, {
  name: 'DealSource',
  description:
    'Set on the connection whose deals name a deal in another system (an ERP whose sales orders carry the CRM deal they were booked from): which copy grants. The other is recorded, linked and grants nothing; a DUPLICATE_SOURCE finding says so.',
  valuesConfig: {
    CRM: { description: 'The CRM deal grants; the ERP copy grants nothing (default). An ERP order whose CRM deal is not in the hub yet waits for it.' },
    ERP: { description: 'The ERP order grants; the CRM deal grants nothing — unless it was granted before the ERP copy arrived (never twice).' },
  },
});

export enum SyncRunKind {
  PULL = 'PULL',
  PUSH = 'PUSH',
  RENEWALS = 'RENEWALS',
}
registerEnumType(SyncRunKind, {
  name: 'SyncRunKind',
  description: 'What a sync run did.',
  valuesConfig: {
    PULL: { description: 'Read changed records of one object from the external system and applied them.' },
    PUSH: { description: 'Delivered due outbox items (synced fields, renewals, entitlements) to the external system.' },
    RENEWALS: { description: 'Queued renewal opportunities for entitlements ending soon.' },
  },
});

export enum SyncRunStatus {
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  PARTIAL = 'PARTIAL',
  FAILED = 'FAILED',
}
registerEnumType(SyncRunStatus, {
  name: 'SyncRunStatus',
  description: 'How a sync run ended.',
  valuesConfig: {
    RUNNING: { description: 'Still running (or its instance stopped while it ran).' },
    SUCCEEDED: { description: 'Every record was applied or delivered.' },
    PARTIAL: { description: 'It finished, but some records failed (see `errors`); they are retried.' },
    FAILED: { description: 'The run stopped on an error (see `error`); it resumes from its cursor next time.' },
  },
});

export enum SyncTrigger {
  SCHEDULE = 'SCHEDULE',
  MANUAL = 'MANUAL',
}
registerEnumType(SyncTrigger, {
  name: 'SyncTrigger',
  description: 'What started a sync run.',
  valuesConfig: {
    SCHEDULE: { description: 'The scheduler (node-cron).' },
    MANUAL: { description: 'A person: `runSync` or `ehub sync`.' },
  },
});

export enum OutboxStatus {
  PENDING = 'PENDING',
  IN_FLIGHT = 'IN_FLIGHT',
  SUBMITTED = 'SUBMITTED',
  FAILED = 'FAILED',
  DONE = 'DONE',
  DEAD = 'DEAD',
}
registerEnumType(OutboxStatus, {
  name: 'OutboxStatus',
  description: 'Where an outbox item is.',
  valuesConfig: {
    PENDING: { description: 'Changed since it was last delivered; goes out with the next push.' },
    IN_FLIGHT: { description: 'Being delivered right now.' },
    SUBMITTED: {
      description:
        'Handed to the target in a batch job it finishes on its own (a Salesforce Bulk API 2.0 job); its outcome is read from that job (`pushHandle`), which is never sent again as a new one.',
    },
    FAILED: { description: 'The last attempt failed; retried at `nextAttemptAt` (exponential backoff with jitter).' },
    DONE: { description: 'The target holds the latest value.' },
    DEAD: { description: 'Every attempt failed (or the target refused it for good); not retried unless replayed or changed again.' },
  },
});

export enum OutboxObject {
  ACCOUNT_FIELDS = 'account-fields',
  RENEWAL_OPPORTUNITY = 'renewal-opportunity',
  TRUEUP_OPPORTUNITY = 'trueup-opportunity',
  ENTITLEMENT = 'entitlement',
  SUPPORT_ENTITLEMENT = 'support-entitlement',
  USAGE_RECORD = 'usage-record',
  JOURNAL_ENTRY = 'journal-entry',
}
registerEnumType(OutboxObject, {
  name: 'OutboxObject',
  description: 'The kind of record an outbox item writes to the external system.',
  valuesConfig: {
    ACCOUNT_FIELDS: { description: 'The synced fields of one account (status, renewal date, ARR, utilisation, usage, overuse, leakage).' },
    RENEWAL_OPPORTUNITY: { description: 'A renewal opportunity, upserted by its renewal key.' },
    TRUEUP_OPPORTUNITY: {
      description: 'A true-up opportunity for an open overuse or unentitled-use finding whose leakage reached the threshold, upserted by `ehub-trueup:<finding id>`.',
    },
    ENTITLEMENT: { description: 'One entitlement with its remaining quantity, upserted by the entitlement id.' },
    SUPPORT_ENTITLEMENT: { description: 'The support term of one entitlement (Salesforce\'s standard Entitlement), upserted by `ehub-support:<entitlement id>`.' },
    USAGE_RECORD: { description: "One billing period's usage of one usage-billed entitlement (ERP billing), upserted by its usage key." },
    JOURNAL_ENTRY: { description: 'The revenue journal entry of one closed period, subsidiary and currency (ERP), upserted by its entry key.' },
  },
});

@ObjectType({ description: 'A connection to an external system (a CRM org, an ERP). Its credentials are stored encrypted and never returned.' })
@Entity('sync_connection')
export class SyncConnection {
  @Field(() => ID, { description: 'The connection id.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field({ description: 'A short unique name, e.g. `salesforce` (used by `ehub sync <name>`).' })
  @Column('text')
  name: string;

  @Field({ description: 'The connector type, e.g. `salesforce`.' })
  @Column('text')
  type: string;

  @Field({ description: 'Whether its schedules run. A disabled connection still runs by hand.' })
  @Column('boolean')
  enabled: boolean;

  @Field({ description: 'Whether records are pulled from the system.' })
  @Column('boolean', { name: 'pull_enabled' })
  pullEnabled: boolean;

  @Field({ description: 'Whether synced fields, renewals and entitlements are pushed to the system.' })
  @Column('boolean', { name: 'push_enabled' })
  pushEnabled: boolean;

  @Field({ description: 'The `system` of the external references its records are linked by (e.g. `salesforce`).' })
  @Column('text', { name: 'ref_system' })
  refSystem: string;

  @Field({ description: 'The `source` of the orders it submits (e.g. `salesforce`).' })
  @Column('text', { name: 'order_source' })
  orderSource: string;

  @Field(() => DealSource, { description: 'When its deals name the same deal in another system (an ERP order booked from a CRM deal): which copy grants (ADR 0026).' })
  @Column('text', { name: 'deal_source' })
  dealSource: DealSource;

  @Field(() => Int, { description: 'Renewal opportunities are created this many days before an entitlement ends.' })
  @Column('int', { name: 'renewal_days' })
  renewalDays: number;

  @Field(() => Int, { description: 'Attempts before an outbox item is dead-lettered.' })
  @Column('int', { name: 'max_attempts' })
  maxAttempts: number;

  @Field(() => GraphQLJSON, { description: "The connector's non-secret options (see docs/salesforce-setup.md)." })
  @Column('jsonb')
  options: Record<string, unknown>;

  /** AES-256-GCM of the credentials JSON; never selected by default, exposed or audited. */
  @Column('bytea', { name: 'credentials_ciphertext', nullable: true, select: false })
  credentialsCiphertext: Buffer | null;

  @Field({ description: 'API: configured over GraphQL; ENV: from EHUB_SALESFORCE_* at start-up (changes there win on restart).' })
  @Column('text', { name: 'managed_by' })
  managedBy: string;

  @Field({ description: 'When it was created.' })
  @Column({ type: 'timestamptz', name: 'created_at', precision: 3 })
  createdAt: Date;

  @Field({ description: 'When it was last changed.' })
  @Column({ type: 'timestamptz', name: 'updated_at', precision: 3 })
  updatedAt: Date;
}

@ObjectType({ description: 'One error of a sync run, about one record.' })
export class SyncRunError {
  @Field(() => String, { nullable: true, description: 'The record in the external system (e.g. an Opportunity id) or the outbox item.' })
  record: string | null;

  @Field({ description: 'A code, e.g. UNKNOWN_SKU, ORDER_INVALID, DUPLICATE_VALUE.' })
  code: string;

  @Field({ description: 'What went wrong, for a person.' })
  message: string;

  @Field(() => Int, { nullable: true, description: 'File sources (CSV): the row (file line) of the refused record; the header is row 1.' })
  row?: number | null;

  @Field(() => String, { nullable: true, description: 'File sources (CSV): the column (as headed in the file) that is wrong, when one is.' })
  column?: string | null;
}

@ObjectType({ description: 'One run of a sync job: one object pulled, one push, or one renewal scan.' })
@Entity('sync_run')
export class SyncRun {
  @Field(() => ID, { description: 'The run id.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field(() => ID, { description: 'The connection.' })
  @Column('uuid', { name: 'connection_id' })
  connectionId: string;

  @Field(() => SyncRunKind, { description: 'Pull, push or renewals.' })
  @Column('text')
  kind: SyncRunKind;

  @Field({ description: 'The object: accounts, contacts, orders, usage (pulls); outbox (pushes); renewals.' })
  @Column('text')
  object: string;

  @Field(() => SyncTrigger, { description: 'Scheduled or manual.' })
  @Column('text')
  trigger: SyncTrigger;

  @Field(() => SyncRunStatus, { description: 'How it ended.' })
  @Column('text')
  status: SyncRunStatus;

  @Field({ description: 'When it started.' })
  @Column({ type: 'timestamptz', name: 'started_at', precision: 3 })
  startedAt: Date;

  @Field(() => Date, { nullable: true, description: 'When it ended.' })
  @Column({ type: 'timestamptz', name: 'finished_at', precision: 3, nullable: true })
  finishedAt: Date | null;

  @Field(() => Int, { nullable: true, description: 'How long it took, in milliseconds.' })
  @Column('int', { name: 'duration_ms', nullable: true })
  durationMs: number | null;

  @Field(() => Int, { description: 'Records read (pulls) or items handled (pushes).' })
  @Column('int')
  read: number;

  @Field(() => Int, { description: 'Hub records created (pulls) or target records created (pushes).' })
  @Column('int')
  created: number;

  @Field(() => Int, { description: 'Records changed.' })
  @Column('int')
  updated: number;

  @Field(() => Int, { description: 'Records that were already up to date (no write, no API call).' })
  @Column('int')
  unchanged: number;

  @Field(() => Int, { description: 'Deleted or withdrawn records handled.' })
  @Column('int')
  deleted: number;

  @Field(() => Int, { description: 'Records that failed (see `errors`).' })
  @Column('int')
  failed: number;

  @Field(() => Int, { description: 'API calls the connector made to the external system.' })
  @Column('int', { name: 'api_calls' })
  apiCalls: number;

  @Field(() => String, { nullable: true, description: 'The cursor the pull started from.' })
  @Column('text', { name: 'cursor_from', nullable: true })
  cursorFrom: string | null;

  @Field(() => String, { nullable: true, description: 'The cursor the pull stored at the end.' })
  @Column('text', { name: 'cursor_to', nullable: true })
  cursorTo: string | null;

  @Field(() => String, { nullable: true, description: 'Why the run failed as a whole.' })
  @Column('text', { nullable: true })
  error: string | null;

  @Field(() => [SyncRunError], { description: 'Errors about single records (the first 100).' })
  @Column('jsonb')
  errors: SyncRunError[];
}

@ObjectType('OutboxItem', { description: 'A record the hub writes to an external system: one row per target record, coalesced (the latest value wins).' })
@Entity('sync_outbox')
export class SyncOutboxItem {
  @Field(() => ID, { description: 'The item id.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field(() => ID, { description: 'The connection it is delivered through.' })
  @Column('uuid', { name: 'connection_id' })
  connectionId: string;

  @Field(() => OutboxObject, { description: 'What it writes.' })
  @Column('text')
  object: OutboxObject;

  @Field({ description: 'The target record: the hub account id, the renewal or true-up key, the entitlement id, the support key, the usage key or the journal entry key.' })
  @Column('text', { name: 'record_key' })
  recordKey: string;

  @Field(() => ID, { nullable: true, description: 'The account it is about.' })
  @Column('uuid', { name: 'account_id', nullable: true })
  accountId: string | null;

  @Field(() => OutboxStatus, { description: 'Where it is.' })
  @Column('text')
  status: OutboxStatus;

  @Field(() => Int, { description: 'Changes recorded since the item was created (each marks it dirty).' })
  @Column('int', { name: 'dirty_version' })
  dirtyVersion: number;

  @Field(() => Int, { description: 'Failed attempts since it last changed or was delivered.' })
  @Column('int')
  attempts: number;

  @Field({ description: 'When it is due (next attempt).' })
  @Column({ type: 'timestamptz', name: 'next_attempt_at', precision: 3 })
  nextAttemptAt: Date;

  @Field(() => GraphQLJSON, { nullable: true, description: 'For FAILED and DEAD items: the values that could not be delivered; for SUBMITTED items, the values sent (canonical names; the connector maps them to its fields). Null once delivered.' })
  @Column('jsonb', { nullable: true })
  payload: Record<string, unknown> | null;

  @Field(() => String, { nullable: true, description: "For SUBMITTED items: the connector's handle of the job holding it (e.g. `{\"kind\":\"bulk2-ingest\",\"jobId\":\"750…\"}`)." })
  @Column('text', { name: 'push_handle', nullable: true })
  pushHandle: string | null;

  @Field(() => String, { nullable: true, description: 'The id of the record in the external system, once written.' })
  @Column('text', { name: 'target_id', nullable: true })
  targetId: string | null;

  @Field(() => String, { nullable: true, description: "The last failure's code (e.g. UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED, HTTP_503)." })
  @Column('text', { name: 'last_error_code', nullable: true })
  lastErrorCode: string | null;

  @Field(() => String, { nullable: true, description: "The last failure's message: for DEAD items, why it was dead-lettered." })
  @Column('text', { name: 'last_error', nullable: true })
  lastError: string | null;

  @Field({ description: 'When it was first queued.' })
  @Column({ type: 'timestamptz', name: 'created_at', precision: 3 })
  createdAt: Date;

  @Field({ description: 'When it last changed.' })
  @Column({ type: 'timestamptz', name: 'updated_at', precision: 3 })
  updatedAt: Date;

  @Field(() => Date, { nullable: true, description: 'When the target last acknowledged it.' })
  @Column({ type: 'timestamptz', name: 'delivered_at', precision: 3, nullable: true })
  deliveredAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it was dead-lettered.' })
  @Column({ type: 'timestamptz', name: 'dead_at', precision: 3, nullable: true })
  deadAt: Date | null;
}

/** Pull state of one external record (a deal): not exposed as a type, summarised in runs. */
@Entity('sync_record')
export class SyncRecord {
  @PrimaryColumn('uuid', { name: 'connection_id' })
  connectionId: string;

  @PrimaryColumn('text')
  object: string;

  @PrimaryColumn('text', { name: 'external_id' })
  externalId: string;

  @Column('text')
  status: 'APPLIED' | 'FAILED' | 'WITHDRAWN' | 'IGNORED' | 'LINKED';

  @Column({ type: 'timestamptz', name: 'modified_at', precision: 3 })
  modifiedAt: Date;

  @Column('text', { name: 'content_hash', nullable: true })
  contentHash: string | null;

  @Column('int')
  revision: number;

  @Column('uuid', { name: 'hub_id', nullable: true })
  hubId: string | null;

  @Column('jsonb', { name: 'line_numbers' })
  lineNumbers: Record<string, number>;

  @Column('int', { name: 'next_line_no' })
  nextLineNo: number;

  @Column('jsonb', { nullable: true })
  payload: unknown;

  @Column('text', { name: 'error_code', nullable: true })
  errorCode: string | null;

  @Column('text', { name: 'error_message', nullable: true })
  errorMessage: string | null;

  @Column({ type: 'timestamptz', name: 'failed_at', precision: 3, nullable: true })
  failedAt: Date | null;

  @Column({ type: 'timestamptz', name: 'updated_at', precision: 3 })
  updatedAt: Date;
}

export const syncEntities: Function[] = [SyncConnection, SyncRun, SyncOutboxItem, SyncRecord];
