import semver from 'semver';
import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../common/context';
import { AppError, notFound } from '../common/errors';
import type { Db } from '../db/db';

/** Who a download link is for. */
export interface DownloadSubject {
  accountId: string | null;
  deviceFingerprint: string | null;
}

/** The release fields an access decision reads (kept in step with the release table). */
export interface ReleaseForAccess {
  id: string;
  productId: string;
  version: string;
  channel: string;
  status: string;
  releaseDate: Date | null;
  requiredFeatures: string[];
  platforms: string[];
  architectures: string[];
  deviceTypes: string[];
  minUpgradeFrom: string | null;
}

/**
 * THE access hook of download links: `releaseAccess` for the link's account (any channel: a
 * link names its artifact), throwing the first refusal as an AppError. Yanked and draft
 * releases are CONFLICT (`RELEASE_YANKED`, `RELEASE_NOT_PUBLISHED`); an account-scoped key
 * whose account holds nothing of the product gets NOT_FOUND (it must not learn of the
 * release); an account without an entitlement is FORBIDDEN `RELEASE_NOT_ENTITLED`; any other
 * refusal is FORBIDDEN with the rule's code (MAINTENANCE_ENDED, FEATURE_MISSING, ...).
 */
export async function checkReleaseAccess(db: Db, ctx: RequestContext, release: ReleaseForAccess, subject: DownloadSubject): Promise<void> {
  if (release.status === 'YANKED') throw new AppError('CONFLICT', 'RELEASE_YANKED', `Release ${release.version} was yanked: it is no longer offered`, { release: release.id });
  if (release.status !== 'PUBLISHED') throw new AppError('CONFLICT', 'RELEASE_NOT_PUBLISHED', `Release ${release.version} is a draft: publish it (upsertRelease status PUBLISHED) before handing out links`, { release: release.id });
  const account = subject.accountId ?? ctx.principal?.accountId ?? null;
  if (!account) return;
  const decision = await releaseAccess(db.manager, release, { accountId: account, channel: 'DEV' });
  if (decision.allowed) return;
  const first = decision.reasons[0];
  if (first.code === 'NOT_ENTITLED') {
    // A scoped key must not learn of releases of products it does not hold.
    if (ctx.principal?.accountId) throw notFound('Release', release.id);
    throw new AppError('FORBIDDEN', 'RELEASE_NOT_ENTITLED', `Account ${account} holds no entitlement to the product of release ${release.version}`, { release: release.id, account });
  }
  throw new AppError('FORBIDDEN', first.code, first.message, { release: release.id, account, reasons: decision.reasons });
}

// ------------------------------------------------------------------ issue 14 part 3 contract
// The interfaces below are the contract between the two halves of part 3 (access + device
// updates, and rollouts + delivery status). Bodies are filled in by those changes; the
// signatures stay.

/** Who asks for a release: an account, or one device (an activation). */
export interface ReleaseAccessSubject {
  accountId?: string | null;
  /** The device: its activation id (a device is an activation of a DEVICE_LOCKED entitlement). */
  activationId?: string | null;
  /** The channel the subject asks for (includes the more stable ones); default STABLE. */
  channel?: string | null;
  /** The version the device runs now (for minUpgradeFrom); null = unknown. */
  currentVersion?: string | null;
  /** The device's platform / architecture / device type, for compatibility; null = unknown. */
  platform?: string | null;
  architecture?: string | null;
  deviceType?: string | null;
}

/** One reason a release is refused (or a note on why it is allowed). */
export interface ReleaseAccessReason {
  /** A stable code, e.g. RELEASE_NOT_PUBLISHED, CHANNEL_MISMATCH, INCOMPATIBLE_PLATFORM, FEATURE_MISSING, MAINTENANCE_ENDED, WARRANTY_RESTRICTED, NOT_ENTITLED. */
  code: string;
  /** For people, with the dates that decided it: "maintenance ended 2026-03-31, release published 2026-05-02". */
  message: string;
}

export interface ReleaseAccessDecision {
  allowed: boolean;
  /** Every reason the release is refused (empty when allowed). */
  reasons: ReleaseAccessReason[];
  /** The entitlement that grants it, when allowed. */
  entitlementId: string | null;
}

/** What the rule knows about one entitlement of the release's product (loaded by `releaseAccess`). */
export interface EntitlementForAccess {
  id: string;
  /** Stored status: ACTIVE, SUSPENDED, EXPIRED, CANCELLED (EXPIRED is judged by the terms, not refused). */
  status: string;
  featureKeys: string[];
  /** Last day of maintenance (YYYY-MM-DD, inclusive); null = perpetual. */
  maintenanceEnd: string | null;
  afterExpiry: string;
  graceDays: number;
  /** The device's warranty end (YYYY-MM-DD) when the terms bind updates to the warranty (see ADR 0039); null otherwise. */
  warrantyEnd: string | null;
}

