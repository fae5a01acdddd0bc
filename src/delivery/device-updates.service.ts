import semver from 'semver';
import type { Db } from '../db/db';
import type { RequestContext } from '../common/context';
import { AppError, badInput, notFound } from '../common/errors';
import { isUuid } from '../common/ids';
import type { ApiKeyService } from '../auth/api-key.service';
import { Roles } from '../auth/role';
import { hashUpdateToken } from '../licensing/device.service';
import { decideReleaseAccess, ENTITLEMENTS_FOR_ACCESS_SQL, toEntitlementForAccess, type EntitlementAccessRow, type ReleaseAccessReason } from './access';
import { onUpdateReport, rolloutAdmits } from './rollout';
import { channelsUpTo, compareVersionsDesc, normalizeVersion, type Channel } from './release.rules';
import { toAccess, type DeliveryService, type ReleaseRow } from './delivery.service';

/** The device a request is about, once its credential was accepted. */
export interface PollingDevice {
  id: string;
  accountId: string;
  entitlementId: string;
  fingerprint: string;
  productId: string;
  platform: string | null;
  /** The API key that polled for the device (a tool), or null for the device's own token. */
  apiKeyId: string | null;
}

export interface PollQuery {
  current?: string;
  channel?: string;
  arch?: string;
  type?: string;
}

export interface UpdateOffer {
  release: { id: string; version: string; channel: string; releaseDate: string | null; notes: string | null } | null;
  artifacts: { name: string; platform: string | null; arch: string | null; size: number; sha256: string; sha512: string; signature: string; url: string; expiresAt: string }[];
  heldBack: { version: string; reasons: ReleaseAccessReason[] }[];
}

const STATUSES = ['DOWNLOADING', 'INSTALLED', 'FAILED'];
const CHANNELS = ['STABLE', 'RC', 'BETA', 'ALPHA', 'DEV'];

const refused = (subCode: string, message: string) => new AppError('FORBIDDEN', subCode, message);

/**
 * Device update polling and install reports (ADR 0039, docs/delivery.md). A device
 * authenticates with its update token (issued by activateDevice, stored as a SHA-256 hash);
 * an API key with access to the device's account may poll for it (tools).
 */
export class DeviceUpdateService {
  constructor(
    private readonly db: Db,
    private readonly apiKeys: ApiKeyService,
    private readonly delivery: DeliveryService,
    /** Told after commit when an install report advanced a rollout (more devices are offered the release: MQTT notices). */
    private readonly notices?: { releaseAvailable(releaseId: string): void },
  ) {}

