import { Field, ID, Int, ObjectType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { Money, money } from '../common/money';
import { FindingKind, FindingStatus, NotificationType } from './compliance.enums';

@ObjectType({
  description:
    'A compliance finding: overuse, shelfware, unentitled or expired use, or devices over the limit, in one period, ' +
    'with its quantities and estimated revenue leakage. One per kind, account, entitlement, feature, meter and period: ' +
    'a re-run of the compliance job updates it instead of adding another.',
})
@Entity('compliance_finding')
export class ComplianceFinding {
  @Field(() => ID, { description: 'The finding id.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field(() => FindingKind, { description: 'What was found.' })
  @Column('text')
  kind: FindingKind;

  @Field(() => ID, { description: 'The account.' })
  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @Field(() => ID, {
    nullable: true,
    description: 'The entitlement concerned: the one overused, underused or over its device limit, or the one that had ended (EXPIRED_USE); null for UNENTITLED_USE.',
  })
  @Column('uuid', { name: 'entitlement_id', nullable: true })
  entitlementId: string | null;

  @Field(() => String, { nullable: true, description: 'The feature key; null when the finding is about the entitlement as a whole (seats, leases, devices, no use at all).' })
  @Column('text', { name: 'feature_key', nullable: true })
  featureKey: string | null;

  @Field(() => ID, { nullable: true, description: 'The meter whose usage was measured, when the figure comes from one meter.' })
  @Column('uuid', { name: 'meter_id', nullable: true })
  meterId: string | null;

  @Field(() => String, { nullable: true, description: 'The key of that meter.' })
  @Column('text', { name: 'meter_key', nullable: true })
  meterKey: string | null;

  @Field({ description: 'Start of the period (a reset period, a calendar month, or an underuse window), inclusive.' })
  @Column('timestamptz', { name: 'period_start' })
  periodStart: Date;

  @Field(() => Date, { nullable: true, description: 'End of the period, exclusive; null for an open-ended TERM period.' })
  @Column('timestamptz', { name: 'period_end', nullable: true })
  periodEnd: Date | null;

  @Field({ description: 'The unit of entitled, used and over: a meter unit, `units`, `users`, `leases` or `devices`.' })
  @Column('text')
  unit: string;

  @Field(() => String, { nullable: true, description: 'The entitled amount for the period (decimal string); null when none applies (unentitled use, unlimited).' })
  @Column('numeric', { nullable: true })
  entitled: string | null;

  @Field({ description: 'The amount used in the period (decimal string).' })
  @Column('numeric')
  used: string;

  @Field({ description: 'The amount beyond the entitlement (decimal string); 0 for UNDERUSE.' })
  @Column('numeric')
  over: string;

  @Field(() => String, { nullable: true, description: 'UNDERUSE: used ÷ entitled over the window, 0–1 (decimal string).' })
  @Column('numeric', { nullable: true })
  utilization: string | null;

  @Column('bigint', { name: 'leakage_minor', nullable: true })
  leakageMinor: string | null;

  @Column('char', { length: 3, nullable: true })
  currency: string | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'The inputs of the leakage estimate: formula, product, list price, price per unit, days of use...',
  })
  @Column('jsonb', { nullable: true })
  pricing: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'DUPLICATE_SOURCE: the deal\'s copies — `granting` and `skipped`, each with its connection, system, order source and external id — and `reason`.',
  })
  @Column('jsonb', { nullable: true })
  details: Record<string, unknown> | null;

  @Field(() => FindingStatus, { description: 'OPEN, ACKNOWLEDGED or RESOLVED.' })
  @Column('text')
  status: FindingStatus;

  @Field(() => String, { nullable: true, description: 'The note given with the last status change.' })
  @Column('text', { name: 'status_note', nullable: true })
  statusNote: string | null;

  @Field(() => Date, { nullable: true, description: 'When the status last changed (null: never, still as first opened).' })
  @Column('timestamptz', { name: 'status_changed_at', nullable: true })
  statusChangedAt: Date | null;

  @Field(() => ID, { nullable: true, description: 'The API key that last changed the status; null when the compliance run did.' })
  @Column('uuid', { name: 'status_changed_by_key_id', nullable: true })
  statusChangedByKeyId: string | null;

  @Field({ description: 'True when the compliance run resolved it because the condition no longer held; it reopens if the condition returns.' })
  @Column('boolean', { name: 'auto_resolved' })
  autoResolved: boolean;

  @Field({ description: 'When a compliance run first found it.' })
  @Column('timestamptz', { name: 'first_seen_at' })
  firstSeenAt: Date;

  @Field({ description: 'When a compliance run last found it.' })
  @Column('timestamptz', { name: 'last_seen_at' })
  lastSeenAt: Date;

  @Field({ description: 'When the finding was created.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'When the finding last changed.' })
  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;

  @Field(() => Money, {
    nullable: true,
    description: 'Estimated revenue leakage at list price (0 for UNDERUSE); null when no product grants the feature, so it cannot be priced.',
  })
  get leakage(): Money | null {
    return money(this.leakageMinor, this.currency);
  }
}

@ObjectType({ description: 'A notification the hub raised as a webhook event: never raised twice for the same key.' })
@Entity('notification')
export class Notification {
  @Field(() => ID, { description: 'The notification id.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field(() => ID, { description: 'The account it is about.' })
  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @Field(() => NotificationType, { description: 'The webhook event type.' })
  @Column('text')
  type: NotificationType;

  @Field({
    description:
      'The deterministic key (also the webhook idempotency key), e.g. `usage.threshold:<entitlement>:<feature>:<period start>:80`.',
  })
  @Column('text')
  key: string;

  @Field(() => ID, { nullable: true, description: 'The entitlement concerned.' })
  @Column('uuid', { name: 'entitlement_id', nullable: true })
  entitlementId: string | null;

  @Field(() => String, { nullable: true, description: 'The feature concerned (consumption thresholds and overage).' })
  @Column('text', { name: 'feature_key', nullable: true })
  featureKey: string | null;

  @Field(() => Date, { nullable: true, description: 'Start of the period concerned (a reset period, or the term for expiry).' })
  @Column('timestamptz', { name: 'period_start', nullable: true })
  periodStart: Date | null;

  @Field(() => Date, { nullable: true, description: 'End of that period (exclusive).' })
  @Column('timestamptz', { name: 'period_end', nullable: true })
  periodEnd: Date | null;

  @Field(() => String, { nullable: true, description: 'The threshold crossed: a percentage (usage.threshold) or a number of days (entitlement.expiring).' })
  @Column('numeric', { nullable: true })
  threshold: string | null;

  @Field({
    description:
      'True when a higher threshold was crossed at the same time: the notification is recorded (so it is never raised later) but no webhook was sent for it.',
  })
  @Column('boolean')
  superseded: boolean;

  @Field(() => Int, { description: 'Webhook deliveries queued for it (one per subscribed endpoint; 0 when none subscribes).' })
  @Column('int', { name: 'deliveries_queued' })
  deliveriesQueued: number;

  @Field(() => GraphQLJSONObject, { description: 'The webhook payload, as sent.' })
  @Column('jsonb')
  payload: Record<string, unknown>;

  @Field({ description: 'When it was raised.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;
}

/** Entities of the compliance domain. */
export const complianceEntities: Function[] = [ComplianceFinding, Notification];
