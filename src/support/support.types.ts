import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { LocalDateResolver } from 'graphql-scalars';
import { IsOptional, Length, Matches, Max, Min } from 'class-validator';

/** From which date a warranty runs. */
export enum WarrantyBasis {
  ORDER = 'ORDER',
  SHIPMENT = 'SHIPMENT',
  ACTIVATION = 'ACTIVATION',
}
registerEnumType(WarrantyBasis, {
  name: 'WarrantyBasis',
  description: 'From which date a warranty runs: the order date, the device\'s shipment date, or its activation date.',
  valuesConfig: {
    ORDER: { description: 'The date of the order that granted the entitlement.' },
    SHIPMENT: { description: 'The device\'s shipment date (activateDevice(shippedOn:)); its activation date when none was recorded.' },
    ACTIVATION: { description: 'The date the device was activated (asked by device serial).' },
  },
});

/** What happens to software access after maintenance ends (read by release access). */
export enum AfterExpiry {
  REVOKE = 'REVOKE',
  RESTRICT_TO_RELEASED = 'RESTRICT_TO_RELEASED',
  KEEP_ACCESS = 'KEEP_ACCESS',
}
registerEnumType(AfterExpiry, {
  name: 'AfterExpiry',
  description:
    'After maintenance ends (plus expiryGraceDays): REVOKE every release, RESTRICT_TO_RELEASED (only releases published before the end), or KEEP_ACCESS.',
  valuesConfig: {
    REVOKE: { description: 'No release at all after maintenance (plus grace) ends.' },
    RESTRICT_TO_RELEASED: { description: 'Only releases published on or before the maintenance end stay available.' },
    KEEP_ACCESS: { description: 'Every release stays available (the default; what entitlements without terms do).' },
  },
});

/** Why a subject is not covered by support (or not under warranty). */
export enum SupportReason {
  SUPPORT_EXPIRED = 'SUPPORT_EXPIRED',
  NO_SUPPORT_LEVEL = 'NO_SUPPORT_LEVEL',
  WARRANTY_EXPIRED = 'WARRANTY_EXPIRED',
  NO_WARRANTY = 'NO_WARRANTY',
  CASES_EXHAUSTED = 'CASES_EXHAUSTED',
  ENTITLEMENT_NOT_ACTIVE = 'ENTITLEMENT_NOT_ACTIVE',
  NO_ENTITLEMENT = 'NO_ENTITLEMENT',
}
registerEnumType(SupportReason, {
  name: 'SupportReason',
  description: 'Why support is not owed (or why a warranty does not apply).',
  valuesConfig: {
    SUPPORT_EXPIRED: { description: 'The support level\'s end date has passed.' },
    NO_SUPPORT_LEVEL: { description: 'The terms name no support level (or there are no terms).' },
    WARRANTY_EXPIRED: { description: 'The warranty\'s last day has passed.' },
    NO_WARRANTY: { description: 'The terms give no warranty.' },
    CASES_EXHAUSTED: { description: 'Every support case allowed has been recorded.' },
    ENTITLEMENT_NOT_ACTIVE: { description: 'The entitlement is cancelled, suspended or not started.' },
    NO_ENTITLEMENT: { description: 'The account has no entitlement at all.' },
  },
});

/** What a covered subject is covered by. */
export enum SupportBasis {
  SUPPORT = 'SUPPORT',
  WARRANTY = 'WARRANTY',
}
registerEnumType(SupportBasis, {
  name: 'SupportBasis',
  description: 'What covers a subject.',
  valuesConfig: {
    SUPPORT: { description: 'A support level within its end date.' },
    WARRANTY: { description: 'A warranty still running.' },
  },
});

@ObjectType({ description: 'A named support level with its SLA targets (catalog configuration).' })
export class SupportTier {
  @Field(() => ID, { description: 'The tier id.' })
  id: string;

  @Field({ description: 'The key order lines refer to (e.g. `gold`).' })
  key: string;

  @Field({ description: 'A name for people.' })
  name: string;

  @Field(() => Int, { description: 'SLA target: minutes to the first response.' })
  firstResponseMinutes: number;

  @Field(() => Int, { description: 'SLA target: minutes to resolution.' })
  resolutionMinutes: number;

  @Field({ description: 'Hours of coverage, e.g. `24x7` or `8x5`.' })
  coverageHours: string;
}

@InputType({ description: 'A support tier, created or updated by key.' })
export class SupportTierInput {
  @Field({ description: 'The key (letters, digits, ".", "_" or "-").' })
  @Length(1, 100)
  @Matches(/^[a-z0-9][a-z0-9._-]*$/i, { message: 'key must be letters, digits, ".", "_" or "-"' })
  key: string;

