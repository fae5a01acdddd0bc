import { In } from 'typeorm';
import type { Connector, ExternalAccount, ExternalContact, ExternalOrder, ExternalReceivable, ExternalUsage, PullObject } from '../../connectors/types';
import type { AccountService } from '../accounts/account.service';
import { AppError } from '../common/errors';
import type { RequestContext } from '../common/context';
import type { Db } from '../db/db';
import type { OrderService } from '../orders/order.service';
import type { UsageService } from '../usage/usage.service';
import { isRejection, parseUsageEvent, type ParsedUsageEvent } from '../usage/usage.rules';
import { OrderLineAction } from '../entitlements/entitlement.enums';
import type { OrderInput } from '../orders/order.types';
import type { SyncConnection, SyncTrigger } from './sync.entities';
import { SyncRecord, SyncRunKind, type SyncRun } from './sync.entities';
import { RunRecorder } from './sync-runs';
import { contentHash } from '../common/stable-json';
import { domainOf, planOrder } from './sync.rules';
import type { ComplianceService } from '../compliance/compliance.service';
import type { ReceivableService, ReceivableWrite } from '../receivables/receivable.service';
import { DealSources, planReceivable } from './sync-erp';

/** Failures of a deal retried on later pulls without the deal changing in the source. */
const RETRIED_WHEN_CATALOG_CHANGES = ['UNKNOWN_SKU'];
const RETRIED_ALWAYS = ['NO_ACCOUNT_LINK', 'INTERNAL'];
/** Usage events per ingest batch at most (one transaction and one set-based statement each; POST /v1/usage takes up to 10,000). */
const USAGE_BATCH = 5000;

export interface PullProgress {
  object: PullObject;
  read: number;
}

export interface PullOptions {
  trigger: SyncTrigger;
  full: boolean;
  signal?: AbortSignal;
  onProgress?: (p: PullProgress) => void;
  /** Called with the run's id as soon as it is recorded (an upload answers with it). */
  onRunStarted?: (runId: string) => void;
}

type Outcome = 'created' | 'updated' | 'unchanged' | 'deleted';

interface LinkedAccount {
  external_id: string;
  id: string;
  name: string;
  domain: string | null;
}

/** Read once per page (see `prefetch`). */
interface PageLookups {
  /** Hub accounts by the source's account id. */
  accounts: Map<string, LinkedAccount>;
  /** Stored deal states by the source's deal id. */
  states: Map<string, SyncRecord>;
  /** Skus of the page's lines that the catalog has. */
  skus: Set<string>;
}

/**
 * Pulls one object of one connection and applies the records through the hub's own
 * services (account upsert, contact upsert, order submission), so a pulled record obeys
 * every rule a GraphQL client does. Idempotent: records are matched by their external
 * references and deals by a content hash, so a pull repeated from any older cursor changes
 * nothing. The cursor is stored after each page, so an interrupted pull resumes there.
 */
export class SyncPuller {
  private readonly dealSources: DealSources;
  private readonly receivables: ReceivableService;

  constructor(
    private readonly db: Db,
    private readonly accounts: AccountService,
    private readonly orders: OrderService,
    /** Usage pulls go through the hub's usage ingest (set-based, exactly once). */
    private readonly usage: UsageService,
    /** Deals applied at a time within a page (EHUB_SYNC_PULL_CONCURRENCY). */
    private readonly concurrency = 4,
    erp: { receivables: ReceivableService; compliance: ComplianceService },
  ) {
    this.dealSources = new DealSources(db, erp.compliance);
    this.receivables = erp.receivables;
  }

