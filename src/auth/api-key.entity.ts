import { Field, ID, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { Role } from './role';

@ObjectType({ description: 'An API key. The secret is shown once, at creation; the hub keeps only its SHA-256 hash.' })
@Entity('api_key')
export class ApiKey {
  @Field(() => ID, { description: 'The key id.' })
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field({ description: 'A label for people: who or what uses the key.' })
  @Column('text')
  name: string;

  @Field({ description: 'The 8-character public prefix (`ehub_<prefix>_...`), safe to log and show.' })
  @Column('text', { unique: true })
  prefix: string;

  /** SHA-256 of the secret part; never exposed. */
  @Column('bytea', { name: 'secret_hash', select: false })
  secretHash: Buffer;

  @Field(() => Role, { description: 'What the key may do.' })
  @Column('text')
  role: Role;

  @Field(() => String, { nullable: true, description: 'When set, the key sees only this account.' })
  @Column('uuid', { name: 'account_id', nullable: true })
  accountId: string | null;

  @Field(() => String, { nullable: true, description: 'The key that created this one (null for bootstrap and CLI).' })
  @Column('uuid', { name: 'created_by_key_id', nullable: true })
  createdByKeyId: string | null;

  @Field({ description: 'When the key was created.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: 'When the key was revoked; revoked keys are refused.' })
  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: 'When the key stops working (then refused with UNAUTHENTICATED / AUTH_KEY_EXPIRED); null: never.',
  })
  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: 'When the key was last used (recorded in batches, so up to a minute behind).',
  })
  @Column('timestamptz', { name: 'last_used_at', nullable: true })
  lastUsedAt: Date | null;
}
