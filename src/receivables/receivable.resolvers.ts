import { Args, Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { Account } from '../accounts/account.entity';
import { todayIn } from '../common/dates';
import type { Connection } from '../common/pagination';
import type { GraphQLContext } from '../server/graphql-context';
import { ReceivableConnection, ReceivableListArgs, ReceivablesSummary, ReceivablesSummaryArgs, type Receivable } from './receivable.types';

/**
 * What the account owes, from the ERP: visible to whoever may read the account (an
 * account-scoped key sees its own account only, as for every Account field).
 */
@Resolver(() => Account)
export class AccountReceivablesResolver {
  @FieldResolver(() => [ReceivablesSummary], {
    description: "The account's receivables from its ERP, one summary per currency (open balance, overdue amount and days, last payment); empty when it has none.",
  })
  receivables(@Root() account: Account, @Args() args: ReceivablesSummaryArgs, @Ctx() ctx: GraphQLContext): Promise<ReceivablesSummary[]> {
    const asOf = args.asOf ?? todayIn(ctx.services.config.EHUB_TIME_ZONE);
    return ctx.loaders.receivables.summaries.load({ accountId: account.id, asOf });
  }

  @FieldResolver(() => ReceivableConnection, { description: "The account's invoices, credit memos and payments, newest document date first." })
  receivableDocuments(@Root() account: Account, @Args() args: ReceivableListArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<Receivable>> {
    return ctx.loaders.receivables.pages.load({ accountId: account.id, args });
  }
}

export const ReceivableResolvers = [AccountReceivablesResolver] as const;
