import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role, Roles } from '../auth/role';
import { PageArgs, type Connection } from '../common/pagination';
import type { GraphQLContext } from '../server/graphql-context';
import { SyncConnection, SyncOutboxItem, SyncRun } from './sync.entities';
import {
  CreateSyncConnectionInput,
  OutboxConnection,
  OutboxListArgs,
  RunSyncArgs,
  SyncConnectionConnection,
  SyncConnectionHealth,
  SyncConnectorType,
  SyncRunConnection,
  SyncRunListArgs,
  UpdateSyncConnectionInput,
} from './sync.types';

/** Who may watch sync: admins and the operations team. */
const WATCH = [Role.ADMIN, Role.OPERATIONS];

@Resolver(() => SyncConnection)
export class SyncConnectionResolver {
  @Authorized(Roles.ADMIN)
  @Query(() => [SyncConnectorType], { description: 'The connector types this hub ships (e.g. salesforce). ADMIN.' })
  syncConnectorTypes(@Ctx() ctx: GraphQLContext): SyncConnectorType[] {
    return ctx.services.sync.connectorTypes();
  }

  @Authorized(WATCH)
  @Query(() => SyncConnectionConnection, { description: 'Connections to external systems, oldest first (never their credentials). ADMIN, OPERATIONS.' })
  syncConnections(@Args() args: PageArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<SyncConnection>> {
    return ctx.services.sync.listConnections(ctx, args);
  }

  @FieldResolver(() => Int, { description: 'Its outbox items that exhausted their attempts (DEAD), all of them: replayDeadOutboxItems sends them again. ADMIN, OPERATIONS.' })
  deadLetters(@Root() c: SyncConnection, @Ctx() ctx: GraphQLContext): Promise<number> {
    return ctx.loaders.syncDeadLetters.load(c.id);
  }

  @FieldResolver(() => SyncRun, { nullable: true, description: 'Its newest run (pull, push or renewals), or null when it never ran. ADMIN, OPERATIONS.' })
  lastRun(@Root() c: SyncConnection, @Ctx() ctx: GraphQLContext): Promise<SyncRun | null> {
    return ctx.loaders.syncLastRun.load(c.id);
  }

  @Authorized(WATCH)
  @Query(() => SyncConnection, { description: 'One connection (NOT_FOUND if missing). ADMIN, OPERATIONS.' })
  syncConnection(@Arg('id', () => ID, { description: 'The connection id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<SyncConnection> {
    return ctx.services.sync.getConnection(ctx, id);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => SyncConnection, { description: 'Creates a connection; options are checked by the connector, credentials encrypted (never returned). ADMIN.' })
  createSyncConnection(@Arg('input', { description: 'The connection.' }) input: CreateSyncConnectionInput, @Ctx() ctx: GraphQLContext): Promise<SyncConnection> {
    return ctx.services.sync.createConnection(ctx, input);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => SyncConnection, { description: 'Changes a connection (options replaced as a whole; credentials replaced when given). ADMIN.' })
  updateSyncConnection(
    @Arg('id', () => ID, { description: 'The connection id.' }) id: string,
    @Arg('input', { description: 'What to change.' }) input: UpdateSyncConnectionInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<SyncConnection> {
    return ctx.services.sync.updateConnection(ctx, id, input);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => SyncConnection, { description: 'Deletes a connection with its cursors, runs and outbox (hub records it created stay). ADMIN.' })
  deleteSyncConnection(@Arg('id', () => ID, { description: 'The connection id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<SyncConnection> {
    return ctx.services.sync.deleteConnection(ctx, id);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => SyncConnectionHealth, { description: 'Authenticates against the system and reads its API budget; never changes anything there. ADMIN.' })
  testSyncConnection(@Arg('id', () => ID, { description: 'The connection id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<SyncConnectionHealth> {
    return ctx.services.sync.testConnection(ctx, id);
  }

  @Authorized(WATCH)
  @Mutation(() => [SyncRun], {
    description: 'Runs a sync now: pulls (accounts, contacts, deals), then queues renewals and pushes the outbox. CONFLICT SYNC_RUNNING while another runs. ADMIN, OPERATIONS.',
  })
  runSync(@Args() args: RunSyncArgs, @Ctx() ctx: GraphQLContext): Promise<SyncRun[]> {
    // A shutdown abandons the run's reads (it resumes from its cursor): the answer says ABORTED.
    return ctx.services.sync.runSync(ctx, args.connectionId, { full: args.full, objects: args.objects, push: args.push, signal: ctx.stopping });
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => Boolean, { description: 'Forgets the pull cursor of one object: the next pull reads it from the beginning (changing nothing already up to date). ADMIN.' })
  resetSyncCursor(
    @Arg('connectionId', () => ID, { description: 'The connection id.' }) connectionId: string,
    @Arg('object', { description: 'accounts, contacts, orders or usage.' }) object: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return ctx.services.sync.resetCursor(ctx, connectionId, object);
  }
}

@Resolver(() => SyncRun)
export class SyncRunResolver {
  @Authorized(WATCH)
  @Query(() => SyncRunConnection, { description: 'Sync runs, newest first: object, counts, errors, duration and API calls of each. ADMIN, OPERATIONS.' })
  syncRuns(@Args() args: SyncRunListArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<SyncRun>> {
    return ctx.services.sync.listRuns(ctx, args);
  }
}

@Resolver(() => SyncOutboxItem)
export class OutboxResolver {
  @Authorized(WATCH)
  @Query(() => OutboxConnection, {
    description: 'Outbox items to external systems, oldest first; by default those not done (pending, in flight, failed, dead — with their reason). ADMIN, OPERATIONS.',
  })
  outbox(@Args() args: OutboxListArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<SyncOutboxItem>> {
    return ctx.services.sync.listOutbox(ctx, args);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => SyncOutboxItem, { description: 'Sends an outbox item again with fresh attempts (DEAD, FAILED or DONE; PENDING is left alone). ADMIN.' })
  replayOutboxItem(@Arg('id', () => ID, { description: 'The item id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<SyncOutboxItem> {
    return ctx.services.sync.replayOutboxItem(ctx, id);
  }

  @Authorized(Roles.ADMIN)
  @Mutation(() => Int, { description: 'Sends every DEAD item of a connection again; returns how many. ADMIN.' })
  replayDeadOutboxItems(@Arg('connectionId', () => ID, { description: 'The connection id.' }) connectionId: string, @Ctx() ctx: GraphQLContext): Promise<number> {
    return ctx.services.sync.replayDeadOutbox(ctx, connectionId);
  }
}

/** GraphQL resolvers of the sync domain. */
export const SyncResolvers: Function[] = [SyncConnectionResolver, SyncRunResolver, OutboxResolver];