  async pull(ctx: RequestContext, conn: SyncConnection, connector: Connector, object: PullObject, opts: PullOptions): Promise<SyncRun> {
    const stored = opts.full ? null : await this.cursor(conn.id, object);
    const run = await RunRecorder.start(this.db, { connectionId: conn.id, kind: SyncRunKind.PULL, object, trigger: opts.trigger, cursorFrom: stored }, connector);
    opts.onRunStarted?.(run.id);
    const log = ctx.log.child({ connection: conn.name, object, runId: run.id });
    run.cursorTo = stored;
    try {
      if (object === 'orders' || object === 'receivables') await this.retryFailed(ctx, conn, object, run);
      // The next page is read (parsed, fetched) while this one is applied.
      for await (const page of readAhead(connector.pull({ log, signal: opts.signal }, { object, cursor: stored }))) {
        if (object === 'usage') {
          // Usage goes through the usage ingest, set-based: batches of the page, not record by record.
          await this.applyUsage(ctx, conn, page.records as ExternalUsage[], run);
        } else if (object === 'receivables') {
          // Documents are plain rows of their own (no order rules): a page in two statements.
          const records = page.records as ExternalReceivable[];
          await this.applyReceivables(conn, records, run, await this.prefetch(conn, object, records));
        } else {
          // Deals are independent orders (a page holds each deal once): several are fulfilled
          // at a time, which is where an initial load spends its time. Accounts and contacts
          // are cheap and go one by one.
          const known = await this.prefetch(conn, object, page.records as unknown[]);
          await eachConcurrently(page.records as unknown[], object === 'orders' ? this.concurrency : 1, async (record) => {
            run.counts.read++;
            const outcome = await this.applyOne(ctx, conn, object, record, run, known);
            if (outcome) run.counts[outcome]++;
          });
        }
        // Source records the connector refused while reading (a malformed file row).
        for (const p of page.problems ?? []) run.error(p.record, p.code, p.message, true, { row: p.row, column: p.column });
        if (page.cursor !== null) {
          await this.saveCursor(conn.id, object, page.cursor);
          run.cursorTo = page.cursor;
        }
        await run.progress();
        opts.onProgress?.({ object, read: run.counts.read });
        if (opts.signal?.aborted) break;
      }
      const done = await run.finish();
      log.info({ ...run.counts }, 'sync pull done');
      return done;
    } catch (err) {
      log.warn({ err }, 'sync pull failed');
      return run.finish(err);
    }
  }

  /**
   * What a page's records need from the database, read once per page instead of once per
   * record: the hub accounts their account ids link to, the stored state of its deals, and
   * which of their skus the catalog has.
   */
  private async prefetch(conn: SyncConnection, object: PullObject, records: unknown[]): Promise<PageLookups> {
    const known: PageLookups = { accounts: new Map(), states: new Map(), skus: new Set() };
    if (object === 'contacts') return known;
    const deals = object === 'orders' ? (records as ExternalOrder[]) : [];
    const accountIds =
      object === 'accounts'
        ? (records as ExternalAccount[]).map((a) => a.externalId)
        : (records as (ExternalOrder | ExternalReceivable)[]).flatMap((d) => (d.accountExternalId ? [d.accountExternalId] : []));
    const rows: LinkedAccount[] = accountIds.length
      ? await this.db.manager.query(
          `SELECT r.external_id, acc.id, acc.name, acc.domain FROM external_ref r JOIN account acc ON acc.id = r.entity_id
            WHERE r.system = $1 AND r.object = 'Account' AND r.entity_type = 'ACCOUNT' AND r.external_id = ANY($2)`,
          [conn.refSystem, [...new Set(accountIds)]],
        )
      : [];
    for (const r of rows) known.accounts.set(r.external_id, r);
    if (object === 'receivables' && records.length) {
      // Documents waiting for their account: cleared once applied.
      const ids = (records as ExternalReceivable[]).map((r) => r.externalId);
      for (const s of await this.db.manager.find(SyncRecord, { where: { connectionId: conn.id, object: 'receivables', externalId: In(ids) } })) known.states.set(s.externalId, s);
    }
    if (deals.length) {
      const states = await this.db.manager.find(SyncRecord, { where: { connectionId: conn.id, object: 'orders', externalId: In(deals.map((d) => d.externalId)) } });
      for (const s of states) known.states.set(s.externalId, s);
      const skus = [...new Set(deals.flatMap((d) => d.lines.flatMap((l) => (l.sku ? [l.sku] : []))))];
      const found: { sku: string }[] = skus.length ? await this.db.manager.query('SELECT sku FROM product WHERE sku = ANY($1)', [skus]) : [];
      for (const f of found) known.skus.add(f.sku);
    }
    return known;
  }

  private async applyOne(ctx: RequestContext, conn: SyncConnection, object: PullObject, record: unknown, run: RunRecorder, known: PageLookups): Promise<Outcome | null> {
    try {
      if (object === 'accounts') return await this.applyAccount(ctx, conn, record as ExternalAccount, known);
      if (object === 'contacts') return await this.applyContact(ctx, conn, record as ExternalContact);
      return await this.applyDeal(ctx, conn, record as ExternalOrder, run, known);
    } catch (err) {
      const id = (record as { externalId?: string }).externalId ?? null;
      if (err instanceof AppError) {
        run.error(id, err.subCode, err.message);
        return null;
      }
      throw err;
    }
  }

  // ── accounts and contacts ──

  private async applyAccount(ctx: RequestContext, conn: SyncConnection, a: ExternalAccount, known: PageLookups): Promise<Outcome> {
    const outcome = await this.applyAccountRecord(ctx, conn, a, known);
    // The ERP's subsidiary (legal entity) of the customer, kept on its reference: journal
    // entries are grouped by it (ADR 0027). Written only when the source names one.
    if (a.subsidiary !== undefined && !a.deleted && (await this.saveSubsidiary(conn, a)) && outcome === 'unchanged') return 'updated';
    return outcome;
  }

