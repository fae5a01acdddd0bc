import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { IsOptional, IsUUID, Matches } from 'class-validator';
import { Money } from '../common/money';
import { RevenuePattern } from './revenue.rules';

registerEnumType(RevenuePattern, {
  name: 'RevenuePattern',
  description: 'How a performance obligation\'s revenue is recognised.',
  valuesConfig: {
    POINT_IN_TIME: { description: 'All at once in the month of the start (delivery) date: perpetual and device-locked licences, hardware, devices.' },
    RATABLE: { description: 'Over the service period by actual days (end date inclusive): subscriptions, SaaS, support and maintenance, term licences.' },
    AS_CONSUMED: { description: 'In the month the usage occurs, from the usage data × the line\'s unit price: USAGE and OUTCOME.' },
    ON_DELIVERY: { description: 'Services without a service period: at the start (delivery) date.' },
  },
});

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

@InputType({ description: 'Which revenue schedule to show; all optional, combined with AND.' })
export class RevenueScheduleFilter {
  @Field(() => ID, { nullable: true, description: 'Only this account.' })
  @IsOptional()
  @IsUUID()
  accountId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Only this order.' })
  @IsOptional()
  @IsUUID()
  orderId?: string | null;

  @Field(() => String, { nullable: true, description: 'First month shown (YYYY-MM); cumulative figures still count earlier months.' })
  @IsOptional()
  @Matches(MONTH, { message: 'must be YYYY-MM' })
  from?: string | null;

  @Field(() => String, { nullable: true, description: 'Last month shown (YYYY-MM), inclusive.' })
  @IsOptional()
  @Matches(MONTH, { message: 'must be YYYY-MM' })
  to?: string | null;
}

@ObjectType({ description: 'One month of an obligation\'s schedule.' })
export class RevenueScheduleLine {
  @Field({ description: 'The calendar month (YYYY-MM) in the reporting time zone.' })
  month: string;

  @Field(() => Money, { description: 'Revenue recognised in the month (the sum of its SCHEDULE, ADJUSTMENT and USAGE entries).' })
  amount: Money;

  @Field(() => Money, { description: 'Revenue recognised up to and including the month.' })
  cumulative: Money;

  @Field(() => Money, { description: 'Allocated but not yet recognised at the end of the month (deferred revenue of the obligation).' })
  deferred: Money;
}

@ObjectType({ description: 'A prospective change to an obligation\'s schedule (order revision, upgrade, cancellation).' })
export class RevenueModification {
  @Field(() => ID, { description: 'The modification id.' })
  id: string;

  @Field({ description: 'The date the change takes effect (YYYY-MM-DD).' })
  effectiveDate: string;

  @Field({ description: 'The first month (YYYY-MM) the change could alter: the effective month, or the first open month if that is closed.' })
  firstOpenMonth: string;

  @Field({ description: 'Why the schedule changed.' })
  reason: string;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The obligation before: pattern, allocated, startDate, endDate, quantity, status.' })
  before: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The obligation after.' })
  after: unknown;

  @Field({ description: 'When it was recorded.' })
  createdAt: Date;
}

@ObjectType({ description: 'A performance obligation: an order line (or a component of a split bundle) with its allocation and schedule.' })
export class RevenueObligation {
  @Field(() => ID, { description: 'The obligation id.' })
  id: string;

  @Field(() => ID, { description: 'The account.' })
  accountId: string;

  @Field(() => ID, { description: 'The order.' })
  orderId: string;

  @Field(() => ID, { description: 'The order line.' })
  orderLineId: string;

  @Field({ description: 'The order line number.' })
  lineNo: number;

  @Field({ description: 'The product of the obligation (a component\'s sku for a split bundle).' })
  sku: string;

  @Field(() => String, { nullable: true, description: 'The bundle sku when the obligation is a component of a split bundle.' })
  bundleSku: string | null;

  @Field(() => RevenuePattern, { description: 'How its revenue is recognised.' })
  pattern: RevenuePattern;

  @Field({ description: 'ACTIVE, or CANCELLED (ended early by an upgrade, a cancellation or a revision).' })
  status: string;

  @Field({ description: 'Quantity (for a component: line quantity × component quantity).' })
  quantity: string;

  @Field({ description: 'First day of service (YYYY-MM-DD).' })
  startDate: string;

  @Field(() => String, { nullable: true, description: 'Last day of service, inclusive (YYYY-MM-DD); null = none.' })
  endDate: string | null;

  @Field(() => Money, { description: 'List price: catalog list price × quantity.' })
  list: Money;

  @Field(() => Money, { nullable: true, description: 'Standalone selling price (per-unit SSP of the line or the catalog × quantity); null = unknown.' })
  ssp: Money | null;

  @Field(() => Money, { description: 'The transaction price allocated to it by relative SSP (for AS_CONSUMED: the usage recognised so far).' })
  allocated: Money;

  @Field(() => Money, { description: 'Recognised in the months shown.' })
  recognised: Money;

  @Field(() => Money, { description: 'Allocated but not recognised at the end of the months shown.' })
  deferred: Money;

  @Field(() => String, { nullable: true, description: 'Why the obligation is not allocated (REVENUE_SSP_MISSING: ... naming the product); null = allocated.' })
  error: string | null;

  @Field(() => [RevenueModification], { description: 'Modifications, oldest first.' })
  modifications: RevenueModification[];

  @Field(() => [RevenueScheduleLine], { description: 'The schedule per month (months with entries), in the range asked for.' })
  lines: RevenueScheduleLine[];
}

@ObjectType({ description: 'Totals of a schedule in one currency.' })
export class RevenueTotal {
  @Field({ description: 'ISO 4217 currency.' })
  currency: string;

  @Field(() => Money, { description: 'Allocated to the obligations shown.' })
  allocated: Money;

  @Field(() => Money, { description: 'Recognised in the months shown.' })
  recognised: Money;

  @Field(() => Money, { description: 'Deferred at the end of the months shown.' })
  deferred: Money;
}

@ObjectType({ description: 'A revenue schedule: obligations with monthly lines, and totals per currency.' })
export class RevenueSchedule {
  @Field(() => [RevenueObligation], { description: 'The obligations, by account, order, line and sku.' })
  obligations: RevenueObligation[];

  @Field(() => [RevenueTotal], { description: 'Totals per currency.' })
  totals: RevenueTotal[];

  @Field({ description: 'True when some obligation is unallocated (see RevenueObligation.error).' })
  hasErrors: boolean;
}

@ObjectType({ description: 'A closed revenue month: no entry is added to it or any earlier month any more.' })
export class RevenuePeriod {
  @Field({ description: 'The month (YYYY-MM).' })
  month: string;

  @Field({ description: 'When it was closed.' })
  closedAt: Date;
}

@ObjectType({ description: 'The revenue policy of a product.' })
export class ProductRevenuePolicy {
  @Field({ description: 'The product sku.' })
  sku: string;

  @Field(() => RevenuePattern, { nullable: true, description: 'The pattern overriding the default from kind and model; null = the default.' })
  pattern: RevenuePattern | null;

  @Field({ description: 'Whether a bundle is split into one obligation per component.' })
  splitBundle: boolean;
}

@ObjectType({ description: 'The outcome of a usage recognition run.' })
export class UsageRecognition {
  @Field({ description: 'The month (YYYY-MM).' })
  month: string;

  @Field({ description: 'AS_CONSUMED obligations looked at.' })
  obligations: number;

  @Field({ description: 'Entries added (0 on a re-run with no new usage).' })
  entries: number;
}

