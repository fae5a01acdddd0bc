import { Money } from '../common/money';
import { Field, ID, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'How many active devices run one version (null: the device has not said).' })
export class VersionCount {
  @Field(() => String, { nullable: true, description: 'The version the devices last reported (polling or an INSTALLED report); null = unknown.' })
  version: string | null;
  @Field(() => Int, { description: 'Active devices on it.' })
  devices: number;
}

@ObjectType({ description: 'Devices held back from the release for one reason (a device refused for several counts under each).' })
export class HeldBackCount {
  @Field({ description: 'The reason code, as polls and releaseAccess give it (MAINTENANCE_ENDED, INCOMPATIBLE_PLATFORM, ROLLOUT_HALTED, ROLLOUT_NOT_YET, …).' })
  code: string;
  @Field(() => Int, { description: 'Devices held back for it.' })
  devices: number;
}

@ObjectType({ description: 'An account whose devices are held back by lapsed maintenance or warranty: renewing would bring them the release.' })
export class DeliveryRenewalOpportunity {
  @Field(() => ID, { description: 'The account.' })
  accountId: string;
  @Field(() => Int, { description: 'Its devices held back by lapsed maintenance or warranty.' })
  devices: number;
}

@ObjectType({ description: 'Where a product\'s fleet stands against a release (docs/delivery.md#delivery-status).' })
export class DeliveryStatus {
  @Field(() => ID, { description: 'The product.' })
  productId: string;
  @Field({ description: 'Its SKU.' })
  sku: string;
  @Field(() => ID, { nullable: true, description: 'The release judged: the one asked for, else the newest published STABLE release; null when there is none.' })
  releaseId: string | null;
  @Field(() => String, { nullable: true, description: 'Its version.' })
  version: string | null;
  @Field(() => Int, { description: 'Active devices (activations) of the product.' })
  devices: number;
  @Field(() => [VersionCount], { description: 'Devices per version they run, newest first, unknown last.' })
  versions: VersionCount[];
  @Field(() => Int, { description: 'Devices already on the release or newer.' })
  upToDate: number;
  @Field(() => Int, { description: 'Devices that would be offered the release on their next poll (allowed by the rule and admitted by the rollout).' })
  offered: number;
  @Field(() => Int, { description: 'Of the offered devices, those told of the release by an update notice over MQTT (docs/delivery.md#update-notices); 0 without EHUB_MQTT_URL.' })
  notified: number;
  @Field(() => [HeldBackCount], { description: 'Devices held back, per reason, most first.' })
  heldBack: HeldBackCount[];
  @Field(() => [DeliveryRenewalOpportunity], { description: 'Accounts with devices held back by lapsed maintenance or warranty, most devices first: renewal opportunities.' })
  renewalOpportunities: DeliveryRenewalOpportunity[];
}

@ObjectType({ description: 'The renewal signal of delivery (docs/delivery.md#renewal-signal): devices of the account held back from their product\'s newest stable release by lapsed maintenance or warranty, and what renewing that maintenance is worth.' })
export class DeliveryRenewal {
  @Field(() => Int, { description: 'Active devices held back by lapsed maintenance or warranty.' })
  devices: number;
  @Field(() => [ID], { description: 'The entitlements of those devices, whose maintenance a renewal would extend.' })
  entitlementIds: string[];
  @Field(() => [Money], { description: 'A year of their maintenance per currency, largest first: a term line\'s ARR; a perpetual licence\'s price × EHUB_MAINTENANCE_RATE_PERCENT. Empty when no line is priced.' })
  amounts: Money[];
  @Field({ description: 'When it was computed (the delivery-renewals job, a release published or yanked, a renewal of the account).' })
  computedAt: Date;
}
