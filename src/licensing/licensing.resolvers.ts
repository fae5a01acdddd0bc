import { LocalDateResolver } from 'graphql-scalars';
import { Arg, Authorized, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Roles } from '../auth/role';
import { Deployment } from '../entitlements/entitlement.enums';
import { Entitlement } from '../entitlements/entitlement.entity';
import type { GraphQLContext } from '../server/graphql-context';
import { Activation } from './activation.entity';
import { Lease } from './lease.entity';
import { LEASE_TTL_SECONDS } from './lease.service';
import { CheckResult, ConsumeInput, ConsumeResult, FeatureBalance } from './licensing.types';
import { Seat } from './seat.entity';

const ENTITLEMENT_ID = { description: 'The entitlement id.' };
const WHO = 'ADMIN, OPERATIONS, INTEGRATION.';

@Resolver()
export class LicensingResolver {
  @Authorized(Roles.ANY)
  @Query(() => CheckResult, {
    description:
      'May the account use the feature now? Answers allowed/refused with a code, the reason, what remains and when the right ends. ' +
      'With several entitlements granting the feature, the best answer wins (allowed first, then the most remaining, then the latest end). ' +
      'Pass `deviceFingerprint` for DEVICE_LOCKED, `user` (email) for NAMED_USER, `user` or `deviceFingerprint` as the lease holder for CONCURRENT, ' +
      '`quantity` for METERED/USAGE/OUTCOME (compared with the current period\'s balance) and feature limits. Never writes. Any role.',
  })
  check(
    @Arg('accountId', () => ID, { description: 'The account.' }) accountId: string,
    @Arg('feature', { description: 'The feature key.' }) feature: string,
    @Arg('quantity', () => Float, { nullable: true, description: 'How much the client wants to use (≥ 0); omitted = any use at all.' }) quantity: number | null,
    @Arg('deviceFingerprint', () => String, { nullable: true, description: 'The device asking (DEVICE_LOCKED; a lease holder for CONCURRENT).' }) deviceFingerprint: string | null,
    @Arg('user', () => String, { nullable: true, description: 'The user asking: an email for NAMED_USER, a lease holder for CONCURRENT.' }) user: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CheckResult> {
    return ctx.services.licensing.checks.check(ctx, { accountId, feature, quantity, deviceFingerprint, user });
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Activation, {
    description:
      'Activates a device on a DEVICE_LOCKED entitlement. Activating an active fingerprint again returns its activation (refreshing lastSeenAt). ' +
      'LIMIT_EXCEEDED `ENTITLEMENT_DEVICE_LIMIT_EXCEEDED` when all devices are in use; BAD_USER_INPUT `ENTITLEMENT_MODEL_MISMATCH` for another model, ' +
      `\`ENTITLEMENT_NOT_ACTIVE\` when the entitlement cannot be used now (extensions.status says why). ${WHO}`,
  })
  activateDevice(
    @Arg('entitlementId', () => ID, ENTITLEMENT_ID) entitlementId: string,
    @Arg('fingerprint', { description: 'The device fingerprint (1–255 characters, compared exactly).' }) fingerprint: string,
    @Arg('name', () => String, { nullable: true, description: 'A name for people.' }) name: string | null,
    @Arg('platform', () => String, { nullable: true, description: 'The platform.' }) platform: string | null,
    @Arg('deployment', () => Deployment, { nullable: true, description: 'Where the device runs.' }) deployment: Deployment | null,
    @Arg('serial', () => String, { nullable: true, description: 'The device\'s serial number (supportEntitlement finds the device by it).' }) serial: string | null,
    @Arg('shippedOn', () => LocalDateResolver, { nullable: true, description: 'The date the device shipped: the start of a warranty on a SHIPMENT basis.' }) shippedOn: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Activation> {
    return ctx.services.licensing.devices.activate(ctx, { entitlementId, fingerprint, name, platform, deployment, serial, shippedOn });
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Activation, {
    description:
      'Deactivates a device, freeing its slot; deactivating it again returns the same activation. NOT_FOUND `ACTIVATION_NOT_FOUND` when the device was never activated. ' +
      WHO,
  })
  deactivateDevice(
    @Arg('entitlementId', () => ID, ENTITLEMENT_ID) entitlementId: string,
    @Arg('fingerprint', { description: 'The device fingerprint.' }) fingerprint: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Activation> {
    return ctx.services.licensing.devices.deactivate(ctx, entitlementId, fingerprint);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Seat, {
    description:
      'Assigns a seat of a NAMED_USER entitlement to a user (by email, case-insensitive); assigning the same user again returns their seat. ' +
      'Links the account\'s contact with that email. LIMIT_EXCEEDED `ENTITLEMENT_SEAT_LIMIT_EXCEEDED` when all seats are assigned. ' +
      WHO,
  })
  assignSeat(
    @Arg('entitlementId', () => ID, ENTITLEMENT_ID) entitlementId: string,
    @Arg('email', { description: 'The user\'s email.' }) email: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Seat> {
    return ctx.services.licensing.seats.assign(ctx, entitlementId, email);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Seat, {
    description: 'Releases a user\'s seat; releasing it again returns the same seat. NOT_FOUND `SEAT_NOT_FOUND` when the user never had one. ' + WHO,
  })
  releaseSeat(
    @Arg('entitlementId', () => ID, ENTITLEMENT_ID) entitlementId: string,
    @Arg('email', { description: 'The user\'s email.' }) email: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Seat> {
    return ctx.services.licensing.seats.release(ctx, entitlementId, email);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Lease, {
    description:
      'Checks out a floating licence of a CONCURRENT entitlement for `holder`, expiring after `ttlSeconds` unless extended by heartbeatLease. ' +
      'A holder with a live lease gets it back, extended. LIMIT_EXCEEDED `ENTITLEMENT_LEASE_LIMIT_EXCEEDED` when all are checked out ' +
      '(lapsed leases free their slot by time alone). ' +
      WHO,
  })
  checkoutLease(
    @Arg('entitlementId', () => ID, ENTITLEMENT_ID) entitlementId: string,
    @Arg('holder', { description: 'Who holds the lease (user, host or process; 1–255 characters).' }) holder: string,
    @Arg('ttlSeconds', () => Int, {
      defaultValue: LEASE_TTL_SECONDS.default,
      description: `Time to live in seconds (${LEASE_TTL_SECONDS.min}–${LEASE_TTL_SECONDS.max}).`,
    })
    ttlSeconds: number,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Lease> {
    return ctx.services.licensing.leases.checkout(ctx, entitlementId, holder, ttlSeconds);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Lease, {
    description:
      'Extends a live lease by `ttlSeconds` (default: its own) from now. CONFLICT `LEASE_EXPIRED` when it has lapsed or was checked in: check out again. ' +
      WHO,
  })
  heartbeatLease(
    @Arg('leaseId', () => ID, { description: 'The lease id.' }) leaseId: string,
    @Arg('ttlSeconds', () => Int, {
      nullable: true,
      description: `New time to live in seconds (${LEASE_TTL_SECONDS.min}–${LEASE_TTL_SECONDS.max}); default: the lease's.`,
    })
    ttlSeconds: number | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Lease> {
    return ctx.services.licensing.leases.heartbeat(ctx, leaseId, ttlSeconds);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Lease, { description: 'Returns a floating licence to the pool; checking in again returns the same lease. ' + WHO })
  checkinLease(@Arg('leaseId', () => ID, { description: 'The lease id.' }) leaseId: string, @Ctx() ctx: GraphQLContext): Promise<Lease> {
    return ctx.services.licensing.leases.checkin(ctx, leaseId);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => ConsumeResult, {
    description:
      'Draws a quantity of a feature down from the account\'s METERED, USAGE or OUTCOME entitlements, atomically. ' +
      'Answers allowed/refused (a refusal is an answer: LIMIT_EXCEEDED under overage policy BLOCK, NOT_ENTITLED...), with what remains and any overage. ' +
      'The same idempotencyKey again returns the first answer and draws nothing; with another feature or quantity it is CONFLICT `IDEMPOTENCY_KEY_REUSED`. ' +
      WHO,
  })
  consume(@Arg('input', { description: 'What to consume.' }) input: ConsumeInput, @Ctx() ctx: GraphQLContext): Promise<ConsumeResult> {
    return ctx.services.licensing.consumption.consume(ctx, input);
  }
}

/** Devices, seats, leases and balances of an entitlement (beside the fields src/entitlements resolves). */
@Resolver(() => Entitlement)
export class EntitlementLicensingResolver {
  @FieldResolver(() => [Activation], { description: 'DEVICE_LOCKED: the devices active now, oldest first.' })
  devices(@Root() e: Entitlement, @Ctx() ctx: GraphQLContext): Promise<Activation[]> {
    return ctx.loaders.licensing.devices.load(e.id);
  }

  @FieldResolver(() => [Seat], { description: 'NAMED_USER: the seats assigned now, oldest first.' })
  seats(@Root() e: Entitlement, @Ctx() ctx: GraphQLContext): Promise<Seat[]> {
    return ctx.loaders.licensing.seats.load(e.id);
  }

  @FieldResolver(() => [Lease], { description: 'CONCURRENT: the live leases (not checked in, not lapsed), oldest first.' })
  leases(@Root() e: Entitlement, @Ctx() ctx: GraphQLContext): Promise<Lease[]> {
    return ctx.loaders.licensing.leases.load(e.id);
  }

  @FieldResolver(() => [FeatureBalance], { description: 'METERED, USAGE, OUTCOME: the current reset period\'s balance of each feature.' })
  balances(@Root() e: Entitlement, @Ctx() ctx: GraphQLContext): Promise<FeatureBalance[]> {
    return ctx.loaders.licensing.balances.load(e.id);
  }
}

/** The licensing domain's resolvers (registered in src/server/schema.ts). */
export const LicensingResolvers: Function[] = [LicensingResolver, EntitlementLicensingResolver];
