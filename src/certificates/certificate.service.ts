import { randomUUID } from 'node:crypto';
import type { Config } from '../config';
import type { RequestContext } from '../common/context';
import { badInput, notFound } from '../common/errors';
import type { Db } from '../db/db';
import { assertAccountVisible, accountScope } from '../auth/scope';
import { isUuid } from '../common/ids';
import { MonetizationModel } from '../catalog/catalog.enums';
import { EntitlementStatus } from '../entitlements/entitlement.enums';
import { effectivePhase, type EffectivePhase } from '../entitlements/effective-status';
import { Certificate, DEFAULT_CERTIFICATE_TTL, type IssueCertificateArgs } from './certificate.types';
import { CERTIFICATE_ISSUER, CERTIFICATE_TYPE, type CertificateEntitlement, type CertificatePayload } from './certificate.verify';
import { signCompact } from './signing-key.crypto';
import { SigningKeyService, type JwksDocument, type RotatedSigningKey } from './signing-key.service';
import { trimDecimal } from '../common/decimal';
import { isUsable } from '../licensing/licensing.rules';

interface EntitlementRow {
  account_id: string;
  account_name: string;
  id: string | null;
  sku: string;
  model: MonetizationModel;
  status: EntitlementStatus;
  quantity: string;
  starts_at: Date;
  ends_at: Date | null;
  grace_ends_at: Date | null;
  ended_reason: string | null;
  overage_policy: string | null;
  reset_period: string | null;
  features: { key: string; limit: string | null }[];
  device_activated: boolean;
}

/** The hub's effective status rules (the same as `check` and `Entitlement.status`), from the instants. */
function phaseAt(r: EntitlementRow, now: Date): EffectivePhase {
  return effectivePhase({ status: r.status, startsAt: r.starts_at, endsAt: r.ends_at, graceEndsAt: r.grace_ends_at, endedReason: r.ended_reason }, now);
}


/** `"500.0000"` → `"500"`: limits and quantities read as people write them. */
// One statement: the account, its entitlements (or the one asked for) with their features,
// and whether the device is actively activated on each.
const SELECT_ENTITLEMENTS = `
  SELECT a.id AS account_id, a.name AS account_name,
         e.id, e.sku, e.model, e.status, e.quantity::text AS quantity,
         e.starts_at, e.ends_at, e.grace_ends_at, e.ended_reason, e.overage_policy, e.reset_period,
         COALESCE(json_agg(json_build_object('key', f.feature_key, 'limit', f.limit_total::text) ORDER BY f.feature_key)
                  FILTER (WHERE f.feature_key IS NOT NULL), '[]'::json) AS features,
         EXISTS (SELECT 1 FROM activation ac
                  WHERE ac.entitlement_id = e.id AND ac.fingerprint = $2 AND ac.deactivated_at IS NULL) AS device_activated
    FROM %FROM%
    LEFT JOIN entitlement_feature f ON f.entitlement_id = e.id
   WHERE %WHERE%
   GROUP BY a.id, e.id
   ORDER BY e.starts_at, e.created_at, e.id`;

const BY_ACCOUNT = SELECT_ENTITLEMENTS.replace('%FROM%', 'account a LEFT JOIN entitlement e ON e.account_id = a.id').replace('%WHERE%', 'a.id = $1');
const BY_ENTITLEMENT = SELECT_ENTITLEMENTS.replace('%FROM%', 'entitlement e JOIN account a ON a.id = e.account_id').replace('%WHERE%', 'e.id = $1');

/**
 * Signed entitlement certificates (compact JWS, EdDSA/Ed25519) for deployments that verify
 * their rights offline, and the signing keys behind them (see SigningKeyService).
 */
export class CertificateService {
  readonly signingKeys: SigningKeyService;

  constructor(
    private readonly db: Db,
    config: Config,
  ) {
    this.signingKeys = new SigningKeyService(db, config);
  }

  /** Loads (or, on first start, generates) the signing key and publishes it; fails fast on a bad EHUB_SIGNING_KEY. */
  async ensureSigningKey(ctx: RequestContext): Promise<{ kid: string }> {
    const key = await this.signingKeys.current(ctx);
    return { kid: key.kid };
  }

  /** The JWKS served at `GET /.well-known/jwks.json`. */
  jwks(ctx: RequestContext): Promise<JwksDocument> {
    return this.signingKeys.jwks(ctx);
  }

  /** `ehub keys rotate-signing`. */
  rotateSigning(ctx: RequestContext): Promise<RotatedSigningKey> {
    return this.signingKeys.rotate(ctx);
  }

