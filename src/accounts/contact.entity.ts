import { Field, ID, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

@ObjectType({ description: 'A named end user of an account, identified within it by email.' })
@Entity('contact')
@Index('contact_account_email_uq', ['accountId', 'email'], { unique: true })
export class Contact {
  @Field(() => ID, { description: 'The hub id of the contact.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field(() => String, { description: 'The id of the account the contact belongs to.' })
  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @Field({ description: 'Email address, lowercased; unique within the account.' })
  @Column('text')
  email: string;

  @Field(() => String, { nullable: true, description: 'Full name.' })
  @Column('text', { nullable: true })
  name: string | null;

  @Field(() => String, { nullable: true, description: 'Job title, e.g. "Head of Engineering" (Salesforce Contact.Title); usagePersonas can group usage by it.' })
  @Column('text', { nullable: true })
  title: string | null;

  @Field(() => String, { nullable: true, description: 'Department, e.g. "Engineering" (Salesforce Contact.Department); usagePersonas can group usage by it.' })
  @Column('text', { nullable: true })
  department: string | null;

  @Field({ description: 'When the contact was created in the hub.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'When the contact last changed.' })
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
