/**
 * What the sync engine does with ERP records beyond the CRM's (ADR 0026): receivable
 * documents, and the rule that one deal arriving from two systems (a CRM deal and the ERP
 * sales order booked from it) grants once.
 */
import type { ExternalLink, ExternalOrder, ExternalReceivable } from '../../connectors/types';
import type { RequestContext } from '../common/context';
import type { ComplianceService } from '../compliance/compliance.service';
import type { Db } from '../db/db';
import type { ReceivableWrite } from '../receivables/receivable.service';
import { ReceivableKind } from '../receivables/receivable.types';
import { DealSource, type SyncConnection, type SyncRecord } from './sync.entities';
import { majorToMinor } from './sync.rules';

const KINDS = new Set<string>(Object.values(ReceivableKind));

function validDate(v: string | null | undefined): boolean {
  if (!v || !/^\d{4}-\d{2}-\d{2}$/.test(v)) return false;
  const d = new Date(`${v}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v;
}

export interface RecordProblem {
  code: string;
  message: string;
}

/**
 * A pulled receivable checked and converted (amounts to minor units of its currency), or
 * its problems. The account is resolved by the caller.
 */
export function planReceivable(r: ExternalReceivable, defaultCurrency: string): Omit<ReceivableWrite, 'accountId' | 'connectionId'> | RecordProblem[] {
  const problems: RecordProblem[] = [];
  const at = `receivable ${r.externalId}`;
  if (!KINDS.has(r.kind)) problems.push({ code: 'INVALID_KIND', message: `${at}: kind "${r.kind}" is not INVOICE, CREDIT_MEMO or PAYMENT` });
  if (!validDate(r.date)) problems.push({ code: 'INVALID_DATE', message: `${at}: date "${r.date}" is not a date (YYYY-MM-DD)` });
  if (r.dueDate !== null && r.dueDate !== undefined && !validDate(r.dueDate)) problems.push({ code: 'INVALID_DATE', message: `${at}: due date "${r.dueDate}" is not a date (YYYY-MM-DD)` });
  const currency = (r.currency ?? defaultCurrency).toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) problems.push({ code: 'INVALID_CURRENCY', message: `${at}: "${r.currency}" is not an ISO 4217 currency code` });
  const modified = Date.parse(r.modifiedAt);
  if (Number.isNaN(modified)) problems.push({ code: 'INVALID_TIMESTAMP', message: `${at}: modified "${r.modifiedAt}" is not an ISO 8601 instant` });
  let amountMinor: string | null = null;
  let openMinor: string | null = null;
  if (!problems.some((p) => p.code === 'INVALID_CURRENCY')) {
    amountMinor = majorToMinor(String(r.amount ?? ''), currency);
    openMinor = majorToMinor(String(r.openAmount ?? ''), currency);
    if (amountMinor === null || amountMinor.startsWith('-')) {
      problems.push({ code: 'INVALID_AMOUNT', message: `${at}: amount "${r.amount}" is not a positive amount in ${currency}'s minor units` });
    }
    if (openMinor === null || openMinor.startsWith('-')) {
      problems.push({ code: 'INVALID_AMOUNT', message: `${at}: open amount "${r.openAmount}" is not an amount ≥ 0 in ${currency}'s minor units` });
    } else if (amountMinor !== null && !amountMinor.startsWith('-') && BigInt(openMinor) > BigInt(amountMinor)) {
      problems.push({ code: 'OPEN_EXCEEDS_AMOUNT', message: `${at}: open amount ${r.openAmount} is more than the amount ${r.amount}` });
    }
  }
  if (problems.length) return problems;
  return {
    externalId: r.externalId,
    kind: r.kind as ReceivableKind,
    number: r.number?.trim() || null,
    date: r.date,
    dueDate: r.dueDate ?? null,
    currency,
    amountMinor: amountMinor!,
    openMinor: openMinor!,
    status: r.status?.trim() || null,
    modifiedAt: new Date(modified),
    deleted: Boolean(r.deleted),
  };
}

// ── one source per deal ──

/** One copy of a deal as the hub holds it. */
interface Copy {
  connection: string | null;
  system: string;
  source: string;
  externalId: string;
  /** The hub order it granted, when it grants. */
  orderId: string | null;
  accountId: string | null;
  /** Whether the hub holds this copy at all (a pulled record or an order). */
  present: boolean;
  /** The connection's DealSource when this copy is the one carrying the link. */
  dealSource?: DealSource;
}

export type DealVerdict = { grant: true; other: Copy | null } | { grant: false; reason: string; other: Copy | null };

