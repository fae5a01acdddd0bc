import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role, Roles } from '../auth/role';
import type { GraphQLContext } from '../server/graphql-context';
import { Entitlement } from '../entitlements/entitlement.entity';
import { ContractTerms, RecordSupportCaseInput, SupportCase, SupportEntitlementAnswer, SupportTier, SupportTierInput } from './support.types';

@Resolver()
export class SupportResolver {
  @Authorized(Roles.ANY)
  @Query(() => [SupportTier], { description: 'The support tiers (levels with SLA targets), by key.' })
  supportTiers(@Ctx() ctx: GraphQLContext): Promise<SupportTier[]> {
    return ctx.services.support.tiers();
  }

  @Authorized([Role.ADMIN, Role.OPERATIONS])
  @Mutation(() => SupportTier, {
    description: 'Creates or updates a support tier by key (name, SLA targets, hours of coverage); order lines refer to it as terms.supportLevel. Idempotent. ADMIN, OPERATIONS.',
  })
  upsertSupportTier(@Arg('input', { description: 'The tier, by key.' }) input: SupportTierInput, @Ctx() ctx: GraphQLContext): Promise<SupportTier> {
    return ctx.services.support.upsertTier(ctx, input);
  }

  @Authorized(Roles.ANY)
  @Query(() => SupportEntitlementAnswer, {
    description:
      'What support an account, a device (by serial) or an entitlement is owed today: covered or not, by SUPPORT or WARRANTY, the level and its SLA targets, ' +
      'and when not, the reason (SUPPORT_EXPIRED, NO_SUPPORT_LEVEL, WARRANTY_EXPIRED, NO_WARRANTY, CASES_EXHAUSTED, ENTITLEMENT_NOT_ACTIVE, NO_ENTITLEMENT). ' +
      'Give exactly one argument (else BAD_USER_INPUT `SUPPORT_SUBJECT_REQUIRED`); an unknown serial is NOT_FOUND `DEVICE_NOT_FOUND`.',
  })
  supportEntitlement(
    @Arg('accountId', () => ID, { nullable: true, description: 'The account.' }) accountId: string | null,
    @Arg('deviceSerial', () => String, { nullable: true, description: 'A device serial (activateDevice(serial:)).' }) deviceSerial: string | null,
    @Arg('entitlementId', () => ID, { nullable: true, description: 'An entitlement.' }) entitlementId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<SupportEntitlementAnswer> {
    return ctx.services.support.supportEntitlement(ctx, { accountId, deviceSerial, entitlementId });
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => SupportCase, {
    description:
      'Records a support case against the entitlement covering the subject, counting one of its cases atomically; the same idempotencyKey again returns the same case (replayed). ' +
      'Refused with nothing written when not covered: LIMIT_EXCEEDED `CASES_EXHAUSTED`, FORBIDDEN with the reason as subCode (SUPPORT_EXPIRED, NO_SUPPORT_LEVEL, …); ' +
      'CONFLICT `IDEMPOTENCY_KEY_REUSED` for a key used for another case.',
  })
  recordSupportCase(@Arg('input', { description: 'The case.' }) input: RecordSupportCaseInput, @Ctx() ctx: GraphQLContext): Promise<SupportCase> {
    return ctx.services.support.recordCase(ctx, input);
  }
}

@Resolver(() => Entitlement)
export class EntitlementTermsResolver {
  @FieldResolver(() => ContractTerms, { nullable: true, description: 'The contract terms (maintenance, support, warranty, cases, after expiry); null = none given.' })
  async terms(@Root() e: Entitlement, @Ctx() ctx: GraphQLContext): Promise<ContractTerms | null> {
    return (await ctx.loaders.support.terms.load(e)) ?? null;
  }
}

export const SupportResolvers = [SupportResolver, EntitlementTermsResolver];
