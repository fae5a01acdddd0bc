import { ArgsType, Field, Float, ID, InputType, Int } from 'type-graphql';
import { LocalDateResolver } from 'graphql-scalars';
import { ArrayMaxSize, ArrayMinSize, IsOptional, IsUUID, Length, Matches, Max, Min, ValidateNested } from 'class-validator';
import { MonetizationModel } from '../catalog/catalog.enums';
import { ExternalRefInput } from '../accounts/account.types';
import { ConnectionType, PageArgs } from '../common/pagination';
import { MinorAmountScalar } from '../common/money';
import { EntitlementStatus, OrderLineAction, OveragePolicy, ResetPeriod } from '../entitlements/entitlement.enums';
import { Entitlement } from '../entitlements/entitlement.entity';
import { Order } from './order.entity';
import { ContractTermsInput } from '../support/support.types';

@InputType({ description: 'A feature limit on an order line: the total for the line (per reset period for METERED).' })
export class FeatureLimitInput {
  @Field({ description: 'The feature key.' })
  @Length(1, 100)
  feature: string;

  @Field(() => Float, { nullable: true, description: 'The total limit; null = unlimited.' })
  @IsOptional()
  @Min(0)
  @Max(1e15)
  limit?: number | null;
}

@InputType({ description: 'One line of an order.' })
export class OrderLineInput {
  @Field(() => Int, { description: 'The line number, unique in the order and stable across revisions.' })
  @Min(1)
  @Max(100_000)
  lineNo: number;

  @Field(() => String, { nullable: true, description: 'The line id in the source system (e.g. an OpportunityLineItem id), usable as a line reference.' })
  @IsOptional()
  @Length(1, 255)
  externalLineId?: string | null;

  @Field({ description: 'The product sku (it must exist in the catalog).' })
  @Length(1, 100)
  sku: string;

  @Field(() => Float, { description: 'Quantity: units, devices, seats or floating licences. > 0 except on CANCELLATION.' })
  @Min(0)
  @Max(1e12)
  quantity: number;

  @Field(() => MinorAmountScalar, { description: 'Unit price in minor units of the order currency.' })
  unitPrice: string;

  @Field(() => MinorAmountScalar, { nullable: true, description: 'Standalone selling price per unit in minor units, overriding the catalog SSP for revenue allocation.' })
  @IsOptional()
  ssp?: string | null;

  @Field(() => MinorAmountScalar, { nullable: true, description: 'METERED: price per unit of overage in minor units (>= 0); the overage drawn in a month × this price is recognised as revenue in that month.' })
  @IsOptional()
  overageUnitPrice?: string | null;

  @Field(() => LocalDateResolver, { description: 'First day of service (YYYY-MM-DD).' })
  startDate: string;

  @Field(() => LocalDateResolver, { nullable: true, description: 'Last day of service, inclusive; omitted = perpetual.' })
  @IsOptional()
  endDate?: string | null;

  @Field(() => MonetizationModel, { nullable: true, description: 'The monetization model; defaults to the product\'s.' })
  @IsOptional()
  model?: MonetizationModel | null;

  @Field(() => OrderLineAction, { defaultValue: OrderLineAction.NEW, description: 'What the line does.' })
  action: OrderLineAction = OrderLineAction.NEW;

  @Field(() => String, {
    nullable: true,
    description:
      'For RENEWAL: the line renewed, as its externalLineId, `<externalId>#<lineNo>` (same source) or `<source>:<externalId>#<lineNo>`.',
  })
  @IsOptional()
  @Length(1, 600)
  renewsLineRef?: string | null;

  @Field(() => String, { nullable: true, description: 'For AMENDMENT, CANCELLATION and UPGRADE: the line changed (same forms as renewsLineRef).' })
  @IsOptional()
  @Length(1, 600)
  amendsLineRef?: string | null;

  @Field(() => OveragePolicy, { nullable: true, description: 'METERED (and soft-capped USAGE/OUTCOME): past the limit. Default BLOCK for METERED, ALLOW otherwise.' })
  @IsOptional()
  overagePolicy?: OveragePolicy | null;

  @Field(() => ResetPeriod, { nullable: true, description: 'METERED: when the balance resets. Default MONTHLY.' })
  @IsOptional()
  resetPeriod?: ResetPeriod | null;

  @Field(() => [FeatureLimitInput], { nullable: true, description: 'Limits per feature, overriding quantity × the product\'s per-unit limits.' })
  @IsOptional()
  @ArrayMaxSize(200)
  @ValidateNested({ each: true })
  limits?: FeatureLimitInput[] | null;

