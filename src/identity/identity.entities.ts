import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export enum MatchStatus {
  PENDING = 'PENDING',
  CONFIRMED = 'CONFIRMED',
  REJECTED = 'REJECTED',
  AUTO_MERGED = 'AUTO_MERGED',
}

registerEnumType(MatchStatus, {
  name: 'MatchStatus',
  description: 'Where a candidate match between two accounts stands (docs/identity.md).',
  valuesConfig: {
    PENDING: { description: 'In the review queue: confidence between the review and the auto-merge thresholds.' },
    CONFIRMED: { description: 'A person confirmed it (`confirmMatch`); the accounts were merged.' },
    REJECTED: { description: 'A person rejected it (`rejectMatch`); the pair is never proposed again.' },
    AUTO_MERGED: { description: 'Confidence reached the auto-merge threshold; the accounts were merged by the hub.' },
  },
});

export enum MergeStatus {
  MERGED = 'MERGED',
  UNMERGED = 'UNMERGED',
}

registerEnumType(MergeStatus, {
  name: 'MergeStatus',
  description: 'Whether a merge stands or was undone (`unmergeAccounts`).',
  valuesConfig: {
    MERGED: { description: 'The merged account\'s rows belong to the survivor.' },
    UNMERGED: { description: 'Undone: the rows that moved were moved back.' },
  },
});

@ObjectType({ description: 'One piece of evidence behind a candidate match: the rule and what it saw.' })
export class MatchEvidence {
  @Field({ description: 'EXTERNAL_ID, CROSS_REFERENCE, DOMAIN, NAME, COUNTRY, or a mismatch that lowered the score (DOMAIN_MISMATCH, COUNTRY_MISMATCH).' })
  rule: string;

  @Field({ description: 'The values compared, e.g. `acme.com` or `"acme" ~ "acme" = 100`.' })
  value: string;

  @Field(() => Float, { description: 'The rule\'s own score, 0–1.' })
  score: number;
}

/** A candidate pair of accounts that may be one customer. `accountA < accountB` (by id), one row per pair. */
@ObjectType({ description: 'A candidate match between two accounts that may be the same customer, with its confidence and evidence.' })
@Entity('identity_match')
export class IdentityMatch {
  @Field(() => ID, { description: 'The match.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field(() => ID, { description: 'One account of the pair (the smaller id).' })
  @Column('uuid', { name: 'account_a' })
  accountAId: string;

  @Field(() => ID, { description: 'The other account of the pair.' })
  @Column('uuid', { name: 'account_b' })
  accountBId: string;

  @Field(() => MatchStatus, { description: 'PENDING (waiting for review), CONFIRMED, REJECTED or AUTO_MERGED.' })
  @Column('text')
  status: MatchStatus;

  @Field(() => Float, { description: 'How sure the hub is that the two are one customer, 0–1.' })
  @Column('numeric', { precision: 4, scale: 3, transformer: { to: (v: number) => v, from: (v: string) => Number(v) } })
  confidence: number;

  @Field(() => [MatchEvidence], { description: 'The rules that fired, strongest first.' })
  @Column('jsonb')
  evidence: MatchEvidence[];

  @Field(() => String, { nullable: true, description: 'Why it was rejected (or confirmed), as given.' })
  @Column('text', { nullable: true })
  reason: string | null;

  @Field(() => ID, { nullable: true, description: 'The merge that confirming or auto-merging made.' })
  @Column('uuid', { name: 'merge_id', nullable: true })
  mergeId: string | null;

  @Field({ description: 'When the pair was first proposed.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'When it last changed.' })
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt: Date;

  @Field(() => Date, { nullable: true, description: 'When it was confirmed, rejected or auto-merged.' })
  @Column('timestamptz', { name: 'decided_at', nullable: true })
  decidedAt: Date | null;
}

/** Rows of one table that a merge moved to the survivor, by primary key (as they are after the move). */
export interface MovedRows {
  table: string;
  /** The column that was rewritten (`account_id`, or `entity_id` for external references). */
  column: string;
  /** The old value of `column` is the merged account (or `from`, for contact references). */
  from?: string;
  keys: Record<string, unknown>[];
}

/** A row the merge removed from the merged account because the survivor already had its unique key: its full content. */
export interface RemovedRow {
  table: string;
  row: Record<string, unknown>;
}

@ObjectType({ description: 'A merge of one account into another: what moved, so `unmergeAccounts` can put back exactly those rows.' })
@Entity('account_merge')
export class AccountMerge {
  @Field(() => ID, { description: 'The merge.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field(() => ID, { description: 'The account that remains.' })
  @Column('uuid', { name: 'survivor_id' })
  survivorId: string;

  @Field(() => ID, { description: 'The account merged into it (kept, with `mergedInto` set).' })
  @Column('uuid', { name: 'merged_id' })
  mergedId: string;

  @Field({ description: 'Why the accounts were merged, as given.' })
  @Column('text')
  reason: string;

  @Field(() => MergeStatus, { description: 'MERGED, or UNMERGED once undone.' })
  @Column('text')
  status: MergeStatus;

  /** Not exposed in full (it can be large): `movedCount` and `movedTables` say what moved. */
  @Column('jsonb')
  moved: MovedRows[];

  @Column('jsonb')
  removed: RemovedRow[];

  @Field(() => Int, { description: 'How many rows moved to the survivor (plus those removed as duplicates, see ADR 0028).' })
  @Column('int', { name: 'moved_count' })
  movedCount: number;

  @Field(() => ID, { nullable: true, description: 'The candidate match it came from, if any.' })
  @Column('uuid', { name: 'match_id', nullable: true })
  matchId: string | null;

  @Field({ description: 'When the merge was made.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: 'When it was undone, if it was.' })
  @Column('timestamptz', { name: 'unmerged_at', nullable: true })
  unmergedAt: Date | null;

  @Field(() => String, { nullable: true, description: 'Why it was undone, as given.' })
  @Column('text', { name: 'unmerge_reason', nullable: true })
  unmergeReason: string | null;
}

@ObjectType({ description: 'Rows of one table a merge moved.' })
export class MergeTableCount {
  @Field({ description: 'The table whose rows moved.' })
  table: string;

  @Field(() => Int, { description: 'Rows of the merged account moved to the survivor.' })
  moved: number;

  @Field(() => Int, { description: 'Rows of the merged account removed because the survivor had the same unique key (kept in the merge record, restored by unmerge).' })
  removed: number;
}

export const identityEntities: Function[] = [IdentityMatch, AccountMerge];