  /** Stores the account's subsidiary on its reference when it differs; true when it changed. */
  private async saveSubsidiary(conn: SyncConnection, a: ExternalAccount): Promise<boolean> {
    // UPDATE answers [rows, count] through TypeORM.
    const [rows] = await this.db.manager.query(
      `UPDATE external_ref SET subsidiary = $3
        WHERE system = $1 AND object = 'Account' AND external_id = $2 AND entity_type = 'ACCOUNT' AND subsidiary IS DISTINCT FROM $3
        RETURNING id`,
      [conn.refSystem, a.externalId, a.subsidiary?.trim() || null],
    );
    return (rows as unknown[]).length > 0;
  }

  private async applyAccountRecord(ctx: RequestContext, conn: SyncConnection, a: ExternalAccount, known: PageLookups): Promise<Outcome> {
    const ref = { system: conn.refSystem, object: 'Account', externalId: a.externalId };
    const linked = known.accounts.get(a.externalId);
    // A customer deleted in the CRM keeps its hub account: it may hold entitlements and usage.
    if (a.deleted) return linked ? 'deleted' : 'unchanged';
    // The same customer's ids in other systems (an ERP customer holding its CRM Account Id).
    const viaLinks = await this.accountsLinkedBy(conn, a);
    if (viaLinks.length > 1) {
      throw new AppError('CONFLICT', 'ACCOUNT_LINK_AMBIGUOUS', `Account ${a.externalId}: its links name ${viaLinks.length} different hub accounts (${viaLinks.map((v) => `${v.ref} → ${v.id}`).join(', ')}); nothing changed`);
    }
    const target = viaLinks[0];
    if (target && linked && target.id !== linked.id) {
      throw new AppError('CONFLICT', 'ACCOUNT_LINK_CONFLICT', `Account ${a.externalId} is linked to hub account ${linked.id} but its link ${target.ref} names hub account ${target.id}; nothing changed`);
    }
    if (target) {
      // The linked system's record owns the name and domain: the link is added, nothing else changes.
      if (linked) return 'unchanged';
      await this.accounts.upsert(ctx, { id: target.id, name: target.name, externalRefs: [ref] });
      return 'updated';
    }
    const domain = domainOf(a.domain);
    if (linked && linked.name === a.name.trim() && (linked.domain === domain || domain === null)) return 'unchanged';
    await this.accounts.upsert(ctx, {
      name: a.name.trim() || a.externalId,
      ...(domain ? { domain } : {}),
      ...(!linked && a.currency ? { currency: a.currency.toUpperCase() } : {}),
      externalRefs: [ref],
    });
    // Newly linked accounts are marked for the push by the link itself (linkExternalRefs).
    return linked ? 'updated' : 'created';
  }

  private async applyContact(ctx: RequestContext, conn: SyncConnection, c: ExternalContact): Promise<Outcome> {
    const ref = { system: conn.refSystem, object: 'Contact', externalId: c.externalId };
    const [linked] = await this.db.manager.query(
      `SELECT ct.id, ct.account_id, ct.email, ct.name, ct.title, ct.department FROM external_ref r JOIN contact ct ON ct.id = r.entity_id
        WHERE r.system = $1 AND r.object = $2 AND r.external_id = $3 AND r.entity_type = 'CONTACT'`,
      [ref.system, ref.object, ref.externalId],
    );
    if (c.deleted) {
      if (!linked) return 'unchanged';
      await this.accounts.contacts.remove(ctx, linked.id);
      return 'deleted';
    }
    const email = c.email?.trim().toLowerCase() || null;
    if (!email) throw new AppError('BAD_USER_INPUT', 'CONTACT_WITHOUT_EMAIL', `Contact ${c.externalId} has no email address; the hub keys contacts by email`);
    if (!c.accountExternalId) throw new AppError('BAD_USER_INPUT', 'CONTACT_WITHOUT_ACCOUNT', `Contact ${c.externalId} belongs to no account`);
    const accountId = await this.accountIdOf(conn, c.accountExternalId);
    if (!accountId) throw new AppError('NOT_FOUND', 'NO_ACCOUNT_LINK', `Contact ${c.externalId}: account ${c.accountExternalId} is not linked to a hub account (pull accounts first)`);
    const name = c.name.trim() || null;
    // A source without titles or departments (undefined) leaves the hub's as they are.
    const title = c.title === undefined ? undefined : c.title?.trim() || null;
    const department = c.department === undefined ? undefined : c.department?.trim() || null;
    if (
      linked &&
      linked.account_id === accountId &&
      linked.email === email &&
      linked.name === name &&
      (title === undefined || linked.title === title) &&
      (department === undefined || linked.department === department)
    ) {
      return 'unchanged';
    }
    await this.accounts.contacts.upsert(ctx, { accountId, email, name, title, department, externalRefs: [ref] });
    return linked ? 'updated' : 'created';
  }

