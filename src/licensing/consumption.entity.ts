import { Column, CreateDateColumn, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The drawn-down balance of one metered feature of an entitlement in one reset period.
 * Written only by conditional UPDATEs (see ConsumptionService); not exposed as such —
 * `Entitlement.balances` shows the current period of every feature.
 */
@Entity('consumption_balance')
export class ConsumptionBalance {
  @PrimaryColumn('uuid', { name: 'entitlement_id' })
  entitlementId: string;

  @PrimaryColumn('uuid', { name: 'feature_id' })
  featureId: string;

  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @PrimaryColumn('timestamptz', { name: 'period_start' })
  periodStart: Date;

  @Column('timestamptz', { name: 'period_end', nullable: true })
  periodEnd: Date | null;

  /** The period's limit when the balance was last drawn; null = unlimited. */
  @Column('numeric', { nullable: true })
  entitled: string | null;

  @Column('numeric')
  used: string;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;
}

/** One consume() request, stored under its idempotency key with the answer it got. */
@Entity('consumption')
export class Consumption {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @Column('text', { name: 'idempotency_key' })
  idempotencyKey: string;

  @Column('text', { name: 'request_hash' })
  requestHash: string;

  @Column('uuid', { name: 'entitlement_id', nullable: true })
  entitlementId: string | null;

  @Column('text', { name: 'feature_key' })
  featureKey: string;

  @Column('numeric')
  quantity: string;

  @Column('boolean')
  allowed: boolean;

  /** The part of `quantity` beyond the period's limit (ALLOW / ALLOW_AND_NOTIFY, soft caps). */
  @Column('numeric')
  overage: string;

  @Column('jsonb')
  result: unknown;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;
}