interface PartnerRow {
  connection_id: string | null;
  connection_name: string | null;
  ref_system: string | null;
  order_source: string | null;
  deal_source: DealSource | null;
  external_id: string;
  status: SyncRecord['status'] | null;
  hub_id: string | null;
  order_id: string | null;
  order_account_id: string | null;
}

/**
 * Decides whether a pulled won deal grants, when it is one copy of a deal that exists in
 * two systems (ADR 0026). The copy carrying `links` (the ERP order) follows its connection's
 * `dealSource`; a copy already granting keeps granting; a deal is never granted twice.
 */
export class DealSources {
  constructor(
    private readonly db: Db,
    private readonly compliance: ComplianceService,
  ) {}

  async decide(ctx: RequestContext, conn: SyncConnection, deal: ExternalOrder, state: SyncRecord | null, accountId: string | null): Promise<DealVerdict> {
    // The copy that grants keeps granting (a FAILED update of a fulfilled deal keeps its order).
    if (state?.hubId && (state.status === 'APPLIED' || state.status === 'FAILED')) return { grant: true, other: null };
    const links = (deal.links ?? []).filter((l) => l && l.system && l.externalId);
    if (links.length) await this.remember(conn, deal.externalId, links);
    const self: Copy = { connection: conn.name, system: conn.refSystem, source: conn.orderSource, externalId: deal.externalId, orderId: null, accountId, present: true, dealSource: conn.dealSource };

    // This copy names the other (an ERP order booked from a CRM deal).
    for (const link of links) {
      const rows = await this.forward(conn, link);
      if (!rows.length) continue; // no connection or order of that system: nothing to duplicate
      const present = rows.filter((r) => r.status !== null || r.order_id !== null);
      const granted = present.find((r) => grants(r) || (r.status === null && r.order_id));
      const other = copyOf(granted ?? present[0] ?? rows[0]!, link.externalId, link.system);
      if (granted) return this.skip(ctx, deal, self, other, `the ${other.system} copy ${other.externalId} already grants this deal`);
      if (conn.dealSource === DealSource.ERP) {
        if (present.length) await this.finding(ctx, deal, { ...self, orderId: 'pending' }, other, 'this connection is the deal source (ERP)');
        return { grant: true, other };
      }
      return this.skip(
        ctx,
        deal,
        self,
        other,
        other.present ? `the ${other.system} copy grants this deal (deal source CRM)` : `the ${other.system} copy ${other.externalId} grants this deal once it arrives (deal source CRM)`,
      );
    }

    // Other copies name this one (the CRM deal, arriving after the ERP order booked from it).
    const reverse: PartnerRow[] = await this.db.manager.query(
      `SELECT c.id AS connection_id, c.name AS connection_name, c.ref_system, c.order_source, c.deal_source, l.deal_external_id AS external_id,
              s.status, s.hub_id, NULL AS order_id, (SELECT account_id FROM sales_order WHERE id = s.hub_id) AS order_account_id
         FROM sync_deal_link l JOIN sync_connection c ON c.id = l.connection_id
         LEFT JOIN sync_record s ON s.connection_id = l.connection_id AND s.object = 'orders' AND s.external_id = l.deal_external_id
        WHERE l.system = $1 AND l.external_id = $2 AND l.connection_id <> $3`,
      [conn.refSystem, deal.externalId, conn.id],
    );
    if (!reverse.length) return { grant: true, other: null };
    const granted = reverse.find(grants);
    if (granted) {
      const other = copyOf(granted, granted.external_id, granted.ref_system!);
      return this.skip(ctx, deal, self, other, `the ${other.system} copy ${other.externalId} already grants this deal`);
    }
    const other = copyOf(reverse[0]!, reverse[0]!.external_id, reverse[0]!.ref_system!);
    await this.finding(ctx, deal, { ...self, orderId: 'pending' }, other, `the ${other.system} copy does not grant (deal source ${reverse[0]!.deal_source ?? DealSource.CRM}, or not granted yet)`);
    return { grant: true, other };
  }

  /** After this copy granted: the finding's granting side names its order. */
  async granted(ctx: RequestContext, deal: ExternalOrder, conn: SyncConnection, orderId: string, accountId: string, other: Copy | null): Promise<void> {
    if (!other?.present) return;
    await this.finding(
      ctx,
      deal,
      { connection: conn.name, system: conn.refSystem, source: conn.orderSource, externalId: deal.externalId, orderId, accountId, present: true },
      other,
      'granted from this copy',
    );
  }

