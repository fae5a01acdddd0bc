import { Field, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The kinds of hub records an external reference can point at. Later domains add theirs
 * (e.g. 'ORDER'); the column is free text with a format check, so no migration is needed.
 */
export type ExternalRefEntityType = 'ACCOUNT' | 'CONTACT' | (string & {});

/**
 * An external reference: "record `externalId` of object `object` in system `system`
 * (e.g. salesforce / Account / 001xx..., netsuite / customer / 123) is this hub record".
 * `(system, object, externalId)` is unique across the whole hub, so a CRM account, an ERP
 * customer and the hub's account become one customer once linked. `system` is stored
 * lowercased; `object` and `externalId` keep their case (Salesforce ids are case-sensitive).
 */
@ObjectType({
  description:
    'A reference to this record in another system, e.g. `salesforce` / `Account` / `001...`. Unique across the hub: one external record is one hub record.',
})
@Entity('external_ref')
@Index('external_ref_key_uq', ['system', 'object', 'externalId'], { unique: true })
@Index('external_ref_entity_idx', ['entityType', 'entityId'])
export class ExternalRef {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Field({ description: 'The external system, lowercased, e.g. `salesforce`, `netsuite`.' })
  @Column('text')
  system: string;

  @Field({ description: 'The object (record type) in that system, e.g. `Account`, `customer`.' })
  @Column('text')
  object: string;

  @Field({ description: 'The record id in that system.' })
  @Column('text', { name: 'external_id' })
  externalId: string;

  /** What kind of hub record this points at (ACCOUNT, CONTACT, ...). Not exposed: the parent field says it. */
  @Column('text', { name: 'entity_type' })
  entityType: ExternalRefEntityType;

  @Column('uuid', { name: 'entity_id' })
  entityId: string;

  @Field({ description: 'When the reference was linked.' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;
}
