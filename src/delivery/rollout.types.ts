import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum RolloutStatus {
  ACTIVE = 'ACTIVE',
  HALTED = 'HALTED',
}

registerEnumType(RolloutStatus, {
  name: 'RolloutStatus',
  description: 'ACTIVE: offered to the devices of the current stage. HALTED: offered to nobody until resumed.',
  valuesConfig: {
    ACTIVE: { description: 'Offered to the entitled devices of the current stage.' },
    HALTED: { description: 'Offered to no device (halted by the failure rate or an operator) until resumeRollout.' },
  },
});

@InputType({ description: 'A staged rollout of a release (docs/delivery.md#staged-rollouts).' })
export class StartRolloutInput {
  @Field(() => ID, { description: 'The release to roll out.' })
  release: string;

  @Field(() => [Int], { nullable: true, description: 'Cumulative percentages of the entitled devices, ascending, the last 100. With groups the first may be 0: the groups only (a pilot). Default [10, 50, 100], with groups [0, 10, 50, 100].' })
  stages?: number[] | null;

  @Field(() => [String], { nullable: true, description: 'Device groups (setDeviceGroup) offered the release from the first stage on, whatever their percentage — a pilot fleet. At most 20. Every device still needs its entitlement.' })
  groups?: string[] | null;

  @Field(() => Float, { nullable: true, description: 'Halt when this share of the devices that reported an outcome report a failed install (0 < x ≤ 1). Default 0.1.' })
  failureThreshold?: number | null;

  @Field(() => Int, { nullable: true, description: 'How many devices must have reported before the rollout is judged (halted or advanced). Default 20.' })
  minReports?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'Advance to the next stage on its own once `minReports` devices reported in the current stage under the threshold. Default true.' })
  autoAdvance?: boolean | null;
}

@ObjectType({ description: 'A release\'s staged rollout: which share of the entitled devices is offered it, and how their installs went.' })
export class Rollout {
  @Field(() => ID, { description: 'The release.' })
  releaseId: string;
  @Field(() => [Int], { description: 'The stages: cumulative percentages of the entitled devices (0: the groups only).' })
  stages: number[];
  @Field(() => [String], { description: 'Device groups offered the release from the first stage on.' })
  groups: string[];
  @Field(() => Int, { description: 'The current stage (0-based index into stages).' })
  stage: number;
  @Field(() => Int, { description: 'The current stage\'s percentage.' })
  percent: number;
  @Field(() => RolloutStatus, { description: 'ACTIVE or HALTED.' })
  status: RolloutStatus;
  @Field(() => Float, { description: 'The failure share that halts it.' })
  failureThreshold: number;
  @Field(() => Int, { description: 'Reports needed before it is judged.' })
  minReports: number;
  @Field({ description: 'Whether it advances on its own.' })
  autoAdvance: boolean;
  @Field(() => String, { nullable: true, description: 'Why it was halted, with the figures.' })
  haltedReason: string | null;
  @Field(() => Date, { nullable: true, description: 'When it was halted.' })
  haltedAt: Date | null;
  @Field(() => Int, { description: 'Devices whose latest outcome is INSTALLED (since the start or the last resume), as last judged.' })
  installed: number;
  @Field(() => Int, { description: 'Devices whose latest outcome is FAILED (since the start or the last resume), as last judged.' })
  failed: number;
  @Field({ description: 'When it started.' })
  startedAt: Date;
  @Field({ description: 'When the current stage began.' })
  stageStartedAt: Date;
  @Field(() => Int, { description: 'Active devices of the product inside the current stage or in one of its groups (before the entitlement rule, which still applies to each).' })
  devicesAdmitted: number;
  @Field(() => Int, { description: 'Active devices of the product.' })
  devicesTotal: number;
}

@ObjectType({ description: 'What setDeviceGroup did.' })
export class DeviceGroupChange {
  @Field(() => String, { nullable: true, description: 'The group the devices are in now (null: none).' })
  group: string | null;
  @Field(() => Int, { description: 'Devices named.' })
  devices: number;
  @Field(() => Int, { description: 'Devices that changed group (the others were in it already).' })
  changed: number;
}

@ObjectType({ description: 'A device group with its active devices.' })
export class DeviceGroupCount {
  @Field({ description: 'The group.' })
  group: string;
  @Field(() => Int, { description: 'Active devices in it.' })
  devices: number;
}
