import { ArgsType, Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { IsOptional, IsUUID, Length, Max, Min, ValidateNested } from 'class-validator';
import { Meter } from '../catalog/catalog.entities';
import { MeterAggregation, MonetizationModel } from '../catalog/catalog.enums';
import { ConnectionType, PageArgs } from '../common/pagination';
import { Entitlement } from '../entitlements/entitlement.entity';
import { Deployment } from '../entitlements/entitlement.enums';

/** The size of the buckets of a usage series. */
export enum UsageGranularity {
  HOUR = 'HOUR',
  DAY = 'DAY',
  WEEK = 'WEEK',
  MONTH = 'MONTH',
}

/** What a usage series can be split by. */
export enum UsageDimension {
  ACCOUNT = 'ACCOUNT',
  PRODUCT = 'PRODUCT',
  FEATURE = 'FEATURE',
  DEPLOYMENT = 'DEPLOYMENT',
  USER = 'USER',
  DEVICE = 'DEVICE',
}

/** What the `used` figure of a utilization counts. */
export enum UtilizationBasis {
  USAGE = 'USAGE',
  DEVICES = 'DEVICES',
  SEATS = 'SEATS',
  LEASES = 'LEASES',
  NONE = 'NONE',
}

registerEnumType(UsageGranularity, {
  name: 'UsageGranularity',
  description: 'The size of the buckets of a usage series. Buckets are UTC: hours, days, ISO weeks (Monday 00:00 UTC) and calendar months.',
  valuesConfig: {
    HOUR: { description: 'One bucket per UTC hour (from the hourly rollups).' },
    DAY: { description: 'One bucket per UTC day (from the daily rollups).' },
    WEEK: { description: 'One bucket per ISO week, Monday to Sunday, UTC (from the daily rollups).' },
    MONTH: { description: 'One bucket per calendar month, UTC (from the daily rollups).' },
  },
});

registerEnumType(UsageDimension, {
  name: 'UsageDimension',
  description: 'A dimension a usage series can be split by.',
  valuesConfig: {
    ACCOUNT: { description: 'One series per account.' },
    PRODUCT: { description: 'One series per product of the entitlement the usage drew on (null: unentitled usage).' },
    FEATURE: { description: 'One series per feature of the meter.' },
    DEPLOYMENT: { description: 'One series per deployment (CLOUD, ON_PREM, SAAS, EMBEDDED, DEVICE).' },
    USER: { description: 'One series per user named by the events (null: events without a user). Reads raw events: needs an account or entitlement and at most 31 days.' },
    DEVICE: { description: 'One series per device named by the events (null: events without a device). Reads raw events: needs an account or entitlement and at most 31 days.' },
  },
});

registerEnumType(UtilizationBasis, {
  name: 'UtilizationBasis',
  description: 'What `used` counts, which follows from the monetization model.',
  valuesConfig: {
    USAGE: { description: 'Usage events of the feature\'s meters drawing on the entitlement, aggregated as each meter says (several meters add up).' },
    DEVICES: { description: 'DEVICE_LOCKED: the peak number of devices activated at once; entitled = the device slots.' },
    SEATS: { description: 'NAMED_USER: the peak number of seats assigned at once; entitled = the seats.' },
    LEASES: { description: 'CONCURRENT: the peak number of floating licences checked out at once; entitled = the licences.' },
    NONE: { description: 'Nothing to measure against: the feature has no meter and the model has no slots. Only activity (users, devices, last use) is reported.' },
  },
});

// ------------------------------------------------------------------ usageSeries

@InputType({ description: 'Which usage a series counts. Every field narrows it; omitted fields do not.' })
export class UsageSeriesFilter {
  @Field(() => ID, { nullable: true, description: 'Only this account (an account-scoped key always sees only its own).' })
  @IsOptional()
  @IsUUID()
  accountId?: string | null;

  @Field(() => String, { nullable: true, description: 'Only this meter (by key).' })
  @IsOptional()
  @Length(1, 100)
  meter?: string | null;

  @Field(() => String, { nullable: true, description: 'Only the meters of this feature (by key).' })
  @IsOptional()
  @Length(1, 100)
  feature?: string | null;

  @Field(() => ID, { nullable: true, description: 'Only usage drawing on entitlements of this product (and, without a meter or feature, only meters of its features).' })
  @IsOptional()
  @IsUUID()
  productId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Only usage drawing on this entitlement.' })
  @IsOptional()
  @IsUUID()
  entitlementId?: string | null;

  @Field(() => Deployment, { nullable: true, description: 'Only usage from this deployment.' })
  @IsOptional()
  deployment?: Deployment | null;
}

@ArgsType()
export class UsageSeriesArgs {
  @Field(() => UsageSeriesFilter, { defaultValue: {}, description: 'Which usage to count.' })
  @ValidateNested()
  filter?: UsageSeriesFilter;

  @Field({ description: 'The start of the window (inclusive); the bucket holding it is returned whole.' })
  from: Date;

  @Field({ description: 'The end of the window (exclusive); the bucket holding the last instant before it is returned whole.' })
  to: Date;

  @Field(() => UsageGranularity, { defaultValue: UsageGranularity.DAY, description: 'The bucket size.' })
  granularity: UsageGranularity = UsageGranularity.DAY;

  @Field(() => [UsageDimension], { defaultValue: [], description: 'Split into one series per value of these dimensions (none: one series).' })
  groupBy?: UsageDimension[];
}

@ObjectType({ description: 'The values of the grouped dimensions of a series. A dimension that was not grouped by is null.' })
export class UsageSeriesKey {
  @Field(() => ID, { nullable: true, description: 'ACCOUNT: the account id.' })
  accountId: string | null;

  @Field(() => ID, { nullable: true, description: 'PRODUCT: the product of the entitlement drawn on; null = unentitled usage (or not grouped).' })
  productId: string | null;

  @Field(() => String, { nullable: true, description: 'FEATURE: the feature key of the meter; null = a meter without a feature (or not grouped).' })
  feature: string | null;

  @Field(() => Deployment, { nullable: true, description: 'DEPLOYMENT: where the usage came from.' })
  deployment: Deployment | null;

  @Field(() => String, { nullable: true, description: 'USER: the user named by the events; null = events without one (or not grouped).' })
  user: string | null;

  @Field(() => String, { nullable: true, description: 'DEVICE: the device named by the events; null = events without one (or not grouped).' })
  device: string | null;
}

@ObjectType({ description: 'The usage of one bucket.' })
export class UsagePoint {
  @Field({ description: 'The start of the bucket (UTC).' })
  bucket: Date;

  @Field({
    description:
      'The meter\'s figure for the bucket as a decimal string: SUM the sum, COUNT the number of events, MAX the largest value, LATEST the value of the latest event, UNIQUE_COUNT the exact number of distinct values in the bucket.',
  })
  value: string;

  @Field(() => Float, { description: 'The number of events in the bucket (a whole number).' })
  count: number;
}

@ObjectType({ description: 'One series: the dimension values it stands for, and its points.' })
export class UsageSeries {
  @Field(() => UsageSeriesKey, { description: 'The values of the grouped dimensions.' })
  key: UsageSeriesKey;

  @Field(() => [UsagePoint], { description: 'Buckets with at least one event, oldest first. Empty buckets have no point (see `UsageSeriesResult.buckets`).' })
  points: UsagePoint[];
}

@ObjectType({ description: 'The answer of usageSeries.' })
export class UsageSeriesResult {
  @Field(() => [Meter], { description: 'The meters counted (one, or several sharing aggregation and unit).' })
  meters: Meter[];

  @Field(() => MeterAggregation, { description: 'How the values are aggregated.' })
  aggregation: MeterAggregation;

  @Field({ description: 'The unit of the values.' })
  unit: string;

  @Field(() => UsageGranularity, { description: 'The bucket size.' })
  granularity: UsageGranularity;

  @Field({ description: 'The start of the first bucket (the window as answered).' })
  from: Date;

  @Field({ description: 'The end of the last bucket (exclusive).' })
  to: Date;

  @Field({ description: 'The time zone of the buckets (UTC).' })
  timeZone: string;

  @Field(() => [Date], { description: 'Every bucket start of the window, oldest first, for charts that show empty buckets.' })
  buckets: Date[];

  @Field(() => [UsageSeries], {
    description:
      'The series, ordered by their key values (nulls last) in the fixed dimension order ACCOUNT, PRODUCT, FEATURE, DEPLOYMENT, USER, DEVICE. Series without any event are absent.',
  })
  series: UsageSeries[];
}

// ------------------------------------------------------------------ utilization

@ObjectType({ description: 'Use of one feature of an entitlement in one period.' })
export class UtilizationPeriod {
  @Field({ description: 'The start of the period.' })
  start: Date;

  @Field(() => Date, { nullable: true, description: 'The end of the period (exclusive; cut at the end of use); null = never (a perpetual term).' })
  end: Date | null;

  @Field({ description: 'Whether this is the current period (the one holding now, or the last one of an ended term).' })
  current: boolean;

  @Field(() => String, { nullable: true, description: 'What the entitlement allows in the period, as a decimal string; null = unlimited or nothing to measure.' })
  entitled: string | null;

  @Field(() => String, { nullable: true, description: 'What was used in the period, as a decimal string (see `basis`); null when there is nothing to measure (basis NONE).' })
  used: string | null;

  @Field(() => Float, { nullable: true, description: 'used / entitled × 100, rounded to 2 decimals; null when unlimited or nothing to measure.' })
  utilizationPercent: number | null;

  @Field(() => Float, { description: 'Usage events of the feature\'s meters drawing on the entitlement in the period (a whole number).' })
  events: number;

  @Field(() => Int, { description: 'The most floating licences of the entitlement checked out at once in the period (0 for other models).' })
  peakConcurrentLeases: number;

  @Field(() => Int, { description: 'Distinct devices in the period: activated on the entitlement at any time in it, or named by its usage events.' })
  activeDevices: number;

  @Field(() => Int, { description: 'Distinct users in the period: seats assigned at any time in it, or users named by its usage events.' })
  activeUsers: number;
}

@ObjectType({ description: 'Entitled versus used for one feature of one entitlement, now and over the last periods.' })
export class FeatureUtilization {
  @Field(() => Entitlement, { description: 'The entitlement.' })
  entitlement: Entitlement;

  @Field(() => ID, { description: 'The entitlement id.' })
  entitlementId: string;

  @Field(() => ID, { description: 'The account.' })
  accountId: string;

  @Field({ description: 'The feature key.' })
  featureKey: string;

  @Field(() => MonetizationModel, { description: 'The monetization model of the entitlement.' })
  model: MonetizationModel;

  @Field({ description: 'The effective phase of the entitlement now: ACTIVE, NOT_STARTED, IN_GRACE, SUSPENDED, EXPIRED or CANCELLED.' })
  phase: string;

  @Field(() => UtilizationBasis, { description: 'What `used` counts.' })
  basis: UtilizationBasis;

  @Field(() => [String], { description: 'The keys of the meters drawing on the feature.' })
  meters: string[];

  @Field(() => String, { nullable: true, description: 'The unit of `entitled` and `used`: the meter\'s unit, or devices, seats or licences; null for basis NONE.' })
  unit: string | null;

  @Field({
    description:
      'How periods are cut: DAILY, MONTHLY, ANNUAL (the reset period of METERED, USAGE and OUTCOME entitlements) or TERM (the whole term); other models report calendar months (MONTHLY). In the contract time zone.',
  })
  period: string;

  @Field(() => UtilizationPeriod, { description: 'The current period (the same as `periods[0]`).' })
  current: UtilizationPeriod;

  @Field(() => [UtilizationPeriod], { description: 'The current period and those before it, newest first (never before the term started).' })
  periods: UtilizationPeriod[];

  @Field(() => Date, { nullable: true, description: 'The latest usage event of the feature\'s meters drawing on the entitlement, ever; null = none.' })
  lastUsedAt: Date | null;
}

// ------------------------------------------------------------------ adoption

@ObjectType({ description: 'Where a feature was used: one deployment\'s part.' })
export class DeploymentShare {
  @Field(() => Deployment, { description: 'The deployment.' })
  deployment: Deployment;

  @Field(() => Int, { description: 'Entitled accounts that used the feature from this deployment.' })
  accounts: number;

  @Field(() => Float, { description: 'Usage events of the feature from this deployment (a whole number).' })
  events: number;

  @Field(() => Float, { description: 'This deployment\'s share of the feature\'s events, in percent (2 decimals).' })
  sharePercent: number;
}

@ObjectType({ description: 'Adoption of a feature in one window.' })
export class AdoptionFigures {
  @Field({ description: 'The start of the window.' })
  from: Date;

  @Field({ description: 'The end of the window (exclusive).' })
  to: Date;

  @Field(() => Int, { description: 'Accounts holding an entitlement of the product that grants the feature and is in force at some time in the window.' })
  entitledAccounts: number;

  @Field(() => Int, { description: 'Of those, the accounts with usage of the feature\'s meters drawing on such an entitlement in the window.' })
  usingAccounts: number;

  @Field(() => Float, { nullable: true, description: 'usingAccounts / entitledAccounts × 100 (2 decimals); null when no account was entitled.' })
  sharePercent: number | null;
}

@ObjectType({ description: 'Adoption of one feature of the product: who is entitled, who uses it, where, and the trend.' })
export class FeatureAdoption {
  @Field(() => ID, { description: 'The feature id.' })
  featureId: string;

  @Field({ description: 'The feature key.' })
  featureKey: string;

  @Field(() => [String], { description: 'The keys of the meters drawing on the feature (no meter: nobody can be seen using it).' })
  meters: string[];

  @Field(() => Int, { description: 'Entitled accounts in the window.' })
  entitledAccounts: number;

  @Field(() => Int, { description: 'Entitled accounts that used the feature in the window.' })
  usingAccounts: number;

  @Field(() => Float, { nullable: true, description: 'usingAccounts / entitledAccounts × 100 (2 decimals); null when no account was entitled.' })
  sharePercent: number | null;

  @Field(() => Int, { description: 'Distinct users named by that usage in the window.' })
  activeUsers: number;

  @Field(() => Float, { description: 'Usage events of the feature drawing on the product\'s entitlements in the window (a whole number).' })
  events: number;

  @Field(() => [DeploymentShare], { description: 'The deployment mix of the window, largest share first.' })
  deployments: DeploymentShare[];

  @Field(() => AdoptionFigures, { description: 'The same figures for the previous window of the same length (ending at `from`).' })
  previous: AdoptionFigures;

  @Field(() => Float, { nullable: true, description: 'sharePercent minus the previous window\'s, in percentage points; null when either is null.' })
  shareDelta: number | null;
}

@ObjectType({ description: 'The answer of adoption.' })
export class Adoption {
  @Field(() => ID, { description: 'The product.' })
  productId: string;

  @Field({ description: 'The start of the window.' })
  from: Date;

  @Field({ description: 'The end of the window (exclusive).' })
  to: Date;

  @Field({ description: 'The start of the previous window (it ends at `from`).' })
  previousFrom: Date;

  @Field(() => [FeatureAdoption], { description: 'One entry per feature the product grants (bundles flattened), by feature key.' })
  features: FeatureAdoption[];
}

// ------------------------------------------------------------------ unusedEntitlements

@ArgsType()
export class UnusedEntitlementsArgs extends PageArgs {
  @Field(() => Float, {
    defaultValue: 0.1,
    description: 'List entitlements whose utilization over the window is below this fraction (0.1 = 10 %). 0 lists only those with no use at all.',
  })
  @Min(0)
  @Max(100)
  threshold: number = 0.1;

  @Field(() => Int, { defaultValue: 30, description: 'The window: the last `days` days (from midnight, contract time zone, `days` days ago until now), 1–366.' })
  @Min(1)
  @Max(366)
  days: number = 30;

  @Field(() => ID, { nullable: true, description: 'Only this account (an account-scoped key always sees only its own).' })
  @IsOptional()
  @IsUUID()
  accountId?: string | null;
}

@ObjectType({ description: 'An entitlement in force that is not, or barely, used: shelfware to talk about before renewal.' })
export class UnusedEntitlement {
  @Field(() => ID, { description: 'The entitlement id.' })
  id: string;

  @Field(() => Entitlement, { description: 'The entitlement.' })
  entitlement: Entitlement;

  @Field(() => ID, { description: 'The account.' })
  accountId: string;

  @Field(() => ID, { description: 'The product.' })
  productId: string;

  @Field(() => UtilizationBasis, { description: 'What `used` counts.' })
  basis: UtilizationBasis;

  @Field(() => String, { nullable: true, description: 'The feature whose figures are shown (the best used one); null for devices, seats and leases.' })
  featureKey: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'What the entitlement allows over the window, as a decimal string: slots for devices, seats and leases; the feature limit, pro-rated to the window for SUM and COUNT meters of METERED, USAGE and OUTCOME entitlements. Null = unlimited or nothing to measure.',
  })
  entitled: string | null;

  @Field(() => String, { nullable: true, description: 'What was used over the window, as a decimal string (peak slots, or the meter figure); null = nothing to measure.' })
  used: string | null;

  @Field(() => Float, { nullable: true, description: 'used / entitled × 100 (2 decimals); null when unlimited or nothing to measure (then only "no use at all" lists it).' })
  utilizationPercent: number | null;

  @Field(() => Float, { description: 'Usage events drawing on the entitlement in the window (a whole number).' })
  events: number;

  @Field(() => Date, { nullable: true, description: 'The latest usage event drawing on the entitlement, ever; null = none.' })
  lastUsedAt: Date | null;

  @Field(() => String, { nullable: true, description: 'The last day of the term (renewal due), YYYY-MM-DD; null = perpetual.' })
  endDate: string | null;

  @Field(() => Int, { nullable: true, description: 'Days from today (contract time zone) to the end date; negative in grace; null = perpetual.' })
  daysToRenewal: number | null;
}

export const UnusedEntitlementConnection = ConnectionType(UnusedEntitlement);
