import { Arg, Authorized, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { Roles } from '../auth/role';
import type { GraphQLContext } from '../server/graphql-context';
import { UsageBatchResult, UsageEventInput, UsageRollupRebuild } from './usage.types';

@Resolver()
export class UsageResolver {
  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => UsageBatchResult, {
    description:
      'Records up to 1,000 usage events (more: BAD_USER_INPUT `USAGE_BATCH_TOO_LARGE`; POST /v1/usage takes 10,000 NDJSON lines). ' +
      'Each event is checked alone: bad ones are listed in `rejected` with a code, the others are stored. The answer comes once they are committed. ' +
      'Exactly once per (account, source, id): on a timeout, send the same batch again. An account-scoped key may only send its own account\'s events. ' +
      'ADMIN, OPERATIONS, INTEGRATION.',
  })
  recordUsage(
    @Arg('events', () => [UsageEventInput], { description: 'The events (at most 1,000).' }) events: UsageEventInput[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<UsageBatchResult> {
    return ctx.services.usage.recordUsage(ctx, events);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => UsageRollupRebuild, {
    description:
      'Rebuilds an account\'s hourly and daily usage rollups from its stored events (a repair for operators; ingestion keeps them right by itself). ' +
      'Ingestion pauses while it runs. Refused (CONFLICT USAGE_EVENTS_DROPPED) when the account has rollups of months whose raw events ' +
      'retention dropped (EHUB_USAGE_RETENTION_MONTHS): those rollups cannot be rebuilt and are kept as they are. ADMIN.',
  })
  rebuildUsageRollups(
    @Arg('accountId', () => ID, { description: 'The account.' }) accountId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UsageRollupRebuild> {
    return ctx.services.usage.rebuildRollups(ctx, accountId);
  }
}

/** GraphQL resolvers of the usage domain. */
export const UsageResolvers: Function[] = [UsageResolver];
