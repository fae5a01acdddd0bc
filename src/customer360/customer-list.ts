import { Args, ArgsType, Authorized, Ctx, Field, FieldResolver, Float, InputType, Query, Resolver, Root } from 'type-graphql';
import { In } from 'typeorm';
import { IsOptional, Matches, MaxLength, ValidateNested } from 'class-validator';
import { Role, Roles } from '../auth/role';
import { accountScope } from '../auth/scope';
import { Account, AccountStatus } from '../accounts/account.entity';
import { AccountConnection } from '../accounts/account.types';
import { ChurnRiskBand } from '../churn/churn.types';
import { loadChurnRisk } from '../churn/churn.resolvers';
import { badInput, forbidden } from '../common/errors';
import { MinorAmountScalar, Money } from '../common/money';
import { decodeCursor, encodeCursor, likePattern, PageArgs, type Connection } from '../common/pagination';
import { HealthBand } from '../health/health.types';
import type { GraphQLContext } from '../server/graphql-context';
import { arrOf, utilizationOf } from './customer360.service';

/**
 * The console's customer list (issue 16, docs/console.md): accounts filtered on the server by
 * text, health band, churn risk, ARR and utilisation, paged by cursor. ARR and utilisation are
 * customer360's (same facts, same functions), so a row's figures equal its 360 page's.
 *
 * Health, churn risk, ARR and utilisation are computed, not stored columns, so the filters on
 * them run over the accounts that pass the SQL filters (text, status, key scope) with one
 * set-based statement each (the request's DataLoaders, which the page's fields then reuse).
 */

const READ = [Role.ADMIN, Role.OPERATIONS, Role.FINANCE, Role.ANALYST];

@InputType({ description: 'Filters of `customerList`; every given filter must hold.' })
export class CustomerListFilterInput {
  @Field(() => String, { nullable: true, description: 'Case-insensitive text to find in the name, the domain or an external id.' })
  @IsOptional()
  @MaxLength(255)
  search?: string | null;

  @Field(() => AccountStatus, { nullable: true, description: 'Only accounts with this status (default: all).' })
  @IsOptional()
  status?: AccountStatus | null;

  @Field(() => HealthBand, { nullable: true, description: 'Only accounts whose effective health band (overrides applied) is this. ADMIN, OPERATIONS, FINANCE, ANALYST.' })
  @IsOptional()
  healthBand?: HealthBand | null;

  @Field(() => Boolean, { nullable: true, description: 'true: only accounts not scored yet; false: only scored ones. Not with healthBand. ADMIN, OPERATIONS, FINANCE, ANALYST.' })
  @IsOptional()
  unscored?: boolean | null;

  @Field(() => ChurnRiskBand, { nullable: true, description: 'Only accounts whose churn risk (as `Account.churnRisk`) has this band; accounts without an open term have none. ADMIN, OPERATIONS, FINANCE, ANALYST.' })
  @IsOptional()
  churnBand?: ChurnRiskBand | null;

  @Field(() => String, {
    nullable: true,
    description: 'The currency arrMin and arrMax are in (ISO 4217); default: each account\'s own currency. An account without ARR in it has ARR 0 there.',
  })
  @IsOptional()
  @Matches(/^[A-Z]{3}$/, { message: 'must be an ISO 4217 code of three capital letters' })
  arrCurrency?: string | null;

  @Field(() => MinorAmountScalar, { nullable: true, description: 'ARR (as `Account.arr`) at least this, in minor units of arrCurrency. ADMIN, OPERATIONS, FINANCE, ANALYST.' })
  @IsOptional()
  arrMin?: string | null;

  @Field(() => MinorAmountScalar, { nullable: true, description: 'ARR at most this, in minor units of arrCurrency. ADMIN, OPERATIONS, FINANCE, ANALYST.' })
  @IsOptional()
  arrMax?: string | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Utilisation (as `Account.utilizationPercent`, 0–100 and above when overused) at least this; accounts without a measured entitlement are left out. ADMIN, OPERATIONS, FINANCE, ANALYST.',
  })
  @IsOptional()
  utilizationMin?: number | null;

  @Field(() => Float, { nullable: true, description: 'Utilisation at most this; accounts without a measured entitlement are left out. ADMIN, OPERATIONS, FINANCE, ANALYST.' })
  @IsOptional()
  utilizationMax?: number | null;
}

