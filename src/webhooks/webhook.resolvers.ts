import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role, Roles } from '../auth/role';
import type { Connection } from '../common/pagination';
import type { GraphQLContext } from '../server/graphql-context';
import { WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEndpointStatus } from './webhook.entities';
import {
  CreateWebhookEndpointInput,
  RotateWebhookSecretArgs,
  UpdateWebhookEndpointInput,
  WebhookDeliveryConnection,
  WebhookDeliveryListArgs,
  WebhookEndpointConnection,
  WebhookEndpointListArgs,
  WebhookEndpointWithSecret,
  WebhookEventType,
} from './webhook.types';

/** Who may read deliveries (and the event types): admins and the operations team. */
const READ_DELIVERIES = [Role.ADMIN, Role.OPERATIONS];

@Resolver(() => WebhookEndpoint)
export class WebhookEndpointResolver {
  @Authorized(Roles.ADMIN)
  @Mutation(() => WebhookEndpointWithSecret, {
    description: 'Registers a URL to receive signed events of the given types; returns its signing secret, once. ADMIN.',
  })
  createWebhookEndpoint(
    @Arg('input', { description: 'The endpoint to create.' }) input: CreateWebhookEndpointInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookEndpointWithSecret> {
    return ctx.services.webhooks.createEndpoint(ctx, input);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => WebhookEndpoint, { description: 'Changes the URL, event types or note of an endpoint. ADMIN.' })
  updateWebhookEndpoint(
    @Arg('id', () => ID, { description: 'The endpoint id.' }) id: string,
    @Arg('input', { description: 'What to change.' }) input: UpdateWebhookEndpointInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookEndpoint> {
    return ctx.services.webhooks.updateEndpoint(ctx, id, input);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => WebhookEndpoint, {
    description: 'Stops queuing events for an endpoint; deliveries already queued wait until it is enabled. Idempotent. ADMIN.',
  })
  disableWebhookEndpoint(@Arg('id', () => ID, { description: 'The endpoint id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<WebhookEndpoint> {
    return ctx.services.webhooks.setEndpointStatus(ctx, id, WebhookEndpointStatus.DISABLED);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => WebhookEndpoint, { description: 'Enables a disabled endpoint; the deliveries that waited go out in order. Idempotent. ADMIN.' })
  enableWebhookEndpoint(@Arg('id', () => ID, { description: 'The endpoint id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<WebhookEndpoint> {
    return ctx.services.webhooks.setEndpointStatus(ctx, id, WebhookEndpointStatus.ACTIVE);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => WebhookEndpointWithSecret, {
    description:
      'Replaces the signing secret and returns the new one, once. For `keepPreviousHours` deliveries carry a signature with each secret. ADMIN.',
  })
  rotateWebhookSecret(@Args() args: RotateWebhookSecretArgs, @Ctx() ctx: GraphQLContext): Promise<WebhookEndpointWithSecret> {
    return ctx.services.webhooks.rotateSecret(ctx, args.id, args.keepPreviousHours);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => WebhookDelivery, { description: 'Sends a `webhook.ping` event to one endpoint, to test its receiver. ADMIN.' })
  pingWebhookEndpoint(@Arg('id', () => ID, { description: 'The endpoint id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<WebhookDelivery> {
    return ctx.services.webhooks.ping(ctx, id);
  }

  @Authorized(Roles.ADMIN)
  @Query(() => WebhookEndpointConnection, { description: 'Webhook endpoints, oldest first (never their secrets). ADMIN.' })
  webhookEndpoints(@Args() args: WebhookEndpointListArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<WebhookEndpoint>> {
    return ctx.services.webhooks.listEndpoints(ctx, args);
  }

  @Authorized(Roles.ADMIN)
  @Query(() => WebhookEndpoint, { description: 'One webhook endpoint (NOT_FOUND if missing or not visible to the key). ADMIN.' })
  webhookEndpoint(@Arg('id', () => ID, { description: 'The endpoint id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<WebhookEndpoint> {
    return ctx.services.webhooks.getEndpoint(ctx, id);
  }

  @Authorized(READ_DELIVERIES)
  @Query(() => [WebhookEventType], { description: 'The event types endpoints can subscribe to. ADMIN, OPERATIONS.' })
  webhookEventTypes(@Ctx() ctx: GraphQLContext): WebhookEventType[] {
    return ctx.services.webhooks.eventTypes();
  }
}

@Resolver(() => WebhookDelivery)
export class WebhookDeliveryResolver {
  @Authorized(READ_DELIVERIES)
  @Query(() => WebhookDeliveryConnection, { description: 'Webhook deliveries (the outbox), oldest first, filtered. ADMIN, OPERATIONS.' })
  webhookDeliveries(@Args() args: WebhookDeliveryListArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<WebhookDelivery>> {
    return ctx.services.webhooks.listDeliveries(ctx, args);
  }

  @Authorized(READ_DELIVERIES)
  @Query(() => WebhookDelivery, { description: 'One webhook delivery with its attempts. ADMIN, OPERATIONS.' })
  webhookDelivery(@Arg('id', () => ID, { description: 'The delivery id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<WebhookDelivery> {
    return ctx.services.webhooks.getDelivery(ctx, id);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => WebhookDelivery, {
    description:
      'Queues a DEAD or DELIVERED delivery again (attempts from zero, at the back of its endpoint\'s queue); a FAILED one is retried now; a PENDING one is left as it is. ADMIN.',
  })
  replayWebhookDelivery(@Arg('id', () => ID, { description: 'The delivery id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<WebhookDelivery> {
    return ctx.services.webhooks.replayDelivery(ctx, id);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => Int, { description: 'Queues every DEAD delivery of an endpoint again, in their original order; returns how many. ADMIN.' })
  replayDeadWebhookDeliveries(
    @Arg('endpointId', () => ID, { description: 'The endpoint id.' }) endpointId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<number> {
    return ctx.services.webhooks.replayDeadDeliveries(ctx, endpointId);
  }

  @FieldResolver(() => [WebhookAttempt], { description: 'Every attempt, oldest first.' })
  attempts(@Root() d: WebhookDelivery, @Ctx() ctx: GraphQLContext): Promise<WebhookAttempt[]> {
    return ctx.loaders.webhooks.attempts.load(d.id);
  }
}

/** GraphQL resolvers of the webhooks domain. */
export const WebhookResolvers: Function[] = [WebhookEndpointResolver, WebhookDeliveryResolver];
