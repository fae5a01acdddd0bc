import type { RequestContext } from '../common/context';
import { badInput, notFound } from '../common/errors';
import { isUuid } from '../common/ids';
import { groupBy } from '../common/collections';
import { addDays, toUtc, todayIn } from '../common/dates';
import { money, type Money } from '../common/money';
import type { Db } from '../db/db';
import type { AccountService } from '../accounts/account.service';
import type { RevenueService } from '../revenue/revenue.service';
import { ACCOUNT_FACTS_SQL, arrMinor, withLive, type FactRow } from '../sync/sync-payloads';
import type { MonetizationModel } from '../catalog/catalog.enums';
import type { MeterAggregation } from '../catalog/catalog.enums';
import type { FindingKind, FindingStatus } from '../compliance/compliance.enums';
import type { SyncRunStatus } from '../sync/sync.entities';
import { recordUrl } from './customer360.links';
import {
  LIST_LIMIT,
  RENEWAL_DAYS_MAX,
  TIMELINE_LIMIT_MAX,
  TimelineKind,
  type Customer360,
  type Customer360Args,
  type EntitlementGroup,
  type EntitlementUse,
  type LicensesInUse,
  type LinkedRecord,
  type OpenFindings,
  type RevenuePosition,
  type SyncSystemStatus,
  type TimelineEvent,
  type UpcomingRenewals,
  type UsageTrend,
} from './customer360.types';

/** Days in each usage-trend window. */
export const TREND_DAYS = 90;

const num = (v: string | number | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));
/** A decimal figure as a short string (at most 4 decimals, no trailing zeros). */
const dec = (v: number): string => String(Number(v.toFixed(4)));
const ratio = (a: number, b: number): number | null => (b > 0 ? Number((a / b).toFixed(4)) : null);
const percent = (used: number, capacity: number): number | null => (capacity > 0 ? Math.round((used / capacity) * 1000) / 10 : null);

function moneyList(byCurrency: Map<string, bigint>): Money[] {
  return [...byCurrency.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([c, v]) => money(v, c)!);
}

function addTo(map: Map<string, bigint>, currency: string, v: bigint): void {
  map.set(currency, (map.get(currency) ?? 0n) + v);
}

/** The effective status a CRM user sees (grace counts as active), as the sync payloads define it. */
function effectiveStatus(f: FactRow): string {
  return f.live ? 'ACTIVE' : f.phase;
}

function entitlementUse(f: FactRow): EntitlementUse {
  const a = arrMinor(f);
  const capacity = f.capacity === null ? null : num(f.capacity);
  const used = f.capacity === null ? null : num(f.used);
  return {
    entitlementId: f.id,
    sku: f.sku,
    status: effectiveStatus(f),
    phase: f.phase,
    quantity: dec(num(f.quantity)),
    used: used === null ? null : dec(used),
    capacity: capacity === null ? null : dec(capacity),
    utilizationPercent: used === null || capacity === null ? null : percent(used, capacity),
    startDate: f.start_date,
    endDate: f.end_date,
    arr: a === null ? null : money(a, f.price_currency),
  };
}

/**
 * Entitlements grouped by product and monetization model. Utilisation of a group is the
 * used / capacity of its live entitlements that have a capacity (the sync payloads'
 * definitions: seats held / seats, devices active / devices, leases live / leases, METERED
 * units drawn / entitled in the current period).
 */
