import { ArgsType, Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { IsOptional, Max, Min, ValidateNested } from 'class-validator';
import { Account } from '../accounts/account.entity';
import { ExternalRefInput } from '../accounts/account.types';
import { MeterAggregation, MonetizationModel } from '../catalog/catalog.enums';
import { FindingKind, FindingStatus } from '../compliance/compliance.enums';
import { Money } from '../common/money';
import { SyncRunStatus } from '../sync/sync.entities';

export const RENEWAL_DAYS_DEFAULT = 180;
export const RENEWAL_DAYS_MAX = 730;
export const TIMELINE_LIMIT_DEFAULT = 50;
export const TIMELINE_LIMIT_MAX = 500;
/** How many devices, seats and open findings the view lists (the counts cover all of them). */
export const LIST_LIMIT = 25;

@ArgsType()
export class Customer360Args {
  @Field(() => ID, { nullable: true, description: 'The hub account id. Give exactly one of `account` and `externalRef`.' })
  account?: string | null;

  @Field(() => ID, { nullable: true, description: 'The hub account id under the name DESIGN.md lists (`customer360(accountId: ...)`): the same as `account`. Give exactly one of `account`, `accountId` and `externalRef`.' })
  accountId?: string | null;

  @Field(() => ExternalRefInput, {
    nullable: true,
    description: 'A reference to the account in another system, e.g. `salesforce` / `Account` / `001...`. Give exactly one of `account` and `externalRef`.',
  })
  @IsOptional()
  @ValidateNested()
  externalRef?: ExternalRefInput | null;

  @Field(() => Int, { defaultValue: RENEWAL_DAYS_DEFAULT, description: `Upcoming renewals: terms ending within this many days from today (1–${RENEWAL_DAYS_MAX}).` })
  @Min(1)
  @Max(RENEWAL_DAYS_MAX)
  renewalDays: number = RENEWAL_DAYS_DEFAULT;

  @Field(() => Int, { defaultValue: TIMELINE_LIMIT_DEFAULT, description: `How many timeline events to return, newest first (1–${TIMELINE_LIMIT_MAX}).` })
  @Min(1)
  @Max(TIMELINE_LIMIT_MAX)
  timelineLimit: number = TIMELINE_LIMIT_DEFAULT;
}

@ObjectType({
  description:
    'Everything the hub knows of one customer, assembled in one query (docs/customer-360.md). Each section is read with a fixed number of SQL statements, whatever the size of the account.',
})
export class Customer360 {
  @Field(() => Account, { description: 'The account (its own fields, including those other domains add to Account, resolve as usual).' })
  account: Account;

  /** The account id every section is keyed by. */
  accountId: string;
  renewalDays: number;
  timelineLimit: number;
}

@ObjectType({ description: 'A record in a CRM or ERP linked to the account (an external reference), with a link to open it there.' })
export class LinkedRecord {
  @Field({ description: 'The system, e.g. `salesforce`, `netsuite`.' })
  system: string;

  @Field({ description: 'The object in that system, e.g. `Account`.' })
  object: string;

  @Field({ description: 'The record id in that system.' })
  externalId: string;

  @Field(() => String, { nullable: true, description: 'The record\'s name in that system, when the hub knows it (null otherwise).' })
  name: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'A link to the record: Salesforce `https://<instance>/lightning/r/<Object>/<Id>/view`, NetSuite customers `https://<accountId>.app.netsuite.com/app/common/entity/custjob.nl?id=<id>`; null when no connection of that system tells the base URL.',
  })
  url: string | null;

  @Field(() => String, { nullable: true, description: 'The sync connection of that system the link was built from, if any.' })
  connectionName: string | null;

  @Field({ description: 'When the reference was linked.' })
  linkedAt: Date;
}

@ObjectType({ description: 'One entitlement in a customer 360 group, with what is used of it now.' })
export class EntitlementUse {
  @Field(() => ID, { description: 'The entitlement id.' })
  entitlementId: string;

  @Field({ description: 'The product sku.' })
  sku: string;

  @Field({ description: 'As a CRM user sees it: ACTIVE (grace included), SUSPENDED, NOT_STARTED, EXPIRED or CANCELLED.' })
  status: string;

  @Field({ description: 'The effective phase as licensing checks see it now (ACTIVE, IN_GRACE, ...).' })
  phase: string;

  @Field({ description: 'The entitled quantity (decimal string).' })
  quantity: string;

