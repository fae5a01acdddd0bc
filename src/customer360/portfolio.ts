import { Args, ArgsType, Authorized, Ctx, Field, FieldResolver, Float, ID, Int, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { Max, Min } from 'class-validator';
import { Role } from '../auth/role';
import { accountScope } from '../auth/scope';
import { Account } from '../accounts/account.entity';
import { MonetizationModel } from '../catalog/catalog.enums';
import { FindingKind } from '../compliance/compliance.enums';
import { money, Money } from '../common/money';
import { todayIn } from '../common/dates';
import type { Db } from '../db/db';
import { HealthBand } from '../health/health.types';
import type { GraphQLContext } from '../server/graphql-context';
import { BOOK_FACTS_SQL, withLive, type FactRow } from '../sync/sync-payloads';
import { groupEntitlements, upcomingRenewals } from './customer360.service';

/**
 * The portfolio overview (ADR 0052): the web console's Overview page in one query. Book-wide
 * figures the per-account customer360 cannot give without one request per account: ARR by
 * product and model, renewals due soon, open findings with leakage, the health distribution.
 * An account-scoped key gets the same figures over its own account only.
 */

const READ = [Role.ADMIN, Role.OPERATIONS, Role.FINANCE, Role.ANALYST];

@ObjectType({ description: 'ARR and utilisation of one product under one monetization model, over the book.' })
export class PortfolioProductLine {
  @Field({ description: 'The product sku.' })
  sku: string;

  @Field({ description: 'The product name.' })
  productName: string;

  @Field(() => MonetizationModel, { description: 'The monetization model.' })
  model: MonetizationModel;

  @Field(() => Int, { description: 'Live entitlements (ACTIVE or IN_GRACE).' })
  live: number;

  @Field(() => Int, { description: 'Accounts with at least one live entitlement of it.' })
  accounts: number;

  @Field(() => [Money], { description: 'ARR of the live entitlements, per currency (as customer360 computes it).' })
  arr: Money[];

  @Field(() => Float, { nullable: true, description: 'used / capacity × 100 over the live entitlements with a capacity; null without one.' })
  utilizationPercent: number | null;
}

@ObjectType({ description: 'Live terms of one order ending on one day, within the window.' })
export class PortfolioRenewal {
  @Field(() => ID, { description: 'The account.' })
  accountId: string;

  @Field(() => ID, { description: 'The order whose terms end.' })
  orderId: string;

  @Field({ description: 'YYYY-MM-DD: the end date.' })
  endDate: string;

  @Field(() => Int, { description: 'Days from today (contract calendar) to the end date.' })
  daysLeft: number;

  @Field(() => [String], { description: 'The skus ending.' })
  skus: string[];

  @Field(() => Money, { description: 'Their ARR.' })
  arr: Money;
}

@ObjectType({ description: 'Open (not resolved) compliance findings of one kind.' })
export class PortfolioFindingTotal {
  @Field(() => FindingKind, { description: 'The kind of finding (OVERUSE, UNDERUSE...).' })
  kind: FindingKind;

  @Field(() => Int, { description: 'How many are open or acknowledged.' })
  open: number;

  @Field(() => [Money], { description: 'Their revenue leakage, per currency (findings without a price add nothing).' })
  leakage: Money[];
}

@ObjectType({ description: 'How many accounts have a health band.' })
export class PortfolioHealthBand {
  @Field(() => HealthBand, { description: 'The computed band (overrides are not applied).' })
  band: HealthBand;

  @Field(() => Int, { description: 'Accounts in it.' })
  accounts: number;
}

@ObjectType({ description: 'The book at a glance: what the console\'s Overview page shows.' })
export class PortfolioOverview {
  @Field({ description: 'YYYY-MM-DD: today in the hub\'s time zone, the renewal window\'s start.' })
  asOf: string;

  @Field(() => Int, { description: 'Accounts in the book (active or not, merged ones excluded); 1 for an account-scoped key.' })
  accounts: number;

  @Field(() => [Money], { description: 'Total ARR of the live entitlements, per currency.' })
  arr: Money[];

  @Field(() => [PortfolioProductLine], { description: 'ARR by product and monetization model, largest first.' })
  arrByProduct: PortfolioProductLine[];

  @Field(() => Int, { description: 'The renewal window in days.' })
  renewalDays: number;

  @Field(() => [Money], { description: 'ARR of the terms ending within the window, per currency.' })
  renewingArr: Money[];

  @Field(() => [PortfolioRenewal], { description: 'Live terms ending within the window, soonest first (at most 200).' })
  renewals: PortfolioRenewal[];

  @Field(() => [PortfolioFindingTotal], { description: 'Open findings by kind, with leakage.' })
  findings: PortfolioFindingTotal[];

  @Field(() => [Money], { description: 'Leakage of all open findings, per currency.' })
  leakage: Money[];

  @Field(() => [PortfolioHealthBand], { description: 'Accounts per health band (GREEN, YELLOW, RED, each listed).' })
  health: PortfolioHealthBand[];

  @Field(() => Int, { description: 'Accounts not scored yet.' })
  unscored: number;
}

@ArgsType()
export class PortfolioOverviewArgs {
  @Field(() => Int, { defaultValue: 90, description: 'Renewal window in days (1–366).' })
  @Min(1)
  @Max(366)
  renewalDays: number;
}

const RENEWALS_MAX = 200;

function sumMoney(lists: Money[][]): Money[] {
  const m = new Map<string, bigint>();
  for (const list of lists) for (const x of list) m.set(x.currency, (m.get(x.currency) ?? 0n) + BigInt(x.amountMinor));
  return [...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([c, v]) => money(v, c)!);
}

/** The overview over the book, or over `scope` (an account id) only. Four statements, all on the read pool. */
export async function portfolioOverview(db: Db, scope: string | null, renewalDays: number, timeZone: string): Promise<PortfolioOverview> {
  const today = todayIn(timeZone);
  const [factRows, findingRows, healthRows, countRows] = await Promise.all([
    db.readQuery<Omit<FactRow, 'live'>>(BOOK_FACTS_SQL, [scope]),
    db.readQuery<{ kind: FindingKind; open: string; currency: string | null; leakage: string | null }>(
      `SELECT f.kind, count(*) AS open, f.currency, sum(f.leakage_minor)::text AS leakage
         FROM compliance_finding f
        WHERE f.status <> 'RESOLVED' AND ($1::uuid IS NULL OR f.account_id = $1::uuid)
        GROUP BY f.kind, f.currency ORDER BY f.kind, f.currency`,
      [scope],
    ),
    db.readQuery<{ band: HealthBand; n: string }>(
      `SELECT h.band, count(*) AS n FROM account_health h JOIN account a ON a.id = h.account_id
        WHERE a.merged_into IS NULL AND ($1::uuid IS NULL OR a.id = $1::uuid) GROUP BY h.band`,
      [scope],
    ),
    db.readQuery<{ n: string }>(`SELECT count(*) AS n FROM account a WHERE a.merged_into IS NULL AND ($1::uuid IS NULL OR a.id = $1::uuid)`, [scope]),
  ]);
  const facts = withLive(factRows);

  const groups = groupEntitlements(facts);
  const arrByProduct = groups
    .filter((g) => g.live > 0)
    .map((g) => ({
      sku: g.sku,
      productName: g.productName,
      model: g.model,
      live: g.live,
      accounts: new Set(facts.filter((f) => f.live && f.sku === g.sku && f.model === g.model).map((f) => f.account_id)).size,
      arr: g.arr,
      utilizationPercent: g.utilizationPercent,
    }))
    .sort((a, b) => {
      const total = (x: Money[]) => x.reduce((s, m) => s + BigInt(m.amountMinor), 0n);
      const d = total(b.arr) - total(a.arr);
      return d > 0n ? 1 : d < 0n ? -1 : a.sku.localeCompare(b.sku) || a.model.localeCompare(b.model);
    });

  // Renewals per account (upcomingRenewals groups by order, and orders belong to one account).
  const byAccount = new Map<string, FactRow[]>();
  for (const f of facts) byAccount.set(f.account_id, [...(byAccount.get(f.account_id) ?? []), f]);
  const renewals: PortfolioRenewal[] = [];
  const renewing: Money[][] = [];
  for (const [accountId, fs] of byAccount) {
    const r = upcomingRenewals(fs, renewalDays, today);
    renewing.push(r.arr);
    for (const x of r.renewals) renewals.push({ accountId, orderId: x.orderId, endDate: x.endDate, daysLeft: x.daysLeft, skus: x.skus, arr: x.arr });
  }
  renewals.sort((a, b) => a.endDate.localeCompare(b.endDate) || a.accountId.localeCompare(b.accountId) || a.orderId.localeCompare(b.orderId));

  const findings = new Map<FindingKind, PortfolioFindingTotal>();
  for (const r of findingRows) {
    const t = findings.get(r.kind) ?? { kind: r.kind, open: 0, leakage: [] };
    t.open += Number(r.open);
    if (r.currency && r.leakage !== null) t.leakage.push(money(BigInt(r.leakage), r.currency)!);
    findings.set(r.kind, t);
  }
  const scored = new Map(healthRows.map((r) => [r.band, Number(r.n)]));
  const accounts = Number(countRows[0]?.n ?? 0);
  const health = [HealthBand.GREEN, HealthBand.YELLOW, HealthBand.RED].map((band) => ({ band, accounts: scored.get(band) ?? 0 }));

  return {
    asOf: today,
    accounts,
    arr: sumMoney(groups.map((g) => g.arr)),
    arrByProduct,
    renewalDays,
    renewingArr: sumMoney(renewing),
    renewals: renewals.slice(0, RENEWALS_MAX),
    findings: [...findings.values()],
    leakage: sumMoney([...findings.values()].map((f) => f.leakage)),
    health,
    unscored: Math.max(0, accounts - health.reduce((s, h) => s + h.accounts, 0)),
  };
}

@Resolver(() => PortfolioOverview)
export class PortfolioResolver {
  @Authorized(READ)
  @Query(() => PortfolioOverview, {
    description:
      'The book at a glance (the web console\'s Overview, docs/console.md): ARR by product and model, renewals within `renewalDays` (default 90), open findings with leakage, accounts per health band. ' +
      'An account-scoped key sees its own account only. ADMIN, OPERATIONS, FINANCE, ANALYST.',
  })
  portfolioOverview(@Args() args: PortfolioOverviewArgs, @Ctx() ctx: GraphQLContext): Promise<PortfolioOverview> {
    return portfolioOverview(ctx.services.db, accountScope(ctx), args.renewalDays, ctx.services.config.EHUB_TIME_ZONE);
  }
}

@Resolver(() => PortfolioRenewal)
export class PortfolioRenewalResolver {
  @FieldResolver(() => Account, { description: 'The account (its health and churn risk resolve as usual, to mark the renewals at risk).' })
  async account(@Root() r: PortfolioRenewal, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return (await ctx.loaders.accounts.account.load(r.accountId))!;
  }
}