export function groupEntitlements(facts: readonly FactRow[]): EntitlementGroup[] {
  const groups = groupBy(facts, (f) => `${f.sku}\u0000${f.model}`);
  const out: EntitlementGroup[] = [];
  for (const fs of groups.values()) {
    const live = fs.filter((f) => f.live);
    const measured = live.filter((f) => f.capacity !== null);
    const used = measured.reduce((s, f) => s + num(f.used), 0);
    const capacity = measured.reduce((s, f) => s + num(f.capacity), 0);
    const arr = new Map<string, bigint>();
    for (const f of live) {
      const a = arrMinor(f);
      if (a !== null) addTo(arr, f.price_currency!, a);
    }
    const ends = live.map((f) => f.end_date).filter((d): d is string => d !== null).sort();
    const items = [...fs].sort(
      (a, b) => Number(b.live) - Number(a.live) || (a.end_date ?? '9999').localeCompare(b.end_date ?? '9999') || a.id.localeCompare(b.id),
    );
    out.push({
      sku: fs[0]!.sku,
      productName: fs[0]!.product_name,
      model: fs[0]!.model as MonetizationModel,
      entitlements: fs.length,
      live: live.length,
      liveQuantity: dec(live.reduce((s, f) => s + num(f.quantity), 0)),
      used: measured.length ? dec(used) : null,
      capacity: measured.length ? dec(capacity) : null,
      utilizationPercent: measured.length ? percent(used, capacity) : null,
      arr: moneyList(arr),
      nextEndDate: ends[0] ?? null,
      items: items.map(entitlementUse),
    });
  }
  return out.sort((a, b) => a.sku.localeCompare(b.sku) || a.model.localeCompare(b.model));
}

/** ARR of the live entitlements per currency (what the CRM sync sends, in every currency). */
export function arrOf(facts: readonly FactRow[]): Money[] {
  const arr = new Map<string, bigint>();
  for (const f of facts) {
    const a = arrMinor(f);
    if (a !== null) addTo(arr, f.price_currency!, a);
  }
  return moneyList(arr);
}

/** The account's utilisation as the CRM field `utilizationPercent`: the mean of used / capacity over live entitlements with a capacity. */
export function utilizationOf(facts: readonly FactRow[]): number | null {
  const ratios = facts.filter((f) => f.live && f.capacity !== null && num(f.capacity) > 0).map((f) => num(f.used) / num(f.capacity));
  return ratios.length ? Math.round((ratios.reduce((x, y) => x + y, 0) / ratios.length) * 1000) / 10 : null;
}

/**
 * Live entitlements whose term ends between today and today + `days` (contract calendar),
 * grouped by order and end date as the CRM renewal opportunities are, with their ARR.
 */
export function upcomingRenewals(facts: readonly FactRow[], days: number, today: string): UpcomingRenewals {
  const last = addDays(today, days);
  const due = facts.filter((f) => f.live && f.end_date !== null && f.end_date >= today && f.end_date <= last);
  const groups = groupBy(due, (f) => `${f.end_date}|${f.order_id}|${f.price_currency ?? ''}`);
  const total = new Map<string, bigint>();
  const renewals = [...groups.values()].map((fs) => {
    const f0 = fs[0]!;
    const currency = f0.price_currency ?? 'USD';
    const arr = fs.reduce((s, f) => s + (arrMinor(f) ?? 0n), 0n);
    addTo(total, currency, arr);
    return {
      endDate: f0.end_date!,
      daysLeft: Math.round((toUtc(f0.end_date!) - toUtc(today)) / 86_400_000),
      orderId: f0.order_id,
      skus: [...new Set(fs.map((f) => f.sku))].sort(),
      entitlementIds: fs.map((f) => f.id).sort(),
      arr: money(arr, currency)!,
    };
  });
  renewals.sort((a, b) => a.endDate.localeCompare(b.endDate) || a.orderId.localeCompare(b.orderId));
  return { withinDays: days, arr: moneyList(total), renewals };
}

/**
 * Customer 360: one account's view assembled from every domain. Each section is one
 * set-based statement over a batch of accounts (the DataLoaders in customer360.loaders.ts
 * call these with the ids of every account asked for in a request), so the statement count
 * depends on the sections asked for, never on how much data an account has.
 */
export class Customer360Service {
  constructor(
    private readonly db: Db,
    private readonly accounts: AccountService,
    private readonly revenue: RevenueService,
    private readonly timeZone: string,
  ) {}

