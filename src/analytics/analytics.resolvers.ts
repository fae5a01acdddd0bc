import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { Role } from '../auth/role';
import { Account } from '../accounts/account.entity';
import { Product } from '../catalog/catalog.entities';
import type { Connection } from '../common/pagination';
import type { GraphQLContext } from '../server/graphql-context';
import {
  Adoption,
  FeatureUtilization,
  UnusedEntitlement,
  UnusedEntitlementConnection,
  UnusedEntitlementsArgs,
  UsageSeriesArgs,
  UsageSeriesKey,
  UsageSeriesResult,
} from './analytics.types';
import { MAX_PERIODS } from './analytics.service';

/** Usage analytics: read-only, for analysts and up. */
const ANALYZE = [Role.ADMIN, Role.OPERATIONS, Role.FINANCE, Role.ANALYST];
const WHO = 'ADMIN, OPERATIONS, FINANCE, ANALYST; an account-scoped key sees only its account.';

@Resolver()
export class AnalyticsResolver {
  @Authorized(ANALYZE)
  @Query(() => UsageSeriesResult, {
    description:
      'Usage over time: one series per combination of the `groupBy` dimensions, one point per bucket with events, from the hourly (HOUR) or daily (DAY, WEEK, MONTH) rollups, in UTC buckets. ' +
      'Counts one meter, or several sharing aggregation and unit (filter.meter, or a feature with one meter, avoids BAD_USER_INPUT ANALYTICS_METER_REQUIRED). ' +
      `At most 10,000 buckets in the window (ANALYTICS_RANGE_TOO_LARGE) and 10,000 points in the answer (LIMIT_EXCEEDED ANALYTICS_TOO_MANY_POINTS). ` +
      'Grouping by USER or DEVICE reads the raw events: it needs filter.accountId (or entitlementId) and a window of at most 31 days. ' +
      WHO,
  })
  usageSeries(@Args() args: UsageSeriesArgs, @Ctx() ctx: GraphQLContext): Promise<UsageSeriesResult> {
    return ctx.services.analytics.usageSeries(ctx, args);
  }

  @Authorized(ANALYZE)
  @Query(() => [FeatureUtilization], {
    description:
      'Entitled versus used per entitlement and feature, in the current period and the ones before it: % utilization, peak concurrent leases, active devices and users, last use. ' +
      'Give exactly one of `entitlementId` (that entitlement, whatever its state) or `accountId` (its entitlements in force or suspended). ' +
      'Periods are the reset periods of METERED, USAGE and OUTCOME entitlements, calendar months otherwise (contract time zone). ' +
      WHO,
  })
  utilization(
    @Arg('entitlementId', () => ID, { nullable: true, description: 'One entitlement.' }) entitlementId: string | null,
    @Arg('accountId', () => ID, { nullable: true, description: 'All entitlements of an account that are in force (or suspended).' }) accountId: string | null,
    @Arg('periods', () => Int, { defaultValue: 3, description: `How many periods, the current one included (1–${MAX_PERIODS}).` }) periods: number,
    @Ctx() ctx: GraphQLContext,
  ): Promise<FeatureUtilization[]> {
    return ctx.services.analytics.utilization(ctx, { entitlementId, accountId, periods });
  }

  @Authorized(ANALYZE)
  @Query(() => Adoption, {
    description:
      'Adoption of a product\'s features in a window: entitled accounts, those that used each feature, the share, active users, the deployment mix, and the previous window of the same length for the trend. ' +
      'At most 366 days. ' +
      WHO,
  })
  adoption(
    @Arg('productId', () => ID, { description: 'The product.' }) productId: string,
    @Arg('from', { description: 'The start of the window (inclusive).' }) from: Date,
    @Arg('to', { description: 'The end of the window (exclusive).' }) to: Date,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Adoption> {
    return ctx.services.analytics.adoption(ctx, { productId, from, to });
  }

  @Authorized(ANALYZE)
  @Query(() => UnusedEntitlementConnection, {
    description:
      'Shelfware: entitlements in force (active or in grace) whose utilization over the last `days` is below `threshold`, or that saw no use at all, soonest renewal first (perpetual last). ' +
      'Entitlements with nothing to measure (no meter on any feature, no devices, seats or leases) are not listed. ' +
      WHO,
  })
  unusedEntitlements(@Args() args: UnusedEntitlementsArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<UnusedEntitlement>> {
    return ctx.services.analytics.unusedEntitlements(ctx, args);
  }
}

@Resolver(() => UsageSeriesKey)
export class UsageSeriesKeyResolver {
  @FieldResolver(() => Account, { nullable: true, description: 'ACCOUNT: the account.' })
  account(@Root() key: UsageSeriesKey, @Ctx() ctx: GraphQLContext): Promise<Account | null> | null {
    return key.accountId ? ctx.loaders.accounts.account.load(key.accountId) : null;
  }

  @FieldResolver(() => Product, { nullable: true, description: 'PRODUCT: the product of the entitlement drawn on; null = unentitled usage (or not grouped).' })
  product(@Root() key: UsageSeriesKey, @Ctx() ctx: GraphQLContext): Promise<Product | null> | null {
    return key.productId ? ctx.loaders.catalog.productById.load(key.productId) : null;
  }
}

@Resolver(() => UnusedEntitlement)
export class UnusedEntitlementResolver {
  @FieldResolver(() => Account, { description: 'The account.' })
  async account(@Root() u: UnusedEntitlement, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return (await ctx.loaders.accounts.account.load(u.accountId))!;
  }

  @FieldResolver(() => Product, { description: 'The product.' })
  async product(@Root() u: UnusedEntitlement, @Ctx() ctx: GraphQLContext): Promise<Product> {
    return (await ctx.loaders.catalog.productById.load(u.productId))!;
  }
}

@Resolver(() => Adoption)
export class AdoptionResolver {
  @FieldResolver(() => Product, { description: 'The product.' })
  async product(@Root() a: Adoption, @Ctx() ctx: GraphQLContext): Promise<Product> {
    return (await ctx.loaders.catalog.productById.load(a.productId))!;
  }
}

/** GraphQL resolvers of usage analytics. */
export const AnalyticsResolvers: Function[] = [AnalyticsResolver, UsageSeriesKeyResolver, UnusedEntitlementResolver, AdoptionResolver];
