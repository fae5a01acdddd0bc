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