@ArgsType()
export class CustomerListArgs extends PageArgs {
  @Field(() => CustomerListFilterInput, { nullable: true, description: 'Filters (default: every account the key sees).' })
  @IsOptional()
  @ValidateNested()
  filter?: CustomerListFilterInput | null;
}

interface Candidate {
  id: string;
  currency: string;
  created_at: Date;
}

const ANALYTIC_FILTERS = ['healthBand', 'unscored', 'churnBand', 'arrCurrency', 'arrMin', 'arrMax', 'utilizationMin', 'utilizationMax'] as const;

/** Cross-field rules the input types cannot state; each failure names its field. */
function check(ctx: GraphQLContext, f: CustomerListFilterInput): void {
  const role = ctx.principal?.role;
  const analytic = ANALYTIC_FILTERS.filter((k) => f[k] !== null && f[k] !== undefined);
  if (analytic.length && !(role && READ.includes(role))) {
    throw forbidden('CUSTOMER_FILTER_FORBIDDEN', `Filtering by ${analytic.join(', ')} needs a key of role ADMIN, OPERATIONS, FINANCE or ANALYST`);
  }
  const fields: { path: string; message: string }[] = [];
  if (f.healthBand && f.unscored !== null && f.unscored !== undefined) fields.push({ path: 'filter.unscored', message: 'leave out when healthBand is given' });
  if (f.arrMin != null && f.arrMax != null && BigInt(f.arrMin) > BigInt(f.arrMax)) fields.push({ path: 'filter.arrMax', message: 'must not be below arrMin' });
  for (const k of ['utilizationMin', 'utilizationMax'] as const) {
    const v = f[k];
    if (v != null && (!Number.isFinite(v) || v < 0)) fields.push({ path: `filter.${k}`, message: 'must be a number of at least 0' });
  }
  if (f.utilizationMin != null && f.utilizationMax != null && f.utilizationMin > f.utilizationMax) fields.push({ path: 'filter.utilizationMax', message: 'must not be below utilizationMin' });
  if (fields.length) throw badInput('VALIDATION_FAILED', `Invalid customer list filter: ${fields.map((x) => `${x.path} ${x.message}`).join('; ')}`, fields);
}

/** ARR in `currency` (minor units) of a Money list, 0 when none. */
function arrIn(arr: Money[], currency: string): bigint {
  return BigInt(arr.find((m) => m.currency === currency)?.amountMinor ?? '0');
}

/**
 * The page: SQL filters and order (oldest first, as `accounts`) give the candidates; the
 * computed filters keep some of them; the cursor and `first` cut the page. Without a computed
 * filter the database pages (LIMIT) and counts by itself.
 */
