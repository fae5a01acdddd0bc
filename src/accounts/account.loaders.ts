import DataLoader from 'dataloader';
import { In } from 'typeorm';
import type { Connection } from '../common/pagination';
import type { Db } from '../db/db';
import { Account } from './account.entity';
import type { ContactListArgs } from './account.types';
import { Contact } from './contact.entity';
import { contactPagesByAccount } from './contact.service';
import type { ExternalRef, ExternalRefEntityType } from './external-ref.entity';
import { externalRefsOf } from './external-ref.service';
import { groupBy } from '../common/collections';

/** A record that can carry external references. */
export interface EntityKey {
  entityType: ExternalRefEntityType;
  entityId: string;
}

/** One account's page of contacts, with the page arguments (the same for every parent in a list). */
export interface ContactPageKey {
  accountId: string;
  args: ContactListArgs;
}

export interface AccountLoaders {
  /** Accounts by id (null when missing). */
  account: DataLoader<string, Account | null>;
  /** External references of any kind of record; one query per entity type per batch. */
  externalRefs: DataLoader<EntityKey, ExternalRef[], string>;
  /** `Account.contacts`: one statement per batch of accounts sharing the same page arguments. */
  contactPages: DataLoader<ContactPageKey, Connection<Contact>, string>;
}

const argsKey = (a: ContactListArgs) => JSON.stringify([a.first, a.after ?? null, a.search ?? null]);

export function createAccountLoaders(db: Db): AccountLoaders {
  return {
    account: new DataLoader(async (ids) => {
      const rows = await db.manager.find(Account, { where: { id: In([...ids]) } });
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),

    externalRefs: new DataLoader(
      async (keys) => {
        const types = [...new Set(keys.map((k) => k.entityType))];
        const results = await Promise.all(
          types.map(async (t) => [t, await externalRefsOf(db.manager, t, keys.filter((k) => k.entityType === t).map((k) => k.entityId))] as const),
        );
        const byType = new Map(results);
        return keys.map((k) => byType.get(k.entityType)?.get(k.entityId) ?? []);
      },
      { cacheKeyFn: (k) => `${k.entityType}:${k.entityId}` },
    ),

    contactPages: new DataLoader(
      async (keys) => {
        const groups = groupBy(keys, (k) => argsKey(k.args));
        const pages = new Map<string, Connection<Contact>>();
        await Promise.all(
          [...groups.entries()].map(async ([group, members]) => {
            const result = await contactPagesByAccount(db.manager, members.map((m) => m.accountId), members[0]!.args);
            for (const [accountId, page] of result) pages.set(`${group}:${accountId}`, page);
          }),
        );
        return keys.map((k) => pages.get(`${argsKey(k.args)}:${k.accountId}`)!);
      },
      { cacheKeyFn: (k) => `${argsKey(k.args)}:${k.accountId}` },
    ),
  };
}