  /** The root: the account by id or external reference (NOT_FOUND when unknown or out of the key's scope). */
  async resolve(ctx: RequestContext, args: Customer360Args): Promise<Customer360> {
    const given = (v: unknown) => v !== null && v !== undefined;
    const keys = (['account', 'accountId', 'externalRef'] as const).filter((k) => given(args[k]));
    if (keys.length !== 1) {
      throw badInput(
        'CUSTOMER360_KEY_REQUIRED',
        'Give exactly one of account (or accountId) and externalRef',
        keys.length ? keys.slice(1).map((k) => ({ path: k, message: `leave out when ${keys[0]} is given` })) : [{ path: 'account', message: 'give account, accountId or externalRef' }],
      );
    }
    const byId = keys[0] !== 'externalRef';
    if (keys[0] === 'accountId') args = { ...args, account: args.accountId };
    if (!Number.isInteger(args.renewalDays) || args.renewalDays < 1 || args.renewalDays > RENEWAL_DAYS_MAX) {
      throw badInput('VALIDATION_FAILED', `renewalDays must be between 1 and ${RENEWAL_DAYS_MAX}`, [{ path: 'renewalDays', message: `1–${RENEWAL_DAYS_MAX}` }]);
    }
    if (!Number.isInteger(args.timelineLimit) || args.timelineLimit < 1 || args.timelineLimit > TIMELINE_LIMIT_MAX) {
      throw badInput('VALIDATION_FAILED', `timelineLimit must be between 1 and ${TIMELINE_LIMIT_MAX}`, [{ path: 'timelineLimit', message: `1–${TIMELINE_LIMIT_MAX}` }]);
    }
    let account;
    if (byId) {
      if (!isUuid(args.account!)) throw notFound('Account', args.account!);
      account = await this.accounts.get(ctx, args.account!);
    } else {
      account = await this.accounts.byExternalRef(ctx, args.externalRef!);
    }
    return { account, accountId: account.id, renewalDays: args.renewalDays, timelineLimit: args.timelineLimit };
  }

  /**
   * Sections run as named prepared statements (planned once per connection: planning these
   * queries costs more than running them), straight on the pool like the licensing check.
   */
  private q<R>(section: string, sql: string, params: unknown[]): Promise<R[]> {
    return this.db.preparedQuery<R>(`ehub_c360_${section}_v1`, sql, params);
  }

  /** Today in the contract calendar (renewal windows). */
  today(): string {
    return todayIn(this.timeZone);
  }

  /** The account's external references with deep links built from the connection of their system. */
  async linkedRecords(accountIds: readonly string[]): Promise<Map<string, LinkedRecord[]>> {
    const rows: {
      account_id: string;
      system: string;
      object: string;
      external_id: string;
      created_at: Date;
      type: string | null;
      name: string | null;
      options: Record<string, unknown> | null;
    }[] = await this.q('linked', `SELECT r.entity_id AS account_id, r.system, r.object, r.external_id, r.created_at, c.type, c.name, c.options
         FROM external_ref r
         LEFT JOIN LATERAL (
           SELECT c.type, c.name, c.options FROM sync_connection c WHERE c.ref_system = r.system ORDER BY c.created_at, c.id LIMIT 1
         ) c ON true
        WHERE r.entity_type = 'ACCOUNT' AND r.entity_id = ANY($1::uuid[])
        ORDER BY r.created_at, r.id`,
      [[...accountIds]],
    );
    return groupBy(rows, (r) => r.account_id, accountIds, (r) => ({
      system: r.system,
      object: r.object,
      externalId: r.external_id,
      name: null,
      url: recordUrl(r.type ? { type: r.type, options: r.options } : null, r.object, r.external_id),
      connectionName: r.name,
      linkedAt: r.created_at,
    }));
  }

  /** Entitlement facts (used, capacity, price) of every entitlement of these accounts: one statement. */
  async facts(accountIds: readonly string[]): Promise<Map<string, FactRow[]>> {
    const rows = await this.q<Omit<FactRow, 'live'>>('facts', ACCOUNT_FACTS_SQL, [[...accountIds]]);
    return groupBy(withLive(rows), (f) => f.account_id, accountIds);
  }

