import { Order, OrderRevision } from '../orders/order.entity';
import { OrderLine } from '../orders/order-line.entity';
import { Entitlement, EntitlementEvent, EntitlementFeature } from './entitlement.entity';

/** Entities of orders and entitlements. */
export const entitlementEntities: Function[] = [Order, OrderRevision, OrderLine, Entitlement, EntitlementFeature, EntitlementEvent];
