import { createHash, randomBytes } from 'node:crypto';
import { In, IsNull } from 'typeorm';
import type { RequestContext } from '../common/context';
import { notFound } from '../common/errors';
import type { Db } from '../db/db';
import { MonetizationModel } from '../catalog/catalog.enums';
import type { Deployment } from '../entitlements/entitlement.enums';
import { Activation } from './activation.entity';
import { limitExceeded, lockEntitlement, optionalText, text } from './licensing.guards';
import { groupBy } from '../common/collections';

/** A new device update token (ADR 0039): `ehd_` + 32 random bytes, base64url. */
export function newUpdateToken(): { token: string; hash: string } {
  const token = `ehd_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashUpdateToken(token) };
}

/** What the hub stores of an update token: its SHA-256 (the token is random, so no salt or slow hash is needed). */
export function hashUpdateToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface ActivateDeviceParams {
  entitlementId: string;
  fingerprint: string;
  name?: string | null;
  platform?: string | null;
  deployment?: Deployment | null;
  /** The device's serial number (ADR 0037). */
  serial?: string | null;
  /** The date the device shipped, YYYY-MM-DD (a warranty's SHIPMENT basis). */
  shippedOn?: string | null;
}

/** DEVICE_LOCKED entitlements: at most `quantity` devices active at once. */
export class DeviceService {
  constructor(private readonly db: Db) {}

  /**
   * Activates a device, or returns its activation when it is already active (refreshing
   * `lastSeenAt` and any name, platform or deployment given). Under the entitlement's row
   * lock, so concurrent activations never exceed the limit.
   */
  async activate(ctx: RequestContext, p: ActivateDeviceParams): Promise<Activation> {
    const fingerprint = text(p.fingerprint, 'fingerprint', 'ACTIVATION_FINGERPRINT_INVALID');
    const details = {
      name: optionalText(p.name, 'name', 'ACTIVATION_NAME_INVALID'),
      platform: optionalText(p.platform, 'platform', 'ACTIVATION_PLATFORM_INVALID'),
      deployment: p.deployment,
      serial: optionalText(p.serial, 'serial', 'ACTIVATION_SERIAL_INVALID'),
      shippedOn: p.shippedOn,
    };
    const given = Object.fromEntries(Object.entries(details).filter(([, v]) => v !== undefined)) as Partial<Activation>;
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const e = await lockEntitlement(ctx, m, p.entitlementId, MonetizationModel.DEVICE_LOCKED, { requireUsable: true });
      const existing = await m.findOne(Activation, { where: { entitlementId: e.id, fingerprint, deactivatedAt: IsNull() } });
      if (existing) {
        const before = { ...existing };
        await m.query(
          `UPDATE activation SET last_seen_at = now(), name = coalesce($2, name), platform = coalesce($3, platform), deployment = coalesce($4, deployment),
                 serial = coalesce($5, serial), shipped_on = coalesce($6::date, shipped_on)
            WHERE id = $1`,
          [existing.id, given.name ?? null, given.platform ?? null, given.deployment ?? null, given.serial ?? null, given.shippedOn ?? null],
        );
        // A re-activation of the same fingerprint rotates the update token (the old one stops working).
        const { token, hash } = newUpdateToken();
        await m.query('UPDATE activation SET update_token_hash = $2 WHERE id = $1', [existing.id, hash]);
        const after = await m.findOneOrFail(Activation, { where: { id: existing.id } });
        const changed = (['name', 'platform', 'deployment', 'serial', 'shippedOn'] as const).some((k) => before[k] !== after[k]);
        if (changed) tx.audit({ entity: 'Activation', entityId: after.id, action: 'UPDATE', before, after });
        after.updateToken = token;
        return after;
      }
      const active = await m.count(Activation, { where: { entitlementId: e.id, deactivatedAt: IsNull() } });
      if (active >= Math.floor(e.quantity)) throw limitExceeded('ENTITLEMENT_DEVICE_LIMIT_EXCEEDED', 'devices', e, active);
      const { token, hash } = newUpdateToken();
      const [row] = await m.query(
        `INSERT INTO activation (entitlement_id, account_id, fingerprint, name, platform, deployment, serial, shipped_on, update_token_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::date, $9) RETURNING id`,
        [e.id, e.accountId, fingerprint, given.name ?? null, given.platform ?? null, given.deployment ?? null, given.serial ?? null, given.shippedOn ?? null, hash],
      );
      const created = await m.findOneOrFail(Activation, { where: { id: row.id } });
      tx.audit({ entity: 'Activation', entityId: created.id, action: 'CREATE', after: created });
      tx.publish({ kind: 'entitlements.changed', accountIds: [e.accountId], entitlementIds: [e.id] });
      created.updateToken = token;
      return created;
    });
  }

  /**
   * Frees the device's slot. Deactivating a device that is no longer active returns its
   * latest activation unchanged (a replay); one never activated is NOT_FOUND. Allowed
   * whatever the entitlement's status: freeing a slot is always possible.
   */
  async deactivate(ctx: RequestContext, entitlementId: string, fingerprintArg: string): Promise<Activation> {
    const fingerprint = text(fingerprintArg, 'fingerprint', 'ACTIVATION_FINGERPRINT_INVALID');
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const e = await lockEntitlement(ctx, m, entitlementId, MonetizationModel.DEVICE_LOCKED, { requireUsable: false });
      const active = await m.findOne(Activation, { where: { entitlementId: e.id, fingerprint, deactivatedAt: IsNull() } });
      if (!active) {
        const latest = await m.findOne(Activation, { where: { entitlementId: e.id, fingerprint }, order: { deactivatedAt: 'DESC', id: 'ASC' } });
        if (!latest) throw notFound('Activation', fingerprint);
        return latest;
      }
      await m.query('UPDATE activation SET deactivated_at = now() WHERE id = $1', [active.id]);
      const after = await m.findOneOrFail(Activation, { where: { id: active.id } });
      tx.audit({ entity: 'Activation', entityId: after.id, action: 'DEACTIVATE', before: active, after });
      tx.publish({ kind: 'entitlements.changed', accountIds: [e.accountId], entitlementIds: [e.id] });
      return after;
    });
  }

  /** Active activations of each entitlement, oldest first (for `Entitlement.devices`). */
  async activeOf(ids: readonly string[]): Promise<Map<string, Activation[]>> {
    const rows = ids.length
      ? await this.db.manager.find(Activation, { where: { entitlementId: In([...ids]), deactivatedAt: IsNull() }, order: { activatedAt: 'ASC', id: 'ASC' } })
      : [];
    return groupBy(rows, (r) => r.entitlementId);
  }
}
