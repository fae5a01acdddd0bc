import { isUuid } from '../common/ids';
import { In, type EntityManager } from 'typeorm';
import type { RequestContext } from '../common/context';
import { badInput, conflict, notFound } from '../common/errors';
import { decodeCursor, encodeCursor, likePattern, paginate, type Connection } from '../common/pagination';
import type { Db } from '../db/db';
import { accountScope, assertAccountVisible } from '../auth/scope';
import { Account } from './account.entity';
import type { ContactListArgs, UpsertContactInput } from './account.types';
import { Contact } from './contact.entity';
import {
  assertRefsFreeFor,
  linkExternalRefs,
  lockExternalRefs,
  normalizeExternalRefs,
  resolveExternalRefs,
  unlinkAllExternalRefs,
} from './external-ref.service';



/** The account must exist and be visible to the key, else NOT_FOUND. */
async function assertAccountExists(ctx: RequestContext, manager: EntityManager, accountId: string): Promise<void> {
  if (!isUuid(accountId)) throw notFound('Account', accountId);
  assertAccountVisible(ctx, accountId);
  const found = await manager.exists(Account, { where: { id: accountId } });
  if (!found) throw notFound('Account', accountId);
}

const SEARCH_SQL = (alias: string, param: string) =>
  `(${alias}.email ILIKE ${param} OR ${alias}.name ILIKE ${param} OR EXISTS (
     SELECT 1 FROM external_ref r WHERE r.entity_type = 'CONTACT' AND r.entity_id = ${alias}.id AND r.external_id ILIKE ${param}))`;

interface ContactPageRow {
  page_account_id: string;
  total: string;
  id: string | null;
  account_id: string;
  email: string;
  name: string | null;
  created_at: Date;
  updated_at: Date;
}

/**
 * One page of contacts for each of many accounts, in ONE statement (the `Account.contacts`
 * DataLoader): a window function numbers each account's contacts after the cursor, and the
 * per-account totals come from the same statement.
 */
export async function contactPagesByAccount(
  manager: EntityManager,
  accountIds: readonly string[],
  args: ContactListArgs,
): Promise<Map<string, Connection<Contact>>> {
  const params: unknown[] = [[...new Set(accountIds)]];
  const search = args.search?.trim();
  let where = 'c.account_id = ANY($1::uuid[])';
  if (search) {
    params.push(likePattern(search));
    where += ` AND ${SEARCH_SQL('c', `$${params.length}`)}`;
  }
  let afterCursor = 'true';
  if (args.after) {
    const cursor = decodeCursor(args.after);
    if (!isUuid(cursor.id)) throw badInput('INVALID_CURSOR', 'The cursor is not one this API returned', [{ path: 'after', message: 'invalid cursor' }]);
    params.push(cursor.createdAt, cursor.id);
    afterCursor = `(m.created_at, m.id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`;
  }
  params.push(args.first + 1);
  const rows: ContactPageRow[] = await manager.query(
    `WITH matched AS (SELECT c.* FROM contact c WHERE ${where}),
          totals AS (SELECT account_id, count(*) AS total FROM matched GROUP BY account_id),
          page AS (
            SELECT m.*, row_number() OVER (PARTITION BY m.account_id ORDER BY m.created_at, m.id) AS rn
              FROM matched m WHERE ${afterCursor})
     SELECT t.account_id AS page_account_id, t.total, p.id, p.account_id, p.email, p.name, p.created_at, p.updated_at
       FROM totals t LEFT JOIN page p ON p.account_id = t.account_id AND p.rn <= $${params.length}
      ORDER BY t.account_id, p.created_at, p.id`,
    params,
  );
  const out = new Map<string, Connection<Contact>>();
  for (const id of accountIds) out.set(id, { edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 });
  for (const row of rows) {
    const page = out.get(row.page_account_id)!;
    page.totalCount = Number(row.total);
    if (!row.id) continue;
    if (page.edges.length === args.first) {
      page.pageInfo.hasNextPage = true;
      continue;
    }
    const node = Object.assign(new Contact(), {
      id: row.id,
      accountId: row.account_id,
      email: row.email,
      name: row.name,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    });
    const cursor = encodeCursor(node.createdAt, node.id);
    page.edges.push({ cursor, node });
    page.pageInfo.endCursor = cursor;
  }
  return out;
}