  /** Devices, seats and leases in use: counts and the most recent few. */
  async licensesInUse(accountIds: readonly string[]): Promise<Map<string, LicensesInUse>> {
    const rows: {
      account_id: string;
      devices: string;
      seats: string;
      leases: string;
      device_list: { id: string; entitlement_id: string; fingerprint: string; name: string | null; platform: string | null; activated_at: string; last_seen_at: string }[];
      seat_list: { id: string; entitlement_id: string; email: string; assigned_at: string }[];
    }[] = await this.q('licenses', `SELECT a.id AS account_id,
              (SELECT count(*) FROM activation x WHERE x.account_id = a.id AND x.deactivated_at IS NULL) AS devices,
              (SELECT count(*) FROM seat s WHERE s.account_id = a.id AND s.released_at IS NULL) AS seats,
              (SELECT count(*) FROM lease l
                WHERE l.entitlement_id IN (SELECT e.id FROM entitlement e WHERE e.account_id = a.id)
                  AND l.checked_in_at IS NULL AND l.expires_at > now()) AS leases,
              (SELECT coalesce(json_agg(d ORDER BY d.last_seen_at DESC, d.id), '[]'::json) FROM (
                 SELECT x.id, x.entitlement_id, x.fingerprint, x.name, x.platform, x.activated_at, x.last_seen_at
                   FROM activation x WHERE x.account_id = a.id AND x.deactivated_at IS NULL
                  ORDER BY x.last_seen_at DESC, x.id LIMIT $2) d) AS device_list,
              (SELECT coalesce(json_agg(d ORDER BY d.assigned_at DESC, d.id), '[]'::json) FROM (
                 SELECT s.id, s.entitlement_id, s.email, s.assigned_at
                   FROM seat s WHERE s.account_id = a.id AND s.released_at IS NULL
                  ORDER BY s.assigned_at DESC, s.id LIMIT $2) d) AS seat_list
         FROM unnest($1::uuid[]) AS a(id)`,
      [[...accountIds], LIST_LIMIT],
    );
    return new Map(
      rows.map((r) => [
        r.account_id,
        {
          devicesActive: num(r.devices),
          seatsAssigned: num(r.seats),
          leasesLive: num(r.leases),
          devices: r.device_list.map((d) => ({
            id: d.id,
            entitlementId: d.entitlement_id,
            fingerprint: d.fingerprint,
            name: d.name,
            platform: d.platform,
            activatedAt: new Date(d.activated_at),
            lastSeenAt: new Date(d.last_seen_at),
          })),
          seats: r.seat_list.map((s) => ({ id: s.id, entitlementId: s.entitlement_id, email: s.email, assignedAt: new Date(s.assigned_at) })),
        },
      ]),
    );
  }

