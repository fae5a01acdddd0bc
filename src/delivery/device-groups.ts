import { assertUnscoped } from '../auth/scope';
import type { RequestContext } from '../common/context';
import { AppError, badInput } from '../common/errors';
import { isUuid } from '../common/ids';
import type { Db } from '../db/db';
import { productByRef } from './delivery.service';

/** A device group's name: what the activation table's CHECK allows too. */
export const DEVICE_GROUP = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const DEVICE_GROUP_RULE = '1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit';

/** At most this many devices per setDeviceGroup call. */
export const MAX_DEVICES_PER_CALL = 10_000;

/**
 * Device groups (ADR 0048, docs/delivery.md#device-groups): an operator puts devices
 * (activations) into at most one named group each — a pilot fleet, a site, a customer's lab
 * — and a rollout can offer its release to named groups first. A group exists while a device
 * is in it; nothing else is stored.
 */
export class DeviceGroupService {
  constructor(private readonly db: Db) {}

  /**
   * Puts `devices` into `group` (null: out of any group). All or nothing: an unknown device id
   * is NOT_FOUND DEVICE_NOT_FOUND naming the ids, and nothing changes. Answers how many
   * devices changed group (already in it: not counted).
   */
  async set(ctx: RequestContext, group: string | null, devices: string[]): Promise<{ group: string | null; devices: number; changed: number }> {
    assertUnscoped(ctx, 'group devices');
    const name = group === null ? null : group.trim();
    if (name !== null && !DEVICE_GROUP.test(name)) throw badInput('DEVICE_GROUP_INVALID', `"${group}" is not a device group name: ${DEVICE_GROUP_RULE}`, [{ path: 'group', message: DEVICE_GROUP_RULE }]);
    const ids = [...new Set(devices)];
    if (ids.length === 0 || ids.length > MAX_DEVICES_PER_CALL) {
      throw badInput('DEVICE_GROUP_INVALID', `Give 1 to ${MAX_DEVICES_PER_CALL.toLocaleString('en')} device ids (activation ids)`, [{ path: 'devices', message: `1 to ${MAX_DEVICES_PER_CALL} ids` }]);
    }
    const malformed = ids.filter((id) => !isUuid(id));
    if (malformed.length) throw notFoundDevices(malformed);
    return this.db.tx(ctx, async (tx) => {
      const rows: { id: string; device_group: string | null }[] = await tx.manager.query(`SELECT id, device_group FROM activation WHERE id = ANY($1::uuid[]) FOR UPDATE`, [ids]);
      if (rows.length !== ids.length) {
        const found = new Set(rows.map((r) => r.id));
        throw notFoundDevices(ids.filter((id) => !found.has(id)));
      }
      const moving = rows.filter((r) => r.device_group !== name).map((r) => r.id);
      if (moving.length) {
        await tx.manager.query(`UPDATE activation SET device_group = $2 WHERE id = ANY($1::uuid[])`, [moving, name]);
        tx.audit({ entity: 'DeviceGroup', entityId: name ?? '(none)', action: 'UPDATE', after: { group: name, devices: moving.length } });
      }
      return { group: name, devices: ids.length, changed: moving.length };
    });
  }

  /** The groups with their active devices, optionally of one product (id or SKU), largest first. */
  async list(ctx: RequestContext, product: string | null): Promise<{ group: string; devices: number }[]> {
    assertUnscoped(ctx, 'list device groups');
    const productId = product === null ? null : (await productByRef(this.db.manager, product)).id;
    const rows: { group: string; devices: number }[] = await this.db.manager.query(
      `SELECT a.device_group AS group, count(*)::int AS devices
         FROM activation a JOIN entitlement e ON e.id = a.entitlement_id
        WHERE a.device_group IS NOT NULL AND a.deactivated_at IS NULL AND ($1::uuid IS NULL OR e.product_id = $1)
        GROUP BY a.device_group ORDER BY 2 DESC, 1`,
      [productId],
    );
    return rows;
  }
}

function notFoundDevices(ids: string[]): AppError {
  const shown = ids.slice(0, 10).join(', ') + (ids.length > 10 ? ` and ${ids.length - 10} more` : '');
  return new AppError('NOT_FOUND', 'DEVICE_NOT_FOUND', `No device (activation) with id ${shown}; no device changed group`, { devices: ids.slice(0, 100) });
}
