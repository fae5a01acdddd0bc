import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Roles } from '../auth/role';
import type { Connection } from '../common/pagination';
import type { GraphQLContext } from '../server/graphql-context';
import { Feature, Meter, Product, ProductComponent, ProductFeature } from './catalog.entities';
import { ProductModelPriceResolver } from './model-price.resolvers';
import {
  CatalogListArgs,
  FeatureConnection,
  MeterConnection,
  ProductConnection,
  ProductsArgs,
  UpsertFeatureInput,
  UpsertMeterInput,
  UpsertProductInput,
} from './catalog.types';

const SKU_ARG = { description: 'The product sku.' };
const KEY_ARG = { description: 'The item key.' };

@Resolver(() => Product)
export class ProductResolver {
  @Authorized(Roles.ANY)
  @Query(() => ProductConnection, { description: 'Products, oldest first, optionally filtered.' })
  products(@Args() args: ProductsArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<Product>> {
    return ctx.services.catalog.listProducts(ctx, args);
  }

  @Authorized(Roles.ANY)
  @Query(() => Product, { nullable: true, description: 'One product by id or sku (give one); NOT_FOUND when there is none.' })
  product(
    @Arg('id', () => ID, { nullable: true, description: 'The product id.' }) id: string | null,
    @Arg('sku', () => String, { nullable: true, description: 'The product sku.' }) sku: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Product> {
    return ctx.services.catalog.getProduct(ctx, { id, sku });
  }

  @Authorized(Roles.OPERATE)
  @Mutation(() => Product, {
    description:
      'Creates or updates a product by sku. `features` and `components`, when given, replace the lists. Idempotent. ADMIN, OPERATIONS.',
  })
  upsertProduct(@Arg('input', { description: 'The product, by sku.' }) input: UpsertProductInput, @Ctx() ctx: GraphQLContext): Promise<Product> {
    return ctx.services.catalog.upsertProduct(ctx, input);
  }

  @Authorized(Roles.OPERATE)
  @Mutation(() => Product, { description: 'Archives a product: kept for what refers to it, no longer offered. Idempotent. ADMIN, OPERATIONS.' })
  archiveProduct(@Arg('sku', SKU_ARG) sku: string, @Ctx() ctx: GraphQLContext): Promise<Product> {
    return ctx.services.catalog.archiveProduct(ctx, sku);
  }

  @Authorized(Roles.OPERATE)
  @Mutation(() => Boolean, {
    description: 'Deletes a product that nothing refers to; CONFLICT CATALOG_IN_USE otherwise (archive it instead). ADMIN, OPERATIONS.',
  })
  deleteProduct(@Arg('sku', SKU_ARG) sku: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return ctx.services.catalog.deleteProduct(ctx, sku);
  }

  @FieldResolver(() => [ProductFeature], { description: 'The features this product grants itself (not those of its components), by key.' })
  features(@Root() product: Product, @Ctx() ctx: GraphQLContext): Promise<ProductFeature[]> {
    return ctx.loaders.catalog.grantsByProduct.load(product.id);
  }

  @FieldResolver(() => [ProductComponent], { description: 'The products this bundle is made of, by sku; empty for a plain product.' })
  components(@Root() product: Product, @Ctx() ctx: GraphQLContext): Promise<ProductComponent[]> {
    return ctx.loaders.catalog.componentsByBundle.load(product.id);
  }

  @FieldResolver(() => Boolean, { description: 'Whether this product is a bundle (has components).' })
  async isBundle(@Root() product: Product, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return (await ctx.loaders.catalog.componentsByBundle.load(product.id)).length > 0;
  }

  @FieldResolver(() => [ProductFeature], {
    description:
      'Everything one unit grants, bundle flattened: own features plus those of all components, recursively, limits multiplied by quantities; a feature from several components is summed, and unlimited anywhere is unlimited.',
  })
  async effectiveFeatures(@Root() product: Product, @Ctx() ctx: GraphQLContext): Promise<ProductFeature[]> {
    const list = await ctx.loaders.catalog.effectiveFeaturesByProduct.load(product.id);
    return list.map((f) => ({ productId: product.id, featureId: f.featureId, limit: f.limitPerUnit }));
  }
}

@Resolver(() => ProductFeature)
export class ProductFeatureResolver {
  @FieldResolver(() => Feature, { description: 'The feature granted.' })
  async feature(@Root() grant: ProductFeature, @Ctx() ctx: GraphQLContext): Promise<Feature> {
    return (await ctx.loaders.catalog.featureById.load(grant.featureId))!;
  }
}

@Resolver(() => ProductComponent)
export class ProductComponentResolver {
  @FieldResolver(() => Product, { description: 'The component product.' })
  async product(@Root() component: ProductComponent, @Ctx() ctx: GraphQLContext): Promise<Product> {
    return (await ctx.loaders.catalog.productById.load(component.componentId))!;
  }
}

@Resolver(() => Feature)
export class FeatureResolver {
  @Authorized(Roles.ANY)
  @Query(() => FeatureConnection, { description: 'Features, oldest first, optionally filtered.' })
  features(@Args() args: CatalogListArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<Feature>> {
    return ctx.services.catalog.listFeatures(ctx, args);
  }

  @Authorized(Roles.ANY)
  @Query(() => Feature, { nullable: true, description: 'One feature by key; NOT_FOUND when there is none.' })
  feature(@Arg('key', KEY_ARG) key: string, @Ctx() ctx: GraphQLContext): Promise<Feature> {
    return ctx.services.catalog.getFeature(ctx, key);
  }

  @Authorized(Roles.OPERATE)
  @Mutation(() => Feature, { description: 'Creates or updates a feature by key. Idempotent. ADMIN, OPERATIONS.' })
  upsertFeature(@Arg('input', { description: 'The feature, by key.' }) input: UpsertFeatureInput, @Ctx() ctx: GraphQLContext): Promise<Feature> {
    return ctx.services.catalog.upsertFeature(ctx, input);
  }

  @Authorized(Roles.OPERATE)
  @Mutation(() => Feature, { description: 'Archives a feature: kept for what refers to it, no longer offered. Idempotent. ADMIN, OPERATIONS.' })
  archiveFeature(@Arg('key', KEY_ARG) key: string, @Ctx() ctx: GraphQLContext): Promise<Feature> {
    return ctx.services.catalog.archiveFeature(ctx, key);
  }

  @Authorized(Roles.OPERATE)
  @Mutation(() => Boolean, {
    description: 'Deletes a feature no product or meter refers to; CONFLICT CATALOG_IN_USE otherwise (archive it instead). ADMIN, OPERATIONS.',
  })
  deleteFeature(@Arg('key', KEY_ARG) key: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return ctx.services.catalog.deleteFeature(ctx, key);
  }
}

@Resolver(() => Meter)
export class MeterResolver {
  @Authorized(Roles.ANY)
  @Query(() => MeterConnection, { description: 'Meters, oldest first, optionally filtered.' })
  meters(@Args() args: CatalogListArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<Meter>> {
    return ctx.services.catalog.listMeters(ctx, args);
  }

  @Authorized(Roles.ANY)
  @Query(() => Meter, { nullable: true, description: 'One meter by key; NOT_FOUND when there is none.' })
  meter(@Arg('key', KEY_ARG) key: string, @Ctx() ctx: GraphQLContext): Promise<Meter> {
    return ctx.services.catalog.getMeter(ctx, key);
  }

  @Authorized(Roles.OPERATE)
  @Mutation(() => Meter, { description: 'Creates or updates a meter by key. Idempotent. ADMIN, OPERATIONS.' })
  upsertMeter(@Arg('input', { description: 'The meter, by key.' }) input: UpsertMeterInput, @Ctx() ctx: GraphQLContext): Promise<Meter> {
    return ctx.services.catalog.upsertMeter(ctx, input);
  }

  @Authorized(Roles.OPERATE)
  @Mutation(() => Meter, { description: 'Archives a meter: kept for the usage recorded against it. Idempotent. ADMIN, OPERATIONS.' })
  archiveMeter(@Arg('key', KEY_ARG) key: string, @Ctx() ctx: GraphQLContext): Promise<Meter> {
    return ctx.services.catalog.archiveMeter(ctx, key);
  }

  @Authorized(Roles.OPERATE)
  @Mutation(() => Boolean, {
    description: 'Deletes a meter nothing refers to; CONFLICT CATALOG_IN_USE otherwise (archive it instead). ADMIN, OPERATIONS.',
  })
  deleteMeter(@Arg('key', KEY_ARG) key: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return ctx.services.catalog.deleteMeter(ctx, key);
  }

  @FieldResolver(() => String, { nullable: true, description: 'The key of the feature whose entitlement this meter\'s usage draws on.' })
  async featureKey(@Root() meter: Meter, @Ctx() ctx: GraphQLContext): Promise<string | null> {
    return meter.featureId ? ((await ctx.loaders.catalog.featureById.load(meter.featureId))?.key ?? null) : null;
  }

  @FieldResolver(() => Feature, { nullable: true, description: 'The feature whose entitlement this meter\'s usage draws on.' })
  feature(@Root() meter: Meter, @Ctx() ctx: GraphQLContext): Promise<Feature | null> {
    return meter.featureId ? ctx.loaders.catalog.featureById.load(meter.featureId) : Promise.resolve(null);
  }
}

export const CatalogResolvers: Function[] = [ProductResolver, ProductFeatureResolver, ProductComponentResolver, FeatureResolver, MeterResolver, ProductModelPriceResolver];
