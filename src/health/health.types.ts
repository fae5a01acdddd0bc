import { ArgsType, Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { IsUUID } from 'class-validator';
import { MEASURES } from './health.rules';

export enum HealthBand {
  GREEN = 'GREEN',
  YELLOW = 'YELLOW',
  RED = 'RED',
}
registerEnumType(HealthBand, {
  name: 'HealthBand',
  description: 'GREEN ≥ 70, YELLOW ≥ 40, RED below (configurable, docs/health.md); for a measure, its own thresholds.',
  valuesConfig: {
    GREEN: { description: 'Healthy: 100 points for a measure.' },
    YELLOW: { description: 'Watch: 50 points for a measure.' },
    RED: { description: 'At risk: 0 points for a measure.' },
  },
});

export enum HealthMeasureKey {
  utilisation = 'utilisation',
  activeUsers = 'activeUsers',
  usageTrend = 'usageTrend',
  daysToRenewal = 'daysToRenewal',
  overdueReceivables = 'overdueReceivables',
  openFindings = 'openFindings',
  daysSinceLastUsage = 'daysSinceLastUsage',
}
registerEnumType(HealthMeasureKey, {
  name: 'HealthMeasureKey',
  description: `The measures of the health score: ${MEASURES.join(', ')} (docs/health.md).`,
  valuesConfig: {
    utilisation: { description: 'Used ÷ sold over live seat, device, floating and metered entitlements.' },
    activeUsers: { description: 'Distinct users over 28 days ÷ named-user and floating quantity.' },
    usageTrend: { description: 'Usage over the last 90 days ÷ the 90 days before.' },
    daysToRenewal: { description: 'Days until the earliest live term ends.' },
    overdueReceivables: { description: 'Days the oldest open invoice is past due (from the ERP).' },
    openFindings: { description: 'Open or acknowledged compliance findings.' },
    daysSinceLastUsage: { description: 'Days since the newest usage.' },
  },
});

@ObjectType({ description: 'One measure of the health score, scored into a band, with its share of the score and a sentence explaining it.' })
export class HealthMeasure {
  @Field(() => HealthMeasureKey, { description: 'Which measure.' })
  key: HealthMeasureKey;

  @Field(() => Float, { nullable: true, description: 'The measured value: a ratio (utilisation, active users, trend) or a count (days, findings); null without data.' })
  value: number | null;

  @Field(() => HealthBand, { nullable: true, description: 'Null when there was no data (the measure is dropped).' })
  band: HealthBand | null;

  @Field(() => Int, { nullable: true, description: 'GREEN 100, YELLOW 50, RED 0.' })
  points: number | null;

  @Field(() => Float, { description: 'The configured weight.' })
  weight: number;

  @Field(() => Float, { description: 'The share of the score this measure carried (0–1) after measures without data were dropped.' })
  effectiveWeight: number;

  @Field({ description: 'What was measured, against which band.' })
  explanation: string;
}

@ObjectType({ description: "A person's score for an account, stored beside the computed one until it expires." })
export class HealthOverride {
  @Field(() => Int, { description: 'The score set, 0–100.' })
  score: number;

  @Field({ description: 'Why it was set.' })
  reason: string;

  @Field({ description: 'When it stops applying.' })
  expiresAt: Date;

  @Field(() => ID, { nullable: true, description: 'The API key that set it.' })
  setByKeyId: string | null;

  @Field({ description: 'When it was set.' })
  createdAt: Date;
}

@ObjectType({ description: 'The explainable health score of an account (docs/health.md).' })
export class AccountHealth {
  @Field(() => Float, { description: 'The computed score, 0–100.' })
  score: number;

  @Field(() => HealthBand, { description: 'The band of the computed score.' })
  band: HealthBand;

  @Field(() => Float, { description: 'Share of the total weight whose measures had data (0–1).' })
  coverage: number;

  @Field(() => [HealthMeasure], { description: 'Every measure, with its band, share of the score and explanation.' })
  measures: HealthMeasure[];

  @Field({ description: 'When the score was computed.' })
  computedAt: Date;

  @Field(() => HealthOverride, { nullable: true, description: 'An override in force, if any.' })
  override: HealthOverride | null;

  @Field(() => Float, { description: 'The override while it lasts, else the computed score: what the CRM is sent.' })
  effectiveScore: number;

  @Field(() => HealthBand, { description: 'The band of the effective score.' })
  effectiveBand: HealthBand;
}

@ObjectType({ description: "An account's health on one day (the day's last score)." })
export class HealthHistoryPoint {
  @Field({ description: 'YYYY-MM-DD (EHUB_TIME_ZONE).' })
  day: string;

  @Field(() => Float, { description: 'The computed score.' })
  score: number;

  @Field(() => HealthBand, { description: 'Its band.' })
  band: HealthBand;

  @Field(() => Float, { description: 'Its coverage (0–1).' })
  coverage: number;

  @Field(() => Int, { nullable: true, description: 'The override in force that day, if any.' })
  overrideScore: number | null;
}

@ObjectType({ description: 'What a health run did.' })
export class HealthRunSummary {
  @Field(() => Int, { description: 'Accounts looked at.' })
  accounts: number;

  @Field(() => Int, { description: 'Accounts scored.' })
  scored: number;

  @Field(() => Int, { description: 'Accounts with no data for any measure (no score).' })
  noData: number;

  @Field(() => Int, { description: 'Scores whose value or band changed.' })
  changed: number;
}

@ArgsType()
export class SetHealthOverrideArgs {
  @Field(() => ID, { description: 'The account.' })
  @IsUUID('all', { message: 'accountId must be an id' })
  accountId: string;

  @Field(() => Int, { description: '0–100.' })
  score: number;

  @Field({ description: 'Why (1–1000 characters).' })
  reason: string;

  @Field({ description: 'When it stops applying (in the future, within 366 days).' })
  expiresAt: Date;
}
