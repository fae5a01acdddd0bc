import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Money } from '../common/money';
import { MonetizationModel, PricingModel } from '../catalog/catalog.enums';

export enum ModelFitStatus {
  FITTED = 'FITTED',
  INSUFFICIENT_USAGE = 'INSUFFICIENT_USAGE',
  NO_PRICES = 'NO_PRICES',
}

export enum BaselineSourceEnum {
  CATALOG = 'CATALOG',
  PAID = 'PAID',
}

registerEnumType(ModelFitStatus, {
  name: 'ModelFitStatus',
  description: 'Whether a product could be analysed.',
  valuesConfig: {
    FITTED: { description: 'Analysed: charges and a recommendation.' },
    INSUFFICIENT_USAGE: { description: 'Less usage history in the window than the minimum (EHUB_MODEL_FIT_MIN_DAYS, default 90 days).' },
    NO_PRICES: { description: "The product has no model prices in its currency (setProductModelPrices)." },
  },
});

registerEnumType(BaselineSourceEnum, {
  name: 'ModelFitBaselineSource',
  description: 'What a recommendation is compared with.',
  valuesConfig: {
    CATALOG: { description: 'The current model re-rated at catalog prices.' },
    PAID: { description: 'What the order lines charged for the analysis period, per year (the current model has no catalog price).' },
  },
});

@ObjectType({ description: 'The usage behind a model-fit analysis, over the analysis period (first usage in the window → yesterday).' })
export class UsageShape {
  @Field(() => Int, { description: 'Days from the first usage in the window to the end of the window.' })
  historyDays: number;
  @Field(() => Int, { description: 'Days with any usage.' })
  activeDays: number;
  @Field(() => Int, { description: 'Distinct users over the period.' })
  distinctUsers: number;
  @Field(() => Int, { description: 'The most distinct users in one calendar month (what named-user seats must cover).' })
  peakMonthlyUsers: number;
  @Field(() => Int, { description: 'The most distinct users in one clock hour, or floating leases held at once, whichever is larger.' })
  peakConcurrentUsers: number;
  @Field(() => Float, { description: 'Distinct users per day, averaged over every day of the period.' })
  averageDailyActiveUsers: number;
  @Field(() => Int, { description: 'The most distinct users in one day.' })
  peakDailyActiveUsers: number;
  @Field(() => Float, { nullable: true, description: 'Peak ÷ average daily active users; null without users.' })
  peakToAverage: number | null;
  @Field(() => Float, { nullable: true, description: 'Named and concurrent seats of the live entitlements; null when there are none.' })
  seatsOwned: number | null;
  @Field(() => Int, { description: 'Distinct users in the last 30 days.' })
  activeUsersLast30Days: number;
  @Field(() => Float, { nullable: true, description: 'Share of the seats owned not used in the last 30 days (0–1); null without seats.' })
  idleSeatShare: number | null;
  @Field(() => Float, { nullable: true, description: 'Burstiness: the coefficient of variation of daily events (0 = flat, above 1 = spiky); null without events.' })
  burstiness: number | null;
  @Field(() => Int, { description: 'Distinct devices over the period.' })
  distinctDevices: number;
  @Field(() => Int, { description: 'The most distinct devices in one calendar month.' })
  peakMonthlyDevices: number;
  @Field(() => [MeterUnits], { description: 'Billable units per SUM or COUNT meter over the period.' })
  meterUnits: MeterUnits[];
}

@ObjectType({ description: 'Units of one meter.' })
export class MeterUnits {
  @Field({ description: 'The meter key.' })
  meterKey: string;
  @Field({ description: 'A decimal string.' })
  units: string;
}

@ObjectType({ description: 'What one priced model would have charged for a year of this usage.' })
export class ModelCharge {
  @Field(() => PricingModel, { description: 'The model re-rated.' })
  model: PricingModel;
  @Field({ description: 'Whether the usage had what this model is rated on (users, devices, the meter).' })
  rateable: boolean;
  @Field({ description: 'How the charge was worked out, or why it could not be.' })
  explanation: string;
  @Field(() => String, { nullable: true, description: 'The observed driver: users, devices or annualised meter units.' })
  unitsNeeded: string | null;
  @Field(() => String, { nullable: true, description: 'What would be bought: capacity with headroom in whole units, or the annualised units.' })
  unitsRated: string | null;
  @Field(() => Money, { nullable: true, description: 'The charge per year at catalog prices.' })
  charge: Money | null;
}

@ObjectType({ description: 'Model fit of one product of an account.' })
export class ProductModelFit {
  @Field(() => ID, { description: 'The product.' })
  productId: string;
  @Field({ description: 'The product sku.' })
  sku: string;
  @Field({ description: 'The product name.' })
  productName: string;
  @Field(() => ModelFitStatus, { description: 'FITTED, or why the product could not be analysed.' })
  status: ModelFitStatus;
  @Field(() => MonetizationModel, { description: 'The model the account holds the product in now (else last held).' })
  currentModel: MonetizationModel;
  @Field(() => String, { nullable: true, description: 'First day of the analysis period (the first usage in the window), YYYY-MM-DD.' })
  periodFrom: string | null;
  @Field({ description: 'Last day of the analysis period (yesterday, UTC), YYYY-MM-DD.' })
  periodTo: string;
  @Field(() => [Money], { description: 'What the order lines charged for the analysis period, per currency.' })
  paid: Money[];
  @Field(() => Money, { nullable: true, description: "What was paid, per year, in the product's currency." })
  paidPerYear: Money | null;
  @Field(() => UsageShape, { nullable: true, description: 'The usage shape; null without usage.' })
  usageShape: UsageShape | null;
  @Field(() => [ModelCharge], { description: 'Each priced model re-rated (empty unless FITTED).' })
  charges: ModelCharge[];
  @Field({ description: 'KEEP, or the model recommended.' })
  recommendation: string;
  @Field(() => PricingModel, { nullable: true, description: 'The model recommended; null when keeping the current one.' })
  recommendedModel: PricingModel | null;
  @Field(() => Money, { nullable: true, description: 'What the recommendation is compared with, per year.' })
  baseline: Money | null;
  @Field(() => BaselineSourceEnum, { nullable: true, description: 'Where the baseline comes from; null when there is nothing to compare with.' })
  baselineSource: BaselineSourceEnum | null;
  @Field(() => Money, { nullable: true, description: 'Baseline − the recommended model, per year; null when keeping.' })
  annualSaving: Money | null;
  @Field({ description: 'Why, in words.' })
  reason: string;
}

@ObjectType({ description: "An account's monetization-model fit: every product it held in the last 365 days, re-rated under each priced model (docs/model-fit.md)." })
export class AccountModelFit {
  @Field(() => ID, { description: 'The account.' })
  accountId: string;
  @Field({ description: 'First day of the window, YYYY-MM-DD.' })
  windowFrom: string;
  @Field({ description: 'Last day of the window (yesterday, UTC), YYYY-MM-DD.' })
  windowTo: string;
  @Field(() => String, { nullable: true, description: 'KEEP, or the change with the largest annual saving (what the CRM field shows); null when no product could be analysed.' })
  summary: string | null;
  @Field(() => [ProductModelFit], { description: 'One entry per product held in the window, by sku.' })
  products: ProductModelFit[];
  @Field(() => Date, {
    nullable: true,
    description: 'When this analysis was made and stored (the daily job or `recomputeModelFit`); null when it was computed for this request.',
  })
  analysedAt?: Date | null;
}