  /**
   * Usage of the last 90 UTC days (today included) against the 90 before, per meter, from the
   * daily rollups (and the daily distinct values for UNIQUE_COUNT meters). Each meter's
   * figure follows its aggregation, as usage series do: SUM adds, COUNT counts events, MAX
   * peaks, LATEST takes the latest value, UNIQUE_COUNT counts distinct values.
   */
  async usageTrend(accountIds: readonly string[]): Promise<Map<string, UsageTrend>> {
    const today = todayIn('UTC');
    const w = {
      currentFrom: addDays(today, -(TREND_DAYS - 1)),
      currentTo: today,
      previousFrom: addDays(today, -(2 * TREND_DAYS - 1)),
      previousTo: addDays(today, -TREND_DAYS),
    };
    const rows: { account_id: string; key: string; name: string; unit: string; aggregation: string; cur: boolean; events: string; value: string }[] =
      await this.q('usage', `WITH r AS (
           SELECT r.account_id, r.meter_id, r.bucket >= $3::timestamptz AS cur, sum(r.count) AS n, sum(r.sum) AS s, max(r.max) AS mx
             FROM usage_rollup r
            WHERE r.account_id = ANY($1::uuid[]) AND r.granularity = 'D' AND r.bucket >= $2::timestamptz AND r.bucket < $4::timestamptz
            GROUP BY 1, 2, 3
         ), l AS (
           -- LATEST meters only (no ordered aggregate over every row): the value of the latest event per window.
           SELECT DISTINCT ON (r.account_id, r.meter_id, r.bucket >= $3::timestamptz) r.account_id, r.meter_id, r.bucket >= $3::timestamptz AS cur, r.latest_value
             FROM usage_rollup r JOIN meter m ON m.id = r.meter_id AND m.aggregation = 'LATEST'
            WHERE r.account_id = ANY($1::uuid[]) AND r.granularity = 'D' AND r.bucket >= $2::timestamptz AND r.bucket < $4::timestamptz
            ORDER BY r.account_id, r.meter_id, r.bucket >= $3::timestamptz, r.latest_at DESC NULLS LAST, r.latest_value DESC NULLS LAST
         ), u AS (
           SELECT u.account_id, u.meter_id, u.bucket >= $3::timestamptz AS cur, count(DISTINCT u.value) AS uq
             FROM usage_unique u JOIN meter m ON m.id = u.meter_id AND m.aggregation = 'UNIQUE_COUNT'
            WHERE u.account_id = ANY($1::uuid[]) AND u.granularity = 'D' AND u.bucket >= $2::timestamptz AND u.bucket < $4::timestamptz
            GROUP BY 1, 2, 3
         )
         SELECT r.account_id, m.key, m.name, m.unit, m.aggregation, r.cur, r.n::text AS events,
                (CASE m.aggregation WHEN 'SUM' THEN coalesce(r.s, 0) WHEN 'COUNT' THEN coalesce(r.n, 0) WHEN 'MAX' THEN coalesce(r.mx, 0)
                                    WHEN 'LATEST' THEN coalesce(l.latest_value, 0) ELSE coalesce(u.uq, 0) END)::text AS value
           FROM r JOIN meter m ON m.id = r.meter_id
           LEFT JOIN l ON l.account_id = r.account_id AND l.meter_id = r.meter_id AND l.cur = r.cur
           LEFT JOIN u ON u.account_id = r.account_id AND u.meter_id = r.meter_id AND u.cur = r.cur`,
      [[...accountIds], `${w.previousFrom}T00:00:00Z`, `${w.currentFrom}T00:00:00Z`, `${addDays(today, 1)}T00:00:00Z`],
      );
    const out = new Map<string, UsageTrend>();
    for (const id of accountIds) {
      const mine = rows.filter((r) => r.account_id === id);
      const meters = [...groupBy(mine, (r) => r.key).values()].map((ms) => {
        const cur = ms.find((m) => m.cur);
        const prev = ms.find((m) => !m.cur);
        const m0 = ms[0]!;
        return {
          meterKey: m0.key,
          meterName: m0.name,
          unit: m0.unit,
          aggregation: m0.aggregation as MeterAggregation,
          current: dec(num(cur?.value)),
          previous: dec(num(prev?.value)),
          ratio: ratio(num(cur?.value), num(prev?.value)),
          currentEvents: num(cur?.events),
          previousEvents: num(prev?.events),
        };
      });
      meters.sort((a, b) => a.meterKey.localeCompare(b.meterKey));
      const currentEvents = meters.reduce((s, m) => s + m.currentEvents, 0);
      const previousEvents = meters.reduce((s, m) => s + m.previousEvents, 0);
      out.set(id, { ...w, currentEvents, previousEvents, ratio: ratio(currentEvents, previousEvents), meters });
    }
    return out;
  }

