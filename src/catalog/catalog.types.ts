import { ArgsType, Field, Float, InputType, Int } from 'type-graphql';
import { IsOptional, Length, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { MoneyInput } from '../common/money';
import { ConnectionType, PageArgs } from '../common/pagination';
import { Feature, Meter, Product } from './catalog.entities';
import { CatalogStatus, MeterAggregation, MonetizationModel, ProductKind } from './catalog.enums';
import { FEATURE_KEY_PATTERN, METER_KEY_PATTERN, SKU_PATTERN, VALUE_PROPERTY_PATTERN } from './catalog.rules';

@InputType({ description: 'A feature a product grants.' })
export class ProductFeatureInput {
  @Field({ description: 'The feature key (the feature must exist).' })
  @Matches(FEATURE_KEY_PATTERN, { message: 'must be a feature key: lower-case letters, digits, ".", "_" or "-"' })
  key: string;

  @Field(() => Float, { nullable: true, description: 'The limit per unit of the product (≥ 0); null or omitted means unlimited.' })
  @IsOptional()
  @Min(0)
  @Max(1e15)
  limit?: number | null;
}

@InputType({ description: 'A component of a bundle.' })
export class ProductComponentInput {
  @Field({ description: 'The sku of the component product (it must exist).' })
  @Matches(SKU_PATTERN, { message: 'must be 1–100 characters without leading or trailing spaces' })
  sku: string;

  @Field(() => Int, { description: 'Units of the component in one unit of the bundle (a positive integer).' })
  @Min(1)
  @Max(1_000_000)
  quantity: number;
}

@InputType({
  description:
    'A product to create or update, by sku. Omitted optional fields keep their stored value (null clears it); `features` and `components`, when given, replace the whole list.',
})
export class UpsertProductInput {
  @Field({ description: 'The unique sku (1–100 characters, no leading or trailing spaces).' })
  @Matches(SKU_PATTERN, { message: 'must be 1–100 characters without leading or trailing spaces' })
  sku: string;

  @Field({ description: 'The product name.' })
  @Length(1, 200)
  name: string;

  @Field(() => String, { nullable: true, description: 'A longer description.' })
  @IsOptional()
  @MaxLength(10_000)
  description?: string | null;

  @Field(() => ProductKind, { description: 'What kind of thing the product is.' })
  kind: ProductKind;

  @Field(() => MoneyInput, { description: 'The list price of one unit (≥ 0).' })
  @ValidateNested()
  listPrice: MoneyInput;

  @Field(() => MoneyInput, { nullable: true, description: 'The standalone selling price of one unit, in the list price\'s currency.' })
  @IsOptional()
  @ValidateNested()
  ssp?: MoneyInput | null;

  @Field(() => MonetizationModel, { description: 'The monetization model orders use when a line does not name one.' })
  defaultModel: MonetizationModel;

  @Field(() => [ProductFeatureInput], { nullable: true, description: 'The features the product grants; replaces the current list when given.' })
  @IsOptional()
  @ValidateNested({ each: true })
  features?: ProductFeatureInput[] | null;

  @Field(() => [ProductComponentInput], {
    nullable: true,
    description: 'The component products when this product is a bundle; replaces the current list when given (an empty list makes it a plain product).',
  })
  @IsOptional()
  @ValidateNested({ each: true })
  components?: ProductComponentInput[] | null;
}

@InputType({ description: 'A feature to create or update, by key. An omitted description keeps its stored value.' })
export class UpsertFeatureInput {
  @Field({ description: 'The unique key, e.g. `analytics.export`: lower-case letters, digits, ".", "_" and "-", up to 100 characters.' })
  @Matches(FEATURE_KEY_PATTERN, { message: 'must start with a lower-case letter or digit and hold only a-z, 0-9, ".", "_" or "-" (up to 100)' })
  key: string;

  @Field({ description: 'The feature name.' })
  @Length(1, 200)
  name: string;

  @Field(() => String, { nullable: true, description: 'A longer description.' })
  @IsOptional()
  @MaxLength(10_000)
  description?: string | null;
}

@InputType({ description: 'A meter to create or update, by key. Omitted optional fields keep their stored value (null clears it).' })
export class UpsertMeterInput {
  @Field({ description: 'The unique key usage events name, e.g. `api.calls`.' })
  @Matches(METER_KEY_PATTERN, { message: 'must start with a lower-case letter or digit and hold only a-z, 0-9, ".", "_" or "-" (up to 100)' })
  key: string;

  @Field({ description: 'The meter name.' })
  @Length(1, 200)
  name: string;

  @Field(() => MeterAggregation, { description: 'How events are aggregated over a period.' })
  aggregation: MeterAggregation;

  @Field({ description: 'The unit of the aggregated figure, e.g. `GB` or `calls`.' })
  @Length(1, 50)
  unit: string;

  @Field(() => String, {
    nullable: true,
    description: 'The event property that holds the value; required for UNIQUE_COUNT; null means the event\'s own quantity.',
  })
  @IsOptional()
  @Matches(VALUE_PROPERTY_PATTERN, { message: 'must be a property name: letters, digits, ".", "_" or "-" (up to 100)' })
  valueProperty?: string | null;

  @Field(() => String, { nullable: true, description: 'The key of the feature whose entitlement this meter\'s usage draws on.' })
  @IsOptional()
  @Matches(FEATURE_KEY_PATTERN, { message: 'must be a feature key' })
  featureKey?: string | null;
}

@ArgsType()
export class ProductsArgs extends PageArgs {
  @Field(() => String, { nullable: true, description: 'Only products whose sku or name contains this text (case-insensitive).' })
  @IsOptional()
  @MaxLength(200)
  search?: string | null;

  @Field(() => ProductKind, { nullable: true, description: 'Only products of this kind.' })
  kind?: ProductKind | null;

  @Field(() => CatalogStatus, { nullable: true, description: 'Only products in this status (default: all).' })
  status?: CatalogStatus | null;
}

@ArgsType()
export class CatalogListArgs extends PageArgs {
  @Field(() => String, { nullable: true, description: 'Only items whose key or name contains this text (case-insensitive).' })
  @IsOptional()
  @MaxLength(200)
  search?: string | null;

  @Field(() => CatalogStatus, { nullable: true, description: 'Only items in this status (default: all).' })
  status?: CatalogStatus | null;
}

export const ProductConnection = ConnectionType(Product);
export const FeatureConnection = ConnectionType(Feature);
export const MeterConnection = ConnectionType(Meter);
