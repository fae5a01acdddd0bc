import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import { Transform, pipeline, type Readable } from 'node:stream';
import semver from 'semver';
import type { EntityManager } from 'typeorm';
import type { Config } from '../config';
import type { RequestContext } from '../common/context';
import { AppError, badInput, notFound } from '../common/errors';
import { isUuid } from '../common/ids';
import { assertAccountVisible, assertUnscoped } from '../auth/scope';
import type { Db } from '../db/db';
import { signCompact } from '../certificates/signing-key.crypto';
import type { SigningKeyService } from '../certificates/signing-key.service';
import { ARTIFACT_SIGNATURE_TYPE, type ArtifactSignaturePayload } from './artifact.verify';
import { checkReleaseAccess, releaseAccess, type DownloadSubject, type ReleaseAccessDecision } from './access';
import { LinkSigner } from './links';
import { artifactNameProblem, channelsUpTo, compareVersionsDesc, normalizeTag, normalizeVersion, type Channel } from './release.rules';
import { FsArtifactStore } from './storage/fs-store';
import type { AnyStore } from './storage/store';
import { ReleaseChannel, ReleaseStatus, type CreateDownloadLinkInput, type DownloadLink, type Release, type ReleaseArtifact, type UpsertReleaseInput } from './delivery.types';

export interface ReleaseRow {
  id: string;
  product_id: string;
  sku: string;
  version: string;
  channel: ReleaseChannel;
  status: ReleaseStatus;
  release_date: Date | null;
  backdated: boolean;
  published_at: Date | null;
  yanked_at: Date | null;
  yank_reason: string | null;
  required_features: string[];
  platforms: string[];
  architectures: string[];
  device_types: string[];
  min_upgrade_from: string | null;
  notes: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface ArtifactRow {
  id: string;
  release_id: string;
  name: string;
  platform: string | null;
  arch: string | null;
  size: string;
  sha256: string;
  sha512: string;
  signature: string;
  kid: string;
  store: 'fs' | 's3';
  storage_key: string;
  created_at: Date;
}

/** A link as the download route checks it: the artifact and the subject recorded when it was made. */
export interface LinkRecord {
  linkId: string;
  artifactId: string;
  releaseId: string;
  accountId: string | null;
  device: string | null;
  apiKeyId: string | null;
  expiresAt: Date;
}

const RELEASE_SELECT = `SELECT r.*, p.sku FROM release r JOIN product p ON p.id = r.product_id`;
// A release date may be set a little ahead of the database clock (clients' clocks drift), not more.
const FUTURE_SLACK_MS = 5 * 60_000;

export function createArtifactStore(config: Config): AnyStore {
  if (config.EHUB_ARTIFACT_STORE === 's3') {
    // The AWS SDK loads only when an S3 store is configured (~0.1 s of every start otherwise).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { S3ArtifactStore } = require('./storage/s3-store') as typeof import('./storage/s3-store');
    return new S3ArtifactStore({
      bucket: config.EHUB_S3_BUCKET!,
      region: config.EHUB_S3_REGION,
      endpoint: config.EHUB_S3_ENDPOINT,
      forcePathStyle: config.EHUB_S3_FORCE_PATH_STYLE,
      accessKeyId: config.EHUB_S3_ACCESS_KEY_ID,
      secretAccessKey: config.EHUB_S3_SECRET_ACCESS_KEY,
    });
  }
  return new FsArtifactStore(path.join(config.dataDir, 'artifacts'));
}

class TooLarge extends Error {
  constructor(readonly limit: number) {
    super(`over ${limit} bytes`);
  }
}

/**
 * Software delivery (docs/delivery.md, ADR 0038): releases of a product, their signed
 * artifacts in the artifact store, and download links logged for compliance.
 */
/** A product by id or SKU; NOT_FOUND PRODUCT_NOT_FOUND when there is none. */
export async function productByRef(m: EntityManager, ref: string): Promise<{ id: string; sku: string }> {
  const [p]: { id: string; sku: string }[] = await m.query(isUuid(ref) ? `SELECT id, sku FROM product WHERE id = $1` : `SELECT id, sku FROM product WHERE sku = $1`, [ref]);
  if (!p) throw notFound('Product', ref);
  return p;
}

export class DeliveryService {
  readonly links: LinkSigner;
  /** Called after a release became PUBLISHED (wired to the update notices in src/server/services.ts). */
  onPublished?: (releaseId: string) => void;
  /** Awaited after a published or yanked release of the product was written (the delivery renewal signal is refreshed). */
  onReleaseChanged?: (ctx: RequestContext, productId: string) => Promise<void>;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly signingKeys: SigningKeyService,
    readonly store: AnyStore = createArtifactStore(config),
  ) {
    this.links = new LinkSigner(config);
  }

