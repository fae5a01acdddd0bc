import { notFound } from '../common/errors';
import { isUuid } from '../common/ids';
import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../common/context';
import type { Db } from '../db/db';
import { assertUnscoped } from '../auth/scope';
import { decideReleaseAccess, ENTITLEMENT_ACCESS_COLUMNS, toEntitlementForAccess, type EntitlementAccessRow } from './access';
import { productByRef, toAccess, type ReleaseRow } from './delivery.service';
import { compareVersionsDesc, normalizeVersion } from './release.rules';
import { BUCKET_SQL, rolloutRefusal } from './rollout';
import type { DeliveryStatus } from './delivery-status.types';

/** Reasons that mean "the customer's maintenance lapsed": a renewal would bring the device the release. */
export const LAPSED_MAINTENANCE = new Set(['MAINTENANCE_ENDED', 'MAINTENANCE_REVOKED', 'WARRANTY_RESTRICTED']);

interface DeviceRow extends EntitlementAccessRow {
  activation_id: string;
  account_id: string;
  software_version: string | null;
  software_channel: string | null;
  platform: string | null;
  architecture: string | null;
  device_type: string | null;
  device_group: string | null;
  bucket: string;
}

/**
 * The device of every active activation of the product with its entitlement's access data
 * (ENTITLEMENT_ACCESS_COLUMNS, per device: the warranty depends on the device)
 * and its place in the release's rollout. $1 product, $2 release, $3 accounts (uuid[]; null: all).
 */
const DEVICES_SQL = `
SELECT a.id AS activation_id, a.account_id, a.software_version, a.software_channel, a.platform, a.architecture, a.device_type, a.device_group,
       ${BUCKET_SQL('a.id', '$2::uuid')} AS bucket,
       ${ENTITLEMENT_ACCESS_COLUMNS}
  FROM activation a
  JOIN entitlement e ON e.id = a.entitlement_id
  LEFT JOIN entitlement_terms t ON t.entitlement_id = e.id
 WHERE e.product_id = $1 AND a.deactivated_at IS NULL AND ($3::uuid[] IS NULL OR a.account_id = ANY($3::uuid[]))`;

/** What a renewal of maintenance would bring one account: its devices held back by lapsed maintenance or warranty, and those devices' entitlements. */
export interface LapsedDevices {
  devices: number;
  entitlementIds: Set<string>;
}

/**
 * `deliveryStatus` (issue 14 part 3, docs/delivery.md#delivery-status): for a product and a
 * release (default: its newest published STABLE release), how many active devices run each
 * version, how many already run the release, how many would be offered it on their next poll,
 * and how many are held back and why — by the same rule and rollout the polls use — with the
 * devices held back by lapsed maintenance counted per account as a renewal opportunity.
 */
export class DeliveryStatusService {
  constructor(private readonly db: Db) {}

  async status(ctx: RequestContext, product: string, releaseId: string | null, now: Date = new Date()): Promise<DeliveryStatus> {
    assertUnscoped(ctx, 'see the delivery status of a whole fleet');
    const m = this.db.manager;
    const p = await productByRef(m, product);
    const releases: ReleaseRow[] = await m.query(
      `SELECT r.*, p.sku FROM release r JOIN product p ON p.id = r.product_id WHERE r.product_id = $1 AND ($2::uuid IS NULL OR r.id = $2::uuid)`,
      [p.id, releaseId && isUuid(releaseId) ? releaseId : null],
    );
    if (releaseId && (!isUuid(releaseId) || releases.length === 0)) throw notFound('Release', releaseId);
    const target = releaseId ? releases[0]! : newestStable(releases);

    const rows: DeviceRow[] = await m.query(DEVICES_SQL, [p.id, target?.id ?? null, null]);
    const versions = new Map<string | null, number>();
    for (const r of rows) versions.set(r.software_version, (versions.get(r.software_version) ?? 0) + 1);
    const out: DeliveryStatus = {
      productId: p.id,
      sku: p.sku,
      releaseId: target?.id ?? null,
      version: target?.version ?? null,
      devices: rows.length,
      versions: [...versions.entries()]
        .map(([version, devices]) => ({ version, devices }))
        .sort((a, b) => (a.version === null ? 1 : b.version === null ? -1 : compareVersionsDesc(a.version, b.version))),
      upToDate: 0,
      offered: 0,
      notified: 0,
      heldBack: [],
      renewalOpportunities: [],
    };
    if (!target) return out;

    const reasons = new Map<string, number>();
    const lapsed = new Map<string, number>();
    const offered: string[] = [];
    for (const { row: r, upToDate, codes } of await this.judge(target, rows, now)) {
      if (upToDate) {
        out.upToDate++;
        continue;
      }
      if (codes.length === 0) {
        offered.push(r.activation_id);
        continue;
      }
      for (const c of new Set(codes)) reasons.set(c, (reasons.get(c) ?? 0) + 1);
      if (codes.some((c) => LAPSED_MAINTENANCE.has(c))) lapsed.set(r.account_id, (lapsed.get(r.account_id) ?? 0) + 1);
    }
    out.offered = offered.length;
    if (offered.length) {
      const [{ n }]: { n: number }[] = await m.query(`SELECT count(*)::int AS n FROM update_notice WHERE release_id = $1 AND activation_id = ANY($2::uuid[])`, [target.id, offered]);
      out.notified = n;
    }
    out.heldBack = [...reasons.entries()].map(([code, devices]) => ({ code, devices })).sort((a, b) => b.devices - a.devices || a.code.localeCompare(b.code));
    out.renewalOpportunities = [...lapsed.entries()].map(([accountId, devices]) => ({ accountId, devices })).sort((a, b) => b.devices - a.devices || a.accountId.localeCompare(b.accountId));
    return out;
  }