  @Field({ description: 'A name for people.' })
  @Length(1, 200)
  name: string;

  @Field(() => Int, { description: 'SLA target: minutes to the first response (1 – 525,600).' })
  @Min(1)
  @Max(525_600)
  firstResponseMinutes: number;

  @Field(() => Int, { description: 'SLA target: minutes to resolution (1 – 5,256,000).' })
  @Min(1)
  @Max(5_256_000)
  resolutionMinutes: number;

  @Field({ description: 'Hours of coverage, e.g. `24x7` or `8x5`.' })
  @Length(1, 50)
  coverageHours: string;
}

@InputType({ description: 'Contract terms of an order line; they become the terms of the entitlement the line shapes.' })
export class ContractTermsInput {
  @Field(() => LocalDateResolver, { nullable: true, description: 'Last day of maintenance (software updates), inclusive; omitted = the entitlement\'s end date.' })
  @IsOptional()
  maintenanceEnd?: string | null;

  @Field(() => String, { nullable: true, description: 'The support tier key (upsertSupportTier); omitted = no support level.' })
  @IsOptional()
  @Length(1, 100)
  supportLevel?: string | null;

  @Field(() => LocalDateResolver, { nullable: true, description: 'Last day of support, inclusive; omitted = the entitlement\'s end date. Needs supportLevel.' })
  @IsOptional()
  supportEnd?: string | null;

  @Field(() => WarrantyBasis, { nullable: true, description: 'From which date the warranty runs; needs warrantyMonths.' })
  @IsOptional()
  warrantyBasis?: WarrantyBasis | null;

  @Field(() => Int, { nullable: true, description: 'Warranty length in calendar months (0 – 1,200); needs warrantyBasis.' })
  @IsOptional()
  @Min(0)
  @Max(1200)
  warrantyMonths?: number | null;

  @Field(() => String, { nullable: true, description: 'What the warranty covers (free text, e.g. `parts and labour`).' })
  @IsOptional()
  @Length(1, 500)
  warrantyCoverage?: string | null;

  @Field(() => Int, { nullable: true, description: 'Support cases allowed over the term; omitted = unlimited.' })
  @IsOptional()
  @Min(0)
  @Max(1_000_000)
  casesAllowed?: number | null;

  @Field(() => AfterExpiry, { nullable: true, description: 'What happens to software access after maintenance ends; default KEEP_ACCESS.' })
  @IsOptional()
  afterExpiry?: AfterExpiry | null;

  @Field(() => Int, { nullable: true, description: 'Days after the maintenance end before afterExpiry applies (default 0).' })
  @IsOptional()
  @Min(0)
  @Max(3650)
  expiryGraceDays?: number | null;
}

@ObjectType({ description: 'The contract terms of an entitlement: maintenance, support, warranty, cases, after-expiry policy.' })
export class ContractTerms {
  @Field(() => String, { nullable: true, description: 'Last day of maintenance as given; null = the entitlement\'s end date.' })
  maintenanceEnd: string | null;

  @Field(() => String, { nullable: true, description: 'Last day of maintenance in effect (maintenanceEnd, else the entitlement\'s end date); null = perpetual.' })
  effectiveMaintenanceEnd: string | null;

  @Field(() => SupportTier, { nullable: true, description: 'The support level; null = none.' })
  supportLevel: SupportTier | null;

  @Field(() => String, { nullable: true, description: 'Last day of support as given; null = the entitlement\'s end date.' })
  supportEnd: string | null;

  @Field(() => String, { nullable: true, description: 'Last day of support in effect; null = no end (or no support level).' })
  effectiveSupportEnd: string | null;

  @Field(() => WarrantyBasis, { nullable: true, description: 'From which date the warranty runs; null = no warranty.' })
  warrantyBasis: WarrantyBasis | null;

  @Field(() => Int, { nullable: true, description: 'Warranty length in months.' })
  warrantyMonths: number | null;

  @Field(() => String, { nullable: true, description: 'What the warranty covers.' })
  warrantyCoverage: string | null;

  @Field(() => Int, { nullable: true, description: 'Support cases allowed; null = unlimited.' })
  casesAllowed: number | null;

  @Field(() => Int, { description: 'Support cases recorded so far.' })
  casesUsed: number;

  @Field(() => AfterExpiry, { description: 'What happens to software access after maintenance ends.' })
  afterExpiry: AfterExpiry;

  @Field(() => Int, { description: 'Days after the maintenance end before afterExpiry applies.' })
  expiryGraceDays: number;
}

