import { Field, ID, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

@ObjectType({ description: 'A named user\'s seat on a NAMED_USER entitlement.' })
@Entity('seat')
export class Seat {
  @Field(() => ID, { description: 'The seat id.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field(() => ID, { description: 'The entitlement the seat belongs to.' })
  @Column('uuid', { name: 'entitlement_id' })
  entitlementId: string;

  @Field(() => ID, { description: 'The account of the entitlement.' })
  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @Field({ description: 'The user\'s email, lowercased.' })
  @Column('text')
  email: string;

  @Field(() => ID, { nullable: true, description: 'The account\'s contact with that email, if there was one when the seat was assigned.' })
  @Column('uuid', { name: 'contact_id', nullable: true })
  contactId: string | null;

  @Field({ description: 'When the seat was assigned.' })
  @Column('timestamptz', { name: 'assigned_at' })
  assignedAt: Date;

  @Field(() => Date, { nullable: true, description: 'When the seat was released; null while assigned.' })
  @Column('timestamptz', { name: 'released_at', nullable: true })
  releasedAt: Date | null;

  @Field({ description: 'When the row was created.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'Whether the seat is assigned (not released).' })
  get active(): boolean {
    return this.releasedAt === null;
  }
}
