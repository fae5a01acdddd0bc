import { Args, Authorized, Ctx, FieldResolver, Float, Query, Resolver, Root } from 'type-graphql';
import { Role } from '../auth/role';
import type { Connection } from '../common/pagination';
import { Money } from '../common/money';
import { ContactConnection, ContactListArgs } from '../accounts/account.types';
import type { Contact } from '../accounts/contact.entity';
import type { GraphQLContext } from '../server/graphql-context';
import { AccountHealth } from '../health/health.types';
import { loadChurnRisk } from '../churn/churn.resolvers';
import { ChurnRisk } from '../churn/churn.types';
import { ReceivablesSummary, ReceivablesSummaryArgs } from '../receivables/receivable.types';
import { todayIn } from '../common/dates';
import type { AccountHealthView } from '../health/health.service';
import { AccountModelFit } from '../modelfit/modelfit.types';
import { PortfolioRenewalResolver, PortfolioResolver } from './portfolio';
import { CustomerListResolver } from './customer-list';
import { arrOf, groupEntitlements, upcomingRenewals, utilizationOf } from './customer360.service';
import {
  Customer360,
  Customer360Args,
  EntitlementGroup,
  LicensesInUse,
  LinkedRecord,
  OpenFindings,
  RevenuePosition,
  SyncSystemStatus,
  TimelineEvent,
  UpcomingRenewals,
  UsageTrend,
} from './customer360.types';

const READ = [Role.ADMIN, Role.OPERATIONS, Role.FINANCE, Role.ANALYST];

@Resolver(() => Customer360)
export class Customer360Resolver {
  @Authorized(READ)
  @Query(() => Customer360, {
    description:
      'Everything known of one customer in one query: linked CRM/ERP records, contacts, entitlements and utilisation, licences in use, usage trend, open findings, renewals, revenue, sync status and timeline (docs/customer-360.md). ' +
      'Give exactly one of `account` (or its synonym `accountId`) and `externalRef` (BAD_USER_INPUT `CUSTOMER360_KEY_REQUIRED` otherwise); NOT_FOUND when unknown or outside an account-scoped key\'s account. ADMIN, OPERATIONS, FINANCE, ANALYST.',
  })
  customer360(@Args() args: Customer360Args, @Ctx() ctx: GraphQLContext): Promise<Customer360> {
    return ctx.services.customer360.resolve(ctx, args);
  }

  @FieldResolver(() => [LinkedRecord], { description: 'The account\'s records in other systems (its external references), oldest link first, with deep links.' })
  linkedRecords(@Root() c: Customer360, @Ctx() ctx: GraphQLContext): Promise<LinkedRecord[]> {
    return ctx.loaders.customer360.linkedRecords.load(c.accountId);
  }