  /**
   * Who may act for device `activationId` with `bearer`. A device token must be this device's
   * (another device's or another account's token: 403 DEVICE_TOKEN_REFUSED, the same answer as
   * an unknown device so ids cannot be probed); an API key must reach the device's account
   * (404 DEVICE_NOT_FOUND otherwise) and may operate (ADMIN, OPERATIONS, INTEGRATION).
   */
  async authenticate(activationId: string, bearer: string | null): Promise<PollingDevice> {
    if (!bearer) throw new AppError('UNAUTHENTICATED', 'DEVICE_TOKEN_MISSING', 'Send the device\'s update token (from activateDevice): Authorization: Bearer ehd_...');
    const id = isUuid(activationId) ? activationId : null;
    const load = async (): Promise<(PollingDevice & { hash: string | null; deactivated: boolean }) | null> => {
      if (!id) return null;
      const [r]: { id: string; account_id: string; entitlement_id: string; fingerprint: string; product_id: string; platform: string | null; update_token_hash: string | null; deactivated: boolean }[] =
        await this.db.manager.query(
          `SELECT a.id, a.account_id, a.entitlement_id, a.fingerprint, e.product_id, a.platform, a.update_token_hash, a.deactivated_at IS NOT NULL AS deactivated
             FROM activation a JOIN entitlement e ON e.id = a.entitlement_id WHERE a.id = $1`,
          [id],
        );
      return r ? { id: r.id, accountId: r.account_id, entitlementId: r.entitlement_id, fingerprint: r.fingerprint, productId: r.product_id, platform: r.platform, apiKeyId: null, hash: r.update_token_hash, deactivated: r.deactivated } : null;
    };
    if (bearer.startsWith('ehd_')) {
      const d = await load();
      if (!d || !d.hash || d.hash !== hashUpdateToken(bearer)) {
        throw refused('DEVICE_TOKEN_REFUSED', `This update token is not the token of device ${activationId} (another device's, another account's, rotated by a re-activation, or unknown)`);
      }
      if (d.deactivated) throw refused('DEVICE_DEACTIVATED', `Device ${activationId} was deactivated; activate it again for a new update token`);
      return strip(d);
    }
    const principal = await this.apiKeys.authenticate(bearer);
    if (!(Roles.OPERATE_OR_INTEGRATE as readonly string[]).includes(principal.role)) {
      throw new AppError('FORBIDDEN', 'AUTH_ROLE_NOT_ALLOWED', `A ${principal.role} key may not poll for devices (allowed: ${Roles.OPERATE_OR_INTEGRATE.join(', ')})`);
    }
    const d = await load();
    if (!d || (principal.accountId && principal.accountId !== d.accountId)) throw notFound('Device', activationId);
    if (d.deactivated) throw refused('DEVICE_DEACTIVATED', `Device ${activationId} was deactivated`);
    return { ...strip(d), apiKeyId: principal.keyId };
  }