  // ---------------------------------------------------------------- releases

  async upsertRelease(ctx: RequestContext, input: UpsertReleaseInput): Promise<Release> {
    assertUnscoped(ctx, 'change releases');
    const version = normalizeVersion(input.version);
    if (!version) throw badInput('RELEASE_VERSION_INVALID', `"${input.version}" is not a semantic version (e.g. 2.4.0 or 2.5.0-rc.1)`, [{ path: 'input.version', message: 'not a semantic version' }]);
    let minUpgradeFrom: string | null | undefined;
    if (input.minUpgradeFrom !== undefined && input.minUpgradeFrom !== null) {
      minUpgradeFrom = input.minUpgradeFrom.trim() === '' ? null : normalizeVersion(input.minUpgradeFrom);
      if (minUpgradeFrom === null && input.minUpgradeFrom.trim() !== '') {
        throw badInput('RELEASE_VERSION_INVALID', `minUpgradeFrom "${input.minUpgradeFrom}" is not a semantic version`, [{ path: 'input.minUpgradeFrom', message: 'not a semantic version' }]);
      }
      if (minUpgradeFrom && semver.gte(minUpgradeFrom, version)) {
        throw badInput('RELEASE_MIN_UPGRADE_INVALID', `minUpgradeFrom ${minUpgradeFrom} must be older than the release ${version}`, [{ path: 'input.minUpgradeFrom', message: 'not older than the release' }]);
      }
    }
    const features = input.requiredFeatures?.map((f) => f.trim()).filter(Boolean);
    const tags = (list?: string[]) => (list ? [...new Set(list.map(normalizeTag).filter(Boolean))].sort() : undefined);

    let publishedNow = false;
    let changedProduct: string | null = null;
    const id = await this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const productId = (await productByRef(m, input.product)).id;
      const [before]: ReleaseRow[] = await m.query(`${RELEASE_SELECT} WHERE r.product_id = $1 AND r.version = $2 FOR UPDATE OF r`, [productId, version]);
      const [{ now }]: { now: Date }[] = await m.query(`SELECT now() AS now`);
      const status = input.status ?? before?.status ?? ReleaseStatus.DRAFT;
      if (before && before.status !== ReleaseStatus.DRAFT && status === ReleaseStatus.DRAFT) {
        throw new AppError('CONFLICT', 'RELEASE_ALREADY_PUBLISHED', `Release ${version} was published; it cannot go back to DRAFT (yank it instead)`);
      }
      if (input.releaseDate && input.releaseDate.getTime() > now.getTime() + FUTURE_SLACK_MS) {
        throw badInput('RELEASE_DATE_IN_FUTURE', `The release date ${input.releaseDate.toISOString()} is in the future; publish the release when it is out`, [{ path: 'input.releaseDate', message: 'in the future' }]);
      }
      const publishing = status !== ReleaseStatus.DRAFT && !before?.published_at;
      const publishedAt = before?.published_at ?? (publishing ? now : null);
      const releaseDate = input.releaseDate ?? before?.release_date ?? (publishing ? now : null);
      const backdated = Boolean(releaseDate && publishedAt && releaseDate.getTime() < publishedAt.getTime() - 1000);
      const yankedAt = status === ReleaseStatus.YANKED ? (before?.yanked_at ?? now) : null;
      const yankReason = status === ReleaseStatus.YANKED ? (input.yankReason ?? before?.yank_reason ?? null) : null;
      const values = [
        productId,
        version,
        input.channel ?? before?.channel ?? ReleaseChannel.STABLE,
        status,
        releaseDate,
        backdated,
        publishedAt,
        yankedAt,
        yankReason,
        features ?? before?.required_features ?? [],
        tags(input.platforms) ?? before?.platforms ?? [],
        tags(input.architectures) ?? before?.architectures ?? [],
        tags(input.deviceTypes) ?? before?.device_types ?? [],
        minUpgradeFrom === undefined ? (before?.min_upgrade_from ?? null) : minUpgradeFrom,
        input.notes === undefined ? (before?.notes ?? null) : input.notes,
      ];
      const [row]: { id: string }[] = await m.query(
        `INSERT INTO release (product_id, version, channel, status, release_date, backdated, published_at, yanked_at, yank_reason,
                              required_features, platforms, architectures, device_types, min_upgrade_from, notes)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)
         ON CONFLICT (product_id, version) DO UPDATE SET channel = $3, status = $4, release_date = $5, backdated = $6, published_at = $7,
           yanked_at = $8, yank_reason = $9, required_features = $10, platforms = $11, architectures = $12, device_types = $13,
           min_upgrade_from = $14, notes = $15, updated_at = now()
         RETURNING id`,
        values,
      );
      const [after]: ReleaseRow[] = await m.query(`${RELEASE_SELECT} WHERE r.id = $1`, [row!.id]);
      tx.audit({ entity: 'Release', entityId: row!.id, action: before ? 'UPDATE' : 'CREATE', before: before ?? null, after });
      publishedNow = status === 'PUBLISHED' && before?.status !== 'PUBLISHED';
      if (status !== ReleaseStatus.DRAFT) changedProduct = productId;
      return row!.id;
    });
    // After the commit: the "update available" notices (MQTT, when configured). Never fails the write.
    if (publishedNow) this.onPublished?.(id);
    if (changedProduct) await this.onReleaseChanged?.(ctx, changedProduct);
    return this.release(ctx, id);
  }

  async release(ctx: RequestContext, id: string): Promise<Release> {
    const row = isUuid(id) ? (await this.db.manager.query(`${RELEASE_SELECT} WHERE r.id = $1`, [id]))[0] as ReleaseRow | undefined : undefined;
    if (!row || !(await this.visible(ctx, row))) throw notFound('Release', id);
    return (await this.withArtifacts([row]))[0]!;
  }

  /** A product's releases, newest version first; `channel` includes the more stable ones. Account-scoped keys see published releases of products they hold. */
  async releases(ctx: RequestContext, product: string, channel?: ReleaseChannel, statuses?: ReleaseStatus[]): Promise<Release[]> {
    const scoped = ctx.principal?.accountId ?? null;
    const rows: ReleaseRow[] = await this.db.manager.query(
      `${RELEASE_SELECT}
        WHERE ${isUuid(product) ? 'p.id = $1' : 'p.sku = $1'}
          AND ($2::text[] IS NULL OR r.channel = ANY($2))
          AND ($3::text[] IS NULL OR r.status = ANY($3))
          AND ($4::uuid IS NULL OR (r.status = 'PUBLISHED' AND EXISTS (SELECT 1 FROM entitlement e WHERE e.account_id = $4 AND e.product_id = r.product_id)))`,
      [product, channel ? channelsUpTo(channel as Channel) : null, statuses?.length ? statuses : null, scoped],
    );
    rows.sort((a, b) => compareVersionsDesc(a.version, b.version));
    return this.withArtifacts(rows);
  }

  private async visible(ctx: RequestContext, row: ReleaseRow): Promise<boolean> {
    const scoped = ctx.principal?.accountId;
    if (!scoped) return true;
    if (row.status !== ReleaseStatus.PUBLISHED) return false;
    const held: unknown[] = await this.db.manager.query(`SELECT 1 FROM entitlement WHERE account_id = $1 AND product_id = $2 LIMIT 1`, [scoped, row.product_id]);
    return held.length > 0;
  }

  private async withArtifacts(rows: ReleaseRow[]): Promise<Release[]> {
    if (rows.length === 0) return [];
    const artifacts: ArtifactRow[] = await this.db.manager.query(`SELECT * FROM release_artifact WHERE release_id = ANY($1) ORDER BY name`, [rows.map((r) => r.id)]);
    return rows.map((r) => ({
      id: r.id,
      productId: r.product_id,
      productSku: r.sku,
      version: r.version,
      channel: r.channel,
      status: r.status,
      releaseDate: r.release_date,
      backdated: r.backdated,
      publishedAt: r.published_at,
      yankedAt: r.yanked_at,
      yankReason: r.yank_reason,
      requiredFeatures: r.required_features,
      compatibility: { platforms: r.platforms, architectures: r.architectures, deviceTypes: r.device_types, minUpgradeFrom: r.min_upgrade_from },
      notes: r.notes,
      artifacts: artifacts.filter((a) => a.release_id === r.id).map(toArtifact),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    }));
  }

  // ---------------------------------------------------------------- artifacts

  /**
   * Streams an upload into the store while hashing it (SHA-256 and SHA-512), then signs and
   * records it. Refused before anything is stored: a bad name, an unknown or yanked release,
   * a name already used; refused with nothing kept: a body over EHUB_ARTIFACT_MAX_BYTES.
   */
  async uploadArtifact(ctx: RequestContext, releaseId: string, name: string, body: Readable, meta: { platform?: string | null; arch?: string | null } = {}): Promise<ReleaseArtifact> {
    assertUnscoped(ctx, 'upload artifacts');
    const problem = artifactNameProblem(name);
    if (problem) throw badInput('ARTIFACT_NAME_INVALID', `The artifact name ${JSON.stringify(name)} ${problem}`);
    const release = isUuid(releaseId) ? ((await this.db.manager.query(`${RELEASE_SELECT} WHERE r.id = $1`, [releaseId]))[0] as ReleaseRow | undefined) : undefined;
    if (!release) throw notFound('Release', releaseId);
    if (release.status === ReleaseStatus.YANKED) throw new AppError('CONFLICT', 'RELEASE_YANKED', `Release ${release.version} was yanked: no more artifacts can be added`);
    const taken: unknown[] = await this.db.manager.query(`SELECT 1 FROM release_artifact WHERE release_id = $1 AND name = $2`, [release.id, name]);
    if (taken.length) throw new AppError('CONFLICT', 'ARTIFACT_EXISTS', `Release ${release.version} already has an artifact named ${name}; artifacts are immutable once signed`);

    const max = this.config.EHUB_ARTIFACT_MAX_BYTES;
    const sha256 = createHash('sha256');
    const sha512 = createHash('sha512');
    let size = 0;
    const hashing = new Transform({
      highWaterMark: 1024 * 1024,
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > max) return cb(new TooLarge(max));
        sha256.update(chunk);
        sha512.update(chunk);
        cb(null, chunk);
      },
    });
    pipeline(body, hashing, () => undefined);
    const id = randomUUID();
    const key = `${release.id}/${id}/${name}`;
    try {
      await this.store.put(key, hashing);
    } catch (err) {
      if (err instanceof TooLarge) {
        throw new AppError('LIMIT_EXCEEDED', 'ARTIFACT_TOO_LARGE', `The artifact is over the limit of ${max} bytes (EHUB_ARTIFACT_MAX_BYTES); nothing was kept`, { limit: max });
      }
      throw err;
    }
    const digests = { size, sha256: sha256.digest('hex'), sha512: sha512.digest('hex') };
    try {
      const pair = await this.signingKeys.current(ctx);
      const payload: ArtifactSignaturePayload = {
        iss: 'ehub',
        artifact: id,
        release: release.id,
        product: release.sku,
        version: release.version,
        channel: release.channel,
        file: name,
        platform: meta.platform ? normalizeTag(meta.platform) : null,
        arch: meta.arch ? normalizeTag(meta.arch) : null,
        ...digests,
        iat: Math.floor(Date.now() / 1000),
      };
      const signature = signCompact({ alg: 'EdDSA', typ: ARTIFACT_SIGNATURE_TYPE, kid: pair.kid }, payload as unknown as Record<string, unknown>, pair.privateKey);
      const row = await this.db.tx(ctx, async (tx) => {
        // Yanked while the bytes were arriving: refused now (the file is removed below).
        const [current]: { status: string }[] = await tx.manager.query(`SELECT status FROM release WHERE id = $1 FOR SHARE`, [release.id]);
        if (current?.status === ReleaseStatus.YANKED) throw new AppError('CONFLICT', 'RELEASE_YANKED', `Release ${release.version} was yanked during the upload; nothing was kept`);
        const [r]: ArtifactRow[] = await tx.manager.query(
          `INSERT INTO release_artifact (id, release_id, name, platform, arch, size, sha256, sha512, signature, kid, store, storage_key)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) RETURNING *`,
          [id, release.id, name, payload.platform, payload.arch, size, digests.sha256, digests.sha512, signature, pair.kid, this.store.kind, key],
        );
        tx.audit({ entity: 'ReleaseArtifact', entityId: id, action: 'CREATE', after: { ...r, signature: undefined } });
        return r!;
      });
      ctx.log.info({ release: release.id, artifact: id, name, size }, 'artifact stored and signed');
      return toArtifact(row);
    } catch (err) {
      await this.store.remove(key).catch(() => undefined);
      if ((err as { code?: string }).code === '23505') throw new AppError('CONFLICT', 'ARTIFACT_EXISTS', `Release ${release.version} already has an artifact named ${name}`);
      throw err;
    }
  }

  async artifactRow(id: string): Promise<ArtifactRow | null> {
    if (!isUuid(id)) return null;
    const [row]: ArtifactRow[] = await this.db.manager.query(`SELECT * FROM release_artifact WHERE id = $1`, [id]);
    return row ?? null;
  }

  // ---------------------------------------------------------------- access

  /** releaseAccess for a release and one subject (account, device id or device serial). */
  async releaseAccess(
    ctx: RequestContext,
    a: { release: string; accountId?: string | null; deviceId?: string | null; deviceSerial?: string | null; channel?: string | null; currentVersion?: string | null },
  ): Promise<ReleaseAccessDecision> {
    const m = this.db.manager;
    const scoped = ctx.principal?.accountId ?? null;
    let accountId = a.accountId ?? null;
    let device: { id: string; account_id: string; platform: string | null; architecture: string | null; device_type: string | null; software_version: string | null } | undefined;
    if (a.deviceId || a.deviceSerial) {
      const rows: NonNullable<typeof device>[] = a.deviceId
        ? isUuid(a.deviceId)
          ? await m.query(`SELECT id, account_id, platform, architecture, device_type, software_version FROM activation WHERE id = $1`, [a.deviceId])
          : []
        : await m.query(
            `SELECT id, account_id, platform, architecture, device_type, software_version FROM activation
              WHERE serial = $1 AND ($2::uuid IS NULL OR account_id = $2) ORDER BY deactivated_at IS NULL DESC, activated_at DESC LIMIT 1`,
            [a.deviceSerial, scoped ?? (accountId && isUuid(accountId) ? accountId : null)],
          );
      device = rows[0];
      const name = (a.deviceId ?? a.deviceSerial)!;
      if (!device || (scoped && device.account_id !== scoped) || (accountId && device.account_id !== accountId)) throw notFound('Device', name);
      accountId = device.account_id;
    }
    accountId ??= scoped;
    if (!accountId) {
      throw badInput('RELEASE_ACCESS_SUBJECT_REQUIRED', 'Give accountId, deviceId or deviceSerial', [{ path: 'accountId', message: 'accountId, deviceId or deviceSerial' }]);
    }
    assertAccountVisible(ctx, accountId);
    const exists: unknown[] = isUuid(accountId) ? await m.query(`SELECT 1 FROM account WHERE id = $1`, [accountId]) : [];
    if (!exists.length) throw notFound('Account', accountId);
    const [row]: ReleaseRow[] = isUuid(a.release) ? await m.query(`${RELEASE_SELECT} WHERE r.id = $1`, [a.release]) : [];
    if (!row || !(await this.visible(ctx, row))) throw notFound('Release', a.release);
    return releaseAccess(m, toAccess(row), {
      accountId,
      activationId: device?.id ?? null,
      channel: a.channel ?? null,
      currentVersion: a.currentVersion ?? device?.software_version ?? null,
      platform: device?.platform ?? null,
      architecture: device?.architecture ?? null,
      deviceType: device?.device_type ?? null,
    });
  }

  // ---------------------------------------------------------------- links

  /** A short-lived URL for one artifact and one subject, logged (LINK_CREATED). Access goes through checkReleaseAccess. */
  async createDownloadLink(ctx: RequestContext, input: CreateDownloadLinkInput): Promise<DownloadLink> {
    const row = await this.artifactRow(input.artifact);
    if (!row) throw notFound('Artifact', input.artifact);
    const [release]: ReleaseRow[] = await this.db.manager.query(`${RELEASE_SELECT} WHERE r.id = $1`, [row.release_id]);
    if (!(await this.visible(ctx, release!))) throw notFound('Artifact', input.artifact);
    const accountId = input.account ?? ctx.principal?.accountId ?? null;
    if (accountId) {
      assertAccountVisible(ctx, accountId);
      const exists: unknown[] = await this.db.manager.query(`SELECT 1 FROM account WHERE id = $1`, [isUuid(accountId) ? accountId : null]);
      if (!exists.length) throw notFound('Account', accountId);
    }
    const device = input.deviceFingerprint?.trim() || null;
    if (device && !accountId) throw badInput('DOWNLOAD_DEVICE_NEEDS_ACCOUNT', 'A device subject needs its account (input.account)');
    if (device) {
      const active: unknown[] = await this.db.manager.query(`SELECT 1 FROM activation WHERE account_id = $1 AND fingerprint = $2 AND deactivated_at IS NULL LIMIT 1`, [accountId, device]);
      if (!active.length) throw notFound('Device', device);
    }
    const subject: DownloadSubject = { accountId, deviceFingerprint: device };
    await checkReleaseAccess(this.db, ctx, toAccess(release!), subject);

    const ttl = input.ttlSeconds ?? this.config.EHUB_DOWNLOAD_LINK_TTL_SECONDS;
    const maxTtl = this.config.EHUB_DOWNLOAD_LINK_MAX_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > maxTtl) {
      throw badInput('DOWNLOAD_LINK_TTL_INVALID', `ttlSeconds must be 1 to ${maxTtl} (EHUB_DOWNLOAD_LINK_MAX_TTL_SECONDS)`, [{ path: 'input.ttlSeconds', message: `1 to ${maxTtl}` }]);
    }
    const linkId = randomUUID();
    const expires = Math.floor(Date.now() / 1000) + ttl;
    const expiresAt = new Date(expires * 1000);
    let url: string;
    if (this.store.kind === 'fs') {
      const link = { linkId, artifactId: row.id, expires };
      const base = (this.config.EHUB_PUBLIC_URL ?? `http://localhost:${this.config.PORT}`).replace(/\/+$/, '');
      url = base + this.links.path(link, row.name, await this.links.sign(link));
    } else {
      url = await this.store.presign(row.storage_key, ttl, row.name);
    }
    await this.db.tx(ctx, async (tx) => {
      await tx.manager.query(
        `INSERT INTO download_log (event, link_id, artifact_id, release_id, account_id, device, api_key_id, store, expires_at)
         VALUES ('LINK_CREATED', $1, $2, $3, $4, $5, $6, $7, $8)`,
        [linkId, row.id, row.release_id, accountId, device, ctx.principal?.keyId ?? null, this.store.kind, expiresAt],
      );
      tx.audit({ entity: 'DownloadLink', entityId: linkId, action: 'CREATE', after: { artifact: row.id, account: accountId, device, expiresAt } });
    });
    return { id: linkId, url, expiresAt, artifact: toArtifact(row), store: this.store.kind };
  }

  /**
   * Fresh links to a release's artifacts for one device (update polls), filtered by platform
   * and arch (an artifact without one fits any): the same URLs as createDownloadLink
   * (HMAC-signed hub links, or presigned S3 URLs), logged LINK_CREATED by the one statement
   * that also reads the artifacts. Access was decided by the caller (releaseAccess + rolloutAdmits).
   */
  async issueDeviceLinks(
    m: EntityManager,
    releaseId: string,
    filter: { platform: string | null; arch: string | null },
    subject: { accountId: string; device: string; apiKeyId: string | null },
  ): Promise<(ArtifactRow & { url: string; expiresAt: Date })[]> {
    const ttl = this.config.EHUB_DOWNLOAD_LINK_TTL_SECONDS;
    const expires = Math.floor(Date.now() / 1000) + ttl;
    const expiresAt = new Date(expires * 1000);
    const rows: (ArtifactRow & { link_id: string })[] = await m.query(
      `WITH art AS (
         SELECT a.*, gen_random_uuid() AS link_id FROM release_artifact a
          WHERE a.release_id = $1 AND ($2::text IS NULL OR a.platform IS NULL OR lower(a.platform) = lower($2))
            AND ($3::text IS NULL OR a.arch IS NULL OR lower(a.arch) = lower($3))),
       ins AS (
         INSERT INTO download_log (event, link_id, artifact_id, release_id, account_id, device, api_key_id, store, expires_at)
         SELECT 'LINK_CREATED', link_id, id, release_id, $4, $5, $6, $7, $8 FROM art)
       SELECT * FROM art ORDER BY name`,
      [releaseId, filter.platform, filter.arch, subject.accountId, subject.device, subject.apiKeyId, this.store.kind, expiresAt],
    );
    const base = (this.config.EHUB_PUBLIC_URL ?? `http://localhost:${this.config.PORT}`).replace(/\/+$/, '');
    const out: (ArtifactRow & { url: string; expiresAt: Date })[] = [];
    for (const row of rows) {
      let url: string;
      if (this.store.kind === 'fs') {
        const link = { linkId: row.link_id, artifactId: row.id, expires };
        url = base + this.links.path(link, row.name, await this.links.sign(link));
      } else {
        url = await this.store.presign(row.storage_key, ttl, row.name);
      }
      out.push({ ...row, url, expiresAt });
    }
    return out;
  }

  /** The link as it was created (LINK_CREATED row), or null. */
  async linkRecord(linkId: string): Promise<LinkRecord | null> {
    if (!isUuid(linkId)) return null;
    const [r]: { link_id: string; artifact_id: string; release_id: string; account_id: string | null; device: string | null; api_key_id: string | null; expires_at: Date }[] =
      await this.db.manager.query(`SELECT * FROM download_log WHERE link_id = $1 AND event = 'LINK_CREATED'`, [linkId]);
    return r ? { linkId: r.link_id, artifactId: r.artifact_id, releaseId: r.release_id, accountId: r.account_id, device: r.device, apiKeyId: r.api_key_id, expiresAt: r.expires_at } : null;
  }

  async releaseStatus(releaseId: string): Promise<{ status: ReleaseStatus; version: string } | null> {
    const [r]: { status: ReleaseStatus; version: string }[] = await this.db.manager.query(`SELECT status, version FROM release WHERE id = $1`, [releaseId]);
    return r ?? null;
  }

  /** Records a completed download (the whole requested range was handed to the client). */
  async logDownload(link: LinkRecord, range: { start: number; end: number }, clientIp: string | null): Promise<void> {
    await this.db.manager.query(
      `INSERT INTO download_log (event, link_id, artifact_id, release_id, account_id, device, api_key_id, store, range_start, range_end, bytes, client_ip)
       VALUES ('DOWNLOADED', $1, $2, $3, $4, $5, $6, 'fs', $7, $8, $9, $10)`,
      [link.linkId, link.artifactId, link.releaseId, link.accountId, link.device, link.apiKeyId, range.start, range.end, range.end - range.start + 1, clientIp],
    );
  }
}

export function toArtifact(r: ArtifactRow): ReleaseArtifact {
  return {
    id: r.id,
    releaseId: r.release_id,
    name: r.name,
    platform: r.platform,
    arch: r.arch,
    size: Number(r.size),
    sha256: r.sha256,
    sha512: r.sha512,
    signature: r.signature,
    kid: r.kid,
    createdAt: r.created_at,
  };
}

export function toAccess(r: ReleaseRow) {
  return {
    id: r.id,
    productId: r.product_id,
    version: r.version,
    channel: r.channel,
    status: r.status,
    releaseDate: r.release_date,
    requiredFeatures: r.required_features,
    platforms: r.platforms,
    architectures: r.architectures,
    deviceTypes: r.device_types,
    minUpgradeFrom: r.min_upgrade_from,
  };
}
