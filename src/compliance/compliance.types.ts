import { ArgsType, Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { IsOptional, IsUUID, Length, ValidateNested } from 'class-validator';
import { Money } from '../common/money';
import { ConnectionType, PageArgs, PageInfo, type Connection } from '../common/pagination';
import { ComplianceFinding, Notification } from './compliance.entities';
import { FindingKind, FindingStatus, NotificationType } from './compliance.enums';

@InputType({ description: 'Which compliance findings to list; every filter given must match.' })
export class ComplianceFindingFilterInput {
  @Field(() => ID, { nullable: true, description: 'Only this account.' })
  @IsOptional()
  @IsUUID()
  accountId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Only this entitlement.' })
  @IsOptional()
  @IsUUID()
  entitlementId?: string | null;

  @Field(() => FindingKind, { nullable: true, description: 'Only this kind.' })
  @IsOptional()
  kind?: FindingKind | null;

  @Field(() => FindingStatus, { nullable: true, description: 'Only this status.' })
  @IsOptional()
  status?: FindingStatus | null;

  @Field(() => String, { nullable: true, description: 'Only this feature key.' })
  @IsOptional()
  featureKey?: string | null;

  @Field(() => Date, { nullable: true, description: 'Only findings whose period ends after this instant.' })
  @IsOptional()
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Only findings whose period starts before this instant.' })
  @IsOptional()
  to?: Date | null;
}

@ArgsType()
export class ComplianceFindingListArgs extends PageArgs {
  @Field(() => ComplianceFindingFilterInput, { nullable: true, description: 'Filters.' })
  @IsOptional()
  @ValidateNested()
  filter?: ComplianceFindingFilterInput | null;
}

@ObjectType({ description: 'One compliance finding in a page.' })
export class ComplianceFindingEdge {
  @Field({ description: 'Opaque cursor of this item.' })
  cursor: string;

  @Field(() => ComplianceFinding, { description: 'The finding.' })
  node: ComplianceFinding;
}

@ObjectType({ description: 'A page of compliance findings, oldest first, with the leakage of every finding that matches (all pages).' })
export class ComplianceFindingConnection {
  @Field(() => [ComplianceFindingEdge], { description: 'The findings of this page.' })
  edges: ComplianceFindingEdge[];

  @Field(() => PageInfo, { description: 'Where this page is in the whole list.' })
  pageInfo: PageInfo;

  @Field(() => Int, { description: 'How many findings match the filter, over all pages.' })
  totalCount: number;

  @Field(() => [Money], { description: 'Estimated leakage of all matching findings, summed per currency (findings that could not be priced are left out).' })
  leakageTotals: Money[];
}

export type ComplianceFindingPage = Connection<ComplianceFinding> & { leakageTotals: Money[] };

@ObjectType({ description: 'What one compliance run for an account did.' })
export class ComplianceRunSummary {
  @Field(() => ID, { description: 'The account.' })
  accountId: string;

  @Field({ description: 'The instant the run evaluated.' })
  ranAt: Date;

  @Field(() => Int, { description: 'New findings (each also raised as a `compliance.finding` webhook event).' })
  opened: number;

  @Field(() => Int, { description: 'Findings found again with different quantities or leakage (updated in place).' })
  updated: number;

  @Field(() => Int, { description: 'Findings found again exactly as they were.' })
  unchanged: number;

  @Field(() => Int, { description: 'Findings the compliance run had resolved that are back (OPEN again).' })
  reopened: number;

  @Field(() => Int, { description: 'Open or acknowledged findings whose condition no longer holds (RESOLVED).' })
  resolved: number;

  @Field(() => Int, { description: 'Notifications raised (thresholds, expiry, overage, new findings), not counting superseded ones.' })
  notificationsRaised: number;

  @Field(() => [ComplianceFinding], { description: 'Every finding this run found (new, updated or unchanged).' })
  findings: ComplianceFinding[];
}

/** What one threshold-job run raised (for logs). */
export interface NotificationsRaised {
  raised: number;
  superseded: number;
  usageThresholds: number;
  expiring: number;
  overages: number;
}

@ArgsType()
export class NotificationListArgs extends PageArgs {
  @Field(() => ID, { nullable: true, description: 'Only this account.' })
  @IsOptional()
  @IsUUID()
  accountId?: string | null;

  @Field(() => NotificationType, { nullable: true, description: 'Only this type.' })
  @IsOptional()
  type?: NotificationType | null;

  @Field(() => ID, { nullable: true, description: 'Only notifications about this entitlement.' })
  @IsOptional()
  @IsUUID()
  entitlementId?: string | null;
}

export const NotificationConnection = ConnectionType(Notification);

@ArgsType()
export class SetFindingStatusArgs {
  @Field(() => ID, { description: 'The finding id.' })
  id: string;

  @Field(() => FindingStatus, { description: 'The new status.' })
  status: FindingStatus;

  @Field(() => String, { nullable: true, description: 'Why (shown on the finding and in the audit log); up to 2000 characters.' })
  @IsOptional()
  @Length(0, 2000)
  note?: string | null;
}