/** Contacts: the named end users of an account, unique by email within it. */
export class ContactService {
  constructor(private readonly db: Db) {}

  async list(ctx: RequestContext, accountId: string, args: ContactListArgs): Promise<Connection<Contact>> {
    await assertAccountExists(ctx, this.db.manager, accountId);
    const qb = this.db.manager.createQueryBuilder(Contact, 'c').where('c.accountId = :accountId', { accountId });
    const search = args.search?.trim();
    if (search) qb.andWhere(SEARCH_SQL('c', ':pattern'), { pattern: likePattern(search) });
    return paginate(qb, 'c', args);
  }

  /**
   * Creates or updates a contact (see UpsertContactInput for matching). References and the
   * (account, email) pair are locked for the transaction, so concurrent upserts of one
   * contact converge on one row; every conflict is raised before anything is written.
   */
  async upsert(ctx: RequestContext, input: UpsertContactInput): Promise<Contact> {
    const email = input.email.trim().toLowerCase();
    const name = input.name === undefined ? undefined : input.name?.trim() || null;
    const title = input.title === undefined ? undefined : input.title?.trim() || null;
    const department = input.department === undefined ? undefined : input.department?.trim() || null;
    const refs = normalizeExternalRefs(input.externalRefs);
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      await assertAccountExists(ctx, m, input.accountId);
      await lockExternalRefs(m, refs);
      await m.query(`SELECT pg_advisory_xact_lock(hashtext('ehub.contact'), hashtext($1))`, [`${input.accountId}/${email}`]);
      const linked = await resolveExternalRefs(m, refs);

      // References of contacts in other accounts do not match: they are conflicts below.
      const refIds = [...new Set(linked.filter((r) => r.entityType === 'CONTACT').map((r) => r.entityId))];
      const byRef = refIds.length
        ? (await m.find(Contact, { where: { id: In(refIds) } })).filter((c) => c.accountId === input.accountId)
        : [];
      if (byRef.length > 1) {
        throw conflict('EXTERNAL_REF_AMBIGUOUS', `The external references name different contacts: ${byRef.map((c) => c.email).join(', ')}`, {
          contactIds: byRef.map((c) => c.id),
        });
      }
      const byEmail = await m.findOne(Contact, { where: { accountId: input.accountId, email } });
      if (byRef[0] && byEmail && byEmail.id !== byRef[0].id) {
        throw conflict('CONTACT_EMAIL_TAKEN', `Another contact of this account already has the email ${email}`, { contactId: byEmail.id });
      }
      let contact = byRef[0] ?? byEmail;
      assertRefsFreeFor(ctx, 'CONTACT', contact?.id ?? null, refs, linked);

      if (!contact) {
        contact = await m.save(m.create(Contact, { accountId: input.accountId, email, name: name ?? null, title: title ?? null, department: department ?? null }));
        tx.audit({ entity: 'Contact', entityId: contact.id, action: 'CREATE', after: contact });
      } else if (
        contact.email !== email ||
        (name !== undefined && contact.name !== name) ||
        (title !== undefined && contact.title !== title) ||
        (department !== undefined && contact.department !== department)
      ) {
        const before = { ...contact };
        contact.email = email;
        if (name !== undefined) contact.name = name;
        if (title !== undefined) contact.title = title;
        if (department !== undefined) contact.department = department;
        contact = await m.save(contact);
        tx.audit({ entity: 'Contact', entityId: contact.id, action: 'UPDATE', before, after: contact });
      }
      await linkExternalRefs(ctx, tx, 'CONTACT', contact.id, refs);
      return contact;
    });
  }

  /** Deletes a contact and its external references; returns it as it was. */
  async remove(ctx: RequestContext, id: string): Promise<Contact> {
    if (!isUuid(id)) throw notFound('Contact', id);
    return this.db.tx(ctx, async (tx) => {
      const contact = await tx.manager.findOne(Contact, { where: { id }, lock: { mode: 'pessimistic_write' } });
      const scope = accountScope(ctx);
      if (!contact || (scope && contact.accountId !== scope)) throw notFound('Contact', id);
      await unlinkAllExternalRefs(tx, 'CONTACT', id);
      await tx.manager.delete(Contact, { id });
      tx.audit({ entity: 'Contact', entityId: id, action: 'DELETE', before: contact });
      return contact;
    });
  }
}
