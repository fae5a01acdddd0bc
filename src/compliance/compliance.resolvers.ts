import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role } from '../auth/role';
import type { Connection } from '../common/pagination';
import type { GraphQLContext } from '../server/graphql-context';
import { Account } from '../accounts/account.entity';
import { ComplianceFinding, Notification } from './compliance.entities';
import {
  ComplianceFindingConnection,
  ComplianceFindingListArgs,
  ComplianceRunSummary,
  NotificationConnection,
  NotificationListArgs,
  SetFindingStatusArgs,
  type ComplianceFindingPage,
} from './compliance.types';

/** Who reads findings and notifications: analysts and up. */
const READ = [Role.ADMIN, Role.OPERATIONS, Role.FINANCE, Role.ANALYST];
/** Who runs compliance and works findings: operations. */
const WORK = [Role.ADMIN, Role.OPERATIONS];

@Resolver(() => ComplianceFinding)
export class ComplianceResolver {
  @Authorized(READ)
  @Query(() => ComplianceFindingConnection, {
    description: 'Compliance findings, oldest first, filtered, with leakage totals per currency over all pages. ADMIN, OPERATIONS, FINANCE, ANALYST.',
  })
  complianceFindings(@Args() args: ComplianceFindingListArgs, @Ctx() ctx: GraphQLContext): Promise<ComplianceFindingPage> {
    return ctx.services.compliance.listFindings(ctx, args);
  }

  @Authorized(WORK)
  @Mutation(() => ComplianceRunSummary, {
    description:
      'Runs the compliance rules for one account now (as the nightly job does for all): writes findings, resolves those that no longer hold, ' +
      'raises threshold, expiry, overage and new-finding notifications. Safe to repeat: findings are deduplicated per period. ADMIN, OPERATIONS.',
  })
  runCompliance(@Arg('accountId', () => ID, { description: 'The account.' }) accountId: string, @Ctx() ctx: GraphQLContext): Promise<ComplianceRunSummary> {
    return ctx.services.compliance.runCompliance(ctx, accountId);
  }

  @Authorized(WORK)
  @Mutation(() => ComplianceFinding, {
    description: 'Sets the status of a finding (OPEN, ACKNOWLEDGED, RESOLVED) with a note; recorded with who and when, and audited. Idempotent. ADMIN, OPERATIONS.',
  })
  setComplianceFindingStatus(@Args() args: SetFindingStatusArgs, @Ctx() ctx: GraphQLContext): Promise<ComplianceFinding> {
    return ctx.services.compliance.setStatus(ctx, args.id, args.status, args.note);
  }

  @FieldResolver(() => Account, { description: 'The account.' })
  async account(@Root() f: ComplianceFinding, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return (await ctx.loaders.accounts.account.load(f.accountId))!;
  }
}

@Resolver(() => Notification)
export class NotificationResolver {
  @Authorized(READ)
  @Query(() => NotificationConnection, {
    description: 'Notifications raised (usage thresholds, expiry, overage, new findings), oldest first. ADMIN, OPERATIONS, FINANCE, ANALYST.',
  })
  notifications(@Args() args: NotificationListArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<Notification>> {
    return ctx.services.compliance.listNotifications(ctx, args);
  }
}

/** GraphQL resolvers of the compliance domain. */
export const ComplianceResolvers: Function[] = [ComplianceResolver, NotificationResolver];
