import { Args, Authorized, Ctx, Query, Resolver } from 'type-graphql';
import { Role } from '../auth/role';
import type { GraphQLContext } from '../server/graphql-context';
import { MAX_PERSONA_DAYS, PackagingInsight, PackagingInsightArgs, UsagePersonas, UsagePersonasArgs } from './insights.types';

/** Product insight is analytics: read-only, for analysts and up. */
const ANALYZE = [Role.ADMIN, Role.OPERATIONS, Role.FINANCE, Role.ANALYST];
const WHO = 'ADMIN, OPERATIONS, FINANCE, ANALYST; an account-scoped key sees only its account.';

@Resolver()
export class InsightsResolver {
  @Authorized(ANALYZE)
  @Query(() => PackagingInsight, {
    description:
      'Packaging insight for a product, usually a bundle: for each feature it grants (bundles flattened), how many of the entitled accounts used it in the window and a verdict (USED, RARELY_USED, UNUSED, NOT_MEASURED); ' +
      'and the add-on candidates: features its holders used beyond their limits (OVERUSE findings) or without the product granting them (unentitled usage). At most 366 days. ' +
      WHO,
  })
  packagingInsight(@Args() args: PackagingInsightArgs, @Ctx() ctx: GraphQLContext): Promise<PackagingInsight> {
    return ctx.services.insights.packagingInsight(ctx, args);
  }

  @Authorized(ANALYZE)
  @Query(() => UsagePersonas, {
    description:
      'Who the users are: usage in the window grouped by a user attribute, either a property reported with the usage events (EVENT_PROPERTY, e.g. "role") or the title or department of the account\'s contact whose e-mail is the event\'s user. ' +
      `Users are an account and a case-insensitive user id; events without a user are not counted. Reads the raw events: at most ${MAX_PERSONA_DAYS} days (ANALYTICS_RANGE_TOO_LARGE). ` +
      WHO,
  })
  usagePersonas(@Args() args: UsagePersonasArgs, @Ctx() ctx: GraphQLContext): Promise<UsagePersonas> {
    return ctx.services.insights.usagePersonas(ctx, args);
  }
}

/** GraphQL resolvers of product insight (packaging, personas). */
export const InsightsResolvers: Function[] = [InsightsResolver];