  /** Open (OPEN or ACKNOWLEDGED) compliance findings: count, leakage per currency, the largest few. */
  async openFindings(accountIds: readonly string[]): Promise<Map<string, OpenFindings>> {
    const rows: {
      account_id: string;
      open: string;
      leakage: { currency: string; amount: string }[];
      items: {
        id: string;
        kind: string;
        status: string;
        entitlement_id: string | null;
        feature_key: string | null;
        meter_key: string | null;
        period_start: string;
        unit: string;
        used: string;
        entitled: string | null;
        over: string;
        leakage_minor: string | null;
        currency: string | null;
        first_seen_at: string;
      }[];
    }[] = await this.q('findings', `SELECT a.id AS account_id,
              (SELECT count(*) FROM compliance_finding f WHERE f.account_id = a.id AND f.status <> 'RESOLVED') AS open,
              (SELECT coalesce(json_agg(json_build_object('currency', t.currency, 'amount', t.amount::text) ORDER BY t.currency), '[]'::json)
                 FROM (SELECT f.currency, sum(f.leakage_minor) AS amount FROM compliance_finding f
                        WHERE f.account_id = a.id AND f.status <> 'RESOLVED' AND f.currency IS NOT NULL GROUP BY f.currency) t) AS leakage,
              (SELECT coalesce(json_agg(x ORDER BY x.leakage_minor DESC NULLS LAST, x.first_seen_at DESC, x.id), '[]'::json) FROM (
                 SELECT f.id, f.kind, f.status, f.entitlement_id, f.feature_key, f.meter_key, f.period_start, f.unit,
                        f.used::text AS used, f.entitled::text AS entitled, f.over::text AS over, f.leakage_minor, f.currency, f.first_seen_at
                   FROM compliance_finding f WHERE f.account_id = a.id AND f.status <> 'RESOLVED'
                  ORDER BY f.leakage_minor DESC NULLS LAST, f.first_seen_at DESC, f.id LIMIT $2) x) AS items
         FROM unnest($1::uuid[]) AS a(id)`,
      [[...accountIds], LIST_LIMIT],
    );
    return new Map(
      rows.map((r) => [
        r.account_id,
        {
          count: num(r.open),
          leakage: r.leakage.map((l) => money(l.amount, l.currency)!),
          items: r.items.map((f) => ({
            id: f.id,
            kind: f.kind as FindingKind,
            status: f.status as FindingStatus,
            entitlementId: f.entitlement_id,
            featureKey: f.feature_key,
            meterKey: f.meter_key,
            periodStart: new Date(f.period_start),
            unit: f.unit,
            used: f.used,
            entitled: f.entitled,
            over: f.over,
            leakage: money(f.leakage_minor === null ? null : String(f.leakage_minor), f.currency),
            firstSeenAt: new Date(f.first_seen_at),
          })),
        },
      ]),
    );
  }

  /**
   * Revenue per currency: allocated to the account's obligations, recognised up to and
   * including the current reporting month, and deferred = allocated − recognised (as
   * revenueSchedule computes them for a range ending this month).
   */
  async revenuePositions(accountIds: readonly string[]): Promise<Map<string, RevenuePosition[]>> {
    const rows: { account_id: string; currency: string; allocated: string; recognised: string }[] = await this.q('revenue', `SELECT o.account_id, o.currency, sum(o.allocated_minor)::text AS allocated, coalesce(sum(e.amount), 0)::text AS recognised
         FROM revenue_obligation o
         LEFT JOIN LATERAL (SELECT sum(re.amount_minor) AS amount FROM revenue_entry re WHERE re.obligation_id = o.id AND re.month <= $2::date) e ON true
        WHERE o.account_id = ANY($1::uuid[])
        GROUP BY o.account_id, o.currency
        ORDER BY o.currency`,
      [[...accountIds], this.revenue.currentMonth()],
    );
    return groupBy(rows, (r) => r.account_id, accountIds, (r) => ({
      currency: r.currency,
      allocated: money(r.allocated, r.currency)!,
      recognised: money(r.recognised, r.currency)!,
      deferred: money(BigInt(r.allocated) - BigInt(r.recognised), r.currency)!,
    }));
  }