  /** The distinct hub accounts an account's `links` name (by external reference), with the first reference naming each. */
  private async accountsLinkedBy(conn: SyncConnection, a: ExternalAccount): Promise<{ id: string; name: string; ref: string }[]> {
    const links = (a.links ?? []).filter((l) => l && l.system && l.externalId && l.system.toLowerCase() !== conn.refSystem);
    if (!links.length) return [];
    return this.db.manager.query(
      `SELECT DISTINCT ON (acc.id) acc.id, acc.name, r.system || ':' || r.object || ':' || r.external_id AS ref
         FROM jsonb_to_recordset($1::jsonb) AS l(system text, object text, external_id text)
         JOIN external_ref r ON r.system = l.system AND r.object = l.object AND r.external_id = l.external_id AND r.entity_type = 'ACCOUNT'
         JOIN account acc ON acc.id = r.entity_id
        ORDER BY acc.id`,
      [JSON.stringify(links.map((l) => ({ system: l.system.toLowerCase(), object: l.object || 'Account', external_id: l.externalId })))],
    );
  }

  private async accountIdOf(conn: SyncConnection, accountExternalId: string): Promise<string | null> {
    const [row] = await this.db.manager.query(
      `SELECT entity_id FROM external_ref WHERE system = $1 AND object = 'Account' AND external_id = $2 AND entity_type = 'ACCOUNT'`,
      [conn.refSystem, accountExternalId],
    );
    return row?.entity_id ?? null;
  }

  // ── usage ──

  /**
   * One page of usage observations through the hub's usage ingest (`UsageService.ingest`, the
   * same path as `POST /v1/usage`): one transaction and one set-based statement per batch,
   * attributed to entitlements and rolled up there; a page goes in batches of 1,000, up to
   * EHUB_SYNC_PULL_CONCURRENCY at a time. Each record's account is resolved by the
   * connection's external references, read once for the page (an unlinked customer is the
   * record's `NO_ACCOUNT_LINK`). A record's id is the ingest's idempotency key under a source
   * of the connection's own (`sync:<connection id>`), so the same rows again record nothing,
   * and two connections never collide.
   */
  private async applyUsage(ctx: RequestContext, conn: SyncConnection, records: ExternalUsage[], run: RunRecorder): Promise<void> {
    run.counts.read += records.length;
    if (records.length === 0) return;
    const accountIds = [...new Set(records.flatMap((r) => (r.accountExternalId ? [r.accountExternalId] : [])))];
    const linked: { external_id: string; id: string }[] = accountIds.length
      ? await this.db.manager.query(
          `SELECT external_id, entity_id AS id FROM external_ref WHERE system = $1 AND object = 'Account' AND entity_type = 'ACCOUNT' AND external_id = ANY($2)`,
          [conn.refSystem, accountIds],
        )
      : [];
    const accountOf = new Map(linked.map((r) => [r.external_id, r.id]));
    const skus = [...new Set(records.flatMap((r) => (r.sku ? [r.sku] : [])))];
    const found: { sku: string }[] = skus.length ? await this.db.manager.query('SELECT sku FROM product WHERE sku = ANY($1)', [skus]) : [];
    const knownSkus = new Set(found.map((f) => f.sku));

    const source = usageSource(conn);
    const limits = this.usage.parseLimits();
    const events: ParsedUsageEvent[] = [];
    for (const r of records) {
      const accountId = r.accountExternalId ? accountOf.get(r.accountExternalId) : undefined;
      if (!accountId) {
        run.error(r.externalId, 'NO_ACCOUNT_LINK', `usage ${r.externalId}: customer ${r.accountExternalId ?? '(none)'} is not linked to a hub account (import the customer first, then reset the usage cursor to read the file again)`);
        continue;
      }
      if (r.sku && !knownSkus.has(r.sku)) {
        run.error(r.externalId, 'UNKNOWN_SKU', `usage ${r.externalId}: sku "${r.sku}" is not in the catalog`);
        continue;
      }
      const raw = {
        id: r.externalId,
        source,
        accountId,
        meter: r.metric,
        quantity: r.quantity,
        occurredAt: r.occurredAt,
        deployment: r.deployment ?? 'CLOUD',
        user: r.userId ?? null,
        device: r.deviceId ?? null,
        properties: r.sku ? { sku: r.sku } : null,
      };
      const parsed = parseUsageEvent(raw, events.length, limits);
      if (isRejection(parsed)) {
        run.error(r.externalId, parsed.code, `usage ${r.externalId}: ${parsed.message}`);
        continue;
      }
      events.push(parsed);
    }
    // The page goes to the ingest in lanes, EHUB_SYNC_PULL_CONCURRENCY at a time, each lane
    // holding whole accounts: concurrent batches then touch disjoint rollup rows (an account's
    // hourly and daily buckets) and never wait on each other's row locks, as batches cut by
    // file position would (a time-ordered file puts every account in every batch). A lane
    // sends its events in batches of up to USAGE_BATCH, one after the other. The page is
    // done, and its cursor stored, only when every batch has committed.
    await eachConcurrently(usageLanes(events, this.concurrency, USAGE_BATCH), this.concurrency, async (lane) => {
      for (const batch of lane) {
        const answer = await this.usage.ingest(ctx, batch);
        run.counts.created += answer.accepted;
        run.counts.unchanged += answer.duplicates;
        for (const x of answer.rejected) {
          const id = x.id ?? events[x.index]?.id ?? null;
          run.error(id, x.code, `usage ${id}: ${x.message}`);
        }
      }
    });
  }

