import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { Role } from '../auth/role';
import { money, type Money } from '../common/money';
import type { GraphQLContext } from '../server/graphql-context';
import { RevenuePattern } from './revenue.rules';
import type { ScheduleView } from './revenue.service';
import { ProductRevenuePolicy, RevenuePeriod, RevenueSchedule, RevenueScheduleFilter, UsageRecognition } from './revenue.types';

const FINANCE = [Role.ADMIN, Role.FINANCE];
const m = (v: bigint | string, currency: string): Money => money(v, currency)!;

@Resolver()
export class RevenueResolver {
  @Authorized(FINANCE)
  @Query(() => RevenueSchedule, { description: 'Revenue schedule: performance obligations with allocation (list, SSP, allocated), pattern, modifications and monthly lines. FINANCE and ADMIN; account-scoped keys see their account only.' })
  async revenueSchedule(
    @Arg('filter', () => RevenueScheduleFilter, { nullable: true, description: 'Account, order and months (YYYY-MM).' }) filter: RevenueScheduleFilter | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RevenueSchedule> {
    return toSchedule(await ctx.services.revenue.schedule(ctx, filter ?? {}));
  }

  @Authorized(FINANCE)
  @Query(() => [RevenuePeriod], { description: 'Closed revenue months, oldest first. Closing a month closes every earlier month too.' })
  revenuePeriods(@Ctx() ctx: GraphQLContext): Promise<RevenuePeriod[]> {
    return ctx.services.revenue.periods();
  }

  @Authorized(FINANCE)
  @Mutation(() => RevenuePeriod, { description: 'Closes a revenue month (YYYY-MM) and every month before it: their entries never change again; later changes land in the first open month. Idempotent.' })
  closePeriod(@Arg('month', { description: 'The month to close, YYYY-MM.' }) month: string, @Ctx() ctx: GraphQLContext): Promise<RevenuePeriod> {
    return ctx.services.revenue.closePeriod(ctx, month);
  }

  @Authorized(FINANCE)
  @Mutation(() => UsageRecognition, { description: 'Recognises usage-priced (AS_CONSUMED) obligations for an open month from the recorded usage. Idempotent: a re-run adds only what changed.' })
  recogniseUsage(@Arg('month', { description: 'The month, YYYY-MM.' }) month: string, @Ctx() ctx: GraphQLContext): Promise<UsageRecognition> {
    return ctx.services.revenue.recogniseUsage(ctx, month);
  }

  @Authorized(FINANCE)
  @Mutation(() => ProductRevenuePolicy, { description: 'Sets how a product\'s revenue is recognised: a pattern overriding the default from kind and model (null = default), and whether a bundle is split into one obligation per component. Applies when orders are next submitted or revised.' })
  setProductRevenuePolicy(
    @Arg('sku', { description: 'The product sku.' }) sku: string,
    @Arg('pattern', () => RevenuePattern, { nullable: true, description: 'The pattern; null = derived from kind and model.' }) pattern: RevenuePattern | null,
    @Arg('splitBundle', { defaultValue: false, description: 'Split a bundle into one obligation per component (SSP from the components).' }) splitBundle: boolean,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ProductRevenuePolicy> {
    return ctx.services.revenue.setProductPolicy(ctx, sku, pattern ?? null, splitBundle);
  }
}

function toSchedule(v: ScheduleView): RevenueSchedule {
  return {
    hasErrors: v.obligations.some((o) => o.allocation_error !== null),
    totals: v.totals.map((t) => ({ currency: t.currency, allocated: m(t.allocated, t.currency), recognised: m(t.recognised, t.currency), deferred: m(t.deferred, t.currency) })),
    obligations: v.obligations.map((o) => ({
      id: o.id,
      accountId: o.account_id,
      orderId: o.order_id,
      orderLineId: o.order_line_id,
      lineNo: o.lineNo,
      sku: o.sku,
      bundleSku: o.bundleSku,
      pattern: o.pattern,
      status: o.status,
      quantity: o.quantity,
      startDate: o.start_date,
      endDate: o.end_date,
      list: m(o.list_minor, o.currency),
      ssp: o.ssp_minor === null ? null : m(o.ssp_minor, o.currency),
      allocated: m(o.allocated_minor, o.currency),
      recognised: m(o.recognised, o.currency),
      deferred: m(o.deferred, o.currency),
      error: o.allocation_error,
      modifications: o.modifications.map((x) => ({ id: x.id, effectiveDate: x.effective_date, firstOpenMonth: x.first_open_month, reason: x.reason, before: x.before, after: x.after, createdAt: x.created_at })),
      lines: o.lines.map((l) => ({ month: l.month, amount: m(l.amount, o.currency), cumulative: m(l.cumulative, o.currency), deferred: m(l.deferred, o.currency) })),
    })),
  };
}