const CHANNEL_ORDER = ['STABLE', 'RC', 'BETA', 'ALPHA', 'DEV'];
const day = (d: Date) => d.toISOString().slice(0, 10);
const addDaysIso = (iso: string, n: number) => day(new Date(Date.parse(`${iso}T00:00:00Z`) + n * 86_400_000));

/**
 * The pure rule (ADR 0039): every reason `release` is refused to `subject`, given the
 * entitlements of the product that could grant it. Release-level reasons (published,
 * channel, compatibility, minUpgradeFrom) apply whatever the entitlement; the release is
 * allowed when none of them holds and some entitlement has no reason of its own. When every
 * entitlement refuses, the reasons of the one with the latest maintenance end are given.
 * Device attributes: an attribute the subject did not give is unknown; a release that limits
 * that attribute is then refused for a device (it must say what it is) and not checked for an
 * account (no device to judge).
 */
export function decideReleaseAccess(release: ReleaseForAccess, subject: ReleaseAccessSubject, entitlements: EntitlementForAccess[], now: Date): ReleaseAccessDecision {
  const reasons: ReleaseAccessReason[] = [];
  const v = release.version;
  const published = release.releaseDate ? day(release.releaseDate) : null;
  if (release.status === 'YANKED') reasons.push({ code: 'RELEASE_YANKED', message: `Release ${v} was yanked: it is no longer offered` });
  else if (release.status !== 'PUBLISHED') reasons.push({ code: 'RELEASE_NOT_PUBLISHED', message: `Release ${v} is a draft (not published)` });
  const asked = (subject.channel ?? 'STABLE').toUpperCase();
  const askedRank = CHANNEL_ORDER.indexOf(asked);
  if (CHANNEL_ORDER.indexOf(release.channel) > (askedRank < 0 ? 0 : askedRank)) {
    reasons.push({ code: 'CHANNEL_MISMATCH', message: `Release ${v} is on channel ${release.channel}; the ${asked} channel includes ${CHANNEL_ORDER.slice(0, Math.max(askedRank, 0) + 1).join(', ')}` });
  }
  const isDevice = !!subject.activationId;
  const compat: [string, string[], string | null | undefined, string][] = [
    ['INCOMPATIBLE_PLATFORM', release.platforms, subject.platform, 'platform'],
    ['INCOMPATIBLE_ARCHITECTURE', release.architectures, subject.architecture, 'architecture'],
    ['INCOMPATIBLE_DEVICE_TYPE', release.deviceTypes, subject.deviceType, 'device type'],
  ];
  for (const [code, allowed, given, what] of compat) {
    if (allowed.length === 0) continue;
    if (given) {
      if (!allowed.some((a) => a.toLowerCase() === given.toLowerCase())) reasons.push({ code, message: `Release ${v} is for ${what} ${allowed.join(', ')}, not ${given}` });
    } else if (isDevice) {
      reasons.push({ code, message: `Release ${v} is only for ${what} ${allowed.join(', ')}; the device did not say its ${what}` });
    }
  }
  if (release.minUpgradeFrom && subject.currentVersion) {
    const cur = semver.valid(subject.currentVersion.trim().replace(/^v/, ''));
    if (cur && semver.lt(cur, release.minUpgradeFrom)) {
      reasons.push({ code: 'UPGRADE_PATH_UNSUPPORTED', message: `Release ${v} upgrades from ${release.minUpgradeFrom} or later; the device runs ${cur}` });
    }
  }
  if (entitlements.length === 0) {
    reasons.push({ code: 'NOT_ENTITLED', message: `No entitlement to the product of release ${v}` });
    return { allowed: false, reasons, entitlementId: null };
  }
  const today = day(now);
  const per = entitlements.map((e) => {
    const r: ReleaseAccessReason[] = [];
    if (e.status === 'SUSPENDED' || e.status === 'CANCELLED') r.push({ code: 'ENTITLEMENT_NOT_ACTIVE', message: `Entitlement ${e.id} is ${e.status.toLowerCase()}` });
    const missing = release.requiredFeatures.filter((f) => !e.featureKeys.includes(f));
    if (missing.length) r.push({ code: 'FEATURE_MISSING', message: `Release ${v} needs feature ${missing.join(', ')}, which entitlement ${e.id} does not hold` });
    if (e.maintenanceEnd && e.afterExpiry !== 'KEEP_ACCESS') {
      const lastDay = addDaysIso(e.maintenanceEnd, e.graceDays);
      const grace = e.graceDays ? ` (+${e.graceDays} grace days: ${lastDay})` : '';
      if (e.afterExpiry === 'REVOKE' && today > lastDay) {
        r.push({ code: 'MAINTENANCE_REVOKED', message: `maintenance ended ${e.maintenanceEnd}${grace}; access to every release was revoked after it` });
      } else if (published && published > lastDay) {
        r.push({ code: 'MAINTENANCE_ENDED', message: `maintenance ended ${e.maintenanceEnd}${grace}, release published ${published}` });
      }
    }
    if (isDevice && e.warrantyEnd && published && published > e.warrantyEnd) {
      r.push({ code: 'WARRANTY_RESTRICTED', message: `updates of this device are bound to its warranty, which ended ${e.warrantyEnd}; release published ${published}` });
    }
    return { e, r };
  });
  const granting = per.find((x) => x.r.length === 0);
  if (granting && reasons.length === 0) return { allowed: true, reasons: [], entitlementId: granting.e.id };
  if (!granting) {
    const best = [...per].sort((a, b) => a.r.length - b.r.length || (b.e.maintenanceEnd ?? '9999').localeCompare(a.e.maintenanceEnd ?? '9999'))[0];
    reasons.push(...best.r);
  }
  return { allowed: false, reasons, entitlementId: null };
}