  /**
   * Certifies the entitlements of an account (those usable or in grace now), or one
   * entitlement, signed with the current key. DEVICE_LOCKED rights are certified only to a
   * device actively activated on them.
   */
  async issue(ctx: RequestContext, args: IssueCertificateArgs): Promise<Certificate> {
    const { accountId, entitlementId } = args;
    const device = args.deviceFingerprint ?? null;
    const ttl = args.ttl ?? DEFAULT_CERTIFICATE_TTL;
    if ((accountId == null) === (entitlementId == null)) {
      const message = accountId == null ? 'required: give accountId or entitlementId' : 'give only one of accountId and entitlementId';
      throw badInput(
        accountId == null ? 'CERTIFICATE_SUBJECT_REQUIRED' : 'CERTIFICATE_SUBJECT_AMBIGUOUS',
        `A certificate is for an account or for one entitlement: ${message}`,
        [
          { path: 'accountId', message },
          { path: 'entitlementId', message },
        ],
      );
    }
    if (accountId != null) {
      if (!isUuid(accountId)) throw notFound('Account', accountId);
      assertAccountVisible(ctx, accountId);
    } else if (!isUuid(entitlementId!)) {
      throw notFound('Entitlement', entitlementId!);
    }

    // Whole seconds, so issuedAt/expiresAt equal the signed iat/exp.
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    // A read of one statement needs no transaction; the transaction below only records the
    // issue (and holds no connection while a key is loaded).
    const rows: EntitlementRow[] = await this.db.manager.query(accountId != null ? BY_ACCOUNT : BY_ENTITLEMENT, [accountId ?? entitlementId, device]);
    const scope = accountScope(ctx);
    if (rows.length === 0 || (scope && rows[0]!.account_id !== scope)) {
      throw accountId != null ? notFound('Account', accountId) : notFound('Entitlement', entitlementId!);
    }
    const account = { id: rows[0]!.account_id, name: rows[0]!.account_name };
    let certified = rows.filter((r) => r.id !== null && isUsable(phaseAt(r, now)));

    if (entitlementId != null) {
      const e = rows[0]!;
      const state = phaseAt(e, now);
      if (!isUsable(state)) {
        throw badInput('CERTIFICATE_ENTITLEMENT_NOT_USABLE', `Entitlement ${e.id} is ${state.replace('_', ' ').toLowerCase()}: only rights usable now can be certified`, [
          { path: 'entitlementId', message: `is ${state}` },
        ]);
      }
      if (e.model === MonetizationModel.DEVICE_LOCKED) {
        if (!device) {
          throw badInput('CERTIFICATE_DEVICE_REQUIRED', `Entitlement ${e.id} is DEVICE_LOCKED: give the deviceFingerprint of a device activated on it`, [
            { path: 'deviceFingerprint', message: 'required for a DEVICE_LOCKED entitlement' },
          ]);
        }
        if (!e.device_activated) throw deviceNotActivated(device, [e.id!]);
      }
    } else {
      const locked = certified.filter((r) => r.model === MonetizationModel.DEVICE_LOCKED);
      // Node-locked rights go only to a device activated on them. A device that asks for
      // an account's certificate while activated on none of its node-locked rights is
      // most likely not activated yet: say so rather than silently leave them out.
      if (device && locked.length > 0 && !locked.some((r) => r.device_activated)) throw deviceNotActivated(device, locked.map((r) => r.id!));
      certified = certified.filter((r) => r.model !== MonetizationModel.DEVICE_LOCKED || (device !== null && r.device_activated));
    }

    const key = await this.signingKeys.current(ctx);
    const iat = now.getTime() / 1000;
    const payload: CertificatePayload = {
      iss: CERTIFICATE_ISSUER,
      sub: account.id,
      account,
      device,
      entitlements: certified.map(
        (r): CertificateEntitlement => ({
          id: r.id!,
          sku: r.sku,
          model: r.model,
          status: EntitlementStatus.ACTIVE,
          startsAt: r.starts_at.toISOString(),
          endsAt: r.ends_at?.toISOString() ?? null,
          // Ended early (cancellation, upgrade): no grace, as the hub's own checks read it.
          graceEndsAt: r.ends_at ? (r.ended_reason ? r.ends_at : (r.grace_ends_at ?? r.ends_at)).toISOString() : null,
          quantity: Number(r.quantity),
          overagePolicy: r.overage_policy,
          resetPeriod: r.reset_period,
          features: r.features.map((f) => ({ key: f.key, limit: f.limit === null ? null : trimDecimal(f.limit) })),
        }),
      ),
      iat,
      exp: iat + ttl,
      jti: randomUUID(),
    };
    const certificate = signCompact({ alg: 'EdDSA', typ: CERTIFICATE_TYPE, kid: key.kid }, { ...payload }, key.privateKey);
    const expiresAt = new Date(payload.exp * 1000);
    // The certificate itself is not stored: the audit row says who got which rights until when.
    return this.db.tx(ctx, async (tx) => {
      tx.audit({
        entity: 'Certificate',
        entityId: payload.jti,
        action: 'ISSUE',
        after: { jti: payload.jti, kid: key.kid, accountId: account.id, entitlementIds: payload.entitlements.map((e) => e.id), device, expiresAt },
      });
      return { certificate, kid: key.kid, jti: payload.jti, issuedAt: now, expiresAt, payload };
    });
  }
}

function deviceNotActivated(device: string, entitlementIds: string[]) {
  return badInput(
    'CERTIFICATE_DEVICE_NOT_ACTIVATED',
    `Device ${JSON.stringify(device)} is not activated on ${entitlementIds.length === 1 ? `DEVICE_LOCKED entitlement ${entitlementIds[0]}` : `any of the DEVICE_LOCKED entitlements ${entitlementIds.join(', ')}`}: activate it first (activateDevice)`,
    [{ path: 'deviceFingerprint', message: 'not activated' }],
  );
}