  @Field(() => Int, { nullable: true, description: 'Days of grace after the end date (default 0).' })
  @IsOptional()
  @Min(0)
  @Max(3650)
  graceDays?: number | null;

  @Field(() => ContractTermsInput, {
    nullable: true,
    description: 'Contract terms (maintenance, support, warranty, cases, after expiry) for the entitlement the line shapes; omitted on a renewal or amendment = the entitlement keeps its terms.',
  })
  @IsOptional()
  @ValidateNested()
  terms?: ContractTermsInput | null;
}

@InputType({ description: 'One invoice of an order\'s billing schedule.' })
export class InvoiceScheduleInput {
  @Field(() => LocalDateResolver, { description: 'The invoice date.' })
  date: string;

  @Field(() => MinorAmountScalar, { description: 'The amount invoiced, in minor units of the order currency.' })
  amountMinor: string;
}

@InputType({ description: 'An order to fulfil. Idempotent on (source, externalId, revision).' })
export class OrderInput {
  @Field({ description: 'Where the order comes from, e.g. `salesforce`, `netsuite`, `manual`.' })
  @Length(1, 100)
  @Matches(/^[a-z0-9][a-z0-9._-]*$/i, { message: 'source must be letters, digits, ".", "_" or "-"' })
  source: string;

  @Field({ description: 'The order id in the source system.' })
  @Length(1, 255)
  externalId: string;

  @Field(() => Int, { defaultValue: 1, description: 'The revision; a higher one applies the difference, a lower one is a CONFLICT.' })
  @Min(1)
  revision: number = 1;

  @Field(() => ID, { nullable: true, description: 'The account, by id (or give accountRef).' })
  @IsOptional()
  @IsUUID()
  accountId?: string | null;

  @Field(() => ExternalRefInput, { nullable: true, description: 'The account, by external reference (e.g. its Salesforce Account id).' })
  @IsOptional()
  @ValidateNested()
  accountRef?: ExternalRefInput | null;

  @Field(() => LocalDateResolver, { description: 'The order date.' })
  orderDate: string;

  @Field({ description: 'ISO 4217 currency of the prices.' })
  @Matches(/^[A-Z]{3}$/, { message: 'currency must be an ISO 4217 code of three capital letters' })
  currency: string;

  @Field(() => [OrderLineInput], { description: 'The lines (at least one, at most 1,000).' })
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  lines: OrderLineInput[];

  @Field(() => [InvoiceScheduleInput], { nullable: true, description: 'Billing: the invoices of the order; omitted = one invoice of the whole order on the order date.' })
  @IsOptional()
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  invoiceSchedule?: InvoiceScheduleInput[] | null;
}

@InputType({ description: 'Filters for entitlements; all optional, combined with AND.' })
export class EntitlementFilterInput {
  @Field(() => ID, { nullable: true, description: 'Only this account.' })
  @IsOptional()
  @IsUUID()
  accountId?: string | null;

  @Field(() => EntitlementStatus, { nullable: true, description: 'Only this stored status.' })
  @IsOptional()
  status?: EntitlementStatus | null;

  @Field(() => MonetizationModel, { nullable: true, description: 'Only this model.' })
  @IsOptional()
  model?: MonetizationModel | null;

  @Field(() => String, { nullable: true, description: 'Only this sku.' })
  @IsOptional()
  sku?: string | null;

  @Field(() => String, { nullable: true, description: 'Only entitlements granting this feature key.' })
  @IsOptional()
  feature?: string | null;

  @Field(() => ID, { nullable: true, description: 'Only entitlements of this order.' })
  @IsOptional()
  @IsUUID()
  orderId?: string | null;

  @Field(() => Date, { nullable: true, description: 'Only entitlements whose term (with grace) covers this instant.' })
  @IsOptional()
  activeAt?: Date | null;
}

@ArgsType()
export class EntitlementListArgs extends PageArgs {
  @Field(() => EntitlementFilterInput, { nullable: true, description: 'Filters.' })
  @IsOptional()
  @ValidateNested()
  filter?: EntitlementFilterInput | null;
}

@ArgsType()
export class OrderListArgs extends PageArgs {
  @Field(() => ID, { nullable: true, description: 'Only this account.' })
  @IsOptional()
  @IsUUID()
  accountId?: string | null;

  @Field(() => String, { nullable: true, description: 'Only this source.' })
  @IsOptional()
  source?: string | null;

  @Field(() => String, { nullable: true, description: 'Only this external id.' })
  @IsOptional()
  externalId?: string | null;
}

export const OrderConnection = ConnectionType(Order);
export const EntitlementConnection = ConnectionType(Entitlement);
