import DataLoader from 'dataloader';
import type { Activation } from './activation.entity';
import type { Lease } from './lease.entity';
import type { LicensingService } from './licensing.service';
import type { FeatureBalance } from './licensing.types';
import type { Seat } from './seat.entity';

/** Per-request loaders of an entitlement's devices, seats, leases and balances: one query per field per batch of entitlements. */
export interface LicensingLoaders {
  devices: DataLoader<string, Activation[]>;
  seats: DataLoader<string, Seat[]>;
  leases: DataLoader<string, Lease[]>;
  balances: DataLoader<string, FeatureBalance[]>;
}

const byId =
  <T,>(load: (ids: readonly string[]) => Promise<Map<string, T[]>>) =>
  async (ids: readonly string[]) => {
    const found = await load(ids);
    return ids.map((id) => found.get(id) ?? []);
  };

export function createLicensingLoaders(licensing: LicensingService): LicensingLoaders {
  return {
    devices: new DataLoader(byId((ids) => licensing.devices.activeOf(ids))),
    seats: new DataLoader(byId((ids) => licensing.seats.activeOf(ids))),
    leases: new DataLoader(byId((ids) => licensing.leases.liveOf(ids))),
    balances: new DataLoader(byId((ids) => licensing.consumption.balancesOf(ids))),
  };
}