  @Field(() => String, { nullable: true, description: 'Used now (seats held, devices active, leases live, METERED units drawn this period); null for models without a capacity.' })
  used: string | null;

  @Field(() => String, { nullable: true, description: 'What can be used (seats, devices, leases, METERED units this period); null for models without a capacity.' })
  capacity: string | null;

  @Field(() => Float, { nullable: true, description: 'used / capacity × 100, one decimal; null without a capacity.' })
  utilizationPercent: number | null;

  @Field({ description: 'First day of the term, YYYY-MM-DD.' })
  startDate: string;

  @Field(() => String, { nullable: true, description: 'Last day of the term (inclusive), YYYY-MM-DD; null = perpetual.' })
  endDate: string | null;

  @Field(() => Money, { nullable: true, description: 'Annual recurring value when live with an end date (the ARR the CRM sync sends).' })
  arr: Money | null;
}

@ObjectType({ description: 'The account\'s entitlements of one product under one monetization model.' })
export class EntitlementGroup {
  @Field({ description: 'The product sku.' })
  sku: string;

  @Field({ description: 'The product name.' })
  productName: string;

  @Field(() => MonetizationModel, { description: 'The monetization model.' })
  model: MonetizationModel;

  @Field(() => Int, { description: 'How many entitlements (any status).' })
  entitlements: number;

  @Field(() => Int, { description: 'How many are live (ACTIVE or IN_GRACE).' })
  live: number;

  @Field({ description: 'The quantity of the live ones, added up (decimal string).' })
  liveQuantity: string;

  @Field(() => String, { nullable: true, description: 'Used now, over the live entitlements that have a capacity; null when none has.' })
  used: string | null;

  @Field(() => String, { nullable: true, description: 'Capacity of the live entitlements that have one; null when none has.' })
  capacity: string | null;

  @Field(() => Float, { nullable: true, description: 'used / capacity × 100 for the group, one decimal; null without a capacity.' })
  utilizationPercent: number | null;

  @Field(() => [Money], { description: 'ARR of the live entitlements, per currency.' })
  arr: Money[];

  @Field(() => String, { nullable: true, description: 'The earliest end date among the live entitlements.' })
  nextEndDate: string | null;

  @Field(() => [EntitlementUse], { description: 'The entitlements, live first, then by end date.' })
  items: EntitlementUse[];
}

@ObjectType({ description: 'An active device activation.' })
export class DeviceInUse {
  @Field(() => ID, { description: 'The activation id.' })
  id: string;

  @Field(() => ID, { description: 'The entitlement it is activated on.' })
  entitlementId: string;

  @Field({ description: 'The device fingerprint.' })
  fingerprint: string;

  @Field(() => String, { nullable: true, description: 'The device name, when given.' })
  name: string | null;

  @Field(() => String, { nullable: true, description: 'The platform, when given.' })
  platform: string | null;

  @Field({ description: 'When it was activated.' })
  activatedAt: Date;

  @Field({ description: 'When it was last seen.' })
  lastSeenAt: Date;
}

@ObjectType({ description: 'An assigned named-user seat.' })
export class SeatInUse {
  @Field(() => ID, { description: 'The seat id.' })
  id: string;

  @Field(() => ID, { description: 'The entitlement it belongs to.' })
  entitlementId: string;

  @Field({ description: 'The user\'s email.' })
  email: string;

  @Field({ description: 'When it was assigned.' })
  assignedAt: Date;
}

@ObjectType({ description: 'Devices, seats and floating leases in use now.' })
export class LicensesInUse {
  @Field(() => Int, { description: 'Active device activations.' })
  devicesActive: number;

  @Field(() => Int, { description: 'Assigned named-user seats.' })
  seatsAssigned: number;

  @Field(() => Int, { description: 'Floating leases held now (checked out, not expired).' })
  leasesLive: number;

  @Field(() => [DeviceInUse], { description: `The ${LIST_LIMIT} most recently seen active devices.` })
  devices: DeviceInUse[];

  @Field(() => [SeatInUse], { description: `The ${LIST_LIMIT} most recently assigned seats.` })
  seats: SeatInUse[];
}

@ObjectType({ description: 'One meter\'s usage in the last 90 days against the 90 days before.' })
export class MeterTrend {
  @Field({ description: 'The meter key.' })
  meterKey: string;

  @Field({ description: 'The meter name.' })
  meterName: string;

  @Field({ description: 'The unit.' })
  unit: string;