  /** Per linked system (and each connection serving it): last pull and push runs, the account's outbox items. */
  async syncStatus(accountIds: readonly string[]): Promise<Map<string, SyncSystemStatus[]>> {
    const rows: {
      account_id: string;
      system: string;
      name: string | null;
      type: string | null;
      enabled: boolean | null;
      pull_status: string | null;
      pull_at: Date | null;
      push_status: string | null;
      push_at: Date | null;
      pending: string | null;
      dead: string | null;
      delivered_at: Date | null;
    }[] = await this.q('sync', `SELECT s.account_id, s.system, c.name, c.type, c.enabled,
              pull.status AS pull_status, pull.started_at AS pull_at, push.status AS push_status, push.started_at AS push_at,
              ob.pending, ob.dead, ob.delivered_at
         FROM (SELECT DISTINCT r.entity_id AS account_id, r.system FROM external_ref r
                WHERE r.entity_type = 'ACCOUNT' AND r.entity_id = ANY($1::uuid[])) s
         LEFT JOIN sync_connection c ON c.ref_system = s.system
         LEFT JOIN LATERAL (SELECT status, started_at FROM sync_run WHERE connection_id = c.id AND kind = 'PULL' ORDER BY started_at DESC, id DESC LIMIT 1) pull ON true
         LEFT JOIN LATERAL (SELECT status, started_at FROM sync_run WHERE connection_id = c.id AND kind = 'PUSH' ORDER BY started_at DESC, id DESC LIMIT 1) push ON true
         LEFT JOIN LATERAL (
           SELECT count(*) FILTER (WHERE o.status NOT IN ('DONE','DEAD')) AS pending, count(*) FILTER (WHERE o.status = 'DEAD') AS dead,
                  max(o.delivered_at) AS delivered_at
             FROM sync_outbox o WHERE o.connection_id = c.id AND o.account_id = s.account_id
         ) ob ON c.id IS NOT NULL
        ORDER BY s.system, c.name NULLS LAST`,
      [[...accountIds]],
    );
    return groupBy(rows, (r) => r.account_id, accountIds, (r) => ({
      system: r.system,
      connectionName: r.name,
      connectionType: r.type,
      enabled: r.enabled,
      lastPullStatus: r.pull_status as SyncRunStatus | null,
      lastPullAt: r.pull_at,
      lastPushStatus: r.push_status as SyncRunStatus | null,
      lastPushAt: r.push_at,
      outboxPending: num(r.pending),
      outboxDead: num(r.dead),
      lastDeliveredAt: r.delivered_at,
    }));
  }

