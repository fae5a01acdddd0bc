import { ArgsType, Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { ArrayMaxSize, IsIn, IsOptional, IsUUID, Length, Matches, Max, Min } from 'class-validator';
import { ConnectionType, PageArgs } from '../common/pagination';
import { DealSource, OutboxObject, OutboxStatus, SyncConnection, SyncOutboxItem, SyncRun, SyncRunKind, SyncRunStatus } from './sync.entities';

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

@InputType({ description: 'A new connection to an external system. Credentials are encrypted at rest and never returned.' })
export class CreateSyncConnectionInput {
  @Field({ description: 'A short unique name: lowercase letters, digits, "-" and "_" (e.g. `salesforce`, `salesforce-eu`).' })
  @Matches(NAME, { message: 'name must be lowercase letters, digits, "-" or "_", at most 63 characters' })
  name: string;

  @Field({ description: 'The connector type (see `syncConnectorTypes`), e.g. `salesforce`.' })
  @Length(1, 50)
  type: string;

  @Field(() => GraphQLJSON, { description: "The connector's non-secret options (see docs/salesforce-setup.md)." })
  options: Record<string, unknown>;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The secrets (e.g. `{ "clientSecret": "..." }`): string values only; write-only.' })
  @IsOptional()
  credentials?: Record<string, string> | null;

  @Field({ defaultValue: true, description: 'Whether its schedules run.' })
  enabled: boolean = true;

  @Field({ defaultValue: true, description: 'Pull accounts, contacts and won deals.' })
  pullEnabled: boolean = true;

  @Field({ defaultValue: true, description: 'Push synced fields, renewals and entitlements.' })
  pushEnabled: boolean = true;

  @Field(() => String, { nullable: true, description: 'The external-reference system its records are linked by; default: the type.' })
  @IsOptional()
  @Matches(/^[a-z0-9][a-z0-9._-]{0,99}$/, { message: 'refSystem must be lowercase letters, digits, ".", "_" or "-"' })
  refSystem?: string | null;

  @Field(() => String, { nullable: true, description: 'The order `source` of the deals it pulls; default: the type.' })
  @IsOptional()
  @Matches(/^[a-z0-9][a-z0-9._-]{0,99}$/i, { message: 'orderSource must be letters, digits, ".", "_" or "-"' })
  orderSource?: string | null;

  @Field(() => DealSource, { defaultValue: DealSource.CRM, description: 'When its deals name the same deal in another system: which copy grants (CRM by default; see DealSource).' })
  @IsOptional()
  dealSource?: DealSource | null = DealSource.CRM;

  @Field(() => Int, { defaultValue: 90, description: 'Create renewal opportunities this many days before an entitlement ends (0–730).' })
  @Min(0)
  @Max(730)
  renewalDays: number = 90;

  @Field(() => Int, { defaultValue: 8, description: 'Attempts before an outbox item is dead-lettered (1–100).' })
  @Min(1)
  @Max(100)
  maxAttempts: number = 8;
}

@InputType({ description: 'Changes to a connection; omitted fields stay as they are. Options are replaced as a whole.' })
export class UpdateSyncConnectionInput {
  @Field(() => GraphQLJSON, { nullable: true, description: 'The new options (replace the old ones).' })
  @IsOptional()
  options?: Record<string, unknown> | null;

  @Field(() => GraphQLJSON, { nullable: true, description: 'New secrets (replace the old ones): string values only.' })
  @IsOptional()
  credentials?: Record<string, string> | null;

  @Field(() => Boolean, { nullable: true, description: 'Whether its schedules run.' })
  @IsOptional()
  enabled?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Pull records.' })
  @IsOptional()
  pullEnabled?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Push records.' })
  @IsOptional()
  pushEnabled?: boolean | null;

  @Field(() => DealSource, { nullable: true, description: 'Which copy of a deal that exists in two systems grants (from the next pull on; what was granted stays).' })
  @IsOptional()
  dealSource?: DealSource | null;

  @Field(() => Int, { nullable: true, description: 'Days before the end to create renewal opportunities.' })
  @IsOptional()
  @Min(0)
  @Max(730)
  renewalDays?: number | null;

  @Field(() => Int, { nullable: true, description: 'Attempts before dead-lettering.' })
  @IsOptional()
  @Min(1)
  @Max(100)
  maxAttempts?: number | null;
}

@ObjectType({ description: 'A connector type the hub ships.' })
export class SyncConnectorType {
  @Field({ description: 'The type, e.g. `salesforce`.' })
  type: string;

  @Field({ description: 'What it connects to.' })
  description: string;

  @Field(() => [String], { description: 'The objects it pulls.' })
  pulls: string[];

  @Field(() => [String], { description: 'The objects it pushes.' })
  pushes: string[];
}

@ObjectType({ description: "A connection's health check." })
export class SyncConnectionHealth {
  @Field({ description: 'Whether it authenticated and the system answered.' })
  ok: boolean;

  @Field({ description: 'What the check found, for a person.' })
  message: string;

  @Field(() => Int, { nullable: true, description: 'API calls used in the current budget window, as the system reported.' })
  apiUsed: number | null;

  @Field(() => Int, { nullable: true, description: 'The API budget of the window.' })
  apiLimit: number | null;
}

export const PULL_OBJECTS = ['accounts', 'contacts', 'orders', 'receivables', 'usage'] as const;

@ArgsType()
export class RunSyncArgs {
  @Field(() => ID, { description: 'The connection.' })
  @IsUUID()
  connectionId: string;

  @Field({ defaultValue: false, description: 'Pull everything from the beginning instead of from the stored cursors (changes nothing that is already up to date).' })
  full: boolean = false;

  @Field(() => [String], { nullable: true, description: 'Only these pulls (accounts, contacts, orders, receivables, usage); default all the connector offers.' })
  @IsOptional()
  @ArrayMaxSize(PULL_OBJECTS.length)
  @IsIn(PULL_OBJECTS, { each: true, message: `objects must be among ${PULL_OBJECTS.join(', ')}` })
  objects?: string[] | null;

  @Field({ defaultValue: true, description: 'Also queue renewals and push the outbox after pulling.' })
  push: boolean = true;
}

@InputType({ description: 'Which sync runs to list; every field narrows the list.' })
export class SyncRunFilter {
  @Field(() => ID, { nullable: true, description: 'Runs of this connection.' })
  @IsOptional()
  @IsUUID()
  connectionId?: string | null;

  @Field(() => SyncRunKind, { nullable: true, description: 'Runs of this kind.' })
  @IsOptional()
  kind?: SyncRunKind | null;

  @Field(() => SyncRunStatus, { nullable: true, description: 'Runs that ended so.' })
  @IsOptional()
  status?: SyncRunStatus | null;
}

@ArgsType()
export class SyncRunListArgs extends PageArgs {
  @Field(() => SyncRunFilter, { nullable: true, description: 'Filters.' })
  @IsOptional()
  filter?: SyncRunFilter | null;

  @Field({ defaultValue: true, description: 'Newest first (default) or oldest first.' })
  newestFirst: boolean = true;
}

@InputType({ description: 'Which outbox items to list; every field narrows the list.' })
export class OutboxFilter {
  @Field(() => ID, { nullable: true, description: 'Items of this connection.' })
  @IsOptional()
  @IsUUID()
  connectionId?: string | null;

  @Field(() => [OutboxStatus], { nullable: true, description: 'Items in these statuses (default: PENDING, IN_FLIGHT, SUBMITTED, FAILED and DEAD — what is not done).' })
  @IsOptional()
  status?: OutboxStatus[] | null;

  @Field(() => OutboxObject, { nullable: true, description: 'Items writing this kind of record.' })
  @IsOptional()
  object?: OutboxObject | null;

  @Field(() => ID, { nullable: true, description: 'Items about this account.' })
  @IsOptional()
  @IsUUID()
  accountId?: string | null;
}

@ArgsType()
export class OutboxListArgs extends PageArgs {
  @Field(() => OutboxFilter, { nullable: true, description: 'Filters.' })
  @IsOptional()
  filter?: OutboxFilter | null;
}

export const SyncConnectionConnection = ConnectionType(SyncConnection);
export const SyncRunConnection = ConnectionType(SyncRun);
export const OutboxConnection = ConnectionType(SyncOutboxItem, 'OutboxItem');
