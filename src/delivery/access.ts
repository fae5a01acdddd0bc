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
 * THE access hook of software delivery: every download link (and, later, every device update
 * offer) asks this one function whether `subject` may have `release`. Today's rule (issue 14
 * part 2): the release is PUBLISHED, and an account-scoped key or an account subject must
 * hold some entitlement to the release's product. The entitlement rule (`releaseAccess`:
 * channel, compatibility, features, maintenance dates, warranty) replaces the body of this
 * function; callers stay as they are. Throws the refusal as an AppError.
 */
export async function checkReleaseAccess(db: Db, ctx: RequestContext, release: ReleaseForAccess, subject: DownloadSubject): Promise<void> {
  if (release.status === 'YANKED') throw new AppError('CONFLICT', 'RELEASE_YANKED', `Release ${release.version} was yanked: it is no longer offered`, { release: release.id });
  if (release.status !== 'PUBLISHED') throw new AppError('CONFLICT', 'RELEASE_NOT_PUBLISHED', `Release ${release.version} is a draft: publish it (upsertRelease status PUBLISHED) before handing out links`, { release: release.id });
  const account = subject.accountId ?? ctx.principal?.accountId ?? null;
  if (!account) return;
  const rows: unknown[] = await db.manager.query(`SELECT 1 FROM entitlement WHERE account_id = $1 AND product_id = $2 LIMIT 1`, [account, release.productId]);
  if (rows.length === 0) {
    // A scoped key must not learn of releases of products it does not hold.
    if (ctx.principal?.accountId) throw notFound('Release', release.id);
    throw new AppError('FORBIDDEN', 'RELEASE_NOT_ENTITLED', `Account ${account} holds no entitlement to the product of release ${release.version}`, { release: release.id, account });
  }
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

/**
 * THE decision rule of issue 14 part 3 (published, channel, compatibility, features,
 * maintenance + grace, warranty), with every reason. Until that change lands it applies
 * the part-2 rule (published, and the account holds the product).
 */
export async function releaseAccess(
  m: EntityManager,
  release: ReleaseForAccess,
  subject: ReleaseAccessSubject,
  _now: Date = new Date(),
): Promise<ReleaseAccessDecision> {
  const reasons: ReleaseAccessReason[] = [];
  if (release.status !== 'PUBLISHED') reasons.push({ code: release.status === 'YANKED' ? 'RELEASE_YANKED' : 'RELEASE_NOT_PUBLISHED', message: `Release ${release.version} is ${release.status.toLowerCase()}` });
  let account = subject.accountId ?? null;
  if (!account && subject.activationId) {
    const a: { account_id: string }[] = await m.query(`SELECT account_id FROM activation WHERE id = $1`, [subject.activationId]);
    account = a[0]?.account_id ?? null;
  }
  const ents: { id: string }[] = account ? await m.query(`SELECT id FROM entitlement WHERE account_id = $1 AND product_id = $2 ORDER BY id LIMIT 1`, [account, release.productId]) : [];
  if (ents.length === 0) reasons.push({ code: 'NOT_ENTITLED', message: `No entitlement to the product of release ${release.version}` });
  return { allowed: reasons.length === 0, reasons, entitlementId: reasons.length === 0 ? ents[0].id : null };
}
