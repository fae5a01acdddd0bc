import { Field, Float, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { IsPositive, IsUUID, Length, Max } from 'class-validator';
import { MonetizationModel } from '../catalog/catalog.enums';

/** The answer of a licence check (and of consume): why use is allowed or refused. */
export enum CheckCode {
  VALID = 'VALID',
  IN_GRACE = 'IN_GRACE',
  OVERAGE = 'OVERAGE',
  NOT_ENTITLED = 'NOT_ENTITLED',
  NOT_STARTED = 'NOT_STARTED',
  EXPIRED = 'EXPIRED',
  CANCELLED = 'CANCELLED',
  SUSPENDED = 'SUSPENDED',
  LIMIT_EXCEEDED = 'LIMIT_EXCEEDED',
  DEVICE_NOT_ACTIVATED = 'DEVICE_NOT_ACTIVATED',
  USER_NOT_ASSIGNED = 'USER_NOT_ASSIGNED',
}

registerEnumType(CheckCode, {
  name: 'CheckCode',
  description: 'Why use of a feature is allowed (VALID, IN_GRACE, OVERAGE) or refused (every other code).',
  valuesConfig: {
    VALID: { description: 'Allowed: an entitlement in force grants the feature within its limits.' },
    IN_GRACE: {
      description: 'Allowed: the entitlement has passed its end date but is within its grace period (`expiresAt` is when the grace ends). Renew soon.',
    },
    OVERAGE: {
      description:
        'Allowed, but beyond the entitled amount: a METERED entitlement with overage policy ALLOW or ALLOW_AND_NOTIFY, or a soft-capped USAGE/OUTCOME entitlement. The overage is recorded for billing and compliance.',
    },
    NOT_ENTITLED: { description: 'Refused: no entitlement of the account grants the feature (or none that can be consumed, for consume).' },
    NOT_STARTED: { description: 'Refused: the entitlement starts later.' },
    EXPIRED: { description: 'Refused: the entitlement ended (and its grace period too).' },
    CANCELLED: { description: 'Refused: the entitlement was ended early (cancellation, upgrade, removed order line).' },
    SUSPENDED: { description: 'Refused: the entitlement is suspended (collections, compliance hold).' },
    LIMIT_EXCEEDED: {
      description: 'Refused: the limit is reached (devices, seats, floating licences, a feature limit, or a METERED balance with overage policy BLOCK).',
    },
    DEVICE_NOT_ACTIVATED: { description: 'Refused: DEVICE_LOCKED and the device fingerprint given (or none) is not activated on the entitlement.' },
    USER_NOT_ASSIGNED: { description: 'Refused: NAMED_USER and the user given (or none) has no seat on the entitlement.' },
  },
});

@ObjectType({ description: 'The answer of `check`: may the account use the feature now? A check never writes.' })
export class CheckResult {
  @Field({ description: 'Whether use is allowed.' })
  allowed: boolean;

  @Field(() => CheckCode, { description: 'Why.' })
  code: CheckCode;

  @Field({ description: 'The reason, for people.' })
  reason: string;

  @Field(() => String, {
    nullable: true,
    description:
      'What is left, as a decimal string: METERED/USAGE/OUTCOME the current period\'s balance before this use; DEVICE_LOCKED, NAMED_USER, CONCURRENT free devices, seats or floating licences; otherwise the feature limit. Null = unlimited or no entitlement.',
  })
  remaining: string | null;

  @Field(() => ID, { nullable: true, description: 'The entitlement the answer is based on (the best of several); null when none grants the feature.' })
  entitlementId: string | null;

  @Field(() => MonetizationModel, { nullable: true, description: 'The monetization model of that entitlement.' })
  model: MonetizationModel | null;

  @Field(() => Date, { nullable: true, description: 'When use stops being allowed: the end of the grace period, or the end; null = never (perpetual).' })
  expiresAt: Date | null;
}

@InputType({ description: 'A consumption of a metered feature.' })
export class ConsumeInput {
  @Field(() => ID, { description: 'The account consuming.' })
  @IsUUID()
  accountId: string;

  @Field({ description: 'The feature key.' })
  @Length(1, 100)
  feature: string;

  @Field(() => Float, { description: 'How much to draw down; > 0.' })
  @IsPositive()
  @Max(1e15)
  quantity: number;

  @Field({
    description: 'The client\'s key for this request (1–255 characters, unique per account): the same key again returns the first answer and draws nothing.',
  })
  @Length(1, 255)
  idempotencyKey: string;
}

@ObjectType({ description: 'The answer of `consume`. A refusal is an answer (allowed false), not an error, and is stored under the key too.' })
export class ConsumeResult {
  @Field({ description: 'Whether the quantity was drawn down.' })
  allowed: boolean;

  @Field(() => CheckCode, { description: 'VALID or IN_GRACE (drawn within the limit), OVERAGE (drawn, partly beyond it), or why it was refused.' })
  code: CheckCode;

  @Field({ description: 'The reason, for people.' })
  reason: string;

  @Field({ description: 'The feature key consumed.' })
  feature: string;

  @Field({ description: 'The quantity asked for, as a decimal string.' })
  quantity: string;

  @Field(() => String, { nullable: true, description: 'What is left of the period\'s limit after this answer, as a decimal string; null = unlimited or no entitlement.' })
  remaining: string | null;

  @Field({ description: 'The part of this quantity beyond the period\'s limit, as a decimal string ("0" when none).' })
  overage: string;

  @Field(() => String, { nullable: true, description: 'Used so far in the period, this consumption included, as a decimal string; null when no entitlement.' })
  consumed: string | null;

  @Field(() => ID, { nullable: true, description: 'The entitlement drawn from (or refused by); null when none grants the feature.' })
  entitlementId: string | null;

  @Field(() => Date, { nullable: true, description: 'The start of the reset period drawn from.' })
  periodStart: Date | null;

  @Field(() => Date, { nullable: true, description: 'The end of the reset period (exclusive); null = the term never ends.' })
  periodEnd: Date | null;

  @Field({ description: 'True when this is the stored answer to an earlier request with the same idempotency key (nothing was drawn now).' })
  replayed: boolean;
}

@ObjectType({ description: 'The current reset period\'s balance of one feature of a METERED, USAGE or OUTCOME entitlement.' })
export class FeatureBalance {
  @Field({ description: 'The feature key.' })
  featureKey: string;

  @Field({ description: 'The start of the current reset period.' })
  periodStart: Date;

  @Field(() => Date, { nullable: true, description: 'The end of the current reset period (exclusive); null = the term never ends.' })
  periodEnd: Date | null;

  @Field(() => String, { nullable: true, description: 'The period\'s limit as a decimal string; null = unlimited.' })
  entitled: string | null;

  @Field({ description: 'Used in the period, as a decimal string.' })
  used: string;

  @Field(() => String, { nullable: true, description: 'Left in the period (never below 0); null = unlimited.' })
  remaining: string | null;

  @Field({ description: 'Used beyond the limit in the period ("0" when none).' })
  overage: string;
}
