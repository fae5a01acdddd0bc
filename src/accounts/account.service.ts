import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../common/context';
import { conflict, notFound } from '../common/errors';
import { likePattern, paginate, type Connection } from '../common/pagination';
import type { Db } from '../db/db';
import { accountScope, assertAccountVisible, assertUnscoped } from '../auth/scope';
import { Account, AccountStatus } from './account.entity';
import type { AccountListArgs, UpsertAccountInput } from './account.types';
import { ContactService } from './contact.service';
import { isUuid } from '../common/ids';
import {
  assertRefsFreeFor,
  formatExternalRef,
  linkExternalRefs,
  lockExternalRefs,
  normalizeExternalRefs,
  resolveExternalRef,
  resolveExternalRefs,
  type ExternalRefKey,
} from './external-ref.service';

/** The account, locked for update in the current transaction, or NOT_FOUND (also when out of the key's scope). */
export async function getAccountForUpdate(ctx: RequestContext, manager: EntityManager, id: string): Promise<Account> {
  if (!isUuid(id)) throw notFound('Account', id);
  assertAccountVisible(ctx, id);
  const account = await manager.findOne(Account, { where: { id }, lock: { mode: 'pessimistic_write' } });
  if (!account) throw notFound('Account', id);
  return account;
}

type AccountFields = Pick<Account, 'name'> & Partial<Pick<Account, 'domain' | 'currency' | 'country' | 'segment'>>;

/** Input → column values: trimmed, domain lowercased, codes uppercased; `undefined` = keep. */
function accountFields(input: UpsertAccountInput): AccountFields {
  const given = <T>(v: T | null | undefined, f: (x: T) => T) => (v === undefined ? undefined : v === null ? null : f(v));
  return {
    name: input.name.trim(),
    domain: given(input.domain, (d) => d.trim().toLowerCase()),
    currency: input.currency == null ? undefined : input.currency.trim().toUpperCase(),
    country: given(input.country, (c) => c.trim().toUpperCase()),
    segment: given(input.segment, (s) => s.trim()),
  };
}

/** Accounts (customers): upsert from the CRM/ERP or by hand, lookup by id or external reference, lists. */
export class AccountService {
  /** Contacts belong to accounts; their service shares this one's rules. */
  readonly contacts: ContactService;

  constructor(readonly db: Db) {
    this.contacts = new ContactService(db);
  }

  async get(ctx: RequestContext, id: string): Promise<Account> {
    if (!isUuid(id)) throw notFound('Account', id);
    assertAccountVisible(ctx, id);
    const account = await this.db.manager.findOne(Account, { where: { id } });
    if (!account) throw notFound('Account', id);
    return account;
  }

  /** The account an external reference names; NOT_FOUND when none (or another account for a scoped key). */
  async byExternalRef(ctx: RequestContext, ref: ExternalRefKey): Promise<Account> {
    const [key] = normalizeExternalRefs([ref]);
    const row = await resolveExternalRef(this.db.manager, key!.system, key!.object, key!.externalId);
    const scope = accountScope(ctx);
    // Same answer for "no such reference" and "another account's", so a scoped key learns nothing.
    if (!row || row.entityType !== 'ACCOUNT' || (scope && scope !== row.entityId)) throw notFound('Account', formatExternalRef(key!));
    const account = await this.db.manager.findOne(Account, { where: { id: row.entityId } });
    if (!account) throw notFound('Account', formatExternalRef(key!));
    return account;
  }

  async list(ctx: RequestContext, args: AccountListArgs): Promise<Connection<Account>> {
    const qb = this.db.manager.createQueryBuilder(Account, 'a');
    const scope = accountScope(ctx);
    if (scope) qb.andWhere('a.id = :scope', { scope });
    if (args.status) qb.andWhere('a.status = :status', { status: args.status });
    const search = args.search?.trim();
    if (search) {
      qb.andWhere(
        `(a.name ILIKE :pattern OR a.domain ILIKE :pattern OR EXISTS (
           SELECT 1 FROM external_ref r WHERE r.entity_type = 'ACCOUNT' AND r.entity_id = a.id AND r.external_id ILIKE :pattern))`,
        { pattern: likePattern(search) },
      );
    }
    return paginate(qb, 'a', args);
  }

  /**
   * Creates or updates an account (see UpsertAccountInput for the matching rules). Runs in
   * one transaction holding advisory locks on the given references, so concurrent upserts
   * carrying the same new reference create one account; every conflict is raised before
   * anything is written, and an upsert that changes nothing writes nothing.
   */
  async upsert(ctx: RequestContext, input: UpsertAccountInput): Promise<Account> {
    const fields = accountFields(input);
    const refs = normalizeExternalRefs(input.externalRefs);
    if (input.id) {
      if (!isUuid(input.id)) throw notFound('Account', input.id);
      assertAccountVisible(ctx, input.id);
    }
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      await lockExternalRefs(m, refs);
      const linked = await resolveExternalRefs(m, refs);

      let account: Account | null = null;
      if (input.id) {
        account = await getAccountForUpdate(ctx, m, input.id);
      } else {
        // A scoped key cannot see (so cannot match) another account's references.
        const scope = accountScope(ctx);
        const matched = linked.filter((r) => r.entityType === 'ACCOUNT' && (!scope || r.entityId === scope));
        const ids = [...new Set(matched.map((r) => r.entityId))];
        if (ids.length > 1) {
          throw conflict(
            'EXTERNAL_REF_AMBIGUOUS',
            `The external references name different accounts: ${matched.map((r) => `${formatExternalRef(r)} → ${r.entityId}`).join(', ')}; send references of one account`,
            { accountIds: ids },
          );
        }
        if (ids.length === 1) account = await getAccountForUpdate(ctx, m, ids[0]!);
      }
      if (!account) assertUnscoped(ctx, 'create accounts');
      assertRefsFreeFor(ctx, 'ACCOUNT', account?.id ?? null, refs, linked);

      if (!account) {
        account = await m.save(m.create(Account, { ...fields, status: AccountStatus.ACTIVE }));
        tx.audit({ entity: 'Account', entityId: account.id, action: 'CREATE', after: account });
      } else {
        const before = { ...account };
        const changes = Object.entries(fields).filter(
          ([k, v]) => v !== undefined && account![k as keyof AccountFields] !== v,
        );
        if (changes.length > 0) {
          Object.assign(account, Object.fromEntries(changes));
          account = await m.save(account);
          tx.audit({ entity: 'Account', entityId: account.id, action: 'UPDATE', before, after: account });
        }
      }
      await linkExternalRefs(ctx, tx, 'ACCOUNT', account.id, refs);
      return account;
    });
  }

  /** ARCHIVED or ACTIVE again; setting the status it already has changes nothing. */
  async setStatus(ctx: RequestContext, id: string, status: AccountStatus): Promise<Account> {
    return this.db.tx(ctx, async (tx) => {
      const account = await getAccountForUpdate(ctx, tx.manager, id);
      if (account.status === status) return account;
      const before = { ...account };
      account.status = status;
      const saved = await tx.manager.save(account);
      tx.audit({ entity: 'Account', entityId: id, action: status === AccountStatus.ARCHIVED ? 'ARCHIVE' : 'RESTORE', before, after: saved });
      return saved;
    });
  }
}
