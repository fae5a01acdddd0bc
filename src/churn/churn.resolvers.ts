import DataLoader from 'dataloader';
import { Arg, Authorized, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role } from '../auth/role';
import { accountScope } from '../auth/scope';
import { Account } from '../accounts/account.entity';
import type { GraphQLContext } from '../server/graphql-context';
import type { ChurnModelReport as Report, ChurnRiskResult } from './churn.service';
import { ArrForecast, ChurnModelReport, ChurnModelStatus, ChurnRisk, ChurnRiskBand, ChurnScoreSource } from './churn.types';

/** Churn: read by analysts and up; trained and snapshotted by ADMIN. */
const ANALYZE = [Role.ADMIN, Role.OPERATIONS, Role.FINANCE, Role.ANALYST];
const WHO = 'ADMIN, OPERATIONS, FINANCE, ANALYST.';

function toReport(r: Report): ChurnModelReport {
  const m = r.model;
  const x = m?.metrics;
  return {
    status: r.status as ChurnModelStatus,
    message: r.message,
    labelledTerms: r.labelledTerms,
    minLabelledTerms: r.minLabelledTerms,
    version: m?.version ?? null,
    trainedAt: m?.trainedAt ?? null,
    asOf: m?.asOf ?? null,
    trainingWindowFrom: m?.windowFrom ?? null,
    trainingWindowTo: m?.windowTo ?? null,
    testWindowFrom: x?.testFrom ?? null,
    testWindowTo: x?.testTo ?? null,
    trainSamples: x?.counts.train ?? null,
    calibrationSamples: x?.counts.calibration ?? null,
    testSamples: x?.counts.test ?? null,
    trainAccounts: x?.counts.trainAccounts ?? null,
    testAccounts: x?.counts.testAccounts ?? null,
    testChurnRate: x?.counts.churnRateTest ?? null,
    converged: x?.converged ?? null,
    iterations: m?.iterations ?? null,
    lambda: m?.lambda ?? null,
    model: x?.figures.model ?? null,
    baselineName: x?.baselineName ?? null,
    rulesBaseline: x?.figures.rules ?? null,
    daysToRenewal: x?.figures.daysToRenewal ?? null,
    intercept: m?.intercept ?? null,
    coefficients: m ? m.features.map((feature, j) => ({ feature, coefficient: m.coefficients[j]!, mean: m.means[j]!, sd: m.sds[j]! })) : null,
    plattA: m?.plattA ?? null,
    plattB: m?.plattB ?? null,
  };
}

const toRisk = (r: ChurnRiskResult | null): ChurnRisk | null =>
  r && { ...r, band: r.band as ChurnRiskBand, source: r.source as ChurnScoreSource };

/** One feature query for all the accounts of a request. */
const riskLoaders = new WeakMap<object, DataLoader<string, ChurnRiskResult | null>>();

@Resolver()
export class ChurnResolver {
  @Authorized(ANALYZE)
  @Query(() => ChurnModelReport, {
    description:
      'The churn model in use: version, training window, sample counts, and AUC, top-decile lift, Brier score and calibration on the test split, ' +
      'next to the same figures for the rules-only score and for "days to renewal" alone. With too few labelled terms it says so (status INSUFFICIENT_DATA). ' +
      WHO,
  })
  async churnModel(@Ctx() ctx: GraphQLContext): Promise<ChurnModelReport> {
    return toReport(await ctx.services.churn.report());
  }

  @Authorized([Role.ADMIN])
  @Mutation(() => ChurnModelReport, {
    description:
      'Trains a new churn model version on every term ended before `asOf` (default today) and stores it; with fewer labelled terms than EHUB_CHURN_MIN_LABELS it stores nothing and says so. ' +
      'BAD_USER_INPUT CHURN_BAD_DATE for a bad date. ADMIN.',
  })
  async trainChurnModel(
    @Arg('asOf', () => String, { nullable: true, description: 'YYYY-MM-DD; default today.' }) asOf: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ChurnModelReport> {
    return toReport(await ctx.services.churn.train(ctx, asOf));
  }

  @Authorized([Role.ADMIN])
  @Mutation(() => ArrForecast, {
    description:
      'Records the outcome of forecast terms that have ended, then snapshots the ARR forecast from `asOf` (default today): every open term ending in the next 12 months with its ARR and P(renew). ' +
      'The scheduled churn job does this daily. ADMIN.',
  })
  async snapshotArrForecast(
    @Arg('asOf', () => String, { nullable: true, description: 'YYYY-MM-DD; default today.' }) asOf: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ArrForecast> {
    return (await ctx.services.churn.snapshotForecast(ctx, asOf)) as ArrForecast;
  }

  @Authorized(ANALYZE)
  @Query(() => ArrForecast, {
    nullable: true,
    description:
      'Expected renewing ARR per month for 12 months (Σ ARR × P(renew)) from the latest forecast snapshot taken on or before `asOf` (default: the latest), ' +
      'with the actual renewed ARR and the error of each month whose terms have all ended. Null before any snapshot. ' +
      WHO,
  })
  async arrForecast(
    @Arg('asOf', () => String, { nullable: true, description: 'YYYY-MM-DD: the latest snapshot on or before this day.' }) asOf: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ArrForecast | null> {
    return (await ctx.services.churn.forecast(asOf ?? null)) as ArrForecast | null;
  }

  @Authorized(ANALYZE)
  @Query(() => ArrForecast, {
    nullable: true,
    description: 'The renewal forecast: the same answer as `arrForecast` (the name outside tools use; docs/churn.md). ' + WHO,
  })
  async renewalForecast(
    @Arg('asOf', () => String, { nullable: true, description: 'YYYY-MM-DD: the latest snapshot on or before this day.' }) asOf: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ArrForecast | null> {
    return this.arrForecast(asOf, ctx);
  }
}

@Resolver(() => Account)
export class AccountChurnResolver {
  @Authorized(ANALYZE)
  @FieldResolver(() => ChurnRisk, {
    nullable: true,
    description:
      'Churn risk of the account\'s open term ending soonest, as of now: calibrated probability, band and each feature\'s contribution to the log-odds (docs/churn.md). ' +
      'From the rules-only score (source BASELINE) while no model is trained. Null without an open term. ' +
      WHO,
  })
  async churnRisk(@Root() account: Account, @Ctx() ctx: GraphQLContext): Promise<ChurnRisk | null> {
    return loadChurnRisk(ctx, account.id);
  }
}

/** An account's churn risk through the request's batched loader (Account.churnRisk, customer360). */
export async function loadChurnRisk(ctx: GraphQLContext, accountId: string): Promise<ChurnRisk | null> {
  const scope = accountScope(ctx);
  if (scope && scope !== accountId) return null;
  let loader = riskLoaders.get(ctx);
  if (!loader) {
    loader = new DataLoader((ids: readonly string[]) => ctx.services.churn.risks(ids));
    riskLoaders.set(ctx, loader);
  }
  return toRisk(await loader.load(accountId));
}

export const ChurnResolvers = [ChurnResolver, AccountChurnResolver] as const;

