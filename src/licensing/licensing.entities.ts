import { Activation } from './activation.entity';
import { Consumption, ConsumptionBalance } from './consumption.entity';
import { Lease } from './lease.entity';
import { Seat } from './seat.entity';

/** Entities of licensing enforcement: devices, seats, leases, metered balances and consumptions. */
export const licensingEntities: Function[] = [Activation, Seat, Lease, ConsumptionBalance, Consumption];