  // ── deals ──

  /**
   * A won deal becomes an order (revision 1), a changed one the next revision (the hub
   * applies the difference to the same entitlements), an unchanged one nothing. A deal
   * deleted or reopened after it was fulfilled is withdrawn: a revision with no lines, which
   * cancels what it granted. A deal that cannot be fulfilled is kept FAILED with its reason
   * and retried (unknown skus after the catalog changes).
   */
  private async applyDeal(ctx: RequestContext, conn: SyncConnection, deal: ExternalOrder, run: RunRecorder, known: PageLookups): Promise<Outcome | null> {
    const state = known.states.get(deal.externalId) ?? null;
    const modifiedAt = new Date(deal.modifiedAt);
    // An older copy than the one applied (a pull from an old cursor sees current data, but a source may replay).
    if (state && state.modifiedAt.getTime() > modifiedAt.getTime()) return 'unchanged';

    if (deal.deleted || !deal.won) {
      if (state?.status === 'APPLIED' && state.hubId) {
        await this.withdraw(ctx, conn, deal, state, modifiedAt);
        return 'deleted';
      }
      if (state && state.status === 'FAILED') await this.saveState(conn, deal.externalId, { ...stateOf(state), status: 'IGNORED', modifiedAt, errorCode: null, errorMessage: null, failedAt: null, payload: null });
      return 'unchanged';
    }

    const planned = planOrder(deal, {
      defaultCurrency: String(conn.options.defaultCurrency ?? 'USD'),
      lineNumbers: state?.status === 'WITHDRAWN' ? {} : (state?.lineNumbers ?? {}),
      nextLineNo: state?.nextLineNo ?? 1,
    });
    if ('problems' in planned) {
      // One failed deal, every problem listed.
      planned.problems.forEach((p, i) => run.error(deal.externalId, p.code, p.message, i === 0));
      await this.fail(conn, deal, state, modifiedAt, planned.problems[0]!.code, planned.problems.map((p) => p.message).join('; '));
      return null;
    }
    const hash = contentHash(planned.order);
    if (state?.status === 'APPLIED' && state.contentHash === hash) {
      if (state.modifiedAt.getTime() !== modifiedAt.getTime()) await this.saveState(conn, deal.externalId, { ...stateOf(state), modifiedAt });
      return 'unchanged';
    }

    const unknown = [...new Set(planned.order.lines.map((l) => l.sku))].filter((s) => !known.skus.has(s));
    if (unknown.length) {
      const message = `deal ${deal.externalId}: product code${unknown.length > 1 ? 's' : ''} ${unknown.map((s) => `"${s}"`).join(', ')} match${unknown.length > 1 ? '' : 'es'} no sku in the catalog; it is retried after the catalog changes`;
      run.error(deal.externalId, 'UNKNOWN_SKU', message);
      await this.fail(conn, deal, state, modifiedAt, 'UNKNOWN_SKU', message);
      return null;
    }
    const accountId = known.accounts.get(planned.order.accountExternalId)?.id;
    if (!accountId) {
      const message = `deal ${deal.externalId}: account ${planned.order.accountExternalId} is not linked to a hub account yet; retried on the next pull`;
      run.error(deal.externalId, 'NO_ACCOUNT_LINK', message);
      await this.fail(conn, deal, state, modifiedAt, 'NO_ACCOUNT_LINK', message);
      return null;
    }

    // One deal, one source: a copy of a deal another system already grants (or is configured to) grants nothing.
    const verdict = await this.dealSources.decide(ctx, conn, deal, state, accountId);
    if (!verdict.grant) {
      const again = state?.status === 'LINKED' && state.contentHash === hash;
      await this.saveState(conn, deal.externalId, {
        status: 'LINKED',
        modifiedAt,
        contentHash: hash,
        revision: state?.revision ?? 0,
        hubId: null,
        lineNumbers: state?.lineNumbers ?? {},
        nextLineNo: state?.nextLineNo ?? 1,
        payload: null,
        errorCode: 'DUPLICATE_SOURCE',
        errorMessage: verdict.reason.slice(0, 2000),
        failedAt: null,
      });
      if (!again) ctx.log.info({ deal: deal.externalId, reason: verdict.reason }, 'sync: deal linked to its copy in another system; not granted');
      return 'unchanged';
    }

    // The revision after the last one the hub holds (a FAILED state keeps the applied one).
    const revision = (state?.revision ?? 0) + 1;
    const input: OrderInput = {
      source: conn.orderSource,
      externalId: deal.externalId,
      revision,
      accountId,
      orderDate: planned.order.orderDate,
      currency: planned.order.currency,
      lines: planned.order.lines.map((l) => ({ ...l, action: OrderLineAction.NEW })),
    };
    try {
      const order = await this.orders.submit(ctx, input);
      await this.saveState(conn, deal.externalId, {
        status: 'APPLIED',
        modifiedAt,
        contentHash: hash,
        revision: order.revision,
        hubId: order.id,
        lineNumbers: planned.lineNumbers,
        nextLineNo: planned.nextLineNo,
        payload: null,
        errorCode: null,
        errorMessage: null,
        failedAt: null,
      });
      await this.dealSources.granted(ctx, deal, conn, order.id, accountId, verdict.other);
      return revision === 1 && !state?.hubId ? 'created' : 'updated';
    } catch (err) {
      // One deal that cannot be applied must not hold up the others: kept FAILED with its
      // reason; an unexpected error (INTERNAL) is retried on every pull and logged.
      const code = err instanceof AppError ? err.subCode : 'INTERNAL';
      const message = err instanceof Error ? err.message : String(err);
      if (!(err instanceof AppError)) ctx.log.error({ err, deal: deal.externalId }, 'sync: a deal could not be applied');
      run.error(deal.externalId, code, `deal ${deal.externalId}: ${message}`);
      await this.fail(conn, deal, state, modifiedAt, code, message);
      return null;
    }
  }

