import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Roles } from '../auth/role';
import type { Connection } from '../common/pagination';
import type { GraphQLContext } from '../server/graphql-context';
import { Account } from '../accounts/account.entity';
import { Entitlement } from '../entitlements/entitlement.entity';
import { Order } from './order.entity';
import { OrderLine } from './order-line.entity';
import { OrderConnection, OrderInput, OrderListArgs } from './order.types';

@Resolver(() => Order)
export class OrderResolver {
  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Order, {
    description:
      'Stores an order and fulfils its lines into entitlements in one transaction. Idempotent on (source, externalId, revision): the same again returns the order; different content is CONFLICT; a higher revision applies the difference.',
  })
  async submitOrder(@Arg('input', { description: 'The order.' }) input: OrderInput, @Ctx() ctx: GraphQLContext): Promise<Order> {
    const order = await ctx.services.orders.submit(ctx, input);
    // The entitlements it just granted answer `entitlements` without reading them back.
    const granted = ctx.services.orders.grantedWith(order);
    if (granted) ctx.loaders.entitlements.byOrder.prime(order.id, [...granted]);
    return order;
  }

  @Authorized(Roles.ANY)
  @Query(() => Order, { description: 'One order.' })
  order(@Arg('id', () => ID, { description: 'The order id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<Order> {
    return ctx.services.orders.get(ctx, id);
  }

  @Authorized(Roles.ANY)
  @Query(() => OrderConnection, { description: 'Orders, oldest first.' })
  orders(@Args() args: OrderListArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<Order>> {
    return ctx.services.orders.list(ctx, args);
  }

  @FieldResolver(() => [OrderLine], { description: 'The lines, by line number (removed lines included, with status REMOVED).' })
  lines(@Root() o: Order, @Ctx() ctx: GraphQLContext): Promise<OrderLine[]> {
    return ctx.loaders.entitlements.linesByOrder.load(o.id);
  }

  @FieldResolver(() => [Entitlement], { description: 'The entitlements this order granted.' })
  entitlements(@Root() o: Order, @Ctx() ctx: GraphQLContext): Promise<Entitlement[]> {
    return ctx.loaders.entitlements.byOrder.load(o.id);
  }

  @FieldResolver(() => Account, { description: 'The account.' })
  async account(@Root() o: Order, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return (await ctx.loaders.accounts.account.load(o.accountId))!;
  }
}
