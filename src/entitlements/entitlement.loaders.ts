import DataLoader from 'dataloader';
import type { Db } from '../db/db';
import type { Entitlement, EntitlementEvent, EntitlementFeature } from './entitlement.entity';
import type { EntitlementService } from './entitlement.service';
import type { OrderService } from '../orders/order.service';
import { OrderLine } from '../orders/order-line.entity';

/** Per-request loaders for orders and entitlements. */
export interface EntitlementLoaders {
  features: DataLoader<string, EntitlementFeature[]>;
  history: DataLoader<string, EntitlementEvent[]>;
  byOrder: DataLoader<string, Entitlement[]>;
  linesByOrder: DataLoader<string, OrderLine[]>;
  line: DataLoader<string, OrderLine | null>;
}

export function createEntitlementLoaders(db: Db, entitlements: EntitlementService, orders: OrderService): EntitlementLoaders {
  const m = () => db.manager;
  return {
    features: new DataLoader(async (ids) => {
      const found = await entitlements.featuresOf(m(), ids);
      return ids.map((id) => found.get(id) ?? []);
    }),
    history: new DataLoader(async (ids) => {
      const found = await entitlements.historyOf(m(), ids);
      return ids.map((id) => found.get(id) ?? []);
    }),
    byOrder: new DataLoader(async (ids) => {
      const found = await entitlements.byOrders(m(), ids);
      return ids.map((id) => found.get(id) ?? []);
    }),
    linesByOrder: new DataLoader(async (ids) => {
      const found = await orders.linesOf(m(), ids);
      return ids.map((id) => found.get(id) ?? []);
    }),
    line: new DataLoader(async (ids) => {
      const rows = await m().createQueryBuilder(OrderLine, 'l').where('l.id = ANY(:ids)', { ids }).getMany();
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}
