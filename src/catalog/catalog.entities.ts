import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, PrimaryColumn, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { Money, money } from '../common/money';
import { CatalogStatus, MeterAggregation, MonetizationModel, ProductKind } from './catalog.enums';

@ObjectType({ description: 'Something the vendor sells: software, hardware, a device, a service, support, or a bundle of products.' })
@Entity('product')
export class Product {
  @Field(() => ID, { description: 'The product id.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field({ description: 'The stock-keeping unit: the product\'s unique business key, as the CRM and ERP know it.' })
  @Column('text', { unique: true })
  sku: string;

  @Field({ description: 'The product name.' })
  @Column('text')
  name: string;

  @Field(() => String, { nullable: true, description: 'A longer description.' })
  @Column('text', { nullable: true })
  description: string | null;

  @Field(() => ProductKind, { description: 'What kind of thing the product is.' })
  @Column('text')
  kind: ProductKind;

  /** ISO 4217 currency of both prices. */
  @Column('char', { length: 3 })
  currency: string;

  @Column('bigint', { name: 'list_price_minor' })
  listPriceMinor: string;

  @Column('bigint', { name: 'ssp_minor', nullable: true })
  sspMinor: string | null;

  @Field(() => MonetizationModel, { description: 'The monetization model orders use when a line does not name one.' })
  @Column('text', { name: 'default_model' })
  defaultModel: MonetizationModel;

  @Field(() => CatalogStatus, { description: 'ACTIVE, or ARCHIVED when no longer offered.' })
  @Column('text', { default: CatalogStatus.ACTIVE })
  status: CatalogStatus;

  @Field({ description: 'When the product was created.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'When the product, its features or its components last changed.' })
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt: Date;

  @Field(() => Money, { description: 'The list price of one unit.' })
  get listPrice(): Money {
    return money(this.listPriceMinor, this.currency)!;
  }

  @Field(() => Money, {
    nullable: true,
    description: 'The standalone selling price of one unit (for revenue allocation); null when not set.',
  })
  get ssp(): Money | null {
    return money(this.sspMinor, this.currency);
  }
}

@ObjectType({ description: 'A capability that products grant and licensing clients check, by its key.' })
@Entity('feature')
export class Feature {
  @Field(() => ID, { description: 'The feature id.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field({ description: 'The unique key clients check, e.g. `analytics.export`.' })
  @Column('text', { unique: true })
  key: string;

  @Field({ description: 'The feature name.' })
  @Column('text')
  name: string;

  @Field(() => String, { nullable: true, description: 'A longer description.' })
  @Column('text', { nullable: true })
  description: string | null;

  @Field(() => CatalogStatus, { description: 'ACTIVE, or ARCHIVED when no longer offered.' })
  @Column('text', { default: CatalogStatus.ACTIVE })
  status: CatalogStatus;

  @Field({ description: 'When the feature was created.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'When the feature last changed.' })
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}

/**
 * A feature a product grants, with its limit per unit of the product (null = unlimited).
 * The same GraphQL type carries a bundle's flattened `effectiveFeatures`.
 */
@ObjectType({ description: 'A feature a product grants, and how much of it one unit of the product allows.' })
@Entity('product_feature')
export class ProductFeature {
  @PrimaryColumn('uuid', { name: 'product_id' })
  productId: string;

  @PrimaryColumn('uuid', { name: 'feature_id' })
  featureId: string;

  /** A decimal string (PostgreSQL numeric), never a float. */
  @Field(() => String, {
    nullable: true,
    description: 'The limit per unit of the product, as a decimal string (e.g. "5" or "2.5"); null means unlimited.',
  })
  @Column('numeric', { name: 'limit_per_unit', nullable: true })
  limit: string | null;
}

@ObjectType({ description: 'One component of a bundle: a product and how many units of it one bundle holds.' })
@Entity('product_component')
export class ProductComponent {
  @PrimaryColumn('uuid', { name: 'bundle_id' })
  bundleId: string;

  @PrimaryColumn('uuid', { name: 'component_id' })
  componentId: string;

  @Field(() => Int, { description: 'Units of the component product in one unit of the bundle.' })
  @Column('int')
  quantity: number;
}

@ObjectType({ description: 'A measure of usage that usage events report against, e.g. API calls or GB stored.' })
@Entity('meter')
export class Meter {
  @Field(() => ID, { description: 'The meter id.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field({ description: 'The unique key usage events name, e.g. `api.calls`.' })
  @Column('text', { unique: true })
  key: string;

  @Field({ description: 'The meter name.' })
  @Column('text')
  name: string;

  @Field(() => MeterAggregation, { description: 'How events are aggregated over a period.' })
  @Column('text')
  aggregation: MeterAggregation;

  @Field({ description: 'The unit of the aggregated figure, e.g. `GB` or `calls`.' })
  @Column('text')
  unit: string;

  @Field(() => String, {
    nullable: true,
    description:
      'The event property that holds the value (for UNIQUE_COUNT: whose distinct values are counted); null means the event\'s own quantity. Ignored by COUNT.',
  })
  @Column('text', { name: 'value_property', nullable: true })
  valueProperty: string | null;

  /** The feature whose entitlement this meter's usage draws on (see featureKey). */
  @Column('uuid', { name: 'feature_id', nullable: true })
  featureId: string | null;

  @Field(() => CatalogStatus, { description: 'ACTIVE, or ARCHIVED when no longer used.' })
  @Column('text', { default: CatalogStatus.ACTIVE })
  status: CatalogStatus;

  @Field({ description: 'When the meter was created.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'When the meter last changed.' })
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}

export const catalogEntities: Function[] = [Product, Feature, ProductFeature, ProductComponent, Meter];