  @FieldResolver(() => ContactConnection, { description: 'The account\'s contacts, oldest first.' })
  contacts(@Root() c: Customer360, @Args() args: ContactListArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<Contact>> {
    return ctx.loaders.accounts.contactPages.load({ accountId: c.accountId, args });
  }

  @FieldResolver(() => [EntitlementGroup], { description: 'Entitlements grouped by product and monetization model, with utilisation (used / capacity as the CRM sync defines them) and ARR.' })
  async entitlementGroups(@Root() c: Customer360, @Ctx() ctx: GraphQLContext): Promise<EntitlementGroup[]> {
    return groupEntitlements(await ctx.loaders.customer360.facts.load(c.accountId));
  }

  @FieldResolver(() => [Money], { description: 'ARR of the live entitlements, per currency (the CRM field `arr` sends the account currency\'s).' })
  async arr(@Root() c: Customer360, @Ctx() ctx: GraphQLContext): Promise<Money[]> {
    return arrOf(await ctx.loaders.customer360.facts.load(c.accountId));
  }

  @FieldResolver(() => Float, { nullable: true, description: 'The mean of used / capacity × 100 over live entitlements with a capacity (the CRM field `utilizationPercent`).' })
  async utilizationPercent(@Root() c: Customer360, @Ctx() ctx: GraphQLContext): Promise<number | null> {
    return utilizationOf(await ctx.loaders.customer360.facts.load(c.accountId));
  }

  @FieldResolver(() => LicensesInUse, { description: 'Devices, seats and floating leases in use now: counts and the most recent few.' })
  licensesInUse(@Root() c: Customer360, @Ctx() ctx: GraphQLContext): Promise<LicensesInUse> {
    return ctx.loaders.customer360.licensesInUse.load(c.accountId);
  }

  @FieldResolver(() => UsageTrend, { description: 'Usage of the last 90 days against the 90 before, per meter and in total.' })
  usageTrend(@Root() c: Customer360, @Ctx() ctx: GraphQLContext): Promise<UsageTrend> {
    return ctx.loaders.customer360.usageTrend.load(c.accountId);
  }

  @FieldResolver(() => OpenFindings, { description: 'Open compliance findings with leakage totals per currency.' })
  openFindings(@Root() c: Customer360, @Ctx() ctx: GraphQLContext): Promise<OpenFindings> {
    return ctx.loaders.customer360.openFindings.load(c.accountId);
  }

  @FieldResolver(() => UpcomingRenewals, { description: 'Live terms ending within `renewalDays` (default 180), by order and end date, with ARR.' })
  async upcomingRenewals(@Root() c: Customer360, @Ctx() ctx: GraphQLContext): Promise<UpcomingRenewals> {
    return upcomingRenewals(await ctx.loaders.customer360.facts.load(c.accountId), c.renewalDays, ctx.services.customer360.today());
  }

  @FieldResolver(() => [RevenuePosition], { description: 'Revenue allocated, recognised to date and deferred, per currency.' })
  revenue(@Root() c: Customer360, @Ctx() ctx: GraphQLContext): Promise<RevenuePosition[]> {
    return ctx.loaders.customer360.revenue.load(c.accountId);
  }

  @FieldResolver(() => [SyncSystemStatus], { description: 'Sync status of each system the account is linked in: its connection\'s last pull and push, the account\'s outbox items.' })
  syncStatus(@Root() c: Customer360, @Ctx() ctx: GraphQLContext): Promise<SyncSystemStatus[]> {
    return ctx.loaders.customer360.syncStatus.load(c.accountId);
  }

  @FieldResolver(() => [ReceivablesSummary], {
    description: 'What the account owes, from its ERP, one summary per currency (open balance, overdue amount and days, last payment), as `Account.receivables`; empty when it has none.',
  })
  receivables(@Root() c: Customer360, @Args() args: ReceivablesSummaryArgs, @Ctx() ctx: GraphQLContext): Promise<ReceivablesSummary[]> {
    const asOf = args.asOf ?? todayIn(ctx.services.config.EHUB_TIME_ZONE);
    return ctx.loaders.receivables.summaries.load({ accountId: c.accountId, asOf });
  }

  @FieldResolver(() => AccountHealth, {
    nullable: true,
    description: 'The explainable health score (score, band, coverage, measures with their explanation, override), as `Account.health`; null until the account has been scored.',
  })
  health(@Root() c: Customer360, @Ctx() ctx: GraphQLContext): Promise<AccountHealthView | null> {
    return ctx.loaders.health.load(c.accountId);
  }

  @FieldResolver(() => ChurnRisk, {
    nullable: true,
    description: 'Churn risk of the account\'s open term ending soonest (calibrated probability, band, each feature\'s contribution), as `Account.churnRisk`; null without an open term.',
  })
  churnRisk(@Root() c: Customer360, @Ctx() ctx: GraphQLContext): Promise<ChurnRisk | null> {
    return loadChurnRisk(ctx, c.accountId);
  }

  @FieldResolver(() => AccountModelFit, {
    description:
      'Monetization-model fit per product (usage shape, each priced model\'s charge, what was paid, the recommendation), as `Account.modelFit` computes it: the analysis stored by the daily job or `recomputeModelFit` in the last 36 hours (`analysedAt` says when), else computed now.',
  })
  modelFit(@Root() c: Customer360, @Ctx() ctx: GraphQLContext): Promise<AccountModelFit> {
    return ctx.loaders.modelFitStored.load(c.accountId);
  }

  @FieldResolver(() => [TimelineEvent], { description: 'The account\'s history, newest first, at most `timelineLimit` events (default 50).' })
  timeline(@Root() c: Customer360, @Ctx() ctx: GraphQLContext): Promise<TimelineEvent[]> {
    return ctx.loaders.customer360.timeline.load({ accountId: c.accountId, limit: c.timelineLimit });
  }
}

/** The customer360 domain's resolvers (registered in src/server/schema.ts). */
export const Customer360Resolvers: Function[] = [Customer360Resolver, PortfolioResolver, PortfolioRenewalResolver, CustomerListResolver];
