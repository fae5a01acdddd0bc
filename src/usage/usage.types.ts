import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Deployment } from '../entitlements/entitlement.enums';
import { UsageRejectionCode } from './usage.rules';

registerEnumType(UsageRejectionCode, {
  name: 'UsageRejectionCode',
  description: 'Why a usage event was not accepted.',
  valuesConfig: {
    INVALID_EVENT: { description: 'A field is missing or malformed (the line is not JSON, no id, a bad deployment or timestamp...).' },
    UNKNOWN_ACCOUNT: { description: 'No account has this id or external reference (or the key is scoped to another account).' },
    UNKNOWN_METER: { description: 'No meter has this key.' },
    INVALID_QUANTITY: {
      description: 'The quantity (or the value property of the meter) is not a finite number, or is negative for a meter that is not SUM.',
    },
    FUTURE_TIMESTAMP: { description: 'occurredAt is further in the future than the allowed clock skew (EHUB_USAGE_MAX_SKEW_SECONDS).' },
    BEYOND_RETENTION: {
      description: 'occurredAt is before the oldest month whose raw events are kept (EHUB_USAGE_RETENTION_MONTHS): that month may already be dropped.',
    },
    PROPERTIES_TOO_LARGE: { description: 'properties exceed EHUB_USAGE_MAX_PROPERTIES_BYTES as JSON.' },
    CONFLICT: { description: 'The id was already used (same account and source) by an event with different content: not counted.' },
  },
});

@InputType({ description: 'An account named by its reference in another system (as linked with upsertAccount).' })
export class UsageAccountRefInput {
  @Field({ description: 'The external system, e.g. `salesforce` (case-insensitive).' })
  system: string;

  @Field({ description: 'The object in that system, e.g. `Account`.' })
  object: string;

  @Field({ description: 'The record id in that system (case-sensitive).' })
  externalId: string;
}

@InputType({
  description:
    'One usage event. (account, source, id) identifies it: sending it again is a duplicate and counts once; another event under the same id is a CONFLICT. ' +
    'Give exactly one of accountId and accountRef. Checked per event: a bad event is rejected alone.',
})
export class UsageEventInput {
  @Field({ description: 'The client\'s id of the event (1–255 characters), unique per account and source.' })
  id: string;

  @Field(() => String, { nullable: true, description: 'Where the event comes from (1–100 characters, e.g. an agent or pipeline name); default `default`.' })
  source?: string | null;

  @Field(() => ID, { nullable: true, description: 'The account that used it.' })
  accountId?: string | null;

  @Field(() => UsageAccountRefInput, { nullable: true, description: 'The account, by its reference in another system.' })
  accountRef?: UsageAccountRefInput | null;

  @Field({ description: 'The meter key, e.g. `api.calls`.' })
  meter: string;

  @Field(() => Float, { description: 'How much was used. Negative only for SUM meters (a correction).' })
  quantity: number;

  @Field({ description: 'When it happened (at most EHUB_USAGE_MAX_SKEW_SECONDS in the future; late events of any age are accepted unless EHUB_USAGE_RETENTION_MONTHS is set: then events before the first day of the month that many months back are refused as BEYOND_RETENTION). Kept to the millisecond.' })
  occurredAt: Date;

  @Field(() => Deployment, { description: 'Where the usage happened.' })
  deployment: Deployment;

  @Field(() => String, { nullable: true, description: 'The user (1–255 characters), e.g. an email; counted by UNIQUE_COUNT meters without a property value.' })
  user?: string | null;

  @Field(() => String, { nullable: true, description: 'The device or host (1–255 characters).' })
  device?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Free-form attributes; a meter\'s valueProperty is read from here. At most EHUB_USAGE_MAX_PROPERTIES_BYTES as JSON.' })
  properties?: Record<string, unknown> | null;
}

@ObjectType({ description: 'An event of a batch that was not accepted.' })
export class UsageEventRejection {
  @Field(() => Int, { description: 'Its zero-based position in the batch (for NDJSON: its line number minus one).' })
  index: number;

  @Field(() => String, { nullable: true, description: 'Its id, when it had one.' })
  id: string | null;

  @Field(() => UsageRejectionCode, { description: 'Why.' })
  code: UsageRejectionCode;

  @Field({ description: 'What is wrong, for people.' })
  message: string;
}

@ObjectType({
  description:
    'The answer to a batch, sent once the accepted events are committed. Every event is accepted, a duplicate, or listed in `rejected`: accepted + duplicates + rejected.length = events sent.',
})
export class UsageBatchResult {
  @Field(() => Int, { description: 'Events stored and counted now.' })
  accepted: number;

  @Field(() => Int, { description: 'Events already stored (sent before, in this batch or earlier): counted once, nothing to do.' })
  duplicates: number;

  @Field(() => Int, { description: 'Events whose id was already used with different content; each is also in `rejected` with code CONFLICT.' })
  conflicts: number;

  @Field(() => Int, {
    nullable: true,
    description:
      'With EHUB_USAGE_STREAM: events handed to the durable stream (accepted + duplicates as the stream saw them), written to the database after this answer; unknown accounts, meters and conflicts are then only logged (docs/usage.md). Null when written in the request (the variable unset).',
  })
  queued?: number | null;

  @Field(() => [UsageEventRejection], { description: 'Events not accepted, by position: fix and resend them (they were not stored).' })
  rejected: UsageEventRejection[];
}

@ObjectType({ description: 'What rebuildUsageRollups wrote.' })
export class UsageRollupRebuild {
  @Field(() => ID, { description: 'The account.' })
  accountId: string;

  @Field(() => Int, { description: 'Usage events of the account read.' })
  events: number;

  @Field(() => Int, { description: 'Hourly and daily rollup rows written.' })
  rollupRows: number;

  @Field(() => Int, { description: 'Distinct values (UNIQUE_COUNT meters) written.' })
  uniqueValues: number;
}
