import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { Column, CreateDateColumn, Entity, PrimaryColumn, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { MonetizationModel } from '../catalog/catalog.enums';
import { decimalTransformer } from '../common/decimal';
import { EntitlementStatus, OveragePolicy, ResetPeriod } from './entitlement.enums';

@ObjectType({ description: 'The right of an account to a product and its features, under one monetization model.' })
@Entity('entitlement')
export class Entitlement {
  @Field(() => ID, { description: 'The entitlement id.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field(() => ID, { description: 'The account entitled.' })
  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @Field(() => ID, { description: 'The product granted.' })
  @Column('uuid', { name: 'product_id' })
  productId: string;

  @Field({ description: 'The sku of the product granted.' })
  @Column('text')
  sku: string;

  @Field(() => ID, { description: 'The order that granted it.' })
  @Column('uuid', { name: 'order_id' })
  orderId: string;

  @Field(() => ID, { description: 'The order line that granted it.' })
  @Column('uuid', { name: 'order_line_id' })
  orderLineId: string;

  @Field(() => MonetizationModel, { description: 'How it is sold and enforced.' })
  @Column('text')
  model: MonetizationModel;

  /** Stored state; the GraphQL `status` field resolves the effective state at read time. */
  @Column('text')
  status: EntitlementStatus;

  @Field(() => Float, { description: 'Quantity: devices, seats, floating licences, or units multiplying per-unit limits.' })
  @Column('numeric', { precision: 20, scale: 4, transformer: decimalTransformer })
  quantity: number;

  @Field({ description: 'First day of the term (YYYY-MM-DD, contract time zone).' })
  @Column('date', { name: 'start_date' })
  startDate: string;

  @Field(() => String, { nullable: true, description: 'Last day of the term, inclusive; null = perpetual.' })
  @Column('date', { name: 'end_date', nullable: true })
  endDate: string | null;

  @Field({ description: 'The instant the term starts.' })
  @Column('timestamptz', { name: 'starts_at' })
  startsAt: Date;

  @Field(() => Date, { nullable: true, description: 'The instant the term ends (the end of endDate); null = never.' })
  @Column('timestamptz', { name: 'ends_at', nullable: true })
  endsAt: Date | null;

  @Field(() => Int, { description: 'Days of grace after the end during which use is still allowed.' })
  @Column('int', { name: 'grace_days', default: 0 })
  graceDays: number;

  @Field(() => Date, { nullable: true, description: 'The instant the grace period ends; null = never.' })
  @Column('timestamptz', { name: 'grace_ends_at', nullable: true })
  graceEndsAt: Date | null;

  @Field(() => OveragePolicy, { nullable: true, description: 'For METERED (and soft-capped USAGE/OUTCOME): what happens past the limit.' })
  @Column('text', { name: 'overage_policy', nullable: true })
  overagePolicy: OveragePolicy | null;

  @Field(() => ResetPeriod, { nullable: true, description: 'For METERED: when the balance resets.' })
  @Column('text', { name: 'reset_period', nullable: true })
  resetPeriod: ResetPeriod | null;

  @Field(() => String, { nullable: true, description: 'Why it is suspended (collections, compliance hold...).' })
  @Column('text', { name: 'suspended_reason', nullable: true })
  suspendedReason: string | null;

  @Field(() => String, { nullable: true, description: 'Why it ended early (cancellation, upgrade, line removed).' })
  @Column('text', { name: 'ended_reason', nullable: true })
  endedReason: string | null;

  /** Bumped on every change (optimistic checks, certificates). */
  @Column('int', { default: 1 })
  version: number;

  @Field({ description: 'When it was granted.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'When it last changed.' })
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}

@ObjectType({ description: 'A feature an entitlement grants, with its total limit.' })
@Entity('entitlement_feature')
export class EntitlementFeature {
  @PrimaryColumn('uuid', { name: 'entitlement_id' })
  entitlementId: string;

  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @PrimaryColumn('uuid', { name: 'feature_id' })
  featureId: string;

  @Field({ description: 'The feature key.' })
  @Column('text', { name: 'feature_key' })
  featureKey: string;

  @Field(() => String, {
    nullable: true,
    description: 'Total limit (per reset period for METERED) as a decimal string; null = unlimited.',
  })
  @Column('numeric', { name: 'limit_total', nullable: true })
  limitTotal: string | null;
}

@ObjectType({ description: 'One change in an entitlement\'s history: who, what, when, and from which order line.' })
@Entity('entitlement_event')
export class EntitlementEvent {
  @Field(() => ID, { description: 'Sequential id.' })
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id: string;

  @Field(() => ID, { description: 'The entitlement.' })
  @Column('uuid', { name: 'entitlement_id' })
  entitlementId: string;

  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @Field({ description: 'When it happened.' })
  @Column({ type: 'timestamptz', precision: 3, default: () => 'now()' })
  at: Date;

  @Field({
    description: 'GRANTED, RENEWED, AMENDED, UPGRADED, CANCELLED, REMOVED, SUSPENDED, RESUMED, EXPIRED, STARTED or REVISED.',
  })
  @Column('text')
  kind: string;

  @Field(() => ID, { nullable: true, description: 'The order line behind the change, if any.' })
  @Column('uuid', { name: 'order_line_id', nullable: true })
  orderLineId: string | null;

  @Field(() => String, { nullable: true, description: 'The API key that made the change (null for jobs and the CLI).' })
  @Column('uuid', { name: 'key_id', nullable: true })
  keyId: string | null;

  @Field(() => String, { nullable: true, description: 'The request id.' })
  @Column('text', { name: 'request_id', nullable: true })
  requestId: string | null;

  @Field(() => String, { nullable: true, description: 'A note (e.g. the suspension reason).' })
  @Column('text', { nullable: true })
  note: string | null;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The entitlement before the change.' })
  @Column('jsonb', { nullable: true })
  before: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The entitlement after the change.' })
  @Column('jsonb', { nullable: true })
  after: unknown;
}
