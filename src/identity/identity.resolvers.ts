import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Int, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { Length, MaxLength } from 'class-validator';
import { ConnectionType, PageArgs, type Connection } from '../common/pagination';
import { Roles } from '../auth/role';
import type { GraphQLContext } from '../server/graphql-context';
import { Account } from '../accounts/account.entity';
import { AccountMerge, IdentityMatch, MatchStatus, MergeTableCount } from './identity.entities';
import { tableCounts, type MatchRunResult } from './identity.service';

export const IdentityMatchConnection = ConnectionType(IdentityMatch);

@ArgsType()
export class IdentityMatchArgs extends PageArgs {
  @Field(() => MatchStatus, { defaultValue: MatchStatus.PENDING, description: 'Which matches: PENDING (the review queue, the default), CONFIRMED, REJECTED or AUTO_MERGED.' })
  status: MatchStatus = MatchStatus.PENDING;
}

@ObjectType({ description: 'What one identity matching run did.' })
export class IdentityMatchRun implements MatchRunResult {
  @Field(() => Int, { description: 'Live accounts considered.' })
  accounts: number;

  @Field(() => Int, { description: 'Candidate pairs at or above the review threshold.' })
  candidates: number;

  @Field(() => Int, { description: 'Pairs put (or kept, with a fresh score) in the review queue.' })
  queued: number;

  @Field(() => Int, { description: 'Pairs merged automatically.' })
  autoMerged: number;

  @Field(() => Int, { description: 'Pairs already decided, or whose account was merged earlier in the run.' })
  skipped: number;
}

const REASON = { description: 'Why, for the audit trail (1–2000 characters).' };

@Resolver(() => IdentityMatch)
export class IdentityMatchResolver {
  @Authorized(Roles.ANY)
  @Query(() => IdentityMatchConnection, {
    description: 'Candidate matches between accounts (default: the PENDING review queue), oldest first, each with both accounts, confidence and evidence. Account-scoped keys are refused.',
  })
  identityMatches(@Args() args: IdentityMatchArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<IdentityMatch>> {
    return ctx.services.identity.list(ctx, args.status, args);
  }

  @Authorized(Roles.OPERATE)
  @Mutation(() => IdentityMatchRun, {
    description: 'Runs identity matching now: auto-merges pairs at or above EHUB_IDENTITY_AUTO_MERGE_THRESHOLD and queues those above EHUB_IDENTITY_REVIEW_THRESHOLD. ADMIN, OPERATIONS.',
  })
  runIdentityMatching(@Ctx() ctx: GraphQLContext): Promise<MatchRunResult> {
    return ctx.services.identity.runMatching(ctx);
  }

  @Authorized(Roles.OPERATE)
  @Mutation(() => IdentityMatch, {
    description: 'Confirms a pending match and merges the two accounts (the older survives). CONFLICT `MATCH_ALREADY_DECIDED` or `ACCOUNT_ALREADY_MERGED`. ADMIN, OPERATIONS.',
  })
  confirmMatch(
    @Arg('id', () => ID, { description: 'The match id.' }) id: string,
    @Arg('reason', () => String, { nullable: true, ...REASON }) reason: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<IdentityMatch> {
    return ctx.services.identity.confirm(ctx, id, reason ?? null);
  }

  @Authorized(Roles.OPERATE)
  @Mutation(() => IdentityMatch, { description: 'Rejects a pending match; the pair is never proposed again. CONFLICT `MATCH_ALREADY_DECIDED`. ADMIN, OPERATIONS.' })
  rejectMatch(
    @Arg('id', () => ID, { description: 'The match id.' }) id: string,
    @Arg('reason', REASON) reason: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<IdentityMatch> {
    return ctx.services.identity.reject(ctx, id, reason);
  }

  @FieldResolver(() => Account, { description: 'One account of the pair.' })
  async accountA(@Root() m: IdentityMatch, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return (await ctx.loaders.accounts.account.load(m.accountAId))!;
  }

  @FieldResolver(() => Account, { description: 'The other account of the pair.' })
  async accountB(@Root() m: IdentityMatch, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return (await ctx.loaders.accounts.account.load(m.accountBId))!;
  }
}

@ArgsType()
class MergeArgs {
  @Field(() => ID, { description: 'The account that remains.' })
  survivorId: string;

  @Field(() => ID, { description: 'The account merged into it.' })
  mergedId: string;

  @Field(REASON)
  @Length(1, 2000)
  reason: string;
}

@ArgsType()
class UnmergeArgs {
  @Field(() => ID, { description: 'The merge to undo (`AccountMerge.id`).' })
  mergeId: string;

  @Field(() => String, { nullable: true, ...REASON })
  @MaxLength(2000)
  reason?: string | null;
}

@Resolver(() => AccountMerge)
export class AccountMergeResolver {
  @Authorized(Roles.ANY)
  @Query(() => AccountMerge, { description: 'One account merge by id; NOT_FOUND when missing. Account-scoped keys are refused.' })
  accountMerge(@Arg('id', () => ID, { description: 'The merge id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<AccountMerge> {
    return ctx.services.identity.getMerge(ctx, id);
  }

  @Authorized(Roles.OPERATE)
  @Mutation(() => AccountMerge, {
    description:
      'Merges one account into another in one transaction: every row pointing at the merged account moves to the survivor, recorded so `unmergeAccounts` can undo it. ' +
      'BAD_USER_INPUT `MERGE_INTO_ITSELF`; CONFLICT `ACCOUNT_ALREADY_MERGED`; NOT_FOUND for unknown ids. ADMIN, OPERATIONS.',
  })
  mergeAccounts(@Args() args: MergeArgs, @Ctx() ctx: GraphQLContext): Promise<AccountMerge> {
    return ctx.services.identity.merge(ctx, args.survivorId, args.mergedId, args.reason);
  }

  @Authorized(Roles.OPERATE)
  @Mutation(() => AccountMerge, {
    description:
      'Undoes a merge: exactly the rows it moved go back (rows the survivor gained since stay). CONFLICT `MERGE_ALREADY_UNDONE` or `MERGE_SUPERSEDED`. ADMIN, OPERATIONS.',
  })
  unmergeAccounts(@Args() args: UnmergeArgs, @Ctx() ctx: GraphQLContext): Promise<AccountMerge> {
    return ctx.services.identity.unmerge(ctx, args.mergeId, args.reason ?? null);
  }

  @FieldResolver(() => Account, { description: 'The account that remained.' })
  async survivor(@Root() m: AccountMerge, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return (await ctx.loaders.accounts.account.load(m.survivorId))!;
  }

  @FieldResolver(() => Account, { description: 'The account merged into it.' })
  async merged(@Root() m: AccountMerge, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return (await ctx.loaders.accounts.account.load(m.mergedId))!;
  }

  @FieldResolver(() => [MergeTableCount], { description: 'Rows moved (and removed as duplicates) per table.' })
  tables(@Root() m: AccountMerge): MergeTableCount[] {
    return tableCounts(m);
  }
}

export const IdentityResolvers: Function[] = [IdentityMatchResolver, AccountMergeResolver];
