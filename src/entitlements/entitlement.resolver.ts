import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Roles, Role } from '../auth/role';
import type { Connection } from '../common/pagination';
import type { GraphQLContext } from '../server/graphql-context';
import { Account } from '../accounts/account.entity';
import { Product } from '../catalog/catalog.entities';
import { OrderLine } from '../orders/order-line.entity';
import { EntitlementConnection, EntitlementListArgs } from '../orders/order.types';
import { Entitlement, EntitlementEvent, EntitlementFeature } from './entitlement.entity';
import { EntitlementStatus } from './entitlement.enums';
import { effectivePhase, effectiveStatus } from './effective-status';

@Resolver(() => Entitlement)
export class EntitlementResolver {
  @Authorized(Roles.ANY)
  @Query(() => EntitlementConnection, { description: 'Entitlements, oldest first, filtered.' })
  entitlements(@Args() args: EntitlementListArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<Entitlement>> {
    return ctx.services.entitlements.list(ctx, args);
  }

  @Authorized(Roles.ANY)
  @Query(() => Entitlement, { description: 'One entitlement (NOT_FOUND if missing or not visible to the key).' })
  entitlement(@Arg('id', () => ID, { description: 'The entitlement id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<Entitlement> {
    return ctx.services.entitlements.get(ctx, id);
  }

  @Authorized([Role.ADMIN, Role.OPERATIONS, Role.FINANCE])
  @Mutation(() => Entitlement, { description: 'Puts an entitlement on hold (collections, compliance); checks refuse it until resumed. Idempotent.' })
  suspendEntitlement(
    @Arg('id', () => ID, { description: 'The entitlement id.' }) id: string,
    @Arg('reason', { description: 'Why (shown in history and to support).' }) reason: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Entitlement> {
    return ctx.services.entitlements.suspend(ctx, id, reason);
  }

  @Authorized([Role.ADMIN, Role.OPERATIONS, Role.FINANCE])
  @Mutation(() => Entitlement, { description: 'Lifts a suspension; the entitlement is again what its dates say. Idempotent.' })
  resumeEntitlement(@Arg('id', () => ID, { description: 'The entitlement id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<Entitlement> {
    return ctx.services.entitlements.resume(ctx, id);
  }

  @FieldResolver(() => EntitlementStatus, { description: 'The effective status now (dates applied, not waiting for the lifecycle job).' })
  status(@Root() e: Entitlement): EntitlementStatus {
    return effectiveStatus(e);
  }

  @FieldResolver(() => String, {
    description: 'Finer than status: ACTIVE, NOT_STARTED, IN_GRACE, SUSPENDED, EXPIRED or CANCELLED.',
  })
  phase(@Root() e: Entitlement): string {
    return effectivePhase(e);
  }

  @FieldResolver(() => EntitlementStatus, { description: 'The stored status (moved along by the lifecycle job).' })
  storedStatus(@Root() e: Entitlement): EntitlementStatus {
    return e.status;
  }

  @FieldResolver(() => [EntitlementFeature], { description: 'The features granted, with total limits.' })
  features(@Root() e: Entitlement, @Ctx() ctx: GraphQLContext): Promise<EntitlementFeature[]> {
    return ctx.loaders.entitlements.features.load(e.id);
  }

  @FieldResolver(() => [EntitlementEvent], { description: 'The history: grants, renewals, amendments, suspensions... oldest first.' })
  history(@Root() e: Entitlement, @Ctx() ctx: GraphQLContext): Promise<EntitlementEvent[]> {
    return ctx.loaders.entitlements.history.load(e.id);
  }

  @FieldResolver(() => Account, { description: 'The account entitled.' })
  async account(@Root() e: Entitlement, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return (await ctx.loaders.accounts.account.load(e.accountId))!;
  }

  @FieldResolver(() => Product, { description: 'The product granted.' })
  async product(@Root() e: Entitlement, @Ctx() ctx: GraphQLContext): Promise<Product> {
    return (await ctx.loaders.catalog.productById.load(e.productId))!;
  }

  @FieldResolver(() => OrderLine, { description: 'The order line that granted it.' })
  async orderLine(@Root() e: Entitlement, @Ctx() ctx: GraphQLContext): Promise<OrderLine> {
    return (await ctx.loaders.entitlements.line.load(e.orderLineId))!;
  }
}
