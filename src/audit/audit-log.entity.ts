import { Field, ID, ObjectType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

@ObjectType({ description: 'One change made through the hub: who, what, when, and the values before and after.' })
@Entity('audit_log')
export class AuditLog {
  @Field(() => ID, { description: 'Sequential id of the record.' })
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id: string;

  @Field({ description: 'When the change was committed.' })
  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  at: Date;

  @Field(() => String, { nullable: true, description: 'The API key that made the change (null for the CLI and jobs).' })
  @Column('uuid', { name: 'key_id', nullable: true })
  keyId: string | null;

  @Field({ description: 'The GraphQL mutation or CLI command, e.g. `upsertProduct` or `cli:keys create`.' })
  @Column('text')
  operation: string;

  @Field({ description: 'The kind of entity changed, e.g. `Product`.' })
  @Column('text')
  entity: string;

  @Field(() => String, { nullable: true, description: 'The id of the entity changed.' })
  @Column('text', { name: 'entity_id', nullable: true })
  entityId: string | null;

  @Field({ description: 'CREATE, UPDATE, DELETE, or another verb naming the change.' })
  @Column('text')
  action: string;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The entity before the change (null on create).' })
  @Column('jsonb', { nullable: true })
  before: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The entity after the change (null on delete).' })
  @Column('jsonb', { nullable: true })
  after: unknown;

  @Field({ description: 'The request id, as in the logs and the `x-request-id` response header.' })
  @Column('text', { name: 'request_id' })
  requestId: string;
}
