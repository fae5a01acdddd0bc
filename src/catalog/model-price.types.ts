import { Field, Float, InputType, Int, ObjectType } from 'type-graphql';
import { IsOptional, Matches, Max, Min, ValidateNested } from 'class-validator';
import { Money, MoneyInput } from '../common/money';
import { PricingModel } from './catalog.enums';
import { METER_KEY_PATTERN } from './catalog.rules';

@ObjectType({ description: 'The catalog price of a product under one model, for model-fit analysis (docs/model-fit.md).' })
export class ProductModelPrice {
  @Field(() => PricingModel, { description: 'The model this price is for.' })
  model: PricingModel;

  @Field(() => Money, {
    description: 'Per named user, concurrent user or device and year; per `perUnits` units of the meter (USAGE); the overage price per `perUnits` units beyond the included ones (HYBRID).',
  })
  unitPrice: Money;

  @Field(() => Int, { description: 'How many meter units `unitPrice` is for (USAGE, HYBRID); 1 otherwise.' })
  perUnits: number;

  @Field(() => String, { nullable: true, description: 'The meter whose units are priced (USAGE, HYBRID).' })
  meterKey: string | null;

  @Field(() => Money, { nullable: true, description: 'The yearly base fee (HYBRID).' })
  baseFee: Money | null;

  @Field(() => String, { nullable: true, description: 'Meter units included in the base fee per year, as a decimal string (HYBRID).' })
  includedUnits: string | null;

  @Field({ description: 'What the price is per, in words, e.g. "per named user and year".' })
  unit: string;

  @Field({ description: 'When this price was last set.' })
  updatedAt: Date;
}

@InputType({ description: 'The price of a product under one model.' })
export class ProductModelPriceInput {
  @Field(() => PricingModel, { description: 'The model (each at most once per product).' })
  model: PricingModel;

  @Field(() => MoneyInput, {
    description: "Per unit and year (NAMED_USER, CONCURRENT, DEVICE_LOCKED), per `perUnits` meter units (USAGE), or the overage price per `perUnits` units (HYBRID); in the product's currency.",
  })
  @ValidateNested()
  unitPrice: MoneyInput;

  @Field(() => Int, { nullable: true, description: 'Meter units the unit price is for (USAGE, HYBRID), e.g. 1000 for a price per thousand calls; default 1.' })
  @IsOptional()
  @Min(1)
  @Max(1_000_000_000)
  perUnits?: number | null;

  @Field(() => String, { nullable: true, description: 'The meter whose units are priced (required for USAGE and HYBRID; a SUM or COUNT meter).' })
  @IsOptional()
  @Matches(METER_KEY_PATTERN, { message: 'must be a meter key' })
  meterKey?: string | null;

  @Field(() => MoneyInput, { nullable: true, description: 'The yearly base fee (HYBRID only, required there).' })
  @IsOptional()
  @ValidateNested()
  baseFee?: MoneyInput | null;

  @Field(() => Float, { nullable: true, description: 'Meter units the base fee includes per year (HYBRID only, required there).' })
  @IsOptional()
  @Max(1e15)
  includedUnits?: number | null;
}