  /**
   * One poll (GET /v1/devices/<id>/update): checks the credential, records what the device
   * runs, then offers the newest release newer than `current` on the asked channel that
   * releaseAccess allows and the rollout admits, with fresh links; the newer releases passed
   * over are explained in `heldBack`. Null when there is nothing newer at all (204). Kept to
   * three statements with a device token (token check + record, releases + entitlements,
   * artifacts + link log), since every device polls.
   */
  async poll(ctx: RequestContext, activationId: string, bearer: string | null, q: PollQuery): Promise<UpdateOffer | null> {
    const current = q.current ? normalizeVersion(q.current) : null;
    if (q.current && !current) throw badInput('DEVICE_VERSION_INVALID', `current=${q.current} is not a semantic version (e.g. 2.3.0)`, [{ path: 'current', message: 'a semantic version' }]);
    const channel = (q.channel ?? 'STABLE').toUpperCase();
    if (!CHANNELS.includes(channel)) throw badInput('DEVICE_CHANNEL_INVALID', `channel=${q.channel} is not one of ${CHANNELS.join(', ')}`, [{ path: 'channel', message: CHANNELS.join(', ') }]);
    const arch = q.arch?.trim() || null;
    const type = q.type?.trim() || null;
    const m = this.db.manager;
    const SET = `software_version = coalesce($2, software_version), software_channel = $3, architecture = coalesce($4, architecture), device_type = coalesce($5, device_type), update_polled_at = now()`;
    let device: PollingDevice;
    if (bearer?.startsWith('ehd_') && isUuid(activationId)) {
      // The token check and the record in one statement; when it matches nothing, authenticate says why.
      // TypeORM answers an UPDATE ... RETURNING with [rows, affected].
      const [[r]]: [{ id: string; account_id: string; entitlement_id: string; fingerprint: string; platform: string | null; product_id: string }[], number] = await m.query(
        `UPDATE activation a SET ${SET} FROM entitlement e
          WHERE a.id = $1 AND a.update_token_hash = $6 AND a.deactivated_at IS NULL AND e.id = a.entitlement_id
          RETURNING a.id, a.account_id, a.entitlement_id, a.fingerprint, a.platform, e.product_id`,
        [activationId, current, channel, arch, type, hashUpdateToken(bearer)],
      );
      if (!r) {
        await this.authenticate(activationId, bearer);
        throw refused('DEVICE_TOKEN_REFUSED', `This update token is not the token of device ${activationId}`);
      }
      device = { id: r.id, accountId: r.account_id, entitlementId: r.entitlement_id, fingerprint: r.fingerprint, productId: r.product_id, platform: r.platform, apiKeyId: null };
    } else {
      device = await this.authenticate(activationId, bearer);
      await m.query(`UPDATE activation SET ${SET} WHERE id = $1`, [device.id, current, channel, arch, type]);
    }
    // The channel's published releases and the device's entitlement, in one round trip.
    const [read]: { releases: (Omit<ReleaseRow, 'release_date'> & { release_date: string | null })[] | null; ents: EntitlementAccessRow[] | null }[] = await m.query(
      `SELECT (SELECT json_agg(r) FROM release r WHERE r.product_id = $1 AND r.status = 'PUBLISHED' AND r.channel = ANY($4::text[])) AS releases,
              (SELECT json_agg(x) FROM (${ENTITLEMENTS_FOR_ACCESS_SQL}) x) AS ents`,
      [device.productId, null, device.id, channelsUpTo(channel as Channel)],
    );
    const releases: ReleaseRow[] = (read.releases ?? []).map((r) => ({ ...r, release_date: r.release_date ? new Date(r.release_date) : null }));
    const newer = releases.filter((r) => !current || semver.gt(r.version, current)).sort((a, b) => compareVersionsDesc(a.version, b.version));
    if (newer.length === 0) return null;
    const ents = (read.ents ?? []).map(toEntitlementForAccess);
    const subject = { activationId: device.id, accountId: device.accountId, channel, currentVersion: current, platform: device.platform, architecture: arch, deviceType: type };
    const heldBack: UpdateOffer['heldBack'] = [];
    const now = new Date();
    for (const r of newer) {
      const decision = decideReleaseAccess(toAccess(r), subject, ents, now);
      if (!decision.allowed) {
        heldBack.push({ version: r.version, reasons: decision.reasons });
        continue;
      }
      const admission = await rolloutAdmits(m, r.id, device.id);
      if (!admission.admitted) {
        heldBack.push({ version: r.version, reasons: [{ code: admission.reason ?? 'ROLLOUT_NOT_YET', message: `Release ${r.version} is being rolled out in stages and does not reach this device yet` }] });
        continue;
      }
      const artifacts = await this.delivery.issueDeviceLinks(m, r.id, { platform: device.platform, arch }, { accountId: device.accountId, device: device.fingerprint, apiKeyId: device.apiKeyId });
      ctx.log.debug({ device: device.id, release: r.id }, 'update offered');
      return {
        release: { id: r.id, version: r.version, channel: r.channel, releaseDate: r.release_date ? r.release_date.toISOString() : null, notes: r.notes },
        artifacts: artifacts.map((a) => ({
          name: a.name,
          platform: a.platform,
          arch: a.arch,
          size: Number(a.size),
          sha256: a.sha256,
          sha512: a.sha512,
          signature: a.signature,
          url: a.url,
          expiresAt: a.expiresAt.toISOString(),
        })),
        heldBack,
      };
    }
    return { release: null, artifacts: [], heldBack };
  }

