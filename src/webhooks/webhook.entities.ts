import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

export enum WebhookEndpointStatus {
  ACTIVE = 'ACTIVE',
  DISABLED = 'DISABLED',
}

registerEnumType(WebhookEndpointStatus, {
  name: 'WebhookEndpointStatus',
  description: 'Whether an endpoint receives events.',
  valuesConfig: {
    ACTIVE: { description: 'New events are queued for it and its deliveries are sent.' },
    DISABLED: { description: 'No new events are queued for it; deliveries already queued wait until it is enabled again.' },
  },
});

export enum WebhookDeliveryStatus {
  PENDING = 'PENDING',
  DELIVERING = 'DELIVERING',
  DELIVERED = 'DELIVERED',
  FAILED = 'FAILED',
  DEAD = 'DEAD',
}

registerEnumType(WebhookDeliveryStatus, {
  name: 'WebhookDeliveryStatus',
  description: 'Where a delivery is in the outbox.',
  valuesConfig: {
    PENDING: { description: 'Queued, not tried yet (or replayed).' },
    DELIVERING: { description: 'Being sent right now.' },
    DELIVERED: { description: 'The receiver answered 2xx.' },
    FAILED: { description: 'The last attempt failed; it is retried at `nextAttemptAt`.' },
    DEAD: { description: 'Every attempt failed; it is not retried unless replayed (`lastError` says why).' },
  },
});

@ObjectType({ description: 'A URL that receives signed webhook events of the types it subscribes to. Its secret is shown once, at creation and rotation.' })
@Entity('webhook_endpoint')
export class WebhookEndpoint {
  @Field(() => ID, { description: 'The endpoint id.' })
  @PrimaryColumn('uuid')
  id: string;

  @Field({ description: 'Where events are POSTed (http or https).' })
  @Column('text')
  url: string;

  @Field(() => String, { nullable: true, description: 'A note for people: who runs the receiver and why.' })
  @Column('text', { nullable: true })
  description: string | null;

  @Field(() => [String], { description: 'The event types it receives (`*` = all).' })
  @Column('text', { name: 'event_types', array: true })
  eventTypes: string[];

  @Field(() => ID, { nullable: true, description: "When set, only this account's events are sent to it." })
  @Column('uuid', { name: 'account_id', nullable: true })
  accountId: string | null;

  @Field(() => WebhookEndpointStatus, { description: 'Whether it receives events.' })
  @Column('text')
  status: WebhookEndpointStatus;

  /** AES-256-GCM of the signing secret (see SecretBox); never exposed or audited. */
  @Column('bytea', { name: 'secret_ciphertext', select: false })
  secretCiphertext: Buffer;

  /** The secret before the last rotation, still signing until previousSecretExpiresAt. */
  @Column('bytea', { name: 'previous_secret_ciphertext', nullable: true, select: false })
  previousSecretCiphertext: Buffer | null;

  @Field(() => Date, { nullable: true, description: 'Until when deliveries also carry a signature with the previous secret (after a rotation).' })
  @Column('timestamptz', { name: 'previous_secret_expires_at', nullable: true })
  previousSecretExpiresAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the secret was last rotated.' })
  @Column('timestamptz', { name: 'secret_rotated_at', nullable: true })
  secretRotatedAt: Date | null;

  @Field(() => ID, { nullable: true, description: 'The API key that created it.' })
  @Column('uuid', { name: 'created_by_key_id', nullable: true })
  createdByKeyId: string | null;