  private async withdraw(ctx: RequestContext, conn: SyncConnection, deal: ExternalOrder, state: SyncRecord, modifiedAt: Date): Promise<void> {
    const revision = state.revision + 1;
    const [prior]: { account_id: string; order_date: string; currency: string }[] = await this.db.manager.query(
      'SELECT account_id, order_date::text AS order_date, currency FROM sales_order WHERE id = $1',
      [state.hubId],
    );
    // A revision without lines: every line removed, so what they granted is cancelled (or rolled
    // back). A deletion may carry nothing but the deal's id (NetSuite's deletedrecord): the
    // order's own date and currency then.
    const order = await this.orders.submit(ctx, {
      source: conn.orderSource,
      externalId: deal.externalId,
      revision,
      accountId: prior!.account_id,
      orderDate: deal.deleted && !deal.currency ? prior!.order_date : deal.orderDate,
      currency: (deal.currency ?? (deal.deleted ? prior!.currency : String(conn.options.defaultCurrency ?? 'USD'))).toUpperCase(),
      lines: [],
    });
    await this.saveState(conn, deal.externalId, {
      ...stateOf(state),
      status: 'WITHDRAWN',
      modifiedAt,
      contentHash: null,
      revision: order.revision,
      lineNumbers: {},
      payload: null,
      errorCode: null,
      errorMessage: deal.deleted ? 'deleted in the source' : 'no longer won in the source',
      failedAt: null,
    });
  }

  private async fail(
    conn: SyncConnection,
    deal: ExternalOrder,
    state: SyncRecord | null,
    modifiedAt: Date,
    code: string,
    message: string,
  ): Promise<void> {
    const base = state ? stateOf(state) : { revision: 0, hubId: null, lineNumbers: {}, nextLineNo: 1, contentHash: null };
    // A fulfilled deal that fails to update stays APPLIED in the hub's eyes (its order stands);
    // the failure is remembered so the change is retried.
    await this.saveState(conn, deal.externalId, {
      ...base,
      status: 'FAILED',
      modifiedAt,
      payload: deal,
      errorCode: code,
      errorMessage: message.slice(0, 2000),
      failedAt: new Date(),
    });
  }