  /** The active devices that would be offered `releaseId` on their next poll (for the update notices). */
  async offeredDevices(releaseId: string, now: Date = new Date()): Promise<{ activationId: string; accountId: string; version: string; sku: string }[]> {
    const [target]: ReleaseRow[] = await this.db.manager.query(`SELECT r.*, p.sku FROM release r JOIN product p ON p.id = r.product_id WHERE r.id = $1`, [releaseId]);
    if (!target) return [];
    const rows: DeviceRow[] = await this.db.manager.query(DEVICES_SQL, [target.product_id, target.id, null]);
    return (await this.judge(target, rows, now))
      .filter((j) => !j.upToDate && j.codes.length === 0)
      .map((j) => ({ activationId: j.row.activation_id, accountId: j.row.account_id, version: target.version, sku: target.sku }));
  }

  /**
   * The renewal signal of delivery (ADR 0048): per account (of `accountIds`, or all), the
   * active devices held back from their product's newest published STABLE release by lapsed
   * maintenance or warranty (LAPSED_MAINTENANCE) — by the rule polls use, rollouts aside: a
   * renewal would not change a rollout — and the entitlements of those devices.
   */
  async lapsedByAccount(accountIds: readonly string[] | null, now: Date = new Date(), m: EntityManager = this.db.manager): Promise<Map<string, LapsedDevices>> {
    const out = new Map<string, LapsedDevices>();
    const releases: ReleaseRow[] = await m.query(
      `SELECT r.*, p.sku FROM release r JOIN product p ON p.id = r.product_id
        WHERE r.status = 'PUBLISHED' AND r.channel = 'STABLE'
          AND r.product_id IN (SELECT e.product_id FROM activation a JOIN entitlement e ON e.id = a.entitlement_id
                                WHERE a.deactivated_at IS NULL AND ($1::uuid[] IS NULL OR a.account_id = ANY($1::uuid[])))`,
      [accountIds],
    );
    const byProduct = new Map<string, ReleaseRow[]>();
    for (const r of releases) byProduct.set(r.product_id, [...(byProduct.get(r.product_id) ?? []), r]);
    for (const [productId, rs] of byProduct) {
      const target = newestStable(rs)!;
      const rows: DeviceRow[] = await m.query(DEVICES_SQL, [productId, target.id, accountIds]);
      for (const { row, codes } of await this.judge(target, rows, now, false)) {
        if (!codes.some((c) => LAPSED_MAINTENANCE.has(c))) continue;
        const acc = out.get(row.account_id) ?? { devices: 0, entitlementIds: new Set<string>() };
        acc.devices++;
        acc.entitlementIds.add(row.id);
        out.set(row.account_id, acc);
      }
    }
    return out;
  }

  /** Each device against the release: already on it (or newer), or the reasons it is held back (none: offered); `withRollout` false judges the rule alone. */
  private async judge(target: ReleaseRow, rows: DeviceRow[], now: Date, withRollout = true): Promise<{ row: DeviceRow; upToDate: boolean; codes: string[] }[]> {
    const [rollout]: { status: string; pct: number; groups: string[] }[] = withRollout
      ? await this.db.manager.query(`SELECT status, stages[stage + 1] AS pct, groups FROM release_rollout WHERE release_id = $1`, [target.id])
      : [];
    const release = toAccess(target);
    return rows.map((r) => {
      const current = r.software_version ? normalizeVersion(r.software_version) : null;
      if (current && compareVersionsDesc(current, target.version) <= 0) return { row: r, upToDate: true, codes: [] };
      const decision = decideReleaseAccess(
        release,
        { accountId: r.account_id, activationId: r.activation_id, channel: r.software_channel, currentVersion: current, platform: r.platform, architecture: r.architecture, deviceType: r.device_type },
        [toEntitlementForAccess(r)],
        now,
      );
      const codes = decision.reasons.map((x) => x.code);
      const refusal = decision.allowed ? rolloutRefusal(rollout ?? null, Number(r.bucket), r.device_group) : null;
      if (refusal) codes.push(refusal);
      return { row: r, upToDate: false, codes };
    });
  }
}

/** The newest published STABLE release among `releases`, if any. */
function newestStable(releases: ReleaseRow[]): ReleaseRow | undefined {
  return releases.filter((r) => r.status === 'PUBLISHED' && r.channel === 'STABLE').sort((a, b) => compareVersionsDesc(a.version, b.version))[0];
}