  @Field({ description: 'When it was created.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'When it was last changed.' })
  @Column({ type: 'timestamptz', name: 'updated_at', precision: 3 })
  updatedAt: Date;

  @Field(() => Date, { nullable: true, description: 'When it was disabled (null while active).' })
  @Column('timestamptz', { name: 'disabled_at', nullable: true })
  disabledAt: Date | null;
}

@ObjectType({ description: 'An event the hub emitted; each subscribed endpoint gets one delivery of it.' })
@Entity('webhook_event')
export class WebhookEvent {
  @Field(() => ID, { description: 'The event id: `id` in the delivered body, the same for every endpoint.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field({ description: 'The event type, e.g. `usage.threshold`.' })
  @Column('text')
  type: string;

  @Field({ description: "The producer's idempotency key: the same key is one event however often it is emitted." })
  @Column('text')
  key: string;

  @Field(() => ID, { nullable: true, description: 'The account it is about (null for hub-wide events).' })
  @Column('uuid', { name: 'account_id', nullable: true })
  accountId: string | null;

  @Field(() => GraphQLJSON, { description: 'The event data: `data` in the delivered body.' })
  @Column('jsonb')
  payload: Record<string, unknown>;

  @Field({ description: 'When it was emitted: `createdAt` in the delivered body.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;
}

@ObjectType({ description: 'One event on its way to one endpoint: the outbox row, retried with backoff until delivered or dead.' })
@Entity('webhook_delivery')
export class WebhookDelivery {
  @Field(() => ID, { description: 'The delivery id, sent as `Ehub-Webhook-Id`; the same on every retry and replay (receivers deduplicate on it).' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field(() => ID, { description: 'The event delivered.' })
  @Column('uuid', { name: 'event_id' })
  eventId: string;

  @Field(() => WebhookEvent, { description: 'The event delivered (type, key, data).' })
  @ManyToOne(() => WebhookEvent)
  @JoinColumn({ name: 'event_id' })
  event: WebhookEvent;

  @Field(() => ID, { description: 'The endpoint it goes to.' })
  @Column('uuid', { name: 'endpoint_id' })
  endpointId: string;

  @Field(() => WebhookEndpoint, { description: 'The endpoint it goes to.' })
  @ManyToOne(() => WebhookEndpoint)
  @JoinColumn({ name: 'endpoint_id' })
  endpoint: WebhookEndpoint;

  @Field(() => ID, { nullable: true, description: 'The account the event is about.' })
  @Column('uuid', { name: 'account_id', nullable: true })
  accountId: string | null;

  @Field({ description: 'The event type.' })
  @Column('text', { name: 'event_type' })
  eventType: string;

  @Field(() => WebhookDeliveryStatus, { description: 'Where it is in the outbox.' })
  @Column('text')
  status: WebhookDeliveryStatus;

  @Field(() => Int, { description: 'Attempts made since it was queued (or last replayed).' })
  @Column('int', { name: 'attempts' })
  attemptCount: number;

  /** Position in its endpoint's queue (deliveries go out in this order). */
  @Column('bigint', { name: 'queue_seq', select: false })
  queueSeq: string;

  @Field({ description: 'When it is due (next retry for FAILED).' })
  @Column('timestamptz', { name: 'next_attempt_at' })
  nextAttemptAt: Date;

  @Field(() => Date, { nullable: true, description: 'When the last attempt started.' })
  @Column('timestamptz', { name: 'last_attempt_at', nullable: true })
  lastAttemptAt: Date | null;

  @Field(() => Int, { nullable: true, description: 'The HTTP status the receiver last answered (null if it could not be reached).' })
  @Column('int', { name: 'last_status_code', nullable: true })
  lastStatusCode: number | null;

  @Field(() => String, { nullable: true, description: 'Why the last attempt failed (for DEAD: why it was given up).' })
  @Column('text', { name: 'last_error', nullable: true })
  lastError: string | null;

  @Field(() => String, { nullable: true, description: 'The start of what the receiver last answered (512 bytes at most).' })
  @Column('text', { name: 'last_response', nullable: true })
  lastResponse: string | null;

  @Field(() => Int, { nullable: true, description: 'How long the last attempt took, in milliseconds.' })
  @Column('int', { name: 'last_duration_ms', nullable: true })
  lastDurationMs: number | null;

  @Field(() => Date, { nullable: true, description: 'When it was delivered.' })
  @Column('timestamptz', { name: 'delivered_at', nullable: true })
  deliveredAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it was given up (DEAD).' })
  @Column('timestamptz', { name: 'dead_at', nullable: true })
  deadAt: Date | null;

  @Field(() => Int, { description: 'How often it was replayed.' })
  @Column('int')
  replays: number;

  @Field({ description: 'When it was queued.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'When its status last changed.' })
  @Column({ type: 'timestamptz', name: 'updated_at', precision: 3 })
  updatedAt: Date;
}

@ObjectType({ description: 'One attempt to deliver: when, how long, and what the receiver answered.' })
@Entity('webhook_attempt')
export class WebhookAttempt {
  @Field(() => ID, { description: 'The attempt id.' })
  @PrimaryColumn('bigint')
  id: string;

  @Field(() => ID, { description: 'The delivery attempted.' })
  @Column('uuid', { name: 'delivery_id' })
  deliveryId: string;

  @Field(() => Int, { description: 'The attempt number (counting again from 1 after a replay).' })
  @Column('int')
  attempt: number;

  @Field({ description: 'When the attempt started.' })
  @Column({ type: 'timestamptz', name: 'started_at', precision: 3 })
  startedAt: Date;

  @Field({ description: 'When its outcome was recorded.' })
  @Column({ type: 'timestamptz', name: 'finished_at', precision: 3 })
  finishedAt: Date;

  @Field(() => Int, { description: 'How long the request took, in milliseconds.' })
  @Column('int', { name: 'duration_ms' })
  durationMs: number;

  @Field(() => Int, { nullable: true, description: 'The HTTP status answered (null if the receiver could not be reached).' })
  @Column('int', { name: 'status_code', nullable: true })
  statusCode: number | null;

  @Field(() => String, { nullable: true, description: 'Why it failed (null when delivered).' })
  @Column('text', { nullable: true })
  error: string | null;

  @Field(() => String, { nullable: true, description: 'The start of the answer (512 bytes at most).' })
  @Column('text', { name: 'response_snippet', nullable: true })
  responseSnippet: string | null;

  @Field(() => WebhookDeliveryStatus, { description: 'What the attempt led to: DELIVERED, FAILED (retried) or DEAD.' })
  @Column('text')
  outcome: WebhookDeliveryStatus;

  @Field(() => Date, { nullable: true, description: 'For FAILED: when the next attempt is due.' })
  @Column({ type: 'timestamptz', name: 'next_attempt_at', precision: 3, nullable: true })
  nextAttemptAt: Date | null;
}

/** Entities of the webhooks domain. */
export const webhookEntities: Function[] = [WebhookEndpoint, WebhookEvent, WebhookDelivery, WebhookAttempt];
