import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role } from '../auth/role';
import { Account } from '../accounts/account.entity';
import type { GraphQLContext } from '../server/graphql-context';
import { AccountModelFit } from './modelfit.types';

/** Who reads model fit: analysts and up. Who stores the CRM summary on demand: customer-facing operations. */
const READ = [Role.ADMIN, Role.OPERATIONS, Role.FINANCE, Role.ANALYST];
const WORK = [Role.ADMIN, Role.OPERATIONS];

@Resolver(() => Account)
export class AccountModelFitResolver {
  @FieldResolver(() => AccountModelFit, {
    description: 'Monetization-model fit of each product the account held in the last 365 days (per product status says when one could not be analysed). ADMIN, OPERATIONS, FINANCE, ANALYST.',
  })
  @Authorized(READ)
  modelFit(@Root() a: Account, @Ctx() ctx: GraphQLContext): Promise<AccountModelFit> {
    return ctx.loaders.modelFit.load(a.id);
  }
}

@Resolver()
export class ModelFitResolver {
  @Authorized(READ)
  @Query(() => AccountModelFit, {
    description:
      "Re-rates the account's last 365 days of usage under each model its products are priced in and recommends one per product (docs/model-fit.md). " +
      'BAD_USER_INPUT MODEL_FIT_INSUFFICIENT_USAGE, MODEL_FIT_NO_PRICES or MODEL_FIT_NO_PRODUCTS when no product can be analysed. ADMIN, OPERATIONS, FINANCE, ANALYST.',
  })
  modelFit(@Arg('account', () => ID, { description: 'The account id.' }) account: string, @Ctx() ctx: GraphQLContext): Promise<AccountModelFit> {
    return ctx.services.modelFit.modelFit(ctx, account);
  }

  @Authorized(WORK)
  @Mutation(() => AccountModelFit, {
    description: "Analyses an account now and stores its one-line summary for the CRM and ERP account fields (the daily job does it for every account); errors as modelFit. ADMIN, OPERATIONS.",
  })
  recomputeModelFit(@Arg('account', () => ID, { description: 'The account id.' }) account: string, @Ctx() ctx: GraphQLContext): Promise<AccountModelFit> {
    return ctx.services.modelFit.recompute(ctx, account);
  }
}

export const ModelFitResolvers: Function[] = [AccountModelFitResolver, ModelFitResolver];