  /**
   * Stores an install report (and, for INSTALLED, the device's version) and calls the rollout
   * hook in the same transaction. With an idempotency key a retry returns the stored report
   * (`replayed: true`); the same key with another body is CONFLICT IDEMPOTENCY_KEY_REUSED.
   */
  async report(
    ctx: RequestContext,
    device: PollingDevice,
    body: { release?: unknown; status?: unknown; reason?: unknown },
    idempotencyKey: string | null,
  ): Promise<{ report: StoredReport; replayed: boolean }> {
    const status = typeof body.status === 'string' ? body.status.toUpperCase() : null;
    if (!status || !STATUSES.includes(status)) {
      throw badInput('UPDATE_STATUS_INVALID', `status must be one of ${STATUSES.join(', ')}`, [{ path: 'status', message: STATUSES.join(', ') }]);
    }
    if (body.reason !== undefined && body.reason !== null && (typeof body.reason !== 'string' || body.reason.length > 2000)) {
      throw badInput('UPDATE_REASON_INVALID', 'reason must be a string of at most 2000 characters', [{ path: 'reason', message: 'at most 2000 characters' }]);
    }
    const reason = (body.reason as string | null | undefined)?.trim() || null;
    if (idempotencyKey !== null && (idempotencyKey.length < 1 || idempotencyKey.length > 255)) {
      throw badInput('IDEMPOTENCY_KEY_INVALID', 'Idempotency-Key must be 1 to 255 characters', [{ path: 'Idempotency-Key', message: '1 to 255 characters' }]);
    }
    const releaseId = typeof body.release === 'string' ? body.release : '';
    if (!releaseId) throw badInput('UPDATE_RELEASE_REQUIRED', 'release (the release id the report is about) is required', [{ path: 'release', message: 'a release id' }]);
    const [release]: { id: string; product_id: string; version: string }[] = isUuid(releaseId)
      ? await this.db.manager.query(`SELECT id, product_id, version FROM release WHERE id = $1 AND status <> 'DRAFT'`, [releaseId])
      : [];
    if (!release) throw notFound('Release', releaseId);
    if (release.product_id !== device.productId) {
      throw badInput('UPDATE_RELEASE_OTHER_PRODUCT', `Release ${release.version} is of another product than device ${device.id}'s entitlement`, [{ path: 'release', message: 'a release of the device\'s product' }]);
    }
    let advanced = false;
    const out = await this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const inserted: ReportRow[] = await m.query(
        `INSERT INTO device_update_report (activation_id, account_id, release_id, status, reason, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (activation_id, idempotency_key) DO NOTHING RETURNING *`,
        [device.id, device.accountId, release.id, status, reason, idempotencyKey],
      );
      if (inserted.length === 0) {
        const [prior]: ReportRow[] = await m.query(`SELECT * FROM device_update_report WHERE activation_id = $1 AND idempotency_key = $2`, [device.id, idempotencyKey]);
        if (prior.release_id !== release.id || prior.status !== status || prior.reason !== reason) {
          throw new AppError('CONFLICT', 'IDEMPOTENCY_KEY_REUSED', `Idempotency-Key ${idempotencyKey} was used for another report (${prior.status} of release ${prior.release_id})`);
        }
        return { report: toReport(prior), replayed: true };
      }
      const row = inserted[0];
      if (status === 'INSTALLED') await m.query(`UPDATE activation SET software_version = $2 WHERE id = $1`, [device.id, release.version]);
      advanced = (await onUpdateReport(m, { activationId: device.id, accountId: device.accountId, releaseId: release.id, status, reason, reportedAt: row.reported_at })) === 'ADVANCED';
      return { report: toReport(row), replayed: false };
    });
    if (advanced) this.notices?.releaseAvailable(release.id);
    return out;
  }
}

interface ReportRow {
  id: string;
  activation_id: string;
  release_id: string;
  status: string;
  reason: string | null;
  reported_at: Date;
  idempotency_key: string | null;
}

export interface StoredReport {
  id: string;
  device: string;
  release: string;
  status: string;
  reason: string | null;
  reportedAt: string;
}

function toReport(r: ReportRow): StoredReport {
  return { id: r.id, device: r.activation_id, release: r.release_id, status: r.status, reason: r.reason, reportedAt: r.reported_at.toISOString() };
}

function strip<T extends { hash: string | null; deactivated: boolean }>(d: T): Omit<T, 'hash' | 'deactivated'> {
  const { hash: _h, deactivated: _d, ...rest } = d;
  return rest;
}
