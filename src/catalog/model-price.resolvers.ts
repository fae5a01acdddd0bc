import { Arg, Authorized, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import { Roles } from '../auth/role';
import type { GraphQLContext } from '../server/graphql-context';
import { Product } from './catalog.entities';
import { toModelPrice } from './model-price.service';
import { ProductModelPrice, ProductModelPriceInput } from './model-price.types';

@Resolver(() => Product)
export class ProductModelPriceResolver {
  @Authorized(Roles.OPERATE)
  @Mutation(() => Product, {
    description:
      "Sets a product's catalog prices per model (replacing the list; an empty list removes them), for model-fit analysis. In the product's currency; USAGE and HYBRID name a SUM or COUNT meter; HYBRID also a base fee and included units. Idempotent. ADMIN, OPERATIONS.",
  })
  setProductModelPrices(
    @Arg('sku', { description: 'The product sku.' }) sku: string,
    @Arg('prices', () => [ProductModelPriceInput], { description: 'The prices, at most one per model.' }) prices: ProductModelPriceInput[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<Product> {
    return ctx.services.modelPrices.setProductModelPrices(ctx, sku, prices);
  }

  @FieldResolver(() => [ProductModelPrice], { description: 'The catalog prices of this product per model (model fit); empty when none are set.' })
  async modelPrices(@Root() product: Product, @Ctx() ctx: GraphQLContext): Promise<ProductModelPrice[]> {
    return (await ctx.loaders.catalog.modelPricesByProduct.load(product.id)).map(toModelPrice);
  }
}