/**
 * The entitlements that could grant a release to a subject, in one statement: the device's
 * own entitlement (subject.activationId), or every entitlement of the account for the product.
 * Maintenance end / after-expiry / grace as `SupportService.maintenanceTerms` gives them (the
 * terms' maintenance end, else the entitlement's end date; without terms KEEP_ACCESS with the
 * entitlement's grace days), plus feature keys and the device's warranty end when the terms
 * have a warranty and no maintenance end of their own (ADR 0039).
 */
export async function loadEntitlementsForAccess(m: EntityManager, productId: string, subject: { accountId?: string | null; activationId?: string | null }): Promise<EntitlementForAccess[]> {
  if (!subject.accountId && !subject.activationId) return [];
  const rows: EntitlementAccessRow[] = await m.query(ENTITLEMENTS_FOR_ACCESS_SQL, [productId, subject.accountId ?? null, subject.activationId ?? null]);
  return rows.map(toEntitlementForAccess);
}

/**
 * What the rule reads of an entitlement (the columns of EntitlementAccessRow), over aliases
 * `e` (entitlement), `t` (its entitlement_terms, left-joined) and `a` (the device's
 * activation, left-joined; a null one means no device, so no warranty-bound end).
 */
export const ENTITLEMENT_ACCESS_COLUMNS = `e.id, e.status,
            (SELECT array_agg(f.feature_key) FROM entitlement_feature f WHERE f.entitlement_id = e.id) AS features,
            CASE WHEN t.entitlement_id IS NULL THEN e.end_date::text ELSE coalesce(t.maintenance_end, e.end_date)::text END AS maintenance_end,
            coalesce(t.after_expiry, 'KEEP_ACCESS') AS after_expiry,
            CASE WHEN t.entitlement_id IS NULL THEN e.grace_days ELSE t.expiry_grace_days END AS grace_days,
            CASE WHEN a.id IS NOT NULL AND t.maintenance_end IS NULL AND t.warranty_basis IS NOT NULL THEN
              ((CASE t.warranty_basis WHEN 'ORDER' THEN e.start_date WHEN 'SHIPMENT' THEN coalesce(a.shipped_on, a.activated_at::date) ELSE a.activated_at::date END)
                + make_interval(months => t.warranty_months) - interval '1 day')::date::text END AS warranty_end`;

/** The loader's statement: $1 product, $2 account (or null), $3 activation (or null). Device polls embed it in their one read. */
export const ENTITLEMENTS_FOR_ACCESS_SQL = `SELECT ${ENTITLEMENT_ACCESS_COLUMNS}
       FROM entitlement e
       LEFT JOIN entitlement_terms t ON t.entitlement_id = e.id
       LEFT JOIN activation a ON a.id = $3::uuid AND a.entitlement_id = e.id
      WHERE e.product_id = $1
        AND ($2::uuid IS NULL OR e.account_id = $2)
        AND ($3::uuid IS NULL OR a.id IS NOT NULL)
      ORDER BY e.id`;

export interface EntitlementAccessRow {
  id: string;
  status: string;
  features: string[] | null;
  maintenance_end: string | null;
  after_expiry: string;
  grace_days: number;
  warranty_end: string | null;
}

export function toEntitlementForAccess(r: EntitlementAccessRow): EntitlementForAccess {
  return {
    id: r.id,
    status: r.status,
    featureKeys: r.features ?? [],
    maintenanceEnd: r.maintenance_end,
    afterExpiry: r.after_expiry,
    graceDays: Number(r.grace_days ?? 0),
    warrantyEnd: r.warranty_end,
  };
}

/**
 * THE decision rule of issue 14 part 3 (published, channel, compatibility, features,
 * maintenance + grace, warranty), with every reason: loads the entitlements that could grant
 * the release and applies `decideReleaseAccess`.
 */
export async function releaseAccess(
  m: EntityManager,
  release: ReleaseForAccess,
  subject: ReleaseAccessSubject,
  now: Date = new Date(),
): Promise<ReleaseAccessDecision> {
  const ents = await loadEntitlementsForAccess(m, release.productId, subject);
  return decideReleaseAccess(release, subject, ents, now);
}
