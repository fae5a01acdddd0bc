import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Account } from '../accounts/account.entity';
import type { DeliveryRenewalView } from './delivery-renewals.service';
import { DeviceGroupChange, DeviceGroupCount, Rollout, StartRolloutInput } from './rollout.types';
import { DeliveryRenewal, DeliveryRenewalOpportunity, DeliveryStatus } from './delivery-status.types';
import { Role, Roles } from '../auth/role';
import type { GraphQLContext } from '../server/graphql-context';
import { CreateDownloadLinkInput, DownloadLink, Release, ReleaseAccess, ReleaseChannel, ReleaseStatus, UpsertReleaseInput } from './delivery.types';

/** Who may hand out download links (a link is logged, so it is a write: not READONLY). */
const DOWNLOAD = [Role.ADMIN, Role.OPERATIONS, Role.INTEGRATION];

@Resolver()
export class ReleaseResolver {
  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Release, {
    description:
      'Creates or updates the release of a product with this version (docs/delivery.md). BAD_USER_INPUT RELEASE_VERSION_INVALID, RELEASE_MIN_UPGRADE_INVALID, RELEASE_DATE_IN_FUTURE; CONFLICT RELEASE_ALREADY_PUBLISHED (back to DRAFT); NOT_FOUND PRODUCT_NOT_FOUND. ADMIN, OPERATIONS, INTEGRATION; not account-scoped keys.',
  })
  upsertRelease(@Arg('input', () => UpsertReleaseInput, { description: 'The release, keyed by product and version.' }) input: UpsertReleaseInput, @Ctx() ctx: GraphQLContext): Promise<Release> {
    return ctx.services.delivery.upsertRelease(ctx, input);
  }

  @Authorized(Roles.ANY)
  @Query(() => Release, { description: 'One release with its artifacts. Account-scoped keys: published releases of products the account holds. Every role.' })
  release(@Arg('id', () => ID, { description: 'The release id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<Release> {
    return ctx.services.delivery.release(ctx, id);
  }

  @Authorized(Roles.ANY)
  @Query(() => [Release], {
    description: 'A product\'s releases, newest version first. `channel` includes the more stable channels. Account-scoped keys: published releases of products the account holds. Every role.',
  })
  releases(
    @Arg('product', () => ID, { description: 'The product id or SKU.' }) product: string,
    @Arg('channel', () => ReleaseChannel, { nullable: true, description: 'Only this channel and the more stable ones.' }) channel: ReleaseChannel | undefined,
    @Arg('status', () => [ReleaseStatus], { nullable: true, description: 'Only these statuses (default: all the caller may see).' }) status: ReleaseStatus[] | undefined,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Release[]> {
    return ctx.services.delivery.releases(ctx, product, channel ?? undefined, status ?? undefined);
  }

  @Authorized(Roles.ANY)
  @Query(() => ReleaseAccess, {
    description:
      'Whether a release is available to an account or a device, with every reason when not (published, channel, compatibility, minUpgradeFrom, features, maintenance end + grace, warranty; docs/delivery.md). ' +
      'Give accountId, deviceId or deviceSerial (a device: its own entitlement; an account: any of its entitlements to the product). NOT_FOUND RELEASE_NOT_FOUND, ACCOUNT_NOT_FOUND, DEVICE_NOT_FOUND ' +
      '(account-scoped keys: about their own account only); BAD_USER_INPUT RELEASE_ACCESS_SUBJECT_REQUIRED. Every role.',
  })
  releaseAccess(
    @Arg('release', () => ID, { description: 'The release id.' }) release: string,
    @Arg('accountId', () => ID, { nullable: true, description: 'The account asking (an account-scoped key: its own, the default).' }) accountId: string | null,
    @Arg('deviceId', () => ID, { nullable: true, description: 'The device: its activation id.' }) deviceId: string | null,
    @Arg('deviceSerial', () => String, { nullable: true, description: 'The device, by its serial number (activateDevice serial).' }) deviceSerial: string | null,
    @Arg('channel', () => ReleaseChannel, { nullable: true, description: 'The channel asked for (includes the more stable ones); default STABLE.' }) channel: ReleaseChannel | null,
    @Arg('currentVersion', () => String, { nullable: true, description: 'The version the device runs now (judged against minUpgradeFrom); default: what the device last reported.' }) currentVersion: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ReleaseAccess> {
    return ctx.services.delivery.releaseAccess(ctx, { release, accountId, deviceId, deviceSerial, channel, currentVersion });
  }

  @Authorized(DOWNLOAD)
  @Mutation(() => DownloadLink, {
    description:
      'A short-lived download URL for one artifact, bound to the subject (account, device), logged (docs/delivery.md). NOT_FOUND ARTIFACT_NOT_FOUND, DEVICE_NOT_FOUND; CONFLICT RELEASE_YANKED, RELEASE_NOT_PUBLISHED; FORBIDDEN RELEASE_NOT_ENTITLED; BAD_USER_INPUT DOWNLOAD_LINK_TTL_INVALID. ADMIN, OPERATIONS, INTEGRATION (account-scoped keys: their own account).',
  })
  createDownloadLink(@Arg('input', () => CreateDownloadLinkInput, { description: 'The artifact, the subject and the lifetime.' }) input: CreateDownloadLinkInput, @Ctx() ctx: GraphQLContext): Promise<DownloadLink> {
    return ctx.services.delivery.createDownloadLink(ctx, input);
  }
}

const ROLLOUT_WHO = 'ADMIN, OPERATIONS, INTEGRATION; not account-scoped keys.';

@Resolver()
export class RolloutResolver {
  @Authorized(Roles.ANY)
  @Query(() => DeliveryStatus, {
    description:
      'Where a product\'s fleet stands against a release (default: the newest published STABLE one): devices per version, up to date, offered on their next poll, held back per reason (the rule and rollout polls use), and accounts whose devices are held back by lapsed maintenance (renewal opportunities). NOT_FOUND PRODUCT_NOT_FOUND, RELEASE_NOT_FOUND. Every role; not account-scoped keys.',
  })
  deliveryStatus(
    @Arg('product', { description: 'The product id or SKU.' }) product: string,
    @Arg('release', () => ID, { nullable: true, description: 'The release to judge against; default the newest published STABLE release.' }) release: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<DeliveryStatus> {
    return ctx.services.deliveryStatus.status(ctx, product, release);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Query(() => Rollout, { nullable: true, description: 'The staged rollout of a release, or null when it has none (offered to every entitled device). NOT_FOUND RELEASE_NOT_FOUND. ' + ROLLOUT_WHO })
  rollout(@Arg('release', () => ID, { description: 'The release.' }) release: string, @Ctx() ctx: GraphQLContext): Promise<Rollout | null> {
    return ctx.services.rollouts.get(ctx, release);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Rollout, {
    description:
      'Starts a staged rollout of a release (docs/delivery.md#staged-rollouts): only the devices of the current stage are offered it, always inside what each is entitled to; it advances while the failure rate stays under the threshold and halts on its own at or above it. BAD_USER_INPUT ROLLOUT_INVALID; CONFLICT ROLLOUT_EXISTS, RELEASE_YANKED. ' +
      ROLLOUT_WHO,
  })
  startRollout(@Arg('input', () => StartRolloutInput, { description: 'The rollout.' }) input: StartRolloutInput, @Ctx() ctx: GraphQLContext): Promise<Rollout> {
    return ctx.services.rollouts.start(ctx, input);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Rollout, { description: 'Moves a rollout to its next stage now. CONFLICT ROLLOUT_HALTED (resume first), ROLLOUT_AT_LAST_STAGE; NOT_FOUND ROLLOUT_NOT_FOUND. ' + ROLLOUT_WHO })
  advanceRollout(@Arg('release', () => ID, { description: 'The release.' }) release: string, @Ctx() ctx: GraphQLContext): Promise<Rollout> {
    return ctx.services.rollouts.advance(ctx, release);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Rollout, { description: 'Halts a rollout: no device is offered the release until it is resumed. Halting again changes nothing. ' + ROLLOUT_WHO })
  haltRollout(
    @Arg('release', () => ID, { description: 'The release.' }) release: string,
    @Arg('reason', () => String, { nullable: true, description: 'Why (up to 500 characters); default "halted by an operator".' }) reason: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Rollout> {
    return ctx.services.rollouts.halt(ctx, release, reason);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Rollout, { description: 'Resumes a halted rollout at its current stage; install outcomes are judged from now on. Resuming an active one changes nothing. ' + ROLLOUT_WHO })
  resumeRollout(@Arg('release', () => ID, { description: 'The release.' }) release: string, @Ctx() ctx: GraphQLContext): Promise<Rollout> {
    return ctx.services.rollouts.resume(ctx, release);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => DeviceGroupChange, {
    description:
      'Puts devices (activation ids) into a device group, or out of any with group null (docs/delivery.md#device-groups); rollouts can offer a release to groups first. All or nothing. BAD_USER_INPUT DEVICE_GROUP_INVALID; NOT_FOUND DEVICE_NOT_FOUND. ' + ROLLOUT_WHO,
  })
  setDeviceGroup(
    @Arg('group', () => String, { nullable: true, description: 'The group (1–64 letters, digits, ".", "_", "-"); null takes the devices out of their group.' }) group: string | null,
    @Arg('devices', () => [ID], { description: 'The devices: activation ids (1 to 10,000).' }) devices: string[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<DeviceGroupChange> {
    return ctx.services.deviceGroups.set(ctx, group, devices);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Query(() => [DeviceGroupCount], { description: 'Device groups with their active devices, largest first; optionally of one product. NOT_FOUND PRODUCT_NOT_FOUND. ' + ROLLOUT_WHO })
  deviceGroups(@Arg('product', () => String, { nullable: true, description: 'A product id or SKU.' }) product: string | null, @Ctx() ctx: GraphQLContext): Promise<DeviceGroupCount[]> {
    return ctx.services.deviceGroups.list(ctx, product);
  }
}

@Resolver(() => Account)
export class AccountDeliveryRenewalResolver {
  @FieldResolver(() => DeliveryRenewal, {
    nullable: true,
    description:
      'Devices of the account held back from their product\'s newest stable release by lapsed maintenance or warranty, and what renewing it is worth (docs/delivery.md#renewal-signal); null when none. Synced to the CRM/ERP as updatesHeldBack and maintenanceRenewal. ADMIN, OPERATIONS, FINANCE, ANALYST.',
  })
  @Authorized([Role.ADMIN, Role.OPERATIONS, Role.FINANCE, Role.ANALYST])
  deliveryRenewal(@Root() a: Account, @Ctx() ctx: GraphQLContext): Promise<DeliveryRenewalView | null> {
    return ctx.loaders.deliveryRenewal.load(a.id);
  }
}

@Resolver(() => DeliveryRenewalOpportunity)
export class DeliveryRenewalOpportunityResolver {
  @FieldResolver(() => Account, { description: 'The account (its name, for a list of whom to call).' })
  async account(@Root() o: DeliveryRenewalOpportunity, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return (await ctx.loaders.accounts.account.load(o.accountId))!;
  }
}

export const DeliveryResolvers: Function[] = [ReleaseResolver, RolloutResolver, AccountDeliveryRenewalResolver, DeliveryRenewalOpportunityResolver];
