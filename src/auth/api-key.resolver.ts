import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { PageArgs, type Connection } from '../common/pagination';
import type { GraphQLContext } from '../server/graphql-context';
import { ApiKey } from './api-key.entity';
import { ApiKeyConnection, CreateApiKeyInput, CreatedApiKey } from './api-key.types';
import { Roles } from './role';

@Resolver(() => ApiKey)
export class ApiKeyResolver {
  @Authorized(Roles.ADMIN)
  @Mutation(() => CreatedApiKey, { description: 'Creates an API key and returns its secret, once. ADMIN.' })
  createApiKey(@Arg('input', { description: 'The key to create.' }) input: CreateApiKeyInput, @Ctx() ctx: GraphQLContext): Promise<CreatedApiKey> {
    return ctx.services.apiKeys.create(ctx, input);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => ApiKey, { description: 'Revokes a key at once on this instance (within 10 s on others). ADMIN.' })
  revokeApiKey(@Arg('id', () => ID, { description: 'The key id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<ApiKey> {
    return ctx.services.apiKeys.revoke(ctx, id);
  }

  @Authorized(Roles.ADMIN)
  @Query(() => ApiKeyConnection, { description: 'API keys, oldest first. ADMIN.' })
  apiKeys(
    @Args() page: PageArgs,
    @Arg('includeRevoked', { defaultValue: false, description: 'Include revoked keys.' }) includeRevoked: boolean,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Connection<ApiKey>> {
    return ctx.services.apiKeys.list(ctx, page, includeRevoked);
  }

  @Authorized(Roles.ANY)
  @Query(() => ApiKey, { description: 'The key making this request: a quick way to check a key and its role.' })
  async me(@Ctx() ctx: GraphQLContext): Promise<ApiKey> {
    const key = await ctx.services.apiKeys.findByIdOrPrefix(ctx.principal!.keyId);
    return key!;
  }
}
