import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { MonetizationModel } from '../catalog/catalog.enums';
import { OrderLineAction, OveragePolicy, ResetPeriod } from '../entitlements/entitlement.enums';
import { decimalTransformer } from '../common/decimal';
import type { CanonicalTerms } from '../support/terms';

/** A feature limit given on an order line: the total for the line, overriding quantity × per-unit. */
export interface LineLimit {
  feature: string;
  limit: string | null;
}

@ObjectType({ description: 'One line of an order.' })
@Entity('order_line')
export class OrderLine {
  @Field(() => ID, { description: 'The line id.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field(() => ID, { description: 'The order.' })
  @Column('uuid', { name: 'order_id' })
  orderId: string;

  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @Field(() => Int, { description: 'The line number within the order (stable across revisions).' })
  @Column('int', { name: 'line_no' })
  lineNo: number;

  @Field(() => String, { nullable: true, description: 'The line id in the source system (e.g. an OpportunityLineItem id).' })
  @Column('text', { name: 'external_line_id', nullable: true })
  externalLineId: string | null;

  @Field(() => ID, { description: 'The product ordered.' })
  @Column('uuid', { name: 'product_id' })
  productId: string;

  @Field({ description: 'The sku ordered.' })
  @Column('text')
  sku: string;

  @Field(() => OrderLineAction, { description: 'What the line does.' })
  @Column('text')
  action: OrderLineAction;

  @Field(() => MonetizationModel, { description: 'The monetization model of the entitlement.' })
  @Column('text')
  model: MonetizationModel;

  @Field(() => Float, { description: 'Quantity (units, devices, seats, floating licences...).' })
  @Column('numeric', { precision: 20, scale: 4, transformer: decimalTransformer })
  quantity: number;

  @Field(() => String, { description: 'Unit price in minor units of the order currency.' })
  @Column('bigint', { name: 'unit_price_minor' })
  unitPriceMinor: string;

  @Field(() => String, { nullable: true, description: 'Standalone selling price per unit (minor units) given on the line, overriding the catalog SSP.' })
  @Column('bigint', { name: 'ssp_minor', nullable: true })
  sspMinor: string | null;

  @Field(() => String, { nullable: true, description: 'METERED: price per unit of overage (minor units), recognised as revenue in the month the overage is drawn; null = overage not priced.' })
  @Column('bigint', { name: 'overage_unit_price_minor', nullable: true })
  overageUnitPriceMinor: string | null;

  @Field({ description: 'ISO 4217 currency.' })
  @Column('char', { length: 3 })
  currency: string;

  @Field({ description: 'First day of service (YYYY-MM-DD).' })
  @Column('date', { name: 'start_date' })
  startDate: string;

  @Field(() => String, { nullable: true, description: 'Last day of service, inclusive (YYYY-MM-DD); null = perpetual.' })
  @Column('date', { name: 'end_date', nullable: true })
  endDate: string | null;

  @Column('uuid', { name: 'renews_line_id', nullable: true })
  renewsLineId: string | null;

  @Column('uuid', { name: 'amends_line_id', nullable: true })
  amendsLineId: string | null;

  @Field(() => OveragePolicy, { nullable: true, description: 'Overage policy for metered lines.' })
  @Column('text', { name: 'overage_policy', nullable: true })
  overagePolicy: OveragePolicy | null;

  @Field(() => ResetPeriod, { nullable: true, description: 'Reset period for metered lines.' })
  @Column('text', { name: 'reset_period', nullable: true })
  resetPeriod: ResetPeriod | null;

  @Field(() => GraphQLJSON, { nullable: true, description: 'Feature limits given on the line: [{ feature, limit }].' })
  @Column('jsonb', { nullable: true })
  limits: LineLimit[] | null;

  @Field(() => GraphQLJSON, { nullable: true, description: 'Contract terms given on the line (ADR 0037); null = none given (the entitlement keeps its terms).' })
  @Column('jsonb', { nullable: true })
  terms: CanonicalTerms | null;

  @Field(() => Int, { description: 'Days of grace after the end date.' })
  @Column('int', { name: 'grace_days', default: 0 })
  graceDays: number;

  @Field({ description: 'ACTIVE, or REMOVED when a later revision dropped the line.' })
  @Column('text', { default: 'ACTIVE' })
  status: string;

  @Field(() => Int, { description: 'The order revision that last changed this line.' })
  @Column('int')
  revision: number;

  @Field({ description: 'When the line was created.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'When the line last changed.' })
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
