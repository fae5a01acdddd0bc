import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

@ObjectType({ description: 'An order from the CRM, the ERP or a person, fulfilled into entitlements exactly once.' })
@Entity('sales_order')
export class Order {
  @Field(() => ID, { description: 'The order id.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field(() => ID, { description: 'The account the order is for.' })
  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @Field({ description: 'Where the order comes from, e.g. `salesforce`, `netsuite`, `manual`.' })
  @Column('text')
  source: string;

  @Field({ description: 'The order id in the source system.' })
  @Column('text', { name: 'external_id' })
  externalId: string;

  @Field(() => Int, { description: 'The latest revision applied.' })
  @Column('int')
  revision: number;

  @Field({ description: 'The order date (YYYY-MM-DD).' })
  @Column('date', { name: 'order_date' })
  orderDate: string;

  @Field({ description: 'ISO 4217 currency of the order.' })
  @Column('char', { length: 3 })
  currency: string;

  @Field({ description: 'When the order was first received.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field({ description: 'When a revision last changed the order.' })
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}

/** Each applied revision with the hash of its canonical input (idempotency). */
@Entity('order_revision')
export class OrderRevision {
  @Column('uuid', { name: 'order_id', primary: true })
  orderId: string;

  @Column('int', { primary: true })
  revision: number;

  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @Column('text', { name: 'request_hash' })
  requestHash: string;

  @Column('jsonb')
  input: unknown;

  @Column({ type: 'timestamptz', name: 'applied_at', precision: 3, default: () => 'now()' })
  appliedAt: Date;

  @Column('uuid', { name: 'key_id', nullable: true })
  keyId: string | null;

  @Column('text', { name: 'request_id', nullable: true })
  requestId: string | null;
}