  /**
   * The account's history, newest first, at most `limit` events: orders, renewal lines,
   * terms that ended without a renewal, findings opened and resolved, payments (ERP), merges and their undoing. Each source is cut to
   * `limit` rows before the merge, so the cost is bounded by the limit, not the history.
   */
  async timeline(accountIds: readonly string[], limit: number): Promise<Map<string, TimelineEvent[]>> {
    const rows: { account_id: string; at: Date; kind: string; summary: string; ref_id: string; amount: string | null; currency: string | null }[] =
      await this.q('timeline', `SELECT a.id AS account_id, t.*
           FROM unnest($1::uuid[]) AS a(id)
           CROSS JOIN LATERAL (
             SELECT * FROM (
               (SELECT (o.order_date::timestamp AT TIME ZONE 'UTC') AS at, 'ORDER' AS kind,
                       'Order ' || o.source || '/' || o.external_id || ' (' || t.n || ' line' || CASE WHEN t.n = 1 THEN '' ELSE 's' END || ')' AS summary,
                       o.id::text AS ref_id, t.amount::text AS amount, o.currency
                  FROM (SELECT * FROM sales_order o WHERE o.account_id = a.id ORDER BY o.order_date DESC, o.id LIMIT $2) o
                  CROSS JOIN LATERAL (SELECT count(*) AS n, round(sum(l.quantity * l.unit_price_minor))::bigint AS amount
                                        FROM order_line l WHERE l.order_id = o.id AND l.status = 'ACTIVE') t)
               UNION ALL
               (SELECT (o.order_date::timestamp AT TIME ZONE 'UTC'), 'RENEWAL',
                       'Renewed ' || l.sku || ' × ' || trim_scale(l.quantity)::text || ' until ' || to_char(l.end_date, 'YYYY-MM-DD'),
                       l.id::text, round(l.quantity * l.unit_price_minor)::bigint::text, l.currency
                  FROM order_line l JOIN sales_order o ON o.id = l.order_id
                 WHERE l.account_id = a.id AND l.action = 'RENEWAL' AND l.status = 'ACTIVE'
                 ORDER BY o.order_date DESC, l.id LIMIT $2)
               UNION ALL
               (SELECT ((l.end_date + 1)::timestamp AT TIME ZONE 'UTC'), 'TERM_ENDED',
                       'Term of ' || l.sku || ' × ' || trim_scale(l.quantity)::text || ' ended ' || to_char(l.end_date, 'YYYY-MM-DD') || ' without a renewal',
                       l.id::text, NULL, NULL
                  FROM order_line l
                 WHERE l.account_id = a.id AND l.status = 'ACTIVE' AND l.action IN ('NEW','RENEWAL') AND l.end_date < $3::date
                   AND NOT EXISTS (SELECT 1 FROM order_line r WHERE r.renews_line_id = l.id AND r.status = 'ACTIVE')
                 ORDER BY l.end_date DESC, l.id LIMIT $2)
               UNION ALL
               (SELECT f.first_seen_at, 'FINDING_OPENED', 'Finding ' || f.kind || coalesce(' on ' || coalesce(f.feature_key, f.meter_key), '') || ' opened',
                       f.id::text, f.leakage_minor::text, f.currency
                  FROM compliance_finding f WHERE f.account_id = a.id
                 ORDER BY f.first_seen_at DESC, f.id LIMIT $2)
               UNION ALL
               (SELECT f.status_changed_at, 'FINDING_RESOLVED', 'Finding ' || f.kind || coalesce(' on ' || coalesce(f.feature_key, f.meter_key), '') || ' resolved' ||
                       CASE WHEN f.auto_resolved THEN ' (automatically)' ELSE '' END,
                       f.id::text, NULL, NULL
                  FROM compliance_finding f WHERE f.account_id = a.id AND f.status = 'RESOLVED' AND f.status_changed_at IS NOT NULL
                 ORDER BY f.status_changed_at DESC, f.id LIMIT $2)
               UNION ALL
               (SELECT (r.doc_date::timestamp AT TIME ZONE 'UTC'), 'PAYMENT', 'Payment' || coalesce(' ' || r.number, '') || ' received',
                       r.id::text, r.amount_minor::text, r.currency
                  FROM receivable r WHERE r.account_id = a.id AND r.kind = 'PAYMENT' AND NOT r.deleted
                 ORDER BY r.doc_date DESC, r.id LIMIT $2)
               UNION ALL
               (SELECT m.created_at, 'MERGE',
                       CASE WHEN m.survivor_id = a.id THEN 'Account ' || o.name || ' merged into this one' ELSE 'Merged into ' || o.name END
                         || ' (' || m.moved_count || ' rows moved)',
                       m.id::text, NULL, NULL
                  FROM account_merge m JOIN account o ON o.id = CASE WHEN m.survivor_id = a.id THEN m.merged_id ELSE m.survivor_id END
                 WHERE m.survivor_id = a.id OR m.merged_id = a.id
                 ORDER BY m.created_at DESC, m.id LIMIT $2)
               UNION ALL
               (SELECT m.unmerged_at, 'UNMERGE',
                       CASE WHEN m.survivor_id = a.id THEN 'Merge of account ' || o.name || ' undone' ELSE 'Merge into ' || o.name || ' undone' END,
                       m.id::text, NULL, NULL
                  FROM account_merge m JOIN account o ON o.id = CASE WHEN m.survivor_id = a.id THEN m.merged_id ELSE m.survivor_id END
                 WHERE (m.survivor_id = a.id OR m.merged_id = a.id) AND m.status = 'UNMERGED' AND m.unmerged_at IS NOT NULL
                 ORDER BY m.unmerged_at DESC, m.id LIMIT $2)
             ) x ORDER BY x.at DESC, x.kind, x.ref_id LIMIT $2
           ) t`,
        [[...accountIds], limit, this.today()],
      );
    return groupBy(rows, (r) => r.account_id, accountIds, (r) => ({
      at: new Date(r.at),
      kind: r.kind as TimelineKind,
      summary: r.summary,
      refId: r.ref_id,
      amount: money(r.amount, r.currency),
    }));
  }
}
