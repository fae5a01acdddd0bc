import { Account } from './account.entity';
import { Contact } from './contact.entity';
import { ExternalRef } from './external-ref.entity';

/** The accounts domain's TypeORM entities (registered in src/db/entities.ts). */
export const accountEntities: Function[] = [Account, Contact, ExternalRef];
