import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

@ObjectType({
  description:
    'A floating licence checked out of a CONCURRENT entitlement. It holds a slot while it is not checked in and ' +
    '`expiresAt` is in the future: a client that stops sending heartbeats loses it by time alone.',
})
@Entity('lease')
export class Lease {
  @Field(() => ID, { description: 'The lease id (send it to heartbeatLease and checkinLease).' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field(() => ID, { description: 'The entitlement the lease is checked out of.' })
  @Column('uuid', { name: 'entitlement_id' })
  entitlementId: string;

  @Field(() => ID, { description: 'The account of the entitlement.' })
  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @Field({ description: 'Who holds the lease (a user, host or process name as the client chooses).' })
  @Column('text')
  holder: string;

  @Field(() => Int, { description: 'The time to live, in seconds, applied at checkout and on each heartbeat.' })
  @Column('int', { name: 'ttl_seconds' })
  ttlSeconds: number;

  @Field({ description: 'When the lease was checked out.' })
  @Column('timestamptz', { name: 'checked_out_at' })
  checkedOutAt: Date;

  @Field({ description: 'When the lease lapses unless a heartbeat extends it.' })
  @Column('timestamptz', { name: 'expires_at' })
  expiresAt: Date;

  @Field(() => Date, { nullable: true, description: 'When the lease was checked in; null while held or lapsed.' })
  @Column('timestamptz', { name: 'checked_in_at', nullable: true })
  checkedInAt: Date | null;

  @Field({ description: 'When the row was created.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'Whether the lease holds a slot now: not checked in and not expired.' })
  get live(): boolean {
    return this.checkedInAt === null && this.expiresAt.getTime() > Date.now();
  }
}