  /**
   * Deals (and receivables) that failed for a reason that may have gone away are applied
   * again from their stored copy: unknown skus once the catalog changed after the failure,
   * missing account links always.
   */
  private async retryFailed(ctx: RequestContext, conn: SyncConnection, object: 'orders' | 'receivables', run: RunRecorder): Promise<void> {
    const due: SyncRecord[] = await this.db.manager
      .createQueryBuilder(SyncRecord, 's')
      .where(`s.connectionId = :id AND s.object = :object AND s.status = 'FAILED' AND s.payload IS NOT NULL`, { id: conn.id, object })
      .andWhere(
        `(s.errorCode = ANY(:always) OR (s.errorCode = ANY(:catalog) AND s.failedAt < (SELECT max(updated_at) FROM product)))`,
        { always: RETRIED_ALWAYS, catalog: RETRIED_WHEN_CATALOG_CHANGES },
      )
      .orderBy('s.modifiedAt')
      .limit(5000)
      .getMany();
    const records = due.map((s) => s.payload as ExternalOrder | ExternalReceivable);
    const known = await this.prefetch(conn, object, records);
    if (object === 'receivables') return this.applyReceivables(conn, records as ExternalReceivable[], run, known);
    await eachConcurrently(records, object === 'orders' ? this.concurrency : 1, async (record) => {
      run.counts.read++;
      // Applied as the same copy: the modified instant equals the stored one, so it is not "older".
      const outcome = await this.applyOne(ctx, conn, object, record, run, known);
      if (outcome) run.counts[outcome]++;
    });
  }

  // ── receivables ──

  /**
   * Invoices, credit memos and payments (a page): each is upserted by (connection, external id)
   * into its account's receivables, the page's documents in one statement
   * (`upsertManyFromSource`). One whose customer is not linked yet is kept FAILED with its copy
   * and retried on every receivables pull, as deals are; one that cannot be read is reported.
   */
  private async applyReceivables(conn: SyncConnection, records: ExternalReceivable[], run: RunRecorder, known: PageLookups): Promise<void> {
    const writes: ReceivableWrite[] = [];
    for (const r of records) {
      run.counts.read++;
      const planned = planReceivable(r, String(conn.options.defaultCurrency ?? 'USD'));
      if (Array.isArray(planned)) {
        planned.forEach((p, i) => run.error(r.externalId, p.code, p.message, i === 0));
        continue;
      }
      if (planned.deleted && !r.accountExternalId) {
        // A deletion names the document only (NetSuite's deletedrecord): marked deleted wherever it is.
        writes.push({ ...planned, connectionId: conn.id, accountId: '' });
        continue;
      }
      if (!r.accountExternalId) {
        run.error(r.externalId, 'RECEIVABLE_WITHOUT_ACCOUNT', `receivable ${r.externalId} names no customer`);
        continue;
      }
      const accountId = known.accounts.get(r.accountExternalId)?.id;
      if (!accountId) {
        if (planned.deleted) {
          run.counts.unchanged++;
          continue;
        }
        const message = `receivable ${r.externalId}: account ${r.accountExternalId} is not linked to a hub account yet; retried on the next pull`;
        run.error(r.externalId, 'NO_ACCOUNT_LINK', message);
        await this.saveFailure(conn, 'receivables', r.externalId, r, planned.modifiedAt, 'NO_ACCOUNT_LINK', message);
        continue;
      }
      writes.push({ ...planned, connectionId: conn.id, accountId });
    }
    if (!writes.length) return;
    const outcomes = await this.receivables.upsertManyFromSource(writes);
    for (const outcome of outcomes.values()) run.counts[outcome]++;
    // Applied now: no longer a failure waiting for its account.
    const healed = writes.filter((w) => known.states.has(w.externalId)).map((w) => w.externalId);
    if (healed.length) {
      await this.db.manager.query(`DELETE FROM sync_record WHERE connection_id = $1 AND object = 'receivables' AND external_id = ANY($2::text[])`, [conn.id, healed]);
    }
  }

  private async saveFailure(conn: SyncConnection, object: string, externalId: string, payload: unknown, modifiedAt: Date, code: string, message: string): Promise<void> {
    await this.db.manager.query(
      `INSERT INTO sync_record (connection_id, object, external_id, status, modified_at, payload, error_code, error_message, failed_at, updated_at)
       VALUES ($1, $2, $3, 'FAILED', $4, $5::jsonb, $6, $7, now(), now())
       ON CONFLICT (connection_id, object, external_id) DO UPDATE SET status = 'FAILED', modified_at = EXCLUDED.modified_at, payload = EXCLUDED.payload,
         error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message, failed_at = EXCLUDED.failed_at, updated_at = now()`,
      [conn.id, object, externalId, modifiedAt, JSON.stringify(payload), code, message.slice(0, 2000)],
    );
  }

