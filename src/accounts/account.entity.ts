import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export enum AccountStatus {
  ACTIVE = 'ACTIVE',
  ARCHIVED = 'ARCHIVED',
}

registerEnumType(AccountStatus, {
  name: 'AccountStatus',
  description: 'Whether the customer is current.',
  valuesConfig: {
    ACTIVE: { description: 'A current customer.' },
    ARCHIVED: { description: 'No longer current; kept with its history and references. `restoreAccount` makes it ACTIVE again.' },
  },
});

@ObjectType({
  description:
    'A customer. CRM accounts, ERP customers and the hub account are one customer once linked through `externalRefs`.',
})
@Entity('account')
export class Account {
  @Field(() => ID, { description: 'The hub id of the account.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field({ description: 'The customer name.' })
  @Column('text')
  name: string;

  @Field(() => String, { nullable: true, description: 'The customer web domain, lowercased, e.g. `acme.com`.' })
  @Column('text', { nullable: true })
  domain: string | null;

  @Field({ description: 'The billing currency (ISO 4217), e.g. USD.' })
  @Column('char', { length: 3, default: 'USD' })
  currency: string;

  @Field(() => String, { nullable: true, description: 'The country (ISO 3166-1 alpha-2), e.g. DE.' })
  @Column('char', { length: 2, nullable: true })
  country: string | null;

  @Field(() => String, { nullable: true, description: 'A market segment, free text such as ENTERPRISE, MID_MARKET or SMB.' })
  @Column('text', { nullable: true })
  segment: string | null;

  @Field(() => AccountStatus, { description: 'ACTIVE or ARCHIVED.' })
  @Column('text', { default: AccountStatus.ACTIVE })
  status: AccountStatus;

  @Field(() => String, {
    nullable: true,
    description: 'When this account was merged into another (`mergeAccounts`, ADR 0028): the surviving account id. Null for a live account.',
  })
  @Column('uuid', { name: 'merged_into', nullable: true })
  mergedInto: string | null;

  @Field({ description: 'When the account was created in the hub.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'When the account last changed.' })
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