  private async skip(ctx: RequestContext, deal: ExternalOrder, self: Copy, other: Copy, reason: string): Promise<DealVerdict> {
    if (other.present) await this.finding(ctx, deal, self, other, reason);
    return { grant: false, reason, other };
  }

  /**
   * Opens the DUPLICATE_SOURCE finding of the pair once (the key sorts both copies, so either
   * arrival order names it the same). It is opened when the granting copy is known.
   */
  private async finding(ctx: RequestContext, deal: ExternalOrder, self: Copy, other: Copy, reason: string): Promise<void> {
    if (self.orderId === 'pending') return; // opened by `granted` once this copy's order exists
    const granting = other.orderId ? other : self.orderId ? self : null;
    const skipped = granting === other ? self : other;
    const accountId = granting?.accountId ?? self.accountId ?? other.accountId;
    if (!accountId) return; // opened when a copy with an account arrives
    const key = `deal:${[`${self.system}:${self.externalId}`, `${other.system}:${other.externalId}`].sort().join(' ~ ')}`;
    const view = (c: Copy) => ({ connection: c.connection, system: c.system, orderSource: c.source, externalId: c.externalId, orderId: c.orderId });
    const opened = await this.compliance.recordDuplicateSource(ctx, {
      accountId,
      dealKey: key,
      orderDate: deal.orderDate,
      currency: (deal.currency ?? 'USD').toUpperCase(),
      details: {
        reason: granting
          ? `Deal ${skipped.system} ${skipped.externalId} is the same deal as ${granting.system} ${granting.externalId}: granted once, from ${granting.system} (order source "${granting.source}"); the ${skipped.system} copy is linked and grants nothing`
          : `Deal ${self.system} ${self.externalId} is the same deal as ${other.system} ${other.externalId}; neither grants yet (${reason})`,
        granting: granting ? view(granting) : null,
        skipped: view(skipped),
      },
    });
    if (opened) ctx.log.info({ deal: deal.externalId, key }, 'sync: DUPLICATE_SOURCE finding opened');
  }

  private async remember(conn: SyncConnection, dealExternalId: string, links: ExternalLink[]): Promise<void> {
    await this.db.manager.query(
      `INSERT INTO sync_deal_link (connection_id, deal_external_id, system, object, external_id)
       SELECT $1, $2, l.system, l.object, l.external_id FROM jsonb_to_recordset($3::jsonb) AS l(system text, object text, external_id text)
       ON CONFLICT DO NOTHING`,
      [conn.id, dealExternalId, JSON.stringify(links.map((l) => ({ system: l.system.toLowerCase(), object: l.object ?? '', external_id: l.externalId })))],
    );
  }

  /**
   * The other copy a link names: the deal as pulled by each connection of that system, or
   * (without a connection pulling it) an order submitted with that system as its source.
   */
  private async forward(conn: SyncConnection, link: ExternalLink): Promise<PartnerRow[]> {
    return this.db.manager.query(
      `SELECT c.id AS connection_id, c.name AS connection_name, c.ref_system, c.order_source, c.deal_source, $2::text AS external_id,
              s.status, s.hub_id, o.id AS order_id, coalesce(so.account_id, o.account_id) AS order_account_id
         FROM sync_connection c
         LEFT JOIN sync_record s ON s.connection_id = c.id AND s.object = 'orders' AND s.external_id = $2
         LEFT JOIN sales_order so ON so.id = s.hub_id
         LEFT JOIN sales_order o ON s.connection_id IS NULL AND o.source = c.order_source AND o.external_id = $2
        WHERE c.ref_system = $1 AND c.id <> $3
       UNION ALL
       SELECT NULL, NULL, $1, o.source, NULL, $2, NULL, NULL, o.id, o.account_id
         FROM sales_order o
        WHERE o.source = $1 AND o.external_id = $2 AND NOT EXISTS (SELECT 1 FROM sync_connection c WHERE c.ref_system = $1 AND c.order_source = o.source)`,
      [link.system.toLowerCase(), link.externalId, conn.id],
    );
  }
}

/** A pulled copy whose order stands: applied, or fulfilled and then failing to update. */
function grants(r: PartnerRow): boolean {
  return Boolean(r.hub_id) && (r.status === 'APPLIED' || r.status === 'FAILED');
}

function copyOf(r: PartnerRow, externalId: string, system: string): Copy {
  const orderId = grants(r) ? r.hub_id : r.status === null ? r.order_id : null;
  return {
    connection: r.connection_name,
    system,
    source: r.order_source ?? system,
    externalId,
    orderId,
    accountId: r.order_account_id,
    present: r.status !== null || r.order_id !== null,
  };
}