export async function customerList(ctx: GraphQLContext, args: CustomerListArgs): Promise<Connection<Account>> {
  const f = args.filter ?? {};
  check(ctx, f);
  const db = ctx.services.db;
  const where: string[] = ['a.merged_into IS NULL'];
  const params: unknown[] = [];
  const scope = accountScope(ctx);
  if (scope) where.push(`a.id = $${params.push(scope)}::uuid`);
  if (f.status) where.push(`a.status = $${params.push(f.status)}`);
  const search = f.search?.trim();
  if (search) {
    const p = `$${params.push(likePattern(search))}`;
    where.push(`(a.name ILIKE ${p} OR a.domain ILIKE ${p} OR EXISTS (
      SELECT 1 FROM external_ref r WHERE r.entity_type = 'ACCOUNT' AND r.entity_id = a.id AND r.external_id ILIKE ${p}))`);
  }
  const after = args.after ? decodeCursor(args.after) : null;
  const computed = ANALYTIC_FILTERS.some((k) => k !== 'arrCurrency' && f[k] !== null && f[k] !== undefined);

  let page: Candidate[];
  let totalCount: number;
  let hasNextPage: boolean;
  if (!computed) {
    const [{ n }] = await db.readQuery<{ n: string }>(`SELECT count(*) AS n FROM account a WHERE ${where.join(' AND ')}`, params);
    const w = [...where];
    const p = [...params];
    if (after) w.push(`(a.created_at, a.id) > ($${p.push(after.createdAt)}::timestamptz, $${p.push(after.id)}::uuid)`);
    const rows = await db.readQuery<Candidate>(
      `SELECT a.id, a.currency, a.created_at FROM account a WHERE ${w.join(' AND ')} ORDER BY a.created_at, a.id LIMIT $${p.push(args.first + 1)}`,
      p,
    );
    totalCount = Number(n);
    hasNextPage = rows.length > args.first;
    page = rows.slice(0, args.first);
  } else {
    let rows = await db.readQuery<Candidate>(`SELECT a.id, a.currency, a.created_at FROM account a WHERE ${where.join(' AND ')} ORDER BY a.created_at, a.id`, params);
    const ids = rows.map((r) => r.id);
    if (f.healthBand || (f.unscored !== null && f.unscored !== undefined)) {
      const health = await ctx.loaders.health.loadMany(ids);
      const band = new Map(ids.map((id, i) => [id, health[i] instanceof Error ? null : (health[i] as { effectiveBand: HealthBand } | null)?.effectiveBand ?? null]));
      rows = rows.filter((r) => {
        const b = band.get(r.id) ?? null;
        return f.healthBand ? b === f.healthBand : f.unscored ? b === null : b !== null;
      });
    }
    if (f.churnBand) {
      const risks = await Promise.all(rows.map((r) => loadChurnRisk(ctx, r.id)));
      rows = rows.filter((_, i) => risks[i]?.band === f.churnBand);
    }
    const byArr = f.arrMin != null || f.arrMax != null;
    const byUse = f.utilizationMin != null || f.utilizationMax != null;
    if (byArr || byUse) {
      const facts = await ctx.loaders.customer360.facts.loadMany(rows.map((r) => r.id));
      rows = rows.filter((r, i) => {
        const fs = facts[i];
        if (fs instanceof Error) throw fs;
        if (byArr) {
          const arr = arrIn(arrOf(fs!), f.arrCurrency ?? r.currency.trim());
          if (f.arrMin != null && arr < BigInt(f.arrMin)) return false;
          if (f.arrMax != null && arr > BigInt(f.arrMax)) return false;
        }
        if (byUse) {
          const u = utilizationOf(fs!);
          if (u === null) return false;
          if (f.utilizationMin != null && u < f.utilizationMin) return false;
          if (f.utilizationMax != null && u > f.utilizationMax) return false;
        }
        return true;
      });
    }
    totalCount = rows.length;
    const key = (r: Candidate) => `${r.created_at.toISOString()}|${r.id}`;
    const start = after ? rows.filter((r) => key(r) > `${new Date(after.createdAt).toISOString()}|${after.id}`) : rows;
    hasNextPage = start.length > args.first;
    page = start.slice(0, args.first);
  }

  const accounts = page.length ? await db.manager.findBy(Account, { id: In(page.map((r) => r.id)) }) : [];
  const byId = new Map(accounts.map((a) => [a.id, a]));
  const edges = page.map((r) => ({ cursor: encodeCursor(r.created_at, r.id), node: byId.get(r.id)! }));
  return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, totalCount };
}

@Resolver(() => Account)
export class CustomerListResolver {
  @Authorized(Roles.ANY)
  @Query(() => AccountConnection, {
    description:
      'The console\'s customer list: accounts filtered by text and status (every role) and by health band, churn risk, ARR and utilisation (ADMIN, OPERATIONS, FINANCE, ANALYST; FORBIDDEN for other roles), oldest first, paged by cursor; `totalCount` counts every match. ' +
      'An account-scoped key sees its own account only.',
  })
  customerList(@Args() args: CustomerListArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<Account>> {
    return customerList(ctx, args);
  }

  @Authorized(READ)
  @FieldResolver(() => [Money], { description: 'ARR of the live entitlements, per currency (as `customer360.arr`). ADMIN, OPERATIONS, FINANCE, ANALYST.' })
  async arr(@Root() a: Account, @Ctx() ctx: GraphQLContext): Promise<Money[]> {
    return arrOf(await ctx.loaders.customer360.facts.load(a.id));
  }

  @Authorized(READ)
  @FieldResolver(() => Float, {
    nullable: true,
    description: 'The mean of used / capacity × 100 over live entitlements with a capacity (as `customer360.utilizationPercent`); null without one. ADMIN, OPERATIONS, FINANCE, ANALYST.',
  })
  async utilizationPercent(@Root() a: Account, @Ctx() ctx: GraphQLContext): Promise<number | null> {
    return utilizationOf(await ctx.loaders.customer360.facts.load(a.id));
  }
}