  @Field(() => MeterAggregation, { description: 'How the meter aggregates (the figures below follow it: SUM adds, MAX peaks, UNIQUE_COUNT counts distinct values...).' })
  aggregation: MeterAggregation;

  @Field({ description: 'The figure of the last 90 days (decimal string).' })
  current: string;

  @Field({ description: 'The figure of the 90 days before (decimal string).' })
  previous: string;

  @Field(() => Float, { nullable: true, description: 'current / previous, 4 decimals; null when previous is 0.' })
  ratio: number | null;

  @Field(() => Float, { description: 'Usage events in the last 90 days.' })
  currentEvents: number;

  @Field(() => Float, { description: 'Usage events in the 90 days before.' })
  previousEvents: number;
}

@ObjectType({
  description:
    'Usage of the last 90 UTC days (today included) against the 90 days before, from the daily rollups. Meters of different units are not added up: the total counts usage events.',
})
export class UsageTrend {
  @Field({ description: 'First day of the current window, YYYY-MM-DD (UTC).' })
  currentFrom: string;

  @Field({ description: 'Last day of the current window (today, UTC).' })
  currentTo: string;

  @Field({ description: 'First day of the previous window.' })
  previousFrom: string;

  @Field({ description: 'Last day of the previous window.' })
  previousTo: string;

  @Field(() => Float, { description: 'Usage events of every meter in the current window.' })
  currentEvents: number;

  @Field(() => Float, { description: 'Usage events of every meter in the previous window.' })
  previousEvents: number;

  @Field(() => Float, { nullable: true, description: 'currentEvents / previousEvents, 4 decimals; null when previousEvents is 0.' })
  ratio: number | null;

  @Field(() => [MeterTrend], { description: 'Per meter with usage in either window, by meter key.' })
  meters: MeterTrend[];
}

@ObjectType({ description: 'An open (or acknowledged) compliance finding.' })
export class OpenFinding {
  @Field(() => ID, { description: 'The finding id.' })
  id: string;

  @Field(() => FindingKind, { description: 'What it is about.' })
  kind: FindingKind;

  @Field(() => FindingStatus, { description: 'OPEN or ACKNOWLEDGED.' })
  status: FindingStatus;

  @Field(() => ID, { nullable: true, description: 'The entitlement, when it concerns one.' })
  entitlementId: string | null;

  @Field(() => String, { nullable: true, description: 'The feature key, when it concerns one.' })
  featureKey: string | null;

  @Field(() => String, { nullable: true, description: 'The meter key, when it concerns one.' })
  meterKey: string | null;

  @Field({ description: 'Start of the period it covers.' })
  periodStart: Date;

  @Field({ description: 'The unit of used / entitled / over.' })
  unit: string;

  @Field({ description: 'Used in the period (decimal string).' })
  used: string;

  @Field(() => String, { nullable: true, description: 'Entitled in the period (decimal string); null = unlimited or none.' })
  entitled: string | null;

  @Field({ description: 'Used beyond the entitlement (decimal string).' })
  over: string;

  @Field(() => Money, { nullable: true, description: 'Estimated revenue leakage, when priced.' })
  leakage: Money | null;

  @Field({ description: 'When it was first seen.' })
  firstSeenAt: Date;
}

@ObjectType({ description: 'Open compliance findings (status OPEN or ACKNOWLEDGED) and their leakage.' })
export class OpenFindings {
  @Field(() => Int, { description: 'How many findings are open.' })
  count: number;

  @Field(() => [Money], { description: 'Leakage of every open finding, added up per currency.' })
  leakage: Money[];

  @Field(() => [OpenFinding], { description: `The ${LIST_LIMIT} largest by leakage, then newest.` })
  items: OpenFinding[];
}

@ObjectType({ description: 'Live entitlements of one order that end on one date: one renewal (the CRM renewal opportunity\'s scope).' })
export class UpcomingRenewal {
  @Field({ description: 'The last day of the term, YYYY-MM-DD.' })
  endDate: string;

  @Field(() => Int, { description: 'Days from today (contract time zone) to the end date.' })
  daysLeft: number;

  @Field(() => ID, { description: 'The order the entitlements came from.' })
  orderId: string;

  @Field(() => [String], { description: 'The skus renewing, sorted.' })
  skus: string[];

  @Field(() => [ID], { description: 'The entitlements renewing, sorted.' })
  entitlementIds: string[];

  @Field(() => Money, { description: 'Their ARR (the renewal opportunity\'s amount).' })
  arr: Money;
}

