import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role } from '../auth/role';
import { assertUnscoped } from '../auth/scope';
import { Account } from '../accounts/account.entity';
import type { GraphQLContext } from '../server/graphql-context';
import { AccountHealth, HealthHistoryPoint, HealthRunSummary, SetHealthOverrideArgs } from './health.types';
import type { AccountHealthView, HealthHistoryPoint as HistoryPoint, HealthRunSummary as RunSummary } from './health.service';

/** Who reads health: analysts and up. Who recomputes and overrides: customer-facing operations. */
const READ = [Role.ADMIN, Role.OPERATIONS, Role.FINANCE, Role.ANALYST];
const WORK = [Role.ADMIN, Role.OPERATIONS];

@Resolver(() => Account)
export class AccountHealthResolver {
  @FieldResolver(() => AccountHealth, {
    nullable: true,
    description: 'The explainable health score (null until the health job or recomputeHealth has scored the account). ADMIN, OPERATIONS, FINANCE, ANALYST.',
  })
  @Authorized(READ)
  async health(@Root() a: Account, @Ctx() ctx: GraphQLContext): Promise<AccountHealthView | null> {
    return ctx.loaders.health.load(a.id);
  }
}

@Resolver()
export class HealthScoreResolver {
  @Authorized(READ)
  @Query(() => [HealthHistoryPoint], { description: "An account's daily health history, oldest first (at most about three years). ADMIN, OPERATIONS, FINANCE, ANALYST." })
  healthHistory(
    @Arg('accountId', () => ID, { description: 'The account.' }) accountId: string,
    @Arg('from', { description: 'YYYY-MM-DD' }) from: string,
    @Arg('to', { description: 'YYYY-MM-DD' }) to: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<HistoryPoint[]> {
    return ctx.services.health.history(ctx, accountId, from, to);
  }

  @Authorized(WORK)
  @Mutation(() => AccountHealth, { description: 'Scores one account now (HEALTH_NO_DATA when nothing can be measured). ADMIN, OPERATIONS.' })
  recomputeHealth(@Arg('accountId', () => ID, { description: 'The account.' }) accountId: string, @Ctx() ctx: GraphQLContext): Promise<AccountHealthView> {
    return ctx.services.health.recompute(ctx, accountId);
  }

  @Authorized([Role.ADMIN])
  @Mutation(() => HealthRunSummary, { description: 'Scores every account now, as the scheduled job does. ADMIN.' })
  recomputeAllHealth(@Ctx() ctx: GraphQLContext): Promise<RunSummary> {
    assertUnscoped(ctx, 'score every account');
    return ctx.services.health.recomputeAll(ctx);
  }

  @Authorized(WORK)
  @Mutation(() => AccountHealth, {
    description: "Sets a person's score for an account with a reason and an expiry; the computed score is kept beside it and goes on being computed. ADMIN, OPERATIONS.",
  })
  setHealthOverride(@Args() a: SetHealthOverrideArgs, @Ctx() ctx: GraphQLContext): Promise<AccountHealthView> {
    return ctx.services.health.setOverride(ctx, a.accountId, a.score, a.reason, a.expiresAt);
  }

  @Authorized(WORK)
  @Mutation(() => AccountHealth, { nullable: true, description: "Removes an account's health override (idempotent). ADMIN, OPERATIONS." })
  clearHealthOverride(@Arg('accountId', () => ID, { description: 'The account.' }) accountId: string, @Ctx() ctx: GraphQLContext): Promise<AccountHealthView | null> {
    return ctx.services.health.clearOverride(ctx, accountId);
  }
}

export const HealthResolvers: Function[] = [AccountHealthResolver, HealthScoreResolver];
