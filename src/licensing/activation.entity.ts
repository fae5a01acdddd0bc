import { Field, ID, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { Deployment } from '../entitlements/entitlement.enums';

@ObjectType({ description: 'A device activated on a DEVICE_LOCKED entitlement (node-locked licence).' })
@Entity('activation')
export class Activation {
  @Field(() => ID, { description: 'The activation id.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field(() => ID, { description: 'The entitlement the device is activated on.' })
  @Column('uuid', { name: 'entitlement_id' })
  entitlementId: string;

  @Field(() => ID, { description: 'The account of the entitlement.' })
  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @Field({ description: 'The device fingerprint (as sent by the licensing client; compared exactly).' })
  @Column('text')
  fingerprint: string;

  @Field(() => String, { nullable: true, description: 'A name for people (host name, device label).' })
  @Column('text', { nullable: true })
  name: string | null;

  @Field(() => String, { nullable: true, description: 'The platform (e.g. linux-x64, windows, firmware version).' })
  @Column('text', { nullable: true })
  platform: string | null;

  @Field(() => Deployment, { nullable: true, description: 'Where the device runs.' })
  @Column('text', { nullable: true })
  deployment: Deployment | null;

  @Field(() => String, { nullable: true, description: 'The device\'s serial number (supportEntitlement(deviceSerial:) finds the device by it).' })
  @Column('text', { nullable: true })
  serial: string | null;

  @Field(() => String, { nullable: true, description: 'The date the device shipped (YYYY-MM-DD): the start of a warranty on a SHIPMENT basis.' })
  @Column('date', { name: 'shipped_on', nullable: true })
  shippedOn: string | null;

  @Field({ description: 'When the device was activated.' })
  @Column('timestamptz', { name: 'activated_at' })
  activatedAt: Date;

  @Field({ description: 'When the device last activated again (re-activation refreshes it).' })
  @Column('timestamptz', { name: 'last_seen_at' })
  lastSeenAt: Date;

  @Field(() => Date, { nullable: true, description: 'When the device was deactivated; null while it holds a device slot.' })
  @Column('timestamptz', { name: 'deactivated_at', nullable: true })
  deactivatedAt: Date | null;

  @Field(() => String, { nullable: true, description: 'The version of the software the device last said it runs (GET /v1/devices/<id>/update?current=, or an INSTALLED report).' })
  @Column('text', { name: 'software_version', nullable: true })
  softwareVersion: string | null;

  @Field(() => Date, { nullable: true, description: 'When the device last polled for an update.' })
  @Column('timestamptz', { name: 'update_polled_at', nullable: true })
  updatePolledAt: Date | null;

  /**
   * The device's update token (Bearer credential of GET /v1/devices/<id>/update and POST
   * /v1/devices/<id>/update-status). Only in the answer of activateDevice, once: the hub keeps
   * a hash; activating the same fingerprint again issues a new one and the old one stops working.
   */
  @Field(() => String, {
    nullable: true,
    description:
      'The device\'s update token, only in the answer of activateDevice (the hub keeps only a hash): the Bearer credential of GET /v1/devices/<id>/update and ' +
      'POST /v1/devices/<id>/update-status. Activating the same fingerprint again issues a new token and the previous one stops working. Null everywhere else.',
  })
  updateToken?: string | null;

  @Field({ description: 'When the row was created.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'Whether the device holds one of the entitlement\'s device slots (not deactivated).' })
  get active(): boolean {
    return this.deactivatedAt === null;
  }
}