  // ── state ──

  private async cursor(connectionId: string, object: string): Promise<string | null> {
    const [row] = await this.db.manager.query('SELECT cursor FROM sync_cursor WHERE connection_id = $1 AND object = $2', [connectionId, object]);
    return row?.cursor ?? null;
  }

  private async saveCursor(connectionId: string, object: string, cursor: string): Promise<void> {
    await this.db.manager.query(
      `INSERT INTO sync_cursor (connection_id, object, cursor, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (connection_id, object) DO UPDATE SET cursor = $3, updated_at = now()`,
      [connectionId, object, cursor],
    );
  }

  private async saveState(connection: SyncConnection, externalId: string, s: Omit<SyncRecord, 'connectionId' | 'object' | 'externalId' | 'updatedAt'>): Promise<void> {
    await this.db.manager.query(
      `INSERT INTO sync_record (connection_id, object, external_id, status, modified_at, content_hash, revision, hub_id, line_numbers, next_line_no, payload, error_code, error_message, failed_at, updated_at)
       VALUES ($1, 'orders', $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10::jsonb, $11, $12, $13, now())
       ON CONFLICT (connection_id, object, external_id) DO UPDATE SET
         status = EXCLUDED.status, modified_at = EXCLUDED.modified_at, content_hash = EXCLUDED.content_hash, revision = EXCLUDED.revision,
         hub_id = EXCLUDED.hub_id, line_numbers = EXCLUDED.line_numbers, next_line_no = EXCLUDED.next_line_no, payload = EXCLUDED.payload,
         error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message, failed_at = EXCLUDED.failed_at, updated_at = now()`,
      [
        connection.id,
        externalId,
        s.status,
        s.modifiedAt,
        s.contentHash,
        s.revision,
        s.hubId,
        JSON.stringify(s.lineNumbers),
        s.nextLineNo,
        s.payload === null || s.payload === undefined ? null : JSON.stringify(s.payload),
        s.errorCode,
        s.errorMessage,
        s.failedAt,
      ],
    );
  }
}

/** The usage ingest's source of a connection's usage: its events' ids are unique within it. */
export function usageSource(conn: Pick<SyncConnection, 'id'>): string {
  return `sync:${conn.id}`;
}

function stateOf(s: SyncRecord): Omit<SyncRecord, 'connectionId' | 'object' | 'externalId' | 'updatedAt'> {
  const { connectionId: _c, object: _o, externalId: _e, updatedAt: _u, ...state } = s;
  return state;
}


/**
 * Splits a page of usage events into at most `lanes` lanes of batches (of up to `batch`
 * events), every account's events in one lane (by a hash of the account id: a page of one
 * customer is one lane). Events keep their page order within a lane, and their `index` (the
 * page position the ingest's rejections name).
 */
export function usageLanes(events: readonly ParsedUsageEvent[], lanes: number, batch: number): ParsedUsageEvent[][][] {
  const n = Math.max(1, Math.min(lanes, events.length));
  const byLane: ParsedUsageEvent[][] = Array.from({ length: n }, () => []);
  for (const e of events) {
    const key = isRejection(e) ? '' : (e.accountId ?? (e.accountRef ? `${e.accountRef.system}/${e.accountRef.object}/${e.accountRef.externalId}` : ''));
    byLane[laneOf(key, n)]!.push(e);
  }
  return byLane
    .filter((l) => l.length > 0)
    .map((l) => {
      const batches: ParsedUsageEvent[][] = [];
      for (let i = 0; i < l.length; i += batch) batches.push(l.slice(i, i + batch));
      return batches;
    });
}

/** FNV-1a of the key, modulo `n`. */
function laneOf(key: string, n: number): number {
  if (n === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % n;
}

/**
 * Iterates `source` one item ahead: while the consumer works on an item, the next one is
 * already being produced (a connector parsing or fetching its next page while the engine
 * applies this one). Order and items are unchanged; stopping early closes the source.
 */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncIterable<T> {
  const it = source[Symbol.asyncIterator]();
  let next = it.next();
  try {
    for (;;) {
      const r = await next;
      if (r.done) return;
      next = it.next();
      // A failure of the read-ahead surfaces when it is awaited; until then it is not unhandled.
      next.catch(() => undefined);
      yield r.value;
    }
  } finally {
    // Stopped early (break, error): let the source close its files or connections.
    await next.then(
      (r) => (r.done ? undefined : it.return?.()),
      () => undefined,
    );
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first error after all settle. */
export async function eachConcurrently<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failure) throw (failure as { error: unknown }).error;
}