@ObjectType({ description: 'What support a subject (account, device serial or entitlement) is owed today, and why not when it is not.' })
export class SupportEntitlementAnswer {
  @Field({ description: 'Whether support is owed now.' })
  covered: boolean;

  @Field(() => SupportBasis, { nullable: true, description: 'What covers it (SUPPORT or WARRANTY); null when not covered.' })
  basis: SupportBasis | null;

  @Field(() => SupportReason, { nullable: true, description: 'Why not, when not covered (the first of reasons).' })
  reason: SupportReason | null;

  @Field(() => [SupportReason], { description: 'Every reason that applies (also when covered, e.g. WARRANTY_EXPIRED while support covers).' })
  reasons: SupportReason[];

  @Field(() => String, { description: 'The answer in words.' })
  explanation: string;

  @Field(() => SupportTier, { nullable: true, description: 'The support level (with its SLA targets) of the deciding entitlement.' })
  level: SupportTier | null;

  @Field(() => ID, { nullable: true, description: 'The entitlement the answer is about (the one covering, else the one nearest to covering).' })
  entitlementId: string | null;

  @Field(() => ID, { description: 'The account.' })
  accountId: string;

  @Field(() => String, { nullable: true, description: 'The device serial asked about.' })
  deviceSerial: string | null;

  @Field(() => String, { nullable: true, description: 'Last day of support in effect.' })
  supportEnd: string | null;

  @Field(() => String, { nullable: true, description: 'First day of the warranty (null when it cannot be known, e.g. a shipment basis asked by account).' })
  warrantyStart: string | null;

  @Field(() => String, { nullable: true, description: 'Last day of the warranty, inclusive.' })
  warrantyEnd: string | null;

  @Field(() => String, { nullable: true, description: 'What the warranty covers.' })
  warrantyCoverage: string | null;

  @Field(() => Int, { nullable: true, description: 'Cases allowed; null = unlimited.' })
  casesAllowed: number | null;

  @Field(() => Int, { nullable: true, description: 'Cases recorded so far.' })
  casesUsed: number | null;

  @Field(() => Int, { nullable: true, description: 'Cases left; null = unlimited.' })
  casesRemaining: number | null;
}

@InputType({ description: 'A support case to record against the support an account, device or entitlement is owed.' })
export class RecordSupportCaseInput {
  @Field(() => ID, { nullable: true, description: 'The account (give exactly one of accountId, deviceSerial, entitlementId).' })
  @IsOptional()
  accountId?: string | null;

  @Field(() => String, { nullable: true, description: 'The device serial.' })
  @IsOptional()
  @Length(1, 255)
  deviceSerial?: string | null;

  @Field(() => ID, { nullable: true, description: 'The entitlement.' })
  @IsOptional()
  entitlementId?: string | null;

  @Field({ description: 'Idempotency key (per account): the same key again returns the same case and counts once.' })
  @Length(1, 255)
  idempotencyKey: string;

  @Field(() => String, { nullable: true, description: 'A subject for people.' })
  @IsOptional()
  @Length(1, 500)
  subject?: string | null;
}

@ObjectType({ description: 'A recorded support case.' })
export class SupportCase {
  @Field(() => ID, { description: 'The case id.' })
  id: string;

  @Field(() => ID, { description: 'The account.' })
  accountId: string;

  @Field(() => ID, { description: 'The entitlement whose cases it used.' })
  entitlementId: string;

  @Field({ description: 'The idempotency key.' })
  idempotencyKey: string;

  @Field(() => String, { nullable: true, description: 'The subject.' })
  subject: string | null;

  @Field(() => Int, { description: 'Cases used on the entitlement after this one.' })
  casesUsed: number;

  @Field(() => Int, { nullable: true, description: 'Cases allowed; null = unlimited.' })
  casesAllowed: number | null;

  @Field(() => Int, { nullable: true, description: 'Cases left after this one; null = unlimited.' })
  casesRemaining: number | null;

  @Field({ description: 'True when the idempotency key had already recorded this case (nothing counted again).' })
  replayed: boolean;

  @Field({ description: 'When it was recorded.' })
  createdAt: Date;
}

/** What release access reads of the terms covering a subject for a product (issue 14, part 2). */
export interface MaintenanceTerms {
  entitlementId: string;
  accountId: string;
  productId: string;
  /** Last day of maintenance, inclusive; null = perpetual. */
  maintenanceEnd: string | null;
  afterExpiry: AfterExpiry;
  /** Days after maintenanceEnd before afterExpiry applies. */
  graceDays: number;
  /** The entitlement's effective status (ACTIVE, SUSPENDED, …) now. */
  status: string;
}
