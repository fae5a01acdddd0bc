import { ArgsType, Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { IsOptional, IsUUID, Matches, Max, Min } from 'class-validator';
import { Money } from '../common/money';

// ------------------------------------------------------------------ packagingInsight

/** How much a packaged feature is used by the accounts holding the product. */
export enum FeatureUseVerdict {
  USED = 'USED',
  RARELY_USED = 'RARELY_USED',
  UNUSED = 'UNUSED',
  NOT_MEASURED = 'NOT_MEASURED',
}

registerEnumType(FeatureUseVerdict, {
  name: 'FeatureUseVerdict',
  description: 'How much a feature the product grants is used by the accounts entitled to it, in the window.',
  valuesConfig: {
    USED: { description: 'Used by at least `rarelyUsedBelowPercent` of the entitled accounts.' },
    RARELY_USED: { description: 'Used by some entitled accounts, but fewer than `rarelyUsedBelowPercent` of them: a candidate to leave out of the package.' },
    UNUSED: { description: 'Measured, and used by no entitled account in the window.' },
    NOT_MEASURED: { description: 'No meter draws on the feature, so nobody can be seen using it (not the same as unused).' },
  },
});

/** Why a feature is an add-on candidate for the product's holders. */
export enum AddOnReason {
  OVER_LIMIT = 'OVER_LIMIT',
  NOT_INCLUDED = 'NOT_INCLUDED',
}

registerEnumType(AddOnReason, {
  name: 'AddOnReason',
  description: 'Why a feature is an add-on candidate: holders of the product use more of it than was sold, or use it without it being sold to them at all.',
  valuesConfig: {
    OVER_LIMIT: { description: 'The product grants the feature, and holders used more than its limit (OVERUSE compliance findings in the window).' },
    NOT_INCLUDED: { description: 'The product does not grant the feature, and holders used it without any entitlement to it (unentitled usage events in the window).' },
  },
});

@ObjectType({ description: 'One feature a product (bundles flattened) grants, and how much its holders use it.' })
export class PackagedFeature {
  @Field(() => ID, { description: 'The feature id.' })
  featureId: string;

  @Field({ description: 'The feature key.' })
  featureKey: string;

  @Field(() => [String], { description: 'The meters drawing on the feature; none: NOT_MEASURED.' })
  meters: string[];

  @Field(() => Int, { description: 'Accounts entitled to the feature through the product in the window.' })
  entitledAccounts: number;

  @Field(() => Int, { description: 'Of those, the accounts that used it (usage drawing on the product\'s entitlements).' })
  usingAccounts: number;

  @Field(() => Float, { nullable: true, description: 'usingAccounts / entitledAccounts × 100 (2 decimals); null when no account was entitled.' })
  sharePercent: number | null;

  @Field(() => Float, { description: 'Usage events of the feature on the product\'s entitlements in the window (a whole number).' })
  events: number;

  @Field(() => FeatureUseVerdict, { description: 'Used, rarely used, unused, or not measured.' })
  verdict: FeatureUseVerdict;

  @Field(() => Int, { description: 'Accounts that used more of the feature than the product grants them (OVERUSE findings in the window).' })
  overLimitAccounts: number;
}

@ObjectType({ description: 'A feature the product\'s holders want more of than they bought: an add-on (or a bigger tier) to offer them.' })
export class AddOnCandidate {
  @Field({ description: 'The feature key.' })
  featureKey: string;

  @Field(() => AddOnReason, { description: 'Over the product\'s limit, or not included in the product at all.' })
  reason: AddOnReason;

  @Field(() => Int, { description: 'Holders of the product concerned.' })
  accounts: number;

  @Field(() => Float, { description: 'accounts / holders × 100 (2 decimals).' })
  holdersPercent: number;

  @Field({ description: 'NOT_INCLUDED: the quantity used without entitlement; OVER_LIMIT: the quantity used in the periods that went over (decimal string).' })
  used: string;

  @Field(() => String, { nullable: true, description: 'OVER_LIMIT: the quantity beyond the limits, summed over the findings (decimal string); null for NOT_INCLUDED.' })
  over: string | null;

  @Field({ description: 'The unit of used and over (a meter unit, users, units).' })
  unit: string;

  @Field(() => [Money], { description: 'Estimated revenue leakage of the findings behind it, per currency (OVER_LIMIT only; empty for NOT_INCLUDED, which compliance prices per account).' })
  leakage: Money[];
}

@ObjectType({ description: 'The answer of packagingInsight: which of a product\'s (bundle\'s) features its holders use, which almost nobody does, and which they use beyond what was sold.' })
export class PackagingInsight {
  @Field(() => ID, { description: 'The product.' })
  productId: string;

  @Field({ description: 'The product sku.' })
  sku: string;

  @Field({ description: 'The product name.' })
  name: string;

  @Field({ description: 'Whether the product is a bundle (has components).' })
  isBundle: boolean;

  @Field({ description: 'The start of the window.' })
  from: Date;

  @Field({ description: 'The end of the window (exclusive).' })
  to: Date;

  @Field(() => Int, { description: 'Accounts holding an entitlement of the product in force at some time in the window.' })
  holders: number;

  @Field(() => Float, { description: 'The share of entitled accounts under which a used feature is RARELY_USED (percent).' })
  rarelyUsedBelowPercent: number;

  @Field(() => [PackagedFeature], { description: 'Every feature the product grants (bundles flattened), least used first (NOT_MEASURED last), then by key.' })
  features: PackagedFeature[];

  @Field(() => [AddOnCandidate], { description: 'Features used beyond what was sold, most holders first.' })
  addOnCandidates: AddOnCandidate[];
}

@ArgsType()
export class PackagingInsightArgs {
  @Field(() => ID, { description: 'The product, usually a bundle (any product works: its own features are its package).' })
  @IsUUID('all', { message: 'productId must be a product id (UUID)' })
  productId: string;

  @Field({ description: 'The start of the window (inclusive).' })
  from: Date;

  @Field({ description: 'The end of the window (exclusive); at most 366 days after `from`.' })
  to: Date;

  @Field(() => Float, { defaultValue: 10, description: 'A used feature is RARELY_USED when fewer than this percent of the entitled accounts used it (0–100).' })
  @Min(0)
  @Max(100)
  rarelyUsedBelowPercent: number;
}

// ------------------------------------------------------------------ usagePersonas

/** What users are grouped by. */
export enum PersonaAttribute {
  EVENT_PROPERTY = 'EVENT_PROPERTY',
  CONTACT_TITLE = 'CONTACT_TITLE',
  CONTACT_DEPARTMENT = 'CONTACT_DEPARTMENT',
}

registerEnumType(PersonaAttribute, {
  name: 'PersonaAttribute',
  description: 'The user attribute usage is grouped by: one reported with the usage, or one held on the contact whose e-mail is the event\'s user.',
  valuesConfig: {
    EVENT_PROPERTY: { description: 'A property of the usage events (`property`, e.g. "role"): a user is in the group of the value most of its events carry.' },
    CONTACT_TITLE: { description: 'The job title of the account\'s contact whose e-mail is the user (case-insensitive).' },
    CONTACT_DEPARTMENT: { description: 'The department of that contact.' },
  },
});

@ObjectType({ description: 'The users sharing one value of the attribute, and their usage.' })
export class PersonaGroup {
  @Field(() => String, { nullable: true, description: 'The attribute\'s value; null: users for whom it is not known (no such property, no matching contact, or the contact has none).' })
  value: string | null;

  @Field(() => Int, { description: 'Distinct users (an account and a case-insensitive user id).' })
  users: number;

  @Field(() => Float, { description: 'users / all users in the answer × 100 (2 decimals).' })
  usersPercent: number;

  @Field(() => Int, { description: 'Distinct accounts of those users.' })
  accounts: number;

  @Field(() => Float, { description: 'Their usage events in the window (a whole number).' })
  events: number;

  @Field({ description: 'The sum of those events\' quantities (decimal string).' })
  quantity: string;

  @Field(() => [String], { description: 'The features they used most (by events, up to 3).' })
  topFeatures: string[];
}

@ObjectType({ description: 'The answer of usagePersonas: who the users are, by an attribute.' })
export class UsagePersonas {
  @Field(() => PersonaAttribute, { description: 'What users are grouped by.' })
  groupBy: PersonaAttribute;

  @Field(() => String, { nullable: true, description: 'EVENT_PROPERTY: the property name.' })
  property: string | null;

  @Field({ description: 'The start of the window.' })
  from: Date;

  @Field({ description: 'The end of the window (exclusive).' })
  to: Date;

  @Field(() => Int, { description: 'Distinct users with usage in the window (after the filters).' })
  totalUsers: number;

  @Field(() => Int, { description: 'Of those, the users whose attribute is known.' })
  attributedUsers: number;

  @Field(() => Int, { description: 'Distinct values of the attribute (groups), the unknown group aside; more than the groups listed when `first` cut the list.' })
  totalGroups: number;

  @Field(() => [PersonaGroup], { description: 'The largest groups first (by users, then events), at most `first`; the unknown group (value null) is always listed when it has users.' })
  groups: PersonaGroup[];
}

export const MAX_PERSONA_DAYS = 92;

@ArgsType()
export class UsagePersonasArgs {
  @Field(() => PersonaAttribute, { description: 'What to group users by.' })
  groupBy: PersonaAttribute;

  @Field(() => String, { nullable: true, description: 'EVENT_PROPERTY: the property of the usage events (letters, digits, `_`, `-`, `.`; up to 64).' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'property must be 1–64 letters, digits, _, - or .' })
  property?: string | null;

  @Field({ description: 'The start of the window (inclusive).' })
  from: Date;

  @Field({ description: `The end of the window (exclusive); at most ${MAX_PERSONA_DAYS} days after \`from\` (personas read the raw events).` })
  to: Date;

  @Field(() => ID, { nullable: true, description: 'Only usage of this product\'s features (bundles flattened).' })
  @IsOptional()
  @IsUUID('all', { message: 'productId must be a product id (UUID)' })
  productId?: string | null;

  @Field(() => String, { nullable: true, description: 'Only usage of this meter (its key).' })
  @IsOptional()
  meter?: string | null;

  @Field(() => ID, { nullable: true, description: 'Only this account\'s users (an account-scoped key sees its own account only).' })
  @IsOptional()
  @IsUUID('all', { message: 'accountId must be an account id (UUID)' })
  accountId?: string | null;

  @Field(() => Int, { defaultValue: 20, description: 'The most groups to list (1–100).' })
  @Min(1)
  @Max(100)
  first: number;
}