@ObjectType({ description: 'Renewals due within the asked number of days.' })
export class UpcomingRenewals {
  @Field(() => Int, { description: 'The window asked for (renewalDays).' })
  withinDays: number;

  @Field(() => [Money], { description: 'ARR up for renewal in the window, per currency.' })
  arr: Money[];

  @Field(() => [UpcomingRenewal], { description: 'Soonest first.' })
  renewals: UpcomingRenewal[];
}

@ObjectType({ description: 'Revenue of the account\'s obligations in one currency, as of the current reporting month.' })
export class RevenuePosition {
  @Field({ description: 'ISO 4217 currency code.' })
  currency: string;

  @Field(() => Money, { description: 'The transaction price allocated to the obligations.' })
  allocated: Money;

  @Field(() => Money, { description: 'Recognised up to and including the current reporting month.' })
  recognised: Money;

  @Field(() => Money, { description: 'Deferred: allocated but not yet recognised (allocated − recognised).' })
  deferred: Money;
}

@ObjectType({ description: 'A linked system and the sync connection serving it.' })
export class SyncSystemStatus {
  @Field({ description: 'The system the account is linked in (an external reference\'s system).' })
  system: string;

  @Field(() => String, { nullable: true, description: 'The connection whose reference system it is; null when none is configured.' })
  connectionName: string | null;

  @Field(() => String, { nullable: true, description: 'The connector type, e.g. `salesforce`.' })
  connectionType: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Whether the connection is enabled.' })
  enabled: boolean | null;

  @Field(() => SyncRunStatus, { nullable: true, description: 'Status of the connection\'s latest pull run.' })
  lastPullStatus: SyncRunStatus | null;

  @Field(() => Date, { nullable: true, description: 'When it started.' })
  lastPullAt: Date | null;

  @Field(() => SyncRunStatus, { nullable: true, description: 'Status of the connection\'s latest push run.' })
  lastPushStatus: SyncRunStatus | null;

  @Field(() => Date, { nullable: true, description: 'When it started.' })
  lastPushAt: Date | null;

  @Field(() => Int, { description: 'Outbox items of this account still to deliver (PENDING, IN_FLIGHT, FAILED, SUBMITTED).' })
  outboxPending: number;

  @Field(() => Int, { description: 'Outbox items of this account given up on (DEAD).' })
  outboxDead: number;

  @Field(() => Date, { nullable: true, description: 'When an outbox item of this account was last delivered.' })
  lastDeliveredAt: Date | null;
}

export enum TimelineKind {
  ORDER = 'ORDER',
  RENEWAL = 'RENEWAL',
  TERM_ENDED = 'TERM_ENDED',
  FINDING_OPENED = 'FINDING_OPENED',
  FINDING_RESOLVED = 'FINDING_RESOLVED',
  PAYMENT = 'PAYMENT',
  MERGE = 'MERGE',
  UNMERGE = 'UNMERGE',
}

registerEnumType(TimelineKind, {
  name: 'TimelineKind',
  description: 'What happened in an account timeline event.',
  valuesConfig: {
    ORDER: { description: 'An order was placed (at its order date).' },
    RENEWAL: { description: 'A term was renewed: a RENEWAL line (at its order\'s date).' },
    TERM_ENDED: { description: 'A term ended without a renewal (the day after its last day).' },
    FINDING_OPENED: { description: 'A compliance finding was first seen.' },
    FINDING_RESOLVED: { description: 'A compliance finding was resolved.' },
    PAYMENT: { description: 'A payment was received, as the ERP records it (at its document date, with its amount).' },
    MERGE: { description: 'Another account was merged into this one, or this one into another (identity resolution).' },
    UNMERGE: { description: 'Such a merge was undone.' },
  },
});

@ObjectType({ description: 'One event in the account\'s history.' })
export class TimelineEvent {
  @Field({ description: 'When it happened (dates are taken at 00:00 UTC).' })
  at: Date;

  @Field(() => TimelineKind, { description: 'What happened.' })
  kind: TimelineKind;

  @Field({ description: 'A sentence for people, e.g. "Order salesforce/006… (3 lines)".' })
  summary: string;

  @Field(() => ID, { description: 'The record it is about: an order, an order line, a finding, a receivable (payment) or an account merge id.' })
  refId: string;

  @Field(() => Money, { nullable: true, description: 'The amount involved, when there is one (order total, renewed line value, leakage).' })
  amount: Money | null;
}
